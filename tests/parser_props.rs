//! Property tests of the manifest parsers: arbitrary bytes never panic and give a
//! bounded result; any model written by the writers parses back to the same model.

use std::collections::BTreeMap;

use guacsync::manifest::{self, Format, ParseOptions, write};
use guacsync::model::{Entry, GroupPath, Parent, Source};
use guacsync::schema::{FieldType, Schema};
use proptest::prelude::*;

fn parse(format: Format, text: &str) -> manifest::Parsed {
    manifest::parse_bytes(
        "p",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions::default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in [Format::Csv, Format::Json, Format::Yaml] {
            let p = manifest::parse_bytes("p", &bytes, format, Schema::builtin(), &ParseOptions::default());
            // Bounded: never more entries than lines, every diagnostic placed in the file.
            let lines = bytes.split(|&b| b == b'\n' || b == b'\r').count();
            prop_assert!(p.entries.len() <= lines);
            for d in &p.diagnostics {
                prop_assert!(d.line >= 1 && d.column >= 1);
                prop_assert!(d.line as usize <= lines.max(1) + 1);
            }
        }
    }

    #[test]
    fn structured_noise_never_panics(text in "[\\[\\]{}:,\"'\\-\\n a-z0-9#&*!|>~\\\\]{0,300}") {
        for format in [Format::Csv, Format::Json, Format::Yaml] {
            let _ = parse(format, &text);
        }
    }
}

/// Characters that stress every writer: separators, quotes, escapes, YAML
/// indicators, non-ASCII, and a newline.
const TRICKY: &[char] = &[
    'a', 'Z', '0', '9', ' ', ',', ';', '"', '\'', '\\', '/', ':', '#', '-', '?', '{', '}', '[',
    ']', '&', '*', '!', '|', '>', '%', '@', '`', '$', '.', '=', 'é', '中', '\n', '\t',
];

fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TRICKY), min..=max)
        .prop_map(|cs| cs.into_iter().collect::<String>())
}

/// A non-blank name without line breaks or tabs.
fn name() -> impl Strategy<Value = String> {
    text(1, 12)
        .prop_map(|s| s.replace(['\n', '\t'], "_"))
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

/// A value for a parameter of a protocol: options must be canonical already (the
/// parser rewrites them), free text anything non-empty.
fn parameter(protocol: &'static str) -> impl Strategy<Value = (String, String)> {
    let fields = Schema::builtin()
        .protocol(protocol)
        .and_then(|p| p.fields.clone())
        .unwrap_or_default();
    proptest::sample::select(fields).prop_flat_map(|f| {
        let name = f.name.clone();
        let options: Vec<String> = f
            .options
            .iter()
            .filter(|o| !o.is_empty())
            .cloned()
            .collect();
        let value: BoxedStrategy<String> =
            if matches!(f.field_type, FieldType::Enum | FieldType::Boolean) {
                proptest::sample::select(options).boxed()
            } else {
                text(1, 20)
                    .prop_filter("not an option spelling", move |v| {
                        let lower = v.trim().to_lowercase();
                        ![
                            "",
                            "black-white",
                            "gray-black",
                            "green-black",
                            "white-black",
                        ]
                        .contains(&lower.as_str())
                    })
                    .boxed()
            };
        value.prop_map(move |v| (name.clone(), v))
    })
}

fn entry() -> impl Strategy<Value = Entry> {
    let protocol = proptest::sample::select(vec!["vnc", "rdp", "ssh", "telnet", "kubernetes"]);
    protocol.prop_flat_map(|protocol| {
        (
            name(),
            proptest::collection::vec(name(), 0..3),
            proptest::collection::btree_map(
                parameter(protocol).prop_map(|(k, v)| (k, v)),
                Just(()),
                0..6,
            ),
            proptest::option::of(0u16..500),
            proptest::collection::vec(name().prop_map(|n| n.trim().to_owned()), 0..3),
            proptest::collection::vec(name().prop_map(|n| n.trim().to_owned()), 0..3),
        )
            .prop_map(move |(name, segments, params, weight, users, groups)| {
                let mut users: Vec<String> = users.into_iter().filter(|u| !u.is_empty()).collect();
                users.sort();
                users.dedup();
                let mut groups: Vec<String> =
                    groups.into_iter().filter(|u| !u.is_empty()).collect();
                groups.sort();
                groups.dedup();
                let segments: Vec<String> = segments
                    .into_iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut attributes = BTreeMap::new();
                if let Some(w) = weight {
                    attributes.insert("weight".to_owned(), w.to_string());
                }
                Entry {
                    name,
                    protocol: protocol.to_owned(),
                    parent: Parent::Group(GroupPath::from_segments(segments)),
                    parameters: params.into_keys().collect(),
                    attributes: attributes.into(),
                    users,
                    groups,
                    source: Source {
                        file: String::new(),
                        line: 0,
                        column: 0,
                    },
                }
            })
    })
}

/// Entries without their sources, for comparison.
fn strip(entries: &[Entry]) -> Vec<Entry> {
    entries
        .iter()
        .map(|e| Entry {
            source: Source {
                file: String::new(),
                line: 0,
                column: 0,
            },
            ..e.clone()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn writers_round_trip(entries in proptest::collection::vec(entry(), 1..6)) {
        let schema = Schema::builtin();
        for (format, written) in [
            (Format::Csv, write::to_csv(&entries, schema)),
            (Format::Json, write::to_json(&entries)),
            (Format::Yaml, write::to_yaml(&entries)),
        ] {
            let parsed = parse(format, &written);
            let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
            prop_assert!(errors.is_empty(), "{format:?}: {errors:?}\n{written}");
            prop_assert_eq!(strip(&parsed.entries), strip(&entries), "{:?}\n{}", format, written);
        }
    }
}

/// The server `entries` describe, as guacsync observes it: every group on the
/// way, each connection with its parameters and attributes, READ for its users
/// and user groups.
fn observed_from(entries: &[Entry]) -> guacsync::observed::Observed {
    use guacsync::model::{ConnKey, Principal};
    use guacsync::observed::{Observed, ObservedConnection, ObservedGroup, ObservedPrincipal};
    let mut o = Observed {
        data_source: "postgresql".into(),
        session_user: "guacadmin".into(),
        ..Observed::default()
    };
    for (n, e) in entries.iter().enumerate() {
        let Parent::Group(path) = &e.parent else {
            continue;
        };
        let mut ancestors = Vec::new();
        let mut p = path.clone();
        while !p.is_root() {
            ancestors.push(p.clone());
            match p.parent() {
                Some(up) => p = up,
                None => break,
            }
        }
        for g in ancestors {
            let next = o.groups.len() + 1;
            o.groups.entry(g).or_insert_with(|| ObservedGroup {
                identifier: next.to_string(),
                group_type: "ORGANIZATIONAL".into(),
            });
        }
        let id = (n + 1).to_string();
        o.connections.insert(
            ConnKey {
                group: path.clone(),
                name: e.name.clone(),
            },
            ObservedConnection {
                identifier: id.clone(),
                protocol: e.protocol.clone(),
                parameters: Some(e.parameters.clone()),
                attributes: e.attributes.clone(),
                active_connections: 0,
            },
        );
        let principals = e
            .users
            .iter()
            .map(|u| Principal::User(u.clone()))
            .chain(e.groups.iter().map(|g| Principal::UserGroup(g.clone())));
        for p in principals {
            match &p {
                Principal::User(u) => o
                    .users
                    .insert(u.clone(), ObservedPrincipal::default())
                    .is_none(),
                Principal::UserGroup(g) => o
                    .user_groups
                    .insert(g.clone(), ObservedPrincipal::default())
                    .is_none(),
            };
            o.grants
                .entry(p)
                .or_default()
                .connections
                .insert(id.clone());
        }
    }
    o
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Export → parse is the identity: what `export` writes from a server, in each
    /// format, parses back to the same connections, and a plan from it against
    /// that server has nothing to do.
    #[test]
    fn export_then_parse_is_the_identity(entries in proptest::collection::vec(entry(), 1..8)) {
        use guacsync::desired::Desired;
        use guacsync::diff::{Options, diff};
        use guacsync::export::{Secrets, export};
        let schema = Schema::builtin();
        // One connection per identity; no text that reads as a secret reference
        // (a plan would resolve it, by design); no user named after the session.
        let mut seen = std::collections::BTreeSet::new();
        let entries: Vec<Entry> = entries
            .into_iter()
            .filter(|e| seen.insert((format!("{:?}", e.parent), e.name.clone())))
            .filter(|e| !e.parameters.values().any(|v| guacsync::secret::has_reference(v)))
            .filter(|e| !e.users.iter().any(|u| u == "guacadmin"))
            .collect();
        let observed = observed_from(&entries);
        let exported = export(&observed, &[], Secrets::Include, schema);
        prop_assert!(exported.secrets.is_empty());
        let mut sorted_in = strip(&entries);
        sorted_in.sort_by(|a, b| (format!("{:?}", a.parent), &a.name).cmp(&(format!("{:?}", b.parent), &b.name)));
        let mut sorted_out = strip(&exported.entries);
        sorted_out.sort_by(|a, b| (format!("{:?}", a.parent), &a.name).cmp(&(format!("{:?}", b.parent), &b.name)));
        prop_assert_eq!(&sorted_out, &sorted_in);
        for (format, written) in [
            (Format::Csv, write::to_csv(&exported.entries, schema)),
            (Format::Json, write::to_json(&exported.entries)),
            (Format::Yaml, write::to_yaml(&exported.entries)),
        ] {
            let parsed = parse(format, &written);
            let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
            prop_assert!(errors.is_empty(), "{format:?}: {errors:?}\n{written}");
            let (desired, problems) = Desired::build(parsed.entries, &guacsync::secret::SystemLookup::new(guacsync::secret::Policy::default()), schema);
            prop_assert!(problems.is_empty(), "{problems:?}");
            let options = Options { parent_group_read: false, ..Options::default() };
            let plan = diff(&desired, &observed, &options, &[]);
            let plan = match plan {
                Ok(p) => p,
                Err(e) => return Err(TestCaseError::fail(format!("{format:?}: {e:?}\n{written}"))),
            };
            prop_assert!(plan.is_empty(), "{format:?}: {}\n{written}", guacsync::plan::render_text(&plan, false));
        }
    }
}
