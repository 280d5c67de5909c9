//! Wire types shared by the phone core, the Bidkey server and trading platforms.
//!
//! Everything here is plain serde data. JSON field names are `snake_case`, enums are
//! `snake_case` strings, binary values are base64 (standard alphabet, padded) through
//! [`b64`], times are Unix seconds and money is in fen. The HTTP API lives under
//! `/v{API_VERSION}/`; a change that breaks a type here bumps the version.

pub mod accounts;
pub mod b64;
pub mod certs;
pub mod cosign;
pub mod enterprises;
pub mod error;
pub mod orders;
pub mod platforms;
pub mod scan;

pub use error::{ErrorBody, ErrorCode};

/// The API version in every path (`/v1/...`).
pub const API_VERSION: u32 = 1;
