//! What an operator tunes and watches: the rate limits of a deployment, the latency of
//! every route (`GET /v1/operator/metrics`), the Prometheus scrape (`/metrics`), the probes
//! (`/healthz`, `/readyz`) and the request id every answer carries.

mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{SendSmsRequest, SendSmsResponse, SmsPurpose};
use bidkey_server::Limits;
use support::{Client, Store, TestServer};

fn send(phone: &str) -> SendSmsRequest {
    SendSmsRequest {
        phone: phone.into(),
        purpose: SmsPurpose::Signup,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_limit_per_address_is_the_operators() {
    let server = TestServer::start_with(Store::Sqlite, |c| {
        c.limits = Limits {
            sms_per_ip_per_hour: 2,
            ..Limits::default()
        };
    })
    .await;
    // The hourly limit is a fixed window of the server's clock: keep the three in one.
    server.running.state.clock.freeze();
    let c = Client::new(&server);
    for phone in ["13900000001", "13900000002"] {
        let _: SendSmsResponse = c.post("/v1/sms/send", &send(phone)).await.expect("sent");
    }
    let err = c
        .post::<_, SendSmsResponse>("/v1/sms/send", &send("13900000003"))
        .await
        .expect_err("third from one address");
    assert_eq!((err.0, err.1.code), (429, ErrorCode::TooManyRequests));
    assert!(err.1.retry_after.is_some_and(|s| s > 0 && s <= 3600));
    // The same wait in the header HTTP clients and proxies read.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sms/send", server.url()))
        .json(&send("13900000004"))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 429);
    let header: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    let body: bidkey_protocol::ErrorBody = resp.json().await.expect("body");
    assert_eq!(body.retry_after, Some(header));

    // The default allows more than two.
    let server = TestServer::start(Store::Sqlite).await;
    let c = Client::new(&server);
    for phone in ["13900000001", "13900000002", "13900000003"] {
        let _: SendSmsResponse = c.post("/v1/sms/send", &send(phone)).await.expect("sent");
    }
}

#[derive(Debug, serde::Deserialize)]
struct RouteLatency {
    route: String,
    count: u64,
    errors: u64,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    max_us: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_latency_is_for_the_operator() {
    let server = TestServer::start(Store::Sqlite).await;
    let c = Client::new(&server);
    for phone in ["13900000001", "13900000002", "13900000003"] {
        let _: SendSmsResponse = c.post("/v1/sms/send", &send(phone)).await.expect("sent");
    }
    let _ = c
        .post::<_, SendSmsResponse>("/v1/sms/send", &send("12345"))
        .await
        .expect_err("not a phone number");

    // Not for phones or platforms.
    let err = c
        .get::<Vec<RouteLatency>>("/v1/operator/metrics")
        .await
        .expect_err("no operator token");
    assert_eq!(err.1.code, ErrorCode::Unauthorized);
    let err = c
        .with_token("not-the-operator")
        .get::<Vec<RouteLatency>>("/v1/operator/metrics")
        .await
        .expect_err("unknown token");
    assert_eq!(err.1.code, ErrorCode::Forbidden);

    let op = c.with_token(&server.operator_token());
    let report: Vec<RouteLatency> = op.get("/v1/operator/metrics").await.expect("report");
    let sms = report
        .iter()
        .find(|r| r.route == "POST /v1/sms/send")
        .unwrap_or_else(|| panic!("{report:?}"));
    // Refused requests are timed too; only 5xx answers count as errors.
    assert_eq!((sms.count, sms.errors), (4, 0), "{sms:?}");
    assert!(sms.p50_us <= sms.p90_us && sms.p90_us <= sms.p99_us && sms.p99_us <= sms.max_us);
    assert!(sms.max_us > 0, "{sms:?}");
    // Routes are named by their pattern, not by the ids in a request.
    assert!(
        report.iter().all(|r| !r.route.contains("1390000")),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_a_token() {
    let server = TestServer::start(Store::Sqlite).await;
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    let resp = http
        .get(format!("{}/readyz", server.url()))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status(), 200);
    let ready: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["schema_version"],
        bidkey_server::db::schema_version_known()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_the_schema_is_not_this_servers() {
    let server = TestServer::start(Store::Sqlite).await;
    // Another (newer) server migrated the database further while this one runs.
    server
        .running
        .state
        .db
        .write(|tx| {
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)",
                &[],
            )
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("row");
    let resp = reqwest::get(format!("{}/readyz", server.url()))
        .await
        .expect("readyz");
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: bidkey_protocol::ErrorBody = resp.json().await.expect("typed");
    assert_eq!(body.code, ErrorCode::Unavailable);
    assert!(
        body.detail.as_deref().is_some_and(|d| d.contains("9999")),
        "{body:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_scrape_is_the_operators() {
    let server = TestServer::start(Store::Sqlite).await;
    let c = Client::new(&server);
    let _: SendSmsResponse = c
        .post("/v1/sms/send", &send("13900000001"))
        .await
        .expect("sent");
    let http = reqwest::Client::new();
    let anon = http
        .get(format!("{}/metrics", server.operator_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(anon.status(), 401);
    let resp = http
        .get(format!("{}/metrics", server.operator_url()))
        .bearer_auth(server.operator_token())
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = resp.text().await.expect("text");
    for needle in [
        r#"bidkey_http_requests_total{method="POST",route="/v1/sms/send",status="200"} 1"#,
        r#"bidkey_http_request_duration_seconds_count{method="POST",route="/v1/sms/send"} 1"#,
        r#"bidkey_db_pool_connections{state="size"} 4"#,
        "bidkey_relay_queue 0",
        "bidkey_relay_long_polls 0",
    ] {
        assert!(text.lines().any(|l| l == needle), "{needle}:\n{text}");
    }
    #[cfg(target_os = "linux")]
    assert!(text.contains("\nprocess_open_fds "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_and_errors_quote_it() {
    let server = TestServer::start_with(Store::Sqlite, |c| c.pool_size = 2).await;
    let http = reqwest::Client::new();
    // Made by the server when the client sends none: 128 bits, hex.
    let ok = http
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .expect("answered");
    let id = ok.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    // A proxy's plain id is kept, in the header and in the error body.
    let refused = http
        .post(format!("{}/v1/sms/send", server.url()))
        .header("x-request-id", "edge-42.abcdef")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()["x-request-id"], "edge-42.abcdef");
    let body: bidkey_protocol::ErrorBody = refused.json().await.expect("typed");
    assert_eq!(body.request_id.as_deref(), Some("edge-42.abcdef"));
    // One that could forge log lines is replaced.
    let forged = http
        .get(format!("{}/v1/nowhere", server.url()))
        .header("x-request-id", "a\"} {\"level\":\"ERROR")
        .send()
        .await
        .expect("answered");
    let replaced = forged.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(replaced.len(), 32);
    let body: bidkey_protocol::ErrorBody = forged.json().await.expect("typed");
    assert_eq!(body.code, ErrorCode::NotFound);
    assert_eq!(body.request_id, Some(replaced));
    // The pool is the size configured.
    assert_eq!(server.running.state.db.pool_use().size, 2);
}

/// Behind a reverse proxy the limits per address count the phones, not the proxy; and a
/// client talking to the server directly cannot pick its address with the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    let limited = |trusted: Vec<std::net::IpAddr>| {
        move |c: &mut bidkey_server::Config| {
            c.limits = Limits {
                sms_per_ip_per_hour: 1,
                ..Limits::default()
            };
            c.trusted_proxies = trusted;
        }
    };
    let http = reqwest::Client::new();
    let send_from = |base: String, phone: &'static str, client: &'static str| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/v1/sms/send"))
                .header("x-forwarded-for", client)
                .json(&send(phone))
                .send()
                .await
                .expect("answered")
                .status()
                .as_u16()
        }
    };
    // The test connects from 127.0.0.1: here that is the operator's proxy.
    let proxied = TestServer::start_with(
        Store::Sqlite,
        limited(vec!["127.0.0.1".parse().expect("ip")]),
    )
    .await;
    let base = proxied.url();
    assert_eq!(
        send_from(base.clone(), "13900000001", "203.0.113.5").await,
        200
    );
    assert_eq!(
        send_from(base.clone(), "13900000002", "203.0.113.6").await,
        200
    );
    assert_eq!(
        send_from(base.clone(), "13900000003", "203.0.113.5").await,
        429
    );
    // A hop the client wrote itself, left of the proxy's, changes nothing.
    assert_eq!(
        send_from(base, "13900000004", "198.51.100.1, 203.0.113.6").await,
        429
    );

    // Without trusted proxies the header is the client's own claim: ignored.
    let direct = TestServer::start_with(Store::Sqlite, limited(Vec::new())).await;
    let base = direct.url();
    assert_eq!(
        send_from(base.clone(), "13900000001", "203.0.113.5").await,
        200
    );
    assert_eq!(send_from(base, "13900000002", "203.0.113.6").await, 429);
}
