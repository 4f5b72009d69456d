//! Escaping of metric and label names outside the legacy character set, for scrapers that
//! ask for an escaping scheme instead of UTF-8 names (the `escaping` parameter of `Accept`),
//! byte for byte as the Go implementation (prometheus/common `model.EscapeName`) does it.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::EscapingScheme;
use crate::name::is_valid_metric_name;

/// Go's `isValidLegacyRune`: letters, `_`, `:`, and digits except at byte offset 0.
fn legacy_char(c: char, byte_index: usize) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (c.is_ascii_digit() && byte_index > 0)
}

/// Escapes a metric or label name for `scheme`.
///
/// `underscores` and `values` leave legacy-valid names alone; `dots` always rewrites
/// underscores (use [`escape_name_for_exposition`] for what an exposition writes).
///
/// ```
/// use promenade_core::encoding::{escape_name, EscapingScheme};
/// assert_eq!(escape_name("metric.name/with/slashes", EscapingScheme::Underscores), "metric_name_with_slashes");
/// assert_eq!(escape_name("http.status:sum", EscapingScheme::Dots), "http_dot_status:sum");
/// assert_eq!(escape_name("花火", EscapingScheme::Values), "U___82b1__706b_");
/// ```
pub fn escape_name(name: &str, scheme: EscapingScheme) -> Cow<'_, str> {
    if name.is_empty() {
        return Cow::Borrowed(name);
    }
    match scheme {
        EscapingScheme::AllowUtf8 => Cow::Borrowed(name),
        EscapingScheme::Underscores => {
            if is_valid_metric_name(name) {
                return Cow::Borrowed(name);
            }
            Cow::Owned(
                name.char_indices()
                    .map(|(i, c)| if legacy_char(c, i) { c } else { '_' })
                    .collect(),
            )
        }
        EscapingScheme::Dots => {
            let mut out = String::with_capacity(name.len() + 8);
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.push_str("__"),
                    '.' => out.push_str("_dot_"),
                    c if legacy_char(c, i) => out.push(c),
                    _ => out.push_str("__"),
                }
            }
            Cow::Owned(out)
        }
        EscapingScheme::Values => {
            if is_valid_metric_name(name) {
                return Cow::Borrowed(name);
            }
            let mut out = String::with_capacity(name.len() + 8);
            out.push_str("U__");
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.push_str("__"),
                    c if legacy_char(c, i) => out.push(c),
                    // Invalid UTF-8 cannot reach here (Rust strings are valid); U+FFFD is what
                    // a lossy conversion would have produced.
                    c => {
                        let _ = write!(out, "_{:x}_", u32::from(c));
                    }
                }
            }
            Cow::Owned(out)
        }
    }
}

/// What an exposition writes for a name under `scheme`: legacy-valid names unchanged
/// (under every scheme, `dots` included, as Go's `EscapeMetricFamily`), others escaped.
///
/// ```
/// use promenade_core::encoding::{escape_name_for_exposition, EscapingScheme};
/// assert_eq!(escape_name_for_exposition("plain_name", EscapingScheme::Dots), "plain_name");
/// assert_eq!(escape_name_for_exposition("a.b", EscapingScheme::Dots), "a_dot_b");
/// ```
pub fn escape_name_for_exposition(name: &str, scheme: EscapingScheme) -> Cow<'_, str> {
    if is_valid_metric_name(name) {
        Cow::Borrowed(name)
    } else {
        escape_name(name, scheme)
    }
}

/// Reverses `dots` and `values` escaping; other schemes are returned unchanged (they are
/// not reversible). An invalid `values` escape returns the input unchanged.
///
/// ```
/// use promenade_core::encoding::{escape_name, unescape_name, EscapingScheme};
/// let name = "label with 😱";
/// let escaped = escape_name(name, EscapingScheme::Values);
/// assert_eq!(unescape_name(&escaped, EscapingScheme::Values), name);
/// ```
pub fn unescape_name(name: &str, scheme: EscapingScheme) -> Cow<'_, str> {
    match scheme {
        EscapingScheme::Dots => Cow::Owned(name.replace("_dot_", ".").replace("__", "_")),
        EscapingScheme::Values => unescape_values(name).map_or(Cow::Borrowed(name), Cow::Owned),
        _ => Cow::Borrowed(name),
    }
}

fn unescape_values(name: &str) -> Option<String> {
    let rest = name.strip_prefix("U__")?;
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        loop {
            match chars.next()? {
                '_' => break,
                h if h.is_ascii_hexdigit() && hex.len() < 8 => hex.push(h),
                _ => return None,
            }
        }
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EscapingScheme::*;

    #[test]
    fn underscores_scheme_matches_go() {
        for (i, o) in [
            ("metric.name/with/slashes", "metric_name_with_slashes"),
            ("label with 😱", "label_with__"),
            ("花火", "__"),
            ("http.status:sum", "http_status:sum"),
            ("0abc", "_abc"),
            ("ok_name", "ok_name"),
        ] {
            assert_eq!(escape_name(i, Underscores), o, "{i}");
        }
    }

    #[test]
    fn dots_scheme_matches_go() {
        for (i, o) in [
            (
                "mysystem.prod.west.cpu.load_total",
                "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total",
            ),
            ("http.status:sum", "http_dot_status:sum"),
            ("label with 😱", "label__with____"),
        ] {
            assert_eq!(escape_name(i, Dots), o, "{i}");
        }
        assert_eq!(
            unescape_name("mysystem_dot_prod_dot_west_dot_cpu_dot_load__total", Dots),
            "mysystem.prod.west.cpu.load_total"
        );
    }

    #[test]
    fn values_scheme_matches_go_and_round_trips() {
        for (i, o) in [
            (
                "mysystem.prod.west.cpu.load",
                "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load",
            ),
            ("label with 😱", "U__label_20_with_20__1f631_"),
            ("花火", "U___82b1__706b_"),
            ("http.status:sum", "U__http_2e_status:sum"),
        ] {
            assert_eq!(escape_name(i, Values), o, "{i}");
            assert_eq!(unescape_name(o, Values), i);
        }
        // Decoders accept upper-case hex too (the docs' example).
        assert_eq!(unescape_name("U__metric_2E_name", Values), "metric.name");
        assert_eq!(unescape_name("U__bad_zz_", Values), "U__bad_zz_");
        assert_eq!(escape_name("legacy_ok", Values), "legacy_ok");
    }
}
