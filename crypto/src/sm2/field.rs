//! Arithmetic modulo the SM2 prime `p = 2²⁵⁶ − 2²²⁴ − 2⁹⁶ + 2⁶⁴ − 1`, in Montgomery form.
//!
//! Multiplication and squaring are ours, specialised to the prime: x86-64 assembly
//! ([`super::asm_x86_64`], ADR 0033) on x86-64, the portable [`super::montgomery`] elsewhere,
//! both checked against fiat-crypto in their tests; on x86-64 addition and subtraction are
//! assembly as well. The other limb routines are fiat-crypto's formally verified `sm2_64` (the same ones the `sm2` crate runs on; its field type is
//! private, so [`super::curve`] needs its own). Everything here is constant time.

// Multiplication and squaring: assembly on x86-64 (ADR 0033), the portable Rust elsewhere.
#[cfg(target_arch = "x86_64")]
use super::asm_x86_64::{mul as limbs_mul, square as limbs_square};
#[cfg(not(target_arch = "x86_64"))]
use super::montgomery::{mul as limbs_mul, square as limbs_square};
#[cfg(not(target_arch = "x86_64"))]
use fiat_crypto::sm2_64::{fiat_sm2_add, fiat_sm2_sub};
use fiat_crypto::sm2_64::{
    fiat_sm2_from_bytes, fiat_sm2_from_montgomery,
    fiat_sm2_montgomery_domain_field_element as Mont,
    fiat_sm2_non_montgomery_domain_field_element as Plain, fiat_sm2_nonzero, fiat_sm2_opp,
    fiat_sm2_selectznz, fiat_sm2_set_one, fiat_sm2_to_bytes, fiat_sm2_to_montgomery,
};
use subtle::{Choice, ConditionallySelectable};

/// A field element in Montgomery form.
#[derive(Clone, Copy)]
pub(crate) struct Fe(Mont);

/// p, little-endian limbs.
const P_LIMBS: [u64; 4] = [
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ffff_ffff,
    0xffff_fffe_ffff_ffff,
];

/// `p − 2`, big-endian: the exponent of Fermat inversion (tests check the chain with it).
#[cfg(test)]
const P_MINUS_2: [u8; 32] = [
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd,
];

impl Fe {
    pub(crate) const ZERO: Fe = Fe(Mont([0; 4]));

    pub(crate) fn one() -> Fe {
        let mut out = Mont([0; 4]);
        fiat_sm2_set_one(&mut out);
        Fe(out)
    }

    /// From 32 big-endian bytes of a value below p (callers pass coordinates of points the
    /// `sm2` crate already checked).
    pub(crate) fn from_be_bytes(bytes: &[u8; 32]) -> Fe {
        let mut le = *bytes;
        le.reverse();
        let mut limbs = [0u64; 4];
        fiat_sm2_from_bytes(&mut limbs, &le);
        let mut out = Mont([0; 4]);
        fiat_sm2_to_montgomery(&mut out, &Plain(limbs));
        Fe(out)
    }

    pub(crate) fn to_be_bytes(self) -> [u8; 32] {
        let mut plain = Plain([0; 4]);
        fiat_sm2_from_montgomery(&mut plain, &self.0);
        let mut out = [0u8; 32];
        fiat_sm2_to_bytes(&mut out, &plain.0);
        out.reverse();
        out
    }

    #[inline(always)]
    pub(crate) fn mul(&self, rhs: &Fe) -> Fe {
        Fe(Mont(limbs_mul(&self.0.0, &rhs.0.0)))
    }

    #[inline(always)]
    pub(crate) fn square(&self) -> Fe {
        Fe(Mont(limbs_square(&self.0.0)))
    }

    #[inline(always)]
    pub(crate) fn add(&self, rhs: &Fe) -> Fe {
        #[cfg(target_arch = "x86_64")]
        return Fe(Mont(super::asm_x86_64::add(&self.0.0, &rhs.0.0)));
        #[cfg(not(target_arch = "x86_64"))]
        {
            let mut out = Mont([0; 4]);
            fiat_sm2_add(&mut out, &self.0, &rhs.0);
            Fe(out)
        }
    }

    #[inline(always)]
    pub(crate) fn sub(&self, rhs: &Fe) -> Fe {
        #[cfg(target_arch = "x86_64")]
        return Fe(Mont(super::asm_x86_64::sub(&self.0.0, &rhs.0.0)));
        #[cfg(not(target_arch = "x86_64"))]
        {
            let mut out = Mont([0; 4]);
            fiat_sm2_sub(&mut out, &self.0, &rhs.0);
            Fe(out)
        }
    }

    #[inline(always)]
    pub(crate) fn neg(&self) -> Fe {
        let mut out = Mont([0; 4]);
        fiat_sm2_opp(&mut out, &self.0);
        Fe(out)
    }

    #[inline(always)]
    pub(crate) fn double(&self) -> Fe {
        self.add(self)
    }

    pub(crate) fn is_zero(&self) -> Choice {
        let mut nz = 0u64;
        fiat_sm2_nonzero(&mut nz, &self.0.0);
        // nz is 0 exactly for zero (Montgomery form keeps zero at zero).
        Choice::from(((nz | nz.wrapping_neg()) >> 63) as u8 ^ 1)
    }

    /// `self` squared `n` times.
    fn sqn(&self, n: u32) -> Fe {
        let mut t = *self;
        for _ in 0..n {
            t = t.square();
        }
        t
    }

    /// `self⁻¹` (0 for 0) by Fermat, `self^(p−2)`, with a fixed addition chain (256 squarings,
    /// 15 multiplications): the exponent is public, the base may be secret, and the sequence
    /// of operations never changes. `p − 2` in binary, from the top: 31 ones, a zero, 128
    /// ones, 32 zeros, 32 ones, 30 ones, a zero, a one.
    pub(crate) fn invert(&self) -> Fe {
        // xk = self^(2^k − 1)
        let x1 = *self;
        let x2 = x1.square().mul(&x1);
        let x3 = x2.square().mul(&x1);
        let x6 = x3.sqn(3).mul(&x3);
        let x12 = x6.sqn(6).mul(&x6);
        let x15 = x12.sqn(3).mul(&x3);
        let x30 = x15.sqn(15).mul(&x15);
        let x31 = x30.square().mul(&x1);
        let x32 = x31.square().mul(&x1);
        let mut t = x31.square(); // 31 ones, then the zero
        for _ in 0..4 {
            t = t.sqn(32).mul(&x32); // 128 ones
        }
        t = t.sqn(32); // 32 zeros
        t = t.sqn(32).mul(&x32); // 32 ones
        t = t.sqn(30).mul(&x30); // 30 ones
        t = t.square(); // a zero
        t.square().mul(&x1) // a one
    }

    /// `self⁻¹` (0 for 0) in **variable time**: public values only (the tables and results of
    /// verification and proof checks). crypto-bigint's safegcd (Bernstein–Yang) on the
    /// Montgomery limbs `xR` gives `x⁻¹R⁻¹`; two conversions to Montgomery form multiply by
    /// `R²`, giving `x⁻¹R`, the Montgomery form of `x⁻¹`.
    pub(crate) fn invert_vartime(&self) -> Fe {
        use crypto_bigint::{Odd, U256};
        let Some(modulus) = Odd::new(U256::from_words(P_LIMBS)).into_option() else {
            unreachable!("p is odd")
        };
        let Some(inv) = U256::from_words(self.0.0)
            .invert_odd_mod_vartime(&modulus)
            .into_option()
        else {
            return Fe::ZERO; // only 0 has no inverse modulo the prime p
        };
        let mut once = Mont([0; 4]);
        fiat_sm2_to_montgomery(&mut once, &Plain(inv.to_words()));
        let mut twice = Mont([0; 4]);
        fiat_sm2_to_montgomery(&mut twice, &Plain(once.0));
        Fe(twice)
    }

    /// The old fixed-window exponentiation, kept to check the chain against.
    #[cfg(test)]
    fn invert_by_window(&self) -> Fe {
        let mut powers = [Fe::one(); 16];
        for i in 1..16 {
            powers[i] = powers[i - 1].mul(self);
        }
        let mut acc = Fe::one();
        for byte in P_MINUS_2 {
            for nibble in [byte >> 4, byte & 0x0f] {
                acc = acc.sqn(4);
                acc = acc.mul(&powers[nibble as usize]);
            }
        }
        acc
    }
}

impl ConditionallySelectable for Fe {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        let mut out = [0u64; 4];
        fiat_sm2_selectznz(&mut out, choice.unwrap_u8(), &a.0.0, &b.0.0);
        Fe(Mont(out))
    }
}

impl PartialEq for Fe {
    /// Variable time: for tests and public values only.
    fn eq(&self, other: &Self) -> bool {
        self.to_be_bytes() == other.to_be_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inversion_chain_is_fermat() {
        for seed in [1u8, 2, 7, 0x80, 0xfe] {
            let a = Fe::from_be_bytes(&[seed; 32]);
            assert!(a.invert() == a.invert_by_window());
            assert!(a.mul(&a.invert()) == Fe::one());
        }
        assert!(bool::from(Fe::ZERO.invert().is_zero()));
    }

    #[test]
    fn variable_time_inversion_agrees_with_fermat() {
        let mut values: Vec<Fe> = [1u8, 2, 7, 0x80, 0xfe]
            .iter()
            .map(|&b| Fe::from_be_bytes(&[b; 32]))
            .collect();
        values.push(Fe::one());
        values.push(Fe::one().neg()); // p − 1
        let mut x = Fe::from_be_bytes(&[3; 32]);
        for _ in 0..200 {
            x = x.square().add(&Fe::one());
            values.push(x);
        }
        for a in values {
            assert!(a.invert_vartime() == a.invert());
            assert!(a.mul(&a.invert_vartime()) == Fe::one());
        }
        assert!(bool::from(Fe::ZERO.invert_vartime().is_zero()));
    }
}
