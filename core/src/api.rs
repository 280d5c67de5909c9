//! The core's way to the server. [`Api`] is what the flows call (typed JSON: `get`, `post`,
//! ...); it holds the login token and hands each request to a [`ServerApi`]: the real one is
//! [`HttpApi`], JSON over HTTPS (rustls on `ring`, trusting only the CA the app is configured
//! with) or plain HTTP on loopback for tests and the demo; unit tests give a fake that plays
//! the server in memory (ADR 0032).
//!
//! Every call has a timeout; transport failures become [`CoreError::Network`] (safe to retry,
//! because creating operations carry an idempotency key), refusals become the server's
//! typed error.

use crate::error::{Cause, CoreError, CryptoError, NetworkError, Result};
use bidkey_protocol::ErrorBody;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Header carrying the idempotency key of a creating operation.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// What a [`ServerApi`] call returns (boxed, so the trait stays usable as `dyn ServerApi`).
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// One request of the core to the server.
#[derive(Debug, Clone)]
pub struct ApiRequest<'a> {
    pub method: Method,
    /// `/v1/...`, with the query.
    pub path: &'a str,
    /// The JSON body, serialized.
    pub body: Option<Vec<u8>>,
    /// The login token (bearer), when logged in.
    pub token: Option<&'a str>,
    /// The idempotency key of a creating operation.
    pub idempotency_key: Option<&'a str>,
    /// An admin action's PIN confirmation (ADR 0018).
    pub confirmation: Option<&'a str>,
}

/// The server as the core sees it: a request in, the answer's bytes out (JSON, or an image
/// for `get_bytes`), a refusal as the server's typed error ([`ErrorBody`] into
/// [`CoreError`]). [`HttpApi`] is the real one; a test's fake plays the server in memory.
pub trait ServerApi: Send + Sync + std::fmt::Debug {
    /// The server's base URL (what scanned requests must name as their relay).
    fn base(&self) -> &str;
    /// Send `req`; a success answer's body.
    fn send<'a>(&'a self, req: ApiRequest<'a>) -> ApiFuture<'a, Vec<u8>>;
}

/// What the flows call: typed JSON calls over a [`ServerApi`], with the login token.
#[derive(Clone)]
pub struct Api {
    server: Arc<dyn ServerApi>,
    token: Arc<RwLock<Option<String>>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The HTTP client: the real [`ServerApi`].
#[derive(Clone)]
pub struct HttpApi {
    base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpApi")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Roots for a server with a public certificate, used when no CA is pinned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SystemTrust {
    /// HTTPS needs a pinned CA (`CoreConfig::server_ca_pem`).
    #[default]
    Off,
    /// The operating system's verifier (rustls-platform-verifier: the Security framework
    /// on iOS and macOS, the system store elsewhere). Not on Android, where that verifier
    /// needs JNI set up, which a library loaded by JNA cannot do: Android shells read the
    /// system roots themselves and pass [`SystemTrust::Roots`].
    Platform,
    /// Root certificates (DER) the shell read from the platform's trust store (Android:
    /// the `system:` entries of `AndroidCAStore`, without user-added CAs).
    Roots(Vec<Vec<u8>>),
}

/// Whom the client trusts for an HTTPS server.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Only this CA (PEM): pinned.
    Pinned(&'a str),
    /// The public roots of [`SystemTrust`].
    System(&'a SystemTrust),
}

impl<'a> Trust<'a> {
    /// A pinned CA wins over the system roots.
    pub fn of(ca_pem: Option<&'a str>, system: &'a SystemTrust) -> Trust<'a> {
        match ca_pem {
            Some(pem) => Trust::Pinned(pem),
            None => Trust::System(system),
        }
    }
}

impl HttpApi {
    /// A client for `base` trusting `trust` for HTTPS.
    pub fn with_trust(base: &str, trust: &Trust<'_>, timeout: Duration) -> Result<HttpApi> {
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
            builder = match trust {
                Trust::Pinned(pem) => builder.use_preconfigured_tls(tls_config(pem_roots(pem)?)?),
                Trust::System(SystemTrust::Roots(ders)) => {
                    builder.use_preconfigured_tls(tls_config(der_roots(ders)?)?)
                }
                Trust::System(SystemTrust::Platform) => platform_verifier(builder)?,
                Trust::System(SystemTrust::Off) => {
                    return Err(CoreError::InvalidInput {
                        field: "server CA certificate",
                    });
                }
            };
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
            .map_err(|e| NetworkError::Setup(Cause::new(e)))?;
        Ok(HttpApi { base, http })
    }

    async fn send_http(&self, r: ApiRequest<'_>) -> Result<Vec<u8>> {
        let mut req = self
            .http
            .request(r.method, format!("{}{}", self.base, r.path));
        if let Some(t) = r.token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = r.idempotency_key {
            req = req.header(IDEMPOTENCY_HEADER, k);
        }
        if let Some(c) = r.confirmation {
            req = req.header(bidkey_protocol::cosign::CONFIRMATION_HEADER, c);
        }
        if let Some(b) = r.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(body.into()),
                Err(_) => Err(NetworkError::Status {
                    status: status.as_u16(),
                }
                .into()),
            }
        }
    }
}

impl ServerApi for HttpApi {
    fn base(&self) -> &str {
        &self.base
    }

    fn send<'a>(&'a self, req: ApiRequest<'a>) -> ApiFuture<'a, Vec<u8>> {
        Box::pin(self.send_http(req))
    }
}

impl Api {
    /// A client for `base` (`https://…` or `http://127.0.0.1:…`). For HTTPS, `ca_pem` is the
    /// only trusted root (Bidkey's server CA), so a rogue public CA cannot intercept.
    pub fn new(base: &str, ca_pem: Option<&str>, timeout: Duration) -> Result<Api> {
        Self::with_trust(base, &Trust::of(ca_pem, &SystemTrust::Off), timeout)
    }

    /// A client for `base` trusting `trust` for HTTPS.
    pub fn with_trust(base: &str, trust: &Trust<'_>, timeout: Duration) -> Result<Api> {
        Ok(Self::over(Arc::new(HttpApi::with_trust(
            base, trust, timeout,
        )?)))
    }

    /// Calls over `server` (a test's fake, or an [`HttpApi`]), not logged in.
    pub fn over(server: Arc<dyn ServerApi>) -> Api {
        Api {
            server,
            token: Arc::new(RwLock::new(None)),
        }
    }

    pub fn base(&self) -> &str {
        self.server.base()
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
        let body = match body {
            Some(b) => {
                Some(serde_json::to_vec(b).map_err(|e| CryptoError::Encoding(Cause::new(e)))?)
            }
            None => None,
        };
        let token = self.token();
        let bytes = self
            .server
            .send(ApiRequest {
                method,
                path,
                body,
                token: token.as_deref(),
                idempotency_key,
                confirmation,
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| NetworkError::BadAnswer(Cause::new(e)).into())
    }

    fn token(&self) -> Option<String> {
        self.token.read().ok().and_then(|t| t.clone())
    }

    /// `GET path` answered with raw bytes (an image), not JSON.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let token = self.token();
        self.server
            .send(ApiRequest {
                method: Method::GET,
                path,
                body: None,
                token: token.as_deref(),
                idempotency_key: None,
                confirmation: None,
            })
            .await
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
        CoreError::Network(NetworkError::Timeout(Cause::new(e)))
    } else {
        CoreError::Network(NetworkError::Unreachable(Cause::new(e)))
    }
}

fn is_loopback_http(base: &str) -> bool {
    ["http://127.", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| base.starts_with(p))
}

/// reqwest's default for a builder given no roots: rustls-platform-verifier.
#[cfg(not(target_os = "android"))]
fn platform_verifier(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    Ok(builder)
}

/// On Android the platform verifier would panic without its JNI set-up: refuse instead.
#[cfg(target_os = "android")]
fn platform_verifier(_: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    Err(CoreError::InvalidInput {
        field: "server trust (on Android pass the system roots)",
    })
}

fn pem_roots(ca_pem: &str) -> Result<rustls::RootCertStore> {
    let bad = || CoreError::InvalidInput {
        field: "server CA certificate",
    };
    let mut roots = rustls::RootCertStore::empty();
    let mut reader = std::io::BufReader::new(ca_pem.as_bytes());
    for cert in rustls_pemfile::certs(&mut reader) {
        roots.add(cert.map_err(|_| bad())?).map_err(|_| bad())?;
    }
    if roots.is_empty() {
        return Err(bad());
    }
    Ok(roots)
}

/// The system roots the shell passed. A root the TLS library cannot use (an unusual
/// algorithm, a malformed entry in the store) is skipped, as a platform verifier would; none
/// usable at all is an error.
fn der_roots(ders: &[Vec<u8>]) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let (_added, _skipped) = roots.add_parsable_certificates(
        ders.iter()
            .map(|d| rustls::pki_types::CertificateDer::from(d.clone())),
    );
    if roots.is_empty() {
        return Err(CoreError::InvalidInput {
            field: "system root certificates",
        });
    }
    Ok(roots)
}

fn tls_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetworkError::Setup(Cause::new(e)).into())
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

    /// A self-signed P-256 CA made with openssl for this test (any root parses the same).
    const TEST_ROOT_PEM: &str = include_str!("../tests/data/test-root.pem");

    fn test_root_der() -> Vec<u8> {
        let mut reader = std::io::BufReader::new(TEST_ROOT_PEM.as_bytes());
        let cert = rustls_pemfile::certs(&mut reader)
            .next()
            .expect("one cert")
            .expect("pem");
        cert.to_vec()
    }

    #[test]
    fn https_trusts_a_pinned_ca_or_the_system_roots() {
        let t = Duration::from_secs(5);
        let url = "https://bidkey.example";
        let with = |trust: &Trust<'_>| Api::with_trust(url, trust, t);
        assert!(with(&Trust::Pinned(TEST_ROOT_PEM)).is_ok());
        assert!(with(&Trust::System(&SystemTrust::Off)).is_err(), "off");
        assert!(with(&Trust::System(&SystemTrust::Roots(vec![test_root_der()]))).is_ok());
        // Unusable entries are skipped, but at least one root must remain.
        let mixed = SystemTrust::Roots(vec![b"junk".to_vec(), test_root_der()]);
        assert!(with(&Trust::System(&mixed)).is_ok());
        let junk = SystemTrust::Roots(vec![b"junk".to_vec()]);
        assert!(matches!(
            with(&Trust::System(&junk)),
            Err(CoreError::InvalidInput { .. })
        ));
        assert!(with(&Trust::System(&SystemTrust::Roots(vec![]))).is_err());
        // The platform verifier is accepted as a choice (whether this host has a system
        // store to load is the host's matter: a `Network` error at worst, never a refusal).
        assert!(!matches!(
            with(&Trust::System(&SystemTrust::Platform)),
            Err(CoreError::InvalidInput { .. })
        ));
        // A pinned CA wins: a bad one is an error even with system roots on.
        let platform = SystemTrust::Platform;
        assert!(matches!(
            Trust::of(Some("x"), &platform),
            Trust::Pinned("x")
        ));
        assert!(with(&Trust::of(Some("not a pem"), &platform)).is_err());
    }

    #[tokio::test]
    async fn unreachable_server_is_a_network_error() {
        let api = Api::new("http://127.0.0.1:9", None, Duration::from_secs(2)).expect("api");
        let r: Result<serde_json::Value> = api.get("/v1/me").await;
        assert!(matches!(r, Err(CoreError::Network(_))), "{r:?}");
    }
}
