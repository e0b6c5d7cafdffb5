//! The plan: what `sync` will do, as a value. `diff` builds it, the renderers show
//! it (text, JSON, markdown), `apply` executes exactly it, and `plan --out` saves
//! it (secrets redacted, references kept) for `sync --plan` to check.
//!
//! Every directory object, whatever its kind, changes through one [`Change`]: an
//! action, the object's identity, what differs (shown) and what is sent (its
//! body); server identifiers appear only where apply needs them.

pub mod body;
mod markdown;
mod render;
pub mod saved;
mod sensitive;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::kinds::{Kind, ObjectKey};
use crate::model::{ConnKey, GroupPath, Principal, Source};
use crate::value::Value;
pub use body::Body;

pub use markdown::{
    COMMENT_LIMIT, DEFAULT_MAX_SIZE, MARKER, MarkdownOptions, check_full_plan_url, render_markdown,
    render_markdown_with,
};
pub use render::{change_lines, render_text};

/// Format version of the plan document.
pub const PLAN_VERSION: u32 = 2;

/// What a change does to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Created (a directory `add`).
    Add,
    /// Replaced in place, possibly moved or renamed (a directory `replace`).
    Change,
    /// Removed (a directory `remove`).
    Remove,
}

impl Action {
    /// The JSON-Patch operation that carries it.
    #[must_use]
    pub fn op(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Change => "replace",
            Self::Remove => "remove",
        }
    }
}

/// How one field, parameter or attribute changes.
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

/// One change to one directory object, of any kind (DESIGN.md §8: "one mechanism
/// serves every kind"). What is shown (the field changes) and what is sent (the
/// body) are kept apart: the body is complete (a `replace` overwrites), the field
/// changes say only what differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    /// The object, by guacsync's identity (its new place for a move).
    #[serde(flatten)]
    pub object: ObjectKey,
    /// The server identifier (changes and removals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Where the object is on the server when this change moves or renames it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ObjectKey>,
    /// Shown beside the object: a connection's protocol, a group's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Fields of the object itself (`protocol`, `type`, `disabled`, `password`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<FieldChange>,
    /// The manifest line the change comes from (removals have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Open sessions on a connection that is changed or removed.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub active_sessions: u32,
    /// A user's password is sent (never its value: passwords cannot be read back,
    /// so the plan says only that one is sent, and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordChange>,
    /// What an `add` or `replace` sends (never serialised: it holds secrets, and a
    /// plan is always re-made before it is applied).
    #[serde(skip)]
    pub body: Option<Body>,
}

impl Change {
    #[must_use]
    pub fn kind(&self) -> Kind {
        self.object.kind()
    }

    /// The JSON op sent for this change, references resolved by `resolve`.
    ///
    /// # Errors
    /// A reference `resolve` does not know, or a change without what its op needs
    /// (never made by `diff`).
    pub fn op(
        &self,
        resolve: &dyn Fn(&ObjectKey) -> Option<String>,
    ) -> Result<serde_json::Value, ObjectKey> {
        let path = match (&self.action, &self.identifier) {
            (Action::Add, _) => "/".to_owned(),
            (_, Some(id)) => format!("/{id}"),
            (_, None) => return Err(self.object.clone()),
        };
        let mut op = serde_json::Map::new();
        op.insert("op".into(), self.action.op().into());
        op.insert("path".into(), path.into());
        if self.action != Action::Remove {
            let body = self.body.as_ref().ok_or_else(|| self.object.clone())?;
            op.insert("value".into(), body.to_wire(resolve)?);
        }
        Ok(serde_json::Value::Object(op))
    }

    /// The op as sized at plan time: references not known yet count as
    /// placeholders of the longest identifier expected.
    #[must_use]
    pub fn sized_op(&self, resolve: &dyn Fn(&ObjectKey) -> Option<String>) -> serde_json::Value {
        let placeholder = "9".repeat(body::PLACEHOLDER_ID_LEN);
        self.op(&|k| Some(resolve(k).unwrap_or_else(|| placeholder.clone())))
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Why a user's password is sent (DESIGN.md §8 "Passwords").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordChange {
    /// The user is created with its declared password.
    SetOnCreate,
    /// `--reset-passwords` / `--reset-password NAME`: sent again.
    Reset,
}

/// What a permission is on: an object, or the system (`systemPermissions`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// `None`: a system permission.
    #[serde(flatten, default)]
    pub object: Option<ObjectKey>,
    /// `READ`, `UPDATE`, `DELETE`, `ADMINISTER`; or a system permission name.
    pub permission: String,
    /// The object's server identifier when it exists before the apply (an object
    /// created in the same run gets its identifier from that creation).
    #[serde(skip)]
    pub identifier: Option<String>,
}

impl Grant {
    /// `permission` on `object`, whose identifier is `identifier` when it exists.
    #[must_use]
    pub fn on(object: ObjectKey, permission: &str, identifier: Option<&str>) -> Self {
        Self {
            object: Some(object),
            permission: permission.to_owned(),
            identifier: identifier.map(str::to_owned),
        }
    }

    /// READ on `object`.
    #[must_use]
    pub fn read(object: ObjectKey, identifier: Option<&str>) -> Self {
        Self::on(object, "READ", identifier)
    }

    #[must_use]
    pub fn system(permission: &str) -> Self {
        Self {
            object: None,
            permission: permission.to_owned(),
            identifier: None,
        }
    }
}

/// Permissions to add and remove for one principal (its permission PATCH requests, sent
/// in order, each within the request limit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    pub principal: Principal,
    pub grant: Vec<Grant>,
    pub revoke: Vec<Grant>,
}

/// Members to add to and remove from one user group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    pub group: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_groups: Vec<String>,
}

/// An open session to close (`--terminate-sessions`, on removed connections).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClose {
    pub key: ConnKey,
    pub identifier: String,
    pub username: Option<String>,
}

/// A contiguous range of `changes`, all of one kind, sent as one atomic PATCH
/// (`start..end`). Batches are in apply order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// Size of the request body (an upper bound where identifiers of objects
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
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_non_atomic: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<crate::diff::Moved>,
    /// `[scope] principals`.
    #[serde(default, skip_serializing_if = "crate::diff::Ownership::is_none")]
    pub principals: crate::diff::Ownership,
    /// `[scope] sharing_profiles`.
    #[serde(default, skip_serializing_if = "crate::diff::Ownership::is_none")]
    pub sharing_profiles: crate::diff::Ownership,
    /// `--reset-passwords` / `--reset-password NAME`.
    #[serde(default, skip_serializing_if = "crate::diff::PasswordResets::is_none")]
    pub reset_passwords: crate::diff::PasswordResets,
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

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// Changes of one kind, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub add: usize,
    pub change: usize,
    pub remove: usize,
    /// Moved or renamed (counted in `change` too).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved: usize,
}

impl Counts {
    #[must_use]
    pub fn total(&self) -> usize {
        self.add + self.change + self.remove
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Connections (the flat fields say what they always said).
    pub add: usize,
    pub change: usize,
    pub remove: usize,
    /// Connection groups to create.
    pub groups: usize,
    /// Users and user groups to create.
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
    /// Members added and removed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub memberships: usize,
    /// Every kind's changes.
    pub kinds: BTreeMap<Kind, Counts>,
}

impl Summary {
    /// The counts of a plan's changes.
    #[must_use]
    pub fn of_plan(plan: &Plan) -> Summary {
        let mut kinds: BTreeMap<Kind, Counts> = BTreeMap::new();
        for c in &plan.changes {
            let counts = kinds.entry(c.kind()).or_default();
            match c.action {
                Action::Add => counts.add += 1,
                Action::Change => counts.change += 1,
                Action::Remove => counts.remove += 1,
            }
            if c.moved_from.is_some() {
                counts.moved += 1;
            }
        }
        let of = |k: Kind| kinds.get(&k).copied().unwrap_or_default();
        let (connections, groups) = (of(Kind::Connection), of(Kind::ConnectionGroup));
        Summary {
            add: connections.add,
            change: connections.change,
            remove: connections.remove,
            groups: groups.add,
            principals: of(Kind::User).add + of(Kind::UserGroup).add,
            grants: plan.permissions.iter().map(|p| p.grant.len()).sum(),
            revokes: plan.permissions.iter().map(|p| p.revoke.len()).sum(),
            sessions_closed: plan.sessions.len(),
            moved: connections.moved,
            groups_moved: groups.moved,
            groups_removed: groups.remove,
            memberships: plan
                .memberships
                .iter()
                .map(|m| {
                    m.add_users.len()
                        + m.remove_users.len()
                        + m.add_groups.len()
                        + m.remove_groups.len()
                })
                .sum(),
            kinds,
        }
    }

    /// The counts of one kind.
    #[must_use]
    pub fn of(&self, kind: Kind) -> Counts {
        self.kinds.get(&kind).copied().unwrap_or_default()
    }

    /// Every change of the plan, counted once.
    #[must_use]
    pub fn total(&self) -> usize {
        self.kinds.values().map(Counts::total).sum::<usize>()
            + self.grants
            + self.revokes
            + self.memberships
            + self.sessions_closed
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub data_source: String,
    /// Set when the account lacks ADMINISTER (`[server] delegated_account`): what
    /// every rendering says at its top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// Set when the server applies directory changes object by object (Guacamole
    /// 1.5.x): what every rendering says at its top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_atomic: Option<String>,
    /// SHA-256 of what was observed and matters (see `diff::fingerprint`).
    pub fingerprint: String,
    /// The manifest paths the plan was made from.
    pub manifests: Vec<String>,
    pub options: PlanOptions,
    /// Every directory change, in apply order: groups (moves whose new parent
    /// exists, creations outermost first, the other moves), connections (moves,
    /// adds, changes, removals), sharing profiles, groups removed (deepest first),
    /// user groups, users.
    pub changes: Vec<Change>,
    /// Atomic PATCH requests over `changes`, in order.
    pub batches: Vec<Batch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<MembershipChange>,
    pub permissions: Vec<PermissionChange>,
    pub sessions: Vec<SessionClose>,
    pub warnings: Vec<Warning>,
    /// Every secret reference resolved for this plan (names and paths only).
    pub secrets_used: Vec<SecretUse>,
    pub summary: Summary,
    /// Removals the rules allow but that wait for a second round to plan them too
    /// (`watch --apply`); not part of this plan's changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_removals: Vec<ObjectKey>,
    /// Only in a saved plan file: what it was made from, to say what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<saved::Basis>,
}

impl Plan {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.memberships.is_empty()
            && self.permissions.is_empty()
            && self.sessions.is_empty()
    }

    /// The changes of one kind, in apply order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.kind() == kind)
    }

    /// The connection changes, in apply order.
    pub fn connections(&self) -> impl Iterator<Item = &Change> {
        self.of_kind(Kind::Connection)
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
