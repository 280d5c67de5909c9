//! Accounts over real HTTP on loopback, on SQLite and on PostgreSQL.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::*;
use support::{Client, Store, TestServer, real_named, signed_up};

on_both_stores!(
    signup_login_logout,
    sms_codes_expire_and_limit_tries,
    guesses_over_fresh_codes_stop_at_the_hourly_budget,
    stored_codes_are_keyed_hashes,
    a_fresh_code_counts_whatever_the_clock_stamped,
    sms_sending_is_rate_limited,
    passwords,
    change_phone,
    realname_checks_id_numbers,
);

async fn signup_login_logout(store: Store) {
    let server = TestServer::start(store).await;
    let c = signed_up(&server, "13800138000").await;
    let me: AccountInfo = c.get("/v1/me").await.expect("me");
    assert_eq!(me.phone_masked, "138****8000");
    assert!(!me.has_password);

    // A second sign-up of the same phone is refused at the SMS step.
    let anon = Client::new(&server);
    let err = anon
        .post::<_, SendSmsResponse>(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: "13800138000".into(),
                purpose: SmsPurpose::Signup,
            },
        )
        .await
        .expect_err("already registered");
    assert_eq!(err.1.code, ErrorCode::PhoneAlreadyRegistered);
    assert_eq!(err.0, 409);

    let _: serde_json::Value = c.delete("/v1/sessions/current").await.expect("logout");
    let err = c
        .get::<AccountInfo>("/v1/me")
        .await
        .expect_err("token revoked");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    let err = anon
        .get::<AccountInfo>("/v1/me")
        .await
        .expect_err("no token");
    assert_eq!(err.1.code, ErrorCode::Unauthorized);
    assert!(!err.1.message_zh.is_empty() && !err.1.message_en.is_empty());

    // Bad input is a typed error.
    let err = anon
        .post::<_, SendSmsResponse>(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: "12345".into(),
                purpose: SmsPurpose::Login,
            },
        )
        .await
        .expect_err("bad phone");
    assert_eq!((err.0, err.1.code), (400, ErrorCode::InvalidPhone));
}

async fn sms_codes_expire_and_limit_tries(store: Store) {
    let server = TestServer::start(store).await;
    let anon = Client::new(&server);
    let phone = "13900139000";
    let send = SendSmsRequest {
        phone: phone.into(),
        purpose: SmsPurpose::Login,
    };
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent");
    let code = server.sms_code(phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let login = |code: &str| SmsLoginRequest {
        phone: phone.into(),
        code: code.into(),
        device_name: None,
        device_id: None,
    };
    for _ in 0..5 {
        let err = anon
            .post::<_, Session>("/v1/sessions/sms", &login(wrong))
            .await
            .expect_err("wrong");
        assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
    }
    // The right code no longer works after 5 wrong tries.
    let err = anon
        .post::<_, Session>("/v1/sessions/sms", &login(&code))
        .await
        .expect_err("burnt");
    assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);

    // A new code, 5 minutes later, has expired.
    server.running.state.clock.advance(61);
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent again");
    let code = server.sms_code(phone).await;
    server.running.state.clock.advance(301);
    let err = anon
        .post::<_, Session>("/v1/sessions/sms", &login(&code))
        .await
        .expect_err("expired");
    assert_eq!(err.1.code, ErrorCode::SmsCodeExpired);

    // A fresh one works once (login by SMS registers the new number).
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent");
    let code = server.sms_code(phone).await;
    let s: Session = anon
        .post("/v1/sessions/sms", &login(&code))
        .await
        .expect("login");
    assert!(!s.token.is_empty());
    let err = anon
        .post::<_, Session>("/v1/sessions/sms", &login(&code))
        .await
        .expect_err("reuse");
    assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
}

/// An attacker who can trigger codes to a number guesses 5 times per code, then asks for a
/// fresh code: the per-number budget of wrong guesses per hour is not reset by it.
async fn guesses_over_fresh_codes_stop_at_the_hourly_budget(store: Store) {
    let server = TestServer::start(store).await;
    let clock = &server.running.state.clock;
    // One fixed hour window of the server's clock, from its first second.
    let now = clock.now();
    clock.freeze_at(now - now.rem_euclid(3600));
    let anon = Client::new(&server);
    let phone = "13900139001";
    let send = SendSmsRequest {
        phone: phone.into(),
        purpose: SmsPurpose::Login,
    };
    let login = |code: &str| SmsLoginRequest {
        phone: phone.into(),
        code: code.into(),
        device_name: None,
        device_id: None,
    };
    let per_code = 5;
    let budget = bidkey_server::accounts::codes::WRONG_PER_PHONE_PER_HOUR;
    let mut guessed = 0;
    let mut code = String::new();
    while guessed < budget {
        clock.advance(61);
        let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent");
        code = server.sms_code(phone).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..per_code.min(budget - guessed) {
            let err = anon
                .post::<_, Session>("/v1/sessions/sms", &login(wrong))
                .await
                .expect_err("wrong");
            assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
            guessed += 1;
        }
    }
    // A fresh code, and even the right guess, is refused until the hour ends.
    clock.advance(61);
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent");
    let fresh = server.sms_code(phone).await;
    assert_ne!(fresh, code);
    let err = anon
        .post::<_, Session>("/v1/sessions/sms", &login(&fresh))
        .await
        .expect_err("over budget");
    assert_eq!(err.1.code, ErrorCode::TooManyRequests);
    // The next hour, the holder logs in with a new code.
    clock.advance(3600);
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent");
    let code = server.sms_code(phone).await;
    let _: Session = anon
        .post("/v1/sessions/sms", &login(&code))
        .await
        .expect("login the next hour");
}

/// An insider with the database finds no code: the stored value is HMAC-SM3 under the
/// server's key file, not SM3 of six digits (which a million tries would invert).
async fn stored_codes_are_keyed_hashes(store: Store) {
    let server = TestServer::start(store).await;
    let anon = Client::new(&server);
    let phone = "13900139002";
    let _: SendSmsResponse = anon
        .post(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: phone.into(),
                purpose: SmsPurpose::Login,
            },
        )
        .await
        .expect("sent");
    let code = server.sms_code(phone).await;
    let p = phone.to_owned();
    let stored: String = server
        .running
        .state
        .db
        .read(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT code_hash FROM sms_codes WHERE phone = $1",
                    &bidkey_server::params![p.as_str()],
                )?
                .expect("code row");
            r.text(0)
        })
        .await
        .expect("read");
    assert_ne!(
        stored,
        hex::encode(bidkey_crypto::sm3::sm3(code.as_bytes()))
    );
    assert!(!stored.contains(&code));
    let key = &server.running.state.secrets.sms_code_key;
    assert_eq!(
        stored,
        bidkey_server::accounts::codes::code_hash(key, phone, SmsPurpose::Login, &code)
    );
    assert_ne!(
        stored,
        bidkey_server::accounts::codes::code_hash(&[0; 32], phone, SmsPurpose::Login, &code)
    );
}

async fn sms_sending_is_rate_limited(store: Store) {
    let server = TestServer::start(store).await;
    // "Once a minute" is a fixed window of the server's clock: keep both sends in one.
    server.running.state.clock.freeze();
    let anon = Client::new(&server);
    let send = SendSmsRequest {
        phone: "13700137000".into(),
        purpose: SmsPurpose::Login,
    };
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("first");
    let err = anon
        .post::<_, SendSmsResponse>("/v1/sms/send", &send)
        .await
        .expect_err("too soon");
    assert_eq!((err.0, err.1.code), (429, ErrorCode::TooManyRequests));
    assert!(err.1.retry_after.is_some_and(|s| s <= 60));
}

async fn passwords(store: Store) {
    let server = TestServer::start(store).await;
    // The login limit is a fixed 15-minute window: keep the guesses in one.
    server.running.state.clock.freeze();
    let c = signed_up(&server, "13600136000").await;
    let weak = SetPasswordRequest {
        old_password: None,
        new_password: "short".into(),
    };
    let err = c
        .put::<_, serde_json::Value>("/v1/me/password", &weak)
        .await
        .expect_err("weak");
    assert_eq!(err.1.code, ErrorCode::WeakPassword);
    let set = SetPasswordRequest {
        old_password: None,
        new_password: "bid-2026-secure".into(),
    };
    let _: serde_json::Value = c.put("/v1/me/password", &set).await.expect("set");

    let anon = Client::new(&server);
    let login = |pw: &str| PasswordLoginRequest {
        phone: "13600136000".into(),
        password: pw.into(),
        device_name: None,
        device_id: None,
    };
    let err = anon
        .post::<_, Session>("/v1/sessions/password", &login("nope-nope"))
        .await
        .expect_err("wrong");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::WrongPassword));
    let s: Session = anon
        .post("/v1/sessions/password", &login("bid-2026-secure"))
        .await
        .expect("login");
    assert!(s.account.has_password);

    // Changing needs the old password.
    let change = SetPasswordRequest {
        old_password: Some("wrong-old".into()),
        new_password: "another-pass".into(),
    };
    let err = c
        .put::<_, serde_json::Value>("/v1/me/password", &change)
        .await
        .expect_err("old wrong");
    assert_eq!(err.1.code, ErrorCode::WrongPassword);

    // Login attempts are limited.
    let mut limited = false;
    for _ in 0..12 {
        if let Err((429, _)) = anon
            .post::<_, Session>("/v1/sessions/password", &login("nope-nope"))
            .await
        {
            limited = true;
        }
    }
    assert!(limited, "password guessing is rate limited");
}

async fn change_phone(store: Store) {
    let server = TestServer::start(store).await;
    let c = signed_up(&server, "13500135000").await;
    let _: SendSmsResponse = c
        .post(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: "13500135001".into(),
                purpose: SmsPurpose::ChangePhone,
            },
        )
        .await
        .expect("sent");
    let code = server.sms_code("13500135001").await;
    // Proof from the old number too (ADR 0011; refusals in tests/recovery.rs).
    server.running.state.clock.advance(61);
    let _: SendSmsResponse = c
        .post(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: "13500135000".into(),
                purpose: SmsPurpose::ChangePhoneOld,
            },
        )
        .await
        .expect("sent");
    let old_code = server.sms_code("13500135000").await;
    let me: AccountInfo = c
        .put(
            "/v1/me/phone",
            &ChangePhoneRequest {
                new_phone: "13500135001".into(),
                code,
                old_code: Some(old_code),
                password: None,
            },
        )
        .await
        .expect("changed");
    assert_eq!(me.phone_masked, "135****5001");
}

async fn realname_checks_id_numbers(store: Store) {
    let server = TestServer::start(store).await;
    let c = signed_up(&server, "13400134000").await;
    let bad = RealNameRequest {
        method: RealNameMethod::Alipay,
        name: "李四".into(),
        id_number: "110101199003074515".into(),
        bank_card: None,
        bank_phone: None,
    };
    let err = c
        .post::<_, AccountInfo>("/v1/me/realname", &bad)
        .await
        .expect_err("bad check digit");
    assert_eq!(err.1.code, ErrorCode::RealNameFailed);
    real_named(&c, "李四", "110101199003074514").await;
    let me: AccountInfo = c.get("/v1/me").await.expect("me");
    assert_eq!(me.real_name.as_deref(), Some("李四"));
    assert_eq!(me.id_number_masked.as_deref(), Some("110***********4514"));
    // Re-verification must be the same person.
    let other = RealNameRequest {
        id_number: "11010519491231002X".into(),
        ..bad
    };
    let err = c
        .post::<_, AccountInfo>("/v1/me/realname", &other)
        .await
        .expect_err("other person");
    assert_eq!(err.1.code, ErrorCode::RealNameFailed);
}

/// Every code in the SMS outbox for `phone`, in no particular order.
async fn outbox_codes(server: &TestServer, phone: &str) -> Vec<String> {
    let phone = phone.to_owned();
    let bodies: Vec<String> = server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query(
                "SELECT body FROM sms_outbox WHERE phone = $1",
                &[bidkey_server::db::Value::Text(phone.clone())],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect()
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("outbox");
    bodies
        .iter()
        .filter_map(|b| {
            b.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned)
        })
        .collect()
}

/// A code is judged by its own state, not by which carries the latest timestamp: a code
/// stamped in the future (the server's clock stepped forward for it, then back, as the demo
/// does and as a clock corrected backwards does) does not hide the fresh one sent after it,
/// and the fresh one replaces it.
async fn a_fresh_code_counts_whatever_the_clock_stamped(store: Store) {
    let server = TestServer::start(store).await;
    let clock = server.running.state.clock.clone();
    let anon = Client::new(&server);
    let phone = "13900139001";
    let send = SendSmsRequest {
        phone: phone.into(),
        purpose: SmsPurpose::Login,
    };
    let login = |code: &str| SmsLoginRequest {
        phone: phone.into(),
        code: code.into(),
        device_name: None,
        device_id: None,
    };
    // Stamped 200 s ahead (in a later resend window), then the clock steps back.
    clock.advance(200);
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent");
    clock.advance(-200);
    let early = outbox_codes(&server, phone).await;
    assert_eq!(early.len(), 1);
    let early = early[0].clone();
    // The code sent now carries an earlier timestamp than the first one.
    let _: SendSmsResponse = anon.post("/v1/sms/send", &send).await.expect("sent again");
    let fresh: Vec<String> = outbox_codes(&server, phone)
        .await
        .into_iter()
        .filter(|c| *c != early)
        .collect();
    if fresh.is_empty() {
        // The two random codes are equal (one chance in a million): nothing to tell apart.
        return;
    }
    // The replaced code no longer works, whatever its timestamp; trying it counts as a
    // wrong try on the fresh one, not on the replaced one.
    let err = anon
        .post::<_, Session>("/v1/sessions/sms", &login(&early))
        .await
        .expect_err("replaced code");
    assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
    let s: Session = anon
        .post("/v1/sessions/sms", &login(&fresh[0]))
        .await
        .expect("the fresh code logs in");
    assert!(!s.token.is_empty());
    // Used once, then spent.
    let err = anon
        .post::<_, Session>("/v1/sessions/sms", &login(&fresh[0]))
        .await
        .expect_err("spent");
    assert_eq!(err.1.code, ErrorCode::SmsCodeInvalid);
}
