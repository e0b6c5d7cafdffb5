//! The committed corpus: `tests/corpus/expected.txt` lists exactly the files of
//! `tests/corpus/`, and every file through `validate --format json` carries the
//! codes the table names, with its exit code, no secret, and a small peak RSS.

use super::*;

pub(crate) struct Case {
    pub(crate) file: String,
    pub(crate) exit: i32,
    pub(crate) codes: Vec<String>,
}

pub(crate) fn table() -> Vec<Case> {
    let text = std::fs::read_to_string(repo().join("tests/corpus/expected.txt")).expect("table");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "file, exit, codes, description: {l:?}");
            assert!(!cols[3].trim().is_empty(), "no description: {l:?}");
            Case {
                file: cols[0].to_owned(),
                exit: cols[1].parse().expect("exit code"),
                codes: if cols[2] == "-" {
                    Vec::new()
                } else {
                    cols[2].split(',').map(str::to_owned).collect()
                },
            }
        })
        .collect()
}

/// Every committed corpus file is in the table and every table entry is a file, so
/// a new case cannot be forgotten in either place.
#[test]
fn the_table_and_the_directory_list_the_same_files() {
    let mut listed: Vec<String> = table().into_iter().map(|c| c.file).collect();
    let before = listed.len();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), before, "a file is listed twice");
    let mut present: Vec<String> = std::fs::read_dir(repo().join("tests/corpus"))
        .expect("corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.txt")
        .collect();
    present.sort();
    assert_eq!(listed, present, "tests/corpus/expected.txt is out of date");
    assert!(listed.len() >= 60, "{} files", listed.len());
}

/// Peak RSS of any committed (small) corpus file: the binary's own footprint and
/// then some.
const SMALL_INPUT_PEAK_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_in_json_with_its_codes_and_small_memory() {
    let corpus = repo().join("tests/corpus");
    // No request is expected: `validate` never talks to a server.
    let server = server(principals_only()).await;
    let mut rows = Vec::new();
    for case in table() {
        let what = &case.file;
        let r = run(
            &corpus,
            &["validate", "--format", "json", what],
            server.base_url(),
        )
        .await;
        assert_eq!(r.code, Some(case.exit), "{what}: exit code\n{}", r.stderr);
        assert!(r.stderr.is_empty(), "{what}: stderr {:?}", r.stderr);
        let (codes, any_error) = json_codes(&r.stdout, what);
        for code in &case.codes {
            assert!(codes.contains(code), "{what}: no {code} in {codes:?}");
        }
        if case.codes.is_empty() {
            assert!(codes.is_empty(), "{what}: unexpected {codes:?}");
        }
        assert_eq!(any_error, case.exit == 1, "{what}: severities vs exit code");
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(
            !stdout.contains(CORPUS_SECRET_PREFIX),
            "{what}: the secret is in the JSON"
        );
        // The text form too: a shown source line must mask a secret however it is
        // written (escapes included).
        let t = run(&corpus, &["validate", what], server.base_url()).await;
        assert_eq!(t.code, Some(case.exit), "{what}: text exit code");
        assert_eq!(
            common::diagnostic_codes(&t.stderr),
            codes,
            "{what}: text and JSON codes"
        );
        assert!(
            !t.stderr.contains(CORPUS_SECRET_PREFIX),
            "{what}: the secret is in\n{}",
            t.stderr
        );
        if let Some(peak) = r.peak_kib {
            assert!(peak < SMALL_INPUT_PEAK_KIB, "{what}: peak RSS {peak} KiB");
        }
        rows.push(Row {
            input: what.clone(),
            codes: if codes.is_empty() {
                "-".to_owned()
            } else {
                codes.join(", ")
            },
            ms: r.ms,
            peak_kib: r.peak_kib,
            output_bytes: r.stdout.len(),
        });
    }
    assert!(
        server.requests().is_empty(),
        "validate contacted the server"
    );
    report("validate --format json, every corpus file:", &rows);
    assert!(rows.len() >= 60);
}
