//! Scan (扫码) on the exported object: read a platform's QR code, show what it asks,
//! confirm with the PIN or refuse; sessions and the requests that come through them.

use crate::Bidkey;
use crate::convert::list;
use crate::convert_scan::{ScanDone, ScanSession, ScanView, SessionRequest};
use crate::error::BidkeyError;

type Result<T, E = BidkeyError> = std::result::Result<T, E>;

#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
    /// Read a scanned QR code (`bidkey://scan?…`), fetch its request and verify it (our
    /// relay, the platform's certificate and signature, not expired); nothing is signed yet.
    /// A QR of another relay is `InvalidInput("qr_relay")`; an expired request is
    /// `Server("scan_expired")`.
    pub async fn scan(&self, uri: String) -> Result<ScanView> {
        Ok(self.core.scan(&uri).await?.into())
    }

    /// A `bidkey://scan?…` link tapped on this phone (same-device use): the request it
    /// carries, fetched and verified exactly as `scan` does for a QR code. A link that is
    /// not a scan request is `InvalidInput("qr")`.
    pub async fn scan_link(&self, link: String) -> Result<ScanView> {
        Ok(self.core.scan_link(&link).await?.into())
    }

    /// Approve a scanned request with the certificate PIN (a session opens without
    /// auto-confirm).
    pub async fn confirm_scan(&self, request_id: String, pin: String) -> Result<ScanDone> {
        Ok(self.core.confirm_scan(&request_id, &pin).await?.into())
    }

    /// Approve a session request; with `auto_confirm` (if the platform allows it) later
    /// sign and login requests of the session are confirmed without asking.
    pub async fn confirm_session(
        &self,
        request_id: String,
        pin: String,
        auto_confirm: bool,
    ) -> Result<ScanDone> {
        Ok(self
            .core
            .confirm_session(&request_id, &pin, auto_confirm)
            .await?
            .into())
    }

    /// Refuse a request; the platform learns it was rejected (and the `reason`).
    pub async fn reject_scan(&self, request_id: String, reason: Option<String>) -> Result<()> {
        Ok(self
            .core
            .reject_scan(&request_id, reason.as_deref())
            .await?)
    }

    /// The sessions this account holds with platforms (会话列表).
    pub async fn scan_sessions(&self) -> Result<Vec<ScanSession>> {
        Ok(list(self.core.scan_sessions().await?))
    }

    /// End a session; the platform can send nothing more through it.
    pub async fn end_scan_session(&self, session_id: String) -> Result<()> {
        Ok(self.core.end_scan_session(&session_id).await?)
    }

    /// Turn auto-confirm off for a session.
    pub fn stop_auto_confirm(&self, session_id: String) {
        self.core.stop_auto_confirm(&session_id)
    }

    /// Turn auto-confirm on (again) for a session this phone opened, if the platform allows
    /// it; the PIN is proven first (`WrongPin` counts like any other). A session the platform
    /// does not allow it for is `InvalidInput("auto_confirm")`; an unknown or expired one
    /// `Server("session_not_found")`.
    pub async fn start_auto_confirm(&self, session_id: String, pin: String) -> Result<()> {
        Ok(self.core.start_auto_confirm(&session_id, &pin).await?)
    }

    /// Wait up to `wait_secs` (at most 30) for the next request of an open session; null
    /// when none came. Auto-confirmed ones come back with `done` set.
    pub async fn next_session_request(&self, wait_secs: u64) -> Result<Option<SessionRequest>> {
        Ok(self
            .core
            .next_session_request(wait_secs)
            .await?
            .map(Into::into))
    }
}

/// What a `bidkey://scan?…` link carries, as the QR code's text `scan` takes (the same
/// request a camera would have read), or null when the link is not a scan request. Pure: no
/// network; the app may use it to route the link, then calls `scan_link` (or `scan`).
#[uniffi::export]
pub fn scan_link_uri(link: String) -> Option<String> {
    bidkey_core::scan::deep_link::scan_uri_from_link(&link)
        .ok()
        .map(|u| u.to_string())
}
