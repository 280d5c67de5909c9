//! Offline verification against a local PKI: each failure a platform must catch has its own
//! error.

mod support;

use bidkey_crypto::CertProblem;
use bidkey_crypto::sm2::DEFAULT_ID;
use bidkey_crypto::x509::Crl;
use bidkey_platform::PlatformError;
use bidkey_platform::verify::{Expected, SignedMessage, TrustAnchor, Verifier};
use support::{DAY, T0, USCC, crl, pki};

const MSG: &[u8] = "投标文件 SM3 由平台自行计算".as_bytes();

struct Setup {
    p: support::Pki,
    verifier: Verifier,
    crls: Vec<Crl>,
    sig: Vec<u8>,
}

fn setup() -> Setup {
    let p = pki();
    let verifier =
        Verifier::new(TrustAnchor::new(p.root.clone(), vec![p.ca.clone()]).expect("anchor"));
    let crls = vec![
        crl(&p.ca, &p.ca_key, &[], T0, T0 + 7 * DAY),
        crl(&p.root, &p.root_key, &[], T0, T0 + 30 * DAY),
    ];
    let sig = p.sign_key.sign(DEFAULT_ID, MSG).expect("sign").to_der();
    Setup {
        p,
        verifier,
        crls,
        sig,
    }
}

fn check(
    s: &Setup,
    cert: &[u8],
    sig: &[u8],
    msg: &[u8],
    at: u64,
    crls: &[Crl],
    uscc: Option<&str>,
) -> Result<bidkey_platform::verify::Verified, PlatformError> {
    s.verifier.verify_with_crls(
        &SignedMessage {
            cert_der: cert,
            signature_der: sig,
            message: msg,
        },
        at,
        crls,
        &Expected {
            uscc: uscc.map(str::to_owned),
        },
    )
}

#[test]
fn good_signature_is_verified() {
    let s = setup();
    let v = check(
        &s,
        s.p.sign.to_der(),
        &s.sig,
        MSG,
        T0 + DAY,
        &s.crls,
        Some(USCC),
    )
    .expect("verified");
    assert_eq!(v.uscc.as_deref(), Some(USCC));
    assert_eq!(v.serial, s.p.sign.serial_hex());
    assert_eq!(v.signed_at_checked, T0 + DAY);
    assert_eq!(v.common_name.as_deref(), Some("测试建设有限公司"));
    assert!(v.grant_id.is_none(), "offline: no grant checked");
}

#[test]
fn each_failure_has_its_error() {
    let s = setup();
    let cert = s.p.sign.to_der();
    let at = T0 + DAY;
    let e = |r: Result<_, PlatformError>| r.expect_err("refused");

    assert!(matches!(
        e(check(
            &s,
            cert,
            &s.sig,
            b"another digest",
            at,
            &s.crls,
            None
        )),
        PlatformError::BadSignature
    ));
    let other = support::key().sign(DEFAULT_ID, MSG).expect("sign").to_der();
    assert!(matches!(
        e(check(&s, cert, &other, MSG, at, &s.crls, None)),
        PlatformError::BadSignature
    ));
    assert!(matches!(
        e(check(&s, cert, &s.sig, MSG, T0 + 400 * DAY, &s.crls, None)),
        PlatformError::Certificate(CertProblem::Expired)
    ));
    assert!(matches!(
        e(check(&s, cert, &s.sig, MSG, T0 - 1, &s.crls, None)),
        PlatformError::Certificate(CertProblem::NotYetValid)
    ));
    let revoked = vec![
        crl(&s.p.ca, &s.p.ca_key, &[&s.p.sign], T0, T0 + 7 * DAY),
        s.crls[1].clone(),
    ];
    assert!(matches!(
        e(check(&s, cert, &s.sig, MSG, at, &revoked, None)),
        PlatformError::Certificate(CertProblem::Revoked)
    ));
    // Fail closed: a stale CRL, or none.
    assert!(matches!(
        e(check(&s, cert, &s.sig, MSG, T0 + 8 * DAY, &s.crls, None)),
        PlatformError::Certificate(CertProblem::StaleCrl)
    ));
    assert!(matches!(
        e(check(&s, cert, &s.sig, MSG, at, &s.crls[1..], None)),
        PlatformError::Certificate(CertProblem::NoCrl)
    ));
    // Another CA's certificate, validly signed by its own key.
    let stranger = pki();
    let sig2 = stranger
        .sign_key
        .sign(DEFAULT_ID, MSG)
        .expect("sign")
        .to_der();
    assert!(matches!(
        e(check(
            &s,
            stranger.sign.to_der(),
            &sig2,
            MSG,
            at,
            &s.crls,
            None
        )),
        PlatformError::Certificate(CertProblem::BadSignature | CertProblem::UntrustedIssuer)
    ));
    // The encryption certificate may not sign.
    let enc_sig = s.p.enc_key.sign(DEFAULT_ID, MSG).expect("sign").to_der();
    assert!(matches!(
        e(check(
            &s,
            s.p.enc.to_der(),
            &enc_sig,
            MSG,
            at,
            &s.crls,
            None
        )),
        PlatformError::Certificate(CertProblem::KeyUsage(_))
    ));
    assert!(matches!(
        e(check(
            &s,
            cert,
            &s.sig,
            MSG,
            at,
            &s.crls,
            Some("91110000600037341L")
        )),
        PlatformError::UsccMismatch
    ));
}

#[test]
fn strict_der() {
    let s = setup();
    let at = T0 + DAY;
    let cert = s.p.sign.to_der();
    let mut trailing = cert.to_vec();
    trailing.push(0);
    assert!(matches!(
        check(&s, &trailing, &s.sig, MSG, at, &s.crls, None),
        Err(PlatformError::Malformed("certificate"))
    ));
    assert!(matches!(
        check(&s, &cert[..cert.len() - 1], &s.sig, MSG, at, &s.crls, None),
        Err(PlatformError::Malformed("certificate"))
    ));
    // A long-form length for the outer SEQUENCE is valid BER, not DER.
    let mut ber = vec![0x30, 0x81, s.sig[1]];
    ber.extend_from_slice(&s.sig[2..]);
    assert!(matches!(
        check(&s, cert, &ber, MSG, at, &s.crls, None),
        Err(PlatformError::Malformed("signature"))
    ));
    assert!(matches!(
        check(&s, cert, &s.sig[..10], MSG, at, &s.crls, None),
        Err(PlatformError::Malformed("signature"))
    ));
}

#[test]
fn anchor_must_be_a_self_signed_ca() {
    let p = pki();
    assert!(TrustAnchor::new(p.ca.clone(), vec![]).is_err());
    assert!(TrustAnchor::new(p.sign.clone(), vec![]).is_err());
}

/// Online, an unreachable server means no revocation status: refused, never accepted.
#[tokio::test]
async fn unreachable_server_fails_closed() {
    let s = setup();
    let client = bidkey_platform::client::PlatformClient::new(
        "http://127.0.0.1:9",
        None,
        std::time::Duration::from_secs(2),
    )
    .expect("client");
    let r = s
        .verifier
        .verify_online(
            &client,
            "platform",
            &SignedMessage {
                cert_der: s.p.sign.to_der(),
                signature_der: &s.sig,
                message: MSG,
            },
            T0 + DAY,
            &Expected::default(),
        )
        .await;
    assert!(
        matches!(r, Err(PlatformError::RevocationUnavailable(_))),
        "{r:?}"
    );
}

/// A CRL fetched just after the trusted time (issued a little later) is current; one from
/// far in the future of that time is not.
#[test]
fn crl_issued_just_after_the_trusted_time_counts() {
    let s = setup();
    let at = T0 + DAY;
    let later = |delta: u64| {
        vec![
            crl(&s.p.ca, &s.p.ca_key, &[], at + delta, at + delta + DAY),
            s.crls[1].clone(),
        ]
    };
    check(&s, s.p.sign.to_der(), &s.sig, MSG, at, &later(2), None).expect("two seconds later");
    assert!(matches!(
        check(&s, s.p.sign.to_der(), &s.sig, MSG, at, &later(3600), None),
        Err(PlatformError::Certificate(CertProblem::StaleCrl))
    ));
}
