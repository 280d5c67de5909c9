//! NIST P-256: ECDSA with SHA-256 and ECDH, beside the SM2 path.
//!
//! ECDSA signing and verification run in `ring` (constant-time, assembly on x86-64 and
//! ARM; about 3–4× the pure-Rust `p256` crate). Parsing, encodings and ECDH stay on the
//! `p256` crate: `ring` has only ephemeral ECDH (`agreement::EphemeralPrivateKey`), while
//! [`P256PrivateKey::ecdh`] takes a stored key (the scan-reply keys of `crate::scan` and the
//! Wycheproof vectors both need that). See `docs/adr/0008-crypto-speed.md`.

use crate::error::{Error, Result};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use spki::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroizing;

/// A P-256 private key (ECDSA and ECDH). Not `Clone`, so that one copy of the secret exists
/// and is wiped once (issue 13 §7).
///
/// The `p256` scalar is zeroized on drop by that crate; `ring`'s copy of it (in Montgomery
/// form, inside the key pair) is not, as `ring` does not zeroize.
pub struct P256PrivateKey {
    key: SigningKey,
    signer: EcdsaKeyPair,
}

impl core::fmt::Debug for P256PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("P256PrivateKey").finish_non_exhaustive()
    }
}

/// A P-256 public key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct P256PublicKey {
    key: VerifyingKey,
    /// Uncompressed SEC1 `04 ‖ x ‖ y`, the form `ring` verifies with.
    sec1: [u8; 65],
}

impl P256PrivateKey {
    /// A new random key.
    pub fn make_random() -> Result<Self> {
        Self::from_signing_key(SigningKey::generate_from_rng(&mut crate::rng::os_rng()))
    }

    /// From a 32-byte big-endian scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key = SigningKey::from_slice(bytes).map_err(|_| Error::InvalidKey)?;
        Self::from_signing_key(key)
    }

    fn from_signing_key(key: SigningKey) -> Result<Self> {
        let public = P256PublicKey::from_verifying_key(*key.verifying_key());
        let scalar = Zeroizing::new(key.to_bytes());
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            scalar.as_slice(),
            &public.sec1,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|_| Error::InvalidKey)?;
        Ok(Self { key, signer })
    }

    /// The scalar, zeroized when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.key.to_bytes());
        out
    }

    pub fn public_key(&self) -> P256PublicKey {
        P256PublicKey::from_verifying_key(*self.key.verifying_key())
    }

    /// ECDSA-SHA256 signature, DER encoded.
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        self.sign(msg).to_der().as_bytes().to_vec()
    }

    /// ECDSA-SHA256 signature, raw `r ‖ s` (64 bytes).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.sign(msg).to_bytes().into()
    }

    /// `ring` signs with a random nonce hedged with the key and message. It fails only when
    /// the OS RNG does; then the `p256` crate's deterministic RFC 6979 nonce is as good.
    fn sign(&self, msg: &[u8]) -> Signature {
        self.signer
            .sign(&ring::rand::SystemRandom::new(), msg)
            .ok()
            .and_then(|sig| Signature::from_slice(sig.as_ref()).ok())
            .unwrap_or_else(|| self.key.sign(msg))
    }

    /// ECDH: the x-coordinate of `self·peer`. Feed it to a KDF, never use it as a key.
    pub fn ecdh(&self, peer: &P256PublicKey) -> Zeroizing<[u8; 32]> {
        let shared = p256::ecdh::diffie_hellman(
            self.key.as_nonzero_scalar(),
            p256::PublicKey::from(&peer.key).as_affine(),
        );
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        out
    }
}

impl P256PublicKey {
    fn from_verifying_key(key: VerifyingKey) -> Self {
        let mut sec1 = [0u8; 65];
        sec1.copy_from_slice(key.to_sec1_point(false).as_bytes());
        Self { key, sec1 }
    }

    /// Parse SEC1 (compressed or uncompressed); points off the curve are refused.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self::from_verifying_key)
            .map_err(|_| Error::InvalidPoint)
    }

    /// Uncompressed SEC1 (65 bytes).
    pub fn to_sec1(&self) -> Vec<u8> {
        self.sec1.to_vec()
    }

    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        self.key
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| Error::Encoding(e.to_string()))
    }

    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        VerifyingKey::from_public_key_der(der)
            .map(Self::from_verifying_key)
            .map_err(|_| Error::malformed("P-256 SubjectPublicKeyInfo"))
    }

    /// Verify a DER ECDSA-SHA256 signature (strict DER).
    pub fn verify_der(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        let sig = Signature::from_der(sig).map_err(|_| Error::malformed("ECDSA signature"))?;
        self.verify(msg, &sig)
    }

    /// Verify a raw `r ‖ s` ECDSA-SHA256 signature.
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        let sig = Signature::from_slice(sig).map_err(|_| Error::malformed("ECDSA signature"))?;
        self.verify(msg, &sig)
    }

    /// The `p256` crate parsed the signature (strict DER, 0 < r, s < n); `ring` does the
    /// arithmetic on the fixed-width form.
    fn verify(&self, msg: &[u8], sig: &Signature) -> Result<()> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.sec1[..])
            .verify(msg, &sig.to_bytes())
            .map_err(|_| Error::BadSignature)
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
    #[test]
    fn ring_and_p256_crate_agree_both_ways() {
        use p256::ecdsa::signature::Verifier;
        let key = P256PrivateKey::make_random().expect("key");
        // ring's signature checks under the p256 crate's verifier …
        let sig = Signature::from_der(&key.sign_der(b"cross")).expect("der");
        key.key
            .verifying_key()
            .verify(b"cross", &sig)
            .expect("p256 verifies ring");
        // … and the p256 crate's deterministic signature under ring's.
        let theirs: Signature = key.key.sign(b"cross");
        key.public_key()
            .verify_raw(b"cross", &theirs.to_bytes())
            .expect("ring verifies p256");
        // A key parsed back from its bytes signs under the same public key.
        let again = P256PrivateKey::from_bytes(key.to_bytes().as_slice()).expect("bytes");
        assert_eq!(again.public_key(), key.public_key());
        key.public_key()
            .verify_der(b"m", &again.sign_der(b"m"))
            .expect("verifies");
    }
}
