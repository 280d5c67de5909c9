//! The core's own user-visible strings (zh and en), so the apps show the same words the
//! desktop shell does and hold no copy of them.

use crate::convert::Status;
use crate::convert_enterprise::{Micropayment, MicropaymentStatus};
use bidkey_core::i18n as core;

/// A language the apps show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Lang {
    Zh,
    En,
}

impl From<core::Lang> for Lang {
    fn from(l: core::Lang) -> Self {
        match l {
            core::Lang::Zh => Self::Zh,
            core::Lang::En => Self::En,
        }
    }
}

impl From<Lang> for core::Lang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Zh => Self::Zh,
            Lang::En => Self::En,
        }
    }
}

/// A fixed text of the core. (Not named `Text`: that would shadow SwiftUI's `Text` and
/// Compose's `Text` in the apps.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CoreText {
    /// Before a certificate is revoked.
    RevokeWarning,
    /// Before enterprise information is changed.
    ChangeInfoWarning,
    /// When a key locks.
    KeyLockedHelp,
    /// When certificates can be recovered to this phone.
    RecoverPrompt,
    /// The network is down.
    NetworkDown,
    /// A USCC fails its check character.
    InvalidUscc,
    /// A seal image is not a PNG.
    SealNotPng,
    MicropaymentPending,
    MicropaymentMatched,
    MicropaymentExpired,
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
    /// The app could not start; the reason (`errorMessage`) follows.
    StartupFailed,
    /// Explains biometric confirmation, next to its switch.
    BiometricExplained,
    /// The biometric prompt's text.
    BiometricPromptReason,
    /// The title of a certificate pair of no enterprise (个人证书).
    PersonalCertificate,
    /// A bid file passed its self-check on this phone (可解密 ✓ / Opens).
    BidOpens,
    /// Nobody of the enterprise is granted for the platform: a bid would open for no one.
    NoBidRecipients,
    /// Before a pre-authorised opening is confirmed with the PIN.
    PreauthExplained,
}

impl From<CoreText> for core::Text {
    fn from(t: CoreText) -> Self {
        match t {
            CoreText::RevokeWarning => Self::RevokeWarning,
            CoreText::ChangeInfoWarning => Self::ChangeInfoWarning,
            CoreText::KeyLockedHelp => Self::KeyLockedHelp,
            CoreText::RecoverPrompt => Self::RecoverPrompt,
            CoreText::NetworkDown => Self::NetworkDown,
            CoreText::InvalidUscc => Self::InvalidUscc,
            CoreText::SealNotPng => Self::SealNotPng,
            CoreText::MicropaymentPending => Self::MicropaymentPending,
            CoreText::MicropaymentMatched => Self::MicropaymentMatched,
            CoreText::MicropaymentExpired => Self::MicropaymentExpired,
            CoreText::RecoveryInReview => Self::RecoveryInReview,
            CoreText::RecoveryCoolingOff => Self::RecoveryCoolingOff,
            CoreText::RecoveryNotice => Self::RecoveryNotice,
            CoreText::RecoveryCancelled => Self::RecoveryCancelled,
            CoreText::UnlockLimited => Self::UnlockLimited,
            CoreText::PhoneChangeNeedsProof => Self::PhoneChangeNeedsProof,
            CoreText::StartupFailed => Self::StartupFailed,
            CoreText::BiometricExplained => Self::BiometricExplained,
            CoreText::BiometricPromptReason => Self::BiometricPromptReason,
            CoreText::PersonalCertificate => Self::PersonalCertificate,
            CoreText::BidOpens => Self::BidOpens,
            CoreText::NoBidRecipients => Self::NoBidRecipients,
            CoreText::PreauthExplained => Self::PreauthExplained,
        }
    }
}

/// A fixed text in `lang`.
#[uniffi::export]
pub fn core_text(which: CoreText, lang: Lang) -> String {
    core::Text::from(which).get(lang.into()).to_owned()
}

/// The sentence for an error, in `lang`: the one wording the CLI, Android and iOS show
/// (a screen may add its own button or hint, not its own sentence).
#[uniffi::export]
pub fn error_message(error: crate::error::BidkeyError, lang: Lang) -> String {
    core::error_message(&error.as_core(), lang.into())
}

/// The label of a certificate pair's state (生效中, Reported lost …).
#[uniffi::export]
pub fn pair_state_label(state: crate::convert::PairState, lang: Lang) -> String {
    core::pair_state_label(state.into(), lang.into()).to_owned()
}

/// A member's role in an enterprise (管理员, Staff …).
#[uniffi::export]
pub fn role_label(role: crate::convert_enterprise::Role, lang: Lang) -> String {
    core::role_label(role.into(), lang.into()).to_owned()
}

/// A certificate's validity as its card shows it at `now` (Unix seconds): "有效期至…（剩余N天）"
/// or "已于…过期".
#[uniffi::export]
pub fn validity_text(not_after: i64, now: i64, lang: Lang) -> String {
    core::validity(not_after, now, lang.into())
}

/// The name of a scan request's kind (扫码登录, Sign …).
#[uniffi::export]
pub fn scan_kind_label(kind: crate::convert_scan::ScanKind, lang: Lang) -> String {
    bidkey_core::scan::words::kind_label(kind.into(), lang.into()).to_owned()
}

/// The label of an application or order status (待审核, Under review …).
#[uniffi::export]
pub fn status_label(status: Status, lang: Lang) -> String {
    core::status_label(status.into(), lang.into()).to_owned()
}

/// The text of a micro-payment status.
#[uniffi::export]
pub fn micropayment_status_text(status: MicropaymentStatus, lang: Lang) -> String {
    core::micropayment_status(status.into())
        .get(lang.into())
        .to_owned()
}

/// What to transfer: amount, payee, remark and deadline (Beijing time).
#[uniffi::export]
pub fn micropayment_instructions(micropayment: Micropayment, lang: Lang) -> String {
    core::micropayment_instructions(&micropayment.into(), lang.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert_enterprise::Role;

    #[test]
    fn texts_are_the_cores() {
        assert_eq!(status_label(Status::AwaitingPayment, Lang::Zh), "待支付");
        assert_eq!(
            status_label(Status::PendingReview, Lang::En),
            "Under review"
        );
        assert!(core_text(CoreText::RevokeWarning, Lang::Zh).contains("不能恢复"));
        assert_ne!(
            micropayment_status_text(MicropaymentStatus::Matched, Lang::Zh),
            micropayment_status_text(MicropaymentStatus::Pending, Lang::Zh)
        );
    }

    #[test]
    fn micropayment_instructions_round_trip_the_record() {
        let mp = Micropayment {
            id: "m1".into(),
            enterprise_id: "e1".into(),
            enterprise_name: "重庆比德科技有限公司".into(),
            account_last6: "123456".into(),
            amount_fen: 37,
            reference: "BK7Q2X".into(),
            payee_name: "标证通".into(),
            payee_account: "1234567890".into(),
            status: MicropaymentStatus::Pending,
            role: Some(Role::Admin),
            created_at: 0,
            expires_at: 86_400,
            matched_at: None,
        };
        let en = micropayment_instructions(mp.clone(), Lang::En);
        assert!(
            en.contains("0.37") && en.contains("BK7Q2X") && en.contains("123456"),
            "{en}"
        );
        let zh = micropayment_instructions(mp, Lang::Zh);
        assert!(zh.contains("0.37元") && zh.contains("标证通"), "{zh}");
    }
}

/// Where a recovery application stands at server time `server_now` (null for an
/// application that is not a recovery).
#[uniffi::export]
pub fn recovery_state(
    application: crate::convert::Application,
    server_now: i64,
) -> Option<crate::convert::RecoveryState> {
    use crate::convert::ApplicationKind;
    if application.kind != ApplicationKind::Recover {
        return None;
    }
    let app = bidkey_protocol::orders::Application {
        id: application.id,
        kind: bidkey_protocol::orders::ApplicationKind::Recover,
        status: application.status.into(),
        enterprise_id: application.enterprise_id,
        enterprise_name: application.enterprise_name,
        reason: application.reason,
        order: None,
        created_at: application.created_at,
        updated_at: application.updated_at,
        not_before: application.not_before,
        review_materials: None,
    };
    bidkey_core::flows::recovery::recovery_state(&app, server_now).map(Into::into)
}
