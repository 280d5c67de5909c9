//! The SIM swapper and the thief with the phone, over real HTTP on loopback, on SQLite and on
//! PostgreSQL (ADR 0011): a recovery is held for the RA's review and a cooling-off the old
//! phone can cancel, a locked key stays locked through recovery, the wrong-PIN counter
//! belongs to the holder, unlocks are limited so the guesses in 30 days stay within the
//! budget, and a phone change needs more than a login. Time moves only by the server's
//! test clock.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::*;
use bidkey_protocol::certs::*;
use bidkey_protocol::enterprises::Message;
use bidkey_protocol::orders::{self as ow, ApplicationKind, Status};
use bidkey_server::cosign::pin;
use bidkey_server::db::Value;
use support::device::*;
use support::{Client, Store, TestServer, realname_request, signed_up};

on_both_stores!(
    a_sim_swapper_is_held_for_review_and_the_old_phone_cancels,
    a_key_locked_by_wrong_pins_stays_locked_through_recovery,
    wrong_pins_on_two_pairs_of_one_holder_count_once,
    a_thief_gets_at_most_the_stated_guesses_in_30_days,
    a_phone_change_needs_the_password_or_the_old_number,
);

const PHONE: &str = "13900139000";
const NEW_PHONE: &str = "13700137000";
const NAME: &str = "李四";
const ID_NUMBER: &str = "11010519491231002X";
const DAY: i64 = 86_400;

async fn enrolled(server: &TestServer) -> (Client, Wallet) {
    enrolled_person(server, PHONE, NAME, ID_NUMBER).await
}

/// The victim's name and ID number: what a SIM swapper is assumed to know.
fn victim() -> RealNameRequest {
    realname_request(RealNameMethod::Alipay, NAME, ID_NUMBER)
}

/// Wrong PINs until the server locks the key; returns how many it judged.
async fn guess_until_locked(c: &Client, w: &Wallet) -> i64 {
    let bad = wrong_share();
    let mut judged = 0;
    loop {
        let err = co_sign(c, &w.signing_serial(), &bad, &w.signing_public, b"guess")
            .await
            .expect_err("a wrong PIN never signs");
        match err.1.code {
            ErrorCode::WrongPin => judged += 1,
            ErrorCode::KeyLocked => {
                return judged;
            }
            other => panic!("unexpected refusal {other:?}"),
        }
    }
}

async fn recover_from(server: &TestServer, thief: &Client) -> ow::Application {
    let code = sms(server, PHONE, SmsPurpose::Recover).await;
    thief
        .post(
            "/v1/certs/recover",
            &RecoverRequest {
                realname: victim(),
                code,
                enterprise_id: None,
                idempotency_key: None,
            },
        )
        .await
        .expect("recovery asked for")
}

async fn outbox(server: &TestServer, phone: &str) -> Vec<String> {
    let phone = phone.to_owned();
    server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query(
                "SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY created_at, id",
                &[Value::Text(phone.clone())],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("outbox")
}

async fn wrong_pins_judged(server: &TestServer) -> i64 {
    server
        .running
        .state
        .db
        .read(|tx| {
            tx.query_opt(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'pin.failed'",
                &[],
            )?
            .map(|r| r.i64(0))
            .transpose()
            .map(Option::unwrap_or_default)
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("audit log")
}

async fn a_sim_swapper_is_held_for_review_and_the_old_phone_cancels(store: Store) {
    let server = TestServer::start(store).await;
    let (victim_phone, w) = enrolled(&server).await;

    // The SIM swapper logs in by SMS on a new device. The ID number without the name is
    // not the same person.
    let thief = login_new_device(&server, PHONE).await;
    let code = sms(&server, PHONE, SmsPurpose::Recover).await;
    let mut other_name = victim();
    other_name.name = "王五".into();
    let err = thief
        .post::<_, ow::Application>(
            "/v1/certs/recover",
            &RecoverRequest {
                realname: other_name,
                code,
                enterprise_id: None,
                idempotency_key: None,
            },
        )
        .await
        .expect_err("the name must match");
    assert_eq!(err.1.code, ErrorCode::RealNameFailed);

    // With the name and the ID number: held, not payable, not enrollable.
    let app = recover_from(&server, &thief).await;
    assert_eq!(app.kind, ApplicationKind::Recover);
    assert_eq!(app.status, Status::PendingReview);
    assert!(app.order.is_none(), "nothing to pay before the review");
    let now = server.running.state.clock.now();
    let cooling = server.running.state.limits.recovery_cooling_off;
    assert_eq!(cooling, DAY, "the default cooling-off is 24 h");
    assert_eq!(app.not_before, Some(now + cooling));
    let err = thief
        .post::<_, EnrollStart>(
            &format!("/v1/applications/{}/enroll/start", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("not enrolled");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    // The reviewer sees the materials: who asks from which device, the masked identity,
    // the pair it would replace.
    let queue: Vec<ow::Application> = operator(&server)
        .get("/v1/operator/reviews")
        .await
        .expect("queue");
    let held = queue.iter().find(|a| a.id == app.id).expect("in the queue");
    let materials: serde_json::Value =
        serde_json::from_str(held.review_materials.as_deref().expect("materials")).expect("json");
    assert_eq!(materials["real_name"], NAME);
    assert_eq!(materials["phone_masked"], "139****9000");
    assert_eq!(materials["requesting_device"]["name"], "second phone");
    assert_eq!(materials["other_devices"], 1);
    assert_eq!(materials["replaces_pair"], w.result.pair_id.as_str());
    assert_eq!(materials["cooling_off_until"], now + cooling);
    assert!(
        !held
            .review_materials
            .as_deref()
            .unwrap_or_default()
            .contains(ID_NUMBER),
        "the ID number is masked"
    );

    // The RA cannot approve before the cooling-off ends (typed, with the time).
    let err = operator(&server)
        .post::<_, ow::Application>(
            &format!("/v1/operator/reviews/{}", app.id),
            &ow::ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect_err("cooling off");
    assert_eq!((err.0, err.1.code), (425, ErrorCode::RecoveryCoolingOff));
    assert_eq!(err.1.not_before, Some(now + cooling));

    // The old phone and the number were told.
    let messages: Vec<Message> = victim_phone.get("/v1/messages").await.expect("messages");
    assert!(
        messages
            .iter()
            .any(|m| m.application_id.as_deref() == Some(app.id.as_str())),
        "{messages:?}"
    );
    assert!(
        outbox(&server, PHONE)
            .await
            .iter()
            .any(|b| b.contains("找回") && b.contains("取消")),
        "the number was texted"
    );

    // The old phone cancels; nothing can revive it.
    let cancelled: ow::Application = victim_phone
        .post(
            &format!("/v1/certs/recover/{}/cancel", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, Status::Closed);
    server.running.state.clock.advance(cooling);
    let err = operator(&server)
        .post::<_, ow::Application>(
            &format!("/v1/operator/reviews/{}", app.id),
            &ow::ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect_err("closed");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
    let err = thief
        .post::<_, EnrollStart>(
            &format!("/v1/applications/{}/enroll/start", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("not enrolled");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
    // Another account cannot cancel someone's recovery.
    let stranger = signed_up(&server, "13600136000").await;
    let app2 = recover_from(&server, &thief).await;
    let err = stranger
        .post::<_, ow::Application>(
            &format!("/v1/certs/recover/{}/cancel", app2.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("not theirs");
    assert_eq!(err.1.code, ErrorCode::ApplicationNotFound);
    let list: CertList = victim_phone.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force.len(), 1, "the victim's pair is untouched");
}

async fn a_key_locked_by_wrong_pins_stays_locked_through_recovery(store: Store) {
    let server = TestServer::start(store).await;
    let (thief_with_phone, w) = enrolled(&server).await;
    assert_eq!(guess_until_locked(&thief_with_phone, &w).await, 4);
    assert_eq!(wrong_pins_judged(&server).await, 5);

    // Logged in by SMS on a new device, the thief recovers; even after the review and the
    // cooling-off the new pair is locked: the counter is the holder's.
    let thief = login_new_device(&server, PHONE).await;
    let app = recover_from(&server, &thief).await;
    assert_eq!(app.status, Status::PendingReview);
    let queue: Vec<ow::Application> = operator(&server)
        .get("/v1/operator/reviews")
        .await
        .expect("queue");
    let materials: serde_json::Value = serde_json::from_str(
        queue
            .iter()
            .find(|a| a.id == app.id)
            .and_then(|a| a.review_materials.as_deref())
            .expect("materials"),
    )
    .expect("json");
    assert_eq!(materials["key_locked"], true, "the reviewer sees the lock");
    approve_recovery(&server, &app).await;
    pay(&thief, &app.id).await;
    let err = thief
        .post::<_, EnrollStart>(
            &format!("/v1/applications/{}/enroll/start", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("a locked holder enrols nothing");
    assert_eq!((err.0, err.1.code), (423, ErrorCode::KeyLocked));
    let list: CertList = thief.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force.len(), 1, "the old pair is not replaced");
    assert!(list.in_force[0].key_locked);
    let err = co_sign(
        &thief_with_phone,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"right PIN",
    )
    .await
    .expect_err("still locked");
    assert_eq!(err.1.code, ErrorCode::KeyLocked);

    // Only an unlock (limited, counted) ends the lock; then the recovery enrols, with the
    // count the holder had.
    let code = sms(&server, PHONE, SmsPurpose::Unlock).await;
    let view: CertPairView = thief
        .post(
            &format!("/v1/certs/{}/unlock", w.signing_serial()),
            &IdentityCheck {
                realname: victim(),
                code,
            },
        )
        .await
        .expect("unlocked");
    assert!(!view.key_locked);
    let w2 = enroll(&thief, &app.id).await;
    co_sign(
        &thief,
        &w2.signing_serial(),
        &w2.signing_share,
        &w2.signing_public,
        b"after the unlock",
    )
    .await
    .expect("signs after the unlock");
    assert_eq!(wrong_pins_judged(&server).await, 5);
}

async fn wrong_pins_on_two_pairs_of_one_holder_count_once(store: Store) {
    let server = TestServer::start(store).await;
    let (_, w) = enrolled(&server).await;
    server.running.state.clock.advance(340 * DAY);
    let c = login_again(&server, PHONE, &w.result.pair_id).await;
    let app: ow::Application = c
        .post(
            &format!("/v1/certs/{}/renew", w.signing_serial()),
            &RenewRequest::default(),
        )
        .await
        .expect("renewal");
    pay(&c, &app.id).await;
    // Two pairs of one holder in force at once (the new one not confirmed yet).
    let (_, w2) = enroll_unconfirmed(&c, &app.id).await;
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force.len(), 2);

    let bad = wrong_share();
    for left in [4, 3, 2] {
        let err = co_sign(&c, &w.signing_serial(), &bad, &w.signing_public, b"g")
            .await
            .expect_err("wrong PIN");
        assert_eq!(err.1.tries_left, Some(left));
    }
    // The other pair does not start again at 5.
    let err = co_sign(&c, &w2.signing_serial(), &bad, &w2.signing_public, b"g")
        .await
        .expect_err("wrong PIN");
    assert_eq!(err.1.tries_left, Some(1));
    let err = co_sign(&c, &w2.signing_serial(), &bad, &w2.signing_public, b"g")
        .await
        .expect_err("locked");
    assert_eq!(err.1.code, ErrorCode::KeyLocked);
    for (serial, share, public) in [
        (w.signing_serial(), &w.signing_share, &w.signing_public),
        (w2.signing_serial(), &w2.signing_share, &w2.signing_public),
    ] {
        let err = co_sign(&c, &serial, share, public, b"right PIN")
            .await
            .expect_err("both locked");
        assert_eq!(err.1.code, ErrorCode::KeyLocked);
    }
    assert_eq!(wrong_pins_judged(&server).await, 5);
}

async fn a_thief_gets_at_most_the_stated_guesses_in_30_days(store: Store) {
    let server = TestServer::start(store).await;
    let (_, w) = enrolled(&server).await;
    // The thief holds the phone (its login) and passes every unlock: the SMS code reaches
    // the phone, and the ID number is known.
    let c = login_again(&server, PHONE, &w.result.pair_id).await;
    let clock = &server.running.state.clock;
    let start = clock.now();
    let serial = w.signing_serial();
    let mut first_unlock = None;
    let mut unlocks = 0;
    let mut refused = 0;
    while clock.now() < start + pin::UNLOCK_WINDOW - DAY {
        guess_until_locked(&c, &w).await;
        // A refused unlock is refused before the identity check: no code is spent on it.
        let code = sms(&server, PHONE, SmsPurpose::Unlock).await;
        let answer = c
            .post::<_, CertPairView>(
                &format!("/v1/certs/{serial}/unlock"),
                &IdentityCheck {
                    realname: victim(),
                    code,
                },
            )
            .await;
        match answer {
            Ok(view) => {
                assert!(!view.key_locked);
                first_unlock.get_or_insert(clock.now());
                unlocks += 1;
            }
            Err((status, body)) => {
                assert_eq!((status, body.code), (429, ErrorCode::UnlockLimited));
                let next = body.not_before.expect("when the next unlock is possible");
                assert_eq!(Some(next), first_unlock.map(|t| t + pin::UNLOCK_WINDOW));
                refused += 1;
            }
        }
        clock.advance(DAY);
    }
    let judged = wrong_pins_judged(&server).await;
    assert_eq!(unlocks, pin::UNLOCKS_PER_WINDOW);
    assert!(refused > 20, "the thief kept trying every day ({refused})");
    assert!(
        judged <= pin::MAX_WRONG_PINS_PER_WINDOW,
        "{judged} wrong PINs judged in 30 days, budget {}",
        pin::MAX_WRONG_PINS_PER_WINDOW
    );
    assert_eq!(
        judged, 20,
        "5 before the first lock and 5 after each of 3 unlocks"
    );

    // When the first unlock leaves the window, one more is possible, as the error said.
    let next = first_unlock.expect("unlocked") + pin::UNLOCK_WINDOW;
    clock.advance((next - clock.now()).max(0));
    let c = login_again(&server, PHONE, &w.result.pair_id).await;
    let code = sms(&server, PHONE, SmsPurpose::Unlock).await;
    let view: CertPairView = c
        .post(
            &format!("/v1/certs/{serial}/unlock"),
            &IdentityCheck {
                realname: victim(),
                code,
            },
        )
        .await
        .expect("unlock allowed again");
    assert!(!view.key_locked);
    // An unlock of a key that is not locked is refused: it would only reset the count.
    let code = sms(&server, PHONE, SmsPurpose::Unlock).await;
    let err = c
        .post::<_, CertPairView>(
            &format!("/v1/certs/{serial}/unlock"),
            &IdentityCheck {
                realname: victim(),
                code,
            },
        )
        .await
        .expect_err("not locked");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
}

async fn a_phone_change_needs_the_password_or_the_old_number(store: Store) {
    let server = TestServer::start(store).await;
    let c = signed_up(&server, PHONE).await;
    let other_device = login_new_device(&server, PHONE).await;

    // A login token and a code to the new number are not enough.
    let code = sms(&server, NEW_PHONE, SmsPurpose::ChangePhone).await;
    let err = c
        .put::<_, AccountInfo>(
            "/v1/me/phone",
            &ChangePhoneRequest {
                new_phone: NEW_PHONE.into(),
                code: code.clone(),
                old_code: None,
                password: None,
            },
        )
        .await
        .expect_err("no proof from the old number");
    assert_eq!(
        (err.0, err.1.code),
        (403, ErrorCode::PhoneChangeProofRequired)
    );
    // A wrong password, or a code sent to the new number given as the old one's, is refused.
    let err = c
        .put::<_, AccountInfo>(
            "/v1/me/phone",
            &ChangePhoneRequest {
                new_phone: NEW_PHONE.into(),
                code: code.clone(),
                old_code: None,
                password: Some("not the password".into()),
            },
        )
        .await
        .expect_err("no password set");
    assert_eq!(err.1.code, ErrorCode::WrongPassword);
    let err = c
        .put::<_, AccountInfo>(
            "/v1/me/phone",
            &ChangePhoneRequest {
                new_phone: NEW_PHONE.into(),
                code: code.clone(),
                old_code: Some(code.clone()),
                password: None,
            },
        )
        .await
        .expect_err("not the old number's code");
    assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
    let me: AccountInfo = c.get("/v1/me").await.expect("me");
    assert_eq!(me.phone_masked, "139****9000", "unchanged");

    // With a code to the old number: changed, the other device logged out, the old number
    // told.
    let old_code = sms(&server, PHONE, SmsPurpose::ChangePhoneOld).await;
    let code = sms(&server, NEW_PHONE, SmsPurpose::ChangePhone).await;
    let me: AccountInfo = c
        .put(
            "/v1/me/phone",
            &ChangePhoneRequest {
                new_phone: NEW_PHONE.into(),
                code,
                old_code: Some(old_code),
                password: None,
            },
        )
        .await
        .expect("changed");
    assert_eq!(me.phone_masked, "137****7000");
    let err = other_device
        .get::<AccountInfo>("/v1/me")
        .await
        .expect_err("the other device is logged out");
    assert_eq!(err.0, 401);
    let _: AccountInfo = c.get("/v1/me").await.expect("this login stays");
    assert!(
        outbox(&server, PHONE)
            .await
            .last()
            .is_some_and(|b| b.contains("137****7000")),
        "the old number is told"
    );

    // With the password: back to the first number.
    let _: serde_json::Value = c
        .put(
            "/v1/me/password",
            &SetPasswordRequest {
                old_password: None,
                new_password: "correct horse".into(),
            },
        )
        .await
        .expect("password set");
    let code = sms(&server, PHONE, SmsPurpose::ChangePhone).await;
    let me: AccountInfo = c
        .put(
            "/v1/me/phone",
            &ChangePhoneRequest {
                new_phone: PHONE.into(),
                code,
                old_code: None,
                password: Some("correct horse".into()),
            },
        )
        .await
        .expect("changed with the password");
    assert_eq!(me.phone_masked, "139****9000");
}
