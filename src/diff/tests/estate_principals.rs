//! The estate rules of DESIGN.md §8 for users and user groups themselves:
//! created disabled the way each version can, changed only where declared,
//! passwords sent again only when asked, the login account never changed.

use super::estate::{attrs, dugroup, duser, of, principal, with};
use super::*;
use crate::desired::DesiredEstate;
use crate::plan::PasswordChange;

#[test]
fn principals_are_created_disabled_the_way_each_version_can() {
    let mut g = dugroup("auditors");
    g.disabled = Some(true);
    let mut u = duser("carol");
    u.disabled = Some(true);
    u.password = Some(Value::resolved("Carol-Pw-9", "${env:CAROL_PW}"));
    u.attributes = attrs(&[("guac-full-name", Some("Carol")), ("timezone", None)]);
    let d = with(DesiredEstate {
        user_groups: vec![g],
        users: vec![u],
        ..DesiredEstate::default()
    });
    // Guacamole 1.6 ignores `disabled` on create: a replace follows in the batch.
    let plan = ok(&d, &server(), &Options::default());
    let groups = of(&plan, Kind::UserGroup);
    assert_eq!(
        groups.iter().map(|c| c.action).collect::<Vec<_>>(),
        [Action::Add, Action::Change]
    );
    assert_eq!(
        sent(groups[0]),
        serde_json::json!({"identifier": "auditors", "disabled": true, "attributes": {}})
    );
    assert_eq!(groups[1].identifier.as_deref(), Some("auditors"));
    let users = of(&plan, Kind::User);
    assert_eq!(users[0].password, Some(PasswordChange::SetOnCreate));
    assert_eq!(
        sent(users[0]),
        serde_json::json!({"username": "carol", "password": "Carol-Pw-9", "disabled": true,
            "attributes": {"guac-full-name": "Carol", "timezone": null}})
    );
    // The follow-up does not send the password again.
    assert_eq!(
        sent(users[1]),
        serde_json::json!({"username": "carol", "disabled": true,
            "attributes": {"guac-full-name": "Carol", "timezone": null}})
    );
    assert_eq!(users[1].password, None);
    // One batch per kind: the follow-up sees its add (same transaction).
    assert_eq!(plan.batches.len(), 2);
    // The password never reaches the plan document.
    assert!(!plan.to_json().contains("Carol-Pw-9"));
    assert!(plan.to_json().contains("\"password\": \"set_on_create\""));

    // 1.5.x: `disabled` is the attribute, honoured on create; no follow-up.
    let mut legacy = server();
    legacy.object_by_object = true;
    let plan = ok(&d, &legacy, &Options::default());
    let groups = of(&plan, Kind::UserGroup);
    assert_eq!(groups.len(), 1);
    assert_eq!(
        sent(groups[0]),
        serde_json::json!({"identifier": "auditors", "attributes": {"disabled": "true"}})
    );
    let users = of(&plan, Kind::User);
    assert_eq!(users.len(), 1);
    assert_eq!(
        sent(users[0])["attributes"],
        serde_json::json!({"guac-full-name": "Carol", "timezone": null, "disabled": "true"})
    );
    assert!(sent(users[0]).get("disabled").is_none());
}

#[test]
fn a_declared_user_changes_only_what_is_declared() {
    let mut o = server();
    o.users.insert(
        "alice".into(),
        principal(
            &[
                ("guac-full-name", "Alice"),
                ("guac-totp-key-secret", "TOTPKEY123"),
            ],
            true,
        ),
    );
    // Nothing declared but the name: nothing to do (disabled and attributes kept).
    let d = with(DesiredEstate {
        users: vec![duser("alice")],
        ..DesiredEstate::default()
    });
    assert!(ok(&d, &o, &Options::default()).is_empty());
    // One attribute set: the replace carries the others and `disabled` as they are.
    let mut u = duser("alice");
    u.attributes = attrs(&[("guac-email-address", Some("alice@example.com"))]);
    u.password = Some(Value::secret("Alice-Pw-1"));
    let d = with(DesiredEstate {
        users: vec![u.clone()],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    let c = of(&plan, Kind::User)[0];
    assert_eq!(c.password, None, "a password is sent on create only");
    assert_eq!(
        sent(c),
        serde_json::json!({"username": "alice", "disabled": true, "attributes": {
            "guac-email-address": "alice@example.com", "guac-full-name": "Alice",
            "guac-totp-key-secret": "TOTPKEY123"}})
    );
    assert_eq!(c.attributes.len(), 1);
    assert!(!plan.to_json().contains("TOTPKEY123"));
    // Declared `disabled: false` enables.
    u.attributes.clear();
    u.disabled = Some(false);
    let plan = ok(
        &with(DesiredEstate {
            users: vec![u],
            ..DesiredEstate::default()
        }),
        &o,
        &Options::default(),
    );
    let c = of(&plan, Kind::User)[0];
    assert_eq!(c.fields[0].name(), "disabled");
    assert_eq!(sent(c)["disabled"], false);
}

#[test]
fn password_resets_send_declared_passwords_again() {
    let mut with_pw = duser("alice");
    with_pw.password = Some(Value::resolved("Alice-Pw-2", "${env:ALICE_PW}"));
    let d = with(DesiredEstate {
        users: vec![with_pw, duser("bob")],
        ..DesiredEstate::default()
    });
    let all = Options {
        reset_passwords: PasswordResets::All,
        ..Options::default()
    };
    let plan = ok(&d, &server(), &all);
    let users = of(&plan, Kind::User);
    assert_eq!(users.len(), 1, "bob has no declared password");
    assert_eq!(users[0].password, Some(PasswordChange::Reset));
    assert_eq!(sent(users[0])["password"], "Alice-Pw-2");
    assert_eq!(
        plan.summary.of(Kind::User).change,
        1,
        "a reset counts as a change"
    );
    let named = |n: &[&str]| Options {
        reset_passwords: PasswordResets::Named(n.iter().map(|s| (*s).to_owned()).collect()),
        ..Options::default()
    };
    assert_eq!(ok(&d, &server(), &named(&["alice"])).changes.len(), 1);
    let e = errors(&d, &server(), &named(&["bob", "zed", "guacadmin"]));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e.iter()
            .any(|e| e.contains("user \"bob\" has no declared password (e.yaml:6)")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.contains("no estate document declares user \"zed\"")),
        "{e:?}"
    );
}

#[test]
fn the_login_account_is_never_changed() {
    let mut me = duser("guacadmin");
    me.disabled = Some(true);
    me.password = Some(Value::secret("New-Admin-Pw"));
    me.system = Some(Vec::new());
    let d = with(DesiredEstate {
        users: vec![me],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &server(), &Options::default());
    assert!(plan.is_empty(), "{:?}", plan.changes);
    assert_eq!(plan.warnings[0].code, "login-account");
    assert!(
        plan.warnings[0]
            .message
            .contains("its declared password, disabled, system are left alone"),
        "{}",
        plan.warnings[0].message
    );
}

#[test]
fn user_groups_change_disabled_only_when_declared() {
    let mut o = server();
    o.user_groups.insert("ops".into(), principal(&[], true));
    let d = with(DesiredEstate {
        user_groups: vec![dugroup("ops")],
        ..DesiredEstate::default()
    });
    assert!(ok(&d, &o, &Options::default()).is_empty());
    let mut g = dugroup("ops");
    g.disabled = Some(false);
    let d = with(DesiredEstate {
        user_groups: vec![g],
        ..DesiredEstate::default()
    });
    let plan = ok(&d, &o, &Options::default());
    let c = of(&plan, Kind::UserGroup)[0];
    assert_eq!(
        sent(c),
        serde_json::json!({"identifier": "ops", "disabled": false, "attributes": {}})
    );
    // 1.5.x: the attribute, null to enable.
    o.object_by_object = true;
    let plan = ok(&d, &o, &Options::default());
    assert_eq!(
        sent(of(&plan, Kind::UserGroup)[0]),
        serde_json::json!({"identifier": "ops", "attributes": {"disabled": null}})
    );
}
