//! Generated inputs of other shapes: a manifests directory with symlink loops and
//! a file of an unknown extension, and estate documents with a million references
//! or 50,000 permission targets.

use super::*;
use generated::{Generated, check, write};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifests_directory_with_symlink_loops_and_a_txt_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let server = server(principals_only()).await;
    let mut rows = Vec::new();

    // A manifests directory with a directory linking to its parent (`a/loop ->
    // ..`), a link to itself with no extension (`x -> x`), and a valid CSV named
    // `.txt`, which a walk skips without a word (only a file named on the command
    // line is checked for its extension).
    let m = dir.join("manifests");
    std::fs::create_dir_all(m.join("a")).expect("mkdir");
    write(
        &m,
        "ok.yaml",
        "- name: a\n  protocol: ssh\n  parameters: {hostname: h}\n",
    );
    write(&m, "notes.txt", "name,protocol\nb,ssh\n");
    std::os::unix::fs::symlink("..", m.join("a/loop")).expect("symlink");
    std::os::unix::fs::symlink("x", m.join("x")).expect("symlink");
    let mut g = Generated::new("manifests");
    g.codes = &["symlink-loop"];
    g.says = Some("manifests/x");
    g.not_says = Some("notes.txt");
    rows.push(check(dir, &g, &server).await);
    let v = run(
        dir,
        &["validate", "--format", "json", "manifests"],
        server.base_url(),
    )
    .await;
    let (codes, _) = json_codes(&v.stdout, "manifests");
    assert_eq!(codes, ["symlink-loop"], "only the loops are reported");
    let doc: serde_json::Value = serde_json::from_slice(&v.stdout).expect("json");
    assert_eq!(
        doc["diagnostics"].as_array().map(Vec::len),
        Some(2),
        "one loop each: {doc}"
    );
    assert_eq!(
        doc["connections"].as_array().map(Vec::len),
        Some(1),
        "ok.yaml is read"
    );

    report("generated, a directory:", &rows);
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estate_documents_with_a_million_references_or_50000_targets_stay_bounded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let server = server(principals_only()).await;
    let mut rows = Vec::new();

    // A million and one member names in one group: each reference keeps its
    // place (a few hundred bytes), so an estate document holds at most a million
    // objects and references; three million `{username: a}` users fit the value
    // limit of a 64 MiB file and took over a gigabyte.
    let mut members = String::with_capacity(12_000_000);
    members.push_str(r#"{"userGroups": [{"name": "g", "members": {"users": ["#);
    for i in 0..=1_000_000 {
        let _ = write!(members, "{}\"u{i}\"", if i == 0 { "" } else { "," });
    }
    members.push_str("]}}]}");
    write(dir, "million-members.json", members);
    let mut g = Generated::new("million-members.json");
    g.codes = &["file-too-large"];
    g.says = Some("more than 1000000 objects and references");
    g.max_peak_kib = 384 * 1024;
    g.guard = Duration::from_secs(60);
    rows.push(check(dir, &g, &server).await);

    // 50,000 permission targets, the first named again at the end in another
    // spelling (`/g0/` is `ROOT/g0`): found once normalised, in n log n.
    let mut targets =
        String::from("users:\n  - username: a\n    permissions:\n      connectionGroups:\n");
    for i in 0..50_000 {
        let _ = writeln!(targets, "        ROOT/g{i}: [READ]");
    }
    targets.push_str("        /g0/: [UPDATE]\n");
    write(dir, "many-targets.yaml", targets);
    let mut g = Generated::new("many-targets.yaml");
    g.codes = &["duplicate-target"];
    g.says = Some("first listed at line 5, column 9");
    rows.push(check(dir, &g, &server).await);

    report("generated, estate documents:", &rows);
    assert_eq!(rows.len(), 2);
}
