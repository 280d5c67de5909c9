//! NIST P-256: ECDSA with SHA-256 and ECDH, beside the SM2 path.

use crate::error::{Error, Result};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use spki::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroizing;

/// A P-256 private key (ECDSA and ECDH). Zeroized on drop by the underlying crate; not
/// `Clone`, so that one copy of the secret exists and is wiped once (issue 13 §7).
pub struct P256PrivateKey(SigningKey);

impl core::fmt::Debug for P256PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("P256PrivateKey").finish_non_exhaustive()
    }
}

/// A P-256 public key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct P256PublicKey(VerifyingKey);

impl P256PrivateKey {
    /// A new random key.
    pub fn make_random() -> Result<Self> {
        Ok(Self(SigningKey::generate_from_rng(
            &mut crate::rng::os_rng(),
        )))
    }

    /// From a 32-byte big-endian scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        SigningKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidKey)
    }

    /// The scalar, zeroized when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.0.to_bytes());
        out
    }

    pub fn public_key(&self) -> P256PublicKey {
        P256PublicKey(*self.0.verifying_key())
    }

    /// ECDSA-SHA256 signature, DER encoded.
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.0.sign(msg);
        sig.as_bytes().to_vec()
    }

    /// ECDSA-SHA256 signature, raw `r ‖ s` (64 bytes).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        let sig: Signature = self.0.sign(msg);
        sig.to_bytes().into()
    }

    /// ECDH: the x-coordinate of `self·peer`. Feed it to a KDF, never use it as a key.
    pub fn ecdh(&self, peer: &P256PublicKey) -> Zeroizing<[u8; 32]> {
        let shared = p256::ecdh::diffie_hellman(
            self.0.as_nonzero_scalar(),
            p256::PublicKey::from(&peer.0).as_affine(),
        );
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        out
    }
}

impl P256PublicKey {
    /// Parse SEC1 (compressed or uncompressed); points off the curve are refused.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidPoint)
    }

    /// Uncompressed SEC1 (65 bytes).
    pub fn to_sec1(&self) -> Vec<u8> {
        self.0.to_sec1_point(false).as_bytes().to_vec()
    }

    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        self.0
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| Error::Encoding(e.to_string()))
    }

    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        VerifyingKey::from_public_key_der(der)
            .map(Self)
            .map_err(|_| Error::malformed("P-256 SubjectPublicKeyInfo"))
    }

    /// Verify a DER ECDSA-SHA256 signature (strict DER).
    pub fn verify_der(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        let sig = Signature::from_der(sig).map_err(|_| Error::malformed("ECDSA signature"))?;
        self.0.verify(msg, &sig).map_err(|_| Error::BadSignature)
    }

    /// Verify a raw `r ‖ s` ECDSA-SHA256 signature.
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        let sig = Signature::from_slice(sig).map_err(|_| Error::malformed("ECDSA signature"))?;
        self.0.verify(msg, &sig).map_err(|_| Error::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_both_encodings() {
        let key = P256PrivateKey::make_random().expect("key");
        let pubkey = key.public_key();
        pubkey.verify_der(b"m", &key.sign_der(b"m")).expect("der");
        pubkey.verify_raw(b"m", &key.sign_raw(b"m")).expect("raw");
        assert_eq!(
            pubkey.verify_der(b"n", &key.sign_der(b"m")),
            Err(Error::BadSignature)
        );
        assert!(pubkey.verify_der(b"m", &[0x30, 0]).is_err());
        let back = P256PublicKey::from_spki_der(&pubkey.to_spki_der().expect("spki")).expect("p");
        assert_eq!(back, pubkey);
    }

    #[test]
    fn ecdh_agrees() {
        let a = P256PrivateKey::make_random().expect("a");
        let b = P256PrivateKey::make_random().expect("b");
        assert_eq!(*a.ecdh(&b.public_key()), *b.ecdh(&a.public_key()));
        assert!(P256PublicKey::from_sec1(&[4u8; 65]).is_err());
    }
}
