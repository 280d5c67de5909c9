//! The Java client (`clients/java/`, JDK only) against this gateway, a real Bidkey server and
//! the bidder's phone driven through the core: compiled with `javac`, its test `main` run
//! with `java`. When it prints `SCAN <qr>`, the phone here scans and confirms. QR login, a
//! sealed PDF, a bid file encrypted and opened at the opening, the opening hall, typed
//! exceptions.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};

fn java_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("sources") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            java_sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "java") {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_java_client_logs_in_seals_a_pdf_and_opens_a_bid_file() {
    if std::process::Command::new("javac")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!(
            "\n\n!!!!! SKIPPED: javac (JDK 17) is not installed, so the Java client test did not \
             run. CI installs it (.ci/run: default-jdk-headless). !!!!!\n"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/java/src");
    let mut sources = Vec::new();
    java_sources(&root, &mut sources);
    assert!(sources.len() >= 7, "{sources:?}");
    let classes = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new("javac")
        .args(["-Xlint:all", "-Werror", "-encoding", "UTF-8", "-d"])
        .arg(classes.path())
        .args(&sources)
        .output()
        .expect("javac runs");
    assert!(
        out.status.success(),
        "javac: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("java-erp").expect("key");
    let work = tempfile::tempdir().expect("work");
    let pdf = work.path().join("bid.pdf");
    std::fs::write(
        &pdf,
        bidkey_platform::pdf::fixture::bid_pdf("投标文件", 1, false),
    )
    .expect("pdf");
    let png_bytes = bidkey_platform::pdf::fixture::seal_png(180);
    let png = work.path().join("seal.png");
    std::fs::write(&png, &png_bytes).expect("png");
    let seal = w
        .admin
        .add_seal(&w.team.enterprise_id, "投标专用章", png_bytes, PIN)
        .await
        .expect("seal");

    let mut child = tokio::process::Command::new("java")
        .arg("-cp")
        .arg(classes.path())
        .arg("bidkey.gateway.GatewayClientTest")
        .arg(gw.url())
        .arg(&*key.token)
        .arg(USCC)
        .arg(&pdf)
        .arg(&png)
        .arg(&seal.id)
        .arg((w.now() - 60).to_string())
        .arg(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("java runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut log = Vec::new();
    let mut scans = 0;
    let run = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if let Some(uri) = line.strip_prefix("SCAN ") {
                let view = w
                    .staff
                    .scan(uri)
                    .await
                    .expect("the phone scans the Java-shown QR");
                w.staff
                    .confirm_scan(&view.request_id, PIN)
                    .await
                    .expect("confirmed");
                scans += 1;
            }
            log.push(line);
        }
        child.wait().await.expect("java exits")
    };
    // A guard against a hung JVM; the outcome is judged on what it printed.
    let status = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the Java test ends");
    let log = log.join("\n");
    assert!(status.success(), "the Java test failed:\n{log}");
    assert_eq!(log.lines().last(), Some("PASS"), "{log}");
    assert_eq!(scans, 3, "login, sealed PDF, opening:\n{log}");
    gw.stop().await;
}
