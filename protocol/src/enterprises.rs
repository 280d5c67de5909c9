//! Enterprises (企业): search, claim (认领企业), micro-payment verification (对公打款),
//! join (加入企业), the administrator's staff management (人员管理), and messages.

use serde::{Deserialize, Serialize};

/// A member's role in an enterprise: one 管理员 (admin), any number of 办事人员 (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Staff,
}

/// What the caller may do about a search hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseAction {
    /// 认领企业: apply to become the admin (no admin yet).
    Claim,
    /// 对公打款: prove control of the corporate account; admin if none yet, else staff.
    Micropay,
    /// 加入企业: ask the admin to become staff (the enterprise has an admin).
    Join,
}

/// How the search query was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchBy {
    /// 18 characters: a unified social credit code (统一社会信用代码), check character verified.
    Uscc,
    /// Anything else: a substring of the enterprise name.
    Name,
}

/// One enterprise found by `GET /v1/enterprises/search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseHit {
    /// `None` when the code is valid but nobody has applied for it yet.
    pub id: Option<String>,
    pub uscc: String,
    pub name: Option<String>,
    /// Known to Bidkey (someone applied for it).
    pub registered: bool,
    /// Has an admin (认领 done, or verified by micro-payment).
    pub claimed: bool,
    /// The caller's role, if a member.
    pub my_role: Option<Role>,
    pub actions: Vec<EnterpriseAction>,
}

/// `GET /v1/enterprises/search?q=` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseSearch {
    pub by: SearchBy,
    pub results: Vec<EnterpriseHit>,
}

/// An uploaded file (营业执照, 授权书, ...): PNG, JPEG or PDF, base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    /// File name as the user picked it (for the reviewer).
    pub name: String,
    /// `image/png`, `image/jpeg` or `application/pdf`; must match the content.
    pub content_type: String,
    #[serde(with = "crate::b64")]
    pub data: Vec<u8>,
}

/// `POST /v1/enterprises/claims` (认领企业).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub uscc: String,
    pub name: String,
    #[serde(default)]
    pub legal_rep: Option<String>,
    pub materials: Vec<Material>,
    /// A client-made unique key; the same key returns the same application.
    pub idempotency_key: String,
}

/// Where a micro-payment request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MicropaymentStatus {
    /// Waiting for the transfer to show up on the bank statement.
    Pending,
    /// A statement line matched; the applicant is now a member.
    Matched,
    /// Nothing matched before `expires_at`.
    Expired,
}

/// `POST /v1/enterprises/micropayments` (对公打款认证).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicropaymentRequest {
    pub uscc: String,
    pub name: String,
    /// The last six digits of the corporate account the transfer will come from.
    pub account_last6: String,
    pub idempotency_key: String,
}

/// A micro-payment request and what to transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Micropayment {
    pub id: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub account_last6: String,
    /// The exact amount to transfer, in fen (1..=99).
    pub amount_fen: i64,
    /// Put this in the transfer's remark (附言).
    pub reference: String,
    /// The account to transfer to.
    pub payee_name: String,
    pub payee_account: String,
    pub status: MicropaymentStatus,
    /// The role granted on a match.
    pub role: Option<Role>,
    pub created_at: i64,
    pub expires_at: i64,
    pub matched_at: Option<i64>,
}

/// `POST /v1/enterprises/{id}/join-requests` (加入企业).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub idempotency_key: String,
}

/// The admin's decision on a join request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinDecision {
    pub approve: bool,
    /// Required when rejecting; shown to the applicant.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An enterprise as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseInfo {
    pub id: String,
    pub uscc: String,
    pub name: String,
    pub legal_rep: Option<String>,
    pub claimed: bool,
    pub my_role: Role,
}

/// A live member, for the admin's 人员管理.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub account_id: String,
    pub real_name: Option<String>,
    pub phone_masked: String,
    pub role: Role,
    pub since: i64,
}

/// `POST /v1/enterprises/{id}/members`: invite an existing real-named account by phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    pub phone: String,
    pub idempotency_key: String,
}

/// `DELETE /v1/enterprises/{id}/members/{account_id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub account_id: String,
    pub certificates_revoked: u64,
    pub grants_revoked: u64,
}

/// `POST /v1/enterprises/{id}/transfer-admin` (转授管理员).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferAdminRequest {
    /// A live staff member who becomes the admin; the caller becomes staff.
    pub account_id: String,
}

/// `POST /v1/enterprises/{id}/change-info` (变更企业信息).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeInfoRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub legal_rep: Option<String>,
    /// The materials for the RA reviewer (工商变更通知书, the licence), 0 to 5 files as for a
    /// claim; the reviewer sees them in the review queue.
    #[serde(default)]
    pub materials: Vec<Material>,
    pub idempotency_key: String,
}

/// A message in the app's message list (消息).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub application_id: Option<String>,
    pub text_zh: String,
    pub text_en: String,
    pub created_at: i64,
    pub read: bool,
}

/// A join request as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequestView {
    pub application: crate::orders::Application,
    pub account_id: String,
    pub real_name: Option<String>,
    pub phone_masked: String,
}
