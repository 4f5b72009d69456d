//! Info: constant metadata exposed as labels.

use crate::encoding::{LabelSet, MetricEncoder};
use crate::metric::{Metric, MetricType};

/// An info series: its labels are the information, its value is always 1.
/// Create one with [`Registry::info`](crate::Registry::info).
///
/// ```
/// let registry = promenade_core::Registry::new();
/// registry.info("build", "Build information.", &[("version", "1.2.3")]).unwrap();
/// let text = registry.encode_to_string(promenade_core::Format::OpenMetrics).unwrap();
/// assert!(text.contains("build_info{version=\"1.2.3\"} 1"));
/// ```
#[derive(Debug, Default)]
pub struct Info;

impl Metric for Info {
    type Options = ();
    const TYPE: MetricType = MetricType::Info;

    fn build(_: &()) -> Self {
        Info
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        enc.info(labels);
    }
}
