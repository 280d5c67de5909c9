//! Trading platforms on the exported object: the list, and the one the user works on.

use crate::Bidkey;
use crate::convert::list;
use crate::convert_platforms::{Location, Platform};
use crate::error::BidkeyError;

type Result<T, E = BidkeyError> = std::result::Result<T, E>;

#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
    /// The trading platforms; with `near`, nearest first (each with `distanceKm`),
    /// otherwise by name. Needs no login.
    pub async fn platforms(&self, near: Option<Location>) -> Result<Vec<Platform>> {
        Ok(list(self.core.platforms(near.map(Into::into)).await?))
    }

    /// One platform.
    pub async fn platform(&self, platform_id: String) -> Result<Platform> {
        Ok(self.core.platform(&platform_id).await?.into())
    }

    /// Choose (or switch to) the platform the user works on; the wallet remembers it.
    pub async fn select_platform(&self, platform_id: String) -> Result<Platform> {
        Ok(self.core.select_platform(&platform_id).await?.into())
    }

    /// The chosen platform as last fetched (no network); null before one is chosen.
    pub fn current_platform(&self) -> Result<Option<Platform>> {
        Ok(self.core.current_platform()?.map(Into::into))
    }

    /// Forget the chosen platform.
    pub fn clear_platform(&self) -> Result<()> {
        Ok(self.core.clear_platform()?)
    }
}
