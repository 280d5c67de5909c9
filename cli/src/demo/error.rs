//! The demo's one error type: what stopped the story, said so that the step it failed in
//! (printed just before) makes sense of it.

use bidkey_core::CoreError;
use bidkey_platform::PlatformError;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The phone core refused or failed (network, server refusal, PIN ...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The server could not start.
    #[error("the Bidkey server: {0}")]
    Server(#[from] bidkey_server::error::ServerError),
    /// The platform SDK (provisioning, the demo platform) failed.
    #[error("the trading platform: {0}")]
    Platform(#[from] PlatformError),
    /// An HTTP call to the demo platform or the operator API failed.
    #[error("HTTP {what}: {detail}")]
    Http { what: String, detail: String },
    /// A file in the output folder could not be written or read.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A QR code image did not decode.
    #[error("QR code: {0}")]
    Qr(String),
    /// A step ended otherwise than the story requires.
    #[error("{0}")]
    Unexpected(String),
}

pub type Result<T, E = DemoError> = std::result::Result<T, E>;

impl DemoError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        DemoError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn http(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        DemoError::Http {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
