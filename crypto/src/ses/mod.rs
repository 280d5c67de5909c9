//! Electronic seals per GB/T 38540-2020 (version 4): the seal maker's `SESeal` binding a
//! picture to the certificates allowed to use it, and the `SES_Signature` a sealing makes.
//!
//! - [`make_seal`]: the seal maker (制章者, a CA-side key) signs `SES_SealInfo` (SM2 with SM3,
//!   default ID, over the DER of `SES_SealInfo`); [`verify_seal`] checks that signature and
//!   reads the seal. Whether the maker's certificate chains to a trusted CA is the caller's,
//!   with [`crate::x509::verify_chain`].
//! - [`tbs_sign_der`]: the `TBS_Sign` a signer signs (version 4, the seal, the signing time,
//!   the SM3 hash of the signed data, a property string); [`assemble_signature`] takes the
//!   signature made wherever the key lives (a two-party co-signature on the phone) and checks
//!   it; [`add_timestamp`] adds an RFC 3161 token over the signature value.
//! - [`verify_signature`]: the signer's signature over the received `TBS_Sign`, the seal
//!   maker's over the seal, the timestamp's imprint; the report says whether the signer's
//!   certificate is in the seal's list and whether the seal was valid when it was used;
//!   [`VerifiedSesSignature::check`] turns those into errors.
//!
//! Field order and tags are in [`asn1`]; only SM2 signatures (`1.2.156.10197.1.501`) are
//! made or accepted, as the standard asks.

pub mod asn1;
mod seal;
mod signature;

pub use seal::{SealContent, SealPicture, VerifiedSeal, make_seal, verify_seal};
pub use signature::{
    SesSigner, VerifiedSesSignature, add_timestamp, assemble_signature, sign, tbs_sign_der,
    verify_signature,
};

use crate::error::{Error, Result, SealProblem};
use crate::x509::oids::SM2_WITH_SM3;
use der::asn1::{BitString, GeneralizedTime, ObjectIdentifier};

/// `SES_Header.id`.
pub const HEADER_ID: &str = "ES";
/// The version of the structures written and read.
pub const VERSION: u32 = 4;
/// `certListType` 1: the list holds the signers' certificates (DER).
pub const CERT_LIST_CERTS: u32 = 1;
/// `certListType` 2: the list holds hashes of them.
pub const CERT_LIST_DIGESTS: u32 = 2;
/// Longest picture accepted in a seal (the server takes at most 512 KiB).
pub const MAX_PICTURE: usize = 1024 * 1024;

fn check_alg(oid: &ObjectIdentifier) -> Result<()> {
    if *oid != SM2_WITH_SM3 {
        return Err(Error::UnsupportedAlgorithm(oid.to_string()));
    }
    Ok(())
}

fn time(unix: u64) -> Result<GeneralizedTime> {
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map_err(|_| Error::malformed("time"))
}

fn unix(t: &GeneralizedTime) -> u64 {
    t.to_unix_duration().as_secs()
}

fn octets(b: &BitString) -> Result<&[u8]> {
    b.as_bytes()
        .ok_or(SealProblem::Malformed("bit string").into())
}

/// An SM2 signature as carried in a BIT STRING: DER `SEQUENCE { r, s }` (what Bidkey writes
/// and BouncyCastle-based makers write), or the raw 64-byte `r ‖ s` some makers write.
fn sm2_signature(bytes: &[u8]) -> Result<crate::sm2::Sm2Signature> {
    if bytes.len() == 64 {
        crate::sm2::Sm2Signature::from_raw(bytes)
    } else {
        crate::sm2::Sm2Signature::from_der(bytes)
    }
    .map_err(|_| Error::BadSignature)
}

fn verify_sm2(cert: &crate::x509::Cert, msg: &[u8], sig: &[u8]) -> Result<()> {
    let key = cert.sm2_public_key().map_err(|_| Error::BadSignature)?;
    crate::sm2::verify(&key, crate::sm2::DEFAULT_ID, msg, &sm2_signature(sig)?)
}

#[cfg(test)]
mod tests;
