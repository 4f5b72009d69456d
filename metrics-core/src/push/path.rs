//! The URL path of a group: the job and grouping key, each value percent-encoded or
//! base64url-encoded under `@base64`, and UTF-8 label names in the `values` escaping.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::PushError;
use crate::name::is_valid_label_name;

/// Appends `/<name>/<value>` or `/<name>@base64/<base64url value>` for one grouping-key
/// component, following the Pushgateway's URL rules: an empty value or one containing `/`
/// must be base64url-encoded, any value may be.
pub(super) fn push_component(
    path: &mut String,
    name: &str,
    value: &str,
    always_base64: bool,
    utf8_names: bool,
) {
    path.push('/');
    if utf8_names && (!is_valid_label_name(name) || name.starts_with("U__")) {
        push_utf8_name(path, name);
    } else {
        path.push_str(name);
    }
    if value.is_empty() {
        path.push_str("@base64/=");
    } else if always_base64 || value.contains('/') {
        path.push_str("@base64/");
        path.push_str(&URL_SAFE_NO_PAD.encode(value));
    } else {
        path.push('/');
        query_escape(path, value);
    }
}

/// A grouping label name for a gateway run with `--push.enable-utf8-names`, in the
/// Pushgateway's UTF-8 grouping-label escaping (Prometheus's `values` name escaping): `U__`,
/// then legacy characters as they are, `_` doubled, any other character as
/// `_<hex code point>_`. A legacy name that already starts with `U__`
/// is encoded too (its first `U` as `_55_`), so the gateway does not decode it by mistake.
fn push_utf8_name(path: &mut String, name: &str) {
    use std::fmt::Write as _;
    path.push_str("U__");
    for (i, c) in name.char_indices() {
        let legacy = c.is_ascii_alphabetic() || c == ':' || (i > 0 && c.is_ascii_digit());
        if c == '_' {
            path.push_str("__");
        } else if legacy && !(i == 0 && name.starts_with("U__")) {
            path.push(c);
        } else {
            let _ = write!(path, "_{:x}_", u32::from(c));
        }
    }
}

/// Percent-encodes everything but `A-Z a-z 0-9 - _ . ~`, as Go's `url.QueryEscape` does,
/// except that a space becomes `%20` rather than `+` (a `+` in a path segment is a plus).
fn query_escape(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

pub(super) fn check_grouping(
    job: &str,
    grouping: &[(String, String)],
    utf8_names: bool,
) -> Result<(), PushError> {
    if job.is_empty() {
        return Err(PushError::EmptyJob);
    }
    for (i, (name, _)) in grouping.iter().enumerate() {
        let reason = if name.is_empty() {
            Some("must not be empty")
        } else if !utf8_names && !is_valid_label_name(name) {
            Some("must match [a-zA-Z_][a-zA-Z0-9_]* (or enable utf8_names)")
        } else if name.starts_with("__") {
            Some("names starting with __ are reserved")
        } else if name == "job" {
            Some("the job is given separately")
        } else if grouping[..i].iter().any(|(n, _)| n == name) {
            Some("given more than once")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(PushError::InvalidGroupingLabel {
                name: name.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// The URL path of a group: `/metrics/job/<job>{/<name>/<value>}`, the job first, as the
/// Pushgateway's push API defines it.
///
/// The job comes first; values containing `/` or empty are base64url-encoded (without
/// padding; an empty value is `=`) under `<name>@base64`; other values are percent-encoded.
///
/// ```
/// use promenade_core::push::grouping_key_path;
/// assert_eq!(
///     grouping_key_path("directory_cleaner", &[("path", "/var/tmp")]).unwrap(),
///     "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA",
/// );
/// assert_eq!(
///     grouping_key_path("example", &[("first_label", ""), ("second_label", "foobar")]).unwrap(),
///     "/metrics/job/example/first_label@base64/=/second_label/foobar",
/// );
/// assert!(grouping_key_path("", &[]).is_err());
/// assert!(grouping_key_path("j", &[("__x", "y")]).is_err());
/// ```
pub fn grouping_key_path(job: &str, grouping: &[(&str, &str)]) -> Result<String, PushError> {
    let owned: Vec<(String, String)> = grouping
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    check_grouping(job, &owned, false)?;
    Ok(build_path(job, &owned, false, false))
}

pub(super) fn build_path(
    job: &str,
    grouping: &[(String, String)],
    always_base64: bool,
    utf8_names: bool,
) -> String {
    let mut path = String::from("/metrics");
    push_component(&mut path, "job", job, always_base64, false);
    for (n, v) in grouping {
        push_component(&mut path, n, v, always_base64, utf8_names);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(job: &str, g: &[(&str, &str)]) -> String {
        grouping_key_path(job, g).unwrap()
    }

    #[test]
    fn base64_vectors_of_the_pushgateway_documentation() {
        assert_eq!(
            path("directory_cleaner", &[("path", "/var/tmp")]),
            "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA"
        );
        assert_eq!(
            path(
                "example",
                &[("first_label", ""), ("second_label", "foobar")]
            ),
            "/metrics/job/example/first_label@base64/=/second_label/foobar"
        );
        let mut p = String::new();
        push_component(&mut p, "name", "Προμηθεύς", true, false);
        assert_eq!(p, "/name@base64/zqDPgc6_zrzOt864zrXPjc-C");
        // Without forcing, Go's rule: percent-encoded UTF-8.
        assert_eq!(
            path("j", &[("name", "Προμηθεύς")]),
            "/metrics/job/j/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82"
        );
    }

    #[test]
    fn job_and_values_escaping() {
        assert_eq!(path("a/b", &[]), "/metrics/job@base64/YS9i");
        assert_eq!(
            path("x", &[("v", "a b+c&d=é~")]),
            "/metrics/job/x/v/a%20b%2Bc%26d%3D%C3%A9~"
        );
        assert_eq!(path("Az09-_.~", &[]), "/metrics/job/Az09-_.~");
    }

    #[test]
    fn grouping_validation() {
        assert!(matches!(
            grouping_key_path("", &[]),
            Err(PushError::EmptyJob)
        ));
        for bad in ["__name", "job", "1a", "a-b", ""] {
            assert!(
                grouping_key_path("j", &[(bad, "v")]).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(grouping_key_path("j", &[("a", "1"), ("a", "2")]).is_err());
        assert!(grouping_key_path("j", &[("_a", "1"), ("b", "2")]).is_ok());
    }

    #[test]
    fn utf8_grouping_names_use_values_escaping() {
        let path = |name: &str, value: &str| {
            build_path("j", &[(name.to_owned(), value.to_owned())], false, true)
        };
        assert_eq!(path("foo.bar", "v"), "/metrics/job/j/U__foo_2e_bar/v");
        assert_eq!(path("U__foo", "v"), "/metrics/job/j/U___55_____foo/v");
        assert_eq!(path("plain", "v"), "/metrics/job/j/plain/v");
        assert_eq!(path("花火", "v"), "/metrics/job/j/U___82b1__706b_/v");
        // Combines with @base64 values.
        assert_eq!(path("a.b", "/x"), "/metrics/job/j/U__a_2e_b@base64/L3g");
        // The gateway's decoding (our `values` unescaping) gives the names back.
        for name in ["foo.bar", "U__foo", "花火", "a_b.c"] {
            let p = path(name, "v");
            let encoded = p.split('/').nth(4).unwrap();
            assert_eq!(
                crate::encoding::unescape_name(encoded, crate::encoding::EscapingScheme::Values),
                name,
                "{p}"
            );
        }
        assert!(check_grouping("j", &[("".to_owned(), "v".to_owned())], true).is_err());
        assert!(check_grouping("j", &[("__x.y".to_owned(), "v".to_owned())], true).is_err());
        assert!(check_grouping("j", &[("x.y".to_owned(), "v".to_owned())], true).is_ok());
    }
}
