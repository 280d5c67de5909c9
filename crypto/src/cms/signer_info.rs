//! One signer's `SignerInfo` (RFC 5652 §5.3), assembled from a signature made elsewhere.
//!
//! The two-party key has no local private key: the device (or the signing service) gets the
//! DER of the signed attributes from [`super::signed_attributes_der`], signs them, and the
//! signature comes back here. [`SignerInfo::assemble`] checks it under the certificate before
//! anything leaves as a SignerInfo.

use super::algorithms::{ContentTypes, HashAlgorithm, digest_for, signature_algorithm_from};
use super::attributes::{SignedAttributeValues, attribute, signed_attributes_der};
use super::oids;
use super::tsp::{TimeStampRequest, VerifiedTimestamp, verify_token};
use crate::error::{CmsProblem, Error, Result};
use crate::x509::{Cert, SignatureAlgorithm, SubjectKey, TbsSigner};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{SignatureValue, SignerIdentifier, SignerInfo as RawSignerInfo};
use der::asn1::{Any, ObjectIdentifier as Oid, SetOfVec};
use der::{Decode, Encode};
use x509_cert::attr::Attribute;

/// A `SignerInfo`: signer identifier (issuer and serial), digest and signature algorithms,
/// signed attributes, signature, and unsigned attributes (a signature timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    pub(crate) inner: RawSignerInfo,
}

/// Check a DER signature over `msg` under `key`, strictly: SM2 with the default ID only
/// (ADR 0002: document signatures use exactly the standard ID), canonical DER.
pub(crate) fn verify_signature(
    key: &SubjectKey,
    alg: SignatureAlgorithm,
    msg: &[u8],
    sig_der: &[u8],
) -> Result<()> {
    match key {
        SubjectKey::Sm2(pk) if alg == SignatureAlgorithm::Sm2WithSm3 => {
            let sig =
                crate::sm2::Sm2Signature::from_der(sig_der).map_err(|_| Error::BadSignature)?;
            if sig.to_der() != sig_der {
                return Err(Error::BadSignature);
            }
            crate::sm2::verify(pk, crate::sm2::DEFAULT_ID, msg, &sig)
        }
        SubjectKey::Sm2(_) => Err(Error::BadSignature),
        SubjectKey::P256(_) => key.verify(alg, msg, sig_der),
    }
}

impl SignerInfo {
    /// Build a SignerInfo from signed attributes (the DER `SET` from
    /// [`super::signed_attributes_der`]) and the signature over exactly those bytes, made by
    /// `signer`'s key wherever that key lives. The signature is checked here; the signer's
    /// identifier is its issuer and serial number.
    pub fn assemble(
        signer: &Cert,
        types: ContentTypes,
        signed_attrs_der: &[u8],
        signature_der: &[u8],
    ) -> Result<Self> {
        let alg = signer.public_key().signature_algorithm();
        let attrs = SignedAttributeValues::parse(signed_attrs_der)?;
        if attrs.message_digest.len() != digest_for(alg).output_len() {
            return Err(CmsProblem::DigestAlgorithmMismatch.into());
        }
        if let Some(sc) = &attrs.signing_certificate_v2 {
            sc.check(signer)?;
        }
        verify_signature(signer.public_key(), alg, signed_attrs_der, signature_der)?;
        let parsed = SetOfVec::<Attribute>::from_der(signed_attrs_der)?;
        // The re-encoding must be the bytes that were signed (they are DER, so it is).
        if parsed.to_der()? != signed_attrs_der {
            return Err(Error::malformed("signed attributes (not DER)"));
        }
        let inner = RawSignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: signer.issuer().clone(),
                serial_number: signer
                    .certificate()
                    .tbs_certificate()
                    .serial_number()
                    .clone(),
            }),
            digest_alg: digest_for(alg).identifier(),
            signed_attrs: Some(parsed),
            signature_algorithm: types.signature_identifier(alg),
            signature: SignatureValue::new(signature_der)?,
            unsigned_attrs: None,
        };
        Ok(Self { inner })
    }

    /// Sign with a key held here (one-party SM2 with the standard ID, or P-256): build the
    /// signed attributes for `content_type` and `message_digest`, sign, assemble.
    pub fn sign(
        signer: &dyn TbsSigner,
        cert: &Cert,
        types: ContentTypes,
        content_type: Oid,
        message_digest: &[u8],
        signing_time: Option<u64>,
    ) -> Result<Self> {
        let digest = digest_for(cert.public_key().signature_algorithm());
        let attrs =
            signed_attributes_der(content_type, digest, message_digest, signing_time, cert)?;
        let signature = signer.sign_tbs(&attrs)?;
        Self::assemble(cert, types, &attrs, &signature)
    }

    /// Parse DER.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Ok(Self {
            inner: RawSignerInfo::from_der(der)?,
        })
    }

    /// DER.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        Ok(self.inner.to_der()?)
    }

    /// The signature value (what a signature timestamp covers).
    pub fn signature(&self) -> &[u8] {
        self.inner.signature.as_bytes()
    }

    /// The digest algorithm of the SignerInfo.
    pub fn digest_algorithm(&self) -> Result<HashAlgorithm> {
        HashAlgorithm::from_identifier(&self.inner.digest_alg)
    }

    /// The signature algorithm of the SignerInfo.
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm> {
        signature_algorithm_from(&self.inner.signature_algorithm)
    }

    /// The DER `SET` of the signed attributes (what the signature covers), if any.
    pub fn signed_attributes_der(&self) -> Result<Option<Vec<u8>>> {
        self.inner
            .signed_attrs
            .as_ref()
            .map(|a| a.to_der().map_err(Error::from))
            .transpose()
    }

    /// A timestamp request for this signature: the imprint is `alg` over the signature
    /// value (RFC 3161 appendix A), with a fresh 64-bit nonce and the TSA certificate asked
    /// for.
    pub fn timestamp_request(&self, alg: HashAlgorithm) -> Result<TimeStampRequest> {
        TimeStampRequest::new(alg, &alg.digest(self.signature()))
    }

    /// Add a `signatureTimeStampToken` unsigned attribute. The token is verified first and
    /// its messageImprint must be the hash of this SignerInfo's signature value, so a
    /// timestamp of another signature is refused. Returns what the token says.
    pub fn add_timestamp_token(
        &mut self,
        token_der: &[u8],
        extra_certs: &[Cert],
    ) -> Result<VerifiedTimestamp> {
        let ts = verify_token(token_der, extra_certs)?;
        ts.check_imprint_of(self.signature())?;
        let attr = attribute(
            oids::ATTR_SIGNATURE_TIME_STAMP_TOKEN,
            &Any::from_der(token_der)?,
        )?;
        let unsigned = self.inner.unsigned_attrs.get_or_insert_with(SetOfVec::new);
        match unsigned
            .as_slice()
            .iter()
            .position(|a| a.oid == oids::ATTR_SIGNATURE_TIME_STAMP_TOKEN)
        {
            // A second token for the same signature joins the same attribute as a value.
            Some(i) => {
                let mut attrs = unsigned.as_slice().to_vec();
                attrs[i].values.insert(Any::from_der(token_der)?)?;
                *unsigned = SetOfVec::try_from(attrs)?;
            }
            None => unsigned.insert(attr)?,
        }
        Ok(ts)
    }

    /// Carry a GB/T 38540 `SES_Signature` (DER) in the unsigned attribute
    /// [`oids::ATTR_SES_SIGNATURE`], replacing one already there.
    pub fn set_ses_signature(&mut self, ses_der: &[u8]) -> Result<()> {
        let attr = attribute(oids::ATTR_SES_SIGNATURE, &Any::from_der(ses_der)?)?;
        let unsigned = self.inner.unsigned_attrs.get_or_insert_with(SetOfVec::new);
        let mut attrs: Vec<_> = unsigned
            .as_slice()
            .iter()
            .filter(|a| a.oid != oids::ATTR_SES_SIGNATURE)
            .cloned()
            .collect();
        attrs.push(attr);
        *unsigned = SetOfVec::try_from(attrs)?;
        Ok(())
    }

    /// The `SES_Signature` this SignerInfo carries, if any (DER, not yet verified).
    pub fn ses_signature(&self) -> Result<Option<Vec<u8>>> {
        for a in self.inner.unsigned_attrs.iter().flat_map(|u| u.iter()) {
            if a.oid == oids::ATTR_SES_SIGNATURE {
                let [one] = a.values.as_slice() else {
                    return Err(crate::Error::malformed("SES_Signature attribute"));
                };
                return Ok(Some(one.to_der()?));
            }
        }
        Ok(None)
    }

    /// The DER of every `signatureTimeStampToken` value.
    pub fn timestamp_tokens(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for a in self.inner.unsigned_attrs.iter().flat_map(|u| u.iter()) {
            if a.oid == oids::ATTR_SIGNATURE_TIME_STAMP_TOKEN {
                for v in a.values.iter() {
                    out.push(v.to_der()?);
                }
            }
        }
        Ok(out)
    }

    /// Whether `cert` is the certificate this SignerInfo names.
    pub(crate) fn names(&self, cert: &Cert) -> bool {
        match &self.inner.sid {
            SignerIdentifier::IssuerAndSerialNumber(is) => {
                &is.issuer == cert.issuer() && is.serial_number.as_bytes() == cert.serial_bytes()
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                cert.subject_key_id() == Some(ski.0.as_bytes())
            }
        }
    }
}
