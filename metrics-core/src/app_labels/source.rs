//! Where a label's raw value is read: the lookups an adapter hands over (headers, type maps),
//! kept framework-neutral so one declaration serves every adapter, and the side of the
//! exchange (request or response) a label is read on.

use std::fmt;
use std::sync::Arc;

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

/// `traceparent`, read on every request for exemplars.
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

impl HeaderLookup for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        // `get(&str)` parses (validates, lowercases) the name before hashing it: the names
        // the core asks for on every request go through constants instead.
        let value = match name {
            "traceparent" => self.get(&TRACEPARENT),
            "content-length" => self.get(http::header::CONTENT_LENGTH),
            _ => self.get(name),
        };
        value.and_then(|v| v.to_str().ok())
    }
}

/// No headers: what an extension-only read is given, and a call started without metadata.
pub(crate) struct NoHeaders;

impl HeaderLookup for NoHeaders {
    fn header(&self, _: &str) -> Option<&str> {
        None
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
