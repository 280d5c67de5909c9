//! Scan end to end: the platform (this SDK) makes requests, the relay of a real server on
//! loopback carries them, phones (the core) scan and confirm or refuse, the platform opens
//! and verifies the reply. Then every bad input of the issue, refused with a clear error on
//! the phone's side and on the platform's.

use bidkey_core::{Bidkey, CoreError};
use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::Cert;
use bidkey_platform::PlatformError;
use bidkey_platform::bidfile::{self, EncryptOptions, FileKey};
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PendingScan, PlatformIdentity, ScanClient, ScanResult};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::*;
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USCC: &str = "91500000MA5U8XGQ8Q";
const NAME: &str = "重庆比德科技有限公司";
const ORIGIN: &str = "https://ggzy.cq.example.invalid";

struct World {
    server: TestServer,
    _dirs: Vec<tempfile::TempDir>,
    admin: Bidkey,
    staff: Bidkey,
    team: EnterpriseTeam,
    platform: RegisteredPlatform,
    client: ScanClient,
    verifier: ReplyVerifier,
    grant_id: String,
}

fn api(server: &TestServer) -> PlatformClient {
    PlatformClient::new(&server.url(), None, Duration::from_secs(40)).expect("client")
}

fn identity_of(p: &RegisteredPlatform, origin: &str, key: Sm2PrivateKey) -> PlatformIdentity {
    PlatformIdentity {
        platform_id: p.platform.id.clone(),
        origin: origin.into(),
        cert_der: p.cert_der.clone(),
        key: PlatformKey::Sm2(key),
    }
}

async fn world(store: Store) -> World {
    world_with(store, |_| {}).await
}

/// The world with the staff member's phone configured by `adjust`.
async fn world_with(store: Store, adjust: impl FnOnce(&mut bidkey_core::CoreConfig)) -> World {
    let server = TestServer::start(store).await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let admin = phone_at(&server, dirs[0].path());
    let staff = phone_configured(&server.url(), dirs[1].path(), adjust);
    registered(
        &server,
        &admin,
        "13900000001",
        &identity("张三", &id_number(1)),
    )
    .await;
    registered(
        &server,
        &staff,
        "13900000002",
        &identity("李四", &id_number(2)),
    )
    .await;
    let team = enterprise_team(&server, &admin, &staff, USCC, NAME).await;
    let platform = registered_platform(&server, "重庆市公共资源交易中心", ORIGIN).await;
    let staff_id = staff.account().expect("wallet").expect("in").id;
    let grant = admin
        .add_grant(&team.enterprise_id, &staff_id, &platform.platform.id, PIN)
        .await
        .expect("granted");
    let PlatformSide {
        client, verifier, ..
    } = platform_side(&server, &platform, ORIGIN).await;
    World {
        server,
        _dirs: dirs,
        admin,
        staff,
        team,
        platform,
        client,
        verifier,
        grant_id: grant.id,
    }
}

/// Requests the server has answered on `route` so far.
fn served(w: &World, route: &str) -> u64 {
    let snap = w.server.running.state.metrics.snapshot();
    snap.routes.get(route).map(|h| h.count()).unwrap_or(0)
}

fn code<T: std::fmt::Debug>(r: bidkey_core::Result<T>) -> Option<ErrorCode> {
    r.expect_err("refused").code()
}

async fn login(client: &ScanClient) -> PendingScan {
    client
        .create(
            ScanAction::Login {
                uscc: Some(USCC.into()),
            },
            DEFAULT_TTL_SECS,
        )
        .await
        .expect("request made")
}

async fn approved(client: &ScanClient, req: &PendingScan) -> ScanReply {
    match client.wait(req).await.expect("reply") {
        ScanResult::Approved(r) => r,
        other => panic!("approved expected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_scan_and_the_platform_verifies() {
    let w = world(Store::Sqlite).await;
    let req = login(&w.client).await;
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    assert_eq!(view.kind, ScanKind::Login);
    assert_eq!(view.origin, ORIGIN);
    assert_eq!(view.platform_name, "重庆市公共资源交易中心");
    assert_eq!(view.verification_code, req.verification_code());
    let cert = view.certificate.clone().expect("certificate chosen");
    assert_eq!(cert.serial, w.team.staff_pair.signing_serial);

    let polled = w.client.poll(&req, 0).await.expect("poll");
    assert_eq!(polled.status, RelayStatus::Scanned);
    let done = w
        .staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    assert_eq!(done.signatures, 1);
    let reply = approved(&w.client, &req).await;
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    let signer = v.signer.expect("signer");
    assert_eq!(signer.uscc.as_deref(), Some(USCC));
    assert_eq!(signer.organization.as_deref(), Some(NAME));
    assert_eq!(signer.grant_id.as_deref(), Some(w.grant_id.as_str()));
    assert!(
        v.encryption_cert.is_some(),
        "login carries the encryption certificate"
    );

    // The request is single-use: scanning the same QR again is refused.
    assert_eq!(
        code(w.admin.scan(&req.current_qr_uri()).await),
        Some(ErrorCode::ScanUsed)
    );

    // Bind the certificate to the bidder's account on the platform (绑定).
    let bind = w
        .client
        .create(
            ScanAction::Bind {
                platform_user: "cqbidder001".into(),
                uscc: Some(USCC.into()),
            },
            DEFAULT_TTL_SECS,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&bind.current_qr_uri()).await.expect("scanned");
    assert_eq!(view.kind, ScanKind::Bind);
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("bound");
    let reply = approved(&w.client, &bind).await;
    let v = w
        .verifier
        .check_reply(&bind.body, &reply)
        .await
        .expect("verifies");
    assert_eq!(
        v.signer.expect("signer").serial,
        w.team.staff_pair.signing_serial
    );
    // The signature binds the platform account: it does not verify for another one.
    let mut other = bind.body.clone();
    other.action = ScanAction::Bind {
        platform_user: "someone-else".into(),
        uscc: Some(USCC.into()),
    };
    assert!(w.verifier.check_reply(&other, &reply).await.is_err());
}

/// Run the independent SM2 CMS checker (asn1crypto + gmssl-fast, not Rust) on `p7s` over
/// `content`; `None` when python3 is missing (CI installs it and its packages: .ci/run).
fn python_sm2_check(p7s: &[u8], content: &[u8]) -> Option<(bool, String)> {
    use std::process::Command;
    let has_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_python {
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (sig, doc) = (dir.path().join("doc.p7s"), dir.path().join("doc.bin"));
    std::fs::write(&sig, p7s).expect("write");
    std::fs::write(&doc, content).expect("write");
    let script = format!(
        "{}/../crypto/tests/sm2_cms_check.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(&sig)
        .arg(&doc)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_and_seal_documents_then_decrypt_a_bid_at_the_opening() {
    use bidkey_crypto::cms::{Content, HashAlgorithm, verify_signed_data};
    let w = world(Store::Sqlite).await;
    let seal_png = png(180, 180);
    let seal = w
        .admin
        .add_seal(&w.team.enterprise_id, "投标专用章", seal_png.clone(), PIN)
        .await
        .expect("seal added");
    let business: &[u8] = b"business part";
    let technical: &[u8] = "技术标 technical part".as_bytes();
    let docs = vec![
        DocumentToSign {
            name: "商务标.pdf".into(),
            digest_alg: DigestAlg::Sm3,
            digest: bidkey_crypto::sm3::sm3(business).to_vec(),
            page_count: 12,
            seal: None,
        },
        DocumentToSign {
            name: "技术标.pdf".into(),
            digest_alg: DigestAlg::Sm3,
            digest: bidkey_crypto::sm3::sm3(technical).to_vec(),
            page_count: 3,
            seal: Some(SealPlacement {
                seal_id: seal.id.clone(),
                page: 3,
                x_mm: 120,
                y_mm: 240,
                width_mm: 42,
                height_mm: 42,
            }),
        },
    ];
    let req = w
        .client
        .create(
            ScanAction::Sign {
                uscc: Some(USCC.into()),
                documents: docs.clone(),
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    // The confirmation view: name, digest, pages, the seal's own image, page and place.
    assert_eq!(view.documents.len(), 2);
    assert_eq!(view.documents[0].name, "商务标.pdf");
    assert_eq!(view.documents[0].digest_hex, hex::encode(&docs[0].digest));
    assert_eq!(view.documents[0].page_count, 12);
    let shown = view.documents[1].seal.as_ref().expect("seal shown");
    assert_eq!(shown.image_png, seal_png);
    assert_eq!(shown.seal_name, "投标专用章");
    assert_eq!(
        (shown.page, shown.x_mm, shown.y_mm, shown.width_mm),
        (3, 120, 240, 42)
    );
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("signed");
    let reply = approved(&w.client, &req).await;
    assert_eq!(reply.documents.len(), 2);
    assert!(
        reply.signatures.is_empty(),
        "no raw signature for documents"
    );

    // A reply whose CMS signs another digest (the other document's) is refused.
    let mut swapped = reply.clone();
    swapped.documents[1].signed_data = reply.documents[0].signed_data.clone();
    let r = w.verifier.check_reply(&req.body, &swapped).await;
    assert!(
        matches!(r, Err(PlatformError::BadReply("document signature"))),
        "{r:?}"
    );

    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    assert_eq!(v.documents.len(), 2);
    assert_eq!(v.documents[1].seal, docs[1].seal);
    for (doc, got) in docs.iter().zip(&v.documents) {
        // Detached CMS over the platform's own digest, timestamped by the Bidkey TSA.
        let parsed = verify_signed_data(
            &got.signed_data,
            Content::DetachedDigest {
                algorithm: HashAlgorithm::Sm3,
                digest: &doc.digest,
            },
            &[],
        )
        .expect("CMS verifies");
        assert_eq!(parsed.signers.len(), 1);
        assert_eq!(parsed.signers[0].timestamps.len(), 1);
        assert_eq!(parsed.certificates.len(), 2, "signer and issuing CA");
        assert_eq!(
            parsed.signers[0].cert.to_der(),
            reply.signer_cert.as_deref().expect("cert")
        );
        // The signing time is the server's; the timestamp is not before it.
        assert!(got.signing_time > 0 && got.timestamp_time >= got.signing_time);
    }
    // Checked by a verifier not written in Rust: SM3 of the content is the messageDigest,
    // GmSSL verifies the SM2 signature over the signed attributes.
    match python_sm2_check(&v.documents[1].signed_data, technical) {
        Some((ok, text)) => assert!(ok, "{text}"),
        None => eprintln!(
            "\n\n!!!!! SKIPPED: python3 is not installed, so the independent SM2 CMS check \
             did not run. CI installs it (.ci/run). !!!!!\n"
        ),
    }
    // Stored and rechecked later against the platform's own digest of its file.
    let signer = v.signer.expect("signer");
    let (again, ts) = w
        .verifier
        .recheck(
            &v.documents[1].signed_data,
            DigestAlg::Sm3,
            &docs[1].digest,
            Some(USCC),
        )
        .await
        .expect("rechecked");
    assert_eq!(
        (again.serial, ts),
        (signer.serial, v.documents[1].timestamp_time)
    );
    let wrong = w
        .verifier
        .recheck(
            &v.documents[1].signed_data,
            DigestAlg::Sm3,
            &[0u8; 32],
            Some(USCC),
        )
        .await;
    assert!(
        matches!(wrong, Err(PlatformError::BadReply("document signature"))),
        "{wrong:?}"
    );

    // A bid file encrypted to the staff member's encryption certificate.
    let enc_der = w
        .staff
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == w.team.staff_pair.encryption_serial)
        .expect("encryption certificate")
        .der;
    let enc = Cert::from_der(&enc_der).expect("cert");
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut sealed = Vec::new();
    let out = bidfile::encrypt(
        &enc,
        &mut plain.as_slice(),
        &mut sealed,
        &EncryptOptions {
            tender_id: "T-1".into(),
            platform_id: w.platform.platform.id.clone(),
            file_name: "投标文件.zip".into(),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect("encrypted");
    let files = vec![out.header.wrapped_file_key("投标文件.zip").expect("entry")];

    // Before the opening time the phone refuses.
    let early = w
        .client
        .create(
            ScanAction::Decrypt {
                tender_id: "T-1".into(),
                tender_name: "道路工程".into(),
                opening_at: i64::MAX / 2,
                files: files.clone(),
            },
            60,
        )
        .await
        .expect("request");
    let view = w
        .staff
        .scan(&early.current_qr_uri())
        .await
        .expect("scanned");
    assert_eq!(view.decryptable_files, vec!["投标文件.zip".to_owned()]);
    assert_eq!(
        code(w.staff.confirm_scan(&view.request_id, PIN).await),
        Some(ErrorCode::TooEarly)
    );

    let req = w
        .client
        .create(
            ScanAction::Decrypt {
                tender_id: "T-1".into(),
                tender_name: "道路工程".into(),
                opening_at: 0,
                files,
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    // A wrong PIN is refused with tries left and nothing is sent.
    assert!(matches!(
        w.staff.confirm_scan(&view.request_id, "000000").await,
        Err(CoreError::WrongPin { .. })
    ));
    let done = w
        .staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("decrypted");
    assert_eq!(done.files_decrypted, 1);
    let reply = approved(&w.client, &req).await;
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    let key = FileKey::from_bytes(&v.file_keys[0].key).expect("key");
    let mut opened = Vec::new();
    bidfile::decrypt(&key, &mut sealed.as_slice(), &mut opened, &mut |_, _| {}).expect("opens");
    assert_eq!(opened, plain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_with_auto_confirm_and_its_end() {
    let w = world(Store::Sqlite).await;
    let client = ScanClient::new(
        &api(&w.server),
        identity_of(&w.platform, ORIGIN, w.platform.key_copy()),
    )
    .with_reply_alg(ReplyAlg::P256Aes256Gcm);
    let req = client
        .create(
            ScanAction::Session {
                ttl_secs: 600,
                auto_confirm_allowed: true,
                uscc: Some(USCC.into()),
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    let done = w
        .staff
        .confirm_session(&view.request_id, PIN, true)
        .await
        .expect("session opened");
    let session = done.session.expect("session");
    let reply = approved(&client, &req).await;
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    assert_eq!(
        v.session.as_ref().map(|s| &s.session_id),
        Some(&session.session_id)
    );
    let listed = w.staff.scan_sessions().await.expect("sessions");
    assert!(
        listed
            .iter()
            .any(|s| s.session_id == session.session_id && s.auto_confirm)
    );

    // A sign request inside the session is confirmed by the phone without a PIN.
    let doc = DocumentToSign {
        name: "澄清答复.pdf".into(),
        digest_alg: DigestAlg::Sm3,
        digest: bidkey_crypto::sm3::sm3(b"clarification").to_vec(),
        page_count: 1,
        seal: None,
    };
    let inner = client
        .create_in_session(
            &session.session_id,
            ScanAction::Sign {
                uscc: Some(USCC.into()),
                documents: vec![doc],
            },
            60,
        )
        .await
        .expect("session request");
    let got = w
        .staff
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("a request");
    assert_eq!(got.view.request_id, inner.request_id());
    assert!(got.done.as_ref().is_some_and(|d| d.auto_confirmed));
    let reply = approved(&client, &inner).await;
    assert!(reply.auto_confirmed);
    w.verifier
        .check_reply(&inner.body, &reply)
        .await
        .expect("verifies");

    // Switched off, the next sign request waits for the user; on again with the PIN.
    w.staff.stop_auto_confirm(&session.session_id);
    let asked = client
        .create_in_session(
            &session.session_id,
            ScanAction::Login {
                uscc: Some(USCC.into()),
            },
            60,
        )
        .await
        .expect("session request");
    let got = w
        .staff
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("request");
    assert!(got.done.is_none(), "auto-confirm is off");
    w.staff
        .confirm_scan(asked.request_id(), PIN)
        .await
        .expect("confirmed");
    approved(&client, &asked).await;
    assert!(matches!(
        w.staff
            .start_auto_confirm(&session.session_id, "000000")
            .await,
        Err(CoreError::WrongPin { .. })
    ));
    w.staff
        .start_auto_confirm(&session.session_id, PIN)
        .await
        .expect("on again");

    // Decryption inside a session still asks.
    let ask = client
        .create_in_session(
            &session.session_id,
            ScanAction::Decrypt {
                tender_id: "T".into(),
                tender_name: "T".into(),
                opening_at: 0,
                files: vec![WrappedFileKey {
                    file_name: "其他.zip".into(),
                    recipient_serial: w.team.staff_pair.encryption_serial.clone(),
                    wrapped_key: bidkey_crypto::sm2::encrypt_der(
                        Sm2PrivateKey::make_random().expect("key").public_key(),
                        &[7; 16],
                    )
                    .expect("wrapped"),
                    header_hash: vec![0; 32],
                }],
            },
            60,
        )
        .await
        .expect("session request");
    let got = w
        .staff
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("request");
    assert_eq!(got.view.request_id, ask.request_id());
    assert!(got.done.is_none(), "decryption is never automatic");
    w.staff
        .reject_scan(ask.request_id(), Some("稍后"))
        .await
        .expect("rejected");
    assert_eq!(
        client.wait(&ask).await.expect("reply"),
        ScanResult::Rejected {
            reason: Some("稍后".into())
        }
    );

    // Ended: the platform can send nothing more.
    w.staff
        .end_scan_session(&session.session_id)
        .await
        .expect("ended");
    let refused = client
        .create_in_session(&session.session_id, ScanAction::Login { uscc: None }, 60)
        .await;
    assert!(
        matches!(
            refused,
            Err(PlatformError::Relay(ErrorCode::SessionNotFound))
        ),
        "{refused:?}"
    );
}

/// Issue 13 §7: the phone holds an auto-confirm session's unmasked share no longer than its
/// cap (2 h by default), whatever the platform's session allows. With the cap at zero, a
/// sign request inside the session waits for the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_confirm_ends_at_the_phones_cap() {
    let w = world_with(Store::Sqlite, |c| c.auto_confirm_max = Duration::ZERO).await;
    let client = ScanClient::new(
        &api(&w.server),
        identity_of(&w.platform, ORIGIN, w.platform.key_copy()),
    );
    let req = client
        .create(
            ScanAction::Session {
                ttl_secs: 600,
                auto_confirm_allowed: true,
                uscc: Some(USCC.into()),
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    let done = w
        .staff
        .confirm_session(&view.request_id, PIN, true)
        .await
        .expect("session opened");
    let session = done.session.expect("session");
    approved(&client, &req).await;
    let inner = client
        .create_in_session(
            &session.session_id,
            ScanAction::Login {
                uscc: Some(USCC.into()),
            },
            60,
        )
        .await
        .expect("session request");
    let got = w
        .staff
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("a request");
    assert_eq!(got.view.request_id, inner.request_id());
    assert!(got.done.is_none(), "auto-confirm outlived the phone's cap");
}

/// Issue 13 §3: a tender's opening time is judged by the server's clock. The opening is
/// past by the phone's clock (and the platform's) but an hour ahead by the server's, as
/// when the phone's clock is set forward: the phone refuses before it asks to co-decrypt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opening_time_is_judged_by_the_servers_clock() {
    let w = world(Store::Sqlite).await;
    let enc_der = w
        .staff
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == w.team.staff_pair.encryption_serial)
        .expect("encryption certificate")
        .der;
    let enc = Cert::from_der(&enc_der).expect("cert");
    let mut sealed = Vec::new();
    let out = bidfile::encrypt(
        &enc,
        &mut b"bid".as_slice(),
        &mut sealed,
        &EncryptOptions {
            tender_id: "T-2".into(),
            platform_id: w.platform.platform.id.clone(),
            file_name: "投标文件.zip".into(),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect("encrypted");
    let clock = w.server.running.state.clock.clone();
    let decrypt = |opening_at| ScanAction::Decrypt {
        tender_id: "T-2".into(),
        tender_name: "桥梁工程".into(),
        opening_at,
        files: vec![out.header.wrapped_file_key("投标文件.zip").expect("entry")],
    };
    // By the server's clock the opening is an hour away: the phone (whatever its own clock
    // says) takes the time from its co-decryption session, the one the relay's fetch
    // opened (ADR 0031) and the fresh one it then asks for, and refuses before it sends
    // anything.
    let opening_at = clock.now() + 3600;
    let req = w
        .client
        .create(decrypt(opening_at), 60)
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    let decrypts = served(&w, "POST /v1/cosign/decrypt");
    assert_eq!(
        code(w.staff.confirm_scan(&view.request_id, PIN).await),
        Some(ErrorCode::TooEarly)
    );
    assert_eq!(
        served(&w, "POST /v1/cosign/decrypt"),
        decrypts,
        "nothing sent"
    );
    // By the server's clock the opening has come: the same files open.
    let req = w
        .client
        .create(decrypt(clock.now() - 60), 60)
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    let done = w
        .staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("decrypted");
    assert_eq!(done.files_decrypted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_reused_stale_and_foreign_qr_codes_are_refused() {
    let w = world(Store::Sqlite).await;

    // A QR from another relay never reaches the network.
    let req = login(&w.client).await;
    let foreign = req
        .current_qr_uri()
        .replace(&w.server.url(), "https://relay.example.invalid");
    assert!(matches!(
        w.staff.scan(&foreign).await,
        Err(CoreError::InvalidInput { field: "qr_relay" })
    ));
    assert!(matches!(
        w.staff.scan("https://example.com/not-bidkey").await,
        Err(CoreError::InvalidInput { field: "qr" })
    ));

    // A photo of the QR taken now is useless 15 seconds later.
    let photo = req.qr_uri_at(0);
    w.server.running.state.clock.advance(15);
    assert_eq!(
        code(w.staff.scan(&photo).await),
        Some(ErrorCode::ScanCodeStale)
    );
    // A code for another second is no code of this request.
    let forged = req.qr_uri_at(15).replace("&t=15&", "&t=14&");
    assert_eq!(
        code(w.staff.scan(&forged).await),
        Some(ErrorCode::ScanNotFound)
    );
    // The current frame works; a second phone is then refused.
    let view = w.staff.scan(&req.qr_uri_at(15)).await.expect("scanned");
    assert_eq!(
        code(w.admin.scan(&req.qr_uri_at(15)).await),
        Some(ErrorCode::ScanUsed)
    );
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    approved(&w.client, &req).await;

    // Expired: two minutes on, the relay refuses the fetch and the platform hears so.
    let req = login(&w.client).await;
    w.server.running.state.clock.advance(DEFAULT_TTL_SECS + 1);
    let late = req.qr_uri_at(DEFAULT_TTL_SECS as u64 + 1);
    assert_eq!(
        code(w.staff.scan(&late).await),
        Some(ErrorCode::ScanExpired)
    );
    let r = w.client.poll(&req, 0).await.expect("poll");
    assert_eq!(r.status, RelayStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongly_signed_and_foreign_origin_requests_are_refused() {
    let w = world(Store::Sqlite).await;
    // Signed with a key that is not the certificate's.
    let wrong_key = ScanClient::new(
        &api(&w.server),
        identity_of(
            &w.platform,
            ORIGIN,
            Sm2PrivateKey::make_random().expect("key"),
        ),
    );
    let r = wrong_key.create(ScanAction::Login { uscc: None }, 60).await;
    assert!(
        matches!(
            r,
            Err(PlatformError::Relay(ErrorCode::ScanSignatureInvalid))
        ),
        "{r:?}"
    );
    // The platform's own certificate and key, but claiming another origin.
    let other = registered_platform(
        &w.server,
        "北京市公共资源交易中心",
        "https://ggzy.bj.example.invalid",
    )
    .await;
    let posing = ScanClient::new(
        &api(&w.server),
        identity_of(&w.platform, &other.platform.origin, w.platform.key_copy()),
    );
    let r = posing.create(ScanAction::Login { uscc: None }, 60).await;
    assert!(
        matches!(r, Err(PlatformError::Relay(ErrorCode::ScanForeignOrigin))),
        "{r:?}"
    );
    // A reply tampered with on the way does not open.
    let req = login(&w.client).await;
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    let mut sealed = w
        .client
        .poll(&req, 5)
        .await
        .expect("poll")
        .sealed
        .expect("sealed");
    sealed.ciphertext[0] ^= 1;
    assert!(matches!(req.open(&sealed), Err(PlatformError::Crypto(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_between_scan_and_confirm_and_a_revoked_certificate() {
    let w = world(Store::Sqlite).await;
    // A document signature made under the grant, kept by the platform.
    let digest = bidkey_crypto::sm3::sm3(b"bid").to_vec();
    let req = w
        .client
        .create(
            ScanAction::Sign {
                uscc: Some(USCC.into()),
                documents: vec![DocumentToSign {
                    name: "投标文件.pdf".into(),
                    digest_alg: DigestAlg::Sm3,
                    digest: digest.clone(),
                    page_count: 1,
                    seal: None,
                }],
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    let reply = approved(&w.client, &req).await;
    let kept = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies")
        .documents[0]
        .signed_data
        .clone();

    // The next scan: the admin revokes the grant while the QR is on the phone's screen.
    let req = login(&w.client).await;
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.admin
        .revoke_grant(&w.team.enterprise_id, &w.grant_id, PIN)
        .await
        .expect("revoked");
    assert_eq!(
        code(w.staff.confirm_scan(&view.request_id, PIN).await),
        Some(ErrorCode::GrantMissing)
    );
    // The platform refuses the earlier signature now.
    let r = w
        .verifier
        .recheck(&kept, DigestAlg::Sm3, &digest, Some(USCC))
        .await;
    assert!(matches!(r, Err(PlatformError::NoGrant)), "{r:?}");

    // The admin's own certificate once revoked: the platform refuses its signatures.
    let staff_id = w.admin.account().expect("wallet").expect("in").id;
    w.admin
        .add_grant(
            &w.team.enterprise_id,
            &staff_id,
            &w.platform.platform.id,
            PIN,
        )
        .await
        .expect("admin granted");
    let req = login(&w.client).await;
    let view = w.admin.scan(&req.current_qr_uri()).await.expect("scanned");
    w.admin
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    let reply = approved(&w.client, &req).await;
    w.verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies while valid");
    w.admin
        .revoke(&w.team.admin_pair.signing_serial, PIN)
        .await
        .expect("revoked");
    let r = w.verifier.check_reply(&req.body, &reply).await;
    assert!(matches!(r, Err(PlatformError::Certificate(_))), "{r:?}");
    // And the phone has no valid certificate left to answer with.
    let req = login(&w.client).await;
    assert!(matches!(
        w.admin.scan(&req.current_qr_uri()).await,
        Err(CoreError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_on_postgres() {
    let w = world(Store::Postgres).await;
    let req = login(&w.client).await;
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    let reply = approved(&w.client, &req).await;
    w.verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
}

/// What a malicious relay does to the request it hands the phone.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    /// Change the body after the platform signed it.
    Body,
    /// Re-sign the body with a key that is not the certificate's.
    Signature,
    /// Swap in a certificate from outside the Bidkey CA, with a matching signature.
    Certificate,
    /// Another real platform (its own certificate from our CA) signs a request that claims
    /// this platform's origin.
    Origin,
}

/// A relay in front of the real server that passes everything through but tampers with
/// requests the phone fetches: the phone must refuse them itself.
async fn malicious_relay(
    real: String,
    mode: Arc<Mutex<Tamper>>,
    accomplice: Arc<RegisteredPlatform>,
) -> String {
    use axum::body::{Body, to_bytes};
    use axum::extract::Request;
    use axum::response::Response;
    let handler = move |req: Request| {
        let real = real.clone();
        let tamper = *mode.lock().expect("mode");
        let accomplice = accomplice.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = to_bytes(body, 1 << 20).await.expect("body");
            let url = format!("{real}{}", parts.uri);
            let mut fwd = reqwest::Client::new().request(parts.method.clone(), url);
            for (k, v) in &parts.headers {
                if k != "host" {
                    fwd = fwd.header(k, v);
                }
            }
            let resp = fwd.body(body.to_vec()).send().await.expect("forwarded");
            let status = resp.status();
            let mut bytes = resp.bytes().await.expect("answer").to_vec();
            let fetch = parts.method == axum::http::Method::GET
                && parts.uri.path().starts_with("/v1/relay/requests/")
                && parts.uri.query().is_some_and(|q| q.contains("code="));
            if fetch && status.is_success() {
                let mut signed: SignedScanRequest =
                    serde_json::from_slice(&bytes).expect("request");
                match tamper {
                    Tamper::Body => {
                        let text = String::from_utf8(signed.body.clone()).expect("utf8");
                        signed.body = text
                            .replace("\"login\"", "\"bind\",\"platform_user\":\"x\"")
                            .into_bytes();
                    }
                    Tamper::Signature => {
                        let key = Sm2PrivateKey::make_random().expect("key");
                        signed.signature = PlatformKey::Sm2(key)
                            .sign(&request_message(&signed.body))
                            .expect("signed");
                    }
                    Tamper::Origin => {
                        signed.platform_cert = accomplice.cert_der.clone();
                        signed.signature = PlatformKey::Sm2(accomplice.key_copy())
                            .sign(&request_message(&signed.body))
                            .expect("signed");
                    }
                    Tamper::Certificate => {
                        let other = TestServer::start(Store::Sqlite).await;
                        let p = registered_platform(&other, "伪造平台", ORIGIN).await;
                        signed.platform_cert = p.cert_der;
                        signed.signature = PlatformKey::Sm2(p.key)
                            .sign(&request_message(&signed.body))
                            .expect("signed");
                    }
                }
                bytes = serde_json::to_vec(&signed).expect("json");
            }
            Response::builder()
                .status(status.as_u16())
                .header("content-type", "application/json")
                .body(Body::from(bytes))
                .expect("response")
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_refuses_requests_a_relay_tampered_with() {
    let w = world(Store::Sqlite).await;
    let mode = Arc::new(Mutex::new(Tamper::Body));
    let accomplice =
        registered_platform(&w.server, "另一平台", "https://other.example.invalid").await;
    let relay = malicious_relay(w.server.url(), mode.clone(), Arc::new(accomplice)).await;
    // A phone of the staff member behind the malicious relay.
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at_url(&relay, dir.path());
    logged_in(&w.server, &phone, "13900000002").await;
    let client = ScanClient::new(
        &PlatformClient::new(&relay, None, Duration::from_secs(40)).expect("client"),
        identity_of(&w.platform, ORIGIN, w.platform.key_copy()),
    );
    for (tamper, expected) in [
        (Tamper::Body, ErrorCode::ScanSignatureInvalid),
        (Tamper::Signature, ErrorCode::ScanSignatureInvalid),
        (Tamper::Certificate, ErrorCode::PlatformCertificateInvalid),
        (Tamper::Origin, ErrorCode::ScanForeignOrigin),
    ] {
        *mode.lock().expect("mode") = tamper;
        let req = login(&client).await;
        let got = phone.scan(&req.current_qr_uri()).await;
        assert_eq!(code(got), Some(expected), "{tamper:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_requests_the_phone_must_refuse() {
    let w = world(Store::Sqlite).await;
    let doc = DocumentToSign {
        name: "投标文件.pdf".into(),
        digest_alg: DigestAlg::Sm3,
        digest: vec![7; 100],
        page_count: 1,
        seal: None,
    };
    // A 100-byte digest: the relay refuses to carry it (and the phone's own check,
    // `bidkey_core::scan::document_views`, refuses it too: unit-tested there).
    let r = w
        .client
        .create(
            ScanAction::Sign {
                uscc: Some(USCC.into()),
                documents: vec![doc.clone()],
            },
            60,
        )
        .await;
    assert!(
        matches!(r, Err(PlatformError::Relay(ErrorCode::BadRequest))),
        "{r:?}"
    );

    // A seal the signer may not use: another enterprise's (here, one that is not among
    // the signer's enterprise's live seals). The phone refuses before showing anything.
    let seal = w
        .admin
        .add_seal(&w.team.enterprise_id, "合同专用章", png(100, 100), PIN)
        .await
        .expect("seal");
    w.admin
        .delete_seal(&w.team.enterprise_id, &seal.id)
        .await
        .expect("deleted");
    let sealed = DocumentToSign {
        digest: vec![7; 32],
        seal: Some(SealPlacement {
            seal_id: seal.id.clone(),
            page: 1,
            x_mm: 10,
            y_mm: 10,
            width_mm: 42,
            height_mm: 42,
        }),
        ..doc
    };
    let req = w
        .client
        .create(
            ScanAction::Sign {
                uscc: Some(USCC.into()),
                documents: vec![sealed],
            },
            60,
        )
        .await
        .expect("request");
    let r = w.staff.scan(&req.current_qr_uri()).await;
    assert!(
        matches!(r, Err(CoreError::InvalidInput { field: "seal" })),
        "{r:?}"
    );
}

/// What a relay can do with a request's public reply key: seal a reply of its own making.
fn forge_reply(req: &PendingScan, reply: &ScanReply) -> SealedReply {
    let plain = serde_json::to_vec(reply).expect("json");
    let alg = match req.body.reply_key.alg {
        ReplyAlg::Sm2Sm4Gcm => bidkey_crypto::scan::ReplyAlg::Sm2Sm4Gcm,
        ReplyAlg::P256Aes256Gcm => bidkey_crypto::scan::ReplyAlg::P256Aes256Gcm,
    };
    let sealed = bidkey_crypto::scan::seal_reply(
        alg,
        &req.body.reply_key.public_key,
        req.body.request_id.as_bytes(),
        &plain,
    )
    .expect("the relay can seal");
    SealedReply {
        ephemeral: sealed.ephemeral,
        nonce: sealed.nonce.to_vec(),
        ciphertext: sealed.ciphertext,
    }
}

/// ADR 0016: the relay knows the platform's ephemeral reply key (it is in the request) and
/// can seal anything to it, but not MAC it under the QR code's `k`, which it never sees. A
/// relay-forged "rejected" (or approval with forged session terms) is refused; the phone's
/// own rejection, MACed, still opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forged_reply_is_refused() {
    let w = world(Store::Sqlite).await;
    let req = login(&w.client).await;
    let forge = |reply: &ScanReply| forge_reply(&req, reply);
    let rejected = ScanReply {
        request_id: req.body.request_id.clone(),
        outcome: ReplyOutcome::Rejected,
        reason: Some("用户拒绝".into()),
        signer_cert: None,
        encryption_cert: None,
        signatures: vec![],
        documents: vec![],
        file_keys: vec![],
        session: Some(SessionGrant {
            session_id: "ab".repeat(16),
            expires_at: i64::MAX,
            auto_confirm: true,
        }),
        auto_confirmed: false,
        auth: None,
    };
    assert!(matches!(
        req.open(&forge(&rejected)),
        Err(PlatformError::BadReply(_))
    ));
    // A MAC under a key the relay made up is no better.
    let mut guessed = rejected.clone();
    guessed.auth =
        Some(bidkey_crypto::scan::reply_mac(&[7; 32], &rejected.request_id, b"{}").to_vec());
    assert!(matches!(
        req.open(&forge(&guessed)),
        Err(PlatformError::BadReply(_))
    ));

    // The phone that scanned the QR code rejects: that opens.
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .reject_scan(&view.request_id, Some("不是我"))
        .await
        .expect("rejected");
    match w.client.wait(&req).await.expect("reply") {
        ScanResult::Rejected { reason } => assert_eq!(reason.as_deref(), Some("不是我")),
        other => panic!("rejected expected, got {other:?}"),
    }
}

/// Issue 13 §3, the attack (ADR 0017): a platform asks the phone to decrypt tender B and
/// slips in a wrapped key lifted from a tender-A bid, one made for another platform, or one
/// whose header it altered after wrapping. The phone unwraps, finds another purpose inside
/// the key and refuses with `file_key_purpose_mismatch`; nothing reaches the platform (the
/// request is still unanswered: the holder can reject it afterwards). Asked properly, the
/// same files open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_key_for_another_purpose_is_refused() {
    let w = world(Store::Sqlite).await;
    let other =
        registered_platform(&w.server, "另一个交易平台", "https://other.example.invalid").await;
    let enc_der = w
        .staff
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == w.team.staff_pair.encryption_serial)
        .expect("encryption certificate")
        .der;
    let enc = Cert::from_der(&enc_der).expect("cert");
    let bid = |tender: &str, platform: &str| {
        let mut sealed = Vec::new();
        let out = bidfile::encrypt(
            &enc,
            &mut b"bid".as_slice(),
            &mut sealed,
            &EncryptOptions {
                tender_id: tender.into(),
                platform_id: platform.into(),
                file_name: "投标文件.zip".into(),
                ..Default::default()
            },
            &mut |_, _| {},
        )
        .expect("encrypted");
        (out.header, sealed)
    };
    let ours = w.platform.platform.id.clone();
    let (tender_a, _) = bid("T-A", &ours);
    let (tender_b, sealed_b) = bid("T-B", &ours);
    let (others, _) = bid("T-B", &other.platform.id);
    // The header of the tender-B file with another file name written in after wrapping.
    let mut altered = tender_b.clone();
    altered.file_name = "改过的.zip".into();
    let decrypt_b = |files: Vec<WrappedFileKey>| ScanAction::Decrypt {
        tender_id: "T-B".into(),
        tender_name: "桥梁工程".into(),
        opening_at: 0,
        files,
    };
    let entry = |h: &bidfile::BidFileHeader| h.wrapped_file_key("投标文件.zip").expect("entry");
    for (what, files) in [
        (
            "a tender-A key in a tender-B request",
            vec![entry(&tender_a)],
        ),
        ("another platform's key", vec![entry(&others)]),
        ("a header altered after wrapping", vec![entry(&altered)]),
        (
            "a good key beside a lifted one",
            vec![
                tender_b.wrapped_file_key("b.zip").expect("entry"),
                entry(&tender_a),
            ],
        ),
    ] {
        let req = w
            .client
            .create(decrypt_b(files), 60)
            .await
            .expect("request");
        let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
        assert_eq!(
            code(w.staff.confirm_scan(&view.request_id, PIN).await),
            Some(ErrorCode::FileKeyPurposeMismatch),
            "{what}"
        );
        // Nothing was sent: the request still waits for the phone's answer.
        w.staff
            .reject_scan(&view.request_id, Some("不符"))
            .await
            .expect("still unanswered");
        assert!(
            matches!(
                w.client.wait(&req).await.expect("reply"),
                ScanResult::Rejected { .. }
            ),
            "{what}"
        );
    }

    // The tender-B key in a tender-B request of its own platform opens the file.
    let req = w
        .client
        .create(decrypt_b(vec![entry(&tender_b)]), 60)
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("decrypted");
    let reply = approved(&w.client, &req).await;
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    let key = FileKey::from_bytes(&v.file_keys[0].key).expect("key");
    let mut opened = Vec::new();
    bidfile::decrypt(&key, &mut sealed_b.as_slice(), &mut opened, &mut |_, _| {}).expect("opens");
    assert_eq!(opened, b"bid");
}

/// Issue 13 §4, the attack inside a session (ADR 0016, *session replies*): requests in a
/// session have no QR code, but their replies are MACed under the session's reply key,
/// derived from the `k` of the QR code that opened the session. The relay, which knows the
/// session id and the request's public reply key, seals a "rejected" and an approval with
/// file keys of its own: the SDK refuses both, MAC or none. The phone's own replies in the
/// session (an approval, then a rejection) open. A session this client never opened cannot
/// be used at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forged_reply_in_a_session_is_refused() {
    let w = world(Store::Sqlite).await;
    let req = w
        .client
        .create(
            ScanAction::Session {
                ttl_secs: 600,
                auto_confirm_allowed: false,
                uscc: Some(USCC.into()),
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("session opened");
    let session = approved(&w.client, &req)
        .await
        .session
        .expect("session granted");

    let asked = w
        .client
        .create_in_session(
            &session.session_id,
            ScanAction::Login {
                uscc: Some(USCC.into()),
            },
            60,
        )
        .await
        .expect("session request");
    let forged = ScanReply {
        request_id: asked.request_id().to_owned(),
        outcome: ReplyOutcome::Rejected,
        reason: Some("用户拒绝".into()),
        signer_cert: None,
        encryption_cert: None,
        signatures: vec![],
        documents: vec![],
        file_keys: vec![],
        session: None,
        auto_confirmed: false,
        auth: None,
    };
    assert!(matches!(
        asked.open(&forge_reply(&asked, &forged)),
        Err(PlatformError::BadReply(_))
    ));
    let mut keys = forged.clone();
    keys.outcome = ReplyOutcome::Approved;
    keys.file_keys = vec![ReplyFileKey {
        file_name: "投标文件.zip".into(),
        key: vec![7; 16],
    }];
    let bare = serde_json::to_vec(&keys.without_auth()).expect("json");
    // A MAC under a key the relay made up, and one under the session id it knows.
    for guess in [[7u8; 32], {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(&hex::decode(&session.session_id).expect("hex"));
        k
    }] {
        keys.auth =
            Some(bidkey_crypto::scan::reply_mac(&guess, asked.request_id(), &bare).to_vec());
        assert!(matches!(
            asked.open(&forge_reply(&asked, &keys)),
            Err(PlatformError::BadReply(_))
        ));
    }

    // The phone's own answers in the session open: an approval, then a rejection.
    let got = w
        .staff
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("request");
    w.staff
        .confirm_scan(&got.view.request_id, PIN)
        .await
        .expect("approved");
    approved(&w.client, &asked).await;
    let asked = w
        .client
        .create_in_session(&session.session_id, ScanAction::Login { uscc: None }, 60)
        .await
        .expect("session request");
    let got = w
        .staff
        .next_session_request(10)
        .await
        .expect("inbox")
        .expect("request");
    w.staff
        .reject_scan(&got.view.request_id, Some("不是我"))
        .await
        .expect("rejected");
    match w.client.wait(&asked).await.expect("reply") {
        ScanResult::Rejected { reason } => assert_eq!(reason.as_deref(), Some("不是我")),
        other => panic!("rejected expected, got {other:?}"),
    }

    // Another client of the same platform never saw the session's QR code: no key, no use.
    let stranger = ScanClient::new(
        &api(&w.server),
        identity_of(&w.platform, ORIGIN, w.platform.key_copy()),
    );
    assert!(matches!(
        stranger
            .create_in_session(&session.session_id, ScanAction::Login { uscc: None }, 60)
            .await,
        Err(PlatformError::InvalidInput(_))
    ));
}
