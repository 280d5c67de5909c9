//! Montgomery multiplication and squaring specialised to the SM2 prime
//! `p = 2²⁵⁶ − 2²²⁴ − 2⁹⁶ + 2⁶⁴ − 1` (`R = 2²⁵⁶`), in portable safe Rust.
//!
//! Same representation and contract as fiat-crypto's `fiat_sm2_mul`/`fiat_sm2_square`
//! (four little-endian limbs, inputs and output in `[0, p)`), so the two mix freely; the tests
//! compare them on random and edge values. What is specialised, and why it is faster:
//!
//! * `−p⁻¹ mod 2⁶⁴ = 1`, so each reduction step's multiplier `m` is the low limb itself, and
//!   `m·(p + 1)/2⁶⁴ = m·(2¹⁹² − 2¹⁶⁰ − 2³² + 1)` is shifts and a subtraction: no
//!   multiplication in the reduction (fiat-crypto's generic code spends 16 there).
//! * Squaring computes each cross product once and doubles it: 10 multiplications, not 16.
//!
//! Constant time: no branch and no memory access depends on the values; the final
//! conditional subtraction of `p` selects by mask.

pub(crate) type Limbs = [u64; 4];

const P: Limbs = [
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ffff_ffff,
    0xffff_fffe_ffff_ffff,
];

/// `a + b + carry` as (low word, carry).
#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// `a − b − borrow` (borrow 0 or 1) as (low word, borrow 0 or 1).
#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = u128::from(a).wrapping_sub(u128::from(b) + u128::from(borrow));
    (t as u64, (t >> 127) as u64)
}

/// `a + b·c + carry` as (low word, high word).
#[inline(always)]
fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) * u128::from(c) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// One reduction step's addend `m·(2¹⁹² − 2¹⁶⁰ − 2³² + 1)` as four limbs: `[m, 0, 0, m]`
/// minus `[m·2³² mod 2⁶⁴, m >> 32, m·2³² mod 2⁶⁴, m >> 32]` (never negative).
#[inline(always)]
fn step_addend(m: u64) -> Limbs {
    let (lo, hi) = (m << 32, m >> 32);
    let (v0, b) = sbb(m, lo, 0);
    let (v1, b) = sbb(0, hi, b);
    let (v2, b) = sbb(0, lo, b);
    let (v3, _) = sbb(m, hi, b);
    [v0, v1, v2, v3]
}

/// Montgomery reduction of a 512-bit `t < p·2²⁵⁶`: `t·2⁻²⁵⁶ mod p` in `[0, p)`.
///
/// Step `i` adds `m·p·2⁶⁴ⁱ` with `m = tᵢ`: limb `i` becomes zero (`tᵢ − m`), the rest
/// gains `m·(p + 1)/2⁶⁴` at limb `i + 1`. The carry out of each step joins the next one's
/// top limb; the sum stays below `2p`, so one conditional subtraction finishes.
#[inline(always)]
fn reduce(t: [u64; 8]) -> Limbs {
    let [t0, t1, t2, t3, t4, t5, t6, t7] = t;

    let v = step_addend(t0);
    let (t1, c) = adc(t1, v[0], 0);
    let (t2, c) = adc(t2, v[1], c);
    let (t3, c) = adc(t3, v[2], c);
    let (t4, carry) = adc(t4, v[3], c);

    let v = step_addend(t1);
    let (t2, c) = adc(t2, v[0], 0);
    let (t3, c) = adc(t3, v[1], c);
    let (t4, c) = adc(t4, v[2], c);
    let (t5, carry) = adc(t5, v[3], c + carry);

    let v = step_addend(t2);
    let (t3, c) = adc(t3, v[0], 0);
    let (t4, c) = adc(t4, v[1], c);
    let (t5, c) = adc(t5, v[2], c);
    let (t6, carry) = adc(t6, v[3], c + carry);

    let v = step_addend(t3);
    let (t4, c) = adc(t4, v[0], 0);
    let (t5, c) = adc(t5, v[1], c);
    let (t6, c) = adc(t6, v[2], c);
    let (t7, t8) = adc(t7, v[3], c + carry);

    sub_p_if_needed([t4, t5, t6, t7], t8)
}

/// `r + top·2²⁵⁶ − p` if that is not negative, else `r` (for `r + top·2²⁵⁶ < 2p`).
#[inline(always)]
fn sub_p_if_needed(r: Limbs, top: u64) -> Limbs {
    let (s0, b) = sbb(r[0], P[0], 0);
    let (s1, b) = sbb(r[1], P[1], b);
    let (s2, b) = sbb(r[2], P[2], b);
    let (s3, b) = sbb(r[3], P[3], b);
    let (_, b) = sbb(top, 0, b);
    // b = 1: the value was below p, keep it. Selected by mask, as fiat-crypto's cmovznz.
    let keep = 0u64.wrapping_sub(b);
    let s = [s0, s1, s2, s3];
    core::array::from_fn(|i| (r[i] & keep) | (s[i] & !keep))
}

/// `a·b·2⁻²⁵⁶ mod p` for `a, b < p`. Always inlined: a call passes and returns the limbs
/// through memory, which cost about 5% of a point multiplication.
#[inline(always)]
pub(crate) fn mul(a: &Limbs, b: &Limbs) -> Limbs {
    let [a0, a1, a2, a3] = *a;
    let [b0, b1, b2, b3] = *b;

    let (t0, c) = mac(0, a0, b0, 0);
    let (t1, c) = mac(0, a0, b1, c);
    let (t2, c) = mac(0, a0, b2, c);
    let (t3, t4) = mac(0, a0, b3, c);

    let (t1, c) = mac(t1, a1, b0, 0);
    let (t2, c) = mac(t2, a1, b1, c);
    let (t3, c) = mac(t3, a1, b2, c);
    let (t4, t5) = mac(t4, a1, b3, c);

    let (t2, c) = mac(t2, a2, b0, 0);
    let (t3, c) = mac(t3, a2, b1, c);
    let (t4, c) = mac(t4, a2, b2, c);
    let (t5, t6) = mac(t5, a2, b3, c);

    let (t3, c) = mac(t3, a3, b0, 0);
    let (t4, c) = mac(t4, a3, b1, c);
    let (t5, c) = mac(t5, a3, b2, c);
    let (t6, t7) = mac(t6, a3, b3, c);

    reduce([t0, t1, t2, t3, t4, t5, t6, t7])
}

/// `a²·2⁻²⁵⁶ mod p` for `a < p`: each cross product once, doubled.
#[inline(always)]
pub(crate) fn square(a: &Limbs) -> Limbs {
    let [a0, a1, a2, a3] = *a;

    // Cross products aᵢ·aⱼ, i < j, once each.
    let (t1, c) = mac(0, a0, a1, 0);
    let (t2, c) = mac(0, a0, a2, c);
    let (t3, t4) = mac(0, a0, a3, c);
    let (t3, c) = mac(t3, a1, a2, 0);
    let (t4, t5) = mac(t4, a1, a3, c);
    let (t5, t6) = mac(t5, a2, a3, 0);

    // Doubled.
    let t7 = t6 >> 63;
    let t6 = (t6 << 1) | (t5 >> 63);
    let t5 = (t5 << 1) | (t4 >> 63);
    let t4 = (t4 << 1) | (t3 >> 63);
    let t3 = (t3 << 1) | (t2 >> 63);
    let t2 = (t2 << 1) | (t1 >> 63);
    let t1 = t1 << 1;

    // Plus the squares aᵢ².
    let (t0, c) = mac(0, a0, a0, 0);
    let (t1, c) = adc(t1, 0, c);
    let (t2, c) = mac(t2, a1, a1, c);
    let (t3, c) = adc(t3, 0, c);
    let (t4, c) = mac(t4, a2, a2, c);
    let (t5, c) = adc(t5, 0, c);
    let (t6, c) = mac(t6, a3, a3, c);
    let (t7, _) = adc(t7, 0, c);

    reduce([t0, t1, t2, t3, t4, t5, t6, t7])
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use fiat_crypto::sm2_64::{
        fiat_sm2_montgomery_domain_field_element as Mont, fiat_sm2_mul, fiat_sm2_square,
    };

    pub(in crate::sm2) fn fiat_mul(a: &Limbs, b: &Limbs) -> Limbs {
        let mut out = Mont([0; 4]);
        fiat_sm2_mul(&mut out, &Mont(*a), &Mont(*b));
        out.0
    }

    pub(in crate::sm2) fn fiat_square(a: &Limbs) -> Limbs {
        let mut out = Mont([0; 4]);
        fiat_sm2_square(&mut out, &Mont(*a));
        out.0
    }

    /// A small deterministic generator (xorshift*): reproducible failures.
    pub(in crate::sm2) struct Rng(pub(in crate::sm2) u64);
    impl Rng {
        pub(in crate::sm2) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Below p: random limbs, the top limb cleared of its top bit now and then, and
        /// values with runs of all-ones or zero limbs (carry chains).
        pub(in crate::sm2) fn below_p(&mut self) -> Limbs {
            loop {
                let mut v: Limbs = core::array::from_fn(|_| self.next());
                for limb in &mut v {
                    match self.next() % 5 {
                        0 => *limb = u64::MAX,
                        1 => *limb = 0,
                        _ => {}
                    }
                }
                if less_than_p(&v) {
                    return v;
                }
            }
        }
    }

    pub(in crate::sm2) fn less_than_p(v: &Limbs) -> bool {
        for i in (0..4).rev() {
            if v[i] != P[i] {
                return v[i] < P[i];
            }
        }
        false
    }

    pub(in crate::sm2) fn edge_values() -> Vec<Limbs> {
        let p_minus = |k: u64| {
            let mut v = P;
            v[0] -= k;
            v
        };
        vec![
            [0, 0, 0, 0],
            [1, 0, 0, 0],
            [2, 0, 0, 0],
            p_minus(1),
            p_minus(2),
            [u64::MAX, 0, 0, 0],
            [0, 0, 0, 1 << 63],
            [u64::MAX, u64::MAX, u64::MAX, 0xffff_fffe_ffff_fffe],
            [0, 0xffff_ffff_0000_0000, u64::MAX, 0xffff_fffe_ffff_ffff],
            [0xffff_ffff, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
            // R mod p (one in Montgomery form) and R² mod p.
            [1, 0xffff_ffff, 0, 0x1_0000_0000],
            [
                0x0000_0002_0000_0003,
                0x0000_0002_ffff_ffff,
                0x0000_0001_0000_0001,
                0x0000_0004_0000_0002,
            ],
        ]
    }

    #[test]
    fn agrees_with_fiat_crypto_on_edge_values() {
        let edges = edge_values();
        for a in &edges {
            assert!(less_than_p(a));
            assert_eq!(square(a), fiat_square(a), "square {a:x?}");
            for b in &edges {
                assert_eq!(mul(a, b), fiat_mul(a, b), "{a:x?} · {b:x?}");
            }
        }
    }

    #[test]
    fn agrees_with_fiat_crypto_on_random_values() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..50_000 {
            let (a, b) = (rng.below_p(), rng.below_p());
            let got = mul(&a, &b);
            assert!(less_than_p(&got));
            assert_eq!(got, fiat_mul(&a, &b), "{a:x?} · {b:x?}");
            assert_eq!(square(&a), fiat_square(&a), "square {a:x?}");
        }
    }

    /// Long dependent chains (each output the next input), as the point code uses them.
    #[test]
    fn chains_agree_with_fiat_crypto() {
        let mut rng = Rng(0xc0ff_ee00_dead_beef);
        let (mut x, mut y) = (rng.below_p(), rng.below_p());
        let (mut fx, mut fy) = (x, y);
        for _ in 0..20_000 {
            x = mul(&square(&x), &y);
            y = square(&mul(&y, &x));
            fx = fiat_mul(&fiat_square(&fx), &fy);
            fy = fiat_square(&fiat_mul(&fy, &fx));
        }
        assert_eq!((x, y), (fx, fy));
    }

    /// Timing of both, same run: `cargo test --release -p bidkey-crypto --lib
    /// montgomery::tests::speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn speed() {
        use crate::measure::cpu_ns;
        use std::hint::black_box;
        const N: u32 = 2_000_000;
        let mut rng = Rng(7);
        let a0 = rng.below_p();
        let b = rng.below_p();
        let time = |f: &mut dyn FnMut()| {
            let t = cpu_ns();
            f();
            (cpu_ns() - t) / f64::from(N)
        };
        for round in 0..3 {
            let (mut a, mut f) = (a0, a0);
            let ours_mul = time(&mut || {
                for _ in 0..N {
                    a = black_box(mul(&a, &b));
                }
            });
            let fiat_mul_ns = time(&mut || {
                for _ in 0..N {
                    f = black_box(fiat_mul(&f, &b));
                }
            });
            assert_eq!(a, f);
            let ours_sq = time(&mut || {
                for _ in 0..N {
                    a = black_box(square(&a));
                }
            });
            let fiat_sq = time(&mut || {
                for _ in 0..N {
                    f = black_box(fiat_square(&f));
                }
            });
            assert_eq!(a, f);
            println!(
                "round {round}: mul {ours_mul:.1} ns (fiat {fiat_mul_ns:.1}), \
                 square {ours_sq:.1} ns (fiat {fiat_sq:.1}) on-CPU"
            );
        }
    }
}
