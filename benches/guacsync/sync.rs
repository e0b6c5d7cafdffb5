//! Scenarios 2-3: syncs of new and changed connections, with their latency bounds.

#[allow(clippy::wildcard_imports)]
use super::*;

/// One timed sync (observe, diff, apply) at the default concurrency, printed as a
/// table row with its latency bound (requests ÷ concurrency × 2 ms, each batch one
/// request); returns the plan's change count.
async fn timed_sync(
    server: &guacamole_testserver::RunningServer,
    d: &Desired,
    options: &Options,
    label: &str,
) -> usize {
    let conc = guacsync::config::DEFAULT_CONCURRENCY;
    let c = client(server.base_url(), conc).await;
    let before = server.request_count();
    let start = Instant::now();
    let observed = observe(&c, &request_for(d), conc, false)
        .await
        .expect("observe");
    let plan = diff::diff(d, &observed, options, &[]).expect("plan");
    let planned = start.elapsed().as_secs_f64();
    guacsync::apply::apply(&plan, &c, conc)
        .await
        .expect("apply");
    let secs = start.elapsed().as_secs_f64();
    let largest = plan.batches.iter().map(|b| b.bytes).max().unwrap_or(0);
    let requests = server.request_count() - before;
    let bound = requests as f64 / conc as f64 * 0.002;
    println!(
        "| {label} | {requests} | {} | {:.3} MB | {secs:.2} s (plan {planned:.2} s, apply {:.2} s) | {bound:.2} s | {:.2}x |",
        plan.batches
            .iter()
            .filter(|b| b.kind == guacsync::kinds::Kind::Connection)
            .count(),
        largest as f64 / 1e6,
        secs - planned,
        secs / bound
    );
    c.logout().await;
    plan.summary.add + plan.summary.change
}

/// Scenarios 2 and 3: sync 10k new connections into an empty server (under a
/// 2 MiB and an 8 MiB body limit); then 100 changed out of 10k.
pub(super) fn sync_scenario(count: usize) {
    let entries = inventory(count);
    let d = desired(&entries);
    let rt = runtime();
    rt.block_on(async {
        let principals = {
            let s = principals_for(&entries);
            s.users.len() + s.user_groups.len()
        };
        println!(
            "sync, {count} connections, {principals} principals, 2 ms latency per request, concurrency {}",
            guacsync::config::DEFAULT_CONCURRENCY
        );
        println!(
            "| case | requests | connection PATCHes | largest body | time | bound | time / bound |"
        );
        println!("|---|---|---|---|---|---|---|");
        for limit in [2 * 1024 * 1024, 8 * 1024 * 1024] {
            let server =
                start_server(principals_for(&entries), Duration::from_millis(2), limit).await;
            let options = Options {
                max_request_bytes: limit,
                ..Options::default()
            };
            let label = format!(
                "into an empty server, max_request_bytes {} MiB",
                limit >> 20
            );
            assert_eq!(timed_sync(&server, &d, &options, &label).await, count);
            if limit == 8 * 1024 * 1024 {
                let mut state = server.state();
                for c in state.connections.iter_mut().step_by(count / 100).take(100) {
                    c.parameters.insert("port".into(), "1".into());
                }
                server.set_state(&state).expect("state");
                let label = format!("100 changed of {count}");
                assert_eq!(timed_sync(&server, &d, &options, &label).await, 100);
            }
        }
    });
}
