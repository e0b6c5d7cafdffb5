//! Export: what a server holds, as manifests that `plan` reads back as "no changes".
//! Pure: `Observed` in, entries out; the CLI reads the server and writes the files
//! with the manifest writers, so a re-export of an unchanged server is
//! byte-identical. `estate` does the same for what estate documents declare
//! (`export --estate`).

mod estate;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{ConnKey, Entry, GroupPath, Parent, Principal, Source};
use crate::observed::Observed;
use crate::schema::Schema;
use crate::secret;

pub use estate::{EstateSecret, ExportedEstate, export_estate, is_sensitive_sharing_parameter};

/// What to do with sensitive parameter values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Secrets {
    /// Leave them out (and say which).
    #[default]
    Omit,
    /// Replace each with `${env:NAME}`, a generated, listed name.
    EnvRef,
    /// Write them in clear (only when asked).
    Include,
}

/// A sensitive value left out or replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretNote {
    pub key: ConnKey,
    pub parameter: String,
    /// The environment variable that now holds it (`env-ref`).
    pub env: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// Sorted by group path, then name.
    pub entries: Vec<Entry>,
    pub secrets: Vec<SecretNote>,
    pub warnings: Vec<String>,
}

/// `GUAC_<GROUPS>_<NAME>_<PARAMETER>`: upper case, every other character `_`,
/// runs collapsed.
fn env_name(key: &ConnKey, parameter: &str) -> String {
    env_var_name(
        key.group
            .segments()
            .iter()
            .map(String::as_str)
            .chain([key.name.as_str(), parameter]),
    )
}

/// `GUAC_` and the parts joined by `_`: upper case, every other character `_`,
/// runs collapsed.
pub(crate) fn env_var_name<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut raw = String::from("GUAC");
    for part in parts {
        raw.push('_');
        raw.push_str(part);
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('_').to_owned()
}

/// `base`, or `base_2`, `base_3`... : the first one not in `used` (then added).
pub(crate) fn unique_env(base: &str, used: &mut BTreeSet<String>) -> String {
    let mut candidate = base.to_owned();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    candidate
}

/// The connections under `scope` (all when empty) as manifest entries: group paths,
/// parameters, set attributes, and the users and user groups holding READ on each
/// (except `observed.session_user`, whose READ on what it created is implicit).
#[must_use]
pub fn export(
    observed: &Observed,
    scope: &[GroupPath],
    secrets: Secrets,
    schema: &Schema,
) -> Exported {
    let mut readers: HashMap<&str, (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
    for (principal, grants) in &observed.grants {
        if *principal == Principal::User(observed.session_user.clone()) {
            continue;
        }
        for id in &grants.connections {
            let entry = readers.entry(id.as_str()).or_default();
            match principal {
                Principal::User(u) => entry.0.insert(u.clone()),
                Principal::UserGroup(g) => entry.1.insert(g.clone()),
            };
        }
    }
    let mut used_env: BTreeSet<String> = BTreeSet::new();
    let mut out = Exported::default();
    for (key, c) in &observed.connections {
        if !scope.is_empty() && !scope.iter().any(|s| key.group.starts_with(s)) {
            continue;
        }
        let mut parameters = crate::fields::Fields::new();
        for (name, value) in c.parameters.iter().flatten() {
            let sensitive =
                schema.is_sensitive_parameter(&c.protocol, name) && !secret::is_token_only(value);
            if !sensitive || secrets == Secrets::Include {
                if secret::has_reference(value) {
                    out.warnings.push(format!(
                        "{key}: parameter {name:?} holds text that reads as a secret reference; a plan would resolve it"
                    ));
                }
                parameters.insert(name.clone(), value.clone());
                continue;
            }
            let env = (secrets == Secrets::EnvRef).then(|| {
                let candidate = unique_env(&env_name(key, name), &mut used_env);
                parameters.insert(name.clone(), format!("${{env:{candidate}}}"));
                candidate
            });
            out.secrets.push(SecretNote {
                key: key.clone(),
                parameter: name.to_string(),
                env,
            });
        }
        let (users, groups) = readers.remove(c.identifier.as_str()).unwrap_or_default();
        out.entries.push(Entry {
            name: key.name.clone(),
            protocol: c.protocol.clone(),
            parent: Parent::Group(key.group.clone()),
            parameters,
            attributes: c.attributes.clone(),
            users: users.into_iter().collect(),
            groups: groups.into_iter().collect(),
            source: Source {
                file: String::new(),
                line: 0,
                column: 0,
            },
        });
    }
    out
}

/// The file an entry goes to when exporting into a directory: one per top-level
/// group, named after it (characters unsafe in file names replaced), `_root` for
/// connections directly under ROOT.
#[must_use]
pub fn file_stem(group: &GroupPath) -> String {
    match group.segments().first() {
        None => "_root".to_owned(),
        Some(top) => {
            let cleaned: String = top
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let cleaned = cleaned.trim_matches(['.', ' ']).to_owned();
            if cleaned.is_empty() {
                "_group".to_owned()
            } else {
                cleaned
            }
        }
    }
}

/// Entries grouped by output file stem; distinct top-level groups whose cleaned
/// names collide get `-2`, `-3`... in group order.
#[must_use]
pub fn split_by_top_group(entries: &[Entry]) -> BTreeMap<String, Vec<Entry>> {
    split_by_top_group_beside(entries, &[])
}

/// As [`split_by_top_group`], never using a `reserved` stem (any case): the
/// files written beside these (`estate` for `estate.yaml`).
#[must_use]
pub fn split_by_top_group_beside(
    entries: &[Entry],
    reserved: &[&str],
) -> BTreeMap<String, Vec<Entry>> {
    let mut stems: BTreeMap<Option<String>, String> = BTreeMap::new();
    let mut taken: BTreeSet<String> = reserved.iter().map(|r| r.to_lowercase()).collect();
    let mut files: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        let Parent::Group(g) = &e.parent else {
            continue;
        };
        let top = g.segments().first().cloned();
        let stem = stems
            .entry(top)
            .or_insert_with(|| {
                let base = file_stem(g);
                let mut candidate = base.clone();
                let mut n = 2;
                while !taken.insert(candidate.to_lowercase()) {
                    candidate = format!("{base}-{n}");
                    n += 1;
                }
                candidate
            })
            .clone();
        files.entry(stem).or_default().push(e.clone());
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::{ObservedConnection, ObservedGrants};

    fn key(g: &[&str], name: &str) -> ConnKey {
        ConnKey {
            group: GroupPath::from_segments(g.iter().map(|s| (*s).to_owned()).collect()),
            name: name.into(),
        }
    }

    fn observed() -> Observed {
        let conn = |id: &str, params: &[(&str, &str)]| ObservedConnection {
            identifier: id.into(),
            protocol: "ssh".into(),
            parameters: Some(
                params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            attributes: [("max-connections".to_owned(), "2".to_owned())].into(),
            active_connections: 0,
        };
        let mut o = Observed {
            session_user: "guacadmin".into(),
            ..Observed::default()
        };
        o.connections.insert(
            key(&["Prod", "a/b"], "web.1"),
            conn(
                "1",
                &[
                    ("hostname", "h"),
                    ("password", "pw1"),
                    ("username", "${GUAC_USERNAME}"),
                ],
            ),
        );
        o.connections.insert(
            key(&[], "top"),
            conn(
                "2",
                &[("private-key", "KEY"), ("passphrase", "${GUAC_PASSWORD}")],
            ),
        );
        o.connections.insert(key(&["Lab"], "x"), conn("3", &[]));
        o.grants.insert(
            Principal::User("alice".into()),
            ObservedGrants {
                connections: ["1".to_owned(), "2".to_owned()].into(),
                groups: BTreeSet::new(),
                ..ObservedGrants::default()
            },
        );
        o.grants.insert(
            Principal::UserGroup("ops;eu".into()),
            ObservedGrants {
                connections: ["1".to_owned()].into(),
                groups: BTreeSet::new(),
                ..ObservedGrants::default()
            },
        );
        o.grants.insert(
            Principal::User("guacadmin".into()),
            ObservedGrants {
                connections: ["1".to_owned(), "2".to_owned(), "3".to_owned()].into(),
                groups: BTreeSet::new(),
                ..ObservedGrants::default()
            },
        );
        o
    }

    #[test]
    fn entries_with_readers_and_secret_modes() {
        let o = observed();
        let schema = Schema::builtin();
        let omit = export(&o, &[], Secrets::Omit, schema);
        assert_eq!(omit.entries.len(), 3);
        let web = omit
            .entries
            .iter()
            .find(|e| e.name == "web.1")
            .expect("web.1");
        assert_eq!(web.users, ["alice"]);
        assert_eq!(web.groups, ["ops;eu"]);
        assert!(!web.parameters.contains_key("password"));
        assert_eq!(
            web.parameters["username"], "${GUAC_USERNAME}",
            "tokens are not secrets"
        );
        assert_eq!(omit.secrets.len(), 2);
        let top = omit.entries.iter().find(|e| e.name == "top").expect("top");
        assert_eq!(top.parameters["passphrase"], "${GUAC_PASSWORD}");
        let refs = export(&o, &[], Secrets::EnvRef, schema);
        let web = refs
            .entries
            .iter()
            .find(|e| e.name == "web.1")
            .expect("web.1");
        assert_eq!(
            web.parameters["password"],
            "${env:GUAC_PROD_A_B_WEB_1_PASSWORD}"
        );
        assert_eq!(
            refs.secrets
                .iter()
                .filter_map(|s| s.env.clone())
                .collect::<Vec<_>>(),
            ["GUAC_TOP_PRIVATE_KEY", "GUAC_PROD_A_B_WEB_1_PASSWORD"]
        );
        let all = export(&o, &[], Secrets::Include, schema);
        assert!(all.secrets.is_empty());
        assert_eq!(
            all.entries
                .iter()
                .find(|e| e.name == "top")
                .map(|e| e.parameters["private-key"].as_str()),
            Some("KEY")
        );
        let scoped = export(
            &o,
            &[GroupPath::parse("ROOT/Prod").expect("path")],
            Secrets::Omit,
            schema,
        );
        assert_eq!(scoped.entries.len(), 1);
    }

    #[test]
    fn env_names_are_unique() {
        let mut o = Observed::default();
        let c = ObservedConnection {
            identifier: "1".into(),
            protocol: "ssh".into(),
            parameters: Some([("password".to_owned(), "x".to_owned())].into()),
            attributes: crate::fields::Fields::new(),
            active_connections: 0,
        };
        o.connections.insert(key(&["a-b"], "c"), c.clone());
        o.connections.insert(
            key(&["a"], "b c"),
            ObservedConnection {
                identifier: "2".into(),
                ..c
            },
        );
        let out = export(&o, &[], Secrets::EnvRef, Schema::builtin());
        let names: Vec<String> = out.secrets.iter().filter_map(|s| s.env.clone()).collect();
        assert_eq!(names, ["GUAC_A_B_C_PASSWORD", "GUAC_A_B_C_PASSWORD_2"]);
    }

    #[test]
    fn a_reserved_stem_is_never_taken() {
        let e = Entry {
            name: "x".into(),
            protocol: "ssh".into(),
            parent: Parent::Group(GroupPath::from_segments(vec!["Estate".into()])),
            parameters: crate::fields::Fields::new(),
            attributes: crate::fields::Fields::new(),
            users: vec![],
            groups: vec![],
            source: Source {
                file: String::new(),
                line: 0,
                column: 0,
            },
        };
        let files = split_by_top_group_beside(&[e], &["estate"]);
        assert_eq!(files.keys().collect::<Vec<_>>(), ["Estate-2"]);
    }

    #[test]
    fn files_per_top_level_group() {
        let e = |g: &[&str], n: &str| Entry {
            name: n.into(),
            protocol: "ssh".into(),
            parent: Parent::Group(GroupPath::from_segments(
                g.iter().map(|s| (*s).to_owned()).collect(),
            )),
            parameters: crate::fields::Fields::new(),
            attributes: crate::fields::Fields::new(),
            users: vec![],
            groups: vec![],
            source: Source {
                file: String::new(),
                line: 0,
                column: 0,
            },
        };
        let files = split_by_top_group(&[
            e(&[], "r"),
            e(&["Prod"], "a"),
            e(&["Prod", "Web"], "b"),
            e(&["a/b"], "c"),
            e(&["a_b"], "d"),
            e(&[".."], "z"),
        ]);
        let names: Vec<(&str, usize)> = files.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
        assert_eq!(
            names,
            [
                ("Prod", 2),
                ("_group", 1),
                ("_root", 1),
                ("a_b", 1),
                ("a_b-2", 1)
            ]
        );
    }
}
