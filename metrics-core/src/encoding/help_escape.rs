//! Escaping of `# HELP` text, which differs between the two text formats. (Label values
//! are escaped by the label-set format itself, in `crate::labels`.)

use crate::labels::escape_label_value;

/// Appends help text escaped for text 0.0.4 (`\` and LF) or OpenMetrics (also `"`).
pub(crate) fn escape_help(out: &mut String, help: &str, openmetrics: bool) {
    // OpenMetrics escapes help text exactly as it escapes label values.
    if openmetrics {
        return escape_label_value(out, help);
    }
    // Text 0.0.4 escapes only `\` and LF in help text (its format documentation says so);
    // a `"` stays as it is.
    let mut rest = help;
    while let Some(pos) = rest.find(['\\', '\n']) {
        out.push_str(&rest[..pos]);
        out.push_str(match rest.as_bytes()[pos] {
            b'\\' => "\\\\",
            _ => "\\n",
        });
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_escaping_differs_by_format() {
        let mut a = String::new();
        escape_help(&mut a, "a \"b\" \\ \n", false);
        assert_eq!(a, "a \"b\" \\\\ \\n");
        let mut b = String::new();
        escape_help(&mut b, "a \"b\"", true);
        assert_eq!(b, "a \\\"b\\\"");
    }
}
