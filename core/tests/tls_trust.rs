//! The core's HTTPS client against a real TLS server on loopback: a pinned CA and the system
//! roots a shell passes (`SystemTrust::Roots`, Android's way) both let it in when they hold
//! the server's CA, and refuse it (a network error, nothing sent) when they do not.

use bidkey_core::CoreError;
use bidkey_core::SystemTrust;
use bidkey_core::api::{Api, Trust};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CA_PEM: &str = include_str!("data/tls/ca.pem");
const SERVER_PEM: &str = include_str!("data/tls/server.pem");
const SERVER_KEY: &str = include_str!("data/tls/server-key.pem");
/// A root that did not sign the server's certificate.
const OTHER_ROOT_PEM: &str = include_str!("data/test-root.pem");

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("pem")
}

/// A TLS server on 127.0.0.1 answering every request with `{"ok":true}`; its base URL.
async fn tls_server() -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut SERVER_KEY.as_bytes())
        .expect("key pem")
        .expect("a key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs(SERVER_PEM), key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here: the client never gets to send.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = br#"{"ok":true}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

async fn get(base: &str, trust: &Trust<'_>) -> Result<serde_json::Value, CoreError> {
    let api = Api::with_trust(base, trust, Duration::from_secs(10))?;
    api.get("/v1/ping").await
}

#[tokio::test]
async fn a_pinned_ca_or_the_passed_system_roots_let_the_client_in_and_others_do_not() {
    let base = tls_server().await;
    let ok = serde_json::json!({ "ok": true });

    assert_eq!(get(&base, &Trust::Pinned(CA_PEM)).await, Ok(ok.clone()));
    let roots = SystemTrust::Roots(certs(CA_PEM).iter().map(|c| c.to_vec()).collect());
    assert_eq!(get(&base, &Trust::System(&roots)).await, Ok(ok.clone()));
    // A store that holds many roots, the server's among them, as a phone's does.
    let mut many: Vec<Vec<u8>> = certs(OTHER_ROOT_PEM).iter().map(|c| c.to_vec()).collect();
    many.extend(certs(CA_PEM).iter().map(|c| c.to_vec()));
    assert_eq!(
        get(&base, &Trust::System(&SystemTrust::Roots(many))).await,
        Ok(ok)
    );

    // Roots that did not sign the server's certificate: refused at the handshake.
    let others = SystemTrust::Roots(certs(OTHER_ROOT_PEM).iter().map(|c| c.to_vec()).collect());
    let refused = get(&base, &Trust::System(&others)).await;
    assert!(matches!(refused, Err(CoreError::Network(_))), "{refused:?}");
    let refused = get(&base, &Trust::Pinned(OTHER_ROOT_PEM)).await;
    assert!(matches!(refused, Err(CoreError::Network(_))), "{refused:?}");
}
