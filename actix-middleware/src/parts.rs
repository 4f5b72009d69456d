//! actix-web's request and response parts seen through the core's framework-neutral views:
//! its header map as a [`HeaderLookup`], its extensions as an [`ExtensionsRef`].

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{CONTENT_LENGTH, HeaderMap as ActixHeaderMap, HeaderName};
use actix_web::{HttpMessage as _, HttpRequest};
use promenade_core::http_metrics::{ExtensionsRef, HeaderLookup, RequestTracker};

/// actix-web's header map (http 0.2 types) seen through the core's [`HeaderLookup`].
pub(crate) struct ActixHeaders<'a>(pub(crate) &'a ActixHeaderMap);

/// `traceparent`, read on every request for exemplars.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

impl HeaderLookup for ActixHeaders<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        // actix's `HeaderMap::get(&str)` first parses the name into an owned `HeaderName`,
        // which for a name outside the standard set copies it into a new allocation: the
        // names the core asks for on every request go through constants instead.
        let value = match name {
            "traceparent" => self.0.get(&TRACEPARENT),
            "content-length" => self.0.get(&CONTENT_LENGTH),
            _ => self.0.get(name),
        };
        value.and_then(|v| v.to_str().ok())
    }
}

/// Hands the request's extensions to the tracker. Reaching them borrows a `RefCell`, so the
/// caller does it only when a label reads them (`HttpMetrics::reads_request_extensions`).
pub(crate) fn read_request_extensions(tracker: &mut RequestTracker, request: &HttpRequest) {
    tracker.request_extensions(ExtensionsRef::from(&*request.extensions()));
}

/// Hands the response head's headers and extensions to the tracker; as above, only when a
/// label reads them (`HttpMetrics::reads_response`).
pub(crate) fn read_response_labels<B>(tracker: &mut RequestTracker, response: &ServiceResponse<B>) {
    tracker.response_labels(
        &ActixHeaders(response.headers()),
        ExtensionsRef::from(&*response.response().extensions()),
    );
}
