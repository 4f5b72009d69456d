//! Handles to one series: [`Series`] (kept) and [`SeriesRef`] (short-lived, from
//! [`Family::get`](super::Family::get)(super::Family::get)).

use std::fmt;
use std::ops::Deref;

use std::cell::Ref;
use std::sync::Arc;

use super::current::PinUse;
use super::table::Entry;
use crate::labels::rendered_label_value;

/// A kept handle to one series of a family; dereferences to the metric.
///
/// A handle keeps its series' memory alive. If the series is removed from its family
/// ([`Family::remove`](super::Family::remove), [`Family::clear`](super::Family::clear)), the handle keeps working but is detached: what it
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
    pub(super) entry: Arc<Entry<M>>,
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

/// A series found by [`Family::get`](super::Family::get), for immediate use; dereferences to the metric.
///
/// It borrows the family and the lookup table this thread reads (a removed series' memory
/// is freed only after the last such reference is gone), so use it and let it go; keep a
/// [`Series`] (from [`Family::series`](super::Family::series)) instead when the series is
/// needed for long or on another thread (a `SeriesRef` stays on the thread that looked it up:
/// it is not `Send`). While one is held, this thread cannot move its pin to a replaced table
/// (after the family grew or was rebuilt), so its lookups in this family take a slower path
/// (an atomic reference count per lookup) until the last one is let go.
///
/// ```
/// let f = promenade_core::Family::<promenade_core::Counter>::builder("c", "C.").labels(&["a"]).build().unwrap();
/// let c = f.get(&["x"]).unwrap();
/// c.inc();
/// assert_eq!(c.get(), 1.0);
/// ```
pub struct SeriesRef<'a, M> {
    pub(super) held: Held<'a, M>,
}

/// How a [`SeriesRef`] keeps its entry alive: borrowed from this thread's pinned table (no
/// reference count touched), or owned (after a creation, or when the pin was busy).
pub(super) enum Held<'a, M> {
    Pinned(Ref<'a, Entry<M>>, PinUse),
    Owned(Arc<Entry<M>>),
}

impl<M> SeriesRef<'_, M> {
    #[inline]
    fn entry(&self) -> &Entry<M> {
        match &self.held {
            Held::Pinned(entry, _) => entry,
            Held::Owned(entry) => entry,
        }
    }
}

impl<M> Deref for SeriesRef<'_, M> {
    type Target = M;
    #[inline]
    fn deref(&self) -> &M {
        &self.entry().metric
    }
}

impl<M: fmt::Debug> fmt::Debug for SeriesRef<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entry = self.entry();
        f.debug_struct("SeriesRef")
            .field("labels", &entry.labels)
            .field("metric", &entry.metric)
            .finish()
    }
}
