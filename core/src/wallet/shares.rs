//! Device key shares at rest: `seal_keystore(d1 + m(PIN))`.

use super::Wallet;
use super::store::{Reseal, ShareRow};
use crate::error::{CoreError, Result, StorageError};
use bidkey_crypto::cosign::DeviceShare;
use bidkey_crypto::pin::{PinKdfParams, PinMask, SALT_LEN};
use zeroize::Zeroizing;

/// The wallet's meta row of the biometric setting ("on" / "off").
const BIOMETRIC_KEY: &str = "biometric";

/// A stored two-party key of this phone (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShare {
    pub key_id: String,
    pub pair_id: String,
    pub usage: String,
    pub public_key: Vec<u8>,
}

/// PIN rules: 6 to 12 digits.
pub fn check_pin(pin: &str) -> Result<()> {
    if (6..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CoreError::InvalidInput { field: "PIN" })
    }
}

impl Wallet {
    /// Store `share` masked under `pin` (sealed with the user-presence key when biometric
    /// confirmation is on: the shell may ask for the fingerprint or face).
    pub async fn put_share(
        &self,
        meta: &StoredShare,
        share: &DeviceShare,
        pin: &str,
        params_kdf: PinKdfParams,
        now: i64,
    ) -> Result<()> {
        let with_user = self.biometric()?;
        let (salt, sealed) = self.masked(share, pin, params_kdf, with_user).await?;
        self.store().put_share(&ShareRow {
            meta: meta.clone(),
            salt: salt.to_vec(),
            sealed,
            with_user,
            created_at: now,
        })
    }

    /// `(salt, seal_keystore(d1 + m(PIN)))` of `share` under `pin` with a fresh salt.
    async fn masked(
        &self,
        share: &DeviceShare,
        pin: &str,
        params_kdf: PinKdfParams,
        with_user: bool,
    ) -> Result<([u8; SALT_LEN], Vec<u8>)> {
        check_pin(pin)?;
        let salt = bidkey_crypto::rng::bytes::<SALT_LEN>()?;
        let masked = PinMask::derive(pin.as_bytes(), &salt, params_kdf)?.mask(&share.to_bytes())?;
        Ok((salt, self.seal_share(masked.as_slice(), with_user).await?))
    }

    /// Whether key shares are sealed with the user-presence key (biometric confirmation).
    pub fn biometric(&self) -> Result<bool> {
        Ok(self.meta(BIOMETRIC_KEY)?.as_deref() == Some("on"))
    }

    /// Turn biometric confirmation on or off: every share is opened the old way and sealed
    /// the new way (the shell asks for the fingerprint or face where its key needs it), then
    /// all are written in one transaction with the setting, so a refusal changes nothing.
    /// The PIN is not involved: the shares stay masked under it.
    pub async fn set_biometric(&self, on: bool) -> Result<()> {
        let rows = self.store().shares()?;
        let mut resealed = Vec::with_capacity(rows.len());
        for row in rows {
            if row.with_user == on {
                continue;
            }
            let masked = self.open_share(&row.sealed, row.with_user).await?;
            resealed.push(Reseal {
                key_id: row.meta.key_id,
                salt: row.salt,
                sealed: self.seal_share(&masked, on).await?,
                with_user: on,
            });
        }
        self.store().reseal_shares(
            &resealed,
            Some((BIOMETRIC_KEY, if on { "on" } else { "off" })),
        )
    }

    /// The share as unmasked with `pin`: the real one if the PIN is right, a different valid
    /// scalar if not (only the server can tell).
    /// A share sealed with the user-presence key asks the person first (fingerprint or face);
    /// a refusal is `CoreError::Keystore` and nothing is unmasked.
    pub async fn share_with_pin(
        &self,
        key_id: &str,
        pin: &str,
        params_kdf: PinKdfParams,
    ) -> Result<DeviceShare> {
        check_pin(pin)?;
        let Some(row) = self.store().share(key_id)? else {
            return Err(self.missing_key(key_id)?);
        };
        let salt: [u8; SALT_LEN] = row
            .salt
            .try_into()
            .map_err(|_| StorageError::Damaged("PIN salt"))?;
        let masked: Zeroizing<[u8; 32]> = {
            let opened = self.open_share(&row.sealed, row.with_user).await?;
            let mut out = Zeroizing::new([0u8; 32]);
            if opened.len() != 32 {
                return Err(StorageError::Damaged("key share").into());
            }
            out.copy_from_slice(&opened);
            out
        };
        let share = PinMask::derive(pin.as_bytes(), &salt, params_kdf)?.unmask(&masked)?;
        Ok(DeviceShare::from_bytes(share.as_slice())?)
    }

    /// Re-mask the shares `key_ids` from `old_pin` to `new_pin` (PIN change), all in one
    /// transaction: either every one is changed or none is.
    ///
    /// The wallet cannot tell a wrong `old_pin` (it unmasks to another valid scalar), so the
    /// caller first proves `old_pin` with the server for every share it passes here: a share
    /// kept under another PIN would otherwise be re-masked from garbage and lost for good.
    pub async fn rekey_shares(
        &self,
        key_ids: &[String],
        old_pin: &str,
        new_pin: &str,
        params_kdf: PinKdfParams,
    ) -> Result<()> {
        check_pin(new_pin)?;
        let with_user = self.biometric()?;
        let mut rows = Vec::with_capacity(key_ids.len());
        for key_id in key_ids {
            let share = self.share_with_pin(key_id, old_pin, params_kdf).await?;
            let (salt, sealed) = self.masked(&share, new_pin, params_kdf, with_user).await?;
            rows.push(Reseal {
                key_id: key_id.clone(),
                salt: salt.to_vec(),
                sealed,
                with_user,
            });
        }
        self.store().reseal_shares(&rows, None)
    }

    pub fn shares(&self) -> Result<Vec<StoredShare>> {
        Ok(self.store().shares()?.into_iter().map(|r| r.meta).collect())
    }

    /// Store the share kept under `from` as `meta` too, masked and sealed exactly as it is:
    /// no PIN is involved, so a mistyped one can never spoil the copy.
    pub fn copy_share(&self, from: &str, meta: &StoredShare, now: i64) -> Result<()> {
        if self.store().copy_share(from, meta, now)? {
            Ok(())
        } else {
            Err(self.missing_key(from)?)
        }
    }

    /// The stored key `key_id`, without its secret.
    pub fn share_meta(&self, key_id: &str) -> Result<Option<StoredShare>> {
        Ok(self.store().share(key_id)?.map(|r| r.meta))
    }

    /// The error for a key this phone does not hold: when an enrolment is unfinished, the
    /// key may be one it still has to deliver, so the error says to resume it.
    pub fn missing_key(&self, key_id: &str) -> Result<CoreError> {
        let pending = self.pending_enrollments()?;
        Ok(match pending.first() {
            Some(p) => CoreError::NotFound(format!(
                "key {key_id} on this phone: enrolment for application {} is incomplete, \
                 enrol again to resume it",
                p.application_id
            )),
            None => CoreError::NotFound(format!("key {key_id} on this phone")),
        })
    }

    pub fn delete_share(&self, key_id: &str) -> Result<()> {
        self.store().delete_share(key_id)
    }

    pub fn delete_shares_of_pair(&self, pair_id: &str) -> Result<()> {
        self.store().delete_shares_of_pair(pair_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::{DeviceKeystore, KeystoreFuture, SoftwareKeystore};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const FAST: PinKdfParams = PinKdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn meta() -> StoredShare {
        StoredShare {
            key_id: "k1".into(),
            pair_id: "p1".into(),
            usage: "signing".into(),
            public_key: vec![4],
        }
    }

    #[tokio::test]
    async fn wrong_pin_gives_a_different_share_and_reopen_keeps_it() {
        let dir = tempfile::tempdir().expect("dir");
        let ks = Arc::new(SoftwareKeystore::new(dir.path()));
        let w = Wallet::open(dir.path(), ks.clone()).expect("wallet");
        let share = DeviceShare::from_bytes(&[7u8; 32]).expect("share");
        let meta = meta();
        w.put_share(&meta, &share, "123456", FAST, 0)
            .await
            .expect("put");
        assert!(
            w.put_share(&meta, &share, "12ab", FAST, 0).await.is_err(),
            "PIN rules"
        );
        let right = w.share_with_pin("k1", "123456", FAST).await.expect("right");
        assert_eq!(*right.to_bytes(), [7u8; 32]);
        let wrong = w
            .share_with_pin("k1", "654321", FAST)
            .await
            .expect("still a share");
        assert_ne!(*wrong.to_bytes(), [7u8; 32]);
        drop(w);
        // Reinstall: same directory, same keystore key file.
        let w2 =
            Wallet::open(dir.path(), Arc::new(SoftwareKeystore::new(dir.path()))).expect("reopen");
        let share_of = |pin: &'static str| {
            let w2 = w2.clone();
            async move {
                *w2.share_with_pin("k1", pin, FAST)
                    .await
                    .expect("s")
                    .to_bytes()
            }
        };
        assert_eq!(share_of("123456").await, [7u8; 32]);
        w2.rekey_shares(&["k1".to_owned()], "123456", "888888", FAST)
            .await
            .expect("rekey");
        assert!(
            w2.rekey_shares(
                &["k1".to_owned(), "gone".to_owned()],
                "888888",
                "111111",
                FAST
            )
            .await
            .is_err(),
            "a missing share fails the whole change"
        );
        assert_eq!(
            share_of("888888").await,
            [7u8; 32],
            "and leaves the others as they were"
        );
        w2.clear_cache().expect("clear");
        assert_eq!(
            w2.shares().expect("list").len(),
            1,
            "cache clearing keeps keys"
        );
        // A keystore with no fingerprint or face check refuses biometric confirmation.
        assert!(matches!(
            w2.set_biometric(true).await,
            Err(CoreError::Keystore(_))
        ));
        assert!(!w2.biometric().expect("setting"), "nothing changed");
        assert_eq!(share_of("888888").await, [7u8; 32]);
    }

    /// A shell's keystore with a user-presence key: the "person" answers each prompt as
    /// `allow` says. The user key is a second software key (alias prefixed), so a share sealed
    /// with it does not open the silent way.
    struct PromptingKeystore {
        inner: SoftwareKeystore,
        allow: AtomicBool,
        prompts: AtomicUsize,
    }

    impl PromptingKeystore {
        fn prompt(&self) -> Result<()> {
            self.prompts.fetch_add(1, Ordering::SeqCst);
            if self.allow.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(CoreError::Keystore("the person cancelled".into()))
            }
        }
    }

    impl DeviceKeystore for PromptingKeystore {
        fn seal(&self, alias: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
            self.inner.seal(alias, plaintext)
        }
        fn open(&self, alias: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
            self.inner.open(alias, sealed)
        }
        fn seal_with_user<'a>(
            &'a self,
            alias: &'a str,
            plaintext: &'a [u8],
        ) -> KeystoreFuture<'a, Vec<u8>> {
            Box::pin(async move {
                self.prompt()?;
                self.inner.seal(&format!("user-{alias}"), plaintext)
            })
        }
        fn open_with_user<'a>(
            &'a self,
            alias: &'a str,
            sealed: &'a [u8],
        ) -> KeystoreFuture<'a, Zeroizing<Vec<u8>>> {
            Box::pin(async move {
                self.prompt()?;
                self.inner.open(&format!("user-{alias}"), sealed)
            })
        }
    }

    #[tokio::test]
    async fn with_biometrics_on_a_share_opens_only_after_the_person_agrees() {
        let dir = tempfile::tempdir().expect("dir");
        let ks = Arc::new(PromptingKeystore {
            inner: SoftwareKeystore::new(dir.path()),
            allow: AtomicBool::new(true),
            prompts: AtomicUsize::new(0),
        });
        let w = Wallet::open(dir.path(), ks.clone()).expect("wallet");
        let share = DeviceShare::from_bytes(&[9u8; 32]).expect("share");
        w.put_share(&meta(), &share, "123456", FAST, 0)
            .await
            .expect("put");
        assert_eq!(ks.prompts.load(Ordering::SeqCst), 0, "off: no prompt");

        // Turning it on re-seals the share with the user key (one prompt), and persists.
        w.set_biometric(true).await.expect("on");
        assert!(w.biometric().expect("setting"));
        assert_eq!(ks.prompts.load(Ordering::SeqCst), 1);
        let reopened = Wallet::open(dir.path(), ks.clone()).expect("reopen");
        assert!(reopened.biometric().expect("setting"), "kept in the wallet");

        // The person refuses: a typed keystore error, nothing unmasked.
        ks.allow.store(false, Ordering::SeqCst);
        let refused = reopened.share_with_pin("k1", "123456", FAST).await;
        assert!(
            matches!(refused, Err(CoreError::Keystore(_))),
            "{refused:?}"
        );
        assert_eq!(ks.prompts.load(Ordering::SeqCst), 2);
        // Turning it off needs the person too; refused, it stays on.
        assert!(reopened.set_biometric(false).await.is_err());
        assert!(reopened.biometric().expect("setting"));

        // The person agrees: the share opens, and the PIN still decides what it unmasks to.
        ks.allow.store(true, Ordering::SeqCst);
        let right = reopened
            .share_with_pin("k1", "123456", FAST)
            .await
            .expect("right");
        assert_eq!(*right.to_bytes(), [9u8; 32]);
        let wrong = reopened
            .share_with_pin("k1", "000000", FAST)
            .await
            .expect("a share");
        assert_ne!(*wrong.to_bytes(), [9u8; 32], "the PIN still matters");

        // A new share while on is sealed with the user key; a PIN change keeps it so.
        let other = StoredShare {
            key_id: "k2".into(),
            ..meta()
        };
        reopened
            .put_share(&other, &share, "123456", FAST, 1)
            .await
            .expect("put");
        reopened
            .rekey_shares(
                &["k1".to_owned(), "k2".to_owned()],
                "123456",
                "654321",
                FAST,
            )
            .await
            .expect("rekey");
        ks.allow.store(false, Ordering::SeqCst);
        assert!(reopened.share_with_pin("k2", "654321", FAST).await.is_err());
        // Off again (the person agrees): the shares open without a prompt.
        ks.allow.store(true, Ordering::SeqCst);
        reopened.set_biometric(false).await.expect("off");
        ks.allow.store(false, Ordering::SeqCst);
        for k in ["k1", "k2"] {
            let s = reopened
                .share_with_pin(k, "654321", FAST)
                .await
                .expect("no prompt");
            assert_eq!(*s.to_bytes(), [9u8; 32]);
        }
    }
}
