//! The HTTP client of the core: JSON over HTTPS (rustls on `ring`, trusting only the CA
//! the app is configured with) or plain HTTP on loopback for tests and the demo.
//!
//! Every call has a timeout; transport failures become [`CoreError::Network`] (safe to retry,
//! because creating operations carry an idempotency key), refusals become the server's
//! typed error.

use crate::error::{CoreError, Result};
use bidkey_protocol::ErrorBody;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Header carrying the idempotency key of a creating operation.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    token: Arc<RwLock<Option<String>>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A client for `base` (`https://…` or `http://127.0.0.1:…`). For HTTPS, `ca_pem` is the
    /// only trusted root (Bidkey's server CA), so a rogue public CA cannot intercept.
    pub fn new(base: &str, ca_pem: Option<&str>, timeout: Duration) -> Result<Api> {
        let base = base.trim_end_matches('/').to_owned();
        // reqwest needs a process-wide rustls provider even for plain HTTP; ring is the one
        // we build with (no aws-lc, which cross-compiles poorly to phones). Installing twice
        // is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("bidkey-core/", env!("CARGO_PKG_VERSION")));
        if base.starts_with("https://") {
            let pem = ca_pem.ok_or(CoreError::InvalidInput {
                field: "server CA certificate",
            })?;
            builder = builder.use_preconfigured_tls(tls_config(pem)?);
        } else if is_loopback_http(&base) {
            // Plain HTTP on loopback (tests, the demo): no TLS at all, so no trust store is
            // loaded (the system's would be read and parsed for nothing on every open).
            builder = builder.tls_certs_only([]);
        } else {
            return Err(CoreError::InvalidInput {
                field: "server URL (https required)",
            });
        }
        let http = builder
            .build()
            .map_err(|e| CoreError::Network(e.to_string()))?;
        Ok(Api {
            base,
            http,
            token: Arc::new(RwLock::new(None)),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn set_token(&self, token: Option<String>) {
        if let Ok(mut t) = self.token.write() {
            *t = token;
        }
    }

    pub fn has_token(&self) -> bool {
        self.token.read().map(|t| t.is_some()).unwrap_or(false)
    }

    /// Call `method path` with an optional JSON body and idempotency key.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T> {
        self.call_with(method, path, body, idempotency_key, None)
            .await
    }

    /// Call an admin action with its PIN confirmation (the finished `confirm` session's id
    /// in hex, ADR 0018).
    pub async fn call_confirmed<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        confirmation: &str,
    ) -> Result<T> {
        self.call_with(method, path, body, None, Some(confirmation))
            .await
    }

    async fn call_with<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
        confirmation: Option<&str>,
    ) -> Result<T> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = self.token.read().ok().and_then(|t| t.clone()) {
            req = req.bearer_auth(t);
        }
        if let Some(k) = idempotency_key {
            req = req.header(IDEMPOTENCY_HEADER, k);
        }
        if let Some(c) = confirmation {
            req = req.header(bidkey_protocol::cosign::CONFIRMATION_HEADER, c);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            serde_json::from_slice(&bytes)
                .map_err(|e| CoreError::Network(format!("unexpected answer from server: {e}")))
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(body.into()),
                Err(_) => Err(CoreError::Network(format!("server answered HTTP {status}"))),
            }
        }
    }

    /// `GET path` answered with raw bytes (an image), not JSON.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = self.token.read().ok().and_then(|t| t.clone()) {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(body.into()),
                Err(_) => Err(CoreError::Network(format!("server answered HTTP {status}"))),
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call::<(), T>(Method::GET, path, None, None).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::POST, path, Some(body), None).await
    }

    pub async fn post_idem<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        key: &str,
    ) -> Result<T> {
        self.call(Method::POST, path, Some(body), Some(key)).await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::PUT, path, Some(body), None).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call::<(), T>(Method::DELETE, path, None, None).await
    }
}

fn transport(e: reqwest::Error) -> CoreError {
    if e.is_timeout() {
        CoreError::Network("the server did not answer in time".into())
    } else {
        CoreError::Network(format!("cannot reach the server: {e}"))
    }
}

fn is_loopback_http(base: &str) -> bool {
    ["http://127.", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| base.starts_with(p))
}

fn tls_config(ca_pem: &str) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let mut reader = std::io::BufReader::new(ca_pem.as_bytes());
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|_| CoreError::InvalidInput {
            field: "server CA certificate",
        })?;
        roots.add(cert).map_err(|_| CoreError::InvalidInput {
            field: "server CA certificate",
        })?;
    }
    if roots.is_empty() {
        return Err(CoreError::InvalidInput {
            field: "server CA certificate",
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CoreError::Network(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// A fresh idempotency key.
pub fn idempotency_key() -> Result<String> {
    Ok(hex::encode(bidkey_crypto::rng::bytes::<16>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        let t = Duration::from_secs(5);
        assert!(Api::new("http://127.0.0.1:9", None, t).is_ok());
        assert!(Api::new("http://example.com", None, t).is_err());
        assert!(
            Api::new("https://bidkey.example", None, t).is_err(),
            "no pinned CA"
        );
        assert!(Api::new("https://bidkey.example", Some("not a pem"), t).is_err());
    }

    #[tokio::test]
    async fn unreachable_server_is_a_network_error() {
        let api = Api::new("http://127.0.0.1:9", None, Duration::from_secs(2)).expect("api");
        let r: Result<serde_json::Value> = api.get("/v1/me").await;
        assert!(matches!(r, Err(CoreError::Network(_))), "{r:?}");
    }
}
