//! `gateway-bench`: what the gateway costs (issue 16's benchmark; not a test).
//!
//! 1. Scans created and verified per second, login by QR end to end (the phone, driven
//!    through the core, scans and confirms), through the Rust SDK directly and through the
//!    gateway over HTTP: the difference is the gateway's overhead.
//! 2. The result endpoint under load: N concurrent long-polls (`?wait=30`) held open on
//!    pending scans, while one client reads an answered scan's result over and over; the
//!    latencies of those reads (p50, p99).
//!
//! `cargo run --release -p bidkey-bench --bin gateway-bench [-- --quick]`

use bidkey_crypto::scan::PlatformKey;
use bidkey_gateway::GatewayConfig;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PlatformIdentity, ScanClient, ScanResult};
use bidkey_platform::verify::{TrustAnchor, Verifier};
use bidkey_protocol::scan::{DEFAULT_TTL_SECS, ScanAction};
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use std::time::{Duration, Instant};

const USCC: &str = "91500000MA5U8XGQ8Q";
const ORIGIN: &str = "https://ggzy.cq.example.invalid";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // The server allows 20 PIN confirmations a minute per certificate pair (a person's
    // limit), and one phone confirms both runs: 8 each stays under it.
    let scans = 8;
    let polls = if quick { 100 } else { 1000 };

    let server = TestServer::start_with(Store::Sqlite, |c| {
        c.limits.relay_requests_per_platform_per_minute = 1_000_000;
    })
    .await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let admin = phone_at(&server, dirs[0].path());
    let staff = phone_at(&server, dirs[1].path());
    registered(
        &server,
        &admin,
        "13900000001",
        &identity("张三", &id_number(1)),
    )
    .await;
    registered(
        &server,
        &staff,
        "13900000002",
        &identity("李四", &id_number(2)),
    )
    .await;
    let team = enterprise_team(&server, &admin, &staff, USCC, "重庆比德科技有限公司").await;
    let platform = registered_platform(&server, "重庆市公共资源交易中心", ORIGIN).await;
    let staff_id = staff.account().expect("wallet").expect("in").id;
    admin
        .add_grant(&team.enterprise_id, &staff_id, &platform.platform.id, PIN)
        .await
        .expect("granted");
    let identity = || PlatformIdentity {
        platform_id: platform.platform.id.clone(),
        origin: ORIGIN.into(),
        cert_der: platform.cert_der.clone(),
        key: PlatformKey::Sm2(platform.key_copy()),
    };

    // ---- 1a. the SDK directly ----
    let api = PlatformClient::new(&server.url(), None, Duration::from_secs(60)).expect("client");
    let client = ScanClient::new(&api, identity());
    let anchor = TrustAnchor::fetch(&api, None).await.expect("anchor");
    let verifier = ReplyVerifier::new(
        api.clone()
            .signed_by(client.request_key())
            .with_clock(server.unix_clock()),
        Verifier::new(anchor),
        &platform.platform.id,
    );
    let t = Instant::now();
    for _ in 0..scans {
        let req = client
            .create(
                ScanAction::Login {
                    uscc: Some(USCC.into()),
                },
                DEFAULT_TTL_SECS,
            )
            .await
            .expect("created");
        let view = staff.scan(&req.current_qr_uri()).await.expect("scanned");
        staff
            .confirm_scan(&view.request_id, PIN)
            .await
            .expect("confirmed");
        let ScanResult::Approved(reply) = client.wait(&req).await.expect("reply") else {
            panic!("approved expected");
        };
        verifier
            .check_reply(&req.body, &reply)
            .await
            .expect("verified");
    }
    let sdk = t.elapsed();

    // ---- 1b. through the gateway ----
    let gdir = tempfile::tempdir().expect("dir");
    let mut config = GatewayConfig::new(gdir.path().to_path_buf(), &server.url(), identity());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.clock = Some(server.unix_clock());
    let gw = bidkey_gateway::start(config).await.expect("gateway");
    let key = gw.gateway.store.create_api_key("bench").expect("key");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2000)
        .build()
        .expect("client");
    let base = gw.url();
    let token = key.token.to_string();
    let create = |http: reqwest::Client| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let v: serde_json::Value = http
                .post(format!("{base}/v1/scans"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"action": {"kind": "login", "uscc": USCC}}))
                .send()
                .await
                .expect("create")
                .json()
                .await
                .expect("json");
            v["id"].as_str().expect("id").to_owned()
        }
    };
    let get = |http: reqwest::Client, path: String| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let v: serde_json::Value = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            v
        }
    };
    let t = Instant::now();
    let mut answered = String::new();
    for _ in 0..scans {
        let id = create(http.clone()).await;
        let qr = get(http.clone(), format!("/v1/scans/{id}/qr")).await;
        let view = staff
            .scan(qr["uri"].as_str().expect("uri"))
            .await
            .expect("scanned");
        staff
            .confirm_scan(&view.request_id, PIN)
            .await
            .expect("confirmed");
        loop {
            let v = get(http.clone(), format!("/v1/scans/{id}?wait=30")).await;
            if v["status"] == "approved" {
                break;
            }
            assert!(v["status"] == "pending" || v["status"] == "scanned", "{v}");
        }
        answered = id;
    }
    let via_gateway = t.elapsed();
    let rate = |d: Duration| scans as f64 / d.as_secs_f64();
    println!("login scans created, confirmed on the phone and verified ({scans} each):");
    println!("  SDK directly   {:8.2} scans/s", rate(sdk));
    println!("  via gateway    {:8.2} scans/s", rate(via_gateway));
    println!(
        "  gateway overhead per scan: {:.1} ms",
        (via_gateway.as_secs_f64() - sdk.as_secs_f64()) * 1000.0 / scans as f64
    );

    // ---- 2. the result endpoint under N concurrent long-polls ----
    // (The server's relay admits a limited number of requests per platform per minute;
    // these are made at its default limit's pace only in a long run, so it is raised here.)
    let mut ids = Vec::with_capacity(polls);
    for _ in 0..polls {
        ids.push(create(http.clone()).await);
    }
    let mut held = Vec::with_capacity(polls);
    for id in &ids {
        let f = get(http.clone(), format!("/v1/scans/{id}?wait=30"));
        held.push(tokio::spawn(f));
    }
    // Let the long-polls arrive before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut lat = Vec::with_capacity(500);
    for _ in 0..500 {
        let t = Instant::now();
        let v = get(http.clone(), format!("/v1/scans/{answered}")).await;
        lat.push(t.elapsed());
        assert_eq!(v["status"], "approved");
    }
    lat.sort();
    println!("result endpoint with {polls} long-polls held open (500 reads of an answered scan):");
    println!(
        "  p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        lat[lat.len() - 1].as_secs_f64() * 1000.0
    );
    for h in held {
        h.abort();
    }
    gw.stop().await;
}
