//! CMS / PKCS#7 SignedData (RFC 5652; GB/T 35275 for SM2) and RFC 3161 timestamps.
//!
//! Structures come from the RustCrypto `cms` crate (ADR 0009); what is signed and checked is
//! decided here:
//!
//! - [`signed_attributes_der`]: the DER `SET` of signed attributes (contentType,
//!   messageDigest, signingTime, signingCertificateV2) a signer signs. A two-party device
//!   co-signs exactly these bytes; [`SignerInfo::assemble`] takes the signature back and
//!   checks it. [`SignerInfo::sign`] does both with a key held here.
//! - [`SignedDataBuilder`]: attached or detached content, several signers, their chains;
//!   [`sign_data`] for the one-signer case. [`ContentTypes`] picks the PKCS#7 (default) or
//!   GB/T 35275 object identifiers.
//! - [`verify_signed_data`]: both spellings; messageDigest against the content (or a digest
//!   the caller computed), the signature over the received signed-attribute bytes, and any
//!   `signatureTimeStampToken`. Certificate paths are the caller's, with
//!   [`crate::x509::verify_chain`].
//! - [`tsp`]: RFC 3161 requests, responses and tokens: issuing (the server's TSA) and
//!   verifying; [`SignerInfo::add_timestamp_token`] adds one to a SignerInfo.
//!
//! SM2 signatures use the default ID `1234567812345678`, and are verified with exactly that
//! ID. Parsing is strict DER.

mod algorithms;
mod attributes;
pub mod oids;
mod signed_data;
mod signer_info;
pub mod tsp;

pub use algorithms::{ContentTypes, HashAlgorithm, Hasher, digest_for, signature_algorithm_from};
pub use attributes::{
    EssCertIdV2, IssuerSerial, SignedAttributeValues, SigningCertificateV2, signed_attributes_der,
};
pub use signed_data::{
    Content, SignedDataBuilder, VerifiedSignedData, VerifiedSigner, sign_data, verify_signed_data,
};
pub use signer_info::SignerInfo;
pub use tsp::{TimeStampRequest, TimeStampResponse, VerifiedTimestamp};

/// Add `token` as a `signatureTimeStampToken` to the signer of a SignedData (`ContentInfo`
/// DER) whose signature it covers, and return the new DER; a token covering no signature of
/// the message is [`crate::CmsProblem::TimestampImprintMismatch`]. The result is verified
/// again (signatures, the token and its imprint) before it is returned. `content` is as for
/// [`verify_signed_data`].
pub fn add_timestamp_to_signed_data(
    der: &[u8],
    token: &[u8],
    content: Content<'_>,
    extra_certs: &[crate::x509::Cert],
) -> crate::Result<Vec<u8>> {
    use ::cms::content_info::ContentInfo;
    use ::cms::signed_data::{SignedData, SignerInfos};
    use der::{Decode, Encode};
    let before = verify_signed_data(der, content, extra_certs)?;
    let ts = tsp::verify_token(token, extra_certs)?;
    let old = before
        .signers
        .iter()
        .find(|s| ts.check_imprint_of(s.signer_info.signature()).is_ok())
        .ok_or(crate::CmsProblem::TimestampImprintMismatch)?
        .signer_info
        .clone();
    let mut signer = old.clone();
    signer.add_timestamp_token(token, extra_certs)?;
    let mut ci = ContentInfo::from_der(der)?;
    let sd: SignedData = ci.content.decode_as()?;
    let mut sd = sd;
    let mut infos: Vec<_> = sd.signer_infos.0.into_vec();
    let pos = infos
        .iter()
        .position(|i| *i == old.inner)
        .ok_or(crate::Error::malformed("SignedData signer"))?;
    infos[pos] = signer.inner;
    sd.signer_infos = SignerInfos(der::asn1::SetOfVec::try_from(infos)?);
    ci.content = der::Any::encode_from(&sd)?;
    let out = ci.to_der()?;
    verify_signed_data(&out, content, extra_certs)?;
    Ok(out)
}

/// Put a GB/T 38540 `SES_Signature` into the SignedData (`ContentInfo` DER) whose signer
/// made it over the same digest: its certificate is the seal signature's signer and its
/// messageDigest the seal signature's dataHash. The seal signature is verified first and the
/// message again after. See [`oids::ATTR_SES_SIGNATURE`].
pub fn add_ses_signature_to_signed_data(
    der: &[u8],
    ses_der: &[u8],
    content: Content<'_>,
) -> crate::Result<Vec<u8>> {
    use ::cms::content_info::ContentInfo;
    use ::cms::signed_data::{SignedData, SignerInfos};
    use der::{Decode, Encode};
    let ses = crate::ses::verify_signature(ses_der, None, &[])?;
    let before = verify_signed_data(der, content, &[])?;
    let old = before
        .signers
        .iter()
        .find(|s| {
            s.cert == ses.signer
                && s.attributes
                    .as_ref()
                    .is_some_and(|a| a.message_digest == ses.data_hash)
        })
        .ok_or(crate::SealProblem::DataHashMismatch)?
        .signer_info
        .clone();
    let mut signer = old.clone();
    signer.set_ses_signature(ses_der)?;
    let mut ci = ContentInfo::from_der(der)?;
    let mut sd: SignedData = ci.content.decode_as()?;
    let mut infos: Vec<_> = sd.signer_infos.0.into_vec();
    let pos = infos
        .iter()
        .position(|i| *i == old.inner)
        .ok_or(crate::Error::malformed("SignedData signer"))?;
    infos[pos] = signer.inner;
    sd.signer_infos = SignerInfos(der::asn1::SetOfVec::try_from(infos)?);
    ci.content = der::Any::encode_from(&sd)?;
    let out = ci.to_der()?;
    verify_signed_data(&out, content, &[])?;
    Ok(out)
}

#[cfg(test)]
mod tests;
