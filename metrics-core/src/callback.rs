//! Gauges and counters whose value a closure gives at scrape time
//! ([`Registry::gauge_fn`](crate::Registry::gauge_fn),
//! [`Registry::counter_fn`](crate::Registry::counter_fn)).

use crate::collector::{Collector, Descriptor};
use crate::encoding::{FamilyHeader, LabelSet, MetricEncoder};
use crate::error::Result;
use crate::metric::MetricType;
use crate::name::check_metric_name;

/// A gauge or counter read from a closure at scrape time.
pub(crate) struct CallbackMetric {
    name: String,
    help: String,
    metric_type: MetricType,
    f: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl CallbackMetric {
    pub(crate) fn new<F: Fn() -> f64 + Send + Sync + 'static>(
        name: &str,
        help: &str,
        metric_type: MetricType,
        f: F,
    ) -> Result<Self> {
        let name = match metric_type {
            MetricType::Counter => name
                .strip_suffix("_total")
                .filter(|n| !n.is_empty())
                .unwrap_or(name),
            _ => name,
        };
        check_metric_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            help: help.to_owned(),
            metric_type,
            f: Box::new(f),
        })
    }
}

impl Collector for CallbackMetric {
    fn series_unique_by_construction(&self) -> bool {
        true
    }

    fn descriptors(&self) -> Vec<Descriptor> {
        vec![Descriptor::new(
            &self.name,
            &self.help,
            self.metric_type,
            &[] as &[&str],
        )]
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        enc.family(&FamilyHeader {
            name: &self.name,
            help: &self.help,
            unit: None,
            metric_type: self.metric_type,
        });
        let v = (self.f)();
        match self.metric_type {
            MetricType::Counter => enc.counter(&LabelSet::empty(), v, None),
            _ => enc.gauge(&LabelSet::empty(), v),
        }
    }
}
