//! Tests of saved plans: what a plan records, and the stale reasons it gives.

use super::*;
use crate::desired::DesiredConnection;
use crate::diff::{Options, diff};
use crate::model::{ConnKey, GroupPath, Source};
use crate::observed::ObservedConnection;
use crate::value::Value;

fn conn(name: &str, port: &str, password: &str, file: &str, line: u32) -> DesiredConnection {
    DesiredConnection {
        name: name.into(),
        protocol: "ssh".into(),
        parent: Parent::Group(GroupPath::root()),
        parameters: [
            ("port".to_owned(), Value::plain(port)),
            ("password".to_owned(), Value::secret(password)),
        ]
        .into(),
        attributes: crate::fields::Fields::new(),
        users: vec![],
        groups: vec![],
        source: Source {
            file: file.into(),
            line,
            column: 1,
        },
    }
}

fn server(port: &str, sessions: u32) -> Observed {
    let mut o = Observed {
        data_source: "postgresql".into(),
        session_user: "guacadmin".into(),
        ..Observed::default()
    };
    o.connections.insert(
        ConnKey {
            group: GroupPath::root(),
            name: "web".into(),
        },
        ObservedConnection {
            identifier: "1".into(),
            protocol: "ssh".into(),
            parameters: Some([("port".to_owned(), port.to_owned())].into()),
            attributes: crate::fields::Fields::new(),
            active_connections: sessions,
        },
    );
    o
}

/// The plan and its basis, saved and read back as `sync --plan` reads it.
fn made(d: &Desired, o: &Observed, opts: &Options) -> (Plan, Basis) {
    let plan = diff(d, o, opts, &["manifests".to_owned()]).expect("plan");
    let basis = basis(d, o, "/repo", &|f| f.trim_start_matches("./").to_owned());
    (plan, basis)
}

fn saved(d: &Desired, o: &Observed, opts: &Options) -> Plan {
    let (mut plan, b) = made(d, o, opts);
    plan.basis = Some(b);
    let text = plan.to_json();
    assert!(is_saved_plan(text.as_bytes()));
    serde_json::from_str(&text).expect("reads back")
}

fn check_now(saved_plan: &Plan, d: &Desired, o: &Observed, opts: &Options) -> Result<(), String> {
    let (plan, b) = made(d, o, opts);
    check(saved_plan, &plan, &b).map_err(|e| e.to_string())
}

fn desired(list: Vec<DesiredConnection>) -> Desired {
    Desired {
        connections: list,
        ..Desired::default()
    }
}

#[test]
fn what_does_not_decide_the_changes_does_not_make_a_plan_stale() {
    let d = desired(vec![conn("web", "22", "s3cret-pw", "manifests/a.yaml", 3)]);
    let opts = Options::default();
    let s = saved(&d, &server("2222", 0), &opts);
    assert!(
        !serde_json::to_string(&s)
            .expect("json")
            .contains("s3cret-pw")
    );
    assert_eq!(check_now(&s, &d, &server("2222", 0), &opts), Ok(()));
    // An open session (a count and a warning in the plan), another line and
    // another spelling of the same file.
    let moved = desired(vec![conn(
        "web",
        "22",
        "s3cret-pw",
        "./manifests/a.yaml",
        9,
    )]);
    assert_eq!(check_now(&s, &moved, &server("2222", 2), &opts), Ok(()));
}

#[test]
fn stale_plans_name_the_manifest_the_option_or_the_server_object() {
    let d = desired(vec![conn("web", "22", "pw-one", "manifests/a.yaml", 3)]);
    let opts = Options::default();
    let s = saved(&d, &server("2222", 0), &opts);
    let edited = desired(vec![conn("web", "2200", "pw-one", "manifests/a.yaml", 3)]);
    let e = check_now(&s, &edited, &server("2222", 0), &opts).expect_err("stale");
    assert!(
        e.contains("plan is stale: manifest manifests/a.yaml changed since the plan was made"),
        "{e}"
    );
    let elsewhere = desired(vec![conn("web", "22", "pw-one", "manifests/b.yaml", 3)]);
    let e = check_now(&s, &elsewhere, &server("2222", 0), &opts).expect_err("stale");
    assert!(
        e.contains("manifest manifests/a.yaml is gone") && e.contains("manifests/b.yaml is new"),
        "{e}"
    );
    let e = check_now(&s, &d, &server("2022", 0), &opts).expect_err("stale");
    assert!(
        e.contains("connection ROOT/web changed on the server since the plan was made"),
        "{e}"
    );
    let mut more = server("2222", 0);
    more.users
        .insert("zoe".into(), crate::observed::ObservedPrincipal::default());
    let e = check_now(&s, &d, &more, &opts).expect_err("stale");
    assert!(e.contains("user \"zoe\" appeared on the server"), "{e}");
    let without_parents = Options {
        parent_group_read: false,
        ..Options::default()
    };
    let e = check_now(&s, &d, &server("2222", 0), &without_parents).expect_err("stale");
    assert!(
        e.contains(
            "the options changed since the plan was made (parent_group_read was true and is now false)"
        ),
        "{e}"
    );
}

#[test]
fn a_plan_printed_as_json_is_checked_without_naming() {
    let d = desired(vec![conn("web", "22", "pw-one", "manifests/a.yaml", 3)]);
    let opts = Options::default();
    let (plan, _) = made(&d, &server("2222", 0), &opts);
    let printed: Plan = serde_json::from_str(&plan.to_json()).expect("reads back");
    assert_eq!(check_now(&printed, &d, &server("2222", 1), &opts), Ok(()));
    let e = check_now(&printed, &d, &server("2022", 0), &opts).expect_err("stale");
    assert!(
        e.contains("the server changed since the plan was made"),
        "{e}"
    );
    let edited = desired(vec![conn("web", "2200", "pw-one", "manifests/a.yaml", 3)]);
    let e = check_now(&printed, &edited, &server("2222", 0), &opts).expect_err("stale");
    assert!(
        e.contains("differs from the saved one at connection ROOT/web"),
        "{e}"
    );
}

#[test]
fn a_literal_secret_counts_by_presence_only() {
    // Its value is never in the saved plan, not even hashed.
    let d = desired(vec![conn("web", "22", "pw-one", "manifests/a.yaml", 3)]);
    let b = basis(&d, &server("22", 0), "/repo", &str::to_owned);
    let d2 = desired(vec![conn("web", "22", "pw-two", "manifests/a.yaml", 3)]);
    let b2 = basis(&d2, &server("22", 0), "/repo", &str::to_owned);
    assert_eq!(b.manifests, b2.manifests);
}

#[test]
fn plan_files_are_recognised_by_content() {
    assert!(!is_saved_plan(
        b"[{\"name\": \"a\", \"protocol\": \"ssh\"}]"
    ));
    assert!(!is_saved_plan(b"{\"connections\": []}"));
    assert!(!is_saved_plan(b""));
    // A plan of format version 1 (its changes were `connections`) is still a
    // plan: skipped in a manifest directory, and refused by `sync --plan` as
    // one this guacsync cannot read.
    let v1 = br#"{"version": 1, "data_source": "postgresql", "fingerprint": "0",
        "manifests": [], "options": {}, "groups": [], "connections": []}"#;
    assert!(is_saved_plan(v1));
    let d = desired(vec![]);
    let plan = diff(&d, &server("22", 0), &Options::default(), &[]).expect("plan");
    assert!(is_saved_plan(format!("\n  {}", plan.to_json()).as_bytes()));
}
