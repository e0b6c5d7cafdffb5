//! Unit tests of the estate export: `--secrets` for sensitive values, what
//! cannot be written (left out where absence leaves it alone, and said), what
//! was not read, the login account, ROOT and the scope. The round trip through
//! the reader is `tests/estate_export_props/`.

use std::collections::BTreeSet;

use super::{ExportedEstate, export_estate};
use crate::estate::model::{GroupType, Level, SharingProfileKey, SystemPermission};
use crate::export::Secrets;
use crate::kinds::Kind;
use crate::model::{ConnKey, GroupPath, Principal};
use crate::observed::{
    Observed, ObservedConnection, ObservedGrants, ObservedGroup, ObservedMembers,
    ObservedPrincipal, ObservedSharingProfile,
};

fn path(p: &str) -> GroupPath {
    GroupPath::parse(p).expect("path")
}

fn principal(attributes: &[(&str, &str)]) -> ObservedPrincipal {
    ObservedPrincipal {
        disabled: false,
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn levels(l: &[&str]) -> BTreeSet<String> {
    l.iter().map(|s| (*s).to_owned()).collect()
}

fn grants(objects: &[(Kind, &str, &[&str])], system: &[&str]) -> ObservedGrants {
    let mut g = ObservedGrants::default();
    for (kind, id, l) in objects {
        g.objects
            .entry(*kind)
            .or_default()
            .insert((*id).to_owned(), l.iter().collect());
    }
    g.system = levels(system);
    g
}

/// ROOT/Prod (1) and ROOT/Lab (2), a connection web (10) in Prod with a sharing
/// profile watch (20), users guacadmin (the session) and alice, user group ops.
fn base() -> Observed {
    let mut o = Observed {
        session_user: "guacadmin".into(),
        ..Observed::default()
    };
    for (p, id) in [("ROOT/Prod", "1"), ("ROOT/Lab", "2")] {
        o.groups.insert(
            path(p),
            ObservedGroup {
                identifier: id.into(),
                group_type: "ORGANIZATIONAL".into(),
            },
        );
    }
    let web = ConnKey {
        group: path("ROOT/Prod"),
        name: "web".into(),
    };
    o.connections.insert(
        web.clone(),
        ObservedConnection {
            identifier: "10".into(),
            protocol: "ssh".into(),
            parameters: Some(crate::fields::Fields::new()),
            attributes: crate::fields::Fields::new(),
            active_connections: 0,
        },
    );
    o.sharing_profiles.insert(
        SharingProfileKey {
            connection: web,
            name: "watch".into(),
        },
        ObservedSharingProfile {
            identifier: "20".into(),
            parameters: Some([("read-only".to_owned(), "true".to_owned())].into()),
        },
    );
    for u in ["guacadmin", "alice"] {
        o.users.insert(u.into(), principal(&[]));
        o.grants
            .insert(Principal::User(u.into()), ObservedGrants::default());
    }
    o.user_groups.insert("ops".into(), principal(&[]));
    o.memberships
        .insert("ops".into(), ObservedMembers::default());
    o.grants.insert(
        Principal::UserGroup("ops".into()),
        ObservedGrants::default(),
    );
    o
}

fn run(o: &Observed, scope: &[GroupPath], secrets: Secrets) -> ExportedEstate {
    export_estate(o, scope, secrets, &mut BTreeSet::new())
}

fn warned(e: &ExportedEstate, needle: &str) -> bool {
    e.warnings.iter().any(|w| w.contains(needle))
}

#[test]
fn secrets_modes_for_a_totp_key_and_a_secret_sharing_parameter() {
    let mut o = base();
    o.users.insert(
        "alice".into(),
        principal(&[
            ("guac-full-name", "Alice"),
            ("guac-totp-key-secret", "JBSWY3DP"),
        ]),
    );
    if let Some(p) = o.sharing_profiles.values_mut().next() {
        p.parameters = Some(
            [
                ("read-only".to_owned(), "true".to_owned()),
                ("x-token".to_owned(), "t0k3n".to_owned()),
            ]
            .into(),
        );
    }
    let omit = run(&o, &[], Secrets::Omit);
    let alice = &omit.estate.users[0];
    assert_eq!(
        alice.attributes,
        [("guac-full-name".to_owned(), Some("Alice".to_owned()))].into(),
        "left out: a plan leaves it alone"
    );
    assert_eq!(
        omit.estate.sharing_profiles[0].parameters, None,
        "the whole map is left alone, or a plan would remove the secret"
    );
    let notes: Vec<(String, String, Option<String>)> = omit
        .secrets
        .iter()
        .map(|s| (s.object.clone(), s.field.clone(), s.env.clone()))
        .collect();
    assert_eq!(
        notes,
        [
            (
                "sharing profile ROOT/Prod/web/watch".to_owned(),
                "parameter x-token".to_owned(),
                None
            ),
            (
                "user \"alice\"".to_owned(),
                "attribute guac-totp-key-secret".to_owned(),
                None
            ),
        ]
    );
    // env-ref: names unique also against the connection export's.
    let mut used: BTreeSet<String> = ["GUAC_USER_ALICE_GUAC_TOTP_KEY_SECRET".to_owned()].into();
    let refs = export_estate(&o, &[], Secrets::EnvRef, &mut used);
    assert_eq!(
        refs.estate.users[0].attributes["guac-totp-key-secret"].as_deref(),
        Some("${env:GUAC_USER_ALICE_GUAC_TOTP_KEY_SECRET_2}")
    );
    assert_eq!(
        refs.estate.sharing_profiles[0].parameters,
        Some(
            [
                ("read-only".to_owned(), "true".to_owned()),
                (
                    "x-token".to_owned(),
                    "${env:GUAC_SHARING_PROD_WEB_WATCH_X_TOKEN}".to_owned()
                ),
            ]
            .into()
        )
    );
    assert!(used.contains("GUAC_SHARING_PROD_WEB_WATCH_X_TOKEN"));
    let include = run(&o, &[], Secrets::Include);
    assert!(include.secrets.is_empty());
    assert_eq!(
        include.estate.users[0].attributes["guac-totp-key-secret"].as_deref(),
        Some("JBSWY3DP")
    );
}

#[test]
fn what_cannot_be_written_is_left_out_where_absence_leaves_it_alone() {
    let mut o = base();
    // A user whose name the reader would trim.
    o.users.insert(" bob".into(), principal(&[]));
    o.grants
        .insert(Principal::User(" bob".into()), ObservedGrants::default());
    o.memberships.insert(
        "ops".into(),
        ObservedMembers {
            users: [" bob".to_owned(), "alice".to_owned()].into(),
            groups: BTreeSet::new(),
        },
    );
    o.grants.insert(
        Principal::User("alice".into()),
        grants(
            &[
                (Kind::User, " bob", &["READ"]),
                (Kind::UserGroup, "ops", &["READ", "FLY"]),
                (Kind::ConnectionGroup, "1", &["READ", "UPDATE"]),
            ],
            &["CREATE_USER", "TELEPORT"],
        ),
    );
    o.grants.insert(
        Principal::User(" bob".into()),
        grants(&[(Kind::ConnectionGroup, "2", &["READ"])], &[]),
    );
    o.group_attributes.insert(
        "1".into(),
        [
            ("max-connections".to_owned(), "010".to_owned()),
            ("max-connections-per-user".to_owned(), "2".to_owned()),
        ]
        .into(),
    );
    if let Some(g) = o.groups.get_mut(&path("ROOT/Lab")) {
        g.group_type = "SHARDED".into();
    }
    o.users.insert(
        "alice".into(),
        principal(&[("valid-until", "2027-02-30"), ("timezone", "UTC")]),
    );
    if let Some(p) = o.sharing_profiles.values_mut().next() {
        p.parameters = Some([("read-only".to_owned(), "TRUE".to_owned())].into());
    }
    let e = run(&o, &[], Secrets::Include);
    assert_eq!(
        e.estate
            .users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice"]
    );
    assert!(
        warned(&e, "user \" bob\" cannot be written"),
        "{:?}",
        e.warnings
    );
    let alice = &e.estate.users[0];
    assert_eq!(
        alice.attributes,
        [("timezone".to_owned(), Some("UTC".to_owned()))].into()
    );
    assert!(warned(&e, "attribute \"valid-until\" is left out"));
    assert_eq!(alice.system, None, "an unknown system permission");
    assert_eq!(
        alice.permissions.users, None,
        "a target that cannot be named"
    );
    assert_eq!(alice.permissions.user_groups, None, "an unknown level");
    let groups = alice.permissions.connection_groups.as_ref().expect("read");
    assert_eq!(groups[0].target.target, path("ROOT/Prod"));
    assert_eq!(groups[0].levels, [Level::Read, Level::Update]);
    let ops = &e.estate.user_groups[0];
    assert_eq!(ops.member_users, None, "a member that cannot be named");
    assert_eq!(ops.member_groups.as_deref().map(<[_]>::len), Some(0));
    let lab = e
        .estate
        .connection_groups
        .iter()
        .find(|g| g.path == path("ROOT/Lab"))
        .expect("Lab");
    assert_eq!(lab.group_type, None);
    assert_eq!(lab.users, None, "a reader that cannot be named");
    let prod = e
        .estate
        .connection_groups
        .iter()
        .find(|g| g.path == path("ROOT/Prod"))
        .expect("Prod");
    assert_eq!(prod.group_type, Some(GroupType::Organizational));
    assert_eq!(
        prod.attributes,
        [("max-connections-per-user".to_owned(), Some("2".to_owned()))].into()
    );
    assert!(warned(&e, "attribute \"max-connections\" is left out"));
    assert_eq!(e.estate.sharing_profiles[0].parameters, None);
    assert!(warned(&e, "parameter \"read-only\" cannot be written"));
}

#[test]
fn what_was_not_read_is_not_written() {
    let mut o = base();
    o.users.insert("a/b".into(), principal(&[]));
    o.unaddressable.insert(Principal::User("a/b".into()));
    o.memberships.clear();
    if let Some(p) = o.sharing_profiles.values_mut().next() {
        p.parameters = None;
    }
    let e = run(&o, &[], Secrets::Omit);
    let ab = e
        .estate
        .users
        .iter()
        .find(|u| u.username == "a/b")
        .expect("a/b is exported");
    assert_eq!(
        (ab.system.as_ref(), ab.permissions.is_empty()),
        (None, true)
    );
    assert!(warned(&e, "refuses its name in a request path"));
    assert_eq!(e.estate.user_groups[0].member_users, None);
    assert_eq!(e.estate.user_groups[0].member_groups, None);
    assert!(warned(&e, "its members were not read"));
    assert_eq!(e.estate.sharing_profiles[0].parameters, None);
}

#[test]
fn the_login_account_root_and_the_scope() {
    let mut o = base();
    o.memberships.insert(
        "ops".into(),
        ObservedMembers {
            users: ["guacadmin".to_owned(), "alice".to_owned()].into(),
            groups: BTreeSet::new(),
        },
    );
    let everything = grants(
        &[
            (Kind::ConnectionGroup, "1", &["READ"]),
            (Kind::ConnectionGroup, "2", &["READ", "DELETE"]),
            (Kind::ConnectionGroup, "ROOT", &["READ"]),
            (Kind::SharingProfile, "20", &["READ"]),
            (Kind::User, "guacadmin", &["READ"]),
        ],
        &["ADMINISTER"],
    );
    o.grants
        .insert(Principal::User("guacadmin".into()), everything.clone());
    o.grants.insert(Principal::User("alice".into()), everything);
    let e = run(&o, &[], Secrets::Omit);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert!(e.estate.users.iter().all(|u| u.username != "guacadmin"));
    let names = |r: Option<&Vec<crate::estate::Ref<String>>>| -> Vec<String> {
        r.into_iter().flatten().map(|r| r.target.clone()).collect()
    };
    assert_eq!(
        names(e.estate.user_groups[0].member_users.as_ref()),
        ["alice"]
    );
    let prod = &e.estate.connection_groups[1];
    assert_eq!(
        names(prod.users.as_ref()),
        ["alice"],
        "not the login account"
    );
    assert_eq!(
        names(e.estate.sharing_profiles[0].users.as_ref()),
        ["alice"]
    );
    let alice = &e.estate.users[0];
    let targets = |g: Option<&Vec<crate::estate::Grant<GroupPath>>>| -> Vec<String> {
        g.into_iter()
            .flatten()
            .map(|g| g.target.target.to_string())
            .collect()
    };
    assert_eq!(
        targets(alice.permissions.connection_groups.as_ref()),
        ["ROOT/Lab"],
        "READ alone is on the lists; ROOT is no target"
    );
    assert_eq!(
        alice
            .permissions
            .users
            .as_ref()
            .map(|u| u[0].target.target.clone()),
        Some("guacadmin".to_owned()),
        "the login account as a target is kept"
    );
    assert_eq!(
        alice.system.as_ref().map(|s| s[0].target),
        Some(SystemPermission::Administer)
    );
    // Scoped to ROOT/Prod: Lab, and permissions on it, are out.
    let e = run(&o, &[path("ROOT/Prod")], Secrets::Omit);
    assert_eq!(e.estate.connection_groups.len(), 1);
    assert_eq!(
        e.estate.users[0]
            .permissions
            .connection_groups
            .as_deref()
            .map(<[_]>::len),
        Some(0)
    );
    assert_eq!(e.estate.sharing_profiles.len(), 1);
    let e = run(&o, &[path("ROOT/Lab")], Secrets::Omit);
    assert!(e.estate.sharing_profiles.is_empty());
}
