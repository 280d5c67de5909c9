//! Key derivation: HKDF (RFC 5869) over SHA-256 (through `ring`) and over SM3.

use crate::error::{Error, Result};
use zeroize::Zeroizing;

struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256: extract with `salt`, expand with `info` to `len` bytes (at most 8160).
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, Len(len))
        .map_err(|_| Error::InvalidLength("HKDF output"))?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    okm.fill(&mut out)
        .map_err(|_| Error::InvalidLength("HKDF output"))?;
    Ok(out)
}

/// HKDF-SM3, for contexts that must use only GM algorithms.
pub fn hkdf_sm3(ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let hk = hkdf::Hkdf::<sm3::Sm3>::new(Some(salt), ikm);
    let mut out = Zeroizing::new(vec![0u8; len]);
    hk.expand(info, &mut out)
        .map_err(|_| Error::InvalidLength("HKDF output"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 5869 test case 1.
    #[test]
    fn rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt = hex::decode("000102030405060708090a0b0c").expect("hex");
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").expect("hex");
        let okm = hkdf_sha256(&ikm, &salt, &info, 42).expect("hkdf");
        assert_eq!(
            hex::encode(okm.as_slice()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn sm3_variant_differs_and_limits() {
        let a = hkdf_sm3(b"ikm", b"salt", b"info", 32).expect("hkdf");
        let b = hkdf_sha256(b"ikm", b"salt", b"info", 32).expect("hkdf");
        assert_ne!(a.as_slice(), b.as_slice());
        assert!(hkdf_sha256(b"ikm", b"", b"", 255 * 32 + 1).is_err());
        assert!(hkdf_sm3(b"ikm", b"", b"", 255 * 32 + 1).is_err());
    }
}
