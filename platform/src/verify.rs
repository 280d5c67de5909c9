//! What a trading platform must check about a signature before it accepts it.
//!
//! Given the signer's certificate (DER), an SM2 signature (DER, default ID
//! `1234567812345678`) and the message **the platform computed itself** (never a digest the
//! phone names), [`Verifier`] checks, in order: strict DER of certificate and signature; the
//! signature; the chain to the pinned Bidkey root with validity at a **trusted time** the
//! caller gives (its own receive time or a timestamp, never the phone's claim) and
//! digitalSignature; revocation, fail-closed (a CRL of each issuer, current at that time);
//! for enterprise certificates the subject USCC against the expected bidder; and, online,
//! a live grant of the signer for this platform. Each failure is its own
//! [`PlatformError`] variant.

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use bidkey_crypto::CertProblem;
use bidkey_crypto::sm2::{self, DEFAULT_ID, Sm2Signature};
use bidkey_crypto::x509::{Cert, Crl, CrlReason, RequiredUsage, verify_chain_without_revocation};
use bidkey_protocol::certs::RevocationStatus;

/// A signature to check.
#[derive(Debug, Clone, Copy)]
pub struct SignedMessage<'a> {
    /// The signer's certificate, DER.
    pub cert_der: &'a [u8],
    /// SM2 signature `SEQUENCE { r, s }`, DER, made with the default ID.
    pub signature_der: &'a [u8],
    /// The bytes the platform itself holds (the stored file, or its challenge).
    pub message: &'a [u8],
}

/// What the platform expects of the signer.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// The bidder's unified social credit code; required for enterprise certificates when
    /// the platform knows who should be signing.
    pub uscc: Option<String>,
}

/// A signature that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The subject distinguished name.
    pub subject: String,
    /// The subject's common name (person or enterprise name).
    pub common_name: Option<String>,
    /// The enterprise USCC; `None` for a personal certificate.
    pub uscc: Option<String>,
    /// Serial of the signing certificate, hex.
    pub serial: String,
    /// The trusted time validity and revocation were checked at (Unix seconds).
    pub signed_at_checked: u64,
    /// The grant for this platform, when checked online for an enterprise certificate.
    pub grant_id: Option<String>,
    /// SHA-256 fingerprint of the signing certificate, hex.
    pub cert_fingerprint: String,
}

/// The pinned Bidkey CA: the root is the trust anchor, the issuing CA an intermediate that
/// must chain to it.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    root: Cert,
    intermediates: Vec<Cert>,
}

impl TrustAnchor {
    /// From a root the platform configured (e.g. fetched once from `/v1/ca/chain`, checked
    /// out of band by fingerprint, and stored) and any intermediates.
    pub fn new(root: Cert, intermediates: Vec<Cert>) -> Result<Self> {
        if !root.is_ca() || root.subject() != root.issuer() {
            return Err(PlatformError::Malformed("root certificate"));
        }
        Ok(Self {
            root,
            intermediates,
        })
    }

    /// Fetch `/v1/ca/chain` once and pin its root; when `expected_root_sha256` is given, the
    /// fetched root must have that fingerprint (trust is not taken from the network).
    pub async fn fetch(
        client: &PlatformClient,
        expected_root_sha256: Option<&[u8; 32]>,
    ) -> Result<Self> {
        let (root, issuing) = client.ca_chain().await?;
        if expected_root_sha256.is_some_and(|fp| *fp != root.fingerprint_sha256()) {
            return Err(CertProblem::UntrustedIssuer.into());
        }
        Self::new(root, vec![issuing])
    }

    /// Refresh the intermediates (e.g. after the issuing CA rolls over) keeping the root.
    pub fn with_intermediates(mut self, intermediates: Vec<Cert>) -> Self {
        self.intermediates = intermediates;
        self
    }

    pub fn root(&self) -> &Cert {
        &self.root
    }

    pub fn intermediates(&self) -> &[Cert] {
        &self.intermediates
    }
}

/// Checks signatures against a [`TrustAnchor`].
#[derive(Debug, Clone)]
pub struct Verifier {
    anchor: TrustAnchor,
}

impl Verifier {
    pub fn new(anchor: TrustAnchor) -> Self {
        Self { anchor }
    }

    pub fn anchor(&self) -> &TrustAnchor {
        &self.anchor
    }

    /// Everything but the grant, with the CRLs given (one per issuer, current at `at`).
    /// For the offline CLI and for platforms that mirror CRLs themselves.
    pub fn verify_with_crls(
        &self,
        signed: &SignedMessage<'_>,
        at: u64,
        crls: &[Crl],
        expected: &Expected,
    ) -> Result<Verified> {
        let cert = self.check_signature(signed)?;
        let chain = verify_chain_without_revocation(
            &cert,
            &self.anchor.intermediates,
            std::slice::from_ref(&self.anchor.root),
            at,
            RequiredUsage::Signing,
        )?;
        check_revocation(chain.certs(), crls, at)?;
        finish(&cert, at, expected, None)
    }

    /// Everything, online: fresh CRLs from the server (fail closed if they cannot be
    /// fetched or are stale), the status endpoint as a second opinion, and for an
    /// enterprise certificate a live grant for `platform_id`.
    pub async fn verify_online(
        &self,
        client: &PlatformClient,
        platform_id: &str,
        signed: &SignedMessage<'_>,
        at: u64,
        expected: &Expected,
    ) -> Result<Verified> {
        let cert = self.check_signature(signed)?;
        let chain = verify_chain_without_revocation(
            &cert,
            &self.anchor.intermediates,
            std::slice::from_ref(&self.anchor.root),
            at,
            RequiredUsage::Signing,
        )?;
        // The CRL may be up to a period old; the status endpoint is live, and its time is
        // the "now" the fetched CRLs must be current at (they are issued after `at`).
        let status = client
            .cert_status(&cert.serial_hex())
            .await
            .map_err(|e| PlatformError::RevocationUnavailable(e.to_string()))?;
        let crls = fetch_crls(client).await?;
        let fresh_at = at.max(u64::try_from(status.produced_at).unwrap_or(0));
        check_revocation(chain.certs(), &crls, fresh_at)?;
        match status.status {
            RevocationStatus::Good => {}
            RevocationStatus::Revoked | RevocationStatus::Suspended => {
                return Err(CertProblem::Revoked.into());
            }
            RevocationStatus::Unknown => {
                return Err(PlatformError::RevocationUnavailable(
                    "the server does not know the certificate".into(),
                ));
            }
        }
        let grant_id = if uscc_of(&cert)?.is_some() {
            let check = client.grant_check(platform_id, &cert.serial_hex()).await?;
            if !check.certificate_valid {
                return Err(CertProblem::Revoked.into());
            }
            match (check.granted, check.grant_id) {
                (true, Some(id)) => Some(id),
                _ => return Err(PlatformError::NoGrant),
            }
        } else {
            None
        };
        finish(&cert, at, expected, grant_id)
    }

    /// Check that `cert` is a Bidkey encryption certificate valid at `at` (revocation
    /// through `crls`), before encrypting a bid file to it.
    pub fn check_encryption_cert(&self, cert: &Cert, at: u64, crls: &[Crl]) -> Result<()> {
        let chain = verify_chain_without_revocation(
            cert,
            &self.anchor.intermediates,
            std::slice::from_ref(&self.anchor.root),
            at,
            RequiredUsage::Encryption,
        )?;
        check_revocation(chain.certs(), crls, at)
    }

    fn check_signature(&self, signed: &SignedMessage<'_>) -> Result<Cert> {
        let cert =
            Cert::from_der(signed.cert_der).map_err(|_| PlatformError::Malformed("certificate"))?;
        let sig = Sm2Signature::from_der(signed.signature_der)
            .map_err(|_| PlatformError::Malformed("signature"))?;
        // One accepted encoding per signature: re-encoding must give the bytes received.
        if sig.to_der() != signed.signature_der {
            return Err(PlatformError::Malformed("signature"));
        }
        let key = cert
            .sm2_public_key()
            .map_err(|_| PlatformError::Malformed("certificate key (SM2 required)"))?;
        sm2::verify(&key, DEFAULT_ID, signed.message, &sig)
            .map_err(|_| PlatformError::BadSignature)?;
        Ok(cert)
    }
}

/// How far a CRL's thisUpdate may lie ahead of the time it is checked at (clock skew
/// between the platform and the CA).
const CRL_SKEW: u64 = 300;

/// Revocation of every certificate below the anchor, fail-closed: each issuer needs an
/// authentic CRL (signed by it, cRLSign) that is current at `fresh_at` (thisUpdate at most
/// [`CRL_SKEW`] ahead, nextUpdate not passed); a listed serial is revoked whatever the date,
/// since a platform checks before it accepts, not afterwards.
pub fn check_revocation(chain: &[Cert], crls: &[Crl], fresh_at: u64) -> Result<()> {
    for pair in chain.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let mut current = false;
        let mut any = false;
        for crl in crls.iter().filter(|c| c.issuer() == issuer.subject()) {
            any = true;
            if crl.verify_signature(issuer).is_err()
                || !issuer.key_usage().is_some_and(|ku| ku.crl_sign)
            {
                return Err(CertProblem::BadCrl.into());
            }
            let entry = crl
                .find(cert.serial_bytes())
                .map_err(|_| PlatformError::Certificate(CertProblem::BadCrl))?;
            if entry.is_some_and(|e| e.reason != Some(CrlReason::RemoveFromCRL)) {
                return Err(CertProblem::Revoked.into());
            }
            current |= crl.this_update() <= fresh_at.saturating_add(CRL_SKEW)
                && crl.next_update().is_some_and(|next| fresh_at <= next);
        }
        match (any, current) {
            (false, _) => return Err(CertProblem::NoCrl.into()),
            (true, false) => return Err(CertProblem::StaleCrl.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Both CRLs the chain needs, fetched now.
pub async fn fetch_crls(client: &PlatformClient) -> Result<Vec<Crl>> {
    let issuing = client
        .issuing_crl()
        .await
        .map_err(|e| PlatformError::RevocationUnavailable(e.to_string()))?;
    let root = client
        .root_crl()
        .await
        .map_err(|e| PlatformError::RevocationUnavailable(e.to_string()))?;
    Ok(vec![issuing, root])
}

fn uscc_of(cert: &Cert) -> Result<Option<String>> {
    cert.subject_uscc()
        .map_err(|_| PlatformError::Malformed("certificate subject"))
}

fn finish(cert: &Cert, at: u64, expected: &Expected, grant_id: Option<String>) -> Result<Verified> {
    let uscc = uscc_of(cert)?;
    if let Some(want) = &expected.uscc
        && uscc.as_deref() != Some(want.as_str())
    {
        return Err(PlatformError::UsccMismatch);
    }
    Ok(Verified {
        subject: cert.subject_string(),
        common_name: cert
            .subject_common_name()
            .map_err(|_| PlatformError::Malformed("certificate subject"))?,
        uscc,
        serial: cert.serial_hex(),
        signed_at_checked: at,
        grant_id,
        cert_fingerprint: hex::encode(cert.fingerprint_sha256()),
    })
}
