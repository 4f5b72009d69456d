//! The rendered label-set format, in one place.
//!
//! A series keeps its labels as one string, `name="escaped value",...` without braces: the
//! exact bytes the text formats write between `{` and `}`. Storing them rendered means a
//! scrape copies them instead of escaping every value again, and a lookup compares a
//! caller's values against them in place. Everything that writes, compares, reads back or
//! renames such a string lives here, so the escaping rules cannot drift apart between the
//! writer and its readers.
//!
//! This is the bottom of the crate: it imports nothing from it.

use std::borrow::Cow;

/// Appends a label value escaped for both text formats: `\` → `\\`, `"` → `\"`, LF → `\n`.
///
/// ```
/// let mut s = String::new();
/// promenade_core::encoding::escape_label_value(&mut s, "C:\\DIR\\FILE.TXT");
/// assert_eq!(s, r"C:\\DIR\\FILE.TXT");
/// ```
pub fn escape_label_value(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(pos) = rest.find(['\\', '\n', '"']) {
        out.push_str(&rest[..pos]);
        out.push_str(match rest.as_bytes()[pos] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        });
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
}

/// Renders `name="value",...` (no braces) with escaped values.
pub(crate) fn render_labels<N: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    names: &[N],
    values: &[V],
) {
    for (i, (n, v)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(n.as_ref());
        out.push_str("=\"");
        escape_label_value(out, v.as_ref());
        out.push('"');
    }
}

#[inline]
fn needs_escaping(v: &[u8]) -> bool {
    // Label values are short: a plain loop beats a vectorised search's set-up cost.
    if v.len() < 32 {
        v.iter().any(|&b| b == b'\\' || b == b'"' || b == b'\n')
    } else {
        memchr::memchr3(b'\\', b'"', b'\n', v).is_some()
    }
}

/// Whether a rendered label string holds exactly `values` for `names` (compares the escaped
/// form in place, so a lookup allocates nothing).
#[inline]
pub(crate) fn rendered_labels_match<N: AsRef<str>, V: AsRef<str>>(
    rendered: &str,
    names: &[N],
    values: &[V],
) -> bool {
    let r = rendered.as_bytes();
    let mut pos = 0;
    for (name, value) in names.iter().zip(values) {
        pos += name.as_ref().len() + 2;
        let v = value.as_ref().as_bytes();
        // Common case: the rendered bytes are the value itself, followed by the closing quote.
        // That is proof of a match only when the value needs no escaping (a value `\n` must
        // not match a stored newline), which is checked after the cheap comparison.
        if r.get(pos..pos + v.len()) == Some(v)
            && r.get(pos + v.len()) == Some(&b'"')
            && !needs_escaping(v)
        {
            pos += v.len() + 2;
            continue;
        }
        for &b in v {
            let escaped: &[u8] = match b {
                b'\\' => b"\\\\",
                b'"' => b"\\\"",
                b'\n' => b"\\n",
                _ => {
                    if r.get(pos) != Some(&b) {
                        return false;
                    }
                    pos += 1;
                    continue;
                }
            };
            if r.get(pos..pos + 2) != Some(escaped) {
                return false;
            }
            pos += 2;
        }
        if r.get(pos) != Some(&b'"') {
            return false;
        }
        pos += 2;
    }
    pos >= r.len()
}

/// Iterates `(name, unescaped value)` over a rendered label string; values are borrowed
/// unless they contain escapes.
pub(crate) fn parse_rendered_labels(rendered: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    let mut rest = rendered;
    std::iter::from_fn(move || {
        let eq = rest.find("=\"")?;
        let name = &rest[..eq];
        let start = eq + 2;
        let (j, escaped) = closing_quote(rest, start);
        let raw = rest.get(start..j.min(rest.len())).unwrap_or("");
        let value = if escaped {
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('n') => out.push('\n'),
                        Some(other) => out.push(other),
                        None => {}
                    }
                } else {
                    out.push(c);
                }
            }
            Cow::Owned(out)
        } else {
            Cow::Borrowed(raw)
        };
        rest = rest.get(j + 2..).unwrap_or("");
        Some((name, value))
    })
}

/// The byte index of the unescaped `"` that closes a value starting at `start` (or the
/// string's length when there is none), and whether the value holds any escape.
fn closing_quote(rendered: &str, start: usize) -> (usize, bool) {
    let bytes = rendered.as_bytes();
    let mut j = start;
    let mut escaped = false;
    while j < bytes.len() && bytes[j] != b'"' {
        if bytes[j] == b'\\' {
            escaped = true;
            j += 2;
        } else {
            j += 1;
        }
    }
    (j, escaped)
}

/// The label value at `index` of a rendered label string, unescaped (borrowed when no escape).
pub(crate) fn rendered_label_value(rendered: &str, index: usize) -> Cow<'_, str> {
    parse_rendered_labels(rendered)
        .nth(index)
        .map_or(Cow::Borrowed(""), |(_, v)| v)
}

/// Appends a rendered label string to `out` with its first `new_names.len()` label names
/// replaced, in order, by `new_names`; later labels keep their names. Values are copied as
/// rendered (still escaped), so renaming never re-escapes.
pub(crate) fn rename_rendered_labels(out: &mut String, rendered: &str, new_names: &[&str]) {
    let mut rest = rendered;
    let mut i = 0;
    while let Some(eq) = rest.find("=\"") {
        let name = &rest[..eq];
        out.push_str(new_names.get(i).copied().unwrap_or(name));
        // Copy `="value"` up to the unescaped closing quote.
        let (j, _) = closing_quote(rest, eq + 2);
        let end = (j + 1).min(rest.len());
        out.push_str(&rest[eq..end]);
        rest = rest[end..].strip_prefix(',').map_or("", |r| {
            out.push(',');
            r
        });
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The escaping vector of the Prometheus exposition format documentation.
    #[test]
    fn label_value_escaping_matches_the_format_documentation() {
        let mut s = String::new();
        escape_label_value(&mut s, "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(s, r#"Cannot find file:\n\"FILE.TXT\""#);
    }

    #[test]
    fn match_is_exact_on_escapes() {
        let mut r = String::new();
        render_labels(&mut r, &["a", "b"], &["x\n", "y"]);
        assert!(rendered_labels_match(&r, &["a", "b"], &["x\n", "y"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x\\n", "y"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x", "y"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x\n", "yy"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x\n", ""]));
    }

    #[test]
    fn rendered_values_round_trip() {
        let mut r = String::new();
        render_labels(&mut r, &["a", "b", "c"], &["x", "q\"uo\\te\n", ""]);
        assert_eq!(rendered_label_value(&r, 0), "x");
        assert_eq!(rendered_label_value(&r, 1), "q\"uo\\te\n");
        assert_eq!(rendered_label_value(&r, 2), "");
        // `=` and `="` inside values do not confuse the scan.
        let mut r = String::new();
        render_labels(&mut r, &["a", "b", "c"], &["x=\"y", "=", "k=v"]);
        assert_eq!(rendered_label_value(&r, 0), "x=\"y");
        assert_eq!(rendered_label_value(&r, 1), "=");
        assert_eq!(rendered_label_value(&r, 2), "k=v");
        assert_eq!(rendered_label_value(&r, 3), "");
    }

    #[test]
    fn rename_replaces_leading_names_and_keeps_escaped_values() {
        let mut r = String::new();
        render_labels(
            &mut r,
            &["method", "route", "tenant"],
            &["GET", "/a\"b,c=\"d\"", "t"],
        );
        let mut out = String::from("env=\"p\",");
        rename_rendered_labels(&mut out, &r, &["m", "r"]);
        assert_eq!(out, r#"env="p",m="GET",r="/a\"b,c=\"d\"",tenant="t""#);
        let mut empty = String::new();
        rename_rendered_labels(&mut empty, "", &["m"]);
        assert_eq!(empty, "");
    }
}
