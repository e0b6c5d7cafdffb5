//! Issue 15, target 7: a plan of `count` unchanged connections through a real
//! nginx (the Debian package, `/usr/sbin/nginx`, or `GUACSYNC_NGINX`) over TLS,
//! offering HTTP/2 and offering only HTTP/1.1 through ALPN, beside the same plan
//! straight to the test server, all in one run and with the release binary
//! (`guacsync plan --ca-cert`), as an operator runs it.
//!
//! The certificate is the self-signed one an operator makes with `openssl req
//! -x509`. nginx's access log records `$server_protocol` of every request, so the
//! row says which protocol was really used rather than which was offered. Like
//! tests/common/nginx.rs, nginx runs in the foreground as one process, with its
//! own configuration, logs and temporary paths in a temp dir, on a loopback port,
//! and is killed when dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guacsync::manifest::write;
use guacsync::schema::Schema;

use super::{inventory, runtime, state_for};

/// What the nginx listener offers through ALPN.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Offer {
    Http2,
    Http11,
}

/// How nginx reaches the test server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Upstream {
    /// Guacamole's manual's configuration (`proxy_pass` to the host, HTTP/1.1):
    /// a new upstream connection for every request.
    PerRequest,
    /// An `upstream` block with `keepalive 32`: connections to Tomcat reused.
    KeepAlive,
}

/// The nginx binary: `GUACSYNC_NGINX`, else the Debian package's.
fn binary() -> PathBuf {
    std::env::var_os("GUACSYNC_NGINX")
        .map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from)
}

/// `nginx -v` as (major, minor, patch).
fn version(bin: &Path) -> (u32, u32, u32) {
    let out = Command::new(bin).arg("-v").output().unwrap_or_else(|e| {
        panic!(
            "{} does not run ({e}): `apt-get install nginx`",
            bin.display()
        )
    });
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let numbers: Vec<u32> = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("nginx/"))
        .unwrap_or_default()
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [a, b, c, ..] => (a, b, c),
        _ => panic!("cannot read nginx's version from {text:?}"),
    }
}

/// A self-signed certificate for 127.0.0.1 and its key, written as
/// `server.pem` and `server.key` in `dir` (the pem is what `--ca-cert` pins).
fn openssl_self_signed(dir: &Path) -> PathBuf {
    let cert = dir.join("server.pem");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl binary runs");
    assert!(
        out.status.success(),
        "openssl req -x509: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cert
}

/// nginx's whole configuration: everything it writes stays in `dir`.
fn config(
    dir: &Path,
    port: u16,
    upstream: SocketAddr,
    offer: Offer,
    pool: Upstream,
    version: (u32, u32, u32),
) -> String {
    let d = dir.display();
    // nginx 1.25.1 replaced `listen ... http2` with `http2 on;`.
    let directive = version >= (1, 25, 1);
    let (listen, http2) = match offer {
        Offer::Http2 if !directive => (format!("127.0.0.1:{port} ssl http2"), ""),
        Offer::Http2 => (format!("127.0.0.1:{port} ssl"), "http2 on;"),
        Offer::Http11 => (format!("127.0.0.1:{port} ssl"), ""),
    };
    let (block, target) = match pool {
        Upstream::PerRequest => (String::new(), upstream.to_string()),
        Upstream::KeepAlive => (
            format!("upstream tomcat {{ server {upstream}; keepalive 32; }}"),
            "tomcat".to_owned(),
        ),
    };
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{
    log_format bench '$server_protocol $status';
    access_log {d}/access.log bench;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    {block}
    server {{
        listen {listen};
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        {http2}
        location /guacamole/ {{
            proxy_pass http://{target}/guacamole/;
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Connection \"\";
        }}
    }}
}}
"
    )
}

/// A running nginx; killed on drop.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts nginx with a fresh access log and waits until it accepts.
fn start(dir: &Path, upstream: SocketAddr, offer: Offer, pool: Upstream) -> Nginx {
    let bin = binary();
    let version = version(&bin);
    let _ = std::fs::remove_file(dir.join("access.log"));
    // A port picked here can be taken before nginx binds it: try a few.
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(dir, port, upstream, offer, pool, version))
            .expect("write nginx.conf");
        let child = Command::new(&bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let mut nginx = Nginx { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(_)) = nginx.child.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            assert!(Instant::now() < deadline, "nginx did not listen in 15 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        assert!(
            log.contains("Address already in use"),
            "nginx did not start:\n{log}"
        );
    }
    panic!("nginx found no free loopback port in 5 tries");
}

/// `guacsync plan -q` (the release binary) in `dir` against `url`: wall time.
fn plan(dir: &Path, url: &str, ca_cert: Option<&Path>) -> f64 {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guacsync"));
    command.args(["plan", "-q", "inventory.csv"]);
    if let Some(ca) = ca_cert {
        command.arg("--ca-cert").arg(ca);
    }
    let start = Instant::now();
    let out = command
        .current_dir(dir)
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
        "guacsync plan via {url}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

/// Requests in nginx's access log by protocol, e.g. `HTTP/2.0 10519`.
fn protocols(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in log.lines() {
        *counts
            .entry(line.split_whitespace().next().unwrap_or("?"))
            .or_default() += 1;
    }
    counts
        .iter()
        .map(|(p, n)| format!("{p}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The nginx scenario: with scenario 1's 2 ms per request (what an operator sees)
/// and with none (where the proxy's own cost is not hidden behind the latency).
pub fn nginx_scenario(count: usize) {
    for (i, latency) in [Duration::from_millis(2), Duration::ZERO]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            println!();
        }
        table(count, latency);
    }
}

/// One table at `latency`: direct first, then nginx in four configurations.
fn table(count: usize, latency: Duration) {
    let entries = inventory(count);
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("inventory.csv"),
        write::to_csv(&entries, Schema::builtin()),
    )
    .expect("write the manifest");
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[secrets]\nenv = [\"SSH_PASSWORD\"]\n",
    )
    .expect("write guacsync.toml");
    let cert = openssl_self_signed(dir.path());
    let rt = runtime();
    let server = rt.block_on(async {
        guacamole_testserver::start(guacamole_testserver::Config {
            state: state_for(&entries),
            latency,
            prefix: "/guacamole".into(),
            log_requests: false,
            ..guacamole_testserver::Config::default()
        })
        .await
        .expect("test server starts")
    });
    drop(entries);
    let bin = binary();
    let (a, b, c) = version(&bin);
    println!(
        "plan, {count} unchanged connections, `guacsync plan` (release binary, default concurrency {}), {} ms latency at the test server; nginx/{a}.{b}.{c}, TLS with a self-signed certificate (`--ca-cert`)",
        guacsync::config::DEFAULT_CONCURRENCY,
        latency.as_millis()
    );
    println!(
        "| path | upstream connections | requests | time | vs direct | protocol used (nginx access log) |"
    );
    println!("|---|---|---|---|---|---|");
    let before = server.request_count();
    let direct = plan(dir.path(), server.base_url(), None);
    println!(
        "| direct (plain HTTP) | | {} | {direct:.2} s | 1.00x | |",
        server.request_count() - before
    );
    for pool in [Upstream::PerRequest, Upstream::KeepAlive] {
        for (offer, label) in [
            (Offer::Http11, "nginx, TLS, HTTP/1.1 offered"),
            (Offer::Http2, "nginx, TLS, HTTP/2 offered"),
        ] {
            let nginx = start(dir.path(), server.addr(), offer, pool);
            let url = format!("https://127.0.0.1:{}/guacamole", nginx.port);
            let before = server.request_count();
            let secs = plan(dir.path(), &url, Some(&cert));
            let requests = server.request_count() - before;
            drop(nginx);
            let upstream = match pool {
                Upstream::PerRequest => "one per request",
                Upstream::KeepAlive => "keepalive 32",
            };
            println!(
                "| {label} | {upstream} | {requests} | {secs:.2} s | {:.2}x | {} |",
                secs / direct,
                protocols(dir.path())
            );
        }
    }
}
