//! The normalised model that `guacsync validate --format json` prints (DESIGN.md
//! §2): every later stage works from the same entries, so this document is also the
//! reference for round-trip tests.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::estate::Estate;
use crate::estate::normalized::{
    NormalizedConnectionGroup, NormalizedEstate, NormalizedSharingProfile, NormalizedUser,
    NormalizedUserGroup,
};
use crate::model::{Entry, Parent, Source};
use crate::schema::Schema;
use crate::secret;

/// What `validate` prints in place of a secret written literally in a manifest.
pub const SENSITIVE: &str = "(sensitive)";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedConnection {
    pub name: String,
    pub protocol: String,
    pub group: Option<String>,
    #[serde(rename = "parentIdentifier")]
    pub parent_identifier: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub source: Source,
}

/// The whole document: connections, then one list per estate kind (DESIGN.md
/// §8; `crate::estate::normalized`), then the diagnostics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Normalized {
    pub connections: Vec<NormalizedConnection>,
    pub connection_groups: Vec<NormalizedConnectionGroup>,
    pub sharing_profiles: Vec<NormalizedSharingProfile>,
    pub user_groups: Vec<NormalizedUserGroup>,
    pub users: Vec<NormalizedUser>,
    pub diagnostics: Vec<Diagnostic>,
}

impl NormalizedConnection {
    /// The printable form of an entry: sensitive values that are written literally
    /// become `(sensitive)`; secret references and pure Guacamole/KSM tokens are
    /// kept as written (they are not secrets, and nothing is resolved here).
    #[must_use]
    pub fn from_entry(entry: &Entry, schema: &Schema) -> Self {
        let (group, parent_identifier) = match &entry.parent {
            Parent::Group(g) => (Some(g.to_string()), None),
            Parent::Identifier(id) => (None, Some(id.clone())),
        };
        let parameters = entry
            .parameters
            .iter()
            .map(|(k, v)| {
                let shown = if schema.is_sensitive_parameter(&entry.protocol, k)
                    && !secret::has_reference(v)
                    && !secret::is_token_only(v)
                {
                    SENSITIVE.to_owned()
                } else {
                    v.clone()
                };
                (k.to_string(), shown)
            })
            .collect();
        Self {
            name: entry.name.clone(),
            protocol: entry.protocol.clone(),
            group,
            parent_identifier,
            parameters,
            attributes: entry.attributes.to_btree(),
            users: entry.users.clone(),
            groups: entry.groups.clone(),
            source: entry.source.clone(),
        }
    }
}

impl Normalized {
    /// Entries sorted by group path, name, then source; estate objects sorted by
    /// identity; diagnostics as given.
    #[must_use]
    pub fn new(
        entries: &[Entry],
        estate: &Estate,
        diagnostics: &[Diagnostic],
        schema: &Schema,
    ) -> Self {
        let mut sorted: Vec<&Entry> = entries.iter().collect();
        sorted.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        let estate = NormalizedEstate::new(estate);
        Self {
            connections: sorted
                .into_iter()
                .map(|e| NormalizedConnection::from_entry(e, schema))
                .collect(),
            connection_groups: estate.connection_groups,
            sharing_profiles: estate.sharing_profiles,
            user_groups: estate.user_groups,
            users: estate.users,
            diagnostics: diagnostics.to_vec(),
        }
    }
}

fn sort_key(
    e: &Entry,
) -> (
    Option<&crate::model::GroupPath>,
    Option<&str>,
    &str,
    &Source,
) {
    match &e.parent {
        Parent::Group(g) => (Some(g), None, &e.name, &e.source),
        Parent::Identifier(id) => (None, Some(id), &e.name, &e.source),
    }
}
