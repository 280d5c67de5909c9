//! Applications (申请) and orders (订单) as the apps show them.

use serde::{Deserialize, Serialize};

/// What an application asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationKind {
    /// 认领企业: become the enterprise's admin, with an enterprise certificate.
    Claim,
    /// 加入企业: become staff, with an enterprise certificate.
    Join,
    /// 对公打款认证: prove the enterprise by a micro-payment (no certificate by itself).
    Micropayment,
    /// 个人证书 for a natural person.
    Personal,
    /// 变更企业信息: new name or legal representative, certificates re-issued.
    ChangeInfo,
    /// 续期: renew in the last 30 days.
    Renew,
    /// 重新申请: a new certificate after expiry.
    Reapply,
    /// 证书找回: re-issue to a new phone.
    Recover,
}

impl ApplicationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Claim => "claim",
            ApplicationKind::Join => "join",
            ApplicationKind::Micropayment => "micropayment",
            ApplicationKind::Personal => "personal",
            ApplicationKind::ChangeInfo => "change_info",
            ApplicationKind::Renew => "renew",
            ApplicationKind::Reapply => "reapply",
            ApplicationKind::Recover => "recover",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use ApplicationKind::*;
        [
            Claim,
            Join,
            Micropayment,
            Personal,
            ChangeInfo,
            Renew,
            Reapply,
            Recover,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where an application or order stands; the statuses the CA guides use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 待管理员审核 (join requests)
    PendingAdmin,
    /// 待审核 (CA/RA review)
    PendingReview,
    /// 待支付
    AwaitingPayment,
    /// 已支付: certificates may be downloaded
    Paid,
    /// 已办结 / 可下载 done: certificates issued
    Issued,
    /// 已关闭
    Closed,
    /// 已驳回 (with a reason)
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingAdmin => "pending_admin",
            Status::PendingReview => "pending_review",
            Status::AwaitingPayment => "awaiting_payment",
            Status::Paid => "paid",
            Status::Issued => "issued",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use Status::*;
        [
            PendingAdmin,
            PendingReview,
            AwaitingPayment,
            Paid,
            Issued,
            Closed,
            Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// 中文 status label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::PendingAdmin => "待管理员审核",
            Status::PendingReview => "待审核",
            Status::AwaitingPayment => "待支付",
            Status::Paid => "已支付",
            Status::Issued => "已办结",
            Status::Closed => "已关闭",
            Status::Rejected => "已驳回",
        }
    }
}

/// An application as its applicant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: String,
    pub kind: ApplicationKind,
    pub status: Status,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub reason: Option<String>,
    pub order: Option<Order>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Server time before which the application may not enrol: a recovery's cooling-off
    /// period (证书找回等待期), during which the account's other devices and its number are
    /// told and can cancel it (`POST /v1/certs/recover/{id}/cancel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// What the RA reviewer is shown (JSON), in the operator's review queue only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_materials: Option<String>,
}

/// An order for a paid operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    /// Key of the fee table, e.g. `enterprise_cert_new`.
    pub item: String,
    /// 中文 item name.
    pub item_zh: String,
    pub amount_fen: i64,
    pub status: Status,
    pub reason: Option<String>,
    pub application_id: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    /// A paid order whose application was rejected: `pending` until the vendor accepted
    /// the refund, then `refunded` (ADR 0028).
    #[serde(default)]
    pub refund_status: Option<String>,
    #[serde(default)]
    pub refunded_at: Option<i64>,
}

/// `POST /v1/orders/{id}/wechat/jsapi`: pay inside WeChat as the payer `openid` (of our
/// official account or mini-program `appid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WechatJsapiRequest {
    pub openid: String,
}

/// `POST /v1/orders/{id}/pay` with the sandbox payment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayRequest {
    /// `sandbox` is the only provider shipped; a real one (WeChat Pay, Alipay) plugs in.
    pub provider: String,
}

/// `POST /v1/orders/{id}/invoice` (开票).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRequest {
    pub title: String,
    #[serde(default)]
    pub tax_number: Option<String>,
}

/// An invoice recorded for a paid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub order_id: String,
    pub title: String,
    pub tax_number: Option<String>,
    pub amount_fen: i64,
    pub created_at: i64,
}

/// An operator's decision on an application under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecision {
    pub approve: bool,
    /// Required when rejecting; shown to the applicant.
    #[serde(default)]
    pub reason: Option<String>,
}
