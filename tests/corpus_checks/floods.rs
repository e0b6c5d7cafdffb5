//! Generated inputs that are large rather than deep: a 300,000-column header and
//! 50,000 keys in one object (linear time), nested anchors, floods of errors and
//! of values (bounded memory), and megabyte-long names (not printed whole nor
//! compared).

use super::*;
use generated::{Generated, check, many_keys, write};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_header_and_huge_objects_are_read_in_linear_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let server = server(principals_only()).await;
    let mut rows = Vec::new();

    // A 300,000-column header whose last column repeats the third: duplicate
    // detection was a linear search per column (minutes).
    let mut header = String::from("name,protocol");
    for i in 0..300_000 {
        let _ = write!(header, ",c{i}");
    }
    header.push_str(",c0\n");
    write(dir, "wide-header.csv", &header);
    let mut g = Generated::new("wide-header.csv");
    g.codes = &["csv-duplicate-header"];
    rows.push(check(dir, &g, &server).await);

    // 50,000 keys in one `parameters` object, the first repeated at the end: each
    // key was compared with every earlier one (100,000 keys took 14 s in a release
    // build).
    write(
        dir,
        "many-keys.json",
        format!(
            r#"[{{"name":"a","protocol":"ssh","parameters":{{{}}}}}]"#,
            many_keys(50_000, true)
        ),
    );
    // Only the first 100 diagnostics are printed, and the duplicate is the last:
    // the summary line counts it (the one error).
    let mut g = Generated::new("many-keys.json");
    g.codes = &["unknown-parameter"];
    g.says = Some("1 error, 50000 warnings");
    rows.push(check(dir, &g, &server).await);
    write(
        dir,
        "many-keys.yaml",
        format!(
            "- name: a\n  protocol: ssh\n  parameters:\n{}",
            many_keys(50_000, false)
        ),
    );
    let mut g = Generated::new("many-keys.yaml");
    g.codes = &["unknown-parameter"];
    g.says = Some("1 error, 50000 warnings");
    rows.push(check(dir, &g, &server).await);

    report("generated, linear time:", &rows);
    assert_eq!(rows.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_floods_of_errors_and_floods_of_values_stay_in_bounded_memory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let server = server(principals_only()).await;
    let mut rows = Vec::new();

    // 60 nested anchored lists around one 8 MB scalar, no alias at all: each
    // anchor kept a copy of its subtree (515 MB). Now the copies count against the
    // alias budget.
    let mut nested = "x".repeat(8 * 1024 * 1024);
    for i in 0..60 {
        nested = format!("&a{i} [{nested}]");
    }
    write(dir, "nested-anchors.yaml", format!("- {nested}\n"));
    let mut g = Generated::new("nested-anchors.yaml");
    g.codes = &["yaml-alias-budget"];
    g.max_peak_kib = 160 * 1024;
    rows.push(check(dir, &g, &server).await);

    // 600,000 rows of one cell under a three-column header, two bytes each: every
    // diagnostic was kept (4 million such rows took 1.8 GB). Now a file keeps its
    // first 500,000 and says how many more there were. Slow in a debug build, so
    // its guard is longer; it is still only a hang guard.
    write(
        dir,
        "ragged-rows.csv",
        format!("name,protocol,hostname\n{}", "x\n".repeat(600_000)),
    );
    let mut g = Generated::new("ragged-rows.csv");
    g.codes = &["csv-record-length", "too-many-diagnostics"];
    g.says = Some("100000 more problem(s) (100000 of them errors)");
    g.max_peak_kib = 512 * 1024;
    g.guard = Duration::from_secs(60);
    rows.push(check(dir, &g, &server).await);

    // Ten million and one two-byte values: the tree of a JSON or YAML document
    // costs about 80 bytes a value, so 32 million of them (64 MiB) took over 2 GB.
    // Now a document holds at most ten million.
    let mut values = String::with_capacity(20_000_010);
    values.push('[');
    values.push_str(&"1,".repeat(10_000_000));
    values.push_str("1]");
    write(dir, "ten-million-values.json", values);
    let mut g = Generated::new("ten-million-values.json");
    g.codes = &["file-too-large"];
    g.says = Some("more than 10000000 values");
    g.max_peak_kib = 1024 * 1024;
    g.guard = Duration::from_secs(60);
    rows.push(check(dir, &g, &server).await);

    // A million and one six-byte rows: an entry costs a few hundred bytes, so 60 MB
    // of such rows took over 2 GB. Now a file declares at most a million.
    let mut csv = String::with_capacity(12_000_000);
    csv.push_str("name,protocol\n");
    for i in 0..=1_000_000 {
        let _ = writeln!(csv, "a{i},ssh");
    }
    write(dir, "million-connections.csv", csv);
    let mut g = Generated::new("million-connections.csv");
    g.codes = &["file-too-large"];
    g.says = Some("more than 1000000 connections");
    g.max_peak_kib = 768 * 1024;
    g.guard = Duration::from_secs(60);
    rows.push(check(dir, &g, &server).await);

    report("generated, bounded memory:", &rows);
    assert_eq!(rows.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_names_are_not_printed_whole_nor_compared() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let server = server(principals_only()).await;
    let mut rows = Vec::new();

    // Megabyte-long names: each was printed whole (1 to 3 MB of output) and
    // measured against every known name for "did you mean" (1.4 s).
    let long = "k".repeat(1024 * 1024);
    write(
        dir,
        "long-parameter-name.json",
        format!(r#"[{{"name":"a","protocol":"ssh","parameters":{{"{long}":"1"}}}}]"#),
    );
    let mut g = Generated::new("long-parameter-name.json");
    g.exit = 0;
    g.codes = &["unknown-parameter"];
    g.max_output = 4096;
    rows.push(check(dir, &g, &server).await);
    write(
        dir,
        "long-header-name.csv",
        format!("name,protocol,{long}\na,ssh,1\n"),
    );
    let mut g = Generated::new("long-header-name.csv");
    g.codes = &["csv-unknown-header"];
    g.max_output = 4096;
    rows.push(check(dir, &g, &server).await);
    write(
        dir,
        "long-protocol.json",
        format!(r#"[{{"name":"a","protocol":"{long}"}}]"#),
    );
    let mut g = Generated::new("long-protocol.json");
    g.codes = &["unknown-protocol"];
    g.max_output = 4096;
    rows.push(check(dir, &g, &server).await);

    report("generated, long names:", &rows);
    assert_eq!(rows.len(), 3);
}
