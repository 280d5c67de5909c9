//! Enrolment as a whole flow in a unit test: a fake server that plays the server's side
//! with the real two-party key generation and co-signature (`bidkey_crypto::cosign`'s
//! server half) and a CA issuing from the co-signed CSR; the phone runs over an in-memory
//! wallet and a fixed clock. The same flow against the real server is in `tests/`.

use super::fakes::{self, FakeServer, Sent, json};
use crate::error::{CoreError, NetworkError};
use crate::scan::request::tests::{Pki, T0, key, pki};
use bidkey_crypto::cosign::{
    DeviceKeygenMsg, DeviceSigner, ServerCosigner, ServerShare, SignRequest, server_keygen,
};
use bidkey_crypto::sm2::{DEFAULT_ID, message_digest, verify_digest};
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, Csr, TbsSigner, ca_subject};
use bidkey_protocol::certs::*;
use bidkey_protocol::orders::{Application, ApplicationKind, Status};
use reqwest::Method;
use std::sync::{Arc, Mutex};

const PIN: &str = "246810";
const APP: &str = "app1";
const ENROLMENT: &str = "enr1";

/// The server's side of one enrolment, as far as the phone can see it.
#[derive(Default)]
struct ServerSide {
    server_share: Option<ServerShare>,
    issued: Option<EnrollResult>,
    /// Fail the next `finish` after issuing (its answer is lost on the way).
    lose_next_finish: bool,
    confirmed: bool,
}

struct Ca {
    pki: Pki,
}

impl Ca {
    fn issue_from(&self, csr_der: &[u8]) -> Result<EnrollResult, CoreError> {
        let csr = Csr::from_der(csr_der)?;
        let t = CertTemplate::from_csr(CertProfile::Signing, &csr, T0, T0 + 365 * 86_400)?;
        let signing = Cert::issue(&t, &self.pki.ca, &self.pki.ca_key)?;
        let enc_key = key();
        let enc = Cert::issue(
            &CertTemplate {
                profile: CertProfile::Encryption {
                    key_agreement: false,
                },
                subject: csr.subject().clone(),
                public_key_spki: TbsSigner::public_key_spki(&enc_key)?,
                not_before: T0,
                not_after: T0 + 365 * 86_400,
            },
            &self.pki.ca,
            &self.pki.ca_key,
        )?;
        Ok(EnrollResult {
            application_id: APP.into(),
            pair_id: "pair1".into(),
            signing_serial: signing.serial_hex(),
            signing_cert: signing.to_der().to_vec(),
            encryption_serial: enc.serial_hex(),
            encryption_cert: enc.to_der().to_vec(),
            chain: vec![],
            delivered_keys: vec![],
        })
    }
}

fn application() -> Application {
    Application {
        id: APP.into(),
        kind: ApplicationKind::Personal,
        status: Status::Paid,
        enterprise_id: None,
        enterprise_name: None,
        reason: None,
        order: None,
        created_at: 0,
        updated_at: 0,
        not_before: None,
        review_materials: None,
    }
}

fn body<T: serde::de::DeserializeOwned>(sent: &Sent) -> T {
    serde_json::from_value(sent.body.clone().expect("a body")).expect("the protocol's body")
}

fn server(ca: Arc<Ca>, side: Arc<Mutex<ServerSide>>) -> Arc<FakeServer> {
    let keygen_session = vec![1u8; 32];
    let csr_session = vec![2u8; 32];
    FakeServer::new(move |sent| {
        let mut side = side.lock().expect("lock");
        let enr = format!("/v1/enrollments/{ENROLMENT}");
        match (&sent.method, sent.path.as_str()) {
            (&Method::GET, p) if p == format!("/v1/applications/{APP}") => json(&application()),
            (&Method::POST, p) if p == format!("/v1/applications/{APP}/enroll/start") => {
                json(&EnrollStart {
                    enrollment_id: ENROLMENT.into(),
                    keygen_session: keygen_session.clone(),
                    subject_der: der::Encode::to_der(&ca_subject("张三", "个人").expect("name"))
                        .expect("der"),
                    expires_at: T0 as i64 + 600,
                })
            }
            (&Method::POST, p) if p == format!("{enr}/keygen") => {
                let req: KeygenRequest = body(sent);
                let msg = DeviceKeygenMsg::from_bytes(&req.device_msg).expect("msg");
                let (share, server_msg) = server_keygen(&msg, &keygen_session).expect("keygen");
                side.server_share = Some(share);
                json(&KeygenResponse {
                    server_msg: server_msg.to_bytes().to_vec(),
                    csr_sign_session: csr_session.clone(),
                })
            }
            (&Method::POST, p) if p == format!("{enr}/csr/sign") => {
                let req: CsrSignRequest = body(sent);
                let share = side.server_share.as_ref().expect("keygen first");
                let resp = ServerCosigner::new(share)
                    .sign(
                        &SignRequest::from_bytes(&req.request).expect("req"),
                        &csr_session,
                    )
                    .expect("the phone's proof");
                json(&CsrSignResponse {
                    response: resp.to_bytes().to_vec(),
                })
            }
            (&Method::POST, p) if p == format!("{enr}/finish") => {
                let req: EnrollFinishRequest = body(sent);
                // Issued once; a repeated finish answers what was issued.
                if side.issued.is_none() {
                    side.issued = Some(ca.issue_from(&req.csr_der).expect("a valid CSR"));
                }
                if std::mem::take(&mut side.lose_next_finish) {
                    return Some(Err(NetworkError::Down.into()));
                }
                json(side.issued.as_ref().expect("issued"))
            }
            (&Method::POST, p) if p == format!("{enr}/confirm") => {
                side.confirmed = true;
                json(&EnrollConfirmation {
                    pair_id: "pair1".into(),
                    superseded_pair_ids: vec![],
                    revoked_serials: vec![],
                })
            }
            _ => None,
        }
    })
}

/// The step sequence, with the answer to `finish` lost once: the phone keeps what it needs,
/// and enrolling again resumes at `finish` (no new key) and ends with a working pair.
#[tokio::test]
async fn an_enrolment_whose_finish_is_lost_resumes_to_a_working_pair() {
    let ca = Arc::new(Ca { pki: pki() });
    let side = Arc::new(Mutex::new(ServerSide {
        lose_next_finish: true,
        ..ServerSide::default()
    }));
    let fake = server(ca.clone(), side.clone());
    let (phone, _) = fakes::phone(fake.clone(), T0 as i64 + 10, true);

    let lost = phone.enroll(APP, PIN).await.expect_err("answer lost");
    assert!(
        matches!(lost, CoreError::Network(NetworkError::Down)),
        "{lost:?}"
    );
    assert_eq!(phone.unfinished_enrollments().expect("list"), vec![APP]);
    let pending = phone
        .wallet
        .pending_enrollment_for(APP)
        .expect("q")
        .expect("kept for resuming");
    assert!(
        phone
            .wallet
            .share_meta(&pending.share_key_id())
            .expect("q")
            .is_some(),
        "the new share was stored before finish"
    );

    let pair = phone.enroll(APP, PIN).await.expect("resumed");
    let steps: Vec<String> = fake
        .sent()
        .iter()
        .filter(|s| s.method == Method::POST)
        .map(|s| s.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        steps,
        ["start", "keygen", "sign", "finish", "finish", "confirm"],
        "one key generation; finish sent again on resume"
    );
    assert!(side.lock().expect("lock").confirmed);
    assert!(phone.unfinished_enrollments().expect("list").is_empty());
    assert!(
        phone
            .wallet
            .share_meta(&pending.share_key_id())
            .expect("q")
            .is_none(),
        "the pending share went with its row"
    );
    let issued = side.lock().expect("lock").issued.clone().expect("issued");
    assert_eq!(pair.signing_serial, issued.signing_serial);
    let stored = phone.wallet.certs().expect("certs");
    assert!(
        stored
            .iter()
            .any(|c| c.serial == issued.signing_serial && c.usage == "signing")
    );

    // The share kept under the PIN and the server's share sign together under the
    // certificate's key; under another PIN the server's proof check refuses.
    let joint = Cert::from_der(&issued.signing_cert)
        .expect("cert")
        .sm2_public_key()
        .expect("key");
    let e = message_digest(&joint, DEFAULT_ID, b"a bid").expect("e");
    let session = [3u8; 32];
    let mine = phone
        .wallet
        .share_with_pin(&issued.signing_serial, PIN, fakes::FAST)
        .await
        .expect("share");
    let wrong = phone
        .wallet
        .share_with_pin(&issued.signing_serial, "135791", fakes::FAST)
        .await
        .expect("a share");
    let side = side.lock().expect("lock");
    let server_share = side.server_share.as_ref().expect("share");
    let (signer, req) = DeviceSigner::start(&mine, &joint, &e, &session).expect("start");
    let resp = ServerCosigner::new(server_share)
        .sign(&req, &session)
        .expect("right PIN");
    let sig = signer.finish(&resp).expect("signature");
    verify_digest(&joint, &e, &sig).expect("valid under the certificate's key");
    let (_, req) = DeviceSigner::start(&wrong, &joint, &e, &session).expect("start");
    assert!(
        ServerCosigner::new(server_share)
            .sign(&req, &session)
            .is_err()
    );
}

/// A CA that issues for another key than the phone's: the phone refuses to store it.
#[tokio::test]
async fn a_certificate_for_another_key_is_refused() {
    let ca = Arc::new(Ca { pki: pki() });
    let side = Arc::new(Mutex::new(ServerSide::default()));
    let honest = server(ca.clone(), side.clone());
    let swapped = FakeServer::new(move |sent| {
        if sent.path.ends_with("/finish") {
            // A certificate issued to a key the server chose.
            let other = key();
            let t = CertTemplate {
                profile: CertProfile::Signing,
                subject: ca_subject("张三", "个人").expect("name"),
                public_key_spki: TbsSigner::public_key_spki(&other).expect("spki"),
                not_before: T0,
                not_after: T0 + 86_400,
            };
            let cert = Cert::issue(&t, &ca.pki.ca, &ca.pki.ca_key).expect("cert");
            let mut r = ca
                .issue_from(&body::<EnrollFinishRequest>(sent).csr_der)
                .expect("r");
            r.signing_serial = cert.serial_hex();
            r.signing_cert = cert.to_der().to_vec();
            return json(&r);
        }
        let answer = crate::api::ServerApi::send(
            &*honest,
            crate::api::ApiRequest {
                method: sent.method.clone(),
                path: &sent.path,
                body: sent
                    .body
                    .as_ref()
                    .map(|b| serde_json::to_vec(b).expect("json")),
                token: sent.token.as_deref(),
                idempotency_key: None,
                confirmation: None,
            },
        );
        Some(futures_ready(answer))
    });
    let (phone, _) = fakes::phone(swapped, T0 as i64 + 10, true);
    let err = phone.enroll(APP, PIN).await.expect_err("refused");
    assert!(matches!(err, CoreError::Crypto(_)), "{err:?}");
    assert!(
        phone.wallet.certs().expect("certs").is_empty(),
        "nothing stored"
    );
    assert!(!side.lock().expect("lock").confirmed, "never confirmed");
}

/// The fake's answers are ready at once: poll one to its end without a runtime.
fn futures_ready<T>(f: crate::api::ApiFuture<'_, T>) -> crate::error::Result<T> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = f;
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => Err(NetworkError::Down.into()),
    }
}

/// A recovery still in its cooling-off: the server refuses to start the enrolment; the
/// phone stores nothing, says until when, and the app is told to come back later. Cancelling
/// it from this device is one call the server can check.
#[tokio::test]
async fn a_recovery_in_its_cooling_off_enrols_nothing_and_can_be_cancelled() {
    use crate::NextStep;
    use crate::flows::recovery::{RecoveryState, recovery_state};
    let now = T0 as i64 + 10;
    let until = now + 3_600;
    let app = Application {
        kind: ApplicationKind::Recover,
        status: Status::PendingReview,
        not_before: Some(until),
        ..application()
    };
    let shown = app.clone();
    let fake = FakeServer::new(move |sent| match (&sent.method, sent.path.as_str()) {
        (&Method::GET, p) if p == format!("/v1/applications/{APP}") => json(&shown),
        (&Method::POST, p) if p.ends_with("/enroll/start") => {
            let mut refusal =
                bidkey_protocol::ErrorBody::new(bidkey_protocol::ErrorCode::RecoveryCoolingOff);
            refusal.not_before = Some(until);
            Some(Err(refusal.into()))
        }
        (&Method::POST, p) if p == format!("/v1/certs/recover/{APP}/cancel") => {
            json(&Application {
                status: Status::Closed,
                ..shown.clone()
            })
        }
        _ => None,
    });
    let (phone, clock) = fakes::phone(fake.clone(), now, true);
    let err = phone.enroll(APP, PIN).await.expect_err("cooling off");
    assert_eq!(err, CoreError::RecoveryCoolingOff { until });
    assert_eq!(err.next_step(), NextStep::RetryLater);
    assert!(phone.wallet.shares().expect("shares").is_empty());
    assert!(phone.unfinished_enrollments().expect("list").is_empty());

    // Where it stands, by the time of the server's last answer.
    assert_eq!(
        recovery_state(&app, crate::clock::Clock::now(&*clock)),
        Some(RecoveryState::CoolingOff { until })
    );
    clock.set(until);
    assert_eq!(
        recovery_state(&app, crate::clock::Clock::now(&*clock)),
        Some(RecoveryState::InReview)
    );

    let cancelled = phone.cancel_recovery(APP).await.expect("cancelled");
    assert_eq!(
        recovery_state(&cancelled, until),
        Some(RecoveryState::Cancelled)
    );
    let last = fake.sent().pop().expect("sent");
    assert_eq!(last.token.as_deref(), Some("token-1"));
    // A malformed id never reaches the server.
    let before = fake.sent().len();
    assert!(phone.cancel_recovery("../admin").await.is_err());
    assert_eq!(fake.sent().len(), before);
}
