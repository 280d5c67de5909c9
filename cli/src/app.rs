//! What every command gets: the core over the chosen wallet, the output mode and the
//! prompter.

use crate::error::{CliError, Result};
use crate::output::Out;
use crate::prompt::Prompter;
use bidkey_core::{Bidkey, CoreConfig, SoftwareKeystore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub struct App {
    pub core: Bidkey,
    pub out: Out,
    pub ask: Prompter,
    /// How this desktop appears in the account's device list.
    pub device_name: String,
}

/// Where the wallet lives when `--wallet` is not given: the per-user data directory.
pub fn default_wallet_dir() -> PathBuf {
    dirs::data_local_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("bidkey")
        .join("wallet")
}

/// Create the wallet directory readable by its owner only: the software keystore's key
/// file sits in it and is the wallet's only protection at rest. A directory that already
/// exists keeps its mode (the user chose it); the key file in it is 0600 either way.
pub fn prepare_wallet_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir.display().to_string(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| CliError::io(dir.display().to_string(), e))?;
    }
    Ok(())
}

pub struct Setup<'a> {
    pub server: &'a str,
    pub server_ca: Option<&'a Path>,
    pub wallet: &'a Path,
}

/// Open the wallet in `setup.wallet` with the desktop keystore: an AES-256-GCM key in a
/// 0600 file beside the wallet (see docs/cli.md for what that does and does not protect).
pub fn open_core(setup: &Setup<'_>) -> Result<Bidkey> {
    prepare_wallet_dir(setup.wallet)?;
    let mut config = CoreConfig::new(setup.server, setup.wallet.to_path_buf());
    if let Some(ca) = setup.server_ca {
        let pem =
            std::fs::read_to_string(ca).map_err(|e| CliError::io(ca.display().to_string(), e))?;
        config.server_ca_pem = Some(pem);
    }
    let keystore = Arc::new(SoftwareKeystore::new(setup.wallet));
    Ok(Bidkey::open(config, keystore)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_dir_is_private() {
        let tmp = tempfile::tempdir().expect("dir");
        let dir = tmp.path().join("a").join("wallet");
        prepare_wallet_dir(&dir).expect("made");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert!(default_wallet_dir().ends_with("bidkey/wallet"));
    }
}
