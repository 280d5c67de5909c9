//! HTTP client for the Bidkey server's public endpoints a trading platform uses: the CA
//! chain, the CRLs, certificate status and the grant check.
//!
//! HTTPS trusts only the CA PEM the platform is configured with (rustls on `ring`); plain
//! HTTP is accepted on loopback only (tests, local demo).

use crate::error::{PlatformError, Result};
use bidkey_crypto::x509::{Cert, Crl};
use bidkey_protocol::ErrorBody;
use bidkey_protocol::certs::{CaChain, CertStatus};
use bidkey_protocol::platforms::GrantCheck;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// Client for one Bidkey server.
#[derive(Clone)]
pub struct PlatformClient {
    base: String,
    http: reqwest::Client,
    /// The platform's request key: `grant_check` is answered only to the platform, signed.
    signer: Option<std::sync::Arc<bidkey_crypto::scan::PlatformKey>>,
    /// The time a signed call states, unix seconds: this machine's clock unless set.
    clock: Option<UnixClock>,
}

/// A source of the current unix time in seconds.
#[derive(Clone)]
pub struct UnixClock(pub std::sync::Arc<dyn Fn() -> i64 + Send + Sync>);

impl std::fmt::Debug for UnixClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnixClock")
    }
}

impl std::fmt::Debug for PlatformClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl PlatformClient {
    /// A client for `base` (`https://…` with `tls_ca_pem`, or `http://127.0.0.1:…`).
    pub fn new(base: &str, tls_ca_pem: Option<&str>, timeout: Duration) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        // reqwest needs a process-wide rustls provider even for plain HTTP; installing
        // twice is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("bidkey-platform/", env!("CARGO_PKG_VERSION")));
        if base.starts_with("https://") {
            let pem = tls_ca_pem.ok_or(PlatformError::Config("server TLS CA certificate"))?;
            builder = builder.use_preconfigured_tls(tls_config(pem)?);
        } else if !is_loopback_http(&base) {
            return Err(PlatformError::Config("server URL (https required)"));
        }
        let http = builder
            .build()
            .map_err(|e| PlatformError::Network(e.to_string()))?;
        Ok(Self {
            base,
            http,
            signer: None,
            clock: None,
        })
    }

    /// Sign the calls only a platform may make (`grant_check`) with its request key, the
    /// key of its Bidkey platform certificate.
    pub fn signed_by(mut self, key: std::sync::Arc<bidkey_crypto::scan::PlatformKey>) -> Self {
        self.signer = Some(key);
        self
    }

    /// State signed calls at `clock`'s time instead of this machine's (the server accepts
    /// a minute either way): for a platform whose clock is kept elsewhere, and for tests
    /// whose server runs on a test clock.
    pub fn with_clock(mut self, clock: UnixClock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client (TLS pinned as configured), shared with the scan client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn get_raw(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(PlatformError::Server(format!(
                    "{:?}: {}",
                    body.code, body.message_en
                ))),
                Err(_) => Err(PlatformError::Network(format!(
                    "server answered HTTP {status}"
                ))),
            }
        }
    }

    /// A public JSON route, for the SDK's other modules.
    pub(crate) async fn get_json_public<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.get_json(path).await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.get_raw(path).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| PlatformError::Network(format!("unexpected answer from server: {e}")))
    }

    /// `GET /v1/ca/chain`: root and issuing CA, parsed strictly.
    pub async fn ca_chain(&self) -> Result<(Cert, Cert)> {
        let chain: CaChain = self.get_json("/v1/ca/chain").await?;
        let root = Cert::from_der(&chain.root_der)
            .map_err(|_| PlatformError::Malformed("root certificate"))?;
        let issuing = Cert::from_der(&chain.issuing_der)
            .map_err(|_| PlatformError::Malformed("issuing CA certificate"))?;
        Ok((root, issuing))
    }

    /// `GET /v1/ca/crl`: the issuing CA's CRL (signature not yet checked).
    pub async fn issuing_crl(&self) -> Result<Crl> {
        Crl::from_der(&self.get_raw("/v1/ca/crl").await?)
            .map_err(|_| PlatformError::Malformed("CRL"))
    }

    /// `GET /v1/ca/crl/root`: the root's CRL (signature not yet checked).
    pub async fn root_crl(&self) -> Result<Crl> {
        Crl::from_der(&self.get_raw("/v1/ca/crl/root").await?)
            .map_err(|_| PlatformError::Malformed("CRL"))
    }

    /// `GET /v1/certs/{serial}/status`.
    pub async fn cert_status(&self, serial: &str) -> Result<CertStatus> {
        check_serial(serial)?;
        self.get_json(&format!("/v1/certs/{serial}/status")).await
    }

    /// `GET /v1/grants/check?platform_id=..&serial=..`: may the holder of this enterprise
    /// certificate act on this platform?
    pub async fn grant_check(&self, platform_id: &str, serial: &str) -> Result<GrantCheck> {
        check_serial(serial)?;
        if platform_id.is_empty()
            || !platform_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(PlatformError::Config("platform id"));
        }
        self.signed_get(
            "/v1/grants/check",
            &format!("platform_id={platform_id}&serial={serial}"),
        )
        .await
    }

    /// `GET /v1/preauth/release?platform_id=..&binding_hash=..` (ADR 0027): what opens a
    /// pre-authorised bid file, at or after its opening time by the server's clock.
    pub async fn preauth_release(
        &self,
        platform_id: &str,
        binding_hash_hex: &str,
    ) -> Result<bidkey_protocol::platforms::PreauthRelease> {
        check_preauth_query(platform_id, binding_hash_hex)?;
        self.signed_get(
            "/v1/preauth/release",
            &format!("platform_id={platform_id}&binding_hash={binding_hash_hex}"),
        )
        .await
    }

    /// `GET /v1/preauth/release-shares?platform_id=..&binding_hash=..` (ADR 0027): the
    /// pre-authorised shares of a k-of-n bid file, released together once k holders have.
    pub async fn preauth_release_shares(
        &self,
        platform_id: &str,
        binding_hash_hex: &str,
    ) -> Result<bidkey_protocol::platforms::PreauthShares> {
        check_preauth_query(platform_id, binding_hash_hex)?;
        self.signed_get(
            "/v1/preauth/release-shares",
            &format!("platform_id={platform_id}&binding_hash={binding_hash_hex}"),
        )
        .await
    }

    /// `GET /v1/preauth/state?platform_id=..&binding_hash=..`: a bid file's
    /// pre-authorisation as the opening hall shows it (counts and times, no keys).
    pub async fn preauth_state(
        &self,
        platform_id: &str,
        binding_hash_hex: &str,
    ) -> Result<bidkey_protocol::platforms::PreauthState> {
        check_preauth_query(platform_id, binding_hash_hex)?;
        self.signed_get(
            "/v1/preauth/state",
            &format!("platform_id={platform_id}&binding_hash={binding_hash_hex}"),
        )
        .await
    }

    /// A GET only a platform may make: signed with its request key over its clock and the
    /// query exactly as sent (ADR 0015).
    async fn signed_get<T: DeserializeOwned>(&self, path: &str, query: &str) -> Result<T> {
        use bidkey_protocol::platforms::{
            GRANT_CHECK_SIGNATURE_HEADER, GRANT_CHECK_TIME_HEADER, grant_check_message,
        };
        let key = self.signer.as_ref().ok_or(PlatformError::Config(
            "platform key (PlatformClient::signed_by)",
        ))?;
        let time = match &self.clock {
            Some(clock) => (clock.0)(),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| PlatformError::Config("system clock"))?
                .as_secs() as i64,
        };
        let signature = key
            .sign(&grant_check_message(time, query))
            .map_err(|_| PlatformError::Config("platform key"))?;
        let resp = self
            .http
            .get(format!("{}{path}?{query}", self.base))
            .header(GRANT_CHECK_TIME_HEADER, time.to_string())
            .header(GRANT_CHECK_SIGNATURE_HEADER, hex::encode(signature))
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => PlatformError::Server(format!("{:?}: {}", body.code, body.message_en)),
                Err(_) => PlatformError::Network(format!("server answered HTTP {status}")),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| PlatformError::Network(format!("unexpected answer from server: {e}")))
    }
}

fn check_serial(serial: &str) -> Result<()> {
    if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PlatformError::Malformed("certificate serial"));
    }
    Ok(())
}

fn transport(e: reqwest::Error) -> PlatformError {
    if e.is_timeout() {
        PlatformError::Network("the server did not answer in time".into())
    } else {
        PlatformError::Network(format!("cannot reach the server: {e}"))
    }
}

fn is_loopback_http(base: &str) -> bool {
    ["http://127.", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| base.starts_with(p))
}

fn tls_config(ca_pem: &str) -> Result<rustls::ClientConfig> {
    let bad = PlatformError::Config("server TLS CA certificate");
    let mut roots = rustls::RootCertStore::empty();
    let mut reader = std::io::BufReader::new(ca_pem.as_bytes());
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|_| PlatformError::Config("server TLS CA certificate"))?;
        roots
            .add(cert)
            .map_err(|_| PlatformError::Config("server TLS CA certificate"))?;
    }
    if roots.is_empty() {
        return Err(bad);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PlatformError::Network(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// The query of the pre-authorisation calls: nothing in it needs escaping.
fn check_preauth_query(platform_id: &str, binding_hash_hex: &str) -> Result<()> {
    if platform_id.is_empty()
        || !platform_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PlatformError::Config("platform id"));
    }
    if binding_hash_hex.len() != 64 || !binding_hash_hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PlatformError::Malformed("binding hash"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_with_a_ca_or_loopback() {
        let t = Duration::from_secs(5);
        assert!(PlatformClient::new("http://127.0.0.1:9", None, t).is_ok());
        assert!(PlatformClient::new("http://example.com", None, t).is_err());
        assert!(PlatformClient::new("https://bidkey.example", None, t).is_err());
        assert!(PlatformClient::new("https://bidkey.example", Some("not a pem"), t).is_err());
    }

    #[tokio::test]
    async fn unreachable_server_is_a_network_error() {
        let c = PlatformClient::new("http://127.0.0.1:9", None, Duration::from_secs(2))
            .expect("client");
        assert!(matches!(c.ca_chain().await, Err(PlatformError::Network(_))));
        assert!(matches!(
            c.cert_status("../x").await,
            Err(PlatformError::Malformed(_))
        ));
    }
}
