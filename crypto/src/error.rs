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

/// Why a CMS SignedData, SignerInfo or RFC 3161 timestamp was not accepted (signature
/// failures are [`Error::BadSignature`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsProblem {
    /// The outer content type is neither PKCS#7 nor GB/T 35275 `signedData`.
    #[error("not a signedData message")]
    NotSignedData,
    #[error("no signer in the signedData")]
    NoSigners,
    /// A detached signature was given neither the content nor its digest.
    #[error("detached signature but no content was given")]
    ContentMissing,
    /// The message carries its content and a detached one was given too.
    #[error("content is attached and was given again")]
    ContentGivenTwice,
    /// Without signed attributes the signature is over the content itself, so a digest alone
    /// cannot check it.
    #[error("the signature covers the content itself; a digest is not enough")]
    ContentNeeded,
    /// The signer's certificate is neither in the message nor among the given ones.
    #[error("signer certificate not found")]
    SignerCertificateMissing,
    #[error("signed attribute {0} is missing")]
    AttributeMissing(&'static str),
    #[error("signed attribute {0} is malformed, repeated or multi-valued")]
    AttributeInvalid(&'static str),
    /// The contentType attribute differs from the eContentType.
    #[error("contentType attribute does not match the content")]
    ContentTypeMismatch,
    /// The messageDigest attribute differs from the digest of the content.
    #[error("messageDigest does not match the content")]
    MessageDigestMismatch,
    /// The digest algorithm does not go with the signature algorithm, or a given detached
    /// digest is under another algorithm than the signer's.
    #[error("digest algorithm does not fit")]
    DigestAlgorithmMismatch,
    /// signingCertificateV2 names another certificate than the signer's.
    #[error("signingCertificateV2 does not name the signer certificate")]
    SigningCertificateMismatch,
    /// The eContentType of a timestamp token is not id-ct-TSTInfo.
    #[error("not a timestamp token")]
    NotTimestampToken,
    /// RFC 3161 §2.3: the TSA certificate needs a critical extendedKeyUsage with only
    /// id-kp-timeStamping.
    #[error("signer is not a time-stamping authority")]
    NotTsaCertificate,
    /// The token's messageImprint is not the hash of what it should cover.
    #[error("timestamp covers other data")]
    TimestampImprintMismatch,
    #[error("timestamp nonce does not match the request")]
    TimestampNonceMismatch,
    /// The request asked for the TSA certificate and the token does not carry it.
    #[error("timestamp token lacks the requested TSA certificate")]
    TimestampCertificateMissing,
    /// The TSA answered with a status other than granted.
    #[error("timestamp request rejected (PKIStatus {status})")]
    TimestampRejected { status: u8 },
}

/// Why a GB/T 38540 seal or seal signature was refused (signature failures of the signer
/// are [`Error::BadSignature`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealProblem {
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// Not `SES_Header` id "ES" version 4.
    #[error("not a version 4 seal")]
    UnsupportedVersion,
    #[error("the seal maker's signature does not verify")]
    MakerSignatureInvalid,
    #[error("a seal needs at least one certificate allowed to use it")]
    EmptyCertList,
    /// The signer's certificate is not in the seal's certificate list.
    #[error("the signer is not among the seal's allowed certificates")]
    SignerNotListed,
    /// The seal was used before its validStart or after its validEnd.
    #[error("the seal was used outside its validity")]
    OutsideValidity,
    #[error("dataHash does not match the signed data")]
    DataHashMismatch,
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
    /// A CMS message or timestamp was not accepted.
    #[error("CMS rejected: {0}")]
    Cms(#[from] CmsProblem),
    /// A GB/T 38540 seal or seal signature was not accepted.
    #[error("seal rejected: {0}")]
    Seal(#[from] SealProblem),
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
