//! The manifest-side model: what a parsed manifest entry is, and the identity of a
//! connection (`ConnKey`) that every later stage (diff, plan, apply, export) uses.
//!
//! Server identifiers never appear here: manifests speak in group paths and names
//! (DESIGN.md §1).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fields::Fields;

/// An absolute connection-group path: the segments below `ROOT`.
///
/// Written as `ROOT/Prod/Web`. Inside a segment, `\/` is a literal slash and `\\` a
/// literal backslash (a guacsync improvement over upstream, DESIGN.md §2); any other
/// backslash is kept as written, so upstream paths that contain backslashes keep
/// their meaning.
#[derive(Clone, Debug, Default, Eq)]
pub struct GroupPath {
    // Shared: every connection of a group holds its path (in its key, on both
    // sides of a plan), and a path never changes once made.
    segments: Arc<[String]>,
}

// Segment by segment, as the derived order would; two keys of one group share
// one path, which is then equal without reading it (most comparisons in a
// large plan's maps are of that kind).
impl PartialEq for GroupPath {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.segments, &other.segments) || self.segments == other.segments
    }
}

impl std::hash::Hash for GroupPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.segments.hash(state);
    }
}

impl Ord for GroupPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.segments, &other.segments) {
            return std::cmp::Ordering::Equal;
        }
        self.segments.cmp(&other.segments)
    }
}

impl PartialOrd for GroupPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Why a group path could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupPathError {
    #[error("group path {0:?} does not start with ROOT")]
    NotUnderRoot(String),
    #[error("group path {0:?} has a blank segment")]
    BlankSegment(String),
}

impl GroupPath {
    /// The root group (`ROOT`).
    #[must_use]
    pub fn root() -> Self {
        Self::default()
    }

    /// Builds a path from already-unescaped segments (as the server's tree gives them).
    #[must_use]
    pub fn from_segments(segments: Vec<String>) -> Self {
        Self {
            segments: segments.into(),
        }
    }

    /// Parses a `group` value from a manifest with upstream's normalisation
    /// (rest-api.md §11): a leading `/` becomes `ROOT/`; `ROOT/` is prefixed when the
    /// value does not start with `ROOT`; empty segments (and so a trailing `/`) are
    /// dropped; the empty string is ROOT. Then `\/` and `\\` are unescaped.
    ///
    /// # Errors
    /// When the first segment is not exactly `ROOT` (upstream rejects `ROOTX/a` too),
    /// or a segment is blank (whitespace only), which no server accepts as a group name.
    pub fn parse(text: &str) -> Result<Self, GroupPathError> {
        if text.is_empty() {
            return Ok(Self::root());
        }
        let normalised = if let Some(rest) = text.strip_prefix('/') {
            format!("ROOT/{rest}")
        } else if text.starts_with("ROOT") {
            text.to_owned()
        } else {
            format!("ROOT/{text}")
        };
        let mut segments = split_escaped(&normalised)
            .into_iter()
            .filter(|s| !s.is_empty());
        match segments.next() {
            Some(first) if first == "ROOT" => {}
            _ => return Err(GroupPathError::NotUnderRoot(text.to_owned())),
        }
        let segments: Vec<String> = segments.collect();
        if segments.iter().any(|s| s.trim().is_empty()) {
            return Err(GroupPathError::BlankSegment(text.to_owned()));
        }
        Ok(Self {
            segments: segments.into(),
        })
    }

    #[must_use]
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    #[must_use]
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Number of segments below ROOT (ROOT itself is depth 0).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.segments.len()
    }

    /// The last segment: the group's own name (None for ROOT).
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The parent path (None for ROOT).
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        if self.segments.is_empty() {
            return None;
        }
        Some(Self {
            segments: self.segments[..self.segments.len() - 1].into(),
        })
    }

    /// This path extended by one group name.
    #[must_use]
    pub fn child(&self, name: &str) -> Self {
        let mut segments = self.segments.to_vec();
        segments.push(name.to_owned());
        Self::from_segments(segments)
    }

    /// Every proper ancestor below ROOT and the path itself, outermost first:
    /// `ROOT/a/b` gives `ROOT/a`, `ROOT/a/b`.
    #[must_use]
    pub fn lineage(&self) -> Vec<Self> {
        (1..=self.segments.len())
            .map(|n| Self {
                segments: self.segments[..n].into(),
            })
            .collect()
    }

    /// True when `self` is `other` or lies below it.
    #[must_use]
    pub fn starts_with(&self, other: &Self) -> bool {
        self.segments.starts_with(&other.segments)
    }

    /// Where this path is after the group at `from` moves to `to` (`None` when it
    /// does not lie at or below `from`): `ROOT/Old/a` with `ROOT/Old` →
    /// `ROOT/New` gives `ROOT/New/a`.
    #[must_use]
    pub fn rebase(&self, from: &Self, to: &Self) -> Option<Self> {
        if !self.starts_with(from) {
            return None;
        }
        let mut segments = to.segments.to_vec();
        segments.extend_from_slice(&self.segments[from.segments.len()..]);
        Some(Self::from_segments(segments))
    }
}

/// Splits on unescaped `/`, unescaping `\/` and `\\`; other backslashes stay.
fn split_escaped(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('/' | '\\')) => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            '/' => out.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    out.push(current);
    out
}

impl fmt::Display for GroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ROOT")?;
        for segment in self.segments.iter() {
            f.write_str("/")?;
            for c in segment.chars() {
                match c {
                    '/' => f.write_str("\\/")?,
                    '\\' => f.write_str("\\\\")?,
                    other => fmt::Write::write_char(f, other)?,
                }
            }
        }
        Ok(())
    }
}

impl Serialize for GroupPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GroupPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The identity of a connection everywhere in guacsync: its group path and its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnKey {
    pub group: GroupPath,
    pub name: String,
}

impl fmt::Display for ConnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/", self.group)?;
        for c in self.name.chars() {
            match c {
                '/' => f.write_str("\\/")?,
                '\\' => f.write_str("\\\\")?,
                other => fmt::Write::write_char(f, other)?,
            }
        }
        Ok(())
    }
}

/// A user or a user group: the two kinds of principal that receive READ grants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Principal {
    User(String),
    UserGroup(String),
}

impl Principal {
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::User(n) | Self::UserGroup(n) => n,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(n) => write!(f, "user {n:?}"),
            Self::UserGroup(n) => write!(f, "user group {n:?}"),
        }
    }
}

/// Where an entry was declared. Serialised as `{"file", "line"}` (DESIGN.md §2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    pub file: String,
    pub line: u32,
    #[serde(skip)]
    pub column: u32,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Where a connection goes: a group path, or a server identifier of a group that is
/// resolved against the live tree when a plan is made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Parent {
    Group(GroupPath),
    Identifier(String),
}

/// One connection as a manifest declares it, after parsing and normalisation, before
/// secret references are resolved. Parameter and attribute values are never empty
/// (empty means unset and is dropped at parse time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub protocol: String,
    pub parent: Parent,
    pub parameters: Fields<String>,
    pub attributes: Fields<String>,
    /// Sorted, without duplicates.
    pub users: Vec<String>,
    /// User groups; sorted, without duplicates.
    pub groups: Vec<String>,
    pub source: Source,
}

impl Entry {
    /// The identity, when the parent is a path (entries naming a `parentIdentifier`
    /// get theirs when the plan resolves it).
    #[must_use]
    pub fn key(&self) -> Option<ConnKey> {
        match &self.parent {
            Parent::Group(group) => Some(ConnKey {
                group: group.clone(),
                name: self.name.clone(),
            }),
            Parent::Identifier(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_order_by_their_segments_whether_shared_or_not() {
        let path =
            |s: &[&str]| GroupPath::from_segments(s.iter().map(|x| (*x).to_owned()).collect());
        let ab = path(&["A", "B"]);
        let shared = ab.clone();
        assert_eq!(ab.cmp(&shared), std::cmp::Ordering::Equal);
        assert_eq!(ab, shared);
        assert_eq!(ab.cmp(&path(&["A", "B"])), std::cmp::Ordering::Equal);
        assert_eq!(ab, path(&["A", "B"]));
        let mut sorted = [
            path(&["B"]),
            ab.clone(),
            path(&["A", "B c"]),
            GroupPath::root(),
            path(&["A"]),
            shared,
        ];
        sorted.sort();
        let texts: Vec<String> = sorted.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "ROOT",
                "ROOT/A",
                "ROOT/A/B",
                "ROOT/A/B",
                "ROOT/A/B c",
                "ROOT/B"
            ]
        );
        assert_ne!(ab, path(&["A"]));
    }

    fn segs(p: &GroupPath) -> Vec<&str> {
        p.segments().iter().map(String::as_str).collect()
    }

    #[test]
    fn group_path_normalisation_table() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("ROOT", &[]),
            ("ROOT/", &[]),
            ("/", &[]),
            ("Prod", &["Prod"]),
            ("/Prod/Web", &["Prod", "Web"]),
            ("/ROOT/a", &["ROOT", "a"]),
            ("ROOT/Prod/Web/", &["Prod", "Web"]),
            ("ROOT//Prod///Web", &["Prod", "Web"]),
            ("ROOT/a\\/b/c", &["a/b", "c"]),
            ("ROOT/a\\\\/b", &["a\\", "b"]),
            ("ROOT/DOMAIN\\servers", &["DOMAIN\\servers"]),
        ];
        for (input, expected) in cases {
            let p = GroupPath::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(segs(&p), *expected, "input {input:?}");
        }
    }

    #[test]
    fn group_path_errors() {
        assert_eq!(
            GroupPath::parse("ROOTX/a"),
            Err(GroupPathError::NotUnderRoot("ROOTX/a".into()))
        );
        assert_eq!(
            GroupPath::parse("ROOT/ /a"),
            Err(GroupPathError::BlankSegment("ROOT/ /a".into()))
        );
    }

    #[test]
    fn group_path_display_round_trips() {
        for segments in [
            vec![],
            vec!["a/b".to_owned(), "c\\d".to_owned()],
            vec!["x\\/y".to_owned()],
            vec!["ROOT".to_owned()],
        ] {
            let p = GroupPath::from_segments(segments);
            let text = p.to_string();
            assert_eq!(GroupPath::parse(&text), Ok(p.clone()), "{text}");
        }
    }

    #[test]
    fn lineage_and_parent() {
        let p = GroupPath::parse("ROOT/a/b").expect("valid");
        let lineage: Vec<String> = p.lineage().iter().map(ToString::to_string).collect();
        assert_eq!(lineage, ["ROOT/a", "ROOT/a/b"]);
        assert_eq!(p.parent().map(|x| x.to_string()).as_deref(), Some("ROOT/a"));
        assert!(p.starts_with(&GroupPath::parse("ROOT/a").expect("valid")));
        assert!(!p.starts_with(&GroupPath::parse("ROOT/ab").expect("valid")));
        assert_eq!(GroupPath::root().parent(), None);
    }

    #[test]
    fn rebase_moves_a_subtree() {
        let p = |s: &str| GroupPath::parse(s).expect("valid");
        let (from, to) = (p("ROOT/Old"), p("ROOT/X/New"));
        assert_eq!(p("ROOT/Old").rebase(&from, &to), Some(p("ROOT/X/New")));
        assert_eq!(
            p("ROOT/Old/a/b").rebase(&from, &to),
            Some(p("ROOT/X/New/a/b"))
        );
        assert_eq!(p("ROOT/Older").rebase(&from, &to), None);
        assert_eq!(p("ROOT").rebase(&from, &to), None);
    }
}
