//! Fakes for unit tests of the flows: a server that answers from a handler and records what
//! the phone sent, and a [`Bidkey`] over it with an in-memory wallet and a fixed clock. No
//! network, no SQLite, no wall clock (ADR 0032).

use crate::api::{Api, ApiFuture, ApiRequest, ServerApi};
use crate::clock::FixedClock;
use crate::error::{NetworkError, Result};
use crate::keystore::MemoryKeystore;
use crate::wallet::{MemoryStore, StoredSession, Wallet};
use crate::{Bidkey, Parts};
use bidkey_crypto::pin::PinKdfParams;
use reqwest::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The base URL the fake server claims (what QR codes must name as their relay).
pub const BASE: &str = "http://127.0.0.1:8443";

/// A request the phone made, as the fake received it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: Method,
    pub path: String,
    pub token: Option<String>,
    /// The JSON body, parsed (what a test checks the phone said).
    #[allow(dead_code)] // read by the tests that post
    pub body: Option<serde_json::Value>,
}

type Handler = dyn Fn(&Sent) -> Option<Result<Vec<u8>>> + Send + Sync;

/// A server played by a handler: `None` from it is "no such route" (a 404 without the
/// protocol's body, as a stray proxy would answer).
pub struct FakeServer {
    handler: Box<Handler>,
    sent: Mutex<Vec<Sent>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeServer")
    }
}

impl FakeServer {
    pub fn new(
        handler: impl Fn(&Sent) -> Option<Result<Vec<u8>>> + Send + Sync + 'static,
    ) -> Arc<FakeServer> {
        Arc::new(FakeServer {
            handler: Box::new(handler),
            sent: Mutex::new(vec![]),
        })
    }

    /// Everything the phone sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl ServerApi for FakeServer {
    fn base(&self) -> &str {
        BASE
    }

    fn send<'a>(&'a self, req: ApiRequest<'a>) -> ApiFuture<'a, Vec<u8>> {
        let sent = Sent {
            method: req.method,
            path: req.path.to_owned(),
            token: req.token.map(str::to_owned),
            body: req
                .body
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok()),
        };
        if let Ok(mut log) = self.sent.lock() {
            log.push(sent.clone());
        }
        let answer =
            (self.handler)(&sent).unwrap_or(Err(NetworkError::Status { status: 404 }.into()));
        Box::pin(async move { answer })
    }
}

/// JSON of `v` as the server would send it.
pub fn json(v: &impl serde::Serialize) -> Option<Result<Vec<u8>>> {
    Some(Ok(serde_json::to_vec(v).expect("json")))
}

/// The test PIN KDF: fast, the same code path.
pub const FAST: PinKdfParams = PinKdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// A phone over `server` with an in-memory wallet and keystore, a clock at `now`, and
/// logged in when `logged_in` (a stored session, as after a login).
pub fn phone(server: Arc<FakeServer>, now: i64, logged_in: bool) -> (Bidkey, Arc<FixedClock>) {
    let wallet = Wallet::over(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryKeystore::default()),
    );
    if logged_in {
        wallet
            .save_session(&StoredSession {
                account_id: "acc1".into(),
                device_id: "dev1".into(),
                token: "token-1".into(),
                expires_at: now + 3600,
                account_json: serde_json::to_string(&bidkey_protocol::accounts::AccountInfo {
                    id: "acc1".into(),
                    phone_masked: "138****8000".into(),
                    has_password: true,
                    real_name: Some("张三".into()),
                    id_number_masked: None,
                    realname_method: None,
                })
                .expect("json"),
            })
            .expect("session");
    }
    let clock = Arc::new(FixedClock::at(now));
    let core = Bidkey::with_parts(
        Parts {
            wallet,
            api: Api::over(server),
            clock: clock.clone(),
        },
        FAST,
        Duration::from_secs(7200),
    )
    .expect("core");
    (core, clock)
}
