//! The hostile-input corpus (issue 7, part 2): every file under `tests/corpus/`
//! and a few generated ones (a 1 MB cell, a 100 MB file, a million diagnostics,
//! symlink loops) through the real binary.
//!
//! For each: the exit code and diagnostic codes are those `tests/corpus/expected.txt`
//! names; the run ends within a hang guard (10 s; the figures printed are the real
//! times, which the README reports) under a kernel address-space limit of 2 GiB
//! (`ulimit -v`), so bounded memory is enforced rather than hoped for; stderr stays
//! small whatever the input; and `plan` on an input with errors sends no request
//! to the server.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{principals_only, repo, server};

/// 2 GiB of address space (KiB): the binary's threads reserve their stacks inside
/// it; a 64 MiB manifest parsed at its worst fits; an unbounded expansion does not.
const ADDRESS_SPACE_KIB: u64 = 2 * 1024 * 1024;
const HANG_GUARD: Duration = Duration::from_secs(10);
/// Whatever the input, what guacsync prints about it stays this small.
const MAX_STDERR: usize = 256 * 1024;

struct Case {
    file: String,
    exit: i32,
    codes: Vec<String>,
}

fn table() -> Vec<Case> {
    let text = std::fs::read_to_string(repo().join("tests/corpus/expected.txt")).expect("table");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 3, "bad table line {l:?}");
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

struct Run {
    output: Output,
    elapsed: Duration,
}

/// Runs the binary with `args` in `dir`, under the address-space limit and the
/// hang guard, against `url` (a server that must not be contacted).
async fn run(dir: &Path, args: &[&str], url: &str) -> Run {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.current_dir(dir)
        .arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_guacsync"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GUACAMOLE_URL", url)
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    let start = Instant::now();
    let output = tokio::time::timeout(HANG_GUARD, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{args:?} did not finish within {HANG_GUARD:?}"))
        .expect("guacsync runs");
    Run {
        output,
        elapsed: start.elapsed(),
    }
}

struct Outcome {
    name: String,
    codes: Vec<String>,
    ms: u128,
    stderr_bytes: usize,
}

/// Checks one input: validate's exit code and codes, bounded output, and that
/// `plan` on an input with errors contacts no server.
async fn check(
    dir: &Path,
    file: &str,
    exit: i32,
    expected: &[String],
    server: &guacamole_testserver::RunningServer,
) -> Outcome {
    let v = run(dir, &["validate", file], server.base_url()).await;
    let stderr = String::from_utf8_lossy(&v.output.stderr).into_owned();
    let codes = common::diagnostic_codes(&stderr);
    assert_eq!(
        v.output.status.code(),
        Some(exit),
        "{file}: exit code\n{}",
        &stderr[..stderr.len().min(4000)]
    );
    for code in expected {
        assert!(codes.contains(code), "{file}: no {code} in {codes:?}");
    }
    if expected.is_empty() {
        assert!(codes.is_empty(), "{file}: unexpected {codes:?}");
    }
    assert!(
        stderr.len() + v.output.stdout.len() < MAX_STDERR,
        "{file}: {} bytes of output",
        stderr.len() + v.output.stdout.len()
    );
    if exit != 0 {
        server.clear_requests();
        let p = run(dir, &["plan", file], server.base_url()).await;
        assert_eq!(p.output.status.code(), Some(1), "{file}: plan exit code");
        assert!(
            server.requests().is_empty(),
            "{file}: plan contacted the server: {:?}",
            common::summary(&server.requests())
        );
    }
    Outcome {
        name: file.to_owned(),
        codes,
        ms: v.elapsed.as_millis(),
        stderr_bytes: stderr.len(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_gives_its_expected_diagnostics_quickly_and_sends_nothing() {
    let corpus = repo().join("tests/corpus");
    let cases = table();
    // The table and the directory list the same files.
    let mut listed: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.txt")
        .collect();
    present.sort();
    assert_eq!(listed, present, "tests/corpus/expected.txt is out of date");

    let server = server(principals_only()).await;
    let mut outcomes = Vec::new();
    for c in &cases {
        outcomes.push(check(&corpus, &c.file, c.exit, &c.codes, &server).await);
    }
    report(&outcomes);
    assert_eq!(outcomes.len(), cases.len());
    assert!(cases.len() >= 40);
}

fn report(outcomes: &[Outcome]) {
    eprintln!("| input | codes | ms | stderr bytes |");
    for o in outcomes {
        eprintln!(
            "| {} | {} | {} | {} |",
            o.name,
            o.codes.join(", "),
            o.ms,
            o.stderr_bytes
        );
    }
}

/// Inputs too large to commit, made in a temp dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_giants_and_symlink_loops() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let server = server(principals_only()).await;
    let mut outcomes = Vec::new();

    // A 1 MB cell: refused as too long (Guacamole stores at most 4096 characters).
    let mut cell = String::from("name,protocol,hostname\nweb,ssh,");
    cell.push_str(&"a".repeat(1024 * 1024));
    cell.push('\n');
    std::fs::write(dir.join("one-mb-cell.csv"), &cell).expect("write");
    outcomes.push(
        check(
            dir,
            "one-mb-cell.csv",
            1,
            &["value-too-long".into()],
            &server,
        )
        .await,
    );

    // A 1 MB cell that is not closed: one syntax error, not a megabyte of output.
    std::fs::write(
        dir.join("one-mb-open-quote.csv"),
        cell.replace("web,ssh,", "web,ssh,\""),
    )
    .expect("write");
    outcomes.push(
        check(
            dir,
            "one-mb-open-quote.csv",
            1,
            &["csv-syntax".into()],
            &server,
        )
        .await,
    );

    // 100 MB of otherwise valid rows: refused before it is read.
    {
        let f = std::fs::File::create(dir.join("hundred-mb.csv")).expect("create");
        let mut w = std::io::BufWriter::new(f);
        writeln!(w, "name,protocol,hostname").expect("write");
        let mut n = 0u64;
        let mut written = 0u64;
        while written < 100 * 1024 * 1024 {
            let line = format!("host-{n},ssh,host-{n}.corp.example.com\n");
            written += line.len() as u64;
            w.write_all(line.as_bytes()).expect("write");
            n += 1;
        }
        w.flush().expect("flush");
    }
    outcomes.push(
        check(
            dir,
            "hundred-mb.csv",
            1,
            &["file-too-large".into()],
            &server,
        )
        .await,
    );

    // 300,000 rows, each an error: every one is found, the first hundred shown.
    {
        use std::fmt::Write as _;
        let mut text = String::from("name,protocol,hostname\n");
        for n in 0..300_000 {
            let _ = writeln!(text, "h{n},SSH,h");
        }
        std::fs::write(dir.join("many-errors.csv"), text).expect("write");
    }
    let o = check(
        dir,
        "many-errors.csv",
        1,
        &["unknown-protocol".into()],
        &server,
    )
    .await;
    assert!(o.stderr_bytes < 64 * 1024, "{} bytes", o.stderr_bytes);
    outcomes.push(o);
    let v = run(dir, &["validate", "many-errors.csv"], server.base_url()).await;
    let stderr = String::from_utf8_lossy(&v.output.stderr);
    assert!(
        stderr.contains("299900 more diagnostic(s) not shown"),
        "{}",
        &stderr[stderr.len().saturating_sub(500)..]
    );

    // Symlink loops in a manifests directory: a directory linking to its parent,
    // and a file linking to itself.
    let m = dir.join("manifests");
    std::fs::create_dir_all(m.join("sub")).expect("mkdir");
    std::fs::write(
        m.join("ok.yaml"),
        "- name: a\n  protocol: ssh\n  parameters: {hostname: h}\n",
    )
    .expect("write");
    std::os::unix::fs::symlink("..", m.join("sub/up")).expect("symlink");
    std::os::unix::fs::symlink("self.yaml", m.join("self.yaml")).expect("symlink");
    let o = check(dir, "manifests", 1, &["symlink-loop".into()], &server).await;
    outcomes.push(o);

    report(&outcomes);
    assert_eq!(outcomes.len(), 5);
}
