//! The demo trading platform in headless Chromium: a bidder logs in by QR, uploads and seals
//! a bid, and decrypts it in the bid-opening hall. The test reads each QR code from a
//! screenshot of the page, answers it with a phone (the core), and checks what the page
//! shows. With `BIDKEY_UPDATE_SCREENSHOTS=1` it refreshes `docs/screenshots/*.png`.

#[path = "browser/webdriver.rs"]
mod webdriver;

use bidkey_platform::demo::{self, DemoConfig, Tender};
use bidkey_protocol::scan::ScanKind;
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use webdriver::{Browser, read_qr};

const USCC: &str = "91500000MA5U8XGQ8Q";
const NAME: &str = "重庆比德科技有限公司";

fn keep_screenshot(name: &str, png: &[u8]) {
    if std::env::var_os("BIDKEY_UPDATE_SCREENSHOTS").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(name), png).expect("screenshot written");
    }
}

/// Click `button`, read the QR the page then shows, and answer it from `phone`.
async fn scan_from_page(
    browser: &Browser,
    phone: &bidkey_core::Bidkey,
    button: &str,
    kind: ScanKind,
) -> String {
    browser.click(button).await;
    browser
        .wait_attribute("#state", "data-state", &["waiting", "scanned"], 15)
        .await;
    // The image loads after the first poll; retry the screenshot until it decodes.
    let mut uri = None;
    for _ in 0..20 {
        let png = browser.element_png("#qr").await;
        if let Some(text) = read_qr(&png) {
            uri = Some(text);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let uri = uri.expect("a QR code on the page");
    let view = phone.scan(&uri).await.expect("phone scans the page's QR");
    assert_eq!(view.kind, kind);
    assert_eq!(browser.text("#code").await, view.verification_code);
    phone
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed on the phone");
    let state = browser
        .wait_attribute("#state", "data-state", &["done", "failed"], 30)
        .await;
    let message = browser.text("#state").await;
    assert_eq!(state, "done", "page says: {message}");
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bidder_logs_in_seals_and_opens_in_the_browser() {
    let server = TestServer::start(Store::Sqlite).await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
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
    let team = enterprise_team(&server, &admin, &staff, USCC, NAME).await;

    let (listener, origin) = demo::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bound");
    let http = reqwest::Client::new();
    let identity = demo::provision(
        &http,
        &server.operator_url(),
        &server.operator_token(),
        "重庆市公共资源交易中心",
        &origin,
    )
    .await
    .expect("platform provisioned");
    let platform_id = identity.platform_id.clone();
    let staff_id = staff.account().expect("wallet").expect("in").id;
    admin
        .add_grant(&team.enterprise_id, &staff_id, &platform_id, PIN)
        .await
        .expect("granted");
    // The admin is granted too: bids are encrypted to both.
    let admin_id = admin.account().expect("wallet").expect("in").id;
    admin
        .add_grant(&team.enterprise_id, &admin_id, &platform_id, PIN)
        .await
        .expect("granted");
    let running = demo::serve(
        listener,
        DemoConfig {
            bidkey_url: server.url(),
            identity,
            name: "重庆市公共资源交易中心".into(),
            tender: Tender {
                id: "CQ-2026-001".into(),
                name: "重庆市某道路改造工程施工".into(),
                opening_at: 0,
            },
            data_dir: dirs[2].path().to_path_buf(),
            clock: Some(server.unix_clock()),
        },
    )
    .await
    .expect("demo serves");

    let browser = Browser::start().await;
    browser.goto(&format!("{}/login", running.url)).await;
    let msg = scan_from_page(&browser, &staff, "#start", ScanKind::Login).await;
    assert!(msg.contains(NAME), "{msg}");
    keep_screenshot("demo-login.png", &browser.page_png().await);

    browser.goto(&format!("{}/", running.url)).await;
    assert!(browser.text("#who").await.contains(NAME));

    // The bidder encrypts before upload (issue 17): the platform accepts only that.
    let plain = dirs[2].path().join("投标文件.txt");
    std::fs::write(&plain, "投标报价：壹仟贰佰万元整\n".repeat(5000)).expect("bid file");
    let bid = dirs[2].path().join("投标文件.txt.bid");
    staff
        .encrypt_bid_file(
            &bidkey_core::flows::bids::BidTarget {
                enterprise_id: team.enterprise_id.clone(),
                platform_id: platform_id.clone(),
                tender_id: "CQ-2026-001".into(),
                file_name: "投标文件.txt".into(),
                threshold: None,
            },
            &plain,
            &bid,
        )
        .await
        .expect("encrypted by the bidder");
    browser.goto(&format!("{}/bid", running.url)).await;
    browser.send_keys("#file", &bid.to_string_lossy()).await;
    let msg = scan_from_page(&browser, &staff, "#upload", ScanKind::Sign).await;
    assert!(msg.contains("签章成功"), "{msg}");
    keep_screenshot("demo-bid.png", &browser.page_png().await);

    browser.goto(&format!("{}/opening", running.url)).await;
    let msg = scan_from_page(&browser, &staff, "button.open", ScanKind::Decrypt).await;
    assert!(msg.contains("解密成功"), "{msg}");
    // The hall reloads and lists the bid as opened.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        browser.goto(&format!("{}/opening", running.url)).await;
        if browser
            .text("tr[data-bid] td.status")
            .await
            .contains("已解密")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "hall never showed the bid opened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    keep_screenshot("demo-opening.png", &browser.page_png().await);

    // 预授权开标 of the same file, through the demo's API: refused in words before the
    // pre-authorised time by the server's clock, opened without the phone after it.
    let bids: serde_json::Value = http
        .get(format!("{}/api/bids", running.url))
        .send()
        .await
        .expect("bids")
        .json()
        .await
        .expect("json");
    let bid_id = bids[0]["id"].as_str().expect("bid id").to_owned();
    let clock = server.running.state.clock.clone();
    staff
        .preauthorize_opening(&bid, PIN, clock.now() + 120)
        .await
        .expect("pre-authorised");
    // The bidder's 预授权开标 page explains the wallet's step and shows the server's state;
    // the hall shows it too.
    browser.goto(&format!("{}/preauth", running.url)).await;
    let page = browser.text("main").await;
    assert!(page.contains("bid preauth --opening-at"), "{page}");
    let state = browser.text("tr[data-bid] td.preauth-state").await;
    assert!(state.contains("已预授权"), "{state}");
    browser.goto(&format!("{}/opening", running.url)).await;
    let state = browser.text("tr[data-bid] td.preauth-cell").await;
    assert!(state.contains("已预授权"), "{state}");
    let open = || async {
        http.post(format!(
            "{}/api/bids/{bid_id}/open-preauthorised",
            running.url
        ))
        .send()
        .await
        .expect("open")
        .json::<serde_json::Value>()
        .await
        .expect("json")
    };
    let early = open().await;
    assert_eq!(early["opened"], false, "{early}");
    assert!(
        early["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("尚未到开标时间")),
        "{early}"
    );
    assert!(
        early["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("not come yet")),
        "{early}"
    );
    clock.advance(120);
    let opened = open().await;
    assert_eq!(opened["opened"], true, "{opened}");
    browser.goto(&format!("{}/opening", running.url)).await;
    let status = browser.text("tr[data-bid] td.status").await;
    assert!(status.contains("预授权解密"), "{status}");
    let state = browser.text("tr[data-bid] td.preauth-cell").await;
    assert!(state.contains("释放给本平台"), "{state}");
    // Back to the platform's time (its scan requests expire by this machine's clock).
    clock.advance(-120);

    // A 2-of-2 bid: each recipient scans for their share; the second opens it.
    let shared = dirs[2].path().join("联合投标文件.txt.bid");
    staff
        .encrypt_bid_file(
            &bidkey_core::flows::bids::BidTarget {
                enterprise_id: team.enterprise_id.clone(),
                platform_id: platform_id.clone(),
                tender_id: "CQ-2026-001".into(),
                file_name: "联合投标文件.txt".into(),
                threshold: Some(2),
            },
            &plain,
            &shared,
        )
        .await
        .expect("encrypted 2-of-2");
    browser.goto(&format!("{}/bid", running.url)).await;
    browser.send_keys("#file", &shared.to_string_lossy()).await;
    let msg = scan_from_page(&browser, &staff, "#upload", ScanKind::Sign).await;
    assert!(msg.contains("签章成功"), "{msg}");
    browser.goto(&format!("{}/opening", running.url)).await;
    let share_button = |serial: &str| format!("button.open-share[onclick*=\"{serial}\"]");
    let msg = scan_from_page(
        &browser,
        &staff,
        &share_button(&team.staff_pair.encryption_serial),
        ScanKind::Decrypt,
    )
    .await;
    assert!(msg.contains("还需要 1 位"), "{msg}");
    browser.goto(&format!("{}/opening", running.url)).await;
    let msg = scan_from_page(
        &browser,
        &admin,
        &share_button(&team.admin_pair.encryption_serial),
        ScanKind::Decrypt,
    )
    .await;
    assert!(msg.contains("解密成功"), "{msg}");
    browser.goto(&format!("{}/opening", running.url)).await;
    let page = browser.text("table").await;
    assert!(page.contains("多人联合解密"), "{page}");
}
