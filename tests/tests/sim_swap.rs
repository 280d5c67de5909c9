//! The SIM swapper who knows the victim's name and ID number, through the phone core against
//! a real server on loopback (ADR 0011): the recovery is held for review and a cooling-off,
//! the old phone is told and cancels, a locked key stays locked through recovery, unlocks
//! run out with a typed error saying when the next is possible, and the number cannot be
//! moved with a login alone. Time moves only by the server's test clock.

use bidkey_core::flows::recovery::{PhoneChangeProof, RecoveryState, recovery_state};
use bidkey_core::{Bidkey, CoreError};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;
use bidkey_protocol::orders::Status;
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};

const NUMBER: &str = "13900000007";
const NEW_PIN: &str = "654321";

fn victim_identity() -> bidkey_protocol::accounts::RealNameRequest {
    identity("赵六", &id_number(7))
}

/// The victim's phone with a personal certificate in force.
async fn victim(server: &TestServer, dir: &std::path::Path) -> (Bidkey, String) {
    let phone = phone_at(server, dir);
    registered(server, &phone, NUMBER, &victim_identity()).await;
    let app = phone.apply_personal_certificate().await.expect("applied");
    let app = approve_and_pay(server, &phone, &app).await;
    let pair = phone.enroll(&app.id, PIN).await.expect("enrolled");
    (phone, pair.signing_serial)
}

async fn lock(phone: &Bidkey, serial: &str) {
    loop {
        match phone.sign_message(serial, "000000", b"guess").await {
            Err(CoreError::WrongPin { .. }) => {}
            Err(CoreError::KeyLocked) => return,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sim_swapper_recovers_nothing_while_held_or_locked() {
    let server = TestServer::start(Store::Sqlite).await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let (victim_phone, serial) = victim(&server, dirs[0].path()).await;
    // Five wrong PINs lock the key.
    lock(&victim_phone, &serial).await;

    // The swapped SIM logs in on the thief's phone and asks for a recovery.
    let thief = phone_at(&server, dirs[1].path());
    logged_in(&server, &thief, NUMBER).await;
    let code = code_for(&server, &thief, NUMBER, SmsPurpose::Recover).await;
    let app = thief
        .recover(&victim_identity(), &code, None)
        .await
        .expect("asked");
    let now = server.running.state.clock.now();
    assert_eq!(
        recovery_state(&app, now),
        Some(RecoveryState::CoolingOff {
            until: now + server.running.state.limits.recovery_cooling_off
        })
    );
    let err = thief.enroll(&app.id, NEW_PIN).await.expect_err("held");
    assert_eq!(err.code(), Some(ErrorCode::InvalidState), "{err:?}");

    // The old phone cancels it.
    let cancelled = victim_phone
        .cancel_recovery(&app.id)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, Status::Closed);
    assert_eq!(
        recovery_state(&cancelled, now),
        Some(RecoveryState::Cancelled)
    );

    // Asked again and not cancelled: approved after the cooling-off and paid, but the
    // holder is locked, so nothing is enrolled and the old key stays locked.
    let code = code_for(&server, &thief, NUMBER, SmsPurpose::Recover).await;
    let app = thief
        .recover(&victim_identity(), &code, None)
        .await
        .expect("asked");
    let app = approve_and_pay(&server, &thief, &app).await;
    assert_eq!(app.status, Status::Paid);
    assert_eq!(
        thief.enroll(&app.id, NEW_PIN).await.expect_err("locked"),
        CoreError::KeyLocked
    );
    assert!(thief.local_certificates().expect("wallet").is_empty());
    assert_eq!(
        victim_phone
            .sign_message(&serial, PIN, b"right PIN")
            .await
            .expect_err("locked"),
        CoreError::KeyLocked
    );

    // Unlocks run out: three in 30 days, then a typed refusal with the next time.
    let mut first = None;
    for _ in 0..3 {
        let code = code_for(&server, &victim_phone, NUMBER, SmsPurpose::Unlock).await;
        victim_phone
            .unlock(&serial, &victim_identity(), &code)
            .await
            .expect("unlocked");
        first.get_or_insert(server.running.state.clock.now());
        lock(&victim_phone, &serial).await;
    }
    let code = code_for(&server, &victim_phone, NUMBER, SmsPurpose::Unlock).await;
    let err = victim_phone
        .unlock(&serial, &victim_identity(), &code)
        .await
        .expect_err("limited");
    assert_eq!(
        err,
        CoreError::UnlockLimited {
            next_at: first.expect("unlocked") + 30 * 86_400
        }
    );

    // The number cannot be moved with the login alone.
    let new_code = code_for(&server, &thief, "13700000007", SmsPurpose::ChangePhone).await;
    let err = thief
        .change_phone(
            "13700000007",
            &new_code,
            &PhoneChangeProof::Password(zeroize::Zeroizing::new("guessed password".into())),
        )
        .await
        .expect_err("no such password");
    assert_eq!(err.code(), Some(ErrorCode::WrongPassword));
    let err = thief
        .change_phone(
            "13700000007",
            &new_code,
            &PhoneChangeProof::OldNumberCode("000000".into()),
        )
        .await
        .expect_err("not the old number's code");
    assert_eq!(err.code(), Some(ErrorCode::SmsCodeInvalid));
}
