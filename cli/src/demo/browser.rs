//! A browser on the demo trading platform: its JSON API (`platform/src/demo/api.rs`) with
//! the session cookie the platform sets, as the pages use it.

use super::error::{DemoError, Result};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Mutex;
use std::time::Duration;

/// A scan job as the platform shows it (`JobView`).
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub request_id: String,
    /// `waiting`, `scanned`, `done` or `failed`.
    pub state: String,
    pub message: String,
    /// The four digits the page and the phone both show.
    pub code: String,
    pub expires_at: i64,
    pub qr_text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BidderView {
    pub uscc: Option<String>,
    pub name: String,
    pub person: Option<String>,
    pub signing_serial: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SignatureView {
    pub signer: String,
    pub serial: String,
    pub seal_id: Option<String>,
    /// The detached CMS SignedData with its timestamp, DER, hex.
    pub signature: String,
    pub signed_at: i64,
    pub signing_time: u64,
    pub timestamp_time: u64,
    /// The GB/T 38540 seal signature with its timestamp, DER, hex (approved seals only).
    #[serde(default)]
    pub ses_signature: Option<String>,
    #[serde(default)]
    pub seal: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OpenedView {
    pub opened_at: i64,
    pub sm3_matches: bool,
}

/// A bid as the platform lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct BidView {
    pub id: String,
    pub bidder: BidderView,
    pub file_name: String,
    pub size: u64,
    pub sm3: String,
    pub recipient_serial: String,
    pub signature: Option<SignatureView>,
    pub opened: Option<OpenedView>,
    /// A sealed PDF bid: the platform's verification of the sealed file.
    #[serde(default)]
    pub sealed_pdf: Option<serde_json::Value>,
    #[serde(default)]
    pub recipient_serials: Vec<String>,
    #[serde(default)]
    pub self_check: Option<SelfCheckView>,
}

/// The bidder's 解密自检 as the platform recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct SelfCheckView {
    pub ok: bool,
    pub checked_at: i64,
    pub device: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    pub bid: BidView,
    pub job: Job,
}

/// The platform's answer to checking a stored signature again.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Verified {
    pub valid: bool,
    pub message: String,
}

#[derive(Debug, Deserialize)]
struct Me {
    bidder: Option<BidderView>,
}

/// One browser: its cookie ties the logins it asked for to it.
#[derive(Debug)]
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: Mutex<Option<String>>,
}

impl Browser {
    pub fn new(base: &str) -> Result<Browser> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| DemoError::http("client", e))?;
        Ok(Browser {
            base: base.trim_end_matches('/').to_owned(),
            http,
            cookie: Mutex::new(None),
        })
    }

    fn cookie(&self) -> Option<String> {
        self.cookie
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let req = match self.cookie() {
            Some(c) => req.header(reqwest::header::COOKIE, c),
            None => req,
        };
        let resp = req.send().await.map_err(|e| DemoError::http(what, e))?;
        // Keep the session cookie the platform sets on the first visit.
        if let Some(set) = resp.headers().get(reqwest::header::SET_COOKIE)
            && let Ok(set) = set.to_str()
            && let Some(pair) = set.split(';').next()
            && pair.starts_with(bidkey_platform::demo::SESSION_COOKIE)
        {
            *self.cookie.lock().unwrap_or_else(|p| p.into_inner()) = Some(pair.to_owned());
        }
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(DemoError::http(what, format!("{status} {body}")));
        }
        Ok(resp)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T> {
        self.send(what, req)
            .await?
            .json()
            .await
            .map_err(|e| DemoError::http(what, e))
    }

    /// `POST /api/login`: a login QR for this browser.
    pub async fn login(&self) -> Result<Job> {
        self.json("login", self.http.post(format!("{}/api/login", self.base)))
            .await
    }

    /// Who this browser is logged in as.
    pub async fn me(&self) -> Result<Option<BidderView>> {
        let me: Me = self
            .json("me", self.http.get(format!("{}/api/me", self.base)))
            .await?;
        Ok(me.bidder)
    }

    pub async fn job(&self, id: &str) -> Result<Job> {
        self.json("job", self.http.get(format!("{}/api/jobs/{id}", self.base)))
            .await
    }

    /// The QR code of a job as the page shows it.
    pub async fn qr_png(&self, id: &str) -> Result<Vec<u8>> {
        let resp = self
            .send(
                "QR image",
                self.http.get(format!("{}/api/jobs/{id}/qr.png", self.base)),
            )
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| DemoError::http("QR image", e))?
            .to_vec())
    }

    /// Upload a bid file the bidder encrypted; the platform checks it and asks for a signature.
    pub async fn upload(&self, name: &str, body: Vec<u8>) -> Result<Uploaded> {
        self.json(
            "upload",
            self.http
                .post(format!("{}/api/bids", self.base))
                .query(&[("name", name)])
                .body(body),
        )
        .await
    }

    /// Upload a bid the bidder is asked to seal with `seal_id` (签章).
    pub async fn upload_sealed(
        &self,
        name: &str,
        body: Vec<u8>,
        seal_id: &str,
    ) -> Result<Uploaded> {
        self.json(
            "upload",
            self.http
                .post(format!("{}/api/bids", self.base))
                .query(&[("name", name), ("seal_id", seal_id)])
                .body(body),
        )
        .await
    }

    /// Give the platform the seal's picture, to draw it in a PDF it prepares for sealing.
    pub async fn give_seal_picture(&self, seal_id: &str, png: Vec<u8>) -> Result<()> {
        let _: serde_json::Value = self
            .json(
                "seal picture",
                self.http
                    .post(format!("{}/api/seal-pictures/{seal_id}", self.base))
                    .body(png),
            )
            .await?;
        Ok(())
    }

    /// Upload a PDF bid of `pages` pages to seal with `seal_id`, the seal drawn on page 1.
    pub async fn upload_pdf_sealed(
        &self,
        name: &str,
        pdf: Vec<u8>,
        seal_id: &str,
        pages: u32,
    ) -> Result<Uploaded> {
        self.json(
            "upload",
            self.http
                .post(format!("{}/api/documents", self.base))
                .query(&[
                    ("name", name),
                    ("seal_id", seal_id),
                    ("pages", &pages.to_string()),
                ])
                .body(pdf),
        )
        .await
    }

    /// The sealed PDF of a bid.
    pub async fn sealed_pdf(&self, bid_id: &str) -> Result<Vec<u8>> {
        let resp = self
            .send(
                "sealed PDF",
                self.http
                    .get(format!("{}/api/bids/{bid_id}/sealed.pdf", self.base)),
            )
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| DemoError::http("sealed PDF", e))?
            .to_vec())
    }

    pub async fn bids(&self) -> Result<Vec<BidView>> {
        self.json("bids", self.http.get(format!("{}/api/bids", self.base)))
            .await
    }

    pub async fn bid(&self, id: &str) -> Result<BidView> {
        self.bids()
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| DemoError::Unexpected(format!("the platform lists no bid {id}")))
    }

    /// The stored encrypted file of a bid (for the bidder's self-check).
    pub async fn bid_file(&self, bid_id: &str) -> Result<Vec<u8>> {
        let resp = self
            .send(
                "bid file",
                self.http
                    .get(format!("{}/api/bids/{bid_id}/file", self.base)),
            )
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| DemoError::http("bid file", e))?
            .to_vec())
    }

    /// Report the phone's self-check of a stored bid.
    pub async fn report_self_check(
        &self,
        bid_id: &str,
        report: &serde_json::Value,
    ) -> Result<BidView> {
        self.json(
            "self-check",
            self.http
                .post(format!("{}/api/bids/{bid_id}/self-check", self.base))
                .json(report),
        )
        .await
    }

    /// The opening hall's rows (`GET /api/hall`: the SDK's words for each bid).
    pub async fn hall(&self) -> Result<Vec<serde_json::Value>> {
        self.json("hall", self.http.get(format!("{}/api/hall", self.base)))
            .await
    }

    /// The page that tells the bidder how to pre-authorise (预授权开标), as HTML.
    pub async fn preauth_page(&self) -> Result<String> {
        let resp = self
            .send(
                "pre-authorisation page",
                self.http.get(format!("{}/preauth", self.base)),
            )
            .await?;
        resp.text()
            .await
            .map_err(|e| DemoError::http("pre-authorisation page", e))
    }

    /// At the bid opening: a decrypt request for one bid.
    pub async fn open(&self, bid_id: &str) -> Result<Job> {
        self.json(
            "open",
            self.http
                .post(format!("{}/api/bids/{bid_id}/open", self.base)),
        )
        .await
    }

    /// Check a stored signature as things stand now.
    pub async fn verify(&self, bid_id: &str) -> Result<Verified> {
        self.json(
            "verify",
            self.http
                .post(format!("{}/api/bids/{bid_id}/verify", self.base)),
        )
        .await
    }

    /// Poll a job until it is done or failed (the platform verifies the reply in the
    /// background), at most `limit`.
    pub async fn settled(&self, id: &str, limit: Duration) -> Result<Job> {
        let until = std::time::Instant::now() + limit;
        loop {
            let job = self.job(id).await?;
            if job.state == "done" || job.state == "failed" {
                return Ok(job);
            }
            if std::time::Instant::now() > until {
                return Err(DemoError::Unexpected(format!(
                    "the platform still shows {} after {} s: {}",
                    job.state,
                    limit.as_secs(),
                    job.message
                )));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

/// Read a QR code image as a phone's camera does.
pub fn decode_qr(png: &[u8]) -> Result<String> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| DemoError::Qr(e.to_string()))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    let grid = grids
        .first()
        .ok_or_else(|| DemoError::Qr("no QR code in the image".into()))?;
    let (_, text) = grid.decode().map_err(|e| DemoError::Qr(e.to_string()))?;
    Ok(text)
}
