//! GB/T 38540 electronic seal signatures (`SES_Signature`) as a platform receives and keeps
//! them: the SDK timestamps the signature value with the Bidkey TSA, and verifies a seal
//! signature: the signer's and the seal maker's SM2 signatures, the seal maker's certificate
//! chain to the Bidkey root, the signer's certificate in the seal's list, the seal valid and
//! not revoked when it was used (the timestamped time), dataHash the document's digest.

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use crate::timestamp::{TsaTrust, check_tsa_chain};
use bidkey_crypto::cms::{HashAlgorithm, TimeStampRequest};
use bidkey_crypto::ses::{self, VerifiedSesSignature};
use bidkey_crypto::x509::verify::{RequiredUsage, verify_chain_without_revocation};
use bidkey_protocol::platforms::{SealStatus, SealStatusReport};
use serde::Serialize;

/// What a verified seal signature says, for reports and pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealReport {
    pub es_id: String,
    pub name: String,
    pub seal_type: u32,
    /// The seal maker's certificate subject.
    pub maker: String,
    pub valid_start: u64,
    pub valid_end: u64,
    /// The signer's certificate subject.
    pub signer: String,
    /// Whether the signer's certificate is in the seal's list.
    pub signer_listed: bool,
    /// When the seal was used: the timestamp's genTime, else the claimed timeInfo.
    pub used_at: u64,
    pub timestamped: bool,
    /// Whether the seal was within its validity then.
    pub valid_when_used: bool,
    /// From the server's seal status, when asked.
    pub revoked_at: Option<i64>,
    pub property_info: String,
    pub width_mm: u32,
    pub height_mm: u32,
    #[serde(skip)]
    pub picture_png: Vec<u8>,
}

impl SealReport {
    fn of(v: &VerifiedSesSignature) -> SealReport {
        SealReport {
            es_id: v.seal.es_id.clone(),
            name: v.seal.name.clone(),
            seal_type: v.seal.seal_type,
            maker: v.seal.maker.subject_string(),
            valid_start: v.seal.valid_start,
            valid_end: v.seal.valid_end,
            signer: v.signer.subject_string(),
            signer_listed: v.signer_listed,
            used_at: v.used_at(),
            timestamped: v.timestamp.is_some(),
            valid_when_used: v.seal_valid_when_used(),
            revoked_at: None,
            property_info: v.property_info.clone(),
            width_mm: v.seal.picture.width_mm,
            height_mm: v.seal.picture.height_mm,
            picture_png: v.seal.picture.data.clone(),
        }
    }

    /// Whether the seal signature is acceptable: listed signer, used within validity, and
    /// not after a revocation.
    pub fn acceptable(&self) -> bool {
        self.signer_listed
            && self.valid_when_used
            && self
                .revoked_at
                .is_none_or(|r| u64::try_from(r).is_ok_and(|r| self.used_at < r))
    }
}

/// Verify a `SES_Signature` offline: signatures, dataHash against `data_hash` when given, the
/// seal maker's chain (and the TSA's, when timestamped) to `trust` at the time the seal was
/// used. Says, and does not refuse, whether the signer is listed and the seal valid then.
pub fn verify(der: &[u8], data_hash: Option<&[u8]>, trust: &TsaTrust) -> Result<SealReport> {
    let v = ses::verify_signature(der, data_hash, &[])
        .map_err(|e| PlatformError::Seal(e.to_string()))?;
    verify_chain_without_revocation(
        &v.seal.maker,
        &trust.intermediates,
        &trust.roots,
        v.used_at(),
        RequiredUsage::Signing,
    )?;
    if let Some(ts) = &v.timestamp {
        check_tsa_chain(ts, trust)?;
    }
    Ok(SealReport::of(&v))
}

/// [`verify`], then the seal's status from the server, and refuse what is not acceptable.
pub async fn verify_online(
    client: &PlatformClient,
    der: &[u8],
    data_hash: Option<&[u8]>,
    trust: &TsaTrust,
) -> Result<SealReport> {
    let mut report = verify(der, data_hash, trust)?;
    let status = client.seal_status(&report.es_id).await?;
    if status.status == SealStatus::Pending {
        return Err(PlatformError::Seal("the seal was never approved".into()));
    }
    report.revoked_at = status.revoked_at;
    refuse_unacceptable(&report)?;
    Ok(report)
}

/// Turn a report into a refusal when the seal signature is not acceptable.
pub fn refuse_unacceptable(report: &SealReport) -> Result<()> {
    if !report.signer_listed {
        return Err(PlatformError::Seal(
            "the signer is not among the seal's allowed certificates".into(),
        ));
    }
    if !report.valid_when_used {
        return Err(PlatformError::Seal(
            "the seal was used outside its validity".into(),
        ));
    }
    if !report.acceptable() {
        return Err(PlatformError::Seal(
            "the seal was revoked before it was used".into(),
        ));
    }
    Ok(())
}

impl PlatformClient {
    /// `GET /v1/seals/{es_id}/status`.
    pub async fn seal_status(&self, es_id: &str) -> Result<SealStatusReport> {
        if es_id.is_empty()
            || es_id.len() > 64
            || !es_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(PlatformError::Seal("esID".into()));
        }
        self.get_json_public(&format!("/v1/seals/{es_id}/status"))
            .await
    }

    /// Timestamp a `SES_Signature`'s signature value with the Bidkey TSA (SM3 imprint) and
    /// put the token in its `timeStamp`; returns the new DER.
    pub async fn timestamp_ses_signature(&self, der: &[u8], trust: &TsaTrust) -> Result<Vec<u8>> {
        let v = ses::verify_signature(der, None, &[])
            .map_err(|e| PlatformError::Seal(e.to_string()))?;
        let req =
            TimeStampRequest::new(HashAlgorithm::Sm3, &HashAlgorithm::Sm3.digest(&v.signature))?
                .with_cert_req(true);
        let resp = self.request_timestamp(&req).await?;
        let ts = resp.check(&req, &[])?;
        check_tsa_chain(&ts, trust)?;
        Ok(ses::add_timestamp(der, &ts.token_der, &[])?)
    }
}

/// Every parser of seals and seal signatures on `data`, for the fuzz target
/// (`platform/fuzz`, `verify_ses`) and its corpus test: errors are fine, panics are not.
pub fn fuzz_one(data: &[u8]) {
    let _ = ses::verify_seal(data);
    let _ = ses::verify_signature(data, None, &[]);
    let _ = ses::tbs_sign_der(data, 0, &[0u8; 32], "x");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> SealReport {
        SealReport {
            es_id: "BK1".into(),
            name: "公章".into(),
            seal_type: 1,
            maker: "CN=Bidkey Seal Maker".into(),
            valid_start: 100,
            valid_end: 1000,
            signer: "CN=李四".into(),
            signer_listed: true,
            used_at: 500,
            timestamped: true,
            valid_when_used: true,
            revoked_at: None,
            property_info: String::new(),
            width_mm: 40,
            height_mm: 40,
            picture_png: vec![],
        }
    }

    #[test]
    fn a_seal_used_after_its_revocation_is_refused_and_before_it_is_not() {
        let mut r = report();
        refuse_unacceptable(&r).expect("fine");
        r.revoked_at = Some(501);
        refuse_unacceptable(&r).expect("used before the revocation");
        for at in [500, 499] {
            r.revoked_at = Some(at);
            assert!(matches!(
                refuse_unacceptable(&r),
                Err(PlatformError::Seal(_))
            ));
        }
    }

    #[test]
    fn an_unlisted_signer_or_an_expired_seal_is_refused() {
        let mut r = report();
        r.signer_listed = false;
        assert!(refuse_unacceptable(&r).is_err());
        let mut r = report();
        r.valid_when_used = false;
        assert!(refuse_unacceptable(&r).is_err());
    }
}
