//! The QR code as Server-Sent Events: `qr` events each carrying the code's text now, one a
//! second; the phone scans a code read from the stream, and the stream ends with the
//! verified scan in a `finished` event. An unknown or finished scan is refused, typed.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::schema::{self, answer_conforms, conforms};
use support::*;

/// Reads one SSE event (name, data) at a time from a response body.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a comment or keep-alive
                }
                return Some((
                    name,
                    serde_json::from_str(&data).expect("event data is JSON"),
                ));
            }
            let chunk = self.resp.chunk().await.expect("stream")?;
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qr_streams_each_second_and_ends_with_the_result() {
    let doc = schema::doc();
    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&gw.url(), &key.token);
    let (status, created) = api
        .json(
            Method::POST,
            "/v1/scans",
            Some(&json!({"action": {"kind": "login", "uscc": USCC}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    let resp = api
        .req(Method::GET, &format!("/v1/scans/{id}/qr/stream"))
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let mut events = Events {
        resp,
        buf: String::new(),
    };
    let (n1, first) = events.next().await.expect("first event");
    let (n2, second) = events.next().await.expect("second event");
    for (name, e) in [(&n1, &first), (&n2, &second)] {
        assert_eq!(name, "qr", "{e}");
        conforms(&doc, "QrText", e);
        assert_eq!(e["verification_code"], created["verification_code"]);
    }
    assert!(second["t"].as_u64() >= first["t"].as_u64());

    // The phone scans the code the stream showed.
    let view = w
        .staff
        .scan(second["uri"].as_str().expect("uri"))
        .await
        .expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    let finished = loop {
        let (name, e) = events.next().await.expect("an event before the end");
        if name == "finished" {
            break e;
        }
        assert_eq!(name, "qr", "{e}");
    };
    conforms(&doc, "ScanView", &finished);
    assert_eq!(finished["status"], "approved", "{finished}");
    assert!(events.next().await.is_none(), "the stream ends");

    // A finished scan, and an unknown one, are refused before any stream.
    for (path, status, code) in [
        (format!("/v1/scans/{id}/qr/stream"), 409, "scan_finished"),
        ("/v1/scans/nope/qr/stream".to_owned(), 404, "not_found"),
    ] {
        let (s, v) = api.json(Method::GET, &path, None).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{v}");
        answer_conforms(&doc, "GET", "/v1/scans/{id}/qr/stream", status, &v);
    }
    gw.stop().await;
}
