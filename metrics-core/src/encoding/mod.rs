//! Exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 text, the encoder
//! interface collectors write to, and content negotiation.

mod check;
mod float;
mod format;
pub(crate) mod gzip;
mod help_escape;
mod metric_encoder;
mod name_escaping;
mod negotiate;
#[cfg(feature = "protobuf")]
pub mod protobuf;
mod text;
mod values;

pub(crate) use check::Check;
// Label values are escaped by the label-set format (`crate::labels`); the function stays
// reachable here, where custom encoders look for it.
pub use crate::labels::escape_label_value;
pub use float::{write_go_float, write_openmetrics_float};
pub use name_escaping::{escape_name, escape_name_for_exposition, unescape_name};
pub use negotiate::{EscapingScheme, Negotiated, negotiate};
pub(crate) use text::TextEncoder;

pub use format::Format;
pub(crate) use metric_encoder::Encode;
pub use metric_encoder::MetricEncoder;
pub use values::{FamilyHeader, HistogramValue, LabelSet, NativeValue, SummaryValue};
