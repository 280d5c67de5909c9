//! 对公打款 over real HTTP: amounts, matching by the signed webhook and the CSV import (our
//! format, and a bank's GBK export through the operator's column map), refusals (wrong
//! amount, wrong reference, another payer's name, expiry, bad or replayed signatures, bad
//! CSV lines), on SQLite and on PostgreSQL.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::*;
use bidkey_protocol::platforms::{BankImport, LineOutcome};
use support::{Client, Store, TestServer, credit, person, send_webhook, signed_up, uscc};

on_both_stores!(
    match_admin_then_staff,
    webhook_refuses_bad_and_replayed_calls,
    requests_expire,
    csv_import_all_or_nothing,
    only_the_enterprise_itself_can_pay,
);

const NAME: &str = "宿迁打款测试有限公司";

fn req(code: &str, last6: &str, key: &str) -> MicropaymentRequest {
    MicropaymentRequest {
        uscc: code.into(),
        name: NAME.into(),
        account_last6: last6.into(),
        idempotency_key: key.into(),
    }
}

async fn outcomes(resp: reqwest::Response) -> Vec<LineOutcome> {
    assert_eq!(resp.status().as_u16(), 200);
    let b: BankImport = resp.json().await.expect("json");
    b.results.into_iter().map(|r| r.outcome).collect()
}

fn body(lines: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::json!({ "transactions": lines })
        .to_string()
        .into_bytes()
}

async fn poll(c: &Client, id: &str) -> support::Answer<Micropayment> {
    c.get(&format!("/v1/enterprises/micropayments/{id}")).await
}

async fn count(server: &TestServer, sql: &'static str) -> i64 {
    server
        .running
        .state
        .db
        .read(move |tx| tx.query_opt(sql, &[])?.expect("row").i64(0))
        .await
        .expect("count")
}

async fn match_admin_then_staff(store: Store) {
    let server = TestServer::start(store).await;
    let code = uscc(101);
    let a = person(&server, "13800000101", "张三", 101).await;
    let b = person(&server, "13800000102", "李四", 102).await;

    let err = signed_up(&server, "13800000103")
        .await
        .post::<_, Micropayment>("/v1/enterprises/micropayments", &req(&code, "123456", "x"))
        .await
        .expect_err("not real-named");
    assert_eq!(err.1.code, ErrorCode::RealNameRequired);
    let err = a
        .post::<_, Micropayment>("/v1/enterprises/micropayments", &req(&code, "12345", "x"))
        .await
        .expect_err("five digits");
    assert_eq!(err.1.code, ErrorCode::BadRequest);

    let now = server.running.state.clock.now();
    let mp: Micropayment = a
        .post("/v1/enterprises/micropayments", &req(&code, "123456", "a1"))
        .await
        .expect("requested");
    assert!((1..=99).contains(&mp.amount_fen));
    assert_eq!(mp.status, MicropaymentStatus::Pending);
    assert!(mp.expires_at >= now + 48 * 3600 && mp.expires_at <= now + 48 * 3600 + 60);
    assert!(!mp.reference.is_empty() && !mp.payee_account.is_empty());
    let again: Micropayment = a
        .post("/v1/enterprises/micropayments", &req(&code, "123456", "a1"))
        .await
        .expect("retry");
    assert_eq!(again.id, mp.id);

    // Live requests for the same account tail never share an amount.
    let mp_b: Micropayment = b
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(102), "123456", "b1"),
        )
        .await
        .expect("requested");
    assert_ne!(mp_b.amount_fen, mp.amount_fen);

    // Wrong amount, wrong tail, wrong reference: kept unmatched, request still pending.
    let wrong = (1..=99)
        .find(|x| *x != mp.amount_fen && *x != mp_b.amount_fen)
        .expect("a free amount");
    let lines = vec![
        credit(NAME, "W-1", "123456", wrong, Some(&mp.reference), now),
        credit(
            NAME,
            "W-2",
            "654321",
            mp.amount_fen,
            Some(&mp.reference),
            now,
        ),
        credit(NAME, "W-3", "123456", mp.amount_fen, Some("ZZZZZZZZ"), now),
    ];
    let out = outcomes(send_webhook(&server, &body(lines), None, None).await).await;
    assert_eq!(out, vec![LineOutcome::Unmatched; 3]);
    assert_eq!(
        poll(&a, &mp.id).await.expect("poll").status,
        MicropaymentStatus::Pending
    );
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM bank_statement_lines WHERE micropayment_id IS NULL"
        )
        .await,
        3
    );

    // The right transfer (remark with other words around the reference) matches: admin.
    let remark = format!("对公打款认证 {} 谢谢", mp.reference.to_lowercase());
    let out = outcomes(
        send_webhook(
            &server,
            &body(vec![credit(
                NAME,
                "R-1",
                "123456",
                mp.amount_fen,
                Some(&remark),
                now,
            )]),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(out, vec![LineOutcome::Matched]);
    let done = poll(&a, &mp.id).await.expect("poll");
    assert_eq!(done.status, MicropaymentStatus::Matched);
    assert_eq!(done.role, Some(Role::Admin));
    let mine: Vec<EnterpriseInfo> = a.get("/v1/enterprises/mine").await.expect("mine");
    assert_eq!(mine[0].my_role, Role::Admin);
    assert!(mine[0].claimed);
    let msgs: Vec<Message> = a.get("/v1/messages").await.expect("messages");
    assert!(msgs.iter().any(|m| m.text_zh.contains("管理员")));

    // Sent again by the bank (fresh signature): a duplicate, nothing changes.
    server.running.state.clock.advance(1);
    let out = outcomes(
        send_webhook(
            &server,
            &body(vec![credit(
                NAME,
                "R-1",
                "123456",
                mp.amount_fen,
                None,
                now,
            )]),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(out, vec![LineOutcome::Duplicate]);

    // A second verified person of the same enterprise becomes staff; a line without a
    // remark matches on tail and amount alone.
    let mp2: Micropayment = b
        .post("/v1/enterprises/micropayments", &req(&code, "123456", "b2"))
        .await
        .expect("requested");
    let out = outcomes(
        send_webhook(
            &server,
            &body(vec![credit(
                NAME,
                "R-2",
                "123456",
                mp2.amount_fen,
                None,
                now + 5,
            )]),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(out, vec![LineOutcome::Matched]);
    assert_eq!(
        poll(&b, &mp2.id).await.expect("poll").role,
        Some(Role::Staff)
    );
    // One admin, always.
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM memberships WHERE role = 'admin' AND status = 'active'"
        )
        .await,
        1
    );
    // A member does not verify again.
    let err = a
        .post::<_, Micropayment>("/v1/enterprises/micropayments", &req(&code, "123456", "a2"))
        .await
        .expect_err("member");
    assert_eq!(err.1.code, ErrorCode::AlreadyMember);
    // Someone else's request is not found.
    let err = poll(&b, &mp.id).await.expect_err("not theirs");
    assert_eq!(err.1.code, ErrorCode::NotFound);
}

async fn webhook_refuses_bad_and_replayed_calls(store: Store) {
    let server = TestServer::start(store).await;
    let a = person(&server, "13800000111", "张三", 111).await;
    let mp: Micropayment = a
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(111), "222333", "a1"),
        )
        .await
        .expect("requested");
    let now = server.running.state.clock.now();
    let b = body(vec![credit(
        NAME,
        "H-1",
        "222333",
        mp.amount_fen,
        None,
        now,
    )]);

    // A bad signature, a stale timestamp and a missing header are refused with nothing
    // recorded.
    let resp = send_webhook(&server, &b, None, Some("00".repeat(32))).await;
    assert_eq!(resp.status().as_u16(), 401);
    let resp = send_webhook(&server, &b, Some(now - 3600), None).await;
    assert_eq!(resp.status().as_u16(), 401);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/bank/webhook", server.url()))
        .body(b.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM bank_statement_lines").await,
        0
    );
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'bank.webhook_refused'"
        )
        .await,
        3
    );

    // Tampered body under a good signature of another body.
    let key = std::fs::read(server.data_dir.path().join("bank-webhook.key")).expect("key");
    let sig = bidkey_server::bank::sign(&key, now, &b);
    let tampered = body(vec![credit(
        NAME,
        "H-1",
        "222333",
        mp.amount_fen + 1,
        None,
        now,
    )]);
    let resp = send_webhook(&server, &tampered, Some(now), Some(sig.clone())).await;
    assert_eq!(resp.status().as_u16(), 401);

    // The genuine call works once; the exact replay is refused.
    let resp = send_webhook(&server, &b, Some(now), Some(sig.clone())).await;
    assert_eq!(outcomes(resp).await, vec![LineOutcome::Matched]);
    let resp = send_webhook(&server, &b, Some(now), Some(sig)).await;
    assert_eq!(resp.status().as_u16(), 409);
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM bank_statement_lines").await,
        1
    );

    // A well-signed body with a bad line is refused whole.
    let bad = body(vec![
        credit(NAME, "H-2", "222333", 5, None, now),
        serde_json::json!({"bank_txn_id": "H-3", "booked_at": now, "payer_account": "12", "amount_fen": 5}),
    ]);
    let resp = send_webhook(&server, &bad, None, None).await;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM bank_statement_lines").await,
        1
    );
}

async fn requests_expire(store: Store) {
    let server = TestServer::start(store).await;
    let a = person(&server, "13800000121", "张三", 121).await;
    let mp: Micropayment = a
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(121), "777888", "a1"),
        )
        .await
        .expect("requested");
    server.running.state.clock.advance(48 * 3600 + 1);
    let now = server.running.state.clock.now();

    // The right amount, too late: no match, and the request answers `expired`.
    let out = outcomes(
        send_webhook(
            &server,
            &body(vec![credit(
                NAME,
                "E-1",
                "777888",
                mp.amount_fen,
                Some(&mp.reference),
                now,
            )]),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(out, vec![LineOutcome::Unmatched]);
    let err = poll(&a, &mp.id).await.expect_err("expired");
    assert_eq!((err.0, err.1.code), (410, ErrorCode::MicropaymentExpired));
    let list: Vec<Micropayment> = a.get("/v1/enterprises/micropayments").await.expect("list");
    assert_eq!(list[0].status, MicropaymentStatus::Expired);
    let mine: Vec<EnterpriseInfo> = a.get("/v1/enterprises/mine").await.expect("mine");
    assert!(mine.is_empty());

    // A new request may be made, and its amount is free again for others.
    let mp2: Micropayment = a
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(121), "777888", "a2"),
        )
        .await
        .expect("again");
    assert_eq!(mp2.status, MicropaymentStatus::Pending);

    // A transfer booked in time but imported late still matches (the window is the
    // booking time), as long as it is the request's own.
    let booked = mp2.created_at + 60;
    server.running.state.clock.advance(49 * 3600);
    let out = outcomes(
        send_webhook(
            &server,
            &body(vec![credit(
                NAME,
                "E-2",
                "777888",
                mp2.amount_fen,
                Some(&mp2.reference),
                booked,
            )]),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(out, vec![LineOutcome::Matched]);
}

async fn csv_import_all_or_nothing(store: Store) {
    let server = TestServer::start(store).await;
    let a = person(&server, "13800000131", "张三", 131).await;
    let mp: Micropayment = a
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(131), "445566", "a1"),
        )
        .await
        .expect("requested");
    let yuan = format!("0.{:02}", mp.amount_fen);
    let header = bidkey_server::bank::CSV_HEADER;

    // Bad lines are all reported, and nothing of the file is imported.
    let bad = format!(
        "{header}\n\
         C-1,2026-03-01 10:15:00,6222020200001445566,\"某某, 有限公司\",{yuan},{}\n\
         C-2,yesterday,6222020200001445566,,0.10,\n\
         C-3,1772323200,6222,,0.10,\n\
         C-4,1772323200,6222020200001445566,,0.101,\n\
         C-1,1772323200,6222020200001445566,,0.10,\n",
        mp.reference
    );
    let db = server.running.state.db.clone();
    let now = server.running.state.clock.now();
    let errors = bidkey_server::bank::import(&db, now, &bad)
        .await
        .expect_err("bad file");
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].starts_with("line 3:") && errors[0].contains("booked_at"));
    assert!(errors[1].starts_with("line 4:") && errors[1].contains("payer_account"));
    assert!(errors[2].starts_with("line 5:") && errors[2].contains("amount"));
    assert!(errors[3].starts_with("line 6:") && errors[3].contains("twice"));
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM bank_statement_lines").await,
        0
    );
    let err = bidkey_server::bank::import(&db, now, "txn,when,amount\n")
        .await
        .expect_err("bad header");
    assert!(err[0].contains("header"));

    // A good file (with a BOM and CRLF, as Excel writes): matched and unmatched lines.
    let good = format!(
        "\u{feff}{header}\r\nC-1,{now},6222020200001445566,\"{NAME}\",{yuan},{}\r\nC-2,{now},6222020200001999999,,1.00,\r\n",
        mp.reference
    );
    let s = bidkey_server::bank::import(&db, now, &good)
        .await
        .expect("imported");
    assert_eq!((s.matched, s.unmatched, s.duplicate), (1, 1, 0));
    assert_eq!(
        poll(&a, &mp.id).await.expect("poll").role,
        Some(Role::Admin)
    );
    let s = bidkey_server::bank::import(&db, now, &good)
        .await
        .expect("again");
    assert_eq!((s.matched, s.unmatched, s.duplicate), (0, 0, 2));
    let id = mp.id.clone();
    let line_of: Option<String> = server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query_opt(
                "SELECT micropayment_id FROM bank_statement_lines WHERE bank_txn_id = 'C-1'",
                &[],
            )?
            .expect("row")
            .opt_text(0)
            .map(|v| v.filter(|x| *x == id))
        })
        .await
        .expect("line");
    assert!(line_of.is_some());

    // The operator command, against the same SQLite file the server uses.
    if store == Store::Sqlite {
        let dir = server.data_dir.path();
        let file = dir.join("statement.csv");
        std::fs::write(&file, format!("{header}\nC-9,{now},123456,,0.50,\n")).expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bidkey-server"))
            .arg("--data-dir")
            .arg(dir)
            .arg("bank-import")
            .arg(&file)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("0 matched, 1 unmatched"));
        std::fs::write(&file, format!("{header}\nC-10,later,123456,,0.50,\n")).expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bidkey-server"))
            .arg("--data-dir")
            .arg(dir)
            .arg("bank-import")
            .arg(&file)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("nothing imported") && err.contains("line 2"),
            "{err}"
        );
        assert_eq!(
            count(&server, "SELECT COUNT(*) FROM bank_statement_lines").await,
            3
        );
    }
}

/// The attack the name check stops: someone who controls another account with the same last
/// six digits (a person's card, another company) pays the exact amount with the reference.
async fn only_the_enterprise_itself_can_pay(store: Store) {
    let server = TestServer::start(store).await;
    let a = person(&server, "13800000151", "张三", 151).await;
    let mp: Micropayment = a
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(151), "778899", "n1"),
        )
        .await
        .expect("requested");
    let now = server.running.state.clock.now();
    let mut nameless = credit(
        NAME,
        "N-4",
        "778899",
        mp.amount_fen,
        Some(&mp.reference),
        now,
    );
    nameless["payer_name"] = serde_json::Value::Null;
    let lines = vec![
        credit(
            "张三",
            "N-1",
            "778899",
            mp.amount_fen,
            Some(&mp.reference),
            now,
        ),
        // A different legal form is a different enterprise.
        credit(
            "宿迁打款测试有限责任公司",
            "N-2",
            "778899",
            mp.amount_fen,
            Some(&mp.reference),
            now,
        ),
        credit("", "N-3", "778899", mp.amount_fen, Some(&mp.reference), now),
        nameless,
    ];
    let out = outcomes(send_webhook(&server, &body(lines), None, None).await).await;
    assert_eq!(out, vec![LineOutcome::Unmatched; 4]);
    assert_eq!(
        poll(&a, &mp.id).await.expect("poll").status,
        MicropaymentStatus::Pending
    );
    // The enterprise's own transfer, its name printed with an ideographic space and a
    // full-width letter-case difference the bank's system added, matches.
    let out = outcomes(
        send_webhook(
            &server,
            &body(vec![credit(
                "宿迁打款\u{3000}测试 有限公司",
                "N-5",
                "778899",
                mp.amount_fen,
                Some(&mp.reference),
                now,
            )]),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(out, vec![LineOutcome::Matched]);
}

/// A bank's own export: GBK, its headings, extra columns and debit rows, read through the
/// operator's column map in the configuration file by `bidkey-server bank-import`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gbk_statement_through_the_operator_command() {
    let server = TestServer::start(Store::Sqlite).await;
    let a = person(&server, "13800000161", "张三", 161).await;
    let mp: Micropayment = a
        .post(
            "/v1/enterprises/micropayments",
            &req(&uscc(161), "556677", "g1"),
        )
        .await
        .expect("requested");
    let dir = server.data_dir.path();
    let config = dir.join("bidkey.toml");
    std::fs::write(
        &config,
        "[bank]\nencoding = \"gbk\"\n\n[bank.columns]\nbank_txn_id = \"交易流水号\"\nbooked_at = \"交易时间\"\npayer_account = \"对方账号\"\npayer_name = \"对方户名\"\namount = \"贷方发生额\"\nreference = \"附言\"\n",
    )
    .expect("config");
    let booked = chrono_free_beijing(server.running.state.clock.now());
    let text = format!(
        "交易时间,交易流水号,对方账号,对方户名,借方发生额,贷方发生额,附言,余额\r\n\
         {booked},G-1,6222 0202 0000 1556 677,{NAME},,0.{:02},对公打款 {},\"10,000.00\"\r\n\
         {booked},G-2,6222020200009999999,某某物业,\"1,200.00\",,房租,\"8,800.00\"\r\n",
        mp.amount_fen, mp.reference
    );
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
    let file = dir.join("statement-gbk.csv");
    std::fs::write(&file, &gbk).expect("write");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bidkey-server"))
            .arg("--data-dir")
            .arg(dir)
            .arg("--config")
            .arg(&config)
            .arg("bank-import")
            .arg(&file)
            .args(extra)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Forced to UTF-8 on the command line, the file is refused and nothing imported.
    let (code, _, err) = run(&["--encoding", "utf-8"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not UTF-8"), "{err}");
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 matched, 0 unmatched"), "{out}");
    let done = poll(&a, &mp.id).await.expect("poll");
    assert_eq!(done.status, MicropaymentStatus::Matched);
    assert_eq!(done.role, Some(Role::Admin));
}

/// `YYYY-MM-DD HH:MM:SS` in Beijing time for Unix seconds.
fn chrono_free_beijing(unix: i64) -> String {
    let t = unix + 8 * 3600;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
