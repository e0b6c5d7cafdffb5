//! The file events that start a round, and keeping them coming when the manifests
//! are reached through a symlink that is re-pointed.
//!
//! git-sync (the Kubernetes sidecar) checks each commit out into a new directory
//! and then renames a new symlink over `current`. An inotify watch follows a
//! symlink once, when it is added, and then watches the old checkout: it reports
//! the first swap (the old checkout is deleted under it) and nothing after. So the
//! directory holding each symlink met on the way to a watched path is watched too
//! (a swap is an event there), and after every event the paths are resolved again
//! and the watches moved to what they now lead to.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

type Debouncer = notify_debouncer_full::Debouncer<
    notify::RecommendedWatcher,
    notify_debouncer_full::RecommendedCache,
>;

/// Symlinks followed on the way to one path before giving up (Linux's own limit).
const MAX_HOPS: usize = 40;

/// Whether a file event concerns the manifests: not the lock file, editor swap and
/// backup files or other hidden files. (Only the file name is looked at: the
/// directories above the manifests may well be hidden, as git-sync's are.)
fn manifest_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    !name.starts_with('.')
        && !name.ends_with('~')
        && (crate::manifest::Format::from_path(path).is_some() || path.extension().is_none())
}

/// What to watch for a set of paths, all resolved (no symlink left in them).
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Directories and whether below them too.
    watches: BTreeSet<(PathBuf, bool)>,
    /// Where manifests are: a recursive root, or a single file's directory.
    manifest_dirs: BTreeSet<(PathBuf, bool)>,
    /// The symlinks met (their directory resolved, their own name kept).
    links: BTreeSet<PathBuf>,
    /// Files named one by one (the configuration), resolved.
    files: BTreeSet<PathBuf>,
}

enum Part {
    Root(OsString),
    Up,
    Name(OsString),
}

fn parts(path: &Path) -> VecDeque<Part> {
    path.components()
        .filter_map(|c| match c {
            Component::Prefix(_) | Component::RootDir => Some(Part::Root(c.as_os_str().to_owned())),
            Component::CurDir => None,
            Component::ParentDir => Some(Part::Up),
            Component::Normal(n) => Some(Part::Name(n.to_owned())),
        })
        .collect()
}

/// `path` made absolute with every symlink in it followed, component by component,
/// recording each symlink met (its directory resolved, its name kept). A part that
/// does not exist is kept as written. `None` for a symlink loop.
fn resolve(path: &Path, cwd: &Path, links: &mut BTreeSet<PathBuf>) -> Option<PathBuf> {
    let absolute = cwd.join(path);
    let mut pending = parts(&absolute);
    let mut resolved = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part {
            Part::Root(root) => {
                resolved = PathBuf::from(root);
            }
            Part::Up => {
                resolved.pop();
            }
            Part::Name(name) => {
                let next = resolved.join(&name);
                let is_link =
                    std::fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink());
                if !is_link {
                    resolved = next;
                    continue;
                }
                hops += 1;
                if hops > MAX_HOPS {
                    return None;
                }
                let Ok(target) = std::fs::read_link(&next) else {
                    resolved = next;
                    continue;
                };
                links.insert(next);
                // The target's parts come first: relative ones from the link's
                // directory (`resolved`), absolute ones from the root.
                let mut ahead = parts(&target);
                ahead.extend(pending.drain(..));
                pending = ahead;
            }
        }
    }
    Some(resolved)
}

impl Plan {
    /// The watches for manifest `paths` (files or directories) and single
    /// `files` (the configuration), as they resolve now.
    fn make(paths: &[PathBuf], files: &[PathBuf], cwd: &Path) -> Result<Self, String> {
        let mut plan = Self::default();
        for (path, manifest) in paths
            .iter()
            .map(|p| (p, true))
            .chain(files.iter().map(|p| (p, false)))
        {
            let resolved = resolve(path, cwd, &mut plan.links)
                .ok_or_else(|| format!("{}: too many levels of symbolic links", path.display()))?;
            let entry = if manifest && resolved.is_dir() {
                (resolved, true)
            } else {
                let dir = resolved
                    .parent()
                    .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
                if !manifest {
                    plan.files.insert(resolved);
                }
                (dir, false)
            };
            if manifest {
                plan.manifest_dirs.insert(entry.clone());
            }
            plan.watches.insert(entry);
        }
        for link in &plan.links {
            if let Some(dir) = link.parent() {
                plan.watches.insert((dir.to_path_buf(), false));
            }
        }
        // A directory already watched from a recursive root above it needs no
        // watch of its own.
        let recursive: Vec<PathBuf> = plan
            .watches
            .iter()
            .filter(|(_, r)| *r)
            .map(|(d, _)| d.clone())
            .collect();
        plan.watches.retain(|(dir, r)| {
            !recursive
                .iter()
                .any(|root| dir.starts_with(root) && (dir != root || !*r))
        });
        Ok(plan)
    }

    /// Whether an event on `path` can change what a round reads.
    fn relevant(&self, path: &Path) -> bool {
        if self.links.contains(path) || self.files.contains(path) {
            return true;
        }
        manifest_name(path)
            && self.manifest_dirs.iter().any(|(dir, recursive)| {
                if *recursive {
                    path.starts_with(dir)
                } else {
                    path.parent() == Some(dir.as_path())
                }
            })
    }
}

/// The file watches of one watcher.
pub struct FileWatch {
    debouncer: Debouncer,
    /// What is watched now.
    plan: Plan,
}

impl FileWatch {
    /// Starts watching `paths` (manifests) and `files` (the configuration); each
    /// burst of events sends the paths it touched.
    ///
    /// # Errors
    /// A path that cannot be watched (it does not exist, or inotify refuses).
    pub fn start(
        paths: &[PathBuf],
        files: &[PathBuf],
        tx: mpsc::UnboundedSender<Vec<PathBuf>>,
    ) -> anyhow::Result<Self> {
        let debouncer = new_debouncer(
            Duration::from_millis(400),
            None,
            move |result: DebounceEventResult| {
                if let Ok(events) = result {
                    // Reading the manifests (every round does) raises access events:
                    // only creations, writes, renames and removals count.
                    let touched: Vec<PathBuf> = events
                        .iter()
                        .filter(|e| {
                            !matches!(
                                e.kind,
                                notify::EventKind::Access(_) | notify::EventKind::Other
                            )
                        })
                        .flat_map(|e| e.paths.iter().cloned())
                        .collect();
                    if !touched.is_empty() {
                        let _ = tx.send(touched);
                    }
                }
            },
        )
        .context("cannot watch the manifests")?;
        let mut watch = Self {
            debouncer,
            plan: Plan::default(),
        };
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let plan = Plan::make(paths, files, &cwd).map_err(|e| anyhow!(e))?;
        for (dir, recursive) in &plan.watches {
            watch
                .debouncer
                .watch(dir, mode(*recursive))
                .with_context(|| format!("cannot watch {}", dir.display()))?;
        }
        watch.plan = plan;
        Ok(watch)
    }

    /// Whether any of `touched` can change what a round reads.
    pub fn relevant(&self, touched: &[PathBuf]) -> bool {
        touched.iter().any(|p| self.plan.relevant(p))
    }

    /// Resolves the paths again and moves the watches to where they now lead
    /// (a symlink re-pointed, a configuration file found elsewhere). Returns what
    /// could not be watched; it is tried again next time.
    pub fn refresh(&mut self, paths: &[PathBuf], files: &[PathBuf]) -> Vec<String> {
        let cwd = match std::env::current_dir() {
            Ok(cwd) => cwd,
            Err(e) => return vec![format!("cannot read the current directory: {e}")],
        };
        let mut next = match Plan::make(paths, files, &cwd) {
            Ok(plan) => plan,
            Err(e) => return vec![e],
        };
        if next == self.plan {
            return Vec::new();
        }
        for (dir, recursive) in self.plan.watches.difference(&next.watches) {
            // The directory may be gone with its watch (a deleted checkout).
            let _ = self.debouncer.unwatch(dir);
            tracing::debug!(dir = %dir.display(), recursive, "no longer watched");
        }
        let mut problems = Vec::new();
        let added: Vec<(PathBuf, bool)> = next
            .watches
            .difference(&self.plan.watches)
            .cloned()
            .collect();
        for (dir, recursive) in added {
            if let Err(e) = self.debouncer.watch(&dir, mode(recursive)) {
                problems.push(format!("cannot watch {}: {e}", dir.display()));
                next.watches.remove(&(dir, recursive));
            } else {
                tracing::debug!(dir = %dir.display(), recursive, "watched");
            }
        }
        self.plan = next;
        problems
    }
}

fn mode(recursive: bool) -> RecursiveMode {
    if recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_checkout_is_watched_through_the_links_directory() {
        let root = tempfile::tempdir().expect("dir");
        let root = std::fs::canonicalize(root.path()).expect("canonical");
        std::fs::create_dir_all(root.join(".worktrees/a/manifests")).expect("mkdir");
        std::fs::create_dir_all(root.join(".worktrees/b/manifests")).expect("mkdir");
        std::os::unix::fs::symlink(".worktrees/a", root.join("current")).expect("link");
        let paths = [PathBuf::from("current/manifests")];
        let files = [PathBuf::from("current/guacsync.toml")];
        let plan = Plan::make(&paths, &files, &root).expect("plan");
        assert_eq!(
            plan.watches,
            BTreeSet::from([
                (root.clone(), false),
                (root.join(".worktrees/a"), false),
                (root.join(".worktrees/a/manifests"), true),
            ])
        );
        assert!(plan.relevant(&root.join("current")), "the swap");
        assert!(plan.relevant(&root.join(".worktrees/a/guacsync.toml")));
        assert!(plan.relevant(&root.join(".worktrees/a/manifests/sub/x.csv")));
        assert!(!plan.relevant(&root.join(".worktrees/a/README.md")));
        assert!(!plan.relevant(&root.join(".worktrees/a/manifests/.x.csv.swp")));
        // Re-pointed: the watches follow.
        std::fs::remove_file(root.join("current")).expect("rm");
        std::os::unix::fs::symlink(root.join(".worktrees/b"), root.join("current")).expect("link");
        let after = Plan::make(&paths, &files, &root).expect("plan");
        assert!(
            after
                .watches
                .contains(&(root.join(".worktrees/b/manifests"), true))
        );
        assert!(
            !after
                .watches
                .contains(&(root.join(".worktrees/a/manifests"), true))
        );
    }

    #[test]
    fn a_symlink_loop_is_an_error_and_missing_parts_are_kept() {
        let root = tempfile::tempdir().expect("dir");
        let root = std::fs::canonicalize(root.path()).expect("canonical");
        std::os::unix::fs::symlink("b", root.join("a")).expect("link");
        std::os::unix::fs::symlink("a", root.join("b")).expect("link");
        let mut links = BTreeSet::new();
        assert_eq!(resolve(Path::new("a/x"), &root, &mut links), None);
        let mut links = BTreeSet::new();
        assert_eq!(
            resolve(Path::new("./nope/../y.csv"), &root, &mut links),
            Some(root.join("y.csv"))
        );
        assert!(links.is_empty());
    }
}
