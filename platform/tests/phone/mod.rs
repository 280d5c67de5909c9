//! A phone (the core's wallet) driving the real flows against a test server: sign-up,
//! real-name, claim of an enterprise, operator approval and payment, enrolment with a PIN.
#![allow(dead_code)]

use bidkey_core::flows::certs::EnrolledPair;
use bidkey_core::{Bidkey, CoreConfig, SoftwareKeystore};
use bidkey_crypto::pin::PinKdfParams;
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest, SmsPurpose};
use bidkey_protocol::orders::{ReviewDecision, Status};
use bidkey_protocol::platforms::{NewPlatform, Platform};
use bidkey_testkit::TestServer;
use std::path::Path;
use std::sync::Arc;

pub const PIN: &str = "123456";
pub const ENTERPRISE: &str = "重庆比德科技有限公司";
pub const USCC: &str = "91500000MA5U8XGQ8Q";

pub fn phone_at(server: &TestServer, dir: &Path) -> Bidkey {
    let mut config = CoreConfig::new(&server.url(), dir.to_path_buf());
    config.pin_kdf = PinKdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    Bidkey::open(config, Arc::new(SoftwareKeystore::new(dir))).expect("core opens")
}

/// A small PNG the server accepts as a licence scan.
fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&800u32.to_be_bytes());
    png.extend_from_slice(&600u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    png
}

async fn operator_post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    server: &TestServer,
    path: &str,
    body: &B,
) -> T {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(server.operator_token())
        .json(body)
        .send()
        .await
        .expect("operator call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("operator answer")
}

pub async fn platform(server: &TestServer, name: &str, origin: &str) -> Platform {
    operator_post(
        server,
        "/v1/operator/platforms",
        &NewPlatform {
            name: name.into(),
            origin: origin.into(),
            region: None,
            latitude: None,
            longitude: None,
        },
    )
    .await
}

/// A phone whose owner claimed ENTERPRISE and enrolled its certificate pair; returns the
/// enterprise id and the pair.
pub async fn enterprise_holder(server: &TestServer, phone: &Bidkey) -> (String, EnrolledPair) {
    let number = "13900000001";
    phone
        .send_sms_code(number, SmsPurpose::Signup)
        .await
        .expect("sms");
    let code = server.sms_code(number).await;
    phone
        .sign_up(number, &code, "test phone")
        .await
        .expect("sign up");
    phone
        .verify_real_name(&RealNameRequest {
            method: RealNameMethod::Cfca,
            name: "张三".into(),
            id_number: "110101199003074514".into(),
            bank_card: None,
            bank_phone: None,
        })
        .await
        .expect("real-name");
    let mut app = phone
        .claim_enterprise(
            USCC,
            ENTERPRISE,
            Some("张三"),
            vec![("营业执照.png".into(), "image/png".into(), png())],
        )
        .await
        .expect("claimed");
    let eid = app.enterprise_id.clone().expect("enterprise");
    if app.status == Status::PendingReview {
        let _: serde_json::Value = operator_post(
            server,
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await;
        app = phone.application(&app.id).await.expect("application");
    }
    if app.status == Status::AwaitingPayment {
        let order = app.order.as_ref().expect("order");
        phone.pay_order(&order.id).await.expect("paid");
        app = phone.application(&app.id).await.expect("application");
    }
    assert_eq!(app.status, Status::Paid, "{app:?}");
    let pair = phone.enroll(&app.id, PIN).await.expect("enrolled");
    (eid, pair)
}

pub fn cert_der(phone: &Bidkey, serial: &str) -> Vec<u8> {
    phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == serial)
        .expect("certificate in wallet")
        .der
}

pub fn account_id(phone: &Bidkey) -> String {
    phone.account().expect("wallet").expect("logged in").id
}
