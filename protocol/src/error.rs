//! The error body every endpoint answers with: a stable code the apps switch on, and a
//! message in Chinese and English for people.

use serde::{Deserialize, Serialize};

/// What went wrong, in terms an app can act on. Serialized as a `snake_case` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // Generic
    BadRequest,
    NotFound,
    Unauthorized,
    Forbidden,
    Conflict,
    TooManyRequests,
    PayloadTooLarge,
    Internal,
    MethodNotAllowed,
    UnsupportedMediaType,
    InvalidIdempotencyKey,
    /// The server is stopping or its database is unreachable: retry after `retry_after`
    /// seconds (another server process may answer at once).
    Unavailable,
    // Accounts
    InvalidPhone,
    SmsCodeInvalid,
    SmsCodeExpired,
    PhoneAlreadyRegistered,
    AccountNotFound,
    WeakPassword,
    WrongPassword,
    TokenExpired,
    RealNameRequired,
    RealNameFailed,
    // Enterprises
    InvalidUscc,
    EnterpriseAlreadyClaimed,
    EnterpriseNotClaimed,
    AlreadyMember,
    NotAdmin,
    NotMember,
    AdminExists,
    MicropaymentMismatch,
    MicropaymentExpired,
    // Certificates and keys
    CertificateNotFound,
    CertificateRevoked,
    CertificateSuspended,
    CertificateExpired,
    RenewalTooEarly,
    WrongPin,
    KeyLocked,
    InvalidCsr,
    InvalidProof,
    ApplicationNotFound,
    InvalidState,
    PaymentRequired,
    TooManyOpenApplications,
    // Recovery, unlock and phone change (ADR 0011)
    /// Unlocks used up for now: `not_before` says when the next one is possible.
    UnlockLimited,
    /// A recovery in its cooling-off period: `not_before` says when it may enrol.
    RecoveryCoolingOff,
    /// A phone change needs the password or a code sent to the old number.
    PhoneChangeProofRequired,
    // Platforms, grants, seals
    PlatformNotFound,
    GrantNotFound,
    ZoneMismatch,
    InvalidImage,
    InvalidUpload,
    // Scan requests and sessions
    ScanNotFound,
    ScanExpired,
    ScanCodeStale,
    ScanUsed,
    ScanAnswered,
    ScanSignatureInvalid,
    ScanForeignOrigin,
    PlatformCertificateInvalid,
    SessionNotFound,
    GrantMissing,
    TooEarly,
    /// A wrapped file key was made for another tender, platform or file header than the
    /// decrypt request names (ADR 0017): the phone refused and sent nothing.
    FileKeyPurposeMismatch,
    /// An admin action (transfer of the admin role, removing staff, seals, grants) needs the
    /// admin's PIN: a co-signed confirmation challenge for exactly this action (ADR 0018).
    PinConfirmationRequired,
    // Providers (ADR 0014)
    /// An SMS, real-name or payment provider failed or answered something we could not
    /// trust; nothing was recorded, so trying again is safe.
    ProviderUnavailable,
}

impl ErrorCode {
    /// The message shown to a person, in Chinese.
    pub fn message_zh(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "请求有误",
            NotFound => "未找到",
            Unauthorized => "请先登录",
            Forbidden => "无权进行此操作",
            Conflict => "操作冲突，请刷新后重试",
            TooManyRequests => "操作过于频繁，请稍后再试",
            PayloadTooLarge => "上传内容过大",
            Internal => "系统繁忙，请稍后再试",
            MethodNotAllowed => "不支持此请求方法",
            UnsupportedMediaType => "请求内容须为JSON",
            InvalidIdempotencyKey => "幂等键须为1至100个可打印ASCII字符",
            InvalidPhone => "手机号格式不正确",
            SmsCodeInvalid => "验证码错误",
            SmsCodeExpired => "验证码已过期，请重新获取",
            PhoneAlreadyRegistered => "该手机号已注册",
            AccountNotFound => "账号不存在",
            WeakPassword => "密码至少8位",
            WrongPassword => "手机号或密码错误",
            TokenExpired => "登录已过期，请重新登录",
            RealNameRequired => "请先完成实名认证",
            RealNameFailed => "实名认证未通过",
            InvalidUscc => "统一社会信用代码不正确",
            EnterpriseAlreadyClaimed => "该企业已被认领，可申请加入企业",
            EnterpriseNotClaimed => "该企业尚未被认领",
            AlreadyMember => "您已是该企业成员",
            NotAdmin => "仅企业管理员可进行此操作",
            NotMember => "您不是该企业成员",
            AdminExists => "该企业已有管理员",
            MicropaymentMismatch => "打款金额或账户不匹配",
            MicropaymentExpired => "打款约定已过期，请重新申请",
            CertificateNotFound => "证书不存在",
            CertificateRevoked => "证书已注销",
            CertificateSuspended => "证书已挂失",
            CertificateExpired => "证书已过期",
            Unavailable => "服务暂不可用，请稍后重试",
            RenewalTooEarly => "证书到期前30天内方可续期",
            WrongPin => "证书密码错误",
            KeyLocked => "证书已锁定，请重新实名认证后解锁",
            InvalidCsr => "证书请求无效",
            InvalidProof => "密钥证明无效",
            ApplicationNotFound => "申请不存在",
            InvalidState => "当前状态不允许此操作",
            PaymentRequired => "请先支付订单",
            TooManyOpenApplications => "未完成的申请过多，请先完成已有申请或等待审核结果",
            UnlockLimited => "解锁次数已达上限，请稍后再试",
            RecoveryCoolingOff => "证书找回处于等待期，已通知您的其他设备和原手机号",
            PhoneChangeProofRequired => "更换手机号须验证登录密码或原手机号验证码",
            PlatformNotFound => "交易平台不存在",
            GrantNotFound => "授权不存在",
            ZoneMismatch => "交易平台中没有名称与统一社会信用代码一致的单位",
            InvalidImage => "图片格式或大小不符合要求",
            InvalidUpload => "材料须为PNG、JPEG或PDF文件，且每个不超过2MB",
            ScanNotFound => "二维码无效或请求不存在",
            ScanExpired => "二维码已过期，请刷新页面后重新扫码",
            ScanCodeStale => "二维码已更新，请扫描页面上当前显示的二维码",
            ScanUsed => "二维码已被使用",
            ScanAnswered => "该请求已处理",
            ScanSignatureInvalid => "交易平台签名无效，请勿继续操作",
            ScanForeignOrigin => "请求的来源与交易平台不符，请勿继续操作",
            PlatformCertificateInvalid => "交易平台证书无效",
            SessionNotFound => "会话不存在或已结束",
            GrantMissing => "您的企业证书未获授权在此交易平台使用，请联系单位管理员",
            TooEarly => "尚未到开标时间",
            FileKeyPurposeMismatch => {
                "解密请求与投标文件不符（项目、交易平台或文件头不一致），已拒绝"
            }
            PinConfirmationRequired => "此操作需要输入管理员的证书密码确认",
            ProviderUnavailable => "服务暂时不可用，请稍后重试",
        }
    }

    /// The message shown to a person, in English.
    pub fn message_en(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "The request is not valid",
            NotFound => "Not found",
            Unauthorized => "Please log in",
            Forbidden => "You may not do this",
            Conflict => "Conflicting change, refresh and try again",
            TooManyRequests => "Too many attempts, try again later",
            PayloadTooLarge => "The upload is too large",
            Internal => "The service is busy, try again later",
            MethodNotAllowed => "This method is not allowed here",
            UnsupportedMediaType => "The request body must be JSON",
            InvalidIdempotencyKey => {
                "The idempotency key must be 1 to 100 printable ASCII characters"
            }
            InvalidPhone => "The phone number is not valid",
            SmsCodeInvalid => "Wrong verification code",
            SmsCodeExpired => "The verification code has expired, request a new one",
            PhoneAlreadyRegistered => "This phone number is already registered",
            AccountNotFound => "No such account",
            WeakPassword => "The password needs at least 8 characters",
            WrongPassword => "Wrong phone number or password",
            TokenExpired => "Your login has expired, log in again",
            RealNameRequired => "Complete real-name verification first",
            RealNameFailed => "Real-name verification failed",
            InvalidUscc => "The unified social credit code is not valid",
            EnterpriseAlreadyClaimed => "This enterprise is already claimed; ask to join it",
            EnterpriseNotClaimed => "This enterprise has not been claimed",
            AlreadyMember => "You are already a member of this enterprise",
            NotAdmin => "Only the enterprise administrator may do this",
            NotMember => "You are not a member of this enterprise",
            AdminExists => "This enterprise already has an administrator",
            MicropaymentMismatch => "The amount or account does not match",
            MicropaymentExpired => "The payment window has expired, apply again",
            CertificateNotFound => "No such certificate",
            CertificateRevoked => "The certificate has been revoked",
            CertificateSuspended => "The certificate is suspended after a loss report",
            CertificateExpired => "The certificate has expired",
            Unavailable => "The service is briefly unavailable; try again shortly",
            RenewalTooEarly => "Certificates can be renewed in the last 30 days only",
            WrongPin => "Wrong certificate PIN",
            KeyLocked => "The key is locked; verify your identity again to unlock it",
            InvalidCsr => "The certificate request is not valid",
            InvalidProof => "The key proof does not verify",
            ApplicationNotFound => "No such application",
            InvalidState => "Not possible in the current state",
            PaymentRequired => "Pay the order first",
            TooManyOpenApplications => {
                "Too many applications are open; finish them or wait for their review"
            }
            UnlockLimited => "The key has been unlocked too often; it can be unlocked again later",
            RecoveryCoolingOff => {
                "The recovery is in its waiting period; your other devices and your number have been told"
            }
            PhoneChangeProofRequired => {
                "Changing the number needs your password or a code sent to the old number"
            }
            PlatformNotFound => "No such trading platform",
            GrantNotFound => "No such grant",
            ZoneMismatch => "The platform knows no unit with this name and credit code",
            InvalidImage => "The image format or size is not accepted",
            InvalidUpload => "Materials must be PNG, JPEG or PDF files of at most 2 MB each",
            ScanNotFound => "This QR code is not valid or the request does not exist",
            ScanExpired => "The QR code has expired; refresh the page and scan again",
            ScanCodeStale => "The QR code has changed; scan the one the page shows now",
            ScanUsed => "This QR code has already been used",
            ScanAnswered => "This request has already been answered",
            ScanSignatureInvalid => {
                "The trading platform's signature is not valid; do not continue"
            }
            ScanForeignOrigin => {
                "The request's origin does not match the trading platform; do not continue"
            }
            PlatformCertificateInvalid => "The trading platform's certificate is not valid",
            SessionNotFound => "No such session, or it has ended",
            GrantMissing => {
                "Your enterprise certificate is not granted for this trading platform; ask your administrator"
            }
            TooEarly => "The bid opening has not started yet",
            FileKeyPurposeMismatch => {
                "The decrypt request does not match the bid file (tender, platform or header); refused"
            }
            PinConfirmationRequired => {
                "Confirm this action with the administrator's certificate PIN"
            }
            ProviderUnavailable => {
                "A service we rely on is unavailable; nothing was done, please try again"
            }
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message_zh: String,
    pub message_en: String,
    /// PIN tries left before the key locks, on `wrong_pin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// Seconds to wait, on `too_many_requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Server time (Unix seconds) from which the refused step is possible, on
    /// `unlock_limited` and `recovery_cooling_off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// What exactly was malformed, for developers (English, from the request parser), on
    /// requests the server could not read. Never shown to people: they get the messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request's id (the `x-request-id` header of the answer), to quote to the operator:
    /// the server's request log carries the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message_zh: code.message_zh().to_owned(),
            message_en: code.message_en().to_owned(),
            tries_left: None,
            retry_after: None,
            not_before: None,
            detail: None,
            request_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_stable() {
        let mut body = ErrorBody::new(ErrorCode::WrongPin);
        body.tries_left = Some(3);
        let json = serde_json::to_string(&body).expect("json");
        assert_eq!(
            json,
            r#"{"code":"wrong_pin","message_zh":"证书密码错误","message_en":"Wrong certificate PIN","tries_left":3}"#
        );
        let back: ErrorBody = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, body);
    }
}
