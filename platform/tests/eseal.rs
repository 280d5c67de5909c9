//! GB/T 38540 electronic seals end to end: the admin adds a seal granted to a staff member,
//! the CA approves it (the seal maker makes the SESeal), the platform asks the staff member
//! to seal a document by scan, the phone co-signs the CMS and the `SES_Signature`, the SDK
//! timestamps and verifies both; the independent checker (asn1crypto + gmssl-fast) accepts
//! the seal signature. Then: a seal granted to someone else gives no seal signature (the
//! server does not give it to the staff member), a pending seal neither, and after the seal is
//! revoked a new sealing gives none while the earlier one still verifies, as made before the
//! revocation.

use bidkey_core::Bidkey;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::{ReplyVerifier, VerifiedReply};
use bidkey_platform::scan::{ScanClient, ScanResult};
use bidkey_platform::timestamp::TsaTrust;
use bidkey_protocol::platforms::{Seal, SealApproval, SealStatus};
use bidkey_protocol::scan::*;
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use std::process::Command;
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
    client: ScanClient,
    verifier: ReplyVerifier,
    trust: TsaTrust,
}

fn api(server: &TestServer) -> PlatformClient {
    PlatformClient::new(&server.url(), None, Duration::from_secs(40)).expect("client")
}

async fn world() -> World {
    let server = TestServer::start(Store::Sqlite).await;
    let GrantedTeam {
        dirs,
        admin,
        staff,
        team,
        platform,
    } = granted_team(&server, USCC, NAME, "重庆市公共资源交易中心", ORIGIN).await;
    let PlatformSide {
        client,
        verifier,
        anchor,
    } = platform_side(&server, &platform, ORIGIN).await;
    let trust = TsaTrust {
        roots: vec![anchor.root().clone()],
        intermediates: anchor.intermediates().to_vec(),
    };
    World {
        server,
        _dirs: dirs,
        admin,
        staff,
        team,
        client,
        verifier,
        trust,
    }
}

async fn approve(w: &World, seal: &Seal) -> Seal {
    operator(
        &w.server,
        reqwest::Method::POST,
        &format!("/v1/operator/seals/{}/approve", seal.id),
        &SealApproval { valid_days: 365 },
    )
    .await
}

/// The staff member seals `data` with `seal_id` by scan; the platform verifies.
async fn seal_by_scan(w: &World, seal_id: &str, data: &[u8]) -> (DocumentToSign, VerifiedReply) {
    let doc = DocumentToSign {
        name: "投标文件.pdf".into(),
        digest_alg: DigestAlg::Sm3,
        digest: bidkey_crypto::sm3::sm3(data).to_vec(),
        page_count: 3,
        seal: Some(SealPlacement {
            seal_id: seal_id.into(),
            page: 3,
            x_mm: 120,
            y_mm: 200,
            width_mm: 42,
            height_mm: 42,
        }),
    };
    let req = w
        .client
        .create(
            ScanAction::Sign {
                uscc: Some(USCC.into()),
                documents: vec![doc.clone()],
            },
            60,
        )
        .await
        .expect("request");
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("sealed");
    let reply = match w.client.wait(&req).await.expect("reply") {
        ScanResult::Approved(r) => r,
        other => panic!("approved expected, got {other:?}"),
    };
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    (doc, v)
}

fn independent_check(ses: &[u8], digest: &[u8]) -> Option<(bool, String)> {
    let ready = Command::new("python3")
        .args(["-c", "import asn1crypto, gmssl_fast"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        eprintln!(
            "\n\n!!!!! SKIPPED: python3 with asn1crypto and gmssl-fast is missing; the \
             independent GB/T 38540 check did not run. CI installs them. !!!!!\n"
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("seal.ses");
    std::fs::write(&path, ses).expect("write");
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crypto/tests/ses_check.py"
        ))
        .arg("signature")
        .arg(&path)
        .arg(hex::encode(digest))
        .output()
        .expect("python3");
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_seal_gives_a_gbt_38540_seal_signature_by_scan() {
    let w = world().await;
    let staff_id = w.staff.account().expect("wallet").expect("in").id;
    let admin_id = w.admin.account().expect("wallet").expect("in").id;
    let picture = png(200, 200);
    let seal = w
        .admin
        .add_electronic_seal(
            &w.team.enterprise_id,
            "投标专用章",
            picture.clone(),
            3,
            (42, 42),
            vec![staff_id.clone()],
            PIN,
        )
        .await
        .expect("seal added");
    assert_eq!(seal.status, SealStatus::Pending);
    assert_eq!(seal.holders, vec![staff_id.clone()]);

    // Pending: the seal's image is drawn, but there is no seal signature.
    let (_, v) = seal_by_scan(&w, &seal.id, b"first bid").await;
    assert!(v.documents[0].ses_signature.is_none());

    let approved = approve(&w, &seal).await;
    assert_eq!(approved.status, SealStatus::Approved);
    let es_id = approved.es_id.clone().expect("esID");

    let data: &[u8] = "投标文件 bytes".as_bytes();
    let (doc, v) = seal_by_scan(&w, &seal.id, data).await;
    let got = &v.documents[0];
    let ses = got.ses_signature.clone().expect("a seal signature");
    let report = got.seal_report.clone().expect("report");
    assert_eq!(report.es_id, es_id);
    assert_eq!(report.name, "投标专用章");
    assert_eq!(report.seal_type, 3);
    assert!(
        report.maker.contains("Bidkey Seal Maker"),
        "{}",
        report.maker
    );
    assert!(report.signer_listed && report.valid_when_used && report.timestamped);
    assert_eq!(report.picture_png, picture);
    assert_eq!((report.width_mm, report.height_mm), (42, 42));
    assert!(
        report.property_info.contains("page=3;x_mm=120;y_mm=200"),
        "{}",
        report.property_info
    );
    if let Some((ok, text)) = independent_check(&ses, &doc.digest) {
        assert!(ok, "independent check refused the seal signature:\n{text}");
        assert!(text.contains("投标专用章"), "{text}");
    }
    // The verifier refuses the seal signature against another document's digest.
    assert!(bidkey_platform::eseal::verify(&ses, Some(&[0u8; 32]), &w.trust).is_err());

    // A seal granted to the admin only is not the staff member's: no seal signature.
    let admins = w
        .admin
        .add_electronic_seal(
            &w.team.enterprise_id,
            "合同专用章",
            png(120, 120),
            2,
            (40, 40),
            vec![admin_id],
            PIN,
        )
        .await
        .expect("seal added");
    approve(&w, &admins).await;
    let usable = w
        .staff
        .usable_seals_on(w.client.platform_id())
        .await
        .expect("usable");
    assert_eq!(usable.len(), 1, "only the staff member's own seal");
    let (_, v2) = seal_by_scan(&w, &admins.id, b"x").await;
    assert!(v2.documents[0].ses_signature.is_none());

    // Revoked (seconds later on the server's clock): no new seal signature; the earlier one
    // still verifies, timestamped before the revocation.
    w.server.running.state.clock.advance(5);
    let revoked: Seal = w
        .admin
        .revoke_seal(&w.team.enterprise_id, &seal.id)
        .await
        .expect("revoked");
    assert_eq!(revoked.status, SealStatus::Revoked);
    let (_, v3) = seal_by_scan(&w, &seal.id, b"after").await;
    assert!(v3.documents[0].ses_signature.is_none());
    let again =
        bidkey_platform::eseal::verify_online(&api(&w.server), &ses, Some(&doc.digest), &w.trust)
            .await
            .expect("made before the revocation");
    assert!(again.revoked_at.is_some());

    // The command line verifier says the same, offline and with the server's status.
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    let ses_path = file("seal.ses", &ses);
    let data_path = file("bid.bin", data);
    let other_path = file("other.bin", b"other");
    let root = file("root.der", w.trust.roots[0].to_der());
    let ca = file("ca.der", w.trust.intermediates[0].to_der());
    let cli = |extra: &[&std::path::Path], server: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bidkey-platform"));
        cmd.arg("verify-seal")
            .arg(&ses_path)
            .arg("--root")
            .arg(&root)
            .arg("--ca")
            .arg(&ca);
        cmd.arg("--data").args(extra).arg("--json");
        if server {
            cmd.arg("--server").arg(w.server.url());
        }
        let out = cmd.output().expect("run");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = cli(&[&data_path], false);
    assert!(ok, "{text}");
    assert!(text.contains("\"signer_listed\": true"), "{text}");
    let (ok, text) = cli(&[&data_path], true);
    assert!(ok, "{text}");
    assert!(!text.contains("\"revoked_at\": null"), "{text}");
    let (ok, text) = cli(&[&other_path], false);
    assert!(!ok && text.contains("dataHash"), "{text}");
}
