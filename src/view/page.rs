//! The viewer's HTML: one file with uPlot (vendored, MIT:
//! `assets/vendor/uplot/`), the page's style and script
//! (`assets/view/`), and the data, all inlined — no network, no server.

use super::data::Chunk;

/// uPlot 1.6.32, minified, as published on npm (see its README there).
pub const UPLOT_JS: &str = include_str!("../../assets/vendor/uplot/uPlot.iife.min.js");
/// uPlot's stylesheet.
pub const UPLOT_CSS: &str = include_str!("../../assets/vendor/uplot/uPlot.min.css");
/// uPlot's licence, kept in every report beside the code it covers.
pub const UPLOT_LICENSE: &str = include_str!("../../assets/vendor/uplot/LICENSE");
/// The page's script.
pub const VIEW_JS: &str = include_str!("../../assets/view/view.js");
/// The page's style.
pub const VIEW_CSS: &str = include_str!("../../assets/view/view.css");

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// JSON made safe inside a `<script>` element: `<` escaped so that no
/// `</script>` or `<!--` in a value (a probed string) can end it.
pub fn script_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, data_scripts: &str) -> String {
    let mut h = String::with_capacity(data_scripts.len() + UPLOT_JS.len() + VIEW_JS.len() + 8192);
    h.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<meta name=\"generator\" content=\"probe ");
    h.push_str(env!("CARGO_PKG_VERSION"));
    h.push_str("\">\n<title>");
    h.push_str(&html_escape(title));
    h.push_str(" — probe view</title>\n<style>\n");
    h.push_str(UPLOT_CSS);
    h.push('\n');
    h.push_str(VIEW_CSS);
    h.push_str("\n</style>\n</head>\n<body>\n<div id=\"app\"><noscript>This report needs JavaScript.</noscript></div>\n");
    h.push_str(data_scripts);
    h.push_str("<script>\n/*! uPlot v1.6.32 | (c) 2022 Leon Sorokin | MIT License:\n");
    h.push_str(&UPLOT_LICENSE.replace("*/", "* /"));
    h.push_str("*/\n");
    h.push_str(UPLOT_JS);
    h.push_str("\n</script>\n<script>\n");
    h.push_str(VIEW_JS);
    h.push_str("\n</script>\n</body>\n</html>\n");
    h
}

/// A static report: the chunk's header and base64 body inlined.
pub fn report_html(chunk: &Chunk, log_name: &str) -> String {
    let mut d = String::with_capacity(chunk.body.len() * 4 / 3 + 4096);
    d.push_str("<script id=\"probe-header\" type=\"application/json\">");
    d.push_str(&script_json(&chunk.header));
    d.push_str("</script>\n<script id=\"probe-body\" type=\"application/octet-stream\">");
    d.push_str(&base64(&chunk.body));
    d.push_str("</script>\n");
    page(log_name, &d)
}

/// The live page: the same page, told where its events come from.
pub fn live_html(title: &str, events_url: &str) -> String {
    let d = format!(
        "<script id=\"probe-live\" type=\"application/json\">{}</script>\n",
        script_json(&serde_json::json!({ "events": events_url }))
    );
    page(title, &d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn json_cannot_close_the_script() {
        let s = script_json(&"</script><!--");
        assert!(!s.contains('<'));
    }
}
