//! The scan relay over real HTTP, on SQLite and on PostgreSQL: platforms registered by the
//! operator with certificates from the server's CA, requests signed with real SM2 keys,
//! replies sealed to the platform's ephemeral key, phones signed up by SMS.

#[macro_use]
mod support;

use bidkey_crypto::scan::{
    PlatformKey, ReplyAlg as CryptoAlg, ReplySecret, Sealed, rotating_code, seal_reply,
};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::*;
use bidkey_server::relay::notify::{Notifier, WaitCounts};
use bidkey_testkit::phones::registered_platform;
use std::time::Duration;
use support::{Answer, Client, Store, TestServer, signed_up};

on_both_stores!(
    qr_request_end_to_end,
    p256_platform,
    frames_claims_and_expiry,
    requests_are_checked,
    sessions_and_inbox,
    webhook_is_delivered,
    webhook_urls_are_signed_https_and_public,
    an_opening_posts_many_requests_at_once,
    a_decrypt_fetch_opens_the_phones_co_decryption_session
);

/// A platform as its SDK holds it.
struct Platform {
    id: String,
    origin: String,
    cert_der: Vec<u8>,
    key: PlatformKey,
}

async fn platform(server: &TestServer, name: &str, origin: &str) -> Platform {
    let p = registered_platform(server, name, origin).await;
    Platform {
        id: p.platform.id,
        origin: p.platform.origin,
        cert_der: p.cert_der,
        key: PlatformKey::Sm2(p.key),
    }
}

/// One request the platform made: what it keeps and what it posts.
struct Made {
    id: String,
    body: ScanRequestBody,
    reply: ReplySecret,
    qr_secret: Vec<u8>,
    poll_secret: Vec<u8>,
}

/// A long poll that was asleep (`until_asleep`) answered because it was woken: not by a
/// timer re-read (set to an hour by the test) and not at its deadline.
fn assert_woken(relay: &Notifier, before: WaitCounts) {
    let after = relay.wait_counts();
    assert!(after.wakeups > before.wakeups, "{before:?} → {after:?}");
    assert_eq!(
        (after.found_on_recheck, after.deadlines),
        (before.found_on_recheck, before.deadlines),
        "{before:?} → {after:?}"
    );
}

fn random_id() -> String {
    hex::encode(bidkey_crypto::rng::bytes::<16>().expect("rng"))
}

fn make(
    server: &TestServer,
    p: &Platform,
    action: ScanAction,
    session: Option<&str>,
    ttl: i64,
) -> Made {
    make_with(server, p, action, session, ttl, ReplyAlg::Sm2Sm4Gcm)
}

fn crypto_alg(alg: ReplyAlg) -> CryptoAlg {
    match alg {
        ReplyAlg::Sm2Sm4Gcm => CryptoAlg::Sm2Sm4Gcm,
        ReplyAlg::P256Aes256Gcm => CryptoAlg::P256Aes256Gcm,
    }
}

fn make_with(
    server: &TestServer,
    p: &Platform,
    action: ScanAction,
    session: Option<&str>,
    ttl: i64,
    alg: ReplyAlg,
) -> Made {
    let now = server.running.state.clock.now();
    let reply = ReplySecret::make(crypto_alg(alg)).expect("reply key");
    let body = ScanRequestBody {
        v: SCAN_VERSION,
        request_id: random_id(),
        platform_id: p.id.clone(),
        origin: p.origin.clone(),
        created_at: now,
        expires_at: now + ttl,
        nonce: bidkey_crypto::rng::bytes::<32>().expect("rng").to_vec(),
        reply_key: ReplyKey {
            alg,
            public_key: reply.public_key(),
        },
        session_id: session.map(str::to_owned),
        action,
        webhook_url: None,
    };
    Made {
        id: body.request_id.clone(),
        body,
        reply,
        qr_secret: bidkey_crypto::rng::bytes::<32>().expect("rng").to_vec(),
        poll_secret: bidkey_crypto::rng::bytes::<32>().expect("rng").to_vec(),
    }
}

fn sign(p: &Platform, body: &[u8]) -> SignedScanRequest {
    SignedScanRequest {
        body: body.to_vec(),
        signature: p.key.sign(&request_message(body)).expect("sign"),
        platform_cert: p.cert_der.clone(),
    }
}

/// The request as the platform uploads it; a webhook goes inside the signed body too.
fn upload(p: &Platform, m: &Made, webhook: Option<String>) -> NewRelayRequest {
    let mut signed = m.body.clone();
    signed.webhook_url = webhook.clone();
    let body = serde_json::to_vec(&signed).expect("json");
    NewRelayRequest {
        request: sign(p, &body),
        qr_secret: m.body.session_id.is_none().then(|| m.qr_secret.clone()),
        poll_secret: m.poll_secret.clone(),
        webhook_url: webhook,
    }
}

async fn post(server: &TestServer, p: &Platform, m: &Made) -> Answer<RelayCreated> {
    Client::new(server)
        .post("/v1/relay/requests", &upload(p, m, None))
        .await
}

fn login() -> ScanAction {
    ScanAction::Login { uscc: None }
}

/// The frame the page shows now.
fn frame(server: &TestServer, m: &Made, created: &RelayCreated) -> String {
    let t = (server.running.state.clock.now() - created.created_at) as u64;
    frame_at(m, t)
}

fn frame_at(m: &Made, t: u64) -> String {
    format!(
        "/v1/relay/requests/{}?t={t}&code={}",
        m.id,
        rotating_code(&m.qr_secret, t)
    )
}

/// What the phone uploads: `reply` sealed to the request's reply key.
fn sealed_reply(m: &Made, outcome: ReplyOutcome, session: Option<SessionGrant>) -> ReplyUpload {
    let reply = ScanReply {
        request_id: m.id.clone(),
        outcome,
        reason: None,
        signer_cert: None,
        encryption_cert: None,
        signatures: vec![ReplySignature {
            name: "challenge".into(),
            signature: vec![0x30, 0x00],
        }],
        documents: vec![],
        file_keys: vec![],
        session: session.clone(),
        auto_confirmed: false,
        auth: None,
    };
    let plain = serde_json::to_vec(&reply).expect("json");
    let s = seal_reply(
        crypto_alg(m.body.reply_key.alg),
        &m.body.reply_key.public_key,
        m.id.as_bytes(),
        &plain,
    )
    .expect("seal");
    ReplyUpload {
        outcome,
        sealed: SealedReply {
            ephemeral: s.ephemeral,
            nonce: s.nonce.to_vec(),
            ciphertext: s.ciphertext,
        },
        session,
    }
}

fn open(m: &Made, sealed: &SealedReply) -> ScanReply {
    let s = Sealed {
        ephemeral: sealed.ephemeral.clone(),
        nonce: sealed.nonce.clone().try_into().expect("12-byte nonce"),
        ciphertext: sealed.ciphertext.clone(),
    };
    let plain = m
        .reply
        .open(&s, m.id.as_bytes())
        .expect("platform opens the reply");
    serde_json::from_slice(&plain).expect("reply json")
}

async fn poll(server: &TestServer, m: &Made, wait: u64) -> Answer<RelayResult> {
    poll_at(&server.url(), m, wait).await
}

async fn poll_at(base: &str, m: &Made, wait: u64) -> Answer<RelayResult> {
    let resp = reqwest::Client::new()
        .get(format!(
            "{base}/v1/relay/requests/{}/result?wait={wait}",
            m.id
        ))
        .header(POLL_HEADER, hex::encode(&m.poll_secret))
        .send()
        .await
        .expect("server reachable");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    if status == 200 {
        Ok(serde_json::from_slice(&bytes).expect("result json"))
    } else {
        Err((status, serde_json::from_slice(&bytes).expect("error body")))
    }
}

fn code<T: std::fmt::Debug>(a: Answer<T>) -> ErrorCode {
    a.expect_err("refused").1.code
}

async fn qr_request_end_to_end(store: Store) {
    let server = TestServer::start(store).await;
    // Long polls here answer before their deadline only when woken: no timer re-reads.
    let relay = server.running.state.relay.clone();
    relay.set_recheck(Duration::from_secs(3600));
    let p = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let phone = signed_up(&server, "13900000001").await;
    let m = make(&server, &p, login(), None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("relay takes it");
    assert_eq!(created.request_id, m.id);
    assert_eq!(created.expires_at, m.body.expires_at);
    assert_eq!(
        poll(&server, &m, 0).await.expect("result").status,
        RelayStatus::Pending
    );

    // The platform long-polls; the scan wakes it at once.
    let base = server.url();
    let before = relay.wait_counts();
    let waiting = {
        let m2 = Made {
            id: m.id.clone(),
            body: m.body.clone(),
            reply: ReplySecret::make(CryptoAlg::Sm2Sm4Gcm).expect("unused"),
            qr_secret: m.qr_secret.clone(),
            poll_secret: m.poll_secret.clone(),
        };
        tokio::spawn(async move { poll_at(&base, &m2, 20).await.expect("result") })
    };
    // The poll is asleep before the phone scans, so the scan is what wakes it.
    relay.until_asleep(before.naps + 1).await;
    let got: SignedScanRequest = phone
        .get(&frame(&server, &m, &created))
        .await
        .expect("fetched");
    assert_eq!(
        got.body,
        serde_json::to_vec(&m.body).expect("json"),
        "exact bytes"
    );
    let r = waiting.await.expect("joined");
    assert_eq!(r.status, RelayStatus::Scanned);
    assert_woken(&relay, before);

    // A wrong poll secret reads nothing.
    let mut other = make(&server, &p, login(), None, 60);
    other.id = m.id.clone();
    assert_eq!(code(poll(&server, &other, 0).await), ErrorCode::Forbidden);

    // The reply wakes the next poll; only the platform's reply key opens it.
    let base = server.url();
    let (id, poll_secret) = (m.id.clone(), m.poll_secret.clone());
    let before = relay.wait_counts();
    let waiting = tokio::spawn(async move {
        let resp = reqwest::Client::new()
            .get(format!("{base}/v1/relay/requests/{id}/result?wait=20"))
            .header(POLL_HEADER, hex::encode(&poll_secret))
            .send()
            .await
            .expect("reachable");
        resp.json::<RelayResult>().await.expect("json")
    });
    relay.until_asleep(before.naps + 1).await;
    let up = sealed_reply(&m, ReplyOutcome::Approved, None);
    let answered: RelayResult = phone
        .post(&format!("/v1/relay/requests/{}/reply", m.id), &up)
        .await
        .expect("answered");
    assert_eq!(answered.status, RelayStatus::Answered);
    let r = waiting.await.expect("joined");
    assert_woken(&relay, before);
    assert_eq!(r.status, RelayStatus::Answered);
    assert_eq!(r.outcome, Some(ReplyOutcome::Approved));
    let reply = open(&m, r.sealed.as_ref().expect("sealed"));
    assert_eq!(reply.request_id, m.id);
    assert_eq!(reply.outcome, ReplyOutcome::Approved);

    // Once only; and the request is spent for fetching.
    assert_eq!(
        code(
            phone
                .post::<_, RelayResult>(&format!("/v1/relay/requests/{}/reply", m.id), &up)
                .await
        ),
        ErrorCode::ScanAnswered
    );
    assert_eq!(
        code(
            phone
                .get::<SignedScanRequest>(&frame(&server, &m, &created))
                .await
        ),
        ErrorCode::ScanAnswered
    );
    // It stays answered after its expiry, and a long poll on it answers at once.
    server.running.state.clock.advance(DEFAULT_TTL_SECS + 1);
    let naps = relay.wait_counts().naps;
    assert_eq!(
        poll(&server, &m, 20).await.expect("result").status,
        RelayStatus::Answered
    );
    assert_eq!(relay.wait_counts().naps, naps, "answered without waiting");

    // A day later the platform's next request clears it away.
    server.running.state.clock.advance(24 * 3600);
    let next = make(&server, &p, login(), None, 60);
    post(&server, &p, &next).await.expect("posted");
    assert_eq!(code(poll(&server, &m, 0).await), ErrorCode::ScanNotFound);
    assert_eq!(
        poll(&server, &next, 0).await.expect("result").status,
        RelayStatus::Pending
    );
}

async fn frames_claims_and_expiry(store: Store) {
    let server = TestServer::start(store).await;
    // The code-guessing limit is a fixed window: time moves only when this test says.
    server.running.state.clock.freeze();
    let clock = server.running.state.clock.clone();
    let p = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let alice = signed_up(&server, "13900000011").await;
    let bob = signed_up(&server, "13900000012").await;
    let m = make(&server, &p, login(), None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("posted");

    // A wrong code, a frame from the future, an unknown request, no frame at all.
    let wrong = format!("/v1/relay/requests/{}?t=0&code={}", m.id, "ab".repeat(32));
    assert_eq!(
        code(alice.get::<SignedScanRequest>(&wrong).await),
        ErrorCode::ScanNotFound
    );
    assert_eq!(
        code(alice.get::<SignedScanRequest>(&frame_at(&m, 30)).await),
        ErrorCode::ScanCodeStale
    );
    let mut unknown = make(&server, &p, login(), None, 60);
    unknown.qr_secret = m.qr_secret.clone();
    assert_eq!(
        code(alice.get::<SignedScanRequest>(&frame_at(&unknown, 0)).await),
        ErrorCode::ScanNotFound
    );
    assert_eq!(
        code(
            alice
                .get::<SignedScanRequest>(&format!("/v1/relay/requests/{}", m.id))
                .await
        ),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(
            Client::new(&server)
                .get::<SignedScanRequest>(&frame_at(&m, 0))
                .await
        ),
        ErrorCode::Unauthorized
    );

    // A photo of the page: frame 0 fifteen seconds later is stale; the current one works.
    clock.advance(15);
    assert_eq!(
        code(alice.get::<SignedScanRequest>(&frame_at(&m, 0)).await),
        ErrorCode::ScanCodeStale
    );
    assert_eq!(
        code(alice.get::<SignedScanRequest>(&frame_at(&m, 4)).await),
        ErrorCode::ScanCodeStale
    );
    let _: SignedScanRequest = alice.get(&frame_at(&m, 6)).await.expect("10 s old is fine");

    // Claimed: Alice may fetch again (resume), Bob may not, even with a fresh frame.
    let _: SignedScanRequest = alice.get(&frame_at(&m, 6)).await.expect("again");
    assert_eq!(
        code(
            bob.get::<SignedScanRequest>(&frame(&server, &m, &created))
                .await
        ),
        ErrorCode::ScanUsed
    );
    let up = sealed_reply(&m, ReplyOutcome::Rejected, None);
    assert_eq!(
        code(
            bob.post::<_, RelayResult>(&format!("/v1/relay/requests/{}/reply", m.id), &up)
                .await
        ),
        ErrorCode::ScanUsed
    );
    // A reply to a request nobody fetched, or with a session for a login, is refused.
    let n = make(&server, &p, login(), None, 30);
    let n_created = post(&server, &p, &n).await.expect("posted");
    assert_eq!(
        code(
            alice
                .post::<_, RelayResult>(
                    &format!("/v1/relay/requests/{}/reply", n.id),
                    &sealed_reply(&n, ReplyOutcome::Approved, None)
                )
                .await
        ),
        ErrorCode::ScanNotFound
    );
    let _: SignedScanRequest = alice
        .get(&frame(&server, &n, &n_created))
        .await
        .expect("claimed");
    let grant = SessionGrant {
        session_id: random_id(),
        expires_at: clock.now() + 60,
        auto_confirm: false,
    };
    assert_eq!(
        code(
            alice
                .post::<_, RelayResult>(
                    &format!("/v1/relay/requests/{}/reply", n.id),
                    &sealed_reply(&n, ReplyOutcome::Approved, Some(grant))
                )
                .await
        ),
        ErrorCode::BadRequest
    );

    // Past its life: fetching, answering and polling all see the expiry.
    clock.advance(DEFAULT_TTL_SECS);
    assert_eq!(
        code(
            alice
                .get::<SignedScanRequest>(&frame(&server, &m, &created))
                .await
        ),
        ErrorCode::ScanExpired
    );
    assert_eq!(
        code(
            alice
                .post::<_, RelayResult>(&format!("/v1/relay/requests/{}/reply", m.id), &up)
                .await
        ),
        ErrorCode::ScanExpired
    );
    let r = poll(&server, &m, 0).await.expect("result");
    assert_eq!((r.status, r.sealed), (RelayStatus::Expired, None));

    // Guessing codes is rate-limited per account; refused guesses count.
    let fresh = make(&server, &p, login(), None, 60);
    post(&server, &p, &fresh).await.expect("posted");
    let guess = format!(
        "/v1/relay/requests/{}?t=0&code={}",
        fresh.id,
        "cd".repeat(32)
    );
    let mut refused = 0;
    let limited = loop {
        match code(bob.get::<SignedScanRequest>(&guess).await) {
            ErrorCode::ScanNotFound => refused += 1,
            other => break other,
        }
        assert!(refused <= 200, "never limited");
    };
    assert_eq!(limited, ErrorCode::TooManyRequests);
    assert!(refused >= 60, "limited after {refused}");
}

async fn requests_are_checked(store: Store) {
    let server = TestServer::start(store).await;
    let a = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let b = platform(
        &server,
        "宿迁市公共资源交易中心",
        "https://ggzy.sq.example.invalid",
    )
    .await;
    let plain = Client::new(&server);

    // ADR 0016: the CA issues platforms their own profile, which signs scan requests and
    // never passes for a bidder's signing certificate.
    {
        use bidkey_crypto::x509::verify::{RequiredUsage, verify_chain_without_revocation};
        let cert = bidkey_crypto::x509::Cert::from_der(&a.cert_der).expect("cert");
        assert!(cert.is_platform(), "the platform profile");
        let ca = &server.running.state.secrets.ca;
        let check = |usage| {
            verify_chain_without_revocation(
                &cert,
                std::slice::from_ref(ca.issuing()),
                std::slice::from_ref(ca.root()),
                server.running.state.clock.now() as u64,
                usage,
            )
        };
        check(RequiredUsage::PlatformRequest).expect("signs requests");
        assert!(check(RequiredUsage::Signing).is_err(), "not a bidder's");
    }

    // A tampered body: the signature was over other bytes.
    let m = make(&server, &a, login(), None, 60);
    let mut up = upload(&a, &m, None);
    let mut tampered = m.body.clone();
    tampered.action = ScanAction::Bind {
        platform_user: "mallory".into(),
        uscc: None,
    };
    up.request.body = serde_json::to_vec(&tampered).expect("json");
    assert_eq!(
        code(
            plain
                .post::<_, RelayCreated>("/v1/relay/requests", &up)
                .await
        ),
        ErrorCode::ScanSignatureInvalid
    );

    // Signed with another key than the certificate's.
    let mut up = upload(&a, &m, None);
    up.request.signature = b
        .key
        .sign(&request_message(&up.request.body))
        .expect("sign");
    assert_eq!(
        code(
            plain
                .post::<_, RelayCreated>("/v1/relay/requests", &up)
                .await
        ),
        ErrorCode::ScanSignatureInvalid
    );

    // Platform A's certificate and key, claiming B's origin.
    let mut m2 = make(&server, &a, login(), None, 60);
    m2.body.origin = b.origin.clone();
    assert_eq!(
        code(post(&server, &a, &m2).await),
        ErrorCode::ScanForeignOrigin
    );
    // A's certificate presented as B.
    let mut m3 = make(&server, &b, login(), None, 60);
    m3.body.origin = b.origin.clone();
    let mut up = upload(&a, &m3, None);
    up.request.signature = a
        .key
        .sign(&request_message(&up.request.body))
        .expect("sign");
    assert_eq!(
        code(
            plain
                .post::<_, RelayCreated>("/v1/relay/requests", &up)
                .await
        ),
        ErrorCode::PlatformCertificateInvalid
    );

    // A certificate for A's origin from another CA (another server's), and its key.
    let other = TestServer::start(Store::Sqlite).await;
    let foreign = platform(
        &other,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let foreign_as_a = Platform {
        id: a.id.clone(),
        ..foreign
    };
    let m4 = make(&server, &foreign_as_a, login(), None, 60);
    assert_eq!(
        code(post(&server, &foreign_as_a, &m4).await),
        ErrorCode::PlatformCertificateInvalid
    );
    other.running.stop().await;

    // A platform without a certificate, and one that is not registered.
    let resp: bidkey_protocol::platforms::Platform = Client::new(&server)
        .with_token(&server.operator_token())
        .post(
            "/v1/operator/platforms",
            &bidkey_protocol::platforms::NewPlatform {
                name: "无证平台".into(),
                origin: "https://nocert.example.invalid".into(),
                region: None,
                latitude: None,
                longitude: None,
            },
        )
        .await
        .expect("registered");
    let nocert = Platform {
        id: resp.id,
        origin: resp.origin,
        cert_der: a.cert_der.clone(),
        key: PlatformKey::Sm2(bidkey_crypto::sm2::Sm2PrivateKey::make_random().expect("key")),
    };
    assert_eq!(
        code(post(&server, &nocert, &make(&server, &nocert, login(), None, 60)).await),
        ErrorCode::PlatformCertificateInvalid
    );
    let ghost = Platform {
        id: random_id(),
        ..nocert
    };
    assert_eq!(
        code(post(&server, &ghost, &make(&server, &ghost, login(), None, 60)).await),
        ErrorCode::PlatformNotFound
    );

    // Life, version, limits, secrets.
    assert_eq!(
        code(
            post(
                &server,
                &a,
                &make(&server, &a, login(), None, MAX_TTL_SECS + 1)
            )
            .await
        ),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(post(&server, &a, &make(&server, &a, login(), None, 0)).await),
        ErrorCode::BadRequest
    );
    let mut old = make(&server, &a, login(), None, 60);
    old.body.created_at -= 100;
    old.body.expires_at -= 100;
    assert_eq!(code(post(&server, &a, &old).await), ErrorCode::ScanExpired);
    let mut v2 = make(&server, &a, login(), None, 60);
    v2.body.v = 2;
    assert_eq!(code(post(&server, &a, &v2).await), ErrorCode::BadRequest);
    let doc = DocumentToSign {
        name: "投标文件.pdf".into(),
        digest_alg: DigestAlg::Sm3,
        digest: vec![1; 32],
        page_count: 1,
        seal: None,
    };
    let many = ScanAction::Sign {
        uscc: None,
        documents: vec![doc.clone(); MAX_DOCUMENTS + 1],
    };
    assert_eq!(
        code(post(&server, &a, &make(&server, &a, many, None, 60)).await),
        ErrorCode::BadRequest
    );
    let short = ScanAction::Sign {
        uscc: None,
        documents: vec![DocumentToSign {
            digest: vec![1; 20],
            ..doc.clone()
        }],
    };
    assert_eq!(
        code(post(&server, &a, &make(&server, &a, short, None, 60)).await),
        ErrorCode::BadRequest
    );
    let ok = make(
        &server,
        &a,
        ScanAction::Sign {
            uscc: None,
            documents: vec![doc; 3],
        },
        None,
        60,
    );
    let mut up = upload(&a, &ok, None);
    up.qr_secret = Some(vec![1; 16]);
    assert_eq!(
        code(
            plain
                .post::<_, RelayCreated>("/v1/relay/requests", &up)
                .await
        ),
        ErrorCode::BadRequest
    );
    let mut up = upload(&a, &ok, Some("ftp://ggzy.cq.example.invalid/hook".into()));
    assert_eq!(
        code(
            plain
                .post::<_, RelayCreated>("/v1/relay/requests", &up)
                .await
        ),
        ErrorCode::BadRequest
    );
    up.webhook_url = None;
    up.qr_secret = None;
    assert_eq!(
        code(
            plain
                .post::<_, RelayCreated>("/v1/relay/requests", &up)
                .await
        ),
        ErrorCode::BadRequest
    );

    // The same request id twice.
    post(&server, &a, &ok).await.expect("first");
    assert_eq!(code(post(&server, &a, &ok).await), ErrorCode::Conflict);
}

async fn sessions_and_inbox(store: Store) {
    let server = TestServer::start(store).await;
    let clock = server.running.state.clock.clone();
    let p = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let q = platform(
        &server,
        "宿迁市公共资源交易中心",
        "https://ggzy.sq.example.invalid",
    )
    .await;
    let alice = signed_up(&server, "13900000021").await;
    let bob = signed_up(&server, "13900000022").await;

    // A session request by QR; Alice approves and opens a session.
    let open_req = make(
        &server,
        &p,
        ScanAction::Session {
            ttl_secs: 3600,
            auto_confirm_allowed: true,
            uscc: None,
        },
        None,
        60,
    );
    let created = post(&server, &p, &open_req).await.expect("posted");
    let _: SignedScanRequest = alice
        .get(&frame(&server, &open_req, &created))
        .await
        .expect("fetched");
    let sid = random_id();
    let grant = SessionGrant {
        session_id: sid.clone(),
        expires_at: clock.now() + 8 * 3600,
        auto_confirm: true,
    };
    // Approving a session request needs the grant.
    assert_eq!(
        code(
            alice
                .post::<_, RelayResult>(
                    &format!("/v1/relay/requests/{}/reply", open_req.id),
                    &sealed_reply(&open_req, ReplyOutcome::Approved, None)
                )
                .await
        ),
        ErrorCode::BadRequest
    );
    let _: RelayResult = alice
        .post(
            &format!("/v1/relay/requests/{}/reply", open_req.id),
            &sealed_reply(&open_req, ReplyOutcome::Approved, Some(grant.clone())),
        )
        .await
        .expect("answered");
    let sessions: Vec<ScanSession> = alice.get("/v1/relay/sessions").await.expect("sessions");
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(
        (
            s.session_id.as_str(),
            s.platform_id.as_str(),
            s.origin.as_str()
        ),
        (sid.as_str(), p.id.as_str(), p.origin.as_str())
    );
    assert!(s.auto_confirm);
    assert!(
        s.expires_at <= clock.now() + 3600,
        "capped by the request's ttl"
    );
    let none: Vec<ScanSession> = bob.get("/v1/relay/sessions").await.expect("sessions");
    assert!(none.is_empty());

    // Alice's phone waits on its inbox; a request in the session arrives without a QR code.
    let inbox_client = Client {
        base: alice.base.clone(),
        operator_base: alice.operator_base.clone(),
        http: alice.http.clone(),
        token: alice.token.clone(),
        confirmation: None,
    };
    let relay = server.running.state.relay.clone();
    relay.set_recheck(Duration::from_secs(3600));
    let before = relay.wait_counts();
    let waiting = tokio::spawn(async move {
        let items: Vec<InboxItem> = inbox_client
            .get("/v1/relay/inbox?wait=20")
            .await
            .expect("inbox");
        items
    });
    // The phone is asleep on its inbox before the platform posts: the post wakes it.
    relay.until_asleep(before.naps + 1).await;
    let doc = DocumentToSign {
        name: "投标文件.pdf".into(),
        digest_alg: DigestAlg::Sm3,
        digest: vec![7; 32],
        page_count: 1,
        seal: None,
    };
    let sign_req = make(
        &server,
        &p,
        ScanAction::Sign {
            uscc: None,
            documents: vec![doc],
        },
        Some(&sid),
        60,
    );
    let path = format!("/v1/relay/sessions/{sid}/requests");
    let _: RelayCreated = Client::new(&server)
        .post(&path, &upload(&p, &sign_req, None))
        .await
        .expect("posted in session");
    let items = waiting.await.expect("joined");
    assert_woken(&relay, before);
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].request_id.as_str(), items[0].session_id.as_str()),
        (sign_req.id.as_str(), sid.as_str())
    );

    // Only Alice sees it; Bob's inbox is empty and he cannot fetch or answer it.
    let empty: Vec<InboxItem> = bob.get("/v1/relay/inbox").await.expect("inbox");
    assert!(empty.is_empty());
    let direct = format!("/v1/relay/requests/{}", sign_req.id);
    let _: SignedScanRequest = alice
        .get(&direct)
        .await
        .expect("owner fetches without a frame");
    assert_eq!(
        code(bob.get::<SignedScanRequest>(&direct).await),
        ErrorCode::ScanNotFound
    );
    let up = sealed_reply(&sign_req, ReplyOutcome::Approved, None);
    let reply_path = format!("/v1/relay/requests/{}/reply", sign_req.id);
    assert_eq!(
        code(bob.post::<_, RelayResult>(&reply_path, &up).await),
        ErrorCode::ScanNotFound
    );

    // A second server process on the same database sees the answer through its re-reads.
    let second = server.start_sharing().await;
    let other = second.running.state.relay.clone();
    other.set_recheck(Duration::from_millis(50));
    let base = second.url();
    let (id, poll_secret) = (sign_req.id.clone(), sign_req.poll_secret.clone());
    let waiting = tokio::spawn(async move {
        let resp = reqwest::Client::new()
            .get(format!("{base}/v1/relay/requests/{id}/result?wait=20"))
            .header(POLL_HEADER, hex::encode(&poll_secret))
            .send()
            .await
            .expect("reachable");
        resp.json::<RelayResult>().await.expect("json")
    });
    other.until_asleep(1).await;
    let _: RelayResult = alice.post(&reply_path, &up).await.expect("answered");
    let r = waiting.await.expect("joined");
    assert_eq!(r.status, RelayStatus::Answered);
    // Found by a re-read (or, on PostgreSQL, woken through the feed) before the deadline.
    let counts = other.wait_counts();
    assert_eq!(counts.deadlines, 0, "{counts:?}");
    assert!(counts.found_on_recheck + counts.wakeups >= 1, "{counts:?}");
    assert_eq!(
        open(&sign_req, r.sealed.as_ref().expect("sealed")).outcome,
        ReplyOutcome::Approved
    );
    second.running.stop().await;
    let empty: Vec<InboxItem> = alice.get("/v1/relay/inbox").await.expect("inbox");
    assert!(empty.is_empty(), "answered requests leave the inbox");

    // A session belongs to one platform; requests must name it; no sessions in sessions.
    let from_q = make(&server, &q, login(), Some(&sid), 60);
    assert_eq!(
        code(
            Client::new(&server)
                .post::<_, RelayCreated>(&path, &upload(&q, &from_q, None))
                .await
        ),
        ErrorCode::SessionNotFound
    );
    let other_sid = make(&server, &p, login(), Some(&random_id()), 60);
    assert_eq!(
        code(
            Client::new(&server)
                .post::<_, RelayCreated>(&path, &upload(&p, &other_sid, None))
                .await
        ),
        ErrorCode::BadRequest
    );
    // The same session id cannot be opened twice.
    let again = make(
        &server,
        &p,
        ScanAction::Session {
            ttl_secs: 60,
            auto_confirm_allowed: false,
            uscc: None,
        },
        None,
        60,
    );
    let created = post(&server, &p, &again).await.expect("posted");
    let _: SignedScanRequest = alice
        .get(&frame(&server, &again, &created))
        .await
        .expect("fetched");
    assert_eq!(
        code(
            alice
                .post::<_, RelayResult>(
                    &format!("/v1/relay/requests/{}/reply", again.id),
                    &sealed_reply(&again, ReplyOutcome::Approved, Some(grant))
                )
                .await
        ),
        ErrorCode::Conflict
    );

    // Alice ends the session: later requests are refused, and Bob cannot end hers.
    assert_eq!(
        code(
            bob.delete::<ScanSession>(&format!("/v1/relay/sessions/{sid}"))
                .await
        ),
        ErrorCode::SessionNotFound
    );
    let pending = make(&server, &p, login(), Some(&sid), 60);
    let _: RelayCreated = Client::new(&server)
        .post(&path, &upload(&p, &pending, None))
        .await
        .expect("posted");
    let ended: ScanSession = alice
        .delete(&format!("/v1/relay/sessions/{sid}"))
        .await
        .expect("ended");
    assert!(ended.ended_at.is_some());
    let late = make(&server, &p, login(), Some(&sid), 60);
    assert_eq!(
        code(
            Client::new(&server)
                .post::<_, RelayCreated>(&path, &upload(&p, &late, None))
                .await
        ),
        ErrorCode::SessionNotFound
    );
    let empty: Vec<InboxItem> = alice.get("/v1/relay/inbox").await.expect("inbox");
    assert!(
        empty.is_empty(),
        "an ended session's requests leave the inbox"
    );
    assert_eq!(
        code(
            alice
                .post::<_, RelayResult>(
                    &format!("/v1/relay/requests/{}/reply", pending.id),
                    &sealed_reply(&pending, ReplyOutcome::Approved, None)
                )
                .await
        ),
        ErrorCode::SessionNotFound
    );
}

/// A bid opening: one platform posts a decrypt request per bidder, all at once. Every one is
/// accepted (none lost to conflicts on the platform's shared counters) and the platform's
/// limit still counts each of them.
async fn an_opening_posts_many_requests_at_once(store: Store) {
    const N: usize = 1000;
    let server = TestServer::start_with(store, |c| {
        c.limits.relay_requests_per_platform_per_minute = N as i64;
    })
    .await;
    // The limit is per minute of the server's clock: the burst must not straddle a minute.
    server.running.state.clock.freeze();
    let p =
        std::sync::Arc::new(platform(&server, "开标大厅", "https://open.example.invalid").await);
    let uploads: Vec<NewRelayRequest> = (0..N)
        .map(|_| upload(&p, &make(&server, &p, login(), None, 120), None))
        .collect();
    let c = std::sync::Arc::new(Client::new(&server));
    let sent: Vec<_> = uploads
        .into_iter()
        .map(|u| {
            let c = c.clone();
            tokio::spawn(async move { c.post::<_, RelayCreated>("/v1/relay/requests", &u).await })
        })
        .collect();
    let mut refused = Vec::new();
    for t in sent {
        if let Err(e) = t.await.expect("task") {
            refused.push(e.1.code);
        }
    }
    assert!(refused.is_empty(), "{refused:?}");
    let one_more = make(&server, &p, login(), None, 120);
    assert_eq!(
        code(post(&server, &p, &one_more).await),
        ErrorCode::TooManyRequests
    );
}

/// The relay (or anyone between the platform and it) cannot redirect results: the URL used
/// is the one under the platform's signature; and a platform cannot aim the relay at
/// loopback or private addresses, nor at plain HTTP, outside development.
async fn webhook_urls_are_signed_https_and_public(store: Store) {
    let server = TestServer::start(store).await;
    let p = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let plain = Client::new(&server);
    let code = |r: Answer<RelayCreated>| r.expect_err("refused").1.code;
    for url in [
        "http://ggzy.cq.example.invalid/hook",
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
    ] {
        let m = make(&server, &p, login(), None, 60);
        let up = upload(&p, &m, Some(url.into()));
        assert_eq!(
            code(plain.post("/v1/relay/requests", &up).await),
            ErrorCode::BadRequest,
            "{url}"
        );
    }
    let good = "https://ggzy.cq.example.invalid/hook";
    // Swapped after signing: the outer URL differs from the signed one.
    let m = make(&server, &p, login(), None, 60);
    let mut up = upload(&p, &m, Some(good.into()));
    up.webhook_url = Some("https://attacker.example/hook".into());
    assert_eq!(
        code(plain.post("/v1/relay/requests", &up).await),
        ErrorCode::BadRequest
    );
    // Added by someone else: an outer URL the platform never signed.
    let mut up = upload(&p, &m, None);
    up.webhook_url = Some(good.into());
    assert_eq!(
        code(plain.post("/v1/relay/requests", &up).await),
        ErrorCode::BadRequest
    );
    // Rewritten inside the body without the platform's key: the signature fails.
    let up = upload(&p, &m, Some(good.into()));
    let mut forged = up.clone();
    let text = String::from_utf8(forged.request.body.clone()).expect("utf-8");
    forged.request.body = text
        .replace(good, "https://attacker.example/hook")
        .into_bytes();
    forged.webhook_url = None;
    assert!(
        plain
            .post::<_, RelayCreated>("/v1/relay/requests", &forged)
            .await
            .is_err()
    );
    // The signed one is taken and stored as signed.
    let created: RelayCreated = plain
        .post("/v1/relay/requests", &up)
        .await
        .expect("signed webhook accepted");
    let id = created.request_id.clone();
    let stored: Option<String> = server
        .running
        .state
        .db
        .read(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT webhook_url FROM scan_requests WHERE id = $1",
                    &bidkey_server::params![id.as_str()],
                )?
                .expect("row");
            r.opt_text(0)
        })
        .await
        .expect("read");
    assert_eq!(stored.as_deref(), Some(good));
}

async fn webhook_is_delivered(store: Store) {
    use axum::Json;
    use axum::http::StatusCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    // The platform's receiver fails the first delivery, so the relay must try again.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RelayResult>();
    let calls = Arc::new(AtomicU32::new(0));
    let calls2 = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |Json(r): Json<RelayResult>| {
            let (tx, calls) = (tx.clone(), calls2.clone());
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = tx.send(r);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // The receiver is this test's, on loopback over HTTP: development only, asked by name.
    let server =
        TestServer::start_with(store, |c| c.limits.webhooks_to_private_addresses = true).await;
    let p = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let phone = signed_up(&server, "13900000031").await;
    let m = make(&server, &p, login(), None, 60);
    let created: RelayCreated = Client::new(&server)
        .post("/v1/relay/requests", &upload(&p, &m, Some(hook)))
        .await
        .expect("posted");
    let _: SignedScanRequest = phone
        .get(&frame(&server, &m, &created))
        .await
        .expect("fetched");
    let _: RelayResult = phone
        .post(
            &format!("/v1/relay/requests/{}/reply", m.id),
            &sealed_reply(&m, ReplyOutcome::Rejected, None),
        )
        .await
        .expect("answered");
    let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered in time")
        .expect("a result");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        (r.request_id.as_str(), r.status, r.outcome),
        (
            m.id.as_str(),
            RelayStatus::Answered,
            Some(ReplyOutcome::Rejected)
        )
    );
    assert_eq!(
        open(&m, r.sealed.as_ref().expect("sealed")).outcome,
        ReplyOutcome::Rejected
    );
}

/// A platform whose certificate key is P-256 and whose reply key is P-256 too.
async fn p256_platform(store: Store) {
    use bidkey_crypto::p256::P256PrivateKey;
    use bidkey_crypto::x509::{CsrDraft, ca_subject};
    let server = TestServer::start(store).await;
    let op = Client::new(&server).with_token(&server.operator_token());
    let origin = "https://ggzy.p256.example.invalid";
    let registered: bidkey_protocol::platforms::Platform = op
        .post(
            "/v1/operator/platforms",
            &bidkey_protocol::platforms::NewPlatform {
                name: "某市公共资源交易中心".into(),
                origin: origin.into(),
                region: None,
                latitude: None,
                longitude: None,
            },
        )
        .await
        .expect("registered");
    let key = P256PrivateKey::make_random().expect("key");
    let spki = key.public_key().to_spki_der().expect("spki");
    let draft = CsrDraft::new(
        ca_subject(origin, "某市公共资源交易中心").expect("subject"),
        &spki,
    )
    .expect("draft");
    let sig = key.sign_der(draft.to_be_signed());
    let csr = draft.assemble(&sig).expect("csr");
    let cert: bidkey_protocol::certs::PlatformCert = op
        .post(
            &format!("/v1/operator/platforms/{}/certificate", registered.id),
            &bidkey_protocol::certs::PlatformCertRequest {
                csr_der: csr.to_der().to_vec(),
                days: None,
            },
        )
        .await
        .expect("certificate");
    let p = Platform {
        id: registered.id,
        origin: registered.origin,
        cert_der: cert.cert_der,
        key: PlatformKey::P256(key),
    };
    let phone = signed_up(&server, "13900000041").await;
    let m = make_with(&server, &p, login(), None, 60, ReplyAlg::P256Aes256Gcm);
    let created = post(&server, &p, &m).await.expect("P-256 request accepted");
    let _: SignedScanRequest = phone
        .get(&frame(&server, &m, &created))
        .await
        .expect("fetched");
    let _: RelayResult = phone
        .post(
            &format!("/v1/relay/requests/{}/reply", m.id),
            &sealed_reply(&m, ReplyOutcome::Approved, None),
        )
        .await
        .expect("answered");
    let r = poll(&server, &m, 1).await.expect("result");
    assert_eq!(
        open(&m, r.sealed.as_ref().expect("sealed")).request_id,
        m.id
    );
}

/// A decrypt request for `files` wrapped to `cert`: an SM2 ciphertext of `secret`.
fn decrypt_of(cert: &bidkey_crypto::x509::Cert, secret: &[u8]) -> (ScanAction, Vec<u8>) {
    let public = cert.sm2_public_key().expect("sm2");
    let ct = bidkey_crypto::sm2::encrypt_der(&public, secret).expect("encrypt");
    let action = ScanAction::Decrypt {
        tender_id: "CQ-2026-GC-0417".into(),
        tender_name: "道路改造".into(),
        opening_at: 0,
        files: vec![WrappedFileKey {
            file_name: "投标文件.zip".into(),
            recipient_serial: cert.serial_hex(),
            wrapped_key: ct.clone(),
            header_hash: vec![7; HEADER_HASH_LEN],
        }],
    };
    (action, ct)
}

async fn fetch_asking(
    server: &TestServer,
    c: &Client,
    m: &Made,
    created: &RelayCreated,
    extra: String,
) -> Answer<FetchedScanRequest> {
    c.get(&format!("{}{extra}", frame(server, m, created)))
        .await
}

/// The phone's half of a co-decryption in session `sid`, as the real phone does it.
async fn co_decrypt_in(
    c: &Client,
    share: &bidkey_crypto::cosign::DeviceShare,
    ct: &bidkey_crypto::sm2::Sm2Ciphertext,
    sid: Vec<u8>,
) -> Answer<Vec<u8>> {
    let (decryptor, req) =
        bidkey_crypto::cosign::DeviceDecryptor::start(share, ct, &sid).expect("start");
    let resp: bidkey_protocol::cosign::DecryptResponse = c
        .post(
            "/v1/cosign/decrypt",
            &bidkey_protocol::cosign::DecryptRequest {
                session_id: sid,
                request: req.to_bytes().to_vec(),
            },
        )
        .await?;
    let resp =
        bidkey_crypto::cosign::DecryptResponse::from_bytes(&resp.response).expect("response");
    Ok(decryptor.finish(&resp).expect("decrypts").to_vec())
}

/// ADR 0031: the fetch of a decrypt request that names the caller's encryption key opens
/// its co-decryption session in the same transaction, and the session serves one
/// co-decryption. Nothing more: not for another account's key, not for a signing key, not
/// for a request that is no decryption, not for anyone but the caller.
async fn a_decrypt_fetch_opens_the_phones_co_decryption_session(store: Store) {
    use support::device::{Wallet, enrolled_person};
    let server = TestServer::start(store).await;
    let p = platform(&server, "交易平台", "https://ggzy.cq.example.invalid").await;
    let (alice, wa) =
        enrolled_person(&server, "13900000021", "张三", &support::id_number(21)).await;
    let (bob, wb) = enrolled_person(&server, "13900000022", "李四", &support::id_number(22)).await;
    let ask = |w: &Wallet, serial: &str| {
        format!("&cosign_serial={serial}&cosign_pair={}", w.result.pair_id)
    };
    let enc_a = wa.result.encryption_serial.clone();

    // Alice's decrypt request: the fetch carries a session, and it co-decrypts once.
    let (action, ct) = decrypt_of(&wa.encryption_cert(), b"sixteen byte key");
    let m = make(&server, &p, action, None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("posted");
    let got = fetch_asking(&server, &alice, &m, &created, ask(&wa, &enc_a))
        .await
        .expect("fetched");
    assert_eq!(got.request.body, serde_json::to_vec(&m.body).expect("json"));
    let session = got.cosign_session.expect("a session with the fetch");
    assert_eq!(session.session_id.len(), 32);
    let ct = bidkey_crypto::sm2::Sm2Ciphertext::from_der(&ct).expect("ct");
    let share = &wa.enc_shares[&enc_a];
    // Not Bob's to use, even with the session id in hand; Alice's once, then spent.
    assert_eq!(
        code(co_decrypt_in(&bob, share, &ct, session.session_id.clone()).await),
        ErrorCode::InvalidState
    );
    assert_eq!(
        co_decrypt_in(&alice, share, &ct, session.session_id.clone())
            .await
            .expect("co-decrypted in the fetch's session"),
        b"sixteen byte key"
    );
    assert_eq!(
        code(co_decrypt_in(&alice, share, &ct, session.session_id.clone()).await),
        ErrorCode::InvalidState
    );

    // Bob names Alice's key on his own fetch: no session.
    let (action, _) = decrypt_of(&wa.encryption_cert(), b"sixteen byte key");
    let m = make(&server, &p, action, None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("posted");
    let got = fetch_asking(&server, &bob, &m, &created, ask(&wa, &enc_a))
        .await
        .expect("fetched");
    assert!(got.cosign_session.is_none());
    // Alice names her signing key: no session (a signing key does not decrypt).
    let (action, _) = decrypt_of(&wa.encryption_cert(), b"sixteen byte key");
    let m = make(&server, &p, action, None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("posted");
    let got = fetch_asking(
        &server,
        &alice,
        &m,
        &created,
        ask(&wa, &wa.signing_serial()),
    )
    .await
    .expect("fetched");
    assert!(got.cosign_session.is_none());
    // A login request opens no session, whatever key is named.
    let m = make(&server, &p, login(), None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("posted");
    let got = fetch_asking(&server, &alice, &m, &created, ask(&wa, &enc_a))
        .await
        .expect("fetched");
    assert!(got.cosign_session.is_none());
    // Without naming a key: none, as before; a pair without a serial is malformed.
    let (action, _) = decrypt_of(&wb.encryption_cert(), b"sixteen byte key");
    let m = make(&server, &p, action, None, DEFAULT_TTL_SECS);
    let created = post(&server, &p, &m).await.expect("posted");
    assert_eq!(
        code(
            fetch_asking(
                &server,
                &bob,
                &m,
                &created,
                format!("&cosign_pair={}", wb.result.pair_id)
            )
            .await
        ),
        ErrorCode::BadRequest
    );
    let got = fetch_asking(&server, &bob, &m, &created, String::new())
        .await
        .expect("fetched");
    assert!(got.cosign_session.is_none());
}
