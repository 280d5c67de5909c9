//! The relay with a real phone (`bidkey-core`) on SQLite and PostgreSQL: an enrolled
//! person logs in on a platform by QR code, then opens an auto-confirm session in which a
//! sign request arrives without a QR code. The platform side is plain code here: it signs
//! requests, polls, opens the sealed replies and checks the signatures with the signer's
//! certificate.

use bidkey_core::Bidkey;
use bidkey_crypto::scan::{
    PlatformKey, ReplyAlg as CryptoAlg, ReplySecret, Sealed, verification_code,
};
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2Signature, verify};
use bidkey_crypto::x509::Cert;
use bidkey_protocol::scan::*;
use bidkey_testkit::phones::{
    PIN, approve_and_pay, id_number, identity, phone_at, registered, registered_platform,
};
use bidkey_testkit::{Store, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_logs_in_and_signs_in_a_session_sqlite() {
    phone_logs_in_and_signs_in_a_session(Store::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_logs_in_and_signs_in_a_session_postgres() {
    phone_logs_in_and_signs_in_a_session(Store::Postgres).await
}

struct Platform {
    id: String,
    origin: String,
    cert_der: Vec<u8>,
    key: PlatformKey,
}

struct Made {
    body: ScanRequestBody,
    reply: ReplySecret,
    qr_secret: Vec<u8>,
    poll_secret: Vec<u8>,
}

fn rand<const N: usize>() -> Vec<u8> {
    bidkey_crypto::rng::bytes::<N>().expect("rng").to_vec()
}

fn make(server: &TestServer, p: &Platform, action: ScanAction, session: Option<&str>) -> Made {
    let now = server.running.state.clock.now();
    let reply = ReplySecret::make(CryptoAlg::Sm2Sm4Gcm).expect("reply key");
    Made {
        body: ScanRequestBody {
            v: SCAN_VERSION,
            request_id: hex::encode(rand::<16>()),
            platform_id: p.id.clone(),
            origin: p.origin.clone(),
            created_at: now,
            expires_at: now + DEFAULT_TTL_SECS,
            nonce: rand::<32>(),
            reply_key: ReplyKey {
                alg: ReplyAlg::Sm2Sm4Gcm,
                public_key: reply.public_key(),
            },
            session_id: session.map(str::to_owned),
            action,
            webhook_url: None,
        },
        reply,
        qr_secret: rand::<32>(),
        poll_secret: rand::<32>(),
    }
}

async fn post(server: &TestServer, p: &Platform, m: &Made) -> reqwest::Response {
    let body = serde_json::to_vec(&m.body).expect("json");
    let new = NewRelayRequest {
        request: SignedScanRequest {
            signature: p.key.sign(&request_message(&body)).expect("sign"),
            body,
            platform_cert: p.cert_der.clone(),
        },
        qr_secret: m.body.session_id.is_none().then(|| m.qr_secret.clone()),
        poll_secret: m.poll_secret.clone(),
        webhook_url: None,
    };
    let path = match &m.body.session_id {
        Some(sid) => format!("/v1/relay/sessions/{sid}/requests"),
        None => "/v1/relay/requests".to_owned(),
    };
    reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .json(&new)
        .send()
        .await
        .expect("reachable")
}

/// The QR code the page shows now.
fn qr(server: &TestServer, m: &Made, created: &RelayCreated) -> String {
    let t = (server.running.state.clock.now() - created.created_at) as u64;
    ScanUri {
        relay: server.url(),
        request_id: m.body.request_id.clone(),
        t,
        code: bidkey_crypto::scan::rotating_code(&m.qr_secret, t),
        k: None,
    }
    .to_string()
}

/// Poll until answered and open the reply.
async fn answer(server: &TestServer, m: &Made) -> ScanReply {
    let r: RelayResult = reqwest::Client::new()
        .get(format!(
            "{}/v1/relay/requests/{}/result?wait=10",
            server.url(),
            m.body.request_id
        ))
        .header(POLL_HEADER, hex::encode(&m.poll_secret))
        .send()
        .await
        .expect("reachable")
        .json()
        .await
        .expect("result");
    assert_eq!(r.status, RelayStatus::Answered, "{r:?}");
    let sealed = r.sealed.expect("sealed");
    let plain = m
        .reply
        .open(
            &Sealed {
                ephemeral: sealed.ephemeral,
                nonce: sealed.nonce.try_into().expect("nonce"),
                ciphertext: sealed.ciphertext,
            },
            m.body.request_id.as_bytes(),
        )
        .expect("opens");
    serde_json::from_slice(&plain).expect("reply")
}

fn check_signature(reply: &ScanReply, message: &[u8]) {
    let cert = Cert::from_der(reply.signer_cert.as_deref().expect("signer cert")).expect("cert");
    let key = cert.sm2_public_key().expect("sm2 key");
    let sig = Sm2Signature::from_der(&reply.signatures[0].signature).expect("der");
    verify(&key, DEFAULT_ID, message, &sig).expect("the phone's signature verifies");
}

async fn enrolled_phone(server: &TestServer, dir: &std::path::Path) -> Bidkey {
    let phone = phone_at(server, dir);
    registered(
        server,
        &phone,
        "13700000001",
        &identity("王五", &id_number(71)),
    )
    .await;
    let app = phone.apply_personal_certificate().await.expect("applied");
    let app = approve_and_pay(server, &phone, &app).await;
    phone.enroll(&app.id, PIN).await.expect("enrolled");
    phone
}

async fn phone_logs_in_and_signs_in_a_session(store: Store) {
    let server = TestServer::start(store).await;
    let reg = registered_platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let p = Platform {
        id: reg.platform.id,
        origin: reg.platform.origin,
        cert_der: reg.cert_der,
        key: PlatformKey::Sm2(reg.key),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let phone = enrolled_phone(&server, dir.path()).await;

    // 扫码登录: the phone verifies the request, shows the code, signs with the PIN.
    let login = make(&server, &p, ScanAction::Login { uscc: None }, None);
    let created: RelayCreated = post(&server, &p, &login)
        .await
        .json()
        .await
        .expect("created");
    let view = phone
        .scan(&qr(&server, &login, &created))
        .await
        .expect("scanned");
    assert_eq!(view.origin, p.origin);
    assert_eq!(view.verification_code, verification_code(&login.body.nonce));
    phone
        .confirm_scan(&login.body.request_id, PIN)
        .await
        .expect("confirmed");
    let reply = answer(&server, &login).await;
    assert_eq!(reply.outcome, ReplyOutcome::Approved);
    check_signature(&reply, &challenge_message(&login.body));

    // A session with auto-confirm; a sign request in it is answered without a PIN.
    let open = make(
        &server,
        &p,
        ScanAction::Session {
            ttl_secs: 3600,
            auto_confirm_allowed: true,
            uscc: None,
        },
        None,
    );
    let created: RelayCreated = post(&server, &p, &open)
        .await
        .json()
        .await
        .expect("created");
    phone
        .scan(&qr(&server, &open, &created))
        .await
        .expect("scanned");
    let done = phone
        .confirm_session(&open.body.request_id, PIN, true)
        .await
        .expect("session confirmed");
    let grant = done.session.expect("grant");
    let reply = answer(&server, &open).await;
    assert_eq!(
        reply.session.as_ref().map(|s| s.session_id.as_str()),
        Some(grant.session_id.as_str())
    );
    let sessions = phone.scan_sessions().await.expect("sessions");
    assert_eq!(sessions.len(), 1);

    let digest = bidkey_crypto::sm3::sm3(b"bid file").to_vec();
    let sign = make(
        &server,
        &p,
        ScanAction::Sign {
            uscc: None,
            documents: vec![DocumentToSign {
                name: "投标文件.pdf".into(),
                digest_alg: DigestAlg::Sm3,
                digest: digest.clone(),
                page_count: 1,
                seal: None,
            }],
        },
        Some(&grant.session_id),
    );
    assert!(post(&server, &p, &sign).await.status().is_success());
    let got = phone
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("a request");
    assert_eq!(got.view.request_id, sign.body.request_id);
    assert!(got.done.is_some(), "auto-confirmed");
    let reply = answer(&server, &sign).await;
    assert!(reply.auto_confirmed);
    // A detached CMS over the platform's digest, signed by the phone's certificate.
    let cms = bidkey_crypto::cms::verify_signed_data(
        &reply.documents[0].signed_data,
        bidkey_crypto::cms::Content::DetachedDigest {
            algorithm: bidkey_crypto::cms::HashAlgorithm::Sm3,
            digest: &digest,
        },
        &[],
    )
    .expect("the phone's CMS verifies");
    assert_eq!(
        cms.signers[0].cert.to_der(),
        reply.signer_cert.as_deref().expect("signer cert")
    );

    // Ended: the platform can send nothing more.
    phone
        .end_scan_session(&grant.session_id)
        .await
        .expect("ended");
    let late = make(
        &server,
        &p,
        ScanAction::Login { uscc: None },
        Some(&grant.session_id),
    );
    let resp = post(&server, &p, &late).await;
    assert_eq!(resp.status().as_u16(), 404);
    let body: bidkey_protocol::ErrorBody = resp.json().await.expect("error body");
    assert_eq!(body.code, bidkey_protocol::ErrorCode::SessionNotFound);
}
