//! Certificate flows of the core against the real server: enrolment with two-party keys,
//! co-signing and co-decryption, wrong PINs and lock, a stolen wallet, loss report, and
//! recovery on a second phone that still opens a file made for the first.

mod support;

use bidkey_core::{Bidkey, CoreError};
use bidkey_crypto::sm2;
use bidkey_crypto::x509::Cert;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;
use bidkey_testkit::{Store, TestServer};
use support::*;

const NUMBER: &str = "13800138000";

async fn personal_pair(
    server: &TestServer,
    phone: &Bidkey,
) -> bidkey_core::flows::certs::EnrolledPair {
    registered(
        server,
        phone,
        NUMBER,
        &identity("张三", "110101199003074514"),
    )
    .await;
    let app = phone.apply_personal_certificate().await.expect("applied");
    let app = approve_and_pay(server, phone, &app).await;
    phone.enroll(&app.id, PIN).await.expect("enrolled")
}

fn cert_of(phone: &Bidkey, serial: &str) -> Cert {
    let c = phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == serial)
        .expect("certificate in wallet");
    Cert::from_der(&c.der).expect("certificate parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_sign_decrypt_and_wrong_pins_lock() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, dir.path());
    let pair = personal_pair(&server, &phone).await;

    // A signature made through the co-signing service verifies as plain SM2 under the cert.
    let bid = "投标文件摘要".as_bytes();
    let sig = phone
        .sign_message(&pair.signing_serial, PIN, bid)
        .await
        .expect("signed");
    let signing = cert_of(&phone, &pair.signing_serial);
    sm2::verify(
        &signing.sm2_public_key().expect("key"),
        sm2::DEFAULT_ID,
        bid,
        &sig,
    )
    .expect("verifies");

    // A file key encrypted to the encryption certificate opens by co-decryption.
    let enc = cert_of(&phone, &pair.encryption_serial);
    let ct =
        sm2::encrypt_der(&enc.sm2_public_key().expect("key"), b"bid file key 1234").expect("enc");
    let pt = phone
        .decrypt(&pair.encryption_serial, PIN, &ct)
        .await
        .expect("decrypted");
    assert_eq!(pt.as_slice(), b"bid file key 1234");

    // Wrong PINs: the server counts them, the fifth locks.
    for left in (1..=4).rev() {
        let err = phone
            .sign_message(&pair.signing_serial, "000000", bid)
            .await
            .expect_err("wrong");
        assert_eq!(err, CoreError::WrongPin { tries_left: left });
    }
    let err = phone
        .sign_message(&pair.signing_serial, "000000", bid)
        .await
        .expect_err("locked");
    assert_eq!(err, CoreError::KeyLocked);
    let err = phone
        .sign_message(&pair.signing_serial, PIN, bid)
        .await
        .expect_err("still locked");
    assert_eq!(err, CoreError::KeyLocked);

    // Unlock: the same person again plus an SMS code.
    let code = code_for(&server, &phone, NUMBER, SmsPurpose::Unlock).await;
    let err = phone
        .unlock(
            &pair.signing_serial,
            &identity("李四", "11010519491231002X"),
            &code,
        )
        .await
        .expect_err("another person");
    assert_eq!(err.code(), Some(ErrorCode::RealNameFailed));
    let code = code_for(&server, &phone, NUMBER, SmsPurpose::Unlock).await;
    phone
        .unlock(
            &pair.signing_serial,
            &identity("张三", "110101199003074514"),
            &code,
        )
        .await
        .expect("unlocked");
    phone
        .sign_message(&pair.signing_serial, PIN, bid)
        .await
        .expect("signs again");

    // PIN change: the old PIN is checked by the server, then the wallet re-masks.
    phone.change_pin(PIN, "246810").await.expect("PIN changed");
    phone
        .sign_message(&pair.signing_serial, "246810", bid)
        .await
        .expect("new PIN");
    let err = phone
        .sign_message(&pair.signing_serial, PIN, bid)
        .await
        .expect_err("old PIN");
    assert!(matches!(err, CoreError::WrongPin { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stolen_wallet_file_and_five_guesses_lock_the_key() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, dir.path());
    let pair = personal_pair(&server, &phone).await;
    drop(phone);

    // The thief copies the whole wallet directory (keystore file included) and guesses.
    let stolen = tempfile::tempdir().expect("dir");
    for entry in std::fs::read_dir(dir.path()).expect("read") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), stolen.path().join(entry.file_name())).expect("copy");
    }
    let thief = phone_at(&server, stolen.path());
    let mut last = None;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        last = Some(
            thief
                .sign_message(&pair.signing_serial, guess, b"x")
                .await
                .expect_err("guess"),
        );
    }
    assert_eq!(last, Some(CoreError::KeyLocked));
    // The owner is locked out too until unlocking with real-name and SMS.
    let owner = phone_at(&server, dir.path());
    assert_eq!(
        owner
            .sign_message(&pair.signing_serial, PIN, b"x")
            .await
            .expect_err("locked"),
        CoreError::KeyLocked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_report_suspends_and_recovery_opens_old_files() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir_a = tempfile::tempdir().expect("dir");
    let phone_a = phone_at(&server, dir_a.path());
    let pair = personal_pair(&server, &phone_a).await;
    let enc = cert_of(&phone_a, &pair.encryption_serial);
    let old_file_key =
        sm2::encrypt_der(&enc.sm2_public_key().expect("key"), b"opening day key").expect("enc");

    // The phone is lost: a loss report needs no login, only the number and an SMS code.
    let phone_b_dir = tempfile::tempdir().expect("dir");
    let phone_b = phone_at(&server, phone_b_dir.path());
    let code = code_for(&server, &phone_b, NUMBER, SmsPurpose::LossReport).await;
    phone_b
        .report_loss(NUMBER, &code, None)
        .await
        .expect("suspended");
    let err = phone_a
        .sign_message(&pair.signing_serial, PIN, b"x")
        .await
        .expect_err("suspended");
    assert_eq!(err.code(), Some(ErrorCode::CertificateSuspended));

    // Recovery on the new phone: login, the same person, SMS, then enrolment.
    logged_in(&server, &phone_b, NUMBER).await;
    let code = code_for(&server, &phone_b, NUMBER, SmsPurpose::Recover).await;
    let app = phone_b
        .recover(&identity("张三", "110101199003074514"), &code, None)
        .await
        .expect("recovery application");
    let app = approve_and_pay(&server, &phone_b, &app).await;
    let new_pair = phone_b
        .enroll(&app.id, "135790")
        .await
        .expect("enrolled on the new phone");
    assert_ne!(new_pair.signing_serial, pair.signing_serial);

    // The file made for the first phone's encryption certificate opens on the second.
    let serial = phone_b
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .filter(|c| c.usage == "encryption")
        .map(|c| c.serial)
        .find(|s| s == &pair.encryption_serial)
        .expect("the old encryption key came back");
    let pt = phone_b
        .decrypt(&serial, "135790", &old_file_key)
        .await
        .expect("old file opens");
    assert_eq!(pt.as_slice(), b"opening day key");

    // The old phone's signing key is dead.
    let err = phone_a
        .sign_message(&pair.signing_serial, PIN, b"x")
        .await
        .expect_err("revoked");
    assert!(err.code().is_some(), "{err:?}");

    // Revocation with the PIN on the new phone: the pair is gone from the wallet.
    let change = phone_b
        .revoke(&new_pair.signing_serial, "135790")
        .await
        .expect("revoked");
    assert!(change.serials.contains(&new_pair.signing_serial));
    let err = phone_b
        .sign_message(&new_pair.signing_serial, "135790", b"x")
        .await
        .expect_err("gone");
    assert!(matches!(err, CoreError::NotFound(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_in_the_last_month_and_undo_a_loss_report() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, dir.path());
    let pair = personal_pair(&server, &phone).await;
    let enc = cert_of(&phone, &pair.encryption_serial);
    let old_file =
        sm2::encrypt_der(&enc.sm2_public_key().expect("key"), b"last year's bid").expect("enc");

    let err = phone
        .renew(&pair.signing_serial)
        .await
        .expect_err("too early");
    assert_eq!(err.code(), Some(ErrorCode::RenewalTooEarly));

    // 挂失 then 解挂: the key works again.
    let code = code_for(&server, &phone, NUMBER, SmsPurpose::LossReport).await;
    phone
        .report_loss(NUMBER, &code, Some(&pair.signing_serial))
        .await
        .expect("suspended");
    let list = phone.certificates().await.expect("list");
    assert!(list.in_force.iter().any(|p| p.pair_id == pair.pair_id));
    let code = code_for(&server, &phone, NUMBER, SmsPurpose::LossReport).await;
    phone
        .undo_loss_report(&pair.signing_serial, &code)
        .await
        .expect("resumed");
    phone
        .sign_message(&pair.signing_serial, PIN, b"ok")
        .await
        .expect("signs again");

    // Eleven months later the pair is in the renewal window.
    server.running.state.clock.advance(340 * 24 * 3600);
    // The login expired long ago; logging in again on this phone keeps its device binding.
    logged_in(&server, &phone, NUMBER).await;
    let list = phone.certificates().await.expect("list");
    assert!(
        list.expiring.iter().any(|p| p.pair_id == pair.pair_id),
        "{list:?}"
    );
    let app = phone
        .renew(&pair.signing_serial)
        .await
        .expect("renewal application");
    let app = approve_and_pay(&server, &phone, &app).await;
    let renewed = phone.enroll(&app.id, PIN).await.expect("renewed");
    assert_ne!(renewed.signing_serial, pair.signing_serial);
    // Last year's file still opens with the escrowed key brought back by the renewal.
    let pt = phone
        .decrypt(&pair.encryption_serial, PIN, &old_file)
        .await
        .expect("old file");
    assert_eq!(pt.as_slice(), b"last year's bid");
}

/// Issue 13 §5: a PIN change proves the old PIN for every pair it changes. Two pairs on one
/// phone under different PINs: changing "all" with the first pair's PIN changes nothing
/// (the second pair refuses), and neither key is lost; changing one pair leaves the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_change_cannot_destroy_a_pair_under_another_pin() {
    const OTHER_PIN: &str = "654321";
    const NEW_PIN: &str = "246810";
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = phone_at(&server, dir.path());
    let personal = personal_pair(&server, &phone).await;
    let claim = phone
        .claim_enterprise(
            &uscc(1),
            "重庆示例建设工程有限公司",
            Some("张三"),
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await
        .expect("claimed");
    let paid = approve_and_pay(&server, &phone, &claim).await;
    let company = phone.enroll(&paid.id, OTHER_PIN).await.expect("enrolled");
    let msg = b"still mine";

    let err = phone
        .change_pin(PIN, NEW_PIN)
        .await
        .expect_err("the company pair is under another PIN");
    assert!(matches!(err, CoreError::WrongPin { .. }), "{err:?}");
    phone
        .sign_message(&personal.signing_serial, PIN, msg)
        .await
        .expect("personal pair unchanged");
    phone
        .sign_message(&company.signing_serial, OTHER_PIN, msg)
        .await
        .expect("company pair not destroyed");

    phone
        .change_pin_of(&personal.signing_serial, PIN, NEW_PIN)
        .await
        .expect("personal PIN changed");
    phone
        .sign_message(&personal.signing_serial, NEW_PIN, msg)
        .await
        .expect("new PIN on the personal pair");
    phone
        .sign_message(&company.signing_serial, OTHER_PIN, msg)
        .await
        .expect("company pair untouched");
    // The personal pair's encryption key moved with it.
    let enc = cert_of(&phone, &personal.encryption_serial);
    let ct = sm2::encrypt_der(&enc.sm2_public_key().expect("key"), b"k").expect("enc");
    assert_eq!(
        phone
            .decrypt(&personal.encryption_serial, NEW_PIN, &ct)
            .await
            .expect("decrypts")
            .as_slice(),
        b"k"
    );

    // A wrong old PIN for one pair: refused by the server, nothing changes.
    let err = phone
        .change_pin_of(&company.signing_serial, PIN, NEW_PIN)
        .await
        .expect_err("wrong old PIN");
    assert!(matches!(err, CoreError::WrongPin { .. }), "{err:?}");
    phone
        .sign_message(&company.signing_serial, OTHER_PIN, msg)
        .await
        .expect("company pair still under its PIN");
}
