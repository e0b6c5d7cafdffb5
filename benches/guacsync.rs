//! guacsync's benchmark harness (`cargo bench --bench guacsync -- <scenario>`).
//!
//! Each measurement runs in a child process (this binary re-executed with
//! `child-<scenario>`), so the peak RSS it reports (`VmHWM` from `/proc/self/status`) is
//! that measurement's alone. Figures and the machine go into the README's
//! "Benchmarks" section; targets are checked there, never in timed unit tests.

// Byte counts of files and memory fit an f64 exactly far beyond benchmark sizes.
#![allow(clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use guacsync::manifest::{self, ParseOptions, write};
use guacsync::model::{Entry, GroupPath, Parent, Source};
use guacsync::schema::Schema;

/// Peak resident set size of this process, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A realistic inventory: five protocols, three levels of groups, users and groups.
pub fn inventory(count: usize) -> Vec<Entry> {
    let protocols = ["ssh", "rdp", "vnc", "telnet", "kubernetes"];
    (0..count)
        .map(|i| {
            let protocol = protocols[i % protocols.len()];
            let region = format!("Region-{}", i % 7);
            let site = format!("Site-{}", (i / 7) % 13);
            let team = format!("Team {}", (i / 91) % 11);
            let mut parameters = std::collections::BTreeMap::new();
            parameters.insert("hostname".to_owned(), format!("host-{i}.corp.example.com"));
            parameters.insert(
                "port".to_owned(),
                match protocol {
                    "ssh" => "22",
                    "rdp" => "3389",
                    "vnc" => "5901",
                    "telnet" => "23",
                    _ => "6443",
                }
                .to_owned(),
            );
            match protocol {
                "ssh" => {
                    parameters.insert("username".into(), "${GUAC_USERNAME}".into());
                    parameters.insert("password".into(), "${env:SSH_PASSWORD}".into());
                    parameters.insert("color-scheme".into(), "gray-black".into());
                    parameters.insert("font-size".into(), "12".into());
                    parameters.insert(
                        "recording-path".into(),
                        "/var/lib/guacamole/recordings".into(),
                    );
                }
                "rdp" => {
                    parameters.insert("username".into(), format!("svc-{}", i % 100));
                    parameters.insert("domain".into(), "CORP".into());
                    parameters.insert("security".into(), "nla".into());
                    parameters.insert("ignore-cert".into(), "true".into());
                    parameters.insert("resize-method".into(), "display-update".into());
                }
                "vnc" => {
                    parameters.insert("password".into(), "${KEEPER_SERVER_PASSWORD}".into());
                    parameters.insert("color-depth".into(), "24".into());
                    parameters.insert("cursor".into(), "remote".into());
                }
                "telnet" => {
                    parameters.insert("username-regex".into(), "login:".into());
                    parameters.insert("terminal-type".into(), "vt100".into());
                }
                _ => {
                    parameters.insert("namespace".into(), format!("team-{}", i % 20));
                    parameters.insert("pod".into(), format!("toolbox-{i}"));
                    parameters.insert("use-ssl".into(), "true".into());
                }
            }
            let mut attributes = std::collections::BTreeMap::new();
            attributes.insert("max-connections".to_owned(), "4".to_owned());
            Entry {
                name: format!("{protocol}-{i:06}"),
                protocol: protocol.to_owned(),
                parent: Parent::Group(GroupPath::from_segments(vec![region, site, team])),
                parameters,
                attributes,
                users: vec![format!("user{}", i % 500), format!("user{}", (i + 1) % 500)],
                groups: vec![format!("team-{}", i % 11)],
                source: Source {
                    file: String::new(),
                    line: 0,
                    column: 0,
                },
            }
        })
        .collect()
}

fn write_inventory(dir: &Path, count: usize) -> Vec<(String, PathBuf, u64)> {
    let entries = inventory(count);
    let schema = Schema::builtin();
    let mut files = Vec::new();
    for (label, name, text) in [
        ("CSV", "inventory.csv", write::to_csv(&entries, schema)),
        ("JSON", "inventory.json", write::to_json(&entries)),
        ("YAML", "inventory.yaml", write::to_yaml(&entries)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &text).expect("write the generated manifest");
        files.push((label.to_owned(), path, text.len() as u64));
    }
    files
}

/// The child side of `parse`: load one file, report time, count and peak RSS.
fn child_parse(path: &Path) {
    let start = Instant::now();
    let loaded = manifest::load(&[path.to_path_buf()], &ParseOptions::default());
    let secs = start.elapsed().as_secs_f64();
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    println!(
        "{secs} {} {errors} {}",
        loaded.entries.len(),
        peak_rss_kib()
    );
}

fn run_child(args: &[&str]) -> Vec<String> {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe).args(args).output().expect("child runs");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn parse_scenario(count: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_inventory(dir.path(), count);
    println!("parse + validate, {count} connections (best of 3 runs, each in its own process)");
    println!("| format | file size | time | peak RSS | connections |");
    println!("|---|---|---|---|---|");
    for (label, path, size) in files {
        let mut best: Option<(f64, u64, String)> = None;
        for _ in 0..3 {
            let fields = run_child(&["child-parse", path.to_str().expect("utf-8 path")]);
            let secs: f64 = fields[0].parse().expect("seconds");
            let rss: u64 = fields[3].parse().expect("rss");
            assert_eq!(fields[2], "0", "the generated {label} manifest has errors");
            if best.as_ref().is_none_or(|b| secs < b.0) {
                best = Some((secs, rss, fields[1].clone()));
            }
        }
        let (secs, rss, n) = best.expect("three runs");
        println!(
            "| {label} | {:.1} MB | {:.3} s | {:.0} MB | {n} |",
            size as f64 / 1e6,
            secs,
            rss as f64 / 1024.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let count = args
        .iter()
        .position(|a| a == "--count")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    match args.first().map(String::as_str) {
        Some("child-parse") => child_parse(Path::new(&args[1])),
        Some("parse") | None => parse_scenario(count),
        Some(other) => {
            eprintln!("unknown scenario {other:?}; scenarios: parse");
            std::process::exit(2);
        }
    }
}
