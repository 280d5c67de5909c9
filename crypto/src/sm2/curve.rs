//! Faster SM2 point arithmetic: Jacobian coordinates with the `a = −3` doubling (3M + 5S)
//! and mixed addition (7M + 4S), instead of the `sm2` crate's complete projective formulas
//! (≈ 12M each), plus precomputation.
//!
//! * [`mul_base`]: `k·G` in constant time from a table of `j·32ⁱ·G` (52 × 16 affine points,
//!   52 KiB, built on first use): 52 mixed additions, no doubling, every table entry of a
//!   window read and selected by mask.
//! * [`mul_point`], [`lincomb_x`]: `k·P` (and `k·P + l·G`) in constant time, signed 5-bit
//!   windows over a table of `P … 16P` read by mask.
//! * [`Comb`]: several constant-time `kᵢ·P` of one point `P` (a 4-tooth comb: 64
//!   doublings per multiplication after 192 to build the table).
//! * [`Pending`], [`to_affine_batch`]: constant-time results kept in Jacobian form until
//!   all of a protocol step's points are known, then made affine with one inversion.
//! * [`mul_base_add_vartime`]: `a·G + b·P` for *public* data only (signature and proof
//!   verification): width-5 NAF for `P`, width-7 over a static table of odd multiples of
//!   `G`, branches on the digits.
//!
//! Every inversion of a secret-dependent value is constant time ([`Fe::invert`]: Fermat with
//! the x86-64 assembly, crypto-bigint's safegcd with the portable field code, whichever is
//! faster there); public results use [`Fe::invert_vartime`].
//!
//! The incomplete formulas have exceptional inputs (adding a point to itself or to its
//! negative). In the constant-time routines they occur only for scalars within a few
//! dozen of `n` (partial sums cannot meet the next window's point otherwise), i.e. with
//! probability below 2⁻²⁵⁰ for a uniformly random secret; a flag,
//! computed without branching, records whether one occurred, and only then is the result
//! recomputed with the `sm2` crate's complete (slower) arithmetic. The variable-time
//! routine handles every case by branching. The tests compare all three with the `sm2`
//! crate on random and edge-case scalars.

use super::field::Fe;
use sm2::elliptic_curve::Group;
use sm2::elliptic_curve::PrimeField;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::{AffinePoint, ProjectivePoint, Scalar};
use std::sync::LazyLock;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

/// A point other than the identity, `(x, y)` in Montgomery form.
#[derive(Clone, Copy)]
struct Affine {
    x: Fe,
    y: Fe,
}

/// `(X/Z², Y/Z³)`; `Z = 0` is the identity.
#[derive(Clone, Copy)]
struct Jacobian {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl ConditionallySelectable for Affine {
    fn conditional_select(a: &Self, b: &Self, c: Choice) -> Self {
        Affine {
            x: Fe::conditional_select(&a.x, &b.x, c),
            y: Fe::conditional_select(&a.y, &b.y, c),
        }
    }
}

impl ConditionallySelectable for Jacobian {
    fn conditional_select(a: &Self, b: &Self, c: Choice) -> Self {
        Jacobian {
            x: Fe::conditional_select(&a.x, &b.x, c),
            y: Fe::conditional_select(&a.y, &b.y, c),
            z: Fe::conditional_select(&a.z, &b.z, c),
        }
    }
}

impl Affine {
    fn from_sm2(p: &AffinePoint) -> Option<Affine> {
        let sec1 = p.to_sec1_point(false);
        let bytes = sec1.as_bytes();
        if bytes.len() != 65 {
            return None; // the identity
        }
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&bytes[1..33]);
        y.copy_from_slice(&bytes[33..]);
        Some(Affine {
            x: Fe::from_be_bytes(&x),
            y: Fe::from_be_bytes(&y),
        })
    }

    fn to_sm2(self) -> Option<AffinePoint> {
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(&self.x.to_be_bytes());
        sec1[33..].copy_from_slice(&self.y.to_be_bytes());
        // Re-checks the curve equation: a few multiplications, and a guard against a bug here.
        sm2::PublicKey::from_sec1_bytes(&sec1)
            .ok()
            .map(|p| *p.as_affine())
    }

    fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }

    fn to_jacobian(self) -> Jacobian {
        Jacobian {
            x: self.x,
            y: self.y,
            z: Fe::one(),
        }
    }
}

impl Jacobian {
    fn identity() -> Jacobian {
        Jacobian {
            x: Fe::one(),
            y: Fe::one(),
            z: Fe::ZERO,
        }
    }

    fn is_identity(&self) -> Choice {
        self.z.is_zero()
    }

    /// dbl-2001-b (a = −3); the identity doubles to itself (Z stays 0).
    fn double(&self) -> Jacobian {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.times4();
        let x3 = alpha.square().sub(&beta.times8());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.square().times8();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// madd-2007-bl without branches. Returns the sum and whether the inputs were an
    /// exceptional case (`self = ±q`, self not the identity), in which the sum is wrong.
    fn add_affine(&self, q: &Affine) -> (Jacobian, Choice) {
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let hh = h.square();
        let i = hh.times4();
        let j = h.mul(&i);
        let r = s2.sub(&self.y).double();
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        let sum = Jacobian {
            x: x3,
            y: y3,
            z: z3,
        };
        let inf = self.is_identity();
        let exceptional = !inf & h.is_zero();
        (
            Jacobian::conditional_select(&sum, &q.to_jacobian(), inf),
            exceptional,
        )
    }

    /// add-2007-bl without branches; identities on either side are handled, `self = ±q`
    /// (neither the identity) is flagged as exceptional.
    fn add(&self, q: &Jacobian) -> (Jacobian, Choice) {
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let i = h.double().square();
        let j = h.mul(&i);
        let r = s2.sub(&s1).double();
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        let mut sum = Jacobian {
            x: x3,
            y: y3,
            z: z3,
        };
        let (inf1, inf2) = (self.is_identity(), q.is_identity());
        sum.conditional_assign(q, inf1);
        sum.conditional_assign(self, inf2);
        (sum, !inf1 & !inf2 & h.is_zero())
    }

    /// The same sum with branches, correct for every input: public data only.
    fn add_affine_vartime(&self, q: &Affine) -> Jacobian {
        if bool::from(self.is_identity()) {
            return q.to_jacobian();
        }
        let (sum, exceptional) = self.add_affine(q);
        if !bool::from(exceptional) {
            return sum;
        }
        let z1z1 = self.z.square();
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        if bool::from(s2.sub(&self.y).is_zero()) {
            q.to_jacobian().double()
        } else {
            Jacobian::identity()
        }
    }

    fn to_affine(self) -> Option<Affine> {
        self.to_affine_with(Fe::invert)
    }

    /// [`Self::to_affine`] with a variable-time inversion: public points only.
    #[cfg(test)]
    fn to_affine_vartime(self) -> Option<Affine> {
        self.to_affine_with(Fe::invert_vartime)
    }

    fn to_affine_with(self, invert: fn(&Fe) -> Fe) -> Option<Affine> {
        if bool::from(self.is_identity()) {
            return None;
        }
        let zinv = invert(&self.z);
        let zinv2 = zinv.square();
        Some(Affine {
            x: self.x.mul(&zinv2),
            y: self.y.mul(&zinv2).mul(&zinv),
        })
    }
}

/// Affine forms of many points (none the identity) with one inversion (Montgomery's trick).
fn normalize_all(points: &[Jacobian]) -> Vec<Affine> {
    normalize_all_with(points, Fe::invert)
}

/// [`normalize_all`] with a variable-time inversion: public points only.
fn normalize_all_vartime(points: &[Jacobian]) -> Vec<Affine> {
    normalize_all_with(points, Fe::invert_vartime)
}

fn normalize_all_with(points: &[Jacobian], invert: fn(&Fe) -> Fe) -> Vec<Affine> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = Fe::one();
    for p in points {
        prefix.push(acc);
        acc = acc.mul(&p.z);
    }
    let mut inv = invert(&acc);
    let mut out = vec![
        Affine {
            x: Fe::ZERO,
            y: Fe::ZERO
        };
        points.len()
    ];
    for (i, p) in points.iter().enumerate().rev() {
        let zinv = inv.mul(&prefix[i]);
        inv = inv.mul(&p.z);
        let zinv2 = zinv.square();
        out[i] = Affine {
            x: p.x.mul(&zinv2),
            y: p.y.mul(&zinv2).mul(&zinv),
        };
    }
    out
}

/// `|d|·P` from a table of `P … NP` (the identity flagged for `d = 0`), reading every
/// entry; `d` is negated by a masked select.
fn select<const N: usize>(table: &[Affine; N], d: i8) -> (Affine, Choice) {
    let negative = Choice::from((d as u8) >> 7);
    let abs = ((d ^ (d >> 7)) - (d >> 7)) as u8;
    let mut out = table[0];
    for (j, entry) in table.iter().enumerate() {
        out.conditional_assign(entry, abs.ct_eq(&(j as u8 + 1)));
    }
    let neg = out.neg();
    out.conditional_assign(&neg, negative);
    (out, abs.ct_eq(&0))
}

/// `k = Σ dᵢ·32ⁱ`, `dᵢ ∈ [−16, 15]`, 52 digits (260 bits), computed without branches.
fn signed_radix32(k: &Scalar) -> [i8; 52] {
    let bytes = k.to_repr();
    let mut limbs = [0u64; 5];
    for (i, limb) in limbs.iter_mut().take(4).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[32 - 8 * (i + 1)..32 - 8 * i]);
        *limb = u64::from_be_bytes(b);
    }
    let mut digits = [0i8; 52];
    let mut carry = 0i8;
    for (i, digit) in digits.iter_mut().enumerate() {
        let (word, bit) = ((5 * i) / 64, (5 * i) % 64);
        let mut chunk = limbs[word] >> bit;
        if bit > 59 {
            chunk |= limbs[word + 1] << (64 - bit);
        }
        let v = (chunk & 0x1f) as i8 + carry;
        carry = (v + 16) >> 5;
        *digit = v - (carry << 5);
    }
    digits
}

/// `j·32ⁱ·G` for `i < 52`, `j ∈ 1..=16` (52 KiB, built on first use).
static BASE_TABLE: LazyLock<Vec<[Affine; 16]>> = LazyLock::new(|| {
    let g = Affine::from_sm2(&AffinePoint::GENERATOR)
        .unwrap_or_else(|| unreachable!("the generator is not the identity"));
    let mut points = Vec::with_capacity(52 * 16);
    let mut base = g.to_jacobian();
    for _ in 0..52 {
        let base_affine = normalize_all(&[base])[0];
        let mut multiple = base;
        points.push(multiple);
        for _ in 1..16 {
            multiple = multiple.add_affine_vartime(&base_affine);
            points.push(multiple);
        }
        for _ in 0..5 {
            base = base.double();
        }
    }
    normalize_all(&points)
        .chunks_exact(16)
        .map(|c| core::array::from_fn(|j| c[j]))
        .collect()
});

/// `k·G` in Jacobian form, constant time, and whether an exceptional case occurred.
fn mul_base_jacobian(k: &Scalar) -> (Jacobian, Choice) {
    let digits = signed_radix32(k);
    let mut acc = Jacobian::identity();
    let mut exceptional = Choice::from(0);
    for (window, &d) in BASE_TABLE.iter().zip(digits.iter()) {
        let (point, zero) = select(window, d);
        let (sum, exc) = acc.add_affine(&point);
        exceptional |= exc & !zero;
        acc.conditional_assign(&sum, !zero);
    }
    (acc, exceptional)
}

/// `k·P` in Jacobian form, constant time in `k`, and whether an exceptional case occurred:
/// signed 5-bit windows over an affine table of `P … 16P` (52 mixed additions; 4-bit
/// windows over `P … 8P` needed 65 and measured 2–4% slower per multiplication).
fn mul_point_jacobian(p: &Affine, k: &Scalar) -> (Jacobian, Choice) {
    let mut multiples = [p.to_jacobian(); 16];
    multiples[1] = multiples[0].double();
    for j in 2..16 {
        // (j + 1)·P = j·P + P: never exceptional for a point of prime order n.
        multiples[j] = multiples[j - 1].add_affine(p).0;
    }
    let table: [Affine; 16] = {
        let all = normalize_all(&multiples);
        core::array::from_fn(|j| all[j])
    };
    let digits = signed_radix32(k);
    let (top, rest) = digits
        .split_last()
        .unwrap_or_else(|| unreachable!("52 digits"));
    let (point, zero) = select(&table, *top);
    let mut acc = Jacobian::conditional_select(&point.to_jacobian(), &Jacobian::identity(), zero);
    let mut exceptional = Choice::from(0);
    for &d in rest.iter().rev() {
        for _ in 0..5 {
            acc = acc.double();
        }
        let (point, zero) = select(&table, d);
        let (sum, exc) = acc.add_affine(&point);
        exceptional |= exc & !zero;
        acc.conditional_assign(&sum, !zero);
    }
    (acc, exceptional)
}

fn finish(
    acc: Jacobian,
    exceptional: Choice,
    slow: impl FnOnce() -> ProjectivePoint,
) -> Option<AffinePoint> {
    if bool::from(exceptional) {
        // Reached only for scalars next to n, probability below 2⁻²⁵⁰ (see the
        // module documentation); the complete formulas give the right answer.
        let p = slow().to_affine();
        return (!bool::from(p.is_identity())).then_some(p);
    }
    acc.to_affine().and_then(Affine::to_sm2)
}

/// `k·G`, constant time; `None` for the identity (`k = 0`).
pub(crate) fn mul_base(k: &Scalar) -> Option<AffinePoint> {
    let (acc, exceptional) = mul_base_jacobian(k);
    finish(acc, exceptional, || ProjectivePoint::mul_by_generator(k))
}

/// The x-coordinate of `k·G` (big-endian), constant time: what signing needs, without
/// computing y or re-encoding the point. `None` for the identity.
pub(crate) fn mul_base_x(k: &Scalar) -> Option<[u8; 32]> {
    let (acc, exceptional) = mul_base_jacobian(k);
    if bool::from(exceptional) {
        let p = ProjectivePoint::mul_by_generator(k).to_affine();
        let sec1 = p.to_sec1_point(false);
        let mut x = [0u8; 32];
        x.copy_from_slice(sec1.as_bytes().get(1..33)?);
        return Some(x);
    }
    if bool::from(acc.is_identity()) {
        return None;
    }
    Some(acc.x.mul(&acc.z.invert().square()).to_be_bytes())
}

/// `k·P`, constant time in `k`; `None` for the identity.
pub(crate) fn mul_point(p: &AffinePoint, k: &Scalar) -> Option<AffinePoint> {
    let a = Affine::from_sm2(p)?;
    let (acc, exceptional) = mul_point_jacobian(&a, k);
    finish(acc, exceptional, || ProjectivePoint::from(*p) * k)
}

/// `k·P` for any `P` (the fixed-base table when `P = G`), constant time in `k`.
pub(crate) fn mul_any(p: &AffinePoint, k: &Scalar) -> Option<AffinePoint> {
    if p == &AffinePoint::GENERATOR {
        mul_base(k)
    } else {
        mul_point(p, k)
    }
}

/// `k·P − Q`, constant time in `k`; `None` for the identity.
pub(crate) fn mul_sub(p: &AffinePoint, k: &Scalar, q: &AffinePoint) -> Option<AffinePoint> {
    let slow = || ProjectivePoint::from(*p) * k - ProjectivePoint::from(*q);
    let (Some(pa), Some(qa)) = (Affine::from_sm2(p), Affine::from_sm2(q)) else {
        return affine_or_none(slow());
    };
    let (kp, e1) = mul_point_jacobian(&pa, k);
    let (diff, e2) = kp.add_affine(&qa.neg());
    finish(diff, e1 | e2, slow)
}

fn affine_or_none(p: ProjectivePoint) -> Option<AffinePoint> {
    let a = p.to_affine();
    (!bool::from(a.is_identity())).then_some(a)
}

/// `k·P + l·G`, constant time in `k` and `l`; `None` for the identity. The tests' reference
/// for [`lincomb_x`].
#[cfg(test)]
pub(crate) fn lincomb(p: &AffinePoint, k: &Scalar, l: &Scalar) -> Option<AffinePoint> {
    let slow = || ProjectivePoint::from(*p) * k + ProjectivePoint::mul_by_generator(l);
    let Some(a) = Affine::from_sm2(p) else {
        return mul_base(l);
    };
    let (kp, e1) = mul_point_jacobian(&a, k);
    let (lg, e2) = mul_base_jacobian(l);
    let (sum, e3) = kp.add(&lg);
    finish(sum, e1 | e2 | e3, slow)
}

/// A point computed in constant time and still in Jacobian form, so that several of them
/// become affine with one field inversion ([`to_affine_batch`]). Keeps the scalar (wiped on
/// drop) for the complete formulas in the exceptional case.
pub(crate) struct Pending {
    acc: Jacobian,
    exceptional: Choice,
    /// The base point; `None` for `G`.
    base: Option<AffinePoint>,
    k: Scalar,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.k.zeroize();
    }
}

impl Pending {
    /// The result by the `sm2` crate's complete formulas (exceptional cases only).
    fn slow(&self) -> ProjectivePoint {
        match &self.base {
            None => ProjectivePoint::mul_by_generator(&self.k),
            Some(p) => ProjectivePoint::from(*p) * self.k,
        }
    }
}

/// `k·G` in constant time, not yet affine.
pub(crate) fn mul_base_pending(k: &Scalar) -> Pending {
    let (acc, exceptional) = mul_base_jacobian(k);
    Pending {
        acc,
        exceptional,
        base: None,
        k: *k,
    }
}

/// Affine forms of constant-time results with one constant-time inversion for all of them
/// (Montgomery's trick: three multiplications per point instead of an inversion each).
/// `None` if any of them is the identity. The only branch is on the exceptional flags and
/// on the identity, as in [`mul_base`]; then each point is finished on its own.
pub(crate) fn to_affine_batch<const N: usize>(points: [&Pending; N]) -> Option<[AffinePoint; N]> {
    let special = points.iter().fold(Choice::from(0), |c, p| {
        c | p.exceptional | p.acc.is_identity()
    });
    if bool::from(special) {
        let mut out = [AffinePoint::IDENTITY; N];
        for (slot, p) in out.iter_mut().zip(points) {
            *slot = finish(p.acc, p.exceptional, || p.slow())?;
        }
        return Some(out);
    }
    let jacobians: [Jacobian; N] = core::array::from_fn(|i| points[i].acc);
    let affine = normalize_all(&jacobians);
    let mut out = [AffinePoint::IDENTITY; N];
    for (slot, a) in out.iter_mut().zip(affine) {
        *slot = a.to_sm2()?;
    }
    Some(out)
}

/// A comb for several constant-time multiplications of one point `P`: the 15 points
/// `Σ bᵢ·2⁶⁴ⁱ·P` for the non-zero 4-bit `b` (192 doublings and 11 additions to build, one
/// inversion), after which each `k·P` costs 63 doublings and 64 mixed additions instead of
/// 256 and 65 (the device's co-decryption multiplies `C1` by three secrets).
///
/// Column `j` of `k` (bit `j` of each 64-bit limb) selects an entry, read by mask over all 15.
/// No exceptional case for `k < n`: before the addition at column `j` the accumulator is
/// `2A·P` and the entry `T·P`, where `2A + T` and `2A − T` are integers of absolute value
/// below `k/2ʲ < n` built from the bits of `k`, so `2A ≡ ±T (mod n)` only when both are 0 (the
/// identity, handled by mask). The flag is still computed and honoured.
pub(crate) struct Comb {
    table: [Affine; 15],
    base: AffinePoint,
}

impl Comb {
    /// `None` for the identity.
    pub(crate) fn new(p: &AffinePoint) -> Option<Comb> {
        let a = Affine::from_sm2(p)?;
        let mut teeth = [a.to_jacobian(); 4];
        for i in 1..4 {
            let mut t = teeth[i - 1];
            for _ in 0..64 {
                t = t.double();
            }
            teeth[i] = t;
        }
        let mut points = [Jacobian::identity(); 15];
        for idx in 1..16usize {
            let high = (usize::BITS - 1 - idx.leading_zeros()) as usize;
            let rest = idx ^ (1 << high);
            points[idx - 1] = if rest == 0 {
                teeth[high]
            } else {
                // Distinct multiples below n: never exceptional.
                points[rest - 1].add(&teeth[high]).0
            };
        }
        let all = normalize_all(&points);
        Some(Comb {
            table: core::array::from_fn(|j| all[j]),
            base: *p,
        })
    }

    /// `k·P`, constant time in `k`, not yet affine.
    pub(crate) fn mul(&self, k: &Scalar) -> Pending {
        let limbs = scalar_limbs(k);
        let mut acc = Jacobian::identity();
        let mut exceptional = Choice::from(0);
        for j in (0..64).rev() {
            acc = acc.double();
            let idx = limbs
                .iter()
                .enumerate()
                .fold(0u64, |b, (i, limb)| b | ((limb >> j) & 1) << i);
            let (point, zero) = select(&self.table, idx as i8);
            let (sum, exc) = acc.add_affine(&point);
            exceptional |= exc & !zero;
            acc.conditional_assign(&sum, !zero);
        }
        Pending {
            acc,
            exceptional,
            base: Some(self.base),
            k: *k,
        }
    }
}

/// The scalar as four little-endian 64-bit limbs.
fn scalar_limbs(k: &Scalar) -> [u64; 4] {
    let bytes = k.to_repr();
    core::array::from_fn(|i| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[32 - 8 * (i + 1)..32 - 8 * i]);
        u64::from_be_bytes(b)
    })
}

/// The x-coordinate (big-endian) of `k·P + l·G`, constant time in `k` and `l`: what the
/// co-signing server needs, without `y` or re-encoding the point. `None` for the identity.
pub(crate) fn lincomb_x(p: &AffinePoint, k: &Scalar, l: &Scalar) -> Option<[u8; 32]> {
    let Some(a) = Affine::from_sm2(p) else {
        return mul_base_x(l);
    };
    let (kp, e1) = mul_point_jacobian(&a, k);
    let (lg, e2) = mul_base_jacobian(l);
    let (sum, e3) = kp.add(&lg);
    if bool::from(e1 | e2 | e3) {
        let slow = ProjectivePoint::from(*p) * k + ProjectivePoint::mul_by_generator(l);
        let sec1 = affine_or_none(slow)?.to_sec1_point(false);
        let mut x = [0u8; 32];
        x.copy_from_slice(sec1.as_bytes().get(1..33)?);
        return Some(x);
    }
    if bool::from(sum.is_identity()) {
        return None;
    }
    Some(sum.x.mul(&sum.z.invert().square()).to_be_bytes())
}

/// Width-`w` non-adjacent form of `k` (odd digits, |d| < 2^(w−1)), least significant first.
fn wnaf(k: &Scalar, w: u32) -> [i16; 257] {
    let bytes = k.to_repr();
    let mut limbs = [0u64; 5];
    for (i, limb) in limbs.iter_mut().take(4).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[32 - 8 * (i + 1)..32 - 8 * i]);
        *limb = u64::from_be_bytes(b);
    }
    let bit = |limbs: &[u64; 5], i: usize| (limbs[i / 64] >> (i % 64)) & 1;
    let mut out = [0i16; 257];
    let window = 1i64 << w;
    let mut i = 0;
    while i < 257 {
        if bit(&limbs, i) == 0 {
            i += 1;
            continue;
        }
        let mut v: i64 = 0;
        for j in 0..w as usize {
            if i + j < 320 {
                v |= (bit(&limbs, i + j) as i64) << j;
            }
        }
        if v >= window / 2 {
            v -= window;
        }
        out[i] = v as i16;
        // Subtract v·2^i from the scalar (add when negative), then move on.
        add_signed(&mut limbs, -v, i);
        i += w as usize;
    }
    out
}

fn add_signed(limbs: &mut [u64; 5], v: i64, shift: usize) {
    let mut addend = [0u64; 5];
    let mag = v.unsigned_abs() as u128;
    let (word, bits) = (shift / 64, shift % 64);
    let shifted = mag << bits;
    addend[word] = shifted as u64;
    if word + 1 < 5 {
        addend[word + 1] = (shifted >> 64) as u64;
    }
    if v >= 0 {
        let mut carry = 0u128;
        for (l, a) in limbs.iter_mut().zip(addend) {
            let s = *l as u128 + a as u128 + carry;
            *l = s as u64;
            carry = s >> 64;
        }
    } else {
        let mut borrow = 0i128;
        for (l, a) in limbs.iter_mut().zip(addend) {
            let d = *l as i128 - a as i128 - borrow;
            *l = d as u64;
            borrow = i128::from(d < 0);
        }
    }
}

/// `P, 3P, …, 15P` for the width-5 NAF.
fn odd_multiples(p: &Affine) -> Vec<Affine> {
    odd_multiples_n(p, 8)
}

/// `P, 3P, …, (2n−1)P` in affine form: Jacobian additions of `2P`, one inversion in all,
/// in variable time (`P` is public: a verification key, a proof's points, or `G`).
fn odd_multiples_n(p: &Affine, n: usize) -> Vec<Affine> {
    let p2 = p.to_jacobian().double();
    let mut odd = vec![p.to_jacobian(); n];
    for j in 1..n {
        // (2j+1)P = (2j−1)P + 2P: never exceptional for a point of prime order n ≫ 64.
        odd[j] = odd[j - 1].add(&p2).0;
    }
    normalize_all_vartime(&odd)
}

/// Width of the NAF of the generator's scalar in verification.
const BASE_W: u32 = 7;

/// `G, 3G, …, (2^(BASE_W−1) − 1)G` for the generator's scalar in verification.
static BASE_ODD: LazyLock<Vec<Affine>> = LazyLock::new(|| {
    let g = Affine::from_sm2(&AffinePoint::GENERATOR)
        .unwrap_or_else(|| unreachable!("the generator is not the identity"));
    odd_multiples_n(&g, 1 << (BASE_W - 2))
});

/// Straus's interleaving: `Σ bᵢ·Pᵢ` with one chain of doublings for all terms.
fn straus_vartime(terms: &[([i16; 257], &[Affine])]) -> Jacobian {
    let mut acc = Jacobian::identity();
    let top = terms
        .iter()
        .filter_map(|(digits, _)| digits.iter().rposition(|&d| d != 0))
        .max();
    let Some(top) = top else {
        return acc;
    };
    for i in (0..=top).rev() {
        acc = acc.double();
        for (digits, odd) in terms {
            let d = digits[i];
            if d > 0 {
                acc = acc.add_affine_vartime(&odd[(d / 2) as usize]);
            } else if d < 0 {
                acc = acc.add_affine_vartime(&odd[(-d / 2) as usize].neg());
            }
        }
    }
    acc
}

/// `a·G + b·P` in Jacobian form, variable time: width-`BASE_W` NAF over a static table for `G`,
/// width-5 for `P`, one chain of doublings.
fn base_add_vartime_jacobian(a: &Scalar, b: &Scalar, p: &AffinePoint) -> Jacobian {
    let Some(p) = Affine::from_sm2(p) else {
        return straus_vartime(&[(wnaf(a, BASE_W), &BASE_ODD)]);
    };
    let odd = odd_multiples(&p);
    straus_vartime(&[(wnaf(a, BASE_W), &BASE_ODD), (wnaf(b, 5), &odd)])
}

/// `a·G + b·P` in variable time: only for public `a`, `b`, `P`. The tests' reference.
#[cfg(test)]
pub(crate) fn mul_base_add_vartime(a: &Scalar, b: &Scalar, p: &AffinePoint) -> Option<AffinePoint> {
    base_add_vartime_jacobian(a, b, p)
        .to_affine_vartime()
        .and_then(Affine::to_sm2)
}

/// n, the group order, and p − n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x72, 0x03, 0xdf, 0x6b, 0x21, 0xc6, 0x05, 0x2b, 0x53, 0xbb, 0xf4, 0x09, 0x39, 0xd5, 0x41, 0x23,
];
const P_MINUS_ORDER: [u8; 32] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x8d, 0xfc, 0x20, 0x93, 0xde, 0x39, 0xfa, 0xd5,
    0xac, 0x44, 0x0b, 0xf6, 0xc6, 0x2a, 0xbe, 0xdc,
];

/// Whether `(a·G + b·P).x mod n = t`, in variable time and without an inversion: the
/// x-coordinate is `X/Z²`, so compare `X` with `t·Z²` (and `(t + n)·Z²` when `t + n < p`).
/// Public data only (signature verification).
pub(crate) fn verify_x_vartime(a: &Scalar, b: &Scalar, p: &AffinePoint, t: &Scalar) -> bool {
    let acc = base_add_vartime_jacobian(a, b, p);
    if bool::from(acc.is_identity()) {
        return false;
    }
    let z2 = acc.z.square();
    let t_bytes: [u8; 32] = t.to_repr().into();
    if acc.x == Fe::from_be_bytes(&t_bytes).mul(&z2) {
        return true;
    }
    // t + n < p ⟺ t < p − n (big-endian byte order compares as integers).
    if t_bytes < P_MINUS_ORDER {
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let v = u16::from(t_bytes[i]) + u16::from(ORDER[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        return acc.x == Fe::from_be_bytes(&sum).mul(&z2);
    }
    false
}

/// `a·P + b·Q` in Jacobian form, variable time.
fn lincomb_vartime_jacobian(a: &Scalar, p: &AffinePoint, b: &Scalar, q: &AffinePoint) -> Jacobian {
    if p == &AffinePoint::GENERATOR {
        return base_add_vartime_jacobian(a, b, q);
    }
    if q == &AffinePoint::GENERATOR {
        return base_add_vartime_jacobian(b, a, p);
    }
    let tables: Vec<([i16; 257], Vec<Affine>)> = [(a, p), (b, q)]
        .into_iter()
        .filter_map(|(k, pt)| Affine::from_sm2(pt).map(|pt| (wnaf(k, 5), odd_multiples(&pt))))
        .collect();
    let terms: Vec<([i16; 257], &[Affine])> = tables.iter().map(|(d, t)| (*d, &t[..])).collect();
    straus_vartime(&terms)
}

/// `aᵢ·Pᵢ + bᵢ·Qᵢ` for every `(aᵢ, Pᵢ, bᵢ, Qᵢ)` in variable time, made affine with one
/// inversion: public scalars and points only (a proof check's commitments). `None` if any
/// of them is the identity.
pub(crate) fn lincomb_vartime_batch(
    terms: &[(Scalar, &AffinePoint, Scalar, &AffinePoint)],
) -> Option<Vec<AffinePoint>> {
    let sums: Vec<Jacobian> = terms
        .iter()
        .map(|(a, p, b, q)| lincomb_vartime_jacobian(a, p, b, q))
        .collect();
    if sums.iter().any(|s| bool::from(s.is_identity())) {
        return None;
    }
    normalize_all_vartime(&sums)
        .into_iter()
        .map(Affine::to_sm2)
        .collect()
}

/// `a·P + b·Q` in variable time: only for public scalars and points (proof checks).
#[cfg(test)]
pub(crate) fn lincomb_vartime(
    a: &Scalar,
    p: &AffinePoint,
    b: &Scalar,
    q: &AffinePoint,
) -> Option<AffinePoint> {
    lincomb_vartime_jacobian(a, p, b, q)
        .to_affine_vartime()
        .and_then(Affine::to_sm2)
}

/// The `sm2` crate's projective form, for code written against it.
fn projective(p: Option<AffinePoint>) -> ProjectivePoint {
    p.map(ProjectivePoint::from)
        .unwrap_or(ProjectivePoint::IDENTITY)
}

/// [`mul_base`] as a projective point (the identity for `k = 0`).
pub(crate) fn mul_g(k: &Scalar) -> ProjectivePoint {
    projective(mul_base(k))
}

/// `k·P` in constant time in `k`, projective out.
pub(crate) fn mul_affine(p: &AffinePoint, k: &Scalar) -> ProjectivePoint {
    if p == &AffinePoint::GENERATOR {
        return mul_g(k);
    }
    projective(mul_point(p, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sm2::random_nonzero_scalar;

    fn affine(p: ProjectivePoint) -> Option<AffinePoint> {
        (!bool::from(p.is_identity())).then(|| p.to_affine())
    }

    fn edge_scalars() -> Vec<Scalar> {
        let n_minus = |j: u64| -Scalar::from(j);
        let mut out = vec![
            Scalar::ZERO,
            Scalar::ONE,
            Scalar::from(2u64),
            Scalar::from(8u64),
        ];
        out.extend((1..=40).map(n_minus));
        out.extend((0..20).map(|_| random_nonzero_scalar()));
        out
    }

    #[test]
    fn constant_time_multiplications_agree_with_the_sm2_crate() {
        let p = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
        for k in edge_scalars() {
            let want_g = affine(ProjectivePoint::mul_by_generator(&k));
            assert_eq!(mul_base(&k), want_g, "k·G");
            let want_x = want_g.map(|p| {
                let x: [u8; 32] = sm2::elliptic_curve::point::AffineCoordinates::x(&p).into();
                x
            });
            assert_eq!(mul_base_x(&k), want_x, "x of k·G");
            let want_p = affine(ProjectivePoint::from(p) * k);
            assert_eq!(mul_point(&p, &k), want_p, "k·P");
            let l = random_nonzero_scalar();
            let want = affine(ProjectivePoint::from(p) * k + ProjectivePoint::mul_by_generator(&l));
            assert_eq!(lincomb(&p, &k, &l), want, "k·P + l·G");
            let want_x = want.map(|p| {
                let x: [u8; 32] = sm2::elliptic_curve::point::AffineCoordinates::x(&p).into();
                x
            });
            assert_eq!(lincomb_x(&p, &k, &l), want_x, "x of k·P + l·G");
            assert_eq!(lincomb_x(&AffinePoint::GENERATOR, &k, &-k), None);
            // l = −k with P = G sums to the identity.
            assert_eq!(lincomb(&AffinePoint::GENERATOR, &k, &-k), None);
        }
    }

    #[test]
    fn comb_and_batched_affine_agree_with_the_sm2_crate() {
        let p = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
        let comb = Comb::new(&p).expect("not the identity");
        let g_comb = Comb::new(&AffinePoint::GENERATOR).expect("G");
        assert!(Comb::new(&AffinePoint::IDENTITY).is_none());
        let mut scalars = edge_scalars();
        // Single bits in each limb and all-ones columns exercise every comb entry.
        let two64 = Scalar::from(u64::MAX) + Scalar::ONE;
        let mut shift = Scalar::ONE;
        for _ in 0..4 {
            scalars.push(Scalar::from(1u64 << 63) * shift);
            scalars.push(Scalar::from(u64::MAX) * shift);
            shift *= two64;
        }
        scalars.push(Scalar::from(u64::MAX));
        let l = random_nonzero_scalar();
        for k in scalars {
            let want_p = affine(ProjectivePoint::from(p) * k);
            let want_g = affine(ProjectivePoint::mul_by_generator(&k));
            let want_l = affine(ProjectivePoint::mul_by_generator(&l));
            let (a, b, c) = (comb.mul(&k), g_comb.mul(&k), mul_base_pending(&l));
            let got = to_affine_batch([&a, &b, &c]);
            match (want_p, want_g, want_l) {
                (Some(wp), Some(wg), Some(wl)) => assert_eq!(got, Some([wp, wg, wl])),
                _ => assert_eq!(got, None, "the identity is refused"),
            }
            assert_eq!(to_affine_batch([&comb.mul(&k)]), want_p.map(|w| [w]));
            assert_eq!(
                to_affine_batch([&mul_base_pending(&k)]),
                want_g.map(|w| [w])
            );
        }
    }

    /// A flagged exceptional case is finished by the complete formulas, also in a batch.
    #[test]
    fn batched_affine_honours_the_exceptional_flag() {
        let p = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
        let k = random_nonzero_scalar();
        let comb = Comb::new(&p).expect("not the identity");
        let mut wrong = comb.mul(&k);
        wrong.acc = Jacobian::identity().double(); // garbage that only the flag can undo
        wrong.acc.z = Fe::one();
        wrong.exceptional = Choice::from(1);
        let fine = mul_base_pending(&k);
        let want = [
            affine(ProjectivePoint::from(p) * k).expect("point"),
            affine(ProjectivePoint::mul_by_generator(&k)).expect("point"),
        ];
        assert_eq!(to_affine_batch([&wrong, &fine]), Some(want));
    }

    #[test]
    fn variable_time_combination_agrees_with_the_sm2_crate() {
        let p = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
        let scalars = edge_scalars();
        for (a, b) in scalars.iter().zip(scalars.iter().rev()) {
            let want = affine(ProjectivePoint::mul_by_generator(a) + ProjectivePoint::from(p) * b);
            assert_eq!(mul_base_add_vartime(a, b, &p), want);
            // P = G exercises the doubling and cancelling branches of the addition.
            let want_g = affine(ProjectivePoint::mul_by_generator(&(*a + b)));
            assert_eq!(mul_base_add_vartime(a, b, &AffinePoint::GENERATOR), want_g);
            // Two arbitrary points, and the projective adapters.
            let q = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
            let want2 = affine(ProjectivePoint::from(p) * a + ProjectivePoint::from(q) * b);
            assert_eq!(lincomb_vartime(a, &p, b, &q), want2);
            let batch = lincomb_vartime_batch(&[(*a, &p, *b, &q), (*b, &q, *a, &p)]);
            assert_eq!(batch, want2.map(|w| vec![w, w]));
            let with_g =
                lincomb_vartime_batch(&[(*a, &p, *b, &q), (*a, &AffinePoint::GENERATOR, *b, &p)]);
            let want_gp =
                affine(ProjectivePoint::mul_by_generator(a) + ProjectivePoint::from(p) * b);
            assert_eq!(with_g, want2.zip(want_gp).map(|(x, y)| vec![x, y]));
            let pp = ProjectivePoint::from(p);
            assert_eq!(affine(mul_affine(&p, a)), affine(pp * a));
            assert_eq!(mul_any(&p, a), affine(pp * a));
            assert_eq!(mul_any(&AffinePoint::GENERATOR, a), want_g_a(a));
            assert_eq!(
                mul_sub(&p, a, &q),
                affine(pp * a - ProjectivePoint::from(q))
            );
            assert_eq!(
                affine(mul_g(b)),
                affine(ProjectivePoint::mul_by_generator(b))
            );
        }
    }

    #[test]
    fn recodings_reconstruct_the_scalar() {
        for k in edge_scalars() {
            let digits = signed_radix32(&k);
            let mut acc = Scalar::ZERO;
            for &d in digits.iter().rev() {
                acc = acc * Scalar::from(32u64) + signed(d);
                assert!((-16..=15).contains(&d));
            }
            assert_eq!(acc, k);
            for w in [5, BASE_W] {
                let naf = wnaf(&k, w);
                let mut acc = Scalar::ZERO;
                for &d in naf.iter().rev() {
                    acc = acc.double() + signed(d);
                    assert!(d == 0 || (d % 2 != 0 && d.abs() < 1 << (w - 1)));
                }
                assert_eq!(acc, k);
            }
        }
    }

    /// Both branches of the inversion-free x check, including a point whose x lies in
    /// [n, p) (so x mod n = x − n), found by trying x = n, n + 1, … for a curve point.
    #[test]
    fn x_check_without_inversion() {
        let p = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
        let (a, b) = (random_nonzero_scalar(), random_nonzero_scalar());
        let r = mul_base_add_vartime(&a, &b, &p).expect("not the identity");
        let x = <Scalar as sm2::elliptic_curve::ops::Reduce<sm2::FieldBytes>>::reduce(
            &sm2::elliptic_curve::point::AffineCoordinates::x(&r),
        );
        assert!(verify_x_vartime(&a, &b, &p, &x));
        assert!(!verify_x_vartime(&a, &b, &p, &(x + Scalar::ONE)));
        let mut x_big = ORDER;
        let high = loop {
            let mut sec1 = [0u8; 33];
            sec1[0] = 2;
            sec1[1..].copy_from_slice(&x_big);
            if let Ok(key) = crate::sm2::Sm2PublicKey::from_sec1(&sec1) {
                break *key.as_affine();
            }
            x_big[31] += 1;
        };
        let offset = Scalar::from(u64::from(x_big[31] - ORDER[31]));
        assert!(verify_x_vartime(
            &Scalar::ZERO,
            &Scalar::ONE,
            &high,
            &offset
        ));
        assert!(!verify_x_vartime(
            &Scalar::ZERO,
            &Scalar::ONE,
            &high,
            &(offset + Scalar::ONE)
        ));
    }

    /// Per-operation on-CPU time of the point routines, for A/B runs of field code:
    /// `cargo test --release -p bidkey-crypto --lib curve::tests::speed -- --ignored
    /// --nocapture` (crypto-bench is the reference; this builds in a minute).
    #[test]
    #[ignore = "a measurement, not a test"]
    fn speed() {
        use crate::measure::cpu_ns;
        let key = crate::sm2::Sm2PrivateKey::make_random().expect("key");
        let sig = key.sign(crate::sm2::DEFAULT_ID, b"msg").expect("sign");
        let public = *key.public_key();
        let p = *public.as_affine();
        let (a, b) = (random_nonzero_scalar(), random_nonzero_scalar());
        const N: u32 = 2000;
        let time = |name: &str, f: &mut dyn FnMut()| {
            let t = cpu_ns();
            for _ in 0..N {
                f();
            }
            println!(
                "{name:<28} {:8.1} us",
                (cpu_ns() - t) / f64::from(N) / 1000.0
            );
        };
        for _ in 0..2 {
            time("mul_base (k·G)", &mut || {
                std::hint::black_box(mul_base(&a));
            });
            time("mul_point (k·P)", &mut || {
                std::hint::black_box(mul_point(&p, &a));
            });
            time("mul_base_add_vartime", &mut || {
                std::hint::black_box(mul_base_add_vartime(&a, &b, &p));
            });
            time("lincomb_vartime", &mut || {
                std::hint::black_box(lincomb_vartime(&a, &p, &b, &p));
            });
            time("sm2 sign", &mut || {
                std::hint::black_box(key.sign(crate::sm2::DEFAULT_ID, b"msg").expect("sign"));
            });
            time("sm2 verify", &mut || {
                crate::sm2::verify(&public, crate::sm2::DEFAULT_ID, b"msg", &sig).expect("ok");
            });
        }
    }

    fn want_g_a(a: &Scalar) -> Option<AffinePoint> {
        affine(ProjectivePoint::mul_by_generator(a))
    }

    fn signed(d: impl Into<i16>) -> Scalar {
        let d: i16 = d.into();
        let s = Scalar::from(d.unsigned_abs() as u64);
        if d < 0 { -s } else { s }
    }
}
