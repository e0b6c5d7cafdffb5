//! Facts: what an estate document (and its connections) says about a server, in
//! words both sides can say, and which fields it wrote rather than left out. The
//! property compares these, read back from the export, with the expected ones.

use std::collections::BTreeSet;
use std::fmt::Display;

use guacsync::estate::{Estate, Grant, Permissions, Ref, SystemPermission};
use guacsync::kinds::Kind;
use guacsync::model::{Entry, Principal};

/// One fact about a server, in words both sides can say.
pub(crate) type Fact = (String, String, String, String);

/// The facts about one estate, and a mark for every field written (exact)
/// rather than left out.
#[derive(Default)]
pub(crate) struct Facts {
    pub(crate) said: BTreeSet<Fact>,
    pub(crate) written: BTreeSet<Fact>,
}

pub(crate) fn fact(kind: &str, a: &dyn Display, b: &dyn Display, c: &dyn Display) -> Fact {
    (kind.to_owned(), a.to_string(), b.to_string(), c.to_string())
}

pub(crate) fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Connection => "connections",
        Kind::ConnectionGroup => "connectionGroups",
        Kind::SharingProfile => "sharingProfiles",
        Kind::User => "users",
        Kind::UserGroup => "userGroups",
    }
}

/// `kind target` as a permission fact names it.
pub(crate) fn target(kind: &str, target: &dyn Display) -> String {
    format!("{kind} {target}")
}

pub(crate) type Names<'e> = Option<&'e Vec<Ref<String>>>;

pub(crate) fn names(r: Names<'_>) -> Vec<String> {
    r.into_iter().flatten().map(|r| r.target.clone()).collect()
}

pub(crate) fn was_written<T>(v: Option<&T>) -> &'static str {
    if v.is_some() { "written" } else { "left out" }
}

impl Facts {
    /// READ from an object's `users` and `groups` lists.
    pub(crate) fn read(
        &mut self,
        kind: &str,
        object: &dyn Display,
        users: &[String],
        groups: &[String],
    ) {
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

    pub(crate) fn grants<T: Display>(
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
    pub(crate) fn principal(
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
    pub(crate) fn of(e: &Estate, connections: &[Entry]) -> Self {
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
pub(crate) fn all_written(e: &Estate) -> BTreeSet<Fact> {
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
