//! Observing the server: the group tree in one request, then the parameters and
//! permissions that matter to this plan, fetched concurrently under one bound
//! (`--concurrency`) over the client's keep-alive pool. Requests that do not need
//! the tree (users, user groups, sessions, the server's schemas, and permissions of
//! principals named in manifests) run alongside it.
//!
//! Before any of that, [`visibility`] reads the account's own effective
//! permissions: Guacamole hides from an account everything it cannot read, so a
//! plan made without system ADMINISTER would take hidden objects for absent ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeSeed as _;
use tokio::sync::Semaphore;

use super::client::{Client, ClientError, encode_segment};
use super::wire::{
    ActiveConnection, ApiPrincipal, PermissionSet, ProtocolInfo, SetValues, TreeConnection,
};
use crate::estate::SharingProfileKey;
use crate::model::{ConnKey, GroupPath, Principal};
use crate::observed::{
    ActiveSession, Observed, ObservedGrants, ObservedMembers, ObservedPrincipal,
};
use crate::schema::{Form, Schema};

mod announce;
mod decode;
mod fetch;
pub use decode::{Flat, flatten_tree};
use decode::{grants_of, principal_of};
use fetch::{Progress, fetch, fill};

/// What the account guacsync logs in as may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visibility {
    pub username: String,
    /// Holds system ADMINISTER (directly or through a user group): sees everything.
    pub admin: bool,
}

/// Reads the account's effective permissions (`GET .../self/effectivePermissions`:
/// its own plus those inherited from its user groups, which is what JDBC's
/// `isPrivileged` checks).
pub async fn visibility(client: &Client) -> Result<Visibility, ClientError> {
    let set: PermissionSet = client
        .get(&client.ds_path("self/effectivePermissions"))
        .await?;
    Ok(Visibility {
        username: client.username().to_owned(),
        admin: set.system_permissions.iter().any(|p| p == "ADMINISTER"),
    })
}

/// What a plan needs from the server.
#[derive(Clone, Debug, Default)]
pub struct ObserveRequest {
    /// Connections whose parameters are needed (the ones that exist are fetched).
    pub connections: BTreeSet<ConnKey>,
    /// Also fetch parameters of every connection under these groups (for pruning).
    pub scope_parameters: Vec<GroupPath>,
    /// Principals whose permissions matter.
    pub principals: BTreeSet<Principal>,
    /// Fetch the permissions of every user and user group (`exact` permission
    /// mode, exports).
    pub all_principals: bool,
    /// Sharing profiles whose parameters are needed (the ones that exist).
    pub sharing_profiles: BTreeSet<SharingProfileKey>,
    /// Also fetch the parameters of every sharing profile of a connection under
    /// these groups (for pruning and exports).
    pub sharing_profile_scope: Vec<GroupPath>,
    /// User groups whose members are needed (the ones that exist), and which
    /// of their two lists: a list not asked for is not read and stays empty.
    pub memberships: BTreeMap<String, MemberLists>,
    /// Fetch the members of every user group (exports).
    pub all_memberships: bool,
}

/// Which member lists of a user group a plan needs: an estate document that
/// writes only `members.users` makes only that list exact, and 450 teams would
/// otherwise cost 450 requests for lists nothing reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberLists {
    /// `memberUsers`.
    pub users: bool,
    /// `memberUserGroups`.
    pub groups: bool,
}

impl MemberLists {
    /// Both lists (`all_memberships`: exports).
    pub const BOTH: Self = Self {
        users: true,
        groups: true,
    };
}

/// Shared by the concurrent parts of one observation.
struct Ctx<'a> {
    client: &'a Client,
    request: &'a ObserveRequest,
    permits: Semaphore,
    bar: Progress,
    concurrency: usize,
}

/// What the principals part reads: users, user groups, permissions, members,
/// and the principals whose names the web container refuses in a path.
struct Principals {
    users: BTreeMap<String, ObservedPrincipal>,
    user_groups: BTreeMap<String, ObservedPrincipal>,
    grants: BTreeMap<Principal, ObservedGrants>,
    memberships: BTreeMap<String, ObservedMembers>,
    unaddressable: BTreeSet<Principal>,
}

/// Whether a name needs `%2F` or `%5C` in a request path (a `/` or `\` in it).
pub fn needs_encoded_separator(name: &str) -> bool {
    name.contains(['/', '\\'])
}

/// The answer of a web container that refused the path itself: a 400 that is not
/// Guacamole's JSON error (Tomcat's HTML page).
fn refused_path(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Api {
            status: 400,
            kind: None,
            patches: None,
            ..
        }
    )
}
type Sessions = (Vec<ActiveSession>, Schema);

/// One group's connections, as the tree decoder announces them: the group's
/// path, and each connection's name and identifier.
type Announced = (GroupPath, Vec<(String, String)>);

impl Ctx<'_> {
    /// The tree, and the parameters of the connections that matter: the tree is
    /// decoded on its own thread ([`announce`]), which hands over each group's
    /// connections as soon as they are read, so their parameters are fetched
    /// while the rest of the tree is still being decoded.
    async fn tree_and_parameters(&self) -> Result<Flat, ClientError> {
        let client = self.client;
        let tree_path = client.ds_path("connectionGroups/ROOT/tree");
        let body = {
            let _permit = self.permits.acquire().await.ok();
            let body = client.request(reqwest::Method::GET, &tree_path, None).await;
            self.bar.tick();
            body?
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Announced>();
        let decode = super::limits::decode_deep_with(
            body,
            &tree_path,
            move |de| {
                let mut send = |path: &GroupPath, list: &[TreeConnection]| {
                    if list.is_empty() {
                        return;
                    }
                    let names = list
                        .iter()
                        .map(|c| (c.name.clone(), c.identifier.clone()))
                        .collect();
                    // The receiver is gone only when observing already failed.
                    let _ = tx.send((path.clone(), names));
                };
                announce::TreeSeed {
                    announce: &mut send,
                }
                .deserialize(de)
            },
            flatten_tree,
        );
        let announced = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        })
        .flat_map(|(group, list)| {
            let scoped = self.in_parameter_scope(&group);
            let mut key = ConnKey {
                group,
                name: String::new(),
            };
            let wanted: Vec<String> = list
                .into_iter()
                .filter_map(|(name, id)| {
                    key.name = name;
                    (scoped || self.request.connections.contains(&key)).then_some(id)
                })
                .collect();
            self.bar.add(wanted.len());
            futures::stream::iter(wanted)
        })
        .map(|id| self.connection_parameters(id))
        .buffer_unordered(self.concurrency)
        .try_collect::<HashMap<String, SetValues>>();
        let (mut flat, mut fetched) = futures::try_join!(decode, announced)?;
        // What was not announced (a group's children listed before its name), by
        // position in the (sorted) map so no key is copied.
        let late: Vec<(usize, String)> = flat
            .connections
            .iter()
            .enumerate()
            .filter(|(_, (k, c))| {
                !fetched.contains_key(&c.identifier)
                    && (self.request.connections.contains(*k) || self.in_parameter_scope(&k.group))
            })
            .map(|(i, (_, c))| (i, c.identifier.clone()))
            .collect();
        self.bar.add(late.len());
        let late: Vec<(usize, SetValues)> = futures::stream::iter(late)
            .map(|(i, id)| async move { self.connection_parameters(id).await.map(|(_, p)| (i, p)) })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        for c in flat.connections.values_mut() {
            if let Some(p) = fetched.remove(&c.identifier) {
                c.parameters = Some(p.0);
            }
        }
        fill(flat.connections.values_mut(), late, |c, p| {
            c.parameters = Some(p.0);
        });
        self.sharing_profile_parameters(&mut flat).await?;
        Ok(flat)
    }

    /// Whether the plan reads the parameters of every connection in `group`
    /// (it lies under a scope that prunes).
    fn in_parameter_scope(&self, group: &GroupPath) -> bool {
        self.request
            .scope_parameters
            .iter()
            .any(|s| group.starts_with(s))
    }

    /// `GET connections/{id}/parameters`, the set values only.
    async fn connection_parameters(&self, id: String) -> Result<(String, SetValues), ClientError> {
        let path = self
            .client
            .ds_path(&format!("connections/{}/parameters", encode_segment(&id)));
        fetch(self.client, &self.permits, &self.bar, path)
            .await
            .map(|p| (id, p))
    }

    /// The parameters of the sharing profiles that matter
    /// (`sharingProfiles/{id}/parameters`, rest-api.md §8).
    async fn sharing_profile_parameters(&self, flat: &mut Flat) -> Result<(), ClientError> {
        let client = self.client;
        let request = self.request;
        let wanted: Vec<(usize, String)> = flat
            .sharing_profiles
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| {
                request.sharing_profiles.contains(*k)
                    || request
                        .sharing_profile_scope
                        .iter()
                        .any(|s| k.connection.group.starts_with(s))
            })
            .map(|(i, (_, s))| (i, s.identifier.clone()))
            .collect();
        self.bar.add(wanted.len());
        let fetched: Vec<(usize, SetValues)> = futures::stream::iter(wanted)
            .map(|(i, id)| async move {
                let path = client.ds_path(&format!(
                    "sharingProfiles/{}/parameters",
                    encode_segment(&id)
                ));
                fetch(client, &self.permits, &self.bar, path)
                    .await
                    .map(|p| (i, p))
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        fill(flat.sharing_profiles.values_mut(), fetched, |s, p| {
            s.parameters = Some(p.0);
        });
        Ok(())
    }

    /// The members of the user groups that matter.
    async fn members(
        &self,
        user_groups: &BTreeMap<String, ObservedPrincipal>,
    ) -> Result<BTreeMap<String, ObservedMembers>, ClientError> {
        let client = self.client;
        let request = self.request;
        let wanted: Vec<(&String, MemberLists)> = user_groups
            .keys()
            .filter_map(|g| {
                let lists = if request.all_memberships {
                    MemberLists::BOTH
                } else {
                    *request.memberships.get(g)?
                };
                (!needs_encoded_separator(g)).then_some((g, lists))
            })
            .collect();
        self.bar.add(
            wanted
                .iter()
                .map(|(_, l)| usize::from(l.users) + usize::from(l.groups))
                .sum(),
        );
        // One list, when asked for, under the concurrency bound; empty otherwise.
        let list = |needed: bool, path: String| async move {
            if needed {
                fetch::<BTreeSet<String>>(client, &self.permits, &self.bar, path).await
            } else {
                Ok(BTreeSet::new())
            }
        };
        futures::stream::iter(wanted)
            .map(|(g, lists)| async move {
                let base = format!("userGroups/{}", encode_segment(g));
                let (users, groups) = futures::try_join!(
                    list(lists.users, client.ds_path(&format!("{base}/memberUsers"))),
                    list(
                        lists.groups,
                        client.ds_path(&format!("{base}/memberUserGroups"))
                    ),
                )?;
                Ok::<_, ClientError>((g.clone(), ObservedMembers { users, groups }))
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await
    }

    /// Users and user groups, then the permissions and members of the principals
    /// that matter.
    async fn principals_and_grants(&self) -> Result<Principals, ClientError> {
        let client = self.client;
        let (users, user_groups) = futures::try_join!(
            fetch::<BTreeMap<String, ApiPrincipal>>(
                client,
                &self.permits,
                &self.bar,
                client.ds_path("users")
            ),
            fetch::<BTreeMap<String, ApiPrincipal>>(
                client,
                &self.permits,
                &self.bar,
                client.ds_path("userGroups")
            ),
        )?;
        let users: BTreeMap<String, ObservedPrincipal> = users
            .iter()
            .map(|(k, p)| (k.clone(), principal_of(p)))
            .collect();
        let user_groups: BTreeMap<String, ObservedPrincipal> = user_groups
            .iter()
            .map(|(k, p)| (k.clone(), principal_of(p)))
            .collect();
        let targets: Vec<Principal> = if self.request.all_principals {
            users
                .keys()
                .map(|u| Principal::User(u.clone()))
                .chain(user_groups.keys().map(|g| Principal::UserGroup(g.clone())))
                .collect()
        } else {
            self.request
                .principals
                .iter()
                .filter(|p| match p {
                    Principal::User(u) => users.contains_key(u),
                    Principal::UserGroup(g) => user_groups.contains_key(g),
                })
                .cloned()
                .collect()
        };
        // A name holding `/` or `\` is sent as `%2F` / `%5C`, which a stock Tomcat
        // refuses (see `crate::guacamole::client::needs_encoded_separator`). Such
        // manifest principals that do not exist yet are probed too, so a plan that
        // would fail mid-apply fails before the first write instead.
        let probes: Vec<Principal> = self
            .request
            .principals
            .iter()
            .filter(|p| needs_encoded_separator(p.name()) && !targets.contains(p))
            .cloned()
            .collect();
        self.bar.add(targets.len() + probes.len());
        let fetched: Vec<(Principal, Option<ObservedGrants>, bool)> = futures::stream::iter(
            targets
                .into_iter()
                .map(|p| (p, false))
                .chain(probes.into_iter().map(|p| (p, true))),
        )
        .map(|(p, probe)| async move {
            let path = match &p {
                Principal::User(u) => {
                    client.ds_path(&format!("users/{}/permissions", encode_segment(u)))
                }
                Principal::UserGroup(g) => {
                    client.ds_path(&format!("userGroups/{}/permissions", encode_segment(g)))
                }
            };
            match fetch::<PermissionSet>(client, &self.permits, &self.bar, path).await {
                Ok(set) => Ok((p, (!probe).then(|| grants_of(set)), false)),
                Err(e) if needs_encoded_separator(p.name()) && refused_path(&e) => {
                    Ok((p, None, true))
                }
                // A probe of a principal that does not exist reached Guacamole.
                Err(ClientError::Api { status: 404, .. }) if probe => Ok((p, None, false)),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(self.concurrency)
        .try_collect()
        .await?;
        let mut grants = BTreeMap::new();
        let mut unaddressable = BTreeSet::new();
        for (p, g, refused) in fetched {
            if refused {
                unaddressable.insert(p);
            } else if let Some(g) = g {
                grants.insert(p, g);
            }
        }
        let memberships = self.members(&user_groups).await?;
        Ok(Principals {
            users,
            user_groups,
            grants,
            memberships,
            unaddressable,
        })
    }

    /// Open sessions, and the server's schemas: its protocols with their
    /// parameters (extensions may add both) and its attribute forms.
    async fn sessions_and_schema(&self) -> Result<Sessions, ClientError> {
        let client = self.client;
        let get_forms = |which: &str| {
            fetch::<Vec<Form>>(
                client,
                &self.permits,
                &self.bar,
                client.ds_path(&format!("schema/{which}")),
            )
        };
        let (active, protocols, connection_attributes, group_attributes) = futures::try_join!(
            fetch::<BTreeMap<String, ActiveConnection>>(
                client,
                &self.permits,
                &self.bar,
                client.ds_path("activeConnections")
            ),
            fetch::<BTreeMap<String, ProtocolInfo>>(
                client,
                &self.permits,
                &self.bar,
                client.ds_path("schema/protocols")
            ),
            get_forms("connectionAttributes"),
            get_forms("connectionGroupAttributes"),
        )?;
        let sessions = active
            .into_values()
            .filter_map(|a| {
                a.connection_identifier.map(|c| ActiveSession {
                    identifier: a.identifier,
                    connection_identifier: c,
                    username: a.username,
                })
            })
            .collect();
        let sharing: BTreeMap<String, Vec<crate::schema::Field>> = protocols
            .iter()
            .map(|(name, info)| {
                let fields = info
                    .sharing_profile_forms
                    .iter()
                    .flat_map(|f| f.fields.iter().cloned())
                    .collect();
                (name.clone(), fields)
            })
            .collect();
        let schema = Schema::from_server(
            protocols
                .into_iter()
                .map(|(name, info)| (name, info.connection_forms))
                .collect(),
            connection_attributes,
            group_attributes,
        )
        .with_sharing_profile_parameters(sharing);
        Ok((sessions, schema))
    }
}

/// Reads what `request` asks for.
pub async fn observe(
    client: &Client,
    request: &ObserveRequest,
    concurrency: usize,
    progress: bool,
) -> Result<Observed, ClientError> {
    let ctx = Ctx {
        client,
        request,
        permits: Semaphore::new(concurrency.max(1)),
        bar: Progress::new(progress),
        concurrency: concurrency.max(1),
    };
    ctx.bar.add(7);
    let result = futures::try_join!(
        ctx.tree_and_parameters(),
        ctx.principals_and_grants(),
        ctx.sessions_and_schema()
    );
    ctx.bar.finish();
    let (flat, principals, (active_sessions, schema)) = result?;
    Ok(Observed {
        data_source: client.data_source().to_owned(),
        session_user: client.username().to_owned(),
        groups: flat.groups,
        connections: flat.connections,
        users: principals.users,
        user_groups: principals.user_groups,
        sharing_profiles: flat.sharing_profiles,
        memberships: principals.memberships,
        grants: principals.grants,
        active_sessions,
        schema: Some(schema),
        group_attributes: flat.group_attributes,
        limited_view: false,
        object_by_object: false,
        unaddressable: principals.unaddressable,
    })
}

#[cfg(test)]
mod tests;
