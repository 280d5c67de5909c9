//! The user flows, one module per area; each adds methods to [`crate::Bidkey`].

pub mod account;
pub mod certs;
