//! Exposes the OpenTelemetry metrics SDK through a Promenade [`Registry`](crate::Registry)
//! (feature `bridge-opentelemetry`): give an [`OtelBridge`]'s [reader](OtelBridge::reader)
//! to your `SdkMeterProvider` and register its [collector](OtelBridge::collector); every
//! scrape reads the provider's metrics (cumulative) and writes them through the ordinary
//! collector API, so negotiation, name escaping, native histograms and the scrape-time
//! checks apply to them as to any other family.
//!
//! ```
//! use opentelemetry::KeyValue;
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use promenade_core::bridge::opentelemetry::OtelBridge;
//! use promenade_core::{Format, Registry};
//!
//! let registry = Registry::new();
//! let bridge = OtelBridge::builder().build()?;
//! let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
//! registry.register(bridge.collector())?;
//!
//! let meter = provider.meter("shop");
//! let orders = meter.u64_counter("orders").with_description("Orders placed.").build();
//! orders.add(3, &[KeyValue::new("payment.method", "card")]);
//! let latency = meter.f64_histogram("checkout.duration").with_unit("s").build();
//! latency.record(0.2, &[]);
//!
//! let text = registry.encode_to_string(Format::Text)?;
//! assert!(text.contains("orders_total{payment_method=\"card\",otel_scope_name=\"shop\"} 3\n"));
//! assert!(text.contains("checkout_duration_seconds_count{otel_scope_name=\"shop\"} 1\n"));
//! // The provider's resource, as the specification's `target_info`.
//! assert!(text.contains("target_info{service_name=\"unknown_service"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How OpenTelemetry metrics map, after the OpenTelemetry specification "Prometheus and
//! OpenMetrics Compatibility"
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/>):
//! - **Types.** A monotonic sum is a counter (`_total`), a non-monotonic sum (up-down
//!   counter) and a gauge are gauges, a histogram is a classic histogram (`le` buckets,
//!   `_sum`, `_count`), an exponential histogram is a native histogram: its buckets travel
//!   in protobuf at the same resolution (an OpenTelemetry scale above 8 is merged down to
//!   Prometheus's finest schema, 8; one below -4 has no native buckets), text scrapers get
//!   `_count`, `_sum` and the `+Inf` bucket. Min and max are not carried (Prometheus has no
//!   place for them).
//! - **Names.** Invalid characters become `_`, runs of `_` one `_`, a leading digit gets a
//!   `_` in front, an empty name is `unnamed_metric`. The unit is appended unless the name
//!   ends with it (`s` → `_seconds`, `ms` → `_milliseconds`, `By` → `_bytes`, `1` →
//!   `_ratio` on gauges, `{…}` annotations dropped, `m/s` → `_meters_per_second`) and
//!   written as `# UNIT` in OpenMetrics; a counter `x_total` in seconds is
//!   `x_seconds_total`. With [`OtelBridgeBuilder::allow_utf8_names`] names keep their
//!   characters (only `" \ LF = , { }` are replaced), as Prometheus 3 allows; scrapers that
//!   did not ask for UTF-8 get them escaped.
//! - **Help** is the instrument's description, or `OpenTelemetry instrument <name>.` when
//!   it has none (Prometheus's linter wants help on every family).
//! - **Attributes** are labels: keys made valid like names; keys that become equal are one
//!   label whose values are joined with `;` in the order of the original keys. A key that
//!   is `le` on a histogram, a constant label of the registry or a scope label gets an
//!   `exported_` prefix.
//! - **Resource and scope.** The resource's attributes are the labels of a `target_info`
//!   info metric (a gauge of value 1 in text 0.0.4); every series carries the instrument's
//!   scope as `otel_scope_name` (and `otel_scope_version` when set). Both can be turned off
//!   ([`OtelBridgeBuilder::target_info`], [`OtelBridgeBuilder::scope_labels`]).
//! - **Exemplars** the SDK hands over (with a sampled span) become OpenMetrics exemplars
//!   `{trace_id, span_id}` on counters and histograms. (The SDK 0.33 records none yet.)
//! - **Bounds.** The SDK keeps at most 2,000 attribute sets per instrument by default (more
//!   go to its `otel.metric.overflow="true"` series; see its `Stream` cardinality limit).
//!   The bridge exposes at most [`DEFAULT_MAX_SERIES`] series in all
//!   ([`OtelBridgeBuilder::max_series`]): a series once exposed stays exposed, new ones past
//!   the cap are left out and counted in the gauge
//!   `promenade_otel_bridge_dropped_series{reason="series_limit"}`.
//! - **Conflicts.** Instruments of one name in several scopes are one family; an instrument
//!   whose name is taken by another type or unit, a series written twice, a NaN or negative
//!   counter are left out and counted (`reason="conflict"` / `"invalid"`). A name the
//!   registry already has elsewhere is refused like the tikv bridge's: at registration for
//!   the instruments the provider has then ([`Error::AlreadyRegistered`]), at the scrape for
//!   later ones ([`Error::Collector`] naming the family, or the family left out with
//!   [`CollectorErrors::Skip`](crate::CollectorErrors::Skip)).
//!
//! The SDK's `MetricReader` trait is public only with its `experimental_metrics_custom_reader`
//! feature, which this feature turns on; a minor SDK release may change it.
//!
//! [`Error::AlreadyRegistered`]: crate::Error::AlreadyRegistered
//! [`Error::Collector`]: crate::Error::Collector

mod gather;
mod naming;
mod native;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

use crate::collector::{Collector, Descriptor};
use crate::encoding::{
    EscapingScheme, FamilyHeader, HistogramValue, LabelSet, MetricEncoder, NativeValue,
    escape_label_value, escape_name_for_exposition,
};
use crate::error::{Error, Result};
use crate::metric::MetricType;
use gather::{Admitted, DROPPED, Dropped, Families, Options, Point, Value, gather};
use naming::legacy_label_name;

/// Series the bridge exposes at most, across all instruments, unless
/// [`OtelBridgeBuilder::max_series`] says otherwise (the `metrics` facade bridge's default).
///
/// ```
/// assert_eq!(promenade_core::bridge::opentelemetry::DEFAULT_MAX_SERIES, 10_000);
/// ```
pub const DEFAULT_MAX_SERIES: usize = 10_000;

const DROPPED_HELP: &str = "OpenTelemetry series the Promenade bridge left out of the last \
                            scrape, by reason (series_limit, conflict, invalid).";

/// Configures an [`OtelBridge`]; see [`OtelBridge::builder`].
///
/// ```
/// use promenade_core::bridge::opentelemetry::OtelBridge;
/// let bridge = OtelBridge::builder()
///     .max_series(50_000)
///     .scope_labels(false)
///     .target_info(false)
///     .allow_utf8_names()
///     .build()?;
/// # drop(bridge);
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct OtelBridgeBuilder {
    options: Options,
}

impl OtelBridgeBuilder {
    /// At most `max` series in all (default [`DEFAULT_MAX_SERIES`]); past it, new series are
    /// left out and counted in `promenade_otel_bridge_dropped_series{reason="series_limit"}`.
    ///
    /// ```
    /// use opentelemetry::{KeyValue, metrics::MeterProvider as _};
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use promenade_core::bridge::opentelemetry::OtelBridge;
    /// use promenade_core::{Format, Registry};
    ///
    /// let registry = Registry::new();
    /// let bridge = OtelBridge::builder().max_series(2).target_info(false).build()?;
    /// let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
    /// registry.register(bridge.collector())?;
    /// let logins = provider.meter("auth").u64_counter("logins").build();
    /// for user in ["ann", "bob", "cy"] {
    ///     logins.add(1, &[KeyValue::new("user", user)]);
    /// }
    /// let text = registry.encode_to_string(Format::Text)?;
    /// assert_eq!(text.matches("logins_total{").count(), 2);
    /// assert!(text.contains("promenade_otel_bridge_dropped_series{reason=\"series_limit\"} 1\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_series(mut self, max: usize) -> Self {
        self.options.max_series = max;
        self
    }

    /// Whether every series carries its instrument's scope as `otel_scope_name` and
    /// `otel_scope_version` labels (default on, as the specification says; off, instruments
    /// of one name in two scopes clash and the second one's series are left out).
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use promenade_core::bridge::opentelemetry::OtelBridge;
    /// use promenade_core::{Format, Registry};
    ///
    /// let registry = Registry::new();
    /// let bridge = OtelBridge::builder().scope_labels(false).build()?;
    /// let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
    /// registry.register(bridge.collector())?;
    /// provider.meter("jobs").i64_up_down_counter("queue.depth").build().add(4, &[]);
    /// assert!(registry.encode_to_string(Format::Text)?.contains("\nqueue_depth 4\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scope_labels(mut self, on: bool) -> Self {
        self.options.scope_labels = on;
        self
    }

    /// Whether the provider's resource attributes are exposed as the `target_info` info
    /// metric (default on, as the specification says).
    ///
    /// ```
    /// use opentelemetry_sdk::{Resource, metrics::SdkMeterProvider};
    /// use promenade_core::bridge::opentelemetry::OtelBridge;
    /// use promenade_core::{Format, Registry};
    ///
    /// let registry = Registry::new();
    /// let bridge = OtelBridge::builder().build()?;
    /// let resource = Resource::builder_empty().with_service_name("checkout").build();
    /// let _provider = SdkMeterProvider::builder().with_resource(resource).with_reader(bridge.reader()).build();
    /// registry.register(bridge.collector())?;
    /// let om = registry.encode_to_string(Format::OpenMetrics)?;
    /// assert!(om.contains("# TYPE target info\n"));
    /// assert!(om.contains("target_info{service_name=\"checkout\"} 1\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn target_info(mut self, on: bool) -> Self {
        self.options.target_info = on;
        self
    }

    /// Keeps metric names and attribute keys outside the legacy character set (Prometheus
    /// 3's UTF-8 names, e.g. `http.server.request.duration`), as
    /// [`FamilyBuilder::allow_utf8_names`](crate::FamilyBuilder::allow_utf8_names) does.
    /// Scrapers that do not ask for UTF-8 names get them escaped.
    ///
    /// ```
    /// use opentelemetry::{KeyValue, metrics::MeterProvider as _};
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use promenade_core::bridge::opentelemetry::OtelBridge;
    /// use promenade_core::encoding::negotiate;
    /// use promenade_core::{Format, Registry};
    ///
    /// let registry = Registry::new();
    /// let bridge = OtelBridge::builder().allow_utf8_names().scope_labels(false).target_info(false).build()?;
    /// let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
    /// registry.register(bridge.collector())?;
    /// provider.meter("db").u64_counter("db.calls").build().add(1, &[KeyValue::new("db.system", "pg")]);
    /// let utf8 = registry.encode_negotiated(&negotiate(Some("text/plain;version=1.0.0;escaping=allow-utf-8")))?;
    /// assert!(String::from_utf8(utf8)?.contains("{\"db.calls_total\",\"db.system\"=\"pg\"} 1\n"));
    /// assert!(registry.encode_to_string(Format::Text)?.contains("db_calls_total{db_system=\"pg\"} 1\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_utf8_names(mut self) -> Self {
        self.options.utf8 = true;
        self
    }

    /// Builds the bridge. Fails with [`Error::InvalidConfig`] when
    /// [`max_series`](Self::max_series) is 0 (nothing would ever be exposed).
    ///
    /// ```
    /// use promenade_core::bridge::opentelemetry::OtelBridge;
    /// assert!(OtelBridge::builder().build().is_ok());
    /// let err = OtelBridge::builder().max_series(0).build().unwrap_err();
    /// assert!(err.to_string().contains("max_series(0)"));
    /// ```
    pub fn build(self) -> Result<OtelBridge> {
        if self.options.max_series == 0 {
            return Err(Error::InvalidConfig(
                "OtelBridgeBuilder::max_series(0) would expose no OpenTelemetry series; give \
                 at least 1"
                    .to_owned(),
            ));
        }
        let reader = OtelReader {
            inner: Arc::new(ReaderInner {
                manual: ManualReader::builder()
                    .with_temporality(Temporality::Cumulative)
                    .build(),
                registered: AtomicBool::new(false),
            }),
        };
        Ok(OtelBridge {
            collector: OtelCollector {
                reader: reader.clone(),
                options: self.options,
                admitted: Arc::new(Mutex::new(Admitted::default())),
            },
            reader,
        })
    }
}

/// The bridge: a [reader](Self::reader) for one `SdkMeterProvider` and the
/// [collector](Self::collector) that exposes what it reads (see the [module](self)
/// documentation).
///
/// ```
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use promenade_core::bridge::opentelemetry::OtelBridge;
/// let bridge = OtelBridge::builder().build()?;
/// let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
/// promenade_core::Registry::new().register(bridge.collector())?;
/// # drop(provider);
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OtelBridge {
    reader: OtelReader,
    collector: OtelCollector,
}

impl OtelBridge {
    /// Starts configuring a bridge.
    ///
    /// ```
    /// let bridge = promenade_core::bridge::opentelemetry::OtelBridge::builder().build()?;
    /// # drop(bridge);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn builder() -> OtelBridgeBuilder {
        OtelBridgeBuilder {
            options: Options {
                max_series: DEFAULT_MAX_SERIES,
                scope_labels: true,
                target_info: true,
                utf8: false,
            },
        }
    }

    /// The reader to give to `SdkMeterProvider::builder().with_reader(..)`. One provider per
    /// bridge: the SDK ignores a reader given to a second provider.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// let bridge = promenade_core::bridge::opentelemetry::OtelBridge::builder().build()?;
    /// let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
    /// # drop(provider);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn reader(&self) -> OtelReader {
        self.reader.clone()
    }

    /// The collector to register with a Promenade [`Registry`](crate::Registry).
    ///
    /// ```
    /// let bridge = promenade_core::bridge::opentelemetry::OtelBridge::builder().build()?;
    /// let registry = promenade_core::Registry::new();
    /// registry.register(bridge.collector())?;
    /// // Its self-metric reserves its names: a second registration is refused.
    /// assert!(registry.register(bridge.collector()).is_err());
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn collector(&self) -> OtelCollector {
        self.collector.clone()
    }
}

/// The SDK side of the bridge: a pull [`MetricReader`] with cumulative temporality that
/// collects only when the registry is scraped. Give it to
/// `SdkMeterProvider::builder().with_reader(..)`; clones share one reader.
///
/// ```
/// use opentelemetry_sdk::metrics::{InstrumentKind, Temporality, reader::MetricReader};
/// let reader = promenade_core::bridge::opentelemetry::OtelBridge::builder().build()?.reader();
/// assert_eq!(reader.temporality(InstrumentKind::Histogram), Temporality::Cumulative);
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OtelReader {
    inner: Arc<ReaderInner>,
}

#[derive(Debug)]
struct ReaderInner {
    manual: ManualReader,
    /// Whether a provider took this reader: a scrape before that is the user's mistake,
    /// one after the provider is gone is the end of the program.
    registered: AtomicBool,
}

impl MetricReader for OtelReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.inner.registered.store(true, Ordering::Release);
        self.inner.manual.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.inner.manual.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.manual.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.manual.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.inner.manual.temporality(kind)
    }
}

/// The registry side of the bridge: a [`Collector`] that reads the provider at every
/// scrape (see the [module](self) documentation). Clones share the series cap.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use promenade_core::bridge::opentelemetry::OtelBridge;
/// use promenade_core::{Format, Registry};
///
/// let registry = Registry::new();
/// let bridge = OtelBridge::builder().build()?;
/// let provider = SdkMeterProvider::builder().with_reader(bridge.reader()).build();
/// provider.meter("app").f64_gauge("temperature").with_unit("Cel").build().record(21.5, &[]);
/// registry.register(bridge.collector())?;
/// let om = registry.encode_to_string(Format::OpenMetrics)?;
/// assert!(om.contains("# UNIT temperature_celsius celsius\n"));
/// assert!(om.contains("temperature_celsius{otel_scope_name=\"app\"} 21.5\n"));
/// // Registration saw the instrument: the name is taken.
/// assert!(registry.gauge("temperature_celsius", "Again.").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct OtelCollector {
    reader: OtelReader,
    options: Options,
    admitted: Arc<Mutex<Admitted>>,
}

impl fmt::Debug for OtelCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelCollector")
            .field("series", &self.series())
            .field("max_series", &self.options.max_series)
            .finish_non_exhaustive()
    }
}

impl OtelCollector {
    /// Series admitted so far (at most the configured
    /// [`max_series`](OtelBridgeBuilder::max_series)).
    ///
    /// ```
    /// let bridge = promenade_core::bridge::opentelemetry::OtelBridge::builder().build()?;
    /// assert_eq!(bridge.collector().series(), 0);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn series(&self) -> usize {
        self.admitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// One collection from the SDK; `Err` when the reader was never given to a provider.
    /// A provider that is shut down or dropped has nothing more to say: `Ok(None)`.
    fn read(&self) -> std::result::Result<Option<ResourceMetrics>, String> {
        let mut rm = ResourceMetrics::default();
        match self.reader.inner.manual.collect(&mut rm) {
            Ok(()) => Ok(Some(rm)),
            Err(_) if self.reader.inner.registered.load(Ordering::Acquire) => Ok(None),
            Err(e) => Err(format!(
                "could not read OpenTelemetry metrics: its reader was never given to a meter \
                 provider (pass `bridge.reader()` to `SdkMeterProvider::builder().with_reader`) \
                 ({e})"
            )),
        }
    }
}

impl Collector for OtelCollector {
    fn descriptors(&self) -> Vec<Descriptor> {
        let mut out = vec![Descriptor::new(
            DROPPED,
            DROPPED_HELP,
            MetricType::Gauge,
            &["reason"],
        )];
        // The instruments the provider has now, so that registration refuses a name the
        // registry already has (later ones are checked at every scrape).
        if let Ok(Some(rm)) = self.read() {
            let mut scratch = Admitted::default();
            let families = gather(&rm, &self.options, &mut scratch, &|t, name| {
                t.reserved_label() == Some(name)
            });
            for (name, family) in &families.families {
                // UTF-8 names are checked at the scrape, where their escaping is known.
                if name == DROPPED || !crate::name::is_valid_metric_name(name) {
                    continue;
                }
                let mut d = Descriptor::new(name, &family.help, family.metric_type, &[] as &[&str]);
                d.unit = family.unit.clone();
                out.push(d);
            }
        }
        out
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let rm = match self.read() {
            Ok(rm) => rm,
            Err(problem) => {
                enc.fail(problem);
                return;
            }
        };
        let families = match &rm {
            Some(rm) => {
                let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
                let reserved = |t: MetricType, name: &str| {
                    t.reserved_label() == Some(name) || enc.is_const_label(name)
                };
                gather(rm, &self.options, &mut admitted, &reserved)
            }
            None => Families::default(),
        };
        write(enc, &families);
    }
}

/// Writes the gathered families and the self-metric.
fn write(enc: &mut MetricEncoder<'_>, families: &Families) {
    let mut labels = String::new();
    for (name, family) in &families.families {
        if name == DROPPED || family.points.is_empty() {
            continue;
        }
        enc.family(&FamilyHeader {
            name,
            help: &family.help,
            unit: family.unit.as_deref(),
            metric_type: family.metric_type,
        });
        for point in &family.points {
            render(&mut labels, point, enc.escaping());
            let set = LabelSet::pre_rendered(&labels);
            match &point.value {
                Value::Counter(v, exemplar) => {
                    enc.counter_with_exemplar(&set, *v, None, exemplar.as_ref())
                }
                Value::Gauge(v) => enc.gauge(&set, *v),
                Value::Info => enc.info(&set),
                Value::Histogram {
                    bounds,
                    cumulative,
                    count,
                    sum,
                    exemplars,
                } => {
                    enc.histogram(
                        &set,
                        &HistogramValue {
                            bounds,
                            cumulative,
                            count: *count,
                            sum: *sum,
                            created: None,
                            native: None,
                            exemplars: exemplars.as_deref(),
                            native_exemplars: &[],
                        },
                    );
                }
                Value::Native {
                    count,
                    sum,
                    native,
                    exemplars,
                } => enc.histogram(
                    &set,
                    &HistogramValue {
                        bounds: &[],
                        cumulative: &[],
                        count: *count,
                        sum: *sum,
                        created: None,
                        native: native.as_ref().map(|n| NativeValue {
                            schema: n.schema,
                            zero_threshold: n.zero_threshold,
                            zero_count: n.zero_count,
                            positive: &n.positive,
                            negative: &n.negative,
                        }),
                        exemplars: None,
                        native_exemplars: exemplars,
                    },
                ),
            }
        }
    }
    write_dropped(enc, families.dropped);
}

fn write_dropped(enc: &mut MetricEncoder<'_>, dropped: Dropped) {
    enc.family(&FamilyHeader {
        name: DROPPED,
        help: DROPPED_HELP,
        unit: None,
        metric_type: MetricType::Gauge,
    });
    for (reason, n) in [
        ("conflict", dropped.conflict),
        ("invalid", dropped.invalid),
        ("series_limit", dropped.series_limit),
    ] {
        let mut labels = String::from("reason=\"");
        labels.push_str(reason);
        labels.push('"');
        enc.gauge(&LabelSet::pre_rendered(&labels), n as f64);
    }
}

/// A point's labels rendered as `name="value",…`: legacy names as they are; UTF-8 names
/// quoted for scrapers that asked for `allow-utf-8`, escaped for `dots` and `values`
/// (both reversible), and made valid like legacy-mode names for `underscores` (whose
/// plain escaping turns `ключ` into the reserved `____`). Names that become equal are one
/// label, values joined with `;` as for colliding attribute keys.
fn render(out: &mut String, point: &Point, escaping: EscapingScheme) {
    out.clear();
    let mut names: Vec<Cow<'_, str>> = Vec::with_capacity(point.labels.len());
    let mut values: Vec<Cow<'_, str>> = Vec::with_capacity(point.labels.len());
    for (name, value) in &point.labels {
        let name = if crate::name::is_valid_label_name(name) {
            Cow::Borrowed(name.as_str())
        } else {
            match escaping {
                EscapingScheme::AllowUtf8 => {
                    let mut quoted = String::from('"');
                    escape_label_value(&mut quoted, name);
                    quoted.push('"');
                    Cow::Owned(quoted)
                }
                EscapingScheme::Underscores => legacy_label_name(name),
                _ => escape_name_for_exposition(name, escaping),
            }
        };
        match names.iter().position(|n| *n == name) {
            Some(i) => {
                let joined = values[i].to_mut();
                joined.push(';');
                joined.push_str(value);
            }
            None => {
                names.push(name);
                values.push(Cow::Borrowed(value.as_str()));
            }
        }
    }
    for (i, (name, value)) in names.iter().zip(&values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    }
}

#[cfg(test)]
mod tests;
