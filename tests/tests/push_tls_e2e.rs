//! The Pushgateway client over HTTPS (feature `push-tls`): a real Pushgateway behind a TLS
//! endpoint on 127.0.0.1 (rustls, terminating and forwarding each connection), with a
//! certificate authority and server certificate the test makes. The client trusts that CA
//! through `tls_root_certificates_pem`; without it, the push fails on the certificate.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use promenade_core::Registry;
use promenade_core::push::{PushError, Pushgateway};
use promenade_tests::{PushgatewayServer, http_get, or_skip};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A CA and a server certificate for `localhost` and 127.0.0.1 signed by it.
struct TestPki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
}

fn make_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "promenade test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = params.signed_by(&server_key, &issuer).unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server_cert: server_cert.der().clone(),
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    }
}

/// Terminates TLS on a port of its own and forwards each connection to `upstream`, on a
/// runtime that ends with the guard.
struct TlsProxy {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

fn start_tls_proxy(pki: &TestPki, upstream: u16) -> TlsProxy {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake (the untrusting client) concerns that connection only.
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsProxy {
        port,
        _runtime: runtime,
    }
}

#[test]
fn push_over_https_to_a_real_pushgateway() {
    let gw = or_skip!(PushgatewayServer::start());
    let pki = make_pki();
    let proxy = start_tls_proxy(&pki, gw.port());
    let registry = Registry::new();
    registry
        .gauge("backup_bytes", "Bytes backed up.")
        .unwrap()
        .set(1234.0);

    let url = format!("https://localhost:{}", proxy.port);
    let client = Pushgateway::builder(&url, "tls_job")
        .tls_root_certificates_pem(pki.ca_pem.as_bytes())
        .timeout(Duration::from_secs(5))
        .build_blocking()
        .unwrap();
    client.push(&registry).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = http_get(&format!("{}/metrics", gw.url()), &[])
            .unwrap()
            .text();
        if text.contains(r#"backup_bytes{instance="",job="tls_job"} 1234"#) {
            break;
        }
        assert!(Instant::now() < deadline, "push not seen:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    client.delete().unwrap();

    // Without the test CA, the same gateway's certificate is not trusted: an error naming
    // the connection, never a silent success.
    let untrusting = Pushgateway::builder(&url, "tls_job")
        .timeout(Duration::from_secs(5))
        .build_blocking()
        .unwrap();
    let err = untrusting.push(&registry).unwrap_err();
    assert!(matches!(err, PushError::Connect { .. }), "{err}");
    let message = err.to_string().to_lowercase();
    assert!(message.contains("certificate"), "{message}");
}
