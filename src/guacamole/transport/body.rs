//! One-line summaries of answers that are not Guacamole's JSON error.
//!
//! A proxy in front of Guacamole (nginx, Apache, a load balancer, an SSO gateway)
//! answers its own errors with HTML pages. Printed whole, one failed run printed 24
//! of them (issue 11). An error or retry warning shows instead the page's title or
//! first text, its content type and its size, on one line.

/// At most this many characters of a page's title or first text are shown.
const TEXT_CHARS: usize = 100;
/// Only the start of a body is looked at for its title or first text.
const SCAN_BYTES: usize = 64 * 1024;

/// `"502 Bad Gateway" (a text/html page of 157 bytes, not Guacamole's JSON error)`.
#[must_use]
pub fn summarize(content_type: Option<&str>, body: &[u8]) -> String {
    describe(content_type, body, ", not Guacamole's JSON error")
}

/// The body's title or first text, quoted, then in parentheses what it is and
/// `note`.
fn describe(content_type: Option<&str>, body: &[u8], note: &str) -> String {
    let kind = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let size = size(body.len());
    if body.is_empty() {
        return match kind {
            Some(k) => format!("an empty {k} body{note}"),
            None => format!("an empty body{note}"),
        };
    }
    let start = &body[..body.len().min(SCAN_BYTES)];
    let text = String::from_utf8_lossy(start);
    let html = kind.is_some_and(|k| k.contains("html"))
        || text.trim_start().starts_with('<') && kind.is_none_or(|k| !k.contains("json"));
    let line = if html {
        title(&text).unwrap_or_else(|| one_line(&strip_tags(&text)))
    } else {
        one_line(&text)
    };
    let what = match (kind, html) {
        (Some(k), true) => format!("a {k} page of {size}"),
        (Some(k), false) => format!("{size} of {k}"),
        (None, true) => format!("an HTML page of {size}"),
        (None, false) => size,
    };
    if line.is_empty() {
        format!("{what}{note}")
    } else {
        // Quoted as is (control characters are gone): `{:?}` would escape quotes.
        format!("\"{line}\" ({what}{note})")
    }
}

/// A JSON decoding error; when the body is not JSON at all (a proxy's page with
/// status 200), what it is instead.
#[must_use]
pub fn not_json(e: &serde_json::Error, body: &[u8]) -> String {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[' | b'"')) {
        e.to_string()
    } else {
        format!("not JSON but {}", describe(None, body, ""))
    }
}

fn size(bytes: usize) -> String {
    #[allow(clippy::cast_precision_loss)] // shown with one decimal
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", b / 1e3),
        _ => format!("{:.1} MB", b / 1e6),
    }
}

/// The text of the first `<title>` element.
fn title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let content = open + lower[open..].find('>')? + 1;
    let close = content
        + lower[content..]
            .find("</title")
            .unwrap_or(lower.len() - content);
    let text = one_line(&decode_entities(&html[content..close]));
    (!text.is_empty()).then_some(text)
}

/// The text of an HTML page without its tags, scripts and styles.
fn strip_tags(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::new();
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<').map(|p| i + p) else {
            out.push_str(&html[i..]);
            break;
        };
        out.push_str(&html[i..lt]);
        out.push(' ');
        let skip_to = ["script", "style"].iter().find_map(|tag| {
            lower[lt + 1..]
                .starts_with(tag)
                .then(|| lower[lt..].find(&format!("</{tag}")).map(|p| lt + p + 2))
                .flatten()
        });
        let from = skip_to.unwrap_or(lt);
        match html[from..].find('>') {
            Some(gt) => i = from + gt + 1,
            None => break,
        }
    }
    decode_entities(&out)
}

/// The few entities error pages use.
fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&ndash;", "\u{2013}")
        .replace("&amp;", "&")
}

/// Whitespace (and control characters) collapsed to single spaces, cut to
/// `TEXT_CHARS` characters.
fn one_line(s: &str) -> String {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= TEXT_CHARS {
        joined
    } else {
        let mut cut: String = joined.chars().take(TEXT_CHARS).collect();
        cut.push_str("...");
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

    #[test]
    fn proxy_pages_become_one_line() {
        assert_eq!(
            summarize(Some("text/html"), NGINX_502.as_bytes()),
            "\"502 Bad Gateway\" (a text/html page of 157 bytes, not Guacamole's JSON error)"
        );
        let tomcat = "<!doctype html><html lang=\"en\"><head><title>HTTP Status 404 &ndash; Not Found</title><style type=\"text/css\">body {font-family:Tahoma}</style></head><body><h1>HTTP Status 404 – Not Found</h1></body></html>";
        assert!(
            summarize(Some("text/html;charset=utf-8"), tomcat.as_bytes())
                .starts_with("\"HTTP Status 404 \u{2013} Not Found\" (a text/html page of")
        );
        let untitled = "<html><head><style>x{}</style><script>var a = '<b>';</script></head><body>\n\n<h1>Service   Unavailable</h1><p>try later</p></body></html>";
        assert!(
            summarize(None, untitled.as_bytes())
                .starts_with("\"Service Unavailable try later\" (an HTML page of"),
            "{}",
            summarize(None, untitled.as_bytes())
        );
    }

    #[test]
    fn other_bodies() {
        assert_eq!(
            summarize(
                Some("application/json"),
                br#"{"message":"no Route matched with those values"}"#
            ),
            r#""{"message":"no Route matched with those values"}" (48 bytes of application/json, not Guacamole's JSON error)"#
        );
        assert_eq!(
            summarize(Some("text/plain"), b""),
            "an empty text/plain body, not Guacamole's JSON error"
        );
        let long = "x".repeat(5_000);
        let s = summarize(Some("text/plain"), long.as_bytes());
        assert!(
            s.contains("5.0 kB") && s.contains("...") && s.len() < 200,
            "{s}"
        );
        let binary = summarize(None, &[0, 1, 2, 0xff, b'\n']);
        assert!(!binary.contains('\n') && !binary.contains('\0'), "{binary}");
        let e = serde_json::from_slice::<serde_json::Value>(b"<html><title>Sign in</title></html>")
            .expect_err("not json");
        assert_eq!(
            not_json(&e, b"<html><title>Sign in</title></html>"),
            "not JSON but \"Sign in\" (an HTML page of 35 bytes)"
        );
        let e = serde_json::from_slice::<Vec<u8>>(b"").expect_err("empty");
        assert_eq!(not_json(&e, b""), "not JSON but an empty body");
        let e = serde_json::from_slice::<Vec<u8>>(b"{}").expect_err("wrong shape");
        assert_eq!(not_json(&e, b"{}"), e.to_string());
        let big = summarize(Some("text/html"), &vec![b' '; 2_500_000]);
        assert!(big.contains("2.5 MB"), "{big}");
    }
}
