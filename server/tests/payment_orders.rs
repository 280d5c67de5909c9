//! Payment orders and refunds against fake WeChat Pay v3 and Alipay gateways on loopback
//! that check what the vendors check (the merchant's signature over the exact canonical
//! string, the merchant, the required fields) and sign their answers (ADR 0028): a Native
//! and a JSAPI order and an Alipay precreate; an order paid, its application then rejected, refunded
//! exactly once though the vendor lost its first answer or was down for the first tries
//! and the refund was asked again; an answer not signed by the vendor is not believed. On
//! SQLite and PostgreSQL.
//!
//! The vendors' keys are the RSA-2048 test keys of `tests/fixtures` (ADR 0014: no published
//! key-and-signature vector exists; the published signing-string example is a unit test).

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{self as ow, ReviewDecision, Status};
use bidkey_server::payments::PaymentConfig;
use bidkey_server::providers::pay_alipay::AlipayConfig;
use bidkey_server::providers::pay_wechat::WechatConfig;
use bidkey_server::util::Clock;
use bidkey_testkit::pay_vendors::{FakePayVendor, PayScript, PayVendor, paid_notification};
use std::sync::{Arc, OnceLock};
use support::device::{approve, operator};
use support::{Client, Store, TestServer, person};

const ALIPAY_KEY: &[u8] = include_bytes!("fixtures/alipay-platform.pk8");
const ALIPAY_PUB: &[u8] = include_bytes!("fixtures/alipay-platform.spki.der");
const MERCHANT_KEY: &[u8] = include_bytes!("fixtures/merchant.pk8");
const MERCHANT_PUB: &[u8] = include_bytes!("fixtures/merchant.spki.der");
const WECHAT_KEY: &[u8] = include_bytes!("fixtures/wechat-platform.pk8");
const WECHAT_PUB: &[u8] = include_bytes!("fixtures/wechat-platform.spki.der");
const APIV3_KEY: &[u8; 32] = b"apiv3-key-of-the-merchant-32byte";

on_both_stores!(
    a_wechat_order_paid_then_rejected_is_refunded_once,
    an_alipay_order_paid_then_rejected_is_refunded_once_after_the_vendor_was_down,
    a_refund_the_vendor_failed_is_retried_by_the_server_without_the_operator,
);

struct Setup {
    server: TestServer,
    wechat: FakePayVendor,
    alipay: FakePayVendor,
    wechat_vendor: PayVendor,
    alipay_vendor: PayVendor,
}

fn wechat_vendor() -> PayVendor {
    PayVendor::Wechat {
        mch_id: "1900000001".into(),
        app_id: "wx0000000000000001".into(),
        merchant_serial: "MERCHANT_SERIAL_0001".into(),
        merchant_public: MERCHANT_PUB.to_vec(),
        platform_key: WECHAT_KEY.to_vec(),
        platform_serial: "PUB_KEY_ID_0001".into(),
        apiv3_key: APIV3_KEY.to_vec(),
    }
}

fn alipay_vendor() -> PayVendor {
    PayVendor::Alipay {
        app_id: "2021000000000001".into(),
        merchant_public: MERCHANT_PUB.to_vec(),
        alipay_key: ALIPAY_KEY.to_vec(),
    }
}

/// The server with both vendors, its config pointing at the fakes; `platform_pub` is the
/// key it believes WeChat Pay's answers with.
async fn setup(store: Store, platform_pub: &[u8]) -> Setup {
    let clock: Arc<OnceLock<Clock>> = Arc::default();
    let now = |c: Arc<OnceLock<Clock>>| move || c.get().map(Clock::now).unwrap_or(0);
    let wechat = FakePayVendor::start(wechat_vendor(), now(clock.clone())).await;
    let alipay = FakePayVendor::start(alipay_vendor(), now(clock.clone())).await;
    let payment = PaymentConfig {
        alipay: Some(AlipayConfig {
            app_id: "2021000000000001".into(),
            merchant_key_pkcs8: zeroize::Zeroizing::new(MERCHANT_KEY.to_vec()),
            alipay_public_key: ALIPAY_PUB.to_vec(),
            notify_url: "https://bidkey.example/v1/payments/alipay/notify".into(),
            gateway: format!("{}/gateway.do", alipay.url),
        }),
        wechat: Some(WechatConfig {
            mch_id: "1900000001".into(),
            app_id: "wx0000000000000001".into(),
            apiv3_key: zeroize::Zeroizing::new(APIV3_KEY.to_vec()),
            platform_public_key: platform_pub.to_vec(),
            platform_serial: "PUB_KEY_ID_0001".into(),
            merchant_key_pkcs8: Some(zeroize::Zeroizing::new(MERCHANT_KEY.to_vec())),
            merchant_serial: "MERCHANT_SERIAL_0001".into(),
            api_base: wechat.url.clone(),
            notify_url: "https://bidkey.example/v1/payments/wechat/notify".into(),
        }),
    };
    let server = TestServer::start_with(store, move |c| c.providers.payment = payment).await;
    let _ = clock.set(server.running.state.clock.clone());
    Setup {
        server,
        wechat,
        alipay,
        wechat_vendor: wechat_vendor(),
        alipay_vendor: alipay_vendor(),
    }
}

/// A person's approved personal application, its order awaiting payment.
async fn awaiting(server: &TestServer, phone: &str, seq: u32) -> (Client, ow::Application) {
    let c = person(server, phone, "李四", seq).await;
    let app: ow::Application = c
        .post(
            "/v1/applications/personal",
            &bidkey_protocol::certs::PersonalApplicationRequest::default(),
        )
        .await
        .expect("applied");
    approve(server, &app.id).await;
    let app: ow::Application = c
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("app");
    assert_eq!(
        app.order.as_ref().map(|o| o.status),
        Some(Status::AwaitingPayment)
    );
    (c, app)
}

/// The vendor's notification reaches the server: the order is paid.
async fn notified(server: &TestServer, vendor: &PayVendor, path: &str, order: &ow::Order) {
    let (headers, body) = paid_notification(
        vendor,
        &order.id,
        order.amount_fen,
        server.running.state.clock.now(),
    );
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let status = req.send().await.expect("reachable").status().as_u16();
    assert!(status == 200 || status == 204, "notification: {status}");
}

async fn reject(server: &TestServer, app: &ow::Application) -> ow::Application {
    operator(server)
        .post(
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: false,
                reason: Some("材料不实".into()),
            },
        )
        .await
        .expect("rejected")
}

async fn a_wechat_order_paid_then_rejected_is_refunded_once(store: Store) {
    let s = setup(store, WECHAT_PUB).await;
    let (c, app) = awaiting(&s.server, "13800000071", 71).await;
    let order = app.order.clone().expect("order");

    let native: serde_json::Value = c
        .post(
            &format!("/v1/orders/{}/wechat/native", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("native order");
    assert_eq!(
        native["code_url"],
        format!("weixin://wxpay/bizpayurl?pr={}", order.id)
    );
    let seen = s.wechat.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].signature_ok && seen[0].problem.is_none(),
        "{seen:?}"
    );
    assert_eq!(seen[0].call, "native");

    // Inside WeChat: a JSAPI order for the payer's openid, and the parameters the page
    // hands to WeixinJSBridge, signed with the merchant key.
    let err = c
        .post::<_, serde_json::Value>(
            &format!("/v1/orders/{}/wechat/jsapi", order.id),
            &serde_json::json!({ "openid": "o\"; DROP" }),
        )
        .await
        .expect_err("not an openid");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    let openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    let js: serde_json::Value = c
        .post(
            &format!("/v1/orders/{}/wechat/jsapi", order.id),
            &serde_json::json!({ "openid": openid }),
        )
        .await
        .expect("jsapi order");
    assert_eq!(js["package"], format!("prepay_id=wx2026{}", order.id));
    assert_eq!(
        (js["appId"].as_str(), js["signType"].as_str()),
        (Some("wx0000000000000001"), Some("RSA"))
    );
    let field = |k: &str| js[k].as_str().expect("field").to_owned();
    assert!(bidkey_server::providers::pay_alipay::verify_rsa2(
        MERCHANT_PUB,
        &bidkey_server::providers::pay_wechat::jsapi_pay_message(
            &field("appId"),
            &field("timeStamp"),
            &field("nonceStr"),
            &field("package")
        ),
        &field("paySign"),
    ));
    let seen = s.wechat.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].call, "jsapi");
    assert!(
        seen[1].signature_ok && seen[1].problem.is_none(),
        "{seen:?}"
    );

    notified(
        &s.server,
        &s.wechat_vendor,
        "/v1/payments/wechat/notify",
        &order,
    )
    .await;
    let paid: ow::Application = c
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("app");
    assert_eq!(paid.status, Status::Paid);
    // Paid: no second order for it.
    let err = c
        .post::<_, serde_json::Value>(
            &format!("/v1/orders/{}/wechat/native", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("already paid");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    // The vendor takes the refund but its answer is lost: the retry is the same refund.
    s.wechat.script(&[PayScript::DoneButLost]);
    let rejected = reject(&s.server, &paid).await;
    assert_eq!(rejected.status, Status::Rejected);
    let o = rejected.order.expect("order");
    assert_eq!(
        (o.status, o.refund_status.as_deref()),
        (Status::Rejected, Some("refunded"))
    );
    let refunds = s.wechat.refunds();
    assert_eq!(refunds.len(), 1, "one refund at the vendor: {refunds:?}");
    assert_eq!(
        refunds.values().next(),
        Some(&(order.id.clone(), order.amount_fen))
    );
    let calls = s
        .wechat
        .seen()
        .iter()
        .filter(|x| x.call == "refund")
        .count();
    assert_eq!(calls, 2, "asked twice, refunded once");
    assert!(
        s.wechat
            .seen()
            .iter()
            .all(|x| x.signature_ok && x.problem.is_none())
    );

    // Asking again changes nothing and calls nobody.
    let again: ow::Order = operator(&s.server)
        .post(
            &format!("/v1/operator/orders/{}/refund", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("refund again");
    assert_eq!(again.refund_status.as_deref(), Some("refunded"));
    assert_eq!(
        s.wechat
            .seen()
            .iter()
            .filter(|x| x.call == "refund")
            .count(),
        2
    );
    let msgs: Vec<bidkey_protocol::enterprises::Message> =
        c.get("/v1/messages").await.expect("messages");
    assert_eq!(
        msgs.iter().filter(|m| m.text_zh.contains("退款")).count(),
        1
    );
    // Nothing to refund on an order that was never paid.
    let (_, unpaid) = awaiting(&s.server, "13800000072", 72).await;
    let err = operator(&s.server)
        .post::<_, ow::Order>(
            &format!(
                "/v1/operator/orders/{}/refund",
                unpaid.order.expect("order").id
            ),
            &serde_json::json!({}),
        )
        .await
        .expect_err("unpaid");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
}

async fn an_alipay_order_paid_then_rejected_is_refunded_once_after_the_vendor_was_down(
    store: Store,
) {
    let s = setup(store, WECHAT_PUB).await;
    let (c, app) = awaiting(&s.server, "13800000073", 73).await;
    let order = app.order.clone().expect("order");
    let qr: serde_json::Value = c
        .post(
            &format!("/v1/orders/{}/alipay/precreate", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("precreate");
    assert_eq!(qr["qr_code"], format!("https://qr.alipay.com/{}", order.id));
    let seen = s.alipay.seen();
    assert_eq!(seen[0].call, "alipay.trade.precreate");
    assert!(
        seen[0].signature_ok && seen[0].problem.is_none(),
        "{seen:?}"
    );

    notified(
        &s.server,
        &s.alipay_vendor,
        "/v1/payments/alipay/notify",
        &order,
    )
    .await;
    // Down for every try of the first request: the rejection stands, the refund waits.
    s.alipay.script(&[PayScript::Unavailable; 3]);
    let paid: ow::Application = c
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("app");
    let rejected = reject(&s.server, &paid).await;
    assert_eq!(rejected.status, Status::Rejected);
    assert_eq!(
        rejected.order.expect("order").refund_status.as_deref(),
        Some("pending")
    );
    assert!(s.alipay.refunds().is_empty());
    // The operator asks again; the first answer of this try is lost after the refund.
    s.alipay.script(&[PayScript::DoneButLost]);
    let o: ow::Order = operator(&s.server)
        .post(
            &format!("/v1/operator/orders/{}/refund", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("refunded");
    assert_eq!(o.refund_status.as_deref(), Some("refunded"));
    assert!(o.refunded_at.is_some());
    let again: ow::Order = operator(&s.server)
        .post(
            &format!("/v1/operator/orders/{}/refund", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("again");
    assert_eq!(again.refund_status.as_deref(), Some("refunded"));
    let refunds = s.alipay.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(
        refunds.values().next(),
        Some(&(order.id.clone(), order.amount_fen))
    );
    assert_eq!(
        s.alipay
            .seen()
            .iter()
            .filter(|x| x.call == "alipay.trade.refund")
            .count(),
        5,
        "three tries down, then taken-but-lost and its retry"
    );
    assert!(
        s.alipay
            .seen()
            .iter()
            .all(|x| x.signature_ok && x.problem.is_none())
    );
}

/// An answer signed by someone else (here: a server that believes another platform key)
/// is not taken: no code URL, a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_not_signed_by_the_vendor_is_not_believed() {
    let s = setup(Store::Sqlite, ALIPAY_PUB).await;
    let (c, app) = awaiting(&s.server, "13800000074", 74).await;
    let order = app.order.expect("order");
    let err = c
        .post::<_, serde_json::Value>(
            &format!("/v1/orders/{}/wechat/native", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("not believed");
    assert_eq!(err.1.code, ErrorCode::ProviderUnavailable);
    // The vendor did see a well-signed request: the refusal is ours.
    assert!(s.wechat.seen()[0].signature_ok);
}

/// The vendor fails the refund at rejection; no operator asks again: once the backoff has
/// passed on the server clock, the server's sweeper asks by itself, and the money is
/// refunded exactly once.
async fn a_refund_the_vendor_failed_is_retried_by_the_server_without_the_operator(store: Store) {
    let s = setup(store, WECHAT_PUB).await;
    let (c, app) = awaiting(&s.server, "13800000074", 74).await;
    let order = app.order.clone().expect("order");
    let _: serde_json::Value = c
        .post(
            &format!("/v1/orders/{}/alipay/precreate", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("precreate");
    notified(
        &s.server,
        &s.alipay_vendor,
        "/v1/payments/alipay/notify",
        &order,
    )
    .await;
    s.alipay.script(&[PayScript::Unavailable; 3]);
    let paid: ow::Application = c
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("app");
    let rejected = reject(&s.server, &paid).await;
    assert_eq!(
        rejected.order.expect("order").refund_status.as_deref(),
        Some("pending")
    );
    assert!(s.alipay.refunds().is_empty());
    // The first retry is due a minute (server clock) after the failed attempt.
    s.server
        .running
        .state
        .clock
        .advance(bidkey_server::refunds::RETRY_FIRST);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let a: ow::Application = c
            .get(&format!("/v1/applications/{}", app.id))
            .await
            .expect("app");
        let o = a.order.expect("order");
        if o.refund_status.as_deref() == Some("refunded") {
            assert!(o.refunded_at.is_some());
            break;
        }
        assert_eq!(o.refund_status.as_deref(), Some("pending"));
        assert!(
            std::time::Instant::now() < end,
            "not refunded by the server within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let refunds = s.alipay.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(
        refunds.values().next(),
        Some(&(order.id.clone(), order.amount_fen))
    );
    assert_eq!(
        s.alipay
            .seen()
            .iter()
            .filter(|x| x.call == "alipay.trade.refund")
            .count(),
        4,
        "three tries down at rejection, then the sweeper's one"
    );
}
