//! The one error type of `bidkey-platform`.
//!
//! Each variant names a failure a trading platform reacts to differently; none carries key
//! material or plaintext.

use bidkey_crypto::CertProblem;

/// Errors of the platform SDK.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    // ---- bid files ----
    /// Not a bid file (wrong magic).
    #[error("not a Bidkey bid file")]
    NotABidFile,
    /// A bid-file version this SDK does not read.
    #[error("unsupported bid-file version {0}")]
    UnsupportedVersion(u8),
    /// The header could not be parsed.
    #[error("malformed bid-file header: {0}")]
    MalformedHeader(&'static str),
    /// The file key does not belong to this file.
    #[error("the key does not open this bid file")]
    WrongKey,
    /// The header was changed after encryption.
    #[error("the bid-file header has been tampered with")]
    HeaderTampered,
    /// A chunk failed authentication: changed or corrupted.
    #[error("chunk {index} of the bid file has been tampered with")]
    ChunkTampered { index: u64 },
    /// A chunk authenticates, but at another position: chunks were reordered.
    #[error("chunk {index} of the bid file belongs at position {belongs_at}")]
    ChunkReordered { index: u64, belongs_at: u64 },
    /// The file ends before its final chunk.
    #[error("the bid file is truncated after {chunks} chunks")]
    Truncated { chunks: u64 },
    /// Bytes follow the final chunk.
    #[error("data after the final chunk of the bid file")]
    TrailingData,
    /// The recipient certificate cannot be encrypted to.
    #[error("recipient certificate unusable for encryption: {0}")]
    BadRecipient(&'static str),

    #[error("{have} of the {need} shares needed to open this bid")]
    NotEnoughShares { have: usize, need: u8 },

    /// A k-of-n bid at its opening with fewer than k share holders' pre-authorisations:
    /// the server releases none (ADR 0027); the holders must scan.
    #[error("{have} of the {need} share holders pre-authorised this bid")]
    NotEnoughPreauths { have: u8, need: u8 },

    /// An uploaded bid file the platform refuses: made for another tender or platform, or
    /// wrapped to no one who could open it (issue 17).
    #[error("bid file refused at upload: {0}")]
    UploadRefused(bidkey_bidfile::UploadProblem),
    /// Reading or writing a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    // ---- verification ----
    /// A certificate, signature or CRL is not well-formed DER of an allowed kind.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The signature does not verify over the message under the certificate's key.
    #[error("signature does not verify")]
    BadSignature,
    /// The certificate chain was rejected (untrusted root, expired, revoked, ...).
    #[error("certificate rejected: {0}")]
    Certificate(CertProblem),
    /// The subject's USCC is not the bidder's.
    #[error("certificate belongs to another enterprise")]
    UsccMismatch,
    /// The signer holds no live grant for this platform.
    #[error("no live grant for this platform")]
    NoGrant,
    /// Revocation status could not be established; fail closed.
    #[error("revocation status unavailable: {0}")]
    RevocationUnavailable(String),

    // ---- server ----
    /// The server could not be reached or answered nonsense; safe to retry.
    #[error("network: {0}")]
    Network(String),
    /// The server refused the request.
    #[error("server refused: {0}")]
    Server(String),
    /// Bad configuration (URL, CA file, ...).
    #[error("invalid configuration: {0}")]
    Config(&'static str),

    // ---- scan ----
    /// The relay refused or reported a problem (expired, unknown request, ...).
    #[error("relay: {}", .0.message_en())]
    Relay(bidkey_protocol::ErrorCode),
    /// A reply that does not answer the request made (wrong id, missing signature, ...).
    #[error("the reply does not answer the request: {0}")]
    BadReply(&'static str),
    /// The phone refused the request.
    #[error("the bidder refused{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Rejected(Option<String>),
    /// Bad input from the platform's own code.
    #[error("invalid {0}")]
    InvalidInput(&'static str),

    // ---- electronic seals ----
    /// A GB/T 38540 seal signature was refused: signer not in the seal's list, seal used
    /// outside its validity, revoked before it was used, dataHash not the document's, or a
    /// signature that does not verify.
    #[error("electronic seal refused: {0}")]
    Seal(String),

    // ---- PDF ----
    /// The PDF cannot be read or sealed (truncated, encrypted, broken xref, ...).
    #[error("PDF: {0}")]
    Pdf(#[from] crate::pdf::PdfProblem),

    // ---- QR ----
    /// The text does not fit in a QR code.
    #[error("QR encoding failed: {0}")]
    Qr(String),
    /// A cryptographic primitive failed (RNG, encoding).
    #[error("crypto: {0}")]
    Crypto(bidkey_crypto::Error),
}

impl From<bidkey_crypto::Error> for PlatformError {
    fn from(e: bidkey_crypto::Error) -> Self {
        PlatformError::Crypto(e)
    }
}

impl From<CertProblem> for PlatformError {
    fn from(p: CertProblem) -> Self {
        PlatformError::Certificate(p)
    }
}

/// Result type of `bidkey-platform`.
pub type Result<T, E = PlatformError> = core::result::Result<T, E>;
