//! Families: one metric per label set, found without locks or allocation on the hot path.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::encoding::{
    EscapingScheme, escape_label_value, escape_name_for_exposition, parse_rendered_labels,
};
use crate::encoding::{
    FamilyHeader, LabelSet, MetricEncoder, render_labels, rendered_labels_match,
};
use crate::error::{Error, Result};
use crate::metric::{Metric, MetricType};
use crate::name::{
    check_label_names, check_metric_name, check_utf8_label_names, check_utf8_metric_name,
};
use crate::registry::{Collector, Descriptor};

/// The label value every label of the overflow series carries once a family's series cap is
/// reached (see [`FamilyBuilder::max_series`]).
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

const FANOUT_BITS: u32 = 4;
const FANOUT: usize = 1 << FANOUT_BITS;

/// One series: its hash, its labels rendered once for the text formats, and the metric.
struct Entry<M> {
    hash: u64,
    labels: Box<str>,
    live: AtomicBool,
    /// The next trie level for keys that hash to this entry's slot: hanging it off the entry
    /// (rather than a parallel array in the node) halves the node size.
    child: OnceLock<Box<Node<M>>>,
    metric: M,
}

/// A node of the lookup trie. Slots are written once (under the family's write lock) and
/// read with a plain acquire load, so lookups take no lock and write no shared memory.
/// Level `d` is indexed by hash bits `4d..4d+4`; a key sits in the first free slot on its path.
struct Node<M> {
    slots: [OnceLock<Arc<Entry<M>>>; FANOUT],
}

impl<M> Node<M> {
    fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

struct WriteState<M> {
    /// Live series in creation order: the exposition order, stable across scrapes.
    live: Vec<Arc<Entry<M>>>,
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
    root: Node<M>,
    write: Mutex<WriteState<M>>,
    overflowed: AtomicU64,
}

/// A metric family: a name, help text, fixed label names, and one metric of type `M` per
/// label-value combination.
///
/// Finding an existing series hashes the values and walks a write-once trie: no lock, no
/// allocation, no write to shared memory. [`Family::get`] returns a reference for immediate
/// use; [`Family::series`] returns a handle that can be kept to skip the lookup entirely.
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
/// ```
/// use promenade_core::{Counter, Family};
/// let f = Family::<Counter>::builder("jobs_total", "Jobs.").labels(&["queue"]).build().unwrap();
/// let mail = f.series(&["mail"]).unwrap();
/// mail.inc();
/// assert_eq!(f.get(&["mail"]).unwrap().get(), 1.0);
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
        crate::http_metrics::rendered_label_value(&self.entry.labels, index)
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

/// Builds a [`Family`]; see [`Family::builder`].
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
        if self.utf8_names {
            check_utf8_metric_name(&name)?;
            check_utf8_label_names(&self.labels)?;
            // Two label names that escape to the same name would produce duplicate labels.
            for scheme in [
                EscapingScheme::Underscores,
                EscapingScheme::Dots,
                EscapingScheme::Values,
            ] {
                let escaped: Vec<String> = self
                    .labels
                    .iter()
                    .map(|l| escape_name_for_exposition(l, scheme).into_owned())
                    .collect();
                check_label_names(&escaped).map_err(|_| {
                    Error::DuplicateLabelName(format!(
                        "{:?} after {} escaping",
                        self.labels,
                        scheme.as_str()
                    ))
                })?;
            }
        } else {
            check_metric_name(&name)?;
            check_label_names(&self.labels)?;
        }
        let legacy_labels = self
            .labels
            .iter()
            .all(|l| crate::name::is_valid_label_name(l));
        if let Some(reserved) = M::TYPE.reserved_label()
            && self.labels.iter().any(|l| l == reserved)
        {
            return Err(Error::ReservedLabelName {
                name: reserved.to_owned(),
                context: " for this metric type",
            });
        }
        if M::TYPE == MetricType::StateSet && self.labels.contains(&name) {
            return Err(Error::ReservedLabelName {
                name,
                context: " (a state set uses its own name as the state label)",
            });
        }
        if let Some(unit) = &self.unit
            && !unit.is_empty()
            && !name.ends_with(&format!("_{unit}"))
        {
            return Err(Error::UnitMismatch {
                name,
                unit: unit.clone(),
            });
        }
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
                root: Node::new(),
                write: Mutex::new(WriteState { live: Vec::new() }),
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

    #[inline]
    fn hash<S: AsRef<str>>(&self, values: &[S]) -> u64 {
        let mut h = self.inner.hasher.build_hasher();
        for v in values {
            h.write(v.as_ref().as_bytes());
            // 0xff never occurs in UTF-8, so ("ab","c") and ("a","bc") hash apart.
            h.write_u8(0xff);
        }
        h.finish()
    }

    #[inline]
    fn find<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> Option<&Arc<Entry<M>>> {
        let mut node = &self.inner.root;
        let mut bits = hash;
        loop {
            let i = (bits as usize) & (FANOUT - 1);
            let entry = node.slots[i].get()?;
            if entry.hash == hash
                && rendered_labels_match(&entry.labels, &self.inner.label_names, values)
            {
                return Some(entry);
            }
            node = entry.child.get()?;
            bits = bits.rotate_right(FANOUT_BITS);
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
    pub fn get<S: AsRef<str>>(&self, values: &[S]) -> Result<&M> {
        self.entry(values).map(|e| &e.metric)
    }

    /// Like [`Family::get`], but returns a handle that can be kept and reused.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("g", "G.").labels(&["a"]).build().unwrap();
    /// let s = f.series(&["x"]).unwrap();
    /// s.set(2.0);
    /// ```
    pub fn series<S: AsRef<str>>(&self, values: &[S]) -> Result<Series<M>> {
        self.entry(values).map(|e| Series {
            entry: Arc::clone(e),
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
    pub fn get_by_name(&self, pairs: &[(&str, &str)]) -> Result<&M> {
        if pairs.len() != self.inner.label_names.len() {
            return Err(Error::LabelCount {
                expected: self.inner.label_names.len(),
                got: pairs.len(),
            });
        }
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
    fn entry<S: AsRef<str>>(&self, values: &[S]) -> Result<&Arc<Entry<M>>> {
        if values.len() != self.inner.label_names.len() {
            return Err(Error::LabelCount {
                expected: self.inner.label_names.len(),
                got: values.len(),
            });
        }
        let hash = self.hash(values);
        match self.find(hash, values) {
            Some(e) if e.live.load(Ordering::Relaxed) => Ok(e),
            _ => Ok(self.create(hash, values)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WriteState<M>> {
        // A panic while holding the lock cannot leave the list half-written in a harmful way.
        self.inner.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cold]
    #[inline(never)]
    fn create<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> &Arc<Entry<M>> {
        let mut state = self.lock();
        if let Some(entry) = self.find(hash, values) {
            if !entry.live.load(Ordering::Relaxed) {
                // Created again after `remove`: start from zero in the same slot.
                if self.at_capacity(&state) {
                    drop(state);
                    return self.overflow();
                }
                entry.metric.reset();
                entry.live.store(true, Ordering::Relaxed);
                state.live.push(Arc::clone(entry));
            }
            return entry;
        }
        if self.at_capacity(&state) {
            drop(state);
            return self.overflow();
        }
        self.insert(&mut state, hash, values)
    }

    fn at_capacity(&self, state: &WriteState<M>) -> bool {
        self.inner
            .max_series
            .is_some_and(|max| state.live.len() >= max)
    }

    fn overflow(&self) -> &Arc<Entry<M>> {
        self.inner.overflowed.fetch_add(1, Ordering::Relaxed);
        let values = vec![OVERFLOW_LABEL_VALUE; self.inner.label_names.len()];
        let hash = self.hash(&values);
        let mut state = self.lock();
        match self.find(hash, &values) {
            Some(entry) => {
                if !entry.live.swap(true, Ordering::Relaxed) {
                    entry.metric.reset();
                    state.live.push(Arc::clone(entry));
                }
                entry
            }
            None => self.insert(&mut state, hash, &values),
        }
    }

    fn insert<S: AsRef<str>>(
        &self,
        state: &mut WriteState<M>,
        hash: u64,
        values: &[S],
    ) -> &Arc<Entry<M>> {
        let mut labels = String::new();
        render_labels(&mut labels, &self.inner.label_names, values);
        let entry = Arc::new(Entry {
            hash,
            labels: labels.into_boxed_str(),
            live: AtomicBool::new(true),
            child: OnceLock::new(),
            metric: M::build(&self.inner.options),
        });
        state.live.push(Arc::clone(&entry));
        let mut node = &self.inner.root;
        let mut bits = hash;
        loop {
            let i = (bits as usize) & (FANOUT - 1);
            // Only writers (holding the lock) set slots, so a free slot stays free until we set it.
            let slot = node.slots[i].get_or_init(|| Arc::clone(&entry));
            if Arc::ptr_eq(slot, &entry) {
                return slot;
            }
            node = slot.child.get_or_init(|| Box::new(Node::new()));
            bits = bits.rotate_right(FANOUT_BITS);
        }
    }

    /// Removes the series for these label values; returns whether it existed. Handles kept
    /// from before stop being exported; if the label set is used again it starts from zero.
    /// (A removed label set keeps a small tombstone for reuse.)
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// f.get(&["x"]).unwrap().inc();
    /// assert!(f.remove(&["x"]));
    /// assert!(!f.remove(&["x"]));
    /// assert_eq!(f.get(&["x"]).unwrap().get(), 0.0);
    /// ```
    pub fn remove<S: AsRef<str>>(&self, values: &[S]) -> bool {
        if values.len() != self.inner.label_names.len() {
            return false;
        }
        let hash = self.hash(values);
        let mut state = self.lock();
        match self.find(hash, values) {
            Some(entry) if entry.live.swap(false, Ordering::Relaxed) => {
                state.live.retain(|e| !Arc::ptr_eq(e, entry));
                true
            }
            _ => false,
        }
    }

    /// Removes every series.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// f.get(&["x"]).unwrap();
    /// f.clear();
    /// assert_eq!(f.len(), 0);
    /// ```
    pub fn clear(&self) {
        let mut state = self.lock();
        for entry in state.live.drain(..) {
            entry.live.store(false, Ordering::Relaxed);
        }
    }

    /// Number of live series.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").build().unwrap();
    /// assert_eq!(f.len(), 1); // the unlabelled series exists from the start
    /// ```
    pub fn len(&self) -> usize {
        self.lock().live.len()
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
        for entry in &state.live {
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
            for entry in &state.live {
                entry
                    .metric
                    .encode(&LabelSet::pre_rendered(&entry.labels), enc);
            }
            return;
        }
        // UTF-8 label names: quoted for `allow-utf-8`, escaped otherwise.
        let escaping = enc.escaping();
        let mut scratch = String::new();
        for entry in &state.live {
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
