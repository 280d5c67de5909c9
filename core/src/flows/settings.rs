//! The phone's own settings, kept in the wallet so they survive a restart: the language the
//! person chose, and biometric confirmation. And same-device use: a `bidkey://` link tapped in the phone's browser.

use crate::Bidkey;
use crate::error::{CoreError, Result};
use crate::flows::scan::ScanView;
use crate::i18n::Lang;
use crate::scan::deep_link::{LinkError, scan_uri_from_link};

const LANGUAGE_KEY: &str = "language";

impl Bidkey {
    /// The language the person chose, or `None` before any choice (follow the device's).
    pub fn language(&self) -> Result<Option<Lang>> {
        Ok(match self.wallet.meta(LANGUAGE_KEY)?.as_deref() {
            Some("zh") => Some(Lang::Zh),
            Some("en") => Some(Lang::En),
            _ => None,
        })
    }

    /// Remember the person's language for the next start.
    pub fn set_language(&self, lang: Lang) -> Result<()> {
        let code = match lang {
            Lang::Zh => "zh",
            Lang::En => "en",
        };
        self.wallet.set_meta(LANGUAGE_KEY, code)
    }

    /// Whether biometric confirmation is on: each use of a key share first asks the person's
    /// fingerprint or face through the shell's keystore (the PIN is still what the server
    /// counts).
    pub fn biometric(&self) -> Result<bool> {
        self.wallet.biometric()
    }

    /// Turn biometric confirmation on or off (kept in the wallet). Every key share is
    /// re-sealed, so the shell's keystore may ask the person; a refusal changes nothing.
    pub async fn set_biometric(&self, on: bool) -> Result<()> {
        self.wallet.set_biometric(on).await
    }

    /// A `bidkey://scan?…` link tapped on this phone: the same request, fetched and verified
    /// exactly as [`Bidkey::scan`] does for the QR code's text.
    pub async fn scan_link(&self, link: &str) -> Result<ScanView> {
        let uri = scan_uri_from_link(link).map_err(|e| match e {
            LinkError::NotScan | LinkError::Malformed | LinkError::Invalid(_) => {
                CoreError::InvalidInput { field: "qr" }
            }
        })?;
        self.scan(&uri.to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use crate::i18n::Lang;
    use crate::{Bidkey, CoreConfig, SoftwareKeystore};
    use std::sync::Arc;

    fn phone(dir: &std::path::Path) -> Bidkey {
        let config = CoreConfig::new("http://127.0.0.1:9", dir.to_path_buf());
        Bidkey::open(config, Arc::new(SoftwareKeystore::new(dir))).expect("open")
    }

    #[test]
    fn the_language_choice_survives_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(phone(dir.path()).language().expect("read"), None);
        phone(dir.path()).set_language(Lang::En).expect("set");
        assert_eq!(phone(dir.path()).language().expect("read"), Some(Lang::En));
        phone(dir.path()).set_language(Lang::Zh).expect("set");
        assert_eq!(phone(dir.path()).language().expect("read"), Some(Lang::Zh));
    }

    #[tokio::test]
    async fn a_link_that_is_no_scan_request_is_refused_before_any_network() {
        let dir = tempfile::tempdir().expect("dir");
        // Not logged in and no server: the link is refused first, as an unreadable QR is.
        let err = phone(dir.path())
            .scan_link("https://evil.example/scan")
            .await
            .expect_err("refused");
        assert_eq!(err, crate::CoreError::InvalidInput { field: "qr" });
    }
}
