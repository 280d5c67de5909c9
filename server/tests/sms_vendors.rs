//! SMS through the vendors' adapters against fake vendors on loopback that check the
//! signature as the vendor does: codes delivered by template, sign-up with the delivered
//! code, failures answered as `provider_unavailable` with nothing recorded, retries where
//! safe under one request id.

mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{
    SendSmsRequest, SendSmsResponse, Session, SmsLoginRequest, SmsPurpose,
};
use bidkey_server::db::Value;
use bidkey_server::providers::sms_aliyun::AliyunConfig;
use bidkey_server::providers::sms_tencent::TencentConfig;
use bidkey_server::providers::{SmsConfig, SmsTemplates};
use bidkey_server::sms::SmsTemplate;
use bidkey_testkit::vendors::{FakeVendor, Script, Vendor};
use support::{Client, Store, TestServer};

fn templates() -> SmsTemplates {
    let all = SmsTemplate::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}={}", t.key(), 2000 + i))
        .collect::<Vec<_>>()
        .join(",");
    SmsTemplates::parse(&all).expect("templates")
}

fn tencent(endpoint: &str, key: &str) -> SmsConfig {
    SmsConfig::Tencent(TencentConfig {
        secret_id: "AKIDtest".into(),
        secret_key: zeroize::Zeroizing::new(key.into()),
        sdk_app_id: "1400000000".into(),
        sign_name: "Bidkey".into(),
        region: "ap-guangzhou".into(),
        endpoint: endpoint.into(),
        templates: templates(),
    })
}

fn aliyun(endpoint: &str, secret: &str) -> SmsConfig {
    SmsConfig::Aliyun(AliyunConfig {
        access_key_id: "LTAItest".into(),
        access_key_secret: zeroize::Zeroizing::new(secret.into()),
        sign_name: "Bidkey".into(),
        endpoint: endpoint.into(),
        templates: templates(),
    })
}

async fn server_with(sms: SmsConfig) -> TestServer {
    TestServer::start_with(Store::Sqlite, move |c| c.providers.sms = sms).await
}

async fn send(
    c: &Client,
    phone: &str,
) -> Result<SendSmsResponse, (u16, bidkey_protocol::ErrorBody)> {
    c.post(
        "/v1/sms/send",
        &SendSmsRequest {
            phone: phone.into(),
            purpose: SmsPurpose::Signup,
        },
    )
    .await
}

/// Rows in `table` for `phone`: codes recorded, or messages in the sandbox outbox.
async fn rows(server: &TestServer, table: &'static str, phone: &str) -> usize {
    let phone = phone.to_owned();
    server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query(
                &format!("SELECT 1 FROM {table} WHERE phone = $1"),
                &[Value::Text(phone.clone())],
            )
        })
        .await
        .expect("read")
        .len()
}

async fn signup(c: &Client, phone: &str, code: &str) -> bool {
    let r: Result<Session, _> = c
        .post(
            "/v1/accounts/signup",
            &SmsLoginRequest {
                phone: phone.into(),
                code: code.into(),
                device_name: None,
                device_id: None,
            },
        )
        .await;
    r.is_ok()
}

fn assert_unavailable<T: std::fmt::Debug>(r: Result<T, (u16, bidkey_protocol::ErrorBody)>) {
    match r {
        Err((503, body)) => assert_eq!(body.code, ErrorCode::ProviderUnavailable),
        other => panic!("expected 503 provider_unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn tencent_delivers_a_signed_code_by_template_and_it_signs_up() {
    let vendor = FakeVendor::start(Vendor::Tencent {
        secret_id: "AKIDtest".into(),
        secret_key: "tencent-secret".into(),
    })
    .await;
    let server = server_with(tencent(&vendor.url, "tencent-secret")).await;
    let c = Client::new(&server);
    send(&c, "13800138000").await.expect("sent");
    let seen = vendor.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signature_ok);
    assert_eq!(seen[0].phone, "+8613800138000");
    assert_eq!(seen[0].template_id, "2000", "the sign-up template");
    assert_eq!(seen[0].params.len(), 1);
    // Delivered by the vendor, not written to the sandbox's outbox.
    assert_eq!(rows(&server, "sms_outbox", "13800138000").await, 0);
    assert!(signup(&c, "13800138000", &seen[0].params[0]).await);
}

#[tokio::test]
async fn tencent_failures_are_typed_and_record_nothing() {
    let vendor = FakeVendor::start(Vendor::Tencent {
        secret_id: "AKIDtest".into(),
        secret_key: "tencent-secret".into(),
    })
    .await;
    let server = server_with(tencent(&vendor.url, "tencent-secret")).await;
    let c = Client::new(&server);

    // A vendor refusal is final: one call, a typed error, no code recorded, and (the
    // rate-limit hit rolled back with it) the person may ask again at once.
    vendor.script(&[Script::VendorError("LimitExceeded.PhoneNumberDailyLimit")]);
    assert_unavailable(send(&c, "13800138001").await);
    assert_eq!(vendor.seen().len(), 1);
    assert_eq!(rows(&server, "sms_codes", "13800138001").await, 0);

    // HTTP 502 twice then success: retried under one request id, one code recorded.
    vendor.script(&[Script::Status(502), Script::Status(502)]);
    send(&c, "13800138001")
        .await
        .expect("sent on the third try");
    let seen = vendor.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[1].request_id, seen[3].request_id);
    assert_eq!(seen[1].params, seen[3].params, "the same code each time");
    assert_eq!(rows(&server, "sms_codes", "13800138001").await, 1);

    // Garbage is not retried (the vendor may have sent it) and records nothing.
    vendor.script(&[Script::Garbage]);
    assert_unavailable(send(&c, "13800138002").await);
    assert_eq!(vendor.seen().len(), 5);
    assert_eq!(rows(&server, "sms_codes", "13800138002").await, 0);

    // Failing every time: three tries, then the typed error.
    vendor.script(&[
        Script::Status(503),
        Script::Status(503),
        Script::Status(503),
    ]);
    assert_unavailable(send(&c, "13800138003").await);
    assert_eq!(vendor.seen().len(), 8);
    assert_eq!(rows(&server, "sms_codes", "13800138003").await, 0);
}

#[tokio::test]
async fn tencent_refuses_a_request_signed_with_the_wrong_key() {
    let vendor = FakeVendor::start(Vendor::Tencent {
        secret_id: "AKIDtest".into(),
        secret_key: "tencent-secret".into(),
    })
    .await;
    let server = server_with(tencent(&vendor.url, "not-the-secret")).await;
    let c = Client::new(&server);
    assert_unavailable(send(&c, "13800138004").await);
    let seen = vendor.seen();
    assert_eq!(seen.len(), 1, "a signature refusal is not retried");
    assert!(!seen[0].signature_ok);
    assert_eq!(rows(&server, "sms_codes", "13800138004").await, 0);
}

#[tokio::test]
async fn aliyun_delivers_a_signed_code_by_template_and_it_signs_up() {
    let vendor = FakeVendor::start(Vendor::Aliyun {
        key_id: "LTAItest".into(),
        secret: "aliyun secret/+=".into(),
    })
    .await;
    let server = server_with(aliyun(&vendor.url, "aliyun secret/+=")).await;
    let c = Client::new(&server);
    send(&c, "13900139000").await.expect("sent");
    let seen = vendor.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signature_ok);
    assert_eq!(seen[0].phone, "13900139000");
    assert_eq!(seen[0].template_id, "2000");
    assert!(signup(&c, "13900139000", &seen[0].params[0]).await);

    // The wrong secret: the vendor's refusal (HTTP 400 SignatureDoesNotMatch) is typed,
    // not retried, and records nothing.
    let bad = server_with(aliyun(&vendor.url, "wrong")).await;
    assert_unavailable(send(&Client::new(&bad), "13900139001").await);
    assert_eq!(vendor.seen().len(), 2);
    assert_eq!(rows(&bad, "sms_codes", "13900139001").await, 0);

    // The vendor's system error is retried with a fresh nonce and the same OutId.
    vendor.script(&[Script::VendorError("isp.SYSTEM_ERROR")]);
    send(&c, "13900139002")
        .await
        .expect("sent on the second try");
    let seen = vendor.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[2].request_id, seen[3].request_id);
}

#[tokio::test]
async fn an_unreachable_vendor_is_a_typed_error() {
    // A port nothing listens on: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let server = server_with(tencent(&format!("http://{addr}/"), "k")).await;
    let c = Client::new(&server);
    assert_unavailable(send(&c, "13800138005").await);
    assert_eq!(rows(&server, "sms_codes", "13800138005").await, 0);
}

#[tokio::test]
async fn a_vendor_without_its_templates_is_refused_at_start() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = bidkey_server::Config::local_sandbox(data.path().to_path_buf());
    let mut cfg = match tencent("http://127.0.0.1:9/", "k") {
        SmsConfig::Tencent(c) => c,
        _ => unreachable!(),
    };
    cfg.templates = SmsTemplates::parse("signup=1").expect("parses");
    config.providers.sms = SmsConfig::Tencent(cfg);
    let err = bidkey_server::start(config).await.expect_err("refused");
    assert!(
        err.to_string().contains("SMS templates missing for: login"),
        "{err}"
    );
}

#[tokio::test]
async fn sandbox_providers_are_refused_without_sandbox_mode() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = bidkey_server::Config::local(data.path().to_path_buf());
    let err = bidkey_server::start(config).await.expect_err("refused");
    assert!(
        err.to_string().contains("sandbox SMS provider is refused"),
        "{err}"
    );
    // Nothing was half-started: no database file, no key files.
    assert_eq!(std::fs::read_dir(data.path()).expect("dir").count(), 0);
}
