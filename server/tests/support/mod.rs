//! An HTTP client for the server tests: JSON in, JSON or the error body out.

#![allow(dead_code)]

use bidkey_protocol::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use bidkey_testkit::{Store, TestServer};

/// `on_both_stores!(a, b, …)`: each `async fn a(store: Store)` of the test file runs as
/// `sqlite::a` and `postgres::a` (the file declares `#[macro_use] mod support;`).
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Store::Sqlite).await }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Store::Postgres).await }
        )* }
    };
}

pub mod device;
pub mod openapi;

/// Paths under `/v1/operator/` and `/metrics` go to the operator listener, the rest to the
/// public one, as an operator's tools and the phones reach them.
pub struct Client {
    pub base: String,
    pub operator_base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
    /// A PIN confirmation (`x-bidkey-confirmation`) sent with every request (ADR 0018).
    pub confirmation: Option<String>,
}

pub type Answer<T> = Result<T, (u16, ErrorBody)>;

impl Client {
    pub fn new(server: &TestServer) -> Self {
        Client {
            base: server.url(),
            operator_base: server.operator_url(),
            http: reqwest::Client::new(),
            token: None,
            confirmation: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Client {
            base: self.base.clone(),
            operator_base: self.operator_base.clone(),
            http: self.http.clone(),
            token: Some(token.to_owned()),
            confirmation: self.confirmation.clone(),
        }
    }

    /// The same client, sending `session_hex` as its PIN confirmation (ADR 0018).
    pub fn confirming(&self, session_hex: &str) -> Self {
        Client {
            base: self.base.clone(),
            operator_base: self.operator_base.clone(),
            http: self.http.clone(),
            token: self.token.clone(),
            confirmation: Some(session_hex.to_owned()),
        }
    }

    /// The URL of `path` on the listener that serves it.
    pub fn url(&self, path: &str) -> String {
        if bidkey_testkit::is_operator_path(path) {
            format!("{}{path}", self.operator_base)
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Answer<T> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let req = match &self.confirmation {
            Some(c) => req.header(bidkey_protocol::cosign::CONFIRMATION_HEADER, c),
            None => req,
        };
        let resp = req.send().await.expect("server reachable");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        if (200..300).contains(&status) {
            Ok(serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&bytes))))
        } else {
            let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "status {status}, not an error body ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            Err((status, body))
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Answer<T> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `GET` with extra headers (a platform's signature).
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        headers: &[(&str, String)],
    ) -> Answer<T> {
        let mut req = self.http.get(self.url(path));
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        self.send(req).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Answer<T> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Answer<T> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Answer<T> {
        self.send(self.http.delete(self.url(path))).await
    }
}

/// Sign up `phone` through SMS and return a client holding its token.
pub async fn signed_up(server: &TestServer, phone: &str) -> Client {
    use bidkey_protocol::accounts::*;
    let c = Client::new(server);
    let _: SendSmsResponse = c
        .post(
            "/v1/sms/send",
            &SendSmsRequest {
                phone: phone.into(),
                purpose: SmsPurpose::Signup,
            },
        )
        .await
        .expect("sms sent");
    let code = server.sms_code(phone).await;
    let s: Session = c
        .post(
            "/v1/accounts/signup",
            &SmsLoginRequest {
                phone: phone.into(),
                code,
                device_name: Some("test phone".into()),
                device_id: None,
            },
        )
        .await
        .expect("signed up");
    c.with_token(&s.token)
}

/// A real-name request by `method` for `name` and `id_number` (no bank card).
pub fn realname_request(
    method: bidkey_protocol::accounts::RealNameMethod,
    name: &str,
    id_number: &str,
) -> bidkey_protocol::accounts::RealNameRequest {
    bidkey_protocol::accounts::RealNameRequest {
        method,
        name: name.into(),
        id_number: id_number.into(),
        bank_card: None,
        bank_phone: None,
    }
}

/// Pass the sandbox real-name check as `name` with a valid ID number.
pub async fn real_named(c: &Client, name: &str, id_number: &str) {
    use bidkey_protocol::accounts::*;
    let _: AccountInfo = c
        .post(
            "/v1/me/realname",
            &realname_request(RealNameMethod::Cfca, name, id_number),
        )
        .await
        .expect("real-name verified");
}

/// A resident ID number with a correct GB 11643 check digit, different for each `seq`.
pub fn id_number(seq: u32) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let body = format!("11010119900101{:03}", seq % 1000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize] as char)
}

/// A unified social credit code with a correct GB 32100 check character.
pub fn uscc(seq: u32) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("91321300{:09}", seq);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.iter().position(|&a| a == c).expect("alphabet") as u32 * w)
        .sum();
    format!(
        "{body}{}",
        ALPHABET[((31 - sum % 31) % 31) as usize] as char
    )
}

/// A signed-up, real-named account.
pub async fn person(server: &TestServer, phone: &str, name: &str, seq: u32) -> Client {
    let c = signed_up(server, phone).await;
    real_named(&c, name, &id_number(seq)).await;
    c
}

/// Sign and send a bank webhook body; `ts` defaults to the server's now.
pub async fn send_webhook(
    server: &TestServer,
    body: &[u8],
    ts: Option<i64>,
    sig: Option<String>,
) -> reqwest::Response {
    let key = std::fs::read(server.data_dir.path().join("bank-webhook.key")).expect("key file");
    let ts = ts.unwrap_or_else(|| server.running.state.clock.now());
    let sig = sig.unwrap_or_else(|| bidkey_server::bank::sign(&key, ts, body));
    reqwest::Client::new()
        .post(format!("{}/v1/bank/webhook", server.url()))
        .header("content-type", "application/json")
        .header("x-bidkey-timestamp", ts.to_string())
        .header("x-bidkey-signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .expect("server reachable")
}

/// One bank credit from `payer` (the name the bank prints) as JSON for the webhook.
pub fn credit(
    payer: &str,
    txn: &str,
    last6: &str,
    amount_fen: i64,
    reference: Option<&str>,
    at: i64,
) -> serde_json::Value {
    serde_json::json!({
        "bank_txn_id": txn,
        "booked_at": at,
        "payer_account": format!("6222020200001{last6}"),
        "payer_name": payer,
        "amount_fen": amount_fen,
        "reference": reference,
    })
}

/// Make `c` the admin (or staff, when an admin exists) of the enterprise `(name, uscc)`
/// through a micro-payment matched by the webhook; returns the enterprise id.
pub async fn verify_by_micropayment(
    server: &TestServer,
    c: &Client,
    name: &str,
    uscc: &str,
    txn: &str,
) -> String {
    use bidkey_protocol::enterprises::*;
    let mp: Micropayment = c
        .post(
            "/v1/enterprises/micropayments",
            &MicropaymentRequest {
                uscc: uscc.into(),
                name: name.into(),
                account_last6: "123456".into(),
                idempotency_key: format!("mp-{txn}"),
            },
        )
        .await
        .expect("micropayment requested");
    let now = server.running.state.clock.now();
    let body = serde_json::json!({ "transactions": [credit(name, txn, "123456", mp.amount_fen, Some(&mp.reference), now)] });
    let resp = send_webhook(server, body.to_string().as_bytes(), None, None).await;
    assert_eq!(resp.status().as_u16(), 200, "webhook accepted");
    let mp: Micropayment = c
        .get(&format!("/v1/enterprises/micropayments/{}", mp.id))
        .await
        .expect("status");
    assert_eq!(mp.status, MicropaymentStatus::Matched);
    mp.enterprise_id
}
