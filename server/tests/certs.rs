//! CA, enrolment and certificate lifecycle over real HTTP on loopback, on SQLite and on
//! PostgreSQL. The phone's side is computed here with `bidkey_crypto::cosign`.

#[macro_use]
mod support;

use bidkey_crypto::sm2::{self, DEFAULT_ID};
use bidkey_crypto::x509::{
    Cert, Crl, CsrDraft, PersonIdDigest, RequiredUsage, ca_subject, verify_chain,
};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;
use bidkey_protocol::certs::*;
use bidkey_protocol::cosign::CosignPurpose;
use bidkey_protocol::orders::{self as ow, ApplicationKind, Status};
use std::path::Path;
use support::device::*;
use support::{Client, Store, TestServer, real_named, signed_up};

on_both_stores!(
    personal_enrolment_issues_a_verifiable_pair,
    renewal_only_in_the_last_30_days_and_keeps_old_keys,
    the_old_pair_ends_only_when_the_phone_confirms,
    recovery_to_a_new_phone_keeps_old_bid_files_open,
    revocation_with_the_pin_reaches_the_crl,
    no_key_material_outlives_enrolment_or_revocation,
    enterprise_claim_makes_the_applicant_admin,
    platform_certificates_from_csrs,
);

const PHONE: &str = "13800138000";
const NAME: &str = "张三";
const ID_NUMBER: &str = "11010519491231002X";
const DAY: i64 = 86_400;

fn now(server: &TestServer) -> i64 {
    server.running.state.clock.now()
}

async fn person(server: &TestServer) -> Client {
    let c = signed_up(server, PHONE).await;
    real_named(&c, NAME, ID_NUMBER).await;
    c
}

async fn enrolled(server: &TestServer) -> (Client, Wallet) {
    enrolled_person(server, PHONE, NAME, ID_NUMBER).await
}

fn verify(server: &TestServer, leaf: &Cert, chain: &(Cert, Cert, Crl, Crl), usage: RequiredUsage) {
    let (root, issuing, crl, arl) = chain;
    verify_chain(
        leaf,
        std::slice::from_ref(issuing),
        std::slice::from_ref(root),
        now(server) as u64,
        &[crl.clone(), arl.clone()],
        usage,
    )
    .expect("chain verifies");
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl {args:?}: {text}");
    text
}

/// OpenSSL 3.0 verifies SM2 with an empty ID unless told `distid`, and only for the leaf of
/// `openssl verify`: so each link is checked as the leaf (see crypto/tests/x509_openssl.rs).
fn openssl_verifies(root: &Cert, issuing: &Cert, leaves: &[&Cert]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("root.pem"), root.to_pem().expect("pem")).expect("write");
    std::fs::write(dir.join("inter.pem"), issuing.to_pem().expect("pem")).expect("write");
    let out = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-vfyopt",
            "distid:1234567812345678",
            "inter.pem",
        ],
    );
    assert!(out.contains("inter.pem: OK"), "{out}");
    for (i, leaf) in leaves.iter().enumerate() {
        let name = format!("leaf{i}.pem");
        std::fs::write(dir.join(&name), leaf.to_pem().expect("pem")).expect("write");
        let out = openssl(
            dir,
            &[
                "verify",
                "-partial_chain",
                "-CAfile",
                "inter.pem",
                "-vfyopt",
                "distid:1234567812345678",
                &name,
            ],
        );
        assert!(out.contains(&format!("{name}: OK")), "{out}");
    }
}

async fn personal_enrolment_issues_a_verifiable_pair(store: Store) {
    let server = TestServer::start(store).await;
    let c = person(&server).await;
    let anon = Client::new(&server);

    // Not paid yet: no enrolment.
    let app: ow::Application = c
        .post(
            "/v1/applications/personal",
            &PersonalApplicationRequest::default(),
        )
        .await
        .expect("applied");
    assert_eq!(app.kind, ApplicationKind::Personal);
    assert_eq!(app.status, Status::PendingReview);
    let err = c
        .post::<_, EnrollStart>(
            &format!("/v1/applications/{}/enroll/start", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("not paid");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
    approve(&server, &app.id).await;
    let err = c
        .post::<_, EnrollStart>(
            &format!("/v1/applications/{}/enroll/start", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("awaiting payment");
    assert_eq!(err.1.code, ErrorCode::PaymentRequired);
    pay(&c, &app.id).await;

    let (enrollment, csr, share, public) = enroll_until_finish(&c, &app.id).await;
    let finish = |csr: Vec<u8>| {
        let c = &c;
        let enrollment = enrollment.clone();
        async move {
            c.post::<_, EnrollResult>(
                &format!("/v1/enrollments/{enrollment}/finish"),
                &EnrollFinishRequest { csr_der: csr },
            )
            .await
        }
    };
    // A CSR for another key is refused and changes nothing.
    let other = sm2::Sm2PrivateKey::make_random().expect("key");
    let bad =
        bidkey_crypto::x509::Csr::create(ca_subject("x", "y").expect("name"), &other).expect("csr");
    let err = finish(bad.to_der().to_vec()).await.expect_err("wrong key");
    assert_eq!(err.1.code, ErrorCode::InvalidCsr);
    let first = finish(csr.clone()).await.expect("issued");
    // A retried finish (lost answer) returns the same result.
    let again = finish(csr).await.expect("same answer");
    assert_eq!(first, again);

    let app: ow::Application = c
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("app");
    assert_eq!(app.status, Status::Issued);
    assert_eq!(app.order.expect("order").status, Status::Issued);

    let signing = Cert::from_der(&first.signing_cert).expect("signing");
    let encryption = Cert::from_der(&first.encryption_cert).expect("encryption");
    assert_eq!(signing.sm2_public_key().expect("key"), public);
    let ku = signing.key_usage().expect("ku");
    assert!(ku.digital_signature && ku.non_repudiation && !ku.key_encipherment);
    let ku = encryption.key_usage().expect("ku");
    assert!(ku.key_encipherment && ku.data_encipherment && !ku.digital_signature);
    // The person's ID appears only as the keyed digest the server derives from its hash.
    let expected =
        PersonIdDigest::compute(server.running.state.secrets.pii_key.as_slice(), ID_NUMBER)
            .expect("digest");
    assert_eq!(signing.subject_person_id().expect("id"), Some(expected));
    assert_eq!(
        signing.subject_common_name().expect("cn").as_deref(),
        Some(NAME)
    );
    assert_eq!(signing.subject(), encryption.subject());

    let chain = chain_and_crls(&anon).await;
    verify(&server, &signing, &chain, RequiredUsage::Signing);
    verify(&server, &encryption, &chain, RequiredUsage::Encryption);
    assert!(chain.0.is_ca() && chain.1.path_len() == Some(0));
    openssl_verifies(&chain.0, &chain.1, &[&signing, &encryption]);

    // The phone opens its encryption key envelope and uses both keys.
    let w = open_wallet(&c, first, share, public).await;
    let sig = co_sign(
        &c,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"bid file",
    )
    .await
    .expect("co-signed");
    sm2::verify(&w.signing_public, DEFAULT_ID, b"bid file", &sig).expect("plain SM2 signature");
    let enc_cert = w.encryption_cert();
    let ct = sm2::encrypt(&enc_cert.sm2_public_key().expect("key"), b"tender key").expect("ct");
    let serial = enc_cert.serial_hex();
    let pt = co_decrypt(&c, &serial, &w.enc_shares[&serial], &ct)
        .await
        .expect("co-decrypted");
    assert_eq!(pt, b"tender key");

    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force.len(), 1);
    assert!(list.expiring.is_empty() && list.invalid.is_empty());
    assert!(list.in_force[0].this_device);
    assert_eq!(list.in_force[0].pin_tries_left, 5);
    let status: CertStatus = anon
        .get(&format!("/v1/certs/{}/status", w.signing_serial()))
        .await
        .expect("status");
    assert_eq!(status.status, RevocationStatus::Good);
    let status: CertStatus = anon
        .get("/v1/certs/0123456789ABCDEF/status")
        .await
        .expect("status");
    assert_eq!(status.status, RevocationStatus::Unknown);

    // The application is done: no second enrolment.
    let err = c
        .post::<_, EnrollStart>(
            &format!("/v1/applications/{}/enroll/start", app.id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("issued");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
}

async fn open_wallet(
    c: &Client,
    result: EnrollResult,
    share: bidkey_crypto::cosign::DeviceShare,
    public: sm2::Sm2PublicKey,
) -> Wallet {
    let mut enc_shares = std::collections::HashMap::new();
    for k in &result.delivered_keys {
        let env = bidkey_crypto::envelope::EnvelopedKey::from_der(&k.envelope).expect("env");
        let sym = co_decrypt_as(
            c,
            &result.signing_serial,
            &share,
            env.sym_key_ciphertext(),
            CosignPurpose::KeyDelivery,
        )
        .await
        .expect("sym key");
        let d1 = env.open_with_sym_key(&public, &sym).expect("opens");
        enc_shares.insert(
            k.serial.clone(),
            bidkey_crypto::cosign::DeviceShare::from_bytes(d1.as_slice()).expect("share"),
        );
    }
    Wallet {
        signing: Cert::from_der(&result.signing_cert).expect("cert"),
        result,
        signing_public: public,
        signing_share: share,
        enc_shares,
    }
}

async fn renewal_only_in_the_last_30_days_and_keeps_old_keys(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let old_enc = w.encryption_cert();
    let ct = sm2::encrypt(&old_enc.sm2_public_key().expect("key"), b"old bid").expect("ct");

    let err = c
        .post::<_, ow::Application>(
            &format!("/v1/certs/{}/renew", w.signing_serial()),
            &RenewRequest::default(),
        )
        .await
        .expect_err("too early");
    assert_eq!(err.1.code, ErrorCode::RenewalTooEarly);

    server.running.state.clock.advance(340 * DAY);
    // The 30-day login expired meanwhile: log in again as the same device.
    let c = login_again(&server, PHONE, &w.result.pair_id).await;
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.expiring.len(), 1);
    assert_eq!(list.expiring[0].state, PairState::Expiring);
    let app: ow::Application = c
        .post(
            &format!("/v1/certs/{}/renew", w.signing_serial()),
            &RenewRequest::default(),
        )
        .await
        .expect("renewal");
    assert_eq!(app.kind, ApplicationKind::Renew);
    assert_eq!(app.status, Status::AwaitingPayment);
    pay(&c, &app.id).await;
    let w2 = enroll(&c, &app.id).await;
    // The new pair runs a year past the old expiry.
    assert!(w2.signing.not_after() > w.signing.not_after() + 360 * DAY as u64);
    // Both the new and the old encryption key came to the phone.
    assert_eq!(w2.result.delivered_keys.len(), 2);
    let old_serial = old_enc.serial_hex();
    let pt = co_decrypt(&c, &old_serial, &w2.enc_shares[&old_serial], &ct)
        .await
        .expect("old bid file opens");
    assert_eq!(pt, b"old bid");
    // The old pair is replaced: its signing key no longer co-signs.
    let err = co_sign(
        &c,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"x",
    )
    .await
    .expect_err("superseded");
    assert_eq!(err.1.code, ErrorCode::CertificateRevoked);
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!((list.in_force.len(), list.invalid.len()), (1, 1));

    // After expiry (without renewal) the certificate is refused, and re-applying is offered.
    server.running.state.clock.advance(400 * DAY);
    let c = login_again(&server, PHONE, &w2.result.pair_id).await;
    let err = co_sign(
        &c,
        &w2.signing_serial(),
        &w2.signing_share,
        &w2.signing_public,
        b"x",
    )
    .await
    .expect_err("expired");
    assert_eq!(err.1.code, ErrorCode::CertificateExpired);
    let app: ow::Application = c
        .post(
            &format!("/v1/certs/{}/reapply", w2.signing_serial()),
            &RenewRequest::default(),
        )
        .await
        .expect("re-application");
    assert_eq!(
        (app.kind, app.status),
        (ApplicationKind::Reapply, Status::PendingReview)
    );
}

/// `(failed_pins, locked)` of a pair's holder, as the co-signing service counts them.
async fn pin_count(server: &TestServer, pair_id: &str) -> (i64, i64) {
    let pair = pair_id.to_owned();
    server
        .running
        .state
        .db
        .read(move |tx| {
            let (failed, locked) = bidkey_server::cosign::pin::state(tx, &pair)?;
            Ok::<_, bidkey_server::error::ServerError>((failed, i64::from(locked)))
        })
        .await
        .expect("read")
}

async fn the_old_pair_ends_only_when_the_phone_confirms(store: Store) {
    let server = TestServer::start(store).await;
    let (_, w) = enrolled(&server).await;
    let old_enc = w.encryption_cert();
    let old_serial = old_enc.serial_hex();
    let ct = sm2::encrypt(&old_enc.sm2_public_key().expect("key"), b"old bid").expect("ct");
    server.running.state.clock.advance(340 * DAY);
    let c = login_again(&server, PHONE, &w.result.pair_id).await;
    let app: ow::Application = c
        .post(
            &format!("/v1/certs/{}/renew", w.signing_serial()),
            &RenewRequest::default(),
        )
        .await
        .expect("renewal");
    pay(&c, &app.id).await;

    // Not issued yet: nothing to confirm.
    let (early, ..) = enroll_until_finish(&c, &app.id).await;
    let err = confirm(&c, &early).await.expect_err("not issued");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    // Issued and delivered, not confirmed: both pairs are in force, the old one still signs
    // and opens the old file with its own shares.
    let (enrollment, w2) = enroll_unconfirmed(&c, &app.id).await;
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.in_force.len(), 2, "{list:?}");
    co_sign(
        &c,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"old",
    )
    .await
    .expect("the old pair still signs");
    let old_pair = Some(w.result.pair_id.as_str());
    let new_pair = Some(w2.result.pair_id.as_str());
    let pt = co_decrypt_in(&c, &old_serial, old_pair, &w.enc_shares[&old_serial], &ct)
        .await
        .expect("the old pair's share opens the old file");
    assert_eq!(pt, b"old bid");
    let pt = co_decrypt_in(&c, &old_serial, new_pair, &w2.enc_shares[&old_serial], &ct)
        .await
        .expect("the new pair's share opens it too");
    assert_eq!(pt, b"old bid");

    // The failure the pair id prevents: the old pair's share judged against the newest
    // server share of the same key is a wrong proof, counted against the new pair.
    let err = co_decrypt(&c, &old_serial, &w.enc_shares[&old_serial], &ct)
        .await
        .expect_err("another pair's share");
    assert_eq!(err.1.code, ErrorCode::WrongPin);
    assert_eq!(pin_count(&server, &w2.result.pair_id).await, (1, 0));
    // Another account's or an unknown pair is not found, and counts nothing.
    let err = co_decrypt_in(
        &c,
        &old_serial,
        Some("0000"),
        &w.enc_shares[&old_serial],
        &ct,
    )
    .await
    .expect_err("unknown pair");
    assert_eq!(err.1.code, ErrorCode::CertificateNotFound);
    co_sign(
        &c,
        &w2.signing_serial(),
        &w2.signing_share,
        &w2.signing_public,
        b"new",
    )
    .await
    .expect("the right PIN resets the count");
    assert_eq!(pin_count(&server, &w2.result.pair_id).await, (0, 0));

    // Confirmed: the old pair is superseded, once; a repeat answers the same.
    let confirmed = confirm(&c, &enrollment).await.expect("confirmed");
    assert_eq!(confirmed.pair_id, w2.result.pair_id);
    assert_eq!(
        confirmed.superseded_pair_ids,
        vec![w.result.pair_id.clone()]
    );
    assert!(confirmed.revoked_serials.contains(&w.signing_serial()));
    assert!(confirmed.revoked_serials.contains(&old_serial));
    assert_eq!(confirm(&c, &enrollment).await.expect("again"), confirmed);
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!((list.in_force.len(), list.invalid.len()), (1, 1));
    let status: CertStatus = c
        .get(&format!("/v1/certs/{}/status", w.signing_serial()))
        .await
        .expect("status");
    assert_eq!(status.status, RevocationStatus::Revoked);
    assert_eq!(status.reason.as_deref(), Some("superseded"));

    // The old pair's share now answers "revoked", which is no verdict on the PIN.
    let err = co_decrypt_in(&c, &old_serial, old_pair, &w.enc_shares[&old_serial], &ct)
        .await
        .expect_err("superseded");
    assert_eq!(err.1.code, ErrorCode::CertificateRevoked);
    assert_eq!(pin_count(&server, &w2.result.pair_id).await, (0, 0));
    let pt = co_decrypt_in(&c, &old_serial, new_pair, &w2.enc_shares[&old_serial], &ct)
        .await
        .expect("the new pair opens the old file");
    assert_eq!(pt, b"old bid");
}

async fn recovery_to_a_new_phone_keeps_old_bid_files_open(store: Store) {
    let server = TestServer::start(store).await;
    let (a, w) = enrolled(&server).await;
    let enc = w.encryption_cert();
    let ct = sm2::encrypt(&enc.sm2_public_key().expect("key"), b"sealed bid").expect("ct");

    // Phone A is lost: 挂失 by SMS, without the phone.
    let code = sms(&server, PHONE, SmsPurpose::LossReport).await;
    let change: PairChange = Client::new(&server)
        .post(
            "/v1/certs/loss-report",
            &LossReportRequest {
                phone: PHONE.into(),
                code,
                serial: None,
            },
        )
        .await
        .expect("suspended");
    assert_eq!(change.serials.len(), 2);

    // Phone B: login, real-name again, SMS, application, payment, enrolment.
    let b = login_new_device(&server, PHONE).await;
    let code = sms(&server, PHONE, SmsPurpose::Recover).await;
    let wrong_person = RecoverRequest {
        realname: bidkey_protocol::accounts::RealNameRequest {
            method: bidkey_protocol::accounts::RealNameMethod::Cfca,
            name: NAME.into(),
            id_number: "110105194912310029".into(),
            bank_card: None,
            bank_phone: None,
        },
        code: code.clone(),
        enterprise_id: None,
        idempotency_key: None,
    };
    let mut right = wrong_person.clone();
    right.realname.id_number = ID_NUMBER.into();
    let err = b
        .post::<_, ow::Application>("/v1/certs/recover", &wrong_person)
        .await
        .expect_err("not the same person");
    assert!(
        matches!(err.1.code, ErrorCode::RealNameFailed),
        "{:?}",
        err.1.code
    );
    right.code = sms(&server, PHONE, SmsPurpose::Recover).await;
    let app: ow::Application = b
        .post("/v1/certs/recover", &right)
        .await
        .expect("recovery application");
    assert_eq!(app.kind, ApplicationKind::Recover);
    assert_eq!(app.status, ow::Status::PendingReview);
    approve_recovery(&server, &app).await;
    pay(&b, &app.id).await;
    let w2 = enroll(&b, &app.id).await;
    // Same encryption certificate and key, new signing key.
    assert_eq!(w2.result.encryption_serial, enc.serial_hex());
    assert_ne!(w2.signing_public, w.signing_public);
    assert_eq!(w2.signing.not_after(), w.signing.not_after());
    let serial = enc.serial_hex();
    let pt = co_decrypt(&b, &serial, &w2.enc_shares[&serial], &ct)
        .await
        .expect("old ciphertext opens on the new phone");
    assert_eq!(pt, b"sealed bid");
    co_sign(
        &b,
        &w2.signing_serial(),
        &w2.signing_share,
        &w2.signing_public,
        b"new",
    )
    .await
    .expect("new phone signs");

    // The old signing certificate is revoked and on the CRL; phone A can do nothing.
    let err = co_sign(
        &a,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"x",
    )
    .await
    .expect_err("old key");
    assert!(matches!(
        err.1.code,
        ErrorCode::CertificateRevoked | ErrorCode::CertificateNotFound
    ));
    let status: CertStatus = b
        .get(&format!("/v1/certs/{}/status", w.signing_serial()))
        .await
        .expect("status");
    assert_eq!(status.status, RevocationStatus::Revoked);
    assert_eq!(status.reason.as_deref(), Some("key_compromise"));
    let status: CertStatus = b
        .get(&format!("/v1/certs/{serial}/status"))
        .await
        .expect("status");
    assert_eq!(status.status, RevocationStatus::Good);
    let (root, issuing, crl, arl) = chain_and_crls(&b).await;
    crl.verify_signature(&issuing)
        .expect("CRL signed by the issuing CA");
    assert!(
        crl.revoked_serials_hex()
            .expect("list")
            .contains(&w.signing_serial())
    );
    assert!(!crl.revoked_serials_hex().expect("list").contains(&serial));
    let chain = (root, issuing, crl, arl);
    verify(&server, &w2.signing, &chain, RequiredUsage::Signing);
    verify(&server, &enc, &chain, RequiredUsage::Encryption);
}

async fn revocation_with_the_pin_reaches_the_crl(store: Store) {
    let server = TestServer::start(store).await;
    let (c, w) = enrolled(&server).await;
    let anon = Client::new(&server);
    let (_, _, crl, _) = chain_and_crls(&anon).await;
    let first_number = crl.crl_number().expect("number");

    // The revocation challenge must be co-signed with the right PIN.
    let s = open_session(&c, &w.signing_serial(), CosignPurpose::Revoke)
        .await
        .expect("session");
    let challenge = s.challenge.clone().expect("challenge");
    co_sign_in(&c, &s, &w.signing_share, &w.signing_public, &challenge)
        .await
        .expect("challenge co-signed");
    // Signing something else in a revoke session is refused.
    let s2 = open_session(&c, &w.signing_serial(), CosignPurpose::Revoke)
        .await
        .expect("session");
    let err = co_sign_in(&c, &s2, &w.signing_share, &w.signing_public, b"other")
        .await
        .expect_err("other message");
    assert_eq!(err.1.code, ErrorCode::BadRequest);

    let change: PairChange = c
        .post(
            &format!("/v1/certs/{}/revoke", w.signing_serial()),
            &RevokeRequest {
                session_id: s.session_id.clone(),
            },
        )
        .await
        .expect("revoked");
    assert_eq!(change.state, PairState::Revoked);
    assert_eq!(change.serials.len(), 2);
    // The proof is spent.
    let err = c
        .post::<_, PairChange>(
            &format!("/v1/certs/{}/revoke", w.signing_serial()),
            &RevokeRequest {
                session_id: s.session_id,
            },
        )
        .await
        .expect_err("spent");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    let err = co_sign(
        &c,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"x",
    )
    .await
    .expect_err("revoked");
    assert_eq!(err.1.code, ErrorCode::CertificateRevoked);
    let (root, issuing, crl, arl) = chain_and_crls(&anon).await;
    assert!(crl.crl_number().expect("number") > first_number);
    let listed = crl.revoked_serials_hex().expect("serials");
    assert!(listed.contains(&w.signing_serial()));
    assert!(listed.contains(&w.result.encryption_serial));
    let err = verify_chain(
        &w.signing,
        &[issuing],
        &[root],
        now(&server) as u64,
        &[crl, arl],
        RequiredUsage::Signing,
    )
    .expect_err("revoked");
    assert_eq!(err, bidkey_crypto::CertProblem::Revoked);
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(list.invalid.len(), 1);
    assert_eq!(list.invalid[0].state, PairState::Revoked);
}

/// `(sealed share of the enrolment, sealed escrowed keys of the holder, sealed server shares
/// of the pair)`: the lengths of what an insider with the database would find.
async fn key_material(
    server: &TestServer,
    enrollment: &str,
    pair_id: &str,
) -> (usize, Vec<usize>, Vec<usize>) {
    let (enrollment, pair) = (enrollment.to_owned(), pair_id.to_owned());
    server
        .running
        .state
        .db
        .read(move |tx| {
            let e = tx
                .query_opt(
                    "SELECT share_sealed FROM enrollments WHERE id = $1",
                    &bidkey_server::params![enrollment.as_str()],
                )?
                .expect("enrolment row");
            let enrolment = e.opt_bytes(0)?.map_or(0, |b| b.len());
            let escrow = tx
                .query(
                    "SELECT e.key_sealed FROM kmc_escrow e JOIN cert_pairs p ON p.account_id = e.account_id \
                     WHERE p.id = $1 ORDER BY e.id",
                    &bidkey_server::params![pair.as_str()],
                )?
                .iter()
                .map(|r| r.bytes(0).map(|b| b.len()))
                .collect::<Result<Vec<_>, _>>()?;
            let shares = tx
                .query(
                    "SELECT share_sealed FROM cosign_keys WHERE pair_id = $1 ORDER BY id",
                    &bidkey_server::params![pair.as_str()],
                )?
                .iter()
                .map(|r| r.bytes(0).map(|b| b.len()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, bidkey_server::error::ServerError>((enrolment, escrow, shares))
        })
        .await
        .expect("read")
}

/// An insider with the database (and the key files) finds no server share of a finished
/// enrolment, and after 注销 neither the escrowed encryption keys nor the pair's shares.
async fn no_key_material_outlives_enrolment_or_revocation(store: Store) {
    let server = TestServer::start(store).await;
    let c = person(&server).await;
    let app = paid_personal_application(&server, &c).await;
    let (enrollment, w) = enroll_unconfirmed(&c, &app).await;
    let (pending, escrow, shares) = key_material(&server, &enrollment, &w.result.pair_id).await;
    assert_eq!(
        pending, 0,
        "the enrolment's sealed share is wiped at finish"
    );
    assert_eq!(escrow.len(), 1);
    assert!(
        escrow.iter().all(|n| *n > 0),
        "escrowed while the pair lives"
    );
    assert!(shares.iter().all(|n| *n > 0));
    // `finish` is resumable: repeating it answers the same result without the share.
    let again: EnrollResult = c
        .post(
            &format!("/v1/enrollments/{enrollment}/finish"),
            &EnrollFinishRequest {
                csr_der: Vec::new(),
            },
        )
        .await
        .expect("repeated finish");
    assert_eq!(again.pair_id, w.result.pair_id);
    confirm(&c, &enrollment).await.expect("confirmed");

    let s = open_session(&c, &w.signing_serial(), CosignPurpose::Revoke)
        .await
        .expect("session");
    let challenge = s.challenge.clone().expect("challenge");
    co_sign_in(&c, &s, &w.signing_share, &w.signing_public, &challenge)
        .await
        .expect("challenge co-signed");
    let _: PairChange = c
        .post(
            &format!("/v1/certs/{}/revoke", w.signing_serial()),
            &RevokeRequest {
                session_id: s.session_id.clone(),
            },
        )
        .await
        .expect("revoked");
    let (_, escrow, shares) = key_material(&server, &enrollment, &w.result.pair_id).await;
    assert_eq!(escrow, vec![0], "注销 destroys the escrowed encryption key");
    assert!(
        shares.iter().all(|n| *n == 0),
        "and the pair's server shares"
    );
}

async fn enterprise_claim_makes_the_applicant_admin(store: Store) {
    use bidkey_server::applications::{self, NewApplication};
    use bidkey_server::db::Value;
    use bidkey_server::memberships::{self, Role};
    let server = TestServer::start(store).await;
    let c = person(&server).await;
    let me: bidkey_protocol::accounts::AccountInfo = c.get("/v1/me").await.expect("me");
    let account = me.id.clone();
    let t = now(&server);
    // The enterprise and the claim, as the enterprises module would create them.
    let app_id: String = server
        .running
        .state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO enterprises (id, uscc, name, status, created_at, updated_at) VALUES ($1, $2, $3, 'registered', $4, $4)",
                &[
                    Value::Text("ent1".into()),
                    Value::Text("91350100M000100Y43".into()),
                    Value::Text("测试建设工程有限公司".into()),
                    Value::Int(t),
                ],
            )?;
            let app = applications::create(
                tx,
                t,
                NewApplication {
                    kind: ApplicationKind::Claim,
                    account_id: &account,
                    enterprise_id: Some("ent1"),
                    status: Status::PendingReview,
                    detail: None,
                    idempotency_key: None,
                },
            )?;
            Ok::<_, bidkey_server::error::ServerError>(app.id)
        })
        .await
        .expect("claim created");
    approve(&server, &app_id).await;
    pay(&c, &app_id).await;
    let w = enroll(&c, &app_id).await;
    assert_eq!(
        w.signing.subject_uscc().expect("uscc").as_deref(),
        Some("91350100M000100Y43")
    );
    assert_eq!(
        w.signing.subject_organization().expect("o").as_deref(),
        Some("测试建设工程有限公司")
    );
    let account = me.id.clone();
    let role = server
        .running
        .state
        .db
        .read(move |tx| memberships::role_of(tx, "ent1", &account))
        .await
        .expect("role");
    assert_eq!(role, Some(Role::Admin));
    let list: CertList = c.get("/v1/certs").await.expect("list");
    assert_eq!(
        list.in_force[0].enterprise_name.as_deref(),
        Some("测试建设工程有限公司")
    );
    co_sign(
        &c,
        &w.signing_serial(),
        &w.signing_share,
        &w.signing_public,
        b"tender",
    )
    .await
    .expect("enterprise key signs");
}

async fn platform_certificates_from_csrs(store: Store) {
    use bidkey_server::db::Value;
    let server = TestServer::start(store).await;
    let t = now(&server);
    server
        .running
        .state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO platforms (id, name, origin, created_at) VALUES ('p1', '洋河e采', 'https://ecai.example.cn', $1)",
                &[Value::Int(t)],
            )
        })
        .await
        .expect("platform");
    let op = operator(&server);
    let chain = chain_and_crls(&op).await;

    // SM2, from a one-party key.
    let key = sm2::Sm2PrivateKey::make_random().expect("key");
    let csr = bidkey_crypto::x509::Csr::create(ca_subject("ignored", "ignored").expect("n"), &key)
        .expect("csr");
    let cert: PlatformCert = op
        .post(
            "/v1/operator/platforms/p1/certificate",
            &PlatformCertRequest {
                csr_der: csr.to_der().to_vec(),
                days: None,
            },
        )
        .await
        .expect("issued");
    let cert = Cert::from_der(&cert.cert_der).expect("cert");
    assert_eq!(cert.sm2_public_key().expect("key"), *key.public_key());
    assert_eq!(
        cert.subject_organization().expect("o").as_deref(),
        Some("洋河e采")
    );
    verify(&server, &cert, &chain, RequiredUsage::PlatformRequest);

    // P-256, signed in two steps.
    let p = bidkey_crypto::p256::P256PrivateKey::make_random().expect("p256");
    let draft = CsrDraft::new(
        ca_subject("platform", "x").expect("n"),
        &p.public_key().to_spki_der().expect("spki"),
    )
    .expect("draft");
    let sig = p.sign_der(draft.to_be_signed());
    let csr = draft.assemble(&sig).expect("csr");
    let issued: PlatformCert = op
        .post(
            "/v1/operator/platforms/p1/certificate",
            &PlatformCertRequest {
                csr_der: csr.to_der().to_vec(),
                days: Some(30),
            },
        )
        .await
        .expect("issued");
    let cert = Cert::from_der(&issued.cert_der).expect("cert");
    verify(&server, &cert, &chain, RequiredUsage::PlatformRequest);
    let stored = server
        .running
        .state
        .db
        .read(|tx| {
            tx.query_opt("SELECT cert_der FROM platforms WHERE id = 'p1'", &[])?
                .map(|r| r.opt_bytes(0))
                .transpose()
                .map(Option::flatten)
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("read");
    assert_eq!(stored, Some(issued.cert_der.clone()));

    // Only the operator, only registered platforms, only valid CSRs.
    let anon = Client::new(&server);
    let err = anon
        .post::<_, PlatformCert>(
            "/v1/operator/platforms/p1/certificate",
            &PlatformCertRequest {
                csr_der: csr.to_der().to_vec(),
                days: None,
            },
        )
        .await
        .expect_err("no token");
    assert_eq!(err.1.code, ErrorCode::Unauthorized);
    let err = op
        .post::<_, PlatformCert>(
            "/v1/operator/platforms/nope/certificate",
            &PlatformCertRequest {
                csr_der: csr.to_der().to_vec(),
                days: None,
            },
        )
        .await
        .expect_err("unknown platform");
    assert_eq!(err.1.code, ErrorCode::PlatformNotFound);
    let err = op
        .post::<_, PlatformCert>(
            "/v1/operator/platforms/p1/certificate",
            &PlatformCertRequest {
                csr_der: vec![0x30, 0x03, 0x02, 0x01, 0x00],
                days: None,
            },
        )
        .await
        .expect_err("bad CSR");
    assert_eq!(err.1.code, ErrorCode::InvalidCsr);
}
