//! A real nginx (Debian package `nginx`) in front of the test server, for the
//! tests that must see what a production reverse proxy does rather than what the
//! test server's proxy faults imitate. Each instance has its own configuration,
//! prefix, pid file, logs and temporary directories in a temp dir, runs in the
//! foreground as one process (`daemon off; master_process off;`, so killing it
//! leaves no worker behind), listens on a loopback port picked here, and is
//! stopped when dropped, also when the test panics.
//!
//! When nginx is not installed the test fails with a message saying how to
//! install it: a proxy test that silently passes without a proxy proves nothing.
//! `.ci/run` installs it. `GUACSYNC_NGINX` names another binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// TLS on the nginx listener, with the protocol it offers through ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    Http2,
    Http11,
}

#[derive(Clone, Debug)]
pub struct NginxOptions {
    pub tls: Option<Tls>,
    /// `client_max_body_size` (`None`: nginx's default, 1m).
    pub client_max_body_size: Option<String>,
    /// The path nginx serves, e.g. `/guac-api/`.
    pub location: String,
    /// The test server path it maps to, e.g. `/guacamole/` (nginx replaces
    /// `location` with it, as `proxy_pass http://host/guacamole/;` does).
    pub upstream_path: String,
}

impl Default for NginxOptions {
    /// Plain HTTP, the default body limit, `/guacamole/` passed through.
    fn default() -> Self {
        Self {
            tls: None,
            client_max_body_size: None,
            location: "/guacamole/".into(),
            upstream_path: "/guacamole/".into(),
        }
    }
}

/// A running nginx; killed on drop.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    options: NginxOptions,
    ca_pem: Option<String>,
    version: String,
}

/// The nginx binary: `GUACSYNC_NGINX`, else `/usr/sbin/nginx`, else `nginx` on
/// `PATH`.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("GUACSYNC_NGINX") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "GUACSYNC_NGINX names {}, which is not a file",
            p.display()
        );
        return p;
    }
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return debian;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "nginx is not installed (looked for $GUACSYNC_NGINX, /usr/sbin/nginx and nginx on PATH). \
             The real-proxy tests need it: `apt-get install nginx` (the Debian package; .ci/run \
             installs it without starting its service), or set GUACSYNC_NGINX to a binary."
        )
    })
}

/// `nginx -v` as `nginx/1.22.1`.
fn version_of(bin: &Path) -> String {
    let out = Command::new(bin).arg("-v").output().expect("nginx -v runs");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.split_whitespace()
        .find(|w| w.starts_with("nginx/"))
        .unwrap_or("nginx/unknown")
        .to_owned()
}

/// nginx 1.25.1 replaced `listen ... http2` with the `http2 on;` directive.
pub fn has_http2_directive(version: &str) -> bool {
    let numbers: Vec<u32> = version
        .trim_start_matches("nginx/")
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.as_slice() >= [1, 25, 1].as_slice()
}

/// A CA and a certificate it issued for 127.0.0.1 and localhost, as PEM:
/// (CA certificate, server certificate, server key).
fn certificates() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "guacsync test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, "guacsync test nginx");
    let cert = leaf.signed_by(&key, &issuer).expect("server certificate");
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Nginx {
    /// Starts nginx in front of `upstream` and waits until it accepts.
    pub async fn start(upstream: SocketAddr, options: NginxOptions) -> Self {
        let bin = binary();
        let version = version_of(&bin);
        let mut dir = tempfile::tempdir().expect("temp dir");
        let ca_pem = options.tls.map(|_| {
            let (ca, cert, key) = certificates();
            std::fs::write(dir.path().join("server.pem"), cert).expect("write certificate");
            std::fs::write(dir.path().join("server.key"), key).expect("write key");
            std::fs::write(dir.path().join("ca.pem"), &ca).expect("write CA");
            ca
        });
        // A port picked here can be taken before nginx binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let conf = config(dir.path(), port, upstream, &options, &version);
            std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
            let child = Command::new(&bin)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
            let mut nginx = Self {
                child,
                dir,
                port,
                options: options.clone(),
                ca_pem: ca_pem.clone(),
                version: version.clone(),
            };
            match nginx.wait_ready().await {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => {
                    dir = nginx.into_dir();
                }
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx found no free loopback port in 5 tries");
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}:\n{}", self.error_log()));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not listening after 15 s:\n{}", self.error_log()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops this instance and hands its directory to the next try.
    fn into_dir(mut self) -> tempfile::TempDir {
        self.stop();
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `http(s)://127.0.0.1:PORT/location` without its trailing slash: the URL
    /// a client is given.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!(
            "{scheme}://127.0.0.1:{}{}",
            self.port,
            self.options.location.trim_end_matches('/')
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that issued nginx's certificate (TLS only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The CA certificate's file (TLS only).
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.ca_pem.as_ref().map(|_| self.dir.path().join("ca.pem"))
    }

    /// `nginx/1.22.1`, as nginx prints it in `Server` and on its pages.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The whole configuration: everything nginx writes stays in `dir`; the
/// `location` block has the settings usually given for Guacamole behind nginx
/// (buffering off, HTTP/1.1 to the upstream with keep-alive, the client address
/// forwarded); the body limit is nginx's own unless the test sets one.
fn config(
    dir: &Path,
    port: u16,
    upstream: SocketAddr,
    options: &NginxOptions,
    version: &str,
) -> String {
    let d = dir.display();
    let body_size = options
        .client_max_body_size
        .as_ref()
        .map(|s| format!("client_max_body_size {s};"))
        .unwrap_or_default();
    let (listen, tls) = match options.tls {
        None => (format!("listen 127.0.0.1:{port};"), String::new()),
        Some(kind) => {
            let h2 = kind == Tls::Http2;
            let listen = if h2 && !has_http2_directive(version) {
                format!("listen 127.0.0.1:{port} ssl http2;")
            } else {
                format!("listen 127.0.0.1:{port} ssl;")
            };
            let directive = if h2 && has_http2_directive(version) {
                "http2 on;"
            } else {
                ""
            };
            (
                listen,
                format!(
                    "ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key; {directive}"
                ),
            )
        }
    };
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
    {body_size}
    server {{
        {listen}
        {tls}
        location {location} {{
            proxy_pass http://{upstream}{upstream_path};
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Connection \"\";
        }}
    }}
}}
",
        location = options.location,
        upstream_path = options.upstream_path,
    )
}
