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
        for &b in value.as_ref().as_bytes() {
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
