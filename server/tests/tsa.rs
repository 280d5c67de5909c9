//! The time-stamp authority over real HTTP on loopback, checked by OpenSSL: `openssl ts
//! -query` makes the request, `/v1/tsa` answers, `openssl ts -reply -text` and `ts -verify`
//! accept the reply (P-256, SHA-256). SM3 requests are answered by the SM2 TSA and checked
//! here and by the independent SM2 checker (OpenSSL 3.0 cannot verify SM2 CMS).
//!
//! OpenSSL 3.0 checks SM2 certificate signatures with an empty distinguishing ID (ADR 0002),
//! so it cannot follow the SM2-signed chain above the P-256 TSA certificate in one go:
//! `ts -verify` takes the TSA certificate as its trust anchor (`-partial_chain`), and the chain
//! is checked link by link with `openssl verify -vfyopt distid:1234567812345678`.

use bidkey_crypto::cms::{HashAlgorithm, TimeStampRequest, TimeStampResponse, oids};
use bidkey_crypto::x509::{RequiredUsage, verify_chain_without_revocation};
use bidkey_server::tsa::TsaAlg;
use bidkey_testkit::{Store, TestServer};
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = openssl(dir, args);
    assert!(ok, "openssl {args:?} failed:\n{text}");
    text
}

async fn post(server: &TestServer, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/tsa", server.url()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST /v1/tsa")
}

async fn timestamp(server: &TestServer, req: &[u8]) -> Vec<u8> {
    let resp = post(server, "application/timestamp-query", req.to_vec()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/timestamp-reply")
    );
    resp.bytes().await.expect("body").to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_query_reply_and_verify_sqlite() {
    openssl_query_reply_and_verify(Store::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_query_reply_and_verify_postgres() {
    openssl_query_reply_and_verify(Store::Postgres).await
}

async fn openssl_query_reply_and_verify(store: Store) {
    let server = TestServer::start(store).await;
    let tsa = server.running.state.tsa.clone();
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let p256 = tsa.certificate(TsaAlg::P256);
    std::fs::write(d.join("tsa.pem"), p256.to_pem().expect("pem")).expect("write");
    std::fs::write(d.join("issuing.pem"), tsa.chain()[0].to_pem().expect("pem")).expect("w");
    std::fs::write(d.join("root.pem"), tsa.chain()[1].to_pem().expect("pem")).expect("w");
    std::fs::write(d.join("bid.bin"), "投标文件 bid".as_bytes()).expect("write");

    // SHA-256: the P-256 TSA.
    ok(
        d,
        &[
            "ts", "-query", "-data", "bid.bin", "-sha256", "-cert", "-out", "req.tsq",
        ],
    );
    let req_der = std::fs::read(d.join("req.tsq")).expect("read");
    let resp = timestamp(&server, &req_der).await;
    std::fs::write(d.join("resp.tsr"), &resp).expect("write");
    let text = ok(d, &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(text.contains("Status: Granted."), "{text}");
    assert!(
        text.contains(&format!("Policy OID: {}", oids::DEFAULT_TSA_POLICY)),
        "{text}"
    );
    assert!(text.contains("Hash Algorithm: sha256"), "{text}");
    let text = ok(
        d,
        &[
            "ts",
            "-verify",
            "-queryfile",
            "req.tsq",
            "-in",
            "resp.tsr",
            "-CAfile",
            "tsa.pem",
            "-partial_chain",
        ],
    );
    assert!(text.contains("Verification: OK"), "{text}");
    let text = ok(
        d,
        &[
            "ts",
            "-verify",
            "-data",
            "bid.bin",
            "-in",
            "resp.tsr",
            "-CAfile",
            "tsa.pem",
            "-partial_chain",
        ],
    );
    assert!(text.contains("Verification: OK"), "{text}");
    // Other data under the same reply: refused.
    std::fs::write(d.join("other.bin"), b"other").expect("write");
    let (accepted, text) = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-data",
            "other.bin",
            "-in",
            "resp.tsr",
            "-CAfile",
            "tsa.pem",
            "-partial_chain",
        ],
    );
    assert!(!accepted, "OpenSSL accepted other data: {text}");
    // The TSA certificate chains to the Bidkey root, link by link (SM2 signatures, standard
    // ID), and is a time-stamping certificate.
    let text = ok(
        d,
        &[
            "verify",
            "-vfyopt",
            "distid:1234567812345678",
            "-partial_chain",
            "-CAfile",
            "issuing.pem",
            "-purpose",
            "timestampsign",
            "tsa.pem",
        ],
    );
    assert!(text.contains("tsa.pem: OK"), "{text}");
    let text = ok(
        d,
        &[
            "verify",
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            "root.pem",
            "issuing.pem",
        ],
    );
    assert!(text.contains("issuing.pem: OK"), "{text}");

    // The same reply checked here: nonce echoed, certificate included, genTime and chain.
    let req = TimeStampRequest::from_der(&req_der).expect("request");
    let ts = TimeStampResponse::from_der(&resp)
        .expect("parse")
        .check(&req, &[])
        .expect("valid");
    assert_eq!(&ts.tsa_cert, p256);
    assert!(ts.cert_included);
    verify_chain_without_revocation(
        &ts.tsa_cert,
        &tsa.chain()[..1],
        &tsa.chain()[1..],
        ts.gen_time,
        RequiredUsage::Signing,
    )
    .expect("chain at genTime");

    // SM3: the SM2 TSA. OpenSSL prints the reply; the signature is checked here.
    ok(
        d,
        &[
            "ts", "-query", "-data", "bid.bin", "-sm3", "-cert", "-out", "sm3.tsq",
        ],
    );
    let sm3_req = std::fs::read(d.join("sm3.tsq")).expect("read");
    let sm3_resp = timestamp(&server, &sm3_req).await;
    std::fs::write(d.join("sm3.tsr"), &sm3_resp).expect("write");
    let text = ok(d, &["ts", "-reply", "-in", "sm3.tsr", "-text"]);
    assert!(
        text.contains("Status: Granted.") && text.contains("Hash Algorithm: sm3"),
        "{text}"
    );
    let req = TimeStampRequest::from_der(&sm3_req).expect("request");
    let ts2 = TimeStampResponse::from_der(&sm3_resp)
        .expect("parse")
        .check(&req, &[])
        .expect("valid");
    assert_eq!(&ts2.tsa_cert, tsa.certificate(TsaAlg::Sm2));
    assert_ne!(ts.serial, ts2.serial, "serial numbers are unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serials_clock_and_refusals() {
    // The operator's own policy (here under RFC 5612's documentation arc).
    let policy = der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.1.2.3");
    let server = TestServer::start_with(Store::Sqlite, |c| c.tsa_policy = policy).await;
    let req = TimeStampRequest::new(HashAlgorithm::Sha256, &[7u8; 32]).expect("req");
    let req_der = req.to_der().expect("der");
    let mut serials = Vec::new();
    for _ in 0..3 {
        let resp = timestamp(&server, &req_der).await;
        let ts = TimeStampResponse::from_der(&resp)
            .expect("parse")
            .check(&req, &[])
            .expect("valid");
        serials.push(u64::from_str_radix(&hex::encode(&ts.serial), 16).expect("serial"));
    }
    assert!(serials.windows(2).all(|w| w[1] > w[0]), "{serials:?}");

    // The configured policy is in the tokens; a request for another one is refused
    // (unacceptedPolicy, bit 15), one for this one is granted.
    let ts = TimeStampResponse::from_der(&timestamp(&server, &req_der).await)
        .expect("parse")
        .check(&req, &[])
        .expect("valid");
    assert_eq!(ts.policy, policy);
    let other = req.clone().with_policy(oids::DEFAULT_TSA_POLICY);
    let r = TimeStampResponse::from_der(&timestamp(&server, &other.to_der().expect("d")).await)
        .expect("parse");
    assert_eq!(
        (r.status, r.fail_info.as_deref()),
        (2, Some(&[0x00u8, 0x01][..]))
    );
    let same = req.clone().with_policy(policy);
    TimeStampResponse::from_der(&timestamp(&server, &same.to_der().expect("d")).await)
        .expect("parse")
        .check(&same, &[])
        .expect("granted under the requested policy");

    // genTime is the server's clock: moved ten days on, the timestamps follow.
    let before = server.running.state.clock.now();
    server.running.state.clock.advance(10 * 86_400);
    let ts = TimeStampResponse::from_der(&timestamp(&server, &req_der).await)
        .expect("parse")
        .check(&req, &[])
        .expect("valid");
    let generated = i64::try_from(ts.gen_time).expect("time");
    assert!(generated >= before + 10 * 86_400, "{generated} vs {before}");
    assert!(generated <= server.running.state.clock.now());

    // certReq false: no certificates in the token.
    let bare = req.clone().with_cert_req(false);
    let resp = timestamp(&server, &bare.to_der().expect("der")).await;
    let tsa = server.running.state.tsa.clone();
    let ts = TimeStampResponse::from_der(&resp)
        .expect("parse")
        .check(&bare, std::slice::from_ref(tsa.certificate(TsaAlg::P256)))
        .expect("valid");
    assert!(!ts.cert_included);

    // SHA-512: badAlg. Garbage: badDataFormat. Both are TimeStampResp rejections.
    let sha512 = TimeStampRequest::new(HashAlgorithm::Sha512, &[1u8; 64]).expect("req");
    let r = TimeStampResponse::from_der(&timestamp(&server, &sha512.to_der().expect("d")).await)
        .expect("parse");
    assert_eq!((r.status, r.fail_info.as_deref()), (2, Some(&[0x80u8][..])));
    assert!(r.token.is_none());
    let r = TimeStampResponse::from_der(&timestamp(&server, b"\x30\x03\x02\x01\x01").await)
        .expect("parse");
    assert_eq!((r.status, r.fail_info.as_deref()), (2, Some(&[0x04u8][..])));
    // Wrong content type and oversized bodies are HTTP errors.
    assert_eq!(
        post(&server, "application/json", req_der.clone())
            .await
            .status(),
        415
    );
    assert_eq!(
        post(&server, "application/timestamp-query", vec![0u8; 5000])
            .await
            .status(),
        413
    );

    // A restart on the same data: the same TSA keys, and serials go on from where they were
    // (four more were given after `last`: the policy checks, the clock, certReq false).
    let last = *serials.last().expect("serials");
    let tsa_cert = tsa.certificate(TsaAlg::P256).clone();
    let TestServer { running, data_dir } = server;
    running.stop().await;
    let mut config = bidkey_server::Config::local_sandbox(data_dir.path().to_path_buf());
    config.tsa_policy = policy;
    let again = bidkey_server::start(config).await.expect("restarted");
    assert_eq!(again.state.tsa.certificate(TsaAlg::P256), &tsa_cert);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/tsa", again.url()))
        .header("content-type", "application/timestamp-query")
        .body(req_der.clone())
        .send()
        .await
        .expect("POST")
        .bytes()
        .await
        .expect("body");
    let ts = TimeStampResponse::from_der(&resp)
        .expect("parse")
        .check(&req, &[])
        .expect("valid");
    let serial = u64::from_str_radix(&hex::encode(&ts.serial), 16).expect("serial");
    assert_eq!(serial, last + 5);
    again.stop().await;
}
