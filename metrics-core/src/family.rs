//! Families: one metric per label set, found without locks or allocation on the hot path.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arc_swap::{ArcSwap, Guard};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::collector::{Collector, Descriptor};
use crate::encoding::{
    EscapingScheme, FamilyHeader, LabelSet, MetricEncoder, escape_name_for_exposition,
};
use crate::error::{Error, Result};
use crate::labels::{
    escape_label_value, parse_rendered_labels, render_labels, rendered_label_value,
    rendered_labels_match,
};
use crate::metric::{Metric, MetricType};
use crate::validate::{Definition, Origin, check_definition};

/// The label value every label of the overflow series carries once a family's series cap is
/// reached (see [`FamilyBuilder::max_series`]).
///
/// ```
/// use promenade_core::{Format, Registry, OVERFLOW_LABEL_VALUE};
/// let registry = Registry::new();
/// let users = registry.counter_family("logins_total", "Logins.", &["user"]).unwrap();
/// let capped = promenade_core::Family::<promenade_core::Counter>::builder("capped_logins_total", "Logins.")
///     .labels(&["user"]).max_series(1).build().unwrap();
/// registry.register(capped.clone()).unwrap();
/// for user in ["ann", "bob", "cy"] {
///     users.get(&[user]).unwrap().inc();
///     capped.get(&[user]).unwrap().inc();
/// }
/// assert_eq!(capped.get(&[OVERFLOW_LABEL_VALUE]).unwrap().get(), 2.0); // bob and cy
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("capped_logins_total{user=\"__overflow__\"} 2\n"));
/// assert!(text.contains("logins_total{user=\"cy\"} 1\n"));
/// ```
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// One series: its hash, its labels rendered once for the text formats, and the metric.
///
/// An entry is never reset or reused: removing a series marks its entry dead and a later
/// lookup of the same labels creates a fresh entry, so an observer that still holds the old
/// one can never leave a half-finished observation in the new one.
struct Entry<M> {
    hash: u64,
    labels: Box<str>,
    live: AtomicBool,
    /// Index in [`WriteState::order`] while live; written only under the family's lock.
    position: AtomicUsize,
    metric: M,
}

/// An open-addressing table (linear probing) whose slots are written once, under the
/// family's lock, and read with plain acquire loads: a lookup takes no lock and writes no
/// shared memory. A removed entry stays in its slot, dead, until the table is rebuilt; the
/// rebuild (on growth, or when dead entries outnumber live ones) copies only live entries
/// into a new table that replaces this one atomically, so removed series are reclaimed once
/// the last reader of the old table has finished.
struct Table<M> {
    mask: usize,
    /// The entry's hash (never 0, see [`Family::hash`]) once the slot is set; 0 while vacant.
    hashes: Box<[AtomicU64]>,
    slots: Box<[OnceLock<Arc<Entry<M>>>]>,
    /// What a [`SeriesRef`] derefs to if its slot were ever empty (it cannot be: a slot is
    /// set before its hash is published). Avoids a panic path in `Deref`.
    fallback: Arc<Entry<M>>,
}

impl<M> Table<M> {
    fn with_capacity(capacity: usize, fallback: Arc<Entry<M>>) -> Self {
        let capacity = capacity.max(MIN_CAPACITY).next_power_of_two();
        Self {
            mask: capacity - 1,
            hashes: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            slots: (0..capacity).map(|_| OnceLock::new()).collect(),
            fallback,
        }
    }

    fn capacity(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    fn start(&self, hash: u64) -> usize {
        (hash >> 1) as usize & self.mask
    }

    /// Puts `entry` in the first vacant slot of its probe sequence; returns the slot index.
    /// Only called under the family's lock (or on a table no reader can see yet), so a
    /// vacant slot stays vacant until this sets it.
    fn place(&self, entry: &Arc<Entry<M>>) -> usize {
        let mut i = self.start(entry.hash);
        loop {
            if self.hashes[i].load(Ordering::Relaxed) == 0
                && self.slots[i].set(Arc::clone(entry)).is_ok()
            {
                // Publish the hash last: a reader that sees it also sees the slot.
                self.hashes[i].store(entry.hash, Ordering::Release);
                return i;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Slots a table has at least.
const MIN_CAPACITY: usize = 8;

struct WriteState<M> {
    /// Live series in creation order (the exposition order, stable across scrapes), with
    /// holes where series were removed; compacted when holes outnumber live series.
    order: Vec<Option<Arc<Entry<M>>>>,
    /// Live series.
    live: usize,
    /// Slots of the current table in use, live or dead.
    occupied: usize,
}

struct Inner<M: Metric> {
    name: String,
    help: String,
    unit: Option<String>,
    label_names: Box<[Box<str>]>,
    options: M::Options,
    max_series: Option<usize>,
    /// All label names are legacy-valid, so the pre-rendered labels can be written as they are.
    legacy_labels: bool,
    hasher: foldhash::fast::RandomState,
    table: ArcSwap<Table<M>>,
    write: Mutex<WriteState<M>>,
    overflowed: AtomicU64,
}

/// A metric family: a name, help text, fixed label names, and one metric of type `M` per
/// label-value combination.
///
/// Finding an existing series hashes the values and probes a table whose slots are written
/// once: no lock, no allocation, no write to shared memory. [`Family::get`] returns a
/// short-lived [`SeriesRef`] for immediate use; [`Family::series`] returns a handle that can
/// be kept to skip the lookup entirely.
///
/// Removing series ([`Family::remove`], [`Family::clear`]) reclaims their memory, and
/// re-creating a removed label set starts a fresh series: see [`Family::remove`].
///
/// ```
/// use promenade_core::{Counter, Family};
/// let requests = Family::<Counter>::builder("http_requests_total", "HTTP requests.")
///     .labels(&["method", "status"])
///     .build()
///     .unwrap();
/// requests.get(&["GET", "200"]).unwrap().inc();
/// assert!(requests.get(&["GET"]).is_err()); // wrong number of values
/// assert_eq!(requests.get(&["GET", "200"]).unwrap().get(), 1.0);
/// ```
pub struct Family<M: Metric> {
    inner: Arc<Inner<M>>,
}

impl<M: Metric> Clone for Family<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M: Metric> fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.inner.name)
            .field("type", &M::TYPE)
            .field("labels", &self.inner.label_names)
            .finish_non_exhaustive()
    }
}

/// A kept handle to one series of a family; dereferences to the metric.
///
/// A handle keeps its series' memory alive. If the series is removed from its family
/// ([`Family::remove`], [`Family::clear`]), the handle keeps working but is detached: what it
/// records is no longer exported, and looking the labels up again creates a new series
/// that starts from zero.
///
/// ```
/// use promenade_core::{Counter, Family};
/// let f = Family::<Counter>::builder("jobs_total", "Jobs.").labels(&["queue"]).build().unwrap();
/// let mail = f.series(&["mail"]).unwrap();
/// mail.inc();
/// assert_eq!(f.get(&["mail"]).unwrap().get(), 1.0);
/// f.remove(&["mail"]);
/// mail.inc(); // detached: not exported any more
/// assert_eq!(f.get(&["mail"]).unwrap().get(), 0.0);
/// ```
pub struct Series<M> {
    entry: Arc<Entry<M>>,
}

impl<M> Clone for Series<M> {
    fn clone(&self) -> Self {
        Self {
            entry: Arc::clone(&self.entry),
        }
    }
}

impl<M> Deref for Series<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.entry.metric
    }
}

impl<M> Series<M> {
    /// The value of the label at `index` (in label-name order).
    pub(crate) fn label_value(&self, index: usize) -> std::borrow::Cow<'_, str> {
        rendered_label_value(&self.entry.labels, index)
    }
}

impl<M: fmt::Debug> fmt::Debug for Series<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Series")
            .field("labels", &self.entry.labels)
            .field("metric", &self.entry.metric)
            .finish()
    }
}

/// A series found by [`Family::get`], for immediate use; dereferences to the metric.
///
/// It pins the family's lookup table while it lives (a removed series' memory is freed
/// only after the last such reference is gone), so use it and let it go; keep a
/// [`Series`] (from [`Family::series`]) instead when the series is needed for long.
///
/// ```
/// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
/// let c = f.get(&["x"]).unwrap();
/// c.inc();
/// assert_eq!(c.get(), 1.0);
/// ```
pub struct SeriesRef<M> {
    table: Guard<Arc<Table<M>>>,
    index: usize,
}

impl<M> Deref for SeriesRef<M> {
    type Target = M;
    #[inline]
    fn deref(&self) -> &M {
        match self.table.slots.get(self.index).and_then(OnceLock::get) {
            Some(entry) => &entry.metric,
            None => &self.table.fallback.metric,
        }
    }
}

impl<M> SeriesRef<M> {
    fn entry(&self) -> &Arc<Entry<M>> {
        match self.table.slots.get(self.index).and_then(OnceLock::get) {
            Some(entry) => entry,
            None => &self.table.fallback,
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for SeriesRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entry = self.entry();
        f.debug_struct("SeriesRef")
            .field("labels", &entry.labels)
            .field("metric", &entry.metric)
            .finish()
    }
}

/// Builds a [`Family`]; see [`Family::builder`].
///
/// ```
/// use promenade_core::{Buckets, Family, Format, Histogram, Registry};
/// let latency = Family::<Histogram>::builder("db_query_seconds", "Query latency.")
///     .labels(&["table"])
///     .unit("seconds")
///     .options(Buckets::new(vec![0.01, 0.1]).unwrap())
///     .max_series(100)
///     .build()
///     .unwrap();
/// latency.get(&["users"]).unwrap().observe(0.05);
/// let registry = Registry::new();
/// registry.register(latency).unwrap();
/// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("# UNIT db_query_seconds seconds\n"));
/// assert!(om.contains("db_query_seconds_bucket{table=\"users\",le=\"0.1\"} 1\n"));
/// ```
#[derive(Debug)]
pub struct FamilyBuilder<M: Metric> {
    name: String,
    help: String,
    unit: Option<String>,
    labels: Vec<String>,
    options: M::Options,
    max_series: Option<usize>,
    utf8_names: bool,
}

impl<M: Metric> FamilyBuilder<M> {
    /// Allows metric and label names outside the legacy character set (Prometheus 3's UTF-8
    /// names, e.g. `http.server.duration`). Scrapers that asked for `escaping=allow-utf-8`
    /// get them quoted; everyone else gets them escaped. Names whose escaped forms collide
    /// with another family's are refused at registration.
    ///
    /// ```
    /// use promenade_core::{Counter, Family, Format, Registry};
    /// let f = Family::<Counter>::builder("my.requests", "Requests.").labels(&["error.type"]).allow_utf8_names().build().unwrap();
    /// f.get(&["timeout"]).unwrap().inc();
    /// let r = Registry::new();
    /// r.register(f).unwrap();
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"my_requests_total{error_type="timeout"} 1"#));
    /// ```
    #[must_use]
    pub fn allow_utf8_names(mut self) -> Self {
        self.utf8_names = true;
        self
    }

    /// The label names, fixed for the family's life.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("temp_celsius", "Temperature.")
    ///     .labels(&["room"]).build().unwrap();
    /// f.get(&["kitchen"]).unwrap().set(21.5);
    /// ```
    #[must_use]
    pub fn labels<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.labels = names.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// The unit (OpenMetrics `# UNIT`); the name must end with `_<unit>`.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Histogram>::builder("latency_seconds", "Latency.")
    ///     .unit("seconds").build();
    /// assert!(f.is_ok());
    /// ```
    #[must_use]
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_owned());
        self
    }

    /// Options every series is built from (histogram buckets, state names).
    ///
    /// ```
    /// use promenade_core::{Buckets, Family, Histogram};
    /// let f = Family::<Histogram>::builder("size_bytes", "Sizes.")
    ///     .options(Buckets::new(vec![100.0, 1000.0]).unwrap()).build().unwrap();
    /// f.get(&[] as &[&str]).unwrap().observe(512.0);
    /// ```
    #[must_use]
    pub fn options(mut self, options: M::Options) -> Self {
        self.options = options;
        self
    }

    /// Caps the number of live series. Past the cap, new label sets are folded into one
    /// overflow series whose every label value is [`OVERFLOW_LABEL_VALUE`], so memory stays
    /// bounded and no update is lost; [`Family::overflowed`] counts the folded lookups.
    ///
    /// ```
    /// use promenade_core::{Counter, Family, OVERFLOW_LABEL_VALUE};
    /// let f = Family::<Counter>::builder("hits_total", "Hits.").labels(&["path"]).max_series(1).build().unwrap();
    /// f.get(&["/a"]).unwrap().inc();
    /// f.get(&["/b"]).unwrap().inc();
    /// assert_eq!(f.get(&[OVERFLOW_LABEL_VALUE]).unwrap().get(), 1.0);
    /// assert_eq!(f.overflowed(), 1);
    /// ```
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = Some(max);
        self
    }

    /// Validates names and builds the family. An unlabelled family gets its one series now,
    /// so it is exported (as zero) from the start.
    ///
    /// ```
    /// use promenade_core::{Family, Histogram};
    /// assert!(Family::<Histogram>::builder("h", "x").labels(&["le"]).build().is_err());
    /// assert!(Family::<Histogram>::builder("bad name", "x").build().is_err());
    /// ```
    pub fn build(self) -> Result<Family<M>> {
        let name = normalise_name(&self.name, M::TYPE);
        check_definition(
            &Definition {
                name: &name,
                metric_type: M::TYPE,
                label_names: &self.labels,
                unit: self.unit.as_deref(),
            },
            Origin::Builder {
                utf8_names: self.utf8_names,
            },
        )?;
        // Legacy label names can be written as they are; others are re-rendered per scrape.
        let legacy_labels = self
            .labels
            .iter()
            .all(|l| crate::name::is_valid_label_name(l));
        let fallback = Arc::new(Entry {
            hash: 0,
            labels: Box::from(""),
            live: AtomicBool::new(false),
            position: AtomicUsize::new(usize::MAX),
            metric: M::build(&self.options),
        });
        let family = Family {
            inner: Arc::new(Inner {
                name,
                help: self.help,
                unit: self.unit.filter(|u| !u.is_empty()),
                label_names: self
                    .labels
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
                options: self.options,
                max_series: self.max_series,
                legacy_labels,
                hasher: foldhash::fast::RandomState::default(),
                table: ArcSwap::from_pointee(Table::with_capacity(MIN_CAPACITY, fallback)),
                write: Mutex::new(WriteState {
                    order: Vec::new(),
                    live: 0,
                    occupied: 0,
                }),
                overflowed: AtomicU64::new(0),
            }),
        };
        if family.inner.label_names.is_empty() {
            family.get(&[] as &[&str])?;
        }
        Ok(family)
    }
}

/// Counters are named without `_total` and info metrics without `_info` (the suffix is
/// added to the sample), so `foo` and `foo_total` name the same counter.
fn normalise_name(name: &str, ty: MetricType) -> String {
    let suffix = match ty {
        MetricType::Counter => "_total",
        MetricType::Info => "_info",
        _ => return name.to_owned(),
    };
    name.strip_suffix(suffix)
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
        .to_owned()
}

impl<M: Metric> Family<M>
where
    M::Options: Default,
{
    /// Starts building a family with default options (default buckets for histograms).
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("a_total", "A.").build().unwrap();
    /// assert_eq!(f.name(), "a");
    /// ```
    pub fn builder(name: &str, help: &str) -> FamilyBuilder<M> {
        Self::builder_with_options(name, help, M::Options::default())
    }
}

impl<M: Metric> Family<M> {
    /// Starts building a family whose series are built from `options`.
    ///
    /// ```
    /// use promenade_core::{Family, StateSet, States};
    /// let f = Family::<StateSet>::builder_with_options("door", "Door state.", States::new(["open", "shut"]).unwrap())
    ///     .build().unwrap();
    /// f.get(&[] as &[&str]).unwrap().set("open").unwrap();
    /// ```
    pub fn builder_with_options(name: &str, help: &str, options: M::Options) -> FamilyBuilder<M> {
        FamilyBuilder {
            name: name.to_owned(),
            help: help.to_owned(),
            unit: None,
            labels: Vec::new(),
            options,
            max_series: None,
            utf8_names: false,
        }
    }

    /// The family name (counters without `_total`).
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("g", "G.").build().unwrap();
    /// assert_eq!(f.name(), "g");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The label names.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("g", "G.").labels(&["a"]).build().unwrap();
    /// assert_eq!(f.label_names().len(), 1);
    /// ```
    pub fn label_names(&self) -> &[Box<str>] {
        &self.inner.label_names
    }

    /// The hash of a label-value list; never 0 (0 marks a vacant table slot).
    #[inline]
    fn hash<S: AsRef<str>>(&self, values: &[S]) -> u64 {
        let mut h = self.inner.hasher.build_hasher();
        for v in values {
            h.write(v.as_ref().as_bytes());
            // 0xff never occurs in UTF-8, so ("ab","c") and ("a","bc") hash apart.
            h.write_u8(0xff);
        }
        h.finish() | 1
    }

    /// The slot of the live entry for `values` in `table`, comparing the label text (never
    /// the hash alone: two label sets must not merge).
    #[inline]
    fn find<S: AsRef<str>>(&self, table: &Table<M>, hash: u64, values: &[S]) -> Option<usize> {
        let mut i = table.start(hash);
        loop {
            let h = table.hashes[i].load(Ordering::Acquire);
            if h == 0 {
                return None;
            }
            if h == hash
                && let Some(entry) = table.slots[i].get()
                && entry.live.load(Ordering::Relaxed)
                && rendered_labels_match(&entry.labels, &self.inner.label_names, values)
            {
                return Some(i);
            }
            i = (i + 1) & table.mask;
        }
    }

    /// The metric for these label values (in label-name order), created at its zero value
    /// if it does not exist. Fails only when the number of values is wrong.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// f.get(&["x"]).unwrap().inc();
    /// assert!(f.get(&["x", "y"]).is_err());
    /// ```
    #[inline]
    pub fn get<S: AsRef<str>>(&self, values: &[S]) -> Result<SeriesRef<M>> {
        self.check_count(values.len())?;
        let hash = self.hash(values);
        let table = self.inner.table.load();
        match self.find(&table, hash, values) {
            Some(index) => Ok(SeriesRef { table, index }),
            None => {
                drop(table);
                Ok(self.create(hash, values))
            }
        }
    }

    /// Like [`Family::get`], but returns a handle that can be kept and reused.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("g", "G.").labels(&["a"]).build().unwrap();
    /// let s = f.series(&["x"]).unwrap();
    /// s.set(2.0);
    /// ```
    pub fn series<S: AsRef<str>>(&self, values: &[S]) -> Result<Series<M>> {
        self.get(values).map(|r| Series {
            entry: Arc::clone(r.entry()),
        })
    }

    /// Labels given as name/value pairs in any order (slower than [`Family::get`]).
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a", "b"]).build().unwrap();
    /// f.get_by_name(&[("b", "2"), ("a", "1")]).unwrap().inc();
    /// assert_eq!(f.get(&["1", "2"]).unwrap().get(), 1.0);
    /// assert!(f.get_by_name(&[("a", "1"), ("z", "2")]).is_err());
    /// ```
    pub fn get_by_name(&self, pairs: &[(&str, &str)]) -> Result<SeriesRef<M>> {
        self.check_count(pairs.len())?;
        let values = self
            .inner
            .label_names
            .iter()
            .map(|n| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == &**n)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| Error::UnknownLabelName(n.to_string()))
            })
            .collect::<Result<Vec<&str>>>()?;
        self.get(&values)
    }

    #[inline]
    fn check_count(&self, got: usize) -> Result<()> {
        if got == self.inner.label_names.len() {
            Ok(())
        } else {
            Err(self.label_count_error(got))
        }
    }

    #[cold]
    fn label_count_error(&self, got: usize) -> Error {
        Error::LabelCount {
            family: self.inner.name.clone(),
            labels: self
                .inner
                .label_names
                .iter()
                .map(|l| l.to_string())
                .collect(),
            expected: self.inner.label_names.len(),
            got,
        }
    }

    fn lock(&self) -> MutexGuard<'_, WriteState<M>> {
        // A panic while holding the lock cannot leave the state half-written in a harmful
        // way: every step below keeps the table and the order list consistent on its own.
        self.inner.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cold]
    #[inline(never)]
    fn create<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> SeriesRef<M> {
        let mut state = self.lock();
        let table = self.inner.table.load_full();
        if let Some(index) = self.find(&table, hash, values) {
            // Created by another thread meanwhile.
            return SeriesRef {
                table: Guard::from_inner(table),
                index,
            };
        }
        if self.at_capacity(&state) {
            drop(table);
            return self.overflow(state);
        }
        self.insert(&mut state, hash, values)
    }

    fn at_capacity(&self, state: &WriteState<M>) -> bool {
        self.inner.max_series.is_some_and(|max| state.live >= max)
    }

    fn overflow(&self, mut state: MutexGuard<'_, WriteState<M>>) -> SeriesRef<M> {
        self.inner.overflowed.fetch_add(1, Ordering::Relaxed);
        let values = vec![OVERFLOW_LABEL_VALUE; self.inner.label_names.len()];
        let hash = self.hash(&values);
        let table = self.inner.table.load_full();
        match self.find(&table, hash, &values) {
            Some(index) => SeriesRef {
                table: Guard::from_inner(table),
                index,
            },
            // The overflow series is created even past the cap: it is what keeps the cap.
            None => {
                drop(table);
                self.insert(&mut state, hash, &values)
            }
        }
    }

    fn insert<S: AsRef<str>>(
        &self,
        state: &mut WriteState<M>,
        hash: u64,
        values: &[S],
    ) -> SeriesRef<M> {
        let mut table = self.inner.table.load_full();
        // Keep the load factor at most 3/4 so probe sequences stay short and always end.
        if (state.occupied + 1) * 4 > table.capacity() * 3 {
            let live = state.live;
            self.rebuild(state, live + 1);
            table = self.inner.table.load_full();
        }
        let mut labels = String::new();
        render_labels(&mut labels, &self.inner.label_names, values);
        let entry = Arc::new(Entry {
            hash,
            labels: labels.into_boxed_str(),
            live: AtomicBool::new(true),
            position: AtomicUsize::new(state.order.len()),
            metric: M::build(&self.inner.options),
        });
        state.order.push(Some(Arc::clone(&entry)));
        state.live += 1;
        state.occupied += 1;
        let index = table.place(&entry);
        SeriesRef {
            table: Guard::from_inner(table),
            index,
        }
    }

    /// Replaces the table with one holding only the live entries, sized for `live` of them
    /// at half load, and compacts the order list. Readers of the old table finish on it;
    /// dead entries are freed when the last of them lets go.
    fn rebuild(&self, state: &mut WriteState<M>, live: usize) {
        let fallback = Arc::clone(&self.inner.table.load().fallback);
        let table = Table::with_capacity(live.saturating_mul(2), fallback);
        state.order.retain(Option::is_some);
        for (position, entry) in state.order.iter().flatten().enumerate() {
            entry.position.store(position, Ordering::Relaxed);
            table.place(entry);
        }
        state.occupied = state.order.len();
        self.inner.table.store(Arc::new(table));
    }

    /// Removes the series for these label values; returns whether it existed.
    ///
    /// The series stops being exported at once and its memory is reclaimed (a removal is
    /// O(1) amortised; the lookup table is rebuilt when removed series outnumber live ones).
    /// Handles kept from before ([`Series`]) stay valid but detached: what they record is
    /// not exported. Using the label set again creates a fresh series that starts from zero,
    /// whatever observers of the old one are still doing.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// f.get(&["x"]).unwrap().inc();
    /// assert!(f.remove(&["x"]));
    /// assert!(!f.remove(&["x"]));
    /// assert_eq!(f.get(&["x"]).unwrap().get(), 0.0);
    /// ```
    pub fn remove<S: AsRef<str>>(&self, values: &[S]) -> bool {
        if self.check_count(values.len()).is_err() {
            return false;
        }
        let hash = self.hash(values);
        let mut state = self.lock();
        let table = self.inner.table.load_full();
        let Some(entry) = self
            .find(&table, hash, values)
            .and_then(|i| table.slots[i].get())
        else {
            return false;
        };
        entry.live.store(false, Ordering::Relaxed);
        let position = entry.position.load(Ordering::Relaxed);
        if let Some(slot) = state.order.get_mut(position) {
            *slot = None;
        }
        state.live -= 1;
        drop(table);
        let dead = state.occupied - state.live;
        let live = state.live;
        if dead > live.max(MIN_CAPACITY) {
            self.rebuild(&mut state, live);
        }
        true
    }

    /// Removes every series and frees their memory (handles kept from before become
    /// detached, as after [`Family::remove`]).
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// f.get(&["x"]).unwrap();
    /// f.clear();
    /// assert_eq!(f.len(), 0);
    /// ```
    pub fn clear(&self) {
        let mut state = self.lock();
        for entry in state.order.iter().flatten() {
            entry.live.store(false, Ordering::Relaxed);
        }
        state.order.clear();
        state.live = 0;
        self.rebuild(&mut state, 0);
    }

    /// Number of live series.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").build().unwrap();
    /// assert_eq!(f.len(), 1); // the unlabelled series exists from the start
    /// ```
    pub fn len(&self) -> usize {
        self.lock().live
    }

    /// Whether the family has no live series.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// assert!(f.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many lookups were folded into the overflow series because of the series cap.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").build().unwrap();
    /// assert_eq!(f.overflowed(), 0);
    /// ```
    pub fn overflowed(&self) -> u64 {
        self.inner.overflowed.load(Ordering::Relaxed)
    }

    /// Calls `f` with each live series' rendered labels and metric, in creation order.
    pub(crate) fn for_each_series(&self, mut f: impl FnMut(&str, &M)) {
        let state = self.lock();
        for entry in state.order.iter().flatten() {
            f(&entry.labels, &entry.metric);
        }
    }

    pub(crate) fn header(&self) -> FamilyHeader<'_> {
        FamilyHeader {
            name: &self.inner.name,
            help: &self.inner.help,
            unit: self.inner.unit.as_deref(),
            metric_type: M::TYPE,
        }
    }
}

impl<M: Metric> Collector for Family<M> {
    fn series_unique_by_construction(&self) -> bool {
        true
    }

    fn descriptors(&self) -> Vec<Descriptor> {
        let mut d = Descriptor::new(
            &self.inner.name,
            &self.inner.help,
            M::TYPE,
            &self.inner.label_names,
        );
        d.unit = self.inner.unit.clone();
        vec![d]
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        enc.family(&self.header());
        // New series wait while the family is written out; updates to existing ones do not.
        let state = self.lock();
        if self.inner.legacy_labels {
            for entry in state.order.iter().flatten() {
                entry
                    .metric
                    .encode(&LabelSet::pre_rendered(&entry.labels), enc);
            }
            return;
        }
        // UTF-8 label names: quoted for `allow-utf-8`, escaped otherwise.
        let escaping = enc.escaping();
        let mut scratch = String::new();
        for entry in state.order.iter().flatten() {
            scratch.clear();
            for (i, (name, value)) in parse_rendered_labels(&entry.labels).enumerate() {
                if i > 0 {
                    scratch.push(',');
                }
                if crate::name::is_valid_label_name(name) {
                    scratch.push_str(name);
                } else if escaping == EscapingScheme::AllowUtf8 {
                    scratch.push('"');
                    escape_label_value(&mut scratch, name);
                    scratch.push('"');
                } else {
                    scratch.push_str(&escape_name_for_exposition(name, escaping));
                }
                scratch.push_str("=\"");
                escape_label_value(&mut scratch, &value);
                scratch.push('"');
            }
            entry.metric.encode(&LabelSet::pre_rendered(&scratch), enc);
        }
    }
}
