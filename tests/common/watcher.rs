//! `guacsync watch` as a child process: every stdout line (one per round) and every
//! stderr line is collected as written, so tests can check the raw lines as well
//! as their JSON.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use guacamole_testserver::RunningServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

pub struct Watcher {
    pub child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
}

impl Watcher {
    /// Starts `guacsync watch ARGS` in `dir` as the test server's admin.
    pub fn start(server: &RunningServer, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
        cmd.current_dir(dir)
            .arg("watch")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GUACAMOLE_URL", server.base_url())
            .env("GUACAMOLE_USERNAME", "guacadmin")
            .env("GUACAMOLE_PASSWORD", "guacadmin")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("watch starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                let _ = tx.send(line);
            }
        });
        let (etx, stderr) = mpsc::unbounded_channel();
        let mut err = BufReader::new(child.stderr.take().expect("stderr")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let _ = etx.send(line);
            }
        });
        Self {
            child,
            lines,
            stderr,
        }
    }

    /// The next stdout line as written.
    pub async fn line(&mut self, within: Duration) -> String {
        tokio::time::timeout(within, self.lines.recv())
            .await
            .expect("a round is logged in time")
            .expect("the watcher is running")
    }

    /// The next stdout line, which must be a JSON object.
    pub async fn round(&mut self, within: Duration) -> serde_json::Value {
        let line = self.line(within).await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Rounds until one whose outcome is `outcome` (every line must be JSON).
    pub async fn round_with(&mut self, outcome: &str, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let round = self.round(left).await;
            if round["outcome"] == outcome {
                return round;
            }
        }
    }

    pub fn stderr_so_far(&mut self) -> String {
        let mut all = String::new();
        while let Ok(line) = self.stderr.try_recv() {
            all.push_str(&line);
            all.push('\n');
        }
        all
    }

    /// Sends `signal` (`TERM`, `INT`) to the watcher.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid.to_string()])
                .status();
        }
    }

    /// SIGTERM, then the exit code and the lines written until exit.
    pub async fn stop(mut self) -> (Option<i32>, Vec<String>) {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits in time")
            .expect("exit status");
        let mut rest = Vec::new();
        while let Some(line) = self.lines.recv().await {
            rest.push(line);
        }
        (status.code(), rest)
    }
}
