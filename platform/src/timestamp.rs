//! Signature timestamps (RFC 3161) from the Bidkey time-stamp authority, added to CMS
//! signatures as `signatureTimeStampToken`, so a signature's time is proven by the TSA and not
//! only claimed by the signer's `signingTime`.
//!
//! The imprint is the hash of the SignerInfo's signature value under the SignerInfo's own
//! digest (SM3 for SM2 signers, answered by the SM2 TSA; SHA-256 for P-256 signers, answered
//! by the P-256 TSA). A token is accepted only if it answers the request made (imprint,
//! nonce), its signature verifies under a certificate with the critical time-stamping EKU,
//! and that certificate chains to the platform's trust anchor at the token's genTime.

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use bidkey_crypto::cms::{
    Content, SignerInfo, TimeStampRequest, TimeStampResponse, VerifiedTimestamp,
    add_timestamp_to_signed_data, verify_signed_data,
};
use bidkey_crypto::x509::{Cert, RequiredUsage, verify_chain_without_revocation};

/// `Content-Type` of a TimeStampReq.
const QUERY_TYPE: &str = "application/timestamp-query";

/// Which TSAs a platform accepts timestamps from: certificates chaining to `roots` (the
/// Bidkey root), through `intermediates` (the issuing CA), as `/v1/ca/chain` gives them.
///
/// Revocation of the TSA certificate is not checked here: the token was just obtained from
/// the server the platform trusts; a relying party checking it years later does so with the
/// CRLs of that time.
#[derive(Debug, Clone)]
pub struct TsaTrust {
    pub roots: Vec<Cert>,
    pub intermediates: Vec<Cert>,
}

impl PlatformClient {
    /// `POST /v1/tsa`: send a TimeStampReq, return the parsed TimeStampResp (not yet
    /// checked).
    pub async fn request_timestamp(&self, req: &TimeStampRequest) -> Result<TimeStampResponse> {
        let body = req.to_der()?;
        let resp = self
            .http()
            .post(format!("{}/v1/tsa", self.base()))
            .header(reqwest::header::CONTENT_TYPE, QUERY_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| PlatformError::Network(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| PlatformError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(PlatformError::Server(format!("TSA answered HTTP {status}")));
        }
        TimeStampResponse::from_der(&bytes).map_err(|_| PlatformError::Malformed("TimeStampResp"))
    }

    /// Timestamp one SignerInfo's signature and add the token to it as
    /// `signatureTimeStampToken`; returns what the token says.
    pub async fn timestamp_signer_info(
        &self,
        signer: &mut SignerInfo,
        trust: &TsaTrust,
    ) -> Result<VerifiedTimestamp> {
        let req = signer.timestamp_request(signer.digest_algorithm()?)?;
        let resp = self.request_timestamp(&req).await?;
        let ts = resp.check(&req, &[])?;
        check_tsa_chain(&ts, trust)?;
        signer.add_timestamp_token(&ts.token_der, &[])?;
        Ok(ts)
    }

    /// Timestamp every signature of a CMS SignedData (`ContentInfo` DER) and return the new
    /// DER. `content` is the detached content (or [`Content::Attached`]); the message must
    /// verify before and after.
    pub async fn timestamp_signed_data(
        &self,
        der: &[u8],
        content: Content<'_>,
        trust: &TsaTrust,
    ) -> Result<Vec<u8>> {
        let signers = verify_signed_data(der, content, &[])?.signers;
        let mut out = der.to_vec();
        for signer in signers {
            let mut info = signer.signer_info;
            let ts = self.timestamp_signer_info(&mut info, trust).await?;
            out = add_timestamp_to_signed_data(&out, &ts.token_der, content, &[])?;
        }
        Ok(out)
    }
}

/// The TSA certificate chains to the trusted root at genTime and is a time-stamping one
/// (the token verification already required the EKU).
pub fn check_tsa_chain(ts: &VerifiedTimestamp, trust: &TsaTrust) -> Result<()> {
    verify_chain_without_revocation(
        &ts.tsa_cert,
        &trust.intermediates,
        &trust.roots,
        ts.gen_time,
        RequiredUsage::Signing,
    )?;
    Ok(())
}
