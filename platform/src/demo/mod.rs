//! A small demo trading platform (演示交易平台) built on this SDK: log in by QR, upload and
//! sign a bid, and a bid-opening hall where each bidder scans to decrypt. It serves the pages
//! a bidder knows and a JSON API the pages (and the `bidkey demo` story) call.
//!
//! Everything a real platform must do is done for real here: requests are signed with the
//! platform's certificate, replies are opened with the request's ephemeral key and verified
//! (chain, revocation, grant, the digest the platform computed), and bids arrive encrypted
//! by the bidder to its enterprise's encryption certificates; the platform checks their
//! header at upload and never sees a plaintext before the opening. State is kept in memory and the bid
//! files in `data_dir`; a restart forgets logins and bids (it is a demo).

mod api;
mod jobs;
mod pages;
mod provision;

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use crate::scan::verify::ReplyVerifier;
use crate::scan::{PlatformIdentity, ScanClient};
use crate::verify::{TrustAnchor, Verifier};
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use api::SESSION_COOKIE;
pub use jobs::{JobState, JobView, Purpose};

pub use provision::provision;

/// The tender (招标项目) the demo's bid-opening hall is for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tender {
    pub id: String,
    pub name: String,
    /// Unix seconds when the bid opening (开标) starts.
    pub opening_at: i64,
}

/// How to run the demo platform.
#[derive(Debug)]
pub struct DemoConfig {
    /// The Bidkey server (relay, CA, grants).
    pub bidkey_url: String,
    pub identity: PlatformIdentity,
    /// The platform's display name.
    pub name: String,
    pub tender: Tender,
    /// Where encrypted bids and opened files are kept.
    pub data_dir: PathBuf,
    /// The clock the platform's signed grant checks state; `None` is this machine's
    /// (tests give the server's test clock).
    pub clock: Option<crate::client::UnixClock>,
}

/// A bidder the platform knows from a login or bind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bidder {
    pub uscc: Option<String>,
    pub name: String,
    pub person: Option<String>,
    pub signing_serial: String,
    #[serde(skip)]
    pub encryption_cert: Option<Vec<u8>>,
    pub logged_in_at: i64,
}

/// A bid (投标文件) as the platform holds it: encrypted, and what was proven about it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bid {
    pub id: String,
    pub bidder: Bidder,
    pub file_name: String,
    pub size: u64,
    /// SM3 of the encrypted file as uploaded, hex: what the bidder signs (the platform never
    /// sees the plaintext before the opening).
    pub sm3: String,
    /// The first recipient's encryption-certificate serial.
    pub recipient_serial: String,
    /// Every recipient the bidder wrapped the file key to.
    pub recipient_serials: Vec<String>,
    #[serde(skip)]
    pub encrypted_path: PathBuf,
    /// What the bidder was asked to seal.
    #[serde(skip)]
    pub document: Option<bidkey_protocol::scan::DocumentToSign>,
    /// Set once the bidder signed (sealed) the SM3 digest and it verified.
    pub signature: Option<SignatureInfo>,
    /// Set once opened at the bid opening.
    pub opened: Option<OpenedInfo>,
    /// A PDF bid sealed with the seal visible: the sealed file's verification, once the CMS
    /// is in (`GET /api/bids/{id}/sealed.pdf` serves it).
    pub sealed_pdf: Option<SealedPdfInfo>,
    /// The bidder's latest 解密自检 of the file as stored here (issue 17 §3).
    pub self_check: Option<SelfCheckInfo>,
    /// 1: any recipient opens it; k: any k together (k-of-n).
    pub threshold: u8,
    /// k-of-n shares received so far at the opening (recipient serial, share); cleared
    /// when the bid opens.
    #[serde(skip)]
    pub shares: Vec<(String, Vec<u8>)>,
    /// Who released those shares, for the record of who opened the bid.
    pub share_holders: Vec<String>,
    /// A document sealed in the clear (`POST /api/documents`), not a bid: never in the
    /// opening hall.
    pub document_only: bool,
    /// Why the last attempt to open it failed, in words (cleared when it opens).
    pub failure: Option<crate::opening::Words>,
}

/// How a bid was opened (issue 17 §5): the SDK's hall words it.
pub use crate::hall::OpenedHow;

/// A self-check the bidder's phone reported for the stored file: "可解密 ✓ (time, device)",
/// or the reason it would not open.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SelfCheckInfo {
    pub ok: bool,
    /// The phone's clock when it checked.
    pub checked_at: i64,
    pub device: String,
    /// Who reported it (the logged-in bidder).
    pub reported_by: String,
    /// Why it would not open, in words (when `ok` is false).
    pub reason: Option<String>,
}

/// A sealed PDF as the platform's own verifier sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SealedPdfInfo {
    #[serde(skip)]
    pub path: PathBuf,
    /// Every signature valid (intact, chain, timestamp, nothing changed after).
    pub valid: bool,
    pub report: crate::pdf::PdfReport,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureInfo {
    pub signer: String,
    pub serial: String,
    pub seal_id: Option<String>,
    /// The detached CMS SignedData with its timestamp (the `.p7s`), DER, hex.
    pub signature: String,
    pub signed_at: i64,
    /// The signingTime the phone signed (the Bidkey server's clock).
    pub signing_time: u64,
    /// The TSA's genTime for the signature.
    pub timestamp_time: u64,
    /// With an approved electronic seal: the GB/T 38540 `SES_Signature` with its timestamp
    /// (the `.ses`), DER, hex, and what the SDK found in it.
    pub ses_signature: Option<String>,
    pub seal: Option<crate::eseal::SealReport>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OpenedInfo {
    pub opened_at: i64,
    /// Every chunk authenticated and the stored file is the one signed at upload.
    pub sm3_matches: bool,
    pub how: OpenedHow,
    /// Who: the person who scanned, or the bidder who pre-authorised.
    pub by: String,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// Browser session cookie → the bidder logged in there.
    pub browsers: HashMap<String, Option<Bidder>>,
    pub jobs: HashMap<String, jobs::Job>,
    pub bids: Vec<Bid>,
    /// Seal pictures the bidders' browsers gave, by seal id, to draw a PDF's appearance.
    pub seal_pictures: HashMap<String, Vec<u8>>,
    /// PDFs prepared for sealing (update written, `/Contents` reserved), by bid id.
    pub prepared: HashMap<String, (PathBuf, crate::pdf::Prepared)>,
}

/// Shared state of the demo.
#[derive(Debug)]
pub struct Demo {
    pub(crate) client: ScanClient,
    /// The Bidkey API signed with the platform's key (pre-authorisation releases).
    pub(crate) signed: PlatformClient,
    pub(crate) verifier: ReplyVerifier,
    pub(crate) name: String,
    pub(crate) tender: Tender,
    pub(crate) data_dir: PathBuf,
    pub(crate) inner: Mutex<Inner>,
}

impl Demo {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps stay consistent even if a handler panicked mid-way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running demo platform.
#[derive(Debug)]
pub struct DemoRunning {
    pub url: String,
    pub demo: Arc<Demo>,
    task: tokio::task::JoinHandle<()>,
}

impl DemoRunning {
    /// Stop serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for DemoRunning {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Bind `listen` (port 0 picks one) and return the listener with the origin it serves.
pub async fn bind(listen: SocketAddr) -> Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(PlatformError::Io)?;
    let addr = listener.local_addr().map_err(PlatformError::Io)?;
    Ok((listener, format!("http://{addr}")))
}

/// Serve the demo on `listener` (its origin must be the identity's registered origin).
pub async fn serve(listener: tokio::net::TcpListener, config: DemoConfig) -> Result<DemoRunning> {
    let addr = listener.local_addr().map_err(PlatformError::Io)?;
    std::fs::create_dir_all(config.data_dir.join("bids")).map_err(PlatformError::Io)?;
    std::fs::create_dir_all(config.data_dir.join("opened")).map_err(PlatformError::Io)?;
    std::fs::create_dir_all(config.data_dir.join("sealed")).map_err(PlatformError::Io)?;
    let client = PlatformClient::new(&config.bidkey_url, None, std::time::Duration::from_secs(40))?;
    let anchor = TrustAnchor::fetch(&client, None).await?;
    let scan = ScanClient::new(&client, config.identity);
    // The grant check is answered only to the platform, signed with its request key.
    let mut signed = client.clone().signed_by(scan.request_key());
    if let Some(clock) = config.clock {
        signed = signed.with_clock(clock);
    }
    let verifier = ReplyVerifier::new(signed.clone(), Verifier::new(anchor), scan.platform_id());
    let demo = Arc::new(Demo {
        client: scan,
        signed,
        verifier,
        name: config.name,
        tender: config.tender,
        data_dir: config.data_dir,
        inner: Mutex::new(Inner::default()),
    });
    let app: Router = pages::routes()
        .merge(api::routes())
        .with_state(demo.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(DemoRunning {
        url: format!("http://{addr}"),
        demo,
        task,
    })
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
