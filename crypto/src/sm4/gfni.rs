//! SM4 with the GF(2⁸) affine instructions (GFNI), AVX2 and, where present, AVX-512: the
//! second module of the workspace allowed `unsafe`, beside [`super::x86`] (ADR 0008).
//!
//! The SM4 S-box is inversion between two affine maps, `S(x) = A·(A·x ⊕ c)⁻¹ ⊕ c` in the
//! field modulo `x⁸+x⁷+x⁶+x⁵+x⁴+x²+1`. With `φ` the field isomorphism onto AES's field (the
//! one `GF2P8AFFINEINVQB` inverts in), `S(x) = (A·φ⁻¹)·inv_aes(φ·A·x ⊕ φ·c) ⊕ c`: one
//! `GF2P8AFFINEQB` (matrix `A1 = φ·A`, constant `c1 = φ·c`) and one `GF2P8AFFINEINVQB`
//! (matrix `A2 = A·φ⁻¹`, constant `c`), no table, no data-dependent address or branch.
//! The matrices are computed below by `const fn` from the standard's `A`, `c` and the two
//! field polynomials; the tests check the S-box on all 256 inputs.
//!
//! Two kernels:
//! - **wide** (ECB batches: CTR/GCM, CBC decryption): word `j` of 16 blocks in the 16 lanes
//!   of a 512-bit register, two such groups interleaved (32 blocks per pass); `L` is four
//!   `VPROLD` rotations and XORs. Without AVX-512 (Intel's client CPUs since Alder Lake
//!   have GFNI and AVX2 only), the same in 256-bit registers, 16 blocks per pass.
//! - **chained** (CBC encryption, one block at a time): bound by the latency of a round, so
//!   the state is kept in the `A1` domain (`x' = A1·x` byte-wise). Then the S-box input is
//!   just the XOR of three state words and a transformed round key, and `A1·L(S(·))` is
//!   independent `GF2P8AFFINEINVQB`s (one per byte distance `d` of `L`, matrices
//!   `A1·M_d·A2`; three, as `M_1 = M_2`) followed by byte rotations and XORs, which also
//!   yield the next round's input. Measured about 6.7 cycles a round (178 MB/s at 2.6 GHz)
//!   where the straightforward round (affine, affine-inverse, four rotations, XORs) is
//!   about 10. CBC chaining stays in that domain too (`A1·(p ⊕ c) = A1·p ⊕ c'`); only the
//!   stored ciphertext is mapped back. Single blocks (ECB) use it with a zero IV.
//!
//! `unsafe` is needed for: calling the `#[target_feature]` functions, sound only on a CPU
//! that has the features ([`available`], [`has_avx512`] check them at run time, every entry
//! point asserts them before the call), and the vector loads and stores of the wide kernels, which read and
//! write through references to `[u8; 64]` / `[u8; 32]` (in bounds by type; `loadu` and
//! `storeu` need no alignment).
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, __m256i, __m512i, _mm_cvtsi128_si32, _mm_gf2p8affine_epi64_epi8,
    _mm_gf2p8affineinv_epi64_epi8, _mm_set1_epi32, _mm_set1_epi64x, _mm_setr_epi8,
    _mm_shuffle_epi8, _mm_ternarylogic_epi32, _mm_xor_si128, _mm256_gf2p8affine_epi64_epi8,
    _mm256_gf2p8affineinv_epi64_epi8, _mm256_loadu_si256, _mm256_or_si256, _mm256_set1_epi32,
    _mm256_set1_epi64x, _mm256_setr_epi8, _mm256_shuffle_epi8, _mm256_slli_epi32,
    _mm256_srli_epi32, _mm256_storeu_si256, _mm256_unpackhi_epi32, _mm256_unpackhi_epi64,
    _mm256_unpacklo_epi32, _mm256_unpacklo_epi64, _mm256_xor_si256, _mm512_gf2p8affine_epi64_epi8,
    _mm512_gf2p8affineinv_epi64_epi8, _mm512_loadu_si512, _mm512_rol_epi32, _mm512_set1_epi32,
    _mm512_set1_epi64, _mm512_setr4_epi32, _mm512_shuffle_epi8, _mm512_storeu_si512,
    _mm512_unpackhi_epi32, _mm512_unpackhi_epi64, _mm512_unpacklo_epi32, _mm512_unpacklo_epi64,
    _mm512_xor_si512,
};

// ---- GF(2) linear algebra on bytes, at compile time ----------------------------------
// A byte-wise linear map is given by its columns: `cols[i]` is the image of bit i.

/// The SM4 field's reduction polynomial, and AES's.
const SM4_POLY: u16 = 0x1f5;
const AES_POLY: u16 = 0x11b;
/// The standard's affine map `A` (columns; the same as `soft::A_COLUMNS`) and constant.
const A: [u8; 8] = [0xcb, 0x97, 0x2f, 0x5e, 0xbc, 0x79, 0xf2, 0xe5];
const C: u8 = 0xd3;

const fn apply(m: &[u8; 8], x: u8) -> u8 {
    let mut r = 0;
    let mut i = 0;
    while i < 8 {
        if x >> i & 1 == 1 {
            r ^= m[i];
        }
        i += 1;
    }
    r
}

/// `m·n` (first `n`, then `m`).
const fn compose(m: &[u8; 8], n: &[u8; 8]) -> [u8; 8] {
    let mut r = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        r[i] = apply(m, n[i]);
        i += 1;
    }
    r
}

const fn gf_mul(a: u8, b: u8, poly: u16) -> u8 {
    let mut a = a as u16;
    let mut r = 0u16;
    let mut i = 0;
    while i < 8 {
        if b >> i & 1 == 1 {
            r ^= a;
        }
        a <<= 1;
        if a & 0x100 != 0 {
            a ^= poly;
        }
        i += 1;
    }
    r as u8
}

/// `φ`: the SM4 field onto AES's, sending the SM4 generator `α` to the smallest root `β`
/// of the SM4 polynomial in AES's field (`φ(Σ xᵢαⁱ) = Σ xᵢβⁱ`, a field isomorphism).
const PHI: [u8; 8] = {
    let mut beta = 2u16;
    let root = loop {
        // Horner: f(β) with f the SM4 polynomial.
        let mut acc = 0u8;
        let mut bit = 8i32;
        while bit >= 0 {
            acc = gf_mul(acc, beta as u8, AES_POLY) ^ ((SM4_POLY >> bit) & 1) as u8;
            bit -= 1;
        }
        if acc == 0 {
            break beta as u8;
        }
        beta += 1;
    };
    let mut cols = [0u8; 8];
    let mut p = 1u8;
    let mut i = 0;
    while i < 8 {
        cols[i] = p;
        p = gf_mul(p, root, AES_POLY);
        i += 1;
    }
    cols
};

/// The inverse of an invertible byte-wise map, by search (256 candidates per column).
const fn invert(m: &[u8; 8]) -> [u8; 8] {
    let mut r = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        let mut x = 0u16;
        while x < 256 {
            if apply(m, x as u8) == 1 << i {
                r[i] = x as u8;
            }
            x += 1;
        }
        i += 1;
    }
    r
}

/// `L`'s byte-wise parts: `L(s) = ⊕_d rol(M_d·s, 8d)` with `M_d` applied to every byte
/// (`L` commutes with byte rotation, so byte `k` of `L(s)` is `⊕_d M_d·s_{k−d}`).
const fn l_part(d: u32) -> [u8; 8] {
    let mut r = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        let s = 1u32 << i;
        let l = s ^ s.rotate_left(2) ^ s.rotate_left(10) ^ s.rotate_left(18) ^ s.rotate_left(24);
        r[i] = (l >> (8 * d)) as u8;
        i += 1;
    }
    r
}

/// GFNI's encoding of a matrix: byte `7 − i` of the quadword is row `i` (the input bits
/// that output bit `i` sums).
const fn gfni(m: &[u8; 8]) -> i64 {
    let mut q = 0u64;
    let mut row = 0;
    while row < 8 {
        let mut bits = 0u8;
        let mut col = 0;
        while col < 8 {
            bits |= (m[col] >> row & 1) << col;
            col += 1;
        }
        q |= (bits as u64) << (8 * (7 - row));
        row += 1;
    }
    q as i64
}

const A1: [u8; 8] = compose(&PHI, &A);
const A2: [u8; 8] = compose(&A, &invert(&PHI));
const A1_INV: [u8; 8] = invert(&A1);
const Q_A1: i64 = gfni(&A1);
const Q_A2: i64 = gfni(&A2);
const Q_A1_INV: i64 = gfni(&A1_INV);
const C1: i32 = apply(&PHI, C) as i32;
const C2: i32 = C as i32;
/// The chained kernel's four matrices `A1·M_d·A2` and constants `A1·M_d·c`.
const fn g(d: u32) -> [u8; 8] {
    compose(&A1, &compose(&l_part(d), &A2))
}
const Q_G: [i64; 4] = [gfni(&g(0)), gfni(&g(1)), gfni(&g(2)), gfni(&g(3))];
const G0: i32 = apply(&A1, apply(&l_part(0), C)) as i32;
const G1: i32 = apply(&A1, apply(&l_part(1), C)) as i32;
const G2: i32 = apply(&A1, apply(&l_part(2), C)) as i32;
const G3: i32 = apply(&A1, apply(&l_part(3), C)) as i32;

// ---- Entry points -----------------------------------------------------------------------

/// Whether this CPU runs the code of this module: GFNI and AVX2 (the chained kernel, and
/// the wide one 8 blocks per register); see [`has_avx512`] for the 16-block one.
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("gfni") && std::arch::is_x86_feature_detected!("avx2")
}

/// Whether the wide kernel can use 512-bit registers (AVX-512 F/BW/VL) too.
pub(super) fn has_avx512() -> bool {
    available()
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// Run the 32 rounds with `rk` on every 16-byte block of `data` (length a multiple of 16),
/// in 512-bit registers.
pub(super) fn crypt_blocks_512(rk: &[u32; 32], data: &mut [u8]) {
    if data.len() == 16 {
        // One block: the chained kernel's latency is shorter than a padded group's.
        return cbc_encrypt_512(rk, &[0; 16], data);
    }
    assert!(has_avx512(), "SM4 GFNI/AVX-512 path on a CPU without it");
    // SAFETY: the CPU has every feature `crypt_blocks_avx512` enables (asserted above).
    unsafe { crypt_blocks_avx512(rk, data) }
}

/// As [`crypt_blocks_512`] in 256-bit registers (GFNI + AVX2).
pub(super) fn crypt_blocks_256(rk: &[u32; 32], data: &mut [u8]) {
    if data.len() == 16 {
        return cbc_encrypt_256(rk, &[0; 16], data);
    }
    assert!(available(), "SM4 GFNI path on a CPU without GFNI/AVX2");
    // SAFETY: the CPU has every feature `crypt_blocks_avx2` enables (asserted above).
    unsafe { crypt_blocks_avx2(rk, data) }
}

/// CBC encryption of whole blocks in place (padding is the caller's), chaining from `iv`;
/// 3-input XORs in one AVX-512VL instruction.
pub(super) fn cbc_encrypt_512(rk: &[u32; 32], iv: &[u8; 16], data: &mut [u8]) {
    assert!(has_avx512(), "SM4 GFNI/AVX-512 path on a CPU without it");
    // SAFETY: the CPU has every feature `cbc_encrypt_avx512` enables (asserted above).
    unsafe { cbc_encrypt_avx512(rk, iv, data) }
}

/// As [`cbc_encrypt_512`] with AVX2 only.
pub(super) fn cbc_encrypt_256(rk: &[u32; 32], iv: &[u8; 16], data: &mut [u8]) {
    assert!(available(), "SM4 GFNI path on a CPU without GFNI/AVX2");
    // SAFETY: the CPU has every feature `cbc_encrypt_avx2` enables (asserted above).
    unsafe { cbc_encrypt_avx2(rk, iv, data) }
}

/// τ (the S-box on each byte of a word), for the key schedule.
pub(super) fn tau(x: u32) -> u32 {
    assert!(available(), "SM4 GFNI path on a CPU without GFNI/AVX2");
    // SAFETY: as in `crypt_blocks_256`.
    unsafe { tau_gfni(x) }
}

// ---- Kernels ---------------------------------------------------------------------------

#[target_feature(enable = "gfni,avx2")]
fn tau_gfni(x: u32) -> u32 {
    let v = _mm_set1_epi32(x as i32);
    let y = _mm_gf2p8affine_epi64_epi8::<C1>(v, _mm_set1_epi64x(Q_A1));
    let s = _mm_gf2p8affineinv_epi64_epi8::<C2>(y, _mm_set1_epi64x(Q_A2));
    _mm_cvtsi128_si32(s) as u32
}

#[target_feature(enable = "gfni,avx2")]
fn word_reg(block: &[u8], j: usize) -> __m128i {
    _mm_set1_epi32(i32::from_be_bytes([
        block[4 * j],
        block[4 * j + 1],
        block[4 * j + 2],
        block[4 * j + 3],
    ]))
}

/// `A1·L(S(·))` needs `y_d = A1·M_d·A2·inv(·)` for four byte distances `d`, but `M_1 = M_2`
/// (both are `shr6 ⊕ shl2`), so three `GF2P8AFFINEINVQB` suffice.
const _: () = assert!(Q_G[1] == Q_G[2] && G1 == G2);

/// CBC encryption, one block after the other, the state in the `A1` domain (module docs).
/// Rotations by whole bytes only, as `PSHUFB`. Each round also computes the next round's
/// S-box input directly (`P ⊕ u ⊕ v` below, with `P` ready early), so the critical path
/// is one `GF2P8AFFINEINVQB`, one shuffle and two XOR levels; with AVX-512VL the 3-input
/// XORs are single `VPTERNLOGD`s.
macro_rules! cbc_kernel {
    ($name:ident, $features:literal, $xor3:ident) => {
        #[target_feature(enable = $features)]
        fn $name(rk: &[u32; 32], iv: &[u8; 16], data: &mut [u8]) {
            let rol8 = _mm_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
            let rol16 = _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
            let rol24 = _mm_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
            let a1 = _mm_set1_epi64x(Q_A1);
            let a1_inv = _mm_set1_epi64x(Q_A1_INV);
            let g0 = _mm_set1_epi64x(Q_G[0]);
            let g1 = _mm_set1_epi64x(Q_G[1]);
            let g3 = _mm_set1_epi64x(Q_G[3]);
            // Round keys in the domain, with the S-box's inner constant: A1·rk ⊕ c1 per
            // byte; one extra (zero) key so that the last round's look-ahead has one.
            let mut keys = [_mm_set1_epi32(0); 33];
            for (k, &r) in keys.iter_mut().zip(rk) {
                *k = _mm_gf2p8affine_epi64_epi8::<C1>(_mm_set1_epi32(r as i32), a1);
            }
            let mut chain = [a1; 4];
            for (j, c) in chain.iter_mut().enumerate() {
                *c = _mm_gf2p8affine_epi64_epi8::<0>(word_reg(iv, j), a1);
            }
            // One round on `a` (the others `b`, `c`, `d`, `d` the newest), given its S-box
            // input `inp`; leaves the next round's input (`c ⊕ d ⊕ a' ⊕ k_next`) in `inp`.
            macro_rules! round {
                ($a:ident, $c:ident, $d:ident, $inp:ident, $k_next:expr) => {
                    let y0 = _mm_gf2p8affineinv_epi64_epi8::<G0>($inp, g0);
                    let y1 = _mm_gf2p8affineinv_epi64_epi8::<G1>($inp, g1);
                    let y3 = _mm_gf2p8affineinv_epi64_epi8::<G3>($inp, g3);
                    let p = $xor3($c, $d, $k_next);
                    let u = $xor3($a, y0, _mm_shuffle_epi8(y1, rol8));
                    let v = _mm_xor_si128(_mm_shuffle_epi8(y1, rol16), _mm_shuffle_epi8(y3, rol24));
                    $a = _mm_xor_si128(u, v);
                    $inp = $xor3(p, u, v);
                };
            }
            for block in data.chunks_exact_mut(16) {
                let [mut x0, mut x1, mut x2, mut x3] = chain;
                x0 = _mm_xor_si128(x0, _mm_gf2p8affine_epi64_epi8::<0>(word_reg(block, 0), a1));
                x1 = _mm_xor_si128(x1, _mm_gf2p8affine_epi64_epi8::<0>(word_reg(block, 1), a1));
                x2 = _mm_xor_si128(x2, _mm_gf2p8affine_epi64_epi8::<0>(word_reg(block, 2), a1));
                x3 = _mm_xor_si128(x3, _mm_gf2p8affine_epi64_epi8::<0>(word_reg(block, 3), a1));
                let mut inp = _mm_xor_si128($xor3(x1, x2, x3), keys[0]);
                for i in (0..32).step_by(4) {
                    round!(x0, x2, x3, inp, keys[i + 1]);
                    round!(x1, x3, x0, inp, keys[i + 2]);
                    round!(x2, x0, x1, inp, keys[i + 3]);
                    round!(x3, x1, x2, inp, keys[i + 4]);
                }
                // Output is X35 ‖ X34 ‖ X33 ‖ X32, also the next block's chaining value.
                chain = [x3, x2, x1, x0];
                for (j, c) in chain.iter().enumerate() {
                    let w = _mm_cvtsi128_si32(_mm_gf2p8affine_epi64_epi8::<0>(*c, a1_inv)) as u32;
                    block[4 * j..4 * j + 4].copy_from_slice(&w.to_be_bytes());
                }
            }
        }
    };
}

#[target_feature(enable = "gfni,avx2")]
fn xor3_avx2(a: __m128i, b: __m128i, c: __m128i) -> __m128i {
    _mm_xor_si128(_mm_xor_si128(a, b), c)
}

#[target_feature(enable = "gfni,avx512f,avx512bw,avx512vl")]
fn xor3_avx512(a: __m128i, b: __m128i, c: __m128i) -> __m128i {
    _mm_ternarylogic_epi32::<0x96>(a, b, c)
}

cbc_kernel!(cbc_encrypt_avx2, "gfni,avx2", xor3_avx2);
cbc_kernel!(
    cbc_encrypt_avx512,
    "gfni,avx512f,avx512bw,avx512vl",
    xor3_avx512
);

/// Byte order within each 32-bit lane reversed (SM4's words are big-endian).
#[target_feature(enable = "gfni,avx512f,avx512bw,avx512vl")]
fn bswap32(v: __m512i) -> __m512i {
    let idx = _mm512_setr4_epi32(0x0001_0203, 0x0405_0607, 0x0809_0a0b, 0x0c0d_0e0f);
    _mm512_shuffle_epi8(v, idx)
}

/// 4×4 transposition of 32-bit words inside each 128-bit lane: four registers of four
/// blocks each become word 0..3 of sixteen blocks (block order 0,4,8,12,1,5,… inside a
/// register); its own inverse.
#[target_feature(enable = "gfni,avx512f,avx512bw,avx512vl")]
fn transpose(r: [__m512i; 4]) -> [__m512i; 4] {
    let t0 = _mm512_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm512_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    [
        _mm512_unpacklo_epi64(t0, t2),
        _mm512_unpackhi_epi64(t0, t2),
        _mm512_unpacklo_epi64(t1, t3),
        _mm512_unpackhi_epi64(t1, t3),
    ]
}

/// 32 rounds on `G` groups of sixteen blocks, interleaved.
#[inline]
#[target_feature(enable = "gfni,avx512f,avx512bw,avx512vl")]
fn rounds<const G: usize>(rk: &[u32; 32], x: &mut [[__m512i; 4]; G]) {
    let a1 = _mm512_set1_epi64(Q_A1);
    let a2 = _mm512_set1_epi64(Q_A2);
    // Four rounds per iteration so that the word indices are constants (registers).
    for keys in rk.chunks_exact(4) {
        for (j, &k) in keys.iter().enumerate() {
            let k = _mm512_set1_epi32(k as i32);
            for w in x.iter_mut() {
                let input = _mm512_xor_si512(
                    _mm512_xor_si512(w[(j + 1) % 4], w[(j + 2) % 4]),
                    _mm512_xor_si512(w[(j + 3) % 4], k),
                );
                let b = _mm512_gf2p8affineinv_epi64_epi8::<C2>(
                    _mm512_gf2p8affine_epi64_epi8::<C1>(input, a1),
                    a2,
                );
                let l = _mm512_xor_si512(
                    _mm512_xor_si512(
                        _mm512_xor_si512(b, _mm512_rol_epi32::<2>(b)),
                        _mm512_rol_epi32::<10>(b),
                    ),
                    _mm512_xor_si512(_mm512_rol_epi32::<18>(b), _mm512_rol_epi32::<24>(b)),
                );
                w[j] = _mm512_xor_si512(w[j], l);
            }
        }
    }
}

/// `G` groups of sixteen blocks through the cipher, in place.
#[inline]
#[target_feature(enable = "gfni,avx512f,avx512bw,avx512vl")]
fn crypt_groups<const G: usize>(rk: &[u32; 32], groups: &mut [[[u8; 64]; 4]; G]) {
    let mut x = [[_mm512_set1_epi32(0); 4]; G];
    for (w, group) in x.iter_mut().zip(groups.iter()) {
        let mut r = [_mm512_set1_epi32(0); 4];
        for (reg, four) in r.iter_mut().zip(group) {
            // SAFETY: `four` is a `&[u8; 64]`: the 64 bytes read are in bounds; `loadu`
            // has no alignment requirement.
            *reg = bswap32(unsafe { _mm512_loadu_si512(four.as_ptr().cast()) });
        }
        *w = transpose(r);
    }
    rounds(rk, &mut x);
    for (w, group) in x.iter().zip(groups.iter_mut()) {
        // Output is X35 ‖ X34 ‖ X33 ‖ X32: the words in reverse order.
        let r = transpose([w[3], w[2], w[1], w[0]]);
        for (reg, four) in r.iter().zip(group.iter_mut()) {
            // SAFETY: `four` is a `&mut [u8; 64]`, exclusively borrowed: the 64 bytes
            // written are in bounds; `storeu` has no alignment requirement.
            unsafe { _mm512_storeu_si512(four.as_mut_ptr().cast(), bswap32(*reg)) };
        }
    }
}

#[target_feature(enable = "gfni,avx512f,avx512bw,avx512vl")]
fn crypt_blocks_avx512(rk: &[u32; 32], data: &mut [u8]) {
    const PASS: usize = 2 * 256;
    let mut passes = data.chunks_exact_mut(PASS);
    let mut buf = [[[0u8; 64]; 4]; 2];
    for pass in &mut passes {
        for (dst, src) in buf.as_flattened_mut().iter_mut().zip(pass.chunks_exact(64)) {
            dst.copy_from_slice(src);
        }
        crypt_groups::<2>(rk, &mut buf);
        for (src, dst) in buf.as_flattened().iter().zip(pass.chunks_exact_mut(64)) {
            dst.copy_from_slice(src);
        }
    }
    let rest = passes.into_remainder();
    if rest.is_empty() {
        return;
    }
    // The tail, zero-padded: one group of sixteen when it fits, else two.
    let bytes = buf.as_flattened_mut().as_flattened_mut();
    bytes.fill(0);
    bytes[..rest.len()].copy_from_slice(rest);
    if rest.len() <= 256 {
        let one: &mut [[[u8; 64]; 4]; 1] = (&mut buf[..1]).try_into().expect("one group");
        crypt_groups::<1>(rk, one);
    } else {
        crypt_groups::<2>(rk, &mut buf);
    }
    let bytes = buf.as_flattened().as_flattened();
    rest.copy_from_slice(&bytes[..rest.len()]);
    buf.as_flattened_mut().as_flattened_mut().fill(0);
}

// ---- The wide kernel in 256-bit registers (GFNI + AVX2, no AVX-512) --------------------

/// 4×4 transposition of 32-bit words inside each 128-bit lane (as [`transpose`]).
#[target_feature(enable = "gfni,avx2")]
fn transpose_256(r: [__m256i; 4]) -> [__m256i; 4] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    [
        _mm256_unpacklo_epi64(t0, t2),
        _mm256_unpackhi_epi64(t0, t2),
        _mm256_unpacklo_epi64(t1, t3),
        _mm256_unpackhi_epi64(t1, t3),
    ]
}

/// `G` groups of eight blocks through the cipher, in place.
#[inline]
#[target_feature(enable = "gfni,avx2")]
fn crypt_groups_256<const G: usize>(rk: &[u32; 32], groups: &mut [[[u8; 32]; 4]; G]) {
    let bswap = _mm256_setr_epi8(
        3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8,
        15, 14, 13, 12,
    );
    let rol8 = _mm256_setr_epi8(
        3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10,
        15, 12, 13, 14,
    );
    let rol16 = _mm256_setr_epi8(
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
        14, 15, 12, 13,
    );
    let rol24 = _mm256_setr_epi8(
        1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8,
        13, 14, 15, 12,
    );
    let a1 = _mm256_set1_epi64x(Q_A1);
    let a2 = _mm256_set1_epi64x(Q_A2);
    let mut x = [[_mm256_set1_epi32(0); 4]; G];
    for (w, group) in x.iter_mut().zip(groups.iter()) {
        let mut r = [_mm256_set1_epi32(0); 4];
        for (reg, two) in r.iter_mut().zip(group) {
            // SAFETY: `two` is a `&[u8; 32]`: the 32 bytes read are in bounds; `loadu`
            // has no alignment requirement.
            *reg = _mm256_shuffle_epi8(unsafe { _mm256_loadu_si256(two.as_ptr().cast()) }, bswap);
        }
        *w = transpose_256(r);
    }
    for keys in rk.chunks_exact(4) {
        for (j, &k) in keys.iter().enumerate() {
            let k = _mm256_set1_epi32(k as i32);
            for w in x.iter_mut() {
                let input = _mm256_xor_si256(
                    _mm256_xor_si256(w[(j + 1) % 4], w[(j + 2) % 4]),
                    _mm256_xor_si256(w[(j + 3) % 4], k),
                );
                let b = _mm256_gf2p8affineinv_epi64_epi8::<C2>(
                    _mm256_gf2p8affine_epi64_epi8::<C1>(input, a1),
                    a2,
                );
                // L(b) = b ⊕ b⋘24 ⊕ (b ⊕ b⋘8 ⊕ b⋘16)⋘2.
                let t = _mm256_xor_si256(
                    _mm256_xor_si256(b, _mm256_shuffle_epi8(b, rol8)),
                    _mm256_shuffle_epi8(b, rol16),
                );
                let t2 = _mm256_or_si256(_mm256_slli_epi32::<2>(t), _mm256_srli_epi32::<30>(t));
                let l = _mm256_xor_si256(_mm256_xor_si256(b, _mm256_shuffle_epi8(b, rol24)), t2);
                w[j] = _mm256_xor_si256(w[j], l);
            }
        }
    }
    for (w, group) in x.iter().zip(groups.iter_mut()) {
        let r = transpose_256([w[3], w[2], w[1], w[0]]);
        for (reg, two) in r.iter().zip(group.iter_mut()) {
            // SAFETY: `two` is a `&mut [u8; 32]`, exclusively borrowed: the 32 bytes
            // written are in bounds; `storeu` has no alignment requirement.
            unsafe {
                _mm256_storeu_si256(two.as_mut_ptr().cast(), _mm256_shuffle_epi8(*reg, bswap))
            };
        }
    }
}

#[target_feature(enable = "gfni,avx2")]
fn crypt_blocks_avx2(rk: &[u32; 32], data: &mut [u8]) {
    const PASS: usize = 2 * 128;
    let mut passes = data.chunks_exact_mut(PASS);
    let mut buf = [[[0u8; 32]; 4]; 2];
    for pass in &mut passes {
        for (dst, src) in buf.as_flattened_mut().iter_mut().zip(pass.chunks_exact(32)) {
            dst.copy_from_slice(src);
        }
        crypt_groups_256::<2>(rk, &mut buf);
        for (src, dst) in buf.as_flattened().iter().zip(pass.chunks_exact_mut(32)) {
            dst.copy_from_slice(src);
        }
    }
    let rest = passes.into_remainder();
    if rest.is_empty() {
        return;
    }
    let bytes = buf.as_flattened_mut().as_flattened_mut();
    bytes.fill(0);
    bytes[..rest.len()].copy_from_slice(rest);
    if rest.len() <= 128 {
        let one: &mut [[[u8; 32]; 4]; 1] = (&mut buf[..1]).try_into().expect("one group");
        crypt_groups_256::<1>(rk, one);
    } else {
        crypt_groups_256::<2>(rk, &mut buf);
    }
    let bytes = buf.as_flattened().as_flattened();
    rest.copy_from_slice(&bytes[..rest.len()]);
    buf.as_flattened_mut().as_flattened_mut().fill(0);
}

#[cfg(test)]
mod tests {
    use super::super::soft::SBOX_TABLE;
    use super::*;

    #[test]
    fn constants_are_consistent() {
        // φ is a field isomorphism: it turns SM4-field products into AES-field products.
        for a in 0..=255u8 {
            for b in [1u8, 2, 3, 0x53, 0xca, 0xff] {
                assert_eq!(
                    apply(&PHI, gf_mul(a, b, SM4_POLY)),
                    gf_mul(apply(&PHI, a), apply(&PHI, b), AES_POLY)
                );
            }
        }
        for x in 0..=255u8 {
            assert_eq!(apply(&A1_INV, apply(&A1, x)), x);
            // The S-box formula, in plain software, on every input.
            let y = apply(&A1, x) ^ C1 as u8;
            let mut inv = 0u8;
            for z in 1..=255u8 {
                if gf_mul(y, z, AES_POLY) == 1 {
                    inv = z;
                }
            }
            assert_eq!(apply(&A2, inv) ^ C, SBOX_TABLE[x as usize], "S({x:#x})");
        }
        // L's byte-wise decomposition.
        for s in [1u32, 0x80, 0xdead_beef, 0x0123_4567, u32::MAX] {
            let l =
                s ^ s.rotate_left(2) ^ s.rotate_left(10) ^ s.rotate_left(18) ^ s.rotate_left(24);
            let mut parts = 0u32;
            for d in 0..4u32 {
                let mut bytewise = 0u32;
                for k in 0..4 {
                    bytewise |= u32::from(apply(&l_part(d), (s >> (8 * k)) as u8)) << (8 * k);
                }
                parts ^= bytewise.rotate_left(8 * d);
            }
            assert_eq!(parts, l, "{s:#x}");
        }
    }

    #[test]
    fn sbox_matches_the_standard_table() {
        if !available() {
            eprintln!("no GFNI/AVX2 on this CPU: the GFNI path is not tested here");
            return;
        }
        for (x, want) in SBOX_TABLE.iter().enumerate() {
            assert_eq!(tau(x as u32 * 0x0101_0101), u32::from(*want) * 0x0101_0101);
        }
    }
}
