//! Subject public keys found in certificates and CSRs, and signature checks with them.

use super::oids::{EC_PUBLIC_KEY, P256_CURVE, SM2_CURVE, SignatureAlgorithm};
use crate::error::{Error, Result};
use crate::sm2::{DEFAULT_ID, Sm2PublicKey, Sm2Signature, verify as sm2_verify};
use der::Decode;
use p256::ecdsa::{Signature as P256Signature, VerifyingKey as P256VerifyingKey};
use signature::Verifier;
use spki::{DecodePublicKey, SubjectPublicKeyInfoRef};

/// The distinguishing ID an SM2 signature in a certificate, CSR or CRL is made with.
///
/// Certificates carry no ID. GM/T 0009/0015 (and Chinese CAs, GmSSL, Tongsuo, BouncyCastle)
/// use the default `1234567812345678`; OpenSSL 3.0 signs and verifies with an **empty** ID
/// unless given `-sigopt/-vfyopt distid:1234567812345678`, and it cannot be told to use
/// another ID for CRLs or for certificates other than the leaf of `openssl verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sm2Id {
    /// `1234567812345678`: the standard, used by default.
    #[default]
    Standard,
    /// The empty ID of OpenSSL 3.0's defaults, for material that OpenSSL 3.0 must verify.
    OpenSsl3Empty,
}

impl Sm2Id {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Self::Standard => DEFAULT_ID,
            Self::OpenSsl3Empty => b"",
        }
    }
}

/// Verification accepts both IDs of [`Sm2Id`], standard first. Both bind the same public
/// key and TBS bytes, so accepting the OpenSSL 3.0 form lets no one but the key holder
/// produce a valid signature; it only lets OpenSSL-made certificates, CSRs and CRLs verify.
fn verify_sm2_any_accepted_id(key: &Sm2PublicKey, msg: &[u8], sig: &Sm2Signature) -> Result<()> {
    sm2_verify(key, Sm2Id::Standard.as_bytes(), msg, sig)
        .or_else(|_| sm2_verify(key, Sm2Id::OpenSsl3Empty.as_bytes(), msg, sig))
}

/// A public key of an allow-listed kind: SM2 or NIST P-256, both as `id-ecPublicKey` with a
/// named curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectKey {
    Sm2(Sm2PublicKey),
    P256(P256VerifyingKey),
}

impl SubjectKey {
    /// Parse `SubjectPublicKeyInfo` DER; other key types and explicit curves are refused.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)?;
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err(Error::UnsupportedAlgorithm(spki.algorithm.oid.to_string()));
        }
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| Error::malformed("EC key parameters"))?;
        match curve {
            SM2_CURVE => Sm2PublicKey::from_spki_der(der).map(Self::Sm2),
            P256_CURVE => P256VerifyingKey::from_public_key_der(der)
                .map(Self::P256)
                .map_err(|_| Error::InvalidPoint),
            other => Err(Error::UnsupportedAlgorithm(other.to_string())),
        }
    }

    /// `SubjectPublicKeyInfo` DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        match self {
            Self::Sm2(k) => k.to_spki_der(),
            Self::P256(k) => spki::EncodePublicKey::to_public_key_der(k)
                .map(|d| d.into_vec())
                .map_err(|e| Error::Encoding(e.to_string())),
        }
    }

    /// The signature algorithm this key signs certificates with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        match self {
            Self::Sm2(_) => SignatureAlgorithm::Sm2WithSm3,
            Self::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    /// Check a DER `(r, s)` signature over `msg`.
    ///
    /// The algorithm must belong to the key (no SM2 signature under a P-256 key), and the
    /// signature must be in canonical DER: re-encoding it has to give the same bytes, so a
    /// signature has exactly one accepted form.
    pub fn verify(&self, alg: SignatureAlgorithm, msg: &[u8], sig_der: &[u8]) -> Result<()> {
        if alg != self.signature_algorithm() {
            return Err(Error::BadSignature);
        }
        match self {
            Self::Sm2(key) => {
                let sig = Sm2Signature::from_der(sig_der).map_err(|_| Error::BadSignature)?;
                if sig.to_der() != sig_der {
                    return Err(Error::BadSignature);
                }
                verify_sm2_any_accepted_id(key, msg, &sig)
            }
            Self::P256(key) => {
                let sig = P256Signature::from_der(sig_der).map_err(|_| Error::BadSignature)?;
                if sig.to_der().as_bytes() != sig_der {
                    return Err(Error::BadSignature);
                }
                key.verify(msg, &sig).map_err(|_| Error::BadSignature)
            }
        }
    }
}
