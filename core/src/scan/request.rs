//! What the phone checks of a signed scan request itself, without trusting the relay that
//! delivered it (ADR 0016): the certificate chains to the Bidkey CA under the platform
//! profile (a bidder's certificate cannot sign a request), the platform signed these exact
//! bytes, the certificate names the request's origin, and the version is ours.

use crate::error::{CoreError, Result};
use bidkey_crypto::scan as scan_crypto;
use bidkey_crypto::x509::verify::{RequiredUsage, verify_chain_without_revocation};
use bidkey_crypto::x509::{Cert, SubjectKey};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::{SCAN_VERSION, ScanRequestBody, SignedScanRequest, request_message};

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
    Ok((body, cert))
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
    use bidkey_crypto::scan::PlatformKey;
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
            action,
        }
    }

    pub fn signed(body: &ScanRequestBody, cert: &Cert, k: Sm2PrivateKey) -> SignedScanRequest {
        let bytes = serde_json::to_vec(body).expect("json");
        SignedScanRequest {
            signature: PlatformKey::Sm2(k)
                .sign(&request_message(&bytes))
                .expect("sign"),
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
        let req = signed(&body(login()), &cert, k);
        verify_signed_request(&req, &p.root, &p.ca, T0 + 10).expect("a platform's request");
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
            verify_signed_request(&signed(&opening, &cert_a, ka), &p.root, &p.ca, T0 + 10)
                .expect("A opens");
        let opened_by = PlatformBinding::of(&opening, &cert);
        let sid = "ab".repeat(16);

        let mut from_b = body(ScanAction::Login { uscc: None });
        from_b.platform_id = "p2".into();
        from_b.origin = b_origin.into();
        from_b.session_id = Some(sid.clone());
        let (from_b, cert) =
            verify_signed_request(&signed(&from_b, &cert_b, kb), &p.root, &p.ca, T0 + 10)
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
        let req = signed(&body(login()), &bidder, k);
        assert_eq!(
            verify_signed_request(&req, &p.root, &p.ca, T0 + 10).map(|_| ()),
            Err(refused(ErrorCode::PlatformCertificateInvalid))
        );
    }
}
