//! Whole flows in unit tests: the core over a fake server, an in-memory wallet and a fixed
//! clock. The real server's side of these flows is tested end to end in `tests/`.

use super::fakes::{self, BASE, FakeServer, json};
use crate::error::CoreError;
use crate::scan::request::tests::{ORIGIN, Pki, T0, body, issue, key, pki, signed};
use crate::wallet::StoredCert;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{Cert, CertProfile, Crl, CrlTemplate};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::CaChain;
use bidkey_protocol::scan::{ScanAction, ScanKind, ScanUri, SignedScanRequest};
use reqwest::Method;
use std::sync::Arc;

/// A Bidkey CA, a platform certified for [`ORIGIN`], and what the relay hands out.
struct World {
    pki: Pki,
    platform_key: Sm2PrivateKey,
    platform_cert: Cert,
    crl: Vec<u8>,
}

impl World {
    fn new() -> World {
        let pki = pki();
        let platform_key = key();
        let platform_cert = issue(&pki, CertProfile::Platform, ORIGIN, &platform_key);
        let crl = Crl::issue(
            &CrlTemplate {
                crl_number: 1,
                this_update: T0,
                next_update: T0 + 86_400,
                revoked: vec![],
            },
            &pki.ca,
            &pki.ca_key,
        )
        .expect("crl")
        .to_der()
        .to_vec();
        World {
            pki,
            platform_key,
            platform_cert,
            crl,
        }
    }

    fn chain(&self) -> CaChain {
        CaChain {
            root_der: self.pki.root.to_der().to_vec(),
            issuing_der: self.pki.ca.to_der().to_vec(),
            root_pem: String::new(),
            issuing_pem: String::new(),
        }
    }

    /// A relay that answers the QR's request with `request` (honest or not).
    fn relay(self: &Arc<Self>, request: SignedScanRequest) -> Arc<FakeServer> {
        let world = self.clone();
        FakeServer::new(move |sent| match (&sent.method, sent.path.as_str()) {
            (&Method::GET, "/v1/ca/chain") => json(&world.chain()),
            (&Method::GET, "/v1/ca/crl") => Some(Ok(world.crl.clone())),
            (&Method::GET, p) if p.starts_with("/v1/relay/requests/") => json(&request),
            _ => None,
        })
    }
}

fn qr(request_id: &str) -> String {
    ScanUri {
        relay: BASE.into(),
        request_id: request_id.into(),
        t: 1,
        code: "ab".repeat(32),
        k: None,
    }
    .to_string()
}

/// The phone's signing certificate, as an enrolment leaves it in the wallet.
fn my_cert(w: &World) -> StoredCert {
    let k = key();
    let cert = issue(&w.pki, CertProfile::Signing, "张三", &k);
    StoredCert {
        serial: cert.serial_hex(),
        pair_id: "pair1".into(),
        usage: "signing".into(),
        enterprise_id: None,
        enterprise_name: None,
        subject: "张三".into(),
        der: cert.to_der().to_vec(),
        not_before: T0 as i64,
        not_after: T0 as i64 + 365 * 86_400,
        status: "valid".into(),
    }
}

fn login() -> ScanAction {
    ScanAction::Login { uscc: None }
}

fn refused_with(r: Result<impl std::fmt::Debug, CoreError>, code: ErrorCode) {
    match r {
        Err(e) => assert_eq!(e.code(), Some(code), "{e:?}"),
        Ok(v) => panic!("accepted: {v:?}"),
    }
}

#[tokio::test]
async fn a_scanned_login_is_verified_and_shown_with_what_the_platform_proved() {
    let w = Arc::new(World::new());
    let b = body(login());
    let server = w.relay(signed(&b, &w.platform_cert, &w.platform_key));
    let (phone, _clock) = fakes::phone(server.clone(), T0 as i64 + 10, true);
    let cert = my_cert(&w);
    phone.wallet.put_cert(&cert, T0 as i64).expect("cert");

    let view = phone.scan(&qr(&b.request_id)).await.expect("verified");
    assert_eq!(view.kind, ScanKind::Login);
    assert_eq!(view.origin, ORIGIN);
    // The name the CA certified, not one the relay or the request chose.
    assert_eq!(view.platform_name, "交易平台");
    assert_eq!(
        view.verification_code,
        bidkey_crypto::scan::verification_code(&b.nonce)
    );
    assert_eq!(view.certificate, Some(cert));
    // What the phone sent: the QR's request from our relay, logged in, the CA's chain and
    // CRL; nothing was signed or posted.
    let sent = fakes_paths(&server);
    assert!(sent[0].starts_with(&format!("/v1/relay/requests/{}", b.request_id)));
    assert!(sent.contains(&"/v1/ca/chain".to_owned()));
    assert!(sent.contains(&"/v1/ca/crl".to_owned()));
    assert!(server.sent().iter().all(|s| s.method == Method::GET));
    assert!(
        server
            .sent()
            .iter()
            .all(|s| s.token.as_deref() == Some("token-1"))
    );
    // The CA chain is kept in the wallet: a second scan does not fetch it again.
    phone.scan(&qr(&b.request_id)).await.expect("again");
    let chain_fetches = fakes_paths(&server)
        .iter()
        .filter(|p| *p == "/v1/ca/chain")
        .count();
    assert_eq!(chain_fetches, 1);
}

fn fakes_paths(server: &FakeServer) -> Vec<String> {
    server.sent().into_iter().map(|s| s.path).collect()
}

/// The attack: a hostile relay answers the QR with a request for another platform (its own
/// valid certificate, a body naming another origin), or with another QR's request.
#[tokio::test]
async fn a_hostile_relay_is_refused_before_anything_is_shown() {
    let w = Arc::new(World::new());
    let now = T0 as i64 + 10;

    // Another platform's origin in a body signed with this platform's certificate.
    let mut foreign = body(login());
    foreign.origin = "https://evil.example".into();
    let server = w.relay(signed(&foreign, &w.platform_cert, &w.platform_key));
    let (phone, _) = fakes::phone(server, now, true);
    phone.wallet.put_cert(&my_cert(&w), 0).expect("cert");
    refused_with(
        phone.scan(&qr(&foreign.request_id)).await,
        ErrorCode::ScanForeignOrigin,
    );

    // A genuine request, but not the one the QR names (replayed from another scan).
    let b = body(login());
    let server = w.relay(signed(&b, &w.platform_cert, &w.platform_key));
    let (phone, _) = fakes::phone(server, now, true);
    phone.wallet.put_cert(&my_cert(&w), 0).expect("cert");
    refused_with(
        phone.scan(&qr(&"11".repeat(16))).await,
        ErrorCode::ScanSignatureInvalid,
    );

    // A request signed by a key the certificate does not hold.
    let server = w.relay(signed(&b, &w.platform_cert, &key()));
    let (phone, _) = fakes::phone(server, now, true);
    refused_with(
        phone.scan(&qr(&b.request_id)).await,
        ErrorCode::ScanSignatureInvalid,
    );

    // A QR naming another relay is refused before the network.
    let server = w.relay(signed(&b, &w.platform_cert, &w.platform_key));
    let (phone, _) = fakes::phone(server.clone(), now, true);
    let other = ScanUri {
        relay: "https://relay.evil.example".into(),
        request_id: b.request_id.clone(),
        t: 1,
        code: "ab".repeat(32),
        k: None,
    };
    assert_eq!(
        phone.scan(&other.to_string()).await,
        Err(CoreError::InvalidInput { field: "qr_relay" })
    );
    assert!(server.sent().is_empty(), "nothing asked of any server");
}

#[tokio::test]
async fn expiry_follows_the_phones_clock() {
    let w = Arc::new(World::new());
    let b = body(login());
    let server = w.relay(signed(&b, &w.platform_cert, &w.platform_key));
    let (phone, clock) = fakes::phone(server, T0 as i64 + 10, true);
    phone.wallet.put_cert(&my_cert(&w), 0).expect("cert");
    let view = phone.scan(&qr(&b.request_id)).await.expect("in time");
    // Five minutes later the request has expired: confirming it is refused and it is
    // forgotten, with no PIN check and nothing sent.
    clock.set(view.expires_at);
    refused_with(
        phone.confirm_scan(&view.request_id, "123456").await,
        ErrorCode::ScanExpired,
    );
    assert!(matches!(
        phone.confirm_scan(&view.request_id, "123456").await,
        Err(CoreError::NotFound(_))
    ));
    // Scanned again now, it is refused outright.
    refused_with(phone.scan(&qr(&b.request_id)).await, ErrorCode::ScanExpired);
}

#[tokio::test]
async fn not_logged_in_nothing_is_fetched() {
    let w = Arc::new(World::new());
    let b = body(login());
    let server = w.relay(signed(&b, &w.platform_cert, &w.platform_key));
    let (phone, _) = fakes::phone(server.clone(), T0 as i64, false);
    assert_eq!(
        phone.scan(&qr(&b.request_id)).await,
        Err(CoreError::NotLoggedIn)
    );
    assert!(server.sent().is_empty());
}

#[tokio::test]
async fn a_server_that_answers_garbage_is_a_network_error_with_its_source() {
    let server = FakeServer::new(|_| Some(Ok(b"<html>proxy</html>".to_vec())));
    let (phone, _) = fakes::phone(server, T0 as i64, true);
    let err = phone
        .scan_sessions()
        .await
        .expect_err("not the protocol's JSON");
    assert!(
        matches!(
            &err,
            CoreError::Network(crate::error::NetworkError::BadAnswer(_))
        ),
        "{err:?}"
    );
    assert!(
        std::error::Error::source(&err)
            .and_then(std::error::Error::source)
            .is_some(),
        "the JSON error is kept: {}",
        err.chain()
    );
    assert_eq!(err.next_step(), crate::NextStep::Retry);
}
