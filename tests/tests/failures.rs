//! The failure story: what goes wrong in real use is refused clearly and leaves nothing
//! half done. Wrong PIN five times locks the key until real-name and SMS unlock it; stale,
//! replayed and expired QR codes are refused; a second claim of a claimed enterprise is
//! refused; staff cannot do what only the admin may.

use bidkey_core::Bidkey;
use bidkey_core::CoreError;
use bidkey_crypto::scan::PlatformKey;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::{PendingScan, PlatformIdentity, ScanClient, ScanResult};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;
use bidkey_protocol::scan::{DEFAULT_TTL_SECS, RelayStatus, ScanAction};
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use std::time::Duration;

const USCC: &str = "91500000MA5U8XGQ8Q";
const NAME: &str = "重庆比德科技有限公司";
const ORIGIN: &str = "https://ggzy.cq.example.invalid";

struct Team {
    server: TestServer,
    _dirs: Vec<tempfile::TempDir>,
    admin: Bidkey,
    staff: Bidkey,
    team: EnterpriseTeam,
    client: ScanClient,
}

/// Admin and staff of enterprise A with certificates, a platform, and the staff member
/// granted on it.
async fn team() -> Team {
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
    let api = PlatformClient::new(&server.url(), None, Duration::from_secs(40)).expect("client");
    let client = ScanClient::new(
        &api,
        PlatformIdentity {
            platform_id: platform.platform.id.clone(),
            origin: ORIGIN.into(),
            cert_der: platform.cert_der.clone(),
            key: PlatformKey::Sm2(platform.key_copy()),
        },
    );
    Team {
        server,
        _dirs: dirs,
        admin,
        staff,
        team,
        client,
    }
}

fn code<T: std::fmt::Debug>(r: bidkey_core::Result<T>) -> Option<ErrorCode> {
    r.expect_err("refused").code()
}

async fn login_request(client: &ScanClient) -> PendingScan {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_five_times_locks_until_unlocked() {
    let t = team().await;
    let serial = &t.team.staff_pair.signing_serial;
    // Four wrong PINs: each refused by the server with the tries left.
    for left in (1..=4).rev() {
        let err = t
            .staff
            .sign_message(serial, "000000", b"bid digest")
            .await
            .expect_err("wrong PIN");
        assert_eq!(err, CoreError::WrongPin { tries_left: left });
    }
    // The fifth locks the key; now even the right PIN is refused, on a scan too.
    let err = t
        .staff
        .sign_message(serial, "000000", b"bid digest")
        .await
        .expect_err("locked");
    assert_eq!(err, CoreError::KeyLocked);
    assert_eq!(
        t.staff
            .sign_message(serial, PIN, b"bid digest")
            .await
            .expect_err("locked"),
        CoreError::KeyLocked
    );
    let req = login_request(&t.client).await;
    let view = t.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    assert_eq!(
        t.staff
            .confirm_scan(&view.request_id, PIN)
            .await
            .expect_err("locked"),
        CoreError::KeyLocked
    );

    // Unlock: the same person's real-name again and an SMS code; someone else's fails.
    let sms = code_for(&t.server, &t.staff, "13900000002", SmsPurpose::Unlock).await;
    assert_eq!(
        code(
            t.staff
                .unlock(serial, &identity("王五", &id_number(9)), &sms)
                .await
        ),
        Some(ErrorCode::RealNameFailed)
    );
    let sms = code_for(&t.server, &t.staff, "13900000002", SmsPurpose::Unlock).await;
    t.staff
        .unlock(serial, &identity("李四", &id_number(2)), &sms)
        .await
        .expect("unlocked");
    t.staff
        .sign_message(serial, PIN, b"bid digest")
        .await
        .expect("signs again");
    // The counter started over: one wrong PIN leaves four tries.
    assert_eq!(
        t.staff
            .sign_message(serial, "000000", b"x")
            .await
            .expect_err("wrong"),
        CoreError::WrongPin { tries_left: 4 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_replayed_and_expired_qr_codes_are_refused() {
    let t = team().await;
    let req = login_request(&t.client).await;

    // A photo of the QR code taken now is useless 15 seconds later (the code rotates).
    let photo = req.qr_uri_at(0);
    t.server.running.state.clock.advance(15);
    assert_eq!(
        code(t.staff.scan(&photo).await),
        Some(ErrorCode::ScanCodeStale)
    );
    // The current frame works once; the same frame replayed by another phone is refused.
    let frame = req.qr_uri_at(15);
    let view = t.staff.scan(&frame).await.expect("scanned");
    assert_eq!(code(t.admin.scan(&frame).await), Some(ErrorCode::ScanUsed));
    t.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    match t.client.wait(&req).await.expect("reply") {
        ScanResult::Approved(_) => {}
        other => panic!("approved expected, got {other:?}"),
    }
    // Replayed after the answer, by the same phone: refused, and nothing is signed again.
    let replay = t.staff.scan(&req.qr_uri_at(16)).await;
    assert!(
        matches!(
            replay.as_ref().map_err(|e| e.code()),
            Err(Some(ErrorCode::ScanAnswered | ErrorCode::ScanUsed))
        ),
        "{replay:?}"
    );
    assert!(matches!(
        t.staff.confirm_scan(&view.request_id, PIN).await,
        Err(CoreError::NotFound(_) | CoreError::Server { .. })
    ));

    // Expired: past its life the relay refuses the fetch and tells the platform.
    let req = login_request(&t.client).await;
    t.server.running.state.clock.advance(DEFAULT_TTL_SECS + 1);
    let late = req.qr_uri_at(DEFAULT_TTL_SECS as u64 + 1);
    assert_eq!(
        code(t.staff.scan(&late).await),
        Some(ErrorCode::ScanExpired)
    );
    let polled = t.client.poll(&req, 0).await.expect("poll");
    assert_eq!(polled.status, RelayStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_claim_and_staff_admin_actions_are_refused() {
    let t = team().await;
    let eid = &t.team.enterprise_id;

    // A third person tries to claim the claimed enterprise.
    let dir = tempfile::tempdir().expect("dir");
    let other = phone_at(&t.server, dir.path());
    registered(
        &t.server,
        &other,
        "13900000003",
        &identity("王五", &id_number(3)),
    )
    .await;
    let found = other.search_enterprises(USCC).await.expect("search");
    assert!(found.results[0].claimed);
    let claim = other
        .claim_enterprise(
            USCC,
            NAME,
            None,
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await;
    assert_eq!(code(claim), Some(ErrorCode::EnterpriseAlreadyClaimed));
    // Staff of A claiming it is refused as well.
    let claim = t
        .staff
        .claim_enterprise(
            USCC,
            NAME,
            None,
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await;
    assert_eq!(code(claim), Some(ErrorCode::AlreadyMember));

    // Staff trying the admin's actions.
    let admin_id = t.admin.account().expect("wallet").expect("in").id;
    let other_id = other.account().expect("wallet").expect("in").id;
    let join = other.join_enterprise(eid).await.expect("join request");
    let admin_only = [
        ErrorCode::NotAdmin,
        ErrorCode::Forbidden,
        ErrorCode::NotMember,
    ];
    let refused = |c: Option<ErrorCode>| c.is_some_and(|c| admin_only.contains(&c));
    assert!(refused(code(t.staff.approve_join(eid, &join.id).await)));
    assert!(refused(code(
        t.staff.remove_staff(eid, &admin_id, PIN).await
    )));
    assert!(refused(code(
        t.staff.transfer_admin(eid, &other_id, PIN).await
    )));
    assert!(refused(code(
        t.staff.invite_staff(eid, "13900000004").await
    )));
    assert!(refused(code(
        t.staff.add_seal(eid, "公章", png(64, 64), PIN).await
    )));
    let platforms = t.staff.platforms(None).await.expect("platforms");
    assert!(refused(code(
        t.staff
            .add_grant(eid, &other_id, &platforms[0].id, PIN)
            .await
    )));
    // Nothing changed: the admin is still the admin, the join request still waits for them.
    let staff = t.admin.staff(eid).await.expect("staff");
    assert_eq!(staff.len(), 2);
    let waiting = t.admin.join_requests(eid).await.expect("requests");
    assert!(
        waiting.iter().any(|r| r.application.id == join.id),
        "{waiting:?}"
    );
    assert!(t.admin.seals(eid).await.expect("seals").is_empty());
}
