//! The device keystore: the shell's hardware-backed key (Android Keystore AES-GCM key,
//! iOS Secure Enclave P-256 key) that wraps everything secret in the wallet. The core never
//! sees that key; it hands the shell bytes to seal and open.

use crate::error::{CoreError, Result};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use zeroize::Zeroizing;

/// What a keystore call that may ask the person returns (boxed, so the trait stays usable as
/// `dyn DeviceKeystore`).
pub type KeystoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Implemented by each shell. `alias` names the wrapping key; the shell creates it on first
/// use. Sealed data must be authenticated (AEAD).
///
/// `seal` and `open` never ask the person (the login token, and key shares while biometric
/// confirmation is off). `seal_with_user` and `open_with_user` use a second key that the
/// person's fingerprint or face must unlock for each use (Android: an auth-bound Keystore
/// key through BiometricPrompt with a CryptoObject; iOS: a Secure Enclave key with
/// `biometryCurrentSet`): they are async because the shell shows a prompt and waits. A
/// keystore without such a check must refuse them (`CoreError::Keystore`), never fall back.
pub trait DeviceKeystore: Send + Sync {
    fn seal(&self, alias: &str, plaintext: &[u8]) -> Result<Vec<u8>>;
    fn open(&self, alias: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    fn seal_with_user<'a>(
        &'a self,
        alias: &'a str,
        plaintext: &'a [u8],
    ) -> KeystoreFuture<'a, Vec<u8>>;
    fn open_with_user<'a>(
        &'a self,
        alias: &'a str,
        sealed: &'a [u8],
    ) -> KeystoreFuture<'a, Zeroizing<Vec<u8>>>;
}

/// A software keystore for the desktop CLI and tests: an AES-256-GCM key in a file (mode
/// 0600) beside the wallet. It protects nothing against someone who copies the whole
/// directory; phones use their hardware keystore instead.
#[derive(Debug)]
pub struct SoftwareKeystore {
    dir: PathBuf,
}

impl SoftwareKeystore {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn key(&self, alias: &str) -> Result<Zeroizing<Vec<u8>>> {
        if alias.is_empty()
            || !alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CoreError::InvalidInput {
                field: "keystore alias",
            });
        }
        let path = self.dir.join(format!("keystore-{alias}.key"));
        match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => Ok(Zeroizing::new(k)),
            Ok(_) => Err(CoreError::Keystore(format!(
                "{} is damaged",
                path.display()
            ))),
            Err(_) => {
                let k = bidkey_crypto::rng::bytes::<32>()?;
                write_private(&path, &k)?;
                Ok(Zeroizing::new(k.to_vec()))
            }
        }
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| CoreError::Keystore(format!("{}: {e}", path.display())))?;
    f.write_all(data)
        .map_err(|e| CoreError::Keystore(format!("{}: {e}", path.display())))
}

impl DeviceKeystore for SoftwareKeystore {
    fn seal(&self, alias: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self.key(alias)?;
        Ok(bidkey_crypto::aead::seal(
            bidkey_crypto::aead::AeadAlgorithm::Aes256Gcm,
            &key,
            alias.as_bytes(),
            plaintext,
        )?)
    }

    fn open(&self, alias: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.key(alias)?;
        bidkey_crypto::aead::open(
            bidkey_crypto::aead::AeadAlgorithm::Aes256Gcm,
            &key,
            alias.as_bytes(),
            sealed,
        )
        .map_err(|_| {
            CoreError::Keystore("wrapped data does not open with this device's key".into())
        })
    }

    /// A file key has no fingerprint or face behind it: refused rather than pretended.
    fn seal_with_user<'a>(&'a self, _: &'a str, _: &'a [u8]) -> KeystoreFuture<'a, Vec<u8>> {
        Box::pin(async { Err(no_user_check()) })
    }

    fn open_with_user<'a>(
        &'a self,
        _: &'a str,
        _: &'a [u8],
    ) -> KeystoreFuture<'a, Zeroizing<Vec<u8>>> {
        Box::pin(async { Err(no_user_check()) })
    }
}

/// A keystore in memory for unit tests: one random AES-256-GCM key per alias, gone with
/// the value. Like [`SoftwareKeystore`] it has no fingerprint or face check.
#[derive(Debug, Default)]
pub struct MemoryKeystore {
    keys: std::sync::Mutex<std::collections::BTreeMap<String, Zeroizing<[u8; 32]>>>,
}

impl MemoryKeystore {
    fn key(&self, alias: &str) -> Result<Zeroizing<[u8; 32]>> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| CoreError::Keystore("keystore lock poisoned".into()))?;
        if let Some(k) = keys.get(alias) {
            return Ok(k.clone());
        }
        let k = Zeroizing::new(bidkey_crypto::rng::bytes::<32>()?);
        keys.insert(alias.to_owned(), k.clone());
        Ok(k)
    }
}

impl DeviceKeystore for MemoryKeystore {
    fn seal(&self, alias: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self.key(alias)?;
        Ok(bidkey_crypto::aead::seal(
            bidkey_crypto::aead::AeadAlgorithm::Aes256Gcm,
            key.as_slice(),
            alias.as_bytes(),
            plaintext,
        )?)
    }

    fn open(&self, alias: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.key(alias)?;
        bidkey_crypto::aead::open(
            bidkey_crypto::aead::AeadAlgorithm::Aes256Gcm,
            key.as_slice(),
            alias.as_bytes(),
            sealed,
        )
        .map_err(|_| CoreError::Keystore("wrapped data does not open with this key".into()))
    }

    fn seal_with_user<'a>(&'a self, _: &'a str, _: &'a [u8]) -> KeystoreFuture<'a, Vec<u8>> {
        Box::pin(async { Err(no_user_check()) })
    }

    fn open_with_user<'a>(
        &'a self,
        _: &'a str,
        _: &'a [u8],
    ) -> KeystoreFuture<'a, Zeroizing<Vec<u8>>> {
        Box::pin(async { Err(no_user_check()) })
    }
}

fn no_user_check() -> CoreError {
    CoreError::Keystore("this keystore has no fingerprint or face check".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse_other_alias() {
        let dir = tempfile::tempdir().expect("dir");
        let ks = SoftwareKeystore::new(dir.path());
        let sealed = ks.seal("wallet", b"share").expect("seal");
        assert_eq!(
            ks.open("wallet", &sealed).expect("open").as_slice(),
            b"share"
        );
        assert!(ks.open("other", &sealed).is_err());
        assert!(ks.seal("../x", b"").is_err());
        // A second instance over the same directory reads the same key (reinstall).
        let again = SoftwareKeystore::new(dir.path());
        assert_eq!(
            again.open("wallet", &sealed).expect("open").as_slice(),
            b"share"
        );
    }
}
