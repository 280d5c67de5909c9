//! `bidkey scan` against a server on loopback, with a trading platform made through the
//! platform SDK: login by the QR's text (a wrong PIN first), a sign request read from a PNG
//! of the QR, a refusal, an expired request and a foreign relay; then sessions: the inbox,
//! auto-confirm while the process follows, ending a session.

mod support;

use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PendingScan, ScanClient, ScanResult};
use bidkey_protocol::scan::*;
use bidkey_testkit::{Store, TestServer};
use serde_json::Value;
use support::*;

const ORIGIN: &str = "https://ggzy.cq.example.invalid";
const PLATFORM: &str = "重庆市公共资源交易中心";

struct Platform {
    client: ScanClient,
    verifier: ReplyVerifier,
}

/// A platform registered by the operator, with its certificate, as the SDK uses it.
async fn platform(server: &TestServer) -> Platform {
    let p = bidkey_testkit::phones::registered_platform(server, PLATFORM, ORIGIN).await;
    let side = bidkey_testkit::phones::platform_side(server, &p, ORIGIN).await;
    Platform {
        client: side.client,
        verifier: side.verifier,
    }
}

impl Platform {
    /// A request living ten minutes: the tests move the server clock forward (SMS resend
    /// limits), and the relay judges expiry by its own clock.
    async fn request(&self, action: ScanAction) -> PendingScan {
        self.client
            .create(action, MAX_TTL_SECS)
            .await
            .expect("request made")
    }

    /// Wait for the phone's answer; an approval must verify. The signer's serial and the reply.
    async fn approved(&self, req: &PendingScan) -> (String, ScanReply) {
        match self.client.wait(req).await.expect("answer") {
            ScanResult::Approved(reply) => {
                let v = self
                    .verifier
                    .check_reply(&req.body, &reply)
                    .await
                    .expect("the reply verifies");
                (v.signer.expect("signer").serial, reply)
            }
            other => panic!("approval expected, got {other:?}"),
        }
    }
}

/// A phone with a personal certificate; its signing serial.
async fn phone_with_certificate(server: &TestServer, wallet: &std::path::Path) -> (Phone, String) {
    let phone = Phone::new(server, wallet);
    registered(server, &phone, "13800138000", "张三", &id_number(1)).await;
    let pair = personal_certificate(server, &phone).await;
    let serial = pair["signing_serial"].as_str().expect("serial").to_owned();
    (phone, serial)
}

fn pin_line() -> String {
    format!("{PIN}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sign_from_a_png_reject_expired_and_foreign() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let (phone, serial) = phone_with_certificate(&server, dir.path()).await;
    let p = platform(&server).await;

    // Login by the QR's text: the page shows who asks and the four digits; a wrong PIN is
    // exit 4 and the platform still waits.
    let req = p.request(ScanAction::Login { uscc: None }).await;
    let uri = req.current_qr_uri();
    let r = phone.human(&["scan", &uri, "--yes", "--pin-stdin"], Some("000000\n"));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("Platform: {PLATFORM}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("Origin: {ORIGIN}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("Verification code: {}", req.verification_code())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Action: Log in"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("· {serial}")),
        "certificate: {}",
        r.stdout
    );
    assert!(r.stderr.contains("Wrong PIN"), "{}", r.stderr);
    // Without --yes and no terminal, nothing is confirmed (exit 11).
    let r = phone.json(&["scan", &uri, "--pin-stdin"], Some(&pin_line()));
    assert_eq!(r.code, 11, "{}", r.stderr);
    let done = phone
        .json(&["scan", &uri, "--yes", "--pin-stdin"], Some(&pin_line()))
        .ok();
    assert_eq!(done["outcome"], "approved", "{done}");
    assert_eq!(done["request"]["platform_name"], PLATFORM);
    assert_eq!(
        done["request"]["verification_code"],
        req.verification_code()
    );
    assert_eq!(done["request"]["certificate"]["serial"], serial.as_str());
    assert_eq!(done["done"]["signatures"], 1);
    let (signer, _) = p.approved(&req).await;
    assert_eq!(signer, serial);

    // A sign request read from a PNG of its QR code: documents with their digests.
    let docs = vec![
        DocumentToSign {
            name: "商务标.pdf".into(),
            digest_alg: DigestAlg::Sm3,
            digest: bidkey_crypto::sm3::sm3(b"business part").to_vec(),
            page_count: 12,
            seal: None,
        },
        // A personal certificate has no seals (the seal lines are unit-tested with the
        // CLI's view; a sealed scan through the server is in platform/tests/scan.rs).
        DocumentToSign {
            name: "技术标.pdf".into(),
            digest_alg: DigestAlg::Sm3,
            digest: bidkey_crypto::sm3::sm3(b"technical part").to_vec(),
            page_count: 3,
            seal: None,
        },
    ];
    let req = p
        .request(ScanAction::Sign {
            uscc: None,
            documents: docs.clone(),
        })
        .await;
    let png = bidkey_platform::qr::render_qr_png(&req.current_qr_uri()).expect("png");
    let image = dir.path().join("qr.png");
    std::fs::write(&image, png).expect("written");
    let path = image.to_str().expect("utf-8 path");
    let done = phone
        .json(&["scan", path, "--yes", "--pin-stdin"], Some(&pin_line()))
        .ok();
    assert_eq!(done["request"]["kind"], "sign", "{done}");
    let shown = &done["request"]["action"]["documents"];
    assert_eq!(shown[0]["name"], "商务标.pdf");
    assert_eq!(shown[0]["digest_hex"], hex::encode(&docs[0].digest));
    assert_eq!(shown[1]["page_count"], 3);
    assert_eq!(done["done"]["signatures"], 2);
    let (signer, reply) = p.approved(&req).await;
    assert_eq!((signer, reply.documents.len()), (serial.clone(), 2));

    // A refusal reaches the platform with its reason.
    let req = p.request(ScanAction::Login { uscc: None }).await;
    let r = phone
        .json(
            &[
                "scan",
                &req.current_qr_uri(),
                "--reject",
                "--reason",
                "not me",
            ],
            None,
        )
        .ok();
    assert_eq!(r["outcome"], "rejected");
    assert_eq!(
        p.client.wait(&req).await.expect("answer"),
        ScanResult::Rejected {
            reason: Some("not me".into())
        }
    );

    // Another relay's QR is refused before anything is fetched.
    let req = p.request(ScanAction::Login { uscc: None }).await;
    let uri = req.current_qr_uri();
    let relay_start = uri.find("relay=").expect("relay") + "relay=".len();
    let relay_end = relay_start + uri[relay_start..].find('&').expect("&");
    let foreign = format!(
        "{}http://127.0.0.2:9{}",
        &uri[..relay_start],
        &uri[relay_end..]
    );
    let e = phone.json(&["scan", &foreign], None).err();
    assert_eq!(e["kind"], "invalid_input", "{e}");

    // Ten minutes on the request has expired: the server's code, exit 7.
    server.running.state.clock.advance(MAX_TTL_SECS + 1);
    let r = phone.json(&["scan", &req.current_qr_uri()], None);
    assert_eq!(r.code, 7, "{}", r.stderr);
    let e = r.err();
    assert_eq!(e["kind"], "server", "{e}");
    assert_eq!(e["code"], "scan_expired", "{e}");

    // A picture without a QR code is a usage error.
    let blank = dir.path().join("blank.png");
    let img = image::GrayImage::from_pixel(64, 64, image::Luma([255u8]));
    img.save(&blank).expect("saved");
    let e = phone
        .json(&["scan", blank.to_str().expect("utf-8")], None)
        .err();
    assert_eq!(e["kind"], "usage", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_inbox_auto_confirm_and_end() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let (phone, serial) = phone_with_certificate(&server, dir.path()).await;
    let p = platform(&server).await;
    let session = ScanAction::Session {
        ttl_secs: 3600,
        auto_confirm_allowed: true,
        uscc: None,
    };

    // A session without auto-confirm: its requests come to the inbox and are asked.
    let req = p.request(session.clone()).await;
    let r = phone.human(
        &["scan", &req.current_qr_uri(), "--yes", "--pin-stdin"],
        Some(&pin_line()),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Session length: 60 min"), "{}", r.stdout);
    let (_, reply) = p.approved(&req).await;
    let grant = reply.session.expect("session granted");
    assert!(!grant.auto_confirm);
    assert!(r.stdout.contains(&grant.session_id), "{}", r.stdout);

    let list = phone.json(&["scan", "sessions"], None).ok();
    assert_eq!(list[0]["session_id"], grant.session_id.as_str(), "{list}");
    assert_eq!(list[0]["platform_name"], PLATFORM);
    let table = phone.human(&["scan", "sessions"], None);
    assert!(table.stdout.contains(PLATFORM), "{}", table.stdout);

    let nothing = phone.json(&["scan", "inbox", "--wait", "0"], None).ok();
    assert_eq!(nothing, Value::Null);
    let asked = p
        .client
        .create_in_session(
            &grant.session_id,
            ScanAction::Login { uscc: None },
            DEFAULT_TTL_SECS,
        )
        .await
        .expect("session request");
    let r = phone.json(
        &["scan", "inbox", "--wait", "5", "--yes", "--pin-stdin"],
        Some(&pin_line()),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON line");
    assert_eq!(line["outcome"], "approved", "{line}");
    assert_eq!(line["request"]["session_id"], grant.session_id.as_str());
    assert_eq!(line["done"]["auto_confirmed"], false);
    let (signer, _) = p.approved(&asked).await;
    assert_eq!(signer, serial);
    phone.json(&["scan", "end", &grant.session_id], None).ok();

    // Auto-confirm lives in the process that confirmed the session: it follows the session,
    // confirms its sign request by itself, and stops when the session ends.
    let req = p.request(session).await;
    let child = phone.spawn_json(
        &[
            "scan",
            &req.current_qr_uri(),
            "--auto-confirm",
            "--follow",
            "--wait",
            "2",
            "--yes",
            "--pin-stdin",
        ],
        Some(&pin_line()),
    );
    let (_, reply) = p.approved(&req).await;
    let grant = reply.session.expect("session granted");
    assert!(grant.auto_confirm);
    let signed = p
        .client
        .create_in_session(
            &grant.session_id,
            ScanAction::Sign {
                uscc: None,
                documents: vec![DocumentToSign {
                    name: "澄清答复.pdf".into(),
                    digest_alg: DigestAlg::Sm3,
                    digest: bidkey_crypto::sm3::sm3(b"clarification").to_vec(),
                    page_count: 1,
                    seal: None,
                }],
            },
            DEFAULT_TTL_SECS,
        )
        .await
        .expect("session request");
    let (signer, reply) = p.approved(&signed).await;
    assert_eq!(signer, serial);
    assert!(reply.auto_confirmed, "confirmed without asking");
    phone.json(&["scan", "end", &grant.session_id], None).ok();
    let out = child.wait_with_output().expect("follower ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON values");
    assert_eq!(values.len(), 2, "{stdout}");
    assert_eq!(values[0]["done"]["session"]["auto_confirm"], true);
    assert_eq!(values[1]["done"]["auto_confirmed"], true, "{stdout}");
    assert_eq!(values[1]["request"]["kind"], "sign");

    let list = phone.json(&["scan", "sessions"], None).ok();
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .all(|s| !s["ended_at"].is_null() || s["session_id"] != grant.session_id.as_str()),
        "{list}"
    );
}
