//! The Bidkey phone core: the wallet, soft keys under PIN, and every user flow.
//!
//! The shells (Android, iOS, the desktop CLI) draw screens and call one object, [`Bidkey`].
//! Every method that touches the network or a slow KDF is `async`: shells call them from
//! their async runtime (Kotlin coroutines, Swift concurrency, tokio in the CLI), never on a
//! UI thread. Local reads (certificate list, account) are quick and synchronous.

pub mod api;
pub mod clock;
pub mod error;
pub mod flows;
pub mod i18n;
pub mod keystore;
pub mod scan;
pub mod wallet;

pub use api::SystemTrust;
use error::StorageError;
pub use error::{CoreError, NextStep, Result};
pub use keystore::{DeviceKeystore, MemoryKeystore, SoftwareKeystore};

use crate::api::Api;
use crate::clock::{Clock, SystemClock};
use crate::wallet::Wallet;
use bidkey_crypto::pin::PinKdfParams;
use bidkey_protocol::accounts::AccountInfo;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a shell sets the core up.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The Bidkey server, `https://…` (or `http://127.0.0.1:…` for tests and the demo).
    pub server_url: String,
    /// PEM of the CA that signed the server's TLS certificate: a pinned CA, the only one
    /// trusted when set (a server with a private CA, or pinning a public one).
    pub server_ca_pem: Option<String>,
    /// Whom to trust for an HTTPS server when no CA is pinned (a server with a public
    /// certificate). [`SystemTrust::Off`] (the default) refuses HTTPS without a pinned CA.
    pub system_trust: SystemTrust,
    /// The directory the shell gives for the wallet.
    pub wallet_dir: PathBuf,
    /// Timeout of every network call.
    pub timeout: Duration,
    /// The PIN KDF; tests may lower it, phones use the default.
    pub pin_kdf: PinKdfParams,
    /// The longest an auto-confirm session keeps the unmasked signing share in memory,
    /// whatever the platform's session allows (default 2 h).
    pub auto_confirm_max: Duration,
}

impl CoreConfig {
    pub fn new(server_url: &str, wallet_dir: PathBuf) -> Self {
        Self {
            server_url: server_url.to_owned(),
            server_ca_pem: None,
            system_trust: SystemTrust::Off,
            wallet_dir,
            timeout: Duration::from_secs(20),
            pin_kdf: PinKdfParams::PHONE,
            auto_confirm_max: Duration::from_secs(2 * 3600),
        }
    }
}

/// The facade the shells call.
#[derive(Debug, Clone)]
pub struct Bidkey {
    pub(crate) wallet: Wallet,
    pub(crate) api: Api,
    #[allow(dead_code)] // used by the certificate flows
    pub(crate) pin_kdf: PinKdfParams,
    /// [`CoreConfig::auto_confirm_max`] in seconds.
    pub(crate) auto_confirm_max_secs: i64,
    pub(crate) scan: Arc<flows::scan::ScanState>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// What the core talks to, given from outside: the real ones from [`Bidkey::open`], fakes in
/// unit tests ([`Bidkey::with_parts`]).
#[derive(Debug, Clone)]
pub struct Parts {
    pub wallet: Wallet,
    pub api: Api,
    pub clock: Arc<dyn Clock>,
}

impl Bidkey {
    /// Open the wallet in `config.wallet_dir` with the shell's keystore; a saved login is
    /// restored.
    pub fn open(config: CoreConfig, keystore: Arc<dyn DeviceKeystore>) -> Result<Bidkey> {
        let wallet = Wallet::open(&config.wallet_dir, keystore)?;
        let api = Api::with_trust(
            &config.server_url,
            &api::Trust::of(config.server_ca_pem.as_deref(), &config.system_trust),
            config.timeout,
        )?;
        let parts = Parts {
            wallet,
            api,
            clock: Arc::new(SystemClock),
        };
        Self::with_parts(parts, config.pin_kdf, config.auto_confirm_max)
    }

    /// The core over the given wallet, server and clock (a saved login is restored): what
    /// [`Bidkey::open`] does with the real ones, and unit tests with an in-memory wallet, a
    /// fake server and a fixed clock.
    pub fn with_parts(
        parts: Parts,
        pin_kdf: PinKdfParams,
        auto_confirm_max: Duration,
    ) -> Result<Bidkey> {
        let Parts { wallet, api, clock } = parts;
        if let Some(s) = wallet.session()? {
            api.set_token(Some(s.token));
        }
        Ok(Bidkey {
            wallet,
            api,
            pin_kdf,
            auto_confirm_max_secs: i64::try_from(auto_confirm_max.as_secs()).unwrap_or(i64::MAX),
            scan: Arc::default(),
            clock,
        })
    }

    /// Unix seconds now, by the core's clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The logged-in account as last seen, if any.
    pub fn account(&self) -> Result<Option<AccountInfo>> {
        match self.wallet.session()? {
            Some(s) => serde_json::from_str(&s.account_json)
                .map(Some)
                .map_err(|e| StorageError::json("account", e).into()),
            None => Ok(None),
        }
    }

    /// Settings → clear cache: drops cached lists and the local log, keeps keys,
    /// certificates and the login.
    pub fn clear_cache(&self) -> Result<()> {
        self.wallet.clear_cache()
    }

    pub(crate) fn require_login(&self) -> Result<()> {
        if self.api.has_token() {
            Ok(())
        } else {
            Err(CoreError::NotLoggedIn)
        }
    }
}
