//! Tests of the estate writer: YAML and JSON written as the reader reads them back.

use super::*;

#[test]
fn long_keys_are_explicit() {
    let mut out = String::new();
    key(&mut out, 2, &"a".repeat(MAX_IMPLICIT_KEY + 1));
    assert!(out.starts_with("  ? aaa"), "{out}");
    assert!(out.ends_with("\n  :"), "{out}");
    let mut out = String::new();
    key(&mut out, 0, "ROOT/a\\/b");
    assert_eq!(out, "ROOT/a\\/b:");
    let mut out = String::new();
    key(&mut out, 0, "a: b");
    assert_eq!(out, "\"a: b\":");
}

/// A permission target longer than YAML's implicit keys may be reads back.
#[test]
fn a_long_target_reads_back() {
    use crate::estate::model::{Grant, Level, Permissions, Ref, UserGroup};
    use crate::manifest::{Format, ParseOptions, parse_bytes};
    use crate::model::{GroupPath, Source};
    let deep =
        GroupPath::from_segments((0..10).map(|i| format!("{i}{}", "x".repeat(119))).collect());
    let source = Source {
        file: String::new(),
        line: 0,
        column: 0,
    };
    let estate = Estate {
        user_groups: vec![UserGroup {
            name: "ops".into(),
            disabled: None,
            member_users: None,
            member_groups: None,
            system: None,
            permissions: Permissions {
                connection_groups: Some(vec![Grant {
                    target: Ref {
                        target: deep.clone(),
                        source: source.clone(),
                    },
                    levels: vec![Level::Read, Level::Update],
                }]),
                ..Permissions::default()
            },
            source,
        }],
        ..Estate::default()
    };
    let text = to_yaml(&estate, None, "");
    assert!(text.contains("? "), "{text}");
    let parsed = parse_bytes(
        "x.yaml",
        text.as_bytes(),
        Format::Yaml,
        crate::schema::Schema::builtin(),
        &ParseOptions::default(),
    );
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let grants = parsed.estate.user_groups[0]
        .permissions
        .connection_groups
        .clone()
        .expect("written");
    assert_eq!(grants[0].target.target, deep);
    assert_eq!(grants[0].levels, [Level::Read, Level::Update]);
}
