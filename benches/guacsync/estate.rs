//! Issue 15 target 4: an estate with many users. 10,000 connections, 5,000
//! users and 500 user groups (50 departments holding 450 teams) with their
//! memberships, READ mostly through user groups, a few grants beyond READ and a
//! few system permissions, declared in generated files that the real readers
//! parse, as `guacsync plan` reads them; the plan (observe, checks, diff) is timed
//! against a test server already holding exactly that, and again after a small
//! change on the server.

#[allow(clippy::wildcard_imports)]
use super::*;

use guacamole_testserver::state::{Permissions, SystemPermission};
use guacsync::cli::common::{Inputs, Target, make_plan, read_manifests};
use guacsync::config::{Overrides, Settings};

const USERS: usize = 5_000;
const DEPARTMENTS: usize = 50;
const TEAMS: usize = 450;

fn user(n: usize) -> String {
    format!("user-{n:04}")
}

/// User groups `ug-000`..`ug-049` are departments, `ug-050`..`ug-499` teams.
fn group(n: usize) -> String {
    format!("ug-{n:03}")
}

fn team(t: usize) -> String {
    group(DEPARTMENTS + t)
}

/// The teams user `u` is in: two, and a third for every fifth user.
fn teams_of(u: usize) -> BTreeSet<usize> {
    let mut t: BTreeSet<usize> = [u % TEAMS, (u * 7 + 3) % TEAMS].into();
    if u.is_multiple_of(5) {
        t.insert((u * 13 + 7) % TEAMS);
    }
    t
}

/// The connections: `inventory`, each readable by one team and every tenth by one
/// user too (secret references dropped: the bench sets no environment).
fn connections(count: usize) -> Vec<Entry> {
    let mut entries = inventory(count);
    for (i, e) in entries.iter_mut().enumerate() {
        e.parameters.retain(|_, v| !v.contains("${env:"));
        e.groups = vec![team(i % TEAMS)];
        e.users = if i.is_multiple_of(10) {
            vec![user(i % USERS)]
        } else {
            Vec::new()
        };
    }
    entries
}

fn path_of(e: &Entry) -> String {
    match &e.parent {
        Parent::Group(g) => format!("{g}/{}", e.name),
        Parent::Identifier(_) => unreachable!("inventory entries are in groups"),
    }
}

fn region(d: usize) -> String {
    format!("ROOT/Region-{}", d % 7)
}

/// The estate document declaring every user and user group.
fn estate_yaml(entries: &[Entry]) -> String {
    use std::fmt::Write as _;
    let mut y = String::from("userGroups:\n");
    for d in 0..DEPARTMENTS {
        let teams: Vec<String> = (0..TEAMS)
            .filter(|t| t % DEPARTMENTS == d)
            .map(team)
            .collect();
        let managers: Vec<String> = (0..100)
            .filter(|u| u % DEPARTMENTS == d)
            .map(user)
            .collect();
        let _ = writeln!(
            y,
            "  - name: {}\n    members: {{users: [{}], groups: [{}]}}\n    permissions:\n      connectionGroups: {{\"{}\": [READ, UPDATE]}}",
            group(d),
            managers.join(", "),
            teams.join(", "),
            region(d)
        );
        match d {
            0 => y.push_str("    system: [CREATE_CONNECTION, CREATE_CONNECTION_GROUP]\n"),
            1 => y.push_str("    system: [CREATE_SHARING_PROFILE]\n"),
            _ => {}
        }
    }
    let mut members: Vec<Vec<String>> = vec![Vec::new(); TEAMS];
    for u in 0..USERS {
        for t in teams_of(u) {
            members[t].push(user(u));
        }
    }
    for (t, m) in members.iter().enumerate() {
        let _ = writeln!(
            y,
            "  - name: {}\n    members: {{users: [{}]}}",
            team(t),
            m.join(", ")
        );
    }
    y.push_str("users:\n");
    for u in 0..USERS {
        let _ = writeln!(
            y,
            "  - username: {}\n    attributes: {{guac-full-name: User {u}, guac-email-address: {}@example.com}}",
            user(u),
            user(u)
        );
        if u < 5 {
            y.push_str("    system: [CREATE_USER, CREATE_USER_GROUP]\n");
        } else if u < 10 {
            y.push_str("    system: []\n");
        }
        // Every hundredth user may also change the connection it is listed on.
        if let Some(e) = entries.get(u).filter(|_| u.is_multiple_of(100)) {
            let _ = writeln!(
                y,
                "    permissions:\n      connections: {{\"{}\": [READ, UPDATE]}}",
                path_of(e)
            );
        }
    }
    y
}

/// The server holding exactly what the files declare (as a sync would leave it).
fn estate_state(entries: &[Entry]) -> guacamole_testserver::State {
    let mut state = state_for(entries);
    let mut users: BTreeMap<String, UserState> = state
        .users
        .drain(..)
        .map(|u| (u.username.clone(), u))
        .collect();
    let mut groups: BTreeMap<String, UserGroupState> = state
        .user_groups
        .drain(..)
        .map(|g| (g.identifier.clone(), g))
        .collect();
    for u in 0..USERS {
        let name = user(u);
        let s = users.entry(name.clone()).or_insert_with(|| UserState {
            username: name.clone(),
            password: None,
            disabled: false,
            attributes: BTreeMap::new(),
            permissions: Permissions::default(),
            last_active: None,
            totp_secret: None,
        });
        s.attributes = [
            ("guac-full-name".to_owned(), format!("User {u}")),
            (
                "guac-email-address".to_owned(),
                format!("{name}@example.com"),
            ),
        ]
        .into();
        // Guacamole gives a user READ on itself when it is created.
        s.permissions
            .user_permissions
            .insert(name.clone(), [ObjectPermission::Read].into());
        if u < 5 {
            s.permissions.system_permissions = [
                SystemPermission::CreateUser,
                SystemPermission::CreateUserGroup,
            ]
            .into();
        }
        if u.is_multiple_of(100) && u < entries.len() {
            s.permissions
                .connection_permissions
                .entry((u + 1).to_string())
                .or_default()
                .insert(ObjectPermission::Update);
        }
        for t in teams_of(u) {
            groups
                .entry(team(t))
                .or_insert_with(|| empty_group(team(t)))
                .member_users
                .insert(name.clone());
        }
    }
    let region_id = |d: usize| -> String {
        let name = region(d).trim_start_matches("ROOT/").to_owned();
        state
            .connection_groups
            .iter()
            .find(|g| g.parent_identifier == "ROOT" && g.name == name)
            .map(|g| g.identifier.clone())
            .expect("the inventory has seven regions")
    };
    for d in 0..DEPARTMENTS {
        let g = groups
            .entry(group(d))
            .or_insert_with(|| empty_group(group(d)));
        g.member_users
            .extend((0..100).filter(|u| u % DEPARTMENTS == d).map(user));
        g.member_user_groups
            .extend((0..TEAMS).filter(|t| t % DEPARTMENTS == d).map(team));
        g.permissions.connection_group_permissions.insert(
            region_id(d),
            [ObjectPermission::Read, ObjectPermission::Update].into(),
        );
        g.permissions.system_permissions = match d {
            0 => [
                SystemPermission::CreateConnection,
                SystemPermission::CreateConnectionGroup,
            ]
            .into(),
            1 => [SystemPermission::CreateSharingProfile].into(),
            _ => BTreeSet::new(),
        };
    }
    // Beside the login account (from `State::default()`) and the users and
    // teams the connections list (from `state_for`).
    state.users = users.into_values().collect();
    state.user_groups = groups.into_values().collect();
    state
}

fn empty_group(identifier: String) -> UserGroupState {
    UserGroupState {
        identifier,
        disabled: false,
        attributes: BTreeMap::new(),
        member_users: BTreeSet::new(),
        member_user_groups: BTreeSet::new(),
        permissions: Permissions::default(),
    }
}

/// The small change: 50 users left five teams each, and ten teams lost READ on
/// ten connections each (100 grants), so the plan adds both back.
fn drift(state: &mut guacamole_testserver::State) -> usize {
    let mut changed = 0;
    for g in state.user_groups.iter_mut().skip(DEPARTMENTS).take(10) {
        let gone: Vec<String> = g.member_users.iter().take(5).cloned().collect();
        for u in gone {
            g.member_users.remove(&u);
            changed += 1;
        }
    }
    let mut revoked = 0;
    for g in state
        .user_groups
        .iter_mut()
        .skip(DEPARTMENTS + 100)
        .take(10)
    {
        let ids: Vec<String> = g
            .permissions
            .connection_permissions
            .keys()
            .take(10)
            .cloned()
            .collect();
        for id in ids {
            g.permissions.connection_permissions.remove(&id);
            revoked += 1;
        }
    }
    assert_eq!((changed, revoked), (50, 100), "the drift is 50 + 100");
    changed + revoked
}

/// One plan as `guacsync plan` makes it after reading the files.
struct Run {
    memberships: usize,
    grants: usize,
    other: usize,
    requests: u64,
    secs: f64,
    client_cpu: f64,
    server_cpu: f64,
}

async fn plan_once(
    server: &guacamole_testserver::RunningServer,
    inputs: &Inputs,
    settings: &Settings,
    concurrency: usize,
) -> Run {
    let target = Target {
        client: client(server.base_url(), concurrency).await,
        state_server: None,
        state_path: None,
        session: None,
    };
    let settings = Settings {
        concurrency,
        ..settings.clone()
    };
    let before = server.request_count();
    let cpu_before = cpu_split_ns();
    let start = Instant::now();
    let (plan, _) = make_plan(&target, inputs, &settings, false)
        .await
        .expect("plan")
        .expect("the plan has no errors");
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = cpu_split_ns();
    let requests = server.request_count() - before;
    target.client.logout().await;
    let s = plan.summary;
    Run {
        memberships: s.memberships,
        grants: s.grants + s.revokes,
        other: s.add + s.change + s.remove + s.groups,
        requests,
        secs,
        client_cpu: (cpu_after.0 - cpu_before.0) as f64 / 1e9,
        server_cpu: (cpu_after.1 - cpu_before.1) as f64 / 1e9,
    }
}

/// Target 4: observe and plan of the estate at concurrency 8 (and the default),
/// no change and a small change, against the latency bound.
pub(super) fn estate_scenario(count: usize) {
    let entries = connections(count);
    let dir = tempfile::tempdir().expect("temp dir");
    let estate_path = dir.path().join("estate.yaml");
    let csv_path = dir.path().join("connections.csv");
    let config_path = dir.path().join("guacsync.toml");
    std::fs::write(&estate_path, estate_yaml(&entries)).expect("write the estate");
    std::fs::write(&csv_path, write::to_csv(&entries, Schema::builtin()))
        .expect("write the connections");
    std::fs::write(&config_path, "").expect("write the configuration");
    let settings = guacsync::config::load(
        &Overrides {
            config: Some(config_path),
            ..Overrides::default()
        },
        &|_| None,
    )
    .expect("the configuration");
    let start = Instant::now();
    let inputs = read_manifests(&[estate_path.clone(), csv_path], &settings, true, false)
        .expect("the generated files have no errors");
    let parse = start.elapsed().as_secs_f64();
    let estate_bytes = std::fs::metadata(&estate_path).map_or(0, |m| m.len());
    let state = estate_state(&entries);
    let rt = runtime();
    rt.block_on(async {
        let server = start_server(state.clone(), Duration::from_millis(2), 2 * 1024 * 1024).await;
        let memberships: usize = state
            .user_groups
            .iter()
            .map(|g| g.member_users.len() + g.member_user_groups.len())
            .sum();
        println!(
            "estate: {count} connections, {USERS} users, {} user groups, {memberships} memberships; 2 ms latency per request; reading and checking the files ({:.1} MB estate document + CSV): {parse:.2} s",
            state.user_groups.len(),
            estate_bytes as f64 / 1e6,
        );
        println!(
            "| case | concurrency | requests | time | bound | time / bound | bare HTTP loop / bound | changes (members, grants, other) | client CPU | server CPU |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let only: Option<usize> = std::env::var("BENCH_CONCURRENCY")
            .ok()
            .and_then(|v| v.parse().ok());
        let mut drifted = state.clone();
        let expected = drift(&mut drifted);
        for (case, seeded, changed) in [
            ("no change", &state, false),
            ("50 members + 100 grants", &drifted, true),
        ] {
            server.set_state(seeded).expect("state");
            for conc in [8, guacsync::config::DEFAULT_CONCURRENCY] {
                if only.is_some_and(|o| o != conc) {
                    continue;
                }
                let run = plan_once(&server, &inputs, &settings, conc).await;
                let changes = run.memberships + run.grants + run.other;
                if changed {
                    assert_eq!(
                        (run.memberships, run.grants, run.other),
                        (50, 100, 0),
                        "the plan puts back exactly the drift ({expected})"
                    );
                } else {
                    assert_eq!(changes, 0, "the server holds what the files declare");
                }
                let bound = run.requests as f64 / conc as f64 * 0.002;
                // The machine's floor in this run: as many GETs from a bare loop.
                let (floor, _, _) = super::plan::bare_loop(&server, run.requests, conc).await;
                println!(
                    "| {case} | {conc} | {} | {:.2} s | {bound:.2} s | {:.2}x | {:.2}x | {changes} ({}, {}, {}) | {:.2} s | {:.2} s |",
                    run.requests,
                    run.secs,
                    run.secs / bound,
                    floor / bound,
                    run.memberships,
                    run.grants,
                    run.other,
                    run.client_cpu,
                    run.server_cpu,
                );
            }
        }
    });
    println!(
        "peak RSS of the process (files, client and test server): {:.0} MB",
        peak_rss_kib() as f64 / 1024.0
    );
}
