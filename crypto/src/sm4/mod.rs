//! SM4 (GB/T 32907): the block cipher without secret-indexed tables, CBC with PKCS#7
//! padding (byte-compatible with `openssl enc -sm4-cbc`) and GCM (RFC 8998, used through
//! [`crate::aead`]).
//!
//! The cipher has a GFNI + AVX-512 path and an AES-NI path (x86-64, chosen at run time)
//! and a portable constant-time path (bitsliced for batches); see [`cipher`] and
//! `docs/adr/0008-crypto-speed.md`.

mod bitslice;
mod cipher;
pub(crate) mod gcm;
#[cfg(target_arch = "x86_64")]
mod gfni;
mod soft;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::error::{Error, Result};
use cipher::Sm4Key;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// SM4 key length in bytes.
pub const KEY_LEN: usize = 16;
/// SM4 block length in bytes.
pub const BLOCK_LEN: usize = 16;

fn expand(key: &[u8]) -> Result<Sm4Key> {
    let key: &[u8; KEY_LEN] = key
        .try_into()
        .map_err(|_| Error::InvalidLength("SM4 key"))?;
    Ok(Sm4Key::new(key))
}

fn iv_block(iv: &[u8]) -> Result<[u8; BLOCK_LEN]> {
    iv.try_into().map_err(|_| Error::InvalidLength("SM4 IV"))
}

/// SM4-CBC encryption with PKCS#7 padding.
///
/// Encryption is serial (each block needs the previous ciphertext), so it runs one block
/// at a time: it is bounded by the latency of a round, not by throughput.
pub fn cbc_encrypt(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let cipher = expand(key)?;
    let iv = iv_block(iv)?;
    let pad = BLOCK_LEN - plaintext.len() % BLOCK_LEN;
    let mut out = Vec::with_capacity(plaintext.len() + pad);
    out.extend_from_slice(plaintext);
    out.resize(plaintext.len() + pad, pad as u8);
    cipher.cbc_encrypt_blocks(&iv, &mut out);
    Ok(out)
}

/// SM4-CBC decryption, removing PKCS#7 padding.
///
/// Padding errors and wrong keys give the same error, and the padding is checked without
/// branching on its bytes. CBC without a MAC is only for interoperating with systems that
/// require it; new formats use SM4-GCM. Decryption runs all blocks in parallel.
pub fn cbc_decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK_LEN) {
        return Err(Error::InvalidLength("SM4-CBC ciphertext"));
    }
    let cipher = expand(key)?;
    let iv = iv_block(iv)?;
    let mut out = Zeroizing::new(ciphertext.to_vec());
    cipher.decrypt_blocks(&mut out);
    let previous = core::iter::once(&iv[..]).chain(ciphertext.chunks_exact(BLOCK_LEN));
    for (block, prev) in out.chunks_exact_mut(BLOCK_LEN).zip(previous) {
        for (b, p) in block.iter_mut().zip(prev) {
            *b ^= p;
        }
    }
    let len = unpad(&out).ok_or(Error::DecryptionFailed)?;
    out.truncate(len);
    Ok(out)
}

/// The unpadded length if the PKCS#7 padding of the last block is valid; every byte of the
/// last block is examined whatever the padding says.
fn unpad(data: &[u8]) -> Option<usize> {
    use subtle::ConstantTimeGreater;
    let last = &data[data.len() - BLOCK_LEN..];
    let pad = last[BLOCK_LEN - 1];
    let mut ok = pad.ct_gt(&0) & !pad.ct_gt(&(BLOCK_LEN as u8));
    for (i, b) in last.iter().enumerate() {
        // Byte i is padding when it is among the last `pad` bytes: 16 − i ≤ pad.
        let in_pad = !((BLOCK_LEN - i) as u8).ct_gt(&pad);
        ok &= !in_pad | b.ct_eq(&pad);
    }
    bool::from(ok).then(|| data.len() - pad as usize)
}

/// Encrypt one 16-byte block (used for known-answer tests and the ECB-of-one-block cases
/// of GM/T 0010 key wrapping).
pub fn encrypt_block(key: &[u8], block: &[u8; BLOCK_LEN]) -> Result<[u8; BLOCK_LEN]> {
    let cipher = expand(key)?;
    let mut b = *block;
    cipher.encrypt_block(&mut b);
    Ok(b)
}

/// Hooks for `crypto-bench` and the timing check `ct-check`: every back end by name, on
/// whole blocks (ECB, and CBC encryption). Not for applications.
#[doc(hidden)]
pub mod testing {
    pub use super::cipher::Backend;
    use super::cipher::Sm4Key;

    /// The back ends this CPU runs, fastest last.
    pub fn backends() -> Vec<Backend> {
        Backend::all()
    }

    /// Expand `key` and encrypt every 16-byte block of `data` in place with `backend`.
    pub fn encrypt_blocks(backend: Backend, key: &[u8; 16], data: &mut [u8]) {
        Sm4Key::with_backend(key, backend).encrypt_blocks(data);
    }

    /// Expand `key` and CBC-encrypt every 16-byte block of `data` in place with `backend`
    /// (no padding), the serial path each back end has for CBC encryption.
    pub fn cbc_encrypt_blocks(backend: Backend, key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
        Sm4Key::with_backend(key, backend).cbc_encrypt_blocks(iv, data);
    }
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
        // Example 2 (a million iterations) is in `cipher`, on every back end.
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

    /// The `sm4` + `cbc` crates (table-driven, kept only as a test reference) agree.
    #[test]
    fn cbc_matches_the_reference_crates() {
        use cbc::cipher::block_padding::Pkcs7;
        use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
        let key: [u8; 16] = core::array::from_fn(|i| (i * 13 + 1) as u8);
        let iv: [u8; 16] = core::array::from_fn(|i| (i * 5 + 2) as u8);
        for len in [0usize, 5, 16, 31, 200, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let theirs = cbc::Encryptor::<sm4::Sm4>::new_from_slices(&key, &iv)
                .expect("key")
                .encrypt_padded_vec::<Pkcs7>(&pt);
            assert_eq!(cbc_encrypt(&key, &iv, &pt).expect("enc"), theirs, "{len}");
        }
    }

    /// Every malformed padding is refused with the one error, good ones of every length pass.
    #[test]
    fn padding_is_checked_exactly() {
        assert_eq!(unpad(&[16u8; 16]), Some(0));
        assert_eq!(unpad(&[0u8; 16]), None);
        assert_eq!(unpad(&[17u8; 16]), None);
        for pad in 1..=16u8 {
            let mut block = [0xeeu8; 16];
            block[16 - pad as usize..].fill(pad);
            assert_eq!(unpad(&block), Some(16 - pad as usize), "pad {pad}");
            if pad > 1 {
                let mut bad = block;
                bad[16 - pad as usize] ^= 1;
                assert_eq!(unpad(&bad), None, "pad {pad} with a wrong first byte");
            }
        }
        let key = [1u8; 16];
        let iv = [2u8; 16];
        let mut ct = cbc_encrypt(&key, &iv, b"sixteen bytes!!!").expect("enc");
        let n = ct.len();
        ct[n - 17] ^= 0x01; // flips the last plaintext byte, i.e. the padding
        assert_eq!(cbc_decrypt(&key, &iv, &ct), Err(Error::DecryptionFailed));
    }
}
