//! The gateway's HTTP API (`gateway/openapi.yaml`). Every route is in [`ROUTES`], which the
//! OpenAPI test compares with the document; every refusal is the typed [`ErrorBody`].

use crate::Gateway;
use crate::error::{GatewayError, Result};
use crate::scans::{self, CreateScan, ScanView, SealPdfRequest, SignerView};
use crate::store::unix_now;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bidkey_crypto::cms::{Content, HashAlgorithm};
use bidkey_crypto::x509::Cert;
use bidkey_platform::bidfile::{self, BidFileHeader, EncryptOptions, FileKey};
use bidkey_platform::pdf;
use bidkey_platform::verify::Verifier;
use bidkey_protocol::scan::DigestAlg;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

/// Every route: method and path as the OpenAPI document writes it.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("POST", "/v1/scans"),
    ("POST", "/v1/scans/seal-pdf"),
    ("POST", "/v1/sessions/{session_id}/scans"),
    ("GET", "/v1/scans/{id}"),
    ("GET", "/v1/scans/{id}/qr"),
    ("GET", "/v1/scans/{id}/qr.png"),
    ("GET", "/v1/scans/{id}/qr.svg"),
    ("GET", "/v1/scans/{id}/qr/stream"),
    ("GET", "/v1/scans/{id}/pdf"),
    ("POST", "/v1/bid-files/encrypt"),
    ("POST", "/v1/bid-files/decrypt"),
    ("POST", "/v1/bid-files/header"),
    ("POST", "/v1/bid-files/open-preauthorised"),
    ("POST", "/v1/opening-hall"),
    ("POST", "/v1/verify/cms"),
    ("POST", "/v1/verify/pdf"),
    ("POST", "/v1/verify/cms/offline"),
    ("POST", "/v1/verify/pdf/offline"),
];

/// The request header carrying the recipient's encryption certificate (DER, base64).
pub const RECIPIENT_CERT_HEADER: &str = "bidkey-recipient-cert";
/// The request header carrying a released file key (32 hex digits).
pub const FILE_KEY_HEADER: &str = "bidkey-file-key";

type G = State<Arc<Gateway>>;

pub fn router(g: Arc<Gateway>) -> Router {
    let json = DefaultBodyLimit::max(g.limits.json_body);
    let upload = DefaultBodyLimit::max(g.limits.upload_body);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/scans", post(create_scan).layer(json))
        .route("/v1/scans/seal-pdf", post(create_seal_pdf).layer(upload))
        .route(
            "/v1/sessions/{session_id}/scans",
            post(create_in_session).layer(json),
        )
        .route("/v1/scans/{id}", get(scan_view))
        .route("/v1/scans/{id}/qr", get(qr_text))
        .route("/v1/scans/{id}/qr.png", get(qr_png))
        .route("/v1/scans/{id}/qr.svg", get(qr_svg))
        .route("/v1/scans/{id}/qr/stream", get(qr_stream))
        .route("/v1/scans/{id}/pdf", get(sealed_pdf))
        .route("/v1/bid-files/encrypt", post(encrypt))
        .route("/v1/bid-files/decrypt", post(decrypt))
        .route("/v1/bid-files/header", post(bid_file_header))
        .route("/v1/bid-files/open-preauthorised", post(open_preauthorised))
        .route("/v1/opening-hall", post(opening_hall).layer(upload))
        .route("/v1/verify/cms", post(verify_cms).layer(json))
        .route("/v1/verify/pdf", post(verify_pdf))
        .route(
            "/v1/verify/cms/offline",
            post(verify_cms_offline).layer(json),
        )
        .route(
            "/v1/verify/pdf/offline",
            post(verify_pdf_offline).layer(upload),
        )
        .fallback(|| async { GatewayError::NotFound })
        .method_not_allowed_fallback(|| async { GatewayError::MethodNotAllowed })
        .with_state(g)
}

// ---- extractors: every rejection is a typed error ----

/// The app of a valid API key (`Authorization: Bearer bgw_…`).
#[derive(Debug)]
pub struct App(pub String);

impl FromRequestParts<Arc<Gateway>> for App {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, g: &Arc<Gateway>) -> Result<Self> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(GatewayError::Unauthorized)?;
        match g.store.check_api_key(token.trim())? {
            Some(app) => Ok(App(app)),
            None => Err(GatewayError::Unauthorized),
        }
    }
}

/// A JSON body: `application/json`, within the route's limit, of the right shape.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = GatewayError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.to_ascii_lowercase();
                v == "application/json" || v.starts_with("application/json;")
            });
        if !json {
            return Err(GatewayError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                GatewayError::PayloadTooLarge
            } else {
                GatewayError::BadRequest("unreadable body".into())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| GatewayError::BadRequest(format!("body: {e}")))
    }
}

/// A path parameter: printable ASCII, short.
#[derive(Debug)]
pub struct Param(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Param {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let Path(p) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| GatewayError::NotFound)?;
        if p.is_empty()
            || p.len() > 64
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(GatewayError::NotFound);
        }
        Ok(Param(p))
    }
}

/// A query string of the right shape.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| GatewayError::BadRequest(format!("query: {}", e.body_text())))
    }
}

// ---- health ----

#[derive(Debug, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub platform_id: String,
}

async fn healthz(State(g): G) -> Result<Json<Health>> {
    g.store.ping()?;
    Ok(Json(Health {
        status: "ok".into(),
        platform_id: g.scan.platform_id().to_owned(),
    }))
}

// ---- scans ----

async fn create_scan(
    State(g): G,
    App(app): App,
    ApiJson(req): ApiJson<CreateScan>,
) -> Result<(StatusCode, Json<ScanView>)> {
    let v = scans::create(&g, &app, req, None).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

async fn create_in_session(
    State(g): G,
    App(app): App,
    Param(sid): Param,
    ApiJson(req): ApiJson<CreateScan>,
) -> Result<(StatusCode, Json<ScanView>)> {
    let v = scans::create(&g, &app, req, Some(&sid)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

async fn create_seal_pdf(
    State(g): G,
    App(app): App,
    ApiJson(req): ApiJson<SealPdfRequest>,
) -> Result<(StatusCode, Json<ScanView>)> {
    let v = scans::create_seal_pdf(&g, &app, req).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    #[serde(default)]
    pub wait: Option<u64>,
}

async fn scan_view(
    State(g): G,
    App(app): App,
    Param(id): Param,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<Json<ScanView>> {
    let wait = q.wait.unwrap_or(0);
    if wait > scans::MAX_WAIT_SECS {
        return Err(GatewayError::BadRequest(format!(
            "wait is at most {} seconds",
            scans::MAX_WAIT_SECS
        )));
    }
    Ok(Json(scans::view(&g, &app, &id, wait).await?))
}

/// `GET /v1/scans/{id}/qr`.
#[derive(Debug, Serialize, Deserialize)]
pub struct QrText {
    /// The QR code's text for second `t`.
    pub uri: String,
    pub t: u64,
    pub verification_code: String,
    pub expires_at: i64,
    /// Draw the next code after this many milliseconds (the code rotates every second).
    pub refresh_ms: u64,
}

async fn qr_text(State(g): G, App(app): App, Param(id): Param) -> Result<Json<QrText>> {
    let (uri, t, v) = scans::qr(&g, &app, &id)?;
    Ok(Json(QrText {
        uri,
        t,
        verification_code: v.verification_code,
        expires_at: v.expires_at,
        refresh_ms: 1000,
    }))
}

fn qr_now(g: &Gateway, app: &str, id: &str) -> Result<QrText> {
    let (uri, t, v) = scans::qr(g, app, id)?;
    Ok(QrText {
        uri,
        t,
        verification_code: v.verification_code,
        expires_at: v.expires_at,
        refresh_ms: 1000,
    })
}

/// `GET /v1/scans/{id}/qr/stream`: Server-Sent Events, one `qr` event a second with the
/// code's text now (a [`QrText`]), until the scan ends: then one `finished` event with the
/// scan (a `ScanView`) and the stream closes. An unknown or finished scan is refused before
/// the stream starts, as by `/qr`.
async fn qr_stream(State(g): G, App(app): App, Param(id): Param) -> Result<Response> {
    use axum::response::sse::{Event, Sse};
    qr_now(&g, &app, &id)?;
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = futures_util::stream::unfold(
        (g, app, id, ticks, false),
        |(g, app, id, mut ticks, ended)| async move {
            if ended {
                return None;
            }
            ticks.tick().await;
            let (event, ended) = match qr_now(&g, &app, &id) {
                Ok(qr) => (Event::default().event("qr").json_data(qr), false),
                Err(GatewayError::Finished) => match scans::view(&g, &app, &id, 0).await {
                    Ok(v) => (Event::default().event("finished").json_data(v), true),
                    Err(e) => (Event::default().event("error").json_data(e.body()), true),
                },
                Err(e) => (Event::default().event("error").json_data(e.body()), true),
            };
            let event = event.unwrap_or_else(|_| Event::default().event("error").data("{}"));
            Some((
                Ok::<_, std::convert::Infallible>(event),
                (g, app, id, ticks, ended),
            ))
        },
    );
    Ok(Sse::new(stream).into_response())
}

fn no_store(content_type: &'static str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn qr_png(State(g): G, App(app): App, Param(id): Param) -> Result<Response> {
    let (uri, _, _) = scans::qr(&g, &app, &id)?;
    Ok(no_store(
        "image/png",
        bidkey_platform::qr::render_qr_png(&uri)?,
    ))
}

async fn qr_svg(State(g): G, App(app): App, Param(id): Param) -> Result<Response> {
    let (uri, _, _) = scans::qr(&g, &app, &id)?;
    Ok(no_store(
        "image/svg+xml",
        bidkey_platform::qr::render_qr_svg(&uri)?.into_bytes(),
    ))
}

async fn sealed_pdf(State(g): G, App(app): App, Param(id): Param) -> Result<Response> {
    Ok(no_store(
        "application/pdf",
        scans::sealed_pdf(&g, &app, &id)?,
    ))
}

// ---- bid files: streamed through anonymous temporary files, constant memory ----

/// Spool a raw upload (`application/octet-stream` or `application/pdf`) to an anonymous
/// temporary file, refusing it past `limit` bytes.
async fn spool(headers: &HeaderMap, body: Body, limit: usize) -> Result<std::fs::File> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(ct.starts_with("application/octet-stream") || ct.starts_with("application/pdf")) {
        return Err(GatewayError::UnsupportedMediaType);
    }
    let file = tempfile::tempfile()?;
    let mut out = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut n = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| GatewayError::BadRequest("body cut off".into()))?;
        n += chunk.len();
        if n > limit {
            return Err(GatewayError::PayloadTooLarge);
        }
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk).await?;
    }
    tokio::io::AsyncWriteExt::flush(&mut out).await?;
    let mut file = out.into_std().await;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Stream a finished temporary file back.
fn stream_out(mut file: std::fs::File, extra: Vec<(&'static str, String)>) -> Result<Response> {
    file.seek(SeekFrom::Start(0))?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    Ok(resp)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GatewayError::Internal(format!("task: {e}")))?
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptQuery {
    pub tender_id: String,
    pub file_name: String,
}

async fn encrypt(
    State(g): G,
    App(_): App,
    ApiQuery(q): ApiQuery<EncryptQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    if q.tender_id.is_empty()
        || q.tender_id.len() > 128
        || q.file_name.is_empty()
        || q.file_name.len() > 256
    {
        return Err(GatewayError::BadRequest(
            "tender_id and file_name: 1-128 and 1-256 bytes".into(),
        ));
    }
    let der = headers
        .get(RECIPIENT_CERT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| B64.decode(v.trim()).ok())
        .ok_or_else(|| {
            GatewayError::BadRequest(format!(
                "{RECIPIENT_CERT_HEADER}: the encryption certificate, DER in base64"
            ))
        })?;
    let cert = Cert::from_der(&der)
        .map_err(|_| bidkey_platform::PlatformError::Malformed("encryption certificate"))?;
    // Only to a Bidkey encryption certificate, valid and not revoked now.
    let crls = bidkey_platform::verify::fetch_crls(&g.client).await?;
    Verifier::new(g.anchor.clone()).check_encryption_cert(
        &cert,
        unix_now().max(0) as u64,
        &crls,
    )?;
    let mut input = spool(&headers, body, g.limits.upload_body).await?;
    // The wrapped key names this platform: the phone unwraps it only for its requests.
    let platform_id = g.scan.platform_id().to_owned();
    let (out, enc) = blocking(move || {
        let mut out = tempfile::tempfile()?;
        let enc = bidfile::encrypt(
            &cert,
            &mut std::io::BufReader::new(&mut input),
            &mut std::io::BufWriter::new(&mut out),
            &EncryptOptions {
                tender_id: q.tender_id,
                platform_id,
                file_name: q.file_name,
                created_at: unix_now().max(0) as u64,
                ..Default::default()
            },
            &mut |_, _| {},
        )?;
        Ok((out, enc))
    })
    .await?;
    stream_out(
        out,
        vec![
            (
                "bidkey-recipient-serial",
                enc.header.recipient_serial().to_owned(),
            ),
            (
                "bidkey-wrapped-key",
                B64.encode(first_wrapped_key(&enc.header)),
            ),
        ],
    )
}

async fn decrypt(State(g): G, App(_): App, headers: HeaderMap, body: Body) -> Result<Response> {
    let key = headers
        .get(FILE_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            GatewayError::BadRequest(format!(
                "{FILE_KEY_HEADER}: the released file key, 32 hex digits"
            ))
        })
        .and_then(|v| {
            FileKey::from_hex(v.trim())
                .map_err(|_| GatewayError::BadRequest(format!("{FILE_KEY_HEADER}: 32 hex digits")))
        })?;
    let input = spool(&headers, body, g.limits.upload_body).await?;
    let out = decrypted_to_temp(key, input).await?;
    stream_out(out, vec![])
}

/// `POST /v1/bid-files/header`.
#[derive(Debug, Serialize, Deserialize)]
pub struct HeaderView {
    pub recipient_serial: String,
    pub tender_id: String,
    pub platform_id: String,
    pub file_name: String,
    pub created_at: u64,
    pub chunk_size: u32,
    /// What the phone unwraps: give it in a decrypt scan's `files`.
    pub wrapped_key: String,
    /// The header's binding hash (base64): give it with `wrapped_key` (ADR 0017).
    pub header_hash: String,
}

/// The wrapped key of the file's first recipient (the gateway encrypts to one; a file made
/// by a bidder for several staff lists them all, and each opens it).
fn first_wrapped_key(h: &BidFileHeader) -> &[u8] {
    h.recipients
        .first()
        .map_or(&[][..], |r| r.wrapped_key.as_slice())
}

async fn bid_file_header(
    State(g): G,
    App(_): App,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<HeaderView>> {
    let mut input = spool(&headers, body, g.limits.upload_body).await?;
    let h = blocking(move || Ok(BidFileHeader::read_from(&mut input)?)).await?;
    let header_hash = B64.encode(h.binding_hash()?);
    Ok(Json(HeaderView {
        recipient_serial: h.recipient_serial().to_owned(),
        tender_id: h.tender_id.clone(),
        platform_id: h.platform_id.clone(),
        file_name: h.file_name.clone(),
        created_at: h.created_at,
        chunk_size: h.chunk_size,
        wrapped_key: B64.encode(first_wrapped_key(&h)),
        header_hash,
    }))
}

/// `POST /v1/bid-files/open-preauthorised`: at the opening, a bid file the bidder
/// pre-authorised (ADR 0027) opened without any phone: the gateway asks the Bidkey server
/// for the released halves (or, k-of-n, the k released shares) with the platform's key,
/// checks the key against the header and answers the plaintext, every chunk authenticated.
/// Why it cannot open is in words a bidder understands (the hall's).
async fn open_preauthorised(
    State(g): G,
    App(_): App,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let mut input = spool(&headers, body, g.limits.upload_body).await?;
    let header = blocking(move || {
        let h = BidFileHeader::read_from(&mut std::io::BufReader::new(&mut input))?;
        input.seek(SeekFrom::Start(0))?;
        Ok((h, input))
    })
    .await;
    let (header, input) = header?;
    let platform_id = g.scan.platform_id().to_owned();
    let key = bidkey_platform::preauth::released_key(
        &g.client,
        &g.scan.request_key(),
        &platform_id,
        &header,
    )
    .await
    .map_err(GatewayError::not_openable)?;
    let threshold = header.threshold;
    let out = decrypted_to_temp(key, input).await?;
    let how = if threshold >= 2 {
        "k_of_n"
    } else {
        "preauthorised"
    };
    stream_out(out, vec![("bidkey-opened-how", how.to_owned())])
}

/// `POST /v1/opening-hall`: the opening hall's rows for the platform's bids
/// ([`crate::hall`]).
async fn opening_hall(
    State(g): G,
    App(_): App,
    ApiJson(req): ApiJson<crate::hall::HallRequest>,
) -> Result<Json<crate::hall::HallView>> {
    Ok(Json(crate::hall::hall_view(&g, req).await?))
}

// ---- verification ----

/// `POST /v1/verify/cms`: a stored detached CMS checked again now, online.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyCms {
    /// The `.p7s` (DER), base64.
    pub signed_data: String,
    pub digest_alg: DigestAlg,
    /// The platform's own digest of its stored file, base64 (32 bytes).
    pub digest: String,
    #[serde(default)]
    pub uscc: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct VerifiedCms {
    pub signer: SignerView,
    /// When the signature provably existed (the TSA's genTime), unix seconds.
    pub timestamp_time: u64,
}

async fn verify_cms(
    State(g): G,
    App(_): App,
    ApiJson(req): ApiJson<VerifyCms>,
) -> Result<Json<VerifiedCms>> {
    let sd = B64
        .decode(&req.signed_data)
        .map_err(|_| GatewayError::BadRequest("signed_data: not base64".into()))?;
    let digest = B64
        .decode(&req.digest)
        .map_err(|_| GatewayError::BadRequest("digest: not base64".into()))?;
    if digest.len() != 32 || sd.is_empty() {
        return Err(GatewayError::BadRequest(
            "digest: 32 bytes; signed_data: not empty".into(),
        ));
    }
    let (v, at) = g
        .verifier
        .recheck(&sd, req.digest_alg, &digest, req.uscc.as_deref())
        .await?;
    // The signer's certificate, from the CMS the check just accepted.
    let parsed = bidkey_crypto::cms::verify_signed_data(
        &sd,
        Content::DetachedDigest {
            algorithm: match req.digest_alg {
                DigestAlg::Sm3 => HashAlgorithm::Sm3,
                DigestAlg::Sha256 => HashAlgorithm::Sha256,
            },
            digest: &digest,
        },
        &[],
    )
    .map_err(bidkey_platform::PlatformError::from)?;
    let cert = parsed
        .signers
        .first()
        .map(|s| s.cert.clone())
        .ok_or(bidkey_platform::PlatformError::BadReply("document signers"))?;
    Ok(Json(VerifiedCms {
        signer: SignerView {
            serial: v.serial,
            common_name: v.common_name.unwrap_or_default(),
            organization: cert.subject_organization().ok().flatten(),
            uscc: v.uscc,
            grant_id: v.grant_id,
            certificate: B64.encode(cert.to_der()),
        },
        timestamp_time: at,
    }))
}

/// `POST /v1/verify/pdf`.
#[derive(Debug, Serialize)]
pub struct PdfVerdict {
    /// At least one signature, and every one valid.
    pub valid: bool,
    pub report: pdf::PdfReport,
}

async fn verify_pdf(
    State(g): G,
    App(_): App,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PdfVerdict>> {
    let input = spool(&headers, body, g.limits.upload_body).await?;
    let crls = bidkey_platform::verify::fetch_crls(&g.client).await?;
    let anchor = g.anchor.clone();
    let report = blocking(move || {
        Ok(pdf::verify(
            std::io::BufReader::new(input),
            &pdf::verify::VerifyOptions {
                anchor: Some(&anchor),
                tsa_anchor: None,
                crls: &crls,
                now: unix_now().max(0) as u64,
            },
        )?)
    })
    .await?;
    Ok(Json(PdfVerdict {
        valid: report.all_valid(),
        report,
    }))
}

// ---- offline verification: the caller's CRLs, no call to the Bidkey server ----

/// At most this many CRLs in one offline request (the chain needs two).
const MAX_CRLS: usize = 16;

fn parse_crls(crls: &[String]) -> Result<Vec<bidkey_crypto::x509::Crl>> {
    if crls.len() > MAX_CRLS {
        return Err(GatewayError::BadRequest(format!(
            "crls: at most {MAX_CRLS}"
        )));
    }
    crls.iter()
        .enumerate()
        .map(|(i, c)| {
            let der = B64
                .decode(c)
                .map_err(|_| GatewayError::BadRequest(format!("crls[{i}]: not base64")))?;
            bidkey_crypto::x509::Crl::from_der(&der)
                .map_err(|_| GatewayError::BadRequest(format!("crls[{i}]: not a DER CRL")))
        })
        .collect()
}

/// `POST /v1/verify/cms/offline`: as `/v1/verify/cms`, but revocation is judged only by the
/// CRLs the caller gives (the issuing CA's and the root's, base64 DER, current now: fail
/// closed when one is missing or stale), and no grant is asked for. The signer's chain is
/// checked at the signature's timestamp, the TSA's chain too.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyCmsOffline {
    pub signed_data: String,
    pub digest_alg: DigestAlg,
    pub digest: String,
    #[serde(default)]
    pub uscc: Option<String>,
    pub crls: Vec<String>,
}

async fn verify_cms_offline(
    State(g): G,
    App(_): App,
    ApiJson(req): ApiJson<VerifyCmsOffline>,
) -> Result<Json<VerifiedCms>> {
    use bidkey_platform::PlatformError;
    let sd = B64
        .decode(&req.signed_data)
        .map_err(|_| GatewayError::BadRequest("signed_data: not base64".into()))?;
    let digest = B64
        .decode(&req.digest)
        .map_err(|_| GatewayError::BadRequest("digest: not base64".into()))?;
    if digest.len() != 32 || sd.is_empty() {
        return Err(GatewayError::BadRequest(
            "digest: 32 bytes; signed_data: not empty".into(),
        ));
    }
    let crls = parse_crls(&req.crls)?;
    // The CMS signature over its signed attributes and their message digest (the
    // platform's own digest of its stored file).
    let parsed = bidkey_crypto::cms::verify_signed_data(
        &sd,
        Content::DetachedDigest {
            algorithm: match req.digest_alg {
                DigestAlg::Sm3 => HashAlgorithm::Sm3,
                DigestAlg::Sha256 => HashAlgorithm::Sha256,
            },
            digest: &digest,
        },
        &[],
    )
    .map_err(|_| PlatformError::BadReply("document signature"))?;
    let [one] = parsed.signers.as_slice() else {
        return Err(PlatformError::BadReply("document signers").into());
    };
    let ts = one
        .timestamps
        .first()
        .ok_or(PlatformError::BadReply("no timestamp"))?;
    let anchor = &g.anchor;
    bidkey_platform::timestamp::check_tsa_chain(
        ts,
        &bidkey_platform::timestamp::TsaTrust {
            roots: vec![anchor.root().clone()],
            intermediates: anchor.intermediates().to_vec(),
        },
    )?;
    let cert = &one.cert;
    let chain = bidkey_crypto::x509::verify_chain_without_revocation(
        cert,
        anchor.intermediates(),
        std::slice::from_ref(anchor.root()),
        ts.gen_time,
        bidkey_crypto::x509::RequiredUsage::Signing,
    )
    .map_err(PlatformError::from)?;
    bidkey_platform::verify::check_revocation(chain.certs(), &crls, unix_now().max(0) as u64)?;
    let uscc = cert
        .subject_uscc()
        .map_err(|_| PlatformError::Malformed("certificate subject"))?;
    if let Some(want) = &req.uscc
        && uscc.as_deref() != Some(want.as_str())
    {
        return Err(PlatformError::UsccMismatch.into());
    }
    Ok(Json(VerifiedCms {
        signer: SignerView {
            serial: cert.serial_hex(),
            common_name: cert
                .subject_common_name()
                .map_err(|_| PlatformError::Malformed("certificate subject"))?
                .unwrap_or_default(),
            organization: cert.subject_organization().ok().flatten(),
            uscc,
            grant_id: None,
            certificate: B64.encode(cert.to_der()),
        },
        timestamp_time: ts.gen_time,
    }))
}

/// `POST /v1/verify/pdf/offline`: the PDF (base64) checked against the caller's CRLs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyPdfOffline {
    pub pdf: String,
    pub crls: Vec<String>,
}

async fn verify_pdf_offline(
    State(g): G,
    App(_): App,
    ApiJson(req): ApiJson<VerifyPdfOffline>,
) -> Result<Json<PdfVerdict>> {
    let bytes = B64
        .decode(&req.pdf)
        .map_err(|_| GatewayError::BadRequest("pdf: not base64".into()))?;
    let crls = parse_crls(&req.crls)?;
    let anchor = g.anchor.clone();
    let report = blocking(move || {
        Ok(pdf::verify(
            std::io::Cursor::new(bytes),
            &pdf::verify::VerifyOptions {
                anchor: Some(&anchor),
                tsa_anchor: None,
                crls: &crls,
                now: unix_now().max(0) as u64,
            },
        )?)
    })
    .await?;
    // Offline, a signature whose revocation the CRLs given do not settle is not valid
    // (fail closed, as the CMS check refuses without them).
    let valid = report.all_valid()
        && report
            .signatures
            .iter()
            .all(|s| s.signer.as_ref().is_some_and(|s| s.revocation.is_valid()));
    Ok(Json(PdfVerdict { valid, report }))
}

/// The bid file in `input` decrypted whole into a temporary file: a tampered chunk refuses
/// the file before any plaintext leaves.
async fn decrypted_to_temp(key: FileKey, mut input: std::fs::File) -> Result<std::fs::File> {
    blocking(move || {
        let mut out = tempfile::tempfile()?;
        {
            let mut w = std::io::BufWriter::new(&mut out);
            bidfile::decrypt(
                &key,
                &mut std::io::BufReader::new(&mut input),
                &mut w,
                &mut |_, _| {},
            )?;
            w.flush()?;
        }
        Ok(out)
    })
    .await
}
