//! Issue 15, target 5: `guacsync watch` must not grow. The release binary watches
//! a manifest of `count` connections that the test server already holds, one
//! round every 100 ms, for `rounds` rounds; its resident set (`VmRSS` from
//! `/proc/<pid>/status`) is read right after the log line of rounds 10, 50, 100,
//! 150 and the last, so every reading is taken at the same point of the loop (the
//! round's work done, the wait begun). A leak of a round's data would show as a
//! steady rise from one reading to the next.
//!
//! The binary is driven only through its public command line and its stdout (one
//! JSON line per round), as an operator runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use guacsync::manifest::write;
use guacsync::schema::Schema;

use super::{inventory, runtime, start_server, state_for};

/// Rounds after which the resident set is read (the last one is added).
const READ_AFTER: [usize; 4] = [10, 50, 100, 150];

/// The watcher, killed when dropped (also when the benchmark panics), so no
/// process outlives the harness.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| panic!("no {field} for process {pid}"))
}

/// The manifest and a `guacsync.toml` that lets the inventory's
/// `${env:SSH_PASSWORD}` resolve (the default concurrency is kept).
fn write_manifests(dir: &Path, count: usize) {
    let entries = inventory(count);
    std::fs::write(
        dir.join("inventory.csv"),
        write::to_csv(&entries, Schema::builtin()),
    )
    .expect("write the manifest");
    std::fs::write(
        dir.join("guacsync.toml"),
        "[secrets]\nenv = [\"SSH_PASSWORD\"]\n",
    )
    .expect("write guacsync.toml");
}

/// The watch scenario: prints one table row.
pub fn watch_scenario(count: usize, rounds: usize) {
    assert!(
        rounds > 10,
        "at least 11 rounds: the first reading is after 10"
    );
    let entries = inventory(count);
    let dir = tempfile::tempdir().expect("dir");
    write_manifests(dir.path(), count);
    let rt = runtime();
    let server = rt.block_on(start_server(state_for(&entries), Duration::ZERO, 0));
    drop(entries);
    let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_guacsync"))
            .args([
                "watch",
                "inventory.csv",
                "--interval",
                "100ms",
                "--settle",
                "0s",
                "--log-format",
                "json",
            ])
            .current_dir(dir.path())
            .env_clear()
            .env("GUACAMOLE_URL", server.base_url())
            .env("GUACAMOLE_USERNAME", "guacadmin")
            .env("GUACAMOLE_PASSWORD", "guacadmin")
            .env("SSH_PASSWORD", "bench-secret")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("guacsync watch starts"),
    );
    let pid = child.0.id();
    let out = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut readings: Vec<(usize, u64)> = Vec::new();
    let mut durations: Vec<u64> = Vec::new();
    // Every round's reading too: single readings swing by several megabytes
    // from round to round (what the allocator holds between rounds), so the
    // target is also judged on the medians of ten rounds around round 10 and of
    // the last ten.
    let mut every: Vec<u64> = Vec::new();
    let before = server.request_count();
    let mut lines = out.lines();
    for round in 1..=rounds {
        let Some(Ok(line)) = lines.next() else {
            panic!(
                "watch stopped after {} rounds: {}",
                round - 1,
                std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
            );
        };
        let log: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        // Every round must find the server equal to the manifests: a round that
        // plans, fails or settles would measure something else.
        assert_eq!(log["outcome"], "in-sync", "round {round}: {line}");
        durations.push(log["duration_ms"].as_u64().expect("duration_ms"));
        let rss = status_kib(pid, "VmRSS:");
        every.push(rss);
        if READ_AFTER.contains(&round) || round == rounds {
            readings.push((round, rss));
        }
    }
    let peak = status_kib(pid, "VmHWM:");
    let requests = server.request_count() - before;
    drop(child);
    durations.sort_unstable();
    let median = durations[durations.len() / 2];
    let first = readings[0].1 as f64;
    let last = readings[readings.len() - 1].1 as f64;
    let mb = |kib: u64| format!("{:.1} MB", kib as f64 / 1024.0);
    println!(
        "watch, {count} unchanged connections, --interval 100ms, {rounds} rounds (the release binary), no latency"
    );
    let heads: Vec<String> = readings
        .iter()
        .map(|(r, _)| format!("RSS after round {r}"))
        .collect();
    let median_of = |rounds: &[u64]| {
        let mut v = rounds.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let early = median_of(&every[every.len().min(5)..every.len().min(15)]);
    let late = median_of(&every[every.len().saturating_sub(10)..]);
    println!(
        "| rounds | requests | median round | {} | {rounds} vs 10 | median of rounds 6-15 | median of the last 10 | last 10 vs 6-15 | peak RSS |",
        heads.join(" | ")
    );
    println!("|---{}|", "|---".repeat(heads.len() + 7));
    let values: Vec<String> = readings.iter().map(|(_, kib)| mb(*kib)).collect();
    println!(
        "| {rounds} | {requests} | {median} ms | {} | {:+.1} % | {} | {} | {:+.1} % | {} |",
        values.join(" | "),
        (last - first) / first * 100.0,
        mb(early),
        mb(late),
        (late as f64 - early as f64) / early as f64 * 100.0,
        mb(peak)
    );
}
