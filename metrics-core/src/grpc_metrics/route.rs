//! Where a call's counts go ([`Target`]): the series of a registered or discovered method,
//! known when the call starts, or, for a server call to a path not discovered yet, a
//! [`Deferred`] target whose counts wait until the response head shows whether the server
//! routes the path. Waiting keeps paths a server does not serve (scanners, typos) from
//! taking one of the [`MAX_DISCOVERED_METHODS`](super::MAX_DISCOVERED_METHODS) slots.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::builder::Side;
use super::series::{Families, MethodSeries, MethodTable};
use super::wire::split_method;

/// Where a call's counts go: series known when it started, or decided later.
#[derive(Clone)]
pub(super) enum Target {
    Known(Arc<MethodSeries>),
    Deferred(Arc<Deferred>),
}

impl Target {
    /// Where a call to `path` is recorded: a registered or discovered method; a method
    /// discovered now (client side: its own code chose the path); on the server, a deferred
    /// target for a well-formed path not seen yet; else the `unknown` set.
    #[inline]
    pub(super) fn for_path(table: &Arc<MethodTable>, path: &str) -> Self {
        if let Some(m) = table.known(path) {
            return Self::Known(m);
        }
        match (&table.discovery, table.side) {
            (Some(_), Side::Client) => Self::Known(table.discover(path)),
            // Only a well-formed path with room left can ever get labels of its own.
            (Some(d), Side::Server) if d.has_room() && split_method(path).is_some() => {
                Self::Deferred(Arc::new(Deferred {
                    table: Arc::clone(table),
                    path: path.into(),
                    resolved: OnceLock::new(),
                    received: AtomicU64::new(0),
                    sent: AtomicU64::new(0),
                }))
            }
            _ => Self::Known(Arc::clone(&table.unknown)),
        }
    }

    #[inline]
    pub(super) fn add_msgs(&self, received: bool, n: u64) {
        match self {
            Target::Known(m) => m.add_msgs(received, n),
            Target::Deferred(d) => d.add_msgs(received, n),
        }
    }

    /// Whether messages in this direction are timed (the client's per-message histograms
    /// are on and apply to the method).
    #[inline]
    pub(super) fn times_msgs(&self, received: bool) -> bool {
        self.series()
            .is_some_and(|m| m.msg_histogram(received).is_some())
    }

    /// Observes one message's latency in this direction; nothing when not timed.
    pub(super) fn observe_msg_seconds(&self, received: bool, seconds: f64) {
        if let Some(h) = self.series().and_then(|m| m.msg_histogram(received)) {
            h.observe(seconds);
        }
    }

    /// The series the call is recorded on, `None` while deferred.
    pub(super) fn series(&self) -> Option<&Arc<MethodSeries>> {
        match self {
            Target::Known(m) => Some(m),
            Target::Deferred(d) => d.resolved.get(),
        }
    }

    /// Whether the series is still undecided (a deferred target not resolved yet).
    pub(super) fn is_pending(&self) -> bool {
        matches!(self, Target::Deferred(d) if d.resolved.get().is_none())
    }

    /// The families and labels from the application, which every series of one
    /// [`GrpcMetrics`](super::GrpcMetrics) shares, decided or not.
    pub(super) fn families(&self) -> &Families {
        match self {
            Target::Known(m) => &m.families,
            Target::Deferred(d) => &d.table.unknown.families,
        }
    }
}

/// A server call to a path not discovered yet: its message counts wait here until the
/// response head shows whether the path is routed (then they move to the path's own series
/// or to `unknown`). Body wrappers count from other tasks, hence atomics.
pub(super) struct Deferred {
    table: Arc<MethodTable>,
    path: Box<str>,
    resolved: OnceLock<Arc<MethodSeries>>,
    received: AtomicU64,
    sent: AtomicU64,
}

impl Deferred {
    /// Decides the series once (later calls return the first decision) and moves the waiting
    /// messages there; also returns whether it was decided now, when the caller counts
    /// `started` (with its call's labels from the application).
    pub(super) fn resolve(&self, routed: bool) -> (&Arc<MethodSeries>, bool) {
        let mut decided_now = false;
        let series = self.resolved.get_or_init(|| {
            decided_now = true;
            if routed {
                self.table.discover(&self.path)
            } else {
                Arc::clone(&self.table.unknown)
            }
        });
        if decided_now {
            series.add_msgs(true, self.received.swap(0, Ordering::AcqRel));
            series.add_msgs(false, self.sent.swap(0, Ordering::AcqRel));
        }
        (series, decided_now)
    }

    fn add_msgs(&self, received: bool, n: u64) {
        if n == 0 {
            return;
        }
        if let Some(series) = self.resolved.get() {
            series.add_msgs(received, n);
            return;
        }
        let waiting = if received { &self.received } else { &self.sent };
        waiting.fetch_add(n, Ordering::AcqRel);
        // Decided meanwhile: the decider's swap may have come before this add, so take what
        // waits again (each unit is swapped out exactly once, by it or by us).
        if let Some(series) = self.resolved.get() {
            series.add_msgs(received, waiting.swap(0, Ordering::AcqRel));
        }
    }
}
