//! `--concurrency` and `[server] concurrency` are checked against the accepted
//! range before anything is sent (issue 16 item 8: a huge value used to panic in
//! the semaphore after the login).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_concurrency_is_an_error_naming_the_range() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    std::fs::write(
        dir.path().join("manifests/a.yaml"),
        "- {name: a, protocol: ssh, group: ROOT/X, parameters: {hostname: h}}\n",
    )
    .expect("write");
    for value in ["18446744073709551615", "0", "65"] {
        for command in ["plan", "sync", "export"] {
            let mut args = vec![command, "--concurrency", value];
            if command != "export" {
                args.push("manifests");
            }
            let out = guacsync_in(&server, dir.path(), &args, &[]).await;
            assert_eq!(
                out.status.code(),
                Some(1),
                "{command} {value}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.contains(&format!("--concurrency {value} is out of range"))
                    && err.contains("between 1 and 64"),
                "{command} {value}: {err}"
            );
        }
    }
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[server]\nconcurrency = 1000\n",
    )
    .expect("write");
    let out = guacsync_in(&server, dir.path(), &["plan", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("guacsync.toml: [server] concurrency 1000 is out of range"),
        "{}",
        stderr(&out)
    );
    assert!(
        server.requests().is_empty(),
        "{:?}",
        summary(&server.requests())
    );
    // The largest accepted value works.
    let out = guacsync_in(
        &server,
        dir.path(),
        &["plan", "--concurrency", "64", "manifests"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
