//! The FFI object driven from Rust, as Kotlin and Swift drive it: records in, records out,
//! one error type, the keystore as a trait object. The full certificate flow runs in Kotlin
//! (`bindings/run-kotlin-tests.sh`); the core's own tests cover the flows in depth.

use bidkey_ffi::Bidkey;
use bidkey_ffi::convert::{
    BidkeyConfig, PinKdf, RealName, RealNameMethod, ServerTrust, SmsPurpose,
};
use bidkey_ffi::error::BidkeyError;
use bidkey_ffi::keystore::DeviceKeystore;
use bidkey_testkit::{Store, TestServer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A keystore as a shell might write one, but with XOR instead of AEAD: enough to show the
/// core only ever goes through the trait. Counts calls; `fail` makes it refuse.
#[derive(Default)]
struct FakeKeystore {
    calls: Mutex<HashMap<&'static str, usize>>,
    fail: bool,
}

impl FakeKeystore {
    fn count(&self, what: &'static str) {
        *self.calls.lock().expect("lock").entry(what).or_default() += 1;
    }
}

#[async_trait::async_trait]
impl DeviceKeystore for FakeKeystore {
    fn seal(&self, _alias: String, plaintext: Vec<u8>) -> Result<Vec<u8>, BidkeyError> {
        self.count("seal");
        if self.fail {
            return Err(BidkeyError::Keystore {
                detail: "user cancelled".into(),
            });
        }
        Ok(plaintext.iter().map(|b| b ^ 0x5a).collect())
    }

    fn open(&self, _alias: String, sealed: Vec<u8>) -> Result<Vec<u8>, BidkeyError> {
        self.count("open");
        Ok(sealed.iter().map(|b| b ^ 0x5a).collect())
    }

    /// No fingerprint or face here: refuses, as a phone without biometrics would.
    async fn seal_with_user(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, BidkeyError> {
        self.count("seal_with_user");
        Err(BidkeyError::Keystore {
            detail: "no biometrics".into(),
        })
    }

    async fn open_with_user(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, BidkeyError> {
        self.count("open_with_user");
        Err(BidkeyError::Keystore {
            detail: "no biometrics".into(),
        })
    }
}

fn config(server: &TestServer, dir: &std::path::Path) -> BidkeyConfig {
    BidkeyConfig {
        server_url: server.url(),
        trust: ServerTrust::LoopbackOnly,
        wallet_dir: dir.to_string_lossy().into_owned(),
        timeout_ms: 20_000,
        pin_kdf: Some(PinKdf {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        }),
    }
}

#[tokio::test]
async fn sign_up_and_real_name_through_the_ffi_object() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let keystore = Arc::new(FakeKeystore::default());
    let bk = Bidkey::new(config(&server, dir.path()), keystore.clone()).expect("opens");
    assert_eq!(bk.account().expect("account"), None);

    let err = bk
        .send_sms_code("12345".into(), SmsPurpose::Signup)
        .await
        .expect_err("bad phone");
    assert_eq!(
        err,
        BidkeyError::InvalidInput {
            field: "phone number".into()
        }
    );
    let err = bk
        .apply_personal_certificate()
        .await
        .expect_err("logged out");
    assert_eq!(err, BidkeyError::NotLoggedIn);

    let phone = "13800138000";
    bk.send_sms_code(phone.into(), SmsPurpose::Signup)
        .await
        .expect("sms");
    let code = server.sms_code(phone).await;
    let account = bk
        .sign_up(phone.into(), code, "ffi test".into())
        .await
        .expect("signed up");
    assert_eq!(account.phone_masked, "138****8000");
    let account = bk
        .verify_real_name(RealName {
            method: RealNameMethod::Cfca,
            name: "张三".into(),
            id_number: "110101199003074514".into(),
            bank_card: None,
            bank_phone: None,
        })
        .await
        .expect("real-name");
    assert_eq!(account.realname_method, Some(RealNameMethod::Cfca));
    assert_eq!(bk.account().expect("account"), Some(account));
    assert!(
        keystore
            .calls
            .lock()
            .expect("lock")
            .get("seal")
            .copied()
            .unwrap_or(0)
            > 0
    );

    // A server refusal keeps its code and both messages.
    let err = bk.renew("00".into()).await.expect_err("no such cert");
    assert!(
        matches!(
            err,
            BidkeyError::Server { .. } | BidkeyError::NotFound { .. }
        ),
        "{err:?}"
    );

    bk.log_out().await.expect("logged out");
    assert_eq!(bk.account().expect("account"), None);
}

#[tokio::test]
async fn a_refusing_keystore_surfaces_as_a_keystore_error() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let keystore = Arc::new(FakeKeystore {
        fail: true,
        ..FakeKeystore::default()
    });
    let err = match Bidkey::new(config(&server, dir.path()), keystore) {
        Ok(bk) => {
            // The wallet may seal lazily: the first login then meets the refusal.
            let phone = "13900139000";
            bk.send_sms_code(phone.into(), SmsPurpose::Signup)
                .await
                .expect("sms");
            let code = server.sms_code(phone).await;
            bk.sign_up(phone.into(), code, "ffi test".into())
                .await
                .expect_err("keystore refuses")
        }
        Err(e) => e,
    };
    assert_eq!(
        err,
        BidkeyError::Keystore {
            detail: "user cancelled".into()
        }
    );
}
