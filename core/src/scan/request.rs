//! What the phone checks of a signed scan request itself, without trusting the relay that
//! delivered it (ADR 0016): the certificate chains to the Bidkey CA under the platform
//! profile (a bidder's certificate cannot sign a request), the platform signed these exact
//! bytes, the certificate names the request's origin, and the version is ours.

use crate::error::{CoreError, Result};
use bidkey_crypto::scan as scan_crypto;
use bidkey_crypto::x509::verify::{RequiredUsage, verify_chain_without_revocation};
use bidkey_crypto::x509::{Cert, Crl, CrlReason, SubjectKey};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::{
    MAX_REQUEST_BODY, MAX_TTL_SECS, SCAN_VERSION, ScanRequestBody, SignedScanRequest,
    is_request_id, request_message,
};

fn refused(code: ErrorCode) -> CoreError {
    CoreError::from(bidkey_protocol::ErrorBody::new(code))
}

/// The request body and the platform certificate of `signed`, checked at `at` (Unix
/// seconds) against the CA chain (`issuing` under `root`). Revocation is checked apart.
pub fn verify_signed_request(
    signed: &SignedScanRequest,
    root: &Cert,
    issuing: &Cert,
    at: u64,
) -> Result<(ScanRequestBody, Cert)> {
    // The relay's limits, enforced here too (ADR 0016): a hostile relay could pass
    // anything on, and a body is parsed only when it is of a size the relay would take.
    if signed.body.len() > MAX_REQUEST_BODY
        || signed.signature.len() > 160
        || signed.platform_cert.len() > 16 * 1024
    {
        return Err(refused(ErrorCode::BadRequest));
    }
    let body: ScanRequestBody = serde_json::from_slice(&signed.body)
        .map_err(|_| refused(ErrorCode::ScanSignatureInvalid))?;
    let cert = Cert::from_der(&signed.platform_cert)
        .map_err(|_| refused(ErrorCode::PlatformCertificateInvalid))?;
    verify_chain_without_revocation(
        &cert,
        std::slice::from_ref(issuing),
        std::slice::from_ref(root),
        at,
        RequiredUsage::PlatformRequest,
    )
    .map_err(|_| refused(ErrorCode::PlatformCertificateInvalid))?;
    let key = SubjectKey::from_spki_der(&cert.public_key_spki_der()?)?;
    scan_crypto::verify_platform_signature(&key, &request_message(&signed.body), &signed.signature)
        .map_err(|_| refused(ErrorCode::ScanSignatureInvalid))?;
    let cn = cert.subject_common_name()?.unwrap_or_default();
    if body.origin != cn {
        return Err(refused(ErrorCode::ScanForeignOrigin));
    }
    if body.v != SCAN_VERSION {
        return Err(refused(ErrorCode::ScanSignatureInvalid));
    }
    if !within_limits(&body) {
        return Err(refused(ErrorCode::BadRequest));
    }
    Ok((body, cert))
}

/// How far a CRL's thisUpdate may be ahead of the phone's clock.
const CRL_SKEW_SECS: u64 = 300;

/// The platform certificate is not revoked by its issuing CA's CRL (ADR 0016): the CRL is
/// the issuing CA's, signed by it, current at `at` (thisUpdate not ahead beyond the skew,
/// nextUpdate not passed) and does not list the certificate. Fails closed: a CRL that is
/// foreign, unsigned or stale refuses the request as a revoked certificate would.
pub fn check_not_revoked(cert: &Cert, issuing: &Cert, crl: &Crl, at: u64) -> Result<()> {
    let invalid = || refused(ErrorCode::PlatformCertificateInvalid);
    if crl.issuer() != issuing.subject()
        || crl.verify_signature(issuing).is_err()
        || !issuing.key_usage().is_some_and(|ku| ku.crl_sign)
        || crl.this_update() > at.saturating_add(CRL_SKEW_SECS)
        || crl.next_update().is_none_or(|next| at > next)
    {
        return Err(invalid());
    }
    let entry = crl.find(cert.serial_bytes()).map_err(|_| invalid())?;
    if entry.is_some_and(|e| e.reason != Some(CrlReason::RemoveFromCRL)) {
        return Err(invalid());
    }
    Ok(())
}

/// The form and limits the relay checks before it takes a request.
fn within_limits(body: &ScanRequestBody) -> bool {
    is_request_id(&body.request_id)
        && body.nonce.len() == 32
        && body.reply_key.public_key.len() == 65
        && body.expires_at > body.created_at
        && body.expires_at - body.created_at <= MAX_TTL_SECS
        && body.action.within_limits()
}

/// Who opened a session: the platform, its origin and its certificate (SM3 fingerprint).
/// Requests inside the session must come from exactly this platform and certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformBinding {
    pub platform_id: String,
    pub origin: String,
    pub cert_sm3: [u8; 32],
}

impl PlatformBinding {
    pub fn of(body: &ScanRequestBody, cert: &Cert) -> PlatformBinding {
        PlatformBinding {
            platform_id: body.platform_id.clone(),
            origin: body.origin.clone(),
            cert_sm3: cert.fingerprint_sm3(),
        }
    }
}

/// An inbox item of session `session_id`, whose verified body came from `from`: the body
/// must name that session, and when this phone opened it (`opened_by`), come from the same
/// platform and certificate. A relay cannot slip another platform's request, however well
/// signed, into a session (and its auto-confirm) the holder opened with one platform.
pub fn check_session_request(
    session_id: &str,
    opened_by: Option<&PlatformBinding>,
    body: &ScanRequestBody,
    from: &PlatformBinding,
) -> Result<()> {
    if body.session_id.as_deref() != Some(session_id) {
        return Err(refused(ErrorCode::ScanSignatureInvalid));
    }
    match opened_by {
        Some(b) if b != from => Err(refused(ErrorCode::ScanForeignOrigin)),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bidkey_crypto::sm2::DEFAULT_ID;
    use bidkey_crypto::sm2::Sm2PrivateKey;
    use bidkey_crypto::x509::{CertProfile, CertTemplate, TbsSigner, ca_subject};
    use bidkey_protocol::scan::*;

    pub const T0: u64 = 1_767_225_600;
    pub const ORIGIN: &str = "https://ggzy.example.cn";

    pub struct Pki {
        pub root: Cert,
        pub ca: Cert,
        pub ca_key: Sm2PrivateKey,
    }

    pub fn key() -> Sm2PrivateKey {
        Sm2PrivateKey::make_random().expect("key")
    }

    pub fn issue(pki: &Pki, profile: CertProfile, cn: &str, k: &Sm2PrivateKey) -> Cert {
        // Same subject shape for both, so only the profile tells them apart.
        let subject = ca_subject(cn, "交易平台").expect("name");
        let t = CertTemplate {
            profile,
            subject,
            public_key_spki: TbsSigner::public_key_spki(k).expect("spki"),
            not_before: T0,
            not_after: T0 + 365 * 86_400,
        };
        Cert::issue(&t, &pki.ca, &pki.ca_key).expect("issue")
    }

    pub fn pki() -> Pki {
        let root_key = key();
        let root = Cert::self_signed_root(
            ca_subject("根", "Bidkey").expect("name"),
            &root_key,
            T0,
            T0 + 1000 * 86_400,
        )
        .expect("root");
        let ca_key = key();
        let t = CertTemplate {
            profile: CertProfile::IssuingCa,
            subject: ca_subject("签发", "Bidkey").expect("name"),
            public_key_spki: TbsSigner::public_key_spki(&ca_key).expect("spki"),
            not_before: T0,
            not_after: T0 + 900 * 86_400,
        };
        let ca = Cert::issue(&t, &root, &root_key).expect("ca");
        Pki { root, ca, ca_key }
    }

    pub fn body(action: ScanAction) -> ScanRequestBody {
        ScanRequestBody {
            v: SCAN_VERSION,
            request_id: "00".repeat(16),
            platform_id: "p1".into(),
            origin: ORIGIN.into(),
            created_at: T0 as i64,
            expires_at: T0 as i64 + 300,
            nonce: vec![7; 32],
            reply_key: ReplyKey {
                alg: ReplyAlg::Sm2Sm4Gcm,
                public_key: bidkey_crypto::scan::ReplySecret::make(
                    bidkey_crypto::scan::ReplyAlg::Sm2Sm4Gcm,
                )
                .expect("reply key")
                .public_key(),
            },
            session_id: None,
            webhook_url: None,
            action,
        }
    }

    pub fn signed(body: &ScanRequestBody, cert: &Cert, k: &Sm2PrivateKey) -> SignedScanRequest {
        let bytes = serde_json::to_vec(body).expect("json");
        SignedScanRequest {
            signature: k
                .sign(DEFAULT_ID, &request_message(&bytes))
                .expect("sign")
                .to_der(),
            body: bytes,
            platform_cert: cert.to_der().to_vec(),
        }
    }

    fn login() -> ScanAction {
        ScanAction::Login { uscc: None }
    }

    #[test]
    fn a_platform_certificate_signs_requests() {
        let p = pki();
        let k = key();
        let cert = issue(&p, CertProfile::Platform, ORIGIN, &k);
        let req = signed(&body(login()), &cert, &k);
        verify_signed_request(&req, &p.root, &p.ca, T0 + 10).expect("a platform's request");
    }

    /// The attack: requests the relay itself refuses, passed on by a hostile relay with the
    /// platform's valid signature: a body over the size limit, too many files, an
    /// over-long life, and a 100-byte document digest.
    #[test]
    fn requests_over_the_relays_limits_are_refused() {
        let p = pki();
        let k = key();
        let cert = issue(&p, CertProfile::Platform, ORIGIN, &k);
        let at = T0 + 10;
        let bad = refused(ErrorCode::BadRequest);
        let check = |b: &ScanRequestBody| {
            verify_signed_request(&signed(b, &cert, &k), &p.root, &p.ca, at).map(|_| ())
        };
        let mut b = body(ScanAction::Bind {
            platform_user: "u".repeat(MAX_REQUEST_BODY),
            uscc: None,
        });
        assert_eq!(check(&b), Err(bad.clone()), "oversized body");
        b.action = ScanAction::Bind {
            platform_user: "u".repeat(bidkey_protocol::scan::MAX_FIELD + 1),
            uscc: None,
        };
        assert_eq!(check(&b), Err(bad.clone()), "oversized field");
        let file = WrappedFileKey {
            file_name: "f".into(),
            recipient_serial: "01".into(),
            wrapped_key: vec![0; 100],
            header_hash: vec![0; 32],
        };
        b.action = ScanAction::Decrypt {
            tender_id: "T".into(),
            tender_name: "T".into(),
            opening_at: T0 as i64,
            files: vec![file; bidkey_protocol::scan::MAX_FILES + 1],
        };
        assert_eq!(check(&b), Err(bad.clone()), "too many files");
        b.action = ScanAction::Sign {
            uscc: None,
            documents: vec![DocumentToSign {
                name: "a.pdf".into(),
                digest_alg: DigestAlg::Sm3,
                digest: vec![1; 100],
                page_count: 1,
                seal: None,
            }],
        };
        assert_eq!(check(&b), Err(bad.clone()), "a 100-byte digest");
        b.action = ScanAction::Login { uscc: None };
        b.expires_at = b.created_at + MAX_TTL_SECS + 1;
        assert_eq!(check(&b), Err(bad), "too long a life");
        b.expires_at = b.created_at + 60;
        check(&b).expect("within the limits");
    }

    /// The attack: a relay passes on a request signed with a revoked platform certificate
    /// (the relay's own check would have refused it); also a stale CRL, one signed by
    /// another key.
    #[test]
    fn a_revoked_platform_certificate_is_refused() {
        use bidkey_crypto::x509::{CrlTemplate, RevokedEntry};
        let p = pki();
        let k = key();
        let cert = issue(&p, CertProfile::Platform, ORIGIN, &k);
        let crl = |revoked: Vec<RevokedEntry>, signer: &Sm2PrivateKey| {
            Crl::issue(
                &CrlTemplate {
                    crl_number: 1,
                    this_update: T0,
                    next_update: T0 + 86_400,
                    revoked,
                },
                &p.ca,
                signer,
            )
        };
        let empty = crl(vec![], &p.ca_key).expect("crl");
        check_not_revoked(&cert, &p.ca, &empty, T0 + 10).expect("not revoked");
        let listed = crl(
            vec![RevokedEntry {
                serial: cert.serial_bytes().to_vec(),
                revoked_at: T0,
                reason: None,
            }],
            &p.ca_key,
        )
        .expect("crl");
        let invalid = Err(refused(ErrorCode::PlatformCertificateInvalid));
        assert_eq!(check_not_revoked(&cert, &p.ca, &listed, T0 + 10), invalid);
        assert_eq!(
            check_not_revoked(&cert, &p.ca, &empty, T0 + 2 * 86_400),
            invalid,
            "stale"
        );
        assert!(
            crl(vec![], &key()).is_err(),
            "a foreign key cannot issue it"
        );
    }

    /// The attack: an inbox item with platform A's session id whose body platform B signed
    /// (B's own, valid certificate, naming A's session).
    #[test]
    fn another_platforms_request_in_a_session_is_refused() {
        let p = pki();
        let (ka, kb) = (key(), key());
        let cert_a = issue(&p, CertProfile::Platform, ORIGIN, &ka);
        let b_origin = "https://ggzy.other.example.cn";
        let cert_b = issue(&p, CertProfile::Platform, b_origin, &kb);
        let mut opening = body(ScanAction::Session {
            ttl_secs: 600,
            auto_confirm_allowed: true,
            uscc: None,
        });
        opening.request_id = "01".repeat(16);
        let (opening, cert) =
            verify_signed_request(&signed(&opening, &cert_a, &ka), &p.root, &p.ca, T0 + 10)
                .expect("A opens");
        let opened_by = PlatformBinding::of(&opening, &cert);
        let sid = "ab".repeat(16);

        let mut from_b = body(ScanAction::Login { uscc: None });
        from_b.platform_id = "p2".into();
        from_b.origin = b_origin.into();
        from_b.session_id = Some(sid.clone());
        let (from_b, cert) =
            verify_signed_request(&signed(&from_b, &cert_b, &kb), &p.root, &p.ca, T0 + 10)
                .expect("B's own request verifies");
        assert_eq!(
            check_session_request(
                &sid,
                Some(&opened_by),
                &from_b,
                &PlatformBinding::of(&from_b, &cert)
            ),
            Err(refused(ErrorCode::ScanForeignOrigin))
        );
        // A's own request in its session passes; a body naming another session does not.
        let mut from_a = body(ScanAction::Login { uscc: None });
        from_a.session_id = Some(sid.clone());
        let a = PlatformBinding {
            ..opened_by.clone()
        };
        check_session_request(&sid, Some(&opened_by), &from_a, &a).expect("A's own");
        assert!(check_session_request(&"cd".repeat(16), Some(&opened_by), &from_a, &a).is_err());
    }

    /// The attack: a request signed with a bidder's signing certificate (valid, same CA,
    /// CN set to the origin) delivered by a hostile relay.
    #[test]
    fn a_bidder_certificate_cannot_sign_a_request() {
        let p = pki();
        let k = key();
        let bidder = issue(&p, CertProfile::Signing, ORIGIN, &k);
        let req = signed(&body(login()), &bidder, &k);
        assert_eq!(
            verify_signed_request(&req, &p.root, &p.ca, T0 + 10).map(|_| ()),
            Err(refused(ErrorCode::PlatformCertificateInvalid))
        );
    }
}
