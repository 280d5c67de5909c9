//! The operator's routes on their own listener, with named tokens that expire (ADR 0020,
//! issue 13 §7, issue 18 §3), tried as an outsider on the public listener and as an
//! operator whose token ran out would.

mod support;

use bidkey_protocol::platforms::{NewPlatform, Platform};
use bidkey_protocol::{ErrorBody, ErrorCode};
use bidkey_server::operators;
use std::process::Command;
use support::{Client, Store, TestServer};

async fn mint(server: &TestServer, name: &'static str, valid: i64) -> String {
    let now = server.running.state.clock.now();
    server
        .running
        .state
        .db
        .write(move |tx| operators::mint(tx, now, name, valid, "test"))
        .await
        .expect("minted")
}

fn platform(n: u32) -> NewPlatform {
    NewPlatform {
        name: format!("测试交易平台{n}"),
        origin: format!("https://ggzy{n}.example.cn"),
        region: None,
        latitude: None,
        longitude: None,
    }
}

/// What the public listener answers for each operator path: a typed 404, as for any path
/// it does not have, even with a valid operator token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_answer_a_typed_404_on_the_public_listener() {
    let server = TestServer::start(Store::Sqlite).await;
    assert_ne!(server.url(), server.operator_url());
    assert!(server.running.operator_addr.ip().is_loopback());
    let token = server.operator_token();
    let http = reqwest::Client::new();
    let cases: [(reqwest::Method, &str); 7] = [
        (reqwest::Method::GET, "/v1/operator/reviews"),
        (reqwest::Method::POST, "/v1/operator/reviews/x"),
        (reqwest::Method::POST, "/v1/operator/platforms"),
        (reqwest::Method::PUT, "/v1/operator/platforms/x/directory"),
        (
            reqwest::Method::POST,
            "/v1/operator/platforms/x/certificate",
        ),
        (reqwest::Method::GET, "/v1/operator/metrics"),
        (reqwest::Method::GET, "/metrics"),
    ];
    for (method, path) in cases {
        let resp = http
            .request(method.clone(), format!("{}{path}", server.url()))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("answered");
        assert_eq!(resp.status(), 404, "{method} {path} on the public listener");
        let body: ErrorBody = resp.json().await.expect("typed");
        assert_eq!(body.code, ErrorCode::NotFound, "{path}");
    }
    // The same token on the operator listener is served.
    let op = Client::new(&server).with_token(&token);
    let _: Vec<serde_json::Value> = op.get("/v1/operator/reviews").await.expect("served");
    let scrape = http
        .get(format!("{}/metrics", server.operator_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("scrape");
    assert_eq!(scrape.status(), 200);
    // And the phones' routes are not on the operator listener.
    let resp = http
        .post(format!("{}/v1/sms/send", server.operator_url()))
        .json(&serde_json::json!({"phone": "13800138000", "purpose": "signup"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 404);
    // The probes answer on both (a load balancer and a monitor each have theirs).
    for base in [server.url(), server.operator_url()] {
        let r = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("ready");
        assert_eq!(r.status(), 200);
    }
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_named_expire_and_each_action_names_its_operator() {
    let server = TestServer::start(Store::Sqlite).await;
    let alice = mint(&server, "alice", 8 * 3600).await;
    let bob = mint(&server, "bob", 8 * 3600).await;
    let c = Client::new(&server);

    let made: Platform = c
        .with_token(&alice)
        .post("/v1/operator/platforms", &platform(1))
        .await
        .expect("alice registers a platform");
    let _: Platform = c
        .with_token(&bob)
        .post("/v1/operator/platforms", &platform(2))
        .await
        .expect("bob registers another");
    let id = made.id.clone();
    let actors = server
        .running
        .state
        .db
        .read(move |tx| {
            let rows = tx.query(
                "SELECT actor, target FROM audit_log WHERE action = 'platform.registered' ORDER BY at, id",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((r.text(0)?, r.opt_text(1)?)))
                .collect::<Result<Vec<_>, bidkey_server::db::DbError>>()
        })
        .await
        .expect("audit");
    assert!(
        actors.contains(&("operator:alice".to_owned(), Some(id))),
        "{actors:?}"
    );
    assert!(
        actors.iter().any(|(a, _)| a == "operator:bob"),
        "{actors:?}"
    );

    // An unknown token is refused; no token at all asks for one.
    let err = c
        .with_token("0123456789abcdef")
        .post::<_, Platform>("/v1/operator/platforms", &platform(3))
        .await
        .expect_err("unknown token");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::Forbidden));
    let err = c
        .get::<Vec<serde_json::Value>>("/v1/operator/reviews")
        .await
        .expect_err("no token");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    // A user's login token is not an operator token.
    let user = support::signed_up(&server, "13800138201").await;
    let err = user
        .get::<Vec<serde_json::Value>>("/v1/operator/reviews")
        .await
        .expect_err("a user");
    assert_eq!(err.1.code, ErrorCode::Forbidden);

    // Revoked: bob's token stops at once.
    let now = server.running.state.clock.now();
    server
        .running
        .state
        .db
        .write(move |tx| operators::revoke(tx, now, "bob", "test"))
        .await
        .expect("revoked");
    let err = c
        .with_token(&bob)
        .get::<Vec<serde_json::Value>>("/v1/operator/reviews")
        .await
        .expect_err("revoked");
    assert_eq!(err.1.code, ErrorCode::Forbidden);

    // The shift ends: eight hours later, by the server's clock, alice's token has expired.
    let op = c.with_token(&alice);
    let _: Vec<serde_json::Value> = op.get("/v1/operator/reviews").await.expect("in time");
    server.running.state.clock.advance(8 * 3600);
    let err = op
        .get::<Vec<serde_json::Value>>("/v1/operator/reviews")
        .await
        .expect_err("expired");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::TokenExpired));
    server.running.stop().await;
}

/// `bidkey-server operator token` prints a token once and stores only its hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_makes_a_named_token_and_stores_its_hash() {
    let server = TestServer::start(Store::Sqlite).await;
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bidkey-server"))
            .arg("--data-dir")
            .arg(server.data_dir.path())
            .args(args)
            .env_remove("BIDKEY_DATABASE_URL")
            .output()
            .expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, token, err) = run(&["operator", "token", "--name", "carol", "--valid", "2h"]);
    assert!(ok, "{err}");
    assert_eq!(token.len(), 64, "{token}");
    let hash = bidkey_server::util::hash_secret(&token);
    let stored = server
        .running
        .state
        .db
        .read(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT name, expires_at - created_at FROM operator_tokens WHERE token_hash = $1",
                    &bidkey_server::params![hash.as_str()],
                )?
                .expect("stored by hash");
            Ok::<_, bidkey_server::db::DbError>((r.text(0)?, r.i64(1)?))
        })
        .await
        .expect("row");
    assert_eq!(stored, ("carol".to_owned(), 2 * 3600));
    let _: Vec<serde_json::Value> = Client::new(&server)
        .with_token(&token)
        .get("/v1/operator/reviews")
        .await
        .expect("carol's token serves");
    for (args, words) in [
        (&["operator", "token", "--name", "a b"][..], "no spaces"),
        (
            &["operator", "token", "--name", "dave", "--valid", "1y"][..],
            "unit",
        ),
        (
            &["operator", "token", "--name", "dave", "--valid", "365d"][..],
            "90 days",
        ),
    ] {
        let (ok, _, err) = run(args);
        assert!(!ok, "{args:?}");
        assert!(err.contains(words), "{words}: {err}");
    }
    let (ok, out, err) = run(&["operator", "revoke", "--name", "carol"]);
    assert!(ok, "{err}");
    assert!(out.contains("revoked 1"), "{out}");
    server.running.stop().await;
}
