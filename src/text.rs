//! Text for people: log-derived strings made safe for a terminal, and
//! numbers written the way a person reads them.
//!
//! Everything a log stores as text — file names, commands, reprs, error
//! messages, exit details — was written by a program probe does not
//! control, and the log itself may have been crafted. Printed raw, an
//! escape sequence in it would drive the user's terminal (retitle it,
//! hide lines, fake a verdict with a carriage return). Every human output
//! (`info`, `verify`, `diff`, `replay` and `export` messages) passes such
//! strings through [`Esc`], which shows control characters as escapes;
//! JSON output is already escaped by the serializer.

use std::borrow::Cow;
use std::fmt;

/// True for characters that must not reach a terminal raw: C0 controls
/// (tab and newline included: a log's string must stay on its line), DEL,
/// C1 controls, and the Unicode line separators and bidirectional
/// overrides that reorder what is shown.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// `s` with every unsafe character written as an escape (`\n`, `\t`,
/// `\r`, `\x1b`, `\u{202e}`); borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// A string shown with its unsafe characters escaped ([`escape`]).
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Padding and alignment apply to the escaped text.
        f.pad(&escape(self.0))
    }
}

/// Text for terminals that may still hold unsafe characters (a message
/// assembled from log strings somewhere else): escape everything except
/// the newlines that separate its lines.
pub fn escape_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| escape(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A number as a person reads it: the shortest text that reads back as the
/// same `f64` (`1.149`, `0.9971`, `250`), in exponent form only for very
/// large or very small magnitudes (`1.5e-7`, `2.5e20`); `inf`, `-inf`, `nan`.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// `1234567` as `1,234,567`: every count a person reads.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count with its noun, singular for one: `1 probe`, `1,234 records`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// One way to write a duration in every human output (the record and
/// export summaries, `info`, `replay`, the live line): a number of seconds
/// with its unit attached, to the millisecond under a second and the
/// hundredth under a minute, trailing zeros dropped (`0.062s`, `6.12s`,
/// `10s`), then minutes and hours (`1m29s`, `2m00s`, `1h02m03s`) — no jump
/// from `89s` to `2m`. The live line passes whole seconds (`0s`, `59s`).
pub fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 60_000 {
        let (units, scale, places) = if ms < 1000 {
            (ms, 1000, 3)
        } else {
            ((ms + 5) / 10, 100, 2)
        };
        if units < 60 * scale {
            let text = format!(
                "{}.{:0places$}",
                units / scale,
                units % scale,
                places = places
            );
            let text = text.trim_end_matches('0').trim_end_matches('.');
            return format!("{text}s");
        }
    }
    let s = d.as_secs().max(60);
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain/path.py"), "plain/path.py");
        assert_eq!(
            escape("a\x1b[2Jb\nc\rd\te\u{7f}"),
            "a\\x1b[2Jb\\nc\\rd\\te\\x7f"
        );
        assert_eq!(escape("x\u{202e}y\u{9b}"), "x\\u{202e}y\\x9b");
        assert_eq!(format!("[{:<6}]", Esc("a\nb")), "[a\\nb  ]");
        assert_eq!(escape_lines("ok\n\x1b]0;x\x07"), "ok\n\\x1b]0;x\\x07");
    }

    #[test]
    fn one_duration_format_with_no_jump_at_a_minute() {
        use std::time::Duration;
        let f = |s| format_duration(Duration::from_secs(s));
        assert_eq!(f(0), "0s");
        assert_eq!(f(59), "59s");
        assert_eq!(f(60), "1m00s");
        assert_eq!(f(89), "1m29s");
        assert_eq!(f(120), "2m00s");
        assert_eq!(f(3723), "1h02m03s");
        let ms = |m| format_duration(Duration::from_millis(m));
        assert_eq!(ms(62), "0.062s");
        assert_eq!(ms(464), "0.464s");
        assert_eq!(ms(500), "0.5s");
        assert_eq!(ms(6123), "6.12s");
        assert_eq!(ms(10_000), "10s");
        assert_eq!(ms(59_996), "1m00s");
        assert_eq!(ms(89_999), "1m29s");
    }

    #[test]
    fn numbers_are_shortest_round_trip() {
        assert_eq!(num(1.149), "1.149");
        assert_eq!(num(0.9971), "0.9971");
        assert_eq!(num(250.0), "250");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-2.5e-7), "-2.5e-7");
        assert_eq!(num(1.7976931348623157e308), "1.7976931348623157e308");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
        assert_eq!(num(1e-4), "0.0001");
        for x in [0.1 + 0.2, 1.0 / 3.0, 6.02e23, 5e-324] {
            assert_eq!(num(x).parse::<f64>().ok(), Some(x));
        }
    }
}
