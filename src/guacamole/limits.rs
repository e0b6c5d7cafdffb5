//! Bounds on what a server can make guacsync hold or compute: every response body
//! is read incrementally up to a documented cap, and the connection group tree (the
//! one deeply nested answer) is decoded without `serde_json`'s 128-level recursion
//! limit, on a thread whose stack is sized for the deepest tree guacsync reads.
//!
//! Why these numbers:
//! - [`MAX_RESPONSE_BYTES`]: the largest answer of a real installation is the group
//!   tree. The test server's tree of 100,000 connections in 100 groups (every JDBC
//!   attribute written, as Guacamole writes them) is 28.2 MB, 282 bytes per
//!   connection (README, "Limits"); 256 MiB is nine times that (about 950,000
//!   connections), and 8 requests in flight can then hold at most 2 GiB.
//! - [`MAX_TREE_NESTING`]: Guacamole serialises with Jackson 2.17 (1.5.5) / 2.19
//!   (1.6.0), whose `StreamWriteConstraints` refuse to write JSON nested deeper than
//!   1,000 levels; each group adds two (its object and the `childConnectionGroups`
//!   array). guacsync reads four times that, so no Guacamole server can send a tree
//!   it refuses, and [`MAX_GROUP_DEPTH`] (what `validate` lets a manifest ask for)
//!   stays far below both.

use std::time::Duration;

use reqwest::Method;

use super::client::ClientError;

/// The largest response body guacsync reads (256 MiB).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// The deepest JSON nesting of a group tree guacsync decodes.
pub const MAX_TREE_NESTING: usize = 4096;

/// The deepest group path (segments below ROOT) a manifest may name. A group at
/// this depth, holding connections with sharing profiles, is nested
/// `2 × 256 + 6 = 518` JSON levels deep in the tree: below Jackson's 1,000 (so a
/// real server can still serve the tree) and far below [`MAX_TREE_NESTING`].
pub const MAX_GROUP_DEPTH: usize = 256;

/// The stack of the thread that decodes a tree. In a debug build (the hungriest),
/// the deepest tree guacsync accepts overflows 8 MiB and fits in 16 MiB (measured
/// with `deepest_tree_decodes`): 2–4 KiB per JSON level. 64 MiB leaves four times
/// that; the pages are only reserved until touched.
const DECODE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Reads a response body chunk by chunk, refusing it once it passes `limit` (or at
/// once when its `Content-Length` says it will). Nothing beyond the limit is held.
pub async fn read_body(
    mut resp: reqwest::Response,
    method: &Method,
    path: &str,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let too_large = || {
        BodyError::TooLarge(ClientError::TooLarge {
            method: method.clone(),
            path: path.to_owned(),
            limit,
        })
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(
        declared
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(limit),
    );
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(bytes::Bytes::from(body))
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed while the body was read.
    Transport(reqwest::Error),
    /// Over the cap (a `ClientError::TooLarge`).
    TooLarge(ClientError),
}

/// The deepest `{`/`[` nesting of a JSON text, found without recursion (strings and
/// their escapes skipped). Malformed text gets some number: the decoder reports it.
#[must_use]
pub fn max_nesting(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Groups and connections of a tree, keyed by path.
pub type FlatTree = super::observe::Flat;

/// Decodes `GET .../connectionGroups/ROOT/tree` and flattens it with
/// [`flatten_tree`](super::observe::flatten_tree) and
/// [`group_attributes`](super::observe::group_attributes).
pub async fn decode_tree(body: bytes::Bytes, path: &str) -> Result<FlatTree, ClientError> {
    decode_deep(body, path, super::observe::flatten_tree).await
}

/// Decodes a deeply nested answer into `T` and turns it into something flat with
/// `flatten`, on a thread with a stack sized for [`MAX_TREE_NESTING`]: decoding, the
/// caller's walk and the drop of the nested value may each recurse once per level,
/// so all three happen there. Deeper text is refused before it is decoded.
pub async fn decode_deep<T, R>(
    body: bytes::Bytes,
    path: &str,
    flatten: impl FnOnce(T) -> R + Send + 'static,
) -> Result<R, ClientError>
where
    T: serde::de::DeserializeOwned,
    R: Send + 'static,
{
    decode_deep_with(body, path, |de| T::deserialize(de), flatten).await
}

/// [`decode_deep`] with the decoder given: `decode` runs on the decoding thread
/// (a [`DeserializeSeed`](serde::de::DeserializeSeed) that reports what it reads
/// as it goes, for one).
pub async fn decode_deep_with<T, R>(
    body: bytes::Bytes,
    path: &str,
    decode: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
    ) -> Result<T, serde_json::Error>
    + Send
    + 'static,
    flatten: impl FnOnce(T) -> R + Send + 'static,
) -> Result<R, ClientError>
where
    R: Send + 'static,
{
    let decode_error = |message: String| ClientError::Decode {
        method: Method::GET,
        path: path.to_owned(),
        message,
    };
    let nesting = max_nesting(&body);
    if nesting > MAX_TREE_NESTING {
        return Err(decode_error(format!(
            "the connection group tree is nested {nesting} levels deep; guacsync reads at most \
             {MAX_TREE_NESTING} (about {} groups inside each other)",
            MAX_TREE_NESTING / 2 - 3
        )));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("guacsync-tree".to_owned())
        .stack_size(DECODE_STACK_BYTES)
        .spawn(move || {
            let mut de = serde_json::Deserializer::from_slice(&body);
            // The depth was bounded by `max_nesting` above and the stack is sized for it.
            de.disable_recursion_limit();
            let decoded = decode(&mut de)
                .and_then(|value| de.end().map(|()| value))
                .map(flatten)
                // An HTML sign-in page is named as such, not "expected value".
                .map_err(|e| crate::secret::redact(&super::transport::body::not_json(&e, &body)));
            let _ = tx.send(decoded);
        })
        .map_err(|e| decode_error(format!("cannot start the tree decoder: {e}")))?;
    match rx.await {
        Ok(result) => result.map_err(decode_error),
        Err(_) => Err(decode_error("the tree decoder stopped".to_owned())),
    }
}

/// How long until the TOTP time step after the one holding `unix_ms`, plus a
/// margin for clocks a little apart.
#[must_use]
pub fn until_next_step(unix_ms: u128, step_secs: u64) -> Duration {
    let step_ms = u128::from(step_secs) * 1000;
    let next = (unix_ms / step_ms + 1) * step_ms;
    Duration::from_millis(u64::try_from(next - unix_ms).unwrap_or(0) + 500)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A tree whose groups are nested `depth` deep, each with one connection.
    fn deep_tree(depth: usize) -> String {
        let mut s = String::from(r#"{"name":"ROOT","identifier":"ROOT""#);
        for i in 0..depth {
            let _ = write!(
                s,
                r#","childConnectionGroups":[{{"name":"g{i}","identifier":"{}","attributes":{{}}"#,
                i + 1
            );
        }
        s.push_str(r#","childConnections":[{"name":"c","identifier":"1","protocol":"ssh","attributes":{"weight":null},"sharingProfiles":[{"name":"p","identifier":"1","attributes":{}}]}]"#);
        for _ in 0..depth {
            s.push_str("}]");
        }
        s.push('}');
        s
    }

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert_eq!(max_nesting(br#"{"a":"{[{[","b":[1,{"c":"\"]"}]}"#), 3);
        assert_eq!(max_nesting(b"[]"), 1);
        assert_eq!(max_nesting(b"7"), 0);
        assert_eq!(max_nesting(deep_tree(3).as_bytes()), 2 * 3 + 6);
    }

    /// The deepest tree guacsync accepts decodes (in a debug build too, which needs
    /// the most stack), and one level more is refused with the limit named.
    #[tokio::test]
    async fn deepest_tree_decodes() {
        let depth = (MAX_TREE_NESTING - 6) / 2;
        let body = deep_tree(depth);
        assert_eq!(max_nesting(body.as_bytes()), MAX_TREE_NESTING);
        let flat = decode_tree(body.into(), "tree").await.expect("decodes");
        let (groups, connections) = (flat.groups, flat.connections);
        assert_eq!(groups.len(), depth);
        let deepest = connections.keys().next().expect("one connection");
        assert_eq!(deepest.group.depth(), depth);

        let too_deep = deep_tree(depth + 1);
        let e = decode_tree(too_deep.into(), "tree")
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("at most 4096"), "{e}");
    }

    #[test]
    fn next_step_waits_past_the_boundary() {
        assert_eq!(until_next_step(59_000, 30), Duration::from_millis(1_500));
        assert_eq!(until_next_step(60_000, 30), Duration::from_millis(30_500));
    }
}
