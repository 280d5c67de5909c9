//! Several gateway nodes serving one platform over one PostgreSQL store (ADR 0029): a scan
//! made on node A is read, finished, on node B; its webhook is delivered once although both
//! nodes run the webhook worker; an API key made through one node works on the other; a
//! node whose `store.key` differs from the store's refuses to start; and a delivery claimed
//! by one node is not handed to another.

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bidkey_gateway::store::{Delivery, Store, StoreLocation};
use bidkey_gateway::webhook;
use reqwest::Method;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::sync::mpsc;

async fn fresh_pg() -> StoreLocation {
    let url = tokio::task::spawn_blocking(bidkey_testkit::pg::fresh_database)
        .await
        .expect("database");
    StoreLocation::Postgres(url)
}

fn copy_key(from: &Path, to: &Path) {
    std::fs::copy(from.join("store.key"), to.join("store.key")).expect("copy store.key");
}

async fn hook(
    State(tx): State<Arc<mpsc::UnboundedSender<String>>>,
    headers: HeaderMap,
) -> StatusCode {
    let id = headers
        .get(webhook::DELIVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let _ = tx.send(id);
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_made_on_one_node_is_read_and_delivered_once_through_the_other() {
    let w = world().await;
    let store = fresh_pg().await;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );

    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(Arc::new(tx));
    let hook_server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Node A makes the store key; node B holds a copy of it, as the deployment docs say.
    let a = w
        .gateway_with(dir_a.path(), |c| c.store = store.clone())
        .await;
    copy_key(dir_a.path(), dir_b.path());
    let b = w
        .gateway_with(dir_b.path(), |c| c.store = store.clone())
        .await;
    assert!(a.gateway.store.is_shared() && b.gateway.store.is_shared());
    assert!(!dir_a.path().join("gateway.sqlite3").exists());

    // A key made through node A authenticates on node B.
    let key = a.gateway.store.create_api_key("erp").expect("key");
    let on_a = Api::new(&a.url(), &key.token);
    let on_b = Api::new(&b.url(), &key.token);
    let (status, created) = on_a
        .json(
            Method::POST,
            "/v1/scans",
            Some(&json!({"action": {"kind": "login", "uscc": USCC}, "webhook_url": hook_url})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    // Node B shows the QR of A's scan, and a pending status while the phone has not answered.
    let (status, qr) = on_b
        .json(Method::GET, &format!("/v1/scans/{id}/qr"), None)
        .await;
    assert_eq!(status, 200, "{qr}");
    let (status, v) = on_b
        .json(Method::GET, &format!("/v1/scans/{id}"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "pending");

    let view = w
        .staff
        .scan(qr["uri"].as_str().expect("uri"))
        .await
        .expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");

    // Node B's long-poll ends with the verified result node A stored.
    let done = loop {
        let (status, v) = on_b
            .json(Method::GET, &format!("/v1/scans/{id}?wait=30"), None)
            .await;
        assert_eq!(status, 200, "{v}");
        if v["status"] != "pending" && v["status"] != "scanned" {
            break v;
        }
    };
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["result"]["signer"]["uscc"], USCC);

    // The webhook arrives, and is recorded delivered after one attempt.
    let first = tokio::time::timeout(Duration::from_secs(120), rx.recv())
        .await
        .expect("a webhook arrives")
        .expect("receiver");
    assert_eq!(first, format!("{id}-1"));
    let state = loop {
        let s = b
            .gateway
            .store
            .delivery_state(&id)
            .expect("state")
            .expect("queued");
        if s.2 {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(state.1, 1, "one attempt across both nodes");
    a.stop().await;
    b.stop().await;
    // Neither node posted it a second time.
    assert!(rx.try_recv().is_err(), "delivered once");
    hook_server.abort();

    // A node with another store key refuses to start on this store.
    let dir_c = tempfile::tempdir().expect("dir");
    let other = Store::open_at(dir_c.path(), &store);
    assert!(other.is_err(), "a foreign store.key is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_delivery_is_not_handed_to_another_node() {
    let store = fresh_pg().await;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = Store::open_at(dir_a.path(), &store).expect("node A");
    copy_key(dir_a.path(), dir_b.path());
    let b = Store::open_at(dir_b.path(), &store).expect("node B");
    a.insert_scan("s1", "erp", "login", b"pending", None, Some("https://x"), 9)
        .expect("insert");
    let d = Delivery {
        id: "s1-1".into(),
        scan_id: "s1".into(),
        app: "erp".into(),
        url: "https://x".into(),
        body: b"{}".to_vec(),
        attempts: 0,
    };
    // Both nodes finish the scan; only the first finish counts and one delivery is queued.
    assert!(a.finish_scan("s1", b"r1", Some(&d)).expect("finish"));
    assert!(!b.finish_scan("s1", b"r2", Some(&d)).expect("finish again"));
    assert_eq!(
        b.scan("erp", "s1")
            .expect("read")
            .expect("row")
            .result
            .as_deref()
            .map(Vec::as_slice),
        Some(&b"r1"[..])
    );
    let now = bidkey_gateway::store::unix_ms() + 1_000;
    let claimed = a.due_deliveries(now, 10, 60_000).expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].body, b"{}");
    // While A holds the lease, B gets nothing; after it ends (A died), B takes it again.
    assert!(b.due_deliveries(now, 10, 60_000).expect("claim").is_empty());
    let later = b.due_deliveries(now + 61_000, 10, 60_000).expect("claim");
    assert_eq!(later.len(), 1);
    b.delivered("s1-1").expect("delivered");
    assert!(
        a.due_deliveries(now + 1_000_000, 10, 60_000)
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        a.delivery_state("s1").expect("state"),
        Some(("s1-1".to_owned(), 1, true))
    );
}
