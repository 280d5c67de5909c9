//! TLS on the gateway's listener (optional; loopback without TLS is the default): a PEM
//! certificate chain and key, rustls on `ring`, HTTP/1.1 per connection.

use crate::error::{GatewayError, Result};
use std::sync::Arc;

/// The listener's certificate chain and private key, PEM.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert_chain_pem: String,
    pub key_pem: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsFiles { .. }")
    }
}

/// The rustls server configuration for `files`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>> {
    let bad = |what: &str| GatewayError::Internal(format!("TLS: {what}"));
    let certs = rustls_pemfile::certs(&mut files.cert_chain_pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad("certificate chain is not PEM"))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the chain"));
    }
    let key = rustls_pemfile::private_key(&mut files.key_pem.as_bytes())
        .map_err(|_| bad("private key is not PEM"))?
        .ok_or_else(|| bad("no private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accept TLS connections on `listener` and serve `app` on each.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: axum::Router,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A failed handshake is the client's problem; nothing to answer.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
