//! The input rules the API states, enforced: idempotency keys are 1..=100 printable ASCII
//! characters on every route that takes one, scoped to the account (another account's key
//! never answers), and one account holds a bounded number of open applications.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::PersonalApplicationRequest;
use bidkey_protocol::enterprises::{ClaimRequest, Material, MicropaymentRequest};
use bidkey_protocol::orders::Application;
use bidkey_server::applications::MAX_OPEN_PER_ACCOUNT;
use support::{Client, Store, TestServer, person, uscc};

on_both_stores!(
    idempotency_keys_are_checked_everywhere,
    two_accounts_may_use_the_same_key,
    open_applications_are_bounded,
);

/// Keys the API refuses: empty, one over the limit, control characters, a space, not ASCII,
/// and a megabyte.
fn bad_keys() -> Vec<String> {
    vec![
        String::new(),
        "k".repeat(101),
        "abc\0def".into(),
        "tab\there".into(),
        "with space".into(),
        "键".into(),
        "x".repeat(1024 * 1024),
    ]
}

fn personal(key: &str) -> PersonalApplicationRequest {
    PersonalApplicationRequest {
        idempotency_key: Some(key.into()),
    }
}

async fn idempotency_keys_are_checked_everywhere(store: Store) {
    let server = TestServer::start(store).await;
    let c = person(&server, "13800001001", "张三", 1).await;
    let material = Material {
        name: "licence.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.4\n%%EOF\n".to_vec(),
    };
    for key in bad_keys() {
        let shown = format!("{:?}", &key[..key.len().min(20)]);
        let err = c
            .post::<_, Application>("/v1/applications/personal", &personal(&key))
            .await
            .expect_err("bad key on a personal application");
        assert_eq!(
            (err.0, err.1.code),
            (400, ErrorCode::InvalidIdempotencyKey),
            "personal, {shown}"
        );
        let err = c
            .post::<_, serde_json::Value>(
                "/v1/enterprises/claims",
                &ClaimRequest {
                    uscc: uscc(1),
                    name: "宿迁演示建设有限公司".into(),
                    legal_rep: None,
                    materials: vec![material.clone()],
                    idempotency_key: key.clone(),
                },
            )
            .await
            .expect_err("bad key on a claim");
        assert_eq!(
            err.1.code,
            ErrorCode::InvalidIdempotencyKey,
            "claim, {shown}"
        );
        let err = c
            .post::<_, serde_json::Value>(
                "/v1/enterprises/micropayments",
                &MicropaymentRequest {
                    uscc: uscc(2),
                    name: "宿迁演示建设有限公司".into(),
                    account_last6: "123456".into(),
                    idempotency_key: key.clone(),
                },
            )
            .await
            .expect_err("bad key on a micro-payment");
        assert_eq!(
            err.1.code,
            ErrorCode::InvalidIdempotencyKey,
            "micropayment, {shown}"
        );
    }
    // Nothing was stored for any of them.
    let apps: Vec<Application> = c.get("/v1/applications").await.expect("list");
    assert!(apps.is_empty(), "{apps:?}");

    // The longest and the most varied good keys are taken, and answer again.
    for key in ["k".repeat(100), "!~{}[]:;\"'<>?/|\\`".to_owned()] {
        let a: Application = c
            .post("/v1/applications/personal", &personal(&key))
            .await
            .expect("good key");
        let b: Application = c
            .post("/v1/applications/personal", &personal(&key))
            .await
            .expect("same key again");
        assert_eq!(a.id, b.id);
    }
}

async fn two_accounts_may_use_the_same_key(store: Store) {
    let server = TestServer::start(store).await;
    let a = person(&server, "13800001002", "张三", 2).await;
    let b = person(&server, "13800001003", "李四", 3).await;
    let key = "3f2a9c1e-0000-4000-8000-000000000001";
    let first: Application = a
        .post("/v1/applications/personal", &personal(key))
        .await
        .expect("a applies");
    // Before, the key was looked up across all accounts and this answered `conflict`.
    let second: Application = b
        .post("/v1/applications/personal", &personal(key))
        .await
        .expect("b applies with the same key");
    assert_ne!(first.id, second.id);
    // Each account's retry answers its own application.
    let again: Application = b
        .post("/v1/applications/personal", &personal(key))
        .await
        .expect("b retries");
    assert_eq!(again.id, second.id);
    let again: Application = a
        .post("/v1/applications/personal", &personal(key))
        .await
        .expect("a retries");
    assert_eq!(again.id, first.id);
    // And neither sees the other's application.
    let listed: Vec<Application> = b.get("/v1/applications").await.expect("list");
    assert_eq!(
        listed.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str()]
    );
    let err = b
        .get::<Application>(&format!("/v1/applications/{}", first.id))
        .await
        .expect_err("another's application");
    assert_eq!(err.0, 404);
}

async fn open_applications_are_bounded(store: Store) {
    let server = TestServer::start(store).await;
    let c = person(&server, "13800001004", "张三", 4).await;
    let mut made = Vec::new();
    for i in 0..MAX_OPEN_PER_ACCOUNT {
        let app: Application = c
            .post("/v1/applications/personal", &personal(&format!("key-{i}")))
            .await
            .expect("within the bound");
        made.push(app.id);
    }
    let err = c
        .post::<_, Application>("/v1/applications/personal", &personal("one-too-many"))
        .await
        .expect_err("over the bound");
    assert_eq!(
        (err.0, err.1.code),
        (409, ErrorCode::TooManyOpenApplications)
    );
    // A retry of an application already made is not a new one: it still answers.
    let again: Application = c
        .post("/v1/applications/personal", &personal("key-0"))
        .await
        .expect("retry");
    assert_eq!(again.id, made[0]);
    // Another account is not held by this one's bound.
    let other: Client = person(&server, "13800001005", "李四", 5).await;
    let _: Application = other
        .post("/v1/applications/personal", &personal("one-too-many"))
        .await
        .expect("another account");
    // Once the RA rejects one, there is room again.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v1/operator/reviews/{}",
            server.operator_url(),
            made[0]
        ))
        .bearer_auth(server.operator_token())
        .json(&serde_json::json!({ "approve": false, "reason": "test" }))
        .send()
        .await
        .expect("review");
    assert!(resp.status().is_success(), "{}", resp.status());
    let _: Application = c
        .post("/v1/applications/personal", &personal("one-too-many"))
        .await
        .expect("room again");
}
