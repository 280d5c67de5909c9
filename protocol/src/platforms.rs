//! Trading platforms (交易平台), their directories, grants (授权管理), zones (专区), seals
//! (印章管理) and the bank's statement webhook.

use serde::{Deserialize, Serialize};

/// `POST /v1/operator/platforms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPlatform {
    pub name: String,
    /// `https://host[:port]`, the platform's web origin; unique.
    pub origin: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// A trading platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    pub id: String,
    pub name: String,
    pub origin: String,
    pub region: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Great-circle distance from the location asked about, when one was given.
    pub distance_km: Option<f64>,
    /// Whether the CA has issued the platform's certificate yet.
    pub has_certificate: bool,
    pub created_at: i64,
}

/// One unit the platform knows (名称 + 统一社会信用代码).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub uscc: String,
    pub name: String,
}

/// `PUT /v1/operator/platforms/{id}/directory`: replaces the whole directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub entries: Vec<DirectoryEntry>,
}

/// How many entries the directory now holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryLoaded {
    pub platform_id: String,
    pub entries: u64,
}

/// `POST /v1/enterprises/{id}/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    /// A live member (staff, or the admin themself).
    pub account_id: String,
    pub platform_id: String,
}

/// A grant: this member's enterprise certificate may be used on this platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub enterprise_id: String,
    pub account_id: String,
    pub real_name: Option<String>,
    pub platform_id: String,
    pub platform_name: String,
    pub granted_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// `GET /v1/enterprises/{eid}/bid-recipients?platform_id=`: the encryption certificates a
/// bid for that platform is encrypted to (issue 17, ADR 0026): every active member granted
/// for the platform whose enterprise certificate pair is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidRecipient {
    pub account_id: String,
    pub real_name: Option<String>,
    /// Serial (hex) of the encryption certificate.
    pub serial: String,
    /// The encryption certificate, DER.
    #[serde(with = "crate::b64")]
    pub cert_der: Vec<u8>,
    pub not_after: i64,
}

/// Header of a `GET /v1/grants/check`: the platform's clock, unix seconds.
pub const GRANT_CHECK_TIME_HEADER: &str = "x-bidkey-time";
/// Header of a `GET /v1/grants/check`: hex of the DER signature over
/// [`grant_check_message`] by the key of the platform's Bidkey certificate.
pub const GRANT_CHECK_SIGNATURE_HEADER: &str = "x-bidkey-signature";

/// What a platform signs to ask `GET /v1/grants/check?{query}` at `time`: a context label,
/// the time in decimal, NUL, the query string exactly as sent (it names the platform).
pub fn grant_check_message(time: i64, query: &str) -> Vec<u8> {
    [
        b"bidkey grant check v1\0".as_slice(),
        time.to_string().as_bytes(),
        b"\0",
        query.as_bytes(),
    ]
    .concat()
}

/// `GET /v1/grants/check` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCheck {
    /// A live grant of a live member.
    pub granted: bool,
    pub grant_id: Option<String>,
    pub since: Option<i64>,
    /// The member holds a valid (not revoked, suspended or expired) enterprise certificate.
    pub certificate_valid: bool,
}

/// `POST /v1/enterprises/{id}/zones` (绑定专区).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRequest {
    pub platform_id: String,
}

/// A bound zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub enterprise_id: String,
    pub platform_id: String,
    pub platform_name: String,
    pub origin: String,
    pub created_at: i64,
}

/// `POST /v1/enterprises/{id}/seals` (新增印章).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSeal {
    pub name: String,
    /// PNG, at most 512 KiB, at most 2000×2000 pixels.
    #[serde(with = "crate::b64")]
    pub image: Vec<u8>,
    pub idempotency_key: String,
    /// GB/T 38540 seal type (1 official seal 公章, 2 contract seal 合同专用章, 3 bid seal
    /// 投标专用章, 4 finance seal 财务专用章, 5 other); 1 when absent.
    #[serde(default = "default_seal_type")]
    pub seal_type: u32,
    /// Printed size in millimetres (10–100); 40 when absent.
    #[serde(default = "default_seal_mm")]
    pub width_mm: u32,
    #[serde(default = "default_seal_mm")]
    pub height_mm: u32,
    /// Accounts (members of the enterprise) granted the seal; their signing certificates go
    /// in the seal's certificate list when the CA approves it.
    #[serde(default)]
    pub holders: Vec<String>,
}

fn default_seal_type() -> u32 {
    1
}

fn default_seal_mm() -> u32 {
    40
}

/// Where a seal stands (GB/T 38540 electronic seal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SealStatus {
    /// Added or changed by the admin; waits for the CA's approval. Not usable.
    #[default]
    Pending,
    /// Approved: the seal maker made its `SESeal`.
    Approved,
    /// Revoked by the admin or the CA; signatures made with it before stay checkable.
    Revoked,
}

/// `POST /v1/operator/seals/{seal_id}/approve`: the CA approves a pending seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealApproval {
    /// How long the seal is valid from now, in days (1–3650).
    pub valid_days: u32,
}

/// A seal with its `SESeal`, as the phone and SDK use it (`GET /v1/seals/usable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsableSealEntry {
    pub seal: Seal,
    /// The GB/T 38540 `SESeal`, DER.
    #[serde(with = "crate::b64")]
    pub eseal: Vec<u8>,
}

/// `GET /v1/seals/{es_id}/status`: what a verifier asks of a seal it met in a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealStatusReport {
    pub es_id: String,
    pub status: SealStatus,
    pub valid_start: i64,
    pub valid_end: i64,
    pub revoked_at: Option<i64>,
}

/// `PUT /v1/enterprises/{id}/seals/{seal_id}`: rename and/or replace the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SealUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, with = "crate::b64::option")]
    pub image: Option<Vec<u8>>,
    #[serde(default)]
    pub seal_type: Option<u32>,
    #[serde(default)]
    pub width_mm: Option<u32>,
    #[serde(default)]
    pub height_mm: Option<u32>,
    /// The accounts granted the seal, replacing the list.
    #[serde(default)]
    pub holders: Option<Vec<String>>,
}

/// A seal (印章) without its image; `GET …/seals/{seal_id}/image` serves the PNG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Seal {
    pub id: String,
    pub enterprise_id: String,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub size: u64,
    /// SHA-256 of the PNG, hex.
    pub image_sha256: String,
    /// Serial of the enterprise certificate the seal is bound to; filled by the CA.
    pub cert_serial: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default = "default_seal_type")]
    pub seal_type: u32,
    #[serde(default = "default_seal_mm")]
    pub width_mm: u32,
    #[serde(default = "default_seal_mm")]
    pub height_mm: u32,
    /// Accounts granted the seal.
    #[serde(default)]
    pub holders: Vec<String>,
    #[serde(default)]
    pub status: SealStatus,
    /// The `esID` of the approved `SESeal`.
    #[serde(default)]
    pub es_id: Option<String>,
    #[serde(default)]
    pub valid_start: Option<i64>,
    #[serde(default)]
    pub valid_end: Option<i64>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// One credit to the Bidkey corporate account, as the bank reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankTransaction {
    /// The bank's unique transaction id (流水号); importing it twice has no effect.
    pub bank_txn_id: String,
    /// Unix seconds when the bank booked the credit.
    pub booked_at: i64,
    /// The payer's account number, or at least its last six digits; only those are kept.
    pub payer_account: String,
    #[serde(default)]
    pub payer_name: Option<String>,
    pub amount_fen: i64,
    /// The transfer's remark (附言).
    #[serde(default)]
    pub reference: Option<String>,
}

/// `POST /v1/bank/webhook` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankWebhook {
    pub transactions: Vec<BankTransaction>,
}

/// What became of one statement line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOutcome {
    /// Matched a live micro-payment request; its applicant is now a member.
    Matched,
    /// Kept, but no live request has this account tail and exact amount.
    Unmatched,
    /// This bank transaction id was imported before; nothing changed.
    Duplicate,
}

/// Per-line result of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineResult {
    pub bank_txn_id: String,
    pub outcome: LineOutcome,
}

/// `POST /v1/bank/webhook` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankImport {
    pub results: Vec<LineResult>,
}

/// `POST /v1/preauth`: a bidder pre-authorises the opening of one bid file (issue 17 §4,
/// ADR 0027). The file key `K = K1 ⊕ K2`; `k1_sealed` is K1 encrypted with SM2 to the
/// platform's Bidkey certificate, `k2` is K2 (16 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPreauth {
    pub platform_id: String,
    pub tender_id: String,
    /// The file's header binding hash, hex: the deposit opens this file only.
    pub binding_hash: String,
    pub file_name: String,
    /// Unix seconds; the server releases at or after it by its own clock.
    pub opening_at: i64,
    #[serde(with = "crate::b64")]
    pub k1_sealed: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub k2: Vec<u8>,
    /// A k-of-n file (ADR 0027): the recipient (encryption-certificate serial, hex) whose
    /// Shamir share `K1 ⊕ K2` is; `None` when `K1 ⊕ K2` is the file key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_of: Option<String>,
    /// The file's threshold k (its header's): with `share_of`, the server releases the
    /// shares only once k distinct recipients have pre-authorised.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub threshold: u8,
}

fn one() -> u8 {
    1
}

fn is_one(t: &u8) -> bool {
    *t == 1
}

/// A pre-authorisation as its bidder sees it: the audit of what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preauth {
    pub id: String,
    pub platform_id: String,
    pub tender_id: String,
    pub binding_hash: String,
    pub file_name: String,
    pub opening_at: i64,
    pub created_at: i64,
    pub withdrawn_at: Option<i64>,
    /// When the server first released it to the platform.
    pub released_at: Option<i64>,
    /// A share of a k-of-n file: whose (the recipient's encryption-certificate serial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_of: Option<String>,
}

/// `GET /v1/preauth/release?platform_id=&binding_hash=`, signed by the platform like a
/// grant check: what opens the file, at or after its opening time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreauthRelease {
    pub id: String,
    pub tender_id: String,
    pub opening_at: i64,
    #[serde(with = "crate::b64")]
    pub k1_sealed: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub k2: Vec<u8>,
}

/// One share holder's released halves (`GET /v1/preauth/release-shares`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedShare {
    pub id: String,
    /// The recipient whose Shamir share `K1 ⊕ K2` is (encryption-certificate serial, hex).
    pub recipient_serial: String,
    #[serde(with = "crate::b64")]
    pub k1_sealed: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub k2: Vec<u8>,
}

/// `GET /v1/preauth/release-shares?platform_id=&binding_hash=` (a k-of-n file, ADR 0027):
/// the shares are released together, only once `threshold` distinct recipients have
/// pre-authorised; with fewer, `shares` is empty and `ready` says how many did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreauthShares {
    pub tender_id: String,
    pub opening_at: i64,
    pub threshold: u8,
    /// Distinct recipients whose pre-authorisation is live and due.
    pub ready: u8,
    pub shares: Vec<ReleasedShare>,
}

/// `GET /v1/preauth/state?platform_id=&binding_hash=`, signed by the platform: what the
/// opening hall shows about a file's pre-authorisation, with no key material, any time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreauthState {
    /// Live (not withdrawn) deposits: 1 for a whole-key file, one per share holder else.
    pub live: u32,
    pub withdrawn: u32,
    /// 1, or k of a k-of-n file (as its depositors stated from the header).
    pub threshold: u8,
    /// The earliest opening time among the live deposits.
    pub opening_at: Option<i64>,
    /// When the server first released the file's key or shares.
    pub released_at: Option<i64>,
}
