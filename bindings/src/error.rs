//! The one error of the FFI surface, mapped from [`CoreError`] in one place.
//!
//! Kotlin sees `BidkeyException.WrongPin`, `BidkeyException.Network`, …; Swift sees
//! `BidkeyError.wrongPin(triesLeft:)`. Each variant says what the app should do. None carries
//! a PIN, key, SMS code or full phone number (the core never puts them in its errors).

use bidkey_core::CoreError;
use bidkey_core::error::{CryptoError, NetworkError, StorageError};

/// What went wrong, in terms of what the app should do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum BidkeyError {
    /// The server could not be reached or did not answer in time: offer to retry.
    #[error("network unavailable: {detail}")]
    Network { detail: String },
    /// The server refused. `code` is the protocol's `snake_case` error code (e.g.
    /// `renewal_too_early`); show `message_zh` (or `message_en`) to the person.
    /// `retry_after_secs` is set when the server asks to wait (SMS resend, rate limits).
    #[error("{message_en}")]
    Server {
        code: String,
        message_zh: String,
        message_en: String,
        retry_after_secs: Option<u64>,
    },
    /// The PIN was wrong: ask again, showing `tries_left` before the key locks.
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u32 },
    /// The key locked after too many wrong PINs: lead the person to unlock (real-name
    /// again and an SMS code, `Bidkey.unlock`).
    #[error("key locked: verify your identity again to unlock")]
    KeyLocked,
    /// The key was unlocked 3 times in 30 days: show when the next unlock is possible
    /// (`next_at`, server time, Unix seconds).
    #[error("unlocks used up until {next_at}")]
    UnlockLimited { next_at: i64 },
    /// The recovery waits out its cooling-off until `until` (server time, Unix seconds);
    /// the other devices and the number were told.
    #[error("recovery cooling off until {until}")]
    RecoveryCoolingOff { until: i64 },
    /// Not logged in or the login expired: show the login screen.
    #[error("not logged in")]
    NotLoggedIn,
    /// Bad input from the person; `field` names what to fix (`phone number`, `PIN`, …).
    #[error("invalid {field}")]
    InvalidInput { field: String },
    /// Nothing with that id on this phone or on the server.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// The wallet database failed: report it; the app cannot fix it.
    #[error("wallet storage: {detail}")]
    Storage { detail: String },
    /// The wallet was written by a newer version of the app: ask the person to update the
    /// app (the data is kept).
    #[error("update the app: {detail}")]
    UpdateApp { detail: String },
    /// A cryptographic check failed (bad server data, tampered envelope): report it.
    #[error("crypto: {detail}")]
    Crypto { detail: String },
    /// The device keystore refused (biometrics cancelled, key invalidated). A
    /// `DeviceKeystore` implementation throws this variant.
    #[error("device keystore: {detail}")]
    Keystore { detail: String },
}

impl From<CoreError> for BidkeyError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Network(e) => BidkeyError::Network {
                detail: bidkey_core::error::chain(&e),
            },
            CoreError::Server {
                code,
                message_zh,
                message_en,
                retry_after,
            } => BidkeyError::Server {
                code: code_name(code),
                message_zh,
                message_en,
                retry_after_secs: retry_after,
            },
            CoreError::WrongPin { tries_left } => BidkeyError::WrongPin { tries_left },
            CoreError::KeyLocked => BidkeyError::KeyLocked,
            CoreError::UnlockLimited { next_at } => BidkeyError::UnlockLimited { next_at },
            CoreError::RecoveryCoolingOff { until } => BidkeyError::RecoveryCoolingOff { until },
            CoreError::NotLoggedIn => BidkeyError::NotLoggedIn,
            CoreError::InvalidInput { field } => BidkeyError::InvalidInput {
                field: field.to_owned(),
            },
            CoreError::NotFound(what) => BidkeyError::NotFound { what },
            CoreError::Storage(e @ StorageError::NewerSchema { .. }) => BidkeyError::UpdateApp {
                detail: bidkey_core::error::chain(&e),
            },
            CoreError::Storage(e) => BidkeyError::Storage {
                detail: bidkey_core::error::chain(&e),
            },
            CoreError::Crypto(e) => BidkeyError::Crypto {
                detail: bidkey_core::error::chain(&e),
            },
            CoreError::Keystore(detail) => BidkeyError::Keystore { detail },
            e @ CoreError::CosignerMisbehaved => BidkeyError::Crypto {
                detail: e.to_string(),
            },
        }
    }
}

impl BidkeyError {
    /// The core's error this one came from, as far as the words and the next step need it
    /// (`errorMessage`, `nextStep`): the variant is kept, the detail's source is not (it
    /// stayed on the Rust side). A field name the core never reports reads as a generic
    /// input.
    pub(crate) fn as_core(&self) -> CoreError {
        match self.clone() {
            BidkeyError::Network { .. } => CoreError::Network(NetworkError::Down),
            BidkeyError::Server {
                code,
                message_zh,
                message_en,
                retry_after_secs,
            } => CoreError::Server {
                code: serde_json::from_value(serde_json::Value::String(code))
                    .unwrap_or(bidkey_protocol::ErrorCode::BadRequest),
                message_zh,
                message_en,
                retry_after: retry_after_secs,
            },
            BidkeyError::WrongPin { tries_left } => CoreError::WrongPin { tries_left },
            BidkeyError::KeyLocked => CoreError::KeyLocked,
            BidkeyError::UnlockLimited { next_at } => CoreError::UnlockLimited { next_at },
            BidkeyError::RecoveryCoolingOff { until } => CoreError::RecoveryCoolingOff { until },
            BidkeyError::NotLoggedIn => CoreError::NotLoggedIn,
            BidkeyError::InvalidInput { field } => CoreError::InvalidInput {
                field: bidkey_core::i18n::known_field(&field).unwrap_or("input"),
            },
            BidkeyError::NotFound { what } => CoreError::NotFound(what),
            BidkeyError::Storage { .. } => CoreError::Storage(StorageError::Damaged("wallet")),
            // The versions are on the Rust side; only "newer" matters to the words.
            BidkeyError::UpdateApp { .. } => CoreError::Storage(StorageError::NewerSchema {
                found: 1,
                supported: 0,
            }),
            BidkeyError::Crypto { .. } => CoreError::Crypto(CryptoError::Check("reported")),
            BidkeyError::Keystore { detail } => CoreError::Keystore(detail),
        }
    }
}

/// What the app should do about an error: the one decision a screen makes from it (which
/// button it offers). Decided by the core, so Android and iOS agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NextStep {
    /// Offer to try again now (network hiccup, cancelled fingerprint prompt).
    Retry,
    /// Try again later: the server asked to wait, or a period must pass first.
    RetryLater,
    /// Ask for the PIN again.
    PinAgain,
    /// Lead to unlocking the key (real-name again + SMS code).
    Unlock,
    /// Show the login screen.
    LogIn,
    /// Let the person correct the named input.
    FixInput,
    /// Ask the person to update the app.
    UpdateApp,
    /// Nothing to fix here: show it and offer to report it (support, the administrator).
    Report,
    /// Acknowledge: the answer is final.
    Dismiss,
}

impl From<bidkey_core::NextStep> for NextStep {
    fn from(s: bidkey_core::NextStep) -> Self {
        use bidkey_core::NextStep as N;
        match s {
            N::Retry => Self::Retry,
            N::RetryLater => Self::RetryLater,
            N::PinAgain => Self::PinAgain,
            N::Unlock => Self::Unlock,
            N::LogIn => Self::LogIn,
            N::FixInput => Self::FixInput,
            N::UpdateApp => Self::UpdateApp,
            N::Report => Self::Report,
            N::Dismiss => Self::Dismiss,
        }
    }
}

/// What the app should do about `error` (the core's decision, the same on every shell).
#[uniffi::export]
pub fn next_step(error: BidkeyError) -> NextStep {
    error.as_core().next_step().into()
}

/// What a foreign `DeviceKeystore` threw, as the core sees it: always a keystore failure.
impl From<BidkeyError> for CoreError {
    fn from(e: BidkeyError) -> Self {
        match e {
            BidkeyError::Keystore { detail } => CoreError::Keystore(detail),
            other => CoreError::Keystore(other.to_string()),
        }
    }
}

/// A foreign callback threw something that is not a `BidkeyException` (a Kotlin
/// `RuntimeException`, a Swift error of another type).
impl From<uniffi::UnexpectedUniFFICallbackError> for BidkeyError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        BidkeyError::Keystore { detail: e.reason }
    }
}

/// The protocol's wire name of an error code (`snake_case`), stable across versions.
fn code_name(code: bidkey_protocol::ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{code:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_protocol::ErrorCode;

    #[test]
    fn core_errors_map_to_what_the_app_does() {
        assert_eq!(
            BidkeyError::from(CoreError::WrongPin { tries_left: 4 }),
            BidkeyError::WrongPin { tries_left: 4 }
        );
        assert_eq!(
            BidkeyError::from(CoreError::InvalidInput {
                field: "phone number"
            }),
            BidkeyError::InvalidInput {
                field: "phone number".into()
            }
        );
        let e = BidkeyError::from(CoreError::Server {
            code: ErrorCode::RenewalTooEarly,
            message_zh: "zh".into(),
            message_en: "en".into(),
            retry_after: None,
        });
        assert!(
            matches!(&e, BidkeyError::Server { code, .. } if code == "renewal_too_early"),
            "{e:?}"
        );
    }

    #[test]
    fn unlock_limits_and_cooling_off_say_when() {
        assert_eq!(
            BidkeyError::from(CoreError::UnlockLimited { next_at: 42 }),
            BidkeyError::UnlockLimited { next_at: 42 }
        );
        assert_eq!(
            BidkeyError::from(CoreError::RecoveryCoolingOff { until: 7 }),
            BidkeyError::RecoveryCoolingOff { until: 7 }
        );
    }

    #[test]
    fn scan_refusals_keep_their_codes() {
        let e = BidkeyError::from(CoreError::from(bidkey_protocol::ErrorBody::new(
            ErrorCode::ScanExpired,
        )));
        assert!(
            matches!(&e, BidkeyError::Server { code, .. } if code == "scan_expired"),
            "{e:?}"
        );
        assert_eq!(
            BidkeyError::from(CoreError::InvalidInput { field: "qr_relay" }),
            BidkeyError::InvalidInput {
                field: "qr_relay".into()
            }
        );
    }

    #[test]
    fn each_error_says_what_the_app_should_do() {
        let newer = BidkeyError::from(CoreError::Storage(StorageError::NewerSchema {
            found: 9,
            supported: 3,
        }));
        assert!(matches!(&newer, BidkeyError::UpdateApp { detail } if detail.contains("9")));
        assert_eq!(next_step(newer), NextStep::UpdateApp);
        assert_eq!(
            next_step(BidkeyError::WrongPin { tries_left: 2 }),
            NextStep::PinAgain
        );
        assert_eq!(next_step(BidkeyError::KeyLocked), NextStep::Unlock);
        assert_eq!(next_step(BidkeyError::NotLoggedIn), NextStep::LogIn);
        assert_eq!(
            next_step(BidkeyError::Network {
                detail: "down".into()
            }),
            NextStep::Retry
        );
        assert_eq!(
            next_step(BidkeyError::Storage {
                detail: "disk".into()
            }),
            NextStep::Report
        );
        let wait = BidkeyError::from(CoreError::from(bidkey_protocol::ErrorBody::new(
            ErrorCode::TooManyRequests,
        )));
        assert_eq!(next_step(wait), NextStep::RetryLater);
        // The detail keeps the source's words (here the database's own error).
        let db = BidkeyError::from(CoreError::Storage(StorageError::io(
            "/wallet",
            std::io::Error::other("disk I/O error"),
        )));
        assert!(
            matches!(&db, BidkeyError::Storage { detail } if detail.contains("disk I/O")),
            "{db:?}"
        );
    }

    #[test]
    fn foreign_keystore_errors_become_keystore_errors() {
        assert_eq!(
            CoreError::from(BidkeyError::Keystore {
                detail: "cancelled".into()
            }),
            CoreError::Keystore("cancelled".into())
        );
        assert!(matches!(
            CoreError::from(BidkeyError::NotLoggedIn),
            CoreError::Keystore(_)
        ));
    }
}
