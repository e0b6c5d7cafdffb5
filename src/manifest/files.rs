//! Which files are manifests (a directory walked in sorted order, links followed
//! once, loops reported) and reading one within its size limit, each failure a
//! diagnostic naming the file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::node::Pos;
use super::records::Sink;
use super::{Format, MAX_FILE_BYTES};
use crate::diagnostic::Diagnostic;

pub(super) fn file_error(
    file: &str,
    code: &'static str,
    pos: Pos,
    message: String,
    help: Option<String>,
) -> Diagnostic {
    let mut sink = Sink::new(file, false);
    sink.error(code, pos, message, help);
    sink.out.remove(0)
}

/// Collects manifest files: a file is taken as given; a directory is walked in
/// sorted order for `*.csv`, `*.json`, `*.yaml`, `*.yml`, skipping hidden entries
/// and `guacsync.toml`. Symlinked directories are followed once; a loop is reported.
pub fn collect_files(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    for path in paths {
        let label = path.display().to_string();
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, &mut visited, &mut files, diagnostics),
            Ok(m) if m.is_file() => files.push(path.clone()),
            // A FIFO or a device would block or never end.
            Ok(_) => diagnostics.push(file_error(
                &label,
                "io-error",
                Pos::new(1, 1),
                format!("{label} is not a regular file"),
                None,
            )),
            Err(e) => diagnostics.push(file_error(
                &label,
                if is_loop(&e) {
                    "symlink-loop"
                } else {
                    "io-error"
                },
                Pos::new(1, 1),
                format!("cannot read {label}: {e}"),
                None,
            )),
        }
    }
    files
}

fn is_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(40) // ELOOP
}

fn walk(
    dir: &Path,
    visited: &mut HashSet<PathBuf>,
    files: &mut Vec<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let label = dir.display().to_string();
    let canonical = match std::fs::canonicalize(dir) {
        Ok(c) => c,
        Err(e) => {
            diagnostics.push(file_error(
                &label,
                if is_loop(&e) {
                    "symlink-loop"
                } else {
                    "io-error"
                },
                Pos::new(1, 1),
                format!("cannot read {label}: {e}"),
                None,
            ));
            return;
        }
    };
    if !visited.insert(canonical) {
        diagnostics.push(file_error(
            &label,
            "symlink-loop",
            Pos::new(1, 1),
            format!("{label} leads back to a directory already read (a symlink loop); skipped"),
            None,
        ));
        return;
    }
    let mut children: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            diagnostics.push(file_error(
                &label,
                "io-error",
                Pos::new(1, 1),
                format!("cannot read {label}: {e}"),
                None,
            ));
            return;
        }
    };
    children.sort();
    for child in children {
        let Some(name) = child.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || name == "guacsync.toml" {
            continue;
        }
        match std::fs::metadata(&child) {
            Ok(m) if m.is_dir() => walk(&child, visited, files, diagnostics),
            Ok(m) if m.is_file() && Format::from_path(&child).is_some() => files.push(child),
            Ok(_) => {}
            Err(e) => diagnostics.push(file_error(
                &child.display().to_string(),
                if is_loop(&e) {
                    "symlink-loop"
                } else {
                    "io-error"
                },
                Pos::new(1, 1),
                format!("cannot read {}: {e}", child.display()),
                None,
            )),
        }
    }
}

pub(super) fn read_limited(path: &Path) -> Result<Vec<u8>, Box<Diagnostic>> {
    let label = path.display().to_string();
    let io = |e: std::io::Error| {
        Box::new(file_error(
            &label,
            "io-error",
            Pos::new(1, 1),
            format!("cannot read {label}: {e}"),
            None,
        ))
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Box::new(file_error(
            &label,
            "file-too-large",
            Pos::new(1, 1),
            format!(
                "{label} is {} MiB; manifests are limited to {} MiB",
                meta.len() >> 20,
                MAX_FILE_BYTES >> 20
            ),
            Some("split it into several files".to_owned()),
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // Read at most one byte more than the limit, in case the file grew meanwhile.
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Box::new(file_error(
            &label,
            "file-too-large",
            Pos::new(1, 1),
            format!("{label} is larger than {} MiB", MAX_FILE_BYTES >> 20),
            None,
        )));
    }
    Ok(bytes)
}
