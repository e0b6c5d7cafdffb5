//! The plan: what `sync` will do, as a value. `diff` builds it, the renderers show
//! it (text, JSON, markdown), `apply` executes exactly it, and `plan --out` saves
//! it (secrets redacted, references kept) for `sync --plan` to check.
//!
//! Changes are a closed set of typed variants carrying exactly the before/after
//! they need; server identifiers appear only where apply needs them.

mod markdown;
mod render;
pub mod saved;
mod sensitive;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::value::Value;

pub use markdown::{
    COMMENT_LIMIT, DEFAULT_MAX_SIZE, MARKER, MarkdownOptions, check_full_plan_url, render_markdown,
    render_markdown_with,
};
pub use render::{change_lines, render_text};

/// Format version of the plan document.
pub const PLAN_VERSION: u32 = 1;

/// A new connection group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAdd {
    pub path: GroupPath,
}

impl GroupAdd {
    #[must_use]
    pub fn name(&self) -> &str {
        self.path.name().unwrap_or("ROOT")
    }

    #[must_use]
    pub fn parent(&self) -> GroupPath {
        self.path.parent().unwrap_or_default()
    }
}

/// A connection group moved or renamed by a `[[moved]]` entry: one `replace` that
/// keeps its identifier, its children and its permissions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMove {
    pub identifier: String,
    /// Where it is on the server.
    pub from: GroupPath,
    /// Where it goes (its parent may be a group created in the same run).
    pub to: GroupPath,
    /// `ORGANIZATIONAL` or `BALANCING`, kept.
    pub group_type: String,
    /// Every attribute the replace sends (it overwrites them all): the ones set on
    /// the server kept, the server's other attribute names null.
    pub attributes: BTreeMap<String, Option<String>>,
}

/// A connection group removed by `prune_groups` (empty, named by no manifest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRemove {
    pub path: GroupPath,
    pub identifier: String,
}

/// How one parameter or attribute changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum FieldChange {
    Added {
        name: String,
        #[serde(flatten, with = "sensitive::after")]
        after: Value,
    },
    Changed {
        name: String,
        #[serde(flatten, with = "sensitive::before")]
        before: Value,
        #[serde(flatten, with = "sensitive::after")]
        after: Value,
    },
    Removed {
        name: String,
        #[serde(flatten, with = "sensitive::before")]
        before: Value,
    },
}

impl FieldChange {
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Added { name, .. } | Self::Changed { name, .. } | Self::Removed { name, .. } => {
                name
            }
        }
    }
}

/// The complete value a `replace` sends (a replace is a full overwrite).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullConnection {
    pub protocol: String,
    #[serde(flatten, with = "sensitive::parameters")]
    pub parameters: BTreeMap<String, Value>,
    /// Every schema attribute and every attribute set on the server: `None` clears.
    pub attributes: BTreeMap<String, Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ConnectionChange {
    Add {
        key: ConnKey,
        protocol: String,
        #[serde(flatten, with = "sensitive::parameters")]
        parameters: BTreeMap<String, Value>,
        attributes: BTreeMap<String, String>,
        source: Source,
    },
    Replace {
        key: ConnKey,
        identifier: String,
        /// `(before, after)` when the protocol changes.
        protocol_change: Option<(String, String)>,
        parameters: Vec<FieldChange>,
        attributes: Vec<FieldChange>,
        value: FullConnection,
        source: Source,
        active_sessions: u32,
        /// Where the connection is on the server when the replace moves or renames
        /// it (its new place is `key`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moved_from: Option<ConnKey>,
    },
    Remove {
        key: ConnKey,
        identifier: String,
        protocol: String,
        /// What the server held (for display).
        #[serde(flatten, with = "sensitive::parameters")]
        parameters: BTreeMap<String, Value>,
        active_sessions: u32,
    },
}

impl ConnectionChange {
    #[must_use]
    pub fn key(&self) -> &ConnKey {
        match self {
            Self::Add { key, .. } | Self::Replace { key, .. } | Self::Remove { key, .. } => key,
        }
    }

    /// The manifest line a change comes from (removals have none).
    #[must_use]
    pub fn source(&self) -> Option<&Source> {
        match self {
            Self::Add { source, .. } | Self::Replace { source, .. } => Some(source),
            Self::Remove { .. } => None,
        }
    }
}

/// What a READ grant or revocation is on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    Group { path: GroupPath },
    Connection { key: ConnKey },
}

/// READ permissions to add and remove for one principal (one PATCH).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    pub principal: Principal,
    pub grant: Vec<Target>,
    pub revoke: Vec<Target>,
}

/// An open session to close (`--terminate-sessions`, on removed connections).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClose {
    pub key: ConnKey,
    pub identifier: String,
    pub username: Option<String>,
}

/// A contiguous range of `connections` sent as one atomic PATCH.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub start: usize,
    pub end: usize,
    /// Size of the request body (an upper bound where parent identifiers of groups
    /// created in the same run are not known yet).
    pub bytes: usize,
}

/// What a secret reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    Env,
    File,
}

/// A secret reference the plan resolved (never its value): a reviewer sees a new
/// one in the "secrets used" section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretUse {
    pub kind: SecretKind,
    /// The variable's name, or the file's path (relative to the configuration's
    /// directory when inside it, else absolute; symlinks resolved).
    pub name: String,
    /// How many parameter values use it.
    pub uses: usize,
    /// The first manifest line using it (`file:line`).
    pub first_use: String,
}

impl SecretUse {
    /// `env NAME` or `file PATH` (the path as resolved, not as the manifest wrote
    /// it relative to itself).
    #[must_use]
    pub fn reference(&self) -> String {
        match self.kind {
            SecretKind::Env => format!("env  {}", self.name),
            SecretKind::File => format!("file {}", self.name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
}

/// The options a plan was made with (a saved plan is re-made with the same ones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // independent switches, each from guacsync.toml
pub struct PlanOptions {
    pub scope: Vec<GroupPath>,
    pub prune: bool,
    pub permissions: crate::diff::PermissionMode,
    pub parent_group_read: bool,
    pub create_groups: bool,
    pub create_principals: bool,
    pub max_request_bytes: usize,
    pub terminate_sessions: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub prune_groups: bool,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unmanaged_parameters: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_unknown_parameters: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<crate::diff::Moved>,
}

// serde's `skip_serializing_if` takes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub remove: usize,
    pub groups: usize,
    pub principals: usize,
    pub grants: usize,
    pub revokes: usize,
    pub sessions_closed: usize,
    /// Connections moved or renamed (counted in `change` too).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub groups_moved: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub groups_removed: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub data_source: String,
    /// Set when the account lacks ADMINISTER (`[server] delegated_account`): what
    /// every rendering says at its top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// SHA-256 of what was observed and matters (see `diff::fingerprint`).
    pub fingerprint: String,
    /// The manifest paths the plan was made from.
    pub manifests: Vec<String>,
    pub options: PlanOptions,
    /// Outermost first: one PATCH per depth.
    pub groups: Vec<GroupAdd>,
    /// Groups moved or renamed, in `[[moved]]` order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_moves: Vec<GroupMove>,
    /// Groups removed by `prune_groups`, deepest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_removals: Vec<GroupRemove>,
    /// Moves (replaces that move or rename, in the order they were decided), then
    /// adds, then other replaces, then removes.
    pub connections: Vec<ConnectionChange>,
    pub principals: Vec<Principal>,
    pub permissions: Vec<PermissionChange>,
    pub sessions: Vec<SessionClose>,
    pub batches: Vec<Batch>,
    pub warnings: Vec<Warning>,
    /// Every secret reference resolved for this plan (names and paths only).
    pub secrets_used: Vec<SecretUse>,
    pub summary: Summary,
    /// Removals the rules allow but that wait for a second round to plan them too
    /// (`watch --apply`); not part of this plan's changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_removals: Vec<ConnKey>,
    /// Only in a saved plan file: what it was made from, to say what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<saved::Basis>,
}

impl Plan {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.group_moves.is_empty()
            && self.group_removals.is_empty()
            && self.connections.is_empty()
            && self.principals.is_empty()
            && self.permissions.is_empty()
            && self.sessions.is_empty()
    }

    /// The plan document (pretty JSON, deterministic): the `--format json` output
    /// and the saved-plan file. Holds no secret value.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Strings, numbers and maps with string keys always serialise.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Why a saved plan cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("plan is stale: {0}; make a new plan")]
pub struct Stale(pub String);
