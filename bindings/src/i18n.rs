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

impl From<Lang> for core::Lang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Zh => Self::Zh,
            Lang::En => Self::En,
        }
    }
}

/// A fixed text of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Text {
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
}

impl From<Text> for core::Text {
    fn from(t: Text) -> Self {
        match t {
            Text::RevokeWarning => Self::RevokeWarning,
            Text::ChangeInfoWarning => Self::ChangeInfoWarning,
            Text::KeyLockedHelp => Self::KeyLockedHelp,
            Text::RecoverPrompt => Self::RecoverPrompt,
            Text::NetworkDown => Self::NetworkDown,
            Text::InvalidUscc => Self::InvalidUscc,
            Text::SealNotPng => Self::SealNotPng,
            Text::MicropaymentPending => Self::MicropaymentPending,
            Text::MicropaymentMatched => Self::MicropaymentMatched,
            Text::MicropaymentExpired => Self::MicropaymentExpired,
        }
    }
}

/// A fixed text in `lang`.
#[uniffi::export]
pub fn core_text(which: Text, lang: Lang) -> String {
    core::Text::from(which).get(lang.into()).to_owned()
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
