//! The `SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING }` shape shared by
//! certificates, CSRs and CRLs, read without re-encoding so the signed bytes are exactly the
//! bytes received.

use super::keys::SubjectKey;
use super::oids::SignatureAlgorithm;
use crate::error::{Error, Result};
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierRef;

#[derive(der::Sequence)]
struct SignedRef<'a> {
    tbs: AnyRef<'a>,
    algorithm: AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
}

/// The parts of a signed structure that signature verification needs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SignedParts {
    pub tbs: Vec<u8>,
    pub algorithm: SignatureAlgorithm,
    pub signature: Vec<u8>,
}

impl SignedParts {
    /// Split a signed DER structure; unknown algorithms and signature BIT STRINGs with
    /// unused bits are refused.
    pub fn parse(der: &[u8], what: &'static str) -> Result<Self> {
        let signed = SignedRef::from_der(der).map_err(|_| Error::malformed(what))?;
        let algorithm = SignatureAlgorithm::from_ref(&signed.algorithm)?;
        let signature = signed
            .signature
            .as_bytes()
            .ok_or(Error::malformed(what))?
            .to_vec();
        // AnyRef re-encodes its own header; DER has one header encoding, so these are the
        // received bytes.
        let tbs = signed.tbs.to_der().map_err(|_| Error::malformed(what))?;
        Ok(Self {
            tbs,
            algorithm,
            signature,
        })
    }

    /// Verify the signature with `key`.
    pub fn verify(&self, key: &SubjectKey) -> Result<()> {
        key.verify(self.algorithm, &self.tbs, &self.signature)
    }
}
