//! Scenarios 2-3: syncs of new and changed connections, with their latency bounds.

#[allow(clippy::wildcard_imports)]
use super::*;

/// What one sync measured.
struct SyncRun {
    requests: u64,
    connection_patches: usize,
    largest: usize,
    planned: f64,
    secs: f64,
    client_cpu: f64,
    server_cpu: f64,
    changes: usize,
}

/// One timed sync (observe, diff, apply) at the default concurrency.
async fn sync_once(
    server: &guacamole_testserver::RunningServer,
    d: &Desired,
    options: &Options,
) -> SyncRun {
    let conc = guacsync::config::DEFAULT_CONCURRENCY;
    let c = client(server.base_url(), conc).await;
    let before = server.request_count();
    let cpu_before = cpu_split_ns();
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
    let cpu_after = cpu_split_ns();
    let requests = server.request_count() - before;
    c.logout().await;
    SyncRun {
        requests,
        connection_patches: plan
            .batches
            .iter()
            .filter(|b| b.kind == guacsync::kinds::Kind::Connection)
            .count(),
        largest: plan.batches.iter().map(|b| b.bytes).max().unwrap_or(0),
        planned,
        secs,
        client_cpu: (cpu_after.0 - cpu_before.0) as f64 / 1e9,
        server_cpu: (cpu_after.1 - cpu_before.1) as f64 / 1e9,
        changes: plan.summary.add + plan.summary.change,
    }
}

/// A row of the table, with the latency bound (requests ÷ concurrency × 2 ms,
/// each batch one request).
fn print_row(label: &str, run: &SyncRun, bare: Option<f64>) {
    let conc = guacsync::config::DEFAULT_CONCURRENCY;
    let bound = run.requests as f64 / conc as f64 * 0.002;
    println!(
        "| {label} | {} | {} | {:.3} MB | {:.2} s (plan {:.2} s, apply {:.2} s) | {bound:.2} s | {:.2}x | {} | {:.2} s | {:.2} s |",
        run.requests,
        run.connection_patches,
        run.largest as f64 / 1e6,
        run.secs,
        run.planned,
        run.secs - run.planned,
        run.secs / bound,
        bare.map_or_else(|| "-".to_owned(), |b| format!("{:.2}x", run.secs / b)),
        run.client_cpu,
        run.server_cpu,
    );
}

/// How a recorded request is replayed: the reads of one stretch together, the
/// permission `PATCH`es of one stretch together (guacsync sends both under the
/// concurrency bound), every other write alone and in order (directory `PATCH`es
/// are ordered atomic batches).
#[derive(PartialEq, Eq)]
enum Phase {
    Reads,
    Permissions,
    Alone,
}

fn phase_of(r: &guacamole_testserver::LoggedRequest) -> Phase {
    match r.method.as_str() {
        "GET" => Phase::Reads,
        "PATCH" if r.path.ends_with("/permissions") => Phase::Permissions,
        _ => Phase::Alone,
    }
}

/// The floor for a sync: the requests guacsync sent (recorded by a server with
/// its request log on), replayed against a fresh server holding the same state
/// with a plain reqwest client: the same bodies, pre-serialized, in the same
/// order, reads and permission `PATCH`es `concurrency` at a time, every other write
/// alone. Login and logout are left out (the token is minted). Returns the
/// number of requests, the time, and the client's and the server's CPU.
async fn bare_client(
    server: &guacamole_testserver::RunningServer,
    recorded: &[guacamole_testserver::LoggedRequest],
    concurrency: usize,
) -> (usize, f64, f64, f64) {
    use futures::StreamExt;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let token = server.issue_token("guacadmin");
    let base = server.base_url();
    let requests: Vec<(reqwest::Method, String, bytes::Bytes, Phase)> = recorded
        .iter()
        .filter(|r| !r.path.starts_with("/api/tokens"))
        .map(|r| {
            let url = match &r.query {
                Some(q) => format!("{base}{}?{q}", r.path),
                None => format!("{base}{}", r.path),
            };
            let method = reqwest::Method::from_bytes(r.method.as_bytes()).expect("method");
            (method, url, bytes::Bytes::from(r.body.clone()), phase_of(r))
        })
        .collect();
    let send = |(method, url, body, _): (reqwest::Method, String, bytes::Bytes, Phase)| {
        let mut req = http.request(method, url).header("Guacamole-Token", &token);
        if !body.is_empty() {
            req = req.header("Content-Type", "application/json").body(body);
        }
        async move {
            let resp = req.send().await.expect("bare request");
            let status = resp.status();
            let body = resp.bytes().await.expect("bare body");
            assert!(
                status.is_success(),
                "the replayed request failed: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
    };
    let count = requests.len();
    let cpu_before = cpu_split_ns();
    let start = Instant::now();
    let mut rest = requests.into_iter().peekable();
    while let Some(first) = rest.next() {
        if first.3 == Phase::Alone {
            send(first).await;
            continue;
        }
        let mut stretch = vec![first];
        while let Some(next) = rest.next_if(|r| r.3 == stretch[0].3) {
            stretch.push(next);
        }
        futures::stream::iter(stretch)
            .map(send)
            .buffer_unordered(concurrency)
            .for_each(|()| async {})
            .await;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = cpu_split_ns();
    (
        count,
        secs,
        (cpu_after.0 - cpu_before.0) as f64 / 1e9,
        (cpu_after.1 - cpu_before.1) as f64 / 1e9,
    )
}

/// Scenarios 2 and 3: sync 10k new connections into an empty server (under a
/// 2 MiB and an 8 MiB body limit), each beside the bare client replaying its
/// requests; then 100 changed out of 10k.
pub(super) fn sync_scenario(count: usize) {
    let entries = inventory(count);
    let d = desired(&entries);
    let rt = runtime();
    rt.block_on(async {
        let principals = {
            let s = principals_for(&entries);
            s.users.len() + s.user_groups.len()
        };
        let conc = guacsync::config::DEFAULT_CONCURRENCY;
        println!(
            "sync, {count} connections, {principals} principals, 2 ms latency per request, concurrency {conc}"
        );
        println!(
            "| case | requests | connection PATCHes | largest body | time | bound | time / bound | time / bare | client CPU | server CPU |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for limit in [2 * 1024 * 1024, 8 * 1024 * 1024] {
            let options = Options {
                max_request_bytes: limit,
                ..Options::default()
            };
            let fresh = |log_requests| {
                start_server_with(guacamole_testserver::Config {
                    state: principals_for(&entries),
                    latency: Duration::from_millis(2),
                    body_limit: limit,
                    log_requests,
                    ..guacamole_testserver::Config::default()
                })
            };
            // The requests to replay, from an untimed sync against a server that
            // logs them (the log's copies of the bodies cost CPU, so not timed).
            let logging = fresh(true).await;
            assert_eq!(sync_once(&logging, &d, &options).await.changes, count);
            let recorded = logging.requests();
            drop(logging);

            let server = fresh(false).await;
            let run = sync_once(&server, &d, &options).await;
            assert_eq!(run.changes, count);
            let (replayed, bare, bare_client_cpu, bare_server_cpu) =
                bare_client(&fresh(false).await, &recorded, conc).await;
            let label = format!(
                "into an empty server, max_request_bytes {} MiB",
                limit >> 20
            );
            print_row(&label, &run, Some(bare));
            let bound = run.requests as f64 / conc as f64 * 0.002;
            println!(
                "| {label}, bare client | {replayed} | | | {bare:.2} s | {bound:.2} s | {:.2}x | | {bare_client_cpu:.2} s | {bare_server_cpu:.2} s |",
                bare / bound,
            );
            // The server's view of the permission PATCHes: one at a time they would
            // arrive at least 2 ms apart each.
            let arrivals: Vec<u64> = recorded
                .iter()
                .filter(|r| phase_of(r) == Phase::Permissions)
                .map(|r| r.received_ms)
                .collect();
            if let (Some(first), Some(last)) = (arrivals.iter().min(), arrivals.iter().max()) {
                println!(
                    "|   permission PATCHes as the server received them: {} within {} ms (one at a time: at least {} ms) |",
                    arrivals.len(),
                    last - first,
                    2 * arrivals.len()
                );
            }
            if limit == 8 * 1024 * 1024 {
                let mut state = server.state();
                for c in state.connections.iter_mut().step_by(count / 100).take(100) {
                    c.parameters.insert("port".into(), "1".into());
                }
                server.set_state(&state).expect("state");
                let run = sync_once(&server, &d, &options).await;
                assert_eq!(run.changes, 100);
                print_row(&format!("100 changed of {count}"), &run, None);
            }
        }
    });
}
