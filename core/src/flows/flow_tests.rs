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

/// The phone's pair made as an enrolment makes it (two-party key generation with the
/// server's real half), certified by the CA, kept in the wallet under `pin`.
async fn enrolled(
    w: &World,
    phone: &crate::Bidkey,
    pin: &str,
) -> (
    StoredCert,
    bidkey_crypto::cosign::ServerShare,
    bidkey_crypto::sm2::Sm2PublicKey,
) {
    use bidkey_crypto::cosign::{DeviceKeygen, server_keygen};
    use bidkey_crypto::x509::{CertTemplate, ca_subject};
    let sid = [8u8; 32];
    let (keygen, msg) = DeviceKeygen::start(&sid).expect("keygen");
    let (server_share, server_msg) = server_keygen(&msg, &sid).expect("server keygen");
    let (share, joint) = keygen.finish(&server_msg).expect("joint key");
    let cert = Cert::issue(
        &CertTemplate {
            profile: CertProfile::Signing,
            subject: ca_subject("张三", "个人").expect("name"),
            public_key_spki: joint.to_spki_der().expect("spki"),
            not_before: T0,
            not_after: T0 + 365 * 86_400,
        },
        &w.pki.ca,
        &w.pki.ca_key,
    )
    .expect("cert");
    let stored = StoredCert {
        serial: cert.serial_hex(),
        der: cert.to_der().to_vec(),
        ..my_cert(w)
    };
    phone.wallet.put_cert(&stored, 0).expect("cert");
    phone
        .wallet
        .put_share(
            &crate::wallet::StoredShare {
                key_id: stored.serial.clone(),
                pair_id: stored.pair_id.clone(),
                usage: "signing".into(),
                public_key: joint.to_sec1(),
            },
            &share,
            pin,
            fakes::FAST,
            0,
        )
        .await
        .expect("share");
    (stored, server_share, joint)
}

/// Scan → confirm → co-sign → reply, over a fake that plays the relay and the co-signing
/// service with the real server half: a wrong PIN is refused by the server's proof check and
/// nothing is sent to the platform; the right one gives a reply only the platform opens,
/// signed under the certificate's key for this very request.
#[tokio::test]
async fn a_confirmed_login_is_co_signed_and_sealed_to_the_platform() {
    use bidkey_crypto::cosign::{ServerCosigner, SignRequest, check_final_signature};
    use bidkey_crypto::scan::{ReplyAlg, ReplySecret, Sealed};
    use bidkey_crypto::sm2::{DEFAULT_ID, Sm2Signature, verify};
    use bidkey_protocol::scan::{ReplyUpload, ScanReply, challenge_message};
    use bidkey_protocol::{ErrorBody, cosign};
    use std::sync::Mutex;

    const PIN: &str = "135790";
    let w = Arc::new(World::new());
    let secret = ReplySecret::make(ReplyAlg::Sm2Sm4Gcm).expect("platform's reply key");
    let mut b = body(login());
    b.reply_key.public_key = secret.public_key();
    let request = signed(&b, &w.platform_cert, &w.platform_key);

    // The server's side, filled in once the phone's pair exists.
    #[derive(Default)]
    struct Side {
        share: Option<bidkey_crypto::cosign::ServerShare>,
        joint: Option<bidkey_crypto::sm2::Sm2PublicKey>,
        digest: Option<[u8; 32]>,
        uploads: Vec<ReplyUpload>,
        wrong_pins: u32,
    }
    let side = Arc::new(Mutex::new(Side::default()));
    let session_id = vec![5u8; 32];
    let (world, state) = (w.clone(), side.clone());
    let server = FakeServer::new(move |sent| {
        let mut side = state.lock().expect("lock");
        let body_of = |sent: &fakes::Sent| sent.body.clone().expect("a body");
        match (&sent.method, sent.path.as_str()) {
            (&Method::GET, "/v1/ca/chain") => json(&world.chain()),
            (&Method::GET, "/v1/ca/crl") => Some(Ok(world.crl.clone())),
            (&Method::GET, p) if p.starts_with("/v1/relay/requests/") => json(&request),
            (&Method::POST, "/v1/cosign/sessions") => json(&cosign::Session {
                session_id: session_id.clone(),
                challenge: None,
                expires_at: T0 as i64 + 300,
                server_time: T0 as i64 + 10,
            }),
            (&Method::POST, "/v1/cosign/sign") => {
                let req: cosign::SignRequest = serde_json::from_value(body_of(sent)).expect("req");
                let two_party = SignRequest::from_bytes(&req.request).expect("161 bytes");
                let share = side.share.as_ref().expect("enrolled");
                match ServerCosigner::new(share).sign(&two_party, &req.session_id) {
                    Ok(resp) => {
                        side.digest = Some(*two_party.digest());
                        json(&cosign::SignResponse {
                            response: resp.to_bytes().to_vec(),
                        })
                    }
                    Err(_) => {
                        // A wrong PIN: counted, as the server counts it.
                        side.wrong_pins += 1;
                        let mut refusal = ErrorBody::new(bidkey_protocol::ErrorCode::WrongPin);
                        refusal.tries_left = Some(5 - side.wrong_pins);
                        Some(Err(refusal.into()))
                    }
                }
            }
            (&Method::POST, "/v1/cosign/sign/finish") => {
                let fin: cosign::SignFinish = serde_json::from_value(body_of(sent)).expect("fin");
                let sig = Sm2Signature::from_der(&fin.signature).expect("der");
                let (joint, e) = (side.joint.expect("key"), side.digest.expect("e"));
                check_final_signature(&joint, &e, &sig).expect("released only if valid");
                json(&cosign::SignDone {
                    serial: String::new(),
                    signature: fin.signature,
                })
            }
            (&Method::POST, p) if p.ends_with("/reply") => {
                side.uploads
                    .push(serde_json::from_value(body_of(sent)).expect("upload"));
                json(&serde_json::json!({}))
            }
            _ => None,
        }
    });
    let (phone, _) = fakes::phone(server.clone(), T0 as i64 + 10, true);
    let (cert, server_share, joint) = enrolled(&w, &phone, PIN).await;
    {
        let mut s = side.lock().expect("lock");
        s.share = Some(server_share);
        s.joint = Some(joint);
    }

    let view = phone.scan(&qr(&b.request_id)).await.expect("verified");
    let wrong = phone.confirm_scan(&view.request_id, "000000").await;
    assert_eq!(wrong, Err(CoreError::WrongPin { tries_left: 4 }));
    assert!(
        side.lock().expect("lock").uploads.is_empty(),
        "nothing sent"
    );

    let done = phone
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    assert_eq!((done.kind, done.signatures), (ScanKind::Login, 1));
    let upload = side.lock().expect("lock").uploads.pop().expect("one reply");
    let sealed = Sealed {
        ephemeral: upload.sealed.ephemeral.clone(),
        nonce: upload.sealed.nonce.as_slice().try_into().expect("nonce"),
        ciphertext: upload.sealed.ciphertext.clone(),
    };
    let plain = secret
        .open(&sealed, b.request_id.as_bytes())
        .expect("only the platform opens it");
    let reply: ScanReply = serde_json::from_slice(&plain).expect("reply");
    assert_eq!(reply.request_id, b.request_id);
    assert_eq!(reply.signer_cert.as_deref(), Some(cert.der.as_slice()));
    let sig = Sm2Signature::from_der(&reply.signatures[0].signature).expect("sig");
    verify(&joint, DEFAULT_ID, &challenge_message(&b), &sig)
        .expect("signed under the certificate's key, for this request");
    // Confirmed once: the request is forgotten.
    assert!(matches!(
        phone.confirm_scan(&view.request_id, PIN).await,
        Err(CoreError::NotFound(_))
    ));
}
