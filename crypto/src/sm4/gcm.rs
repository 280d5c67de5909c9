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
        Ok(Self::with_cipher(Sm4Key::new(key), nonce))
    }

    fn with_cipher(cipher: Sm4Key, nonce: &[u8; NONCE_LEN]) -> Self {
        let mut h = [0u8; 16];
        cipher.encrypt_block(&mut h);
        let ghash = GHash::new(&h.into());
        h.zeroize();
        let mut tag_mask = counter_block(nonce, 1);
        cipher.encrypt_block(&mut tag_mask);
        Self {
            cipher,
            ghash,
            tag_mask,
            nonce: *nonce,
        }
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

#[cfg(test)]
mod tests {
    use super::super::cipher::Backend;
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    fn seal_on(
        backend: Backend,
        key: &[u8; 16],
        nonce: &[u8; 12],
        aad: &[u8],
        pt: &[u8],
    ) -> Vec<u8> {
        let gcm = Gcm::with_cipher(Sm4Key::with_backend(key, backend), nonce);
        let mut out = pt.to_vec();
        gcm.ctr(&mut out);
        let tag = gcm.tag(aad, &out);
        out.extend_from_slice(&tag);
        out
    }

    /// RFC 8998 appendix A.1 on every back end this CPU runs (the `aead` tests use the
    /// fastest one only).
    #[test]
    fn rfc8998_vector_on_every_backend() {
        let key: [u8; 16] = h("0123456789ABCDEFFEDCBA9876543210")
            .try_into()
            .expect("16");
        let nonce: [u8; 12] = h("00001234567800000000ABCD").try_into().expect("12");
        let aad = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let pt = h(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let want = h(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D83DE3541E4C2B58177E065A9BF7B62EC",
        );
        for backend in Backend::all() {
            assert_eq!(
                seal_on(backend, &key, &nonce, &aad, &pt),
                want,
                "{backend:?}"
            );
        }
    }

    /// Long messages (full batches of every kernel, bitsliced included, and tails) agree
    /// with `aes-gcm` over the table-driven `sm4` crate on every back end.
    #[test]
    fn long_messages_match_the_reference_on_every_backend() {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use aes_gcm::aes::cipher::consts::U12;
        let key: [u8; 16] = core::array::from_fn(|i| (i * 7 + 2) as u8);
        let nonce = [0x24u8; 12];
        let theirs = aes_gcm::AesGcm::<::sm4::Sm4, U12>::new_from_slice(&key).expect("key");
        for len in [200usize, 1024, 1500, 4100] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 13 + len) as u8).collect();
            let want = theirs
                .encrypt(
                    (&nonce).into(),
                    Payload {
                        msg: &pt,
                        aad: b"aad",
                    },
                )
                .expect("reference");
            for backend in Backend::all() {
                assert_eq!(
                    seal_on(backend, &key, &nonce, b"aad", &pt),
                    want,
                    "{backend:?} {len}"
                );
            }
        }
    }
}
