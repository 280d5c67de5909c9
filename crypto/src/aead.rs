//! Authenticated encryption: SM4-GCM (GM first, [`crate::sm4`]) and AES-256-GCM (through
//! `ring`).
//!
//! Both take a 12-byte nonce and append a 16-byte tag. Callers use a fresh random nonce per
//! message ([`seal`]), or a counter nonce under a per-file key (bid-file chunks).

use crate::error::{Error, Result};
use crate::sm4::gcm;
use zeroize::Zeroizing;

/// GCM nonce length.
pub const NONCE_LEN: usize = 12;
/// GCM tag length.
pub const TAG_LEN: usize = 16;

/// Which AEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AeadAlgorithm {
    /// SM4-GCM (RFC 8998), 16-byte key.
    Sm4Gcm,
    /// AES-256-GCM, 32-byte key.
    Aes256Gcm,
}

impl AeadAlgorithm {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            AeadAlgorithm::Sm4Gcm => 16,
            AeadAlgorithm::Aes256Gcm => 32,
        }
    }
}

/// Encrypt with an explicit nonce; returns `ciphertext ‖ tag`.
pub fn seal_with_nonce(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    check_key(alg, key)?;
    match alg {
        AeadAlgorithm::Sm4Gcm => gcm::seal(key, nonce, aad, plaintext),
        AeadAlgorithm::Aes256Gcm => ring_seal(key, nonce, aad, plaintext),
    }
}

/// Decrypt `ciphertext ‖ tag` with an explicit nonce.
pub fn open_with_nonce(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    check_key(alg, key)?;
    if sealed.len() < TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    match alg {
        AeadAlgorithm::Sm4Gcm => gcm::open(key, nonce, aad, sealed),
        AeadAlgorithm::Aes256Gcm => ring_open(key, nonce, aad, sealed),
    }
}

/// Encrypt with a fresh random nonce; returns `nonce ‖ ciphertext ‖ tag`.
pub fn seal(alg: AeadAlgorithm, key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = crate::rng::bytes::<NONCE_LEN>()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&seal_with_nonce(alg, key, &nonce, aad, plaintext)?);
    Ok(out)
}

/// Decrypt the output of [`seal`].
pub fn open(
    alg: AeadAlgorithm,
    key: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::DecryptionFailed);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::DecryptionFailed)?;
    open_with_nonce(alg, key, &nonce, aad, rest)
}

fn check_key(alg: AeadAlgorithm, key: &[u8]) -> Result<()> {
    if key.len() == alg.key_len() {
        Ok(())
    } else {
        Err(Error::InvalidLength("AEAD key"))
    }
}

fn ring_key(key: &[u8]) -> Result<ring::aead::LessSafeKey> {
    let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
        .map_err(|_| Error::InvalidLength("AES-256 key"))?;
    Ok(ring::aead::LessSafeKey::new(unbound))
}

fn ring_seal(key: &[u8], nonce: &[u8; NONCE_LEN], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>> {
    let key = ring_key(key)?;
    let mut buf = pt.to_vec();
    key.seal_in_place_append_tag(
        ring::aead::Nonce::assume_unique_for_key(*nonce),
        ring::aead::Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| Error::InvalidLength("plaintext"))?;
    Ok(buf)
}

fn ring_open(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = ring_key(key)?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let len = key
        .open_in_place(
            ring::aead::Nonce::assume_unique_for_key(*nonce),
            ring::aead::Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| Error::DecryptionFailed)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    // RFC 8998 appendix A.1, SM4-GCM.
    #[test]
    fn rfc8998_sm4_gcm() {
        let key = h("0123456789ABCDEFFEDCBA9876543210");
        let nonce: [u8; 12] = h("00001234567800000000ABCD").try_into().expect("12");
        let aad = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let pt = h(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let ct = h(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
        );
        let tag = h("83DE3541E4C2B58177E065A9BF7B62EC");
        let sealed = seal_with_nonce(AeadAlgorithm::Sm4Gcm, &key, &nonce, &aad, &pt).expect("seal");
        assert_eq!(sealed, [ct, tag].concat());
        let opened =
            open_with_nonce(AeadAlgorithm::Sm4Gcm, &key, &nonce, &aad, &sealed).expect("open");
        assert_eq!(opened.as_slice(), &pt[..]);
    }

    /// `aes-gcm` over the `sm4` crate (kept only as a test reference) agrees on every length
    /// around the 1 KiB batches and the 8-block groups, with and without AAD.
    #[test]
    fn sm4_gcm_matches_the_reference_crates() {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use aes_gcm::aes::cipher::consts::U12;
        let key: [u8; 16] = core::array::from_fn(|i| (i * 3 + 1) as u8);
        let nonce = [0x42u8; 12];
        let theirs = aes_gcm::AesGcm::<sm4::Sm4, U12>::new_from_slice(&key).expect("key");
        for len in [0usize, 1, 15, 16, 17, 127, 128, 129, 1023, 1024, 1025, 3000] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 11) as u8).collect();
            for aad in [&b""[..], b"header", &[9u8; 40]] {
                let want = theirs
                    .encrypt(&nonce.into(), Payload { msg: &pt, aad })
                    .expect("reference");
                let got =
                    seal_with_nonce(AeadAlgorithm::Sm4Gcm, &key, &nonce, aad, &pt).expect("seal");
                assert_eq!(got, want, "len {len}");
                let back =
                    open_with_nonce(AeadAlgorithm::Sm4Gcm, &key, &nonce, aad, &got).expect("open");
                assert_eq!(back.as_slice(), &pt[..]);
            }
        }
    }

    #[test]
    fn tamper_and_wrong_key_fail() {
        for alg in [AeadAlgorithm::Sm4Gcm, AeadAlgorithm::Aes256Gcm] {
            let key = vec![3u8; alg.key_len()];
            let sealed = seal(alg, &key, b"aad", b"secret bid").expect("seal");
            assert_eq!(
                open(alg, &key, b"aad", &sealed).expect("open").as_slice(),
                b"secret bid"
            );
            assert_eq!(
                open(alg, &key, b"aaX", &sealed),
                Err(Error::DecryptionFailed)
            );
            let mut bad = sealed.clone();
            bad[NONCE_LEN] ^= 1;
            assert_eq!(open(alg, &key, b"aad", &bad), Err(Error::DecryptionFailed));
            let other = vec![4u8; alg.key_len()];
            assert_eq!(
                open(alg, &other, b"aad", &sealed),
                Err(Error::DecryptionFailed)
            );
            assert_eq!(
                open(alg, &key, b"aad", &sealed[..10]),
                Err(Error::DecryptionFailed)
            );
            assert!(seal(alg, &key[1..], b"", b"x").is_err());
        }
    }
}
