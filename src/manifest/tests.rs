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

mod files;
