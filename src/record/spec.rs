//! The syntax of a probe spec, checked on the recorder's side before the
//! output is looked at.
//!
//! The agent resolves specs (`resolve.py`: `parse_spec`, then the file, the
//! line and the names there) inside the program's interpreter, which runs
//! only after the output has been checked and created. A typo in a spec
//! would then be hidden behind "OUT already exists"; checking the syntax
//! here first reports the spec. The check is deliberately no stricter than
//! `parse_spec`: whatever it lets through, the agent still judges, so it can
//! only move an error earlier, never invent one. Its messages are the
//! agent's, word for word.

/// Checks a spec's syntax as the agent's `parse_spec` does; `Err` holds the
/// agent's message for it (`probe 'x.py:x': expected FILE:LINE:NAME[@lhs|@rhs]`).
pub fn check_syntax(text: &str) -> Result<(), String> {
    let bad = |why: String| Err(format!("probe {}: {why}", py_repr(text)));
    if text.contains(['\n', '\r', '\t']) {
        // The agent's settings are lines of `key<TAB>value`.
        return bad("a spec cannot hold a tab or a line break (rename the file)".to_string());
    }
    let mut s = text.trim();
    if let Some((rest, role)) = s.rsplit_once('@') {
        if role != "lhs" && role != "rhs" {
            return bad(format!("role must be @lhs or @rhs, not @{role}"));
        }
        s = rest;
    }
    let mut parts = s.rsplitn(3, ':');
    let (Some(name), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return bad("expected FILE:LINE:NAME[@lhs|@rhs]".to_string());
    };
    if file.is_empty() || name.is_empty() {
        return bad("expected FILE:LINE:NAME[@lhs|@rhs]".to_string());
    }
    match line_number(line) {
        LineNumber::NotANumber => return bad(format!("line {} is not a number", py_repr(line))),
        LineNumber::BelowOne => return bad("line numbers start at 1".to_string()),
        LineNumber::Fine => {}
    }
    if !name.split('.').all(maybe_identifier) {
        return bad(format!(
            "{} is not a name or attribute chain",
            py_repr(name)
        ));
    }
    Ok(())
}

enum LineNumber {
    NotANumber,
    BelowOne,
    /// A number of 1 or more, or something only Python can judge.
    Fine,
}

/// What Python's `int(line)` would make of `line`, erring towards `Fine`:
/// it accepts surrounding whitespace, a sign, underscores between digits
/// and any Unicode decimal digit, which is left to the agent.
fn line_number(line: &str) -> LineNumber {
    let t = line.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.chars().all(|c| c.is_numeric() || c == '_') {
        return LineNumber::NotANumber;
    }
    if digits.chars().all(|c| c.is_ascii_digit()) {
        let zero = digits.bytes().all(|b| b == b'0');
        if zero || t.starts_with('-') {
            return LineNumber::BelowOne;
        }
    }
    LineNumber::Fine
}

/// `str.isidentifier()` where ASCII decides it; a part with other
/// characters is left to the agent (Python's rules for them are Unicode's
/// XID classes, which this side does not carry).
fn maybe_identifier(part: &str) -> bool {
    let Some(first) = part.chars().next() else {
        return false;
    };
    if first.is_ascii_digit() {
        return false;
    }
    part.chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '_')
}

/// Python's `repr` of a str, as the agent's messages show it (a refusal
/// starts `probe REPR-OF-SPEC: `).
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_specs_pass() {
        for s in [
            "a.py:3:x",
            "dir/a.py:13:self.gain@lhs",
            "C:/odd:path.py:3:x@rhs",
            " a.py:+7:x ",
            "a.py:1_0:x",
            "a.py:3:名前",
        ] {
            assert_eq!(check_syntax(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn bad_specs_give_the_agents_messages() {
        let err = |s| check_syntax(s).unwrap_err();
        assert_eq!(
            err("a.py:x"),
            "probe 'a.py:x': expected FILE:LINE:NAME[@lhs|@rhs]"
        );
        assert_eq!(
            err("a.py:13:"),
            "probe 'a.py:13:': expected FILE:LINE:NAME[@lhs|@rhs]"
        );
        assert_eq!(
            err("a.py:abc:x"),
            "probe 'a.py:abc:x': line 'abc' is not a number"
        );
        assert_eq!(
            err("a.py:13:x@foo"),
            "probe 'a.py:13:x@foo': role must be @lhs or @rhs, not @foo"
        );
        assert_eq!(err("a.py:0:x"), "probe 'a.py:0:x': line numbers start at 1");
        assert_eq!(
            err("a.py:13:x y"),
            "probe 'a.py:13:x y': 'x y' is not a name or attribute chain"
        );
        assert_eq!(
            err("a.py:13:self..x"),
            "probe 'a.py:13:self..x': 'self..x' is not a name or attribute chain"
        );
        assert_eq!(
            err("d\tx.py:1:x"),
            "probe 'd\\tx.py:1:x': a spec cannot hold a tab or a line break (rename the file)"
        );
        assert_eq!(
            err("it's.py:1:2x"),
            "probe \"it's.py:1:2x\": '2x' is not a name or attribute chain"
        );
    }
}
