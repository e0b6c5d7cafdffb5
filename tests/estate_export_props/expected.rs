//! The facts an estate export of an observed server must carry, within a scope:
//! what the property expects to read back.

use std::collections::{BTreeMap, BTreeSet};

use guacsync::kinds::Kind;
use guacsync::model::{GroupPath, Principal};
use guacsync::observed::Observed;

use super::SESSION;
use super::facts::{Fact, fact, kind_word, target};

/// Everything `o` holds that an estate export must carry, within `scope`.
/// READ alone on a connection is carried by the connection's own lists, so it is
/// there only when the connections are.
pub(crate) fn observed_facts(
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
