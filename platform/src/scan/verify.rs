//! What a reply proves, checked against the request the platform itself made: each
//! signature over the exact message the platform expects (its own challenge, its own
//! digests), the signer's chain, revocation, validity at the platform's receive time, the
//! enterprise it expects and the grant for this platform; each unwrapped key for a file it
//! asked about.

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use crate::verify::{Expected, SignedMessage, Verified, Verifier};
use bidkey_crypto::x509::Cert;
use bidkey_protocol::scan::*;

/// Verifies replies for one platform.
#[derive(Debug, Clone)]
pub struct ReplyVerifier {
    client: PlatformClient,
    verifier: Verifier,
    platform_id: String,
}

/// The signer, as its verified certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub serial: String,
    /// CN: the person (or the enterprise for a unit certificate).
    pub common_name: String,
    /// O: the enterprise, for enterprise certificates.
    pub organization: Option<String>,
    pub uscc: Option<String>,
    pub grant_id: Option<String>,
    pub cert_der: Vec<u8>,
}

/// One verified document signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDocument {
    pub name: String,
    pub seal_id: Option<String>,
    pub signature: Vec<u8>,
    /// The exact bytes signed (the digest, or the seal message).
    pub message: Vec<u8>,
}

/// Everything a reply proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReply {
    pub signer: Option<Signer>,
    pub documents: Vec<VerifiedDocument>,
    /// Unwrapped bid-file keys, one per requested file the phone could open.
    pub file_keys: Vec<ReplyFileKey>,
    /// The bidder's encryption certificate (bind / login), checked to belong to the signer.
    pub encryption_cert: Option<Vec<u8>>,
    pub session: Option<SessionGrant>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ReplyVerifier {
    pub fn new(client: PlatformClient, verifier: Verifier, platform_id: &str) -> ReplyVerifier {
        ReplyVerifier {
            client,
            verifier,
            platform_id: platform_id.to_owned(),
        }
    }

    /// Check `reply` (opened from the relay) against `body` (the request as the platform
    /// made it), at the platform's own clock.
    pub async fn check_reply(
        &self,
        body: &ScanRequestBody,
        reply: &ScanReply,
    ) -> Result<VerifiedReply> {
        if reply.request_id != body.request_id {
            return Err(PlatformError::BadReply("request id"));
        }
        if reply.outcome != ReplyOutcome::Approved {
            return Err(PlatformError::Rejected(reply.reason.clone()));
        }
        let expected = Expected {
            uscc: body.action.uscc().map(str::to_owned),
        };
        let mut out = VerifiedReply {
            signer: None,
            documents: vec![],
            file_keys: vec![],
            encryption_cert: None,
            session: reply.session.clone(),
        };
        match &body.action {
            ScanAction::Decrypt { files, .. } => {
                out.file_keys = check_file_keys(files, &reply.file_keys)?;
            }
            ScanAction::Sign { documents, .. } => {
                let cert = reply
                    .signer_cert
                    .as_deref()
                    .ok_or(PlatformError::BadReply("signer certificate"))?;
                let mut verified = None;
                for doc in documents {
                    let sig = reply
                        .signatures
                        .iter()
                        .find(|s| s.name == doc.name)
                        .ok_or(PlatformError::BadReply("a document's signature"))?;
                    let wanted_seal = doc.seal.as_ref().and_then(|p| p.seal_id.as_deref());
                    if wanted_seal.is_some() && wanted_seal != sig.seal_id.as_deref() {
                        return Err(PlatformError::BadReply("seal"));
                    }
                    if doc.seal.is_none() && sig.seal_id.is_some() {
                        return Err(PlatformError::BadReply("seal"));
                    }
                    let message = document_message(doc, sig.seal_id.as_deref());
                    verified = Some(
                        self.check(cert, &sig.signature, &message, &expected)
                            .await?,
                    );
                    out.documents.push(VerifiedDocument {
                        name: doc.name.clone(),
                        seal_id: sig.seal_id.clone(),
                        signature: sig.signature.clone(),
                        message,
                    });
                }
                out.signer = verified.map(|v| signer(&v, cert)).transpose()?;
            }
            ScanAction::Bind { .. } | ScanAction::Login { .. } | ScanAction::Session { .. } => {
                let cert = reply
                    .signer_cert
                    .as_deref()
                    .ok_or(PlatformError::BadReply("signer certificate"))?;
                let sig = reply
                    .signatures
                    .iter()
                    .find(|s| s.name == "challenge")
                    .ok_or(PlatformError::BadReply("challenge signature"))?;
                let v = self
                    .check(cert, &sig.signature, &challenge_message(body), &expected)
                    .await?;
                out.signer = Some(signer(&v, cert)?);
                if let Some(enc) = &reply.encryption_cert {
                    self.check_encryption_cert(cert, enc).await?;
                    out.encryption_cert = Some(enc.clone());
                }
                if matches!(body.action, ScanAction::Session { .. }) && reply.session.is_none() {
                    return Err(PlatformError::BadReply("session"));
                }
            }
        }
        Ok(out)
    }

    /// Verify one stored signature again, now: for a platform re-checking a bid before it
    /// accepts it (a grant may have been revoked, a certificate revoked).
    pub async fn recheck(
        &self,
        cert_der: &[u8],
        signature: &[u8],
        message: &[u8],
        uscc: Option<&str>,
    ) -> Result<Verified> {
        self.check(
            cert_der,
            signature,
            message,
            &Expected {
                uscc: uscc.map(str::to_owned),
            },
        )
        .await
    }

    async fn check(
        &self,
        cert_der: &[u8],
        signature: &[u8],
        message: &[u8],
        expected: &Expected,
    ) -> Result<Verified> {
        self.verifier
            .verify_online(
                &self.client,
                &self.platform_id,
                &SignedMessage {
                    cert_der,
                    signature_der: signature,
                    message,
                },
                unix_now(),
                expected,
            )
            .await
    }

    /// The encryption certificate must be ours, valid, for encryption, and name the same
    /// holder as the signing certificate.
    async fn check_encryption_cert(&self, signing_der: &[u8], enc_der: &[u8]) -> Result<()> {
        let enc = Cert::from_der(enc_der)
            .map_err(|_| PlatformError::Malformed("encryption certificate"))?;
        let signing =
            Cert::from_der(signing_der).map_err(|_| PlatformError::Malformed("certificate"))?;
        if enc.subject() != signing.subject() {
            return Err(PlatformError::BadReply(
                "encryption certificate of another holder",
            ));
        }
        let crls = crate::verify::fetch_crls(&self.client).await?;
        self.verifier.check_encryption_cert(&enc, unix_now(), &crls)
    }
}

fn signer(v: &Verified, cert_der: &[u8]) -> Result<Signer> {
    let cert = Cert::from_der(cert_der).map_err(|_| PlatformError::Malformed("certificate"))?;
    Ok(Signer {
        serial: v.serial.clone(),
        common_name: v.common_name.clone().unwrap_or_default(),
        organization: cert.subject_organization().ok().flatten(),
        uscc: v.uscc.clone(),
        grant_id: v.grant_id.clone(),
        cert_der: cert_der.to_vec(),
    })
}

/// Every key must be for a requested file, once, and 16 bytes (an SM4 key).
fn check_file_keys(files: &[WrappedFileKey], keys: &[ReplyFileKey]) -> Result<Vec<ReplyFileKey>> {
    if keys.is_empty() {
        return Err(PlatformError::BadReply("no file key"));
    }
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if !files.iter().any(|f| f.file_name == k.file_name) || !seen.insert(&k.file_name) {
            return Err(PlatformError::BadReply("a key for a file not asked about"));
        }
        if k.key.len() != crate::bidfile::FILE_KEY_LEN {
            return Err(PlatformError::BadReply("file key length"));
        }
    }
    Ok(keys.to_vec())
}
