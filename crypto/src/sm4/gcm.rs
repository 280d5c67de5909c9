//! SM4-GCM (NIST SP 800-38D with SM4 as the block cipher, RFC 8998), 12-byte nonce,
//! 16-byte tag.
//!
//! Counter blocks are encrypted in batches so the AES-NI path runs eight blocks at a time.
//! GHASH is the `ghash` crate: carry-less multiplication (PCLMULQDQ on x86-64, PMULL on
//! ARMv8, detected at run time) with a constant-time portable fallback.

use super::cipher::Sm4Key;
use crate::error::{Error, Result};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Nonce length.
pub(crate) const NONCE_LEN: usize = 12;
/// Tag length.
pub(crate) const TAG_LEN: usize = 16;
/// Counter blocks encrypted per batch (1 KiB of key stream).
const BATCH: usize = 64;
/// SP 800-38D: at most 2³² − 2 blocks of plaintext.
const MAX_LEN: u64 = ((1u64 << 32) - 2) * 16;

struct Gcm {
    cipher: Sm4Key,
    ghash: GHash,
    /// E(K, J0), masks the tag.
    tag_mask: [u8; 16],
    nonce: [u8; NONCE_LEN],
}

impl Gcm {
    fn new(key: &[u8], nonce: &[u8; NONCE_LEN]) -> Result<Self> {
        let key: &[u8; 16] = key.try_into().map_err(|_| Error::InvalidLength("key"))?;
        let cipher = Sm4Key::new(key);
        let mut h = [0u8; 16];
        cipher.encrypt_block(&mut h);
        let ghash = GHash::new(&h.into());
        h.zeroize();
        let mut tag_mask = counter_block(nonce, 1);
        cipher.encrypt_block(&mut tag_mask);
        Ok(Self {
            cipher,
            ghash,
            tag_mask,
            nonce: *nonce,
        })
    }

    /// XOR the key stream (counter 2, 3, …) into `data`.
    fn ctr(&self, data: &mut [u8]) {
        let mut stream = Zeroizing::new([0u8; 16 * BATCH]);
        let mut counter: u32 = 2;
        for chunk in data.chunks_mut(16 * BATCH) {
            let blocks = chunk.len().div_ceil(16);
            for block in stream[..16 * blocks].chunks_exact_mut(16) {
                block.copy_from_slice(&counter_block(&self.nonce, counter));
                counter = counter.wrapping_add(1);
            }
            self.cipher.encrypt_blocks(&mut stream[..16 * blocks]);
            for (d, k) in chunk.iter_mut().zip(stream.iter()) {
                *d ^= k;
            }
        }
    }

    fn tag(&self, aad: &[u8], ciphertext: &[u8]) -> [u8; 16] {
        let mut ghash = self.ghash.clone();
        ghash.update_padded(aad);
        ghash.update_padded(ciphertext);
        let mut lengths = [0u8; 16];
        lengths[..8].copy_from_slice(&(aad.len() as u64 * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(ciphertext.len() as u64 * 8).to_be_bytes());
        ghash.update(&[lengths.into()]);
        let mut tag: [u8; 16] = ghash.finalize().into();
        for (t, m) in tag.iter_mut().zip(&self.tag_mask) {
            *t ^= m;
        }
        tag
    }
}

fn counter_block(nonce: &[u8; NONCE_LEN], counter: u32) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..NONCE_LEN].copy_from_slice(nonce);
    block[NONCE_LEN..].copy_from_slice(&counter.to_be_bytes());
    block
}

fn check_len(len: usize) -> Result<()> {
    if len as u64 > MAX_LEN {
        return Err(Error::InvalidLength("plaintext"));
    }
    Ok(())
}

/// Encrypt; returns `ciphertext ‖ tag`.
pub(crate) fn seal(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    check_len(plaintext.len())?;
    let gcm = Gcm::new(key, nonce)?;
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    gcm.ctr(&mut out);
    let tag = gcm.tag(aad, &out);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Check the tag of `ciphertext ‖ tag`, then decrypt; nothing is decrypted on a bad tag.
pub(crate) fn open(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let Some(ct_len) = sealed.len().checked_sub(TAG_LEN) else {
        return Err(Error::DecryptionFailed);
    };
    check_len(ct_len).map_err(|_| Error::DecryptionFailed)?;
    let (ciphertext, tag) = sealed.split_at(ct_len);
    let gcm = Gcm::new(key, nonce)?;
    if !bool::from(gcm.tag(aad, ciphertext).ct_eq(tag)) {
        return Err(Error::DecryptionFailed);
    }
    let mut out = Zeroizing::new(ciphertext.to_vec());
    gcm.ctr(&mut out);
    Ok(out)
}
