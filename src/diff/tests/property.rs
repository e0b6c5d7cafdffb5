//! The property test of the diff: a plan applied to a model of the server gives a
//! state whose diff is empty. The model holds what Guacamole holds, by server
//! identifier, and is changed only through what apply would send: each batch's ops
//! are made from the changes' bodies as apply makes them (references resolved
//! from the identifiers earlier batches answered, never from the same batch), and
//! applied with Guacamole's rules: an add gets a new identifier, a replace
//! overwrites the whole object and may move or rename it, removing a group removes
//! everything below it, and names are unique among the objects of a kind in one
//! group. Permissions are applied by the identifiers apply would address.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use serde_json::{Value as Json, json};

use super::*;

/// What the server holds, by identifier.
#[derive(Debug, Default)]
struct Server {
    /// Connection groups and connections: the JSON objects the server keeps
    /// (`parentIdentifier`, `name`, and the rest of the last body written).
    groups: BTreeMap<String, Json>,
    connections: BTreeMap<String, Json>,
    users: BTreeMap<String, crate::observed::ObservedPrincipal>,
    user_groups: BTreeMap<String, crate::observed::ObservedPrincipal>,
    grants: BTreeMap<Principal, ObservedGrants>,
    next: u32,
}

/// A map of strings as JSON.
fn strings<'a, K: AsRef<str> + 'a>(m: impl IntoIterator<Item = (&'a K, &'a String)>) -> Json {
    Json::Object(
        m.into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), Json::String(v.clone())))
            .collect(),
    )
}

/// The values of a JSON map that the server keeps: strings, neither null nor
/// empty (Guacamole stores no empty parameter or attribute).
fn kept(v: &Json) -> crate::fields::Fields<String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            v.as_str()
                .filter(|s| !s.is_empty())
                .map(|s| (k.clone(), s.to_owned()))
        })
        .collect()
}

fn text<'a>(v: &'a Json, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}

impl Server {
    fn from(o: &Observed) -> Self {
        let parent = |p: &GroupPath| {
            o.group_identifier(&p.parent().unwrap_or_default())
                .expect("the parent is listed")
                .to_owned()
        };
        let mut s = Self {
            users: o.users.clone(),
            user_groups: o.user_groups.clone(),
            grants: o.grants.clone(),
            next: 1000,
            ..Self::default()
        };
        for (path, g) in &o.groups {
            let attributes = o
                .group_attributes
                .get(&g.identifier)
                .cloned()
                .unwrap_or_default();
            s.groups.insert(
                g.identifier.clone(),
                json!({"parentIdentifier": parent(path), "name": path.name(),
                       "type": g.group_type, "attributes": strings(&attributes)}),
            );
        }
        for (key, c) in &o.connections {
            let group = o.group_identifier(&key.group).expect("the group is listed");
            s.connections.insert(
                c.identifier.clone(),
                json!({"parentIdentifier": group, "name": key.name, "protocol": c.protocol,
                       "parameters": strings(c.parameters.as_ref().expect("read")),
                       "attributes": strings(&c.attributes)}),
            );
        }
        s
    }

    /// Applies one op of a directory PATCH; the new object's identifier for an add.
    fn apply(&mut self, kind: Kind, op: &Json) -> Option<String> {
        let path = text(op, "path");
        let existing = path.strip_prefix('/').filter(|id| !id.is_empty());
        let value = &op["value"];
        match kind {
            Kind::User | Kind::UserGroup => {
                assert_eq!((text(op, "op"), path), ("add", "/"), "{op}");
                let (set, field) = if kind == Kind::User {
                    (&mut self.users, "username")
                } else {
                    (&mut self.user_groups, "identifier")
                };
                let name = text(value, field).to_owned();
                assert!(
                    set.insert(name.clone(), crate::observed::ObservedPrincipal::default())
                        .is_none(),
                    "{kind} {name:?} exists already"
                );
                return Some(name);
            }
            Kind::SharingProfile => panic!("diff plans no sharing profile: {op}"),
            Kind::ConnectionGroup | Kind::Connection => {}
        }
        let mut created = None;
        match text(op, "op") {
            "add" => {
                assert_eq!(path, "/");
                self.next += 1;
                let id = self.next.to_string();
                self.table(kind).insert(id.clone(), value.clone());
                created = Some(id);
            }
            "replace" => {
                let id = existing.expect("a replace names its object");
                let table = self.table(kind);
                assert!(table.contains_key(id), "replace of a missing {kind} {id}");
                table.insert(id.to_owned(), value.clone());
            }
            "remove" => {
                let id = existing.expect("a remove names its object");
                assert!(
                    self.table(kind).remove(id).is_some(),
                    "remove of a missing {kind} {id}"
                );
                if kind == Kind::ConnectionGroup {
                    self.remove_below(id);
                }
            }
            other => panic!("op {other:?}"),
        }
        self.check();
        created
    }

    fn table(&mut self, kind: Kind) -> &mut BTreeMap<String, Json> {
        match kind {
            Kind::ConnectionGroup => &mut self.groups,
            Kind::Connection => &mut self.connections,
            other => panic!("no table for {other}"),
        }
    }

    /// What Guacamole removes with a group: every group and connection below it.
    fn remove_below(&mut self, id: &str) {
        let children: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| text(g, "parentIdentifier") == id)
            .map(|(child, _)| child.clone())
            .collect();
        self.connections
            .retain(|_, c| text(c, "parentIdentifier") != id);
        for child in children {
            self.groups.remove(&child);
            self.remove_below(&child);
        }
    }

    /// What Guacamole refuses: an object in a group that does not exist, and two
    /// objects of one kind with one name in one group.
    fn check(&self) {
        for (kind, table) in [("group", &self.groups), ("connection", &self.connections)] {
            let mut seen = BTreeSet::new();
            for (id, v) in table {
                let parent = text(v, "parentIdentifier");
                assert!(
                    parent == "ROOT" || self.groups.contains_key(parent),
                    "{kind} {id} is in group {parent}, which does not exist"
                );
                assert!(
                    seen.insert((parent, text(v, "name"))),
                    "two {kind}s named {:?} in group {parent}",
                    text(v, "name")
                );
            }
        }
    }

    fn path_of(&self, id: &str) -> GroupPath {
        let mut names = Vec::new();
        let mut at = id;
        while at != "ROOT" {
            assert!(names.len() <= self.groups.len(), "group {id} is in a cycle");
            let g = &self.groups[at];
            names.push(text(g, "name").to_owned());
            at = text(g, "parentIdentifier");
        }
        names.reverse();
        GroupPath::from_segments(names)
    }

    /// Grants and revocations, by the identifiers apply would address: the one
    /// the plan knows, else the one the creation in this run answered.
    fn permissions(&mut self, plan: &Plan, created: &HashMap<ObjectKey, String>) {
        for change in &plan.permissions {
            let sent = |g: &Grant| -> (Kind, String) {
                assert_eq!(g.permission, "READ", "{g:?}");
                let object = g.object.as_ref().expect("READ is on an object");
                let id = g
                    .identifier
                    .clone()
                    .or_else(|| created.get(object).cloned())
                    .unwrap_or_else(|| panic!("apply cannot address {object}"));
                (object.kind(), id)
            };
            let grants: Vec<(Kind, String)> = change.grant.iter().map(sent).collect();
            let revokes: Vec<(Kind, String)> = change.revoke.iter().map(sent).collect();
            let principal_exists = match &change.principal {
                Principal::User(u) => self.users.contains_key(u),
                Principal::UserGroup(g) => self.user_groups.contains_key(g),
            };
            assert!(principal_exists, "{} does not exist", change.principal);
            for (kind, id) in grants.iter().chain(&revokes) {
                assert!(
                    self.table(*kind).contains_key(id),
                    "a permission on a missing {kind} {id}"
                );
            }
            let held = self.grants.entry(change.principal.clone()).or_default();
            for (kind, id) in grants {
                match kind {
                    Kind::Connection => held.connections.insert(id),
                    _ => held.groups.insert(id),
                };
            }
            for (kind, id) in revokes {
                match kind {
                    Kind::Connection => held.connections.remove(&id),
                    _ => held.groups.remove(&id),
                };
            }
        }
    }

    /// The server as observe would read it.
    fn observed(&self, before: &Observed) -> Observed {
        let mut o = Observed {
            users: self.users.clone(),
            user_groups: self.user_groups.clone(),
            grants: self.grants.clone(),
            groups: BTreeMap::new(),
            connections: BTreeMap::new(),
            group_attributes: BTreeMap::new(),
            ..before.clone()
        };
        for (id, g) in &self.groups {
            o.groups.insert(
                self.path_of(id),
                ObservedGroup {
                    identifier: id.clone(),
                    group_type: text(g, "type").to_owned(),
                },
            );
            let attributes = kept(&g["attributes"]);
            if !attributes.is_empty() {
                o.group_attributes.insert(id.clone(), attributes);
            }
        }
        for (id, c) in &self.connections {
            let sessions = before
                .connections
                .values()
                .find(|b| b.identifier == *id)
                .map_or(0, |b| b.active_connections);
            o.connections.insert(
                ConnKey {
                    group: self.path_of(text(c, "parentIdentifier")),
                    name: text(c, "name").to_owned(),
                },
                ObservedConnection {
                    identifier: id.clone(),
                    protocol: text(c, "protocol").to_owned(),
                    parameters: Some(kept(&c["parameters"])),
                    attributes: kept(&c["attributes"]),
                    active_connections: sessions,
                },
            );
        }
        o
    }
}

/// The server as the plan's requests would leave it, batch by batch as apply
/// sends them.
fn simulate(plan: &Plan, observed: &Observed) -> Observed {
    let mut server = Server::from(observed);
    let mut created: HashMap<ObjectKey, String> = HashMap::new();
    let mut next = 0;
    for batch in &plan.batches {
        assert_eq!(
            batch.start, next,
            "batches follow each other: {:?}",
            plan.batches
        );
        assert!(batch.start < batch.end && batch.end <= plan.changes.len());
        next = batch.end;
        let changes = &plan.changes[batch.start..batch.end];
        // Every op is made before the batch is sent: a reference to an object
        // created in the same batch cannot be resolved.
        let ops: Vec<Json> = changes
            .iter()
            .map(|c| {
                assert_eq!(c.kind(), batch.kind, "{c:?} in a {} batch", batch.kind);
                c.op(&|k| created.get(k).cloned()).unwrap_or_else(|k| {
                    panic!("{} refers to {k}, not created before its batch", c.object)
                })
            })
            .collect();
        let size = serde_json::to_string(&ops).expect("json").len();
        assert!(size <= batch.bytes, "{size} > {}", batch.bytes);
        assert!(batch.bytes <= plan.options.max_request_bytes);
        for (c, op) in changes.iter().zip(&ops) {
            if let Some(id) = server.apply(batch.kind, op) {
                created.insert(c.object.clone(), id);
            }
        }
    }
    assert_eq!(next, plan.changes.len(), "every change is in a batch");
    // The database drops the permissions of what was removed.
    let (groups, connections) = (&server.groups, &server.connections);
    for held in server.grants.values_mut() {
        held.groups.retain(|id| groups.contains_key(id));
        held.connections.retain(|id| connections.contains_key(id));
    }
    assert!(plan.memberships.is_empty(), "diff plans no membership");
    server.permissions(plan, &created);
    server.observed(observed)
}

fn arb_params() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            proptest::sample::select(vec![
                "hostname",
                "port",
                "password",
                "username",
                "font-size",
            ]),
            "[a-c]{1,2}",
        ),
        0..4,
    )
    .prop_map(|v| v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

#[allow(clippy::too_many_lines)] // one generator, easier to read whole
fn arb_case() -> impl Strategy<Value = (Desired, Observed, bool, PermissionMode)> {
    let names = proptest::sample::select(vec!["a", "b", "c", "d"]);
    let groups = proptest::sample::select(vec![
        "ROOT",
        "ROOT/Prod",
        "ROOT/Prod/Web",
        "ROOT/Lab",
        "ROOT/Lab/X",
        "ROOT/Lab/X/Y",
    ]);
    let principal = proptest::sample::select(vec!["alice", "bob", "ops"]);
    let wanted = proptest::collection::vec(
        (
            groups.clone(),
            names.clone(),
            arb_params(),
            proptest::collection::vec(principal.clone(), 0..3),
            proptest::option::of(0u8..5),
        ),
        0..6,
    );
    let existing = proptest::collection::vec(
        (
            groups,
            names,
            arb_params(),
            proptest::collection::vec(principal, 0..3),
        ),
        0..6,
    );
    (wanted, existing, any::<bool>(), any::<bool>()).prop_map(|(wanted, existing, prune, exact)| {
        let mut o = server();
        o.groups.insert(
            path("ROOT/Lab"),
            ObservedGroup {
                identifier: "3".into(),
                group_type: "ORGANIZATIONAL".into(),
            },
        );
        let mut id = 0;
        for (g, n, params, who) in existing {
            id += 1;
            let k = key(g, n);
            if o.connections.contains_key(&k) {
                continue;
            }
            // A connection is always in a group that exists (ROOT/Lab/X exists
            // only when a connection is in it; otherwise it may be created).
            for lineage in k.group.lineage() {
                if o.group_identifier(&lineage).is_none() {
                    o.groups.insert(
                        lineage,
                        ObservedGroup {
                            identifier: (o.groups.len() + 1).to_string(),
                            group_type: "ORGANIZATIONAL".into(),
                        },
                    );
                }
            }
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            o.connections.insert(k, have(&id.to_string(), &pairs));
            for p in who {
                let principal = if p == "ops" {
                    Principal::UserGroup(p.into())
                } else {
                    Principal::User(p.into())
                };
                o.grants
                    .entry(principal)
                    .or_default()
                    .connections
                    .insert(id.to_string());
            }
        }
        for p in [
            Principal::User("alice".into()),
            Principal::User("bob".into()),
            Principal::UserGroup("ops".into()),
        ] {
            o.grants.entry(p).or_default();
        }
        let mut seen = BTreeSet::new();
        let mut list = Vec::new();
        for (g, n, params, who, weight) in wanted {
            if !seen.insert((g, n)) {
                continue;
            }
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let mut w = want(g, n, &pairs);
            for p in who {
                if p == "ops" {
                    w.groups.push(p.into());
                } else {
                    w.users.push(p.into());
                }
            }
            w.users.sort();
            w.users.dedup();
            w.groups.sort();
            w.groups.dedup();
            if let Some(x) = weight {
                w.attributes.insert("weight".into(), x.to_string());
            }
            list.push(w);
        }
        (
            desired(list),
            o,
            prune,
            if exact {
                PermissionMode::Exact
            } else {
                PermissionMode::Additive
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Applying the plan to the observed state gives a state whose diff is empty.
    #[test]
    fn plan_then_diff_again_is_empty((d, o, prune, mode) in arb_case()) {
        let opts = Options { scope: vec![path("ROOT")], prune, allow_deletions: Some(100), permissions: mode, ..Options::default() };
        let plan = ok(&d, &o, &opts);
        let after = simulate(&plan, &o);
        let second = ok(&d, &after, &opts);
        prop_assert!(second.is_empty(), "second plan: {}", crate::plan::render_text(&second, false));
        // Removed in-scope extras are gone only when pruning.
        if !prune {
            prop_assert_eq!(plan.summary.remove, 0);
        }
    }
}
