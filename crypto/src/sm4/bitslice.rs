//! Portable bitsliced SM4: 64 blocks at a time, for the parallel modes (CTR/GCM, CBC
//! decryption) on CPUs without the x86 instructions, ARM phones among them.
//!
//! The 64 blocks are transposed so that `u64` number `b` of word `j` holds bit `b` of word
//! `j` of every block (one block per bit). Then:
//! - the S-box is a boolean circuit, evaluated on all 64 blocks and all four bytes of a
//!   word at once: `S(x) = A·(A·x ⊕ c)⁻¹ ⊕ c`, the inversion in a tower field
//!   GF((2⁴)²) (five GF(2⁴) multiplications, 80 ANDs, and XORs), the change of basis
//!   folded into the affine maps (XORs only);
//! - `L`'s rotations are free (they only rename the `u64`s), its XORs are 128 per round;
//! - round keys become all-zero or all-one masks.
//!
//! Only AND and XOR on whole words, at addresses fixed by the code: constant time whatever
//! the data and key. Single blocks and short tails keep the byte-parallel arithmetic S-box
//! of [`super::soft`], which costs less than a padded batch of 64.

/// One bit of four bytes (the four S-boxes of a round) across the 64 blocks.
type Lane = [u64; 4];
/// Eight lanes: a GF(2⁸) element for each of 4 × 64 bytes.
type Byte = [Lane; 8];

/// Blocks per batch.
pub(super) const BLOCKS: usize = 64;

/// A GF(2⁴) element for each of the 4 × 64 bytes.
type Nibble = [Lane; 4];

// The S-box through a tower field (Canright's approach): GF(2⁸) as GF(2⁴)[y]/(y² + y + λ),
// GF(2⁴) = GF(2)[x]/(x⁴ + x + 1), λ = x³. `T` maps the SM4 field onto the tower field
// (α ↦ 0x83, a root of the SM4 polynomial there); the S-box's affine maps absorb it:
// `S(x) = (A·T⁻¹)·inv_tower(T·A·x ⊕ T·c) ⊕ c`. Byte layout in the tower: low nibble the
// constant coefficient, high nibble the coefficient of y. Derived by a short script
// (recorded in ADR 0008) and checked on all 256 inputs by the tests.
/// Columns (image of bit i) of `T·A`, and `T·c`.
const TA: [u8; 8] = [0x9a, 0x9c, 0xc6, 0x85, 0x95, 0x8e, 0xeb, 0x5d];
const TC: u8 = 0xac;
/// Columns of `A·T⁻¹`, and `c`.
const AT_INV: [u8; 8] = [0xcb, 0x71, 0x4e, 0xb0, 0xf9, 0x24, 0x46, 0x2d];
const C: u8 = 0xd3;
/// GF(2⁴) maps: `a ↦ a²`, `a ↦ λ·a²`, `a ↦ a⁴`, `a ↦ a⁸` (linear over GF(2)).
const SQ: [u8; 4] = [0x01, 0x04, 0x03, 0x0c];
const LAMBDA_SQ: [u8; 4] = [0x08, 0x06, 0x0b, 0x0a];
const POW4: [u8; 4] = [0x01, 0x03, 0x05, 0x0f];
const POW8: [u8; 4] = [0x01, 0x05, 0x02, 0x0a];

#[inline(always)]
fn xor(a: Lane, b: Lane) -> Lane {
    [a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]]
}

#[inline(always)]
fn and(a: Lane, b: Lane) -> Lane {
    [a[0] & b[0], a[1] & b[1], a[2] & b[2], a[3] & b[3]]
}

/// A GF(2)-linear map on `N`-bit values (columns as above) plus a constant; the matrix
/// and constant are public, so the branches below depend on them only and fold away.
#[inline(always)]
fn affine<const N: usize, const M: usize>(x: &[Lane; N], cols: &[u8; N], c: u8) -> [Lane; M] {
    let mut y = [[0u64; 4]; M];
    for (i, out) in y.iter_mut().enumerate() {
        for (j, &col) in cols.iter().enumerate() {
            if col >> i & 1 == 1 {
                *out = xor(*out, x[j]);
            }
        }
        if c >> i & 1 == 1 {
            *out = xor(*out, [!0; 4]);
        }
    }
    y
}

/// Product in GF(2⁴): schoolbook, then `x⁴ = x + 1`.
#[inline(always)]
fn mul4(a: &Nibble, b: &Nibble) -> Nibble {
    let mut p = [[0u64; 4]; 7];
    for (i, ai) in a.iter().enumerate() {
        for (j, bj) in b.iter().enumerate() {
            p[i + j] = xor(p[i + j], and(*ai, *bj));
        }
    }
    for k in (4..7).rev() {
        p[k - 4] = xor(p[k - 4], p[k]);
        p[k - 3] = xor(p[k - 3], p[k]);
    }
    [p[0], p[1], p[2], p[3]]
}

#[inline(always)]
fn xor4(a: &Nibble, b: &Nibble) -> Nibble {
    [
        xor(a[0], b[0]),
        xor(a[1], b[1]),
        xor(a[2], b[2]),
        xor(a[3], b[3]),
    ]
}

/// The S-box on all 256 bytes: five GF(2⁴) multiplications (80 ANDs) and XORs.
///
/// Not inlined: inlined into the round loop (as LTO did in the benchmark binary) it spilled
/// registers and ran at half the speed.
#[inline(never)]
fn sbox(x: &Byte) -> Byte {
    let z: Byte = affine(x, &TA, TC);
    let lo: Nibble = [z[0], z[1], z[2], z[3]];
    let hi: Nibble = [z[4], z[5], z[6], z[7]];
    // (hi·y + lo)⁻¹ = (hi·Δ⁻¹)·y + (hi + lo)·Δ⁻¹ with Δ = λ·hi² + hi·lo + lo².
    let delta = xor4(
        &xor4(&affine(&hi, &LAMBDA_SQ, 0), &mul4(&hi, &lo)),
        &affine(&lo, &SQ, 0),
    );
    // Δ⁻¹ = Δ¹⁴ = Δ²·Δ⁴·Δ⁸ (0 ↦ 0).
    let inv_delta = mul4(
        &mul4(&affine(&delta, &SQ, 0), &affine(&delta, &POW4, 0)),
        &affine(&delta, &POW8, 0),
    );
    let inv_hi = mul4(&hi, &inv_delta);
    let inv_lo = mul4(&xor4(&hi, &lo), &inv_delta);
    let inv: Byte = [
        inv_lo[0], inv_lo[1], inv_lo[2], inv_lo[3], inv_hi[0], inv_hi[1], inv_hi[2], inv_hi[3],
    ];
    affine(&inv, &AT_INV, C)
}

/// Transposes a 64 × 64 bit matrix in place (Hacker's Delight, 7-3): bit `63 − c` of row
/// `r` swaps with bit `63 − r` of row `c`. Data-independent; its own inverse.
fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_ffff_ffff;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = (a[k] ^ (a[k + j] >> j)) & m;
            a[k] ^= t;
            a[k + j] ^= t << j;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// Words `2h` and `2h + 1` of 64 blocks into 64 bit planes: `planes[32·w + b]` holds bit
/// `b` of word `2h + w`, block `k` in bit `63 − k`.
fn load(blocks: &[u8], h: usize, planes: &mut [u64; 64]) {
    let mut rows = [0u64; 64];
    for (row, block) in rows.iter_mut().zip(blocks.chunks_exact(16)) {
        let w = |j: usize| {
            u64::from(u32::from_be_bytes([
                block[4 * j],
                block[4 * j + 1],
                block[4 * j + 2],
                block[4 * j + 3],
            ]))
        };
        *row = w(2 * h) | w(2 * h + 1) << 32;
    }
    transpose64(&mut rows);
    for (b, plane) in planes.iter_mut().enumerate() {
        *plane = rows[63 - b];
    }
}

/// The inverse of [`load`], writing words `2h` and `2h + 1` of every block.
fn store(planes: &[u64; 64], h: usize, blocks: &mut [u8]) {
    let mut rows = [0u64; 64];
    for (b, plane) in planes.iter().enumerate() {
        rows[63 - b] = *plane;
    }
    transpose64(&mut rows);
    for (row, block) in rows.iter().zip(blocks.chunks_exact_mut(16)) {
        block[8 * h..8 * h + 4].copy_from_slice(&(*row as u32).to_be_bytes());
        block[8 * h + 4..8 * h + 8].copy_from_slice(&((*row >> 32) as u32).to_be_bytes());
    }
}

/// Run the 32 rounds on exactly 64 blocks (1 KiB) in place.
pub(super) fn crypt64(rk: &[u32; 32], blocks: &mut [u8]) {
    debug_assert_eq!(blocks.len(), 16 * BLOCKS);
    // x[j][b]: bit b of word j.
    let mut x = [[0u64; 32]; 4];
    let mut planes = [0u64; 64];
    for h in 0..2 {
        load(blocks, h, &mut planes);
        x[2 * h].copy_from_slice(&planes[..32]);
        x[2 * h + 1].copy_from_slice(&planes[32..]);
    }
    for (i, &k) in rk.iter().enumerate() {
        let j = i % 4;
        // S-box input, byte-major: input[bit][byte] is bit `bit` of byte `byte`.
        let mut input: Byte = [[0u64; 4]; 8];
        for (bit, lane) in input.iter_mut().enumerate() {
            for (byte, v) in lane.iter_mut().enumerate() {
                let b = 8 * byte + bit;
                let key_mask = 0u64.wrapping_sub(u64::from(k >> b & 1));
                *v = x[(j + 1) % 4][b] ^ x[(j + 2) % 4][b] ^ x[(j + 3) % 4][b] ^ key_mask;
            }
        }
        let s = sbox(&input);
        let mut t = [0u64; 32];
        for (bit, lane) in s.iter().enumerate() {
            for (byte, v) in lane.iter().enumerate() {
                t[8 * byte + bit] = *v;
            }
        }
        // L: bit b of (t ⋘ r) is bit b − r of t.
        for (b, out) in x[j].iter_mut().enumerate() {
            *out ^= t[b] ^ t[(b + 30) % 32] ^ t[(b + 22) % 32] ^ t[(b + 14) % 32] ^ t[(b + 8) % 32];
        }
    }
    // Output is X35 ‖ X34 ‖ X33 ‖ X32.
    for h in 0..2 {
        planes[..32].copy_from_slice(&x[3 - 2 * h]);
        planes[32..].copy_from_slice(&x[2 - 2 * h]);
        store(&planes, h, blocks);
    }
}

#[cfg(test)]
mod tests {
    use super::super::soft::SBOX_TABLE;
    use super::*;

    #[test]
    fn transpose_moves_bits_as_documented() {
        let mut a: [u64; 64] =
            core::array::from_fn(|i| (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let orig = a;
        transpose64(&mut a);
        for (r, row) in a.iter().enumerate() {
            for (c, col) in orig.iter().enumerate() {
                assert_eq!(row >> (63 - c) & 1, col >> (63 - r) & 1);
            }
        }
        transpose64(&mut a);
        assert_eq!(a, orig);
    }

    #[test]
    fn sbox_circuit_matches_the_standard_table() {
        // All 256 inputs at once: input value v in block v % 64 of byte v / 64.
        let mut x: Byte = [[0u64; 4]; 8];
        for v in 0..256usize {
            for (bit, lane) in x.iter_mut().enumerate() {
                lane[v / 64] |= ((v >> bit) as u64 & 1) << (v % 64);
            }
        }
        let s = sbox(&x);
        for v in 0..256usize {
            let mut got = 0u8;
            for (bit, lane) in s.iter().enumerate() {
                got |= ((lane[v / 64] >> (v % 64)) as u8 & 1) << bit;
            }
            assert_eq!(got, SBOX_TABLE[v], "S({v:#x})");
        }
    }
}
