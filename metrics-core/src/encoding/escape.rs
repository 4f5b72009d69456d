//! Escaping of label values and help text.

/// Appends a label value escaped for both text formats: `\` → `\\`, `"` → `\"`, LF → `\n`.
///
/// ```
/// let mut s = String::new();
/// promenade_core::encoding::escape_label_value(&mut s, "C:\\DIR\\FILE.TXT");
/// assert_eq!(s, r"C:\\DIR\\FILE.TXT");
/// ```
pub fn escape_label_value(out: &mut String, value: &str) {
    escape(out, value, true);
}

/// Appends help text escaped for text 0.0.4 (`\` and LF) or OpenMetrics (also `"`).
pub(crate) fn escape_help(out: &mut String, help: &str, openmetrics: bool) {
    escape(out, help, openmetrics);
}

#[inline]
fn escape(out: &mut String, s: &str, quotes: bool) {
    let mut rest = s;
    while let Some(pos) = rest.find(|c| c == '\\' || c == '\n' || (quotes && c == '"')) {
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
pub(crate) fn parse_rendered_labels(
    rendered: &str,
) -> impl Iterator<Item = (&str, std::borrow::Cow<'_, str>)> {
    let mut rest = rendered;
    std::iter::from_fn(move || {
        let eq = rest.find("=\"")?;
        let name = &rest[..eq];
        let bytes = rest.as_bytes();
        let start = eq + 2;
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
            std::borrow::Cow::Owned(out)
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        rest = rest.get(j + 2..).unwrap_or("");
        Some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checklist_c5_vectors() {
        let mut s = String::new();
        escape_label_value(&mut s, "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(s, r#"Cannot find file:\n\"FILE.TXT\""#);
    }

    #[test]
    fn help_escaping_differs_by_format() {
        let mut a = String::new();
        escape_help(&mut a, "a \"b\" \\ \n", false);
        assert_eq!(a, "a \"b\" \\\\ \\n");
        let mut b = String::new();
        escape_help(&mut b, "a \"b\"", true);
        assert_eq!(b, "a \\\"b\\\"");
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
}
