//! A per-thread memory of the route entries a thread used last, in front of the family
//! lookup of `(method, route)`.
//!
//! Why: every request looks its route entry up by the route's text (tower at start, actix
//! after routing). Through the family that is a hash of both label values, a probe and an
//! exact comparison against the rendered labels — about 600 instructions, a quarter of what
//! the actix middleware costs per request. A server has a handful of routes and each worker
//! thread serves them all, so a small direct-mapped table per thread answers almost every
//! request with one hash of the route, one string comparison and no atomic read-modify-write
//! beyond the `Arc` clone the caller needs anyway.
//!
//! The memory is exact, never a guess: a slot answers only for the same `HttpMetrics`
//! (compared by identity, kept alive by a `Weak` so its address cannot be reused), the same
//! method and the same route text. HTTP route entries are never removed from their family,
//! so a remembered entry stays the one the family would return. A slot holds one entry alive
//! per slot and thread: at most [`SLOTS`] per thread.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::{Arc, Weak};

use super::builder::Inner;
use super::series::RouteEntry;
use crate::family::Series;

/// Slots per thread (a power of two).
const SLOTS: usize = 64;

struct Slot {
    owner: Weak<Inner>,
    method: usize,
    /// Reused when the slot is taken over, so that routes taking turns in one slot stop
    /// allocating once it holds the longest of them.
    route: String,
    entry: Option<Series<RouteEntry>>,
}

impl Slot {
    const EMPTY: Self = Self {
        owner: Weak::new(),
        method: 0,
        route: String::new(),
        entry: None,
    };
}

thread_local! {
    static SLOTS_OF_THREAD: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// The route entry of `(method, route)` in `inner`: remembered by this thread, else found
/// with `lookup` (the family lookup) and remembered.
#[inline]
pub(super) fn route_entry(
    inner: &Arc<Inner>,
    method: usize,
    route: &str,
    lookup: impl FnOnce() -> Option<Series<RouteEntry>>,
) -> Option<Series<RouteEntry>> {
    // A fixed hasher: the slot index only spreads routes, it guards nothing (the slot is
    // compared in full), so it needs no per-process seed.
    let hash = foldhash::fast::FixedState::with_seed(0).hash_one((method, route));
    let index = (hash as usize) & (SLOTS - 1);
    let mut lookup = Some(lookup);
    let cached = SLOTS_OF_THREAD.try_with(|cell| {
        let Ok(mut slots) = cell.try_borrow_mut() else {
            return None;
        };
        if slots.is_empty() {
            slots.resize_with(SLOTS, || Slot::EMPTY);
        }
        let slot = slots.get_mut(index)?;
        if let Some(entry) = &slot.entry
            && slot.method == method
            && Weak::as_ptr(&slot.owner) == Arc::as_ptr(inner)
            && slot.route == route
        {
            return Some(Some(entry.clone()));
        }
        let found = lookup.take().and_then(|f| f());
        if let Some(entry) = &found {
            slot.owner = Arc::downgrade(inner);
            slot.method = method;
            slot.route.clear();
            slot.route.push_str(route);
            slot.entry = Some(entry.clone());
        }
        Some(found)
    });
    match cached {
        Ok(Some(found)) => found,
        // The thread's memory is gone (thread exiting) or busy: ask the family.
        _ => lookup.and_then(|f| f()),
    }
}

#[cfg(test)]
mod tests {
    use crate::http_metrics::{HttpMetrics, RequestInfo};
    use crate::{Format, Registry};

    fn request(metrics: &HttpMetrics, method: &str, route: &str, status: u16) {
        let headers = http::HeaderMap::new();
        let mut tracker = metrics.start(&RequestInfo {
            method,
            route: None,
            path: route,
            headers: &headers,
        });
        tracker.set_route(Some(route));
        tracker.response_head(status);
    }

    /// Two configurations in one thread, the same routes and methods in both, more routes
    /// than slots: every request lands in its own configuration's series, never in one a
    /// slot remembered for another.
    #[test]
    fn remembered_routes_never_cross_configurations_methods_or_routes() {
        let (ra, rb) = (Registry::new(), Registry::new());
        let a = HttpMetrics::builder(&ra).build().unwrap();
        let b = HttpMetrics::builder(&rb).build().unwrap();
        for round in 0..3 {
            for i in 0..200 {
                let route = format!("/r{i}");
                request(&a, "GET", &route, 200);
                request(&b, "POST", &route, 201);
                if i % 2 == 0 {
                    request(&a, "POST", &route, 202);
                }
            }
            // A configuration dropped and a new one made (it may get the same address).
            let registry = Registry::new();
            let c = HttpMetrics::builder(&registry).build().unwrap();
            request(&c, "GET", "/r0", 200);
            let text = registry.encode_to_string(Format::Text).unwrap();
            assert!(
                text.contains(
                    "http_requests_total{method=\"GET\",route=\"/r0\",status=\"200\"} 1\n"
                ),
                "round {round}: {text}"
            );
        }
        // Every method on each route, one after the other: with more (method, route) pairs
        // than slots, methods of one route share slots.
        let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
        for i in 0..500 {
            for method in methods {
                request(&b, method, &format!("/m{i}"), 200);
            }
        }
        let tb = rb.encode_to_string(Format::Text).unwrap();
        for i in 0..500 {
            for method in methods {
                let line = format!(
                    "http_requests_total{{method=\"{method}\",route=\"/m{i}\",status=\"200\"}} 1\n"
                );
                assert!(tb.contains(&line), "{line}");
            }
        }
        let ta = ra.encode_to_string(Format::Text).unwrap();
        let tb = rb.encode_to_string(Format::Text).unwrap();
        for i in 0..200 {
            let get =
                format!("http_requests_total{{method=\"GET\",route=\"/r{i}\",status=\"200\"}} 3\n");
            let post_a = format!(
                "http_requests_total{{method=\"POST\",route=\"/r{i}\",status=\"202\"}} 3\n"
            );
            let post_b = format!(
                "http_requests_total{{method=\"POST\",route=\"/r{i}\",status=\"201\"}} 3\n"
            );
            assert!(ta.contains(&get), "{get}");
            assert_eq!(ta.contains(&post_a), i % 2 == 0, "{post_a}");
            assert!(tb.contains(&post_b), "{post_b}");
            assert!(!tb.contains(&get), "{get}");
        }
    }
}
