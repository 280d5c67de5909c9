//! Account flows of the core against a real server on loopback.

use bidkey_core::{Bidkey, CoreConfig, CoreError, SoftwareKeystore};
use bidkey_crypto::pin::PinKdfParams;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest, SmsPurpose};
use bidkey_testkit::{Store, TestServer};
use std::path::Path;
use std::sync::Arc;

fn phone_at(server: &TestServer, dir: &Path) -> Bidkey {
    let mut config = CoreConfig::new(&server.url(), dir.to_path_buf());
    config.pin_kdf = PinKdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    Bidkey::open(config, Arc::new(SoftwareKeystore::new(dir))).expect("core opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_real_name_password_and_restore() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, dir.path());

    assert!(matches!(
        phone.refresh_account().await,
        Err(CoreError::NotLoggedIn)
    ));
    assert!(matches!(
        phone.send_sms_code("123", SmsPurpose::Signup).await,
        Err(CoreError::InvalidInput { .. })
    ));

    phone
        .send_sms_code("13800138000", SmsPurpose::Signup)
        .await
        .expect("sms");
    let code = server.sms_code("13800138000").await;
    let info = phone
        .sign_up("13800138000", &code, "测试手机")
        .await
        .expect("signed up");
    assert_eq!(info.phone_masked, "138****8000");

    let bad = RealNameRequest {
        method: RealNameMethod::BankCard4,
        name: "张三".into(),
        id_number: "110101199003074514".into(),
        bank_card: Some("4111111111111112".into()),
        bank_phone: Some("13800138000".into()),
    };
    let err = phone.verify_real_name(&bad).await.expect_err("bad card");
    assert_eq!(err.code(), Some(ErrorCode::RealNameFailed));
    let good = RealNameRequest {
        bank_card: Some("4111111111111111".into()),
        ..bad
    };
    let info = phone.verify_real_name(&good).await.expect("verified");
    assert_eq!(info.real_name.as_deref(), Some("张三"));

    phone
        .set_password(None, "bidkey-pass-1")
        .await
        .expect("password");

    // Reopening the wallet (an app restart) restores the login.
    drop(phone);
    let phone = phone_at(&server, dir.path());
    assert_eq!(
        phone.account().expect("stored").map(|a| a.has_password),
        Some(true)
    );
    phone.refresh_account().await.expect("still logged in");

    phone.log_out().await.expect("logout");
    assert!(phone.account().expect("read").is_none());
    let err = phone
        .login_with_password("13800138000", "wrong-password", "测试手机")
        .await
        .expect_err("wrong");
    assert_eq!(err.code(), Some(ErrorCode::WrongPassword));
    phone
        .login_with_password("13800138000", "bidkey-pass-1", "测试手机")
        .await
        .expect("login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_a_network_error() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, dir.path());
    server.running.stop().await;
    let err = phone
        .send_sms_code("13800138000", SmsPurpose::Login)
        .await
        .expect_err("down");
    assert!(matches!(err, CoreError::Network(_)), "{err:?}");
}
