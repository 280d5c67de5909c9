//! An in-memory [`WalletStore`] for unit tests of the flows (no SQLite, no files): the same
//! rows and the same all-or-nothing changes as [`super::sqlite::SqliteStore`], in maps
//! behind one lock.

use super::store::{Reseal, SessionRow, ShareRow, WalletStore};
use super::{PendingEnrollment, StoredCert, StoredShare, pending_share_key_id};
use crate::error::{CoreError, Result, StorageError};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Rows {
    meta: BTreeMap<String, String>,
    session: Option<SessionRow>,
    certs: BTreeMap<String, StoredCert>,
    log: Vec<(i64, String)>,
    cache: BTreeMap<String, String>,
    shares: BTreeMap<String, ShareRow>,
    enrollments: BTreeMap<String, PendingEnrollment>,
}

/// The wallet's rows in memory; gone when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Rows>);

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> Result<MutexGuard<'_, Rows>> {
        self.0.lock().map_err(|_| StorageError::Poisoned.into())
    }

    /// The local log, oldest first (what a test checks was recorded).
    pub fn log_lines(&self) -> Result<Vec<String>> {
        Ok(self.rows()?.log.iter().map(|(_, m)| m.clone()).collect())
    }
}

impl WalletStore for MemoryStore {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.rows()?.meta.get(key).cloned())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.rows()?.meta.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn delete_meta(&self, key: &str) -> Result<()> {
        self.rows()?.meta.remove(key);
        Ok(())
    }

    fn put_session(&self, row: &SessionRow) -> Result<()> {
        self.rows()?.session = Some(row.clone());
        Ok(())
    }

    fn session(&self) -> Result<Option<SessionRow>> {
        Ok(self.rows()?.session.clone())
    }

    fn clear_session(&self) -> Result<()> {
        self.rows()?.session = None;
        Ok(())
    }

    fn update_account_json(&self, json: &str) -> Result<()> {
        if let Some(s) = self.rows()?.session.as_mut() {
            s.account_json = json.to_owned();
        }
        Ok(())
    }

    fn put_cert(&self, cert: &StoredCert, _now: i64) -> Result<()> {
        let mut rows = self.rows()?;
        match rows.certs.get_mut(&cert.serial) {
            Some(known) => {
                known.status = cert.status.clone();
                if cert.enterprise_id.is_some() {
                    known.enterprise_id = cert.enterprise_id.clone();
                }
                known.enterprise_name = cert.enterprise_name.clone();
            }
            None => {
                rows.certs.insert(cert.serial.clone(), cert.clone());
            }
        }
        Ok(())
    }

    fn set_cert_status(&self, serial: &str, status: &str, _now: i64) -> Result<()> {
        if let Some(c) = self.rows()?.certs.get_mut(serial) {
            c.status = status.to_owned();
        }
        Ok(())
    }

    fn certs(&self) -> Result<Vec<StoredCert>> {
        let mut certs: Vec<StoredCert> = self.rows()?.certs.values().cloned().collect();
        certs.sort_by(|a, b| {
            b.not_after
                .cmp(&a.not_after)
                .then_with(|| a.serial.cmp(&b.serial))
        });
        Ok(certs)
    }

    fn log(&self, now: i64, message: &str) -> Result<()> {
        self.rows()?.log.push((now, message.to_owned()));
        Ok(())
    }

    fn clear_cache(&self) -> Result<()> {
        let mut rows = self.rows()?;
        rows.cache.clear();
        rows.log.clear();
        Ok(())
    }

    fn cache_put(&self, key: &str, value: &str, _now: i64) -> Result<()> {
        self.rows()?.cache.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn cache_get(&self, key: &str) -> Result<Option<String>> {
        Ok(self.rows()?.cache.get(key).cloned())
    }

    fn put_share(&self, row: &ShareRow) -> Result<()> {
        let mut rows = self.rows()?;
        let created_at = rows
            .shares
            .get(&row.meta.key_id)
            .map_or(row.created_at, |known| known.created_at);
        rows.shares.insert(
            row.meta.key_id.clone(),
            ShareRow {
                created_at,
                ..row.clone()
            },
        );
        Ok(())
    }

    fn share(&self, key_id: &str) -> Result<Option<ShareRow>> {
        Ok(self.rows()?.shares.get(key_id).cloned())
    }

    fn shares(&self) -> Result<Vec<ShareRow>> {
        let mut shares: Vec<ShareRow> = self.rows()?.shares.values().cloned().collect();
        shares.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.meta.key_id.cmp(&b.meta.key_id))
        });
        Ok(shares)
    }

    fn reseal_shares(&self, reseals: &[Reseal], setting: Option<(&str, &str)>) -> Result<()> {
        let mut rows = self.rows()?;
        if let Some(r) = reseals
            .iter()
            .find(|r| !rows.shares.contains_key(&r.key_id))
        {
            return Err(CoreError::NotFound(format!(
                "key {} on this phone",
                r.key_id
            )));
        }
        for r in reseals {
            if let Some(s) = rows.shares.get_mut(&r.key_id) {
                s.salt = r.salt.clone();
                s.sealed = r.sealed.clone();
                s.with_user = r.with_user;
            }
        }
        if let Some((key, value)) = setting {
            rows.meta.insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    fn copy_share(&self, from: &str, meta: &StoredShare, now: i64) -> Result<bool> {
        let mut rows = self.rows()?;
        let Some(source) = rows.shares.get(from).cloned() else {
            return Ok(false);
        };
        let created_at = rows
            .shares
            .get(&meta.key_id)
            .map_or(now, |known| known.created_at);
        rows.shares.insert(
            meta.key_id.clone(),
            ShareRow {
                meta: meta.clone(),
                created_at,
                ..source
            },
        );
        Ok(true)
    }

    fn delete_share(&self, key_id: &str) -> Result<()> {
        self.rows()?.shares.remove(key_id);
        Ok(())
    }

    fn delete_shares_of_pair(&self, pair_id: &str) -> Result<()> {
        self.rows()?.shares.retain(|_, s| s.meta.pair_id != pair_id);
        Ok(())
    }

    fn put_pending_enrollment(&self, p: &PendingEnrollment) -> Result<()> {
        self.rows()?
            .enrollments
            .entry(p.id.clone())
            .or_insert_with(|| p.clone());
        Ok(())
    }

    fn pending_enrollment_for(&self, application_id: &str) -> Result<Option<PendingEnrollment>> {
        Ok(self
            .pending_enrollments()?
            .into_iter()
            .filter(|p| p.application_id == application_id)
            // Newest first; among equals the smallest id, as the SQL store orders them.
            .min_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| a.id.cmp(&b.id))
            }))
    }

    fn pending_enrollments(&self) -> Result<Vec<PendingEnrollment>> {
        let mut all: Vec<PendingEnrollment> = self.rows()?.enrollments.values().cloned().collect();
        all.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(all)
    }

    fn delete_pending_enrollment(&self, id: &str) -> Result<()> {
        let mut rows = self.rows()?;
        rows.shares.remove(&pending_share_key_id(id));
        rows.enrollments.remove(id);
        Ok(())
    }

    fn drop_orphan_pending_shares(&self) -> Result<()> {
        let mut rows = self.rows()?;
        let Rows {
            shares,
            enrollments,
            ..
        } = &mut *rows;
        shares.retain(|key_id, _| match key_id.strip_prefix("pending-") {
            Some(id) => enrollments.contains_key(id),
            None => true,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryKeystore;
    use crate::wallet::Wallet;
    use bidkey_crypto::cosign::DeviceShare;
    use bidkey_crypto::pin::PinKdfParams;
    use std::sync::Arc;

    const FAST: PinKdfParams = PinKdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn share_meta(key_id: &str, pair_id: &str, usage: &str) -> StoredShare {
        StoredShare {
            key_id: key_id.into(),
            pair_id: pair_id.into(),
            usage: usage.into(),
            public_key: vec![4, 1],
        }
    }

    fn pending(id: &str, app: &str, at: i64) -> PendingEnrollment {
        PendingEnrollment {
            id: id.into(),
            application_id: app.into(),
            public_key: vec![4],
            csr_der: vec![0x30, 0],
            created_at: at,
        }
    }

    fn cert(serial: &str, not_after: i64, enterprise: Option<&str>) -> StoredCert {
        StoredCert {
            serial: serial.into(),
            pair_id: "p".into(),
            usage: "signing".into(),
            enterprise_id: enterprise.map(str::to_owned),
            enterprise_name: None,
            subject: "s".into(),
            der: vec![1],
            not_before: 0,
            not_after,
            status: "valid".into(),
        }
    }

    /// What a run of wallet operations leaves, as far as a flow can see it.
    async fn exercise(w: &Wallet) -> Vec<String> {
        let mut seen = vec![];
        let share = DeviceShare::from_bytes(&[5u8; 32]).expect("share");
        for (i, (k, pair)) in [
            ("B", "p2"),
            ("A", "p1"),
            ("pending-e1", ""),
            ("pending-x", ""),
        ]
        .into_iter()
        .enumerate()
        {
            w.put_share(
                &share_meta(k, pair, "signing"),
                &share,
                "123456",
                FAST,
                i as i64,
            )
            .await
            .expect("put");
        }
        w.put_pending_enrollment(&pending("e1", "app", 5))
            .expect("p");
        w.put_pending_enrollment(&pending("e0", "app", 1))
            .expect("p");
        w.put_pending_enrollment(&pending("e1", "other", 9))
            .expect("kept");
        w.drop_orphan_pending_shares().expect("orphans");
        seen.push(format!("{:?}", w.shares().expect("list")));
        seen.push(format!("{:?}", w.pending_enrollment_for("app").expect("q")));
        seen.push(format!("{:?}", w.pending_enrollments().expect("q")));
        // A PIN change is all or nothing.
        let gone = w
            .rekey_shares(&["A".into(), "missing".into()], "123456", "654321", FAST)
            .await;
        seen.push(format!("{gone:?}"));
        w.rekey_shares(&["A".into()], "123456", "654321", FAST)
            .await
            .expect("rekey");
        let right = w.share_with_pin("A", "654321", FAST).await.expect("a");
        let wrong = w.share_with_pin("A", "123456", FAST).await.expect("a");
        seen.push(format!(
            "{} {}",
            *right.to_bytes() == [5u8; 32],
            *wrong.to_bytes() == [5u8; 32]
        ));
        w.copy_share("A", &share_meta("A2", "p3", "signing"), 9)
            .expect("copy");
        seen.push(format!(
            "{:?}",
            w.copy_share("nope", &share_meta("C", "p", "s"), 9)
        ));
        let copied = w.share_with_pin("A2", "654321", FAST).await.expect("copy");
        seen.push(format!("{}", *copied.to_bytes() == [5u8; 32]));
        w.delete_shares_of_pair("p2").expect("delete");
        w.delete_pending_enrollment("e1").expect("delete");
        seen.push(format!("{:?}", w.shares().expect("list")));
        // Certificates: latest expiry first; an update keeps a known enterprise.
        w.put_cert(&cert("S1", 10, Some("ent")), 0).expect("c");
        w.put_cert(&cert("S2", 20, None), 0).expect("c");
        w.put_cert(&cert("S1", 10, None), 1).expect("c");
        w.set_cert_status("S2", "revoked", 2).expect("s");
        seen.push(format!("{:?}", w.certs().expect("certs")));
        w.set_meta("m", "1").expect("m");
        w.cache_put("c", "v", 0).expect("c");
        w.clear_cache().expect("clear");
        seen.push(format!("{:?} {:?}", w.meta("m"), w.cache_get("c")));
        // A keystore without a fingerprint check refuses biometrics; nothing changes.
        seen.push(format!("{:?}", w.set_biometric(true).await.is_err()));
        seen.push(format!("{:?}", w.biometric()));
        seen
    }

    /// The in-memory store behaves as the SQLite one for everything the flows do, so a flow
    /// tested over it is tested over what phones run.
    #[tokio::test]
    async fn the_memory_store_behaves_as_the_sqlite_store() {
        let dir = tempfile::tempdir().expect("dir");
        let sqlite = Wallet::open(dir.path(), Arc::new(MemoryKeystore::default())).expect("w");
        let memory = Wallet::over(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryKeystore::default()),
        );
        let (a, b) = (exercise(&sqlite).await, exercise(&memory).await);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        assert_eq!(a.len(), b.len());
        assert!(a[3].contains("NotFound"), "{}", a[3]);
        assert_eq!(a[4], "true false", "the PIN decides");
    }
}
