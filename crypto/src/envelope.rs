//! Key delivery envelope: an escrowed SM2 private key (or a key share) sent by the key
//! management centre to one device, readable only with that device's SM2 key.
//!
//! ```text
//! BidkeyEnvelopedKey ::= SEQUENCE {
//!   version                 INTEGER (1),
//!   symAlgID                AlgorithmIdentifier,   -- SM4-GCM 1.2.156.10197.1.104.8, no parameters
//!   symEncryptedKey         SM2Cipher,             -- fresh 16-byte SM4 key, SM2-encrypted to the
//!                                                  -- recipient (GM/T 0009 C1C3C2 DER)
//!   sm2PublicKey            BIT STRING,            -- 04‖x‖y of the key pair being delivered
//!   nonce                   OCTET STRING (12),
//!   sm2EncryptedPrivateKey  OCTET STRING           -- SM4-GCM(32-byte big-endian secret) ‖ tag
//! }
//! ```
//! It follows GM/T 0009 §7.4 `SM2EnvelopedKey`, with SM4-GCM in place of SM4-ECB so the
//! private key is authenticated, and a version and nonce added. The GCM additional data is
//! `"bidkey-envelope-v1" ‖ recipient public key ‖ delivered public key` (uncompressed
//! SEC1), so an envelope cannot be re-addressed or have its public key swapped.
//!
//! The recipient key is normally a two-party key, so opening is split: decrypt
//! [`EnvelopedKey::sym_key_ciphertext`] (by co-decryption or with a whole key), then call
//! [`EnvelopedKey::open_with_sym_key`].

use crate::aead::{self, AeadAlgorithm, NONCE_LEN};
use crate::error::{Error, Result};
use crate::sm2::{self, Sm2Ciphertext, Sm2PrivateKey, Sm2PublicKey};
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

/// SM4-GCM (GM/T 0006: sm4 .8).
pub const OID_SM4_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.104.8");
const AAD_TAG: &[u8] = b"bidkey-envelope-v1";

#[derive(der::Sequence)]
struct Wire<'a> {
    version: u8,
    sym_alg_id: AlgorithmIdentifierRef<'a>,
    sym_encrypted_key: AnyRef<'a>,
    sm2_public_key: BitStringRef<'a>,
    nonce: &'a OctetStringRef,
    sm2_encrypted_private_key: &'a OctetStringRef,
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopedKey {
    sym_key: Sm2Ciphertext,
    public_key: Sm2PublicKey,
    nonce: [u8; NONCE_LEN],
    sealed: Vec<u8>,
}

/// Seal `secret` (the private scalar, or a share, belonging to the key pair `public_key`)
/// to `recipient`.
pub fn seal(
    recipient: &Sm2PublicKey,
    public_key: &Sm2PublicKey,
    secret: &[u8; 32],
) -> Result<EnvelopedKey> {
    let sym = Zeroizing::new(crate::rng::bytes::<16>()?);
    let nonce = crate::rng::bytes::<NONCE_LEN>()?;
    let aad = aad(recipient, public_key);
    let sealed =
        aead::seal_with_nonce(AeadAlgorithm::Sm4Gcm, sym.as_slice(), &nonce, &aad, secret)?;
    Ok(EnvelopedKey {
        sym_key: sm2::encrypt(recipient, sym.as_slice())?,
        public_key: *public_key,
        nonce,
        sealed,
    })
}

fn aad(recipient: &Sm2PublicKey, public_key: &Sm2PublicKey) -> Vec<u8> {
    [AAD_TAG, &recipient.to_sec1(), &public_key.to_sec1()].concat()
}

impl EnvelopedKey {
    /// Strict DER parse.
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        let w = Wire::from_der(bytes).map_err(|_| Error::malformed("key envelope"))?;
        if w.version != 1 {
            return Err(Error::malformed("key envelope version"));
        }
        if w.sym_alg_id.oid != OID_SM4_GCM || w.sym_alg_id.parameters.is_some() {
            return Err(Error::UnsupportedAlgorithm(w.sym_alg_id.oid.to_string()));
        }
        let sym_der = w.sym_encrypted_key.to_der()?;
        let pk = w
            .sm2_public_key
            .as_bytes()
            .ok_or(Error::malformed("key envelope public key"))?;
        Ok(Self {
            sym_key: Sm2Ciphertext::from_der(&sym_der)?,
            public_key: Sm2PublicKey::from_sec1(pk)?,
            nonce: w
                .nonce
                .as_bytes()
                .try_into()
                .map_err(|_| Error::malformed("key envelope nonce"))?,
            sealed: w.sm2_encrypted_private_key.as_bytes().to_vec(),
        })
    }

    /// DER encoding.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let sym_der = self.sym_key.to_der()?;
        let pk = self.public_key.to_sec1();
        let w = Wire {
            version: 1,
            sym_alg_id: AlgorithmIdentifierRef {
                oid: OID_SM4_GCM,
                parameters: None,
            },
            sym_encrypted_key: AnyRef::from_der(&sym_der)?,
            sm2_public_key: BitStringRef::from_bytes(&pk)?,
            nonce: OctetStringRef::new(&self.nonce)?,
            sm2_encrypted_private_key: OctetStringRef::new(&self.sealed)?,
        };
        w.to_der().map_err(|e| Error::Encoding(e.to_string()))
    }

    /// The SM2 ciphertext of the SM4 key, to be decrypted by the recipient.
    pub fn sym_key_ciphertext(&self) -> &Sm2Ciphertext {
        &self.sym_key
    }

    /// The public key of the delivered key pair.
    pub fn public_key(&self) -> &Sm2PublicKey {
        &self.public_key
    }

    /// Open with the SM4 key recovered from [`Self::sym_key_ciphertext`].
    pub fn open_with_sym_key(
        &self,
        recipient: &Sm2PublicKey,
        sym_key: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>> {
        if sym_key.len() != 16 {
            return Err(Error::DecryptionFailed);
        }
        let aad = aad(recipient, &self.public_key);
        let pt = aead::open_with_nonce(
            AeadAlgorithm::Sm4Gcm,
            sym_key,
            &self.nonce,
            &aad,
            &self.sealed,
        )?;
        let mut out = Zeroizing::new([0u8; 32]);
        if pt.len() != 32 {
            return Err(Error::DecryptionFailed);
        }
        out.copy_from_slice(&pt);
        Ok(out)
    }

    /// Open with a whole recipient key, and check that a delivered whole key matches its
    /// public key.
    pub fn open_whole_key(&self, recipient: &Sm2PrivateKey) -> Result<Sm2PrivateKey> {
        let sym = sm2::decrypt(recipient, &self.sym_key)?;
        let secret = self.open_with_sym_key(recipient.public_key(), &sym)?;
        let key = Sm2PrivateKey::from_bytes(secret.as_slice())?;
        if key.public_key() != &self.public_key {
            return Err(Error::InvalidKey);
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_parse_open() {
        let device = Sm2PrivateKey::make_random().expect("device");
        let escrowed = Sm2PrivateKey::make_random().expect("escrowed");
        let env = seal(
            device.public_key(),
            escrowed.public_key(),
            &escrowed.to_bytes(),
        )
        .expect("seal");
        let der = env.to_der().expect("der");
        let parsed = EnvelopedKey::from_der(&der).expect("parse");
        assert_eq!(parsed, env);
        let opened = parsed.open_whole_key(&device).expect("open");
        assert_eq!(opened.public_key(), escrowed.public_key());
    }

    #[test]
    fn wrong_recipient_and_tampering_fail() {
        let device = Sm2PrivateKey::make_random().expect("device");
        let thief = Sm2PrivateKey::make_random().expect("thief");
        let escrowed = Sm2PrivateKey::make_random().expect("escrowed");
        let env = seal(
            device.public_key(),
            escrowed.public_key(),
            &escrowed.to_bytes(),
        )
        .expect("seal");
        assert_eq!(
            env.open_whole_key(&thief).err(),
            Some(Error::DecryptionFailed)
        );
        let sym = sm2::decrypt(&device, env.sym_key_ciphertext()).expect("sym");
        // Re-addressing: the right SM4 key but claimed for another recipient.
        assert!(env.open_with_sym_key(thief.public_key(), &sym).is_err());
        let mut swapped = env.clone();
        swapped.public_key = *thief.public_key();
        assert!(
            swapped
                .open_with_sym_key(device.public_key(), &sym)
                .is_err()
        );
        let mut der = env.to_der().expect("der");
        let n = der.len();
        der[n - 1] ^= 1;
        let tampered = EnvelopedKey::from_der(&der).expect("still parses");
        assert!(tampered.open_whole_key(&device).is_err());
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        let device = Sm2PrivateKey::make_random().expect("device");
        let env = seal(device.public_key(), device.public_key(), &device.to_bytes()).expect("seal");
        let der = env.to_der().expect("der");
        for cut in 0..der.len() {
            assert!(EnvelopedKey::from_der(&der[..cut]).is_err());
        }
        assert!(EnvelopedKey::from_der(b"not der at all").is_err());
    }
}
