//! Object identifiers and the signature-algorithm allow-list.
//!
//! `const-oid` has no GM/T (Chinese national standard) OIDs, so they are defined here.
//! Verification accepts exactly the algorithms of [`SignatureAlgorithm`]; anything else is
//! refused rather than guessed at.

use crate::error::{Error, Result};
use der::asn1::ObjectIdentifier as Oid;
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef};

/// SM2 signature with SM3 (GM/T 0006), `1.2.156.10197.1.501`.
pub const SM2_WITH_SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.501");
/// The SM2 recommended curve (GM/T 0006), `1.2.156.10197.1.301`.
pub const SM2_CURVE: Oid = Oid::new_unwrap("1.2.156.10197.1.301");
/// SM3 hash, `1.2.156.10197.1.401`.
pub const SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.401");
/// SM4 block cipher, `1.2.156.10197.1.104`.
pub const SM4: Oid = Oid::new_unwrap("1.2.156.10197.1.104");
/// ECDSA with SHA-256 (RFC 5758), `1.2.840.10045.4.3.2`.
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// NIST P-256 / prime256v1 (RFC 5480), `1.2.840.10045.3.1.7`.
pub const P256_CURVE: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// `id-ecPublicKey` (RFC 5480), the key algorithm of both SM2 and P-256 keys.
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");

/// `id-kp-timeStamping` (RFC 5280 §4.2.1.12), the one purpose of a TSA certificate.
pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");

/// Bidkey's extended key usage for trading-platform certificates (ADR 0016): the CA sets it,
/// critical, only on the certificates it issues to registered platforms; phones require it
/// on scan requests and relying parties refuse it as a bidder's signing certificate. Under
/// IANA enterprise number 32473, which RFC 5612 reserves for documentation, until Bidkey
/// registers its own (ADR 0016; only Bidkey's own verifiers read it).
pub const KP_BIDKEY_PLATFORM: Oid = Oid::new_unwrap("1.3.6.1.4.1.32473.1.1");

/// X.520 countryName.
pub const AT_COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
/// X.520 commonName.
pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
/// X.520 organizationName.
pub const AT_ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
/// X.520 serialNumber (PrintableString): holds the keyed digest of a person's ID number.
pub const AT_SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
/// X.520 organizationIdentifier (2.5.4.97): holds the enterprise USCC, see [`super::name`].
pub const AT_ORGANIZATION_IDENTIFIER: Oid = Oid::new_unwrap("2.5.4.97");

/// A signature algorithm this crate signs with and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// SM2 with SM3 and the default distinguishing ID `1234567812345678`; DER `(r, s)`.
    Sm2WithSm3,
    /// ECDSA on P-256 with SHA-256; DER `(r, s)`.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The OID of the algorithm.
    pub fn oid(self) -> Oid {
        match self {
            Self::Sm2WithSm3 => SM2_WITH_SM3,
            Self::EcdsaP256Sha256 => ECDSA_WITH_SHA256,
        }
    }

    /// The `AlgorithmIdentifier`; both algorithms have their parameters absent
    /// (GM/T 0015 for SM2, RFC 5758 for ECDSA), not NULL.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }

    /// Map an `AlgorithmIdentifier` from a certificate, CSR or CRL onto the allow-list.
    ///
    /// Parameters must be absent: an explicit NULL or anything else is refused, so that one
    /// algorithm has one encoding.
    pub fn from_identifier(id: &AlgorithmIdentifierOwned) -> Result<Self> {
        Self::from_ref(&AlgorithmIdentifierRef {
            oid: id.oid,
            parameters: id.parameters.as_ref().map(Into::into),
        })
    }

    pub(crate) fn from_ref(id: &AlgorithmIdentifierRef<'_>) -> Result<Self> {
        let alg = match id.oid {
            SM2_WITH_SM3 => Self::Sm2WithSm3,
            ECDSA_WITH_SHA256 => Self::EcdsaP256Sha256,
            other => return Err(Error::UnsupportedAlgorithm(other.to_string())),
        };
        if id.parameters.is_some() {
            return Err(Error::UnsupportedAlgorithm(format!(
                "{} with parameters",
                id.oid
            )));
        }
        Ok(alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Any, asn1::Null};

    #[test]
    fn allow_list_accepts_only_parameterless_known_algorithms() {
        for alg in [
            SignatureAlgorithm::Sm2WithSm3,
            SignatureAlgorithm::EcdsaP256Sha256,
        ] {
            assert_eq!(
                SignatureAlgorithm::from_identifier(&alg.identifier()),
                Ok(alg)
            );
            let with_null = AlgorithmIdentifierOwned {
                oid: alg.oid(),
                parameters: Some(Any::from(Null)),
            };
            assert!(SignatureAlgorithm::from_identifier(&with_null).is_err());
        }
        let sha1_rsa = AlgorithmIdentifierOwned {
            oid: Oid::new_unwrap("1.2.840.113549.1.1.5"),
            parameters: None,
        };
        assert!(matches!(
            SignatureAlgorithm::from_identifier(&sha1_rsa),
            Err(Error::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn gm_oids_have_the_standard_values() {
        assert_eq!(SM2_WITH_SM3.to_string(), "1.2.156.10197.1.501");
        assert_eq!(SM2_CURVE.to_string(), "1.2.156.10197.1.301");
        assert_eq!(SM3.to_string(), "1.2.156.10197.1.401");
        assert_eq!(SM4.to_string(), "1.2.156.10197.1.104");
    }
}
