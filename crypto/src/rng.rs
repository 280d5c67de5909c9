//! Operating-system randomness for every nonce and key in the crate.
//!
//! All randomness comes from the OS CSPRNG (`getrandom`). Nothing here is seeded from
//! message data: the two-party protocol is broken by nonces that repeat across retries.

use crate::error::{Error, Result};
use getrandom::SysRng;
use rand_core::UnwrapErr;

/// Fill `buf` with OS randomness.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Rng)
}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// An RNG handle for RustCrypto APIs that take one; panics only if the OS RNG fails,
/// which RustCrypto APIs cannot report otherwise.
pub(crate) fn os_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}
