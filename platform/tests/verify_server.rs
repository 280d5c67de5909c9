//! The SDK against a real server on loopback, with the certificate made by the core's real
//! enrolment: online verification (CRL, status, grant by serial) with each failure, and a
//! bid file whose key the phone unwraps by co-decryption.

mod phone;
mod support;

use bidkey_crypto::CertProblem;
use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::x509::Cert;
use bidkey_platform::PlatformError;
use bidkey_platform::bidfile::{self, BidFileHeader, EncryptOptions, FileKey};
use bidkey_platform::client::PlatformClient;
use bidkey_platform::verify::{Expected, SignedMessage, TrustAnchor, Verifier, fetch_crls};
use bidkey_testkit::phones::registered_platform;
use bidkey_testkit::{Store, TestServer};
use phone::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_online_and_open_a_bid_file_with_the_phone_sqlite() {
    verify_online_and_open_a_bid_file_with_the_phone(Store::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_online_and_open_a_bid_file_with_the_phone_postgres() {
    verify_online_and_open_a_bid_file_with_the_phone(Store::Postgres).await
}

async fn verify_online_and_open_a_bid_file_with_the_phone(store: Store) {
    let server = TestServer::start(store).await;
    let dir = tempfile::tempdir().expect("dir");
    let a = phone_at(&server, dir.path());
    let (eid, pair) = enterprise_holder(&server, &a).await;
    let p_reg = registered_platform(
        &server,
        "宿迁市公共资源交易中心",
        "https://ggzy.example.invalid",
    )
    .await;
    let q_reg = registered_platform(&server, "洋河e采", "https://yanghe.example.invalid").await;
    let (p, q) = (p_reg.platform.clone(), q_reg.platform.clone());
    let grant = a
        .add_grant(&eid, &account_id(&a), &p.id, PIN)
        .await
        .expect("granted");

    let unsigned =
        PlatformClient::new(&server.url(), None, Duration::from_secs(10)).expect("client");
    // The grant check is answered only to the platform it names, signed with its key.
    let signed_as = |r: &bidkey_testkit::phones::RegisteredPlatform| {
        unsigned
            .clone()
            .signed_by(Arc::new(PlatformKey::Sm2(r.key_copy())))
            .with_clock(server.unix_clock())
    };
    let client = signed_as(&p_reg);
    let q_client = signed_as(&q_reg);
    let anchor = TrustAnchor::fetch(&client, None).await.expect("chain");
    let fp = anchor.root().fingerprint_sha256();
    let pinned = TrustAnchor::fetch(&client, Some(&fp))
        .await
        .expect("same root");
    assert!(
        TrustAnchor::fetch(&client, Some(&[0u8; 32])).await.is_err(),
        "other fingerprint"
    );
    let verifier = Verifier::new(pinned);

    let message = "投标文件 ZB-2026-0042 的哈希由平台计算".as_bytes();
    let sig = a
        .sign_message(&pair.signing_serial, PIN, message)
        .await
        .expect("signed")
        .to_der();
    let cert = cert_der(&a, &pair.signing_serial);
    let signed = SignedMessage {
        cert_der: &cert,
        signature_der: &sig,
        message,
    };
    let now = || server.running.state.clock.now() as u64;
    let expected = Expected {
        uscc: Some(USCC.into()),
    };

    let v = verifier
        .verify_online(&client, &p.id, &signed, now(), &expected)
        .await
        .expect("verified");
    assert_eq!(v.uscc.as_deref(), Some(USCC));
    assert_eq!(v.serial, pair.signing_serial);
    assert_eq!(v.grant_id.as_deref(), Some(grant.id.as_str()));
    assert_eq!(v.common_name.as_deref(), Some(ENTERPRISE));
    // Without the platform's key the SDK cannot ask; with another platform's key the server
    // refuses (401) to tell platform p about its grants.
    assert!(matches!(
        verifier
            .verify_online(&unsigned, &p.id, &signed, now(), &expected)
            .await,
        Err(PlatformError::Config(_))
    ));
    assert!(matches!(
        verifier
            .verify_online(&q_client, &p.id, &signed, now(), &expected)
            .await,
        Err(PlatformError::Server(e)) if e.contains("Unauthorized")
    ));

    // The operator's tool, online: the same answer, and no grant on the other platform.
    let dir_cli = tempfile::tempdir().expect("dir");
    std::fs::write(dir_cli.path().join("cert.der"), &cert).expect("write");
    std::fs::write(dir_cli.path().join("sig.hex"), hex::encode(&sig)).expect("write");
    std::fs::write(dir_cli.path().join("bid.txt"), message).expect("write");
    for (name, r) in [("p.key", &p_reg), ("q.key", &q_reg)] {
        let key_hex = hex::encode(r.key_copy().to_bytes().as_slice());
        std::fs::write(dir_cli.path().join(name), key_hex).expect("write");
    }
    let cli = |platform_id: String, key: &'static str| {
        let (dir, url, at) = (dir_cli.path().to_owned(), server.url(), now().to_string());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_bidkey-platform"))
                .current_dir(dir)
                .args([
                    "verify", "--cert", "cert.der", "--sig", "sig.hex", "--file", "bid.txt",
                ])
                .args(["--server", &url, "--platform-id", &platform_id, "--at", &at])
                .args(["--platform-key", key])
                .args(["--uscc", USCC])
                .output()
                .expect("binary runs")
        })
    };
    let out = cli(p.id.clone(), "p.key").await.expect("joined");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("grant_id: {}", grant.id)),
        "{stdout}"
    );
    let out = cli(q.id.clone(), "q.key").await.expect("joined");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no live grant"));

    // Failures, one by one.
    let wrong = SignedMessage {
        message: b"a digest the phone named",
        ..signed
    };
    assert!(matches!(
        verifier
            .verify_online(&client, &p.id, &wrong, now(), &expected)
            .await,
        Err(PlatformError::BadSignature)
    ));
    assert!(matches!(
        verifier
            .verify_online(&q_client, &q.id, &signed, now(), &expected)
            .await,
        Err(PlatformError::NoGrant)
    ));
    let not_after = Cert::from_der(&cert).expect("cert").not_after();
    assert!(matches!(
        verifier
            .verify_online(&client, &p.id, &signed, not_after + 1, &expected)
            .await,
        Err(PlatformError::Certificate(CertProblem::Expired))
    ));
    let foreign = support::pki();
    let stranger = Verifier::new(TrustAnchor::new(foreign.root, vec![foreign.ca]).expect("anchor"));
    assert!(matches!(
        stranger
            .verify_online(&client, &p.id, &signed, now(), &expected)
            .await,
        Err(PlatformError::Certificate(
            CertProblem::UntrustedIssuer | CertProblem::BadSignature
        ))
    ));
    assert!(matches!(
        verifier
            .verify_online(
                &client,
                &p.id,
                &signed,
                now(),
                &Expected {
                    uscc: Some("91110000600037341L".into())
                }
            )
            .await,
        Err(PlatformError::UsccMismatch)
    ));

    // A bid file to the enterprise's encryption certificate; the phone unwraps its key.
    let enc = Cert::from_der(&cert_der(&a, &pair.encryption_serial)).expect("enc cert");
    let crls = fetch_crls(&client).await.expect("crls");
    verifier
        .check_encryption_cert(&enc, now(), &crls)
        .expect("encryption certificate valid");
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut file = Vec::new();
    bidfile::encrypt(
        &enc,
        &mut &plain[..],
        &mut file,
        &EncryptOptions {
            tender_id: "ZB-2026-0042".into(),
            platform_id: "plat-verify".into(),
            file_name: "商务标.pdf".into(),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect("encrypted");
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    assert_eq!(header.recipient_serial(), pair.encryption_serial);
    let key = a
        .decrypt(
            &pair.encryption_serial,
            PIN,
            &header.recipients[0].wrapped_key,
        )
        .await
        .expect("phone unwraps");
    let key = FileKey::from_unwrapped(&key).expect("a key with its purpose");
    let mut out = Vec::new();
    bidfile::decrypt(&key, &mut &file[..], &mut out, &mut |_, _| {}).expect("opens");
    assert_eq!(out, plain);

    // The admin revokes the grant: no grant any more.
    a.revoke_grant(&eid, &grant.id, PIN)
        .await
        .expect("grant revoked");
    assert!(matches!(
        verifier
            .verify_online(&client, &p.id, &signed, now(), &expected)
            .await,
        Err(PlatformError::NoGrant)
    ));

    // The holder revokes (注销) the certificate: revoked, through the CRL and status.
    a.add_grant(&eid, &account_id(&a), &p.id, PIN)
        .await
        .expect("granted again");
    verifier
        .verify_online(&client, &p.id, &signed, now(), &expected)
        .await
        .expect("verified again");
    a.revoke(&pair.signing_serial, PIN).await.expect("revoked");
    assert!(matches!(
        verifier
            .verify_online(&client, &p.id, &signed, now(), &expected)
            .await,
        Err(PlatformError::Certificate(CertProblem::Revoked))
    ));
    let crls = fetch_crls(&client).await.expect("crls");
    assert!(matches!(
        verifier.verify_with_crls(&signed, now(), &crls, &expected),
        Err(PlatformError::Certificate(CertProblem::Revoked))
    ));
}
