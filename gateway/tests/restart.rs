//! A gateway restart loses nothing: killed while a scan waits for the phone, the next
//! process resumes it from its store (secrets sealed there) and verifies the reply; killed
//! while a webhook is being delivered, the next process delivers it again under the same
//! delivery id, so the receiver processes it once.

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bidkey_gateway::webhook;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tokio::sync::{mpsc, oneshot};

/// One webhook request as it arrived.
#[derive(Debug, Clone)]
struct Arrival {
    id: String,
    timestamp: i64,
    signature: String,
    body: Vec<u8>,
}

struct Receiver {
    arrivals: mpsc::UnboundedSender<Arrival>,
    /// The first request is held (never answered) until this fires or is dropped.
    hold_first: Mutex<Option<oneshot::Receiver<()>>>,
    /// Delivery ids processed (answered 2xx), deduplicated as a receiver must.
    processed: Mutex<Vec<String>>,
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let arrival = Arrival {
        id: h(webhook::DELIVERY_HEADER),
        timestamp: h(webhook::TIMESTAMP_HEADER).parse().unwrap_or(0),
        signature: h(webhook::SIGNATURE_HEADER),
        body: body.to_vec(),
    };
    let _ = r.arrivals.send(arrival.clone());
    let held = r.hold_first.lock().expect("lock").take();
    if let Some(rx) = held {
        let _ = rx.await;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let mut seen = r.processed.lock().expect("lock");
    if !seen.contains(&arrival.id) {
        seen.push(arrival.id);
    }
    StatusCode::NO_CONTENT
}

async fn arrival(rx: &mut mpsc::UnboundedReceiver<Arrival>) -> Arrival {
    tokio::time::timeout(Duration::from_secs(120), rx.recv())
        .await
        .expect("a webhook arrives")
        .expect("receiver running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_scan_and_mid_webhook_the_gateway_completes_both_once() {
    let doc = support::schema::doc();
    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");

    // The platform's webhook receiver.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (release, hold) = oneshot::channel();
    let receiver = Arc::new(Receiver {
        arrivals: tx,
        hold_first: Mutex::new(Some(hold)),
        processed: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    let hook_server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // A scan is made; the gateway is killed before the phone scans.
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&gw.url(), &key.token);
    let (status, created) = api
        .json(
            Method::POST,
            "/v1/scans",
            Some(&json!({"action": {"kind": "login", "uscc": USCC}, "webhook_url": hook_url})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let (_, qr) = api
        .json(Method::GET, &format!("/v1/scans/{id}/qr"), None)
        .await;
    let uri = qr["uri"].as_str().expect("uri").to_owned();
    gw.stop().await;

    // The bidder scans and confirms while no gateway runs; the relay keeps the reply.
    let view = w.staff.scan(&uri).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");

    // A new process on the same store resumes the scan and verifies the reply.
    let gw = w.gateway(dir.path()).await;
    let api = Api::new(&gw.url(), &key.token);
    let done = loop {
        let (status, v) = api
            .json(Method::GET, &format!("/v1/scans/{id}?wait=30"), None)
            .await;
        assert_eq!(status, 200, "{v}");
        if v["status"] != "pending" && v["status"] != "scanned" {
            break v;
        }
    };
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["result"]["signer"]["uscc"], USCC);

    // The webhook's first attempt is held by the receiver; the gateway is killed mid-delivery.
    let first = arrival(&mut rx).await;
    assert_eq!(first.id, format!("{id}-1"));
    gw.stop().await;
    drop(release);
    assert!(receiver.processed.lock().expect("lock").is_empty());

    // The next process delivers it again, under the same id, and records the success.
    let gw = w.gateway(dir.path()).await;
    let second = arrival(&mut rx).await;
    assert_eq!(second.id, first.id, "one delivery id across retries");
    let secret = key.webhook_secret.as_bytes();
    for a in [&first, &second] {
        assert!(
            webhook::verify(
                secret,
                a.timestamp,
                &a.id,
                &a.body,
                &a.signature,
                a.timestamp,
                300
            ),
            "signed with the app's webhook secret"
        );
        let body: Value = serde_json::from_slice(&a.body).expect("JSON");
        support::schema::conforms(&doc, "ScanView", &body);
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["status"], "approved");
    }
    // Signed with another secret, or the body changed: refused by the receiver's check.
    assert!(!webhook::verify(
        b"another",
        second.timestamp,
        &second.id,
        &second.body,
        &second.signature,
        second.timestamp,
        300
    ));
    let delivered = loop {
        let state = gw
            .gateway
            .store
            .delivery_state(&id)
            .expect("state")
            .expect("queued");
        if state.2 {
            break state;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delivered.0, first.id);
    assert_eq!(
        *receiver.processed.lock().expect("lock"),
        vec![first.id.clone()]
    );
    gw.stop().await;
    // No third attempt was queued after the success.
    assert!(rx.try_recv().is_err());
    hook_server.abort();
}
