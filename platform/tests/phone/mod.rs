//! A phone (the core's wallet) driving the real flows against a test server, through the
//! shared helpers of `bidkey_testkit::phones`.
#![allow(dead_code)]

use bidkey_core::Bidkey;
use bidkey_core::flows::certs::EnrolledPair;
use bidkey_protocol::platforms::{NewPlatform, Platform};
use bidkey_testkit::TestServer;
use bidkey_testkit::phones::{
    PIN as TESTKIT_PIN, approve_and_pay, id_number, identity, operator, png, registered,
};

pub use bidkey_testkit::phones::phone_at;

pub const PIN: &str = TESTKIT_PIN;
pub const ENTERPRISE: &str = "重庆比德科技有限公司";
pub const USCC: &str = "91500000MA5U8XGQ8Q";

pub async fn platform(server: &TestServer, name: &str, origin: &str) -> Platform {
    operator(
        server,
        reqwest::Method::POST,
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
    registered(
        server,
        phone,
        "13900000001",
        &identity("张三", &id_number(1)),
    )
    .await;
    let app = phone
        .claim_enterprise(
            USCC,
            ENTERPRISE,
            Some("张三"),
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await
        .expect("claimed");
    let eid = app.enterprise_id.clone().expect("enterprise");
    let app = approve_and_pay(server, phone, &app).await;
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
