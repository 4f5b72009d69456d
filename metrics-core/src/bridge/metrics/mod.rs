//! A [`metrics`] facade recorder that writes into a Promenade [`Registry`], so
//! what libraries record with `metrics::counter!`, `gauge!` and `histogram!` appears on the
//! same `/metrics` as everything else (feature `bridge-metrics`).
//!
//! ```
//! use promenade_core::bridge::metrics::PrometheusRecorder;
//! use promenade_core::{Format, Registry};
//!
//! let registry = Registry::new();
//! let recorder = PrometheusRecorder::builder(&registry).build().unwrap();
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("jobs_total", "Jobs done.");
//!     metrics::counter!("jobs_total", "queue" => "mail").increment(2);
//!     metrics::gauge!("queue_depth").set(7.0);
//!     metrics::histogram!("job_seconds").record(0.3);
//! });
//! let text = registry.encode_to_string(Format::Text).unwrap();
//! assert!(text.contains("# HELP jobs_total Jobs done.\n"));
//! assert!(text.contains("jobs_total{queue=\"mail\"} 2\n"));
//! assert!(text.contains("queue_depth 7\n"));
//! assert!(text.contains("job_seconds_count 1\n"));
//! ```
//!
//! What the recorder decides, and why:
//! - **Names.** A facade name becomes a valid Prometheus name: invalid characters become
//!   `_`, a leading digit gets a `_` in front, an empty name becomes `unnamed_metric`;
//!   label keys likewise (`unnamed_label` for an empty one; keys starting with `__`, `le`
//!   on histograms, `quantile` on summaries and the registry's constant labels get an
//!   `exported_` prefix). With [`PrometheusRecorderBuilder::allow_utf8_names`], names keep
//!   their characters (only `" \ LF = , { }` are replaced) as Prometheus 3 allows. Names
//!   that become equal are one metric; a label key that becomes equal to an earlier key of
//!   the same call is dropped.
//! - **Units.** `describe_*` with a unit adds `_<unit>` to the name unless it ends so, and
//!   writes `# UNIT` in OpenMetrics (`Unit::Count` is no unit, `CountPerSecond` is
//!   `per_second`); a counter `x_total` in seconds is exposed as `x_seconds_total`. A
//!   description that arrives after the first use renames the metric.
//! - **Label keys.** A name used with different label-key sets is one family whose series
//!   carry their own keys: `errors{kind="io"}` and `errors` side by side. That is the
//!   union of the keys with absent values, as Prometheus reads an empty value as an absent
//!   label (<https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels>), so
//!   a label with an empty value is left out and `kind=""` is the series without `kind`.
//! - **Bounds.** At most [`DEFAULT_MAX_SERIES`] label sets in all
//!   ([`PrometheusRecorderBuilder::max_series`]). Past it, a new label set of a known
//!   name and key set is counted in that family's overflow series (every label
//!   [`OVERFLOW_LABEL_VALUE`]), and a new name or key set is dropped and counted in
//!   `promenade_metrics_bridge_dropped_total{reason="series_limit"}`.
//! - **Conflicts.** A name already taken in the registry (by the HTTP layer, say) or used
//!   earlier as another type is not recorded: its handles do nothing and
//!   `promenade_metrics_bridge_dropped_total{reason="name_conflict"|"type_conflict"}`
//!   counts the dropped registrations. The scrape stays valid.
//! - **Histograms** get the classic [`DEFAULT_BUCKETS`](crate::DEFAULT_BUCKETS) unless a
//!   [`Matcher`] chose buckets or a quantile summary; [`native_histograms`] adds native
//!   buckets to every histogram (exposed in protobuf).
//!
//! [`native_histograms`]: PrometheusRecorderBuilder::native_histograms

mod builder;
mod handles;
mod naming;

use builder::Distribution;
pub use builder::{Matcher, PrometheusRecorderBuilder};
use handles::{CounterHandle, GaugeHandle, HistogramHandle, SummaryHandle};

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use ::metrics::{Key, KeyName, Metadata, Recorder, SharedString, Unit};

use crate::collector::{Collector, CollectorId, Descriptor};
use crate::encoding::{FamilyHeader, MetricEncoder};
use crate::error::{Error, Result};
use crate::family::{Family, OVERFLOW_LABEL_VALUE, Series};
use crate::metric::{
    Buckets, Counter, Gauge, Histogram, Metric, MetricType, NativeBuckets, QuantileSummary,
};
use crate::registry::Registry;

/// Label sets the recorder keeps at most, across all names, unless
/// [`PrometheusRecorderBuilder::max_series`] says otherwise.
///
/// ```
/// assert_eq!(promenade_core::bridge::metrics::DEFAULT_MAX_SERIES, 10_000);
/// ```
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// The self-metric counting dropped registrations, by `reason`.
const DROPPED: &str = "promenade_metrics_bridge_dropped";

const SHARDS: usize = 16;

/// A `metrics` recorder that writes into a Promenade [`Registry`]. Cheap to clone (the
/// clones share everything); see the [module documentation](self) for its rules.
///
/// ```
/// use promenade_core::bridge::metrics::PrometheusRecorder;
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let recorder = PrometheusRecorder::builder(&registry).build().unwrap();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::describe_histogram!("fetch", metrics::Unit::Seconds, "Fetch latency.");
///     metrics::histogram!("fetch", "host" => "a").record(0.2);
/// });
/// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("# UNIT fetch_seconds seconds\n"));
/// assert!(om.contains("fetch_seconds_count{host=\"a\"} 1\n"));
/// ```
#[derive(Clone)]
pub struct PrometheusRecorder {
    shared: Arc<Shared>,
}

impl fmt::Debug for PrometheusRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusRecorder")
            .field("series", &self.series())
            .field("max_series", &self.shared.max_series)
            .finish_non_exhaustive()
    }
}

impl PrometheusRecorder {
    /// Starts configuring a recorder that writes into `registry`.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let recorder = promenade_core::bridge::metrics::PrometheusRecorder::builder(&registry).build().unwrap();
    /// # drop(recorder);
    /// ```
    pub fn builder(registry: &Registry) -> PrometheusRecorderBuilder {
        PrometheusRecorderBuilder {
            registry: registry.clone(),
            rules: Vec::new(),
            native: None,
            max_series: DEFAULT_MAX_SERIES,
            utf8_names: false,
        }
    }

    /// Installs this recorder as the process's global `metrics` recorder. Fails with
    /// [`Error::AlreadyInstalled`] when one is set already; this recorder's self-metric is
    /// then unregistered, so the registry can take another recorder.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// let registry = promenade_core::Registry::new();
    /// let recorder = PrometheusRecorder::builder(&registry).build().unwrap();
    /// let _ = recorder.install(); // Err if another test installed one first
    /// ```
    pub fn install(self) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        ::metrics::set_global_recorder(self).map_err(|_| {
            let _ = shared.registry.unregister(shared.dropped_id);
            Error::AlreadyInstalled("`metrics` recorder")
        })
    }

    /// Label sets the recorder holds (at most the configured
    /// [`max_series`](PrometheusRecorderBuilder::max_series)).
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// let recorder = PrometheusRecorder::builder(&promenade_core::Registry::new()).build().unwrap();
    /// metrics::with_local_recorder(&recorder, || metrics::gauge!("g", "k" => "v").set(1.0));
    /// assert_eq!(recorder.series(), 1);
    /// ```
    pub fn series(&self) -> usize {
        self.shared.cached.load(Ordering::Relaxed)
    }
}

/// Passes the facade's precomputed key hash through (a [`Key`] hashes as one `write_u64`).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `Key`; kept correct for any other input.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type HandleMap = HashMap<Key, Handle, BuildHasherDefault<KeyHasher>>;

#[derive(Clone)]
enum Handle {
    Counter(::metrics::Counter),
    Gauge(::metrics::Gauge),
    Histogram(::metrics::Histogram),
}

struct Shared {
    registry: Registry,
    rules: Vec<(Matcher, Distribution)>,
    native: Option<NativeBuckets>,
    max_series: usize,
    utf8_names: bool,
    /// Label names a facade key may not use as they are (the registry's constant labels).
    reserved: Vec<String>,
    /// Handles by facade key: the hot path (one shard read lock and one lookup).
    cache: Box<[RwLock<HandleMap>]>,
    cached: AtomicUsize,
    /// Metrics by sanitised base name.
    names: RwLock<HashMap<String, Entry>>,
    /// `describe_*` calls by sanitised base name: (help, unit).
    descriptions: Mutex<HashMap<String, (String, Option<&'static str>)>>,
    dropped_series_limit: Series<Counter>,
    dropped_name_conflict: Series<Counter>,
    dropped_type_conflict: Series<Counter>,
    dropped_id: CollectorId,
}

#[derive(Clone)]
enum Entry {
    Counter(Arc<Named<Counter>>),
    Gauge(Arc<Named<Gauge>>),
    Histogram(Arc<Named<Histogram>>),
    Summary(Arc<Named<QuantileSummary>>),
    /// The name is taken in the registry by someone else.
    Refused,
}

/// The facade kinds; a histogram may be exposed as a summary.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section below leaves the data consistent, so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

macro_rules! read {
    ($l:expr) => {
        $l.read().unwrap_or_else(|p| p.into_inner())
    };
}
macro_rules! write {
    ($l:expr) => {
        $l.write().unwrap_or_else(|p| p.into_inner())
    };
}

/// One exposed family: every key set used with one name.
struct Named<M: Metric> {
    /// Sanitised name without unit suffix (counters without `_total`).
    base: String,
    options: M::Options,
    utf8: bool,
    meta: Mutex<Meta>,
    families: RwLock<KeySets<M>>,
}

struct Meta {
    help: String,
    unit: Option<&'static str>,
    /// The registered (exposed) name.
    exposed: String,
    id: Option<CollectorId>,
}

struct KeySets<M: Metric> {
    order: Vec<Family<M>>,
    index: HashMap<Box<[String]>, usize>,
}

/// One registration of a [`Named`] in the registry, under the name it had then (a late
/// unit renames a metric: the new registration is made before the old one is removed).
struct Registration<M: Metric> {
    name: String,
    unit: Option<&'static str>,
    named: Arc<Named<M>>,
}

impl<M: Metric> Collector for Registration<M> {
    fn series_unique_by_construction(&self) -> bool {
        // Key sets are distinct label-name lists, and each family's series are unique.
        true
    }

    fn descriptors(&self) -> Vec<Descriptor> {
        let mut d = Descriptor::new(&self.name, "", M::TYPE, &[] as &[&str]);
        d.unit = self.unit.map(str::to_owned);
        vec![d]
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let meta = lock(&self.named.meta);
        if meta.exposed != self.name {
            return; // renamed: the newer registration writes it
        }
        enc.family(&FamilyHeader {
            name: &self.name,
            help: &meta.help,
            unit: meta.unit,
            metric_type: M::TYPE,
        });
        drop(meta);
        for family in &read!(self.named.families).order {
            family.encode_series(enc);
        }
    }
}

/// What the slow path found for a key.
enum Found<T> {
    /// A series to cache under the key.
    New(T),
    /// A series to use without caching (the overflow series past the cap).
    Uncached(T),
    /// Nothing: the registration is dropped (and was counted).
    Dropped,
}

impl Shared {
    #[inline]
    fn shard(&self, key: &Key) -> &RwLock<HandleMap> {
        &self.cache[(key.get_hash() as usize) % SHARDS]
    }

    #[inline]
    fn cached(&self, key: &Key) -> Option<Handle> {
        read!(self.shard(key)).get(key).cloned()
    }

    fn remember(&self, key: &Key, handle: Handle) -> Handle {
        let mut shard = write!(self.shard(key));
        if let Some(existing) = shard.get(key) {
            return existing.clone(); // another thread was first
        }
        shard.insert(key.clone(), handle.clone());
        self.cached.fetch_add(1, Ordering::Relaxed);
        handle
    }

    fn at_cap(&self) -> bool {
        self.cached.load(Ordering::Relaxed) >= self.max_series
    }

    fn base_name(&self, raw: &str, kind: Kind) -> String {
        let name = naming::metric_name(raw, self.utf8_names);
        let name = match kind {
            Kind::Counter => name
                .strip_suffix("_total")
                .filter(|n| !n.is_empty())
                .unwrap_or(&name),
            _ => &name,
        };
        name.to_owned()
    }

    /// The entry for a name, created and registered on first use.
    fn entry(&self, raw: &str, kind: Kind) -> Option<Entry> {
        let base = self.base_name(raw, kind);
        if let Some(e) = read!(self.names).get(&base) {
            return Some(e.clone());
        }
        let mut names = write!(self.names);
        if let Some(e) = names.get(&base) {
            return Some(e.clone());
        }
        if self.at_cap() || names.len() >= self.max_series {
            self.dropped_series_limit.inc();
            return None;
        }
        let (help, unit) = lock(&self.descriptions)
            .get(&base)
            .cloned()
            .unwrap_or_default();
        let entry = match kind {
            Kind::Counter => self
                .register(base.clone(), (), help, unit)
                .map(Entry::Counter),
            Kind::Gauge => self
                .register(base.clone(), (), help, unit)
                .map(Entry::Gauge),
            Kind::Histogram => match self.distribution(raw) {
                Distribution::Buckets(b) => self
                    .register(base.clone(), b, help, unit)
                    .map(Entry::Histogram),
                Distribution::Summary(q) => self
                    .register(base.clone(), q, help, unit)
                    .map(Entry::Summary),
            },
        }
        .unwrap_or(Entry::Refused);
        names.insert(base, entry.clone());
        Some(entry)
    }

    fn distribution(&self, raw: &str) -> Distribution {
        let chosen = self.rules.iter().find(|(m, _)| m.matches(raw)).map_or_else(
            || Distribution::Buckets(Buckets::default()),
            |(_, d)| d.clone(),
        );
        match (chosen, &self.native) {
            (Distribution::Buckets(b), Some(native)) => {
                Distribution::Buckets(b.with_native(native.clone()))
            }
            (d, _) => d,
        }
    }

    fn register<M: Metric>(
        &self,
        base: String,
        options: M::Options,
        help: String,
        unit: Option<&'static str>,
    ) -> Option<Arc<Named<M>>> {
        let exposed = naming::with_unit(&base, unit);
        let named = Arc::new(Named {
            base,
            options,
            utf8: self.utf8_names,
            meta: Mutex::new(Meta {
                help,
                unit,
                exposed: exposed.clone(),
                id: None,
            }),
            families: RwLock::new(KeySets {
                order: Vec::new(),
                index: HashMap::new(),
            }),
        });
        let registration = Registration {
            name: exposed,
            unit,
            named: Arc::clone(&named),
        };
        match self.registry.register(registration) {
            Ok(id) => {
                lock(&named.meta).id = Some(id);
                Some(named)
            }
            Err(_) => None,
        }
    }

    /// The series for a key of an entry's type `M`.
    fn series<M: Metric>(&self, named: &Named<M>, key: &Key) -> Found<Series<M>> {
        let (names, values) = self.labels(key, M::TYPE, named.utf8);
        let existing = {
            let sets = read!(named.families);
            sets.index.get(&names).map(|&i| sets.order[i].clone())
        };
        let family = match existing {
            Some(f) => f,
            None => {
                let mut sets = write!(named.families);
                match sets.index.get(&names) {
                    Some(&i) => sets.order[i].clone(),
                    None => {
                        if self.at_cap() {
                            self.dropped_series_limit.inc();
                            return Found::Dropped;
                        }
                        let mut builder = Family::<M>::builder_with_options(
                            &named.base,
                            "",
                            named.options.clone(),
                        )
                        .labels(&names[..]);
                        if named.utf8 {
                            builder = builder.allow_utf8_names();
                        }
                        let Ok(family) = builder.build() else {
                            // Not reached: the names were made valid above.
                            self.dropped_name_conflict.inc();
                            return Found::Dropped;
                        };
                        let at = sets.order.len();
                        sets.index.insert(names.clone(), at);
                        sets.order.push(family.clone());
                        family
                    }
                }
            }
        };
        if self.at_cap() && !names.is_empty() {
            let overflow = vec![OVERFLOW_LABEL_VALUE; names.len()];
            return match family.series(&overflow) {
                Ok(s) => Found::Uncached(s),
                Err(_) => Found::Dropped,
            };
        }
        match family.series(&values) {
            Ok(s) => Found::New(s),
            Err(_) => Found::Dropped,
        }
    }

    /// A key's labels as sorted, valid, distinct names and their values; labels with an
    /// empty value are left out (Prometheus reads them as absent).
    fn labels(&self, key: &Key, ty: MetricType, utf8: bool) -> (Box<[String]>, Vec<String>) {
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(key.labels().len());
        for label in key.labels() {
            if label.value().is_empty() {
                continue;
            }
            let mut name = naming::label_name(label.key(), utf8).into_owned();
            if ty.reserved_label() == Some(name.as_str()) || self.reserved.contains(&name) {
                name = format!("{}{name}", naming::RESERVED_LABEL_PREFIX);
            }
            let identity = naming::label_identity(&name);
            if pairs
                .iter()
                .any(|(n, _)| naming::label_identity(n) == identity)
            {
                continue; // the first of two keys that name the same label wins
            }
            pairs.push((name, label.value().to_owned()));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, values): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
        (names.into_boxed_slice(), values)
    }

    fn register_handle(&self, key: &Key, kind: Kind) -> Handle {
        if let Some(h) = self.cached(key) {
            return h;
        }
        let noop = || match kind {
            Kind::Counter => Handle::Counter(::metrics::Counter::noop()),
            Kind::Gauge => Handle::Gauge(::metrics::Gauge::noop()),
            Kind::Histogram => Handle::Histogram(::metrics::Histogram::noop()),
        };
        let Some(entry) = self.entry(key.name(), kind) else {
            return noop();
        };
        let made = match (kind, entry) {
            (Kind::Counter, Entry::Counter(n)) => self.series(&n, key).map(|s| {
                Handle::Counter(::metrics::Counter::from_arc(Arc::new(CounterHandle {
                    series: s,
                    absolute: AtomicU64::new(0),
                })))
            }),
            (Kind::Gauge, Entry::Gauge(n)) => self
                .series(&n, key)
                .map(|s| Handle::Gauge(::metrics::Gauge::from_arc(Arc::new(GaugeHandle(s))))),
            (Kind::Histogram, Entry::Histogram(n)) => self.series(&n, key).map(|s| {
                Handle::Histogram(::metrics::Histogram::from_arc(Arc::new(HistogramHandle(s))))
            }),
            (Kind::Histogram, Entry::Summary(n)) => self.series(&n, key).map(|s| {
                Handle::Histogram(::metrics::Histogram::from_arc(Arc::new(SummaryHandle(s))))
            }),
            (_, Entry::Refused) => {
                self.dropped_name_conflict.inc();
                return noop();
            }
            _ => {
                self.dropped_type_conflict.inc();
                return noop();
            }
        };
        match made {
            Found::New(h) => self.remember(key, h),
            Found::Uncached(h) => h,
            Found::Dropped => noop(),
        }
    }

    /// A key cached as another kind: the registration is dropped and counted.
    #[cold]
    fn type_conflict<T>(&self, noop: impl FnOnce() -> T) -> T {
        self.dropped_type_conflict.inc();
        noop()
    }

    fn describe(&self, raw: &str, kind: Kind, unit: Option<Unit>, help: &str) {
        let base = self.base_name(raw, kind);
        let unit = unit.and_then(naming::unit_word);
        {
            let mut descriptions = lock(&self.descriptions);
            // Bounded like the series: descriptions are normally a fixed set.
            if descriptions.len() < self.max_series || descriptions.contains_key(&base) {
                descriptions.insert(base.clone(), (help.to_owned(), unit));
            }
        }
        let entry = read!(self.names).get(&base).cloned();
        match entry {
            Some(Entry::Counter(n)) => self.redescribe(&n, help, unit),
            Some(Entry::Gauge(n)) => self.redescribe(&n, help, unit),
            Some(Entry::Histogram(n)) => self.redescribe(&n, help, unit),
            Some(Entry::Summary(n)) => self.redescribe(&n, help, unit),
            Some(Entry::Refused) | None => {}
        }
    }

    /// Applies a description to a metric already in use; a new unit renames it.
    fn redescribe<M: Metric>(&self, named: &Arc<Named<M>>, help: &str, unit: Option<&'static str>) {
        let mut meta = lock(&named.meta);
        help.clone_into(&mut meta.help);
        if unit == meta.unit {
            return;
        }
        let exposed = naming::with_unit(&named.base, unit);
        if exposed == meta.exposed {
            meta.unit = unit;
            return;
        }
        let registration = Registration {
            name: exposed.clone(),
            unit,
            named: Arc::clone(named),
        };
        match self.registry.register(registration) {
            Ok(id) => {
                if let Some(old) = meta.id.replace(id) {
                    let _ = self.registry.unregister(old);
                }
                meta.exposed = exposed;
                meta.unit = unit;
            }
            // The new name is taken: the metric keeps its name, without the unit.
            Err(_) => self.dropped_name_conflict.inc(),
        }
    }
}

impl<T> Found<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Found<U> {
        match self {
            Found::New(s) => Found::New(f(s)),
            Found::Uncached(s) => Found::Uncached(f(s)),
            Found::Dropped => Found::Dropped,
        }
    }
}

impl Recorder for PrometheusRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.shared
            .describe(key.as_str(), Kind::Counter, unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.shared
            .describe(key.as_str(), Kind::Gauge, unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.shared
            .describe(key.as_str(), Kind::Histogram, unit, &description);
    }

    #[inline]
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> ::metrics::Counter {
        match self.shared.register_handle(key, Kind::Counter) {
            Handle::Counter(c) => c,
            _ => self.shared.type_conflict(::metrics::Counter::noop),
        }
    }

    #[inline]
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> ::metrics::Gauge {
        match self.shared.register_handle(key, Kind::Gauge) {
            Handle::Gauge(g) => g,
            _ => self.shared.type_conflict(::metrics::Gauge::noop),
        }
    }

    #[inline]
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> ::metrics::Histogram {
        match self.shared.register_handle(key, Kind::Histogram) {
            Handle::Histogram(h) => h,
            _ => self.shared.type_conflict(::metrics::Histogram::noop),
        }
    }
}
