//! Which requests are not recorded at all: exact paths, path prefixes, route templates, an
//! allow-list of route templates, and response statuses. Declared on
//! [`HttpMetricsBuilder`](super::HttpMetricsBuilder), validated once at build, asked by the
//! adapters (path and route, before a request starts) and by the tracker (status, when it
//! ends).
//!
//! Where each decision can be taken decides what an excluded request costs:
//!
//! - path and path prefix: before anything else, from the raw path (no tracker, no series);
//! - route template and allow-list: as soon as the adapter knows the matched route. The
//!   tower layer knows it when the request starts (`Router::layer` runs after routing); the
//!   actix middleware runs before routing and matches the path against the app's routes
//!   first, but only when route rules are configured (see [`HttpMetrics::excludes_by_route`]);
//! - status: only when the response head exists. The request was in flight until then (it
//!   raised and lowers in-flight like any other), but it is neither counted nor timed.

use super::builder::HttpMetrics;
use super::policy::UNMATCHED_ROUTE;
use crate::error::{Error, Result};

/// The exclusion options as given to the builder, checked by [`ExclusionSpec::build`].
#[derive(Debug, Default, Clone)]
pub(super) struct ExclusionSpec {
    pub(super) paths: Vec<String>,
    pub(super) prefixes: Vec<String>,
    pub(super) routes: Vec<String>,
    pub(super) allowed: Vec<String>,
    pub(super) statuses: Vec<u16>,
    pub(super) unmatched_statuses: Vec<u16>,
}

impl ExclusionSpec {
    /// Validates the options (with messages naming the option and the value given) and
    /// builds the matcher.
    pub(super) fn build(self) -> Result<Exclusions> {
        for path in &self.paths {
            check_path("exclude_path", path)?;
        }
        for prefix in &self.prefixes {
            check_path("exclude_path_prefix", prefix)?;
        }
        for route in &self.routes {
            check_route_template("exclude_route", route)?;
        }
        for route in &self.allowed {
            check_route_template("allow_route", route)?;
            if self.routes.contains(route) {
                return Err(Error::InvalidConfig(format!(
                    "allow_route(\"{route}\") and exclude_route(\"{route}\") name the same \
                     route; keep one of them"
                )));
            }
        }
        let mut statuses = StatusSet::default();
        for &status in &self.statuses {
            check_status("exclude_status", status)?;
            statuses.insert(status);
        }
        let mut unmatched_statuses = StatusSet::default();
        for &status in &self.unmatched_statuses {
            check_status("exclude_unmatched_status", status)?;
            unmatched_statuses.insert(status);
        }
        Ok(Exclusions {
            paths: boxed(&self.paths),
            prefixes: boxed(&self.prefixes),
            routes: boxed(&self.routes),
            allowed: (!self.allowed.is_empty()).then(|| boxed(&self.allowed)),
            by_status: !self.statuses.is_empty() || !self.unmatched_statuses.is_empty(),
            statuses,
            unmatched_statuses,
        })
    }
}

fn boxed(items: &[String]) -> Box<[Box<str>]> {
    items.iter().map(|s| s.as_str().into()).collect()
}

/// A path given to `exclude_path` or `exclude_path_prefix`: what a request line's path can
/// start with (RFC 9112 origin-form: `/` first).
fn check_path(option: &str, path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "{option}(\"\"): the path is empty; request paths start with '/' (\"/\" alone \
             matches the root)"
        )));
    }
    if !path.starts_with('/') {
        return Err(Error::InvalidConfig(format!(
            "{option}(\"{path}\"): request paths start with '/', so this never matches; did \
             you mean \"/{path}\"?"
        )));
    }
    Ok(())
}

/// A route template as routers write them (`/users/{id}`, actix's `/files/{tail:.*}`,
/// `/assets/*path`): it starts with `/` and its braces pair up, each pair naming something
/// (a regex inside a parameter may nest braces). [`UNMATCHED_ROUTE`] stands for the
/// requests that matched no route.
pub(super) fn check_route_template(option: &str, template: &str) -> Result<()> {
    if template == UNMATCHED_ROUTE {
        return Ok(());
    }
    let invalid = |why: &str| {
        Err(Error::InvalidConfig(format!(
            "{option}(\"{template}\"): not a route template ({why}); give the template the \
             router matched, e.g. \"/users/{{id}}\", or \"{UNMATCHED_ROUTE}\" for requests \
             that matched none"
        )))
    };
    if template.is_empty() {
        return invalid("it is empty");
    }
    if !template.starts_with('/') {
        return invalid("it does not start with '/'");
    }
    let mut depth = 0usize;
    let mut previous = '\0';
    for c in template.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return invalid("a '}' closes no '{'"),
            '}' if previous == '{' => return invalid("'{}' names no parameter"),
            '}' => depth -= 1,
            _ => {}
        }
        previous = c;
    }
    if depth != 0 {
        return invalid("a '{' is not closed");
    }
    Ok(())
}

fn check_status(option: &str, status: u16) -> Result<()> {
    if (100..=999).contains(&status) {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "{option}({status}): HTTP status codes have three digits (100 to 999, RFC 9110 \
             section 15)"
        )))
    }
}

/// A set of status codes below 1024, one bit each: a lookup is a shift and a mask.
#[derive(Debug, Default, Clone)]
struct StatusSet([u64; 16]);

impl StatusSet {
    fn insert(&mut self, status: u16) {
        if let Some(word) = self.0.get_mut(usize::from(status / 64)) {
            *word |= 1 << (status % 64);
        }
    }

    fn contains(&self, status: u16) -> bool {
        self.0
            .get(usize::from(status / 64))
            .is_some_and(|word| word & (1 << (status % 64)) != 0)
    }
}

/// The built exclusion rules. Lists are scanned linearly: they hold a handful of entries,
/// and an empty list costs one length check.
#[derive(Debug)]
pub(super) struct Exclusions {
    paths: Box<[Box<str>]>,
    prefixes: Box<[Box<str>]>,
    routes: Box<[Box<str>]>,
    /// `Some`: allow-list mode, only these route templates are recorded.
    allowed: Option<Box<[Box<str>]>>,
    by_status: bool,
    statuses: StatusSet,
    unmatched_statuses: StatusSet,
}

impl Exclusions {
    pub(super) fn path(&self, path: &str) -> bool {
        self.paths.iter().any(|p| **p == *path)
            || self.prefixes.iter().any(|p| path.starts_with(&**p))
    }

    pub(super) fn by_route(&self) -> bool {
        !self.routes.is_empty() || self.allowed.is_some()
    }

    /// `None` is a request that matched no route, named [`UNMATCHED_ROUTE`] here as in its
    /// label: excluded when that name is excluded, or in allow-list mode unless allowed.
    pub(super) fn route(&self, route: Option<&str>) -> bool {
        if !self.by_route() {
            return false;
        }
        let name = route.unwrap_or(UNMATCHED_ROUTE);
        if self.routes.iter().any(|r| **r == *name) {
            return true;
        }
        self.allowed
            .as_ref()
            .is_some_and(|allowed| !allowed.iter().any(|r| **r == *name))
    }

    /// Whether a request that ended with `status` is left unrecorded.
    pub(super) fn status(&self, status: u16, unmatched: bool) -> bool {
        self.by_status
            && (self.statuses.contains(status)
                || (unmatched && self.unmatched_statuses.contains(status)))
    }
}

impl HttpMetrics {
    /// Whether requests to `path` are left unrecorded: an exact path of
    /// [`exclude_path`](super::HttpMetricsBuilder::exclude_path) or under a prefix of
    /// [`exclude_path_prefix`](super::HttpMetricsBuilder::exclude_path_prefix). Adapters ask
    /// before anything else, so such a request costs this check only.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new())
    ///     .exclude_path("/metrics")
    ///     .exclude_path_prefix("/static/")
    ///     .build()
    ///     .unwrap();
    /// assert!(metrics.is_excluded("/metrics"));
    /// assert!(!metrics.is_excluded("/metrics/")); // exact match only
    /// assert!(metrics.is_excluded("/static/app.js"));
    /// assert!(!metrics.is_excluded("/static")); // the prefix is "/static/"
    /// ```
    pub fn is_excluded(&self, path: &str) -> bool {
        self.inner.exclusions.path(path)
    }

    /// Whether requests with this matched route template (`None`: no route matched) are left
    /// unrecorded, by [`exclude_route`](super::HttpMetricsBuilder::exclude_route) or outside
    /// the [`allow_route`](super::HttpMetricsBuilder::allow_route) list. Adapters ask before
    /// [`start`](HttpMetrics::start) when they know the route then; the tracker asks again
    /// when a route is given later (through
    /// [`set_route`](super::RequestTracker::set_route)) and then records nothing either.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new())
    ///     .allow_route("/orders/{id}")
    ///     .build()
    ///     .unwrap();
    /// assert!(!metrics.is_route_excluded(Some("/orders/{id}")));
    /// assert!(metrics.is_route_excluded(Some("/health")));
    /// assert!(metrics.is_route_excluded(None)); // unmatched requests are outside the list
    /// ```
    pub fn is_route_excluded(&self, route: Option<&str>) -> bool {
        self.inner.exclusions.route(route)
    }

    /// Whether any exclusion depends on the matched route
    /// ([`exclude_route`](super::HttpMetricsBuilder::exclude_route),
    /// [`allow_route`](super::HttpMetricsBuilder::allow_route)). An adapter that learns the
    /// route only after routing must then find it before the request starts, so that an
    /// excluded request leaves no trace (not even in in-flight); without such rules it need not.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let registry = promenade_core::Registry::new();
    /// let plain = HttpMetrics::builder(&registry).exclude_status(404).build().unwrap();
    /// assert!(!plain.excludes_by_route());
    /// let by_route = HttpMetrics::builder(&promenade_core::Registry::new())
    ///     .exclude_route("/health/{probe}")
    ///     .build()
    ///     .unwrap();
    /// assert!(by_route.excludes_by_route());
    /// ```
    pub fn excludes_by_route(&self) -> bool {
        self.inner.exclusions.by_route()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ExclusionSpec {
        ExclusionSpec::default()
    }

    #[test]
    fn templates_are_checked() {
        for ok in [
            "/",
            "unmatched",
            "/users/{id}",
            "/files/{tail:.*}",
            "/n/{id:\\d{2}}",
            "/a/*rest",
        ] {
            assert!(check_route_template("exclude_route", ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("users/{id}", "does not start"),
            ("/users/{id", "not closed"),
            ("/users/id}", "closes no"),
            ("/users/{}", "names no"),
        ] {
            let err = check_route_template("exclude_route", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains(&format!("exclude_route(\"{bad}\")")), "{err}");
        }
    }

    #[test]
    fn statuses_and_paths_are_checked() {
        let with = |f: fn(&mut ExclusionSpec)| {
            let mut s = spec();
            f(&mut s);
            s.build().map(|_| ()).unwrap_err().to_string()
        };
        assert!(with(|s| s.statuses.push(99)).contains("exclude_status(99)"));
        assert!(with(|s| s.statuses.push(1000)).contains("100 to 999"));
        assert!(with(|s| s.unmatched_statuses.push(0)).contains("exclude_unmatched_status(0)"));
        assert!(with(|s| s.prefixes.push(String::new())).contains("empty"));
        assert!(with(|s| s.prefixes.push("static/".into())).contains("\"/static/\""));
        let both = with(|s| {
            s.routes.push("/a".into());
            s.allowed.push("/a".into());
        });
        assert!(
            both.contains("allow_route(\"/a\") and exclude_route(\"/a\")"),
            "{both}"
        );
        assert!(with(|s| s.paths.push(String::new())).contains("empty"));
        for status in [100, 404, 999] {
            let mut s = spec();
            s.statuses.push(status);
            assert!(s.build().is_ok());
        }
    }

    #[test]
    fn matching() {
        let mut s = spec();
        s.prefixes.push("/static/".into());
        s.routes.push("/health/{probe}".into());
        s.statuses.push(418);
        s.unmatched_statuses.push(404);
        s.paths.push("/metrics".into());
        let e = s.build().unwrap();
        assert!(e.path("/metrics") && !e.path("/metrics2") && !e.path("/"));
        assert!(e.path("/static/") && e.path("/static/a.css") && !e.path("/static"));
        assert!(e.by_route());
        assert!(e.route(Some("/health/{probe}")) && !e.route(Some("/health")) && !e.route(None));
        assert!(e.status(418, false) && e.status(418, true));
        assert!(e.status(404, true) && !e.status(404, false) && !e.status(200, true));

        let mut s = spec();
        s.allowed.push("/a".into());
        s.routes.push("unmatched".into());
        let e = s.build().unwrap();
        assert!(!e.route(Some("/a")) && e.route(Some("/b")) && e.route(None));
        let mut s = spec();
        s.allowed.extend(["/a".into(), UNMATCHED_ROUTE.into()]);
        let e = s.build().unwrap();
        assert!(!e.route(Some("/a")) && e.route(Some("/b")) && !e.route(None));

        let e = spec().build().unwrap();
        assert!(!e.by_route() && !e.route(None) && !e.status(404, true) && !e.path("/"));
    }

    /// The tracker's own checks, for adapters that learn the route late (`set_route`) or
    /// never (`None` at start): nothing recorded, in-flight balanced, no route entry made.
    #[test]
    fn tracker_skips_routes_learned_late() {
        use crate::http_metrics::{HttpMetrics, RequestInfo};
        use crate::{Format, Registry};
        let registry = Registry::new();
        let metrics = HttpMetrics::builder(&registry)
            .allow_route("/a")
            .build()
            .unwrap();
        let headers = http::HeaderMap::new();
        let start = |path| {
            metrics.start(&RequestInfo {
                method: "GET",
                route: None,
                path,
                headers: &headers,
            })
        };
        let mut late_excluded = start("/b");
        late_excluded.set_route(Some("/b"));
        late_excluded.response_head(200);
        let mut never_routed = start("/x");
        never_routed.response_head(404);
        let mut allowed = start("/a");
        allowed.set_route(Some("/a"));
        allowed.response_head(200);
        drop((late_excluded, never_routed, allowed));
        let text = registry.encode_to_string(Format::Text).unwrap();
        assert!(
            text.contains("http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("/b") && !text.contains("unmatched"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_in_flight{method=\"GET\"} 0\n"),
            "{text}"
        );

        // With in-flight by route the route entries are exposed: `set_route` must not
        // create one for an excluded route.
        let registry = Registry::new();
        let metrics = HttpMetrics::builder(&registry)
            .exclude_route("/b")
            .in_flight_by_route(true)
            .build()
            .unwrap();
        let mut tracker = metrics.start(&RequestInfo {
            method: "GET",
            route: Some("/a"),
            path: "/b",
            headers: &headers,
        });
        tracker.set_route(Some("/b"));
        tracker.response_head(200);
        drop(tracker);
        let text = registry.encode_to_string(Format::Text).unwrap();
        assert!(
            !text.contains("/b") && !text.contains("http_requests_total{"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_in_flight{method=\"GET\",route=\"/a\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn status_set_edges() {
        let mut set = StatusSet::default();
        for s in [0, 63, 64, 999, 1023] {
            set.insert(s);
        }
        set.insert(1024); // out of range: ignored, never a panic
        for s in [0, 63, 64, 999, 1023] {
            assert!(set.contains(s), "{s}");
        }
        assert!(!set.contains(1) && !set.contains(1024) && !set.contains(u16::MAX));
    }
}
