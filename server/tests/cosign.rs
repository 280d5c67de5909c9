//! The co-signing service over real HTTP on loopback, on SQLite and on PostgreSQL: PIN
//! counting and locking, unlock, certificate status gates, single-use sessions.

#[macro_use]
mod support;

use bidkey_crypto::cosign::{DeviceDecryptor, DeviceSigner};
use bidkey_crypto::sm2::{self, DEFAULT_ID, Sm2PrivateKey};
use bidkey_crypto::x509::Crl;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest, SmsPurpose};
use bidkey_protocol::certs::*;
use bidkey_protocol::cosign::{self as cw, CosignPurpose};
use support::device::*;
use support::{Answer, Client, Store, TestServer, realname_request, signed_up};

on_both_stores!(
    five_wrong_pins_lock_until_unlock,
    wrong_pins_sent_at_once_cannot_outrun_the_lock,
    attempts_racing_for_one_session_are_all_counted_and_one_wins,
    a_right_pin_beyond_the_limit_is_refused_like_a_wrong_one,
    a_right_and_a_wrong_pin_racing_are_both_counted_as_they_are,
    suspended_and_revoked_certificates_cannot_cosign,
    sessions_are_single_use_and_bound_to_the_holders_device,
    each_key_decrypts_only_for_its_purpose,
);

const PHONE: &str = "13900139000";
const NAME: &str = "李四";
const ID_NUMBER: &str = "11010519491231002X";

async fn enrolled(server: &TestServer) -> (Client, Wallet) {
    enrolled_person(server, PHONE, NAME, ID_NUMBER).await
}

fn realname() -> RealNameRequest {
    realname_request(RealNameMethod::Alipay, NAME, ID_NUMBER)
}

async fn five_wrong_pins_lock_until_unlock(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let serial = w.signing_serial();
    let bad = wrong_share();

    // A wrong PIN is caught by the request proof, counted, and committed.
    for left in [4, 3] {
        let err = co_sign(&c, &serial, &bad, &w.signing_public, b"bid")
            .await
            .expect_err("wrong PIN");
        assert_eq!(err.1.code, ErrorCode::WrongPin);
        assert_eq!(err.1.tries_left, Some(left));
    }
    // A correct PIN resets the count.
    co_sign(&c, &serial, &w.signing_share, &w.signing_public, b"bid")
        .await
        .expect("right PIN");
    // Wrong PINs on decryption count against the same pair.
    let enc = w.encryption_cert();
    let enc_serial = enc.serial_hex();
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"k").expect("ct");
    for left in [4, 3] {
        let err = co_decrypt(&c, &enc_serial, &bad, &ct)
            .await
            .expect_err("wrong PIN");
        assert_eq!(
            (err.1.code, err.1.tries_left),
            (ErrorCode::WrongPin, Some(left))
        );
    }
    // A final signature that does not verify is counted too.
    let s = open_session(&c, &serial, CosignPurpose::Sign)
        .await
        .expect("session");
    let (_state, req) = DeviceSigner::start_message(
        &w.signing_share,
        &w.signing_public,
        DEFAULT_ID,
        b"m",
        &s.session_id,
    )
    .expect("start");
    let _: cw::SignResponse = c
        .post(
            "/v1/cosign/sign",
            &cw::SignRequest {
                session_id: s.session_id.clone(),
                request: req.to_bytes().to_vec(),
            },
        )
        .await
        .expect("proof accepted");
    let forged = Sm2PrivateKey::make_random()
        .expect("key")
        .sign(DEFAULT_ID, b"m")
        .expect("sig");
    let err = c
        .post::<_, cw::SignDone>(
            "/v1/cosign/sign/finish",
            &cw::SignFinish {
                session_id: s.session_id,
                signature: forged.to_der(),
            },
        )
        .await
        .expect_err("bad final signature");
    // The proof succeeded (reset to 0), the bad final signature counts 1.
    assert_eq!(
        (err.1.code, err.1.tries_left),
        (ErrorCode::WrongPin, Some(4))
    );
    for left in [3, 2, 1] {
        let err = co_sign(&c, &serial, &bad, &w.signing_public, b"bid")
            .await
            .expect_err("wrong PIN");
        assert_eq!(err.1.tries_left, Some(left));
    }
    // The fifth in a row locks.
    let err = co_sign(&c, &serial, &bad, &w.signing_public, b"bid")
        .await
        .expect_err("locked");
    assert_eq!((err.0, err.1.code), (423, ErrorCode::KeyLocked));
    // Now even the right PIN is refused, for signing and decryption.
    let err = co_sign(&c, &serial, &w.signing_share, &w.signing_public, b"bid")
        .await
        .expect_err("locked");
    assert_eq!(err.1.code, ErrorCode::KeyLocked);
    let err = co_decrypt(&c, &enc_serial, &w.enc_shares[&enc_serial], &ct)
        .await
        .expect_err("locked");
    assert_eq!(err.1.code, ErrorCode::KeyLocked);
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert!(list.in_force[0].key_locked);
    assert_eq!(list.in_force[0].pin_tries_left, 0);

    // Unlock: another person's ID is refused, a wrong code is refused.
    let code = sms(&server, PHONE, SmsPurpose::Unlock).await;
    let mut other = realname();
    other.id_number = "110105194912310029".into();
    let err = c
        .post::<_, CertPairView>(
            &format!("/v1/certs/{serial}/unlock"),
            &IdentityCheck {
                realname: other,
                code: code.clone(),
            },
        )
        .await
        .expect_err("different person");
    assert!(matches!(err.1.code, ErrorCode::RealNameFailed));
    let code = sms(&server, PHONE, SmsPurpose::Unlock).await;
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let err = c
        .post::<_, CertPairView>(
            &format!("/v1/certs/{serial}/unlock"),
            &IdentityCheck {
                realname: realname(),
                code: wrong_code.into(),
            },
        )
        .await
        .expect_err("wrong code");
    assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
    let view: CertPairView = c
        .post(
            &format!("/v1/certs/{serial}/unlock"),
            &IdentityCheck {
                realname: realname(),
                code,
            },
        )
        .await
        .expect("unlocked");
    assert!(!view.key_locked);
    assert_eq!(view.pin_tries_left, 5);
    let sig = co_sign(&c, &serial, &w.signing_share, &w.signing_public, b"after")
        .await
        .expect("signs again");
    sm2::verify(&w.signing_public, DEFAULT_ID, b"after", &sig).expect("verifies");

    // The audit log has the failures, the lock and the unlock, and no secrets.
    let actions: Vec<String> = server
        .running
        .state
        .db
        .read(|tx| {
            tx.query("SELECT action FROM audit_log ORDER BY at, id", &[])?
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("audit");
    for a in ["pin.failed", "key.locked", "key.unlocked", "cert.issued"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
}

/// The proof is checked outside the database transaction, so requests in flight together
/// are where a counter checked only afterwards would let a thief past five guesses.
async fn wrong_pins_sent_at_once_cannot_outrun_the_lock(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let enc = w.encryption_cert();
    let enc_serial = enc.serial_hex();
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"k").expect("ct");
    let bad = wrong_share();
    // A malformed request is no verdict on the PIN: nothing is counted (ADR 0034).
    let s = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
        .await
        .expect("session");
    let err = c
        .post::<_, cw::DecryptResponse>(
            "/v1/cosign/decrypt",
            &cw::DecryptRequest {
                session_id: s.session_id,
                request: vec![4; 97],
            },
        )
        .await
        .expect_err("malformed");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force[0].pin_tries_left, 5);

    let mut requests = Vec::new();
    for _ in 0..9 {
        let s = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
            .await
            .expect("session");
        let (_, req) = DeviceDecryptor::start(&bad, &ct, &s.session_id).expect("start");
        requests.push(cw::DecryptRequest {
            session_id: s.session_id,
            request: req.to_bytes().to_vec(),
        });
    }
    let c = std::sync::Arc::new(c);
    let sent: Vec<_> = requests
        .into_iter()
        .map(|r| {
            let c = c.clone();
            tokio::spawn(async move {
                c.post::<_, cw::DecryptResponse>("/v1/cosign/decrypt", &r)
                    .await
                    .expect_err("a wrong PIN is refused")
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in sent {
        codes.push(t.await.expect("task").1.code);
    }
    // However they interleave: at most five proofs are judged, then the pair is locked.
    let wrong = codes.iter().filter(|c| **c == ErrorCode::WrongPin).count();
    let locked = codes.iter().filter(|c| **c == ErrorCode::KeyLocked).count();
    assert_eq!(wrong + locked, 9, "{codes:?}");
    assert!(wrong <= 4, "{codes:?}");
    // Exactly five guesses were counted (each is audited); the others got no verdict: they
    // were refused when the holder was locked, before or after their proof was checked.
    assert_eq!(pin_failures(&server).await, 5, "{codes:?}");
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert!(list.in_force[0].key_locked);
    assert_eq!(list.in_force[0].pin_tries_left, 0);
    let err = co_decrypt(&c, &enc_serial, &w.enc_shares[&enc_serial], &ct)
        .await
        .expect_err("locked");
    assert_eq!(err.1.code, ErrorCode::KeyLocked);
}

/// Failed PIN attempts counted so far (each one is audited as `pin.failed`).
async fn pin_failures(server: &TestServer) -> i64 {
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
        .expect("audit")
}

/// Post every request at once, each from its own task; the answers in the same order.
async fn decrypt_at_once(
    c: &std::sync::Arc<Client>,
    requests: Vec<cw::DecryptRequest>,
) -> Vec<Answer<cw::DecryptResponse>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let sent: Vec<_> = requests
        .into_iter()
        .map(|r| {
            let (c, barrier) = (c.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                c.post::<_, cw::DecryptResponse>("/v1/cosign/decrypt", &r)
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in sent {
        answers.push(t.await.expect("task"));
    }
    answers
}

/// A co-decryption request of `share` for `ct` in session `session_id`.
fn decrypt_request(
    share: &bidkey_crypto::cosign::DeviceShare,
    ct: &sm2::Sm2Ciphertext,
    session_id: &[u8],
) -> cw::DecryptRequest {
    let (_, req) = DeviceDecryptor::start(share, ct, session_id).expect("start");
    cw::DecryptRequest {
        session_id: session_id.to_vec(),
        request: req.to_bytes().to_vec(),
    }
}

fn code_of(a: &Answer<cw::DecryptResponse>) -> Option<ErrorCode> {
    a.as_ref().err().map(|e| e.1.code)
}

/// ADR 0034: the session is taken by compare-and-set in the one write of an attempt. Many
/// attempts on one session at once (a right PIN among wrong ones): at most one gets an
/// answer; every other judged one is counted as a failure and answered `wrong_pin`, whether
/// its own guess was right or wrong, so losing the race tells nothing about a guess.
async fn attempts_racing_for_one_session_are_all_counted_and_one_wins(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let enc = w.encryption_cert();
    let enc_serial = enc.serial_hex();
    let right = &w.enc_shares[&enc_serial];
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"k").expect("ct");
    let bad = wrong_share();
    let c = std::sync::Arc::new(c);
    let mut counted = 0;
    for round in 0..3 {
        let s = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
            .await
            .expect("session");
        // The right request in a different place each round.
        let mut requests: Vec<_> = (0..3)
            .map(|_| decrypt_request(&bad, &ct, &s.session_id))
            .collect();
        requests.insert(round, decrypt_request(right, &ct, &s.session_id));
        let answers = decrypt_at_once(&c, requests).await;
        let won = answers.iter().filter(|a| a.is_ok()).count();
        assert!(won <= 1, "{answers:?}");
        if won == 1 {
            assert!(answers[round].is_ok(), "only the right PIN can win");
        }
        // A loser that was judged while the session was open is counted and answered as
        // a wrong PIN; one that arrived after it was taken is refused unjudged, as any
        // request in a spent session. Neither answer depends on the guess.
        let mut losers = 0;
        for (i, a) in answers.iter().enumerate() {
            match code_of(a) {
                None => {}
                Some(ErrorCode::WrongPin) => losers += 1,
                Some(ErrorCode::InvalidState) => {}
                other => panic!("{i}: {other:?}"),
            }
        }
        counted += losers;
        assert_eq!(
            pin_failures(&server).await,
            counted,
            "every judged loser counts"
        );
        // The session is spent either way.
        let err = c
            .post::<_, cw::DecryptResponse>(
                "/v1/cosign/decrypt",
                &decrypt_request(right, &ct, &s.session_id),
            )
            .await
            .expect_err("spent");
        assert_eq!(err.1.code, ErrorCode::InvalidState);
        // A right PIN in a session of its own starts the count again.
        co_decrypt(&c, &enc_serial, right, &ct)
            .await
            .expect("right PIN");
    }
}

/// ADR 0034: an attempt is judged before it is counted, so attempts sent at once can be
/// judged while the holder is below the limit and settle after it is reached. Such an
/// attempt gets `key_locked` whatever its guess: a right PIN there neither succeeds nor
/// answers differently from a wrong one.
async fn a_right_pin_beyond_the_limit_is_refused_like_a_wrong_one(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let enc = w.encryption_cert();
    let enc_serial = enc.serial_hex();
    let right = &w.enc_shares[&enc_serial];
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"k").expect("ct");
    let bad = wrong_share();
    let c = std::sync::Arc::new(c);
    for _ in 0..4 {
        let err = co_decrypt(&c, &enc_serial, &bad, &ct)
            .await
            .expect_err("wrong PIN");
        assert_eq!(err.1.code, ErrorCode::WrongPin);
    }

    // Many sessions at once, one try left: one right PIN among five wrong ones.
    let mut requests = Vec::new();
    for _ in 0..6 {
        let s = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
            .await
            .expect("session");
        requests.push(s.session_id);
    }
    let requests: Vec<_> = requests
        .iter()
        .enumerate()
        .map(|(i, sid)| decrypt_request(if i == 3 { right } else { &bad }, &ct, sid))
        .collect();
    let answers = decrypt_at_once(&c, requests).await;
    let codes: Vec<_> = answers.iter().map(code_of).collect();
    if answers[3].is_ok() {
        // The right PIN settled first, with one try left: the count started again, and
        // the five wrong ones were counted from zero (the fifth locks).
        assert_eq!(
            codes
                .iter()
                .filter(|c| **c == Some(ErrorCode::WrongPin))
                .count(),
            4,
            "{codes:?}"
        );
        assert_eq!(pin_failures(&server).await, 9, "{codes:?}");
    } else {
        // A wrong one settled first and used the last try: every other attempt, the
        // right PIN included, is refused alike; one more failure was counted, no more.
        assert!(
            codes.iter().all(|c| *c == Some(ErrorCode::KeyLocked)),
            "{codes:?}"
        );
        assert_eq!(pin_failures(&server).await, 5, "{codes:?}");
    }
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert!(list.in_force[0].key_locked);

    // The same with the order forced, for a right and then a wrong PIN: the attempt is
    // judged while one try is left, and the limit is reached (written directly, as a
    // concurrent wrong PIN would) before its write.
    let earlier = pin_failures(&server).await;
    for share in [right, &bad] {
        server
            .running
            .state
            .db
            .write(|tx| tx.execute("UPDATE pin_holders SET failed_pins = 4, locked = 0", &[]))
            .await
            .map_err(|e: bidkey_server::db::DbError| e)
            .expect("one try left");
        let s = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
            .await
            .expect("session");
        let req = decrypt_request(share, &ct, &s.session_id);
        let db = server.running.state.db.clone();
        // Hold a write that reaches the limit, uncommitted: the attempt reads one try left
        // (the committed state), is judged, and its write waits for this one.
        let (held_tx, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Arc::new(std::sync::Mutex::new(held));
        let (ready_tx, ready) = tokio::sync::oneshot::channel::<()>();
        let ready_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(ready_tx)));
        let holding = tokio::spawn(async move {
            db.write(move |tx| {
                tx.execute("UPDATE pin_holders SET failed_pins = 5, locked = 1", &[])?;
                if let Some(r) = ready_tx.lock().expect("ready").take() {
                    let _ = r.send(());
                }
                let _ = held.lock().expect("held").recv();
                Ok::<_, bidkey_server::db::DbError>(())
            })
            .await
        });
        ready.await.expect("holding");
        let attempt = {
            let c = c.clone();
            tokio::spawn(async move {
                c.post::<_, cw::DecryptResponse>("/v1/cosign/decrypt", &req)
                    .await
            })
        };
        // Let the attempt reach its write (two connections busy: the held write and the
        // attempt's). Whether it got there or not, the answer below must be the same:
        // this only makes the late case the one tested.
        let pool = server.running.state.db.clone();
        for _ in 0..2000 {
            if pool.pool_use().busy >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        held_tx.send(()).expect("release");
        holding.await.expect("task").expect("held write");
        let err = attempt.await.expect("task").expect_err("beyond the limit");
        assert_eq!(err.1.code, ErrorCode::KeyLocked, "{:?}", err.1);
        // The refused attempt counted nothing more, and its session is still open.
        assert_eq!(pin_failures(&server).await, earlier);
    }
}

/// ADR 0034: a right and a wrong PIN in flight together are each settled in their own
/// write: the right one gets its answer, the wrong one is counted.
async fn a_right_and_a_wrong_pin_racing_are_both_counted_as_they_are(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let enc = w.encryption_cert();
    let enc_serial = enc.serial_hex();
    let right = &w.enc_shares[&enc_serial];
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"k").expect("ct");
    let bad = wrong_share();
    let c = std::sync::Arc::new(c);
    for round in 0..4 {
        let a = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
            .await
            .expect("session");
        let b = open_session(&c, &enc_serial, CosignPurpose::Decrypt)
            .await
            .expect("session");
        let answers = decrypt_at_once(
            &c,
            vec![
                decrypt_request(right, &ct, &a.session_id),
                decrypt_request(&bad, &ct, &b.session_id),
            ],
        )
        .await;
        assert!(answers[0].is_ok(), "{answers:?}");
        assert_eq!(code_of(&answers[1]), Some(ErrorCode::WrongPin));
        assert_eq!(pin_failures(&server).await, round + 1);
        // One try fewer (the wrong one settled last) or none (the right one reset it).
        let list: CertList = c.get("/v1/certs").await.expect("list");
        assert!(
            [4, 5].contains(&list.in_force[0].pin_tries_left),
            "{}",
            list.in_force[0].pin_tries_left
        );
        co_decrypt(&c, &enc_serial, right, &ct)
            .await
            .expect("right PIN");
    }
}

async fn suspended_and_revoked_certificates_cannot_cosign(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let serial = w.signing_serial();
    let enc = w.encryption_cert();
    let enc_serial = enc.serial_hex();
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"k").expect("ct");
    let anon = Client::new(&server);

    // 挂失 of one certificate (either of the pair suspends the pair).
    let code = sms(&server, PHONE, SmsPurpose::LossReport).await;
    let change: PairChange = anon
        .post(
            "/v1/certs/loss-report",
            &LossReportRequest {
                phone: PHONE.into(),
                code,
                serial: Some(enc_serial.clone()),
            },
        )
        .await
        .expect("suspended");
    assert_eq!(change.state, PairState::Suspended);
    let err = co_sign(&c, &serial, &w.signing_share, &w.signing_public, b"x")
        .await
        .expect_err("suspended");
    assert_eq!((err.0, err.1.code), (423, ErrorCode::CertificateSuspended));
    let err = co_decrypt(&c, &enc_serial, &w.enc_shares[&enc_serial], &ct)
        .await
        .expect_err("suspended");
    assert_eq!(err.1.code, ErrorCode::CertificateSuspended);
    let status: CertStatus = anon
        .get(&format!("/v1/certs/{serial}/status"))
        .await
        .expect("status");
    assert_eq!(status.status, RevocationStatus::Suspended);
    assert_eq!(status.reason.as_deref(), Some("certificate_hold"));
    let (_, issuing, crl, _) = chain_and_crls(&anon).await;
    crl.verify_signature(&issuing).expect("signed");
    let held = crl
        .find(&hex::decode(&serial).expect("hex"))
        .expect("parse")
        .expect("listed");
    assert_eq!(
        held.reason,
        Some(bidkey_crypto::x509::CrlReason::CertificateHold)
    );
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force[0].state, PairState::Suspended);

    // 解挂: logged in, with a fresh code.
    let code = sms(&server, PHONE, SmsPurpose::LossReport).await;
    let change: PairChange = c
        .post(
            &format!("/v1/certs/{serial}/undo-loss-report"),
            &UndoLossRequest { code },
        )
        .await
        .expect("undone");
    assert_eq!(change.state, PairState::InForce);
    co_sign(&c, &serial, &w.signing_share, &w.signing_public, b"x")
        .await
        .expect("signs again");
    assert_eq!(
        co_decrypt(&c, &enc_serial, &w.enc_shares[&enc_serial], &ct)
            .await
            .expect("decrypts again"),
        b"k"
    );
    let crl = Crl::from_der(&raw(&anon, "/v1/ca/crl").await).expect("crl");
    assert!(crl.revoked_serials_hex().expect("list").is_empty());

    // Another module revokes by updating the table (staff removal): the co-signing service
    // and the CRL follow.
    let s2 = serial.clone();
    let t = server.running.state.clock.now();
    server
        .running
        .state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = $1, revoke_reason = 9 WHERE serial = $2",
                &[
                    bidkey_server::db::Value::Int(t),
                    bidkey_server::db::Value::Text(s2.clone()),
                ],
            )
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("revoked directly");
    let err = co_sign(&c, &serial, &w.signing_share, &w.signing_public, b"x")
        .await
        .expect_err("revoked");
    assert_eq!(err.1.code, ErrorCode::CertificateRevoked);
    let crl = Crl::from_der(&raw(&anon, "/v1/ca/crl").await).expect("crl");
    let entry = crl
        .find(&hex::decode(&serial).expect("hex"))
        .expect("parse")
        .expect("listed");
    assert_eq!(
        entry.reason,
        Some(bidkey_crypto::x509::CrlReason::PrivilegeWithdrawn)
    );
}

async fn sessions_are_single_use_and_bound_to_the_holders_device(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let serial = w.signing_serial();

    // A sign request replayed in its (spent) session is refused.
    let s = open_session(&c, &serial, CosignPurpose::Sign)
        .await
        .expect("session");
    let (_st, req) = DeviceSigner::start_message(
        &w.signing_share,
        &w.signing_public,
        DEFAULT_ID,
        b"m",
        &s.session_id,
    )
    .expect("start");
    let body = cw::SignRequest {
        session_id: s.session_id.clone(),
        request: req.to_bytes().to_vec(),
    };
    let _: cw::SignResponse = c.post("/v1/cosign/sign", &body).await.expect("answered");
    let err = c
        .post::<_, cw::SignResponse>("/v1/cosign/sign", &body)
        .await
        .expect_err("replay");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
    // A request made for one session does not verify in another: a counted failure.
    let s2 = open_session(&c, &serial, CosignPurpose::Sign)
        .await
        .expect("session");
    let err = c
        .post::<_, cw::SignResponse>(
            "/v1/cosign/sign",
            &cw::SignRequest {
                session_id: s2.session_id,
                request: req.to_bytes().to_vec(),
            },
        )
        .await
        .expect_err("other session");
    assert_eq!(err.1.code, ErrorCode::WrongPin);
    // The signing key does not decrypt-sign confusion: encryption keys cannot sign.
    let err = open_session(&c, &w.result.encryption_serial, CosignPurpose::Sign)
        .await
        .expect_err("encryption key");
    assert_eq!(err.1.code, ErrorCode::BadRequest);

    // Another device of the same account (a second login) does not hold the key.
    let other_device = login_new_device(&server, PHONE).await;
    let err = open_session(&other_device, &serial, CosignPurpose::Sign)
        .await
        .expect_err("other device");
    assert_eq!(err.1.code, ErrorCode::CertificateNotFound);
    // Another account neither.
    let stranger = signed_up(&server, "13700137000").await;
    let err = open_session(&stranger, &serial, CosignPurpose::Sign)
        .await
        .expect_err("stranger");
    assert_eq!(err.1.code, ErrorCode::CertificateNotFound);
    // Without a login, nothing.
    let err = open_session(&Client::new(&server), &serial, CosignPurpose::Sign)
        .await
        .expect_err("anonymous");
    assert_eq!(err.1.code, ErrorCode::Unauthorized);
}

/// Issue 13 §3: co-decryption only with encryption keys; a signing key opens only the
/// envelopes of its own enrolment (purpose `key_delivery`, within a day of the pair).
async fn each_key_decrypts_only_for_its_purpose(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let signing = w.signing_serial();
    let enc_serial = w.encryption_cert().serial_hex();
    let to_signing_key = sm2::encrypt(&w.signing_public, b"lifted").expect("ct");

    // A platform's decrypt request naming the signing certificate: refused.
    let err = co_decrypt(&c, &signing, &w.signing_share, &to_signing_key)
        .await
        .expect_err("signing keys do not decrypt");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    // Key delivery is for signing keys only.
    let err = open_session(&c, &enc_serial, CosignPurpose::KeyDelivery)
        .await
        .expect_err("not an encryption key's job");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    // During enrolment the signing key opens an envelope's key.
    let pt = co_decrypt_as(
        &c,
        &signing,
        &w.signing_share,
        &to_signing_key,
        CosignPurpose::KeyDelivery,
    )
    .await
    .expect("key delivery during enrolment");
    assert_eq!(pt, b"lifted");
    // A day later, not any more; the encryption key still decrypts.
    server.running.state.clock.advance(24 * 3600 + 1);
    let err = open_session(&c, &signing, CosignPurpose::KeyDelivery)
        .await
        .expect_err("enrolment is over");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    let ct = sm2::encrypt(&w.encryption_cert().sm2_public_key().expect("key"), b"bid").expect("ct");
    let pt = co_decrypt(&c, &enc_serial, &w.enc_shares[&enc_serial], &ct)
        .await
        .expect("encryption key decrypts");
    assert_eq!(pt, b"bid");
    // Refusals at session opening are not PIN attempts.
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force[0].pin_tries_left, 5);
}
