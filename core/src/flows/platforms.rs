//! Trading platforms (交易平台): the list (nearest first when the shell knows where the
//! phone is), and the platform the user works on, remembered in the wallet.

use super::id_segment;
use crate::Bidkey;
use crate::error::{CoreError, Result, StorageError};
use bidkey_protocol::platforms::Platform;

/// Wallet meta key of the chosen platform (its JSON as last fetched).
const CURRENT_PLATFORM: &str = "current_platform";

/// Where the phone is, for sorting platforms by distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

impl Location {
    fn check(self) -> Result<Self> {
        let ok = self.latitude.is_finite()
            && self.longitude.is_finite()
            && self.latitude.abs() <= 90.0
            && self.longitude.abs() <= 180.0;
        if ok {
            Ok(self)
        } else {
            Err(CoreError::InvalidInput { field: "location" })
        }
    }
}

impl Bidkey {
    /// The trading platforms Bidkey serves; with `near`, nearest first (each with
    /// `distance_km`), otherwise by name. Needs no login.
    pub async fn platforms(&self, near: Option<Location>) -> Result<Vec<Platform>> {
        match near {
            Some(at) => {
                let at = at.check()?;
                self.api
                    .get(&format!(
                        "/v1/platforms?lat={}&lon={}",
                        at.latitude, at.longitude
                    ))
                    .await
            }
            None => self.api.get("/v1/platforms").await,
        }
    }

    /// One platform.
    pub async fn platform(&self, platform_id: &str) -> Result<Platform> {
        let id = id_segment(platform_id, "platform")?;
        self.api.get(&format!("/v1/platforms/{id}")).await
    }

    /// Choose (or switch to) the platform the user works on; the server confirms it exists
    /// and the wallet remembers it.
    pub async fn select_platform(&self, platform_id: &str) -> Result<Platform> {
        let p = self.platform(platform_id).await?;
        let json = serde_json::to_string(&p).map_err(|e| StorageError::json("platform", e))?;
        self.wallet.set_meta(CURRENT_PLATFORM, &json)?;
        self.wallet
            .log(self.now(), &format!("platform {} selected", p.id))?;
        Ok(p)
    }

    /// The chosen platform as last fetched (works offline); `None` before one is chosen.
    pub fn current_platform(&self) -> Result<Option<Platform>> {
        match self.wallet.meta(CURRENT_PLATFORM)? {
            Some(json) if !json.is_empty() => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| StorageError::json("platform", e).into()),
            _ => Ok(None),
        }
    }

    /// Forget the chosen platform.
    pub fn clear_platform(&self) -> Result<()> {
        self.wallet.set_meta(CURRENT_PLATFORM, "")
    }
}
