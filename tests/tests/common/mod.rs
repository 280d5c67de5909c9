//! The story test shared by the SQLite and PostgreSQL runs.

use bidkey_cli::demo::story::{self, NAME_A};
use bidkey_cli::demo::{World, WorldConfig, report_header, run_story};
use bidkey_core::flows::admin::GrantFilter;
use bidkey_protocol::ErrorCode;
use bidkey_server::db::DbUrl;

pub async fn whole_story(db: Option<DbUrl>) {
    let out = tempfile::tempdir().expect("out dir");
    let world = World::start(WorldConfig {
        out_dir: out.path().to_path_buf(),
        db,
        pin_kdf: None,
    })
    .await
    .expect("server and platform start");
    let (journal, outcome) = run_story(&world, false).await;
    let report = journal
        .write_report(out.path(), &report_header(&world))
        .expect("report written");
    let o = match outcome {
        Ok(o) => o,
        Err(e) => panic!(
            "the story stopped: {e}\n{}",
            journal.to_markdown(&report_header(&world))
        ),
    };

    // Every step ran and passed, in order.
    assert_eq!(journal.steps.len(), story::STEPS);
    assert!(journal.all_ok());
    assert!(journal.steps.iter().all(|s| !s.details.is_empty()));

    // Micro-payment, claim, CA, enrolment.
    assert!((1..=99).contains(&o.micropayment_fen));
    assert_ne!(o.admin_pair.signing_serial, o.staff_pair.signing_serial);
    let admin = world.phone("admin").expect("admin wallet");
    let mine = admin.my_enterprises().await.expect("mine");
    let a = mine
        .iter()
        .find(|e| e.id == o.enterprise_id)
        .expect("A among the admin's enterprises");
    assert!(a.claimed);
    assert_eq!(a.name, NAME_A);

    // Login, bid sealed by the staff member's enterprise certificate, encrypted to it.
    assert!(o.login_message.contains(NAME_A), "{}", o.login_message);
    assert_eq!(o.bid_signer_serial, o.staff_pair.signing_serial);
    assert_eq!(o.bid_recipient_serial, o.staff_pair.encryption_serial);
    assert!(o.verified_when_signed.valid);
    assert!(o.opened_before_loss);

    // Loss and recovery: the lost phone is refused, the new one opens the old bid.
    assert_eq!(o.lost_phone_refused, Some(ErrorCode::CertificateSuspended));
    assert_ne!(o.recovered_pair.signing_serial, o.staff_pair.signing_serial);
    assert!(o.recovered_pair.encryption_keys >= 1);
    assert!(o.opened_after_recovery);

    // The grant: valid while granted, refused once revoked, and the phone refuses to sign.
    assert!(o.second_verified_under_grant.valid);
    assert!(!o.second_verified_after_revoke.valid);
    assert_eq!(o.refused_after_revoke, Some(ErrorCode::GrantMissing));
    let live = GrantFilter::by_platform(&world.platform_id);
    let grants = admin.grants(&o.enterprise_id, &live).await.expect("grants");
    assert!(
        grants.iter().all(|g| g.id != o.grant_id),
        "revoked grant still live"
    );
    let history = GrantFilter {
        include_revoked: true,
        ..live
    };
    let grants = admin
        .grants(&o.enterprise_id, &history)
        .await
        .expect("grant history");
    let g = grants
        .iter()
        .find(|g| g.id == o.grant_id)
        .expect("the grant");
    assert!(g.revoked_at.is_some());

    // The output folder: QR codes that decode to Bidkey scan URIs, the bid file the
    // platform hashed, its signature and the certificate that made it, the report.
    let qr: Vec<_> = o
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .collect();
    assert_eq!(qr.len(), 8, "{qr:?}");
    for f in &qr {
        let png = std::fs::read(f).expect("QR file");
        let text = bidkey_cli::demo::browser::decode_qr(&png).expect("QR decodes");
        bidkey_protocol::scan::ScanUri::parse(&text).expect("a scan URI");
    }
    let docs = out.path().join("documents");
    let name = "投标文件-渝北道路改造.txt";
    let plain = std::fs::read(docs.join(name)).expect("bid file");
    // The bidder encrypted the bid before upload (issue 17): the platform hashed, and the
    // bidder signed, the encrypted file it received.
    let encrypted = std::fs::read(docs.join(format!("{name}.bid"))).expect("encrypted bid");
    assert_eq!(
        hex::encode(bidkey_crypto::sm3::sm3(&encrypted)),
        o.bid_sm3,
        "the saved encrypted bid is the one the platform hashed"
    );
    let pem = std::fs::read_to_string(docs.join("signing-cert.pem")).expect("certificate");
    let cert = bidkey_crypto::x509::Cert::from_pem(&pem).expect("certificate parses");
    assert_eq!(
        cert.subject_uscc().expect("subject").as_deref(),
        Some(story::USCC_A),
        "an enterprise certificate of A"
    );
    assert!(cert.serial_hex().eq_ignore_ascii_case(&o.bid_signer_serial));
    // The signature: a detached CMS (DER) over the encrypted bid as uploaded, by that
    // certificate, with the Bidkey TSA's timestamp of the signature.
    let p7s = std::fs::read(docs.join(format!("{name}.p7s"))).expect("signature");
    let cms = bidkey_crypto::cms::verify_signed_data(
        &p7s,
        bidkey_crypto::cms::Content::Detached(&encrypted),
        &[],
    )
    .expect("the .p7s verifies over the saved encrypted bid");
    assert_eq!(cms.signers.len(), 1);
    assert_eq!(cms.signers[0].cert, cert);
    assert_eq!(cms.signers[0].timestamps.len(), 1, "timestamped");
    // The GB/T 38540 seal signature over the same digest, by the same certificate, with the
    // seal the CA approved (listing that certificate) and the TSA's timestamp; the .tsr is
    // the CMS signature's token; the report names the seal.
    let ses = std::fs::read(docs.join(format!("{name}.ses"))).expect("seal signature");
    let seal =
        bidkey_crypto::ses::verify_signature(&ses, Some(&bidkey_crypto::sm3::sm3(&encrypted)), &[])
            .expect("the .ses verifies over the saved encrypted bid");
    assert_eq!(seal.signer, cert);
    assert!(seal.signer_listed && seal.timestamp.is_some());
    seal.check().expect("listed and valid when used");
    assert_eq!(seal.seal.name, "投标专用章");
    let tsr = std::fs::read(docs.join(format!("{name}.tsr"))).expect("timestamp token");
    let ts = bidkey_crypto::cms::tsp::verify_token(&tsr, &[]).expect("token verifies");
    ts.check_imprint_of(cms.signers[0].signer_info.signature())
        .expect("the token covers the signature");
    let report_json =
        std::fs::read_to_string(docs.join(format!("{name}.verification.json"))).expect("report");
    assert!(
        report_json.contains("投标专用章") && report_json.contains("\"signer_listed\": true"),
        "{report_json}"
    );
    sealed_pdf_checks(&world, &docs).await;
    assert!(encrypted.len() > plain.len());
    // The price is in the plain file and nowhere in the encrypted one.
    let price = "12,345,678.00".as_bytes();
    assert!(plain.windows(price.len()).any(|w| w == price));
    assert!(!encrypted.windows(price.len()).any(|w| w == price));
    assert!(
        out.path()
            .join("documents")
            .join("bank-statement.csv")
            .is_file()
    );
    let md = std::fs::read_to_string(&report).expect("report");
    assert!(md.contains("all passed"), "{md}");
    for s in &journal.steps {
        assert!(md.contains(&s.title), "{} missing from the report", s.title);
    }
    world.stop().await;
}

/// The sealed PDF bid in `documents/`: its `.p7s`, `.ses`, `.tsr` and report beside it;
/// `qpdf --check` passes; the platform verifier, pinned to the server's root, accepts it
/// (intact, whole file, timestamped, chain); the `.ses` covers its ByteRange.
async fn sealed_pdf_checks(world: &World, docs: &std::path::Path) {
    let name = "澄清答复函-渝北道路改造.pdf";
    let pdf = docs.join(name);
    for ext in ["p7s", "ses", "tsr", "verification.json"] {
        assert!(docs.join(format!("{name}.{ext}")).is_file(), "{name}.{ext}");
    }
    match std::process::Command::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "qpdf --check: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("\n\n!!!!! SKIPPED: qpdf is not installed (CI installs it). !!!!!\n"),
    }
    let client = bidkey_platform::client::PlatformClient::new(
        &world.server_url(),
        None,
        std::time::Duration::from_secs(20),
    )
    .expect("client");
    let anchor = bidkey_platform::verify::TrustAnchor::fetch(&client, None)
        .await
        .expect("anchor");
    let report = bidkey_platform::pdf::verify(
        std::io::BufReader::new(std::fs::File::open(&pdf).expect("pdf")),
        &bidkey_platform::pdf::verify::VerifyOptions {
            anchor: Some(&anchor),
            tsa_anchor: None,
            crls: &[],
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        },
    )
    .expect("the PDF reads");
    assert!(report.all_valid(), "{report:?}");
    assert_eq!(report.signatures.len(), 1);
    let sig = &report.signatures[0];
    assert!(sig.covers_whole_file && sig.intact);
    assert!(sig.signer.as_ref().is_some_and(|s| s.timestamp.is_some()));
    // The CMS carries the GB/T 38540 seal signature, and the verifier reports the seal.
    let seal = sig
        .signer
        .as_ref()
        .and_then(|s| s.electronic_seal.clone())
        .expect("the PDF's signature carries the seal signature");
    assert!(seal.check.is_valid(), "{seal:?}");
    let seal = seal.seal.expect("seal report");
    assert_eq!(seal.name, "投标专用章");
    assert!(seal.signer_listed && seal.timestamped);
    assert!(seal.maker.contains("Bidkey Seal Maker"));
    // The seal signature's dataHash is the SM3 of that ByteRange.
    let bytes = std::fs::read(&pdf).expect("pdf");
    let [a, b, c, d] = sig.byte_range.expect("ByteRange");
    let mut covered = bytes[a as usize..(a + b) as usize].to_vec();
    covered.extend_from_slice(&bytes[c as usize..(c + d) as usize]);
    let ses = std::fs::read(docs.join(format!("{name}.ses"))).expect("ses");
    bidkey_crypto::ses::verify_signature(&ses, Some(&bidkey_crypto::sm3::sm3(&covered)), &[])
        .expect("the .ses covers the PDF's ByteRange")
        .check()
        .expect("listed, valid");
}
