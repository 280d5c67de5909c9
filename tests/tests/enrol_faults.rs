//! A crash or a lost answer at any step of an enrolment never leaves a person without a
//! usable certificate (issue 12, ADR 0005). A fault-injection proxy sits between the phone
//! (the core) and a real server on loopback; for every request of an enrolment — first
//! enrolment, renewal and recovery, on SQLite and PostgreSQL — it strikes once:
//!
//! - before forwarding, and the server is restarted (it was down when the request came);
//! - after the server committed and answered, and the server is restarted (it died before
//!   the answer got out);
//! - after the server committed, the answer dropped (the network failed).
//!
//! Then the app is reopened on the same wallet. Before resuming, the person can still sign and
//! open an old bid file (the old pair stays in force until the phone confirms; a recovering
//! phone may get a `NotFound` saying to resume). Then it enrols again. Afterwards the person
//! signs with the right PIN, an old bid file (encrypted to an earlier encryption key) opens,
//! no PIN try was ever charged, every delivered key was fetched once, and the person has
//! exactly one pair in force.

use bidkey_core::{Bidkey, CoreError};
use bidkey_crypto::sm2;
use bidkey_crypto::x509::Cert;
use bidkey_protocol::accounts::{RealNameRequest, SmsPurpose};
use bidkey_server::db::DbError;
use bidkey_testkit::faults::{Fault, FaultProxy, Seen, When};
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use tempfile::TempDir;

const DECRYPT: &str = "/v1/cosign/decrypt";
const DAY: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// A first personal certificate.
    First,
    /// 续期 in the last month: a new pair, the old encryption key delivered again.
    Renewal,
    /// 证书找回 on a new phone: a new signing key, the current encryption key delivered.
    Recovery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    BeforeThenRestart,
    AfterThenRestart,
    AfterAnswerLost,
}

const MODES: [Mode; 3] = [
    Mode::BeforeThenRestart,
    Mode::AfterThenRestart,
    Mode::AfterAnswerLost,
];

/// A person whose paid application waits to be enrolled on the phone in `dir`.
struct Person {
    seq: u32,
    dir: TempDir,
    /// The lost phone of a recovery.
    _old_dir: Option<TempDir>,
    app_id: String,
    /// A bid file key encrypted to an encryption certificate held before this enrolment.
    old_file: Option<(String, Vec<u8>)>,
}

struct Rig {
    server: Option<TestServer>,
    proxy: FaultProxy,
    flow: Flow,
    next_seq: u32,
}

impl Rig {
    async fn new(store: Store, flow: Flow) -> Rig {
        let server = TestServer::start_with(store, |c| {
            // Every person of the run signs up from loopback.
            c.limits.sms_per_ip_per_hour = 1_000_000;
        })
        .await;
        let proxy = FaultProxy::start(server.running.addr).await;
        Rig {
            server: Some(server),
            proxy,
            flow,
            next_seq: 1,
        }
    }

    fn server(&self) -> &TestServer {
        self.server.as_ref().expect("server")
    }

    async fn restart(&mut self) {
        let server = self.server.take().expect("server");
        self.server = Some(server.restart().await);
    }

    /// The app opened on the wallet in `dir`, talking through the proxy.
    fn phone(&self, dir: &TempDir) -> Bidkey {
        phone_at_url(&self.proxy.url(), dir.path())
    }

    fn number(seq: u32) -> String {
        format!("139{seq:08}")
    }

    fn who(seq: u32) -> RealNameRequest {
        identity("王五", &id_number(seq))
    }

    /// A registered person holding a personal pair; returns its phone's wallet and a bid
    /// file key encrypted to its encryption certificate.
    async fn enrolled(&self, seq: u32) -> (TempDir, (String, Vec<u8>)) {
        let dir = tempfile::tempdir().expect("dir");
        let phone = self.phone(&dir);
        registered(self.server(), &phone, &Rig::number(seq), &Rig::who(seq)).await;
        let app = phone.apply_personal_certificate().await.expect("applied");
        let app = approve_and_pay(self.server(), &phone, &app).await;
        let pair = phone.enroll(&app.id, PIN).await.expect("enrolled");
        let file = encrypted_to(&phone, &pair.encryption_serial, seq);
        (dir, (pair.encryption_serial, file))
    }

    /// `n` people, each with a paid application of this rig's flow.
    async fn people(&mut self, n: usize) -> Vec<Person> {
        let seqs: Vec<u32> = (0..n as u32).map(|i| self.next_seq + i).collect();
        self.next_seq += n as u32;
        let mut people = Vec::new();
        match self.flow {
            Flow::First => {
                for seq in seqs {
                    let dir = tempfile::tempdir().expect("dir");
                    let phone = self.phone(&dir);
                    registered(self.server(), &phone, &Rig::number(seq), &Rig::who(seq)).await;
                    let app = phone.apply_personal_certificate().await.expect("applied");
                    let app = approve_and_pay(self.server(), &phone, &app).await;
                    people.push(Person {
                        seq,
                        dir,
                        _old_dir: None,
                        app_id: app.id,
                        old_file: None,
                    });
                }
            }
            Flow::Renewal => {
                let mut held = Vec::new();
                for &seq in &seqs {
                    held.push((seq, self.enrolled(seq).await));
                }
                // Eleven months later every pair is in its renewal window.
                self.server().running.state.clock.advance(340 * DAY);
                for (seq, (dir, old_file)) in held {
                    let phone = self.phone(&dir);
                    logged_in(self.server(), &phone, &Rig::number(seq)).await;
                    let signing = phone
                        .local_certificates()
                        .expect("wallet")
                        .into_iter()
                        .find(|c| c.usage == "signing")
                        .expect("signing certificate");
                    let app = phone.renew(&signing.serial).await.expect("renewal");
                    let app = approve_and_pay(self.server(), &phone, &app).await;
                    people.push(Person {
                        seq,
                        dir,
                        _old_dir: None,
                        app_id: app.id,
                        old_file: Some(old_file),
                    });
                }
            }
            Flow::Recovery => {
                for seq in seqs {
                    let (old_dir, old_file) = self.enrolled(seq).await;
                    // The phone is lost; on a new one: login, the same person, an SMS code.
                    let dir = tempfile::tempdir().expect("dir");
                    let phone = self.phone(&dir);
                    let number = Rig::number(seq);
                    logged_in(self.server(), &phone, &number).await;
                    let code = code_for(self.server(), &phone, &number, SmsPurpose::Recover).await;
                    let app = phone
                        .recover(&Rig::who(seq), &code, None)
                        .await
                        .expect("recovery application");
                    let app = approve_and_pay(self.server(), &phone, &app).await;
                    people.push(Person {
                        seq,
                        dir,
                        _old_dir: Some(old_dir),
                        app_id: app.id,
                        old_file: Some(old_file),
                    });
                }
            }
        }
        people
    }

    /// `(wrong PINs ever recorded, highest failure count, any key locked)` on the server.
    async fn pin_charges(&self) -> (i64, i64, i64) {
        self.server()
            .running
            .state
            .db
            .read(|tx| {
                let failed = tx
                    .query_opt(
                        "SELECT COUNT(*) FROM audit_log WHERE action = 'pin.failed'",
                        &[],
                    )?
                    .map(|r| r.i64(0))
                    .transpose()?
                    .unwrap_or(0);
                let keys = tx.query_opt(
                    "SELECT COALESCE(MAX(failed_pins), 0), COALESCE(MAX(locked), 0) FROM pin_holders",
                    &[],
                )?;
                let (most, locked) = match keys {
                    Some(r) => (r.i64(0)?, r.i64(1)?),
                    None => (0, 0),
                };
                Ok::<_, DbError>((failed, most, locked))
            })
            .await
            .expect("store readable")
    }
}

fn encrypted_to(phone: &Bidkey, serial: &str, seq: u32) -> Vec<u8> {
    let cert = cert_on(phone, serial);
    sm2::encrypt_der(&cert.sm2_public_key().expect("key"), &file_key(seq)).expect("encrypted")
}

fn file_key(seq: u32) -> Vec<u8> {
    format!("bid file key of {seq}").into_bytes()
}

fn cert_on(phone: &Bidkey, serial: &str) -> Cert {
    let c = phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == serial)
        .unwrap_or_else(|| panic!("certificate {serial} in the wallet"));
    Cert::from_der(&c.der).expect("certificate parses")
}

fn decrypts(log: &[Seen]) -> usize {
    log.iter()
        .filter(|s| s.method == "POST" && s.path == DECRYPT)
        .count()
}

/// After resuming: the person signs, the old (or a new) bid file opens, nothing is pending,
/// one pair is in force with every try left, and no PIN try was ever charged.
async fn check_person(rig: &Rig, phone: &Bidkey, p: &Person, what: &str) {
    let pair = phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .filter(|c| c.usage == "signing" && c.status == "valid")
        .max_by_key(|c| c.not_before)
        .unwrap_or_else(|| panic!("{what}: a signing certificate"));
    let message = format!("bid of {} after {what}", p.seq).into_bytes();
    let sig = phone
        .sign_message(&pair.serial, PIN, &message)
        .await
        .unwrap_or_else(|e| panic!("{what}: signs with the right PIN: {e:?}"));
    let signing = Cert::from_der(&pair.der).expect("cert");
    sm2::verify(
        &signing.sm2_public_key().expect("key"),
        sm2::DEFAULT_ID,
        &message,
        &sig,
    )
    .unwrap_or_else(|e| panic!("{what}: signature verifies: {e:?}"));

    let (serial, file) = match &p.old_file {
        Some(old) => old.clone(),
        None => {
            let enc = phone
                .local_certificates()
                .expect("wallet")
                .into_iter()
                .find(|c| c.usage == "encryption" && c.pair_id == pair.pair_id)
                .unwrap_or_else(|| panic!("{what}: an encryption certificate"));
            let file = encrypted_to(phone, &enc.serial, p.seq);
            (enc.serial, file)
        }
    };
    let opened = phone
        .decrypt(&serial, PIN, &file)
        .await
        .unwrap_or_else(|e| panic!("{what}: the bid file for {serial} opens: {e:?}"));
    assert_eq!(opened.as_slice(), file_key(p.seq), "{what}");

    assert_eq!(
        phone.unfinished_enrollments().expect("wallet"),
        Vec::<String>::new(),
        "{what}: nothing left to resume"
    );
    let list = phone.certificates().await.expect("list");
    assert_eq!(
        list.in_force.len(),
        1,
        "{what}: one pair in force: {list:?}"
    );
    let in_force = &list.in_force[0];
    assert_eq!(in_force.pair_id, pair.pair_id, "{what}");
    assert!(!in_force.key_locked, "{what}");
    assert_eq!(in_force.pin_tries_left, 5, "{what}: every try left");
    assert_eq!(
        rig.pin_charges().await,
        (0, 0, 0),
        "{what}: no PIN try was ever charged"
    );
}

/// Between a fault and the resume: sign with the newest signing key the wallet holds and
/// open the old bid file. Both work, except that a recovering phone may not hold the key of
/// the old file yet, which is a `NotFound` telling to resume; never a PIN verdict.
async fn probe_before_resuming(rig: &Rig, phone: &Bidkey, p: &Person, what: &str) {
    let signing = phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .filter(|c| c.usage == "signing" && c.status == "valid")
        .max_by_key(|c| c.not_before);
    if let Some(c) = signing {
        phone
            .sign_message(&c.serial, PIN, b"meanwhile")
            .await
            .unwrap_or_else(|e| panic!("{what}: signs before resuming with {}: {e:?}", c.serial));
    }
    if let Some((serial, file)) = &p.old_file {
        match phone.decrypt(serial, PIN, file).await {
            Ok(opened) => assert_eq!(opened.as_slice(), file_key(p.seq), "{what}"),
            Err(CoreError::NotFound(m)) if rig.flow == Flow::Recovery => {
                // Once an enrolment is saved, the error says to resume it.
                let unfinished = !phone.unfinished_enrollments().expect("wallet").is_empty();
                assert_eq!(m.contains("resume"), unfinished, "{what}: {m}");
            }
            Err(e) => panic!("{what}: the old bid file before resuming: {e:?}"),
        }
    }
    assert_eq!(
        rig.pin_charges().await,
        (0, 0, 0),
        "{what}: no PIN try charged before resuming"
    );
}

async fn every_fault_is_survived(store: Store, flow: Flow) {
    let mut rig = Rig::new(store, flow).await;

    // A clean enrolment, recorded: the steps to strike.
    let clean = rig.people(1).await.remove(0);
    rig.proxy.take_log();
    let phone = rig.phone(&clean.dir);
    phone
        .enroll(&clean.app_id, PIN)
        .await
        .expect("clean enrolment");
    let steps = rig.proxy.take_log();
    check_person(&rig, &phone, &clean, "a clean run").await;
    let all_decrypts = decrypts(&steps);
    let expected_keys = if flow == Flow::Renewal { 2 } else { 1 };
    assert_eq!(all_decrypts, expected_keys, "{steps:?}");
    let patterns: Vec<String> = steps.iter().map(|s| s.pattern()).collect();
    for route in [
        "/v1/applications/*/enroll/start",
        "/v1/enrollments/*/keygen",
        "/v1/enrollments/*/csr/sign",
        "/v1/enrollments/*/finish",
        "/v1/cosign/sessions",
        DECRYPT,
        "/v1/enrollments/*/confirm",
    ] {
        assert!(
            patterns.iter().any(|p| p == route),
            "{route} in {patterns:?}"
        );
    }

    let people = rig.people(steps.len() * MODES.len()).await;
    let mut people = people.into_iter();
    for (i, step) in steps.iter().enumerate() {
        let pattern = step.pattern();
        let ordinal = steps[..=i]
            .iter()
            .filter(|s| s.method == step.method && s.pattern() == pattern)
            .count();
        for mode in MODES {
            let p = people.next().expect("a person per fault");
            let what = format!(
                "{flow:?} on {store:?}, {mode:?} at step {i} ({} {pattern} #{ordinal})",
                step.method
            );
            rig.proxy.arm(Fault {
                method: step.method.clone(),
                path: pattern.clone(),
                ordinal,
                when: if mode == Mode::BeforeThenRestart {
                    When::Before
                } else {
                    When::After
                },
            });
            let phone = rig.phone(&p.dir);
            let faulted = phone.enroll(&p.app_id, PIN).await;
            let struck = rig.proxy.disarm();
            assert!(struck.is_some(), "{what}: the fault struck");
            assert!(
                matches!(faulted, Err(CoreError::Network(_))),
                "{what}: the phone saw the fault: {faulted:?}"
            );
            drop(phone);
            if mode != Mode::AfterAnswerLost {
                rig.restart().await;
            }
            rig.proxy.take_log();

            // The app is opened again. Before resuming, the person still has a usable pair
            // (the old one stays in force until the phone confirms), and nothing they do with
            // the right PIN is ever judged a wrong PIN.
            let phone = rig.phone(&p.dir);
            probe_before_resuming(&rig, &phone, &p, &what).await;
            rig.proxy.take_log();
            phone
                .enroll(&p.app_id, PIN)
                .await
                .unwrap_or_else(|e| panic!("{what}: resumes: {e:?}"));
            let resumed = rig.proxy.take_log();
            // Keys stored before the fault are not fetched again; the others once.
            let stored_before = decrypts(&steps[..i]);
            assert_eq!(
                decrypts(&resumed),
                all_decrypts - stored_before,
                "{what}: {resumed:?}"
            );
            check_person(&rig, &phone, &p, &what).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_enrolment_survives_a_fault_at_every_step_on_sqlite() {
    every_fault_is_survived(Store::Sqlite, Flow::First).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_survives_a_fault_at_every_step_on_sqlite() {
    every_fault_is_survived(Store::Sqlite, Flow::Renewal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_survives_a_fault_at_every_step_on_sqlite() {
    every_fault_is_survived(Store::Sqlite, Flow::Recovery).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_enrolment_survives_a_fault_at_every_step_on_postgresql() {
    every_fault_is_survived(Store::Postgres, Flow::First).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_survives_a_fault_at_every_step_on_postgresql() {
    every_fault_is_survived(Store::Postgres, Flow::Renewal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_survives_a_fault_at_every_step_on_postgresql() {
    every_fault_is_survived(Store::Postgres, Flow::Recovery).await;
}

/// Strike the first `finish` of `p`'s enrolment (before the server sees it) and return the
/// phone reopened on its wallet, with the enrolment saved and unfinished.
async fn interrupted_before_finish(rig: &Rig, p: &Person) -> Bidkey {
    rig.proxy.arm(Fault {
        method: "POST".into(),
        path: "/v1/enrollments/*/finish".into(),
        ordinal: 1,
        when: When::Before,
    });
    let faulted = rig.phone(&p.dir).enroll(&p.app_id, PIN).await;
    assert!(rig.proxy.disarm().is_some(), "the fault struck");
    assert!(matches!(faulted, Err(CoreError::Network(_))), "{faulted:?}");
    let phone = rig.phone(&p.dir);
    assert_eq!(
        phone.unfinished_enrollments().expect("wallet"),
        vec![p.app_id.clone()]
    );
    phone
}

/// An enrolment saved on the phone but never issued expires at the server (30 minutes);
/// enrolling again then forgets it and starts a new one, instead of failing for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_unfinished_enrolment_starts_again() {
    let mut rig = Rig::new(Store::Sqlite, Flow::First).await;
    let p = rig.people(1).await.remove(0);
    let phone = interrupted_before_finish(&rig, &p).await;
    rig.server().running.state.clock.advance(31 * 60);
    rig.proxy.take_log();
    phone.enroll(&p.app_id, PIN).await.expect("a new enrolment");
    let log = rig.proxy.take_log();
    let finishes = log
        .iter()
        .filter(|s| s.pattern().ends_with("/finish"))
        .count();
    let starts = log
        .iter()
        .filter(|s| s.pattern().ends_with("/enroll/start"))
        .count();
    assert_eq!(
        (finishes, starts),
        (2, 1),
        "the old one refused, a new one: {log:?}"
    );
    check_person(&rig, &phone, &p, "a restarted enrolment").await;
}

/// A mistyped PIN while resuming is a wrong PIN (it is one), and spoils nothing: the saved
/// signing share is moved as stored, and a delivered key is stored only after its
/// co-decryption proved the PIN; resuming with the right PIN then finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_while_resuming_spoils_nothing() {
    let mut rig = Rig::new(Store::Sqlite, Flow::Renewal).await;
    let p = rig.people(1).await.remove(0);
    let phone = interrupted_before_finish(&rig, &p).await;
    let err = phone
        .enroll(&p.app_id, "999999")
        .await
        .expect_err("a wrong PIN");
    assert!(
        matches!(err, CoreError::WrongPin { tries_left: 4 }),
        "{err:?}"
    );
    assert_eq!(
        rig.pin_charges().await,
        (1, 1, 0),
        "counted once, as wrong PINs are"
    );
    // Nothing was stored from the wrong PIN but the signing share, as it was saved.
    let held: Vec<String> = phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .map(|c| c.usage)
        .collect();
    assert_eq!(
        held.iter().filter(|u| *u == "encryption").count(),
        1,
        "only the old pair's key: {held:?}"
    );
    phone
        .enroll(&p.app_id, PIN)
        .await
        .expect("resumed with the right PIN");
    let pair = phone
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .filter(|c| c.usage == "signing" && c.status == "valid")
        .max_by_key(|c| c.not_before)
        .expect("signing certificate");
    phone
        .sign_message(&pair.serial, PIN, b"after a mistyped PIN")
        .await
        .expect("the signing share is intact");
    let (serial, file) = p.old_file.clone().expect("old file");
    let opened = phone.decrypt(&serial, PIN, &file).await.expect("old file");
    assert_eq!(opened.as_slice(), file_key(p.seq));
    let list = phone.certificates().await.expect("list");
    assert_eq!(list.in_force.len(), 1);
    assert_eq!(
        list.in_force[0].pin_tries_left, 5,
        "the right PIN reset the count"
    );
}
