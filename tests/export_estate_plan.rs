//! Export → plan is empty for every kind (issue 13, DESIGN.md §8): generated
//! estates on the test server — nested connection groups of both types with
//! attributes, connections, sharing profiles, users with attributes and
//! `disabled`, user groups with members, system permissions and object
//! permissions of every kind — are exported with `export --estate` (a
//! directory, and one file) and planned: "No changes." Then one fact of one kind
//! changes on the server, and the same documents plan that change: the plan
//! really reads every kind, so an empty plan means something.
//!
//! This needs the plan side of the estate kinds (engineer X1's branch): before
//! it, `plan` says the estate kinds are "checked but not yet planned", which this
//! test refuses, and the changed server plans nothing.

mod common;

use std::collections::BTreeSet;

use common::{guacsync_in, server_with, stderr, stdout};
use guacamole_testserver::{Config, State};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Names with characters that need quoting or escaping somewhere; principal
/// names without `/` and `\` (a stock Tomcat refuses them in paths).
fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9 .:#é-]{0,8}[a-z0-9]".prop_filter("not the login account", |s| s != "guacadmin")
}

fn object_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9 ./\\\\:#é-]{0,8}[a-zA-Z0-9]"
}

/// What a generated server holds, by index (taken modulo the count).
#[derive(Debug, Clone)]
struct Shape {
    groups: Vec<(usize, String, bool, Option<u8>)>,
    connections: Vec<(usize, String)>,
    profiles: Vec<(usize, String, bool)>,
    users: BTreeSet<String>,
    user_groups: BTreeSet<String>,
    flags: Vec<bool>,
    members: Vec<(usize, usize, bool)>,
    grants: Vec<(usize, usize, usize, Vec<&'static str>)>,
    system: Vec<(usize, &'static str)>,
    change: usize,
}

fn shape() -> impl Strategy<Value = Shape> {
    let levels =
        proptest::sample::subsequence(vec!["READ", "UPDATE", "DELETE", "ADMINISTER"], 1..=4);
    (
        proptest::collection::vec(
            (
                any::<usize>(),
                object_name(),
                any::<bool>(),
                proptest::option::of(1u8..20),
            ),
            1..4,
        ),
        proptest::collection::vec((any::<usize>(), object_name()), 1..4),
        proptest::collection::vec((any::<usize>(), object_name(), any::<bool>()), 1..3),
        proptest::collection::btree_set(name(), 1..4),
        proptest::collection::btree_set(name(), 1..3),
        proptest::collection::vec(any::<bool>(), 8),
        proptest::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..5),
        proptest::collection::vec((any::<usize>(), 0usize..5, any::<usize>(), levels), 0..8),
        proptest::collection::vec(
            (
                any::<usize>(),
                proptest::sample::select(vec![
                    "CREATE_CONNECTION",
                    "CREATE_USER",
                    "AUDIT",
                    "ADMINISTER",
                ]),
            ),
            0..3,
        ),
        0usize..CHANGES.len(),
    )
        .prop_map(
            |(
                groups,
                connections,
                profiles,
                users,
                user_groups,
                flags,
                members,
                grants,
                system,
                change,
            )| Shape {
                groups,
                connections,
                profiles,
                users,
                user_groups,
                flags,
                members,
                grants,
                system,
                change,
            },
        )
}

fn pick<T: Clone>(items: &[T], i: usize) -> T {
    items[i % items.len()].clone()
}

/// Adds `levels` on `id` to the permission set's `key` map.
fn grant(perms: &mut Value, key: &str, id: &str, levels: &[&str]) {
    let map = perms.as_object_mut().expect("object");
    let set = map.entry(key).or_insert_with(|| json!({}));
    let list = set
        .as_object_mut()
        .expect("object")
        .entry(id)
        .or_insert_with(|| json!([]));
    let list = list.as_array_mut().expect("array");
    for l in levels {
        if !list.iter().any(|x| x == l) {
            list.push(json!(l));
        }
    }
}

/// The server a shape describes, as a state document. Every READ comes with READ
/// on what lies above it (the groups of a connection, a sharing profile's
/// connection), as a sync with `parent_group_read` leaves a server.
#[allow(clippy::too_many_lines)] // one server, built top to bottom
fn state(s: &Shape) -> State {
    // Groups: each under ROOT or an earlier group; names unique per parent.
    let mut groups: Vec<(String, String, String)> = Vec::new(); // (id, name, parent)
    let mut group_json = Vec::new();
    for (i, (parent, name, balancing, limit)) in s.groups.iter().enumerate() {
        let parent = if i == 0 || parent % 3 == 0 {
            "ROOT".to_owned()
        } else {
            groups[parent % i].0.clone()
        };
        if groups.iter().any(|(_, n, p)| n == name && *p == parent) {
            continue;
        }
        let id = (i + 1).to_string();
        let mut g = json!({"identifier": id, "name": name, "parentIdentifier": parent,
                            "type": if *balancing { "BALANCING" } else { "ORGANIZATIONAL" }});
        if let Some(l) = limit {
            g["attributes"] =
                json!({"max-connections": l.to_string(), "enable-session-affinity": "true"});
        }
        group_json.push(g);
        groups.push((id, name.clone(), parent));
    }
    let parents: Vec<String> = std::iter::once("ROOT".to_owned())
        .chain(groups.iter().map(|g| g.0.clone()))
        .collect();
    let mut connections: Vec<(String, String)> = Vec::new(); // (id, parent)
    let mut connection_json = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, (g, name)) in s.connections.iter().enumerate() {
        let parent = pick(&parents, *g);
        if !seen.insert((parent.clone(), name.clone())) {
            continue;
        }
        let id = (100 + i).to_string();
        connection_json.push(
            json!({"identifier": id, "name": name, "parentIdentifier": parent,
            "protocol": "ssh", "parameters": {"hostname": format!("10.0.0.{i}"), "port": "22"}}),
        );
        connections.push((id, parent));
    }
    let mut profiles: Vec<(String, String)> = Vec::new(); // (id, connection id)
    let mut profile_json = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, (c, name, read_only)) in s.profiles.iter().enumerate() {
        let connection = pick(&connections, *c).0;
        if !seen.insert((connection.clone(), name.clone())) {
            continue;
        }
        let id = (200 + i).to_string();
        let mut p =
            json!({"identifier": id, "name": name, "primaryConnectionIdentifier": connection});
        if *read_only {
            p["parameters"] = json!({"read-only": "true"});
        }
        profile_json.push(p);
        profiles.push((id, connection));
    }
    let users: Vec<String> = s.users.iter().cloned().collect();
    let user_groups: Vec<String> = s.user_groups.iter().cloned().collect();
    let ancestors = |mut id: String| -> Vec<String> {
        let mut out = Vec::new();
        while id != "ROOT" {
            out.push(id.clone());
            id = groups
                .iter()
                .find(|g| g.0 == id)
                .map_or_else(|| "ROOT".to_owned(), |g| g.2.clone());
        }
        out
    };
    // principal index → permission set (users first, then user groups).
    let mut perms: Vec<Value> = (0..users.len() + user_groups.len())
        .map(|_| json!({}))
        .collect();
    for (p, kind, target, levels) in &s.grants {
        let p = p % perms.len();
        let reads = levels.contains(&"READ");
        match kind {
            0 => {
                let (id, parent) = pick(&connections, *target);
                grant(&mut perms[p], "connectionPermissions", &id, levels);
                if reads {
                    for g in ancestors(parent) {
                        grant(&mut perms[p], "connectionGroupPermissions", &g, &["READ"]);
                    }
                }
            }
            1 if !groups.is_empty() => {
                let id = pick(&groups, *target).0;
                grant(&mut perms[p], "connectionGroupPermissions", &id, levels);
                if reads {
                    for g in ancestors(id) {
                        grant(&mut perms[p], "connectionGroupPermissions", &g, &["READ"]);
                    }
                }
            }
            2 => {
                let (id, connection) = pick(&profiles, *target);
                grant(&mut perms[p], "sharingProfilePermissions", &id, levels);
                if reads {
                    let parent = connections
                        .iter()
                        .find(|c| c.0 == connection)
                        .map_or_else(|| "ROOT".to_owned(), |c| c.1.clone());
                    grant(
                        &mut perms[p],
                        "connectionPermissions",
                        &connection,
                        &["READ"],
                    );
                    for g in ancestors(parent) {
                        grant(&mut perms[p], "connectionGroupPermissions", &g, &["READ"]);
                    }
                }
            }
            3 => grant(
                &mut perms[p],
                "userPermissions",
                &pick(&users, *target),
                levels,
            ),
            _ => grant(
                &mut perms[p],
                "userGroupPermissions",
                &pick(&user_groups, *target),
                levels,
            ),
        }
    }
    for (p, permission) in &s.system {
        let p = p % perms.len();
        let list = perms[p]
            .as_object_mut()
            .expect("object")
            .entry("systemPermissions")
            .or_insert_with(|| json!([]));
        if !list
            .as_array()
            .expect("array")
            .iter()
            .any(|x| x == permission)
        {
            list.as_array_mut().expect("array").push(json!(permission));
        }
    }
    let mut member_users: Vec<BTreeSet<String>> = vec![BTreeSet::new(); user_groups.len()];
    let mut member_groups: Vec<BTreeSet<String>> = vec![BTreeSet::new(); user_groups.len()];
    for (g, m, is_group) in &s.members {
        let g = g % user_groups.len();
        if *is_group {
            member_groups[g].insert(pick(&user_groups, *m));
        } else {
            member_users[g].insert(pick(&users, *m));
        }
    }
    let user_json: Vec<Value> = users.iter().enumerate().map(|(i, u)| {
        let mut v = json!({"username": u, "password": format!("pw-{i}"), "disabled": s.flags[i % 8],
            "attributes": {"guac-full-name": format!("Full Name {i}: {u}"), "valid-until": "2027-06-30"},
            "permissions": perms[i]});
        if s.flags[(i + 3) % 8] {
            v["attributes"]["timezone"] = json!("Europe/Berlin");
        }
        v
    }).collect();
    let group_json_list: Vec<Value> = user_groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({
        "identifier": g, "disabled": s.flags[(i + 5) % 8],
        "memberUsers": member_users[i], "memberUserGroups": member_groups[i],
        "permissions": perms[users.len() + i]})
        })
        .collect();
    let mut state: State = serde_json::from_value(json!({
        "version": 1,
        "users": user_json,
        "userGroups": group_json_list,
        "connectionGroups": group_json,
        "connections": connection_json,
        "sharingProfiles": profile_json,
    }))
    .expect("a valid state");
    state.users.extend(State::default().users);
    state
}

/// One change per kind, each something an estate export makes exact.
const CHANGES: [&str; 8] = [
    "a user disabled or enabled",
    "a user attribute",
    "a connection group's type",
    "a connection group attribute",
    "a member added",
    "a system permission",
    "an object permission beyond READ",
    "a sharing profile parameter",
];

fn change(state: &mut State, which: usize) {
    use guacamole_testserver::state::{ObjectPermission, SystemPermission};
    let user = state
        .users
        .iter_mut()
        .find(|u| u.username != "guacadmin")
        .expect("a user");
    match which {
        0 => user.disabled = !user.disabled,
        1 => {
            user.attributes
                .insert("guac-full-name".into(), "Someone Else".into());
        }
        2 => {
            let g = &mut state.connection_groups[0];
            g.group_type = if g.group_type == "BALANCING" {
                "ORGANIZATIONAL"
            } else {
                "BALANCING"
            }
            .into();
        }
        3 => {
            // Attributes are exact per key (DESIGN §8): an attribute the export
            // declared is changed; a key it did not declare is left alone by
            // design, so a group without attributes changes its type instead.
            if let Some(g) = state
                .connection_groups
                .iter_mut()
                .find(|g| g.attributes.contains_key("max-connections"))
            {
                g.attributes.insert("max-connections".into(), "1000".into());
            } else {
                let g = &mut state.connection_groups[0];
                g.group_type = if g.group_type == "BALANCING" {
                    "ORGANIZATIONAL"
                } else {
                    "BALANCING"
                }
                .into();
            }
        }
        4 => {
            let name = user.username.clone();
            let g = &mut state.user_groups[0];
            if !g.member_users.remove(&name) {
                g.member_users.insert(name);
            }
        }
        5 => {
            if !user
                .permissions
                .system_permissions
                .remove(&SystemPermission::CreateConnectionGroup)
            {
                user.permissions
                    .system_permissions
                    .insert(SystemPermission::CreateConnectionGroup);
            }
        }
        6 => {
            let id = state.connections[0].identifier.clone();
            let held = user
                .permissions
                .connection_permissions
                .entry(id)
                .or_default();
            if !held.remove(&ObjectPermission::Delete) {
                held.insert(ObjectPermission::Delete);
            }
        }
        _ => {
            let p = &mut state.sharing_profiles[0];
            if p.parameters.remove("read-only").is_none() {
                p.parameters.insert("read-only".into(), "true".into());
            }
        }
    }
}

async fn run(shape: Shape) -> Result<(), TestCaseError> {
    let server = server_with(Config {
        state: state(&shape),
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    for args in [
        vec![
            "export",
            "--estate",
            "--secrets",
            "include",
            "--out",
            "estate-dir/",
        ],
        vec![
            "export",
            "--estate",
            "--secrets",
            "include",
            "--out",
            "one.yaml",
        ],
        vec![
            "export",
            "--estate",
            "--secrets",
            "include",
            "--out",
            "one.json",
        ],
    ] {
        let out = guacsync_in(&server, d, &args, &[]).await;
        prop_assert_eq!(out.status.code(), Some(0), "{:?}: {}", args, stderr(&out));
    }
    for path in ["estate-dir", "one.yaml", "one.json"] {
        let plan = guacsync_in(&server, d, &["plan", path, "--detailed-exitcode"], &[]).await;
        let (out, err) = (stdout(&plan), stderr(&plan));
        prop_assert!(
            !err.contains("not yet planned"),
            "{path}: every kind must be planned: {err}"
        );
        prop_assert_eq!(plan.status.code(), Some(0), "{}: {}{}", path, out, err);
        prop_assert!(out.contains("No changes."), "{path}: {out}");
    }
    let mut changed = server.state();
    change(&mut changed, shape.change);
    server.set_state(&changed).expect("state");
    let plan = guacsync_in(
        &server,
        d,
        &["plan", "estate-dir", "--detailed-exitcode"],
        &[],
    )
    .await;
    prop_assert_eq!(
        plan.status.code(),
        Some(2),
        "{} on the server must show in the plan: {}{}",
        CHANGES[shape.change],
        stdout(&plan),
        stderr(&plan)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn export_then_plan_is_empty_for_every_kind(shape in shape()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(shape))?;
    }
}
