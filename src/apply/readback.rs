//! Reading back what the server holds after a write whose outcome is unknown (a
//! timeout, a dropped connection, a proxy's 502/503/504 after Guacamole may have
//! applied it): DESIGN.md §4 "Failures". The answer is a sentence for the error
//! message: how many of the changes sent are now on the server, and which are not.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::guacamole::Client;
use crate::guacamole::wire::PermissionSet;
use crate::kinds::{Kind, ObjectKey};
use crate::plan::{Action, Change, Grant, PermissionChange};

/// What the server holds of one kind: the objects' keys and, where it has them,
/// their identifiers.
struct Held {
    objects: HashMap<ObjectKey, Option<String>>,
}

async fn held(client: &Client, kind: Kind) -> Result<Held, String> {
    let mut objects = HashMap::new();
    match kind {
        Kind::ConnectionGroup | Kind::Connection | Kind::SharingProfile => {
            let path = client.ds_path("connectionGroups/ROOT/tree");
            let body = client
                .request(reqwest::Method::GET, &path, None)
                .await
                .map_err(|e| e.to_string())?;
            let flat = crate::guacamole::limits::decode_tree(body, &path)
                .await
                .map_err(|e| e.to_string())?;
            let (groups, connections) = (flat.groups, flat.connections);
            for (k, s) in flat.sharing_profiles {
                objects.insert(ObjectKey::sharing_profile(&k), Some(s.identifier));
            }
            for (p, g) in groups {
                objects.insert(ObjectKey::group(p), Some(g.identifier));
            }
            for (k, c) in connections {
                objects.insert(ObjectKey::connection(k), Some(c.identifier));
            }
        }
        Kind::User | Kind::UserGroup => {
            let list: serde_json::Map<String, serde_json::Value> = client
                .get(&client.ds_path(kind.describe().endpoint))
                .await
                .map_err(|e| e.to_string())?;
            for name in list.keys() {
                let key = if kind == Kind::User {
                    ObjectKey::User { name: name.clone() }
                } else {
                    ObjectKey::UserGroup { name: name.clone() }
                };
                objects.insert(key, Some(name.clone()));
            }
        }
    }
    Ok(Held { objects })
}

/// Whether each change is on the server now.
fn applied(held: &Held, c: &Change) -> bool {
    match c.action {
        Action::Add => held.objects.contains_key(&c.object),
        Action::Change => match (held.objects.get(&c.object), &c.identifier) {
            (Some(Some(id)), Some(want)) => id == want,
            (Some(_), _) => true,
            (None, _) => false,
        },
        Action::Remove => !held
            .objects
            .iter()
            .any(|(k, id)| *k == c.object || (id.is_some() && *id == c.identifier)),
    }
}

/// The sentence for the changes of one batch whose outcome is unknown.
pub(super) async fn changes(client: &Client, changes: &[Change]) -> String {
    let Some(kind) = changes.first().map(Change::kind) else {
        return "nothing was left to read back".to_owned();
    };
    let held = match held(client, kind).await {
        Ok(h) => h,
        Err(e) => {
            return format!("reading the server back failed too ({e}): what it holds is unknown");
        }
    };
    let (done, not): (Vec<&Change>, Vec<&Change>) = changes.iter().partition(|c| applied(&held, c));
    let mut out = format!(
        "Read back from the server: {} of the {} change(s) sent are there",
        done.len(),
        changes.len()
    );
    if !not.is_empty() {
        let names: Vec<String> = not
            .iter()
            .take(10)
            .map(|c| format!("{} {}", c.action.op(), c.object))
            .collect();
        let _ = write!(out, "; not there: {}", names.join(", "));
        if not.len() > 10 {
            let _ = write!(out, " and {} more", not.len() - 10);
        }
    }
    out
}

/// The sentence for one principal's permission PATCH requests when one failed
/// with its outcome unknown or partly applied: which of the grants and
/// revocations asked for are in place now, and which are not.
pub(super) async fn permissions(
    client: &Client,
    rest: &str,
    change: &PermissionChange,
    resolve: &dyn Fn(&ObjectKey) -> Option<String>,
) -> String {
    let set: PermissionSet = match client.get(&client.ds_path(rest)).await {
        Ok(s) => s,
        Err(e) => {
            return format!(
                "reading its permissions back failed too ({e}): what it holds is unknown"
            );
        }
    };
    let holds = |g: &Grant| {
        let id = g
            .identifier
            .clone()
            .or_else(|| g.object.as_ref().and_then(resolve))
            .unwrap_or_default();
        set.holds(g.object.as_ref().map(ObjectKey::kind), &id, &g.permission)
    };
    let (granted, not_granted): (Vec<&Grant>, Vec<&Grant>) =
        change.grant.iter().partition(|g| holds(g));
    let (still_held, revoked): (Vec<&Grant>, Vec<&Grant>) =
        change.revoke.iter().partition(|g| holds(g));
    let mut out = format!(
        "Read back from the server: {} of the {} grant(s) and {} of the {} revocation(s) of {} are in place",
        granted.len(),
        change.grant.len(),
        revoked.len(),
        change.revoke.len(),
        change.principal
    );
    // Both sides are named when only part is in place, so the sentence says
    // exactly which changes the server holds.
    for (label, list, other) in [
        ("granted", &granted, &not_granted),
        ("not granted", &not_granted, &granted),
        ("revoked", &revoked, &still_held),
        ("not revoked", &still_held, &revoked),
    ] {
        if !list.is_empty() && (!other.is_empty() || label.starts_with("not")) {
            let _ = write!(out, "; {label}: {}", grants(list));
        }
    }
    out
}

/// Grants in words, the first 10 and how many more.
fn grants(list: &[&Grant]) -> String {
    let shown: Vec<String> = list
        .iter()
        .take(10)
        .map(|g| match &g.object {
            Some(o) => format!("{} on {o}", g.permission),
            None => format!("system {}", g.permission),
        })
        .collect();
    let mut out = shown.join(", ");
    if list.len() > shown.len() {
        let _ = write!(out, " and {} more", list.len() - shown.len());
    }
    out
}

/// The sentence for a membership PATCH (`rest`: `userGroups/{g}/memberUsers` or
/// `memberUserGroups`) whose outcome is unknown.
pub(super) async fn members(
    client: &Client,
    rest: &str,
    add: &[String],
    remove: &[String],
) -> String {
    let held: BTreeSet<String> = match client.get(&client.ds_path(rest)).await {
        Ok(list) => list,
        Err(e) => {
            return format!(
                "reading the members back failed too ({e}): who is a member is unknown"
            );
        }
    };
    let added = add.iter().filter(|n| held.contains(*n)).count();
    let removed = remove.iter().filter(|n| !held.contains(*n)).count();
    format!(
        "Read back from the server: {added} of the {} member(s) to add and {removed} of the {} to remove are in place",
        add.len(),
        remove.len()
    )
}
