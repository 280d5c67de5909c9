//! Device key shares at rest: `seal_keystore(d1 + m(PIN))`.

use super::Wallet;
use crate::error::{CoreError, Result};
use bidkey_crypto::cosign::DeviceShare;
use bidkey_crypto::pin::{PinKdfParams, PinMask, SALT_LEN};
use rusqlite::{OptionalExtension, params};
use zeroize::Zeroizing;

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
    /// Store `share` masked under `pin`.
    pub fn put_share(
        &self,
        meta: &StoredShare,
        share: &DeviceShare,
        pin: &str,
        params_kdf: PinKdfParams,
        now: i64,
    ) -> Result<()> {
        let (salt, sealed) = self.masked(share, pin, params_kdf)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO key_shares (key_id, pair_id, usage, public_key, salt, share_sealed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT(key_id) DO UPDATE SET pair_id = excluded.pair_id, usage = excluded.usage, \
                 public_key = excluded.public_key, salt = excluded.salt, share_sealed = excluded.share_sealed",
                params![meta.key_id, meta.pair_id, meta.usage, meta.public_key, salt.to_vec(), sealed, now],
            )
            .map(|_| ())
        })
    }

    /// `(salt, seal_keystore(d1 + m(PIN)))` of `share` under `pin` with a fresh salt.
    fn masked(
        &self,
        share: &DeviceShare,
        pin: &str,
        params_kdf: PinKdfParams,
    ) -> Result<([u8; SALT_LEN], Vec<u8>)> {
        check_pin(pin)?;
        let salt = bidkey_crypto::rng::bytes::<SALT_LEN>()?;
        let masked = PinMask::derive(pin.as_bytes(), &salt, params_kdf)?.mask(&share.to_bytes())?;
        Ok((salt, self.seal(masked.as_slice())?))
    }

    /// The share as unmasked with `pin`: the real one if the PIN is right, a different valid
    /// scalar if not (only the server can tell).
    pub fn share_with_pin(
        &self,
        key_id: &str,
        pin: &str,
        params_kdf: PinKdfParams,
    ) -> Result<DeviceShare> {
        check_pin(pin)?;
        let row = self.with(|c| {
            c.query_row(
                "SELECT salt, share_sealed FROM key_shares WHERE key_id = ?1",
                [key_id],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
        })?;
        let Some((salt, sealed)) = row else {
            return Err(self.missing_key(key_id)?);
        };
        let salt: [u8; SALT_LEN] = salt
            .try_into()
            .map_err(|_| CoreError::Storage("bad PIN salt".into()))?;
        let masked: Zeroizing<[u8; 32]> = {
            let opened = self.open_sealed(&sealed)?;
            let mut out = Zeroizing::new([0u8; 32]);
            if opened.len() != 32 {
                return Err(CoreError::Storage("bad stored share".into()));
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
    pub fn rekey_shares(
        &self,
        key_ids: &[String],
        old_pin: &str,
        new_pin: &str,
        params_kdf: PinKdfParams,
    ) -> Result<()> {
        check_pin(new_pin)?;
        let mut rows = Vec::with_capacity(key_ids.len());
        for key_id in key_ids {
            let share = self.share_with_pin(key_id, old_pin, params_kdf)?;
            let (salt, sealed) = self.masked(&share, new_pin, params_kdf)?;
            rows.push((key_id.as_str(), salt, sealed));
        }
        self.with(|c| {
            let tx = c.transaction()?;
            for (key_id, salt, sealed) in &rows {
                let n = tx.execute(
                    "UPDATE key_shares SET salt = ?1, share_sealed = ?2 WHERE key_id = ?3",
                    params![salt.to_vec(), sealed, key_id],
                )?;
                if n != 1 {
                    // Gone since it was read: change nothing (the transaction rolls back).
                    return Err(rusqlite::Error::QueryReturnedNoRows);
                }
            }
            tx.commit()
        })
    }

    pub fn shares(&self) -> Result<Vec<StoredShare>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT key_id, pair_id, usage, public_key FROM key_shares ORDER BY created_at, key_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StoredShare {
                    key_id: r.get(0)?,
                    pair_id: r.get(1)?,
                    usage: r.get(2)?,
                    public_key: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Store the share kept under `from` as `meta` too, masked and sealed exactly as it is:
    /// no PIN is involved, so a mistyped one can never spoil the copy.
    pub fn copy_share(&self, from: &str, meta: &StoredShare, now: i64) -> Result<()> {
        let n = self.with(|c| {
            c.execute(
                "INSERT INTO key_shares (key_id, pair_id, usage, public_key, salt, share_sealed, created_at) \
                 SELECT ?1, ?2, ?3, ?4, salt, share_sealed, ?5 FROM key_shares WHERE key_id = ?6 \
                 ON CONFLICT(key_id) DO UPDATE SET pair_id = excluded.pair_id, usage = excluded.usage, \
                 public_key = excluded.public_key, salt = excluded.salt, share_sealed = excluded.share_sealed",
                params![meta.key_id, meta.pair_id, meta.usage, meta.public_key, now, from],
            )
        })?;
        if n == 1 {
            Ok(())
        } else {
            Err(self.missing_key(from)?)
        }
    }

    /// The stored key `key_id`, without its secret.
    pub fn share_meta(&self, key_id: &str) -> Result<Option<StoredShare>> {
        self.with(|c| {
            c.query_row(
                "SELECT key_id, pair_id, usage, public_key FROM key_shares WHERE key_id = ?1",
                [key_id],
                |r| {
                    Ok(StoredShare {
                        key_id: r.get(0)?,
                        pair_id: r.get(1)?,
                        usage: r.get(2)?,
                        public_key: r.get(3)?,
                    })
                },
            )
            .optional()
        })
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
        self.with(|c| {
            c.execute("DELETE FROM key_shares WHERE key_id = ?1", [key_id])
                .map(|_| ())
        })
    }

    pub fn delete_shares_of_pair(&self, pair_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM key_shares WHERE pair_id = ?1", [pair_id])
                .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::SoftwareKeystore;
    use std::sync::Arc;

    const FAST: PinKdfParams = PinKdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn wrong_pin_gives_a_different_share_and_reopen_keeps_it() {
        let dir = tempfile::tempdir().expect("dir");
        let ks = Arc::new(SoftwareKeystore::new(dir.path()));
        let w = Wallet::open(dir.path(), ks.clone()).expect("wallet");
        let share = DeviceShare::from_bytes(&[7u8; 32]).expect("share");
        let meta = StoredShare {
            key_id: "k1".into(),
            pair_id: "p1".into(),
            usage: "signing".into(),
            public_key: vec![4],
        };
        w.put_share(&meta, &share, "123456", FAST, 0).expect("put");
        assert!(
            w.put_share(&meta, &share, "12ab", FAST, 0).is_err(),
            "PIN rules"
        );
        let right = w.share_with_pin("k1", "123456", FAST).expect("right");
        assert_eq!(*right.to_bytes(), [7u8; 32]);
        let wrong = w
            .share_with_pin("k1", "654321", FAST)
            .expect("still a share");
        assert_ne!(*wrong.to_bytes(), [7u8; 32]);
        drop(w);
        // Reinstall: same directory, same keystore key file.
        let w2 =
            Wallet::open(dir.path(), Arc::new(SoftwareKeystore::new(dir.path()))).expect("reopen");
        assert_eq!(
            *w2.share_with_pin("k1", "123456", FAST)
                .expect("s")
                .to_bytes(),
            [7u8; 32]
        );
        w2.rekey_shares(&["k1".to_owned()], "123456", "888888", FAST)
            .expect("rekey");
        assert!(
            w2.rekey_shares(
                &["k1".to_owned(), "gone".to_owned()],
                "888888",
                "111111",
                FAST
            )
            .is_err(),
            "a missing share fails the whole change"
        );
        assert_eq!(
            *w2.share_with_pin("k1", "888888", FAST)
                .expect("s")
                .to_bytes(),
            [7u8; 32],
            "and leaves the others as they were"
        );
        assert_eq!(
            *w2.share_with_pin("k1", "888888", FAST)
                .expect("s")
                .to_bytes(),
            [7u8; 32]
        );
        w2.clear_cache().expect("clear");
        assert_eq!(
            w2.shares().expect("list").len(),
            1,
            "cache clearing keeps keys"
        );
    }
}
