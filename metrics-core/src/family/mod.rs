//! Families: one metric per label set, found without locks or allocation on the hot path.
//!
//! Files: `table.rs` (the lookup table), `current.rs` (the current table, pinned per
//! thread), `handles.rs` (`Series`, `SeriesRef`), `builder.rs`
//! (`FamilyBuilder`), this file (the family: lookups, creation, cap, removal, exposition).

mod builder;
mod current;
mod handles;
mod table;

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use std::cell::Ref;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::collector::{Collector, Descriptor};
use crate::encoding::{
    EscapingScheme, FamilyHeader, LabelSet, MetricEncoder, escape_name_for_exposition,
};
use crate::error::{Error, Result};
use crate::labels::{
    escape_label_value, labels_match, parse_rendered_labels, plain_shape, render_labels,
};
use crate::metric::Metric;

pub use builder::FamilyBuilder;
use current::{CurrentTable, PinUse, TableRef};
use handles::Held;
pub use handles::{Series, SeriesRef};
use table::{Entry, MIN_CAPACITY, Table};

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
    table: CurrentTable<M>,
    write: Mutex<WriteState<M>>,
    overflowed: AtomicU64,
}

/// A metric family: a name, help text, fixed label names, and one metric of type `M` per
/// label-value combination.
///
/// Finding an existing series hashes the values and probes a table whose slots are written
/// once: no lock, no allocation, no write to shared memory (each thread keeps the current
/// table pinned, so a lookup only reads shared memory). [`Family::get`] returns a
/// short-lived [`SeriesRef`] for immediate use; [`Family::series`] returns a handle that can
/// be kept to skip the lookup entirely.
///
/// Removing series ([`Family::remove`], [`Family::clear`]) reclaims their memory, and
/// re-creating a removed label set starts a fresh series: see [`Family::remove`] (also for
/// when the memory is freed: each thread that looked the family up lets go of the table it
/// read at its next lookup here).
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
        // No separator between values: foldhash mixes each write's length in, and a lookup
        // compares the label text exactly anyway, so ("ab","c") and ("a","bc") never merge.
        for v in values {
            h.write(v.as_ref().as_bytes());
        }
        h.finish() | 1
    }

    /// The live entry for `values` in `table`, comparing the label text (never the hash
    /// alone: two label sets must not merge).
    #[inline]
    fn find<'t, S: AsRef<str>>(
        &self,
        table: &'t Table<M>,
        hash: u64,
        values: &[S],
    ) -> Option<&'t Arc<Entry<M>>> {
        table.find(hash, |entry, shape| {
            labels_match(&entry.labels, shape, &self.inner.label_names, values)
        })
    }

    /// The metric for these label values (in label-name order), created at its zero value
    /// if it does not exist. Fails only when the number of values is wrong.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
    /// f.get(&["x"]).unwrap().inc();
    /// assert!(f.get(&["x", "y"]).is_err());
    /// ```
    // Always inlined (it is small): returned from a call, the result goes through memory and
    // is moved with one 16-byte load after two 8-byte stores, which the CPU cannot forward
    // (lookup + inc 22 -> 18 ns in the `labelled_lookup_inc` benchmark).
    #[inline(always)]
    pub fn get<S: AsRef<str>>(&self, values: &[S]) -> Result<SeriesRef<'_, M>> {
        self.check_count(values.len())?;
        let held = match self.lookup(values) {
            Some((entry, used)) => Held::Pinned(entry, used),
            None => Held::Owned(self.lookup_or_create(values)),
        };
        Ok(SeriesRef { held })
    }

    /// The usual case of [`Family::get`]: the entry borrowed from this thread's pinned table,
    /// no reference count touched. `None` when it is not there or the pin is busy. (Out of
    /// line: it returns in two registers, and `get` stays small.)
    #[inline(never)]
    fn lookup<S: AsRef<str>>(&self, values: &[S]) -> Option<(Ref<'_, Entry<M>>, PinUse)> {
        let hash = self.hash(values);
        match self.inner.table.load() {
            TableRef::Pinned(pin, used) => {
                let entry = Ref::filter_map(pin, |t| self.find(t, hash, values).map(|e| &**e));
                entry.ok().map(|e| (e, used))
            }
            TableRef::Shared(_) => None,
        }
    }

    /// The entry for `values`, from whichever table this thread can read, or created.
    #[cold]
    #[inline(never)]
    fn lookup_or_create<S: AsRef<str>>(&self, values: &[S]) -> Arc<Entry<M>> {
        let hash = self.hash(values);
        let found = self
            .find(&self.inner.table.load(), hash, values)
            .map(Arc::clone);
        found.unwrap_or_else(|| self.create(hash, values))
    }

    /// Like [`Family::get`], but returns a handle that can be kept and reused.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("g", "G.").labels(&["a"]).build().unwrap();
    /// let s = f.series(&["x"]).unwrap();
    /// s.set(2.0);
    /// ```
    pub fn series<S: AsRef<str>>(&self, values: &[S]) -> Result<Series<M>> {
        self.check_count(values.len())?;
        Ok(Series {
            entry: self.lookup_or_create(values),
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
    pub fn get_by_name(&self, pairs: &[(&str, &str)]) -> Result<SeriesRef<'_, M>> {
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
    fn create<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> Arc<Entry<M>> {
        let mut state = self.lock();
        let table = self.inner.table.load_full();
        if let Some(entry) = self.find(&table, hash, values) {
            // Created by another thread meanwhile.
            return Arc::clone(entry);
        }
        drop(table);
        if self.at_capacity(&state) {
            return self.overflow(state);
        }
        self.insert(&mut state, hash, values)
    }

    fn at_capacity(&self, state: &WriteState<M>) -> bool {
        self.inner.max_series.is_some_and(|max| state.live >= max)
    }

    fn overflow(&self, mut state: MutexGuard<'_, WriteState<M>>) -> Arc<Entry<M>> {
        self.inner.overflowed.fetch_add(1, Ordering::Relaxed);
        let values = vec![OVERFLOW_LABEL_VALUE; self.inner.label_names.len()];
        let hash = self.hash(&values);
        let table = self.inner.table.load_full();
        match self.find(&table, hash, &values) {
            Some(entry) => Arc::clone(entry),
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
    ) -> Arc<Entry<M>> {
        let mut table = self.inner.table.load_full();
        // Keep the load factor at most 7/8 so probe sequences always end and stay short: a
        // probe compares hashes along one contiguous array, so a fuller table costs little
        // time and saves memory (100,000 series fit 131,072 slots, not 262,144).
        if (state.occupied + 1) * 8 > table.capacity() * 7 {
            let live = state.live;
            self.rebuild(state, live + 1);
            table = self.inner.table.load_full();
        }
        let mut labels = String::new();
        render_labels(&mut labels, &self.inner.label_names, values);
        let entry = Arc::new(Entry::new(
            labels.into_boxed_str(),
            plain_shape(values),
            state.order.len(),
            M::build(&self.inner.options),
        ));
        state.order.push(Some(Arc::clone(&entry)));
        state.live += 1;
        state.occupied += 1;
        table.place(hash, &entry);
        entry
    }

    /// Replaces the table with one holding only the live entries, sized for `live` of them
    /// at half load, and compacts the order list. Readers of the old table finish on it;
    /// dead entries are freed when the last of them lets go.
    fn rebuild(&self, state: &mut WriteState<M>, live: usize) {
        let old = self.inner.table.load_full();
        let table = Table::with_capacity(live.saturating_mul(2));
        // The hashes come from the old table (entries do not keep theirs); its live entries
        // are exactly the order list's.
        for (hash, entry) in old.live() {
            table.place(hash, entry);
        }
        state.order.retain(Option::is_some);
        for (position, entry) in state.order.iter().flatten().enumerate() {
            entry.set_index(position);
        }
        state.occupied = state.order.len();
        self.inner.table.store(table);
    }

    /// Removes the series for these label values; returns whether it existed.
    ///
    /// The series stops being exported at once and its memory is reclaimed (a removal is
    /// O(1) amortised; the lookup table is rebuilt when removed series outnumber live ones,
    /// and each thread that looked this family up lets the old table go at its next lookup
    /// here, or when the family is dropped).
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
        let Some(entry) = self.find(&table, hash, values) else {
            return false;
        };
        if let Some(slot) = entry.kill().and_then(|i| state.order.get_mut(i)) {
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

    /// Removes every series and frees their memory, as [`Family::remove`] does (handles kept
    /// from before become detached).
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
            entry.kill();
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
        self.encode_series(enc);
    }
}

impl<M: Metric> Family<M> {
    /// Writes every live series under the family header the caller has just written (the
    /// `metrics` facade bridge writes one header for several families of one name).
    pub(crate) fn encode_series(&self, enc: &mut MetricEncoder<'_>) {
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
