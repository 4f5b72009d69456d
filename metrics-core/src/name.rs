//! Validation of metric and label names (legacy Prometheus character set).

use crate::error::{Error, Result};

/// Whether `name` is a valid metric name in the legacy character set `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// ```
/// assert!(promenade_core::name::is_valid_metric_name("http_requests_total"));
/// assert!(!promenade_core::name::is_valid_metric_name("1st"));
/// ```
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid label name in the legacy character set `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// ```
/// assert!(promenade_core::name::is_valid_label_name("route"));
/// assert!(!promenade_core::name::is_valid_label_name("a-b"));
/// ```
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks a metric name, returning an error value for an invalid one.
///
/// ```
/// assert!(promenade_core::name::check_metric_name("a:b").is_ok());
/// assert!(promenade_core::name::check_metric_name("").is_err());
/// ```
pub fn check_metric_name(name: &str) -> Result<()> {
    if is_valid_metric_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidMetricName(name.to_owned()))
    }
}

/// Checks a user-supplied label name: valid characters and not reserved (`__` prefix).
///
/// ```
/// assert!(promenade_core::name::check_label_name("method").is_ok());
/// assert!(promenade_core::name::check_label_name("__name__").is_err());
/// ```
pub fn check_label_name(name: &str) -> Result<()> {
    if !is_valid_label_name(name) {
        return Err(Error::InvalidLabelName(name.to_owned()));
    }
    if name.starts_with("__") {
        return Err(Error::ReservedLabelName {
            name: name.to_owned(),
            context: " (names starting with __ are for internal use)",
        });
    }
    Ok(())
}

/// Checks a list of label names: each valid, none reserved, none repeated.
///
/// ```
/// assert!(promenade_core::name::check_label_names(&["a", "b"]).is_ok());
/// assert!(promenade_core::name::check_label_names(&["a", "a"]).is_err());
/// ```
pub fn check_label_names<S: AsRef<str>>(names: &[S]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        let name = name.as_ref();
        check_label_name(name)?;
        if names[..i].iter().any(|n| n.as_ref() == name) {
            return Err(Error::DuplicateLabelName(name.to_owned()));
        }
    }
    Ok(())
}

/// Characters a UTF-8 label or metric name may not contain here: they delimit the rendered
/// label form (quotes, escapes, separators) and are unusable in PromQL selectors anyway.
const UTF8_NAME_FORBIDDEN: [char; 7] = ['"', '\\', '\n', '=', ',', '{', '}'];

/// Checks a metric name under the UTF-8 rules of Prometheus 3: any non-empty string, except
/// for the delimiter characters `" \ LF = , { }`.
///
/// ```
/// assert!(promenade_core::name::check_utf8_metric_name("my.dotted.metric").is_ok());
/// assert!(promenade_core::name::check_utf8_metric_name("").is_err());
/// ```
pub fn check_utf8_metric_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(UTF8_NAME_FORBIDDEN) {
        return Err(Error::InvalidMetricName(name.to_owned()));
    }
    Ok(())
}

/// Checks label names under the UTF-8 rules: non-empty, no delimiter characters, not
/// starting with `__`, unique.
///
/// ```
/// assert!(promenade_core::name::check_utf8_label_names(&["error.message", "ok"]).is_ok());
/// assert!(promenade_core::name::check_utf8_label_names(&["__x"]).is_err());
/// ```
pub fn check_utf8_label_names<S: AsRef<str>>(names: &[S]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        let name = name.as_ref();
        if name.is_empty() || name.contains(UTF8_NAME_FORBIDDEN) {
            return Err(Error::InvalidLabelName(name.to_owned()));
        }
        if name.starts_with("__") {
            return Err(Error::ReservedLabelName {
                name: name.to_owned(),
                context: " (names starting with __ are for internal use)",
            });
        }
        if names[..i].iter().any(|n| n.as_ref() == name) {
            return Err(Error::DuplicateLabelName(name.to_owned()));
        }
    }
    Ok(())
}
