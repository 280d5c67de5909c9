//! The phone against a co-signing server that lies (issue 13 §1): a tampering proxy between
//! the core and the real server on loopback alters the server's answers. The phone must
//! verify every co-signature for its own digest before it lets `s` go, and must not accept
//! another signature back from `/finish` than the one it made.

mod support;

use bidkey_core::CoreError;
use bidkey_protocol::cosign::{SignDone, SignResponse};
use bidkey_testkit::proxy::TamperingProxy;
use bidkey_testkit::{Store, TestServer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use support::*;

const NUMBER: &str = "13800138000";
const SIGN: &str = "/v1/cosign/sign";
const FINISH: &str = "/v1/cosign/sign/finish";

/// A phone behind the proxy, registered and holding a personal pair.
async fn enrolled_behind(
    server: &TestServer,
    proxy: &TamperingProxy,
    dir: &std::path::Path,
) -> (bidkey_core::Bidkey, String) {
    let phone = phone_at_url(&proxy.url(), dir);
    registered(
        server,
        &phone,
        NUMBER,
        &identity("张三", "110101199003074514"),
    )
    .await;
    let app = phone.apply_personal_certificate().await.expect("applied");
    let app = approve_and_pay(server, &phone, &app).await;
    let pair = phone.enroll(&app.id, PIN).await.expect("enrolled");
    (phone, pair.signing_serial)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_r_is_refused_and_finish_is_never_called() {
    let server = TestServer::start(Store::Sqlite).await;
    let tampering = Arc::new(AtomicBool::new(false));
    let on = tampering.clone();
    let proxy = TamperingProxy::start(&server.url(), move |path, body| {
        if path != SIGN || !on.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut answer) = serde_json::from_slice::<SignResponse>(body) else {
            return;
        };
        // r is the first 32 bytes of the 96-byte answer: change its last byte.
        answer.response[31] ^= 0x01;
        *body = serde_json::to_vec(&answer).expect("json");
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let (phone, serial) = enrolled_behind(&server, &proxy, dir.path()).await;

    // Untampered, signing works through the proxy.
    phone
        .sign_message(&serial, PIN, b"bid for tender A")
        .await
        .expect("signed");

    tampering.store(true, Ordering::SeqCst);
    let before = proxy.paths().len();
    let err = phone
        .sign_message(&serial, PIN, b"bid for tender B")
        .await
        .expect_err("a tampered answer is refused");
    assert_eq!(err, CoreError::CosignerMisbehaved);
    let after = proxy.paths()[before..].to_vec();
    assert!(after.iter().any(|p| p == SIGN), "{after:?}");
    assert!(
        !after.iter().any(|p| p == FINISH),
        "the phone sent s after a bad answer: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_signature_back_from_finish_is_refused() {
    let server = TestServer::start(Store::Sqlite).await;
    // The first signature released through /finish is kept and handed back for every later
    // signing: a valid signature under the phone's key, but not on what it now signs.
    let kept: Arc<Mutex<Option<SignDone>>> = Arc::new(Mutex::new(None));
    let k = kept.clone();
    let proxy = TamperingProxy::start(&server.url(), move |path, body| {
        if path != FINISH {
            return;
        }
        let Ok(done) = serde_json::from_slice::<SignDone>(body) else {
            return;
        };
        let mut kept = k.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.as_ref() {
            None => *kept = Some(done),
            Some(first) => *body = serde_json::to_vec(first).expect("json"),
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let (phone, serial) = enrolled_behind(&server, &proxy, dir.path()).await;
    phone
        .sign_message(&serial, PIN, b"first")
        .await
        .expect("signed");
    let err = phone
        .sign_message(&serial, PIN, b"second")
        .await
        .expect_err("a swapped signature is refused");
    assert_eq!(err, CoreError::CosignerMisbehaved);
}

/// Issue 13 §7 (ADR 0018): a hostile server (or anything in between) answers the phone's
/// `confirm` session for one admin action with the challenge of another (here: handing the
/// admin role to the attacker). The phone builds the challenge it expects itself and signs
/// nothing else: the PIN confirms no action it was not asked for, and `/v1/cosign/sign` is
/// never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_challenge_for_another_action_is_refused() {
    use bidkey_protocol::cosign::{AdminAction, Session, confirm_challenge};
    let server = TestServer::start(Store::Sqlite).await;
    let serial: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let signed = Arc::new(AtomicBool::new(false));
    let (s, sent) = (serial.clone(), signed.clone());
    let proxy = TamperingProxy::start(&server.url(), move |path, body| {
        let Some(serial) = s.lock().unwrap_or_else(PoisonError::into_inner).clone() else {
            return;
        };
        if path == SIGN {
            sent.store(true, Ordering::SeqCst);
        }
        if path != "/v1/cosign/sessions" {
            return;
        }
        let Ok(mut session) = serde_json::from_slice::<Session>(body) else {
            return;
        };
        if session.challenge.is_some() {
            let other = AdminAction::TransferAdmin {
                enterprise_id: "e1".into(),
                to_account_id: "the-attacker".into(),
            };
            session.challenge = Some(confirm_challenge(
                &serial,
                &hex::encode(&session.session_id),
                &other,
            ));
            *body = serde_json::to_vec(&session).expect("json");
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let (phone, signing) = enrolled_behind(&server, &proxy, dir.path()).await;
    *serial.lock().unwrap_or_else(PoisonError::into_inner) = Some(signing);
    let err = phone
        .add_seal("e1", "公章", bidkey_testkit::phones::png(64, 64), PIN)
        .await
        .expect_err("another action's challenge");
    assert!(matches!(err, CoreError::Crypto(_)), "{err:?}");
    assert!(!signed.load(Ordering::SeqCst), "the phone co-signed it");
}
