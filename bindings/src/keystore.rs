//! The device keystore as a foreign trait: Kotlin and Swift implement it with the platform's
//! hardware key (Android Keystore AES-GCM, iOS Secure Enclave), and [`KeystoreAdapter`] hands
//! it to the core as its [`bidkey_core::DeviceKeystore`].
//!
//! `seal`/`open` never ask the person (the login token; key shares while biometric
//! confirmation is off). `seal_with_user`/`open_with_user` are async (Kotlin `suspend`, Swift
//! `async`): the shell shows its fingerprint/face prompt and answers when the person has, so
//! no thread is blocked waiting (UniFFI async callback methods, see ADR 0025).

use crate::error::BidkeyError;
use bidkey_core::CoreError;
use bidkey_core::keystore::KeystoreFuture;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The shell's hardware-backed wrapping keys. `alias` names the key; create it on first use.
/// Sealed data must be authenticated (AEAD, e.g. AES-256-GCM with the alias as associated
/// data). Throw `BidkeyException.Keystore` when the person cancels or the key is gone.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait DeviceKeystore: Send + Sync {
    /// Encrypt and authenticate `plaintext` under the key named `alias`; never asks the person.
    fn seal(&self, alias: String, plaintext: Vec<u8>) -> Result<Vec<u8>, BidkeyError>;
    /// Open what `seal` returned for the same `alias`; throw if it does not authenticate.
    fn open(&self, alias: String, sealed: Vec<u8>) -> Result<Vec<u8>, BidkeyError>;
    /// Seal under the user-presence key `alias`: a key the person's fingerprint or face must
    /// unlock for each use (Android: auth-bound Keystore key, BiometricPrompt with a
    /// CryptoObject; iOS: Secure Enclave key with `biometryCurrentSet`). Used when biometric
    /// confirmation is on. Throw `Keystore` if the person cancels or the phone has no such check.
    async fn seal_with_user(
        &self,
        alias: String,
        plaintext: Vec<u8>,
    ) -> Result<Vec<u8>, BidkeyError>;
    /// Open what `seal_with_user` returned, after the person's fingerprint or face.
    async fn open_with_user(&self, alias: String, sealed: Vec<u8>) -> Result<Vec<u8>, BidkeyError>;
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

    fn seal_with_user<'a>(
        &'a self,
        alias: &'a str,
        plaintext: &'a [u8],
    ) -> KeystoreFuture<'a, Vec<u8>> {
        Box::pin(async move {
            Ok(self
                .0
                .seal_with_user(alias.to_owned(), plaintext.to_vec())
                .await?)
        })
    }

    fn open_with_user<'a>(
        &'a self,
        alias: &'a str,
        sealed: &'a [u8],
    ) -> KeystoreFuture<'a, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            Ok(Zeroizing::new(
                self.0
                    .open_with_user(alias.to_owned(), sealed.to_vec())
                    .await?,
            ))
        })
    }
}
