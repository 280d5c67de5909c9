//! Scan requests (扫码): a trading platform asks a bidder's phone to bind, log in, sign /
//! seal, decrypt bid-file keys, or open a session; the Bidkey server relays. The whole
//! exchange is described in `docs/scan-protocol.md`.
//!
//! ```text
//! platform ── POST /v1/relay/requests {signed request, qr secret, poll secret} ─► relay
//! page      ── shows bidkey://scan?v=1&relay=…&id=…&t=…&code=…  (code rotates every second)
//! phone     ── GET  /v1/relay/requests/{id}?t=&code=  → the signed request (first scanner only)
//! phone     ── POST /v1/relay/requests/{id}/reply {outcome, sealed reply[, session]}
//! platform  ── GET  /v1/relay/requests/{id}/result?wait=25  (x-bidkey-poll: poll secret)
//! ```
//!
//! The request body is signed by the platform's certificate over [`request_message`]; the
//! reply is sealed to the request's ephemeral reply key, so the relay sees neither a
//! signature's meaning nor an unwrapped bid-file key. Cryptography lives in
//! `bidkey_crypto::scan`; this module is plain data and the exact bytes each party signs.

use serde::{Deserialize, Serialize};

/// The URI scheme of a scan QR code.
pub const URI_SCHEME: &str = "bidkey";
/// The version of the scan protocol in the QR code and every request body.
pub const SCAN_VERSION: u32 = 1;
/// A request lives this long unless the platform asks for less.
pub const DEFAULT_TTL_SECS: i64 = 120;
/// The longest life a platform may ask for.
pub const MAX_TTL_SECS: i64 = 600;
/// A QR code frame (its `t`) is accepted this many seconds after it was due, to allow for
/// the camera and the network; a photo of the page is useless after that.
pub const QR_MAX_AGE_SECS: u64 = 10;
/// A frame may be this many seconds early (clock granularity between page and relay).
pub const QR_MAX_EARLY_SECS: u64 = 2;
/// Longest long-poll wait.
pub const MAX_WAIT_SECS: u64 = 30;
/// Sessions (会话) last at most this long.
pub const MAX_SESSION_SECS: u64 = 8 * 3600;
/// Documents in one sign request.
pub const MAX_DOCUMENTS: usize = 100;
/// Wrapped file keys in one decrypt request.
pub const MAX_FILES: usize = 200;
/// The largest signed request body (JSON) the relay takes and the phone reads.
pub const MAX_REQUEST_BODY: usize = 512 * 1024;
/// The largest sealed reply ciphertext: signatures and at most [`MAX_FILES`] file keys, far
/// below this. The relay refuses a bigger one and the phone never sends one.
pub const MAX_SEALED_REPLY: usize = 1024 * 1024;
/// Longest name, id or account string inside an action.
pub const MAX_FIELD: usize = 512;
/// Longest wrapped file key (an SM2 ciphertext, DER).
pub const MAX_WRAPPED_KEY: usize = 1024;
/// Size of a request id in hex digits (16 random bytes).
pub const REQUEST_ID_LEN: usize = 32;
/// The header a platform authenticates its polls with.
pub const POLL_HEADER: &str = "x-bidkey-poll";

/// Why a scan URI was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    NotBidkey,
    UnsupportedVersion(String),
    Missing(&'static str),
    Invalid(&'static str),
}

impl std::fmt::Display for UriError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UriError::NotBidkey => write!(f, "not a Bidkey QR code"),
            UriError::UnsupportedVersion(v) => write!(f, "unsupported scan version {v}"),
            UriError::Missing(p) => write!(f, "QR code lacks `{p}`"),
            UriError::Invalid(p) => write!(f, "QR code has an invalid `{p}`"),
        }
    }
}

impl std::error::Error for UriError {}

/// What a QR code carries: `bidkey://scan?v=1&relay=<base url>&id=<request id>&t=<s>&code=<hex>`.
///
/// `t` is the seconds since the request was created and `code` the rotating code for it,
/// `hex(HMAC-SHA256(qr secret, decimal t))` (the BankID construction); the QR secret itself
/// never leaves the platform and the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanUri {
    /// The relay's base URL, `https://host[:port]` or `http://127.0.0.1:port`.
    pub relay: String,
    pub request_id: String,
    pub t: u64,
    pub code: String,
    /// The reply authentication key (64 hex, ADR 0016): only in the QR code the platform
    /// shows, never sent to the relay; the phone MACs its reply with it.
    pub k: Option<String>,
}

impl ScanUri {
    /// Parse strictly: the scheme, version, every parameter once, nothing else.
    pub fn parse(text: &str) -> Result<ScanUri, UriError> {
        let rest = text
            .trim()
            .strip_prefix("bidkey://scan?")
            .ok_or(UriError::NotBidkey)?;
        let (mut v, mut relay, mut id, mut t, mut code, mut reply_k) =
            (None, None, None, None, None, None);
        for pair in rest.split('&') {
            let (k, val) = pair.split_once('=').ok_or(UriError::Invalid("query"))?;
            let slot = match k {
                "v" => &mut v,
                "relay" => &mut relay,
                "id" => &mut id,
                "t" => &mut t,
                "code" => &mut code,
                "k" => &mut reply_k,
                _ => return Err(UriError::Invalid("parameter")),
            };
            if slot.replace(val).is_some() {
                return Err(UriError::Invalid("parameter"));
            }
        }
        let v = v.ok_or(UriError::Missing("v"))?;
        if v != SCAN_VERSION.to_string() {
            return Err(UriError::UnsupportedVersion(v.to_owned()));
        }
        let relay = relay.ok_or(UriError::Missing("relay"))?;
        check_relay(relay)?;
        let id = id.ok_or(UriError::Missing("id"))?;
        if !is_request_id(id) {
            return Err(UriError::Invalid("id"));
        }
        let t = t.ok_or(UriError::Missing("t"))?;
        if t.is_empty() || t.len() > 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UriError::Invalid("t"));
        }
        let t = t.parse().map_err(|_| UriError::Invalid("t"))?;
        let code = code.ok_or(UriError::Missing("code"))?;
        if code.len() != 64 || !code.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(UriError::Invalid("code"));
        }
        if let Some(k) = reply_k
            && (k.len() != 64 || !k.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(UriError::Invalid("k"));
        }
        Ok(ScanUri {
            relay: relay.to_owned(),
            request_id: id.to_owned(),
            t,
            code: code.to_owned(),
            k: reply_k.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for ScanUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bidkey://scan?v={SCAN_VERSION}&relay={}&id={}&t={}&code={}",
            self.relay, self.request_id, self.t, self.code
        )?;
        match &self.k {
            Some(k) => write!(f, "&k={k}"),
            None => Ok(()),
        }
    }
}

/// A relay address fit for a QR query value: `http(s)://` host characters only (no `&`,
/// `=`, `#`, `?`, spaces, user info, path).
fn check_relay(relay: &str) -> Result<(), UriError> {
    let host = relay
        .strip_prefix("https://")
        .or_else(|| relay.strip_prefix("http://"))
        .ok_or(UriError::Invalid("relay"))?;
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if ok {
        Ok(())
    } else {
        Err(UriError::Invalid("relay"))
    }
}

/// 32 lowercase hex digits.
pub fn is_request_id(s: &str) -> bool {
    s.len() == REQUEST_ID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The base URL with no trailing slash, for comparing a QR's relay with the phone's server.
pub fn normalize_base_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The AEAD and key agreement a reply is sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyAlg {
    /// SM2 ECDH (x-coordinate of d·P), HKDF-SM3, SM4-GCM.
    Sm2Sm4Gcm,
    /// P-256 ECDH, HKDF-SHA256, AES-256-GCM.
    P256Aes256Gcm,
}

/// The platform's ephemeral public key for this request's reply (SEC1 uncompressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyKey {
    pub alg: ReplyAlg,
    #[serde(with = "crate::b64")]
    pub public_key: Vec<u8>,
}

/// Which digest a document was hashed with by the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestAlg {
    Sm3,
    Sha256,
}

/// Where a seal image goes (盖章位置), in the document's own page coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealPlacement {
    /// Which of the enterprise's seals (印章管理); the phone shows its image and refuses a
    /// seal the signer may not use.
    pub seal_id: String,
    /// 1-based page, at most the document's `page_count`.
    pub page: u32,
    /// Millimetres from the page's left and top edges to the seal's top-left corner.
    pub x_mm: u32,
    pub y_mm: u32,
    /// The seal's size on the page, millimetres.
    pub width_mm: u32,
    pub height_mm: u32,
}

/// One document to sign (or seal): the platform hashed the file itself. The phone builds
/// the CMS signed attributes from these fields (the digest becomes the messageDigest), so
/// what is signed is what the phone showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentToSign {
    pub name: String,
    /// SM3 (the only digest an SM2 signing certificate signs).
    pub digest_alg: DigestAlg,
    /// The digest of the whole file (or of a PDF's ByteRange), exactly 32 bytes.
    #[serde(with = "crate::b64")]
    pub digest: Vec<u8>,
    /// Pages in the document (1 for a file without pages).
    pub page_count: u32,
    #[serde(default)]
    pub seal: Option<SealPlacement>,
}

/// Length of every document digest (SM3 and SHA-256 alike).
pub const DIGEST_LEN: usize = 32;
/// Longest document name, in bytes.
pub const MAX_DOCUMENT_NAME: usize = 256;
/// Most pages a document may claim.
pub const MAX_PAGES: u32 = 100_000;
/// Largest seal side on a page, millimetres (an A0 sheet is 1189 mm long).
pub const MAX_SEAL_MM: u32 = 1_200;

/// Why a document in a sign request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentProblem {
    Name,
    Digest,
    PageCount,
    Placement,
    SealId,
}

impl std::fmt::Display for DocumentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DocumentProblem::Name => "document name",
            DocumentProblem::Digest => "document digest (32 bytes)",
            DocumentProblem::PageCount => "page count",
            DocumentProblem::Placement => "seal position",
            DocumentProblem::SealId => "seal id",
        })
    }
}

impl std::error::Error for DocumentProblem {}

impl DocumentToSign {
    /// The limits both the relay and the phone enforce: a printable name, a 32-byte
    /// digest, 1..=[`MAX_PAGES`] pages, a seal on an existing page with a size, a seal id.
    pub fn check(&self) -> Result<(), DocumentProblem> {
        let name_ok = !self.name.trim().is_empty()
            && self.name.len() <= MAX_DOCUMENT_NAME
            && !self.name.chars().any(char::is_control);
        if !name_ok {
            return Err(DocumentProblem::Name);
        }
        if self.digest.len() != DIGEST_LEN {
            return Err(DocumentProblem::Digest);
        }
        if !(1..=MAX_PAGES).contains(&self.page_count) {
            return Err(DocumentProblem::PageCount);
        }
        if let Some(s) = &self.seal {
            let sized = (1..=MAX_SEAL_MM).contains(&s.width_mm)
                && (1..=MAX_SEAL_MM).contains(&s.height_mm)
                && s.x_mm <= 10 * MAX_SEAL_MM
                && s.y_mm <= 10 * MAX_SEAL_MM;
            if !(1..=self.page_count).contains(&s.page) || !sized {
                return Err(DocumentProblem::Placement);
            }
            let id_ok = !s.seal_id.is_empty()
                && s.seal_id.len() <= 64
                && s.seal_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(DocumentProblem::SealId);
            }
        }
        Ok(())
    }
}

/// A bid-file key wrapped (SM2, GM/T 0009 DER) to the bidder's encryption certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedFileKey {
    pub file_name: String,
    /// Serial (hex) of the encryption certificate the key was wrapped to.
    pub recipient_serial: String,
    /// The file key and its purpose (tender, platform, header hash), SM2-encrypted
    /// (bid-file format v2, `docs/bid-file-format.md`).
    #[serde(with = "crate::b64")]
    pub wrapped_key: Vec<u8>,
    /// The bid file's binding hash ([`HEADER_HASH_LEN`] bytes: SM3 of the header fields
    /// before the wrapped key). The phone unwraps the key only if the same hash, this
    /// request's tender and its platform are inside it (ADR 0017).
    #[serde(with = "crate::b64")]
    pub header_hash: Vec<u8>,
}

/// Length of [`WrappedFileKey::header_hash`].
pub const HEADER_HASH_LEN: usize = 32;

/// What the platform asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScanAction {
    /// 绑定: link the certificate to the user's account on the platform.
    Bind {
        /// The user's account name on the platform.
        platform_user: String,
        #[serde(default)]
        uscc: Option<String>,
    },
    /// 扫码登录: sign a login challenge.
    Login {
        #[serde(default)]
        uscc: Option<String>,
    },
    /// 签名 / 签章: sign each document's digest (and place a seal).
    Sign {
        #[serde(default)]
        uscc: Option<String>,
        documents: Vec<DocumentToSign>,
    },
    /// 解密 (开标): unwrap the keys of the bidder's files for this tender.
    Decrypt {
        tender_id: String,
        tender_name: String,
        /// When the bid opening (开标) starts; no key is unwrapped before.
        opening_at: i64,
        files: Vec<WrappedFileKey>,
    },
    /// 会话: after this scan the platform may send further requests without a QR code.
    Session {
        ttl_secs: u64,
        /// Whether the platform allows the phone to confirm sign requests automatically;
        /// the user still chooses. Decryption always asks.
        auto_confirm_allowed: bool,
        #[serde(default)]
        uscc: Option<String>,
    },
}

impl ScanAction {
    /// The action's limits, applied alike by the relay and by the phone (ADR 0016): a bound
    /// on every list and string, and each document as [`DocumentToSign::check`] wants it.
    pub fn within_limits(&self) -> bool {
        let short = |s: &str| s.len() <= MAX_FIELD;
        match self {
            ScanAction::Bind { platform_user, .. } => {
                !platform_user.is_empty() && short(platform_user)
            }
            ScanAction::Login { .. } => true,
            ScanAction::Sign { documents, .. } => {
                !documents.is_empty()
                    && documents.len() <= MAX_DOCUMENTS
                    && documents.iter().all(|d| d.check().is_ok())
            }
            ScanAction::Decrypt {
                tender_id,
                tender_name,
                files,
                ..
            } => {
                !files.is_empty()
                    && files.len() <= MAX_FILES
                    && short(tender_id)
                    && short(tender_name)
                    && files.iter().all(|f| {
                        short(&f.file_name)
                            && short(&f.recipient_serial)
                            && f.wrapped_key.len() <= MAX_WRAPPED_KEY
                            && f.header_hash.len() == HEADER_HASH_LEN
                    })
            }
            ScanAction::Session { ttl_secs, .. } => (1..=MAX_SESSION_SECS).contains(ttl_secs),
        }
    }

    pub fn kind(&self) -> ScanKind {
        match self {
            ScanAction::Bind { .. } => ScanKind::Bind,
            ScanAction::Login { .. } => ScanKind::Login,
            ScanAction::Sign { .. } => ScanKind::Sign,
            ScanAction::Decrypt { .. } => ScanKind::Decrypt,
            ScanAction::Session { .. } => ScanKind::Session,
        }
    }

    /// The enterprise the platform expects the signer to belong to.
    pub fn uscc(&self) -> Option<&str> {
        match self {
            ScanAction::Bind { uscc, .. }
            | ScanAction::Login { uscc }
            | ScanAction::Sign { uscc, .. }
            | ScanAction::Session { uscc, .. } => uscc.as_deref(),
            ScanAction::Decrypt { .. } => None,
        }
    }
}

/// The kind of a request, as a plain tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    Bind,
    Login,
    Sign,
    Decrypt,
    Session,
}

impl ScanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Bind => "bind",
            ScanKind::Login => "login",
            ScanKind::Sign => "sign",
            ScanKind::Decrypt => "decrypt",
            ScanKind::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<ScanKind> {
        [
            ScanKind::Bind,
            ScanKind::Login,
            ScanKind::Sign,
            ScanKind::Decrypt,
            ScanKind::Session,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The body a platform signs. It travels as the exact JSON bytes that were signed
/// ([`SignedScanRequest::body`]), so nobody re-serialises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRequestBody {
    pub v: u32,
    pub request_id: String,
    pub platform_id: String,
    /// The platform's web origin; must equal its registration and its certificate's CN.
    pub origin: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// 32 random bytes; the login challenge and the source of the code shown on both screens.
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    pub reply_key: ReplyKey,
    /// Set on a request sent inside an established session (no QR code).
    #[serde(default)]
    pub session_id: Option<String>,
    pub action: ScanAction,
    /// Where the relay also POSTs the result: under the platform's signature, so the relay
    /// (or anyone on the way) cannot redirect it. Absent from the JSON when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// A request as the platform signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedScanRequest {
    /// JSON of [`ScanRequestBody`].
    #[serde(with = "crate::b64")]
    pub body: Vec<u8>,
    /// DER signature over [`request_message`]`(body)` (SM2 with the default ID, or ECDSA
    /// P-256/SHA-256), by the key of `platform_cert`.
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
    /// The platform's certificate (DER), issued by the Bidkey CA.
    #[serde(with = "crate::b64")]
    pub platform_cert: Vec<u8>,
}

/// What the phone's fetch of a request returns (`GET /v1/relay/requests/{id}`): the request
/// as the platform signed it and, when the phone named its encryption key
/// (`cosign_serial`, `cosign_pair`) and the request is a decryption, a co-decryption
/// session the server opened for that key in the same transaction (ADR 0031: one round trip
/// less per co-decryption). A phone that does not ask, or an older server, gets none and
/// opens its session with `POST /v1/cosign/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedScanRequest {
    #[serde(flatten)]
    pub request: SignedScanRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosign_session: Option<crate::cosign::Session>,
}

const REQUEST_CONTEXT: &[u8] = b"bidkey scan request v1\0";

/// The bytes a platform signs: a context label, then the body.
pub fn request_message(body: &[u8]) -> Vec<u8> {
    [REQUEST_CONTEXT, body].concat()
}

/// Length-prefixed fields after a label, so no two field lists give the same bytes.
fn framed(label: &str, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    out.extend_from_slice(label.as_bytes());
    out.push(0);
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// What the phone signs (SM2, default ID) for a login, bind or session request: the kind,
/// request id, platform, origin and nonce, and for bind the platform account.
pub fn challenge_message(body: &ScanRequestBody) -> Vec<u8> {
    let kind = body.action.kind().as_str();
    let user = match &body.action {
        ScanAction::Bind { platform_user, .. } => platform_user.as_bytes(),
        _ => b"",
    };
    framed(
        "bidkey scan challenge v1",
        &[
            kind.as_bytes(),
            body.request_id.as_bytes(),
            body.platform_id.as_bytes(),
            body.origin.as_bytes(),
            &body.nonce,
            user,
        ],
    )
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyOutcome {
    Approved,
    Rejected,
}

/// The challenge signature in a reply (login, bind, session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplySignature {
    /// `challenge`.
    pub name: String,
    /// SM2 DER signature (default ID) over [`challenge_message`].
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

/// One signed document in a reply (签名 / 签章): a detached CMS SignedData (DER, RFC 5652
/// content types) whose one SignerInfo the phone built itself over the document's digest
/// (contentType id-data, messageDigest, signingTime from the server, signingCertificateV2),
/// with the signer's certificate and the issuing CA. A PDF's `/Contents` can carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyDocument {
    /// The document's name as the request gave it.
    pub name: String,
    #[serde(with = "crate::b64")]
    pub signed_data: Vec<u8>,
    /// For a seal the CA approved as a GB/T 38540 electronic seal: the `SES_Signature` over
    /// the same digest (no timestamp yet; the platform SDK adds it).
    #[serde(
        default,
        with = "crate::b64::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ses_signature: Option<Vec<u8>>,
}

/// One unwrapped bid-file key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyFileKey {
    pub file_name: String,
    #[serde(with = "crate::b64")]
    pub key: Vec<u8>,
}

/// A session the phone accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGrant {
    pub session_id: String,
    pub expires_at: i64,
    pub auto_confirm: bool,
}

/// What the phone tells the platform, sealed to the request's reply key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReply {
    pub request_id: String,
    pub outcome: ReplyOutcome,
    #[serde(default)]
    pub reason: Option<String>,
    /// The signing certificate used (DER), for bind / login / sign / session.
    #[serde(with = "crate::b64::option", default)]
    pub signer_cert: Option<Vec<u8>>,
    /// For bind and login: the encryption certificate of the same pair (DER), which the
    /// platform encrypts this bidder's files to.
    #[serde(with = "crate::b64::option", default)]
    pub encryption_cert: Option<Vec<u8>>,
    /// For bind, login and session: the challenge signature.
    #[serde(default)]
    pub signatures: Vec<ReplySignature>,
    /// For sign: one CMS per requested document, in the request's order.
    #[serde(default)]
    pub documents: Vec<ReplyDocument>,
    #[serde(default)]
    pub file_keys: Vec<ReplyFileKey>,
    #[serde(default)]
    pub session: Option<SessionGrant>,
    /// Whether the phone confirmed by itself inside an auto-confirm session.
    #[serde(default)]
    pub auto_confirmed: bool,
    /// HMAC-SM3 under the QR code's `k` over the JSON of [`ScanReply::without_auth`] (ADR 0016): the
    /// relay, which never sees `k`, cannot make a reply the platform accepts.
    #[serde(
        with = "crate::b64::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auth: Option<Vec<u8>>,
}

impl ScanReply {
    /// The reply as the MAC covers it: without `auth` (its JSON then has no `auth` key;
    /// both sides serialise this same struct, so the bytes agree).
    pub fn without_auth(&self) -> ScanReply {
        ScanReply {
            auth: None,
            ..self.clone()
        }
    }
}

/// A reply sealed by `bidkey_crypto::scan::seal_reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedReply {
    /// The phone's ephemeral public key (SEC1 uncompressed).
    #[serde(with = "crate::b64")]
    pub ephemeral: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub ciphertext: Vec<u8>,
}

/// `POST /v1/relay/requests` (with a QR secret) and
/// `POST /v1/relay/sessions/{id}/requests` (without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRelayRequest {
    pub request: SignedScanRequest,
    /// 32 random bytes the rotating QR code is derived from; none for session requests.
    #[serde(with = "crate::b64::option", default)]
    pub qr_secret: Option<Vec<u8>>,
    /// 32 random bytes; the platform shows them (hex) in `x-bidkey-poll` to read the result.
    #[serde(with = "crate::b64")]
    pub poll_secret: Vec<u8>,
    /// Where the relay also POSTs the [`RelayResult`] once answered (webhook option); when
    /// set it must equal the signed body's `webhook_url`, which is what the relay uses.
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// The relay took the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayCreated {
    pub request_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayStatus {
    /// Waiting for a scan.
    Pending,
    /// A phone fetched it; waiting for the user.
    Scanned,
    /// The phone answered; `sealed` holds the reply.
    Answered,
    /// Expired unanswered.
    Expired,
}

/// `GET /v1/relay/requests/{id}/result?wait=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayResult {
    pub request_id: String,
    pub status: RelayStatus,
    /// Set when answered; approve or reject (the sealed reply says it too, authenticated).
    #[serde(default)]
    pub outcome: Option<ReplyOutcome>,
    #[serde(default)]
    pub sealed: Option<SealedReply>,
    pub expires_at: i64,
}

/// `POST /v1/relay/requests/{id}/reply` (phone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyUpload {
    pub outcome: ReplyOutcome,
    pub sealed: SealedReply,
    /// For an approved session request: what the relay should open.
    #[serde(default)]
    pub session: Option<SessionGrant>,
}

/// A session the phone holds with a platform (会话列表).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSession {
    pub session_id: String,
    pub platform_id: String,
    pub platform_name: String,
    pub origin: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub auto_confirm: bool,
    #[serde(default)]
    pub ended_at: Option<i64>,
}

/// `GET /v1/relay/inbox?wait=N` (phone): session requests waiting for this account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxItem {
    pub request_id: String,
    pub session_id: String,
    pub request: SignedScanRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8";

    fn uri() -> ScanUri {
        ScanUri {
            relay: "http://127.0.0.1:8080".into(),
            request_id: "0123456789abcdef0123456789abcdef".into(),
            t: 7,
            code: CODE.into(),
            k: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn uri_round_trips() {
        let text = uri().to_string();
        assert!(text.starts_with("bidkey://scan?v=1&relay=http://127.0.0.1:8080&id="));
        assert_eq!(ScanUri::parse(&text), Ok(uri()));
    }

    #[test]
    fn uri_refuses_bad_input() {
        let good = uri().to_string();
        assert_eq!(
            ScanUri::parse("https://example.com"),
            Err(UriError::NotBidkey)
        );
        assert_eq!(
            ScanUri::parse(&good.replace("v=1", "v=2")),
            Err(UriError::UnsupportedVersion("2".into()))
        );
        assert_eq!(
            ScanUri::parse(&good.replace("&t=7", "")),
            Err(UriError::Missing("t"))
        );
        assert_eq!(
            ScanUri::parse(&format!("{good}&t=8")),
            Err(UriError::Invalid("parameter"))
        );
        assert_eq!(
            ScanUri::parse(&good.replace("http://", "ftp://")),
            Err(UriError::Invalid("relay"))
        );
        assert_eq!(
            ScanUri::parse(&good.replace("0123456789abcdef0123", "0123456789ABCDEF0123")),
            Err(UriError::Invalid("id"))
        );
        assert_eq!(
            ScanUri::parse(&good.replace(CODE, &CODE[..62])),
            Err(UriError::Invalid("code"))
        );
        assert_eq!(
            ScanUri::parse(&good.replace("t=7", "t=-7")),
            Err(UriError::Invalid("t"))
        );
    }

    #[test]
    fn challenge_binds_every_field() {
        let body = ScanRequestBody {
            v: 1,
            request_id: "0123456789abcdef0123456789abcdef".into(),
            platform_id: "p1".into(),
            origin: "https://ggzy.example".into(),
            created_at: 0,
            expires_at: 120,
            nonce: vec![7; 32],
            reply_key: ReplyKey {
                alg: ReplyAlg::Sm2Sm4Gcm,
                public_key: vec![4; 65],
            },
            session_id: None,
            action: ScanAction::Login { uscc: None },
            webhook_url: None,
        };
        let base = challenge_message(&body);
        let mut other = body.clone();
        other.origin = "https://ggzy.example.evil".into();
        assert_ne!(challenge_message(&other), base);
        let mut bind = body.clone();
        bind.action = ScanAction::Bind {
            platform_user: String::new(),
            uscc: None,
        };
        assert_ne!(challenge_message(&bind), base);
    }

    fn doc() -> DocumentToSign {
        DocumentToSign {
            name: "投标文件.pdf".into(),
            digest_alg: DigestAlg::Sm3,
            digest: vec![1; 32],
            page_count: 3,
            seal: Some(SealPlacement {
                seal_id: "s1".into(),
                page: 3,
                x_mm: 120,
                y_mm: 200,
                width_mm: 42,
                height_mm: 42,
            }),
        }
    }

    #[test]
    fn document_limits() {
        assert_eq!(doc().check(), Ok(()));
        let mut d = doc();
        d.digest = vec![1; 100];
        assert_eq!(d.check(), Err(DocumentProblem::Digest));
        let mut d = doc();
        d.page_count = 0;
        assert_eq!(d.check(), Err(DocumentProblem::PageCount));
        let mut d = doc();
        d.page_count = 2;
        assert_eq!(d.check(), Err(DocumentProblem::Placement));
        let mut d = doc();
        if let Some(s) = d.seal.as_mut() {
            s.width_mm = 0;
        }
        assert_eq!(d.check(), Err(DocumentProblem::Placement));
        let mut d = doc();
        if let Some(s) = d.seal.as_mut() {
            s.seal_id = "../x".into();
        }
        assert_eq!(d.check(), Err(DocumentProblem::SealId));
        let mut d = doc();
        d.name = "a\nb".into();
        assert_eq!(d.check(), Err(DocumentProblem::Name));
    }

    #[test]
    fn action_json_is_tagged() {
        let a = ScanAction::Decrypt {
            tender_id: "T1".into(),
            tender_name: "道路工程".into(),
            opening_at: 10,
            files: vec![],
        };
        let j = serde_json::to_value(&a).expect("json");
        assert_eq!(j["kind"], "decrypt");
        assert_eq!(ScanKind::parse("session"), Some(ScanKind::Session));
    }
}
