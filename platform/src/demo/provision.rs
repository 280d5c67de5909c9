//! Register a platform with Bidkey and obtain its certificate, as the operator does when a
//! trading platform joins (a real platform sends only its CSR; the demo does both sides).

use crate::error::{PlatformError, Result};
use crate::scan::PlatformIdentity;
use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2PrivateKey};
use bidkey_crypto::x509::{CsrDraft, ca_subject};
use bidkey_protocol::certs::{PlatformCert, PlatformCertRequest};
use bidkey_protocol::platforms::{NewPlatform, Platform};

/// Register `name` at `origin` with the operator token and get a certificate for a fresh
/// SM2 key. `operator_url` is the Bidkey server's operator listener (ADR 0020), not its
/// public address.
pub async fn provision(
    http: &reqwest::Client,
    operator_url: &str,
    operator_token: &str,
    name: &str,
    origin: &str,
) -> Result<PlatformIdentity> {
    let base = operator_url.trim_end_matches('/');
    let platform: Platform = operator_call(
        http.post(format!("{base}/v1/operator/platforms")),
        operator_token,
        &NewPlatform {
            name: name.into(),
            origin: origin.into(),
            region: Some("演示".into()),
            latitude: None,
            longitude: None,
        },
    )
    .await?;
    let key = Sm2PrivateKey::make_random().map_err(PlatformError::Crypto)?;
    let spki = key
        .public_key()
        .to_spki_der()
        .map_err(PlatformError::Crypto)?;
    let subject = ca_subject(&platform.origin, name).map_err(PlatformError::Crypto)?;
    let draft = CsrDraft::new(subject, &spki).map_err(PlatformError::Crypto)?;
    let sig = key
        .sign(DEFAULT_ID, draft.to_be_signed())
        .map_err(PlatformError::Crypto)?;
    let csr = draft
        .assemble(&sig.to_der())
        .map_err(PlatformError::Crypto)?;
    let cert: PlatformCert = operator_call(
        http.post(format!(
            "{base}/v1/operator/platforms/{}/certificate",
            platform.id
        )),
        operator_token,
        &PlatformCertRequest {
            csr_der: csr.to_der().to_vec(),
            days: None,
        },
    )
    .await?;
    Ok(PlatformIdentity {
        platform_id: platform.id,
        origin: platform.origin,
        cert_der: cert.cert_der,
        key: PlatformKey::Sm2(key),
    })
}

async fn operator_call<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
    token: &str,
    body: &B,
) -> Result<T> {
    let resp = req
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .map_err(|e| PlatformError::Network(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(PlatformError::Server(format!(
            "operator call refused: {}",
            resp.status()
        )));
    }
    resp.json()
        .await
        .map_err(|e| PlatformError::Network(e.to_string()))
}
