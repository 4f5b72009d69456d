//! Exemplars: a sample's link to a trace. They follow the OpenMetrics exemplar rules (at most
//! 128 code points of label names and values) and always carry a timestamp, which native
//! histogram exemplars require.

use crate::error::{Error, Result};
use crate::labels::render_labels;
use crate::metric::unix_now_seconds;
use crate::name::check_label_names;

/// Most code points the label names and values of one exemplar may hold together.
///
/// ```
/// use promenade_core::{Error, Exemplar, EXEMPLAR_MAX_RUNES};
/// // Names and values count together: "trace_id" is 8 code points.
/// let fits = "a".repeat(EXEMPLAR_MAX_RUNES - "trace_id".len());
/// assert!(Exemplar::new(&[("trace_id", fits.as_str())], 1.0).is_ok());
/// let one_more = format!("{fits}a");
/// assert_eq!(Exemplar::new(&[("trace_id", one_more.as_str())], 1.0), Err(Error::ExemplarTooLong(EXEMPLAR_MAX_RUNES + 1)));
/// ```
pub const EXEMPLAR_MAX_RUNES: usize = 128;

/// An exemplar: labels (typically `trace_id`), the observed value and when it was observed.
///
/// ```
/// let e = promenade_core::Exemplar::new(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")], 0.25).unwrap();
/// assert_eq!(e.value(), 0.25);
/// let too_long = "x".repeat(200);
/// assert!(promenade_core::Exemplar::new(&[("trace_id", too_long.as_str())], 1.0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    labels: Box<str>,
    value: f64,
    timestamp: f64,
}

impl Exemplar {
    /// Validates the label names and the 128-code-point limit; the timestamp is now.
    ///
    /// ```
    /// use promenade_core::Exemplar;
    /// let e = Exemplar::new(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("span_id", "00f067aa0ba902b7")], 0.042).unwrap();
    /// assert_eq!(e.value(), 0.042);
    /// assert!(Exemplar::new(&[("trace-id", "x")], 1.0).is_err()); // invalid label name
    /// assert!(Exemplar::new(&[("a", "x"), ("a", "y")], 1.0).is_err()); // duplicate label name
    /// ```
    pub fn new(labels: &[(&str, &str)], value: f64) -> Result<Self> {
        let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
        check_label_names(&names)?;
        let runes: usize = labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if runes > EXEMPLAR_MAX_RUNES {
            return Err(Error::ExemplarTooLong(runes));
        }
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        let mut rendered = String::new();
        render_labels(&mut rendered, &names, &values);
        Ok(Self {
            labels: rendered.into_boxed_str(),
            value,
            timestamp: unix_now_seconds(),
        })
    }

    /// The labels, rendered as `name="value",...`.
    ///
    /// ```
    /// let e = promenade_core::Exemplar::new(&[("trace_id", "abc"), ("note", "say \"hi\"")], 1.0).unwrap();
    /// assert_eq!(e.rendered_labels(), r#"trace_id="abc",note="say \"hi\"""#);
    /// ```
    pub fn rendered_labels(&self) -> &str {
        &self.labels
    }

    /// The observed value.
    ///
    /// ```
    /// let e = promenade_core::Exemplar::new(&[("trace_id", "abc")], 0.25).unwrap();
    /// assert_eq!(e.value(), 0.25);
    /// ```
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Unix time in seconds of the observation.
    ///
    /// ```
    /// use std::time::{SystemTime, UNIX_EPOCH};
    /// let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    /// let e = promenade_core::Exemplar::new(&[("trace_id", "abc")], 1.0).unwrap();
    /// let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    /// assert!(before <= e.timestamp() && e.timestamp() <= after);
    /// ```
    pub fn timestamp(&self) -> f64 {
        self.timestamp
    }

    /// The same exemplar observed at `timestamp` (Unix seconds): for bridges whose source
    /// records when each exemplar was taken.
    #[cfg(feature = "bridge-opentelemetry")]
    pub(crate) fn with_timestamp(mut self, timestamp: f64) -> Self {
        self.timestamp = timestamp;
        self
    }
}

/// How many exemplars a native histogram keeps (the Go default).
pub(crate) const NATIVE_EXEMPLARS: usize = 10;
