//! FFI records and enums of the enterprise screens (search, claim, 对公打款, join, members,
//! messages), converted from the protocol types at the edge.

use crate::convert::Application;
use bidkey_protocol::enterprises as ent;

/// A member's role: one 管理员 (admin), any number of 办事人员 (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    Admin,
    Staff,
}

impl From<ent::Role> for Role {
    fn from(r: ent::Role) -> Self {
        match r {
            ent::Role::Admin => Self::Admin,
            ent::Role::Staff => Self::Staff,
        }
    }
}

/// What the caller may do about a search hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EnterpriseAction {
    /// 认领企业: apply to become the admin (no admin yet).
    Claim,
    /// 对公打款: prove control of the corporate account; admin if none yet, else staff.
    Micropay,
    /// 加入企业: ask the admin to become staff.
    Join,
}

impl From<ent::EnterpriseAction> for EnterpriseAction {
    fn from(a: ent::EnterpriseAction) -> Self {
        match a {
            ent::EnterpriseAction::Claim => Self::Claim,
            ent::EnterpriseAction::Micropay => Self::Micropay,
            ent::EnterpriseAction::Join => Self::Join,
        }
    }
}

/// How a search query was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SearchBy {
    /// 统一社会信用代码 (18 characters, check character verified).
    Uscc,
    /// A part of the enterprise name.
    Name,
}

impl From<ent::SearchBy> for SearchBy {
    fn from(s: ent::SearchBy) -> Self {
        match s {
            ent::SearchBy::Uscc => Self::Uscc,
            ent::SearchBy::Name => Self::Name,
        }
    }
}

/// One enterprise found by a search.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnterpriseHit {
    /// Null when the code is valid but nobody has applied for it yet.
    pub id: Option<String>,
    pub uscc: String,
    pub name: Option<String>,
    /// Known to Bidkey (someone applied for it).
    pub registered: bool,
    /// Has an admin.
    pub claimed: bool,
    /// The caller's role, if a member.
    pub my_role: Option<Role>,
    /// What the caller may do: show one button per action.
    pub actions: Vec<EnterpriseAction>,
}

impl From<ent::EnterpriseHit> for EnterpriseHit {
    fn from(h: ent::EnterpriseHit) -> Self {
        Self {
            id: h.id,
            uscc: h.uscc,
            name: h.name,
            registered: h.registered,
            claimed: h.claimed,
            my_role: h.my_role.map(Into::into),
            actions: crate::convert::list(h.actions),
        }
    }
}

/// The answer of `searchEnterprises`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnterpriseSearch {
    pub by: SearchBy,
    pub results: Vec<EnterpriseHit>,
}

impl From<ent::EnterpriseSearch> for EnterpriseSearch {
    fn from(s: ent::EnterpriseSearch) -> Self {
        Self {
            by: s.by.into(),
            results: crate::convert::list(s.results),
        }
    }
}

/// A claim file (营业执照, 授权书 …): PNG, JPEG or PDF of at most 2 MiB.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MaterialFile {
    pub name: String,
    /// `image/png`, `image/jpeg` or `application/pdf`; must match the first bytes.
    pub content_type: String,
    pub data: Vec<u8>,
}

impl From<MaterialFile> for (String, String, Vec<u8>) {
    fn from(m: MaterialFile) -> Self {
        (m.name, m.content_type, m.data)
    }
}

/// Where a micro-payment request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum MicropaymentStatus {
    /// Waiting for the transfer.
    Pending,
    /// The transfer matched: the caller is a member (see `role`).
    Matched,
    /// Nothing matched before the deadline.
    Expired,
}

impl From<ent::MicropaymentStatus> for MicropaymentStatus {
    fn from(s: ent::MicropaymentStatus) -> Self {
        match s {
            ent::MicropaymentStatus::Pending => Self::Pending,
            ent::MicropaymentStatus::Matched => Self::Matched,
            ent::MicropaymentStatus::Expired => Self::Expired,
        }
    }
}

impl From<MicropaymentStatus> for ent::MicropaymentStatus {
    fn from(s: MicropaymentStatus) -> Self {
        match s {
            MicropaymentStatus::Pending => Self::Pending,
            MicropaymentStatus::Matched => Self::Matched,
            MicropaymentStatus::Expired => Self::Expired,
        }
    }
}

impl From<Role> for ent::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => Self::Admin,
            Role::Staff => Self::Staff,
        }
    }
}

/// A 对公打款认证 request: transfer `amount_fen` from the account ending in `account_last6`
/// to the payee with `reference` in the remark before `expires_at` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Micropayment {
    pub id: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub account_last6: String,
    /// 1 to 99 fen.
    pub amount_fen: i64,
    /// Must appear in the transfer's remark (附言).
    pub reference: String,
    pub payee_name: String,
    pub payee_account: String,
    pub status: MicropaymentStatus,
    /// The role gained once matched.
    pub role: Option<Role>,
    pub created_at: i64,
    pub expires_at: i64,
    pub matched_at: Option<i64>,
}

impl From<ent::Micropayment> for Micropayment {
    fn from(m: ent::Micropayment) -> Self {
        Self {
            id: m.id,
            enterprise_id: m.enterprise_id,
            enterprise_name: m.enterprise_name,
            account_last6: m.account_last6,
            amount_fen: m.amount_fen,
            reference: m.reference,
            payee_name: m.payee_name,
            payee_account: m.payee_account,
            status: m.status.into(),
            role: m.role.map(Into::into),
            created_at: m.created_at,
            expires_at: m.expires_at,
            matched_at: m.matched_at,
        }
    }
}

impl From<Micropayment> for ent::Micropayment {
    fn from(m: Micropayment) -> Self {
        Self {
            id: m.id,
            enterprise_id: m.enterprise_id,
            enterprise_name: m.enterprise_name,
            account_last6: m.account_last6,
            amount_fen: m.amount_fen,
            reference: m.reference,
            payee_name: m.payee_name,
            payee_account: m.payee_account,
            status: m.status.into(),
            role: m.role.map(Into::into),
            created_at: m.created_at,
            expires_at: m.expires_at,
            matched_at: m.matched_at,
        }
    }
}

/// An enterprise the caller is a member of.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enterprise {
    pub id: String,
    pub uscc: String,
    pub name: String,
    pub legal_rep: Option<String>,
    pub claimed: bool,
    pub my_role: Role,
}

impl From<ent::EnterpriseInfo> for Enterprise {
    fn from(e: ent::EnterpriseInfo) -> Self {
        Self {
            id: e.id,
            uscc: e.uscc,
            name: e.name,
            legal_rep: e.legal_rep,
            claimed: e.claimed,
            my_role: e.my_role.into(),
        }
    }
}

/// A live member of an enterprise (人员管理).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    pub account_id: String,
    pub real_name: Option<String>,
    pub phone_masked: String,
    pub role: Role,
    /// Member since (Unix seconds).
    pub since: i64,
}

impl From<ent::Member> for Member {
    fn from(m: ent::Member) -> Self {
        Self {
            account_id: m.account_id,
            real_name: m.real_name,
            phone_masked: m.phone_masked,
            role: m.role.into(),
            since: m.since,
        }
    }
}

/// A staff member was removed; their enterprise certificates and grants were revoked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Removed {
    pub account_id: String,
    pub certificates_revoked: u64,
    pub grants_revoked: u64,
}

impl From<ent::Removed> for Removed {
    fn from(r: ent::Removed) -> Self {
        Self {
            account_id: r.account_id,
            certificates_revoked: r.certificates_revoked,
            grants_revoked: r.grants_revoked,
        }
    }
}

/// A join request waiting for the admin.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct JoinRequestView {
    pub application: Application,
    pub account_id: String,
    pub real_name: Option<String>,
    pub phone_masked: String,
}

impl From<ent::JoinRequestView> for JoinRequestView {
    fn from(j: ent::JoinRequestView) -> Self {
        Self {
            application: j.application.into(),
            account_id: j.account_id,
            real_name: j.real_name,
            phone_masked: j.phone_masked,
        }
    }
}

/// A message (消息) about an application or membership, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Message {
    pub id: String,
    pub application_id: Option<String>,
    pub text_zh: String,
    pub text_en: String,
    pub created_at: i64,
    pub read: bool,
}

impl From<ent::Message> for Message {
    fn from(m: ent::Message) -> Self {
        Self {
            id: m.id,
            application_id: m.application_id,
            text_zh: m.text_zh,
            text_en: m.text_en,
            created_at: m.created_at,
            read: m.read,
        }
    }
}

/// A change of enterprise information, recorded for review. Show `warning_zh` (or
/// `warning_en`) before the person confirms; once reviewed and paid, `enroll` re-issues the
/// certificates under the new name.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InfoChange {
    pub application: Application,
    pub warning_zh: String,
    pub warning_en: String,
}

impl From<bidkey_core::flows::admin::InfoChange> for InfoChange {
    fn from(c: bidkey_core::flows::admin::InfoChange) -> Self {
        use bidkey_core::i18n::Lang;
        Self {
            application: c.application.into(),
            warning_zh: c.warning.get(Lang::Zh).to_owned(),
            warning_en: c.warning.get(Lang::En).to_owned(),
        }
    }
}
