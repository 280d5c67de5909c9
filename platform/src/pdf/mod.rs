//! Sealed PDFs: write a visible seal with a CMS signature as an incremental update, and
//! verify every signature of a PDF (`docs/sealed-pdf.md`, ADR 0012).
//!
//! - [`seal`]: [`seal::prepare`] → digest to sign → [`seal::finish`] with the CMS; the CMS
//!   may come from anywhere (the phone co-signs it), [`seal::sign_prepared`] signs with a
//!   key held here.
//! - [`verify`]: every signature with its signer, enterprise, USCC, timestamp, integrity,
//!   coverage, changes after signing, chain and revocation.
//! - [`fixture`]: a small PDF generator (Chinese text, several pages) for tests and the demo.
//!
//! The reader ([`file`], [`object`], [`filter`]) is written here (ADR 0012): bounded memory,
//! bounded windows, no panics on any input.

pub mod file;
pub mod filter;
pub mod fixture;
pub mod object;
pub mod seal;
pub mod verify;

pub use seal::{Placement, Prepared, SealRequest, finish, prepare, sign_prepared};
pub use verify::{PdfReport, SignatureReport, verify};

/// What is wrong with a PDF.
#[derive(Debug, thiserror::Error)]
pub enum PdfProblem {
    #[error("not a PDF (no %PDF- header)")]
    NotPdf,
    #[error("the PDF is encrypted; decrypt it before sealing or verifying")]
    Encrypted,
    #[error("the PDF is truncated: {0}")]
    Truncated(&'static str),
    #[error("PDF syntax error at byte {offset}: {what}")]
    Syntax { offset: u64, what: &'static str },
    #[error("PDF structure: {0}")]
    Structure(&'static str),
    #[error("unsupported PDF feature: {0}")]
    Unsupported(&'static str),
    #[error("too large: {0}")]
    TooLarge(&'static str),
    #[error("too many {0}")]
    TooMany(&'static str),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
