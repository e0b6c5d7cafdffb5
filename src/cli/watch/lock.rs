//! The exclusive lock that keeps a second watcher off the same manifests: two
//! reconcilers applying the same files would race each other's batches.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};

/// Held for the process's life (the OS releases it if the process dies).
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where the lock file lives: beside the innermost symbolic link of the first
/// path as written, else the directory of the first path (the path itself when
/// it is a directory). git-sync swaps its `current` link to a fresh checkout on
/// every commit and deletes the old one: a lock file inside the checkout would
/// be deleted with it, and a second watcher started after the swap would find
/// none and run beside the first.
pub fn lock_dir(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let mut prefix = PathBuf::new();
    let mut beside_link = None;
    for part in first.components() {
        prefix.push(part);
        if std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink()) {
            beside_link = prefix.parent().map(Path::to_path_buf);
        }
    }
    let dir = match beside_link {
        Some(dir) => dir,
        None if first.is_dir() => first,
        None => first.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

pub fn take_lock(dir: &Path) -> anyhow::Result<Lock> {
    let path = dir.join(".guacsync-watch.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(anyhow!(
                "another guacsync watch is running on {} (lock file {}, {})",
                dir.display(),
                path.display(),
                holder.trim()
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(anyhow!("cannot lock {}: {e}", path.display()));
        }
    }
    file.set_len(0)?;
    writeln!(file, "pid {}", std::process::id())?;
    Ok(Lock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_lives_beside_a_swapped_link_not_inside_the_checkout() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("rev-1/manifests")).expect("mkdir");
        std::os::unix::fs::symlink("rev-1", root.join("current")).expect("symlink");
        let through_link = root.join("current/manifests");
        assert_eq!(lock_dir(std::slice::from_ref(&through_link)), root);
        assert_eq!(lock_dir(&[through_link.join("web.csv")]), root);
        // No link: the directory itself, or a file's directory.
        let plain = root.join("rev-1/manifests");
        assert_eq!(lock_dir(std::slice::from_ref(&plain)), plain);
        assert_eq!(lock_dir(&[plain.join("web.csv")]), plain);
        assert_eq!(lock_dir(&[PathBuf::from("web.csv")]), PathBuf::from("."));
        // The lock taken through the link survives the swap to a new checkout.
        let lock = take_lock(&lock_dir(&[through_link])).expect("lock");
        std::fs::create_dir_all(root.join("rev-2/manifests")).expect("mkdir");
        std::fs::remove_file(root.join("current")).expect("unlink");
        std::os::unix::fs::symlink("rev-2", root.join("current")).expect("symlink");
        std::fs::remove_dir_all(root.join("rev-1")).expect("old checkout removed");
        let second = take_lock(&lock_dir(&[root.join("current/manifests")]));
        assert!(
            second.is_err(),
            "a second watcher after the swap must be refused"
        );
        drop(lock);
    }
}
