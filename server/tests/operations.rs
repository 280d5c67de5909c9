//! What an operator tunes and watches: the rate limits of a deployment and the latency of
//! every route (`GET /v1/operator/metrics`).

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
        .expect_err("wrong token");
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
