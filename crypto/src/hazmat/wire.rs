//! Fixed-length encodings of the protocol messages and the checks every received value
//! passes.
//!
//! A point is 65 bytes `04 ‖ x ‖ y` (uncompressed SEC1): one length for every message keeps
//! parsing trivial and leaves no room for alternative encodings of the same value. A scalar
//! is 32 bytes big-endian, canonical (below n) and never zero: a zero share, nonce or
//! response is either a bug or an attack.

use crate::error::{Error, Result};
use crate::sm2::{Sm2PublicKey, scalar_from_bytes};
use sm2::elliptic_curve::PrimeField;
use sm2::{ProjectivePoint, Scalar};

/// Encoded length of a curve point.
pub const POINT_LEN: usize = 65;
/// Encoded length of a scalar.
pub const SCALAR_LEN: usize = 32;

/// Shortest session id accepted: long enough that a server-chosen random id never repeats.
pub const MIN_SESSION_ID_LEN: usize = 16;
/// Longest session id accepted, to bound hashing work on hostile input.
pub const MAX_SESSION_ID_LEN: usize = 256;

pub(crate) fn check_session_id(session_id: &[u8]) -> Result<()> {
    if (MIN_SESSION_ID_LEN..=MAX_SESSION_ID_LEN).contains(&session_id.len()) {
        Ok(())
    } else {
        Err(Error::InvalidLength("session id"))
    }
}

/// Parse a received point: exactly 65 bytes, on the curve, not the identity.
// Unused since the arithmetic went affine (ADR 0008); kept for code built on hazmat.
#[allow(dead_code)]
pub(crate) fn read_point(bytes: &[u8]) -> Result<ProjectivePoint> {
    Ok(read_key(bytes)?.to_projective())
}

/// Parse a received point as a key: exactly 65 bytes, on the curve, not the identity.
pub(crate) fn read_key(bytes: &[u8]) -> Result<Sm2PublicKey> {
    if bytes.len() != POINT_LEN || bytes[0] != 4 {
        return Err(Error::InvalidPoint);
    }
    Sm2PublicKey::from_sec1(bytes)
}

/// Concatenate fixed-length fields into a message; the lengths are the caller's constants.
pub(crate) fn join<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    for part in parts {
        let end = (at + part.len()).min(N);
        out[at..end].copy_from_slice(&part[..end - at]);
        at = end;
    }
    debug_assert_eq!(at, N, "message fields do not fill the message");
    out
}

/// Encode a point; the identity has no encoding and is refused.
// Unused since the arithmetic went affine (ADR 0008); kept for code built on hazmat.
#[allow(dead_code)]
pub(crate) fn write_point(point: &ProjectivePoint) -> Result<[u8; POINT_LEN]> {
    let sec1 = Sm2PublicKey::from_point(point)?.to_sec1();
    sec1.try_into().map_err(|_| Error::InvalidPoint)
}

/// [`write_point`] of several points with one field inversion for all of them (Montgomery's
/// trick) instead of one each; the same bytes.
// Unused since the arithmetic went affine (ADR 0008); kept for code built on hazmat.
#[allow(dead_code)]
pub(crate) fn write_points(points: &[ProjectivePoint]) -> Result<Vec<[u8; POINT_LEN]>> {
    use sm2::elliptic_curve::group::Curve;
    use sm2::elliptic_curve::sec1::ToSec1Point;
    let mut affine = vec![sm2::AffinePoint::IDENTITY; points.len()];
    ProjectivePoint::batch_normalize(points, &mut affine);
    affine
        .iter()
        .map(|a| {
            let sec1 = sm2::PublicKey::from_affine(*a)
                .map_err(|_| Error::InvalidPoint)?
                .to_sec1_point(false);
            sec1.as_bytes().try_into().map_err(|_| Error::InvalidPoint)
        })
        .collect()
}

/// Encode an affine point (no inversion needed); the identity is refused.
pub(crate) fn write_affine(point: &sm2::AffinePoint) -> Result<[u8; POINT_LEN]> {
    Sm2PublicKey::from_affine(*point)?
        .to_sec1()
        .try_into()
        .map_err(|_| Error::InvalidPoint)
}

/// Parse a received scalar: canonical and non-zero.
pub(crate) fn read_scalar(bytes: &[u8]) -> Result<Scalar> {
    let s = scalar_from_bytes(bytes)?;
    if bool::from(s.is_zero()) {
        return Err(Error::InvalidScalar);
    }
    Ok(s)
}

pub(crate) fn write_scalar(s: &Scalar) -> [u8; SCALAR_LEN] {
    s.to_repr().into()
}

/// Refuse the identity for points computed locally from received values.
// Unused since the arithmetic went affine (ADR 0008); kept for code built on hazmat.
#[allow(dead_code)]
pub(crate) fn nonzero_point(point: ProjectivePoint) -> Result<ProjectivePoint> {
    use sm2::elliptic_curve::Group;
    if bool::from(point.is_identity()) {
        Err(Error::InvalidPoint)
    } else {
        Ok(point)
    }
}

pub(crate) fn invert(s: &Scalar) -> Result<Scalar> {
    crate::sm2::invert_scalar(s).ok_or(Error::InvalidScalar)
}

/// Split `bytes` into consecutive fields of the given lengths; the total must match exactly.
pub(crate) fn split<'a, const N: usize>(
    bytes: &'a [u8],
    lens: [usize; N],
    what: &'static str,
) -> Result<[&'a [u8]; N]> {
    if bytes.len() != lens.iter().sum::<usize>() {
        return Err(Error::InvalidLength(what));
    }
    let mut out = [&bytes[..0]; N];
    let mut rest = bytes;
    for (slot, len) in out.iter_mut().zip(lens) {
        let (head, tail) = rest.split_at(len);
        *slot = head;
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_must_be_uncompressed_on_curve_and_not_identity() {
        let g = write_point(&ProjectivePoint::GENERATOR).expect("G encodes");
        assert_eq!(
            read_point(&g).expect("G parses"),
            ProjectivePoint::GENERATOR
        );
        let mut off = g;
        off[64] ^= 1;
        assert_eq!(read_point(&off), Err(Error::InvalidPoint));
        assert_eq!(read_point(&[0u8; 65]), Err(Error::InvalidPoint));
        assert_eq!(read_point(&g[..33]), Err(Error::InvalidPoint));
        assert_eq!(
            write_point(&ProjectivePoint::IDENTITY),
            Err(Error::InvalidPoint)
        );
    }

    #[test]
    fn points_written_together_are_the_bytes_written_one_by_one() {
        let points: Vec<ProjectivePoint> = (1..=7u64)
            .map(|k| {
                ProjectivePoint::GENERATOR * Scalar::from(k) * crate::sm2::random_nonzero_scalar()
            })
            .collect();
        let together = write_points(&points).expect("encode");
        for (p, bytes) in points.iter().zip(&together) {
            assert_eq!(&write_point(p).expect("encode"), bytes);
        }
        let with_identity = [ProjectivePoint::GENERATOR, ProjectivePoint::IDENTITY];
        assert_eq!(write_points(&with_identity), Err(Error::InvalidPoint));
    }

    #[test]
    fn scalars_must_be_canonical_and_non_zero() {
        assert_eq!(read_scalar(&[0u8; 32]), Err(Error::InvalidScalar));
        assert_eq!(read_scalar(&[0xffu8; 32]), Err(Error::InvalidScalar));
        assert!(read_scalar(&[0u8; 31]).is_err());
        let one = read_scalar(&write_scalar(&Scalar::ONE)).expect("one");
        assert_eq!(one, Scalar::ONE);
    }

    #[test]
    fn split_requires_exact_length() {
        let [a, b] = split(&[1, 2, 3], [1, 2], "x").expect("fits");
        assert_eq!((a, b), (&[1u8][..], &[2u8, 3][..]));
        assert!(split(&[1, 2, 3, 4], [1, 2], "x").is_err());
        assert!(split(&[1, 2], [1, 2], "x").is_err());
    }
}
