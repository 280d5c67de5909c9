//! Pre-authorised opening (ADR 0027) at the server's door, on SQLite and PostgreSQL: a share
//! of a k-of-n bid is deposited by its holder only, with a coherent threshold, and a
//! platform's calls are signed. The whole flow (phones, platform SDK) is in
//! `platform/tests/opening.rs`.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::platforms::{NewPreauth, Preauth, PreauthState};
use support::{Store, TestServer, signed_up};

on_both_stores!(a_share_is_deposited_by_its_holder_only);

fn deposit(
    platform_id: &str,
    share_of: Option<&str>,
    threshold: u8,
    opening_at: i64,
) -> NewPreauth {
    NewPreauth {
        platform_id: platform_id.into(),
        tender_id: "CQ-ZB-2026-0117".into(),
        binding_hash: "ab".repeat(32),
        file_name: "投标文件.zip".into(),
        opening_at,
        k1_sealed: vec![1; 100],
        k2: vec![2; 16],
        share_of: share_of.map(str::to_owned),
        threshold,
    }
}

async fn a_share_is_deposited_by_its_holder_only(store: Store) {
    let server = TestServer::start(store).await;
    let platform = bidkey_testkit::phones::registered_platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
    )
    .await;
    let pid = platform.platform.id.clone();
    let at = server.running.state.clock.now() + 3600;
    let someone = signed_up(&server, "13900000009").await;
    // The attack: a member names another holder's certificate (here one they do not hold)
    // to put a share of their making in its place.
    let err = someone
        .post::<_, Preauth>("/v1/preauth", &deposit(&pid, Some("0a1b2c3d"), 2, at))
        .await
        .expect_err("not the depositor's certificate");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::Forbidden));
    // A share without its k, or a k without a share, is malformed.
    for bad in [
        deposit(&pid, Some("0a1b2c3d"), 1, at),
        deposit(&pid, Some("0a1b2c3d"), 33, at),
        deposit(&pid, None, 2, at),
        deposit(&pid, Some("not hex"), 2, at),
    ] {
        let err = someone
            .post::<_, Preauth>("/v1/preauth", &bad)
            .await
            .expect_err("malformed");
        assert_eq!((err.0, err.1.code), (400, ErrorCode::BadRequest));
    }
    // A platform's state and share release are answered only to its signed calls.
    for path in ["/v1/preauth/state", "/v1/preauth/release-shares"] {
        let q = format!("{path}?platform_id={pid}&binding_hash={}", "ab".repeat(32));
        let err = someone.get::<PreauthState>(&q).await.expect_err("unsigned");
        assert_eq!(err.0, 401, "{path}");
    }
}
