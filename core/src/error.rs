//! The core's one error type. Each variant says what the app should do; the bindings map
//! it once to the FFI error. No variant carries a PIN, key, code or full phone number.

use bidkey_protocol::{ErrorBody, ErrorCode};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The server could not be reached or did not answer in time; safe to retry.
    #[error("network unavailable: {0}")]
    Network(#[source] NetworkError),
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
    /// The wallet database or a file the core writes failed.
    #[error("wallet storage: {0}")]
    Storage(#[source] StorageError),
    /// A cryptographic check failed (bad server data, tampered envelope, ...).
    #[error("crypto: {0}")]
    Crypto(#[source] CryptoError),
    /// The device keystore refused (user cancelled biometrics, key invalidated, ...). The
    /// reason is the shell's own words: it crosses the FFI as text, so there is no source.
    #[error("device keystore: {0}")]
    Keystore(String),
    /// The co-signing server's answer did not make a valid signature on what this phone
    /// signed (or the server returned another signature than the phone's): nothing was
    /// released. A faulty or hostile server, or something between: report it.
    #[error("the co-signing server's answer failed the phone's check; nothing was released")]
    CosignerMisbehaved,
}

/// A shared, cloneable handle on an underlying error (rusqlite, reqwest, io and serde errors
/// are not `Clone`), so [`CoreError`] stays `Clone` and keeps its source chain.
#[derive(Debug, Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(e))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two causes are equal when they say the same: the underlying errors have no equality of
/// their own, and tests compare what happened, not which allocation reported it.
impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for Cause {}

/// Why the server could not be talked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// No connection (DNS, refused, TLS handshake, reset).
    #[error("cannot reach the server")]
    Unreachable(#[source] Cause),
    /// The server did not answer within the configured timeout.
    #[error("the server did not answer in time")]
    Timeout(#[source] Cause),
    /// An answer that is not the protocol's JSON (a proxy's page, a truncated body).
    #[error("unexpected answer from server")]
    BadAnswer(#[source] Cause),
    /// An error status without the protocol's error body.
    #[error("server answered HTTP {status}")]
    Status { status: u16 },
    /// The HTTP client could not be set up (TLS configuration).
    #[error("cannot set up the connection")]
    Setup(#[source] Cause),
    /// The connection is down (what a test's fake server or the FFI reports, with no
    /// lower-level error to keep).
    #[error("the connection is down")]
    Down,
}

/// What failed in the wallet's storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The SQLite database refused or failed.
    #[error("database")]
    Database(#[source] Cause),
    /// A file or directory the core reads or writes.
    #[error("file {path}")]
    Io {
        path: String,
        #[source]
        source: Cause,
    },
    /// The wallet was written by a newer app: update the app, the data is kept.
    #[error("wallet schema {found} is newer than this app ({supported}); update the app")]
    NewerSchema { found: i64, supported: i64 },
    /// A stored value is not what the core wrote (named): the wallet is damaged.
    #[error("a stored {0} is damaged")]
    Damaged(&'static str),
    /// A value could not be written or read as JSON.
    #[error("{what} as JSON")]
    Json {
        what: &'static str,
        #[source]
        source: Cause,
    },
    /// A thread panicked while holding the wallet.
    #[error("wallet lock poisoned")]
    Poisoned,
}

impl StorageError {
    /// `e` while handling `path`.
    pub fn io(path: impl fmt::Display, e: std::io::Error) -> Self {
        StorageError::Io {
            path: path.to_string(),
            source: Cause::new(e),
        }
    }

    pub fn json(what: &'static str, e: serde_json::Error) -> Self {
        StorageError::Json {
            what,
            source: Cause::new(e),
        }
    }
}

/// A cryptographic check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The primitive refused (bad point, bad signature, failed decryption, ...).
    #[error(transparent)]
    Primitive(#[from] bidkey_crypto::Error),
    /// Data from the server or a file failed a check of the core's own (named).
    #[error("{0}")]
    Check(&'static str),
    /// A bid file failed its checks.
    #[error("bid file")]
    BidFile(#[source] Cause),
    /// A value to authenticate or encrypt could not be encoded.
    #[error("encoding")]
    Encoding(#[source] Cause),
}

/// What the app should do about an error: the one decision a shell makes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Offer to try again now (a network hiccup, a cancelled fingerprint prompt).
    Retry,
    /// Try again later: the server asked to wait, or a period must pass.
    RetryLater,
    /// Ask for the PIN again.
    PinAgain,
    /// Lead to unlocking the key (real-name again + SMS code).
    Unlock,
    /// Show the login screen.
    LogIn,
    /// Let the person correct the named input.
    FixInput,
    /// Install a newer app: this one cannot read what a newer one wrote.
    UpdateApp,
    /// Nothing the person can fix here: show it and let them report it (support or the
    /// enterprise's administrator).
    Report,
    /// Acknowledge: the answer is final (not found, refused for a reason shown).
    Dismiss,
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
        CoreError::Storage(StorageError::Database(Cause::new(e)))
    }
}

impl From<StorageError> for CoreError {
    fn from(e: StorageError) -> Self {
        CoreError::Storage(e)
    }
}

impl From<NetworkError> for CoreError {
    fn from(e: NetworkError) -> Self {
        CoreError::Network(e)
    }
}

impl From<CryptoError> for CoreError {
    fn from(e: CryptoError) -> Self {
        CoreError::Crypto(e)
    }
}

impl From<bidkey_crypto::Error> for CoreError {
    fn from(e: bidkey_crypto::Error) -> Self {
        match e {
            bidkey_crypto::Error::BadCoSignature => CoreError::CosignerMisbehaved,
            e => CoreError::Crypto(CryptoError::Primitive(e)),
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

    /// A failed check of the core's own on data it was given (named).
    pub fn check(what: &'static str) -> Self {
        CoreError::Crypto(CryptoError::Check(what))
    }

    /// What the app should do about this error.
    pub fn next_step(&self) -> NextStep {
        match self {
            CoreError::Network(_) => NextStep::Retry,
            // A short wait the server names (an SMS resend): the retry button counts down.
            CoreError::Server {
                retry_after: Some(_),
                ..
            } => NextStep::Retry,
            CoreError::Server { code, .. } => match code {
                ErrorCode::TooManyRequests
                | ErrorCode::Unavailable
                | ErrorCode::ProviderUnavailable => NextStep::RetryLater,
                _ => NextStep::Dismiss,
            },
            CoreError::WrongPin { .. } => NextStep::PinAgain,
            CoreError::KeyLocked => NextStep::Unlock,
            CoreError::UnlockLimited { .. } | CoreError::RecoveryCoolingOff { .. } => {
                NextStep::RetryLater
            }
            CoreError::NotLoggedIn => NextStep::LogIn,
            CoreError::InvalidInput { .. } => NextStep::FixInput,
            CoreError::NotFound(_) => NextStep::Dismiss,
            CoreError::Storage(StorageError::NewerSchema { .. }) => NextStep::UpdateApp,
            CoreError::Storage(_) | CoreError::Crypto(_) | CoreError::CosignerMisbehaved => {
                NextStep::Report
            }
            // Biometrics cancelled or the key invalidated: the person may try again.
            CoreError::Keystore(_) => NextStep::Retry,
        }
    }

    /// This error and its sources, one after the other (for logs and the CLI's detail).
    pub fn chain(&self) -> String {
        chain(self)
    }
}

/// `e` and its sources, one after the other ("wallet storage: database: disk I/O error"); a
/// source whose words its parent already ends with is not repeated.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(e) = src {
        let said = e.to_string();
        if !out.ends_with(&said) {
            out.push_str(": ");
            out.push_str(&said);
        }
        src = e.source();
    }
    out
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

    #[test]
    fn storage_errors_keep_their_source() {
        let e = CoreError::from(rusqlite::Error::InvalidColumnName("salt".into()));
        let source = std::error::Error::source(&e).expect("a source");
        assert!(matches!(
            source.downcast_ref::<StorageError>(),
            Some(StorageError::Database(_))
        ));
        assert!(e.chain().contains("salt"), "{}", e.chain());
        assert_eq!(e.next_step(), NextStep::Report);
        let newer = CoreError::from(StorageError::NewerSchema {
            found: 4,
            supported: 3,
        });
        assert_eq!(newer.next_step(), NextStep::UpdateApp);
    }

    #[test]
    fn each_error_says_what_to_do() {
        assert_eq!(
            CoreError::WrongPin { tries_left: 1 }.next_step(),
            NextStep::PinAgain
        );
        assert_eq!(CoreError::NotLoggedIn.next_step(), NextStep::LogIn);
        assert_eq!(CoreError::KeyLocked.next_step(), NextStep::Unlock);
        assert_eq!(
            CoreError::Network(NetworkError::Down).next_step(),
            NextStep::Retry
        );
        assert_eq!(
            CoreError::from(ErrorBody::new(ErrorCode::Unavailable)).next_step(),
            NextStep::RetryLater
        );
        assert_eq!(
            CoreError::UnlockLimited { next_at: 1 }.next_step(),
            NextStep::RetryLater
        );
        assert_eq!(CoreError::check("x").next_step(), NextStep::Report);
        assert_eq!(CoreError::CosignerMisbehaved.next_step(), NextStep::Report);
    }
}
