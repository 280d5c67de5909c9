//! SM2 (GB/T 32918): keys, signatures with a distinguishing ID, and public-key encryption.
//!
//! Curve arithmetic comes from the RustCrypto `sm2` crate; this module adds the encodings
//! GM/T 0009 asks for and a signer that uses a fresh OS-random nonce for every signature.

mod cipher;
mod key;
mod sign;

pub use cipher::{Sm2Ciphertext, decrypt, decrypt_der, encrypt, encrypt_der};
#[allow(unused_imports)] // for the two-party SM2 module
pub(crate) use cipher::{finish_decrypt, kdf};
pub use key::{Sm2PrivateKey, Sm2PublicKey};
pub use sign::{DEFAULT_ID, Sm2Signature, message_digest, verify, verify_digest};

#[allow(unused_imports)] // for the two-party SM2 module
pub(crate) use sign::sign_digest_with_nonce;
