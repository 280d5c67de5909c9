//! SM4 with the AES instruction (AES-NI): the one module of the workspace allowed `unsafe`.
//!
//! SM4's S-box and AES's are both inversion in GF(2⁸) between affine maps, over two
//! isomorphic fields, so `S_sm4 = post ∘ S_aes ∘ pre` with byte-wise affine `pre` and `post`
//! (the method of the Linux kernel's `sm4-aesni-avx`; the constants below were derived
//! independently, and the tests check all 256 values). `AESENCLAST` with a zero round key
//! computes `S_aes` on 16 bytes in constant time; `pre` and `post` are two 16-entry `PSHUFB`
//! look-ups by nibble, whose index comes from the data register but whose table is a
//! register, not memory, so no cache line depends on a secret.
//!
//! Four blocks share a register (word `j` of blocks 0–3 in its four 32-bit lanes), and two
//! such groups run interleaved, eight blocks per pass, hiding the instruction latencies.
//!
//! `unsafe` is needed for exactly one thing: calling the `#[target_feature]` functions,
//! which is sound only on a CPU that has the features. [`available`] checks them at run
//! time, and every entry point of this module asserts it before the call. The intrinsics
//! themselves are safe functions inside those functions (Rust ≥ 1.87); no raw pointer is
//! used anywhere (loads and stores go through `_mm_set_epi32` / `_mm_extract_epi32`).
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, _mm_aesenclast_si128, _mm_and_si128, _mm_cvtsi32_si128, _mm_cvtsi128_si32,
    _mm_extract_epi32, _mm_or_si128, _mm_set_epi32, _mm_set_epi64x, _mm_set1_epi8, _mm_set1_epi32,
    _mm_setzero_si128, _mm_shuffle_epi8, _mm_slli_epi32, _mm_srli_epi16, _mm_srli_epi32,
    _mm_xor_si128,
};

/// `pre(x) = φ(A·x ⊕ c)` (into the AES field) as look-ups of the low and high nibble.
const PRE_LO: [u8; 16] = [
    0x3e, 0xb2, 0x0e, 0x82, 0xbb, 0x37, 0x8b, 0x07, 0xa1, 0x2d, 0x91, 0x1d, 0x24, 0xa8, 0x14, 0x98,
];
const PRE_HI: [u8; 16] = [
    0x00, 0xdc, 0x2e, 0xf2, 0xc5, 0x19, 0xeb, 0x37, 0x08, 0xd4, 0x26, 0xfa, 0xcd, 0x11, 0xe3, 0x3f,
];
/// `post(w) = A·φ⁻¹(M⁻¹·(w ⊕ 0x63)) ⊕ c`: undoes AES's affine map, maps back, applies SM4's.
const POST_LO: [u8; 16] = [
    0x6c, 0xd4, 0xa6, 0x1e, 0x52, 0xea, 0x98, 0x20, 0x0b, 0xb3, 0xc1, 0x79, 0x35, 0x8d, 0xff, 0x47,
];
const POST_HI: [u8; 16] = [
    0x00, 0xe0, 0x50, 0xb0, 0x9d, 0x7d, 0xcd, 0x2d, 0xc0, 0x20, 0x90, 0x70, 0x5d, 0xbd, 0x0d, 0xed,
];
/// `AESENCLAST` also applies ShiftRows; this byte permutation (its inverse) cancels it.
const INV_SHIFT_ROWS: [u8; 16] = [0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3];
/// Left rotations of each 32-bit lane by 8, 16 and 24 bits as byte permutations.
const ROL8: [u8; 16] = [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14];
const ROL16: [u8; 16] = [2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13];
const ROL24: [u8; 16] = [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12];

/// Whether this CPU runs the code of this module.
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("ssse3")
        && std::arch::is_x86_feature_detected!("sse4.1")
}

/// Run the 32 rounds with `rk` on every 16-byte block of `data` (length a multiple of 16).
/// Decryption is the same with the round keys reversed.
pub(super) fn crypt_blocks(rk: &[u32; 32], data: &mut [u8]) {
    assert!(available(), "SM4 AES-NI path on a CPU without AES-NI");
    // SAFETY: the CPU has AES-NI, SSSE3 and SSE4.1 (asserted just above), which is all
    // `crypt_blocks_aesni` requires; it touches memory only through safe slices.
    unsafe { crypt_blocks_aesni(rk, data) }
}

/// τ (the S-box on each byte of a word), for the key schedule.
pub(super) fn tau(x: u32) -> u32 {
    assert!(available(), "SM4 AES-NI path on a CPU without AES-NI");
    // SAFETY: as in `crypt_blocks`.
    unsafe { tau_aesni(x) }
}

#[derive(Clone, Copy)]
struct Consts {
    nibble: __m128i,
    pre_lo: __m128i,
    pre_hi: __m128i,
    post_lo: __m128i,
    post_hi: __m128i,
    inv_shift_rows: __m128i,
    rol8: __m128i,
    rol16: __m128i,
    rol24: __m128i,
}

#[target_feature(enable = "aes,ssse3,sse4.1")]
fn reg(b: [u8; 16]) -> __m128i {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&b[..8]);
    hi.copy_from_slice(&b[8..]);
    _mm_set_epi64x(i64::from_le_bytes(hi), i64::from_le_bytes(lo))
}

#[target_feature(enable = "aes,ssse3,sse4.1")]
fn consts() -> Consts {
    Consts {
        nibble: _mm_set1_epi8(0x0f),
        pre_lo: reg(PRE_LO),
        pre_hi: reg(PRE_HI),
        post_lo: reg(POST_LO),
        post_hi: reg(POST_HI),
        inv_shift_rows: reg(INV_SHIFT_ROWS),
        rol8: reg(ROL8),
        rol16: reg(ROL16),
        rol24: reg(ROL24),
    }
}

/// An affine map on every byte, as two nibble look-ups.
#[inline]
#[target_feature(enable = "aes,ssse3,sse4.1")]
fn affine(c: &Consts, lo_table: __m128i, hi_table: __m128i, x: __m128i) -> __m128i {
    let lo = _mm_and_si128(x, c.nibble);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(x), c.nibble);
    _mm_xor_si128(
        _mm_shuffle_epi8(lo_table, lo),
        _mm_shuffle_epi8(hi_table, hi),
    )
}

/// The SM4 S-box on all 16 bytes.
#[inline]
#[target_feature(enable = "aes,ssse3,sse4.1")]
fn sbox(c: &Consts, x: __m128i) -> __m128i {
    let y = affine(c, c.pre_lo, c.pre_hi, x);
    let y = _mm_shuffle_epi8(y, c.inv_shift_rows);
    let y = _mm_aesenclast_si128(y, _mm_setzero_si128());
    affine(c, c.post_lo, c.post_hi, y)
}

/// T = L ∘ τ on each 32-bit lane: L(B) = B ⊕ B⋘2 ⊕ B⋘10 ⊕ B⋘18 ⊕ B⋘24.
#[inline]
#[target_feature(enable = "aes,ssse3,sse4.1")]
fn t(c: &Consts, x: __m128i) -> __m128i {
    let b = sbox(c, x);
    let r = _mm_xor_si128(
        _mm_xor_si128(b, _mm_shuffle_epi8(b, c.rol8)),
        _mm_shuffle_epi8(b, c.rol16),
    );
    let r2 = _mm_or_si128(_mm_slli_epi32::<2>(r), _mm_srli_epi32::<30>(r));
    _mm_xor_si128(_mm_xor_si128(b, _mm_shuffle_epi8(b, c.rol24)), r2)
}

/// 32 rounds on `G` groups of four blocks, interleaved.
#[inline]
#[target_feature(enable = "aes,ssse3,sse4.1")]
fn rounds<const G: usize>(c: &Consts, rk: &[u32; 32], x: &mut [[__m128i; 4]; G]) {
    for keys in rk.chunks_exact(4) {
        for (j, &k) in keys.iter().enumerate() {
            let k = _mm_set1_epi32(k as i32);
            for g in x.iter_mut() {
                let input = _mm_xor_si128(
                    _mm_xor_si128(g[(j + 1) % 4], g[(j + 2) % 4]),
                    _mm_xor_si128(g[(j + 3) % 4], k),
                );
                g[j] = _mm_xor_si128(g[j], t(c, input));
            }
        }
    }
}

fn word(block: &[u8], j: usize) -> i32 {
    i32::from_be_bytes([
        block[4 * j],
        block[4 * j + 1],
        block[4 * j + 2],
        block[4 * j + 3],
    ])
}

#[target_feature(enable = "aes,ssse3,sse4.1")]
fn lanes(v: __m128i) -> [u32; 4] {
    [
        _mm_extract_epi32::<0>(v) as u32,
        _mm_extract_epi32::<1>(v) as u32,
        _mm_extract_epi32::<2>(v) as u32,
        _mm_extract_epi32::<3>(v) as u32,
    ]
}

/// Load up to `4·G` blocks (missing ones are zero), run the rounds, store them back.
#[inline]
#[target_feature(enable = "aes,ssse3,sse4.1")]
fn crypt_chunk<const G: usize>(c: &Consts, rk: &[u32; 32], chunk: &mut [u8]) {
    let mut blocks = [[0u8; 16]; 8];
    for (dst, src) in blocks.iter_mut().zip(chunk.chunks_exact(16)) {
        dst.copy_from_slice(src);
    }
    let mut x = [[_mm_setzero_si128(); 4]; G];
    for (g, group) in x.iter_mut().enumerate() {
        let b = &blocks[4 * g..4 * g + 4];
        for (j, w) in group.iter_mut().enumerate() {
            *w = _mm_set_epi32(
                word(&b[3], j),
                word(&b[2], j),
                word(&b[1], j),
                word(&b[0], j),
            );
        }
    }
    rounds(c, rk, &mut x);
    for (g, group) in x.iter().enumerate() {
        // Output is X35 ‖ X34 ‖ X33 ‖ X32: the words in reverse order.
        let words = [
            lanes(group[3]),
            lanes(group[2]),
            lanes(group[1]),
            lanes(group[0]),
        ];
        for (lane, block) in blocks[4 * g..4 * g + 4].iter_mut().enumerate() {
            for (j, w) in words.iter().enumerate() {
                block[4 * j..4 * j + 4].copy_from_slice(&w[lane].to_be_bytes());
            }
        }
    }
    for (src, dst) in blocks.iter().zip(chunk.chunks_exact_mut(16)) {
        dst.copy_from_slice(src);
    }
}

#[target_feature(enable = "aes,ssse3,sse4.1")]
fn crypt_blocks_aesni(rk: &[u32; 32], data: &mut [u8]) {
    let c = consts();
    let mut eights = data.chunks_exact_mut(128);
    for chunk in &mut eights {
        crypt_chunk::<2>(&c, rk, chunk);
    }
    for chunk in eights.into_remainder().chunks_mut(64) {
        crypt_chunk::<1>(&c, rk, chunk);
    }
}

#[target_feature(enable = "aes,ssse3,sse4.1")]
fn tau_aesni(x: u32) -> u32 {
    let c = consts();
    _mm_cvtsi128_si32(sbox(&c, _mm_cvtsi32_si128(x as i32))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_matches_the_standard_table() {
        if !available() {
            eprintln!("no AES-NI on this CPU: the AES-NI path is not tested here");
            return;
        }
        for (x, want) in super::super::soft::SBOX_TABLE.iter().enumerate() {
            let got = tau(x as u32 * 0x0101_0101);
            assert_eq!(got, u32::from(*want) * 0x0101_0101, "S({x:#x})");
        }
    }
}
