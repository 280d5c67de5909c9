//! Who signs a certificate, CSR or CRL.
//!
//! [`TbsSigner`] signs the DER "to be signed" bytes and returns the DER signature. It is
//! implemented for one-party SM2 keys and P-256 ECDSA keys. A device that signs through the
//! two-party SM2 protocol does not implement it: it uses the two-step
//! [`super::csr::CsrDraft`] (take the bytes, run the protocol, hand back the signature).

use super::keys::Sm2Id;
use super::oids::SignatureAlgorithm;
use crate::error::{Error, Result};
use crate::sm2::{DEFAULT_ID, Sm2PrivateKey};
use der::asn1::BitString;
use der::{Decode, Document};
use signature::{Keypair, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SubjectPublicKeyInfoOwned,
};

/// Signs the TBS bytes of certificates, CSRs and CRLs.
pub trait TbsSigner {
    /// The algorithm of the signatures [`TbsSigner::sign_tbs`] makes.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// `SubjectPublicKeyInfo` DER of the signing key, checked against the issuer certificate
    /// so that a certificate is never signed by a key that does not match its issuer.
    fn public_key_spki(&self) -> Result<Vec<u8>>;

    /// Sign `tbs` and return the DER `SEQUENCE { r, s }` signature.
    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>>;
}

/// SM2 with SM3 under the default ID `1234567812345678`. The signature is DER, not raw
/// `r ‖ s`: OpenSSL refuses raw signatures inside certificates.
impl TbsSigner for Sm2PrivateKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::Sm2WithSm3
    }

    fn public_key_spki(&self) -> Result<Vec<u8>> {
        self.public_key().to_spki_der()
    }

    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        Ok(self.sign(DEFAULT_ID, tbs)?.to_der())
    }
}

/// A one-party SM2 key signing with a chosen [`Sm2Id`]; `Sm2PrivateKey` itself signs with
/// [`Sm2Id::Standard`]. Use [`Sm2Id::OpenSsl3Empty`] only for material OpenSSL 3.0 has to
/// verify as is (e.g. CRLs fed to `openssl verify -crl_check`).
#[derive(Debug)]
pub struct Sm2Signer {
    key: Sm2PrivateKey,
    id: Sm2Id,
}

impl Sm2Signer {
    pub fn new(key: Sm2PrivateKey, id: Sm2Id) -> Self {
        Self { key, id }
    }

    pub fn key(&self) -> &Sm2PrivateKey {
        &self.key
    }
}

impl TbsSigner for Sm2Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::Sm2WithSm3
    }

    fn public_key_spki(&self) -> Result<Vec<u8>> {
        self.key.public_key().to_spki_der()
    }

    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        Ok(self.key.sign(self.id.as_bytes(), tbs)?.to_der())
    }
}

/// ECDSA P-256 with SHA-256 (RFC 6979 nonces, which are safe for one-party ECDSA).
impl TbsSigner for p256::ecdsa::SigningKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn public_key_spki(&self) -> Result<Vec<u8>> {
        self.verifying_key()
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| Error::Encoding(e.to_string()))
    }

    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        let sig: p256::ecdsa::DerSignature = self.try_sign(tbs).map_err(|_| Error::InvalidKey)?;
        Ok(sig.as_bytes().to_vec())
    }
}

/// ECDSA P-256 with SHA-256 for the crate's own key type.
impl TbsSigner for crate::p256::P256PrivateKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn public_key_spki(&self) -> Result<Vec<u8>> {
        self.public_key().to_spki_der()
    }

    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        Ok(self.sign_der(tbs))
    }
}

/// Stands in for a signer inside the `x509-cert` builders, which ask for an algorithm
/// identifier and a public key before they hand out the TBS bytes. The signature itself is
/// always made outside the builder.
#[derive(Debug, Clone)]
pub(crate) struct BuilderKey {
    algorithm: SignatureAlgorithm,
    spki: SpkiKey,
}

#[derive(Debug, Clone)]
pub(crate) struct SpkiKey(SubjectPublicKeyInfoOwned);

impl BuilderKey {
    pub fn new(algorithm: SignatureAlgorithm, spki_der: &[u8]) -> Result<Self> {
        let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)
            .map_err(|_| Error::malformed("SubjectPublicKeyInfo"))?;
        Ok(Self {
            algorithm,
            spki: SpkiKey(spki),
        })
    }
}

impl EncodePublicKey for SpkiKey {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::encode_msg(&self.0)?)
    }
}

impl Keypair for BuilderKey {
    type VerifyingKey = SpkiKey;

    fn verifying_key(&self) -> SpkiKey {
        self.spki.clone()
    }
}

impl DynSignatureAlgorithmIdentifier for BuilderKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.algorithm.identifier())
    }
}

/// A DER signature as the BIT STRING of a signed structure.
pub(crate) fn signature_bits(sig_der: &[u8]) -> Result<BitString> {
    BitString::from_bytes(sig_der).map_err(|_| Error::InvalidLength("signature"))
}

pub(crate) fn builder_error(e: x509_cert::builder::Error) -> Error {
    Error::Encoding(e.to_string())
}
