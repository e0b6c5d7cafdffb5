//! `export --format state`: what the server holds as the test server's state
//! document (schemas/state.schema.json), read object by object, and what
//! `--secrets omit` leaves out of it.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

use super::check_scope;
use crate::export;
use crate::guacamole::Client;
use crate::guacamole::client::encode_segment;
use crate::model::GroupPath;
use crate::schema::Schema;
use guacamole_testserver::state::{
    ActiveConnectionState, ConnectionGroupState, ConnectionState, Permissions, SharingProfileState,
    UserGroupState, UserState,
};
use serde_json::Value;

/// The set (non-null, non-empty) string values of an attribute map.
fn set_attributes(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    v.as_str()
                        .filter(|v| !v.is_empty())
                        .map(|v| (k.clone(), v.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Groups and connections of a decoded tree, within `scope` (no recursion), and
/// every group path seen (to check the scope exists).
fn walk_tree(
    tree: &Value,
    scope: &[GroupPath],
) -> (
    Vec<ConnectionGroupState>,
    Vec<ConnectionState>,
    std::collections::BTreeSet<GroupPath>,
) {
    let mut groups = Vec::new();
    let mut connections = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![(GroupPath::root(), "ROOT".to_owned(), tree)];
    while let Some((path, id, node)) = stack.pop() {
        seen.insert(path.clone());
        if scope.is_empty() || scope.iter().any(|s| path.starts_with(s)) {
            for c in node["childConnections"].as_array().into_iter().flatten() {
                connections.push(ConnectionState {
                    identifier: text(&c["identifier"]),
                    name: text(&c["name"]),
                    parent_identifier: id.clone(),
                    protocol: text(&c["protocol"]),
                    parameters: BTreeMap::new(),
                    attributes: set_attributes(&c["attributes"]),
                });
            }
        }
        for g in node["childConnectionGroups"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let gid = text(&g["identifier"]);
            let name = text(&g["name"]);
            let group_type = g["type"].as_str().unwrap_or("ORGANIZATIONAL").to_owned();
            groups.push(ConnectionGroupState {
                identifier: gid.clone(),
                name: name.clone(),
                parent_identifier: id.clone(),
                group_type,
                attributes: set_attributes(&g["attributes"]),
            });
            stack.push((path.child(&name), gid, g));
        }
    }
    (groups, connections, seen)
}

/// Groups and connections (with parameters) of the tree, within `scope`.
async fn fetch_tree(
    client: &Client,
    concurrency: usize,
    scope: &[GroupPath],
) -> anyhow::Result<(Vec<ConnectionGroupState>, Vec<ConnectionState>)> {
    let tree_path = client.ds_path("connectionGroups/ROOT/tree");
    let body = client
        .request(reqwest::Method::GET, &tree_path, None)
        .await?;
    let wanted = scope.to_vec();
    // Walked where it was decoded: a deep tree needs that thread's stack.
    let (mut groups, mut connections, seen) =
        crate::guacamole::limits::decode_deep(body, &tree_path, move |tree: Value| {
            walk_tree(&tree, &wanted)
        })
        .await?;
    check_scope(scope, &|s| seen.contains(s), seen.iter())?;
    let params: Vec<(usize, BTreeMap<String, Option<String>>)> = futures::stream::iter(
        connections
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.identifier.clone())),
    )
    .map(|(i, id)| async move {
        client
            .get(&client.ds_path(&format!("connections/{}/parameters", encode_segment(&id))))
            .await
            .map(|p| (i, p))
    })
    .buffer_unordered(concurrency)
    .try_collect()
    .await?;
    for (i, p) in params {
        connections[i].parameters = p
            .into_iter()
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
            .collect();
    }
    groups.sort_by_key(|g| g.identifier.parse::<u64>().unwrap_or(u64::MAX));
    connections.sort_by_key(|c| c.identifier.parse::<u64>().unwrap_or(u64::MAX));
    Ok((groups, connections))
}

fn permissions(v: Value) -> Permissions {
    serde_json::from_value(v).unwrap_or_default()
}

/// Users (no passwords: the API never returns them) with their permissions.
async fn fetch_users(client: &Client) -> anyhow::Result<Vec<UserState>> {
    let users: BTreeMap<String, Value> = client.get(&client.ds_path("users")).await?;
    let mut out = Vec::with_capacity(users.len());
    for (name, u) in users {
        let p: Value = client
            .get(&client.ds_path(&format!("users/{}/permissions", encode_segment(&name))))
            .await?;
        out.push(UserState {
            username: name,
            password: None,
            disabled: u["disabled"].as_bool().unwrap_or(false),
            attributes: set_attributes(&u["attributes"]),
            permissions: permissions(p),
            last_active: u["lastActive"].as_i64(),
            totp_secret: None,
        });
    }
    Ok(out)
}

/// User groups with their members and permissions.
async fn fetch_user_groups(client: &Client) -> anyhow::Result<Vec<UserGroupState>> {
    let groups: BTreeMap<String, Value> = client.get(&client.ds_path("userGroups")).await?;
    let mut out = Vec::with_capacity(groups.len());
    for (name, g) in groups {
        let base = format!("userGroups/{}", encode_segment(&name));
        let p: Value = client
            .get(&client.ds_path(&format!("{base}/permissions")))
            .await?;
        let member_users: Vec<String> = client
            .get(&client.ds_path(&format!("{base}/memberUsers")))
            .await?;
        let member_groups: Vec<String> = client
            .get(&client.ds_path(&format!("{base}/memberUserGroups")))
            .await?;
        out.push(UserGroupState {
            identifier: name,
            disabled: g["disabled"].as_bool().unwrap_or(false),
            attributes: BTreeMap::new(),
            member_users: member_users.into_iter().collect(),
            member_user_groups: member_groups.into_iter().collect(),
            permissions: permissions(p),
        });
    }
    Ok(out)
}

/// Sharing profiles with their parameters, and open sessions.
async fn fetch_sharing_and_sessions(
    client: &Client,
) -> anyhow::Result<(Vec<SharingProfileState>, Vec<ActiveConnectionState>)> {
    let profiles: BTreeMap<String, Value> = client.get(&client.ds_path("sharingProfiles")).await?;
    let mut sharing = Vec::with_capacity(profiles.len());
    for (id, sp) in profiles {
        let parameters: BTreeMap<String, String> = client
            .get(&client.ds_path(&format!(
                "sharingProfiles/{}/parameters",
                encode_segment(&id)
            )))
            .await?;
        sharing.push(SharingProfileState {
            identifier: id,
            name: text(&sp["name"]),
            primary_connection_identifier: text(&sp["primaryConnectionIdentifier"]),
            parameters,
        });
    }
    let active: BTreeMap<String, Value> = client.get(&client.ds_path("activeConnections")).await?;
    let sessions = active
        .into_values()
        .filter_map(|a| {
            Some(ActiveConnectionState {
                identifier: a["identifier"].as_str()?.to_owned(),
                connection_identifier: a["connectionIdentifier"].as_str()?.to_owned(),
                sharing_profile_identifier: a["sharingProfileIdentifier"]
                    .as_str()
                    .map(str::to_owned),
                start_date: a["startDate"].as_i64().unwrap_or(0),
                remote_host: a["remoteHost"].as_str().map(str::to_owned),
                username: text(&a["username"]),
            })
        })
        .collect();
    Ok((sharing, sessions))
}

/// Reads a whole server into a state document: users, user groups and memberships,
/// groups, connections with parameters, every permission, sharing profiles and open
/// sessions. History is not copied.
pub(super) async fn fetch_state(
    client: &Client,
    concurrency: usize,
    scope: &[GroupPath],
) -> anyhow::Result<guacamole_testserver::State> {
    let (connection_groups, connections) = fetch_tree(client, concurrency, scope).await?;
    let users = fetch_users(client).await?;
    let user_groups = fetch_user_groups(client).await?;
    let (sharing_profiles, active_connections) = fetch_sharing_and_sessions(client).await?;
    Ok(guacamole_testserver::State {
        version: 1,
        users,
        user_groups,
        connection_groups,
        connections,
        sharing_profiles,
        active_connections,
        history: Vec::new(),
        next_ids: None,
    })
}

/// A state export with `--secrets omit`: every value that may be a secret is
/// left out (sensitive connection parameters that are not only `${GUAC_*}`
/// tokens, passwords, TOTP keys and sensitive user attributes, and sharing
/// profile parameters that are sensitive or that the protocol does not name).
pub(super) fn omit_secrets(state: &mut guacamole_testserver::State) {
    let schema = Schema::builtin();
    for c in &mut state.connections {
        let protocol = c.protocol.clone();
        c.parameters.retain(|k, v| {
            !schema.is_sensitive_parameter(&protocol, k) || crate::secret::is_token_only(v)
        });
    }
    // A sharing-profile parameter the protocol's sharing forms do not
    // name is shown nowhere (most likely a misspelt secret): left out too.
    let protocols: BTreeMap<&str, String> = state
        .connections
        .iter()
        .map(|c| (c.identifier.as_str(), c.protocol.clone()))
        .collect();
    for p in &mut state.sharing_profiles {
        let fields = protocols
            .get(p.primary_connection_identifier.as_str())
            .and_then(|protocol| schema.sharing_profile_parameters(protocol));
        p.parameters
            .retain(|k, _| fields.is_some_and(|f| f.iter().any(|f| f.name == *k)));
    }
    for u in &mut state.users {
        u.password = None;
        u.totp_secret = None;
        u.attributes
            .retain(|k, _| !crate::estate::schema::SENSITIVE_USER_ATTRIBUTES.contains(&k.as_str()));
    }
    for p in &mut state.sharing_profiles {
        p.parameters
            .retain(|k, v| !export::is_sensitive_sharing_parameter(k, v));
    }
}
