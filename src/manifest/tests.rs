//! Table-driven tests of the manifest rules: input text → expected entries or
//! diagnostics (code, line, column). One table per rule family.

use super::*;
use crate::model::{GroupPath, Parent};

/// Expected diagnostics: (code, line, column).
type Expected = &'static [(&'static str, u32, u32)];

fn parse(format: Format, text: &str) -> Parsed {
    parse_bytes(
        "m",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions::default(),
    )
}

fn parse_strict(format: Format, text: &str) -> Parsed {
    parse_bytes(
        "m",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions { strict: true },
    )
}

/// (code, line, column) of every diagnostic.
fn codes(p: &Parsed) -> Vec<(&'static str, u32, u32)> {
    p.diagnostics
        .iter()
        .map(|d| (d.code, d.line, d.column))
        .collect()
}

fn only(p: &Parsed) -> &Entry {
    assert_eq!(
        p.entries.len(),
        1,
        "entries: {:?}\ndiagnostics: {:?}",
        p.entries,
        p.diagnostics
    );
    &p.entries[0]
}

#[test]
fn csv_header_rules() {
    let cases: &[(&str, Expected)] = &[
        // header cells are trimmed, BOM included
        ("\u{feff} name , protocol \nweb,ssh\n", &[]),
        // reserved headers are case-sensitive
        (
            "Name,protocol\nweb,ssh\n",
            &[("csv-missing-name-header", 1, 1)],
        ),
        (
            "name,Protocol\nweb,ssh\n",
            &[("csv-missing-protocol-header", 1, 1)],
        ),
        (
            "name,name,protocol\nweb,web,ssh\n",
            &[("csv-duplicate-header", 1, 6)],
        ),
        (
            "name, name ,protocol\nweb,web,ssh\n",
            &[("csv-duplicate-header", 1, 6)],
        ),
        // an empty file is a warning, as in JSON and YAML
        ("", &[("empty-file", 1, 1)]),
        (" \n\n", &[("empty-file", 1, 1)]),
        ("name,protocol\n", &[("empty-manifest", 1, 1)]),
        // per-row classification: neither attribute nor parameter
        (
            "name,protocol,hostnme\nweb,ssh,h\n",
            &[("csv-unknown-header", 2, 9)],
        ),
        // unknown header with an empty cell is not checked
        ("name,protocol,hostnme\nweb,ssh,\n", &[]),
        // unknown header in a row with an invalid protocol: only the protocol error
        (
            "name,protocol,hostnme\nweb,sssh,h\n",
            &[("unknown-protocol", 2, 5)],
        ),
        // forced classification: the column is kept as said, and its name is
        // checked like a JSON/YAML one (a warning; the server's schema decides
        // at plan time)
        (
            "name,protocol,hostnme (parameter)\nweb,ssh,h\n",
            &[("unknown-parameter", 1, 15)],
        ),
        (
            "name,protocol,anything (attribute)\nweb,ssh,h\n",
            &[("unknown-attribute", 1, 15)],
        ),
        ("name,protocol,hostname (parameter)\nweb,ssh,h\n", &[]),
        // a record of the wrong length names its line
        (
            "name,protocol\nweb,ssh,extra\nok,ssh\n",
            &[("csv-record-length", 2, 1)],
        ),
        ("name,protocol\n\"web,ssh\n", &[("csv-syntax", 2, 1)]),
    ];
    for (input, expected) in cases {
        let p = parse(Format::Csv, input);
        assert_eq!(codes(&p), *expected, "{input:?}");
    }
}

#[test]
fn csv_values() {
    let p = parse(
        Format::Csv,
        "name,protocol,group,users,groups,hostname,port,max-connections,name (parameter),password\n\
         \"web, one\",ssh,Prod/Web,\" alice ;bob\\;x;;\",ops,\"h\nh\",,3,param-name,\n",
    );
    let e = only(&p);
    assert_eq!(e.name, "web, one");
    assert_eq!(
        e.parent,
        Parent::Group(GroupPath::parse("ROOT/Prod/Web").expect("path"))
    );
    assert_eq!(e.users, ["alice", "bob;x"]);
    assert_eq!(e.groups, ["ops"]);
    assert_eq!(
        e.parameters.get("hostname").map(String::as_str),
        Some("h\nh")
    );
    assert_eq!(
        e.parameters.get("name").map(String::as_str),
        Some("param-name")
    );
    assert!(
        !e.parameters.contains_key("port"),
        "empty cells are dropped"
    );
    assert!(!e.parameters.contains_key("password"));
    assert_eq!(
        e.attributes.get("max-connections").map(String::as_str),
        Some("3")
    );
    assert_eq!((e.source.line, e.source.column), (2, 1));
}

#[test]
fn csv_ambiguous_header() {
    // No bundled protocol has a parameter named like an attribute, so force the
    // situation with a forced and a bare column of the same name instead.
    let p = parse(
        Format::Csv,
        "name,protocol,hostname (parameter),hostname\nweb,ssh,a,b\n",
    );
    assert_eq!(codes(&p), [("duplicate-parameter", 1, 36)]);
}

#[test]
fn json_and_yaml_shape_rules() {
    let cases: &[(Format, &str, Expected)] = &[
        (Format::Json, "{\"name\": \"x\"}", &[("not-a-list", 1, 1)]),
        (Format::Json, "[1]", &[("not-an-object", 1, 2)]),
        (Format::Json, "[]", &[("empty-manifest", 1, 1)]),
        (
            Format::Json,
            "[{\"name\":\"a\",\"protocol\":\"ssh\",\"colour\":1}]",
            &[("unknown-key", 1, 31)],
        ),
        (
            Format::Json,
            "[{\"name\":\"a\",\"protocol\":\"ssh\",\"parameters\":{\"port\":[22]}}]",
            &[("invalid-type", 1, 52)],
        ),
        (
            Format::Json,
            "[{\"name\":\"a\",\"protocol\":\"ssh\",\"users\":\"alice\"}]",
            &[("invalid-type", 1, 39)],
        ),
        (
            Format::Json,
            "[{\"name\":\"a\",\"protocol\":\"ssh\",\"users\":[[\"a\"]]}]",
            &[("invalid-type", 1, 40)],
        ),
        (
            Format::Json,
            "[{\"name\":\"a\",\"protocol\":\"ssh\",\"group\":5}]",
            &[("invalid-type", 1, 39)],
        ),
        (
            Format::Json,
            "[{\"name\":\"a\",\"protocol\":\"ssh\",\"parentIdentifier\":[]}]",
            &[("invalid-type", 1, 50)],
        ),
        (Format::Yaml, "name: x\n", &[("not-a-list", 1, 1)]),
        (Format::Yaml, "- just text\n", &[("not-an-object", 1, 3)]),
        (
            Format::Yaml,
            "- name: a\n  protocol: ssh\n  parameters:\n    <<: {port: 22}\n",
            &[("invalid-type", 4, 9)],
        ),
        (
            Format::Yaml,
            "- name: a\n  protocol: ssh\n  attributes: [1]\n",
            &[("invalid-type", 3, 15)],
        ),
    ];
    for (format, input, expected) in cases {
        let p = parse(*format, input);
        assert_eq!(codes(&p), *expected, "{input:?}");
    }
}

#[test]
fn json_and_yaml_values_become_strings() {
    let p = parse(
        Format::Json,
        r#"[{"name": 7, "protocol": "ssh", "parentIdentifier": 12,
            "parameters": {"port": 0.50e2, "read-only": true, "hostname": "h", "username": null, "domain": ""},
            "attributes": {"weight": 3},
            "users": ["b", " a ", null, "b", 9], "groups": null}]"#,
    );
    let e = only(&p);
    assert_eq!(e.name, "7");
    assert_eq!(e.parent, Parent::Identifier("12".into()));
    assert_eq!(e.parameters.get("port").map(String::as_str), Some("0.50e2"));
    assert!(!e.parameters.contains_key("username"), "null means unset");
    assert!(!e.parameters.contains_key("domain"), "empty means unset");
    assert_eq!(e.attributes.get("weight").map(String::as_str), Some("3"));
    assert_eq!(e.users, ["9", "a", "b"]);
    assert!(e.groups.is_empty());

    let p = parse(
        Format::Yaml,
        "- name: web\n  protocol: ssh\n  parameters:\n    port: 0022\n    font-size: 1.50\n    hostname: yes\n    disable-copy: True\n    username: ~\n",
    );
    let e = only(&p);
    let get = |k: &str| e.parameters.get(k).map(String::as_str);
    assert_eq!(get("port"), Some("0022"));
    assert_eq!(get("font-size"), Some("1.50"));
    assert_eq!(get("hostname"), Some("yes"));
    assert_eq!(get("disable-copy"), Some("true"));
    assert_eq!(get("username"), None);
}

#[test]
fn per_entry_rules() {
    let cases: &[(&str, Expected)] = &[
        ("- {protocol: ssh}", &[("missing-name", 1, 3)]),
        ("- {name: '  ', protocol: ssh}", &[("missing-name", 1, 10)]),
        ("- {name: a}", &[("missing-protocol", 1, 3)]),
        ("- {name: a, protocol: ''}", &[("missing-protocol", 1, 3)]),
        ("- {name: a, protocol: SSH}", &[("unknown-protocol", 1, 23)]),
        (
            "- {name: a, protocol: ssh, group: x, parentIdentifier: 1}",
            &[("ambiguous-parent", 1, 56)],
        ),
        (
            "- {name: a, protocol: ssh, group: ROOTX/a}",
            &[("invalid-group", 1, 35)],
        ),
        (
            "- {name: a, protocol: ssh, group: 'ROOT/ /b'}",
            &[("invalid-group", 1, 35)],
        ),
        (
            "- {name: a, protocol: ssh, parentIdentifier: abc}",
            &[("invalid-parent-identifier", 1, 46)],
        ),
        (
            "- {name: a, protocol: ssh, parameters: {hostnme: h}}",
            &[("unknown-parameter", 1, 41)],
        ),
        (
            "- {name: a, protocol: mysql, parameters: {anything: h}}",
            &[],
        ),
        (
            "- {name: a, protocol: ssh, attributes: {wieght: 1}}",
            &[("unknown-attribute", 1, 41)],
        ),
        (
            "- {name: a, protocol: ssh, attributes: {weight: heavy}}",
            &[("invalid-attribute-value", 1, 49)],
        ),
        (
            "- {name: a, protocol: ssh, attributes: {failover-only: yes}}",
            &[("invalid-attribute-value", 1, 56)],
        ),
        (
            "- {name: a, protocol: ssh, parameters: {password: '${env:}'}}",
            &[("invalid-secret-reference", 1, 51)],
        ),
    ];
    for (input, expected) in cases {
        let p = parse(Format::Yaml, input);
        assert_eq!(codes(&p), *expected, "{input:?}");
        let is_error = expected
            .iter()
            .any(|(c, _, _)| !matches!(*c, "unknown-parameter" | "unknown-attribute"));
        assert_eq!(p.entries.is_empty(), is_error, "{input:?}: {:?}", p.entries);
    }
}

#[test]
fn strict_turns_name_warnings_into_errors() {
    let input = "- {name: a, protocol: ssh, parameters: {hostnme: h}, extra: 1}";
    let lax = parse(Format::Yaml, input);
    assert!(lax.diagnostics.iter().all(|d| !d.is_error()));
    assert_eq!(lax.entries.len(), 1);
    let strict = parse_strict(Format::Yaml, input);
    assert_eq!(
        strict.diagnostics.iter().filter(|d| d.is_error()).count(),
        2
    );
    let unknown = strict
        .diagnostics
        .iter()
        .find(|d| d.code == "unknown-parameter");
    assert_eq!(
        unknown.and_then(|d| d.help.as_deref()),
        Some("did you mean `hostname`?")
    );
}

#[test]
fn option_values_are_canonicalised() {
    let p = parse(
        Format::Yaml,
        "- name: a\n  protocol: rdp\n  parameters:\n    security: ' NLA '\n    ignore-cert: 'TRUE'\n    resize-method: Bogus\n  attributes:\n    failover-only: TRUE\n    guacd-encryption: SSL\n    max-connections: '+04'\n",
    );
    let e = only(&p);
    assert_eq!(e.parameters["security"], "nla");
    assert_eq!(e.parameters["ignore-cert"], "true");
    assert_eq!(
        e.parameters["resize-method"], "Bogus",
        "no match: kept as written"
    );
    assert_eq!(e.attributes["failover-only"], "true");
    assert_eq!(e.attributes["guacd-encryption"], "ssl");
    assert_eq!(
        e.attributes["max-connections"], "4",
        "as the server stores it"
    );
    assert_eq!(codes(&p), [("numeric-attribute-rewritten", 10, 22)]);
    // Spaces: `Integer.valueOf` refuses them and the server would ignore the value.
    let spaced = parse(
        Format::Yaml,
        "- name: a\n  protocol: rdp\n  attributes:\n    max-connections: ' 4 '\n",
    );
    assert_eq!(codes(&spaced), [("invalid-attribute-value", 4, 22)]);
}

#[test]
fn secret_references_and_tokens_kept_byte_for_byte() {
    let p = parse(
        Format::Json,
        r#"[{"name":"a","protocol":"ssh","parameters":{"password":"${env:PW}","username":"${GUAC_USERNAME}","private-key":"$${env:X}"}}]"#,
    );
    let e = only(&p);
    assert_eq!(e.parameters["password"], "${env:PW}");
    assert_eq!(e.parameters["username"], "${GUAC_USERNAME}");
    assert_eq!(e.parameters["private-key"], "$${env:X}");
}

#[test]
fn limits() {
    let long = "x".repeat(4097);
    let p = parse(
        Format::Json,
        &format!(r#"[{{"name":"a","protocol":"ssh","parameters":{{"hostname":"{long}"}}}}]"#),
    );
    assert_eq!(codes(&p), [("value-too-long", 1, 56)]);
    let p = parse(
        Format::Json,
        &format!(r#"[{{"name":"{}","protocol":"ssh"}}]"#, "n".repeat(129)),
    );
    assert_eq!(codes(&p), [("name-too-long", 1, 10)]);
    let p = parse_bytes(
        "m",
        b"name,protocol\nweb,s\xffsh\n",
        Format::Csv,
        Schema::builtin(),
        &ParseOptions::default(),
    );
    assert_eq!(codes(&p), [("invalid-utf8", 2, 6)]);
    let p = parse_bytes(
        "m",
        b"\xff\xfen\x00a\x00",
        Format::Csv,
        Schema::builtin(),
        &ParseOptions::default(),
    );
    assert_eq!(codes(&p), [("utf16-file", 1, 1)]);
    let p = parse(Format::Csv, "name,protocol\nweb\0,ssh\n");
    assert_eq!(codes(&p), [("nul-byte", 2, 4)]);
    let p = parse_bytes(
        "m",
        b"PK\x03\x04rest",
        Format::Json,
        Schema::builtin(),
        &ParseOptions::default(),
    );
    assert_eq!(codes(&p), [("unknown-format", 1, 1)]);
}

#[test]
fn sensitive_values_never_in_messages() {
    let secret = "S3cr3t-Value";
    for (format, input) in [
        (
            Format::Yaml,
            format!("- {{name: a, protocol: ssh, parameters: {{password: '{secret}${{env:'}}}}"),
        ),
        (
            Format::Json,
            format!(
                r#"[{{"name":"a","protocol":"ssh","parameters":{{"password":"{secret}{}"}}}}]"#,
                "y".repeat(4096)
            ),
        ),
    ] {
        let p = parse(format, &input);
        assert!(!p.diagnostics.is_empty(), "{input}");
        for d in &p.diagnostics {
            assert!(
                !d.message.contains(secret) && !d.help.clone().unwrap_or_default().contains(secret),
                "{d:?}"
            );
        }
    }
}

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
