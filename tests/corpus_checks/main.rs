//! The hostile-input corpus, second pass (issue 7, part 2). `tests/hostile_input.rs`
//! runs every file of `tests/corpus/` through `validate` (text) and `plan`; this file
//! adds what that one does not check:
//!
//! - every corpus file through `validate --format json`, whose diagnostics must carry
//!   the codes `tests/corpus/expected.txt` names (and none when it names none), with
//!   the exit code agreeing with their severities, and no output holding the corpus's
//!   secret in any form it is written in;
//! - each run's peak RSS (through `/usr/bin/time` where it exists; without it that
//!   figure is skipped and only the address-space limit below holds);
//! - generated inputs that made guacsync hang, balloon or print a megabyte before
//!   the fixes that came with this file: a 300,000-column header, 50,000 keys in one
//!   JSON or YAML object (duplicate detection was quadratic), nested YAML anchors
//!   around an 8 MB scalar (each anchor copied its subtree), 600,000 erroneous rows
//!   (every diagnostic was kept), megabyte-long names (printed whole, and a
//!   "did you mean" distance of a megabyte by every known name), and a manifests
//!   directory holding symlink loops and a file of an unknown extension, and the
//!   two new size limits: ten million values in a document, a million connections
//!   in a file (64 MiB of two-byte values or six-byte rows took over 2 GB), and for
//!   estate documents a million and one references (the per-file limit on objects
//!   and references) and 50,000 permission targets with a normalised duplicate.
//!   For each: exit code, codes, bounded output, and that `plan` sends no request.
//!
//! Every run is under a kernel address-space limit (`ulimit -v`) of 2 GiB: the
//! binary's tokio worker threads reserve stacks and glibc reserves a 64 MiB malloc
//! arena per thread inside it, a few hundred MiB of address space that is never
//! touched, so the limit is set well above the RSS bounds asserted here. Times are
//! printed, not asserted (timed assertions are flaky on shared machines): the guard
//! (10 s; 60 s for the few inputs that take seconds in a debug build) only catches
//! a hang.
//!
//! One binary: the runner (address-space limit, hang guard, peak RSS, JSON codes,
//! the printed tables) is here; the committed corpus and each family of generated
//! inputs are in their own modules.

#[path = "../common/mod.rs"]
mod common;
mod corpus_files;
mod directories_and_estates;
mod floods;
mod generated;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{principals_only, repo, server};

const ADDRESS_SPACE_KIB: u64 = 2 * 1024 * 1024;
const HANG_GUARD: Duration = Duration::from_secs(10);
/// The corpus's secret, written in escaped forms in some of its files; no output
/// may contain its first five characters, in which no escape falls.
const CORPUS_SECRET_PREFIX: &str = "S3cre";

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    ms: u128,
    /// Peak resident set size in KiB, when `/usr/bin/time` could measure it.
    peak_kib: Option<u64>,
}

const TIME: &str = "/usr/bin/time";

/// Runs the binary with `args` in `dir` under the address-space limit and `guard`,
/// against `url` (a server that must not be contacted unless the input is valid).
async fn run_with(dir: &Path, args: &[&str], url: &str, guard: Duration) -> Run {
    let rss = tempfile::NamedTempFile::new().expect("temp file");
    let limited = format!("ulimit -v {ADDRESS_SPACE_KIB}; exec \"$0\" \"$@\"");
    let measured = Path::new(TIME).exists();
    let mut cmd = if measured {
        let mut c = tokio::process::Command::new(TIME);
        c.arg("-f").arg("%M").arg("-o").arg(rss.path()).arg("sh");
        c
    } else {
        tokio::process::Command::new("sh")
    };
    cmd.current_dir(dir)
        .arg("-c")
        .arg(limited)
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
    let output = tokio::time::timeout(guard, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{args:?} did not finish within {guard:?}"))
        .expect("guacsync runs");
    let ms = start.elapsed().as_millis();
    // GNU time writes "Command terminated by signal N" before the figure when the
    // child dies of a signal; the figure is the last line.
    let peak_kib = measured
        .then(|| std::fs::read_to_string(rss.path()).ok())
        .flatten()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    Run {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        ms,
        peak_kib,
    }
}

async fn run(dir: &Path, args: &[&str], url: &str) -> Run {
    run_with(dir, args, url, HANG_GUARD).await
}

/// The codes of `validate --format json`'s diagnostics, and whether any is an error.
fn json_codes(stdout: &[u8], what: &str) -> (Vec<String>, bool) {
    let doc: serde_json::Value = serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e})"));
    let diagnostics = doc["diagnostics"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no diagnostics list"));
    let mut codes = Vec::new();
    let mut any_error = false;
    for d in diagnostics {
        let code = d["code"].as_str().expect("code").to_owned();
        any_error |= d["severity"] == "error";
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes.sort();
    (codes, any_error)
}

struct Row {
    input: String,
    codes: String,
    ms: u128,
    peak_kib: Option<u64>,
    output_bytes: usize,
}

fn report(title: &str, rows: &[Row]) {
    eprintln!("{title}");
    eprintln!("| input | codes | ms | peak RSS KiB | output bytes |");
    for r in rows {
        eprintln!(
            "| {} | {} | {} | {} | {} |",
            r.input,
            r.codes,
            r.ms,
            r.peak_kib.map_or_else(|| "-".to_owned(), |k| k.to_string()),
            r.output_bytes
        );
    }
}
