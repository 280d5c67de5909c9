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

/// Run every entry point of the reader over `data` and drop the results: what the fuzz
/// target and the corpus test call. Only a panic is a failure.
pub fn fuzz_one(data: &[u8]) {
    use std::io::Cursor;
    if let Ok(mut f) = file::PdfFile::open(Cursor::new(data)) {
        let _ = f.pages();
        let _ = f.catalog(None);
    }
    let _ = verify::verify(Cursor::new(data), &verify::VerifyOptions::default());
    let png = fixture::seal_png(16);
    let req = SealRequest {
        placement: Placement {
            page: 1,
            x: 10.0,
            y: 10.0,
            width: 20.0,
            height: 20.0,
        },
        seal_png: &png,
        digest: bidkey_crypto::cms::HashAlgorithm::Sha256,
        signing_time: 0,
        contents_capacity: 64,
        field_name: None,
    };
    let mut out = Vec::new();
    if let Ok(prepared) = prepare(Cursor::new(data), &mut out, &req) {
        // What was written must read back.
        let _ = verify::verify(Cursor::new(&out), &verify::VerifyOptions::default());
        let _ = prepared;
    }
}
