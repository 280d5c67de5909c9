//! The device keystore as a foreign trait: Kotlin and Swift implement `seal`/`open` with the
//! platform's hardware key (Android Keystore AES-GCM, iOS Secure Enclave), and
//! [`KeystoreAdapter`] hands it to the core as its [`bidkey_core::DeviceKeystore`].

use crate::error::BidkeyError;
use bidkey_core::CoreError;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The shell's hardware-backed wrapping key. `alias` names the key; create it on first use.
/// Sealed data must be authenticated (AEAD, e.g. AES-256-GCM with the alias as associated
/// data). Throw `BidkeyException.Keystore` when the user cancels or the key is gone.
#[uniffi::export(foreign)]
pub trait DeviceKeystore: Send + Sync {
    /// Encrypt and authenticate `plaintext` under the key named `alias`.
    fn seal(&self, alias: String, plaintext: Vec<u8>) -> Result<Vec<u8>, BidkeyError>;
    /// Open what `seal` returned for the same `alias`; throw if it does not authenticate.
    fn open(&self, alias: String, sealed: Vec<u8>) -> Result<Vec<u8>, BidkeyError>;
}

/// The foreign keystore seen through the core's trait.
pub(crate) struct KeystoreAdapter(pub(crate) Arc<dyn DeviceKeystore>);

impl std::fmt::Debug for KeystoreAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeystoreAdapter")
    }
}

impl bidkey_core::DeviceKeystore for KeystoreAdapter {
    fn seal(&self, alias: &str, plaintext: &[u8]) -> Result<Vec<u8>, CoreError> {
        Ok(self.0.seal(alias.to_owned(), plaintext.to_vec())?)
    }

    fn open(&self, alias: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        Ok(Zeroizing::new(
            self.0.open(alias.to_owned(), sealed.to_vec())?,
        ))
    }
}
