//! SM4 (GB/T 32907) block modes: CBC with PKCS#7 padding, byte-compatible with
//! `openssl enc -sm4-cbc`. SM4-GCM is in [`crate::aead`].

use crate::error::{Error, Result};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use zeroize::Zeroizing;

/// SM4 key length in bytes.
pub const KEY_LEN: usize = 16;
/// SM4 block length in bytes.
pub const BLOCK_LEN: usize = 16;

/// SM4-CBC encryption with PKCS#7 padding.
pub fn cbc_encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let enc = cbc::Encryptor::<sm4::Sm4>::new_from_slices(key, iv)
        .map_err(|_| Error::InvalidLength("SM4 key or IV"))?;
    Ok(enc.encrypt_padded_vec::<Pkcs7>(plaintext))
}

/// SM4-CBC decryption, removing PKCS#7 padding.
///
/// Padding errors and wrong keys give the same error. CBC without a MAC is only for
/// interoperating with systems that require it; new formats use SM4-GCM.
pub fn cbc_decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if ciphertext.is_empty() || ciphertext.len() % BLOCK_LEN != 0 {
        return Err(Error::InvalidLength("SM4-CBC ciphertext"));
    }
    let dec = cbc::Decryptor::<sm4::Sm4>::new_from_slices(key, iv)
        .map_err(|_| Error::InvalidLength("SM4 key or IV"))?;
    dec.decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| Error::DecryptionFailed)
}

/// Encrypt one 16-byte block (used for known-answer tests and the ECB-of-one-block cases
/// of GM/T 0010 key wrapping).
pub fn encrypt_block(key: &[u8], block: &[u8; BLOCK_LEN]) -> Result<[u8; BLOCK_LEN]> {
    let cipher = sm4::Sm4::new_from_slice(key).map_err(|_| Error::InvalidLength("SM4 key"))?;
    let mut b = sm4::cipher::Block::<sm4::Sm4>::from(*block);
    cipher.encrypt_block(&mut b);
    Ok(b.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    // GB/T 32907 (GM/T 0002) appendix A example 1 and the 1,000,000-iteration example 2.
    #[test]
    fn standard_block_examples() {
        let key = h("0123456789ABCDEFFEDCBA9876543210");
        let pt: [u8; 16] = h("0123456789ABCDEFFEDCBA9876543210")
            .try_into()
            .expect("16");
        let ct = encrypt_block(&key, &pt).expect("block");
        assert_eq!(ct.to_vec(), h("681EDF34D206965E86B3E94F536E4246"));
        let cipher = sm4::Sm4::new_from_slice(&key).expect("key");
        let mut b = sm4::cipher::Block::<sm4::Sm4>::from(pt);
        for _ in 0..1_000_000 {
            cipher.encrypt_block(&mut b);
        }
        assert_eq!(b.to_vec(), h("595298C7C6FD271F0402F804C33D3F66"));
    }

    #[test]
    fn cbc_round_trip_and_errors() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        for len in [0usize, 1, 15, 16, 17, 100] {
            let pt = vec![0xa5u8; len];
            let ct = cbc_encrypt(&key, &iv, &pt).expect("enc");
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(
                cbc_decrypt(&key, &iv, &ct).expect("dec").as_slice(),
                &pt[..]
            );
        }
        assert!(cbc_encrypt(&key[..15], &iv, b"x").is_err());
        assert!(cbc_decrypt(&key, &iv, &[0u8; 15]).is_err());
        assert!(cbc_decrypt(&key, &iv, &[]).is_err());
    }
}
