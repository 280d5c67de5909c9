//! Test support for the core: phones (wallet directories) against a server on loopback,
//! and the operator's side driven over HTTP.

#![allow(dead_code)]

use bidkey_core::{Bidkey, CoreConfig, SoftwareKeystore};
use bidkey_crypto::pin::PinKdfParams;
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest, SmsPurpose};
use bidkey_protocol::orders::{Application, ReviewDecision, Status};
use bidkey_testkit::TestServer;
use std::path::Path;
use std::sync::Arc;

pub const PIN: &str = "123456";

/// A phone: a wallet in `dir` with the software keystore and a fast PIN KDF.
pub fn phone_at(server: &TestServer, dir: &Path) -> Bidkey {
    let mut config = CoreConfig::new(&server.url(), dir.to_path_buf());
    config.pin_kdf = PinKdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    Bidkey::open(config, Arc::new(SoftwareKeystore::new(dir))).expect("core opens")
}

pub fn identity(name: &str, id_number: &str) -> RealNameRequest {
    RealNameRequest {
        method: RealNameMethod::Cfca,
        name: name.into(),
        id_number: id_number.into(),
        bank_card: None,
        bank_phone: None,
    }
}

/// Sign up `number` on `phone` and pass real-name as `who`.
pub async fn registered(server: &TestServer, phone: &Bidkey, number: &str, who: &RealNameRequest) {
    phone
        .send_sms_code(number, SmsPurpose::Signup)
        .await
        .expect("sms");
    let code = server.sms_code(number).await;
    phone
        .sign_up(number, &code, "test phone")
        .await
        .expect("sign up");
    phone.verify_real_name(who).await.expect("real-name");
}

/// Log `number` in on `phone` by SMS.
pub async fn logged_in(server: &TestServer, phone: &Bidkey, number: &str) {
    server.running.state.clock.advance(61);
    phone
        .send_sms_code(number, SmsPurpose::Login)
        .await
        .expect("sms");
    let code = server.sms_code(number).await;
    phone
        .login_with_sms(number, &code, "new phone")
        .await
        .expect("login");
}

/// A fresh SMS code for `purpose`, past the resend limit.
pub async fn code_for(
    server: &TestServer,
    phone: &Bidkey,
    number: &str,
    purpose: SmsPurpose,
) -> String {
    server.running.state.clock.advance(61);
    phone.send_sms_code(number, purpose).await.expect("sms");
    server.sms_code(number).await
}

/// The operator approves `app` if it waits for review; then the applicant pays.
pub async fn approve_and_pay(
    server: &TestServer,
    phone: &Bidkey,
    app: &Application,
) -> Application {
    let mut app = app.clone();
    if app.status == Status::PendingReview {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/operator/reviews/{}", server.url(), app.id))
            .bearer_auth(server.operator_token())
            .json(&ReviewDecision {
                approve: true,
                reason: None,
            })
            .send()
            .await
            .expect("operator call");
        assert!(resp.status().is_success(), "review: {}", resp.status());
        app = phone.application(&app.id).await.expect("application");
    }
    if app.status == Status::AwaitingPayment {
        let order = app.order.as_ref().expect("order");
        phone.pay_order(&order.id).await.expect("paid");
        app = phone.application(&app.id).await.expect("application");
    }
    assert_eq!(app.status, Status::Paid, "{app:?}");
    app
}
