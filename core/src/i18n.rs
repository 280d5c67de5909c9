//! User-visible strings of the core, in Chinese and English. Server refusals carry their own
//! two messages; these are the core's own.

use bidkey_protocol::enterprises::{Micropayment, MicropaymentStatus};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages() {
        use Text::*;
        for t in [
            RevokeWarning,
            ChangeInfoWarning,
            KeyLockedHelp,
            RecoverPrompt,
            NetworkDown,
            InvalidUscc,
            SealNotPng,
            MicropaymentPending,
            MicropaymentMatched,
            MicropaymentExpired,
        ] {
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
