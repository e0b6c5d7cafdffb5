//! Connection groups and sharing profiles of the scope, with the principals
//! holding READ on each as their `users` / `groups` lists.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::checks::{
    attribute_problem, is_sensitive_sharing_parameter, path_ok, profile_ok, value_problem,
};
use super::{Cx, at, nowhere};
use crate::estate::model::{ConnectionGroup, GroupType, Level, SharingProfile, SharingProfileKey};
use crate::estate::schema::EstateSchema;
use crate::kinds::Kind;
use crate::model::Principal;
use crate::observed::Observed;

/// READ holders of an object, by kind of principal.
#[derive(Default)]
pub(super) struct Readers {
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
}

/// READ holders of every connection group and sharing profile (by identifier),
/// the login account left out as in the connection export.
pub(super) fn readers(observed: &Observed) -> HashMap<(Kind, &str), Readers> {
    let mut out: HashMap<(Kind, &str), Readers> = HashMap::new();
    for (principal, grants) in &observed.grants {
        if *principal == Principal::User(observed.session_user.clone()) {
            continue;
        }
        for kind in [Kind::ConnectionGroup, Kind::SharingProfile] {
            for (id, levels) in grants.objects.get(&kind).into_iter().flatten() {
                if !levels.contains(Level::Read.as_str()) {
                    continue;
                }
                let r = out.entry((kind, id.as_str())).or_default();
                match principal {
                    Principal::User(u) => r.users.insert(u.clone()),
                    Principal::UserGroup(g) => r.groups.insert(g.clone()),
                };
            }
        }
    }
    out
}

/// The scope's connection groups with their type, attributes and READ lists.
pub(super) fn connection_groups(cx: &mut Cx<'_>, readers: &HashMap<(Kind, &str), Readers>) {
    let schema = EstateSchema::builtin();
    let none = crate::fields::Fields::new();
    for (path, g) in &cx.observed.groups {
        if !cx.in_scope(path) {
            continue;
        }
        if !path_ok(path) {
            cx.warn(format!(
                "connection group {path} is left out: a name on its path cannot be written in an estate document"
            ));
            continue;
        }
        let object = format!("connection group {path}");
        let group_type = GroupType::ALL
            .into_iter()
            .find(|t| t.as_str() == g.group_type);
        if group_type.is_none() {
            cx.warn(format!(
                "{object}: its type {:?} is not one guacsync knows; `type` is left out",
                g.group_type
            ));
        }
        let mut attributes = BTreeMap::new();
        for (k, v) in cx
            .observed
            .group_attributes
            .get(&g.identifier)
            .unwrap_or(&none)
        {
            if let Some(why) = attribute_problem(&schema.connection_group_attributes, k, v) {
                cx.warn(format!("{object}: attribute {k:?} is left out ({why})"));
                continue;
            }
            cx.reference_warning(&object, &format!("attribute {k:?}"), v);
            attributes.insert(k.to_string(), Some(v.clone()));
        }
        let r = readers.get(&(Kind::ConnectionGroup, g.identifier.as_str()));
        let empty = Readers::default();
        let r = r.unwrap_or(&empty);
        let users = cx.list(&r.users, Principal::User);
        let groups = cx.list(&r.groups, Principal::UserGroup);
        cx.out.estate.connection_groups.push(ConnectionGroup {
            path: path.clone(),
            group_type,
            attributes,
            users,
            groups,
            source: nowhere(),
        });
    }
}

/// The parameters of a sharing profile as they can be written, or `None` (the
/// whole map left alone) when one of them is left out: the map is exact, so
/// leaving out one value would remove it.
fn profile_parameters(
    cx: &mut Cx<'_>,
    key: &SharingProfileKey,
    parameters: &crate::fields::Fields<String>,
) -> Option<BTreeMap<String, String>> {
    let schema = EstateSchema::builtin();
    let object = format!("sharing profile {key}");
    let mut out = BTreeMap::new();
    let mut complete = true;
    for (name, v) in parameters {
        let field = schema.any_sharing_parameter(name);
        let problem = if name.contains('\0') {
            Some("its name holds a NUL character")
        } else {
            value_problem(v).or_else(|| {
                field
                    .and_then(|f| f.canonical_option(v))
                    .filter(|c| c != v)
                    .map(|_| "an estate document would say it differently")
            })
        };
        if let Some(why) = problem {
            cx.warn(format!(
                "{object}: parameter {name:?} cannot be written ({why}); its `parameters` are left out, so a plan leaves them as they are"
            ));
            complete = false;
            continue;
        }
        if is_sensitive_sharing_parameter(name, v) {
            let mut parts = vec!["SHARING"];
            parts.extend(key.connection.group.segments().iter().map(String::as_str));
            parts.extend([
                key.connection.name.as_str(),
                key.name.as_str(),
                name.as_str(),
            ]);
            match cx.secret(object.clone(), format!("parameter {name}"), &parts, v) {
                Some(written) => {
                    out.insert(name.to_string(), written);
                }
                None => complete = false,
            }
            continue;
        }
        cx.reference_warning(&object, &format!("parameter {name:?}"), v);
        out.insert(name.to_string(), v.clone());
    }
    complete.then_some(out)
}

/// The sharing profiles of the scope's connections.
pub(super) fn sharing_profiles(cx: &mut Cx<'_>, readers: &HashMap<(Kind, &str), Readers>) {
    for (key, sp) in &cx.observed.sharing_profiles {
        if !cx.in_scope(&key.connection.group) {
            continue;
        }
        if !profile_ok(key) {
            cx.warn(format!(
                "sharing profile {key:?} is left out: its name or its connection's path cannot be written in an estate document"
            ));
            continue;
        }
        let parameters = if let Some(p) = &sp.parameters {
            profile_parameters(cx, key, p)
        } else {
            cx.warn(format!(
                "sharing profile {key}: its parameters were not read; they are left out"
            ));
            None
        };
        let empty = Readers::default();
        let r = readers
            .get(&(Kind::SharingProfile, sp.identifier.as_str()))
            .unwrap_or(&empty);
        let users = cx.list(&r.users, Principal::User);
        let groups = cx.list(&r.groups, Principal::UserGroup);
        cx.out.estate.sharing_profiles.push(SharingProfile {
            connection: at(key.connection.clone()),
            name: key.name.clone(),
            parameters,
            users,
            groups,
            source: nowhere(),
        });
    }
}
