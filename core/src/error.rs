//! The core's one error type. Each variant says what the app should do; the bindings map
//! it once to the FFI error. No variant carries a PIN, key, code or full phone number.

use bidkey_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The server could not be reached or did not answer in time; safe to retry.
    #[error("network unavailable: {0}")]
    Network(String),
    /// The server refused; `code` says why, the messages are for people.
    #[error("{message_en}")]
    Server {
        code: ErrorCode,
        message_zh: String,
        message_en: String,
        retry_after: Option<u64>,
    },
    /// The PIN was wrong; `tries_left` before the key locks.
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u32 },
    /// The key is locked after too many wrong PINs: verify identity again to unlock.
    #[error("key locked: verify your identity again (real-name + SMS) to unlock")]
    KeyLocked,
    /// The holder's unlocks are used up for now (3 in 30 days): the next is possible at
    /// `next_at` (server time, Unix seconds).
    #[error("the key was unlocked too often; the next unlock is possible at {next_at}")]
    UnlockLimited { next_at: i64 },
    /// A recovery waits out its cooling-off period until `until` (server time, Unix
    /// seconds); the account's other devices and its number were told and can cancel it.
    #[error("the recovery is in its cooling-off period until {until}")]
    RecoveryCoolingOff { until: i64 },
    /// Not logged in, or the login expired.
    #[error("not logged in")]
    NotLoggedIn,
    /// Bad input from the user; `field` names what to fix.
    #[error("invalid {field}")]
    InvalidInput { field: &'static str },
    /// Nothing with that id in the wallet or on the server.
    #[error("not found: {0}")]
    NotFound(String),
    /// The wallet database or the device keystore failed.
    #[error("wallet storage: {0}")]
    Storage(String),
    /// A cryptographic check failed (bad server data, tampered envelope, ...).
    #[error("crypto: {0}")]
    Crypto(String),
    /// The device keystore refused (user cancelled biometrics, key invalidated, ...).
    #[error("device keystore: {0}")]
    Keystore(String),
    /// The co-signing server's answer did not make a valid signature on what this phone
    /// signed (or the server returned another signature than the phone's): nothing was
    /// released. A faulty or hostile server, or something between: report it.
    #[error("the co-signing server's answer failed the phone's check; nothing was released")]
    CosignerMisbehaved,
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

impl From<ErrorBody> for CoreError {
    fn from(b: ErrorBody) -> Self {
        match b.code {
            ErrorCode::WrongPin => CoreError::WrongPin {
                tries_left: b.tries_left.unwrap_or(0),
            },
            ErrorCode::KeyLocked => CoreError::KeyLocked,
            ErrorCode::UnlockLimited if b.not_before.is_some() => CoreError::UnlockLimited {
                next_at: b.not_before.unwrap_or_default(),
            },
            ErrorCode::RecoveryCoolingOff if b.not_before.is_some() => {
                CoreError::RecoveryCoolingOff {
                    until: b.not_before.unwrap_or_default(),
                }
            }
            ErrorCode::Unauthorized | ErrorCode::TokenExpired => CoreError::NotLoggedIn,
            code => CoreError::Server {
                code,
                message_zh: b.message_zh,
                message_en: b.message_en,
                retry_after: b.retry_after,
            },
        }
    }
}

impl From<rusqlite::Error> for CoreError {
    fn from(e: rusqlite::Error) -> Self {
        CoreError::Storage(e.to_string())
    }
}

impl From<bidkey_crypto::Error> for CoreError {
    fn from(e: bidkey_crypto::Error) -> Self {
        match e {
            bidkey_crypto::Error::BadCoSignature => CoreError::CosignerMisbehaved,
            e => CoreError::Crypto(e.to_string()),
        }
    }
}

impl CoreError {
    /// The server's error code, if the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            CoreError::Server { code, .. } => Some(*code),
            CoreError::WrongPin { .. } => Some(ErrorCode::WrongPin),
            CoreError::KeyLocked => Some(ErrorCode::KeyLocked),
            CoreError::UnlockLimited { .. } => Some(ErrorCode::UnlockLimited),
            CoreError::RecoveryCoolingOff { .. } => Some(ErrorCode::RecoveryCoolingOff),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_with_a_time_become_their_own_variants() {
        let mut b = ErrorBody::new(ErrorCode::UnlockLimited);
        b.not_before = Some(100);
        assert_eq!(
            CoreError::from(b),
            CoreError::UnlockLimited { next_at: 100 }
        );
        let mut b = ErrorBody::new(ErrorCode::RecoveryCoolingOff);
        b.not_before = Some(200);
        let e = CoreError::from(b);
        assert_eq!(e, CoreError::RecoveryCoolingOff { until: 200 });
        assert_eq!(e.code(), Some(ErrorCode::RecoveryCoolingOff));
    }
}
