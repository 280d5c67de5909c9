//! An HTTP client for the server tests: JSON in, JSON or the error body out.

#![allow(dead_code)]

use bidkey_protocol::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use bidkey_testkit::{Store, TestServer};

pub mod device;

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

pub type Answer<T> = Result<T, (u16, ErrorBody)>;

impl Client {
    pub fn new(server: &TestServer) -> Self {
        Client {
            base: server.url(),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Client {
            base: self.base.clone(),
            http: self.http.clone(),
            token: Some(token.to_owned()),
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Answer<T> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
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
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Answer<T> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Answer<T> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Answer<T> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
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

/// Pass the sandbox real-name check as 张三 with a valid ID number.
pub async fn real_named(c: &Client, name: &str, id_number: &str) {
    use bidkey_protocol::accounts::*;
    let _: AccountInfo = c
        .post(
            "/v1/me/realname",
            &RealNameRequest {
                method: RealNameMethod::Cfca,
                name: name.into(),
                id_number: id_number.into(),
                bank_card: None,
                bank_phone: None,
            },
        )
        .await
        .expect("real-name verified");
}
