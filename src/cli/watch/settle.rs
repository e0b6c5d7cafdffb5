//! watch applies only settled input (DESIGN.md §4). A file cut short by a slow
//! writer (`rsync --inplace`, scp, NFS) often still parses, so a round uses the
//! manifests only when every file has stayed the same (size, modification time
//! and content) for the settle period, whatever triggered the round; and a
//! removal is applied only when two consecutive rounds, at least the settle period
//! apart, both plan it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::kinds::ObjectKey;

/// What one look at the manifests saw: each file with its size, modification
/// time and content digest, plus what could not be read (so a vanished
/// directory is a change too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    files: Vec<(PathBuf, u64, Option<SystemTime>, [u8; 32])>,
    problems: Vec<String>,
}

impl Snapshot {
    /// Looks at the manifest files under `paths` (the files `validate` would read).
    pub fn take(paths: &[PathBuf]) -> Self {
        let mut diagnostics = Vec::new();
        let listed = crate::manifest::collect_files(paths, &mut diagnostics);
        let mut files = Vec::with_capacity(listed.len());
        let mut problems: Vec<String> = diagnostics.into_iter().map(|d| d.message).collect();
        for path in listed {
            match look(&path) {
                Ok((len, mtime, digest)) => files.push((path, len, mtime, digest)),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        Self { files, problems }
    }

    /// The files that differ from `other` (or exist in only one of them).
    fn changed_since(&self, other: &Self) -> Vec<String> {
        let a: BTreeMap<&PathBuf, _> = self
            .files
            .iter()
            .map(|(p, l, m, d)| (p, (l, m, d)))
            .collect();
        let b: BTreeMap<&PathBuf, _> = other
            .files
            .iter()
            .map(|(p, l, m, d)| (p, (l, m, d)))
            .collect();
        let names: BTreeSet<&&PathBuf> = a.keys().chain(b.keys()).collect();
        names
            .into_iter()
            .filter(|p| a.get(**p) != b.get(**p))
            .map(|p| p.display().to_string())
            .collect()
    }
}

/// Size, modification time and SHA-256 of one file, read through the manifest
/// size limit (a larger file is refused by the parser anyway).
fn look(path: &PathBuf) -> std::io::Result<(u64, Option<SystemTime>, [u8; 32])> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut hasher = Sha256::new();
    let mut limited = file.take(crate::manifest::MAX_FILE_BYTES + 1);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok((meta.len(), meta.modified().ok(), hasher.finalize().into()))
}

/// Whether the manifests have settled, across rounds.
#[derive(Debug)]
pub struct Settle {
    period: Duration,
    /// The last snapshot and when it was first seen.
    last: Option<(Snapshot, Instant)>,
}

/// Not settled yet: how long to wait, and the files that changed.
#[derive(Debug)]
pub struct Unsettled {
    pub wait: Duration,
    pub files: Vec<String>,
}

impl Settle {
    pub fn new(period: Duration) -> Self {
        Self { period, last: None }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// Records `now`'s look; `Ok` when the same look has been seen for the whole
    /// settle period.
    ///
    /// # Errors
    /// How long to wait before the files can have settled, and which changed.
    pub fn observe(&mut self, snap: Snapshot, now: Instant) -> Result<(), Unsettled> {
        match &self.last {
            Some((seen, since)) if *seen == snap => {
                let age = now.saturating_duration_since(*since);
                if age >= self.period {
                    Ok(())
                } else {
                    Err(Unsettled {
                        wait: self.period.saturating_sub(age),
                        files: Vec::new(),
                    })
                }
            }
            previous => {
                let files = match previous {
                    Some((seen, _)) => snap.changed_since(seen),
                    None => snap
                        .files
                        .iter()
                        .map(|f| f.0.display().to_string())
                        .collect(),
                };
                self.last = Some((snap, now));
                if self.period.is_zero() {
                    Ok(())
                } else {
                    Err(Unsettled {
                        wait: self.period,
                        files,
                    })
                }
            }
        }
    }

    /// The files changed while a round was reading them: start over from `snap`.
    pub fn restart(&mut self, snap: Snapshot, now: Instant) -> Unsettled {
        let files = self
            .last
            .as_ref()
            .map(|(seen, _)| snap.changed_since(seen))
            .unwrap_or_default();
        self.last = Some((snap, now));
        Unsettled {
            wait: self.period,
            files,
        }
    }
}

/// Removals planned by consecutive rounds, each with when it was first planned.
#[derive(Debug, Default)]
pub struct PendingRemovals {
    first_planned: BTreeMap<ObjectKey, Instant>,
}

impl PendingRemovals {
    /// The removals a round at `now` may apply: planned by the previous round,
    /// and first planned at least `period` ago.
    pub fn confirmed(&self, now: Instant, period: Duration) -> BTreeSet<ObjectKey> {
        self.first_planned
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(**t) >= period)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// This round planned `keys` (held or applied): they stay pending with the
    /// time they were first planned; every other is forgotten (the rounds were
    /// not consecutive for it). Returns how long until the earliest held one can be
    /// confirmed.
    pub fn planned<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a ObjectKey>,
        now: Instant,
        period: Duration,
    ) -> Option<Duration> {
        let next: BTreeMap<ObjectKey, Instant> = keys
            .into_iter()
            .map(|k| (k.clone(), self.first_planned.get(k).copied().unwrap_or(now)))
            .collect();
        self.first_planned = next;
        self.first_planned
            .values()
            .map(|t| period.saturating_sub(now.saturating_duration_since(*t)))
            .min()
    }

    /// A round that made no plan breaks the chain.
    pub fn clear(&mut self) {
        self.first_planned.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupPath;

    fn snap(content: &[(&str, u64)]) -> Snapshot {
        Snapshot {
            files: content
                .iter()
                .map(|(p, n)| {
                    (
                        PathBuf::from(p),
                        *n,
                        None,
                        [u8::try_from(*n % 256).unwrap_or(0); 32],
                    )
                })
                .collect(),
            problems: Vec::new(),
        }
    }

    #[test]
    fn settles_only_after_a_whole_period_unchanged() {
        let t0 = Instant::now();
        let s = Duration::from_secs(2);
        let mut settle = Settle::new(s);
        let first = settle.observe(snap(&[("a.csv", 10)]), t0).expect_err("new");
        assert_eq!(first.wait, s);
        assert_eq!(first.files, ["a.csv"]);
        let early = settle
            .observe(snap(&[("a.csv", 10)]), t0 + Duration::from_millis(500))
            .expect_err("too early");
        assert_eq!(early.wait, Duration::from_millis(1500));
        // A change restarts the period and names the file.
        let changed = settle
            .observe(snap(&[("a.csv", 20)]), t0 + Duration::from_secs(1))
            .expect_err("changed");
        assert_eq!((changed.wait, changed.files), (s, vec!["a.csv".to_owned()]));
        assert!(
            settle
                .observe(snap(&[("a.csv", 20)]), t0 + Duration::from_secs(3))
                .is_ok()
        );
        // Zero turns the wait off.
        assert!(Settle::new(Duration::ZERO).observe(snap(&[]), t0).is_ok());
    }

    #[test]
    fn removals_need_two_consecutive_rounds_a_period_apart() {
        let k = |n: &str| {
            ObjectKey::connection(crate::model::ConnKey {
                group: GroupPath::parse("ROOT/W").expect("path"),
                name: n.into(),
            })
        };
        let s = Duration::from_secs(2);
        let t0 = Instant::now();
        let mut p = PendingRemovals::default();
        assert!(p.confirmed(t0, s).is_empty());
        assert_eq!(p.planned(&[k("x"), k("y")], t0, s), Some(s));
        // Too soon: nothing confirmed yet.
        assert!(p.confirmed(t0 + Duration::from_secs(1), s).is_empty());
        let later = t0 + Duration::from_secs(2);
        assert_eq!(p.confirmed(later, s), [k("x"), k("y")].into());
        // A round that no longer plans `y` forgets it.
        p.planned(&[k("x")], later, s);
        assert_eq!(p.confirmed(later, s), [k("x")].into());
        p.clear();
        assert!(p.confirmed(later, s).is_empty());
    }
}
