//! A world for the gateway's tests: a real Bidkey server on loopback, an enterprise whose
//! admin and staff phones (the core) hold certificates, a registered trading platform with
//! a grant for the staff member, and the gateway holding that platform's key.
#![allow(dead_code)]

pub mod schema;

use bidkey_core::Bidkey;
use bidkey_crypto::scan::PlatformKey;
use bidkey_gateway::{GatewayConfig, Running, WebhookPolicy};
use bidkey_platform::scan::PlatformIdentity;
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use std::path::Path;
use std::time::Duration;

pub const USCC: &str = "91500000MA5U8XGQ8Q";
pub const NAME: &str = "重庆比德科技有限公司";
pub const ORIGIN: &str = "https://ggzy.cq.example.invalid";
#[allow(unused_imports)]
pub use bidkey_testkit::phones::PIN;

pub struct World {
    pub server: TestServer,
    pub _dirs: Vec<tempfile::TempDir>,
    pub admin: Bidkey,
    pub staff: Bidkey,
    pub team: EnterpriseTeam,
    pub platform: RegisteredPlatform,
}

pub async fn world() -> World {
    let server = TestServer::start(Store::Sqlite).await;
    let g = granted_team(&server, USCC, NAME, "重庆市公共资源交易中心", ORIGIN).await;
    World {
        server,
        _dirs: g.dirs,
        admin: g.admin,
        staff: g.staff,
        team: g.team,
        platform: g.platform,
    }
}

impl World {
    /// The gateway of this world's platform over the store in `dir` (port 0: a fresh one).
    pub async fn gateway(&self, dir: &Path) -> Running {
        self.gateway_with(dir, |_| {}).await
    }

    pub async fn gateway_with(
        &self,
        dir: &Path,
        adjust: impl FnOnce(&mut GatewayConfig),
    ) -> Running {
        let identity = PlatformIdentity {
            platform_id: self.platform.platform.id.clone(),
            origin: ORIGIN.into(),
            cert_der: self.platform.cert_der.clone(),
            key: PlatformKey::Sm2(self.platform.key_copy()),
        };
        let mut config = GatewayConfig::new(dir.to_path_buf(), &self.server.url(), identity);
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.clock = Some(self.server.unix_clock());
        config.webhook = WebhookPolicy {
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            max_attempts: 50,
            timeout: Duration::from_secs(30),
        };
        adjust(&mut config);
        bidkey_gateway::start(config).await.expect("gateway starts")
    }

    /// The server's (test) clock, unix seconds.
    pub fn now(&self) -> i64 {
        (self.server.unix_clock().0)()
    }

    /// The staff member's encryption certificate (DER), from the phone's wallet.
    pub fn staff_encryption_cert(&self) -> Vec<u8> {
        self.staff
            .local_certificates()
            .expect("wallet")
            .into_iter()
            .find(|c| c.serial == self.team.staff_pair.encryption_serial)
            .expect("encryption certificate")
            .der
    }
}

/// An HTTP client for the gateway with one API key.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// A JSON call; returns the status and the JSON answer.
    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.expect("gateway answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, v)
    }

    /// A raw upload; returns the status, the headers and the bytes.
    pub async fn raw(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut r = self
            .req(reqwest::Method::POST, path)
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let resp = r.send().await.expect("gateway answers");
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        (status, h, resp.bytes().await.expect("body").to_vec())
    }
}
