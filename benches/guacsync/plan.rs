//! Scenario 1 and the default concurrency: a no-change plan at each concurrency,
//! beside a bare HTTP loop sending the same requests.

#[allow(clippy::wildcard_imports)]
use super::*;

/// One `plan_once` measurement.
struct PlanRun {
    changes: usize,
    requests: u64,
    secs: f64,
    /// CPU seconds of the client (observe + diff: the main thread, the client
    /// runtime's workers and the tree decoder).
    client_cpu: f64,
    /// CPU seconds of the test server's threads.
    server_cpu: f64,
}

/// Observe + diff: what `guacsync plan` does after parsing, on the client's
/// runtime (the test server runs on its own).
async fn plan_once(
    server: &guacamole_testserver::RunningServer,
    d: &Desired,
    concurrency: usize,
    options: &Options,
) -> PlanRun {
    let c = client(server.base_url(), concurrency).await;
    let before = server.request_count();
    let cpu_before = cpu_split_ns();
    let start = Instant::now();
    let observed = observe(&c, &request_for(d), concurrency, false)
        .await
        .expect("observe");
    let plan = diff::diff(d, &observed, options, &[]).expect("plan");
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = cpu_split_ns();
    let requests = server.request_count() - before;
    c.logout().await;
    let s = plan.summary;
    PlanRun {
        changes: s.add + s.change + s.remove + s.grants + s.groups,
        requests,
        secs,
        client_cpu: (cpu_after.0 - cpu_before.0) as f64 / 1e9,
        server_cpu: (cpu_after.1 - cpu_before.1) as f64 / 1e9,
    }
}

/// The floor this machine and test server allow: the same number of GETs (the
/// tree, then every connection's parameters) from a bare loop over one keep-alive
/// pool at `concurrency`, reading each body and parsing nothing. Returns the time
/// and the client's and the server's CPU.
pub(super) async fn bare_loop(
    server: &guacamole_testserver::RunningServer,
    requests: u64,
    concurrency: usize,
) -> (f64, f64, f64) {
    use futures::StreamExt;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let token = server.issue_token("guacadmin");
    let base = format!("{}/api/session/data/postgresql", server.base_url());
    let ids: Vec<String> = server
        .state()
        .connections
        .iter()
        .map(|c| c.identifier.clone())
        .collect();
    let cpu_before = cpu_split_ns();
    let start = Instant::now();
    let get = |path: String| {
        let req = http.get(path).header("Guacamole-Token", &token);
        async move {
            let resp = req.send().await.expect("bare GET");
            resp.bytes().await.expect("bare body").len()
        }
    };
    get(format!("{base}/connectionGroups/ROOT/tree")).await;
    let paths: Vec<String> = (0..requests.saturating_sub(1))
        .map(|i| {
            let id = &ids[usize::try_from(i).unwrap_or(0) % ids.len()];
            format!("{base}/connections/{id}/parameters")
        })
        .collect();
    futures::stream::iter(paths)
        .map(get)
        .buffer_unordered(concurrency)
        .for_each(|_| async {})
        .await;
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = cpu_split_ns();
    (
        secs,
        (cpu_after.0 - cpu_before.0) as f64 / 1e9,
        (cpu_after.1 - cpu_before.1) as f64 / 1e9,
    )
}

/// Scenario 1: plan of 10k unchanged connections, 2 ms per request, at
/// concurrency 1, 8 and 32, against the lower bound.
pub(super) fn plan_scenario(count: usize) {
    let entries = inventory(count);
    let d = desired(&entries);
    let rt = runtime();
    rt.block_on(async {
        let server = start_server(
            state_for(&entries),
            Duration::from_millis(2),
            2 * 1024 * 1024,
        )
        .await;
        println!("plan, {count} connections, no changes, 2 ms latency per request");
        println!(
            "| concurrency | requests | time | lower bound | time / bound | speed-up vs 1 | client CPU | server CPU |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let mut serial = 0.0;
        let only: Option<usize> = std::env::var("BENCH_CONCURRENCY")
            .ok()
            .and_then(|v| v.parse().ok());
        // 1 (the one-at-a-time client), the old default of 8, 16, 32 and the
        // current default: the default concurrency is chosen from these rows.
        let default = guacsync::config::DEFAULT_CONCURRENCY;
        let mut levels = vec![1usize, 8, 16, 32, default];
        levels.sort_unstable();
        levels.dedup();
        // One plan beside one bare loop varies by several per cent on two cores
        // shared with the server, so each level above 1 runs `BENCH_REPEAT` (5)
        // alternating pairs and shows the medians, with the range of the ratio.
        let repeat: usize = std::env::var("BENCH_REPEAT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
            .max(1);
        for conc in levels
            .into_iter()
            .filter(|c| only.is_none_or(|o| o == *c))
        {
            let mut pairs = Vec::new();
            for _ in 0..if conc == 1 { 1 } else { repeat } {
                let run = plan_once(&server, &d, conc, &Options::default()).await;
                assert_eq!(run.changes, 0, "the state must match the inventory");
                let floor = bare_loop(&server, run.requests, conc).await;
                pairs.push((run, floor));
            }
            let mut ratios: Vec<f64> = pairs.iter().map(|(r, f)| r.secs / f.0).collect();
            ratios.sort_by(f64::total_cmp);
            let ratio = ratios[ratios.len() / 2];
            pairs.sort_by(|a, b| a.0.secs.total_cmp(&b.0.secs));
            let run = &pairs[pairs.len() / 2].0;
            let mut floors: Vec<(f64, f64, f64)> = pairs.iter().map(|(_, f)| *f).collect();
            floors.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (floor, floor_client, floor_server) = floors[floors.len() / 2];
            let (requests, secs) = (run.requests, run.secs);
            let bound = requests as f64 / conc as f64 * 0.002;
            if conc == 1 {
                serial = secs;
            }
            let speedup = if serial > 0.0 {
                format!("{:.1}x", serial / secs)
            } else {
                "-".to_owned()
            };
            let label = if conc == default {
                format!("{conc} (default)")
            } else {
                conc.to_string()
            };
            println!(
                "| {label} | {requests} | {secs:.2} s | {bound:.2} s | {:.2}x | {speedup} | {:.2} s ({:.0} µs/request) | {:.2} s |",
                secs / bound,
                run.client_cpu,
                run.client_cpu * 1e6 / requests as f64,
                run.server_cpu,
            );
            let spread = if ratios.len() > 1 {
                format!(
                    " (median of {} pairs; {:.2}x-{:.2}x)",
                    ratios.len(),
                    ratios[0],
                    ratios[ratios.len() - 1]
                )
            } else {
                String::new()
            };
            println!(
                "| {conc}, bare HTTP loop | {requests} | {floor:.2} s | {bound:.2} s | {:.2}x | time / bare {ratio:.2}x{spread} | {floor_client:.2} s | {floor_server:.2} s |",
                floor / bound,
            );
        }
    });
}
