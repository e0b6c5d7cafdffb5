//! Generated inputs: what `validate` must say about one (exit code, codes, text
//! said and not said, bounded output and peak RSS) and the check that runs it,
//! then `plan`, which must exit 1 without a request.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use guacamole_testserver::RunningServer;

use super::{HANG_GUARD, Row, run_with};
use crate::common;

/// One generated input: what `validate` must say, within which bounds.
pub(crate) struct Generated<'a> {
    pub(crate) name: &'a str,
    pub(crate) exit: i32,
    pub(crate) codes: &'a [&'a str],
    /// Text that must appear in the output (a count, a message).
    pub(crate) says: Option<&'a str>,
    /// Text that must not appear in the output.
    pub(crate) not_says: Option<&'a str>,
    pub(crate) max_output: usize,
    /// Peak RSS bound, checked where `/usr/bin/time` measures it.
    pub(crate) max_peak_kib: u64,
    pub(crate) guard: Duration,
}

impl Generated<'_> {
    pub(crate) const fn new(name: &str) -> Generated<'_> {
        Generated {
            name,
            exit: 1,
            codes: &[],
            says: None,
            not_says: None,
            max_output: 64 * 1024,
            max_peak_kib: 256 * 1024,
            guard: HANG_GUARD,
        }
    }
}

/// Runs `validate` on `g.name` in `dir` and checks it; then, when it has errors,
/// `plan`, which must exit 1 without a request.
pub(crate) async fn check(dir: &Path, g: &Generated<'_>, server: &RunningServer) -> Row {
    let name = g.name;
    let v = run_with(dir, &["validate", name], server.base_url(), g.guard).await;
    let tail = &v.stderr[v.stderr.len().saturating_sub(2000)..];
    assert_eq!(v.code, Some(g.exit), "{name}: exit code\n{tail}");
    let codes = common::diagnostic_codes(&v.stderr);
    for code in g.codes {
        assert!(
            codes.iter().any(|c| c == code),
            "{name}: no {code} in {codes:?}"
        );
    }
    let output = v.stderr.len() + v.stdout.len();
    assert!(output <= g.max_output, "{name}: {output} bytes of output");
    let stdout = String::from_utf8_lossy(&v.stdout);
    if let Some(text) = g.says {
        assert!(
            v.stderr.contains(text) || stdout.contains(text),
            "{name}: no {text:?} in\n{tail}{stdout}"
        );
    }
    if let Some(text) = g.not_says {
        assert!(!v.stderr.contains(text), "{name}: {text:?} in\n{tail}");
    }
    if let Some(peak) = v.peak_kib {
        assert!(
            peak <= g.max_peak_kib,
            "{name}: peak RSS {peak} KiB > {}",
            g.max_peak_kib
        );
    }
    if g.exit != 0 {
        server.clear_requests();
        let p = run_with(dir, &["plan", name], server.base_url(), g.guard).await;
        assert_eq!(p.code, Some(1), "{name}: plan exit code\n{}", p.stderr);
        assert!(
            server.requests().is_empty(),
            "{name}: plan contacted the server: {:?}",
            common::summary(&server.requests())
        );
    }
    Row {
        input: name.to_owned(),
        codes: codes.join(", "),
        ms: v.ms,
        peak_kib: v.peak_kib,
        output_bytes: output,
    }
}

pub(crate) fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), text).expect("write");
}

/// `n` distinct keys `k0`.. as `"k": "1"` (JSON) or `k: 1` (YAML) lines, then `k0`
/// again, so that duplicate detection must still find it at the end.
pub(crate) fn many_keys(n: usize, json: bool) -> String {
    let mut s = String::with_capacity(n * 12);
    for i in 0..=n {
        let k = i % n;
        if json {
            let _ = write!(s, "{}\"k{k}\":\"1\"", if i == 0 { "" } else { "," });
        } else {
            let _ = writeln!(s, "    k{k}: 1");
        }
    }
    s
}
