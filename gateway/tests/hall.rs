//! The opening hall through the gateway (`POST /v1/opening-hall`, issue 17 §5) and the
//! pre-authorised opening (`POST /v1/bid-files/open-preauthorised`), end to end
//! on loopback: a real Bidkey server, the bidder's phones (the core) encrypting, checking
//! and pre-authorising, and a platform that keeps its bids itself asking the gateway for
//! the hall before and after the opening. The words are the SDK's.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const TENDER: &str = "CQ-ZB-2026-0117";

async fn encrypted(w: &World, plain: &[u8], threshold: Option<u8>) -> Vec<u8> {
    let (file, _) = bidkey_testkit::phones::encrypted_bid(
        &w.staff,
        &w.team.enterprise_id,
        &w.platform.platform.id,
        TENDER,
        plain,
        threshold,
    )
    .await;
    file
}

fn head(file: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(&file[..file.len().min(64 << 10)])
}

/// The row of `bid_id` in a hall answer.
fn row<'a>(v: &'a Value, bid_id: &str) -> &'a Value {
    v["bids"]
        .as_array()
        .expect("bids")
        .iter()
        .find(|b| b["bid_id"] == bid_id)
        .unwrap_or_else(|| panic!("{bid_id} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hall_shows_recipients_self_check_preauthorisation_and_openings_in_words() {
    let w = world().await;
    let clock = w.server.running.state.clock.clone();
    // The admin is granted too: a bid is encrypted to both members.
    let admin_id = w.admin.account().expect("wallet").expect("in").id;
    w.admin
        .add_grant(
            &w.team.enterprise_id,
            &admin_id,
            &w.platform.platform.id,
            PIN,
        )
        .await
        .expect("granted");
    let dir = tempfile::tempdir().expect("dir");
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&gw.url(), &key.token);

    let plain: Vec<u8> = (0..40_000u32).map(|i| (i % 211) as u8).collect();
    let any = encrypted(&w, &plain, None).await;
    let joint = encrypted(&w, b"a 2-of-2 bid", Some(2)).await;
    let files = tempfile::tempdir().expect("dir");
    let (any_path, joint_path) = (files.path().join("a.bid"), files.path().join("b.bid"));
    std::fs::write(&any_path, &any).expect("write");
    std::fs::write(&joint_path, &joint).expect("write");

    // Before anything: two recipients, no self-check (a warning), no pre-authorisation.
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/opening-hall",
            Some(&json!({"bids": [
                {"bid_id": "A", "head": head(&any)},
                {"bid_id": "B", "head": head(&joint)},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let a = row(&v, "A");
    assert_eq!(a["recipients"].as_array().map(Vec::len), Some(2));
    assert_eq!(a["tender_id"], TENDER);
    assert_eq!(a["recipients_line"]["state"], "any_one");
    assert_eq!(a["self_check"]["state"], "none");
    assert_eq!(a["preauth"]["state"], "none");
    assert_eq!(a["opening"]["state"], "waiting");
    assert!(
        a["warnings"][0]["zh"]
            .as_str()
            .is_some_and(|s| s.contains("尚未解密自检")),
        "{a}"
    );
    let b = row(&v, "B");
    assert_eq!(
        (
            b["threshold"].as_u64(),
            b["recipients_line"]["state"].as_str()
        ),
        (Some(2), Some("k_of_n"))
    );

    // The bidder checks A on the phone and pre-authorises it; one of B's two holders
    // pre-authorises their share.
    let check = w
        .staff
        .self_check_bid_file(&any_path, PIN)
        .await
        .expect("checked")
        .expect("it opens");
    let opening_at = clock.now() + 3600;
    w.staff
        .preauthorize_opening(&any_path, PIN, opening_at)
        .await
        .expect("pre-authorised");
    w.staff
        .preauthorize_opening(&joint_path, PIN, opening_at)
        .await
        .expect("one share pre-authorised");
    let report = json!({"ok": true, "checked_at": check.checked_at, "device": "李四的手机"});
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/opening-hall",
            Some(&json!({"bids": [
                {"bid_id": "A", "head": head(&any), "self_check": report},
                {"bid_id": "B", "head": head(&joint)},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let a = row(&v, "A");
    assert_eq!(a["self_check"]["state"], "ok");
    assert!(
        a["self_check"]["zh"]
            .as_str()
            .is_some_and(|s| s.starts_with("可解密 ✓") && s.contains("李四的手机")),
        "{a}"
    );
    assert_eq!(a["warnings"], json!([]));
    assert_eq!(a["preauth"]["state"], "ready");
    let b = row(&v, "B");
    assert_eq!(b["preauth"]["state"], "partial");
    assert!(
        b["preauth"]["zh"]
            .as_str()
            .is_some_and(|s| s.contains("1 / 2")),
        "{b}"
    );

    // Before the opening by the server's clock, the gateway refuses in the hall's words.
    let open = |file: Vec<u8>| {
        let api = api.clone();
        async move {
            api.raw(
                "/v1/bid-files/open-preauthorised",
                "application/octet-stream",
                &[],
                file,
            )
            .await
        }
    };
    let (status, _, body) = open(any.clone()).await;
    let refusal: Value = serde_json::from_slice(&body).expect("error body");
    assert_eq!(
        (status, refusal["code"].as_str()),
        (409, Some("too_early")),
        "{refusal}"
    );
    assert!(
        refusal["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("尚未到开标时间")),
        "{refusal}"
    );
    // The opening, every phone offline: the gateway opens A by its pre-authorisation; B
    // cannot open that way, and the platform keeps the words for why; a file never
    // pre-authorised is named as such.
    clock.advance(3600);
    let (status, h, opened) = open(any.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(opened, plain);
    assert_eq!(
        h.get("bidkey-opened-how").and_then(|v| v.to_str().ok()),
        Some("preauthorised")
    );
    let (status, _, body) = open(joint.clone()).await;
    let refusal: Value = serde_json::from_slice(&body).expect("error body");
    assert_eq!(
        (status, refusal["code"].as_str()),
        (422, Some("not_enough_preauths")),
        "{refusal}"
    );
    let words = json!({"zh": refusal["message_zh"], "en": refusal["message_en"]});
    let never = encrypted(&w, b"never pre-authorised", None).await;
    let (status, _, body) = open(never).await;
    let refusal: Value = serde_json::from_slice(&body).expect("error body");
    assert_eq!(
        (status, refusal["code"].as_str()),
        (404, Some("not_preauthorised")),
        "{refusal}"
    );
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/opening-hall",
            Some(&json!({"bids": [
                {"bid_id": "A", "head": head(&any), "self_check": report,
                 "opened": {"how": "preauthorised", "by": "李四（预授权）", "opened_at": clock.now()}},
                {"bid_id": "B", "head": head(&joint), "failure": words},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let a = row(&v, "A");
    assert_eq!(a["preauth"]["state"], "released");
    assert_eq!(a["opening"]["state"], "opened");
    assert_eq!(a["opened_how"], "preauthorised");
    assert!(
        a["opening"]["zh"]
            .as_str()
            .is_some_and(|s| s.starts_with("已解密（预授权解密，李四（预授权）")),
        "{a}"
    );
    let b = row(&v, "B");
    assert_eq!(b["opening"]["state"], "failed");
    assert!(
        b["opening"]["zh"]
            .as_str()
            .is_some_and(|s| s.contains("只有 1 位授权人员预授权")),
        "{b}"
    );
    assert!(
        b["opening"]["en"]
            .as_str()
            .is_some_and(|s| s.starts_with("only 1 of the 2")),
        "{b}"
    );
    // A head that is not a bid file is refused, naming the bid.
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/opening-hall",
            Some(&json!({"bids": [{"bid_id": "A", "head": head(&any)}, {"bid_id": "C", "head": "QktGAAAA"}]})),
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("bad_request")),
        "{v}"
    );
    assert!(
        v["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("bids[1]")),
        "{v}"
    );
    gw.stop().await;
}
