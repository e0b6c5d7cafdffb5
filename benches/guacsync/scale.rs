//! Scenarios 5-6: whole plans of growing size, each in its own process for its
//! peak RSS (library child and the CLI binary).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The child side of `scale`: a whole `plan` (read the CSV manifest, resolve,
/// observe, diff) against the server at `url`, each step handing its input on as
/// the CLI does (`Desired::build` consumes the parsed entries); prints time, the
/// change count and peak RSS.
pub(super) fn child_plan(url: &str, manifest: &Path) {
    let rt = runtime();
    let start = Instant::now();
    let changes = rt.block_on(async {
        // The rest of what was loaded (the file's text, kept for diagnostics) is
        // dropped here, as the CLI drops it once the manifests are read.
        let entries = {
            let loaded = manifest::load(&[manifest.to_path_buf()], &ParseOptions::default());
            assert!(!loaded.has_errors());
            loaded.entries
        };
        let (d, diags) = Desired::build(entries, &BenchLookup, Schema::builtin());
        assert!(diags.is_empty(), "{diags:?}");
        let c = client(url, 8).await;
        let observed = observe(&c, &request_for(&d), 8, false)
            .await
            .expect("observe");
        let plan = diff::diff(&d, &observed, &Options::default(), &[]).expect("plan");
        c.logout().await;
        plan.summary.add + plan.summary.change + plan.summary.grants
    });
    println!(
        "{} {changes} {}",
        start.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}

/// `guacsync plan` itself (the release binary) on `csv` against `url`, with a
/// `guacsync.toml` that allows the inventory's `${env:SSH_PASSWORD}`: wall time
/// and peak RSS (from `/usr/bin/time`; `None` where it is not installed).
fn cli_plan(url: &str, csv: &Path) -> Option<(f64, f64)> {
    const TIME: &str = "/usr/bin/time";
    if !Path::new(TIME).exists() {
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[server]\nconcurrency = 8\n\n[secrets]\nenv = [\"SSH_PASSWORD\"]\n",
    )
    .expect("config");
    let rss = dir.path().join("rss");
    let start = Instant::now();
    let out = Command::new(TIME)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_guacsync"))
        .args(["plan", "-q"])
        .arg(csv)
        .current_dir(dir.path())
        .env_clear()
        .env("GUACAMOLE_URL", url)
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("SSH_PASSWORD", "bench-secret")
        .env("NO_COLOR", "1")
        .output()
        .expect("guacsync runs");
    let secs = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("No changes"),
        "guacsync plan: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kib: f64 = std::fs::read_to_string(&rss)
        .expect("rss file")
        .trim()
        .parse()
        .expect("kib");
    Some((secs, kib / 1024.0))
}

/// Scenarios 5 and 6: how parse and plan grow from 1k to 100k connections (no
/// latency; the plan runs in its own process so its peak RSS is its own).
pub(super) fn scale_scenario(sizes: &[usize]) {
    println!(
        "growth, no latency; plan = parse + resolve + observe + diff in one process (concurrency 8); `guacsync plan` = the release binary"
    );
    println!(
        "| connections | CSV parse | CSV parse RSS | plan | plan RSS | requests | plan time per 1k | guacsync plan | its RSS | RSS per connection |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let rt = runtime();
    for &n in sizes {
        let entries = inventory(n);
        let dir = tempfile::tempdir().expect("dir");
        let csv = dir.path().join("inventory.csv");
        std::fs::write(&csv, write::to_csv(&entries, Schema::builtin())).expect("write");
        let parse = run_child(&["child-parse", csv.to_str().expect("utf-8")]);
        let server = rt.block_on(start_server(state_for(&entries), Duration::ZERO, 0));
        let before = server.request_count();
        let plan = run_child(&[
            "child-plan",
            server.base_url(),
            csv.to_str().expect("utf-8"),
        ]);
        let requests = server.request_count() - before;
        assert_eq!(plan[1], "0", "no changes expected");
        let plan_secs: f64 = plan[0].parse().expect("secs");
        let cli = match cli_plan(server.base_url(), &csv) {
            Some((secs, mb)) => format!(
                "{secs:.2} s | {mb:.0} MB | {:.1} kB",
                mb * 1024.0 / n as f64
            ),
            None => "- | - | -".to_owned(),
        };
        println!(
            "| {n} | {:.3} s | {:.0} MB | {plan_secs:.2} s | {:.0} MB | {requests} | {:.3} s | {cli} |",
            parse[0].parse::<f64>().expect("secs"),
            parse[3].parse::<f64>().expect("rss") / 1024.0,
            plan[2].parse::<f64>().expect("rss") / 1024.0,
            plan_secs / (n as f64 / 1000.0)
        );
        drop(server);
    }
}
