//! HTTPS for the Pushgateway client (feature `push-tls`): rustls with the ring provider (no
//! OpenSSL), Mozilla's root certificates (`webpki-roots`, the same on every machine) plus
//! any the builder was given, HTTP/1.1 over TLS 1.2 or 1.3.

use std::sync::Arc;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::PushError;

/// The connector under the client: `http://` in the clear, `https://` through rustls.
pub(super) type Connector = HttpsConnector<HttpConnector>;

/// The certificates in `pem` (one or more `CERTIFICATE` blocks), refused when there is none
/// or one does not parse.
pub(super) fn parse_roots(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PushError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PushError::InvalidCertificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(PushError::InvalidCertificate(
            "no PEM CERTIFICATE block found".into(),
        ));
    }
    Ok(certs)
}

/// Wraps `http` (which must allow non-`http` schemes) in rustls, trusting the web's roots and
/// `extra_roots`.
pub(super) fn connector(
    mut http: HttpConnector,
    extra_roots: &[CertificateDer<'static>],
) -> Result<Connector, PushError> {
    http.enforce_http(false);
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| PushError::InvalidCertificate(e.to_string()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PushError::InvalidCertificate(format!("TLS set-up failed: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}
