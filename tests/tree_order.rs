//! The group tree's field order. Guacamole writes a group's name before its
//! children, and guacsync starts reading a group's parameters as soon as the
//! tree decoder has its path; valid JSON in another order (the children first)
//! must give the same plan from the same requests.

mod common;

use std::path::Path;

use common::*;
use guacamole_testserver::field_order::FieldOrder;
use guacamole_testserver::{Config, RunningServer};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

/// Connections at three depths, in sibling groups, and at the root.
fn manifest(deep_host: &str) -> String {
    format!(
        "- {{name: top, protocol: ssh, group: ROOT, parameters: {{hostname: t}}}}\n\
         - {{name: one, protocol: ssh, group: ROOT/A, parameters: {{hostname: a}}}}\n\
         - {{name: two, protocol: vnc, group: ROOT/A/B, parameters: {{hostname: b, port: '5901'}}}}\n\
         - {{name: deep, protocol: ssh, group: ROOT/A/B/C, parameters: {{hostname: {deep_host}}}}}\n\
         - {{name: side, protocol: rdp, group: ROOT/Z/Y, parameters: {{hostname: z}}}}\n"
    )
}

/// Syncs the manifest, then plans a change to the deepest connection: the plan's
/// text and the paths of the parameter reads.
async fn plan_after_sync(order: FieldOrder) -> (String, Vec<String>) {
    let server: RunningServer = server_with(Config {
        state: principals_only(),
        prefix: "/guacamole".into(),
        field_order: order,
        ..Config::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "c.yaml", &manifest("d"));
    let s = guacsync_in(&server, dir.path(), &["sync", "c.yaml"], &[]).await;
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    write(dir.path(), "c.yaml", &manifest("d2"));
    let before = server.requests().len();
    let p = guacsync_in(
        &server,
        dir.path(),
        &["plan", "c.yaml", "--detailed-exitcode"],
        &[],
    )
    .await;
    assert_eq!(p.status.code(), Some(2), "{}", stderr(&p));
    let mut reads: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/parameters"))
        .map(|r| r.path.clone())
        .collect();
    reads.sort();
    (stdout(&p), reads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_before_a_groups_name_give_the_same_plan_from_the_same_reads() {
    let (guacamole, guacamole_reads) = plan_after_sync(FieldOrder::Guacamole).await;
    let (sorted, sorted_reads) = plan_after_sync(FieldOrder::Alphabetical).await;
    assert!(
        guacamole.contains("ROOT/A/B/C/deep") && guacamole.contains("d2"),
        "{guacamole}"
    );
    assert!(guacamole.contains("1 to change"), "{guacamole}");
    assert_eq!(guacamole, sorted);
    // Every connection read once, whichever way its group was announced.
    assert_eq!(guacamole_reads.len(), 5, "{guacamole_reads:?}");
    let mut distinct = guacamole_reads.clone();
    distinct.dedup();
    assert_eq!(distinct, guacamole_reads);
    assert_eq!(guacamole_reads, sorted_reads);
}
