//! Export → parse for estate documents (issue 13): for any estate a server may
//! hold — connection groups with types and attributes, sharing profiles with
//! parameters, users and user groups with awkward names, attributes, members,
//! system permissions and every object permission — what `export --estate`
//! writes (YAML and JSON, one document with the connections or the estate
//! alone) reads back, through the same reader `plan` uses, as exactly what was
//! observed: every fact of the server is in the document, nothing else is, and
//! every field is written (exact), so no drift can hide. With a scope, exactly
//! the facts inside it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use guacsync::estate::{
    Estate, Grant, Permissions, Ref, SharingProfileKey, SystemPermission, write as estate_write,
};
use guacsync::export::{Secrets, export, export_estate};
use guacsync::kinds::Kind;
use guacsync::manifest::{self, Format, ParseOptions};
use guacsync::model::{ConnKey, Entry, GroupPath, Principal};
use guacsync::observed::{
    Observed, ObservedConnection, ObservedGrants, ObservedGroup, ObservedMembers,
    ObservedPrincipal, ObservedSharingProfile,
};
use guacsync::schema::Schema;
use proptest::prelude::*;

const SESSION: &str = "guacadmin";

/// Characters that stress both writers: YAML indicators, quotes, escapes, path
/// separators, non-ASCII, a line break inside a name.
const TRICKY: &[char] = &[
    'a', 'Z', '0', '9', ' ', ',', ';', '"', '\'', '\\', '/', ':', '#', '-', '?', '{', '}', '[',
    ']', '&', '*', '!', '|', '>', '%', '@', '`', '$', '.', '=', 'é', '中', '\n',
];

/// A name an estate document can hold: not blank, no white space around it.
fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TRICKY), 1..10)
        .prop_map(|cs| cs.into_iter().collect::<String>())
        .prop_filter("written as it is", |s| {
            s.trim() == s && !s.is_empty() && s != SESSION
        })
}

/// Free text for attribute values: anything non-empty that is not a reference.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TRICKY), 1..16)
        .prop_map(|cs| cs.into_iter().collect::<String>())
        .prop_filter("not a reference", |s| !s.contains("${"))
}

const LEVELS: [&str; 4] = ["READ", "UPDATE", "DELETE", "ADMINISTER"];
const SYSTEM: [&str; 7] = [
    "CREATE_USER",
    "CREATE_USER_GROUP",
    "CREATE_CONNECTION",
    "CREATE_CONNECTION_GROUP",
    "CREATE_SHARING_PROFILE",
    "AUDIT",
    "ADMINISTER",
];

fn levels() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(LEVELS.to_vec(), 1..=4)
        .prop_map(|l| l.into_iter().map(str::to_owned).collect())
}

fn user_attributes() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        proptest::option::of(text()),
        proptest::option::of(proptest::sample::select(vec!["2027-06-30", "2028-02-29"])),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(vec!["07:00:00", "23:59:59"])),
        proptest::option::of("[A-Z2-7]{16}"),
    )
        .prop_map(|(full, until, expired, start, totp)| {
            let mut a = BTreeMap::new();
            if let Some(v) = full {
                a.insert("guac-full-name".to_owned(), v);
            }
            if let Some(v) = until {
                a.insert("valid-until".to_owned(), v.to_owned());
            }
            if expired {
                a.insert("expired".to_owned(), "true".to_owned());
            }
            if let Some(v) = start {
                a.insert("access-window-start".to_owned(), v.to_owned());
            }
            if let Some(v) = totp {
                a.insert("guac-totp-key-secret".to_owned(), v);
            }
            a
        })
}

/// Raw material: indices into the generated objects are taken modulo their count.
#[derive(Debug, Clone)]
#[allow(clippy::type_complexity)] // plain generated tuples, named where used
struct Raw {
    paths: Vec<Vec<String>>,
    group_info: Vec<(bool, Option<u16>, bool)>,
    connections: Vec<(usize, String)>,
    profiles: Vec<(usize, String, u8)>,
    users: BTreeMap<String, (bool, BTreeMap<String, String>)>,
    user_groups: BTreeMap<String, bool>,
    members: Vec<(usize, Vec<usize>, Vec<usize>, bool)>,
    grants: Vec<(usize, Vec<(u8, usize, BTreeSet<String>)>, Vec<usize>)>,
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        proptest::collection::vec(proptest::collection::vec(name(), 1..3), 0..4),
        proptest::collection::vec(
            (any::<bool>(), proptest::option::of(0u16..50), any::<bool>()),
            8,
        ),
        proptest::collection::vec((any::<usize>(), name()), 0..5),
        proptest::collection::vec((any::<usize>(), name(), 0u8..3), 0..4),
        proptest::collection::btree_map(name(), (any::<bool>(), user_attributes()), 0..5),
        proptest::collection::btree_map(name(), any::<bool>(), 0..4),
        proptest::collection::vec(
            (
                any::<usize>(),
                proptest::collection::vec(any::<usize>(), 0..4),
                proptest::collection::vec(any::<usize>(), 0..3),
                any::<bool>(),
            ),
            0..4,
        ),
        proptest::collection::vec(
            (
                any::<usize>(),
                proptest::collection::vec((0u8..5, any::<usize>(), levels()), 0..6),
                proptest::collection::vec(0usize..7, 0..3),
            ),
            0..8,
        ),
    )
        .prop_map(
            |(paths, group_info, connections, profiles, users, user_groups, members, grants)| Raw {
                paths,
                group_info,
                connections,
                profiles,
                users,
                user_groups,
                members,
                grants,
            },
        )
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

/// The server `raw` describes, as guacsync observes it with every principal's
/// permissions and every group's members read.
#[allow(clippy::too_many_lines)] // one server, built top to bottom
fn observed(raw: &Raw) -> Observed {
    let mut o = Observed {
        data_source: "postgresql".into(),
        session_user: SESSION.into(),
        ..Observed::default()
    };
    let mut paths: BTreeSet<GroupPath> = BTreeSet::new();
    for segments in &raw.paths {
        let p = GroupPath::from_segments(segments.clone());
        paths.extend(p.lineage());
    }
    for (i, p) in paths.iter().enumerate() {
        let (balancing, limit, affinity) = raw.group_info[i % raw.group_info.len()];
        let id = (i + 1).to_string();
        let mut attributes = BTreeMap::new();
        if let Some(l) = limit {
            attributes.insert("max-connections".to_owned(), l.to_string());
        }
        if affinity {
            attributes.insert("enable-session-affinity".to_owned(), "true".to_owned());
        }
        if !attributes.is_empty() {
            o.group_attributes.insert(id.clone(), attributes);
        }
        o.groups.insert(
            p.clone(),
            ObservedGroup {
                identifier: id,
                group_type: if balancing {
                    "BALANCING"
                } else {
                    "ORGANIZATIONAL"
                }
                .into(),
            },
        );
    }
    let group_list: Vec<GroupPath> = std::iter::once(GroupPath::root()).chain(paths).collect();
    for (n, (g, name)) in raw.connections.iter().enumerate() {
        let group = pick(&group_list, *g).unwrap_or_default();
        o.connections
            .entry(ConnKey {
                group,
                name: name.clone(),
            })
            .or_insert_with(|| ObservedConnection {
                identifier: (100 + n).to_string(),
                protocol: "ssh".into(),
                parameters: Some([("hostname".to_owned(), "h".to_owned())].into()),
                attributes: BTreeMap::new(),
                active_connections: 0,
            });
    }
    let conns: Vec<ConnKey> = o.connections.keys().cloned().collect();
    for (n, (c, name, params)) in raw.profiles.iter().enumerate() {
        let Some(connection) = pick(&conns, *c) else {
            continue;
        };
        let parameters = match params {
            0 => BTreeMap::new(),
            1 => [("read-only".to_owned(), "true".to_owned())].into(),
            // A name no protocol's sharing form has: a secret to the exporter.
            _ => [("x-share-token".to_owned(), format!("tok-{n}"))].into(),
        };
        o.sharing_profiles
            .entry(SharingProfileKey {
                connection,
                name: name.clone(),
            })
            .or_insert_with(|| ObservedSharingProfile {
                identifier: (200 + n).to_string(),
                parameters: Some(parameters),
            });
    }
    o.users.insert(SESSION.into(), ObservedPrincipal::default());
    for (u, (disabled, attributes)) in &raw.users {
        o.users.insert(
            u.clone(),
            ObservedPrincipal {
                disabled: *disabled,
                attributes: attributes.clone(),
            },
        );
    }
    for (g, disabled) in &raw.user_groups {
        o.user_groups.insert(
            g.clone(),
            ObservedPrincipal {
                disabled: *disabled,
                attributes: BTreeMap::new(),
            },
        );
    }
    let users: Vec<String> = o.users.keys().cloned().collect();
    let groups: Vec<String> = o.user_groups.keys().cloned().collect();
    for g in &groups {
        o.memberships.insert(g.clone(), ObservedMembers::default());
    }
    for (g, us, gs, with_session) in &raw.members {
        let Some(g) = pick(&groups, *g) else { continue };
        let m = o.memberships.entry(g).or_default();
        m.users.extend(us.iter().filter_map(|i| pick(&users, *i)));
        m.groups.extend(gs.iter().filter_map(|i| pick(&groups, *i)));
        if *with_session {
            m.users.insert(SESSION.into());
        }
    }
    let principals: Vec<Principal> = users
        .iter()
        .map(|u| Principal::User(u.clone()))
        .chain(groups.iter().map(|g| Principal::UserGroup(g.clone())))
        .collect();
    for p in &principals {
        o.grants.insert(p.clone(), ObservedGrants::default());
    }
    let ids = |kind: u8| -> Vec<String> {
        match kind {
            0 => o
                .connections
                .values()
                .map(|c| c.identifier.clone())
                .collect(),
            1 => o.groups.values().map(|g| g.identifier.clone()).collect(),
            2 => o
                .sharing_profiles
                .values()
                .map(|s| s.identifier.clone())
                .collect(),
            3 => users.clone(),
            _ => groups.clone(),
        }
    };
    let mut grants = o.grants.clone();
    for (p, objects, system) in &raw.grants {
        let Some(p) = pick(&principals, *p) else {
            continue;
        };
        let g = grants.entry(p).or_default();
        for (kind, target, levels) in objects {
            let Some(id) = pick(&ids(*kind), *target) else {
                continue;
            };
            let kind = [
                Kind::Connection,
                Kind::ConnectionGroup,
                Kind::SharingProfile,
                Kind::User,
                Kind::UserGroup,
            ][*kind as usize];
            g.objects
                .entry(kind)
                .or_default()
                .insert(id, levels.iter().collect());
        }
        g.system
            .extend(system.iter().map(|s| SYSTEM[*s].to_owned()));
    }
    // The READ sets the connection export reads, as observe derives them.
    for g in grants.values_mut() {
        let read = |kind: Kind| -> BTreeSet<String> {
            g.objects
                .get(&kind)
                .into_iter()
                .flatten()
                .filter(|(_, l)| l.contains("READ"))
                .map(|(id, _)| id.clone())
                .collect()
        };
        g.connections = read(Kind::Connection);
        g.groups = read(Kind::ConnectionGroup);
    }
    o.grants = grants;
    o
}

/// One fact about a server, in words both sides can say.
type Fact = (String, String, String, String);

/// The facts about one estate, and a mark for every field written (exact)
/// rather than left out.
#[derive(Default)]
struct Facts {
    said: BTreeSet<Fact>,
    written: BTreeSet<Fact>,
}

fn fact(kind: &str, a: &dyn Display, b: &dyn Display, c: &dyn Display) -> Fact {
    (kind.to_owned(), a.to_string(), b.to_string(), c.to_string())
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Connection => "connections",
        Kind::ConnectionGroup => "connectionGroups",
        Kind::SharingProfile => "sharingProfiles",
        Kind::User => "users",
        Kind::UserGroup => "userGroups",
    }
}

/// `kind target` as a permission fact names it.
fn target(kind: &str, target: &dyn Display) -> String {
    format!("{kind} {target}")
}

/// Everything `o` holds that an estate export must carry, within `scope`.
/// READ alone on a connection is carried by the connection's own lists, so it is
/// there only when the connections are.
fn observed_facts(
    o: &Observed,
    scope: Option<&GroupPath>,
    with_connections: bool,
) -> BTreeSet<Fact> {
    let inside = |p: &GroupPath| scope.is_none_or(|s| p.starts_with(s));
    let mut f = BTreeSet::new();
    let mut names: BTreeMap<(Kind, &str), (String, bool)> = BTreeMap::new();
    for (k, c) in &o.connections {
        names.insert(
            (Kind::Connection, &c.identifier),
            (k.to_string(), inside(&k.group)),
        );
    }
    for (p, g) in &o.groups {
        names.insert(
            (Kind::ConnectionGroup, &g.identifier),
            (p.to_string(), inside(p)),
        );
        if inside(p) {
            f.insert(fact("group", p, &g.group_type, &""));
            for (k, v) in o.group_attributes.get(&g.identifier).into_iter().flatten() {
                f.insert(fact("group-attribute", p, k, v));
            }
        }
    }
    for (k, s) in &o.sharing_profiles {
        let inside = inside(&k.connection.group);
        names.insert(
            (Kind::SharingProfile, &s.identifier),
            (k.to_string(), inside),
        );
        if inside {
            f.insert(fact("profile", k, &"", &""));
            for (n, v) in s.parameters.iter().flatten() {
                f.insert(fact("profile-parameter", k, n, v));
            }
        }
    }
    for (u, p) in o.users.iter().filter(|(u, _)| *u != SESSION) {
        f.insert(fact("user", u, &p.disabled, &""));
        for (k, v) in &p.attributes {
            f.insert(fact("user-attribute", u, k, v));
        }
    }
    for (g, p) in &o.user_groups {
        f.insert(fact("user-group", g, &p.disabled, &""));
        let m = &o.memberships[g];
        for u in m.users.iter().filter(|u| *u != SESSION) {
            f.insert(fact("member", g, &"user", u));
        }
        for h in &m.groups {
            f.insert(fact("member", g, &"group", h));
        }
    }
    for (p, g) in o
        .grants
        .iter()
        .filter(|(p, _)| **p != Principal::User(SESSION.into()))
    {
        for s in &g.system {
            f.insert(fact("system", p, s, &""));
        }
        for (kind, held) in &g.objects {
            for (id, levels) in held {
                let name = match kind {
                    Kind::User | Kind::UserGroup => id.clone(),
                    _ => match &names[&(*kind, id.as_str())] {
                        (name, true) => name.clone(),
                        (_, false) => continue,
                    },
                };
                let only_read = levels.len() == 1 && levels.contains("READ");
                if *kind == Kind::Connection && only_read && !with_connections {
                    continue;
                }
                for l in levels {
                    f.insert(fact("permission", p, &target(kind_word(*kind), &name), &l));
                }
            }
        }
    }
    f
}

type Names<'e> = Option<&'e Vec<Ref<String>>>;

fn names(r: Names<'_>) -> Vec<String> {
    r.into_iter().flatten().map(|r| r.target.clone()).collect()
}

fn was_written<T>(v: Option<&T>) -> &'static str {
    if v.is_some() { "written" } else { "left out" }
}

impl Facts {
    /// READ from an object's `users` and `groups` lists.
    fn read(&mut self, kind: &str, object: &dyn Display, users: &[String], groups: &[String]) {
        let t = target(kind, object);
        for u in users {
            self.said
                .insert(fact("permission", &Principal::User(u.clone()), &t, &"READ"));
        }
        for g in groups {
            self.said.insert(fact(
                "permission",
                &Principal::UserGroup(g.clone()),
                &t,
                &"READ",
            ));
        }
    }

    fn grants<T: Display>(
        &mut self,
        owner: &Principal,
        kind: &str,
        grants: Option<&Vec<Grant<T>>>,
    ) {
        for g in grants.into_iter().flatten() {
            for l in &g.levels {
                self.said.insert(fact(
                    "permission",
                    owner,
                    &target(kind, &g.target.target),
                    &l.as_str(),
                ));
            }
        }
    }

    /// A principal's `system` and `permissions`.
    fn principal(
        &mut self,
        owner: &Principal,
        system: Option<&Vec<Ref<SystemPermission>>>,
        p: &Permissions,
    ) {
        for s in system.into_iter().flatten() {
            self.said
                .insert(fact("system", owner, &s.target.as_str(), &""));
        }
        self.grants(owner, "connections", p.connections.as_ref());
        self.grants(owner, "connectionGroups", p.connection_groups.as_ref());
        self.grants(owner, "sharingProfiles", p.sharing_profiles.as_ref());
        self.grants(owner, "users", p.users.as_ref());
        self.grants(owner, "userGroups", p.user_groups.as_ref());
        let marks = [
            was_written(system),
            was_written(p.connections.as_ref()),
            was_written(p.connection_groups.as_ref()),
            was_written(p.sharing_profiles.as_ref()),
            was_written(p.users.as_ref()),
            was_written(p.user_groups.as_ref()),
        ];
        self.written
            .insert(fact("principal", owner, &marks.join(" "), &""));
    }

    /// What an estate document (and its connections) says, in the same words.
    fn of(e: &Estate, connections: &[Entry]) -> Self {
        let mut f = Self::default();
        for c in connections {
            let key = c.key().expect("exported connections have paths");
            f.read("connections", &key, &c.users, &c.groups);
        }
        for g in &e.connection_groups {
            f.said.insert(fact(
                "group",
                &g.path,
                &g.group_type.map_or("?", |t| t.as_str()),
                &"",
            ));
            for (k, v) in &g.attributes {
                f.said.insert(fact(
                    "group-attribute",
                    &g.path,
                    k,
                    &v.as_deref().unwrap_or("(null)"),
                ));
            }
            f.read(
                "connectionGroups",
                &g.path,
                &names(g.users.as_ref()),
                &names(g.groups.as_ref()),
            );
            let marks = [
                was_written(g.users.as_ref()),
                was_written(g.groups.as_ref()),
            ];
            f.written
                .insert(fact("group", &g.path, &marks.join(" "), &""));
        }
        for p in &e.sharing_profiles {
            let key = p.key();
            f.said.insert(fact("profile", &key, &"", &""));
            for (n, v) in p.parameters.iter().flatten() {
                f.said.insert(fact("profile-parameter", &key, n, v));
            }
            f.read(
                "sharingProfiles",
                &key,
                &names(p.users.as_ref()),
                &names(p.groups.as_ref()),
            );
            let marks = [
                was_written(p.parameters.as_ref()),
                was_written(p.users.as_ref()),
                was_written(p.groups.as_ref()),
            ];
            f.written
                .insert(fact("profile", &key, &marks.join(" "), &""));
        }
        for g in &e.user_groups {
            let disabled = g.disabled.map_or("?".to_owned(), |d| d.to_string());
            f.said.insert(fact("user-group", &g.name, &disabled, &""));
            for u in names(g.member_users.as_ref()) {
                f.said.insert(fact("member", &g.name, &"user", &u));
            }
            for h in names(g.member_groups.as_ref()) {
                f.said.insert(fact("member", &g.name, &"group", &h));
            }
            let marks = [
                was_written(g.member_users.as_ref()),
                was_written(g.member_groups.as_ref()),
            ];
            f.written
                .insert(fact("members", &g.name, &marks.join(" "), &""));
            f.principal(
                &Principal::UserGroup(g.name.clone()),
                g.system.as_ref(),
                &g.permissions,
            );
        }
        for u in &e.users {
            let disabled = u.disabled.map_or("?".to_owned(), |d| d.to_string());
            f.said.insert(fact("user", &u.username, &disabled, &""));
            for (k, v) in &u.attributes {
                f.said.insert(fact(
                    "user-attribute",
                    &u.username,
                    k,
                    &v.as_deref().unwrap_or("(null)"),
                ));
            }
            f.principal(
                &Principal::User(u.username.clone()),
                u.system.as_ref(),
                &u.permissions,
            );
        }
        f
    }
}

/// Every field of every object written, exact.
fn all_written(e: &Estate) -> BTreeSet<Fact> {
    let all = |n: usize| vec!["written"; n].join(" ");
    let mut w = BTreeSet::new();
    for g in &e.connection_groups {
        w.insert(fact("group", &g.path, &all(2), &""));
    }
    for p in &e.sharing_profiles {
        w.insert(fact("profile", &p.key(), &all(3), &""));
    }
    for g in &e.user_groups {
        w.insert(fact("members", &g.name, &all(2), &""));
        w.insert(fact(
            "principal",
            &Principal::UserGroup(g.name.clone()),
            &all(6),
            &"",
        ));
    }
    for u in &e.users {
        w.insert(fact(
            "principal",
            &Principal::User(u.username.clone()),
            &all(6),
            &"",
        ));
    }
    w
}

fn parse(format: Format, text: &str) -> manifest::Parsed {
    manifest::parse_bytes(
        "exported",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions::default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn export_then_parse_reads_back_what_was_observed(raw in raw(), scoped in any::<bool>()) {
        let o = observed(&raw);
        let scope: Vec<GroupPath> = if scoped { o.groups.keys().next().cloned().into_iter().collect() } else { Vec::new() };
        let connections = export(&o, &scope, Secrets::Include, Schema::builtin());
        let mut used = BTreeSet::new();
        let exported = export_estate(&o, &scope, Secrets::Include, &mut used);
        prop_assert!(exported.warnings.is_empty(), "{:?}", exported.warnings);
        prop_assert!(exported.secrets.is_empty());
        prop_assert!(exported.estate.users.iter().all(|u| u.username != SESSION && u.password.is_none()));
        for (format, with_connections, text) in [
            (Format::Yaml, true, estate_write::to_yaml(&exported.estate, Some(&connections.entries), "# header\n")),
            (Format::Yaml, false, estate_write::to_yaml(&exported.estate, None, "")),
            (Format::Json, true, estate_write::to_json(&exported.estate, Some(&connections.entries))),
            (Format::Json, false, estate_write::to_json(&exported.estate, None)),
        ] {
            let parsed = parse(format, &text);
            let unexpected: Vec<_> = parsed.diagnostics.iter()
                .filter(|d| d.is_error() || !["unknown-attribute", "unknown-parameter", "self-membership"].contains(&d.code))
                .collect();
            prop_assert!(unexpected.is_empty(), "{format:?}: {unexpected:?}\n{text}");
            let entries: &[Entry] = if with_connections { &parsed.entries } else { &[] };
            if with_connections {
                prop_assert_eq!(parsed.entries.len(), connections.entries.len(), "{}", text);
            } else {
                prop_assert!(parsed.entries.is_empty());
            }
            let read = Facts::of(&parsed.estate, entries);
            let expected = observed_facts(&o, scope.first(), with_connections);
            prop_assert_eq!(&read.said, &expected, "{:?}\n{}", format, text);
            prop_assert_eq!(&read.written, &all_written(&parsed.estate), "{:?}\n{}", format, text);
            // The exported objects themselves, not only their facts, read back.
            let exported_entries: &[Entry] = if with_connections { &connections.entries } else { &[] };
            let sent = Facts::of(&exported.estate, exported_entries);
            prop_assert_eq!(sent.said, read.said);
            prop_assert_eq!(sent.written, read.written);
        }
        // Byte-identical when written again.
        prop_assert_eq!(
            estate_write::to_yaml(&exported.estate, None, ""),
            estate_write::to_yaml(&export_estate(&o, &scope, Secrets::Include, &mut BTreeSet::new()).estate, None, "")
        );
    }
}
