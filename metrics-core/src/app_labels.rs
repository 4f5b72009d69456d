//! Labels from the application: values an adapter reads from a request's or a response's
//! headers (HTTP headers, gRPC metadata) and extensions (an auth layer's tenant, a
//! handler's business outcome), each bounded by a declared list of values or by the series
//! cap. Shared by [`http_metrics`](crate::http_metrics) and
//! [`grpc_metrics`](crate::grpc_metrics), which sit above this module and re-export its
//! public items: [`HeaderLookup`], [`ExtensionsRef`], [`LabelValues`].
//!
//! Why the core names actix-web's type map is told on [`ExtensionsRef`].
//!
//! # When values are read
//!
//! Request labels are read when the request reaches the metrics layer (the same moment in
//! every adapter); response labels when the response head is known (status, headers,
//! extensions), so they label the series recorded at the end (HTTP: `http_requests_total`,
//! the duration and size histograms; gRPC: `handled_total` and `handling_seconds`) but
//! never those counted before any response exists (HTTP in-flight, gRPC `started_total`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::name::check_label_name;

/// Case-sensitive header lookup, so the core does not depend on one framework's header map.
///
/// ```
/// use promenade_core::http_metrics::{HeaderLookup, HttpMetrics, RequestInfo};
/// use promenade_core::{Format, Registry};
///
/// /// Headers as some other framework hands them over.
/// struct PairHeaders(Vec<(String, String)>);
/// impl HeaderLookup for PairHeaders {
///     fn header(&self, name: &str) -> Option<&str> {
///         self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
///     }
/// }
///
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = PairHeaders(vec![(
///     "traceparent".into(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
/// )]);
/// assert_eq!(headers.header("traceparent").map(str::len), Some(55));
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
/// tracker.response_head(200);
/// drop(tracker);
/// // A sampled trace becomes an exemplar on the duration histogram (OpenMetrics).
/// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"}"));
/// ```
pub trait HeaderLookup {
    /// The first value of header `name` (lowercase), if present and valid UTF-8.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderLookup for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request's or a response's extensions (type map), as an adapter hands them over.
///
/// `http::Extensions` is what tower, axum, hyper and tonic use; `actix_http::Extensions`
/// (feature `actix`, enabled by `promenade-actix`) is actix-web's.
///
/// # Why the core names both map types
///
/// Extensions are type maps with only a generic `get::<T>()`: tower, axum, hyper and tonic
/// use [`http::Extensions`]; actix-web uses `actix_http::Extensions`, a different type
/// (and `!Send`). A declaration such as
/// `.request_extension_label::<Tenant, _>("tenant", values, |t| t.tier())` knows `T`; an
/// adapter knows its map type; neither map can be searched by a runtime type id. Some
/// code must therefore be compiled for both `T` and the map type at once, and the only place
/// that sees every `T` is the declaration in the core builder. So the core names the map
/// types: this enum is `http::Extensions` always, and `actix_http::Extensions`
/// behind the core's `actix` feature, which `promenade-actix` enables (with
/// `actix-http`'s default features off: only its type map is used, and actix users already
/// build that crate). The declaration compiles one small function that reads `T` from
/// either map; adapters hand over a reference to their map and learn nothing else.
///
/// The alternatives were worse: a declaration per adapter (against "every option is declared
/// once, in the core builders"); a user-written trait impl per map type (boilerplate that
/// each user gets to write wrongly); copying the value into a second, Promenade-owned map
/// (an extra step in every application, and an allocation per request).
///
/// ```
/// use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
/// use promenade_core::{Format, Registry};
///
/// #[derive(Clone)]
/// struct Tenant { tier: &'static str }
///
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry)
///     .request_extension_label("tier", LabelValues::one_of(&["free", "pro"], "other"), |t: &Tenant| t.tier)
///     .build()
///     .unwrap();
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(Tenant { tier: "pro" });
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: request.headers() });
/// tracker.request_extensions(ExtensionsRef::from(request.extensions()));
/// tracker.response_head(200);
/// drop(tracker);
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",tier="pro"} 1"#));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum ExtensionsRef<'a> {
    /// The `http` crate's map (tower, axum, hyper, tonic).
    Http(&'a http::Extensions),
    /// actix-web's map (request or response extensions).
    #[cfg(feature = "actix")]
    #[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
    Actix(&'a actix_http::Extensions),
}

impl fmt::Debug for ExtensionsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(_) => f.write_str("ExtensionsRef::Http"),
            #[cfg(feature = "actix")]
            Self::Actix(_) => f.write_str("ExtensionsRef::Actix"),
        }
    }
}

impl<'a> From<&'a http::Extensions> for ExtensionsRef<'a> {
    fn from(map: &'a http::Extensions) -> Self {
        Self::Http(map)
    }
}

#[cfg(feature = "actix")]
impl<'a> From<&'a actix_http::Extensions> for ExtensionsRef<'a> {
    fn from(map: &'a actix_http::Extensions) -> Self {
        Self::Actix(map)
    }
}

/// The values a label taken from the application may have: the bound that keeps one
/// misbehaving client or tenant from creating unbounded series.
///
/// - [`LabelValues::one_of`]: a declared list; anything else becomes one fixed value. A
///   request costs no allocation: the value is an index into the list.
/// - [`LabelValues::any`]: any value, bounded by the family's series cap
///   (`max_series` ([HTTP](crate::http_metrics::HttpMetricsBuilder::max_series), [gRPC](crate::grpc_metrics::GrpcMetricsBuilder::max_series))); past it, requests go to the
///   overflow series. Each request copies its value (one small allocation).
///
/// A label whose header or extension is absent takes the `absent` value: for `one_of` the
/// fallback unless [`LabelValues::when_absent`] says otherwise.
///
/// ```
/// use promenade_core::http_metrics::LabelValues;
/// let tiers = LabelValues::one_of(&["free", "pro", "enterprise"], "other").when_absent("anonymous");
/// let outcome = LabelValues::any("none");
/// # drop((tiers, outcome));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LabelValues {
    /// `Some`: the declared list; `None`: any value.
    allowed: Option<Vec<Box<str>>>,
    /// What a value outside the list becomes.
    other: Box<str>,
    /// What an absent header or extension becomes.
    absent: Option<Box<str>>,
}

impl fmt::Debug for LabelValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabelValues")
            .field("allowed", &self.allowed)
            .field("other", &self.other)
            .field("absent", &self.absent)
            .finish()
    }
}

impl LabelValues {
    /// Only `values`; anything else becomes `other` (and so does an absent value, unless
    /// [`when_absent`](Self::when_absent) is given). An empty list is refused when the
    /// metrics are built.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("region", "x-region", LabelValues::one_of(&["eu", "us"], "other"))
    ///     .build()
    ///     .unwrap();
    /// for region in ["eu", "mars", "us", "venus"] {
    ///     let mut headers = http::HeaderMap::new();
    ///     headers.insert("x-region", region.parse().unwrap());
    ///     let mut t = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    ///     t.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",region="eu"} 1"#));
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",region="other"} 2"#));
    /// ```
    pub fn one_of<S: AsRef<str>>(values: &[S], other: &str) -> Self {
        Self {
            allowed: Some(values.iter().map(|v| v.as_ref().into()).collect()),
            other: other.into(),
            absent: None,
        }
    }

    /// Any value, bounded only by the series cap
    /// (`max_series` ([HTTP](crate::http_metrics::HttpMetricsBuilder::max_series), [gRPC](crate::grpc_metrics::GrpcMetricsBuilder::max_series)), whose overflow series takes
    /// the rest); an absent header or extension becomes `absent`. Prefer
    /// [`one_of`](Self::one_of) when the values are known: the cap is shared by every route
    /// and status, so a label that fills it pushes ordinary requests into the overflow series.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("client", "x-client", LabelValues::any("unknown"))
    ///     .max_series(2)
    ///     .build()
    ///     .unwrap();
    /// for client in ["app", "web", "cli", "bot"] {
    ///     let mut headers = http::HeaderMap::new();
    ///     headers.insert("x-client", client.parse().unwrap());
    ///     let mut t = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    ///     t.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"client="app"} 1"#));
    /// assert!(text.contains(r#"client="web"} 1"#));
    /// assert!(text.contains(r#"client="__overflow__"} 2"#)); // the cap held
    /// ```
    pub fn any(absent: &str) -> Self {
        Self {
            allowed: None,
            other: absent.into(),
            absent: Some(absent.into()),
        }
    }

    /// The value when the header or extension is absent (default: the `other` value of
    /// [`one_of`](Self::one_of)).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("plan", "x-plan", LabelValues::one_of(&["free"], "other").when_absent("none"))
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut t = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// t.response_head(200);
    /// drop(t);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"status="200",plan="none"} 1"#));
    /// ```
    #[must_use]
    pub fn when_absent(mut self, value: &str) -> Self {
        self.absent = Some(value.into());
        self
    }
}

/// Reads one label's raw value from a type map: compiled once per declaration for its `T`,
/// for every map type the core knows.
pub(crate) type ExtensionFn =
    Arc<dyn for<'a> Fn(ExtensionsRef<'a>) -> Option<&'a str> + Send + Sync>;

/// The function behind `request_extension_label::<T, _>` and `response_extension_label`.
pub(crate) fn extension_fn<T, F>(f: F) -> ExtensionFn
where
    T: Send + Sync + 'static,
    F: Fn(&T) -> &str + Send + Sync + 'static,
{
    Arc::new(move |map: ExtensionsRef<'_>| match map {
        ExtensionsRef::Http(m) => m.get::<T>().map(&f),
        #[cfg(feature = "actix")]
        ExtensionsRef::Actix(m) => m.get::<T>().map(&f),
    })
}

/// Which part of the exchange a label is read from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
}

/// Where on that side.
#[derive(Clone)]
pub(crate) enum Source {
    /// A header (its lowercase name).
    Header(Box<str>),
    Extension(ExtensionFn),
}

/// One label as declared on the builder, checked in [`AppLabels::compile`].
#[derive(Clone)]
pub(crate) struct AppLabelDecl {
    pub(crate) name: String,
    pub(crate) side: Side,
    pub(crate) source: Source,
    pub(crate) values: LabelValues,
    /// The builder method that declared it, for error messages.
    pub(crate) setter: &'static str,
}

/// Lists longer than this are looked up through a hash map; shorter ones by comparison,
/// which is faster for a handful of values.
const LINEAR_LOOKUP_MAX: usize = 8;

/// One checked label: where it is read and its value table.
struct AppLabel {
    side: Side,
    source: Source,
    /// The declared values, then the `other` value, then the `absent` value; `None` entries
    /// are not used. For [`LabelValues::any`], only `absent`.
    table: Box<[Box<str>]>,
    index: Option<HashMap<Box<str>, u32, foldhash::fast::RandomState>>,
    /// Number of declared values (`None`: any value).
    declared: Option<u32>,
}

impl AppLabel {
    fn absent(&self) -> Resolved {
        Resolved::Table(u32::try_from(self.table.len() - 1).unwrap_or(0))
    }

    /// The resolved form of a raw value: its table index, or a copy when any value is allowed.
    fn resolve(&self, raw: Option<&str>) -> Resolved {
        let Some(raw) = raw else {
            return self.absent();
        };
        let Some(declared) = self.declared else {
            return Resolved::Owned(raw.into());
        };
        let found = match &self.index {
            Some(index) => index.get(raw).copied(),
            None => self
                .table
                .iter()
                .take(declared as usize)
                .position(|v| &**v == raw)
                .and_then(|i| u32::try_from(i).ok()),
        };
        // The `other` value sits right after the declared ones.
        Resolved::Table(found.unwrap_or(declared))
    }

    fn read(&self, headers: &dyn HeaderLookup, map: Option<ExtensionsRef<'_>>) -> Resolved {
        match &self.source {
            Source::Header(name) => self.resolve(headers.header(name)),
            Source::Extension(f) => self.resolve(map.and_then(|m| f(m))),
        }
    }
}

/// A label value of one request: an index into its label's table, or (any value allowed)
/// its own copy.
#[derive(Clone)]
pub(crate) enum Resolved {
    Table(u32),
    Owned(Box<str>),
}

/// Label values kept in the tracker without a heap allocation for the usual few labels.
const INLINE: usize = 4;

/// The application label values of one request, in declaration order.
pub(crate) struct AppValues {
    inline: [Resolved; INLINE],
    spill: Vec<Resolved>,
}

impl AppValues {
    fn set(&mut self, i: usize, value: Resolved) {
        if let Some(slot) = self.inline.get_mut(i) {
            *slot = value;
        } else if let Some(slot) = self.spill.get_mut(i - INLINE) {
            *slot = value;
        }
    }

    fn get(&self, i: usize) -> Option<&Resolved> {
        if i < INLINE {
            self.inline.get(i)
        } else {
            self.spill.get(i - INLINE)
        }
    }
}

/// The checked application labels of one [`HttpMetrics`](crate::http_metrics::HttpMetrics)
/// or [`GrpcMetrics`](crate::grpc_metrics::GrpcMetrics).
#[derive(Default)]
pub(crate) struct AppLabels {
    labels: Box<[AppLabel]>,
    names: Box<[Box<str>]>,
    request_headers: bool,
    request_extensions: bool,
    response: bool,
}

impl AppLabels {
    /// Checks the declarations against each other and against the names already taken
    /// (`taken`: label names and who uses them), and builds their value tables.
    pub(crate) fn compile(decls: Vec<AppLabelDecl>, taken: &[(&str, &str)]) -> Result<Self> {
        let mut labels = Vec::with_capacity(decls.len());
        let mut names: Vec<Box<str>> = Vec::with_capacity(decls.len());
        for (i, d) in decls.iter().enumerate() {
            let what = format!("{}({:?}, ..)", d.setter, d.name);
            check_label_name(&d.name).map_err(|e| Error::InvalidConfig(format!("{what}: {e}")))?;
            if let Some((_, by)) = taken.iter().find(|(n, _)| *n == d.name) {
                return Err(Error::InvalidConfig(format!(
                    "{what}: the label name {:?} is already used by {by}",
                    d.name
                )));
            }
            if let Some(prev) = decls[..i].iter().find(|p| p.name == d.name) {
                return Err(Error::InvalidConfig(format!(
                    "{what}: the label name {:?} is already declared by {}",
                    d.name, prev.setter
                )));
            }
            if let Source::Header(h) = &d.source
                && http::HeaderName::from_bytes(h.as_bytes()).is_err()
            {
                return Err(Error::InvalidConfig(format!(
                    "{what}: {h:?} is not a valid header name"
                )));
            }
            let v = &d.values;
            let absent = v.absent.clone().unwrap_or_else(|| v.other.clone());
            let (table, declared, index) = match &v.allowed {
                Some(allowed) if allowed.is_empty() => {
                    return Err(Error::InvalidConfig(format!(
                        "{what}: LabelValues::one_of was given no values; list at least one \
                         allowed value, or use LabelValues::any to bound the label by the series cap"
                    )));
                }
                Some(allowed) => {
                    let n = u32::try_from(allowed.len()).map_err(|_| {
                        Error::InvalidConfig(format!("{what}: too many declared values"))
                    })?;
                    let mut table = allowed.clone();
                    table.push(v.other.clone());
                    table.push(absent);
                    let index = (allowed.len() > LINEAR_LOOKUP_MAX).then(|| {
                        let mut m = HashMap::with_hasher(foldhash::fast::RandomState::default());
                        // Zipped with indices that fit `u32` (checked above); the first of
                        // repeated values wins, as in the linear lookup.
                        for (j, value) in (0u32..).zip(allowed) {
                            m.entry(value.clone()).or_insert(j);
                        }
                        m
                    });
                    (table, Some(n), index)
                }
                None => (vec![absent], None, None),
            };
            names.push(d.name.as_str().into());
            labels.push(AppLabel {
                side: d.side,
                source: d.source.clone(),
                table: table.into_boxed_slice(),
                index,
                declared,
            });
        }
        let any = |side: Side, ext: bool| {
            labels
                .iter()
                .any(|l| l.side == side && matches!(l.source, Source::Extension(_)) == ext)
        };
        Ok(Self {
            request_headers: any(Side::Request, false),
            request_extensions: any(Side::Request, true),
            response: labels.iter().any(|l| l.side == Side::Response),
            labels: labels.into_boxed_slice(),
            names: names.into_boxed_slice(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.labels.len()
    }

    /// How many labels are read from the request.
    pub(crate) fn request_len(&self) -> usize {
        self.labels
            .iter()
            .filter(|l| l.side == Side::Request)
            .count()
    }

    /// The label names, in the order of their values.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }

    pub(crate) fn reads_request_extensions(&self) -> bool {
        self.request_extensions
    }

    pub(crate) fn reads_response(&self) -> bool {
        self.response
    }

    /// A request's values when it starts: request headers read, everything else absent.
    pub(crate) fn start(&self, headers: &dyn HeaderLookup) -> AppValues {
        let mut values = AppValues {
            inline: std::array::from_fn(|_| Resolved::Table(0)),
            spill: if self.labels.len() > INLINE {
                vec![Resolved::Table(0); self.labels.len() - INLINE]
            } else {
                Vec::new()
            },
        };
        for (i, label) in self.labels.iter().enumerate() {
            let value = match (&label.source, label.side) {
                (Source::Header(_), Side::Request) if self.request_headers => {
                    label.read(headers, None)
                }
                _ => label.absent(),
            };
            values.set(i, value);
        }
        values
    }

    /// Reads the request extension labels.
    pub(crate) fn request_extensions(&self, values: &mut AppValues, map: ExtensionsRef<'_>) {
        if !self.request_extensions {
            return;
        }
        for (i, label) in self.labels.iter().enumerate() {
            if label.side == Side::Request && matches!(label.source, Source::Extension(_)) {
                values.set(i, label.read(&NoHeaders, Some(map)));
            }
        }
    }

    /// Reads the response labels from the response head.
    pub(crate) fn response(
        &self,
        values: &mut AppValues,
        headers: &dyn HeaderLookup,
        map: Option<ExtensionsRef<'_>>,
    ) {
        if !self.response {
            return;
        }
        for (i, label) in self.labels.iter().enumerate() {
            if label.side == Side::Response {
                values.set(i, label.read(headers, map));
            }
        }
    }

    /// The value of label `i` in `values`.
    pub(crate) fn value<'a>(&'a self, values: &'a AppValues, i: usize) -> &'a str {
        match values.get(i) {
            Some(Resolved::Owned(v)) => v,
            Some(Resolved::Table(j)) => self
                .labels
                .get(i)
                .and_then(|l| l.table.get(*j as usize))
                .map_or("", |v| &**v),
            None => "",
        }
    }
}

/// No headers: what an extension-only read is given, and a call started without metadata.
pub(crate) struct NoHeaders;

impl HeaderLookup for NoHeaders {
    fn header(&self, _: &str) -> Option<&str> {
        None
    }
}

/// As many label values as fit here are passed to the series lookup from the stack.
const STACK_VALUES: usize = 12;

/// Calls `f` with the full request series label values: `base` (method, route, status),
/// then the derived labels, then the application labels. Allocation-free for up to
/// [`STACK_VALUES`] labels.
pub(crate) fn with_request_values<R>(
    base: [&str; 3],
    derived: &[String],
    app: &AppLabels,
    values: &AppValues,
    f: impl FnOnce(&[&str]) -> R,
) -> R {
    let n = 3 + derived.len() + app.len();
    let all = base
        .into_iter()
        .chain(derived.iter().map(String::as_str))
        .chain((0..app.len()).map(|i| app.value(values, i)));
    if n <= STACK_VALUES {
        let mut buf = [""; STACK_VALUES];
        for (slot, v) in buf.iter_mut().zip(all) {
            *slot = v;
        }
        f(&buf[..n])
    } else {
        let v: Vec<&str> = all.collect();
        f(&v)
    }
}

/// Calls `f` with `base`, then the first `n_app` application label values. Allocation-free
/// for up to [`STACK_VALUES`] labels. gRPC declares request labels first, so its started
/// series take a prefix and its end-of-call series all of them.
pub(crate) fn with_values<R>(
    base: &[&str],
    app: &AppLabels,
    values: &AppValues,
    n_app: usize,
    f: impl FnOnce(&[&str]) -> R,
) -> R {
    let n_app = n_app.min(app.len());
    let n = base.len() + n_app;
    let all = base
        .iter()
        .copied()
        .chain((0..n_app).map(|i| app.value(values, i)));
    if n <= STACK_VALUES {
        let mut buf = [""; STACK_VALUES];
        for (slot, v) in buf.iter_mut().zip(all) {
            *slot = v;
        }
        f(&buf[..n])
    } else {
        let v: Vec<&str> = all.collect();
        f(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, values: LabelValues) -> AppLabelDecl {
        AppLabelDecl {
            name: name.into(),
            side: Side::Request,
            source: Source::Header("x-v".into()),
            values,
            setter: "request_header_label",
        }
    }

    /// Short and long lists (linear and hashed lookup) resolve the same way: declared values
    /// to themselves, anything else to `other`, absence to `absent`.
    #[test]
    fn lookup_is_the_same_for_short_and_long_lists() {
        for n in [1usize, 3, LINEAR_LOOKUP_MAX, LINEAR_LOOKUP_MAX + 1, 200] {
            let allowed: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            let labels = AppLabels::compile(
                vec![decl(
                    "l",
                    LabelValues::one_of(&allowed, "other").when_absent("none"),
                )],
                &[],
            )
            .unwrap();
            let label = &labels.labels[0];
            for (i, v) in allowed.iter().enumerate() {
                let r = label.resolve(Some(v));
                let values = AppValues {
                    inline: [
                        r,
                        Resolved::Table(0),
                        Resolved::Table(0),
                        Resolved::Table(0),
                    ],
                    spill: Vec::new(),
                };
                assert_eq!(labels.value(&values, 0), v.as_str(), "{n} {i}");
            }
            for (raw, want) in [(Some("v-1"), "other"), (Some(""), "other"), (None, "none")] {
                let values = AppValues {
                    inline: [
                        label.resolve(raw),
                        Resolved::Table(0),
                        Resolved::Table(0),
                        Resolved::Table(0),
                    ],
                    spill: Vec::new(),
                };
                assert_eq!(labels.value(&values, 0), want, "{n} {raw:?}");
            }
        }
    }

    #[test]
    fn more_labels_than_inline_slots_keep_their_values() {
        let decls = (0..INLINE + 3)
            .map(|i| {
                let mut d = decl(&format!("l{i}"), LabelValues::any("absent"));
                d.source = Source::Header(format!("x-{i}").into());
                d
            })
            .collect();
        let labels = AppLabels::compile(decls, &[]).unwrap();
        let mut headers = http::HeaderMap::new();
        for i in 0..INLINE + 3 {
            if i != 1 {
                headers.insert(
                    http::HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap(),
                    format!("h{i}").parse().unwrap(),
                );
            }
        }
        let values = labels.start(&headers);
        let got: Vec<&str> = (0..labels.len())
            .map(|i| labels.value(&values, i))
            .collect();
        let want: Vec<String> = (0..INLINE + 3)
            .map(|i| {
                if i == 1 {
                    "absent".into()
                } else {
                    format!("h{i}")
                }
            })
            .collect();
        assert_eq!(got, want);
        let all = with_request_values(["GET", "/", "200"], &[], &labels, &values, |v| v.join(","));
        assert_eq!(all, format!("GET,/,200,{}", want.join(",")));
    }
}
