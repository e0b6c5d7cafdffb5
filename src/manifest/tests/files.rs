//! Whole files and sets of files: duplicates across files, directory walks,
//! size limits, NUL characters, identifiers beyond Java's int, secrets masked as
//! written, duplicate keys in large objects, bounded diagnostics.

use super::*;

#[test]
fn duplicates_across_files_name_both_places() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a.csv"),
        "name,protocol,group\nweb,ssh,Prod\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b.yaml"),
        "- name: other\n  protocol: ssh\n- name: web\n  protocol: vnc\n  group: /Prod/\n",
    )
    .expect("write");
    // same name in another group, and a near-duplicate that lodash would confuse
    std::fs::write(dir.path().join("c.json"), r#"[{"name":"web","protocol":"ssh","group":"ROOT/Prod/x"},{"name":"web.1","protocol":"ssh","group":"ROOT/Prod"}]"#).expect("write");
    let loaded = load(&[dir.path().to_path_buf()], &ParseOptions::default());
    let dups: Vec<&Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.code == "duplicate-connection")
        .collect();
    assert_eq!(dups.len(), 1, "{:?}", loaded.diagnostics);
    assert!(dups[0].file.ends_with("b.yaml") && dups[0].line == 3);
    assert!(
        dups[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("a.csv:2")),
        "{:?}",
        dups[0].help
    );
    assert_eq!(loaded.entries.len(), 4);
}

#[test]
fn directories_are_walked_in_order_skipping_hidden_and_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub")).expect("mkdir");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    for (name, text) in [
        ("b.YML", "- {name: b, protocol: ssh}\n"),
        ("a.csv", "name,protocol\na,ssh\n"),
        ("sub/c.json", r#"[{"name":"c","protocol":"ssh"}]"#),
        (".hidden.csv", "not,a,manifest\n"),
        (".git/x.csv", "junk\n"),
        ("guacsync.toml", "[server]\n"),
        ("notes.txt", "ignored"),
    ] {
        std::fs::write(root.join(name), text).expect("write");
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(root, root.join("sub/loop")).expect("symlink");
    let loaded = load(&[root.to_path_buf()], &ParseOptions::default());
    let names: Vec<&str> = loaded.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    #[cfg(unix)]
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        ["symlink-loop"]
    );
}

#[test]
fn oversized_files_are_refused_without_reading() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.csv");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(MAX_FILE_BYTES + 1).expect("sparse file");
    let loaded = load(&[path], &ParseOptions::default());
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        ["file-too-large"]
    );
}

#[test]
fn escaped_nul_characters_are_refused_where_they_are() {
    let cases: &[(Format, &str, Expected)] = &[
        (
            Format::Json,
            r#"[{"name":"a","protocol":"ssh","parameters":{"hostname":"h\u0000"}}]"#,
            &[("nul-byte", 1, 56)],
        ),
        (
            Format::Json,
            r#"[{"name":"a\u0000","protocol":"ssh","users":["u\u0000"]}]"#,
            &[("nul-byte", 1, 10), ("nul-byte", 1, 46)],
        ),
        (
            Format::Yaml,
            "- name: a\n  protocol: ssh\n  group: \"x\\0\"\n  attributes: {\"w\\x00\": 1}\n",
            &[
                ("unknown-attribute", 4, 16),
                ("nul-byte", 4, 16),
                ("nul-byte", 3, 10),
            ],
        ),
    ];
    for (format, input, expected) in cases {
        let p = parse(*format, input);
        assert_eq!(codes(&p), *expected, "{input}");
        assert!(p.entries.is_empty(), "{input}");
    }
}

#[test]
fn parent_identifiers_beyond_a_java_int_are_refused() {
    for (id, ok) in [
        ("2147483647", true),
        ("0002147483647", true),
        ("2147483648", false),
        (&"9".repeat(400)[..], false),
    ] {
        let p = parse(
            Format::Json,
            &format!(r#"[{{"name":"a","protocol":"ssh","parentIdentifier":"{id}"}}]"#),
        );
        if ok {
            assert_eq!(only(&p).parent, Parent::Identifier(id.to_owned()));
        } else {
            assert_eq!(codes(&p), [("invalid-parent-identifier", 1, 50)], "{id}");
        }
    }
}

/// A secret written with escapes is masked in that form too, whatever diagnostic
/// shows its line; so is each line of a multi-line one.
#[test]
fn secrets_are_masked_in_the_form_they_are_written() {
    let cases: &[(Format, &str, &str)] = &[
        (
            Format::Json,
            r#"[{"name":"a","protocol":"ssh","parameters":{"password":"hunte\u0072\u0032","bogus":"1"}}]"#,
            r#""hunte\u0072\u0032""#,
        ),
        (
            Format::Yaml,
            "- {name: a, protocol: ssh, parameters: {password: \"hunte\\x722\", bogus: 1}}\n",
            r#""hunte\x722""#,
        ),
        (
            Format::Yaml,
            "- {name: a, protocol: ssh, parameters: {password: 'it''s-secret', bogus: 1}}\n",
            "'it''s-secret'",
        ),
        (
            Format::Csv,
            "name,protocol,private-key,max-connections\nweb,ssh,\"line1secret\nline2secret\",x\n",
            "line2secret",
        ),
    ];
    for (format, input, written) in cases {
        let p = parse(*format, input);
        assert!(!p.diagnostics.is_empty(), "{input}");
        let source = p.source.as_ref().expect("source");
        assert!(
            source.secrets.iter().any(|s| s == written),
            "{input}: {:?}",
            source.secrets
        );
    }
}

/// The value of a parameter the schema does not know is a secret too (`pasword` is
/// most likely a password): masked in source lines, shown as (sensitive) in the
/// normalised model; each secret is kept once, longest first, so a secret inside a
/// longer one cannot leave the rest of the longer one showing.
#[test]
fn unknown_parameter_values_are_masked_longest_first() {
    let input = "- {name: a, protocol: ssh, parameters: {pasword: s3cr3t, password: s3cr3t-long, bogus: s3cr3t}}\n";
    let p = parse(Format::Yaml, input);
    let source = p.source.as_ref().expect("source");
    assert_eq!(source.secrets, ["s3cr3t-long", "s3cr3t"]);
    let view = crate::diagnostic::SourceView {
        text: &source.text,
        line_starts: &[],
        secrets: &source.secrets,
        may_hold_secrets: source.may_hold_secrets,
    };
    let shown: String = p
        .diagnostics
        .iter()
        .map(|d| crate::diagnostic::render(d, Some(&view), false))
        .collect();
    assert!(shown.contains("unknown-parameter"), "{shown}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("-long"),
        "{shown}"
    );
    let doc = super::Normalized::new(&p.entries, &p.estate, &p.diagnostics, Schema::builtin());
    assert_eq!(doc.connections[0].parameters["pasword"], "(sensitive)");
}

/// The duplicate of the first key, after enough keys that the lookup is hashed.
#[test]
fn duplicate_keys_found_in_large_objects() {
    use std::fmt::Write as _;
    let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":\"1\"")).collect();
    let json = format!(
        r#"[{{"name":"a","protocol":"ssh","parameters":{{{},"k0":"2","k39":"3"}}}}]"#,
        keys.join(",")
    );
    let p = parse(Format::Json, &json);
    let dups: Vec<u32> = p
        .diagnostics
        .iter()
        .filter(|d| d.code == "duplicate-key")
        .map(|d| d.column)
        .collect();
    assert_eq!(dups.len(), 2, "{:?}", p.diagnostics);
    let keys: String = (0..40).fold(String::new(), |mut s, i| {
        let _ = writeln!(s, "    k{i}: 1");
        s
    });
    let yaml = format!("- name: a\n  protocol: ssh\n  parameters:\n{keys}    k0: 2\n    k39: 3\n");
    let p = parse(Format::Yaml, &yaml);
    let lines: Vec<u32> = p
        .diagnostics
        .iter()
        .filter(|d| d.code == "duplicate-key")
        .map(|d| d.line)
        .collect();
    assert_eq!(lines, [44, 45]);
    let header: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let csv = format!("name,protocol,{},c39\n", header.join(","));
    let p = parse(Format::Csv, &csv);
    assert_eq!(codes(&p), [("csv-duplicate-header", 1, 165)]);
}

/// Past `MAX_DIAGNOSTICS_PER_FILE`, diagnostics are counted and not kept; a long
/// name is cut in the middle of its message.
#[test]
fn diagnostics_per_file_are_bounded() {
    let rows = records::MAX_DIAGNOSTICS_PER_FILE + 3;
    let csv = format!("name,protocol,hostname\n{}", "x\n".repeat(rows));
    let p = parse(Format::Csv, &csv);
    assert_eq!(p.diagnostics.len(), records::MAX_DIAGNOSTICS_PER_FILE + 1);
    let last = p.diagnostics.last().expect("summary");
    assert_eq!((last.code, last.is_error()), ("too-many-diagnostics", true));
    assert!(
        last.message
            .starts_with("3 more problem(s) (3 of them errors)")
    );

    let long = "k".repeat(100_000);
    let p = parse(
        Format::Json,
        &format!(r#"[{{"name":"a","protocol":"ssh","parameters":{{"{long}":"1"}}}}]"#),
    );
    let d = &p.diagnostics[0];
    assert_eq!(d.code, "unknown-parameter");
    assert!(d.message.chars().count() < 500, "{}", d.message.len());
    assert!(d.message.contains(" … ") && d.message.ends_with("protocol ssh"));
    assert_eq!(d.help, None);
}
