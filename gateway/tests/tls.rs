//! The gateway over TLS: a certificate made with the `openssl` command (CI installs it), the
//! client trusting only that certificate. `/healthz` and an authenticated call answer over
//! HTTPS; plain HTTP to the TLS port gets no answer.

mod support;

use std::process::Command;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "2",
        ])
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=digitalSignature",
        ])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    let Ok(made) = made else {
        eprintln!("\n\n!!!!! SKIPPED: the openssl command is missing; CI installs it. !!!!!\n");
        return;
    };
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let cert_pem = std::fs::read_to_string(&cert).expect("cert");
    let w = world().await;
    let store = tempfile::tempdir().expect("dir");
    let gw = w
        .gateway_with(store.path(), |c| {
            c.tls = Some(bidkey_gateway::tls::TlsFiles {
                cert_chain_pem: cert_pem.clone(),
                key_pem: zeroize::Zeroizing::new(std::fs::read_to_string(&key).expect("key")),
            });
        })
        .await;
    assert!(gw.url().starts_with("https://127.0.0.1:"), "{}", gw.url());
    let api_key = gw.gateway.store.create_api_key("erp").expect("key");
    let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("pem");
    let tls = reqwest::Client::builder()
        .tls_certs_only([root])
        .build()
        .expect("client");
    let health = tls
        .get(format!("{}/healthz", gw.url()))
        .send()
        .await
        .expect("HTTPS answers");
    assert_eq!(health.status().as_u16(), 200);
    let scan = tls
        .get(format!(
            "{}/v1/scans/0123456789abcdef0123456789abcdef",
            gw.url()
        ))
        .bearer_auth(&*api_key.token)
        .send()
        .await
        .expect("HTTPS answers");
    assert_eq!(scan.status().as_u16(), 404);
    // A client that does not trust the certificate refuses the connection.
    let untrusting = reqwest::Client::builder().build().expect("client");
    assert!(
        untrusting
            .get(format!("{}/healthz", gw.url()))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = format!("http://{}/healthz", gw.addr);
    let r = reqwest::Client::new().get(plain).send().await;
    assert!(r.is_err() || !r.expect("answer").status().is_success());
    gw.stop().await;
}
