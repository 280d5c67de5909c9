//! Shamir secret sharing over GF(2⁸) (the AES field, x⁸ + x⁴ + x³ + x + 1), byte by byte:
//! a secret of any length is split into `n` shares of which any `k` give it back and any
//! `k − 1` say nothing about it (each byte's polynomial has `k − 1` uniformly random
//! coefficients). Used for k-of-n opening of a bid-file key (issue 17): each share is wrapped
//! to one staff member, any `k` of them together open the bid.
//!
//! Field arithmetic is branch-free and table-free (no secret-dependent memory access or
//! branches), so the time taken does not depend on the secret or the coefficients.
//! Shares, coefficients and the recovered secret are zeroized when dropped.
//!
//! A share alone does not say whether it is genuine: combining a changed share gives a wrong
//! secret, which the caller detects with a commitment to the secret (a bid file's
//! `key_check`).

use crate::error::{Error, Result};
use crate::rng;
use zeroize::{Zeroize, Zeroizing};

/// At most 255 shares: x runs over the non-zero field elements.
pub const MAX_SHARES: u8 = 255;
/// Secrets of at most this many bytes (a file key is 16).
pub const MAX_SECRET_LEN: usize = 64;

/// One share: the point `x` (1..=255, public) and the polynomials' values there (secret).
#[derive(Clone, PartialEq, Eq, Zeroize)]
#[zeroize(drop)]
pub struct Share {
    pub x: u8,
    pub y: Vec<u8>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("x", &self.x)
            .finish_non_exhaustive()
    }
}

impl Share {
    /// `x ‖ y`: how a share is carried (e.g. inside a wrapped key).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1 + self.y.len()));
        out.push(self.x);
        out.extend_from_slice(&self.y);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.split_first() {
            Some((&x, y)) if x != 0 && !y.is_empty() && y.len() <= MAX_SECRET_LEN => {
                Ok(Share { x, y: y.to_vec() })
            }
            _ => Err(Error::Malformed { what: "share" }),
        }
    }
}

/// Multiply in GF(2⁸) modulo 0x11b, in constant time (8 rounds, masks instead of branches).
pub fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    for _ in 0..8 {
        p ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    p
}

/// The inverse in GF(2⁸) as `a²⁵⁴` (0 maps to 0), constant time.
pub fn gf_inv(a: u8) -> u8 {
    // a^254 = a^(2+4+8+16+32+64+128)
    let mut result = 1u8;
    let mut sq = a;
    for _ in 0..7 {
        sq = gf_mul(sq, sq);
        result = gf_mul(result, sq);
    }
    result
}

/// Split `secret` into `n` shares, any `k` of which recover it (2 ≤ k ≤ n ≤ 255), with
/// coefficients from the OS random generator.
pub fn split(secret: &[u8], k: u8, n: u8) -> Result<Vec<Share>> {
    split_with(secret, k, n, &mut |buf| rng::fill(buf))
}

/// [`split`] with the coefficients drawn by `random` (tests give fixed ones). The shares
/// are at x = 1..=n.
pub fn split_with(
    secret: &[u8],
    k: u8,
    n: u8,
    random: &mut dyn FnMut(&mut [u8]) -> Result<()>,
) -> Result<Vec<Share>> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(Error::InvalidLength("secret"));
    }
    if k < 2 || n < k {
        return Err(Error::InvalidLength("threshold"));
    }
    // coeffs[i * len + j]: coefficient of x^(i+1) of byte j's polynomial.
    let len = secret.len();
    let mut coeffs = Zeroizing::new(vec![0u8; (usize::from(k) - 1) * len]);
    random(&mut coeffs)?;
    let shares = (1..=n)
        .map(|x| {
            let y = (0..len)
                .map(|j| {
                    // Horner from the highest coefficient down to the secret.
                    let mut acc = 0u8;
                    for i in (0..usize::from(k) - 1).rev() {
                        acc = gf_mul(acc, x) ^ coeffs[i * len + j];
                    }
                    gf_mul(acc, x) ^ secret[j]
                })
                .collect();
            Share { x, y }
        })
        .collect();
    Ok(shares)
}

/// Recover the secret from `shares` (at least the threshold's number; with fewer, the result
/// is a wrong secret, not an error: check it against a commitment). Refuses duplicate or
/// zero x and shares of different lengths.
pub fn combine(shares: &[Share]) -> Result<Zeroizing<Vec<u8>>> {
    let first = shares.first().ok_or(Error::InvalidLength("shares"))?;
    let len = first.y.len();
    if len == 0 || len > MAX_SECRET_LEN {
        return Err(Error::InvalidLength("share"));
    }
    for (i, s) in shares.iter().enumerate() {
        if s.x == 0 || s.y.len() != len || shares[..i].iter().any(|t| t.x == s.x) {
            return Err(Error::Malformed { what: "share set" });
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len]);
    for (i, s) in shares.iter().enumerate() {
        // Lagrange basis at 0: prod over j≠i of x_j / (x_j − x_i); subtraction is xor.
        let mut num = 1u8;
        let mut den = 1u8;
        for (j, t) in shares.iter().enumerate() {
            if i != j {
                num = gf_mul(num, t.x);
                den = gf_mul(den, t.x ^ s.x);
            }
        }
        let l = gf_mul(num, gf_inv(den));
        for (out, y) in secret.iter_mut().zip(&s.y) {
            *out ^= gf_mul(l, *y);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS-197 §4.2: {57}•{83} = {c1}, {57}•{13} = {fe}; §4.2.1 / §5.1.1: the inverse of
    /// {53} is {ca}.
    #[test]
    fn field_matches_fips_197() {
        assert_eq!(gf_mul(0x57, 0x83), 0xc1);
        assert_eq!(gf_mul(0x57, 0x13), 0xfe);
        assert_eq!(gf_mul(0x53, 0xca), 0x01);
        assert_eq!(gf_inv(0x53), 0xca);
        assert_eq!(gf_inv(0), 0);
        for a in 1..=255u8 {
            assert_eq!(gf_mul(a, gf_inv(a)), 1, "{a:#x}");
            assert_eq!(gf_mul(a, 1), a);
        }
    }

    /// A hand-checked vector from the FIPS-197 products: k = 2, the secret byte s and the
    /// coefficient {57}: f(x) = s ⊕ {57}•x, so f(1) = s ⊕ {57}, f({83}) = s ⊕ {c1}.
    #[test]
    fn a_hand_computed_two_of_n_vector() {
        let s = 0x2a;
        let one = Share {
            x: 1,
            y: vec![s ^ 0x57],
        };
        let other = Share {
            x: 0x83,
            y: vec![s ^ 0xc1],
        };
        assert_eq!(
            *combine(&[one.clone(), other.clone()]).expect("combines"),
            vec![s]
        );
        assert_eq!(*combine(&[other, one]).expect("in any order"), vec![s]);
        let shares = split_with(&[s], 2, 3, &mut |buf| {
            buf.fill(0x57);
            Ok(())
        })
        .expect("split");
        assert_eq!(shares[0].y, vec![s ^ 0x57]);
        assert_eq!(shares[1].y, vec![s ^ gf_mul(0x57, 2)]);
    }

    /// Property: for random secrets and every k ≤ n ≤ 6, every subset of k shares gives
    /// the secret back, and k − 1 shares do not (the result of too few shares is the
    /// constant term of another polynomial: with random coefficients it is the secret only
    /// by chance, 2⁻¹²⁸ for a 16-byte key).
    #[test]
    fn any_k_of_n_recover_and_fewer_do_not() {
        for n in 2..=6u8 {
            for k in 2..=n {
                let secret = rng::bytes::<16>().expect("rng");
                let shares = split(&secret, k, n).expect("split");
                assert_eq!(shares.len(), usize::from(n));
                for mask in 0u32..(1 << n) {
                    let subset: Vec<Share> = shares
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, s)| s.clone())
                        .collect();
                    if subset.is_empty() {
                        continue;
                    }
                    let got = combine(&subset).expect("combines");
                    if subset.len() >= usize::from(k) {
                        assert_eq!(*got, secret.to_vec(), "k={k} n={n} mask={mask:b}");
                    } else {
                        assert_ne!(*got, secret.to_vec(), "k={k} n={n} mask={mask:b}");
                    }
                }
            }
        }
    }

    /// k − 1 shares are independent of the secret: for k = 2 and one share, every secret
    /// byte is consistent with it (each coefficient gives exactly one), so the share alone
    /// tells nothing.
    #[test]
    fn one_share_of_two_fits_every_secret() {
        let x = 7u8;
        let y = 0x5cu8;
        let mut secrets = [false; 256];
        for a in 0..=255u8 {
            // f(x) = s ⊕ a•x = y  ⇒  s = y ⊕ a•x
            secrets[usize::from(y ^ gf_mul(a, x))] = true;
        }
        assert!(secrets.iter().all(|&seen| seen));
    }

    #[test]
    fn bad_parameters_and_share_sets_are_refused() {
        assert!(split(&[1; 16], 1, 3).is_err());
        assert!(split(&[1; 16], 4, 3).is_err());
        assert!(split(&[], 2, 3).is_err());
        assert!(split(&[1; 65], 2, 3).is_err());
        let shares = split(&[9; 16], 2, 3).expect("split");
        assert!(combine(&[]).is_err());
        assert!(combine(&[shares[0].clone(), shares[0].clone()]).is_err());
        let mut short = shares[1].clone();
        short.y.pop();
        assert!(combine(&[shares[0].clone(), short]).is_err());
        let zero = Share {
            x: 0,
            y: vec![1; 16],
        };
        assert!(combine(&[shares[0].clone(), zero]).is_err());
        let s = &shares[2];
        assert_eq!(Share::from_bytes(&s.to_bytes()).expect("parses"), *s);
        assert!(Share::from_bytes(&[0, 1, 2]).is_err());
        assert!(Share::from_bytes(&[3]).is_err());
        assert!(!format!("{s:?}").contains(&format!("{:?}", s.y)));
    }
}
