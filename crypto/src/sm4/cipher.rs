//! The SM4 block cipher (GB/T 32907) without secret-indexed tables.
//!
//! Two back ends compute the same function: AES-NI ([`super::x86`], chosen at run time when
//! the CPU has it) and portable constant-time GF(2⁸) arithmetic ([`super::soft`]). Neither
//! looks up memory at an address derived from the key or the data, unlike the table-driven
//! `sm4` crate this replaced (see `docs/adr/0008-crypto-speed.md`).

use super::{bitslice, soft};
use zeroize::{Zeroize, Zeroizing};

const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];
const CK: [u32; 32] = [
    0x0007_0e15,
    0x1c23_2a31,
    0x383f_464d,
    0x545b_6269,
    0x7077_7e85,
    0x8c93_9aa1,
    0xa8af_b6bd,
    0xc4cb_d2d9,
    0xe0e7_eef5,
    0xfc03_0a11,
    0x181f_262d,
    0x343b_4249,
    0x5057_5e65,
    0x6c73_7a81,
    0x888f_969d,
    0xa4ab_b2b9,
    0xc0c7_ced5,
    0xdce3_eaf1,
    0xf8ff_060d,
    0x141b_2229,
    0x3037_3e45,
    0x4c53_5a61,
    0x686f_767d,
    0x848b_9299,
    0xa0a7_aeb5,
    0xbcc3_cad1,
    0xd8df_e6ed,
    0xf4fb_0209,
    0x1017_1e25,
    0x2c33_3a41,
    0x484f_565d,
    0x646b_7279,
];

/// Which implementation runs the rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// GFNI + AVX-512 F/BW/VL (x86-64 only): 16 blocks per register.
    Gfni,
    /// GFNI + AVX2 without AVX-512 (x86-64 only): 8 blocks per register.
    GfniAvx2,
    /// AES-NI + SSSE3 + SSE4.1 (x86-64 only).
    AesNi,
    /// Portable constant-time arithmetic.
    Soft,
}

impl Backend {
    /// The fastest back end this CPU runs.
    pub(crate) fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if super::gfni::has_avx512() {
            return Backend::Gfni;
        }
        #[cfg(target_arch = "x86_64")]
        if super::gfni::available() {
            return Backend::GfniAvx2;
        }
        #[cfg(target_arch = "x86_64")]
        if super::x86::available() {
            return Backend::AesNi;
        }
        Backend::Soft
    }

    /// Every back end this CPU runs, the portable one first and the fastest last.
    pub(crate) fn all() -> Vec<Self> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut all = vec![Backend::Soft];
        #[cfg(target_arch = "x86_64")]
        {
            if super::x86::available() {
                all.push(Backend::AesNi);
            }
            if super::gfni::available() {
                all.push(Backend::GfniAvx2);
            }
            if super::gfni::has_avx512() {
                all.push(Backend::Gfni);
            }
        }
        all
    }

    fn tau(self, x: u32) -> u32 {
        match self {
            #[cfg(target_arch = "x86_64")]
            Backend::AesNi => super::x86::tau(x),
            #[cfg(target_arch = "x86_64")]
            Backend::Gfni | Backend::GfniAvx2 => super::gfni::tau(x),
            _ => soft::tau(x),
        }
    }
}

/// An expanded SM4 key: encryption and decryption round keys, wiped on drop.
pub(crate) struct Sm4Key {
    enc: [u32; 32],
    dec: [u32; 32],
    backend: Backend,
}

impl Drop for Sm4Key {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.dec.zeroize();
    }
}

impl core::fmt::Debug for Sm4Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm4Key")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Sm4Key {
    /// Expand a 16-byte key for the fastest back end.
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        Self::with_backend(key, Backend::best())
    }

    /// Expand a key for a given back end (tests run both).
    pub(crate) fn with_backend(key: &[u8; 16], backend: Backend) -> Self {
        let mut k = [0u32; 4];
        for (i, w) in k.iter_mut().enumerate() {
            *w = u32::from_be_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]])
                ^ FK[i];
        }
        let mut enc = [0u32; 32];
        for (i, rk) in enc.iter_mut().enumerate() {
            let b = backend.tau(k[(i + 1) % 4] ^ k[(i + 2) % 4] ^ k[(i + 3) % 4] ^ CK[i]);
            k[i % 4] ^= b ^ b.rotate_left(13) ^ b.rotate_left(23);
            *rk = k[i % 4];
        }
        k.zeroize();
        let mut dec = enc;
        dec.reverse();
        Self { enc, dec, backend }
    }

    /// Encrypt every 16-byte block of `data` in place (ECB; the modes build on this).
    pub(crate) fn encrypt_blocks(&self, data: &mut [u8]) {
        crypt(self.backend, &self.enc, data);
    }

    /// Decrypt every 16-byte block of `data` in place.
    pub(crate) fn decrypt_blocks(&self, data: &mut [u8]) {
        crypt(self.backend, &self.dec, data);
    }

    /// Encrypt one block.
    pub(crate) fn encrypt_block(&self, block: &mut [u8; 16]) {
        crypt(self.backend, &self.enc, block);
    }

    /// CBC-encrypt every 16-byte block of `data` in place, chaining from `iv` (no padding).
    pub(crate) fn cbc_encrypt_blocks(&self, iv: &[u8; 16], data: &mut [u8]) {
        debug_assert_eq!(data.len() % 16, 0, "SM4 works on whole blocks");
        #[cfg(target_arch = "x86_64")]
        match self.backend {
            Backend::Gfni => return super::gfni::cbc_encrypt_512(&self.enc, iv, data),
            Backend::GfniAvx2 => return super::gfni::cbc_encrypt_256(&self.enc, iv, data),
            _ => {}
        }
        let mut prev = *iv;
        for block in data.chunks_exact_mut(16) {
            for (b, p) in block.iter_mut().zip(&prev) {
                *b ^= p;
            }
            prev.copy_from_slice(block);
            self.encrypt_block(&mut prev);
            block.copy_from_slice(&prev);
        }
    }
}

fn crypt(backend: Backend, rk: &[u32; 32], data: &mut [u8]) {
    debug_assert_eq!(data.len() % 16, 0, "SM4 works on whole blocks");
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::AesNi => super::x86::crypt_blocks(rk, data),
        #[cfg(target_arch = "x86_64")]
        Backend::Gfni => super::gfni::crypt_blocks_512(rk, data),
        #[cfg(target_arch = "x86_64")]
        Backend::GfniAvx2 => super::gfni::crypt_blocks_256(rk, data),
        _ => soft_crypt(rk, data),
    }
}

fn load(block: &[u8]) -> [u32; 4] {
    let w = |j: usize| {
        u32::from_be_bytes([
            block[4 * j],
            block[4 * j + 1],
            block[4 * j + 2],
            block[4 * j + 3],
        ])
    };
    [w(0), w(1), w(2), w(3)]
}

fn store(x: &[u32; 4], block: &mut [u8]) {
    // Output is X35 ‖ X34 ‖ X33 ‖ X32.
    for (j, w) in x.iter().rev().enumerate() {
        block[4 * j..4 * j + 4].copy_from_slice(&w.to_be_bytes());
    }
}

fn linear(b: u32) -> u32 {
    b ^ b.rotate_left(2) ^ b.rotate_left(10) ^ b.rotate_left(18) ^ b.rotate_left(24)
}

/// Tails of at least this many blocks run bitsliced (padded to 64): a padded batch costs
/// about as much as three blocks through the byte-parallel S-box (about 340 vs 16 MB/s on
/// the development machine).
const BITSLICE_MIN_TAIL: usize = 4;

/// The portable path: batches of 64 blocks bitsliced ([`bitslice`]); single blocks and
/// short tails two at a time through the byte-parallel arithmetic S-box.
fn soft_crypt(rk: &[u32; 32], data: &mut [u8]) {
    let mut batches = data.chunks_exact_mut(16 * bitslice::BLOCKS);
    for batch in &mut batches {
        bitslice::crypt64(rk, batch);
    }
    let tail = batches.into_remainder();
    if tail.len() >= 16 * BITSLICE_MIN_TAIL {
        let mut buf = Zeroizing::new([0u8; 16 * bitslice::BLOCKS]);
        buf[..tail.len()].copy_from_slice(tail);
        bitslice::crypt64(rk, &mut buf[..]);
        tail.copy_from_slice(&buf[..tail.len()]);
    } else {
        arith_crypt(rk, tail);
    }
}

/// Two blocks per pass share the eight lanes of the S-box arithmetic.
fn arith_crypt(rk: &[u32; 32], data: &mut [u8]) {
    let mut pairs = data.chunks_exact_mut(32);
    for pair in &mut pairs {
        let (a, b) = pair.split_at_mut(16);
        let (mut x, mut y) = (load(a), load(b));
        for (i, &k) in rk.iter().enumerate() {
            let j = i % 4;
            let ia = x[(j + 1) % 4] ^ x[(j + 2) % 4] ^ x[(j + 3) % 4] ^ k;
            let ib = y[(j + 1) % 4] ^ y[(j + 2) % 4] ^ y[(j + 3) % 4] ^ k;
            let (sa, sb) = soft::tau2(ia, ib);
            x[j] ^= linear(sa);
            y[j] ^= linear(sb);
        }
        store(&x, a);
        store(&y, b);
    }
    for block in pairs.into_remainder().chunks_exact_mut(16) {
        let mut x = load(block);
        for (i, &k) in rk.iter().enumerate() {
            let j = i % 4;
            x[j] ^= linear(soft::tau(
                x[(j + 1) % 4] ^ x[(j + 2) % 4] ^ x[(j + 3) % 4] ^ k,
            ));
        }
        store(&x, block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h16(s: &str) -> [u8; 16] {
        hex::decode(s).expect("hex").try_into().expect("16 bytes")
    }

    fn backends() -> Vec<Backend> {
        let all = Backend::all();
        eprintln!("SM4 back ends tested on this CPU: {all:?}");
        all
    }

    // GB/T 32907 appendix A, example 1, on every back end, one block and in batches of
    // every length up to 70 blocks (AES-NI: 8- and 4-block groups; GFNI: 32- and 16-block
    // groups and padded tails; bitsliced: 64-block groups).
    #[test]
    fn standard_example_on_every_backend_and_batch_length() {
        let key = h16("0123456789ABCDEFFEDCBA9876543210");
        let ct = h16("681EDF34D206965E86B3E94F536E4246");
        for backend in backends() {
            let k = Sm4Key::with_backend(&key, backend);
            let mut b = key;
            k.encrypt_block(&mut b);
            assert_eq!(b, ct, "{backend:?}");
            k.decrypt_blocks(&mut b);
            assert_eq!(b, key, "{backend:?}");
            for n in 1..=70 {
                let mut data = key.repeat(n);
                k.encrypt_blocks(&mut data);
                assert_eq!(data, ct.repeat(n), "{backend:?}, {n} blocks");
            }
        }
    }

    // GB/T 32907 appendix A, example 2: a million encryptions of the block, on every back
    // end; the portable one only in optimised builds (it takes minutes unoptimised, and
    // agrees with the others block by block in the tests above).
    #[test]
    fn million_iterations() {
        let key = h16("0123456789ABCDEFFEDCBA9876543210");
        let all: Vec<Backend> = backends()
            .into_iter()
            .filter(|b| !cfg!(debug_assertions) || *b != Backend::Soft)
            .collect();
        for backend in all {
            let k = Sm4Key::with_backend(&key, backend);
            let mut b = key;
            for _ in 0..1_000_000 {
                k.encrypt_block(&mut b);
            }
            assert_eq!(b, h16("595298C7C6FD271F0402F804C33D3F66"), "{backend:?}");
        }
    }

    // CBC encryption (GFNI has its own chained kernel) agrees with the table-driven `sm4`
    // crate, kept as a test reference, on every back end and length.
    #[test]
    fn cbc_encryption_matches_the_reference_on_every_backend() {
        use ::sm4::cipher::{BlockCipherEncrypt, KeyInit};
        let key: [u8; 16] = core::array::from_fn(|i| (i * 11 + 5) as u8);
        let iv: [u8; 16] = core::array::from_fn(|i| (i * 3 + 9) as u8);
        let reference = ::sm4::Sm4::new(&key.into());
        for n in [1usize, 2, 3, 17, 40] {
            let data: Vec<u8> = (0..16 * n).map(|i| (i * 29 % 253) as u8).collect();
            let mut want = data.clone();
            let mut prev = iv;
            for block in want.chunks_exact_mut(16) {
                for (b, p) in block.iter_mut().zip(&prev) {
                    *b ^= p;
                }
                let mut b: [u8; 16] = (&*block).try_into().expect("16");
                reference.encrypt_block((&mut b).into());
                block.copy_from_slice(&b);
                prev = b;
            }
            for backend in backends() {
                let mut got = data.clone();
                Sm4Key::with_backend(&key, backend).cbc_encrypt_blocks(&iv, &mut got);
                assert_eq!(got, want, "{backend:?}, {n} blocks");
            }
        }
    }

    // Different blocks in one batch land in their own places on both back ends.
    #[test]
    fn backends_agree_on_distinct_blocks() {
        let key: [u8; 16] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let data: Vec<u8> = (0..16 * 77).map(|i| (i * 31 % 251) as u8).collect();
        let mut outputs = Vec::new();
        for backend in backends() {
            let k = Sm4Key::with_backend(&key, backend);
            let mut batch = data.clone();
            k.encrypt_blocks(&mut batch);
            for (i, block) in data.chunks_exact(16).enumerate() {
                let mut one: [u8; 16] = block.try_into().expect("16");
                k.encrypt_block(&mut one);
                assert_eq!(&batch[16 * i..16 * i + 16], &one, "{backend:?} block {i}");
            }
            outputs.push(batch);
        }
        assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    }
}
