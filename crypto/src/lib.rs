//! Cryptography for Bidkey.
//!
//! The safe API is what the phone core, the server and the platform SDK call; for two-party
//! SM2 that is [`cosign`] (session objects that own the one-shot state and check what the
//! other side sends). The raw two-party steps live in `hazmat`: each is a pure function of
//! its inputs and fresh randomness, and misuse of them can leak a key share or sign a
//! message the device never saw. `hazmat` is hidden from the docs and is for this crate's
//! tests, the bench and the demo only.
//!
//! Naming: `make_*` creates a key from fresh randomness, `derive_*` computes one
//! deterministically from its inputs.

pub mod aead;
pub mod cms;
pub mod cosign;
pub mod envelope;
pub mod error;
pub mod file_key;
#[doc(hidden)]
pub mod hazmat;
pub mod kdf;
#[cfg(test)]
mod measure;
pub mod p256;
pub mod pin;
pub mod rng;
pub mod scan;
pub mod ses;
pub mod shamir;
pub mod sm2;
pub mod sm3;
pub mod sm4;
pub mod x509;

pub use error::{CertProblem, CmsProblem, Error, Result, SealProblem};
