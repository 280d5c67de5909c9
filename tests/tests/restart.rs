//! A server restart in the middle of a flow loses nothing: everything the flows need is in
//! the store, so a new process on the same data directory and port carries on. Shown for a
//! claim (micro-payment requested, then the bank's statement and the CA's review arrive
//! after the restart) and for a scan (scanned before, confirmed after).

use bidkey_core::Bidkey;
use bidkey_platform::scan::ScanResult;
use bidkey_protocol::enterprises::{MicropaymentStatus, Role};
use bidkey_protocol::orders::Status;
use bidkey_protocol::platforms::LineOutcome;
use bidkey_protocol::scan::{DEFAULT_TTL_SECS, RelayStatus, ScanAction};
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};

const USCC: &str = "91500000MA5U8XGQ8Q";
const NAME: &str = "重庆比德科技有限公司";
const ORIGIN: &str = "https://ggzy.cq.example.invalid";

async fn role_in(phone: &Bidkey, eid: &str) -> Option<Role> {
    phone
        .my_enterprises()
        .await
        .expect("mine")
        .into_iter()
        .find(|e| e.id == eid)
        .map(|e| e.my_role)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_resumes_after_a_restart() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let admin = phone_at(&server, dir.path());
    registered(
        &server,
        &admin,
        "13900000001",
        &identity("张三", &id_number(1)),
    )
    .await;
    let mp = admin
        .request_micropayment(USCC, NAME, "880021")
        .await
        .expect("micro-payment requested");

    // Restart while the transfer is on its way: the request is kept, with its amount.
    let server = bidkey_e2e::restart(server).await;
    let polled = admin
        .micropayment(&mp.id)
        .await
        .expect("poll after restart");
    assert_eq!(polled.status, MicropaymentStatus::Pending);
    assert_eq!(polled.amount_fen, mp.amount_fen);
    let out = bank_credit(&server, NAME, "T-1", "880021", mp.amount_fen, &mp.reference).await;
    assert_eq!(out.results[0].outcome, LineOutcome::Matched);
    assert_eq!(role_in(&admin, &mp.enterprise_id).await, Some(Role::Admin));

    // The claim is submitted; restart while it waits for the CA.
    let claim = admin
        .claim_enterprise(
            USCC,
            NAME,
            None,
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await
        .expect("claimed");
    assert_eq!(claim.status, Status::PendingReview);
    let server = bidkey_e2e::restart(server).await;
    let app = admin.application(&claim.id).await.expect("still there");
    assert_eq!(app.status, Status::PendingReview);
    let paid = approve_and_pay(&server, &admin, &app).await;

    // Restart between payment and enrolment: the certificates are issued afterwards, by
    // the CA and KMC keys the new process loads from the data directory.
    let server = bidkey_e2e::restart(server).await;
    let pair = admin.enroll(&paid.id, PIN).await.expect("enrolled");
    admin
        .sign_message(&pair.signing_serial, PIN, b"after three restarts")
        .await
        .expect("co-signed by the new process");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_request_is_confirmed_after_a_restart() {
    let server = TestServer::start(Store::Sqlite).await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let admin = phone_at(&server, dirs[0].path());
    let staff = phone_at(&server, dirs[1].path());
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
    let platform = registered_platform(&server, "演示交易平台", ORIGIN).await;
    let staff_id = staff.account().expect("wallet").expect("in").id;
    admin
        .add_grant(&team.enterprise_id, &staff_id, &platform.platform.id, PIN)
        .await
        .expect("granted");
    let PlatformSide {
        client, verifier, ..
    } = platform_side(&server, &platform, ORIGIN).await;

    let req = client
        .create(
            ScanAction::Login {
                uscc: Some(USCC.into()),
            },
            DEFAULT_TTL_SECS,
        )
        .await
        .expect("request made");
    let view = staff.scan(&req.current_qr_uri()).await.expect("scanned");
    assert_eq!(
        client.poll(&req, 0).await.expect("poll").status,
        RelayStatus::Scanned
    );

    // Restart while the phone shows the confirmation page.
    let server = bidkey_e2e::restart(server).await;
    assert_eq!(
        client
            .poll(&req, 0)
            .await
            .expect("poll after restart")
            .status,
        RelayStatus::Scanned,
        "the claim of the request by this phone survived"
    );
    staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed after the restart");
    let reply = match client.wait(&req).await.expect("reply") {
        ScanResult::Approved(r) => r,
        other => panic!("approved expected, got {other:?}"),
    };
    let verified = verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("the platform verifies the reply");
    let signer = verified.signer.expect("signer");
    assert_eq!(signer.serial, team.staff_pair.signing_serial);
    assert_eq!(signer.uscc.as_deref(), Some(USCC));
    drop(server);
}
