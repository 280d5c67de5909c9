//! The phone's side of enrolment, co-signing and co-decryption, computed in the tests with
//! `bidkey_crypto::cosign` (the real phone core comes later).

use super::{Answer, Client, TestServer};
use bidkey_crypto::cosign::{self, DeviceDecryptor, DeviceKeygen, DeviceShare, DeviceSigner};
use bidkey_crypto::envelope::EnvelopedKey;
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2Ciphertext, Sm2PublicKey, Sm2Signature};
use bidkey_crypto::x509::{Cert, CsrDraft, Name};
use bidkey_protocol::accounts::*;
use bidkey_protocol::certs::*;
use bidkey_protocol::cosign::{self as cw, CosignPurpose};
use bidkey_protocol::orders::{self as ow, PayRequest, ReviewDecision};
use der::Decode;
use std::collections::HashMap;

/// What a phone keeps after enrolment: its shares (in the real app masked under the PIN).
pub struct Wallet {
    pub result: EnrollResult,
    pub signing: Cert,
    pub signing_public: Sm2PublicKey,
    pub signing_share: DeviceShare,
    /// Device shares of encryption keys by certificate serial.
    pub enc_shares: HashMap<String, DeviceShare>,
}

impl Wallet {
    pub fn signing_serial(&self) -> String {
        self.result.signing_serial.clone()
    }

    pub fn encryption_cert(&self) -> Cert {
        Cert::from_der(&self.result.encryption_cert).expect("encryption cert")
    }
}

/// Send an SMS code for `purpose` and read it from the outbox. Moves the server clock past
/// the one-per-minute sending limit first.
pub async fn sms(server: &TestServer, phone: &str, purpose: SmsPurpose) -> String {
    server.running.state.clock.advance(61);
    let _: SendSmsResponse = Client::new(server)
        .post(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: phone.into(),
                purpose,
            },
        )
        .await
        .expect("sms sent");
    server.sms_code(phone).await
}

/// Log in by SMS on another phone (a new device).
pub async fn login_new_device(server: &TestServer, phone: &str) -> Client {
    let code = sms(server, phone, SmsPurpose::Login).await;
    let s: Session = Client::new(server)
        .post(
            "/v1/sessions/sms",
            &SmsLoginRequest {
                phone: phone.into(),
                code,
                device_name: Some("second phone".into()),
                device_id: None,
            },
        )
        .await
        .expect("logged in");
    Client::new(server).with_token(&s.token)
}

/// Log in again by SMS as the device that holds the pair `pair_id` (after the token
/// expired, e.g. when the test moved the clock by months).
pub async fn login_again(server: &TestServer, phone: &str, pair_id: &str) -> Client {
    let pair = pair_id.to_owned();
    let device: String = server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query_opt(
                "SELECT device_id FROM cert_pairs WHERE id = $1",
                &[bidkey_server::db::Value::Text(pair.clone())],
            )?
            .map(|r| r.text(0))
            .transpose()
            .map(Option::unwrap_or_default)
        })
        .await
        .map_err(|e: bidkey_server::db::DbError| e)
        .expect("device");
    let code = sms(server, phone, SmsPurpose::Login).await;
    let s: Session = Client::new(server)
        .post(
            "/v1/sessions/sms",
            &SmsLoginRequest {
                phone: phone.into(),
                code,
                device_name: None,
                device_id: Some(device.clone()),
            },
        )
        .await
        .expect("logged in again");
    assert_eq!(s.device_id, device, "same device");
    Client::new(server).with_token(&s.token)
}

pub fn operator(server: &TestServer) -> Client {
    Client::new(server).with_token(&server.operator_token())
}

/// The RA approves an application in review.
pub async fn approve(server: &TestServer, app_id: &str) {
    let _: ow::Application = operator(server)
        .post(
            &format!("/v1/operator/reviews/{app_id}"),
            &ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect("approved");
}

/// The RA approves a recovery once its cooling-off is over: the server clock moves to the
/// end of the cooling-off first (time passes, as it would).
pub async fn approve_recovery(server: &TestServer, app: &ow::Application) {
    let clock = &server.running.state.clock;
    let until = app.not_before.expect("a recovery is held");
    clock.advance((until - clock.now()).max(0));
    approve(server, &app.id).await;
}

/// Pay an application's order in the sandbox.
pub async fn pay(c: &Client, app_id: &str) {
    let app: ow::Application = c
        .get(&format!("/v1/applications/{app_id}"))
        .await
        .expect("application");
    let order = app.order.expect("order");
    let _: ow::Order = c
        .post(
            &format!("/v1/orders/{}/pay", order.id),
            &PayRequest {
                provider: "sandbox".into(),
            },
        )
        .await
        .expect("paid");
}

/// A personal application (real-named account), approved and paid.
pub async fn paid_personal_application(server: &TestServer, c: &Client) -> String {
    let app: ow::Application = c
        .post(
            "/v1/applications/personal",
            &PersonalApplicationRequest::default(),
        )
        .await
        .expect("applied");
    approve(server, &app.id).await;
    pay(c, &app.id).await;
    app.id
}

/// Enrol for a paid application up to (not including) `finish`: returns the enrolment id,
/// the CSR, and the device's new signing share and key.
pub async fn enroll_until_finish(
    c: &Client,
    app_id: &str,
) -> (String, Vec<u8>, DeviceShare, Sm2PublicKey) {
    let start: EnrollStart = c
        .post(
            &format!("/v1/applications/{app_id}/enroll/start"),
            &serde_json::json!({}),
        )
        .await
        .expect("enrolment started");
    let (keygen, msg) = DeviceKeygen::start(&start.keygen_session).expect("keygen");
    let kg: KeygenResponse = c
        .post(
            &format!("/v1/enrollments/{}/keygen", start.enrollment_id),
            &KeygenRequest {
                device_msg: msg.to_bytes().to_vec(),
            },
        )
        .await
        .expect("server keygen");
    let server_msg = cosign::ServerKeygenMsg::from_bytes(&kg.server_msg).expect("server msg");
    let (share, public) = keygen.finish(&server_msg).expect("joint");
    let subject = Name::from_der(&start.subject_der).expect("subject");
    let draft = CsrDraft::new(subject, &public.to_spki_der().expect("spki")).expect("draft");
    let e = draft.sm2_digest().expect("digest");
    let (signer, req) =
        DeviceSigner::start(&share, &public, &e, &kg.csr_sign_session).expect("sign start");
    let resp: CsrSignResponse = c
        .post(
            &format!("/v1/enrollments/{}/csr/sign", start.enrollment_id),
            &CsrSignRequest {
                request: req.to_bytes().to_vec(),
            },
        )
        .await
        .expect("CSR co-signed");
    let resp = cosign::SignResponse::from_bytes(&resp.response).expect("response");
    let sig = signer.finish(&resp).expect("signature");
    let csr = draft.assemble(&sig.to_der()).expect("CSR");
    (start.enrollment_id, csr.to_der().to_vec(), share, public)
}

/// Signed up on `phone`, real-named as `name`, and a personal pair enrolled.
pub async fn enrolled_person(
    server: &TestServer,
    phone: &str,
    name: &str,
    id_number: &str,
) -> (Client, Wallet) {
    let c = super::signed_up(server, phone).await;
    super::real_named(&c, name, id_number).await;
    let app = paid_personal_application(server, &c).await;
    let w = enroll(&c, &app).await;
    (c, w)
}

/// A share from a wrong PIN: some other scalar.
pub fn wrong_share() -> DeviceShare {
    let k = bidkey_crypto::sm2::Sm2PrivateKey::make_random().expect("key");
    DeviceShare::from_bytes(k.to_bytes().as_slice()).expect("share")
}

/// The whole enrolment, then open every delivered key envelope by co-decryption, then
/// confirm.
pub async fn enroll(c: &Client, app_id: &str) -> Wallet {
    let (enrollment, w) = enroll_unconfirmed(c, app_id).await;
    // Everything is on the phone: the pairs this one replaces end now (ADR 0005).
    let confirmed = confirm(c, &enrollment).await.expect("enrolment confirmed");
    assert_eq!(confirmed.pair_id, w.result.pair_id);
    w
}

/// `POST /v1/enrollments/{id}/confirm`.
pub async fn confirm(c: &Client, enrollment: &str) -> Answer<EnrollConfirmation> {
    c.post(
        &format!("/v1/enrollments/{enrollment}/confirm"),
        &serde_json::json!({}),
    )
    .await
}

/// The enrolment up to (not including) `confirm`: returns the enrolment id and the wallet.
pub async fn enroll_unconfirmed(c: &Client, app_id: &str) -> (String, Wallet) {
    let (enrollment, csr, share, public) = enroll_until_finish(c, app_id).await;
    let result: EnrollResult = c
        .post(
            &format!("/v1/enrollments/{enrollment}/finish"),
            &EnrollFinishRequest { csr_der: csr },
        )
        .await
        .expect("certificates issued");
    let signing = Cert::from_der(&result.signing_cert).expect("signing cert");
    assert_eq!(signing.sm2_public_key().expect("sm2"), public);
    let mut enc_shares = HashMap::new();
    for k in &result.delivered_keys {
        let env = EnvelopedKey::from_der(&k.envelope).expect("envelope");
        let sym = co_decrypt_as(
            c,
            &result.signing_serial,
            &share,
            env.sym_key_ciphertext(),
            CosignPurpose::KeyDelivery,
        )
        .await
        .expect("envelope key co-decrypted");
        let d1 = env
            .open_with_sym_key(&public, &sym)
            .expect("envelope opens");
        enc_shares.insert(
            k.serial.clone(),
            DeviceShare::from_bytes(d1.as_slice()).expect("share"),
        );
    }
    (
        enrollment,
        Wallet {
            result,
            signing,
            signing_public: public,
            signing_share: share,
            enc_shares,
        },
    )
}

pub async fn open_session(c: &Client, serial: &str, purpose: CosignPurpose) -> Answer<cw::Session> {
    open_session_in(c, serial, None, purpose).await
}

/// A session with the server share of `pair_id` (the newest without one).
pub async fn open_session_in(
    c: &Client,
    serial: &str,
    pair_id: Option<&str>,
    purpose: CosignPurpose,
) -> Answer<cw::Session> {
    c.post(
        "/v1/cosign/sessions",
        &cw::OpenSession {
            serial: serial.into(),
            purpose,
            pair_id: pair_id.map(str::to_owned),
            confirm: None,
        },
    )
    .await
}

/// Confirm `action` with the PIN (ADR 0018): open a `confirm` session for it, co-sign the
/// server's challenge with `share`, and return the session id (hex) for the action's
/// `x-bidkey-confirmation` header.
pub async fn confirmation(c: &Client, w: &Wallet, action: cw::AdminAction) -> String {
    confirmation_with(c, w, &w.signing_share, action)
        .await
        .expect("confirmed")
}

/// [`confirmation`] with a given share (a wrong one: a wrong PIN).
pub async fn confirmation_with(
    c: &Client,
    w: &Wallet,
    share: &DeviceShare,
    action: cw::AdminAction,
) -> Answer<String> {
    let s: cw::Session = c
        .post(
            "/v1/cosign/sessions",
            &cw::OpenSession {
                serial: w.signing_serial(),
                purpose: CosignPurpose::Confirm,
                pair_id: None,
                confirm: Some(action),
            },
        )
        .await?;
    let challenge = s.challenge.clone().expect("challenge");
    co_sign_in(c, &s, share, &w.signing_public, &challenge).await?;
    Ok(hex::encode(&s.session_id))
}

/// A client that confirms `action` with the PIN: `c` with the confirmation's header.
pub async fn confirmed(c: &Client, w: &Wallet, action: cw::AdminAction) -> Client {
    c.confirming(&confirmation(c, w, action).await)
}

/// Co-sign `msg` (default SM2 ID) with the signing key; the server releases the checked
/// signature.
pub async fn co_sign(
    c: &Client,
    serial: &str,
    share: &DeviceShare,
    public: &Sm2PublicKey,
    msg: &[u8],
) -> Answer<Sm2Signature> {
    let s = open_session(c, serial, CosignPurpose::Sign).await?;
    co_sign_in(c, &s, share, public, msg).await
}

/// Co-sign in an open session.
pub async fn co_sign_in(
    c: &Client,
    s: &cw::Session,
    share: &DeviceShare,
    public: &Sm2PublicKey,
    msg: &[u8],
) -> Answer<Sm2Signature> {
    let (signer, req) = DeviceSigner::start_message(share, public, DEFAULT_ID, msg, &s.session_id)
        .expect("sign start");
    let resp: cw::SignResponse = c
        .post(
            "/v1/cosign/sign",
            &cw::SignRequest {
                session_id: s.session_id.clone(),
                request: req.to_bytes().to_vec(),
            },
        )
        .await?;
    let resp = cosign::SignResponse::from_bytes(&resp.response).expect("response");
    let sig = signer.finish(&resp).expect("finish");
    let done: cw::SignDone = c
        .post(
            "/v1/cosign/sign/finish",
            &cw::SignFinish {
                session_id: s.session_id.clone(),
                signature: sig.to_der(),
            },
        )
        .await?;
    Ok(Sm2Signature::from_der(&done.signature).expect("signature"))
}

/// Co-decrypt an SM2 ciphertext with the encryption key of certificate `serial`.
pub async fn co_decrypt(
    c: &Client,
    serial: &str,
    share: &DeviceShare,
    ct: &Sm2Ciphertext,
) -> Answer<Vec<u8>> {
    co_decrypt_in(c, serial, None, share, ct).await
}

/// Co-decrypt with the server share of `pair_id` (the newest without one).
pub async fn co_decrypt_in(
    c: &Client,
    serial: &str,
    pair_id: Option<&str>,
    share: &DeviceShare,
    ct: &Sm2Ciphertext,
) -> Answer<Vec<u8>> {
    co_decrypt_with(c, serial, pair_id, share, ct, CosignPurpose::Decrypt).await
}

/// Co-decrypt in a session opened for `purpose` (`KeyDelivery`: an enrolment's envelope,
/// with the signing key).
pub async fn co_decrypt_as(
    c: &Client,
    serial: &str,
    share: &DeviceShare,
    ct: &Sm2Ciphertext,
    purpose: CosignPurpose,
) -> Answer<Vec<u8>> {
    co_decrypt_with(c, serial, None, share, ct, purpose).await
}

async fn co_decrypt_with(
    c: &Client,
    serial: &str,
    pair_id: Option<&str>,
    share: &DeviceShare,
    ct: &Sm2Ciphertext,
    purpose: CosignPurpose,
) -> Answer<Vec<u8>> {
    let s = open_session_in(c, serial, pair_id, purpose).await?;
    let (decryptor, req) = DeviceDecryptor::start(share, ct, &s.session_id).expect("start");
    let resp: cw::DecryptResponse = c
        .post(
            "/v1/cosign/decrypt",
            &cw::DecryptRequest {
                session_id: s.session_id.clone(),
                request: req.to_bytes().to_vec(),
            },
        )
        .await?;
    let resp = cosign::DecryptResponse::from_bytes(&resp.response).expect("response");
    Ok(decryptor.finish(&resp).expect("decrypts").to_vec())
}

/// The CA chain and both current CRLs.
pub async fn chain_and_crls(
    c: &Client,
) -> (
    Cert,
    Cert,
    bidkey_crypto::x509::Crl,
    bidkey_crypto::x509::Crl,
) {
    let chain: CaChain = c.get("/v1/ca/chain").await.expect("chain");
    let root = Cert::from_der(&chain.root_der).expect("root");
    let issuing = Cert::from_der(&chain.issuing_der).expect("issuing");
    let crl = bidkey_crypto::x509::Crl::from_der(&raw(c, "/v1/ca/crl").await).expect("crl");
    let arl = bidkey_crypto::x509::Crl::from_der(&raw(c, "/v1/ca/crl/root").await).expect("arl");
    (root, issuing, crl, arl)
}

/// GET raw bytes.
pub async fn raw(c: &Client, path: &str) -> Vec<u8> {
    let resp = c.http.get(c.url(path)).send().await.expect("reachable");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.bytes().await.expect("body").to_vec()
}
