//! The PIN key-derivation function and the share mask it yields.
//!
//! A device share `d1` is stored as `d1 + m mod n`, where `m` is derived from the PIN. Every
//! PIN yields *some* scalar, so a stolen wallet gives an attacker nothing to test a guess
//! against offline: a guess can only be checked by completing a co-signature with the
//! server, which counts failures (see `docs/two-party-sm2.md`).
//!
//! Parameters: Argon2id v1.3, 19 MiB memory, 2 passes, 1 lane, 16-byte random salt per
//! share, 64 bytes of output reduced modulo n (bias below 2⁻²⁵⁰). Argon2id makes each
//! online guess cost the phone as well, and makes a leaked salt+share useless for
//! precomputation across devices.

use crate::error::{Error, Result};
use argon2::{Algorithm, Argon2, Params, Version};
use sm2::elliptic_curve::ops::Reduce;
use sm2::{FieldBytes, Scalar};
use zeroize::{Zeroize, Zeroizing};

/// Salt length for the PIN KDF.
pub const SALT_LEN: usize = 16;

/// Argon2id parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinKdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl PinKdfParams {
    /// The parameters used on phones (OWASP's Argon2id minimum: 19 MiB, t = 2, p = 1).
    pub const PHONE: PinKdfParams = PinKdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
}

impl Default for PinKdfParams {
    fn default() -> Self {
        Self::PHONE
    }
}

/// Derive 64 bytes from a PIN and salt.
pub fn derive_pin_key(
    pin: &[u8],
    salt: &[u8; SALT_LEN],
    params: PinKdfParams,
) -> Result<Zeroizing<[u8; 64]>> {
    if pin.is_empty() {
        return Err(Error::InvalidLength("PIN"));
    }
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(64),
    )
    .map_err(|_| Error::InvalidLength("PIN KDF parameters"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 64]);
    argon
        .hash_password_into(pin, salt, out.as_mut_slice())
        .map_err(|_| Error::InvalidLength("PIN KDF input"))?;
    Ok(out)
}

/// An additive mask for a secret scalar, derived from a PIN.
pub struct PinMask(Scalar);

impl core::fmt::Debug for PinMask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PinMask(..)")
    }
}

impl Drop for PinMask {
    fn drop(&mut self) {
        self.0 = Scalar::ZERO;
    }
}

impl PinMask {
    /// Derive the mask for `pin` and `salt`.
    pub fn derive(pin: &[u8], salt: &[u8; SALT_LEN], params: PinKdfParams) -> Result<Self> {
        let okm = derive_pin_key(pin, salt, params)?;
        let mut hi = FieldBytes::default();
        let mut lo = FieldBytes::default();
        hi.copy_from_slice(&okm[..32]);
        lo.copy_from_slice(&okm[32..]);
        // m = hi·2²⁵⁶ + lo (mod n): a 512-bit value reduced, so the mask is uniform.
        let two_pow_32 = Scalar::from(1u64 << 32);
        let mut two_pow_256 = Scalar::ONE;
        for _ in 0..8 {
            two_pow_256 *= two_pow_32;
        }
        let m = <Scalar as Reduce<FieldBytes>>::reduce(&hi) * two_pow_256
            + <Scalar as Reduce<FieldBytes>>::reduce(&lo);
        hi.zeroize();
        lo.zeroize();
        Ok(Self(m))
    }

    /// `share + m`: what is stored.
    pub fn mask(&self, share: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>> {
        let s = crate::sm2::scalar_from_be(share)?;
        Ok(to_bytes(s + self.0))
    }

    /// `stored − m`: the share, if the PIN was right; some other scalar if not.
    pub fn unmask(&self, stored: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>> {
        let s = crate::sm2::scalar_from_be(stored)?;
        Ok(to_bytes(s - self.0))
    }
}

fn to_bytes(s: Scalar) -> Zeroizing<[u8; 32]> {
    use sm2::elliptic_curve::PrimeField;
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&s.to_repr());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: PinKdfParams = PinKdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn right_pin_restores_wrong_pin_gives_another_valid_scalar() {
        let salt = [1u8; SALT_LEN];
        let share = [0x42u8; 32];
        let stored = PinMask::derive(b"123456", &salt, FAST)
            .expect("kdf")
            .mask(&share)
            .expect("mask");
        assert_ne!(*stored, share);
        let back = PinMask::derive(b"123456", &salt, FAST)
            .expect("kdf")
            .unmask(&stored)
            .expect("unmask");
        assert_eq!(*back, share);
        let wrong = PinMask::derive(b"123457", &salt, FAST)
            .expect("kdf")
            .unmask(&stored)
            .expect("a wrong PIN still yields a scalar");
        assert_ne!(*wrong, share);
    }

    #[test]
    fn salt_matters_and_empty_pin_refused() {
        let a = derive_pin_key(b"1", &[0u8; 16], FAST).expect("kdf");
        let b = derive_pin_key(b"1", &[1u8; 16], FAST).expect("kdf");
        assert_ne!(a.as_slice(), b.as_slice());
        assert!(derive_pin_key(b"", &[0u8; 16], FAST).is_err());
    }

    #[test]
    fn phone_parameters_are_stated() {
        assert_eq!(PinKdfParams::default().memory_kib, 19456);
        assert!(derive_pin_key(b"123456", &[0u8; 16], PinKdfParams::PHONE).is_ok());
    }
}
