//! Export → parse for estate documents (issue 13): for any estate a server may
//! hold — connection groups with types and attributes, sharing profiles with
//! parameters, users and user groups with awkward names, attributes, members,
//! system permissions and every object permission — what `export --estate`
//! writes (YAML and JSON, one document with the connections or the estate
//! alone) reads back, through the same reader `plan` uses, as exactly what was
//! observed: every fact of the server is in the document, nothing else is, and
//! every field is written (exact), so no drift can hide. With a scope, exactly
//! the facts inside it.
//!
//! One binary: the property is here; `strategy` generates servers, `server` turns
//! them into what guacsync observes, `expected` and `facts` say what an export
//! must carry and what a document does carry.

mod expected;
mod facts;
mod server;
mod strategy;

use std::collections::BTreeSet;

use guacsync::estate::write as estate_write;
use guacsync::export::{Secrets, export, export_estate};
use guacsync::manifest::{self, Format, ParseOptions};
use guacsync::model::{Entry, GroupPath};
use guacsync::schema::Schema;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use expected::observed_facts;
use facts::{Facts, all_written};
use server::observed;
use strategy::raw;

const SESSION: &str = "guacadmin";

fn parse(format: Format, text: &str) -> manifest::Parsed {
    manifest::parse_bytes(
        "exported",
        text.as_bytes(),
        format,
        Schema::builtin(),
        &ParseOptions::default(),
    )
}

proptest! {
    // The regressions file sits beside this file: proptest's default would look for
    // it in tests/proptest-regressions/ now that this directory has a main.rs.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn export_then_parse_reads_back_what_was_observed(raw in raw(), scoped in any::<bool>()) {
        let o = observed(&raw);
        let scope: Vec<GroupPath> = if scoped { o.groups.keys().next().cloned().into_iter().collect() } else { Vec::new() };
        let connections = export(&o, &scope, Secrets::Include, Schema::builtin());
        let mut used = BTreeSet::new();
        let exported = export_estate(&o, &scope, Secrets::Include, &mut used);
        prop_assert!(exported.warnings.is_empty(), "{:?}", exported.warnings);
        prop_assert!(exported.secrets.is_empty());
        prop_assert!(exported.estate.users.iter().all(|u| u.username != SESSION && u.password.is_none()));
        for (format, with_connections, text) in [
            (Format::Yaml, true, estate_write::to_yaml(&exported.estate, Some(&connections.entries), "# header\n")),
            (Format::Yaml, false, estate_write::to_yaml(&exported.estate, None, "")),
            (Format::Json, true, estate_write::to_json(&exported.estate, Some(&connections.entries))),
            (Format::Json, false, estate_write::to_json(&exported.estate, None)),
        ] {
            let parsed = parse(format, &text);
            let unexpected: Vec<_> = parsed.diagnostics.iter()
                .filter(|d| d.is_error() || !["unknown-attribute", "unknown-parameter", "self-membership"].contains(&d.code))
                .collect();
            prop_assert!(unexpected.is_empty(), "{format:?}: {unexpected:?}\n{text}");
            let entries: &[Entry] = if with_connections { &parsed.entries } else { &[] };
            if with_connections {
                prop_assert_eq!(parsed.entries.len(), connections.entries.len(), "{}", text);
            } else {
                prop_assert!(parsed.entries.is_empty());
            }
            let read = Facts::of(&parsed.estate, entries);
            let expected = observed_facts(&o, scope.first(), with_connections);
            prop_assert_eq!(&read.said, &expected, "{:?}\n{}", format, text);
            prop_assert_eq!(&read.written, &all_written(&parsed.estate), "{:?}\n{}", format, text);
            // The exported objects themselves, not only their facts, read back.
            let exported_entries: &[Entry] = if with_connections { &connections.entries } else { &[] };
            let sent = Facts::of(&exported.estate, exported_entries);
            prop_assert_eq!(sent.said, read.said);
            prop_assert_eq!(sent.written, read.written);
        }
        // Byte-identical when written again.
        prop_assert_eq!(
            estate_write::to_yaml(&exported.estate, None, ""),
            estate_write::to_yaml(&export_estate(&o, &scope, Secrets::Include, &mut BTreeSet::new()).estate, None, "")
        );
    }
}
