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
