//! What a reply proves, checked against the request the platform itself made: the
//! challenge signature over the exact message the platform expects, or for each document a
//! detached CMS SignedData whose messageDigest is the digest the platform computed itself;
//! the signer's chain, revocation, validity at the platform's receive time, the enterprise
//! it expects and the grant for this platform; each unwrapped key for a file it asked
//! about. Each document signature then gets a `signatureTimeStampToken` from the Bidkey TSA,
//! so its time is proven and not only claimed.

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use crate::timestamp::TsaTrust;
use crate::verify::{Expected, SignedMessage, Verified, Verifier};
use bidkey_crypto::cms::{Content, HashAlgorithm, oids, verify_signed_data};
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
    /// The seal and place the phone confirmed (as the platform asked).
    pub seal: Option<SealPlacement>,
    /// The detached CMS SignedData (DER) with the signer's chain and the TSA's
    /// `signatureTimeStampToken`: the `.p7s` to keep, or a PDF's `/Contents`.
    pub signed_data: Vec<u8>,
    /// The signed attribute signingTime (the co-signing server's clock), Unix seconds.
    pub signing_time: u64,
    /// The timestamp's genTime, Unix seconds: when the signature provably existed.
    pub timestamp_time: u64,
    /// For a GB/T 38540 electronic seal: the `SES_Signature` with the TSA's timestamp over
    /// its signature value (the `.ses` to keep), and what it says.
    pub ses_signature: Option<Vec<u8>>,
    pub seal_report: Option<crate::eseal::SealReport>,
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
                if reply.documents.len() != documents.len() {
                    return Err(PlatformError::BadReply("documents"));
                }
                let mut verified = None;
                for (doc, got) in documents.iter().zip(&reply.documents) {
                    if got.name != doc.name {
                        return Err(PlatformError::BadReply("document order"));
                    }
                    let (v, signing_time) = self
                        .check_cms(
                            Some(cert),
                            &got.signed_data,
                            doc.digest_alg,
                            &doc.digest,
                            &expected,
                        )
                        .await?;
                    let (signed_data, timestamp_time) = self
                        .timestamp(&got.signed_data, doc.digest_alg, &doc.digest)
                        .await?;
                    let (ses_signature, seal_report) = match &got.ses_signature {
                        None => (None, None),
                        Some(ses) => {
                            let (der, report) = self.check_seal(doc, cert, ses).await?;
                            (Some(der), Some(report))
                        }
                    };
                    out.documents.push(VerifiedDocument {
                        name: doc.name.clone(),
                        seal: doc.seal.clone(),
                        signed_data,
                        signing_time,
                        timestamp_time,
                        ses_signature,
                        seal_report,
                    });
                    verified = Some(v);
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

    /// Verify a stored document signature again, now: for a platform re-checking a bid
    /// before it accepts it (a grant may have been revoked, a certificate revoked).
    /// `digest` is the platform's own digest of its stored file. Returns the signer and
    /// the signature's timestamped time (a stored signature must carry its timestamp).
    pub async fn recheck(
        &self,
        signed_data: &[u8],
        digest_alg: DigestAlg,
        digest: &[u8],
        uscc: Option<&str>,
    ) -> Result<(Verified, u64)> {
        let expected = Expected {
            uscc: uscc.map(str::to_owned),
        };
        let (v, _) = self
            .check_cms(None, signed_data, digest_alg, digest, &expected)
            .await?;
        let parsed = verify_signed_data(signed_data, detached(digest_alg, digest), &[])?;
        let at = parsed
            .signers
            .first()
            .and_then(|s| s.timestamps.first())
            .ok_or(PlatformError::BadReply("no timestamp"))?;
        crate::timestamp::check_tsa_chain(at, &self.tsa_trust())?;
        Ok((v, at.gen_time))
    }

    /// A detached SignedData with exactly one signer, over `digest` (the platform's own),
    /// of content type data, with a signingTime, by `cert_der` when given; then the
    /// signer's chain, revocation and grant. Returns the signer and the signingTime.
    async fn check_cms(
        &self,
        cert_der: Option<&[u8]>,
        signed_data: &[u8],
        digest_alg: DigestAlg,
        digest: &[u8],
        expected: &Expected,
    ) -> Result<(Verified, u64)> {
        let parsed = verify_signed_data(signed_data, detached(digest_alg, digest), &[])
            .map_err(|_| PlatformError::BadReply("document signature"))?;
        let [one] = parsed.signers.as_slice() else {
            return Err(PlatformError::BadReply("document signers"));
        };
        let signer_der = one.cert.to_der();
        if cert_der.is_some_and(|c| c != signer_der) {
            return Err(PlatformError::BadReply("signer certificate"));
        }
        let attrs = one
            .attributes
            .as_ref()
            .ok_or(PlatformError::BadReply("signed attributes"))?;
        if ![oids::PKCS7_DATA, oids::GM_DATA].contains(&attrs.content_type) {
            return Err(PlatformError::BadReply("content type"));
        }
        let signing_time = attrs
            .signing_time
            .ok_or(PlatformError::BadReply("signing time"))?;
        let v = self
            .check(
                signer_der,
                one.signer_info.signature(),
                &attrs.der,
                expected,
            )
            .await?;
        Ok((v, signing_time))
    }

    /// A GB/T 38540 seal signature in a reply: only for a document the platform asked to
    /// seal, by the reply's signer, over the platform's own digest; timestamped here, then
    /// verified with the seal's status from the server (listed signer, validity, not
    /// revoked).
    async fn check_seal(
        &self,
        doc: &DocumentToSign,
        cert: &[u8],
        ses: &[u8],
    ) -> Result<(Vec<u8>, crate::eseal::SealReport)> {
        if doc.seal.is_none() || doc.digest_alg != DigestAlg::Sm3 {
            return Err(PlatformError::BadReply("seal signature"));
        }
        let first = bidkey_crypto::ses::verify_signature(ses, Some(&doc.digest), &[])
            .map_err(|e| PlatformError::Seal(e.to_string()))?;
        if first.signer.to_der() != cert {
            return Err(PlatformError::BadReply("seal signer"));
        }
        let trust = self.tsa_trust();
        let stamped = self.client.timestamp_ses_signature(ses, &trust).await?;
        let report =
            crate::eseal::verify_online(&self.client, &stamped, Some(&doc.digest), &trust).await?;
        Ok((stamped, report))
    }

    /// Add the Bidkey TSA's timestamp of the signature; returns the new DER and genTime.
    async fn timestamp(
        &self,
        signed_data: &[u8],
        digest_alg: DigestAlg,
        digest: &[u8],
    ) -> Result<(Vec<u8>, u64)> {
        let content = detached(digest_alg, digest);
        let der = self
            .client
            .timestamp_signed_data(signed_data, content, &self.tsa_trust())
            .await?;
        let at = verify_signed_data(&der, content, &[])?
            .signers
            .first()
            .and_then(|s| s.timestamps.first())
            .map(|t| t.gen_time)
            .ok_or(PlatformError::BadReply("no timestamp"))?;
        Ok((der, at))
    }

    /// TSA certificates are issued by the Bidkey CA the platform already trusts.
    /// The trust anchor replies are checked against.
    pub fn anchor(&self) -> &crate::verify::TrustAnchor {
        self.verifier.anchor()
    }

    fn tsa_trust(&self) -> TsaTrust {
        TsaTrust {
            roots: vec![self.verifier.anchor().root().clone()],
            intermediates: self.verifier.anchor().intermediates().to_vec(),
        }
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

/// The platform's own digest of a detached document.
fn detached(alg: DigestAlg, digest: &[u8]) -> Content<'_> {
    Content::DetachedDigest {
        algorithm: match alg {
            DigestAlg::Sm3 => HashAlgorithm::Sm3,
            DigestAlg::Sha256 => HashAlgorithm::Sha256,
        },
        digest,
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
