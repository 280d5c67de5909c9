//! Digest and signature algorithm identifiers in CMS, mapped onto an allow-list.

use super::oids;
use crate::error::{Error, Result};
use crate::x509::SignatureAlgorithm;
use der::Tagged;
use der::asn1::ObjectIdentifier as Oid;
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef};

/// A hash algorithm accepted in CMS and RFC 3161 structures.
///
/// SM3 and SHA-256 are what Bidkey signs with; SHA-384 and SHA-512 are read in message
/// imprints and ESS certificate identifiers made by others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sm3,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub fn oid(self) -> Oid {
        match self {
            Self::Sm3 => oids::SM3,
            Self::Sha256 => oids::SHA256,
            Self::Sha384 => oids::SHA384,
            Self::Sha512 => oids::SHA512,
        }
    }

    /// The `AlgorithmIdentifier` Bidkey writes: parameters absent (RFC 5754 §2 for SHA-2;
    /// GB/T 35275 examples carry NULL for SM3, which is accepted when reading).
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }

    /// Map an identifier onto the allow-list; parameters must be absent or NULL.
    pub fn from_identifier(id: &AlgorithmIdentifierOwned) -> Result<Self> {
        Self::from_ref(&AlgorithmIdentifierRef {
            oid: id.oid,
            parameters: id.parameters.as_ref().map(Into::into),
        })
    }

    pub(crate) fn from_ref(id: &AlgorithmIdentifierRef<'_>) -> Result<Self> {
        let alg = match id.oid {
            oids::SM3 => Self::Sm3,
            oids::SHA256 => Self::Sha256,
            oids::SHA384 => Self::Sha384,
            oids::SHA512 => Self::Sha512,
            other => return Err(Error::UnsupportedAlgorithm(other.to_string())),
        };
        check_absent_or_null(id)?;
        Ok(alg)
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sm3 | Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(self);
        h.update(data);
        h.finish()
    }
}

/// Streaming hash for large contents (detached signatures over big files).
#[derive(Debug, Clone)]
pub struct Hasher(HasherInner);

#[derive(Debug, Clone)]
enum HasherInner {
    Sm3(sm3::Sm3),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: HashAlgorithm) -> Self {
        Self(match alg {
            HashAlgorithm::Sm3 => HasherInner::Sm3(sm3::Sm3::new()),
            HashAlgorithm::Sha256 => HasherInner::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha384 => HasherInner::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha512 => HasherInner::Sha512(sha2::Sha512::new()),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            HasherInner::Sm3(h) => h.update(data),
            HasherInner::Sha256(h) => h.update(data),
            HasherInner::Sha384(h) => h.update(data),
            HasherInner::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            HasherInner::Sm3(h) => h.finalize().to_vec(),
            HasherInner::Sha256(h) => h.finalize().to_vec(),
            HasherInner::Sha384(h) => h.finalize().to_vec(),
            HasherInner::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// The one digest each signature algorithm is used with in a SignerInfo: SM3 for SM2
/// (the Z value is SM3 too), SHA-256 for ECDSA P-256.
pub fn digest_for(alg: SignatureAlgorithm) -> HashAlgorithm {
    match alg {
        SignatureAlgorithm::Sm2WithSm3 => HashAlgorithm::Sm3,
        SignatureAlgorithm::EcdsaP256Sha256 => HashAlgorithm::Sha256,
    }
}

/// Which object identifiers a CMS message is written with.
///
/// Both spellings carry the same structures. [`ContentTypes::Pkcs7`] is what PDF readers,
/// OpenSSL, BouncyCastle, GmSSL and CFCA's products read (and what RFC 3161 tokens must
/// use); [`ContentTypes::GbT35275`] is what GM/T 0099 (OFD) and some Chinese verifiers ask
/// for. Verification accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentTypes {
    /// `1.2.840.113549.1.7.x`; SM2 signatures named `1.2.156.10197.1.501` (SM2 with SM3).
    #[default]
    Pkcs7,
    /// `1.2.156.10197.6.1.4.2.x`; SM2 signatures named `1.2.156.10197.1.301.1` (SM2-1).
    GbT35275,
}

impl ContentTypes {
    /// The outer `signedData` content type.
    pub fn signed_data(self) -> Oid {
        match self {
            Self::Pkcs7 => oids::PKCS7_SIGNED_DATA,
            Self::GbT35275 => oids::GM_SIGNED_DATA,
        }
    }

    /// The `data` content type.
    pub fn data(self) -> Oid {
        match self {
            Self::Pkcs7 => oids::PKCS7_DATA,
            Self::GbT35275 => oids::GM_DATA,
        }
    }

    /// The SignerInfo `signatureAlgorithm` for `alg` (parameters absent).
    pub fn signature_identifier(self, alg: SignatureAlgorithm) -> AlgorithmIdentifierOwned {
        let oid = match (alg, self) {
            (SignatureAlgorithm::Sm2WithSm3, Self::Pkcs7) => oids::SM2_WITH_SM3,
            (SignatureAlgorithm::Sm2WithSm3, Self::GbT35275) => oids::SM2_SIGN,
            (SignatureAlgorithm::EcdsaP256Sha256, _) => oids::ECDSA_WITH_SHA256,
        };
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    /// Which spelling an outer content type is, if it is `signedData` at all.
    pub fn of_signed_data(oid: Oid) -> Option<Self> {
        match oid {
            oids::PKCS7_SIGNED_DATA => Some(Self::Pkcs7),
            oids::GM_SIGNED_DATA => Some(Self::GbT35275),
            _ => None,
        }
    }
}

/// Map a SignerInfo `signatureAlgorithm` onto the allow-list. SM2 appears under three OIDs
/// in the wild (SM2-1, SM2 with SM3, and the bare SM2 key OID); ECDSA only as
/// ecdsa-with-SHA256. Parameters must be absent or NULL.
pub fn signature_algorithm_from(id: &AlgorithmIdentifierOwned) -> Result<SignatureAlgorithm> {
    let alg = match id.oid {
        oids::SM2_SIGN | oids::SM2_WITH_SM3 | oids::SM2_KEY => SignatureAlgorithm::Sm2WithSm3,
        oids::ECDSA_WITH_SHA256 => SignatureAlgorithm::EcdsaP256Sha256,
        other => return Err(Error::UnsupportedAlgorithm(other.to_string())),
    };
    check_absent_or_null(&AlgorithmIdentifierRef {
        oid: id.oid,
        parameters: id.parameters.as_ref().map(Into::into),
    })?;
    Ok(alg)
}

fn check_absent_or_null(id: &AlgorithmIdentifierRef<'_>) -> Result<()> {
    match &id.parameters {
        None => Ok(()),
        Some(p) if p.tag() == der::Tag::Null && p.value().is_empty() => Ok(()),
        Some(_) => Err(Error::UnsupportedAlgorithm(format!(
            "{} with parameters",
            id.oid
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_have_their_lengths_and_known_values() {
        for alg in [
            HashAlgorithm::Sm3,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ] {
            assert_eq!(alg.digest(b"abc").len(), alg.output_len());
            assert_eq!(HashAlgorithm::from_identifier(&alg.identifier()), Ok(alg));
        }
        // GB/T 32905 example 1 and FIPS 180-2 "abc".
        assert_eq!(
            hex::encode(HashAlgorithm::Sm3.digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hex::encode(HashAlgorithm::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn unknown_or_parameterised_algorithms_are_refused() {
        let md5 = AlgorithmIdentifierOwned {
            oid: Oid::new_unwrap("1.2.840.113549.2.5"),
            parameters: None,
        };
        assert!(HashAlgorithm::from_identifier(&md5).is_err());
        assert!(signature_algorithm_from(&md5).is_err());
        let with_junk = AlgorithmIdentifierOwned {
            oid: oids::SHA256,
            parameters: Some(
                der::Any::encode_from(&der::asn1::OctetString::new(vec![1u8]).expect("os"))
                    .expect("any"),
            ),
        };
        assert!(HashAlgorithm::from_identifier(&with_junk).is_err());
        let with_null = AlgorithmIdentifierOwned {
            oid: oids::SM2_SIGN,
            parameters: Some(der::Any::from(der::asn1::Null)),
        };
        assert_eq!(
            signature_algorithm_from(&with_null),
            Ok(SignatureAlgorithm::Sm2WithSm3)
        );
    }
}
