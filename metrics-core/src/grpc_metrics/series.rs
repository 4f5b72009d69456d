//! Series storage: the five families of one side, and per registered method (plus one set
//! for every unregistered path) the cells holding that method's series. A cell is filled on
//! first use and then kept, so recording a call never hashes or looks up a label set.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::builder::{GrpcType, Side};
use super::code::GrpcCode;
use crate::family::{Family, Series};
use crate::metric::{Counter, Histogram};

/// One series cell: `None` when the family refused the series, kept like a success so that a
/// refused label set is not tried again on every call.
pub(super) type Lazy<M> = OnceLock<Option<Series<M>>>;

/// The series of one method, created on first use (or up front with
/// [`GrpcMetricsBuilder::initialize`](super::GrpcMetricsBuilder::initialize)) and kept, so a
/// call never looks a label set up.
pub(super) struct MethodSeries {
    pub(super) families: Arc<Families>,
    pub(super) grpc_type: GrpcType,
    pub(super) service: Box<str>,
    pub(super) method: Box<str>,
    pub(super) started: Lazy<Counter>,
    pub(super) received: Lazy<Counter>,
    pub(super) sent: Lazy<Counter>,
    pub(super) handling: Lazy<Histogram>,
    /// `handled` per code, indexed by the code's wire number.
    pub(super) handled: [Lazy<Counter>; GrpcCode::ALL.len()],
}

impl MethodSeries {
    pub(super) fn new(
        families: &Arc<Families>,
        grpc_type: GrpcType,
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
            handled: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    pub(super) fn labels(&self) -> [&str; 3] {
        [self.grpc_type.as_str(), &self.service, &self.method]
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

    #[inline]
    pub(super) fn handling(&self) -> Option<&Histogram> {
        let h = self.families.handling.as_ref()?;
        self.handling
            .get_or_init(|| h.series(&self.labels()).ok())
            .as_deref()
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
}

/// What a [`GrpcMetrics`](super::GrpcMetrics) handle shares: the registered methods by full
/// path, and the one series set that every other path falls into.
pub(super) struct MethodTable {
    pub(super) side: Side,
    pub(super) methods: HashMap<Box<str>, Arc<MethodSeries>, foldhash::fast::RandomState>,
    pub(super) unknown: Arc<MethodSeries>,
}
