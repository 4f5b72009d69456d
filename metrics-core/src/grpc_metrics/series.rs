//! Series storage: the five families of one side (with the labels from the application
//! they carry), and per registered or discovered method
//! (plus one set for every other path) the cells holding that method's series. A cell is
//! filled on first use and then kept, so recording a call never hashes or looks up a label
//! set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arc_swap::ArcSwap;

use super::builder::{GrpcType, Side};
use super::code::GrpcCode;
use super::wire::{UNKNOWN, split_method};
use crate::app_labels::{AppLabels, AppValues, with_values};
use crate::clock::Instant;
use crate::family::{Family, Series};
use crate::metric::{Counter, Histogram};
use crate::trace::{TraceId, observe_with_trace};

/// One series cell: `None` when the family refused the series, kept like a success so that a
/// refused label set is not tried again on every call.
pub(super) type Lazy<M> = OnceLock<Option<Series<M>>>;

/// The series of one method, created on first use (or up front with
/// [`GrpcMetricsBuilder::initialize`](super::GrpcMetricsBuilder::initialize)) and kept, so a
/// call never looks a label set up.
pub(super) struct MethodSeries {
    pub(super) families: Arc<Families>,
    /// `None`: the streaming kind is not known (discovered methods, the `unknown` set).
    pub(super) grpc_type: Option<GrpcType>,
    pub(super) service: Box<str>,
    pub(super) method: Box<str>,
    pub(super) started: Lazy<Counter>,
    pub(super) received: Lazy<Counter>,
    pub(super) sent: Lazy<Counter>,
    pub(super) handling: Lazy<Histogram>,
    /// The client's per-message histograms (received, sent), when on.
    pub(super) msg_recv: Lazy<Histogram>,
    pub(super) msg_send: Lazy<Histogram>,
    /// The histogram per code, when it carries `grpc_code`; indexed by the code's wire number.
    pub(super) handling_by_code: [Lazy<Histogram>; GrpcCode::ALL.len()],
    /// `handled` per code, indexed by the code's wire number.
    pub(super) handled: [Lazy<Counter>; GrpcCode::ALL.len()],
}

impl MethodSeries {
    pub(super) fn new(
        families: &Arc<Families>,
        grpc_type: Option<GrpcType>,
        service: &str,
        method: &str,
    ) -> Self {
        Self {
            families: Arc::clone(families),
            grpc_type,
            service: service.into(),
            method: method.into(),
            started: OnceLock::new(),
            received: OnceLock::new(),
            sent: OnceLock::new(),
            handling: OnceLock::new(),
            msg_recv: OnceLock::new(),
            msg_send: OnceLock::new(),
            handling_by_code: std::array::from_fn(|_| OnceLock::new()),
            handled: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    pub(super) fn labels(&self) -> [&str; 3] {
        [
            self.grpc_type.map_or(UNKNOWN, GrpcType::as_str),
            &self.service,
            &self.method,
        ]
    }

    #[inline]
    pub(super) fn counter<'a>(
        &self,
        cell: &'a Lazy<Counter>,
        family: &Family<Counter>,
    ) -> Option<&'a Counter> {
        cell.get_or_init(|| family.series(&self.labels()).ok())
            .as_deref()
    }

    #[inline]
    pub(super) fn started(&self) -> Option<&Counter> {
        self.counter(&self.started, &self.families.started)
    }

    #[inline]
    pub(super) fn add_msgs(&self, received: bool, n: u64) {
        if n == 0 {
            return;
        }
        let c = if received {
            self.counter(&self.received, &self.families.received)
        } else {
            self.counter(&self.sent, &self.families.sent)
        };
        if let Some(c) = c {
            c.inc_by_u64(n);
        }
    }

    /// The handling-seconds series a call that ended with `code` observes: the method's one
    /// histogram, or its histogram for `code` when the family carries `grpc_code`.
    #[inline]
    pub(super) fn handling(&self, code: GrpcCode) -> Option<&Histogram> {
        let h = self.families.handling.as_ref()?;
        if self.families.handling_by_code {
            let cell = self.handling_by_code.get(usize::from(code.as_u8()))?;
            cell.get_or_init(|| {
                let [t, s, m] = self.labels();
                h.series(&[t, s, m, code.as_str()]).ok()
            })
            .as_deref()
        } else {
            self.handling
                .get_or_init(|| h.series(&self.labels()).ok())
                .as_deref()
        }
    }

    /// The per-message histogram of one direction, when turned on and the method may stream
    /// (registered unary methods have none, as in Go, whose stream interceptor times them).
    #[inline]
    pub(super) fn msg_histogram(&self, received: bool) -> Option<&Histogram> {
        if self.grpc_type == Some(GrpcType::Unary) {
            return None;
        }
        let (family, cell) = if received {
            (self.families.msg_recv.as_ref()?, &self.msg_recv)
        } else {
            (self.families.msg_send.as_ref()?, &self.msg_send)
        };
        cell.get_or_init(|| family.series(&self.labels()).ok())
            .as_deref()
    }

    /// Counts a started call: on the method's own series, or, with labels from the
    /// application (`app` is `Some` exactly then), on the series of the call's request
    /// values, looked up per call as the values vary.
    #[inline]
    pub(super) fn count_started(&self, app: Option<&AppValues>) {
        let f = &self.families;
        match app {
            None => {
                if let Some(c) = self.started() {
                    c.inc();
                }
            }
            Some(values) => with_values(&self.labels(), &f.app, values, f.app_request, |v| {
                if let Ok(c) = f.started.get(v) {
                    c.inc();
                }
            }),
        }
    }

    /// Counts the end of a call (`handled`, and the histogram when it is on).
    #[inline]
    pub(super) fn count_end(
        &self,
        code: GrpcCode,
        app: Option<&AppValues>,
        start: Instant,
        trace_id: Option<&TraceId>,
    ) {
        let Some(values) = app else {
            if let Some(c) = self.handled(code) {
                c.inc();
            }
            if let Some(h) = self.handling(code) {
                observe_with_trace(h, start.elapsed_seconds(), trace_id);
            }
            return;
        };
        let f = &self.families;
        let [t, s, m] = self.labels();
        let with_code = [t, s, m, code.as_str()];
        let all = f.app.len();
        with_values(&with_code, &f.app, values, all, |v| {
            if let Ok(c) = f.handled.get(v) {
                c.inc();
            }
        });
        if let Some(h) = &f.handling {
            let base = if f.handling_by_code {
                &with_code[..]
            } else {
                &with_code[..3]
            };
            with_values(base, &f.app, values, all, |v| {
                if let Ok(h) = h.get(v) {
                    observe_with_trace(&h, start.elapsed_seconds(), trace_id);
                }
            });
        }
    }

    #[inline]
    pub(super) fn handled(&self, code: GrpcCode) -> Option<&Counter> {
        let cell = self.handled.get(usize::from(code.as_u8()))?;
        cell.get_or_init(|| {
            let [t, s, m] = self.labels();
            self.families.handled.series(&[t, s, m, code.as_str()]).ok()
        })
        .as_deref()
    }
}

/// The five families of one side, shared by every method's series.
pub(super) struct Families {
    pub(super) started: Family<Counter>,
    pub(super) handled: Family<Counter>,
    pub(super) received: Family<Counter>,
    pub(super) sent: Family<Counter>,
    pub(super) handling: Option<Family<Histogram>>,
    /// Whether `handling` carries `grpc_code` (an opt-in outside the Go middleware's names).
    pub(super) handling_by_code: bool,
    /// The client's per-message histograms (`client_msg_histograms`).
    pub(super) msg_recv: Option<Family<Histogram>>,
    pub(super) msg_send: Option<Family<Histogram>>,
    /// Labels from the application, request labels first; empty when none is declared.
    pub(super) app: AppLabels,
    /// How many of them are request labels (those `started` carries).
    pub(super) app_request: usize,
}

/// Method paths by full path, with the hasher every table here uses.
pub(super) type MethodMap = HashMap<Box<str>, Arc<MethodSeries>, foldhash::fast::RandomState>;

/// What a [`GrpcMetrics`](super::GrpcMetrics) handle shares: the registered methods by full
/// path, the methods discovered from traffic (when none is registered), and the one series
/// set that every other path falls into.
pub(super) struct MethodTable {
    pub(super) side: Side,
    pub(super) methods: MethodMap,
    /// `None` when methods are registered or discovery was turned off.
    pub(super) discovery: Option<Discovery>,
    pub(super) unknown: Arc<MethodSeries>,
}

impl MethodTable {
    /// The series of a registered or already discovered path.
    #[inline]
    pub(super) fn known(&self, path: &str) -> Option<Arc<MethodSeries>> {
        if let Some(m) = self.methods.get(path) {
            return Some(Arc::clone(m));
        }
        self.discovery.as_ref()?.get(path)
    }

    /// The series of `path`, discovering it if it is well formed and there is room;
    /// otherwise the `unknown` set.
    pub(super) fn discover(&self, path: &str) -> Arc<MethodSeries> {
        match &self.discovery {
            Some(d) => d
                .insert(path, &self.unknown.families)
                .unwrap_or_else(|| Arc::clone(&self.unknown)),
            None => self
                .methods
                .get(path)
                .map_or_else(|| Arc::clone(&self.unknown), Arc::clone),
        }
    }
}

/// The methods discovered from traffic: read on every call without a lock (one `ArcSwap`
/// load and a hash lookup), written copy-on-write under a mutex that only writers take,
/// at most [`MAX_DISCOVERED_METHODS`](super::MAX_DISCOVERED_METHODS) times per table, so
/// copying stays bounded too.
pub(super) struct Discovery {
    map: ArcSwap<MethodMap>,
    writer: Mutex<()>,
    limit: usize,
}

impl Discovery {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            map: ArcSwap::from_pointee(MethodMap::default()),
            writer: Mutex::new(()),
            limit,
        }
    }

    #[inline]
    pub(super) fn get(&self, path: &str) -> Option<Arc<MethodSeries>> {
        self.map.load().get(path).map(Arc::clone)
    }

    /// Whether another method may still be discovered (a hint: `insert` checks again).
    #[inline]
    pub(super) fn has_room(&self) -> bool {
        self.map.load().len() < self.limit
    }

    pub(super) fn len(&self) -> usize {
        self.map.load().len()
    }

    /// The series of `path`, added if absent; `None` when the path is malformed or the
    /// table is full.
    fn insert(&self, path: &str, families: &Arc<Families>) -> Option<Arc<MethodSeries>> {
        if let Some(m) = self.get(path) {
            return Some(m);
        }
        let (service, method) = split_method(path)?;
        if !self.has_room() {
            return None;
        }
        // A poisoned lock guards no broken state here (the map is swapped in whole).
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        if let Some(m) = current.get(path) {
            return Some(Arc::clone(m));
        }
        if current.len() >= self.limit {
            return None;
        }
        let series = Arc::new(MethodSeries::new(families, None, service, method));
        let mut next = MethodMap::clone(&current);
        next.insert(path.into(), Arc::clone(&series));
        self.map.store(Arc::new(next));
        Some(series)
    }
}
