//! SM2 (GB/T 32918): keys, signatures with a distinguishing ID, and public-key encryption.
//!
//! Types, scalars and parsing come from the RustCrypto `sm2` crate; the point
//! multiplications that dominate the cost are ours ([`curve`], over the field arithmetic in
//! [`field`]: fiat-crypto's, with multiplication and squaring specialised to the prime, in
//! assembly on x86-64).
//! This module adds the encodings GM/T 0009 asks for and a signer that uses a fresh
//! OS-random nonce for every signature.

#[cfg(target_arch = "x86_64")]
mod asm_x86_64;
mod cipher;
pub(crate) mod curve;
mod field;
mod key;
// On x86-64 the assembly replaces it; the tests there still run it against fiat-crypto and
// the assembly, and every other target multiplies with it.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod montgomery;
mod sign;

pub(crate) use cipher::finish_decrypt_affine;
pub use cipher::{Sm2Ciphertext, decrypt, decrypt_der, encrypt, encrypt_der};
pub(crate) use key::scalar_from_be;
pub use key::{Sm2PrivateKey, Sm2PublicKey};
pub use sign::{DEFAULT_ID, Sm2Signature, message_digest, verify, verify_digest};

pub(crate) use key::{invert_scalar, random_nonzero_scalar, scalar_from_bytes};
pub(crate) use sign::digest_scalar;

/// Hooks for the timing check `ct-check`: the constant-time multiplications with a scalar
/// given as bytes. Not for applications.
#[doc(hidden)]
pub mod testing {
    use crate::error::Result;

    /// `k·G` (constant time); false for the identity.
    pub fn mul_base(k: &[u8; 32]) -> Result<bool> {
        Ok(super::curve::mul_base(&super::scalar_from_be(k)?).is_some())
    }

    /// `k·P` (constant time in `k`); false for the identity.
    pub fn mul_point(p: &super::Sm2PublicKey, k: &[u8; 32]) -> Result<bool> {
        Ok(super::curve::mul_point(p.as_affine(), &super::scalar_from_be(k)?).is_some())
    }

    /// A comb of `P` for [`Comb::mul`], built once (the build does not depend on a secret).
    pub struct Comb(super::curve::Comb);

    impl core::fmt::Debug for Comb {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("Comb(..)")
        }
    }

    impl Comb {
        /// `None` for the identity.
        pub fn new(p: &super::Sm2PublicKey) -> Option<Comb> {
            super::curve::Comb::new(p.as_affine()).map(Comb)
        }

        /// `k·P` through the comb and the batched affine conversion (constant time in `k`);
        /// false for the identity.
        pub fn mul(&self, k: &[u8; 32]) -> Result<bool> {
            let pending = self.0.mul(&super::scalar_from_be(k)?);
            Ok(super::curve::to_affine_batch([&pending]).is_some())
        }
    }

    /// The constant-time field inversion (`Fe::invert`: Fermat on x86-64, safegcd elsewhere) of `x` with its top bit cleared (so that
    /// it is below p); returns the inverse's bytes.
    pub fn invert_field(x: &[u8; 32]) -> [u8; 32] {
        let mut v = *x;
        v[0] &= 0x7f;
        super::field::Fe::from_be_bytes(&v).invert().to_be_bytes()
    }

    /// The constant-time scalar inversion (safegcd modulo n); false for zero.
    pub fn invert_scalar(k: &[u8; 32]) -> Result<bool> {
        Ok(super::invert_scalar(&super::scalar_from_be(k)?).is_some())
    }
}
