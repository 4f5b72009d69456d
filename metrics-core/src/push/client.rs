//! The async client: one group's URL, the encoded (and possibly compressed) body, and the
//! HTTP exchange with its time limit.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
#[cfg(not(feature = "push-tls"))]
use hyper_util::client::legacy::connect::HttpConnector as Connector;

#[cfg(feature = "push-tls")]
use super::tls::Connector;

use super::error::error_chain;
use super::labels::{check_family_labels, check_sample_labels};
use super::{PushError, PushFormat, PushgatewayBuilder};
use crate::encoding::Format;
use crate::encoding::gzip;
use crate::registry::Registry;

/// How much of an error response's body is kept for [`PushError::Status`].
const ERROR_BODY_LIMIT: usize = 4096;

/// An async Pushgateway client bound to one group (job plus grouping key).
/// Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), promenade_core::push::PushError> {
/// let registry = promenade_core::Registry::new();
/// let gateway = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "nightly").build()?;
/// gateway.push(&registry).await?;
/// gateway.delete().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pushgateway {
    pub(super) url: String,
    pub(super) uri: Uri,
    pub(super) forbidden: Vec<String>,
    pub(super) format: PushFormat,
    pub(super) gzip: bool,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) timeout: Duration,
    pub(super) client: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for Pushgateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushgateway")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pushgateway {
    /// Starts configuring a client for `url` (the gateway's base URL, e.g.
    /// `http://127.0.0.1:9091`, possibly with a path prefix) and `job`.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091/", "my job").build().unwrap();
    /// assert_eq!(g.url(), "http://127.0.0.1:9091/metrics/job/my%20job");
    /// ```
    pub fn builder(url: &str, job: &str) -> PushgatewayBuilder {
        PushgatewayBuilder::new(url, job)
    }

    /// The group's URL, where pushes go.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j").grouping("a", "").build().unwrap();
    /// assert_eq!(g.url(), "http://gw:9091/metrics/job/j/a@base64/=");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replaces every metric of the group with `registry`'s (HTTP `PUT`).
    ///
    /// ```no_run
    /// # async fn demo(g: promenade_core::push::Pushgateway, r: promenade_core::Registry) {
    /// g.push(&r).await.unwrap();
    /// # }
    /// ```
    pub async fn push(&self, registry: &Registry) -> Result<(), PushError> {
        let body = self.body(registry)?;
        self.send(Method::PUT, Some(body)).await
    }

    /// Replaces only the families `registry` has, keeping the group's others (HTTP `POST`).
    ///
    /// ```no_run
    /// # async fn demo(g: promenade_core::push::Pushgateway, r: promenade_core::Registry) {
    /// g.push_add(&r).await.unwrap();
    /// # }
    /// ```
    pub async fn push_add(&self, registry: &Registry) -> Result<(), PushError> {
        let body = self.body(registry)?;
        self.send(Method::POST, Some(body)).await
    }

    /// Deletes the group (HTTP `DELETE`).
    ///
    /// ```no_run
    /// # async fn demo(g: promenade_core::push::Pushgateway) {
    /// g.delete().await.unwrap();
    /// # }
    /// ```
    pub async fn delete(&self) -> Result<(), PushError> {
        self.send(Method::DELETE, None).await
    }

    /// Encodes `registry`, refusing series that carry `job` or a grouping label.
    pub(super) fn body(&self, registry: &Registry) -> Result<Bytes, PushError> {
        let undescribed = check_family_labels(registry, &self.forbidden)?;
        let raw = match self.format {
            PushFormat::Text => {
                let text = registry.encode_to_string(Format::Text)?;
                if undescribed {
                    check_sample_labels(&text, &self.forbidden)?;
                }
                text.into_bytes()
            }
            #[cfg(feature = "protobuf")]
            PushFormat::Protobuf => {
                if undescribed {
                    let text = registry.encode_to_string(Format::Text)?;
                    check_sample_labels(&text, &self.forbidden)?;
                }
                registry.encode_to_vec(Format::Protobuf)?
            }
        };
        if !self.gzip {
            return Ok(Bytes::from(raw));
        }
        let zipped =
            gzip::compress(&raw, gzip::Compression::default()).map_err(PushError::Compress)?;
        Ok(Bytes::from(zipped))
    }

    async fn send(&self, method: Method, body: Option<Bytes>) -> Result<(), PushError> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(self.uri.clone());
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, self.format.content_type());
            if self.gzip {
                builder = builder.header(CONTENT_ENCODING, "gzip");
            }
        }
        for (n, v) in &self.headers {
            builder = builder.header(n, v);
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| PushError::InvalidHeader(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| PushError::Connect {
                    url: self.url.clone(),
                    reason: error_chain(&e),
                    source: Box::new(e),
                })?;
            let status = response.status();
            let ok = match method {
                Method::DELETE => status == StatusCode::ACCEPTED || status == StatusCode::OK,
                _ => status == StatusCode::OK || status == StatusCode::ACCEPTED,
            };
            // Read (a bounded part of) the body either way, so the exchange completes.
            let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if ok {
                Ok(())
            } else {
                Err(PushError::Status {
                    method: method.clone(),
                    url: self.url.clone(),
                    status,
                    body: String::from_utf8_lossy(&body).trim_end().to_owned(),
                })
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(PushError::Timeout {
                url: self.url.clone(),
                timeout: self.timeout,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_body_round_trips() {
        use std::io::Read as _;
        let r = Registry::new();
        r.gauge("g", "G.").unwrap().set(2.0);
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .gzip(true)
            .build()
            .unwrap();
        let body = g.body(&r).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("g 2"));
    }
}
