//! FFI records and enums, converted from (and to) the protocol and core types at the edge.
//!
//! Every type here is a plain mirror: no behaviour, no secrets. PINs and passwords are
//! method parameters, never record fields; key shares never leave the core.

use bidkey_core::wallet::StoredCert;
use bidkey_protocol::{accounts as acc, certs, orders};

// ---------------------------------------------------------------- configuration

/// How the app sets Bidkey up.
#[derive(Debug, Clone, uniffi::Record)]
pub struct BidkeyConfig {
    /// The Bidkey server, `https://…` (or `http://127.0.0.1:…` in tests).
    pub server_url: String,
    /// Whom to trust for the server's TLS certificate.
    pub trust: ServerTrust,
    /// A private directory of the app for the wallet database.
    pub wallet_dir: String,
    /// Timeout of every network call, in milliseconds.
    #[uniffi(default = 20000)]
    pub timeout_ms: u64,
    /// The PIN KDF; leave unset on phones (Argon2id, 19 MiB, t = 2). Tests may lower it.
    #[uniffi(default = None)]
    pub pin_kdf: Option<PinKdf>,
}

/// Whom the app trusts for the server's TLS certificate (see `android/README.md` and
/// `ios/README.md` for the build setting that picks one).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServerTrust {
    /// Only this CA (PEM): a server with a private CA, or pinning a public CA.
    PinnedCa { pem: String },
    /// A server with a public certificate, checked by the operating system's verifier
    /// (iOS: the Security framework). Refused on Android: pass `SystemRoots` there.
    Platform,
    /// A server with a public certificate, checked against the root certificates (DER)
    /// the app read from the platform's trust store (Android: the `system:` entries of
    /// `AndroidCAStore`).
    SystemRoots { certificates_der: Vec<Vec<u8>> },
    /// No TLS: only `http://127.0.0.1:…` (tests, the demo); an `https://` server is refused.
    LoopbackOnly,
}

/// Argon2id parameters of the PIN KDF.
#[derive(Debug, Clone, Copy, uniffi::Record)]
pub struct PinKdf {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl From<BidkeyConfig> for bidkey_core::CoreConfig {
    fn from(c: BidkeyConfig) -> Self {
        let mut config = bidkey_core::CoreConfig::new(&c.server_url, c.wallet_dir.into());
        match c.trust {
            ServerTrust::PinnedCa { pem } => config.server_ca_pem = Some(pem),
            ServerTrust::Platform => config.system_trust = bidkey_core::SystemTrust::Platform,
            ServerTrust::SystemRoots { certificates_der } => {
                config.system_trust = bidkey_core::SystemTrust::Roots(certificates_der);
            }
            ServerTrust::LoopbackOnly => {}
        }
        config.timeout = std::time::Duration::from_millis(c.timeout_ms);
        if let Some(k) = c.pin_kdf {
            config.pin_kdf = k.into();
        }
        config
    }
}

impl From<PinKdf> for bidkey_crypto::pin::PinKdfParams {
    fn from(k: PinKdf) -> Self {
        Self {
            memory_kib: k.memory_kib,
            iterations: k.iterations,
            parallelism: k.parallelism,
        }
    }
}

// ---------------------------------------------------------------- accounts

/// Why an SMS code is sent; a code is only good for its purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SmsPurpose {
    Signup,
    Login,
    ResetPassword,
    ChangePhone,
    Unlock,
    Recover,
    /// 挂失 and 解挂.
    LossReport,
    /// To the account's current (old) number, approving a change to a new one.
    ChangePhoneOld,
}

impl From<SmsPurpose> for acc::SmsPurpose {
    fn from(p: SmsPurpose) -> Self {
        match p {
            SmsPurpose::Signup => Self::Signup,
            SmsPurpose::Login => Self::Login,
            SmsPurpose::ResetPassword => Self::ResetPassword,
            SmsPurpose::ChangePhone => Self::ChangePhone,
            SmsPurpose::Unlock => Self::Unlock,
            SmsPurpose::Recover => Self::Recover,
            SmsPurpose::LossReport => Self::LossReport,
            SmsPurpose::ChangePhoneOld => Self::ChangePhoneOld,
        }
    }
}

/// An SMS code was sent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SmsSent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code may be asked for.
    pub resend_after: u64,
}

impl From<acc::SendSmsResponse> for SmsSent {
    fn from(r: acc::SendSmsResponse) -> Self {
        Self {
            expires_in: r.expires_in,
            resend_after: r.resend_after,
        }
    }
}

/// Real-name verification methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RealNameMethod {
    /// 中金认证
    Cfca,
    /// 支付宝认证
    Alipay,
    /// 银行卡四要素认证
    BankCard4,
}

impl From<RealNameMethod> for acc::RealNameMethod {
    fn from(m: RealNameMethod) -> Self {
        match m {
            RealNameMethod::Cfca => Self::Cfca,
            RealNameMethod::Alipay => Self::Alipay,
            RealNameMethod::BankCard4 => Self::BankCard4,
        }
    }
}

impl From<acc::RealNameMethod> for RealNameMethod {
    fn from(m: acc::RealNameMethod) -> Self {
        match m {
            acc::RealNameMethod::Cfca => Self::Cfca,
            acc::RealNameMethod::Alipay => Self::Alipay,
            acc::RealNameMethod::BankCard4 => Self::BankCard4,
        }
    }
}

/// A real-name verification request (name and 18-character ID number; bank card and the
/// phone reserved at the bank for `BankCard4`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RealName {
    pub method: RealNameMethod,
    pub name: String,
    pub id_number: String,
    #[uniffi(default = None)]
    pub bank_card: Option<String>,
    #[uniffi(default = None)]
    pub bank_phone: Option<String>,
}

impl From<RealName> for acc::RealNameRequest {
    fn from(r: RealName) -> Self {
        Self {
            method: r.method.into(),
            name: r.name,
            id_number: r.id_number,
            bank_card: r.bank_card,
            bank_phone: r.bank_phone,
        }
    }
}

/// The logged-in account; personal data is masked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Account {
    pub id: String,
    /// Masked, e.g. `138****8000`.
    pub phone_masked: String,
    pub has_password: bool,
    pub real_name: Option<String>,
    pub id_number_masked: Option<String>,
    pub realname_method: Option<RealNameMethod>,
}

impl From<acc::AccountInfo> for Account {
    fn from(a: acc::AccountInfo) -> Self {
        Self {
            id: a.id,
            phone_masked: a.phone_masked,
            has_password: a.has_password,
            real_name: a.real_name,
            id_number_masked: a.id_number_masked,
            realname_method: a.realname_method.map(Into::into),
        }
    }
}

// ---------------------------------------------------------------- applications, orders

/// What an application asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ApplicationKind {
    /// 认领企业
    Claim,
    /// 加入企业
    Join,
    /// 对公打款认证
    Micropayment,
    /// 个人证书
    Personal,
    /// 变更企业信息
    ChangeInfo,
    /// 续期
    Renew,
    /// 重新申请
    Reapply,
    /// 证书找回
    Recover,
}

impl From<orders::ApplicationKind> for ApplicationKind {
    fn from(k: orders::ApplicationKind) -> Self {
        use orders::ApplicationKind as K;
        match k {
            K::Claim => Self::Claim,
            K::Join => Self::Join,
            K::Micropayment => Self::Micropayment,
            K::Personal => Self::Personal,
            K::ChangeInfo => Self::ChangeInfo,
            K::Renew => Self::Renew,
            K::Reapply => Self::Reapply,
            K::Recover => Self::Recover,
        }
    }
}

/// Where an application or order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Status {
    /// 待管理员审核
    PendingAdmin,
    /// 待审核
    PendingReview,
    /// 待支付
    AwaitingPayment,
    /// 已支付: certificates may be downloaded (`Bidkey.enroll`)
    Paid,
    /// 已办结
    Issued,
    /// 已关闭
    Closed,
    /// 已驳回 (see `reason`)
    Rejected,
}

impl From<orders::Status> for Status {
    fn from(s: orders::Status) -> Self {
        use orders::Status as S;
        match s {
            S::PendingAdmin => Self::PendingAdmin,
            S::PendingReview => Self::PendingReview,
            S::AwaitingPayment => Self::AwaitingPayment,
            S::Paid => Self::Paid,
            S::Issued => Self::Issued,
            S::Closed => Self::Closed,
            S::Rejected => Self::Rejected,
        }
    }
}

impl From<Status> for orders::Status {
    fn from(s: Status) -> Self {
        use orders::Status as S;
        match s {
            Status::PendingAdmin => S::PendingAdmin,
            Status::PendingReview => S::PendingReview,
            Status::AwaitingPayment => S::AwaitingPayment,
            Status::Paid => S::Paid,
            Status::Issued => S::Issued,
            Status::Closed => S::Closed,
            Status::Rejected => S::Rejected,
        }
    }
}

/// An application as its applicant sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Application {
    pub id: String,
    pub kind: ApplicationKind,
    pub status: Status,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    /// Why it was rejected or closed.
    pub reason: Option<String>,
    pub order: Option<Order>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Server time before which a recovery may not enrol (its cooling-off period).
    pub not_before: Option<i64>,
}

impl From<orders::Application> for Application {
    fn from(a: orders::Application) -> Self {
        Self {
            id: a.id,
            kind: a.kind.into(),
            status: a.status.into(),
            enterprise_id: a.enterprise_id,
            enterprise_name: a.enterprise_name,
            reason: a.reason,
            order: a.order.map(Into::into),
            created_at: a.created_at,
            updated_at: a.updated_at,
            not_before: a.not_before,
        }
    }
}

/// Where a recovery (证书找回) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RecoveryState {
    /// In review and waiting out the cooling-off until `until` (server time); the other
    /// devices may cancel it, the RA cannot approve it yet.
    CoolingOff { until: i64 },
    /// The cooling-off is over; the RA reviews it.
    InReview,
    /// Approved, the order not paid yet.
    AwaitingPayment,
    /// Approved and paid: enrol it.
    Ready,
    /// Cancelled or closed.
    Cancelled,
    /// Refused by the RA.
    Rejected,
    /// The new pair is issued.
    Done,
}

impl From<bidkey_core::flows::recovery::RecoveryState> for RecoveryState {
    fn from(s: bidkey_core::flows::recovery::RecoveryState) -> Self {
        use bidkey_core::flows::recovery::RecoveryState as C;
        match s {
            C::CoolingOff { until } => Self::CoolingOff { until },
            C::InReview => Self::InReview,
            C::AwaitingPayment => Self::AwaitingPayment,
            C::Ready => Self::Ready,
            C::Cancelled => Self::Cancelled,
            C::Rejected => Self::Rejected,
            C::Done => Self::Done,
        }
    }
}

/// An order for a paid operation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Order {
    pub id: String,
    /// Key of the fee table, e.g. `personal_cert_new`.
    pub item: String,
    /// 中文 item name.
    pub item_zh: String,
    /// Amount in fen (分).
    pub amount_fen: i64,
    pub status: Status,
    pub reason: Option<String>,
    pub application_id: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

impl From<orders::Order> for Order {
    fn from(o: orders::Order) -> Self {
        Self {
            id: o.id,
            item: o.item,
            item_zh: o.item_zh,
            amount_fen: o.amount_fen,
            status: o.status.into(),
            reason: o.reason,
            application_id: o.application_id,
            created_at: o.created_at,
            paid_at: o.paid_at,
        }
    }
}

// ---------------------------------------------------------------- certificates

/// Which certificate of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CertUsage {
    Signing,
    Encryption,
}

impl From<certs::CertUsage> for CertUsage {
    fn from(u: certs::CertUsage) -> Self {
        match u {
            certs::CertUsage::Signing => Self::Signing,
            certs::CertUsage::Encryption => Self::Encryption,
        }
    }
}

/// Where a certificate pair stands (证书管理 tabs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PairState {
    /// 生效中
    InForce,
    /// 生效中, expiring within 30 days: 续期 possible
    Expiring,
    /// 已挂失
    Suspended,
    /// 已过期: 重新申请
    Expired,
    /// 已注销 / replaced
    Revoked,
}

impl From<certs::PairState> for PairState {
    fn from(s: certs::PairState) -> Self {
        use certs::PairState as P;
        match s {
            P::InForce => Self::InForce,
            P::Expiring => Self::Expiring,
            P::Suspended => Self::Suspended,
            P::Expired => Self::Expired,
            P::Revoked => Self::Revoked,
        }
    }
}

impl From<PairState> for certs::PairState {
    fn from(s: PairState) -> Self {
        match s {
            PairState::InForce => Self::InForce,
            PairState::Expiring => Self::Expiring,
            PairState::Suspended => Self::Suspended,
            PairState::Expired => Self::Expired,
            PairState::Revoked => Self::Revoked,
        }
    }
}

/// Revocation status of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RevocationStatus {
    Good,
    Revoked,
    /// On hold after a loss report.
    Suspended,
    Unknown,
}

impl From<certs::RevocationStatus> for RevocationStatus {
    fn from(s: certs::RevocationStatus) -> Self {
        use certs::RevocationStatus as R;
        match s {
            R::Good => Self::Good,
            R::Revoked => Self::Revoked,
            R::Suspended => Self::Suspended,
            R::Unknown => Self::Unknown,
        }
    }
}

/// One certificate as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Certificate {
    /// Serial number, hex.
    pub serial: String,
    pub usage: CertUsage,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    pub status: RevocationStatus,
    /// The X.509 certificate, DER.
    pub der: Vec<u8>,
}

impl From<certs::CertInfo> for Certificate {
    fn from(c: certs::CertInfo) -> Self {
        Self {
            serial: c.serial,
            usage: c.usage.into(),
            subject: c.subject,
            not_before: c.not_before,
            not_after: c.not_after,
            status: c.status.into(),
            der: c.der,
        }
    }
}

/// A signing + encryption certificate pair as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CertPair {
    pub pair_id: String,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub state: PairState,
    pub signing: Option<Certificate>,
    pub encryption: Option<Certificate>,
    pub not_after: i64,
    /// Held by the device of this login.
    pub this_device: bool,
    pub key_locked: bool,
    pub pin_tries_left: u32,
}

impl From<certs::CertPairView> for CertPair {
    fn from(p: certs::CertPairView) -> Self {
        Self {
            pair_id: p.pair_id,
            enterprise_id: p.enterprise_id,
            enterprise_name: p.enterprise_name,
            state: p.state.into(),
            signing: p.signing.map(Into::into),
            encryption: p.encryption.map(Into::into),
            not_after: p.not_after,
            this_device: p.this_device,
            key_locked: p.key_locked,
            pin_tries_left: p.pin_tries_left,
        }
    }
}

/// The three lists of 证书管理.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CertList {
    /// In force, including suspended and expiring ones.
    pub in_force: Vec<CertPair>,
    /// Expiring within 30 days (also listed in `in_force`).
    pub expiring: Vec<CertPair>,
    /// Expired or revoked.
    pub invalid: Vec<CertPair>,
}

impl From<certs::CertList> for CertList {
    fn from(l: certs::CertList) -> Self {
        Self {
            in_force: list(l.in_force),
            expiring: list(l.expiring),
            invalid: list(l.invalid),
        }
    }
}

/// A certificate held in this phone's wallet (readable offline).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocalCertificate {
    pub serial: String,
    pub pair_id: String,
    /// `signing` or `encryption`.
    pub usage: String,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub subject: String,
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    /// `valid`, `suspended`, `revoked`, …, as last seen.
    pub status: String,
}

impl From<StoredCert> for LocalCertificate {
    fn from(c: StoredCert) -> Self {
        Self {
            serial: c.serial,
            pair_id: c.pair_id,
            usage: c.usage,
            enterprise_id: c.enterprise_id,
            enterprise_name: c.enterprise_name,
            subject: c.subject,
            der: c.der,
            not_before: c.not_before,
            not_after: c.not_after,
            status: c.status,
        }
    }
}

/// What an enrolment stored on this phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrolledPair {
    pub pair_id: String,
    pub signing_serial: String,
    pub encryption_serial: String,
    /// Encryption keys delivered (the current one and every past one of this holder).
    pub encryption_keys: u32,
}

impl From<bidkey_core::flows::certs::EnrolledPair> for EnrolledPair {
    fn from(p: bidkey_core::flows::certs::EnrolledPair) -> Self {
        Self {
            pair_id: p.pair_id,
            signing_serial: p.signing_serial,
            encryption_serial: p.encryption_serial,
            encryption_keys: u32::try_from(p.encryption_keys).unwrap_or(u32::MAX),
        }
    }
}

/// Certificates whose state changed (revoked, suspended, resumed).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PairChange {
    pub pair_ids: Vec<String>,
    pub serials: Vec<String>,
    pub state: PairState,
}

impl From<certs::PairChange> for PairChange {
    fn from(c: certs::PairChange) -> Self {
        Self {
            pair_ids: c.pair_ids,
            serials: c.serials,
            state: c.state.into(),
        }
    }
}

/// An SM2 signature made with a certificate's two-party key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Signature {
    /// DER `SEQUENCE { r, s }`, the form in CMS and GM/T 0010 structures.
    pub der: Vec<u8>,
    /// Raw 64-byte `r ‖ s`.
    pub raw: Vec<u8>,
}

impl From<bidkey_crypto::sm2::Sm2Signature> for Signature {
    fn from(s: bidkey_crypto::sm2::Sm2Signature) -> Self {
        Self {
            der: s.to_der(),
            raw: s.to_raw().to_vec(),
        }
    }
}

/// Convert every element of a list.
pub(crate) fn list<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}
