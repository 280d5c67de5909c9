//! X.509 for the dual-certificate system: SM2 (GM/T 0015 profile) and P-256 certificates,
//! PKCS#10 requests and CRLs, built with `x509-cert` and checked here.
//!
//! - [`oids`]: GM OIDs and the signature-algorithm allow-list.
//! - [`signer`]: [`TbsSigner`] for one-party SM2 and P-256 keys; two-party devices use
//!   [`CsrDraft`].
//! - [`name`]: enterprise and person subjects (USCC and keyed ID digest).
//! - [`profile`]: root, issuing CA, signing and encryption certificate profiles.
//! - [`cert`], [`csr`], [`crl`]: build, parse, PEM/DER, accessors.
//! - [`verify`]: chain validation, [`verify_chain`].
//!
//! SM2 signatures in all three structures are DER `SEQUENCE { r, s }` with the default
//! distinguishing ID `1234567812345678` (GM/T 0009/0015). OpenSSL 3.0 uses an empty ID by
//! default; see [`Sm2Id`] for what that means for interoperability.

pub mod cert;
pub mod crl;
pub mod csr;
pub mod keys;
pub mod name;
pub mod oids;
mod pem;
pub mod profile;
mod signed;
pub mod signer;
pub(crate) mod time;
pub mod verify;

pub use cert::{Cert, CertTemplate, KeyUsageBits};
pub use crl::{Crl, CrlReason, CrlTemplate, RevokedEntry};
pub use csr::{Csr, CsrDraft};
pub use keys::{Sm2Id, SubjectKey};
pub use name::{PersonIdDigest, ca_subject, enterprise_subject, person_subject};
pub use oids::SignatureAlgorithm;
pub use profile::CertProfile;
pub use signer::{Sm2Signer, TbsSigner};
pub use verify::{RequiredUsage, VerifiedChain, verify_chain, verify_chain_without_revocation};
pub use x509_cert::name::Name;

#[cfg(test)]
pub(crate) mod test_support;
