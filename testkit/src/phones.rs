//! Phones (wallet directories of the core) against a test server on loopback, the
//! operator's side driven over HTTP, and registered trading platforms with certificates:
//! what the integration tests of several crates share.

use crate::TestServer;
use bidkey_core::{Bidkey, CoreConfig, SoftwareKeystore};
use bidkey_crypto::pin::PinKdfParams;
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest, SmsPurpose};
use bidkey_protocol::orders::{Application, ReviewDecision, Status};
use std::path::Path;
use std::sync::Arc;

pub const PIN: &str = "123456";

/// A phone: a wallet in `dir` with the software keystore and a fast PIN KDF.
pub fn phone_at(server: &TestServer, dir: &Path) -> Bidkey {
    phone_at_url(&server.url(), dir)
}

/// A phone whose server is at `url` (e.g. a proxy in front of the test server).
pub fn phone_at_url(url: &str, dir: &Path) -> Bidkey {
    phone_configured(url, dir, |_| {})
}

/// A phone whose configuration `adjust` changes first (e.g. the auto-confirm cap).
pub fn phone_configured(url: &str, dir: &Path, adjust: impl FnOnce(&mut CoreConfig)) -> Bidkey {
    let mut config = CoreConfig::new(url, dir.to_path_buf());
    config.pin_kdf = PinKdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    adjust(&mut config);
    Bidkey::open(config, Arc::new(SoftwareKeystore::new(dir))).expect("core opens")
}

pub fn identity(name: &str, id_number: &str) -> RealNameRequest {
    RealNameRequest {
        method: RealNameMethod::Cfca,
        name: name.into(),
        id_number: id_number.into(),
        bank_card: None,
        bank_phone: None,
    }
}

/// Sign up `number` on `phone` and pass real-name as `who`.
pub async fn registered(server: &TestServer, phone: &Bidkey, number: &str, who: &RealNameRequest) {
    phone
        .send_sms_code(number, SmsPurpose::Signup)
        .await
        .expect("sms");
    let code = server.sms_code(number).await;
    phone
        .sign_up(number, &code, "test phone")
        .await
        .expect("sign up");
    phone.verify_real_name(who).await.expect("real-name");
}

/// Log `number` in on `phone` by SMS.
pub async fn logged_in(server: &TestServer, phone: &Bidkey, number: &str) {
    server.running.state.clock.advance(61);
    phone
        .send_sms_code(number, SmsPurpose::Login)
        .await
        .expect("sms");
    let code = server.sms_code(number).await;
    phone
        .login_with_sms(number, &code, "new phone")
        .await
        .expect("login");
}

/// A fresh SMS code for `purpose`, past the resend limit.
pub async fn code_for(
    server: &TestServer,
    phone: &Bidkey,
    number: &str,
    purpose: SmsPurpose,
) -> String {
    server.running.state.clock.advance(61);
    phone.send_sms_code(number, purpose).await.expect("sms");
    server.sms_code(number).await
}

/// The operator approves `app` if it waits for review; then the applicant pays.
pub async fn approve_and_pay(
    server: &TestServer,
    phone: &Bidkey,
    app: &Application,
) -> Application {
    let mut app = app.clone();
    if app.status == Status::PendingReview {
        // A recovery may be approved only after its cooling-off (ADR 0011): the server's
        // clock is stepped over it for the approval alone, and back.
        let clock = &server.running.state.clock;
        let wait = app.not_before.map_or(0, |t| (t - clock.now()).max(0));
        clock.advance(wait);
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/v1/operator/reviews/{}",
                server.operator_url(),
                app.id
            ))
            .bearer_auth(server.operator_token())
            .json(&ReviewDecision {
                approve: true,
                reason: None,
            })
            .send()
            .await;
        clock.advance(-wait);
        let resp = resp.expect("operator call");
        assert!(resp.status().is_success(), "review: {}", resp.status());
        app = phone.application(&app.id).await.expect("application");
    }
    if app.status == Status::AwaitingPayment {
        let order = app.order.as_ref().expect("order");
        phone.pay_order(&order.id).await.expect("paid");
        app = phone.application(&app.id).await.expect("application");
    }
    assert_eq!(app.status, Status::Paid, "{app:?}");
    app
}

/// A valid resident ID number (GB 11643 check digit) for person `seq`, different for every
/// `seq` below 28,000 (the birth day moves on every thousand).
pub fn id_number(seq: u32) -> String {
    let body = format!("110101199001{:02}{:03}", 1 + (seq / 1000) % 28, seq % 1000);
    let check = bidkey_server::realname::id_check_character(&body).unwrap_or('0');
    format!("{body}{check}")
}

/// A unified social credit code with a correct GB 32100 check character.
pub fn uscc(seq: u32) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("91500000{seq:09}");
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.iter().position(|&a| a == c).expect("alphabet") as u32 * w)
        .sum();
    format!(
        "{body}{}",
        char::from(ALPHABET[((31 - sum % 31) % 31) as usize])
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn id_numbers_are_distinct_and_pass_the_servers_check() {
        let ids: std::collections::HashSet<String> = (0..28_000).map(super::id_number).collect();
        assert_eq!(ids.len(), 28_000);
        assert!(
            ids.iter()
                .all(|id| bidkey_server::realname::valid_id_number(id))
        );
        // The first thousand are the numbers the tests have always used.
        assert_eq!(super::id_number(1), "110101199001010015");
    }
}

/// A small PNG the server accepts (signature, IHDR, IEND).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&w.to_be_bytes());
    png.extend_from_slice(&h.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    png
}

/// An operator call over HTTP with the operator token; panics unless it succeeds.
pub async fn operator<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: &B,
) -> T {
    let resp = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url_for(path)))
        .bearer_auth(server.operator_token())
        .json(body)
        .send()
        .await
        .expect("operator call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("operator answer")
}

/// Feed one bank statement line from `payer_name` (the enterprise's name, as the bank
/// prints the payer) through the signed webhook, as the bank does.
pub async fn bank_credit(
    server: &TestServer,
    payer_name: &str,
    txn: &str,
    last6: &str,
    amount_fen: i64,
    reference: &str,
) -> bidkey_protocol::platforms::BankImport {
    let key = std::fs::read(server.data_dir.path().join("bank-webhook.key")).expect("key file");
    let ts = server.running.state.clock.now();
    let body = serde_json::json!({ "transactions": [{
        "bank_txn_id": txn,
        "booked_at": ts,
        "payer_account": format!("6222020200001{last6}"),
        "payer_name": payer_name,
        "amount_fen": amount_fen,
        "reference": reference,
    }]})
    .to_string()
    .into_bytes();
    let sig = bidkey_server::bank::sign(&key, ts, &body);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/bank/webhook", server.url()))
        .header("content-type", "application/json")
        .header("x-bidkey-timestamp", ts.to_string())
        .header("x-bidkey-signature", sig)
        .body(body)
        .send()
        .await
        .expect("server reachable");
    assert!(resp.status().is_success(), "webhook: {}", resp.status());
    resp.json().await.expect("import answer")
}

/// A trading platform the operator registered, with its SM2 certificate and key.
#[derive(Debug)]
pub struct RegisteredPlatform {
    pub platform: bidkey_protocol::platforms::Platform,
    pub cert_der: Vec<u8>,
    pub key: bidkey_crypto::sm2::Sm2PrivateKey,
}

impl RegisteredPlatform {
    /// A second key object with the platform's scalar, for a `PlatformIdentity` that takes
    /// its key by value (private keys are not `Clone`).
    pub fn key_copy(&self) -> bidkey_crypto::sm2::Sm2PrivateKey {
        bidkey_crypto::sm2::Sm2PrivateKey::from_bytes(self.key.to_bytes().as_slice())
            .expect("a key's own bytes")
    }
}

/// The operator registers platform `name` at `origin` and issues its certificate from a
/// CSR of a fresh SM2 key.
pub async fn registered_platform(
    server: &TestServer,
    name: &str,
    origin: &str,
) -> RegisteredPlatform {
    use bidkey_crypto::x509::{CsrDraft, ca_subject};
    let platform: bidkey_protocol::platforms::Platform = operator(
        server,
        reqwest::Method::POST,
        "/v1/operator/platforms",
        &bidkey_protocol::platforms::NewPlatform {
            name: name.into(),
            origin: origin.into(),
            region: Some("重庆".into()),
            latitude: None,
            longitude: None,
        },
    )
    .await;
    let key = bidkey_crypto::sm2::Sm2PrivateKey::make_random().expect("key");
    let spki = key.public_key().to_spki_der().expect("spki");
    let draft = CsrDraft::new(ca_subject(origin, name).expect("subject"), &spki).expect("draft");
    let sig = key
        .sign(bidkey_crypto::sm2::DEFAULT_ID, draft.to_be_signed())
        .expect("sign");
    let csr = draft.assemble(&sig.to_der()).expect("csr");
    let cert: bidkey_protocol::certs::PlatformCert = operator(
        server,
        reqwest::Method::POST,
        &format!("/v1/operator/platforms/{}/certificate", platform.id),
        &bidkey_protocol::certs::PlatformCertRequest {
            csr_der: csr.to_der().to_vec(),
            days: None,
        },
    )
    .await;
    RegisteredPlatform {
        platform,
        cert_der: cert.cert_der,
        key,
    }
}

/// An enterprise claimed (licence PNG, CA review, payment) by `admin`, who then holds its
/// certificate pair, and joined by `staff` (admin and CA approve), who holds one too.
#[derive(Debug, Clone)]
pub struct EnterpriseTeam {
    pub enterprise_id: String,
    pub admin_pair: bidkey_core::flows::certs::EnrolledPair,
    pub staff_pair: bidkey_core::flows::certs::EnrolledPair,
}

pub async fn enterprise_team(
    server: &TestServer,
    admin: &Bidkey,
    staff: &Bidkey,
    uscc: &str,
    name: &str,
) -> EnterpriseTeam {
    let claim = admin
        .claim_enterprise(
            uscc,
            name,
            None,
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await
        .expect("claimed");
    let enterprise_id = claim.enterprise_id.clone().expect("enterprise");
    let paid = approve_and_pay(server, admin, &claim).await;
    let admin_pair = admin.enroll(&paid.id, PIN).await.expect("admin enrolled");
    let join = staff.join_enterprise(&enterprise_id).await.expect("join");
    let approved = admin
        .approve_join(&enterprise_id, &join.id)
        .await
        .expect("admin approves");
    let paid = approve_and_pay(server, staff, &approved).await;
    let staff_pair = staff.enroll(&paid.id, PIN).await.expect("staff enrolled");
    EnterpriseTeam {
        enterprise_id,
        admin_pair,
        staff_pair,
    }
}

/// 张三 (the admin) and 李四 (the staff member) registered on their own phones, their
/// enterprise claimed and joined with a certificate pair each, and 李四 granted on a
/// registered trading platform: where most scan tests start.
#[derive(Debug)]
pub struct GrantedTeam {
    /// The two wallets' directories (kept alive as long as the phones).
    pub dirs: Vec<tempfile::TempDir>,
    pub admin: Bidkey,
    pub staff: Bidkey,
    pub team: EnterpriseTeam,
    pub platform: RegisteredPlatform,
}

pub async fn granted_team(
    server: &TestServer,
    uscc: &str,
    name: &str,
    platform_name: &str,
    origin: &str,
) -> GrantedTeam {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let admin = phone_at(server, dirs[0].path());
    let staff = phone_at(server, dirs[1].path());
    registered(
        server,
        &admin,
        "13900000001",
        &identity("张三", &id_number(1)),
    )
    .await;
    registered(
        server,
        &staff,
        "13900000002",
        &identity("李四", &id_number(2)),
    )
    .await;
    let team = enterprise_team(server, &admin, &staff, uscc, name).await;
    let platform = registered_platform(server, platform_name, origin).await;
    let staff_id = staff.account().expect("wallet").expect("in").id;
    admin
        .add_grant(&team.enterprise_id, &staff_id, &platform.platform.id, PIN)
        .await
        .expect("granted");
    GrantedTeam {
        dirs,
        admin,
        staff,
        team,
        platform,
    }
}

/// `phone` encrypts `plain` as a bid (`投标文件.zip`) of `enterprise_id` for `tender_id` on
/// `platform_id`, to every member granted there (k-of-n with `threshold`): the file and
/// what was written.
pub async fn encrypted_bid(
    phone: &Bidkey,
    enterprise_id: &str,
    platform_id: &str,
    tender_id: &str,
    plain: &[u8],
    threshold: Option<u8>,
) -> (Vec<u8>, bidkey_core::flows::bids::EncryptedBid) {
    let mut out = Vec::new();
    let enc = phone
        .encrypt_bid(
            &bidkey_core::flows::bids::BidTarget {
                threshold,
                enterprise_id: enterprise_id.into(),
                platform_id: platform_id.into(),
                tender_id: tender_id.into(),
                file_name: "投标文件.zip".into(),
            },
            &mut &plain[..],
            &mut out,
            None,
            &mut |_, _| {},
        )
        .await
        .expect("the bidder encrypts");
    (out, enc)
}

/// What a trading platform holds to scan as `p` at `origin` through the platform SDK: its
/// scan client, the verifier of the phones' replies (on the server's clock) and the Bidkey
/// CA it pinned from the server.
#[derive(Debug)]
pub struct PlatformSide {
    pub client: bidkey_platform::scan::ScanClient,
    pub verifier: bidkey_platform::scan::verify::ReplyVerifier,
    pub anchor: bidkey_platform::verify::TrustAnchor,
}

pub async fn platform_side(
    server: &TestServer,
    p: &RegisteredPlatform,
    origin: &str,
) -> PlatformSide {
    use bidkey_platform::scan::{PlatformIdentity, ScanClient};
    let api = bidkey_platform::client::PlatformClient::new(
        &server.url(),
        None,
        std::time::Duration::from_secs(40),
    )
    .expect("platform client");
    let client = ScanClient::new(
        &api,
        PlatformIdentity {
            platform_id: p.platform.id.clone(),
            origin: origin.into(),
            cert_der: p.cert_der.clone(),
            key: bidkey_crypto::scan::PlatformKey::Sm2(p.key_copy()),
        },
    );
    let anchor = bidkey_platform::verify::TrustAnchor::fetch(&api, None)
        .await
        .expect("trust anchor");
    let verifier = bidkey_platform::scan::verify::ReplyVerifier::new(
        api.signed_by(client.request_key())
            .with_clock(server.unix_clock()),
        bidkey_platform::verify::Verifier::new(anchor.clone()),
        &p.platform.id,
    );
    PlatformSide {
        client,
        verifier,
        anchor,
    }
}
