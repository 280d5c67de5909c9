//! The SDK trading platforms (交易平台) use with Bidkey.
//!
//! - [`bidfile`]: encrypt a bid file to a bidder's SM2 encryption certificate (SM4-GCM in
//!   chunks, streaming) and open it with the file key the phone unwraps at bid opening.
//! - [`verify`]: everything a platform must check about a signature it receives.
//! - [`client`]: the server's public endpoints (CA chain, CRLs, status, grant check).
//! - [`pdf`]: sealed PDFs (visible seal, CMS signature, timestamp) and their verification.
//! - [`qr`]: QR rendering to PNG and SVG.
//! - [`eseal`]: GB/T 38540 electronic seal signatures (`SES_Signature`): timestamping,
//!   verifying, reporting the seal.
//! - [`timestamp`]: RFC 3161 timestamps from the Bidkey TSA added to CMS signatures.
//!
//! - [`hall`]: the opening hall's rows (recipients, self-check, pre-authorisation, who
//!   opened how, failures) in words; [`opening`]: why an opening failed, in words.
//! - [`scan`]: scan requests: make, sign, show as a rotating QR, wait, open and verify the
//!   reply (`docs/scan-protocol.md`).
//! - `demo` (feature `demo`, off by default): a small demo trading platform (web pages)
//!   built on all of the above.

pub mod bidfile;
pub mod client;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod eseal;
pub mod hall;
pub mod opening;
pub mod pdf;
pub mod preauth;
pub mod qr;
pub mod scan;
pub mod timestamp;
pub mod verify;

pub use error::{PlatformError, Result};
