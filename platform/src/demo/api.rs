//! The demo's JSON API, called by its pages and by the `bidkey demo` story.

use super::jobs::{JobView, Purpose};
use super::{Bid, Bidder, Demo, unix_now};
use crate::error::PlatformError;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bidkey_protocol::scan::{DigestAlg, DocumentToSign, ScanAction, SealPlacement};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::Arc;

/// The cookie that ties a browser to its login (the QR's session is bound to the browser
/// that asked for it).
pub const SESSION_COOKIE: &str = "bk_sid";
const MAX_BID: usize = 512 * 1024 * 1024;

pub(crate) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/login", post(login))
        .route("/api/jobs/{id}", get(job))
        .route("/api/jobs/{id}/qr.svg", get(qr_svg))
        .route("/api/jobs/{id}/qr.png", get(qr_png))
        .route(
            "/api/bids",
            get(bids).post(upload).layer(DefaultBodyLimit::max(MAX_BID)),
        )
        // Documents the bidder seals in the clear (a clarification reply during the
        // evaluation, 澄清答复函): never bids, which arrive encrypted.
        .route(
            "/api/documents",
            post(upload_document).layer(DefaultBodyLimit::max(MAX_BID)),
        )
        .route("/api/bids/{id}/open", post(open_bid))
        .route("/api/bids/{id}/sealed.pdf", get(sealed_pdf))
        .route("/api/seal-pictures/{seal_id}", post(seal_picture))
        .route("/api/bids/{id}/verify", post(reverify))
        .route("/api/bids/{id}/file", get(bid_file))
        .route(
            "/api/bids/{id}/open-preauthorised",
            post(open_preauthorised),
        )
        .route("/api/bids/{id}/self-check", post(self_check))
        .route("/api/hall", get(hall))
}

/// An API error: a status and a message in Chinese.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> Self {
        match e {
            PlatformError::UploadRefused(p) => {
                ApiError(StatusCode::UNPROCESSABLE_ENTITY, p.message_zh())
            }
            PlatformError::NotABidFile
            | PlatformError::UnsupportedVersion(_)
            | PlatformError::MalformedHeader(_) => ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("不是 Bidkey 加密的投标文件（{e}），请先用 Bidkey 加密后再上传"),
            ),
            e => ApiError(StatusCode::BAD_GATEWAY, e.to_string()),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The browser's session id, and the cookie to set when it had none.
pub(crate) fn browser(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let existing = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| {
            *k == SESSION_COOKIE && v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|(_, v)| v.to_owned());
    match existing {
        Some(sid) => (sid, None),
        None => {
            let sid = hex::encode(bidkey_crypto::rng::bytes::<16>().unwrap_or([0; 16]));
            let cookie = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict"
            ))
            .ok();
            (sid, cookie)
        }
    }
}

fn with_cookie<T: IntoResponse>(cookie: Option<HeaderValue>, body: T) -> Response {
    let mut resp = body.into_response();
    if let Some(c) = cookie {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

pub(crate) fn bidder_of(demo: &Demo, sid: &str) -> Option<Bidder> {
    demo.lock().browsers.get(sid).cloned().flatten()
}

#[derive(Debug, Serialize)]
struct Me {
    bidder: Option<Bidder>,
    platform: String,
}

async fn me(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let (sid, cookie) = browser(&headers);
    with_cookie(
        cookie,
        Json(Me {
            bidder: bidder_of(&demo, &sid),
            platform: demo.name.clone(),
        }),
    )
}

async fn login(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> ApiResult<Response> {
    let (sid, cookie) = browser(&headers);
    demo.lock().browsers.entry(sid.clone()).or_insert(None);
    let view = demo
        .start_job(&sid, Purpose::Login, ScanAction::Login { uscc: None })
        .await?;
    Ok(with_cookie(cookie, Json(view)))
}

async fn job(State(demo): State<Arc<Demo>>, Path(id): Path<String>) -> ApiResult<Json<JobView>> {
    demo.job(&id)
        .map(Json)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个请求".into()))
}

async fn qr_svg(State(demo): State<Arc<Demo>>, Path(id): Path<String>) -> ApiResult<Response> {
    let view = demo
        .job(&id)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个请求".into()))?;
    let svg = crate::qr::render_qr_svg(&view.qr_text)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

async fn qr_png(State(demo): State<Arc<Demo>>, Path(id): Path<String>) -> ApiResult<Response> {
    let view = demo
        .job(&id)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个请求".into()))?;
    let png = crate::qr::render_qr_png(&view.qr_text)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

async fn bids(State(demo): State<Arc<Demo>>) -> Json<Vec<Bid>> {
    Json(demo.lock().bids.clone())
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    name: String,
    /// The enterprise seal to place (签章); none for a signature without a seal.
    #[serde(default)]
    seal_id: Option<String>,
    /// Pages of the document, as the bidder's software counted them.
    #[serde(default)]
    pages: Option<u32>,
}

/// The seal's place on page 1, in millimetres from the top left, as the phone shows it.
const SEAL_X_MM: u32 = 150;
const SEAL_Y_MM: u32 = 230;
const SEAL_MM: u32 = 42;
/// A4 height in points (the demo's PDFs are A4).
const PAGE_HEIGHT_PT: f64 = 842.0;

fn pt(mm: u32) -> f64 {
    f64::from(mm) * 72.0 / 25.4
}

/// Write the PDF's incremental update (signature field, the seal drawn at the place the
/// phone will show, `/Contents` reserved) to `sealed/{bid}.pdf`; return the ByteRange's SM3.
fn prepare_pdf(
    demo: &Demo,
    bid_id: &str,
    input: &std::path::Path,
    png: &[u8],
) -> ApiResult<Vec<u8>> {
    let internal = |e: String| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e);
    let path = demo.data_dir.join("sealed").join(format!("{bid_id}.pdf"));
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| internal(e.to_string()))?);
    let prepared = crate::pdf::prepare(
        std::io::BufReader::new(std::fs::File::open(input).map_err(|e| internal(e.to_string()))?),
        &mut out,
        &crate::pdf::SealRequest {
            placement: crate::pdf::Placement {
                page: 1,
                x: pt(SEAL_X_MM),
                y: PAGE_HEIGHT_PT - pt(SEAL_Y_MM + SEAL_MM),
                width: pt(SEAL_MM),
                height: pt(SEAL_MM),
            },
            seal_png: png,
            digest: bidkey_crypto::cms::HashAlgorithm::Sm3,
            signing_time: u64::try_from(crate::demo::unix_now()).unwrap_or(0),
            contents_capacity: 32 * 1024,
            field_name: Some("投标人签章".into()),
        },
    )
    .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("PDF：{e}")))?;
    out.flush().map_err(|e| internal(e.to_string()))?;
    let digest = prepared.digest.clone();
    demo.lock()
        .prepared
        .insert(bid_id.to_owned(), (path, prepared));
    Ok(digest)
}

/// The bidder's browser gives the platform its seal picture (to draw it in a PDF).
async fn seal_picture(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    Path(seal_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let (sid, _) = browser(&headers);
    bidder_of(&demo, &sid).ok_or(ApiError(StatusCode::UNAUTHORIZED, "请先扫码登录".into()))?;
    if seal_id.len() > 64 || body.len() > 512 * 1024 || !body.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(ApiError(StatusCode::BAD_REQUEST, "印章图片无效".into()));
    }
    demo.lock().seal_pictures.insert(seal_id, body.to_vec());
    Ok(Json(serde_json::json!({ "ok": true })))
}

/// The sealed PDF of a bid.
async fn sealed_pdf(State(demo): State<Arc<Demo>>, Path(id): Path<String>) -> ApiResult<Response> {
    let path = demo
        .lock()
        .bids
        .iter()
        .find(|b| b.id == id)
        .and_then(|b| b.sealed_pdf.as_ref().map(|p| p.path.clone()))
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有盖章的 PDF".into()))?;
    let bytes = std::fs::read(path)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/pdf")],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Serialize)]
struct Uploaded {
    bid: Bid,
    job: JobView,
}

/// Upload a bid file (the raw body) the bidder encrypted with Bidkey: the platform checks
/// its header (tender, platform, recipients), hashes the ciphertext and asks the bidder to
/// seal that digest. A plaintext or a file no one here could open is refused.
async fn upload(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<Json<Uploaded>> {
    receive(demo, headers, q, body, false).await
}

/// A document to seal in the clear (a PDF clarification reply): stored as it is, kept out of
/// the opening hall; a bid still only arrives encrypted (`POST /api/bids`).
async fn upload_document(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<Json<Uploaded>> {
    receive(demo, headers, q, body, true).await
}

async fn receive(
    demo: Arc<Demo>,
    headers: HeaderMap,
    q: UploadQuery,
    body: Body,
    document: bool,
) -> ApiResult<Json<Uploaded>> {
    let (sid, _) = browser(&headers);
    let bidder =
        bidder_of(&demo, &sid).ok_or(ApiError(StatusCode::UNAUTHORIZED, "请先扫码登录".into()))?;
    let name = q.name.trim();
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\']) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "文件名无效".into()));
    }
    let tmp = tempfile::NamedTempFile::new_in(&demo.data_dir)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file());
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
            out.write_all(&chunk)
                .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        }
        out.flush()
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    let bid = if document {
        demo.store_document(bidder.clone(), name, tmp.path())?
    } else {
        demo.store_bid(bidder.clone(), name, tmp.path())?
    };
    let mut digest = hex::decode(&bid.sm3)
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "digest".into()))?;
    let picture = q
        .seal_id
        .as_ref()
        .and_then(|s| demo.lock().seal_pictures.get(s).cloned());
    // A PDF with a seal picture: the seal is drawn on the page and the digest to sign is the
    // ByteRange's of the prepared update, so the signature lives inside the PDF.
    if name.to_ascii_lowercase().ends_with(".pdf")
        && let Some(png) = picture
    {
        digest = prepare_pdf(&demo, &bid.id, tmp.path(), &png)?;
    }
    let doc = DocumentToSign {
        name: bid.file_name.clone(),
        digest_alg: DigestAlg::Sm3,
        digest,
        page_count: q.pages.unwrap_or(1).clamp(1, 10_000),
        // An official seal is 42 mm across, here at the foot of the page.
        seal: q.seal_id.clone().map(|seal_id| SealPlacement {
            seal_id,
            page: 1,
            x_mm: SEAL_X_MM,
            y_mm: SEAL_Y_MM,
            width_mm: SEAL_MM,
            height_mm: SEAL_MM,
        }),
    };
    demo.remember_document(&bid.id, doc.clone());
    let job = demo
        .start_job(
            &sid,
            Purpose::SignBid {
                bid_id: bid.id.clone(),
            },
            ScanAction::Sign {
                uscc: bidder.uscc.clone(),
                documents: vec![doc],
            },
        )
        .await?;
    Ok(Json(Uploaded { bid, job }))
}

#[derive(Debug, Deserialize)]
struct OpenQuery {
    /// For a k-of-n bid: the recipient (encryption-certificate serial) asked for their share.
    #[serde(default)]
    recipient: Option<String>,
}

/// At the bid opening: ask a recipient to unwrap the key of the bid (any of them; for a
/// k-of-n bid, the one named by `?recipient=`, for their share).
async fn open_bid(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<OpenQuery>,
) -> ApiResult<Json<JobView>> {
    let (sid, _) = browser(&headers);
    if unix_now() < demo.tender.opening_at {
        return Err(ApiError(StatusCode::CONFLICT, "尚未到开标时间".into()));
    }
    let bid = demo
        .lock()
        .bids
        .iter()
        .find(|b| b.id == id)
        .cloned()
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个投标文件".into()))?;
    let mut wrapped = demo.wrapped_keys_of(&bid)?;
    let threshold = demo.threshold_of(&bid)?;
    if threshold >= 2 {
        // Each share holder is asked alone, so the platform knows whose share it receives.
        let who = q.recipient.ok_or(ApiError(
            StatusCode::BAD_REQUEST,
            format!("这份投标文件需要 {threshold} 位授权人员分别扫码：请选择接收人"),
        ))?;
        wrapped.retain(|w| w.recipient_serial == who);
        if wrapped.is_empty() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "不是这份投标文件的接收人".into(),
            ));
        }
    }
    let recipient = (threshold >= 2).then(|| wrapped[0].recipient_serial.clone());
    let job = demo
        .start_job(
            &sid,
            Purpose::OpenBid {
                bid_id: id,
                recipient,
            },
            ScanAction::Decrypt {
                tender_id: demo.tender.id.clone(),
                tender_name: demo.tender.name.clone(),
                opening_at: demo.tender.opening_at,
                files: wrapped,
            },
        )
        .await?;
    Ok(Json(job))
}

#[derive(Debug, Serialize)]
struct Reverified {
    valid: bool,
    message: String,
}

/// Check a bid's signature again now: chain, revocation and the grant as they stand today.
async fn reverify(
    State(demo): State<Arc<Demo>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Reverified>> {
    let out = demo.reverify(&id).await;
    Ok(Json(match out {
        Ok(m) => Reverified {
            valid: true,
            message: m,
        },
        Err(e) => Reverified {
            valid: false,
            message: format!("签名不再有效：{e}"),
        },
    }))
}

/// The stored (encrypted) bid file, for the bidder's 解密自检 on the file as uploaded; only
/// to a logged-in bidder of the same enterprise.
async fn bid_file(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (sid, _) = browser(&headers);
    let me =
        bidder_of(&demo, &sid).ok_or(ApiError(StatusCode::UNAUTHORIZED, "请先扫码登录".into()))?;
    let bid = demo
        .lock()
        .bids
        .iter()
        .find(|b| b.id == id)
        .cloned()
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个投标文件".into()))?;
    if bid.bidder.uscc.is_none() || bid.bidder.uscc != me.uscc {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "不是贵单位的投标文件".into(),
        ));
    }
    let bytes = std::fs::read(&bid.encrypted_path)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[derive(Debug, Deserialize)]
struct SelfCheckReport {
    ok: bool,
    binding_hash: String,
    checked_at: i64,
    device: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The bidder's phone reports its 解密自检 of the stored file: shown in the opening hall as
/// "可解密 ✓ (time, device)" or the reason it would not open.
async fn self_check(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(r): Json<SelfCheckReport>,
) -> ApiResult<Json<Bid>> {
    let (sid, _) = browser(&headers);
    let me =
        bidder_of(&demo, &sid).ok_or(ApiError(StatusCode::UNAUTHORIZED, "请先扫码登录".into()))?;
    if r.device.len() > 100 || r.reason.as_ref().is_some_and(|s| s.len() > 500) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "自检报告过长".into()));
    }
    let info = super::SelfCheckInfo {
        ok: r.ok,
        checked_at: r.checked_at,
        device: r.device,
        reported_by: me.name.clone(),
        reason: if r.ok { None } else { r.reason },
    };
    demo.record_self_check(&id, &me, &r.binding_hash, info)
        .map_err(|e| match e {
            PlatformError::UsccMismatch => {
                ApiError(StatusCode::FORBIDDEN, "不是贵单位的投标文件".into())
            }
            PlatformError::BadReply(_) => {
                ApiError(StatusCode::CONFLICT, "自检的不是平台保存的这份文件".into())
            }
            e => ApiError::from(e),
        })?;
    demo.lock()
        .bids
        .iter()
        .find(|b| b.id == id)
        .cloned()
        .map(Json)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个投标文件".into()))
}

#[derive(Debug, Serialize)]
struct OpenOutcome {
    opened: bool,
    /// What happened, in Chinese and English.
    message_zh: String,
    message_en: String,
}

/// At the opening, without the bidder: ask the Bidkey server for the bid's pre-authorised
/// key halves (released only at the opening time by the server's clock) and open it.
async fn open_preauthorised(
    State(demo): State<Arc<Demo>>,
    Path(id): Path<String>,
) -> ApiResult<Json<OpenOutcome>> {
    let bid = demo
        .lock()
        .bids
        .iter()
        .find(|b| b.id == id)
        .cloned()
        .ok_or(ApiError(StatusCode::NOT_FOUND, "没有这个投标文件".into()))?;
    let outcome = async {
        let header = {
            let mut f = std::io::BufReader::new(std::fs::File::open(&bid.encrypted_path)?);
            crate::bidfile::BidFileHeader::read_from(&mut f)?
        };
        let key = crate::preauth::released_key(
            &demo.signed,
            &demo.client.request_key(),
            demo.client.platform_id(),
            &header,
        )
        .await?;
        demo.open_with_key(
            &id,
            &key,
            super::OpenedHow::Preauthorised,
            &format!("{}（预授权）", bid.bidder.name),
        )
    }
    .await;
    Ok(Json(match outcome {
        Ok(m) => OpenOutcome {
            opened: true,
            message_zh: m,
            message_en: "opened with the bidder's pre-authorisation".into(),
        },
        Err(e) => {
            let words = crate::opening::failure_words(&e);
            demo.record_failure(&id, words.clone());
            OpenOutcome {
                opened: false,
                message_zh: words.zh,
                message_en: words.en,
            }
        }
    }))
}

/// A bid in the opening hall, as `GET /api/hall` returns it.
#[derive(Debug, Serialize)]
struct HallEntry {
    bid_id: String,
    bidder: String,
    file_name: String,
    #[serde(flatten)]
    row: crate::hall::HallRow,
}

/// `GET /api/hall`: the opening hall's rows (the SDK's words), for the page and the story.
async fn hall(State(demo): State<Arc<Demo>>) -> Json<Vec<HallEntry>> {
    let bids: Vec<Bid> = demo
        .lock()
        .bids
        .iter()
        .filter(|b| !b.document_only)
        .cloned()
        .collect();
    let mut out = Vec::with_capacity(bids.len());
    for b in bids {
        let row = demo.hall_row(&b).await;
        out.push(HallEntry {
            bid_id: b.id,
            bidder: b.bidder.name,
            file_name: b.file_name,
            row,
        });
    }
    Json(out)
}
