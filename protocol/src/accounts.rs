//! Accounts: SMS codes, sign-up, password login, tokens, phone change, real-name.

use serde::{Deserialize, Serialize};

/// Why an SMS code is sent; a code is only good for its purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsPurpose {
    Signup,
    Login,
    ResetPassword,
    ChangePhone,
    Unlock,
    Recover,
    /// 挂失 and 解挂: suspend certificates without the phone, or lift the suspension.
    LossReport,
    /// A code to the account's current (old) number approving a change to a new one.
    ChangePhoneOld,
}

impl SmsPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsPurpose::Signup => "signup",
            SmsPurpose::Login => "login",
            SmsPurpose::ResetPassword => "reset_password",
            SmsPurpose::ChangePhone => "change_phone",
            SmsPurpose::Unlock => "unlock",
            SmsPurpose::Recover => "recover",
            SmsPurpose::LossReport => "loss_report",
            SmsPurpose::ChangePhoneOld => "change_phone_old",
        }
    }
}

/// `POST /v1/sms/send`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSmsRequest {
    pub phone: String,
    pub purpose: SmsPurpose,
}

/// `POST /v1/sms/send` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSmsResponse {
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// Seconds before another code may be requested.
    pub resend_after: u64,
}

/// `POST /v1/accounts/signup`, and `POST /v1/sessions/sms` (login by SMS code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsLoginRequest {
    pub phone: String,
    pub code: String,
    /// A name for this device, shown in the device list.
    #[serde(default)]
    pub device_name: Option<String>,
    /// The device id of an earlier login on this phone, to log in again as the same device
    /// (certificates are bound to the device); a new device otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// `POST /v1/sessions/password`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordLoginRequest {
    pub phone: String,
    pub password: String,
    #[serde(default)]
    pub device_name: Option<String>,
    /// As in [`SmsLoginRequest::device_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// A login: the bearer token and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub expires_at: i64,
    pub account: AccountInfo,
    pub device_id: String,
}

/// `PUT /v1/me/password`: set (no old password yet) or change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPasswordRequest {
    #[serde(default)]
    pub old_password: Option<String>,
    pub new_password: String,
}

/// `POST /v1/accounts/reset-password`: forgotten password, proven by SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPasswordRequest {
    pub phone: String,
    pub code: String,
    pub new_password: String,
}

/// `PUT /v1/me/phone`: the code was sent to the *new* phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePhoneRequest {
    pub new_phone: String,
    /// The code sent to the new number (purpose `change_phone`).
    pub code: String,
    /// The code sent to the account's current number (purpose `change_phone_old`); this or
    /// `password` proves the change comes from the number's holder, not only from a login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_code: Option<String>,
    /// The account's login password, instead of `old_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Real-name verification methods users know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RealNameMethod {
    /// 中金认证
    Cfca,
    /// 支付宝认证
    Alipay,
    /// 银行卡四要素认证
    BankCard4,
}

impl RealNameMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RealNameMethod::Cfca => "cfca",
            RealNameMethod::Alipay => "alipay",
            RealNameMethod::BankCard4 => "bankcard4",
        }
    }
}

/// `POST /v1/me/realname`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealNameRequest {
    pub method: RealNameMethod,
    pub name: String,
    pub id_number: String,
    /// Bank card number, for `bank_card4`.
    #[serde(default)]
    pub bank_card: Option<String>,
    /// Phone reserved at the bank, for `bank_card4`.
    #[serde(default)]
    pub bank_phone: Option<String>,
}

/// The caller's account as the apps show it; personal data is masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub id: String,
    /// Masked, e.g. `138****8000`.
    pub phone_masked: String,
    pub has_password: bool,
    pub real_name: Option<String>,
    pub id_number_masked: Option<String>,
    pub realname_method: Option<RealNameMethod>,
}
