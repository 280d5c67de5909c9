//! The SDK trading platforms (交易平台) use with Bidkey.
//!
//! - [`bidfile`]: encrypt a bid file to a bidder's SM2 encryption certificate (SM4-GCM in
//!   chunks, streaming) and open it with the file key the phone unwraps at bid opening.
//! - [`verify`]: everything a platform must check about a signature it receives.
//! - [`client`]: the server's public endpoints (CA chain, CRLs, status, grant check).
//! - [`qr`]: QR rendering to PNG and SVG.
//!
//! The scan protocol (requests, results) is added on top of these.

pub mod bidfile;
pub mod client;
pub mod error;
pub mod qr;
pub mod verify;

pub use error::{PlatformError, Result};
