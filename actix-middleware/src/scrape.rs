//! Scrapes over actix-web: [`scrape_response`] and [`metrics_route`] for routes of your own,
//! and the middleware's own scrape route (the `/metrics` branch of its service).

use std::future::Future;

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use promenade_core::http_metrics::RequestTracker;
use promenade_core::scrape::{Prepared, ScrapeHandler};

use crate::future::ResponseFuture;

/// Answers `req`, a request for the path of the scrape route the middleware serves itself
/// (ahead of the application's routes); `tracker` measures it when scrapes are counted. The
/// request body is dropped unread.
pub(crate) fn scrape_route<F>(
    handler: &ScrapeHandler,
    req: ServiceRequest,
    tracker: Option<RequestTracker>,
) -> ResponseFuture<F> {
    let (request, _payload) = req.into_parts();
    let response = Box::pin(scrape_future(&request, handler));
    ResponseFuture::scrape(response, request, tracker)
}

/// Answers a scrape request with `handler`: negotiation, gzip, auth and the scrape limits
/// from the core; `GET` and `HEAD` only (405 otherwise). Use it to write your own scrape
/// route. Collectors run on actix's blocking pool (`web::block`), so a slow collector does
/// not hold the worker; a panicking one makes the answer a 500. `HEAD` runs no collector
/// and answers without `Content-Length`.
///
/// ```
/// use actix_web::{HttpRequest, test::TestRequest};
/// use promenade_actix::{ScrapeHandler, scrape_response};
///
/// # actix_rt::System::new().block_on(async {
/// let registry = promenade_core::Registry::new();
/// registry.counter("jobs_total", "Jobs.").unwrap().inc();
/// let handler = ScrapeHandler::new(registry);
/// let req: HttpRequest = TestRequest::get().insert_header(("accept", "application/openmetrics-text;version=1.0.0")).to_http_request();
/// let res = scrape_response(&req, &handler).await;
/// assert_eq!(res.status(), 200);
/// assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/openmetrics-text; version=1.0.0"));
/// # });
/// ```
pub async fn scrape_response(req: &HttpRequest, handler: &ScrapeHandler) -> HttpResponse {
    scrape_future(req, handler).await
}

/// [`scrape_response`] as a `'static` future: what needs no collector is decided now, the
/// rest runs on the blocking pool when polled.
fn scrape_future(
    req: &HttpRequest,
    handler: &ScrapeHandler,
) -> impl Future<Output = HttpResponse> + use<> {
    let method =
        http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(http::Method::POST);
    let mut headers = http::HeaderMap::new();
    for name in [
        http::header::ACCEPT,
        http::header::ACCEPT_ENCODING,
        http::header::AUTHORIZATION,
    ] {
        for value in req.headers().get_all(name.as_str()) {
            if let Ok(v) = http::HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), v);
            }
        }
    }
    let prepared = handler.prepare(&method, &headers);
    let head = method == http::Method::HEAD;
    async move {
        let response = match prepared {
            Prepared::Answer(response) => response,
            // `web::block` needs the actix runtime (always there in a worker); elsewhere, run
            // in place rather than panic.
            Prepared::Encode(job) if actix_web::rt::System::try_current().is_some() => {
                job.spawn_with(web::block).await
            }
            Prepared::Encode(job) => job.run(),
        };
        into_actix(response, head)
    }
}

fn into_actix(response: http::Response<Bytes>, head: bool) -> HttpResponse {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((n, v));
        }
    }
    if head {
        // No size at all: a sized empty body would be announced as `Content-Length: 0`.
        builder.body(actix_web::body::None::new())
    } else {
        builder.body(response.into_body())
    }
}

/// Mounts a scrape route at `handler`'s [path](ScrapeHandler::path) through
/// `App::configure`: `GET` and `HEAD` answered by `handler`, other methods `405`. An
/// alternative to the middleware's own route (for example on an admin server).
///
/// ```
/// use actix_web::{App, test};
/// use promenade_actix::{ScrapeHandler, metrics_route};
///
/// # actix_rt::System::new().block_on(async {
/// let registry = promenade_core::Registry::new();
/// registry.gauge("temperature", "Temperature.").unwrap().set(21.5);
/// let app = test::init_service(App::new().configure(metrics_route(ScrapeHandler::new(registry)))).await;
/// let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
/// assert!(std::str::from_utf8(&body).unwrap().contains("temperature 21.5"));
/// let res = test::call_service(&app, test::TestRequest::post().uri("/metrics").to_request()).await;
/// assert_eq!(res.status(), 405);
/// # });
/// ```
pub fn metrics_route(handler: ScrapeHandler) -> impl FnOnce(&mut web::ServiceConfig) {
    let path = handler.path().to_owned();
    move |cfg: &mut web::ServiceConfig| {
        let handler = web::Data::new(handler);
        cfg.service(
            web::resource(path)
                .app_data(handler)
                .default_service(web::to(
                    |req: HttpRequest, handler: web::Data<ScrapeHandler>| {
                        scrape_future(&req, &handler)
                    },
                )),
        );
    }
}
