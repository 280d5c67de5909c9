//! Non-interactive proofs of knowledge of a discrete logarithm (Schnorr) and of equality of
//! two discrete logarithms (Chaum–Pedersen), made non-interactive with Fiat–Shamir over SM3.
//!
//! Both are one construction: the prover knows `x` with `Xᵢ = x·Bᵢ` for every pair
//! `(Bᵢ, Xᵢ)` of the statement (one pair for Schnorr, two for Chaum–Pedersen). The proof is
//! `(c, z)` with `Aᵢ = a·Bᵢ`, `c = SM3(transcript) mod n`, `z = a + c·x`; the verifier
//! recomputes `Aᵢ = z·Bᵢ − c·Xᵢ` and the hash.
//!
//! The transcript hashes, each length-prefixed so no two inputs collide by concatenation:
//! the domain tag, every base, statement point and commitment, then every context field.
//! The context carries the session id and the message the proof authorises, so a proof
//! cannot be replayed in another session or attached to another request.

use super::wire::{SCALAR_LEN, read_scalar, split, write_affine, write_scalar};
use crate::error::{Error, Result};
use crate::sm2::{curve, digest_scalar, random_nonzero_scalar};
use sm2::{AffinePoint, Scalar};
use sm3::{Digest, Sm3};
use zeroize::Zeroize;

/// Encoded length of a [`Proof`]: `c ‖ z`.
pub const PROOF_LEN: usize = 2 * SCALAR_LEN;

/// A Fiat–Shamir proof `(c, z)`; public data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Proof {
    c: Scalar,
    z: Scalar,
}

impl Proof {
    /// `c ‖ z`, 64 bytes.
    pub fn to_bytes(&self) -> [u8; PROOF_LEN] {
        let mut out = [0u8; PROOF_LEN];
        out[..SCALAR_LEN].copy_from_slice(&write_scalar(&self.c));
        out[SCALAR_LEN..].copy_from_slice(&write_scalar(&self.z));
        out
    }

    /// Parse `c ‖ z`; both must be canonical and non-zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [c, z] = split(bytes, [SCALAR_LEN, SCALAR_LEN], "proof")?;
        Ok(Self {
            c: read_scalar(c)?,
            z: read_scalar(z)?,
        })
    }
}

/// One `(base, statement)` pair: the prover claims `statement = x·base`.
pub(crate) type Pair<'a> = (&'a AffinePoint, &'a AffinePoint);

fn absorb(h: &mut Sm3, bytes: &[u8]) {
    // Lengths are bounded by the callers (session ids are capped), so u32 never truncates.
    h.update((bytes.len() as u32).to_be_bytes());
    h.update(bytes);
}

fn challenge(
    tag: &[u8],
    pairs: &[Pair<'_>],
    commitments: &[AffinePoint],
    context: &[&[u8]],
) -> Result<Scalar> {
    let points: Vec<AffinePoint> = pairs
        .iter()
        .zip(commitments)
        .flat_map(|((base, stmt), commit)| [**base, **stmt, *commit])
        .collect();
    let mut h = Sm3::new();
    absorb(&mut h, tag);
    for p in &points {
        absorb(&mut h, &write_affine(p)?);
    }
    for field in context {
        absorb(&mut h, field);
    }
    Ok(digest_scalar(&h.finalize().into()))
}

/// Prove knowledge of `x` with `Xᵢ = x·Bᵢ` for every pair.
pub(crate) fn prove(
    tag: &[u8],
    x: &Scalar,
    pairs: &[Pair<'_>],
    context: &[&[u8]],
) -> Result<Proof> {
    loop {
        let mut a = random_nonzero_scalar();
        let commitments: Option<Vec<AffinePoint>> =
            pairs.iter().map(|(b, _)| curve::mul_any(b, &a)).collect();
        let c = commitments
            .ok_or(Error::InvalidPoint)
            .and_then(|commitments| challenge(tag, pairs, &commitments, context));
        let z = c.map(|c| (c, a + c * x));
        a.zeroize();
        let (c, z) = z?;
        // A zero c or z cannot be encoded; probability 2⁻²⁵⁵, so just draw again.
        if !bool::from(c.is_zero() | z.is_zero()) {
            return Ok(Proof { c, z });
        }
    }
}

/// [`prove`] with the nonce `a` and the commitments `Aᵢ = a·Bᵢ` computed by the caller, so
/// that they become affine together with the statement's points (one field inversion for
/// all). The caller guarantees `commitments[i] = a·pairs[i].0`. In the case `c = 0` or
/// `z = 0` (probability 2⁻²⁵⁵) it draws afresh through [`prove`].
pub(crate) fn prove_with_nonce(
    tag: &[u8],
    x: &Scalar,
    a: &Scalar,
    pairs: &[Pair<'_>],
    commitments: &[AffinePoint],
    context: &[&[u8]],
) -> Result<Proof> {
    let c = challenge(tag, pairs, commitments, context)?;
    let z = *a + c * x;
    if bool::from(c.is_zero() | z.is_zero()) {
        return prove(tag, x, pairs, context);
    }
    Ok(Proof { c, z })
}

/// Check a proof made by [`prove`] with the same tag, statement and context.
pub(crate) fn verify(
    tag: &[u8],
    pairs: &[Pair<'_>],
    context: &[&[u8]],
    proof: &Proof,
) -> Result<()> {
    let mut terms = Vec::with_capacity(pairs.len());
    for (base, stmt) in pairs {
        if bool::from(base.is_identity() | stmt.is_identity()) {
            return Err(Error::BadProof);
        }
        terms.push((proof.z, *base, -proof.c, *stmt));
    }
    // Proofs are public: variable-time arithmetic is safe here; all commitments become
    // affine with one inversion.
    let commitments = curve::lincomb_vartime_batch(&terms).ok_or(Error::BadProof)?;
    match challenge(tag, pairs, &commitments, context) {
        Ok(c) if c == proof.c => Ok(()),
        _ => Err(Error::BadProof),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &[u8] = b"test/tag";

    use sm2::ProjectivePoint;

    fn statement() -> (Scalar, AffinePoint) {
        let x = random_nonzero_scalar();
        (x, (ProjectivePoint::GENERATOR * x).to_affine())
    }

    #[test]
    fn schnorr_round_trip_and_binding() {
        let g = AffinePoint::GENERATOR;
        let (x, big_x) = statement();
        let proof = prove(TAG, &x, &[(&g, &big_x)], &[b"session"]).expect("prove");
        let parsed = Proof::from_bytes(&proof.to_bytes()).expect("parse");
        assert_eq!(verify(TAG, &[(&g, &big_x)], &[b"session"], &parsed), Ok(()));

        let (_, other) = statement();
        let bad = Err(Error::BadProof);
        assert_eq!(verify(TAG, &[(&g, &other)], &[b"session"], &proof), bad);
        assert_eq!(verify(TAG, &[(&g, &big_x)], &[b"other"], &proof), bad);
        assert_eq!(
            verify(b"test/tag2", &[(&g, &big_x)], &[b"session"], &proof),
            bad
        );
        // Moving bytes between context fields changes the transcript.
        assert_eq!(
            verify(TAG, &[(&g, &big_x)], &[b"sess", b"ion"], &proof),
            bad
        );
    }

    #[test]
    fn dleq_requires_the_same_logarithm() {
        let g = AffinePoint::GENERATOR;
        let (x, big_x) = statement();
        let h = (ProjectivePoint::GENERATOR * random_nonzero_scalar()).to_affine();
        let y = (ProjectivePoint::from(h) * x).to_affine();
        let proof = prove(TAG, &x, &[(&g, &big_x), (&h, &y)], &[]).expect("prove");
        assert_eq!(verify(TAG, &[(&g, &big_x), (&h, &y)], &[], &proof), Ok(()));
        let y_wrong = (ProjectivePoint::from(h) * (x + Scalar::ONE)).to_affine();
        assert_eq!(
            verify(TAG, &[(&g, &big_x), (&h, &y_wrong)], &[], &proof),
            Err(Error::BadProof)
        );
        // A prover that does not know a common logarithm cannot make a proof that passes.
        let forged = prove(TAG, &x, &[(&g, &big_x), (&h, &y_wrong)], &[]).expect("prove");
        assert_eq!(
            verify(TAG, &[(&g, &big_x), (&h, &y_wrong)], &[], &forged),
            Err(Error::BadProof)
        );
    }

    #[test]
    fn tampered_and_zero_proofs_are_rejected() {
        let g = AffinePoint::GENERATOR;
        let (x, big_x) = statement();
        let proof = prove(TAG, &x, &[(&g, &big_x)], &[]).expect("prove");
        let mut bytes = proof.to_bytes();
        bytes[63] ^= 0x01;
        let tampered = Proof::from_bytes(&bytes).expect("still canonical");
        assert_eq!(
            verify(TAG, &[(&g, &big_x)], &[], &tampered),
            Err(Error::BadProof)
        );
        assert_eq!(Proof::from_bytes(&[0u8; 64]), Err(Error::InvalidScalar));
        assert!(Proof::from_bytes(&[1u8; 63]).is_err());
        // The identity as statement is refused outright.
        let id = AffinePoint::IDENTITY;
        assert_eq!(verify(TAG, &[(&g, &id)], &[], &proof), Err(Error::BadProof));
    }
}
