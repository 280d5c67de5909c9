//! The one error type of `bidkey-crypto`.
//!
//! Variants say what went wrong in terms a caller can act on; none of them carries key
//! material, plaintext or PINs.

/// Why a certificate, chain or CRL was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertProblem {
    #[error("certificate is not valid yet")]
    NotYetValid,
    #[error("certificate has expired")]
    Expired,
    #[error("certificate has been revoked")]
    Revoked,
    #[error("no trusted issuer for the certificate")]
    UntrustedIssuer,
    #[error("certificate signature does not verify")]
    BadSignature,
    #[error("issuer is not a certification authority")]
    NotCa,
    #[error("key usage does not allow {0}")]
    KeyUsage(&'static str),
    #[error("chain is longer than allowed")]
    PathTooLong,
    #[error("CRL signature does not verify or the CRL is not from the issuer")]
    BadCrl,
    #[error("CRL is out of date")]
    StaleCrl,
    #[error("certificate chain is empty")]
    EmptyChain,
    /// No CRL from the issuer was supplied; revocation status fails closed.
    #[error("no CRL from the issuer")]
    NoCrl,
    /// RFC 5280 §4.2: a critical extension that is not understood rejects the certificate.
    #[error("certificate has an unsupported critical extension")]
    UnknownCriticalExtension,
}

/// Errors of `bidkey-crypto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Input could not be parsed; `what` names the structure.
    #[error("malformed {what}")]
    Malformed { what: &'static str },
    /// A key is out of range or not usable for the operation.
    #[error("invalid key")]
    InvalidKey,
    /// A received curve point is not on the curve, is the identity, or is otherwise unusable.
    #[error("invalid curve point")]
    InvalidPoint,
    /// A received scalar is zero or not below the group order.
    #[error("invalid scalar")]
    InvalidScalar,
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// Decryption or authentication of a ciphertext failed.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The co-signing server's answer does not combine into a valid signature on the
    /// device's own digest under the joint key: a faulty or hostile server (or something
    /// between). The device releases nothing.
    #[error("the co-signing server's answer does not give a valid signature on this digest")]
    BadCoSignature,
    /// A proof of knowledge in the two-party protocol did not verify.
    #[error("proof of knowledge does not verify")]
    BadProof,
    /// A length is outside what the operation accepts.
    #[error("invalid length of {0}")]
    InvalidLength(&'static str),
    /// The operating system random number generator failed.
    #[error("random number generator failure")]
    Rng,
    /// An algorithm identifier that is not allowed here.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// DER encoding failed (an internal fault, not bad input).
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A certificate, chain or CRL was not accepted.
    #[error("certificate rejected: {0}")]
    Certificate(#[from] CertProblem),
}

/// Result type of `bidkey-crypto`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    pub(crate) fn malformed(what: &'static str) -> Self {
        Error::Malformed { what }
    }
}

impl From<der::Error> for Error {
    fn from(_: der::Error) -> Self {
        // der errors may quote input positions, never secrets; keep the public shape small.
        Error::malformed("DER")
    }
}
