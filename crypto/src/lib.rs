//! Cryptography for Bidkey.
//!
//! The safe API (this module's re-exports) is what the phone core, the server and the
//! platform SDK call. The two-party SM2 steps live in `hazmat`: each is a pure function of
//! its inputs and fresh randomness, and misuse of them can leak a key share.
//!
//! Naming: `make_*` creates a key from fresh randomness, `derive_*` computes one
//! deterministically from its inputs.

pub mod aead;
pub mod cms;
pub mod envelope;
pub mod error;
pub mod hazmat;
pub mod kdf;
pub mod p256;
pub mod pin;
pub mod rng;
pub mod scan;
pub mod sm2;
pub mod sm3;
pub mod sm4;
pub mod x509;

pub use error::{CertProblem, CmsProblem, Error, Result};
