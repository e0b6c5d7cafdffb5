//! Sending writes within the request-size limit (DESIGN.md §4 "Every write fits the
//! request limit").
//!
//! Every write body is cut to at most the current limit, `max_request_bytes` to
//! begin with. A 413 that is not Guacamole's parameter-length error means the body
//! was refused before anything was applied: by a proxy in front (its answer is not
//! Guacamole's JSON), or by Guacamole's own `api-max-request-size` (`Request
//! body/entity too large.`). The refused part is then split in two and sent again,
//! and the limit drops for everything after it, so one refusal costs one retry;
//! the apply report says what size worked and which `guacsync.toml` line avoids
//! the retry.

use std::sync::Mutex;

use serde_json::Value;

use crate::guacamole::wire::{OpName, PatchOutcome, StringOp};
use crate::guacamole::{Client, ClientError};

/// What the writer learnt about the size the server path accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeLearnt {
    /// The smallest body refused with a 413.
    pub refused: Option<usize>,
    /// The largest body accepted.
    pub worked: usize,
    /// Whether a proxy refused it (its answer was not Guacamole's).
    pub by_proxy: bool,
}

impl SizeLearnt {
    /// The line to add to `guacsync.toml` when a body was refused.
    #[must_use]
    pub fn advice(&self) -> Option<String> {
        let refused = self.refused?;
        let who = if self.by_proxy {
            "a proxy in front of Guacamole"
        } else {
            "Guacamole (its api-max-request-size)"
        };
        Some(format!(
            "{who} refused a request of {refused} bytes (413); guacsync sent smaller ones instead, \
             the largest of {} bytes. To plan for that limit, set in guacsync.toml:\n    [sync]\n    max_request_bytes = {}",
            self.worked,
            suggested(self.worked, refused)
        ))
    }
}

/// A round figure at or below what worked (and below what was refused).
fn suggested(worked: usize, refused: usize) -> usize {
    let ceiling = worked.max(1024).min(refused.saturating_sub(1).max(1024));
    // 1 KiB steps keep the suggestion readable.
    ceiling / 1024 * 1024
}

/// A failure while sending a sized list of operations: `applied` operations (a
/// prefix of the list) were applied before it.
#[derive(Debug)]
pub struct Partial {
    pub applied: usize,
    /// Outcomes of the applied prefix (directory PATCH requests only).
    pub outcomes: Vec<PatchOutcome>,
    pub error: WriteError,
}

#[derive(Debug)]
pub enum WriteError {
    Client(ClientError),
    /// One operation alone is larger than what the server path accepts.
    SingleTooLarge {
        bytes: usize,
        by_proxy: bool,
    },
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(e) => write!(f, "{e}"),
            Self::SingleTooLarge { bytes, by_proxy } => {
                let who = if *by_proxy {
                    "a proxy in front of Guacamole refuses (413)"
                } else {
                    "Guacamole refuses (413, its api-max-request-size)"
                };
                write!(
                    f,
                    "one object alone needs a request of {bytes} bytes, which {who}; raise that limit (nginx: client_max_body_size)"
                )
            }
        }
    }
}

/// Sends writes in bodies no larger than the limit, learning it from 413s.
pub struct Writer<'a> {
    client: &'a Client,
    state: Mutex<(usize, SizeLearnt)>,
}

/// Whether an error is a refusal of the body's size (nothing was applied), and
/// whether a proxy gave it.
fn size_refusal(e: &ClientError) -> Option<bool> {
    match e {
        ClientError::Api {
            status: 413,
            kind: None,
            ..
        } => Some(true),
        ClientError::Api {
            status: 413,
            message,
            ..
        } if message == "Request body/entity too large." => Some(false),
        _ => None,
    }
}

/// The length of the body holding ops of these serialised `sizes`: `[` + the ops
/// joined by `,` + `]`.
fn body_len(sizes: &[usize]) -> usize {
    2 + sizes.iter().sum::<usize>() + sizes.len().saturating_sub(1)
}

/// The body of a PATCH: the ops, each serialised once (compactly) beforehand,
/// joined into a JSON array.
fn joined(texts: &[String]) -> Vec<u8> {
    let sizes: Vec<usize> = texts.iter().map(String::len).collect();
    let mut body = Vec::with_capacity(body_len(&sizes));
    body.push(b'[');
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(t.as_bytes());
    }
    body.push(b']');
    body
}

/// Cuts `sizes` into consecutive ranges whose bodies fit `limit` (a single item
/// larger than the limit is a range of its own).
fn cut(sizes: &[usize], limit: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut bytes = 2;
    for (i, size) in sizes.iter().enumerate() {
        let extra = size + usize::from(i > start);
        if i > start && bytes + extra > limit {
            ranges.push(start..i);
            start = i;
            bytes = 2 + size;
        } else {
            bytes += extra;
        }
    }
    if start < sizes.len() {
        ranges.push(start..sizes.len());
    }
    ranges
}

/// The limit under which items of `sizes` (two or more) go as two bodies as
/// equal as the items allow: a refused request is sent again in two, not in two
/// halves and a remainder.
fn halves(sizes: &[usize]) -> usize {
    let total: usize = sizes.iter().sum();
    let n = sizes.len();
    let mut left = 0;
    let mut best = usize::MAX;
    for (k, size) in sizes.iter().enumerate().take(n.saturating_sub(1)) {
        left += size;
        // Bodies: `[` + items joined by `,` + `]`.
        let a = 2 + left + k;
        let b = 2 + (total - left) + (n - k - 2);
        best = best.min(a.max(b));
    }
    best
}

impl<'a> Writer<'a> {
    #[must_use]
    pub fn new(client: &'a Client, limit: usize) -> Self {
        Self {
            client,
            state: Mutex::new((limit, SizeLearnt::default())),
        }
    }

    #[must_use]
    pub fn client(&self) -> &'a Client {
        self.client
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, SizeLearnt)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current limit.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.lock().0
    }

    /// What was learnt so far.
    #[must_use]
    pub fn learnt(&self) -> SizeLearnt {
        self.lock().1
    }

    fn accepted(&self, bytes: usize) {
        let mut s = self.lock();
        s.1.worked = s.1.worked.max(bytes);
    }

    /// Records a refusal of `bytes` and lowers the limit below it, to `next`.
    fn refused(&self, bytes: usize, by_proxy: bool, next: usize) {
        let mut s = self.lock();
        s.1.refused = Some(s.1.refused.map_or(bytes, |r| r.min(bytes)));
        s.1.by_proxy |= by_proxy;
        s.0 = s.0.min(next).min(bytes.saturating_sub(1)).max(2);
    }

    /// Sends `ops` to the directory `endpoint` as ordered atomic PATCH requests that fit
    /// the limit; returns one outcome per op. On failure, `Partial` says how many
    /// ops (a prefix) were applied by the PATCH requests before the failing one.
    pub async fn directory(
        &self,
        endpoint: &str,
        ops: &[Value],
    ) -> Result<Vec<PatchOutcome>, Partial> {
        // Each op is serialised once: its size decides the cut, and the bodies
        // are these texts joined (3 MB of connections at 10,000).
        let texts: Vec<String> = ops.iter().map(Value::to_string).collect();
        let sizes: Vec<usize> = texts.iter().map(String::len).collect();
        let mut outcomes: Vec<PatchOutcome> = Vec::with_capacity(ops.len());
        let mut queue: std::collections::VecDeque<std::ops::Range<usize>> =
            cut(&sizes, self.limit()).into();
        while let Some(range) = queue.pop_front() {
            let sent: Vec<OpName> = ops[range.clone()]
                .iter()
                .map(|o| OpName {
                    op: o
                        .get("op")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect();
            let body = joined(&texts[range.clone()]);
            let bytes = body.len();
            match self.client.patch_directory(endpoint, &sent, body).await {
                Ok(done) => {
                    self.accepted(bytes);
                    outcomes.extend(done);
                }
                Err(e) => match size_refusal(&e) {
                    Some(by_proxy) if range.len() > 1 => {
                        self.refused(bytes, by_proxy, halves(&sizes[range.clone()]));
                        tracing::warn!(
                            "a request of {bytes} bytes was refused with 413; sending it in smaller parts"
                        );
                        let smaller = cut(&sizes[range.clone()], self.limit());
                        for r in smaller.into_iter().rev() {
                            queue.push_front(range.start + r.start..range.start + r.end);
                        }
                    }
                    Some(by_proxy) => {
                        self.refused(bytes, by_proxy, bytes / 2);
                        return Err(Partial {
                            applied: range.start,
                            outcomes,
                            error: WriteError::SingleTooLarge { bytes, by_proxy },
                        });
                    }
                    None => {
                        return Err(Partial {
                            applied: range.start,
                            outcomes,
                            error: WriteError::Client(e),
                        });
                    }
                },
            }
        }
        Ok(outcomes)
    }

    /// Sends string `ops` (a permission or membership PATCH at `rest`) in requests
    /// that fit the limit, in order. On failure, `Partial.applied` ops were sent
    /// successfully before the failing request.
    pub async fn strings(&self, rest: &str, ops: &[StringOp]) -> Result<(), Partial> {
        let sizes: Vec<usize> = ops
            .iter()
            .map(|o| serde_json::to_string(o).map_or(0, |t| t.len()))
            .collect();
        let mut queue: std::collections::VecDeque<std::ops::Range<usize>> =
            cut(&sizes, self.limit()).into();
        while let Some(range) = queue.pop_front() {
            let bytes = body_len(&sizes[range.clone()]);
            match self.client.patch_strings(rest, &ops[range.clone()]).await {
                Ok(()) => self.accepted(bytes),
                Err(e) => match size_refusal(&e) {
                    Some(by_proxy) if range.len() > 1 => {
                        self.refused(bytes, by_proxy, halves(&sizes[range.clone()]));
                        let smaller = cut(&sizes[range.clone()], self.limit());
                        for r in smaller.into_iter().rev() {
                            queue.push_front(range.start + r.start..range.start + r.end);
                        }
                    }
                    Some(by_proxy) => {
                        self.refused(bytes, by_proxy, bytes / 2);
                        return Err(Partial {
                            applied: range.start,
                            outcomes: Vec::new(),
                            error: WriteError::SingleTooLarge { bytes, by_proxy },
                        });
                    }
                    None => {
                        return Err(Partial {
                            applied: range.start,
                            outcomes: Vec::new(),
                            error: WriteError::Client(e),
                        });
                    }
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_goes_again_in_two() {
        for sizes in [
            vec![10, 10, 10, 10],
            vec![10, 10, 10],
            vec![300, 301, 299, 302, 298, 1],
            vec![1, 1000, 1],
            vec![7; 9_999],
        ] {
            let limit = halves(&sizes);
            let total = 2 + sizes.iter().sum::<usize>() + sizes.len() - 1;
            assert!(limit < total, "{sizes:?}: {limit} must be below {total}");
            assert_eq!(cut(&sizes, limit).len(), 2, "{sizes:?} under {limit}");
        }
    }

    #[test]
    fn cut_fills_each_body_up_to_the_limit() {
        // Body of items a,b = 2 + a + 1 + b.
        assert_eq!(cut(&[10, 10, 10], 100), vec![0..3]);
        assert_eq!(cut(&[10, 10, 10], 23), vec![0..2, 2..3]);
        assert_eq!(cut(&[10, 10, 10], 22), vec![0..1, 1..2, 2..3]);
        assert_eq!(
            cut(&[50, 1], 10),
            vec![0..1, 1..2],
            "an oversized item stands alone"
        );
        assert!(cut(&[], 10).is_empty());
    }

    #[test]
    fn body_length_is_what_is_sent() {
        let ops = vec![
            serde_json::json!({"op": "remove", "path": "/1"}),
            serde_json::json!({"op": "add", "path": "/", "value": {"name": "a \"b\"", "n": [1, 2]}}),
        ];
        let texts: Vec<String> = ops.iter().map(Value::to_string).collect();
        let sizes: Vec<usize> = texts.iter().map(String::len).collect();
        let sent = serde_json::to_vec(&ops).expect("json");
        assert_eq!(joined(&texts), sent);
        assert_eq!(body_len(&sizes), sent.len());
        assert_eq!(joined(&[]), b"[]");
        assert_eq!(body_len(&[]), 2);
        let strings = [StringOp {
            op: "add",
            path: "/connectionPermissions/1".to_owned(),
            value: "READ \"x\"".to_owned(),
        }];
        let size = serde_json::to_string(&strings[0]).expect("json").len();
        assert_eq!(
            body_len(&[size]),
            serde_json::to_vec(&strings).expect("json").len()
        );
    }

    #[test]
    fn advice_names_a_size_that_worked() {
        let learnt = SizeLearnt {
            refused: Some(1_100_000),
            worked: 550_000,
            by_proxy: true,
        };
        let advice = learnt.advice().expect("advice");
        assert!(
            advice.contains("a proxy in front of Guacamole refused a request of 1100000 bytes"),
            "{advice}"
        );
        assert!(advice.contains("max_request_bytes = 549888"), "{advice}");
        assert_eq!(SizeLearnt::default().advice(), None);
    }
}
