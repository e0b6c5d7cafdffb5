//! Active connections (rest-api.md §9): records of open sessions, keyed by UUID.
//! They can be read and closed, never created or changed, so they are a permission
//! [`Target`] and a PATCH directory but not a [`super::Kind`].

use std::collections::BTreeMap;

use super::Target;
use crate::error::Result;
use crate::state::{ObjectPermission, Permissions};
use crate::store::{Actor, PermSet, Perms, Store, denied};

/// The active connections directory.
pub struct ActiveConnections;

impl Target for ActiveConnections {
    type Id = String;
    const NOUN: &'static str = "active connection";
    const PERMISSIONS: &'static str = "activeConnectionPermissions";

    target_in!(active, active_connection, active_connection_permissions);

    /// JDBC lets only administrators change who may see a session.
    fn may_grant(actor: &Actor, _id: &String) -> bool {
        actor.admin
    }
}

impl Store {
    /// Closes a session: an administrator, its owner, or DELETE on it may; an
    /// unknown UUID is a silent success. Its history record ends now.
    pub fn kill_active(&mut self, actor: &Actor, uuid: &str) -> Result<()> {
        let allowed = actor.can::<ActiveConnections>(&uuid.to_owned(), ObjectPermission::Delete)
            || self
                .active
                .get(uuid)
                .is_some_and(|a| a.username == actor.username);
        if !allowed {
            return Err(denied());
        }
        if let Some(a) = self.active.remove(uuid) {
            for h in &mut self.history {
                if h.uuid.as_deref() == Some(uuid) && h.end_date.is_none() {
                    h.end_date = Some(a.start_date.max(crate::now_millis()));
                }
            }
        }
        Ok(())
    }
}
