//! Scans through the gateway: make a request with the SDK, keep it (sealed) in the store,
//! and carry it to a verified result in a task that long-polls the relay. A restart resumes
//! every unfinished scan from the store ([`resume`]).

use crate::error::{ErrorBody, GatewayError, Result};
use crate::store::{Delivery, ScanRow, unix_now};
use crate::{Gateway, pdf_place};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bidkey_crypto::cms::HashAlgorithm;
use bidkey_platform::PlatformError;
use bidkey_platform::pdf::{self, Prepared, SealRequest};
use bidkey_platform::scan::verify::VerifiedReply;
use bidkey_platform::scan::{PendingScan, ScanResult};
use bidkey_protocol::scan::{
    DEFAULT_TTL_SECS, DigestAlg, DocumentToSign, RelayStatus, ScanAction, SealPlacement,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use zeroize::Zeroizing;

/// Bytes reserved in a sealed PDF for the CMS with its chain and timestamp.
const PDF_CONTENTS_CAPACITY: usize = 32 * 1024;
/// How long one relay long-poll waits.
const RELAY_WAIT_SECS: u64 = 25;
/// Longest long-poll a caller may ask of the gateway.
pub const MAX_WAIT_SECS: u64 = 60;
/// Transient failures (network, revocation unavailable) retried before a result is final.
const VERIFY_TRIES: u32 = 5;

/// `POST /v1/scans` and `POST /v1/sessions/{session_id}/scans`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScan {
    /// What to ask the phone: the protocol's `ScanAction` (`docs/scan-protocol.md`).
    pub action: ScanAction,
    /// Life of the request, seconds (10..=300).
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// Where the gateway POSTs the verified result (signed with the app's secret).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// Where a seal goes on the PDF, as the phone shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealPosition {
    pub page: u32,
    pub x_mm: u32,
    pub y_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

/// `POST /v1/scans/seal-pdf`: the PDF to seal, the seal picture drawn on it, and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealPdfRequest {
    /// File name shown on the phone.
    pub name: String,
    /// The PDF, base64; or else …
    #[serde(default)]
    pub pdf: Option<String>,
    /// … a URL the gateway fetches it from (`https`, public addresses; `http` and private
    /// addresses only for hosts the gateway's configuration allows).
    #[serde(default)]
    pub pdf_url: Option<String>,
    /// The seal picture drawn into the PDF (PNG, base64); the phone shows the enterprise's
    /// registered seal `seal_id` and refuses one the signer may not use.
    pub seal_png: String,
    pub seal_id: String,
    pub position: SealPosition,
    #[serde(default)]
    pub uscc: Option<String>,
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// Where a scan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Scanned,
    Approved,
    Rejected,
    Failed,
}

/// The signer, from the verified certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignerView {
    pub serial: String,
    pub common_name: String,
    pub organization: Option<String>,
    pub uscc: Option<String>,
    pub grant_id: Option<String>,
    /// DER, base64.
    pub certificate: String,
}

/// One verified document signature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocumentView {
    pub name: String,
    /// Detached CMS SignedData with the TSA's timestamp (the `.p7s`), base64.
    pub signed_data: String,
    pub signing_time: u64,
    pub timestamp_time: u64,
    pub seal: Option<SealPlacement>,
}

/// A released bid-file key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileKeyView {
    pub file_name: String,
    /// 32 hex digits: give it to `POST /v1/bid-files/decrypt`.
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionView {
    pub session_id: String,
    pub expires_at: i64,
    pub auto_confirm: bool,
}

/// The sealed PDF, verified after the CMS went in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedPdfView {
    /// `GET` it here.
    pub url: String,
    pub size: u64,
    /// SM3 of the sealed file, hex.
    pub sm3: String,
    /// Every signature of the sealed PDF verified (chain, integrity, coverage).
    pub valid: bool,
}

/// Everything the reply proved, already verified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct VerifiedResult {
    pub signer: Option<SignerView>,
    pub documents: Vec<DocumentView>,
    pub file_keys: Vec<FileKeyView>,
    /// The bidder's encryption certificate (DER, base64) for bid files.
    pub encryption_certificate: Option<String>,
    pub session: Option<SessionView>,
    pub sealed_pdf: Option<SealedPdfView>,
}

/// `GET /v1/scans/{id}` and the webhook body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScanView {
    pub id: String,
    pub kind: String,
    pub status: Status,
    pub expires_at: i64,
    /// The four digits the phone shows too.
    pub verification_code: String,
    pub result: Option<VerifiedResult>,
    /// Why the bidder refused, when rejected.
    pub reason: Option<String>,
    pub error: Option<ErrorBody>,
}

/// What the store keeps for a finished scan.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    view: ScanView,
    /// The sealed PDF, base64.
    sealed_pdf: Option<String>,
}

/// What a seal-PDF scan keeps beside its pending request: the prepared file.
#[derive(Debug, Serialize, Deserialize)]
struct PdfJob {
    name: String,
    byte_range: [u64; 4],
    digest: String,
    contents_offset: u64,
    contents_capacity: usize,
    len: u64,
    /// The prepared PDF (seal drawn, `/Contents` reserved), base64.
    prepared: String,
}

/// One unfinished scan in memory: its status for long-polls, and its task.
#[derive(Debug)]
struct LiveScan {
    status: watch::Sender<Status>,
    task: Option<tokio::task::AbortHandle>,
}

/// Unfinished scans in memory.
#[derive(Debug, Default)]
pub struct Live(Mutex<HashMap<String, LiveScan>>);

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveScan>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(&self, id: &str) -> Option<watch::Receiver<Status>> {
        self.lock().get(id).map(|l| l.status.subscribe())
    }

    fn set(&self, id: &str, status: Status) {
        if let Some(l) = self.lock().get(id) {
            l.status.send_replace(status);
        }
    }

    pub(crate) fn abort_all(&self) {
        for (_, l) in self.lock().drain() {
            if let Some(t) = l.task {
                t.abort();
            }
        }
    }
}

fn ttl(t: Option<i64>) -> i64 {
    t.unwrap_or(DEFAULT_TTL_SECS)
}

fn check_webhook_url(url: &Option<String>) -> Result<()> {
    if let Some(u) = url {
        let ok = (u.starts_with("https://") || u.starts_with("http://"))
            && u.len() <= 2048
            && reqwest::Url::parse(u).is_ok();
        if !ok {
            return Err(GatewayError::BadRequest(
                "webhook_url: an http(s) URL".into(),
            ));
        }
    }
    Ok(())
}

fn b64(field: &'static str, text: &str) -> Result<Vec<u8>> {
    B64.decode(text)
        .map_err(|_| GatewayError::BadRequest(format!("{field}: not base64")))
}

/// Create a scan of `app` (inside `session_id` when given) and start carrying it.
pub async fn create(
    g: &Arc<Gateway>,
    app: &str,
    req: CreateScan,
    session_id: Option<&str>,
) -> Result<ScanView> {
    check_webhook_url(&req.webhook_url)?;
    if !req.action.within_limits() {
        return Err(GatewayError::BadRequest(
            "action: outside the protocol's limits".into(),
        ));
    }
    if let Some(sid) = session_id
        && (sid.is_empty()
            || sid.len() > 64
            || !sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(GatewayError::NotFound);
    }
    let pending = match session_id {
        None => g.scan.create(req.action, ttl(req.ttl_secs)).await?,
        Some(sid) => {
            g.scan
                .create_in_session(sid, req.action, ttl(req.ttl_secs))
                .await?
        }
    };
    register(g, app, pending, None, req.webhook_url).await
}

/// Prepare the PDF (seal drawn, room for the CMS), ask the phone to sign its ByteRange.
pub async fn create_seal_pdf(g: &Arc<Gateway>, app: &str, req: SealPdfRequest) -> Result<ScanView> {
    check_webhook_url(&req.webhook_url)?;
    let seal_png = b64("seal_png", &req.seal_png)?;
    let input = match (&req.pdf, &req.pdf_url) {
        (Some(pdf), None) => b64("pdf", pdf)?,
        (None, Some(url)) => crate::fetch::fetch(url, &g.pdf_fetch, g.limits.upload_body).await?,
        _ => {
            return Err(GatewayError::BadRequest(
                "give exactly one of pdf and pdf_url".into(),
            ));
        }
    };
    let seal = SealPlacement {
        seal_id: req.seal_id.clone(),
        page: req.position.page,
        x_mm: req.position.x_mm,
        y_mm: req.position.y_mm,
        width_mm: req.position.width_mm,
        height_mm: req.position.height_mm,
    };
    let name = req.name.clone();
    // PDF work is CPU-bound: off the async threads.
    let (doc, job) = tokio::task::spawn_blocking(move || -> Result<(DocumentToSign, PdfJob)> {
        let (pages, height) = pdf_place::page_info(Cursor::new(&input), seal.page)?;
        let mut out = Vec::with_capacity(input.len() + PDF_CONTENTS_CAPACITY * 2 + 4096);
        let prepared = pdf::prepare(
            Cursor::new(&input),
            &mut out,
            &SealRequest {
                placement: pdf_place::placement(&seal, height),
                seal_png: &seal_png,
                digest: HashAlgorithm::Sm3,
                signing_time: unix_now().max(0) as u64,
                contents_capacity: PDF_CONTENTS_CAPACITY,
                field_name: None,
            },
        )?;
        let doc = DocumentToSign {
            name: name.clone(),
            digest_alg: DigestAlg::Sm3,
            digest: prepared.digest.clone(),
            page_count: pages,
            seal: Some(seal),
        };
        doc.check()
            .map_err(|p| GatewayError::BadRequest(format!("document: {p}")))?;
        Ok((
            doc,
            PdfJob {
                name,
                byte_range: prepared.byte_range,
                digest: hex::encode(&prepared.digest),
                contents_offset: prepared.contents_offset,
                contents_capacity: prepared.contents_capacity,
                len: prepared.len,
                prepared: B64.encode(&out),
            },
        ))
    })
    .await
    .map_err(|e| GatewayError::Internal(format!("PDF task: {e}")))??;
    let pending = g
        .scan
        .create(
            ScanAction::Sign {
                uscc: req.uscc,
                documents: vec![doc],
            },
            ttl(req.ttl_secs),
        )
        .await?;
    let extra = serde_json::to_vec(&job).map_err(|e| GatewayError::Internal(e.to_string()))?;
    register(g, app, pending, Some(extra), req.webhook_url).await
}

async fn register(
    g: &Arc<Gateway>,
    app: &str,
    pending: PendingScan,
    extra: Option<Vec<u8>>,
    webhook_url: Option<String>,
) -> Result<ScanView> {
    let id = pending.request_id().to_owned();
    let kind = pending.body.action.kind().as_str().to_owned();
    // Stored before the caller hears of it: a restart from here on loses nothing.
    g.store.insert_scan(
        &id,
        app,
        &kind,
        &pending.export()?,
        extra.as_deref(),
        webhook_url.as_deref(),
        pending.body.expires_at,
    )?;
    let view = pending_view(&pending, Status::Pending);
    spawn(
        g,
        ScanRow {
            id,
            app: app.to_owned(),
            kind,
            pending: Zeroizing::new(Vec::new()),
            extra: extra.map(Zeroizing::new),
            webhook_url,
            expires_at: pending.body.expires_at,
            done: false,
            result: None,
        },
        pending,
    );
    Ok(view)
}

fn pending_view(p: &PendingScan, status: Status) -> ScanView {
    ScanView {
        id: p.request_id().to_owned(),
        kind: p.body.action.kind().as_str().to_owned(),
        status,
        expires_at: p.body.expires_at,
        verification_code: p.verification_code(),
        result: None,
        reason: None,
        error: None,
    }
}

/// Carry every unfinished scan of the store again (after a start).
pub fn resume(g: &Arc<Gateway>) -> Result<()> {
    for row in g.store.unfinished_scans()? {
        let pending = PendingScan::import(&row.pending)?;
        spawn(g, row, pending);
    }
    Ok(())
}

fn spawn(g: &Arc<Gateway>, row: ScanRow, pending: PendingScan) {
    let (tx, _) = watch::channel(Status::Pending);
    let id = row.id.clone();
    // Registered before the task runs, so the task's first status change is seen.
    g.live.lock().insert(
        id.clone(),
        LiveScan {
            status: tx,
            task: None,
        },
    );
    let gw = g.clone();
    let handle = tokio::spawn(async move { carry(gw, row, pending).await });
    if let Some(l) = g.live.lock().get_mut(&id) {
        l.task = Some(handle.abort_handle());
    }
}

/// Long-poll the relay until the reply or the end, verify, store, notify.
async fn carry(g: Arc<Gateway>, row: ScanRow, pending: PendingScan) {
    let mut backoff = Duration::from_millis(500);
    let outcome = loop {
        match g.scan.poll(&pending, RELAY_WAIT_SECS).await {
            Ok(r) => {
                backoff = Duration::from_millis(500);
                match r.status {
                    RelayStatus::Pending => {}
                    RelayStatus::Scanned => g.live.set(&row.id, Status::Scanned),
                    RelayStatus::Expired => {
                        break failed(
                            &pending,
                            PlatformError::Relay(bidkey_protocol::ErrorCode::ScanExpired).into(),
                        );
                    }
                    RelayStatus::Answered => match r.sealed {
                        None => {
                            break failed(
                                &pending,
                                PlatformError::BadReply("no sealed reply").into(),
                            );
                        }
                        Some(sealed) => break answered(&g, &row, &pending, &sealed).await,
                    },
                }
            }
            Err(e) => {
                if unix_now() > pending.body.expires_at + 60 {
                    break failed(&pending, e.into());
                }
                tracing::warn!(scan = %row.id, error = %e, "relay poll failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(15));
            }
        }
    };
    if let Err(e) = finish(&g, &row, outcome) {
        tracing::error!(scan = %row.id, error = %e, "cannot store a scan's result");
        return;
    }
    // Wake the long-polls (any change ends their wait; they read the stored outcome), then
    // forget the scan: it is finished in the store.
    g.live.set(&row.id, Status::Approved);
    g.live.lock().remove(&row.id);
}

fn failed(p: &PendingScan, e: GatewayError) -> Outcome {
    let mut view = pending_view(p, Status::Failed);
    view.error = Some(e.body());
    Outcome {
        view,
        sealed_pdf: None,
    }
}

fn transient(e: &PlatformError) -> bool {
    matches!(
        e,
        PlatformError::Network(_) | PlatformError::RevocationUnavailable(_)
    )
}

async fn answered(
    g: &Gateway,
    row: &ScanRow,
    pending: &PendingScan,
    sealed: &bidkey_protocol::scan::SealedReply,
) -> Outcome {
    let reply = match pending.open(sealed) {
        Ok(ScanResult::Approved(r)) => r,
        Ok(ScanResult::Rejected { reason }) => {
            let mut view = pending_view(pending, Status::Rejected);
            view.reason = reason;
            return Outcome {
                view,
                sealed_pdf: None,
            };
        }
        Err(e) => return failed(pending, e.into()),
    };
    let mut tries = 0;
    let verified = loop {
        match g.verifier.check_reply(&pending.body, &reply).await {
            Ok(v) => break v,
            Err(e) if transient(&e) && tries + 1 < VERIFY_TRIES => {
                tries += 1;
                tracing::warn!(scan = %row.id, error = %e, "verification could not finish; retrying");
                tokio::time::sleep(Duration::from_secs(1 << tries)).await;
            }
            Err(e) => return failed(pending, e.into()),
        }
    };
    let mut result = result_view(&verified);
    let mut sealed_pdf = None;
    if let Some(extra) = &row.extra {
        match seal_pdf(g, &row.id, extra, &verified).await {
            Ok((view, bytes)) => {
                result.sealed_pdf = Some(view);
                sealed_pdf = Some(B64.encode(bytes));
            }
            Err(e) => return failed(pending, e),
        }
    }
    let mut view = pending_view(pending, Status::Approved);
    view.result = Some(result);
    Outcome { view, sealed_pdf }
}

fn result_view(v: &VerifiedReply) -> VerifiedResult {
    VerifiedResult {
        signer: v.signer.as_ref().map(|s| SignerView {
            serial: s.serial.clone(),
            common_name: s.common_name.clone(),
            organization: s.organization.clone(),
            uscc: s.uscc.clone(),
            grant_id: s.grant_id.clone(),
            certificate: B64.encode(&s.cert_der),
        }),
        documents: v
            .documents
            .iter()
            .map(|d| DocumentView {
                name: d.name.clone(),
                signed_data: B64.encode(&d.signed_data),
                signing_time: d.signing_time,
                timestamp_time: d.timestamp_time,
                seal: d.seal.clone(),
            })
            .collect(),
        file_keys: v
            .file_keys
            .iter()
            .map(|k| FileKeyView {
                file_name: k.file_name.clone(),
                key: hex::encode(&k.key),
            })
            .collect(),
        encryption_certificate: v.encryption_cert.as_ref().map(|c| B64.encode(c)),
        session: v.session.as_ref().map(|s| SessionView {
            session_id: s.session_id.clone(),
            expires_at: s.expires_at,
            auto_confirm: s.auto_confirm,
        }),
        sealed_pdf: None,
    }
}

/// Put the verified CMS into the prepared PDF and verify the sealed file as a reader would.
async fn seal_pdf(
    g: &Gateway,
    id: &str,
    extra: &[u8],
    v: &VerifiedReply,
) -> Result<(SealedPdfView, Vec<u8>)> {
    let job: PdfJob = serde_json::from_slice(extra)
        .map_err(|e| GatewayError::Internal(format!("PDF job: {e}")))?;
    let [doc] = v.documents.as_slice() else {
        return Err(PlatformError::BadReply("one document for a PDF").into());
    };
    let crls = bidkey_platform::verify::fetch_crls(&g.client).await?;
    let anchor = g.anchor.clone();
    let cms = doc.signed_data.clone();
    let (view_bytes, valid) = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, bool)> {
        let prepared = Prepared {
            byte_range: job.byte_range,
            digest_algorithm: HashAlgorithm::Sm3,
            digest: hex::decode(&job.digest).map_err(|e| GatewayError::Internal(e.to_string()))?,
            contents_offset: job.contents_offset,
            contents_capacity: job.contents_capacity,
            len: job.len,
        };
        let mut file = Cursor::new(
            B64.decode(&job.prepared)
                .map_err(|e| GatewayError::Internal(e.to_string()))?,
        );
        pdf::finish(&mut file, &prepared, &cms)?;
        let bytes = file.into_inner();
        let report = pdf::verify(
            Cursor::new(&bytes),
            &pdf::verify::VerifyOptions {
                anchor: Some(&anchor),
                tsa_anchor: None,
                crls: &crls,
                now: unix_now().max(0) as u64,
            },
        )?;
        Ok((bytes, report.all_valid()))
    })
    .await
    .map_err(|e| GatewayError::Internal(format!("PDF task: {e}")))??;
    Ok((
        SealedPdfView {
            url: format!("/v1/scans/{id}/pdf"),
            size: view_bytes.len() as u64,
            sm3: hex::encode(bidkey_crypto::sm3::sm3(&view_bytes)),
            valid,
        },
        view_bytes,
    ))
}

fn finish(g: &Gateway, row: &ScanRow, outcome: Outcome) -> Result<()> {
    let body = serde_json::to_vec(&outcome).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let delivery = match &row.webhook_url {
        Some(url) => Some(Delivery {
            id: format!("{}-1", row.id),
            scan_id: row.id.clone(),
            app: row.app.clone(),
            url: url.clone(),
            body: serde_json::to_vec(&outcome.view)
                .map_err(|e| GatewayError::Internal(e.to_string()))?,
            attempts: 0,
        }),
        None => None,
    };
    let first = g.store.finish_scan(&row.id, &body, delivery.as_ref())?;
    if first && delivery.is_some() {
        g.deliveries.notify_one();
    }
    Ok(())
}

/// How often a long-poll on a scan another node carries reads the shared store.
const SHARED_POLL: Duration = Duration::from_millis(250);

/// The scan as it stands; with `wait`, hold until it changes or `wait` seconds pass.
pub async fn view(g: &Gateway, app: &str, id: &str, wait: u64) -> Result<ScanView> {
    let row = g.store.scan(app, id)?.ok_or(GatewayError::NotFound)?;
    if row.done {
        return Ok(stored_outcome(&row)?.view);
    }
    let pending = PendingScan::import(&row.pending)?;
    let Some(mut rx) = g.live.subscribe(id) else {
        // Finished between the read and now, or carried by another node sharing the store
        // (ADR 0029): watch the store until it is finished or the wait ends.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECS));
        loop {
            let row = g.store.scan(app, id)?.ok_or(GatewayError::NotFound)?;
            if row.done {
                return Ok(stored_outcome(&row)?.view);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(pending_view(&pending, Status::Pending));
            }
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + SHARED_POLL)).await;
        }
    };
    let mut status = *rx.borrow_and_update();
    if wait > 0 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECS));
        // Ends on a time-out, or when the scan's task ended (result stored).
        while let Ok(Ok(())) = tokio::time::timeout_at(deadline, rx.changed()).await {
            status = *rx.borrow_and_update();
            if status != Status::Scanned {
                break;
            }
        }
    }
    let row = g.store.scan(app, id)?.ok_or(GatewayError::NotFound)?;
    if row.done {
        return Ok(stored_outcome(&row)?.view);
    }
    Ok(pending_view(
        &pending,
        if status == Status::Scanned {
            Status::Scanned
        } else {
            Status::Pending
        },
    ))
}

fn stored_outcome(row: &ScanRow) -> Result<Outcome> {
    let bytes = row
        .result
        .as_ref()
        .ok_or_else(|| GatewayError::Internal("finished scan without result".into()))?;
    serde_json::from_slice(bytes).map_err(|e| GatewayError::Internal(format!("result: {e}")))
}

/// The sealed PDF of a finished seal-PDF scan.
pub fn sealed_pdf(g: &Gateway, app: &str, id: &str) -> Result<Vec<u8>> {
    let row = g.store.scan(app, id)?.ok_or(GatewayError::NotFound)?;
    if row.extra.is_none() {
        return Err(GatewayError::NotFound);
    }
    if !row.done {
        return Err(GatewayError::NotReady);
    }
    match stored_outcome(&row)?.sealed_pdf {
        Some(b) => B64
            .decode(b)
            .map_err(|e| GatewayError::Internal(e.to_string())),
        None => Err(GatewayError::NotReady),
    }
}

/// The QR text to show now, with its second `t`; none for a finished or session scan.
pub fn qr(g: &Gateway, app: &str, id: &str) -> Result<(String, u64, ScanView)> {
    let row = g.store.scan(app, id)?.ok_or(GatewayError::NotFound)?;
    if row.done {
        return Err(GatewayError::Finished);
    }
    let pending = PendingScan::import(&row.pending)?;
    if pending.body.session_id.is_some() {
        return Err(GatewayError::NotFound);
    }
    let t = pending.elapsed_secs();
    Ok((
        pending.qr_uri_at(t),
        t,
        pending_view(&pending, Status::Pending),
    ))
}
