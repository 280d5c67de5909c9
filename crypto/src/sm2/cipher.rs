//! SM2 public-key encryption (GB/T 32918.4), ciphertext order C1 ‖ C3 ‖ C2.
//!
//! Both encodings are supported: raw `04 ‖ x ‖ y ‖ C3 ‖ C2` and the GM/T 0009 DER
//! `SM2Cipher ::= SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }`.
//! Decryption is split so that the two-party protocol can supply `d·C1` without `d`.

use super::key::{Sm2PrivateKey, Sm2PublicKey, random_nonzero_scalar};
use crate::error::{Error, Result};
use der::asn1::{OctetStringRef, UintRef};
use der::{Decode, Encode};
use sm2::AffinePoint;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A parsed SM2 ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct Sm2Ciphertext {
    c1: Sm2PublicKey,
    c3: [u8; 32],
    c2: Vec<u8>,
}

impl core::fmt::Debug for Sm2Ciphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm2Ciphertext")
            .field("len", &self.c2.len())
            .finish()
    }
}

#[derive(der::Sequence)]
struct DerCipher<'a> {
    x: UintRef<'a>,
    y: UintRef<'a>,
    hash: &'a OctetStringRef,
    ciphertext: &'a OctetStringRef,
}

fn left_pad_32(bytes: &[u8]) -> Result<[u8; 32]> {
    if bytes.len() > 32 {
        return Err(Error::InvalidPoint);
    }
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}

impl Sm2Ciphertext {
    /// Parse the raw C1C3C2 form (`04 ‖ x ‖ y ‖ C3 ‖ C2`, C2 non-empty).
    pub fn from_raw(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 65 + 32 + 1 {
            return Err(Error::malformed("SM2 ciphertext"));
        }
        if bytes[0] != 4 {
            return Err(Error::malformed("SM2 ciphertext"));
        }
        let c1 = Sm2PublicKey::from_sec1(&bytes[..65])?;
        let mut c3 = [0u8; 32];
        c3.copy_from_slice(&bytes[65..97]);
        Ok(Self {
            c1,
            c3,
            c2: bytes[97..].to_vec(),
        })
    }

    /// Parse the GM/T 0009 DER form, strictly.
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        let parsed = DerCipher::from_der(bytes).map_err(|_| Error::malformed("SM2 ciphertext"))?;
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(&left_pad_32(parsed.x.as_bytes())?);
        sec1[33..].copy_from_slice(&left_pad_32(parsed.y.as_bytes())?);
        let c1 = Sm2PublicKey::from_sec1(&sec1)?;
        let c3: [u8; 32] = parsed
            .hash
            .as_bytes()
            .try_into()
            .map_err(|_| Error::malformed("SM2 ciphertext"))?;
        let c2 = parsed.ciphertext.as_bytes();
        if c2.is_empty() {
            return Err(Error::malformed("SM2 ciphertext"));
        }
        Ok(Self {
            c1,
            c3,
            c2: c2.to_vec(),
        })
    }

    /// Raw `04 ‖ x ‖ y ‖ C3 ‖ C2`.
    pub fn to_raw(&self) -> Vec<u8> {
        let mut out = self.c1.to_sec1();
        out.extend_from_slice(&self.c3);
        out.extend_from_slice(&self.c2);
        out
    }

    /// GM/T 0009 DER.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let sec1 = self.c1.to_sec1();
        let enc = DerCipher {
            x: UintRef::new(&sec1[1..33])?,
            y: UintRef::new(&sec1[33..])?,
            hash: OctetStringRef::new(&self.c3)?,
            ciphertext: OctetStringRef::new(&self.c2)?,
        };
        enc.to_der().map_err(|e| Error::Encoding(e.to_string()))
    }

    /// The ephemeral point C1, which co-decryption multiplies by the key shares.
    pub fn c1(&self) -> &Sm2PublicKey {
        &self.c1
    }

    /// Length of the plaintext.
    pub fn plaintext_len(&self) -> usize {
        self.c2.len()
    }
}

/// The SM2 key derivation function: SM3 in counter mode over `z` (GB/T 32918.4 §5.4.3).
pub(crate) fn kdf(z: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut h = Sm3::new();
        h.update(z);
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

fn xy(point: &AffinePoint) -> Zeroizing<[u8; 64]> {
    let sec1 = point.to_sec1_point(false);
    let mut out = Zeroizing::new([0u8; 64]);
    out.copy_from_slice(&sec1.as_bytes()[1..]);
    out
}

/// Encrypt `msg` to `public`; returns the parsed ciphertext.
pub fn encrypt(public: &Sm2PublicKey, msg: &[u8]) -> Result<Sm2Ciphertext> {
    if msg.is_empty() {
        return Err(Error::InvalidLength("SM2 plaintext"));
    }
    loop {
        let k = random_nonzero_scalar();
        if let Some(ct) = encrypt_with_nonce(public, msg, &k) {
            return Ok(ct);
        }
    }
}

/// Encrypt to the GM/T 0009 DER form, as `openssl pkeyutl -encrypt` produces.
pub fn encrypt_der(public: &Sm2PublicKey, msg: &[u8]) -> Result<Vec<u8>> {
    encrypt(public, msg)?.to_der()
}

/// One encryption attempt with nonce `k`; `None` when the key stream is all zero.
pub(crate) fn encrypt_with_nonce(
    public: &Sm2PublicKey,
    msg: &[u8],
    k: &sm2::Scalar,
) -> Option<Sm2Ciphertext> {
    let c1 = Sm2PublicKey::from_affine(super::curve::mul_base(k)?).ok()?;
    let shared = super::curve::mul_point(public.as_affine(), k)?;
    let z = xy(&shared);
    let t = kdf(z.as_slice(), msg.len());
    if t.iter().all(|&b| b == 0) {
        return None;
    }
    let c2: Vec<u8> = msg.iter().zip(t.iter()).map(|(m, k)| m ^ k).collect();
    let mut h = Sm3::new();
    h.update(&z[..32]);
    h.update(msg);
    h.update(&z[32..]);
    Some(Sm2Ciphertext {
        c1,
        c3: h.finalize().into(),
        c2,
    })
}

/// Finish decryption given `shared = d·C1` (not the identity): derive the key stream and
/// check C3.
pub(crate) fn finish_decrypt_affine(
    shared: &AffinePoint,
    ct: &Sm2Ciphertext,
) -> Result<Zeroizing<Vec<u8>>> {
    let z = xy(shared);
    let t = kdf(z.as_slice(), ct.c2.len());
    if t.iter().all(|&b| b == 0) {
        return Err(Error::DecryptionFailed);
    }
    let msg: Zeroizing<Vec<u8>> =
        Zeroizing::new(ct.c2.iter().zip(t.iter()).map(|(c, k)| c ^ k).collect());
    let mut h = Sm3::new();
    h.update(&z[..32]);
    h.update(msg.as_slice());
    h.update(&z[32..]);
    let c3: [u8; 32] = h.finalize().into();
    if bool::from(c3.ct_eq(&ct.c3)) {
        Ok(msg)
    } else {
        Err(Error::DecryptionFailed)
    }
}

/// Decrypt a parsed ciphertext with the whole private key.
pub fn decrypt(key: &Sm2PrivateKey, ct: &Sm2Ciphertext) -> Result<Zeroizing<Vec<u8>>> {
    let shared =
        super::curve::mul_point(ct.c1.as_affine(), key.scalar()).ok_or(Error::DecryptionFailed)?;
    finish_decrypt_affine(&shared, ct)
}

/// Decrypt the GM/T 0009 DER form.
pub fn decrypt_der(key: &Sm2PrivateKey, der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    decrypt(key, &Sm2Ciphertext::from_der(der)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sm2::key::scalar_from_bytes;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    // GB/T 32918.5 annex encryption example ("encryption standard"), DER as listed in
    // OpenSSL's test/sm2_internal_test.c.
    const D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const K: &str = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21";
    const CT: &str = "307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651EFA";

    #[test]
    fn annex_encryption_with_fixed_nonce() {
        let key = Sm2PrivateKey::from_bytes(&h(D)).expect("key");
        let k = scalar_from_bytes(&h(K)).expect("k");
        let ct = encrypt_with_nonce(key.public_key(), b"encryption standard", &k).expect("ct");
        assert_eq!(ct.to_der().expect("der"), h(CT));
        let pt = decrypt_der(&key, &h(CT)).expect("decrypts");
        assert_eq!(pt.as_slice(), b"encryption standard");
    }

    #[test]
    fn raw_and_der_round_trip_and_tamper() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let ct = encrypt(key.public_key(), b"bid file key").expect("enc");
        let raw = ct.to_raw();
        assert_eq!(Sm2Ciphertext::from_raw(&raw).expect("raw"), ct);
        let der = ct.to_der().expect("der");
        assert_eq!(Sm2Ciphertext::from_der(&der).expect("der"), ct);
        let mut bad = raw.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad = Sm2Ciphertext::from_raw(&bad).expect("parses");
        assert_eq!(decrypt(&key, &bad), Err(Error::DecryptionFailed));
        let other = Sm2PrivateKey::make_random().expect("key");
        assert_eq!(decrypt(&other, &ct), Err(Error::DecryptionFailed));
    }

    #[test]
    fn interoperates_with_rustcrypto_sm2() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let theirs = sm2::pke::DecryptingKey::from_slice(key.to_bytes().as_slice()).expect("key");
        let ct = encrypt_der(key.public_key(), b"hello").expect("enc");
        assert_eq!(theirs.decrypt_der(&ct).expect("dec"), b"hello");
        let ct2 = theirs
            .encrypting_key()
            .encrypt_der(&mut crate::rng::os_rng(), b"world")
            .expect("enc");
        assert_eq!(decrypt_der(&key, &ct2).expect("dec").as_slice(), b"world");
    }

    #[test]
    fn malformed_ciphertexts_are_errors() {
        for junk in [&[][..], &[4u8; 10][..], &[0x30, 0x00][..], &[0u8; 200][..]] {
            assert!(Sm2Ciphertext::from_raw(junk).is_err());
            assert!(Sm2Ciphertext::from_der(junk).is_err());
        }
    }
}
