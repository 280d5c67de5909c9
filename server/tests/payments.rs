//! Alipay and WeChat Pay: the signed Alipay order string, the vendors' notifications
//! (verified with their keys, then the order is paid), attacks on them (forged, tampered,
//! wrong amount, another app or merchant, stale, replayed), and invoice download.
//!
//! No published key-and-signature vector was found for either vendor: the vendor's keys
//! here are RSA-2048 keys made with OpenSSL for these tests (tests/fixtures), see ADR 0014.

mod support;

use base64::Engine;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{self as ow, Invoice, InvoiceRequest, Status};
use bidkey_server::payments::PaymentConfig;
use bidkey_server::providers::pay_alipay::{self, AlipayConfig, canonical, sign_rsa2, verify_rsa2};
use bidkey_server::providers::pay_wechat::{self, WechatConfig};
use std::collections::BTreeMap;
use support::device::approve;
use support::{Client, Store, TestServer, person};

const ALIPAY_KEY: &[u8] = include_bytes!("fixtures/alipay-platform.pk8");
const ALIPAY_PUB: &[u8] = include_bytes!("fixtures/alipay-platform.spki.der");
const MERCHANT_KEY: &[u8] = include_bytes!("fixtures/merchant.pk8");
const MERCHANT_PUB: &[u8] = include_bytes!("fixtures/merchant.spki.der");
const WECHAT_KEY: &[u8] = include_bytes!("fixtures/wechat-platform.pk8");
const WECHAT_PUB: &[u8] = include_bytes!("fixtures/wechat-platform.spki.der");
const APIV3_KEY: &[u8; 32] = b"apiv3-key-of-the-merchant-32byte";

async fn server() -> TestServer {
    let payment = PaymentConfig {
        alipay: Some(AlipayConfig {
            app_id: "2021000000000001".into(),
            merchant_key_pkcs8: zeroize::Zeroizing::new(MERCHANT_KEY.to_vec()),
            alipay_public_key: ALIPAY_PUB.to_vec(),
            notify_url: "https://bidkey.example/v1/payments/alipay/notify".into(),
            gateway: pay_alipay::GATEWAY.into(),
        }),
        wechat: Some(WechatConfig {
            mch_id: "1900000001".into(),
            app_id: "wx0000000000000001".into(),
            apiv3_key: zeroize::Zeroizing::new(APIV3_KEY.to_vec()),
            platform_public_key: WECHAT_PUB.to_vec(),
            platform_serial: "PUB_KEY_ID_0001".into(),
            merchant_key_pkcs8: None,
            merchant_serial: String::new(),
            api_base: pay_wechat::API_BASE.into(),
            notify_url: String::new(),
        }),
    };
    TestServer::start_with(Store::Sqlite, move |c| c.providers.payment = payment).await
}

/// A real-named person with an approved personal application: its order awaits payment.
async fn awaiting(
    server: &TestServer,
    phone: &str,
    seq: u32,
) -> (Client, ow::Application, ow::Order) {
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
    let order = app.order.clone().expect("order");
    assert_eq!(order.status, Status::AwaitingPayment);
    (c, app, order)
}

async fn status_of(c: &Client, app: &ow::Application) -> Status {
    let a: ow::Application = c
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("app");
    a.status
}

fn alipay_notification(order: &ow::Order, amount: &str, app_id: &str, key: &[u8]) -> Vec<u8> {
    let mut p: BTreeMap<String, String> = [
        ("app_id", app_id),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("notify_time", "2026-12-07 14:00:00"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", order.id.as_str()),
        ("total_amount", amount),
        ("trade_no", "2026120722001400000000000001"),
        ("trade_status", "TRADE_SUCCESS"),
        ("charset", "utf-8"),
        ("version", "1.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let sign = sign_rsa2(key, canonical(&p, &["sign", "sign_type"]).as_bytes()).expect("sign");
    p.insert("sign".into(), sign);
    p.insert("sign_type".into(), "RSA2".into());
    p.iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                bidkey_server::providers::sms_aliyun::percent_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

async fn post_raw(
    server: &TestServer,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("reachable");
    (resp.status().as_u16(), resp.text().await.expect("text"))
}

#[tokio::test]
async fn alipay_order_string_is_signed_and_a_verified_notification_pays() {
    let server = server().await;
    let (c, app, order) = awaiting(&server, "13700137001", 71).await;

    // The order string: what Alipay checks with the merchant's public key.
    let s: serde_json::Value = c
        .post(
            &format!("/v1/orders/{}/alipay", order.id),
            &serde_json::json!({}),
        )
        .await
        .expect("order string");
    let params =
        bidkey_server::payments::form_decode(s["order_string"].as_str().expect("str").as_bytes());
    assert_eq!(params["method"], "alipay.trade.app.pay");
    let biz: serde_json::Value = serde_json::from_str(&params["biz_content"]).expect("biz");
    assert_eq!(biz["out_trade_no"], order.id.as_str());
    assert_eq!(biz["total_amount"], pay_alipay::yuan(order.amount_fen));
    assert!(verify_rsa2(
        MERCHANT_PUB,
        canonical(&params, &["sign"]).as_bytes(),
        &params["sign"]
    ));

    let amount = pay_alipay::yuan(order.amount_fen);
    let forbidden = |r: (u16, String)| {
        assert_eq!(r.0, 403, "{}", r.1);
        assert_eq!(status_of_sync(&r.1), Some(ErrorCode::Forbidden));
    };
    // Forged: signed by someone other than Alipay (the merchant's own key).
    forbidden(
        post_raw(
            &server,
            "/v1/payments/alipay/notify",
            &[],
            alipay_notification(&order, &amount, "2021000000000001", MERCHANT_KEY),
        )
        .await,
    );
    // Tampered after signing: the amount changed.
    let good = alipay_notification(&order, &amount, "2021000000000001", ALIPAY_KEY);
    let tampered = String::from_utf8(good.clone())
        .expect("utf8")
        .replace(
            &format!("total_amount={}", amount.replace('.', "%2E")),
            "total_amount=0.01",
        )
        .replace(&format!("total_amount={amount}"), "total_amount=0.01");
    assert_ne!(tampered.as_bytes(), good.as_slice());
    forbidden(
        post_raw(
            &server,
            "/v1/payments/alipay/notify",
            &[],
            tampered.into_bytes(),
        )
        .await,
    );
    // Well signed but for another app.
    forbidden(
        post_raw(
            &server,
            "/v1/payments/alipay/notify",
            &[],
            alipay_notification(&order, &amount, "2021000000009999", ALIPAY_KEY),
        )
        .await,
    );
    // Well signed but not the order's amount.
    let (st, _) = post_raw(
        &server,
        "/v1/payments/alipay/notify",
        &[],
        alipay_notification(&order, "0.01", "2021000000000001", ALIPAY_KEY),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        status_of(&c, &app).await,
        Status::AwaitingPayment,
        "nothing paid yet"
    );

    // Alipay's own notification pays the order; Alipay repeating it changes nothing.
    for _ in 0..2 {
        let (st, body) = post_raw(&server, "/v1/payments/alipay/notify", &[], good.clone()).await;
        assert_eq!((st, body.as_str()), (200, "success"));
    }
    assert_eq!(status_of(&c, &app).await, Status::Paid);

    // Paid: the invoice is issued and downloadable by its owner only.
    let inv: Invoice = c
        .post(
            &format!("/v1/orders/{}/invoice", order.id),
            &InvoiceRequest {
                title: "李四".into(),
                tax_number: None,
            },
        )
        .await
        .expect("invoice");
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/invoices/{}", server.url(), inv.id))
        .bearer_auth(c.token.as_deref().expect("token"))
        .send()
        .await
        .expect("reachable");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    let downloaded: Invoice = resp.json().await.expect("json");
    assert_eq!(downloaded, inv);
    assert_eq!(downloaded.amount_fen, order.amount_fen);
    let other = person(&server, "13700137009", "王五", 79).await;
    let r: Result<Invoice, _> = other.get(&format!("/v1/invoices/{}", inv.id)).await;
    assert_eq!(
        r.err().map(|e| (e.0, e.1.code)),
        Some((404, ErrorCode::NotFound))
    );
}

fn status_of_sync(body: &str) -> Option<ErrorCode> {
    serde_json::from_str::<bidkey_protocol::ErrorBody>(body)
        .ok()
        .map(|b| b.code)
}

fn wechat_notification(
    order: &ow::Order,
    amount: i64,
    mch: &str,
    ts: i64,
    key: &[u8],
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let transaction = serde_json::json!({
        "mchid": mch,
        "appid": "wx0000000000000001",
        "out_trade_no": order.id,
        "transaction_id": "4200000000202612070000000001",
        "trade_state": "SUCCESS",
        "amount": {"total": amount, "currency": "CNY"},
    });
    let sealer = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, APIV3_KEY).expect("key"));
    let mut buf = transaction.to_string().into_bytes();
    sealer
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(*b"fdasflkja484"),
            Aad::from(b"transaction"),
            &mut buf,
        )
        .expect("seal");
    let body = serde_json::json!({
        "id": "EV-2018022511223320873",
        "event_type": "TRANSACTION.SUCCESS",
        "resource_type": "encrypt-resource",
        "resource": {
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64::engine::general_purpose::STANDARD.encode(&buf),
            "nonce": "fdasflkja484",
            "associated_data": "transaction",
            "original_type": "transaction",
        }
    })
    .to_string()
    .into_bytes();
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let sig = sign_rsa2(key, &pay_wechat::message(&ts.to_string(), nonce, &body)).expect("sign");
    (
        vec![
            ("content-type", "application/json".into()),
            ("wechatpay-timestamp", ts.to_string()),
            ("wechatpay-nonce", nonce.into()),
            ("wechatpay-signature", sig),
            ("wechatpay-serial", "PUB_KEY_ID_0001".into()),
        ],
        body,
    )
}

#[tokio::test]
async fn wechat_pay_notification_is_verified_decrypted_and_pays() {
    let server = server().await;
    let (c, app, order) = awaiting(&server, "13700137002", 72).await;
    let now = server.running.state.clock.now();
    let path = "/v1/payments/wechat/notify";

    // Signed by another key; stale; for another merchant; tampered body.
    let (h, b) = wechat_notification(&order, order.amount_fen, "1900000001", now, ALIPAY_KEY);
    assert_eq!(post_raw(&server, path, &h, b).await.0, 403);
    let (h, b) = wechat_notification(
        &order,
        order.amount_fen,
        "1900000001",
        now - 3600,
        WECHAT_KEY,
    );
    assert_eq!(post_raw(&server, path, &h, b).await.0, 403);
    let (h, b) = wechat_notification(&order, order.amount_fen, "1900009999", now, WECHAT_KEY);
    assert_eq!(post_raw(&server, path, &h, b).await.0, 403);
    let (h, mut b) = wechat_notification(&order, order.amount_fen, "1900000001", now, WECHAT_KEY);
    let last = b.len() - 2;
    b[last] = b' ';
    assert_eq!(post_raw(&server, path, &h, b).await.0, 403);
    // Right signature, wrong amount.
    let (h, b) = wechat_notification(&order, 1, "1900000001", now, WECHAT_KEY);
    assert_eq!(post_raw(&server, path, &h, b).await.0, 400);
    assert_eq!(status_of(&c, &app).await, Status::AwaitingPayment);

    let (h, b) = wechat_notification(&order, order.amount_fen, "1900000001", now, WECHAT_KEY);
    assert_eq!(post_raw(&server, path, &h, b).await.0, 204);
    assert_eq!(status_of(&c, &app).await, Status::Paid);
}

#[tokio::test]
async fn without_a_vendor_configured_its_routes_are_not_found() {
    let server = TestServer::start(Store::Sqlite).await;
    let (st, body) = post_raw(&server, "/v1/payments/alipay/notify", &[], b"a=1".to_vec()).await;
    assert_eq!(
        (st, status_of_sync(&body)),
        (404, Some(ErrorCode::NotFound))
    );
    let (st, _) = post_raw(&server, "/v1/payments/wechat/notify", &[], b"{}".to_vec()).await;
    assert_eq!(st, 404);
}
