//! User-visible strings of the core, in Chinese and English. Server refusals carry their own
//! two messages; these are the core's own.

use crate::error::CoreError;
use bidkey_protocol::certs::PairState;
use bidkey_protocol::enterprises::{Micropayment, MicropaymentStatus, Role};
use bidkey_protocol::orders::Status;

/// A language the apps show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// A string the core shows people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// Shown before a certificate is revoked (the warning users know from 标证通).
    RevokeWarning,
    /// Shown before enterprise information is changed.
    ChangeInfoWarning,
    /// Shown when a key locks.
    KeyLockedHelp,
    /// Shown when the phone finds recoverable certificates after login.
    RecoverPrompt,
    /// The network is down.
    NetworkDown,
    /// A unified social credit code fails its check character.
    InvalidUscc,
    /// A seal image is not a PNG.
    SealNotPng,
    /// Shown while a micro-payment request waits for the transfer.
    MicropaymentPending,
    /// A recovery waits for the RA's review.
    RecoveryInReview,
    /// A recovery waits out its cooling-off period.
    RecoveryCoolingOff,
    /// On the account's other devices: a recovery was asked for; cancel it if not you.
    RecoveryNotice,
    /// A recovery was cancelled.
    RecoveryCancelled,
    /// The unlocks of the period are used up.
    UnlockLimited,
    /// Changing the number needs the password or a code to the old number.
    PhoneChangeNeedsProof,
    /// Shown when the transfer matched.
    MicropaymentMatched,
    /// Shown when nothing matched before the deadline.
    MicropaymentExpired,
    /// Not logged in, or the login expired.
    NotLoggedIn,
    /// The wallet's storage failed.
    StorageFailed,
    /// A cryptographic check failed.
    SecurityCheckFailed,
    /// The device's keystore refused (biometrics cancelled, key invalidated).
    DeviceKeyUnavailable,
    /// The co-signing server's answer failed the phone's check.
    CosignerMisbehaved,
    /// The app could not start (its configuration or its wallet); the reason follows.
    StartupFailed,
    /// Before biometric confirmation is turned on.
    BiometricExplained,
    /// Shown in the biometric prompt itself, before a key is used.
    BiometricPromptReason,
    /// The title of a certificate pair that belongs to no enterprise.
    PersonalCertificate,
    /// A bid file passed its self-check on this phone (解密自检).
    BidOpens,
    /// Nobody of the enterprise is granted for the platform: a bid encrypted now could not
    /// be opened.
    NoBidRecipients,
    /// Before a pre-authorised opening is confirmed with the PIN.
    PreauthExplained,
}

impl Text {
    /// Every text, for tests and for the check that no shell repeats one.
    pub const ALL: [Text; 28] = [
        Text::RevokeWarning,
        Text::ChangeInfoWarning,
        Text::KeyLockedHelp,
        Text::RecoverPrompt,
        Text::NetworkDown,
        Text::InvalidUscc,
        Text::SealNotPng,
        Text::MicropaymentPending,
        Text::RecoveryInReview,
        Text::RecoveryCoolingOff,
        Text::RecoveryNotice,
        Text::RecoveryCancelled,
        Text::UnlockLimited,
        Text::PhoneChangeNeedsProof,
        Text::MicropaymentMatched,
        Text::MicropaymentExpired,
        Text::NotLoggedIn,
        Text::StorageFailed,
        Text::SecurityCheckFailed,
        Text::DeviceKeyUnavailable,
        Text::CosignerMisbehaved,
        Text::StartupFailed,
        Text::BiometricExplained,
        Text::BiometricPromptReason,
        Text::PersonalCertificate,
        Text::BidOpens,
        Text::NoBidRecipients,
        Text::PreauthExplained,
    ];
}

impl Text {
    pub fn get(self, lang: Lang) -> &'static str {
        use Text::*;
        match (self, lang) {
            (RevokeWarning, Lang::Zh) => {
                "CA证书一经注销，不能恢复，无法解密原有文件，请确认是否注销此证书？（注：注销证书不退还相关费用）"
            }
            (RevokeWarning, Lang::En) => {
                "A revoked certificate cannot be restored and files encrypted to it can no longer be decrypted. Revoke this certificate? (Fees are not refunded.)"
            }
            (ChangeInfoWarning, Lang::Zh) => "CA证书一经变更，不能恢复。",
            (ChangeInfoWarning, Lang::En) => {
                "Once the certificate is changed it cannot be restored."
            }
            (KeyLockedHelp, Lang::Zh) => {
                "证书密码连续输错5次，证书已锁定。请重新进行实名认证并输入短信验证码解锁。"
            }
            (KeyLockedHelp, Lang::En) => {
                "The PIN was wrong 5 times in a row and the key is locked. Verify your identity again and enter the SMS code to unlock it."
            }
            (RecoverPrompt, Lang::Zh) => "系统检测到您有未找回证书，是否前往找回？",
            (RecoverPrompt, Lang::En) => {
                "Certificates of yours can be recovered to this phone. Recover them now?"
            }
            (NetworkDown, Lang::Zh) => "网络不可用，请检查网络后重试。",
            (NetworkDown, Lang::En) => "No network. Check the connection and try again.",
            (InvalidUscc, Lang::Zh) => "统一社会信用代码有误，请核对18位代码（含最后一位校验码）。",
            (InvalidUscc, Lang::En) => {
                "The unified social credit code is wrong. Check all 18 characters, including the last (check) character."
            }
            (SealNotPng, Lang::Zh) => "印章图片须为PNG格式，且不超过512KB。",
            (SealNotPng, Lang::En) => "The seal image must be a PNG of at most 512 KB.",
            (MicropaymentPending, Lang::Zh) => "等待银行到账，到账后自动完成认证。",
            (MicropaymentPending, Lang::En) => {
                "Waiting for the transfer to arrive; verification completes automatically."
            }
            (RecoveryInReview, Lang::Zh) => "证书找回申请已提交，等待CA审核。",
            (RecoveryInReview, Lang::En) => {
                "The recovery was submitted and waits for the CA's review."
            }
            (RecoveryCoolingOff, Lang::Zh) => {
                "为保护您的证书，找回需等待一段时间，期间已通知您的其他设备和原手机号，可随时取消。"
            }
            (RecoveryCoolingOff, Lang::En) => {
                "To protect your certificates the recovery waits for a while; your other devices and your number were told and can cancel it."
            }
            (RecoveryNotice, Lang::Zh) => {
                "有新设备正在找回您的证书。如非本人操作，请立即取消并挂失证书。"
            }
            (RecoveryNotice, Lang::En) => {
                "A new device is recovering your certificates. If this is not you, cancel it now and report the loss."
            }
            (RecoveryCancelled, Lang::Zh) => "证书找回申请已取消。",
            (RecoveryCancelled, Lang::En) => "The recovery was cancelled.",
            (UnlockLimited, Lang::Zh) => "30天内最多解锁3次，请到期后再试或联系客服。",
            (UnlockLimited, Lang::En) => {
                "A key can be unlocked at most 3 times in 30 days; try again later or contact support."
            }
            (PhoneChangeNeedsProof, Lang::Zh) => "更换手机号须输入登录密码或原手机号收到的验证码。",
            (PhoneChangeNeedsProof, Lang::En) => {
                "Changing the number needs your login password or a code sent to the old number."
            }
            (MicropaymentMatched, Lang::Zh) => "对公打款认证成功。",
            (MicropaymentMatched, Lang::En) => "The corporate transfer was verified.",
            (MicropaymentExpired, Lang::Zh) => "未在规定时间内收到打款，请重新发起认证。",
            (MicropaymentExpired, Lang::En) => {
                "No transfer arrived in time. Please start the verification again."
            }
            (NotLoggedIn, Lang::Zh) => "登录已失效，请重新登录。",
            (NotLoggedIn, Lang::En) => {
                "You are not logged in, or the login expired. Please log in again."
            }
            (StorageFailed, Lang::Zh) => "本机数据读写失败，请重启应用后重试。",
            (StorageFailed, Lang::En) => {
                "The app's storage on this phone failed. Restart the app and try again."
            }
            (SecurityCheckFailed, Lang::Zh) => "安全校验失败，请联系客服。",
            (SecurityCheckFailed, Lang::En) => "A security check failed. Please contact support.",
            (DeviceKeyUnavailable, Lang::Zh) => {
                "设备安全密钥不可用（可能已取消指纹或面容验证），请重试。"
            }
            (DeviceKeyUnavailable, Lang::En) => {
                "The phone's security key is unavailable (the fingerprint or face check may have been cancelled). Please try again."
            }
            (CosignerMisbehaved, Lang::Zh) => {
                "协同签名服务器的应答未通过本机校验，未签出任何内容，请联系客服。"
            }
            (CosignerMisbehaved, Lang::En) => {
                "The co-signing server's answer failed this phone's check; nothing was signed. Please contact support."
            }
            (StartupFailed, Lang::Zh) => "应用无法启动。",
            (StartupFailed, Lang::En) => "The app cannot start.",
            (BiometricExplained, Lang::Zh) => {
                "开启后，每次使用证书前须先验证指纹或面容，再输入证书密码；证书密码仍是服务器计数的唯一凭据。"
            }
            (BiometricExplained, Lang::En) => {
                "When on, every use of a certificate first asks for your fingerprint or face, then the PIN; the PIN is still what the server counts."
            }
            (BiometricPromptReason, Lang::Zh) => "验证指纹或面容以使用证书",
            (BiometricPromptReason, Lang::En) => {
                "Confirm with your fingerprint or face to use the certificate"
            }
            (PersonalCertificate, Lang::Zh) => "个人证书",
            (PersonalCertificate, Lang::En) => "Personal certificate",
            (BidOpens, Lang::Zh) => "可解密 ✓：本机已在上传的文件上验证，开标时可以解密。",
            (BidOpens, Lang::En) => {
                "Opens: checked on this phone against the uploaded file; it will open at the bid opening."
            }
            (NoBidRecipients, Lang::Zh) => {
                "本企业还没有成员获授权在该平台使用证书，此时加密的投标文件开标时无人能解密。请管理员先在“授权管理”中授权。"
            }
            (NoBidRecipients, Lang::En) => {
                "No member of the enterprise is granted for this platform, so nobody could open a bid encrypted now. Ask the admin to grant someone first."
            }
            (PreauthExplained, Lang::Zh) => {
                "预授权开标：开标时间一到，平台无需您在场即可解密这一份投标文件，别的文件和别的项目都不行。开标前可随时撤回，服务器的记录您随时可查。"
            }
            (PreauthExplained, Lang::En) => {
                "Pre-authorised opening: from the opening time, the platform can open this one bid file without you, and no other file or tender. Withdraw it any time before the opening; the server's record of it is yours to see."
            }
        }
    }
}

/// The label of an application or order status.
pub fn status_label(status: Status, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => status.label_zh(),
        Lang::En => match status {
            Status::PendingAdmin => "Awaiting the administrator",
            Status::PendingReview => "Under review",
            Status::AwaitingPayment => "Awaiting payment",
            Status::Paid => "Paid",
            Status::Issued => "Completed",
            Status::Closed => "Closed",
            Status::Rejected => "Rejected",
        },
    }
}

/// The text of a micro-payment's status.
pub fn micropayment_status(status: MicropaymentStatus) -> Text {
    match status {
        MicropaymentStatus::Pending => Text::MicropaymentPending,
        MicropaymentStatus::Matched => Text::MicropaymentMatched,
        MicropaymentStatus::Expired => Text::MicropaymentExpired,
    }
}

/// What to transfer for a micro-payment verification: amount, payee, remark and deadline
/// (Beijing time).
pub fn micropayment_instructions(mp: &Micropayment, lang: Lang) -> String {
    let yuan = format!("{}.{:02}", mp.amount_fen / 100, mp.amount_fen % 100);
    let deadline = beijing_time(mp.expires_at);
    match lang {
        Lang::Zh => format!(
            "请使用尾号{}的对公账户，向{}（账号{}）转账{}元，附言填写“{}”。请于{}（北京时间）前完成，金额须完全一致。",
            mp.account_last6, mp.payee_name, mp.payee_account, yuan, mp.reference, deadline
        ),
        Lang::En => format!(
            "From the corporate account ending in {}, transfer exactly CNY {} to {} (account {}) with the remark \"{}\", before {} (Beijing time).",
            mp.account_last6, yuan, mp.payee_name, mp.payee_account, mp.reference, deadline
        ),
    }
}

/// `YYYY-MM-DD HH:MM` in UTC+8 for Unix seconds.
pub fn beijing_time(unix: i64) -> String {
    let t = unix + 8 * 3600;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// The sentence every shell shows for `err`, in `lang`: one wording for the CLI, Android and
/// iOS (a shell may add its own hint after it, such as the command to run next). Times are
/// Beijing time, as on the server's pages.
pub fn error_message(err: &CoreError, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match err {
        CoreError::Network(_) => Text::NetworkDown.get(lang).to_owned(),
        CoreError::Server {
            message_zh,
            message_en,
            retry_after,
            ..
        } => {
            let mut m = if zh { message_zh } else { message_en }.clone();
            if let Some(secs) = retry_after {
                m.push_str(&if zh {
                    format!("（{secs}秒后可重试）")
                } else {
                    format!(" (try again in {secs} s)")
                });
            }
            m
        }
        CoreError::WrongPin { tries_left } => wrong_pin(*tries_left, lang),
        CoreError::KeyLocked => Text::KeyLockedHelp.get(lang).to_owned(),
        CoreError::UnlockLimited { next_at } => {
            format!(
                "{}{}",
                Text::UnlockLimited.get(lang),
                from_hint(*next_at, lang)
            )
        }
        CoreError::RecoveryCoolingOff { until } => format!(
            "{}{}",
            Text::RecoveryCoolingOff.get(lang),
            from_hint(*until, lang)
        ),
        CoreError::NotLoggedIn => Text::NotLoggedIn.get(lang).to_owned(),
        CoreError::InvalidInput { field } => match *field {
            "qr" if zh => "这不是标证通的二维码，或二维码不完整。".to_owned(),
            "qr" => "This is not a Bidkey QR code, or it is incomplete.".to_owned(),
            "qr_relay" if zh => "该二维码属于其他标证通服务器，本机不能处理。".to_owned(),
            "qr_relay" => {
                "This QR code is for another Bidkey server; this phone cannot use it.".to_owned()
            }
            _ if zh => format!("请检查{}。", field_name(field, lang)),
            _ => format!("Please check the {field}."),
        },
        CoreError::NotFound(what) if zh => format!("未找到：{what}"),
        CoreError::NotFound(what) => format!("Not found: {what}."),
        CoreError::Storage(crate::error::StorageError::NewerSchema { .. }) if zh => {
            "本机数据由更新版本的应用写入，请更新应用（数据已保留）。".to_owned()
        }
        CoreError::Storage(crate::error::StorageError::NewerSchema { .. }) => {
            "This phone's data was written by a newer version of the app: update the app (the data is kept).".to_owned()
        }
        CoreError::Storage(_) => Text::StorageFailed.get(lang).to_owned(),
        CoreError::Crypto(_) => Text::SecurityCheckFailed.get(lang).to_owned(),
        CoreError::Keystore(_) => Text::DeviceKeyUnavailable.get(lang).to_owned(),
        CoreError::CosignerMisbehaved => Text::CosignerMisbehaved.get(lang).to_owned(),
    }
}

/// A wrong PIN and the tries left before the key locks.
pub fn wrong_pin(tries_left: u32, lang: Lang) -> String {
    match (lang, tries_left) {
        (Lang::Zh, n) => format!("证书密码错误，还可尝试{n}次。"),
        (Lang::En, 1) => "Wrong PIN. 1 try left before the key locks.".to_owned(),
        (Lang::En, n) => format!("Wrong PIN. {n} tries left before the key locks."),
    }
}

/// "（2026-12-07 08:00 起）" / " (from 2026-12-07 08:00 Beijing time)".
fn from_hint(unix: i64, lang: Lang) -> String {
    let at = beijing_time(unix);
    match lang {
        Lang::Zh => format!("（北京时间{at}起）"),
        Lang::En => format!(" (from {at} Beijing time)"),
    }
}

/// The fields the core names in `InvalidInput` (English in the core), with their Chinese.
const FIELDS: &[(&str, &str)] = &[
    ("phone number", "手机号码"),
    ("PIN", "证书密码（6至12位数字）"),
    ("password", "登录密码（至少8位）"),
    ("name", "姓名"),
    ("ID number", "身份证号码"),
    ("unified social credit code", "统一社会信用代码"),
    ("enterprise name", "企业名称"),
    ("legal representative", "法定代表人"),
    ("last six digits of the account", "对公账户后六位"),
    ("location", "定位"),
    ("materials (1 to 5 files)", "认领材料（1至5个文件）"),
    (
        "change materials (at most 5 files)",
        "变更材料（至多5个文件）",
    ),
    (
        "material type (PNG, JPEG or PDF)",
        "材料格式（PNG、JPEG或PDF）",
    ),
    ("material size (at most 2 MiB)", "材料大小（不超过2MB）"),
    ("material file name", "材料文件名"),
    ("seal name", "印章名称"),
    ("seal image (PNG required)", "印章图片（须为PNG）"),
    (
        "seal image size (at most 512 KiB)",
        "印章图片大小（不超过512KB）",
    ),
    ("document name", "文件名称"),
    ("document digest", "文件摘要（须为32字节）"),
    ("digest algorithm", "摘要算法（须为SM3）"),
    ("page count", "页数"),
    ("seal position", "盖章位置"),
    ("seal", "印章（本证书不能使用该印章）"),
    (
        "search text (2 to 100 characters)",
        "搜索内容（2至100个字）",
    ),
    ("reason (1 to 200 characters)", "驳回原因（1至200个字）"),
    (
        "new name or legal representative",
        "新的企业名称或法定代表人",
    ),
    ("server CA certificate", "服务器CA证书（应用的构建配置）"),
    (
        "server URL (https required)",
        "服务器地址（须为https，见应用的构建配置）",
    ),
    (
        "system root certificates",
        "系统根证书（本机的受信任证书不可用）",
    ),
    (
        "server trust (on Android pass the system roots)",
        "服务器证书的信任方式（应用的构建配置）",
    ),
];

/// The name of a field the core reported, in `lang`.
pub fn field_name(field: &str, lang: Lang) -> &str {
    match lang {
        Lang::En => field,
        Lang::Zh => FIELDS
            .iter()
            .find(|(en, _)| *en == field)
            .map_or(field, |(_, zh)| zh),
    }
}

/// The core's own spelling of a field name, for a field name that came back through the
/// FFI as a string (`None` for one the core never reports).
pub fn known_field(field: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .map(|(en, _)| *en)
        .chain(["qr", "qr_relay", "keystore alias"])
        .find(|en| *en == field)
}

/// The label of a certificate pair's state (证书管理).
pub fn pair_state_label(state: PairState, lang: Lang) -> &'static str {
    match (state, lang) {
        (PairState::InForce, Lang::Zh) => "生效中",
        (PairState::InForce, Lang::En) => "In force",
        (PairState::Expiring, Lang::Zh) => "即将过期",
        (PairState::Expiring, Lang::En) => "Expiring soon",
        (PairState::Suspended, Lang::Zh) => "已挂失",
        (PairState::Suspended, Lang::En) => "Reported lost",
        (PairState::Expired, Lang::Zh) => "已过期",
        (PairState::Expired, Lang::En) => "Expired",
        (PairState::Revoked, Lang::Zh) => "已注销",
        (PairState::Revoked, Lang::En) => "Revoked",
    }
}

/// A member's role in an enterprise.
pub fn role_label(role: Role, lang: Lang) -> &'static str {
    match (role, lang) {
        (Role::Admin, Lang::Zh) => "管理员",
        (Role::Admin, Lang::En) => "Administrator",
        (Role::Staff, Lang::Zh) => "办事人员",
        (Role::Staff, Lang::En) => "Staff",
    }
}

/// A certificate's validity as its card shows it, at `now` (Unix seconds; dates in Beijing
/// time): "有效期至2027-11-22（剩余30天）" / "Valid until 2027-11-22 (30 days left)", or when
/// it has passed "已于2027-11-22过期" / "Expired on 2027-11-22".
pub fn validity(not_after: i64, now: i64, lang: Lang) -> String {
    let day = beijing_time(not_after)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let days = (not_after - now).div_euclid(86_400);
    match lang {
        Lang::Zh if days < 0 => format!("已于{day}过期"),
        Lang::Zh => format!("有效期至{day}（剩余{days}天）"),
        Lang::En if days < 0 => format!("Expired on {day}"),
        Lang::En if days == 1 => format!("Valid until {day} (1 day left)"),
        Lang::En => format!("Valid until {day} ({days} days left)"),
    }
}

/// Every fixed sentence and label the core owns, in both languages: what no shell may
/// repeat in its own sources or resources (`bindings/tests/one_source_of_words.rs`).
pub fn owned_words() -> Vec<String> {
    let mut out = Vec::new();
    for lang in [Lang::Zh, Lang::En] {
        out.extend(Text::ALL.iter().map(|t| t.get(lang).to_owned()));
        for e in [
            CoreError::InvalidInput { field: "qr" },
            CoreError::InvalidInput { field: "qr_relay" },
        ] {
            out.push(error_message(&e, lang));
        }
        out.extend(
            [
                PairState::InForce,
                PairState::Expiring,
                PairState::Suspended,
                PairState::Expired,
                PairState::Revoked,
            ]
            .iter()
            .map(|s| pair_state_label(*s, lang).to_owned()),
        );
        out.extend(
            [
                Status::PendingAdmin,
                Status::PendingReview,
                Status::AwaitingPayment,
                Status::Paid,
                Status::Issued,
                Status::Closed,
                Status::Rejected,
            ]
            .iter()
            .map(|s| status_label(*s, lang).to_owned()),
        );
        out.extend(
            crate::scan::words::fixed(lang)
                .iter()
                .map(|s| (*s).to_owned()),
        );
    }
    // The fixed parts of the sentences with numbers in them.
    out.extend(
        [
            "证书密码错误，还可尝试",
            "Wrong PIN.",
            "tries left before the key locks",
        ]
        .map(str::to_owned),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages() {
        for t in Text::ALL {
            assert!(!t.get(Lang::Zh).is_empty());
            assert!(t.get(Lang::En).is_ascii());
        }
        for s in [
            Status::PendingAdmin,
            Status::PendingReview,
            Status::AwaitingPayment,
            Status::Paid,
            Status::Issued,
            Status::Closed,
            Status::Rejected,
        ] {
            assert!(!status_label(s, Lang::Zh).is_empty());
            assert!(status_label(s, Lang::En).is_ascii());
        }
    }

    #[test]
    fn errors_have_one_wording() {
        assert_eq!(
            error_message(&CoreError::WrongPin { tries_left: 3 }, Lang::Zh),
            "证书密码错误，还可尝试3次。"
        );
        assert_eq!(
            error_message(&CoreError::WrongPin { tries_left: 1 }, Lang::En),
            "Wrong PIN. 1 try left before the key locks."
        );
        let field = CoreError::InvalidInput {
            field: "unified social credit code",
        };
        assert_eq!(error_message(&field, Lang::Zh), "请检查统一社会信用代码。");
        assert_eq!(
            error_message(&field, Lang::En),
            "Please check the unified social credit code."
        );
        let server = CoreError::Server {
            code: bidkey_protocol::ErrorCode::TooManyRequests,
            message_zh: "请稍后再试".into(),
            message_en: "Wait".into(),
            retry_after: Some(42),
        };
        assert_eq!(
            error_message(&server, Lang::Zh),
            "请稍后再试（42秒后可重试）"
        );
        assert_eq!(
            error_message(&CoreError::UnlockLimited { next_at: 0 }, Lang::Zh),
            format!(
                "{}（北京时间1970-01-01 08:00起）",
                Text::UnlockLimited.get(Lang::Zh)
            )
        );
        assert_eq!(
            error_message(&CoreError::Keystore("cancelled".into()), Lang::En),
            Text::DeviceKeyUnavailable.get(Lang::En)
        );
        // Every field the core reports has a Chinese name.
        for (en, zh) in FIELDS {
            assert_eq!(field_name(en, Lang::Zh), *zh);
            assert_eq!(known_field(en), Some(*en));
        }
        assert_eq!(known_field("no such field"), None);
    }

    #[test]
    fn validity_counts_days_in_beijing_time() {
        let now = 1_700_000_000;
        assert_eq!(
            validity(now + 30 * 86_400, now, Lang::Zh),
            "有效期至2023-12-15（剩余30天）"
        );
        assert_eq!(
            validity(now + 86_400, now, Lang::En),
            "Valid until 2023-11-16 (1 day left)"
        );
        assert_eq!(validity(now - 1, now, Lang::En), "Expired on 2023-11-15");
        assert_eq!(role_label(Role::Staff, Lang::Zh), "办事人员");
    }

    #[test]
    fn owned_words_are_many_and_distinct_enough() {
        let words = owned_words();
        assert!(words.len() > 60, "{}", words.len());
        assert!(words.iter().all(|w| !w.trim().is_empty()));
        assert!(words.contains(&"已挂失".to_owned()));
    }

    #[test]
    fn micropayment_text() {
        let mp = Micropayment {
            id: "m".into(),
            enterprise_id: "e".into(),
            enterprise_name: "宿迁测试有限公司".into(),
            account_last6: "123456".into(),
            amount_fen: 37,
            reference: "AB12CD34".into(),
            payee_name: "Bidkey".into(),
            payee_account: "6222000011112222".into(),
            status: MicropaymentStatus::Pending,
            role: None,
            created_at: 0,
            // 2024-03-01 00:00 UTC = 08:00 Beijing.
            expires_at: 1_709_251_200,
            matched_at: None,
        };
        let zh = micropayment_instructions(&mp, Lang::Zh);
        assert!(
            zh.contains("0.37元") && zh.contains("AB12CD34") && zh.contains("2024-03-01 08:00")
        );
        let en = micropayment_instructions(&mp, Lang::En);
        assert!(en.contains("CNY 0.37") && en.contains("123456"));
        assert_eq!(beijing_time(0), "1970-01-01 08:00");
        assert_eq!(beijing_time(951_782_400), "2000-02-29 08:00");
    }
}
