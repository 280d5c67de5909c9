//! CRLs and certificate status, built from the `certificates` table.
//!
//! Other modules revoke by updating `certificates` rows directly (staff removal, for
//! example), so the CRL is not maintained incrementally: every request compares an SM3
//! fingerprint of the revoked and suspended rows with the one the stored CRL was built from,
//! and a change (or age) makes a new CRL with the next CRL number. Suspended certificates
//! are listed with reason certificateHold and drop out when the suspension is lifted.

use super::keys::{CaKeys, RootKey};
use crate::db::Tx;
use crate::error::Result;
use crate::params;
use bidkey_crypto::x509::{Crl, CrlReason, CrlTemplate, RevokedEntry};
use bidkey_protocol::certs::{CertStatus, RevocationStatus};

/// The issuing CA's CRL is valid a day and rebuilt at least hourly.
const CRL_NEXT_UPDATE: i64 = 86_400;
const CRL_REFRESH: i64 = 3_600;
/// The root's CRL (it revokes nothing) is signed by the operator's `bidkey-server ca
/// root-crl` (the serving process has no root key, ADR 0019), valid a year by default.
pub const ARL_DAYS: i64 = 365;
const ARL_NEXT_UPDATE: i64 = ARL_DAYS * 86_400;
const ARL_REFRESH: i64 = 86_400;

/// Which CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Signed by the issuing CA; lists holders' certificates.
    Issuing,
    /// Signed by the root; lists (no) issuing CAs.
    Root,
}

impl Which {
    fn row_id(self) -> i64 {
        match self {
            Which::Issuing => 1,
            Which::Root => 2,
        }
    }

    fn timing(self) -> (i64, i64) {
        match self {
            Which::Issuing => (CRL_NEXT_UPDATE, CRL_REFRESH),
            Which::Root => (ARL_NEXT_UPDATE, ARL_REFRESH),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    serial: String,
    suspended: bool,
    at: i64,
    reason: Option<i64>,
}

fn listed(tx: &mut dyn Tx, which: Which) -> Result<Vec<Listed>> {
    if which == Which::Root {
        return Ok(Vec::new());
    }
    let rows = tx.query(
        "SELECT serial, status, COALESCE(revoked_at, created_at), revoke_reason FROM certificates \
         WHERE status IN ('revoked', 'suspended') ORDER BY serial",
        &params![],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                serial: r.text(0)?,
                suspended: r.text(1)? == "suspended",
                at: r.i64(2)?,
                reason: r.opt_i64(3)?,
            })
        })
        .collect()
}

fn fingerprint(rows: &[Listed]) -> String {
    let mut h = bidkey_crypto::sm3::Sm3Hasher::new();
    for r in rows {
        h.update(format!("{}|{}|{}|{:?};", r.serial, r.suspended, r.at, r.reason).as_bytes());
    }
    hex::encode(h.finish())
}

/// The RFC 5280 reason of a stored code.
pub fn reason_of(code: i64) -> Option<CrlReason> {
    use CrlReason::*;
    Some(match code {
        0 => Unspecified,
        1 => KeyCompromise,
        2 => CaCompromise,
        3 => AffiliationChanged,
        4 => Superseded,
        5 => CessationOfOperation,
        6 => CertificateHold,
        8 => RemoveFromCRL,
        9 => PrivilegeWithdrawn,
        10 => AaCompromise,
        _ => return None,
    })
}

/// The `snake_case` name of a reason code, for the status API.
pub fn reason_name(code: i64) -> &'static str {
    match code {
        1 => "key_compromise",
        2 => "ca_compromise",
        3 => "affiliation_changed",
        4 => "superseded",
        5 => "cessation_of_operation",
        6 => "certificate_hold",
        8 => "remove_from_crl",
        9 => "privilege_withdrawn",
        10 => "aa_compromise",
        _ => "unspecified",
    }
}

/// The stored CRL if it is still current (read-only check).
pub fn cached(tx: &mut dyn Tx, which: Which, now: i64) -> Result<Option<Vec<u8>>> {
    let rows = listed(tx, which)?;
    let fp = fingerprint(&rows);
    let (_, refresh) = which.timing();
    let state = tx.query_opt(
        "SELECT der, this_update, fingerprint FROM crl_state WHERE id = $1",
        &params![which.row_id()],
    )?;
    let Some(state) = state else {
        return Ok(None);
    };
    if which == Which::Root {
        // Only the operator re-signs it: the stored one is the current one.
        return Ok(state.opt_bytes(0)?);
    }
    let (der, this_update, stored_fp) =
        (state.opt_bytes(0)?, state.opt_i64(1)?, state.opt_text(2)?);
    match (der, this_update, stored_fp) {
        (Some(der), Some(t), Some(f)) if f == fp && now >= t && now - t < refresh => Ok(Some(der)),
        _ => Ok(None),
    }
}

/// The current CRL, rebuilt and stored if the revoked set changed or it aged.
pub fn current(tx: &mut dyn Tx, ca: &CaKeys, which: Which, now: i64) -> Result<Vec<u8>> {
    if let Some(der) = cached(tx, which, now)? {
        return Ok(der);
    }
    if which == Which::Root {
        tracing::error!("no root CRL: run `bidkey-server ca root-crl`");
        return Err(bidkey_protocol::ErrorCode::Unavailable.into());
    }
    let rows = listed(tx, which)?;
    let fp = fingerprint(&rows);
    let (next, _) = which.timing();
    let number = tx
        .query_opt(
            "SELECT crl_number FROM crl_state WHERE id = $1",
            &params![which.row_id()],
        )?
        .map(|r| r.i64(0))
        .transpose()?;
    let crl_number = number.unwrap_or(0) + 1;
    let revoked = rows
        .iter()
        .map(|r| {
            Ok(RevokedEntry {
                serial: hex::decode(&r.serial).map_err(|_| {
                    crate::error::ServerError::Internal(format!("bad serial {}", r.serial))
                })?,
                revoked_at: u64::try_from(r.at).unwrap_or(0),
                reason: if r.suspended {
                    Some(CrlReason::CertificateHold)
                } else {
                    r.reason.and_then(reason_of)
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let template = CrlTemplate {
        crl_number: u64::try_from(crl_number).unwrap_or(1),
        this_update: u64::try_from(now).unwrap_or(0),
        next_update: u64::try_from(now + next).unwrap_or(0),
        revoked,
    };
    let crl = Crl::issue(&template, ca.issuing(), ca.issuing_key())?;
    let der = crl.to_der().to_vec();
    store(tx, which, crl_number, &der, now, now + next, &fp)?;
    Ok(der)
}

fn store(
    tx: &mut dyn Tx,
    which: Which,
    crl_number: i64,
    der: &[u8],
    now: i64,
    next: i64,
    fp: &str,
) -> Result<()> {
    let der = der.to_vec();
    let n = tx.execute(
        "UPDATE crl_state SET crl_number = $1, der = $2, this_update = $3, next_update = $4, fingerprint = $5 WHERE id = $6",
        &params![crl_number, der.clone(), now, next, fp, which.row_id()],
    )?;
    if n == 0 {
        tx.execute(
            "INSERT INTO crl_state (id, crl_number, der, this_update, next_update, fingerprint) VALUES ($1, $2, $3, $4, $5, $6)",
            &params![which.row_id(), crl_number, der, now, next, fp],
        )?;
    }
    Ok(())
}

/// Sign and store the root's CRL (ARL) with the next CRL number, valid `days`: the operator
/// command `bidkey-server ca root-crl`, and `ca init`. Returns the CRL number.
pub fn publish_root(tx: &mut dyn Tx, root: &RootKey, now: i64, days: i64) -> Result<i64> {
    let number = tx
        .query_opt(
            "SELECT crl_number FROM crl_state WHERE id = $1",
            &params![Which::Root.row_id()],
        )?
        .map(|r| r.i64(0))
        .transpose()?;
    let crl_number = number.unwrap_or(0) + 1;
    let next = now + days * 86_400;
    let template = CrlTemplate {
        crl_number: u64::try_from(crl_number).unwrap_or(1),
        this_update: u64::try_from(now).unwrap_or(0),
        next_update: u64::try_from(next).unwrap_or(0),
        revoked: Vec::new(),
    };
    let der = Crl::issue(&template, root.cert(), root.key())?
        .to_der()
        .to_vec();
    store(tx, Which::Root, crl_number, &der, now, next, "")?;
    Ok(crl_number)
}

/// Whether a root CRL has been published (sandbox start publishes the first).
pub fn root_published(tx: &mut dyn Tx) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT der FROM crl_state WHERE id = $1 AND der IS NOT NULL",
            &params![Which::Root.row_id()],
        )?
        .is_some())
}

/// Status of one certificate by serial (hex, any case).
pub fn status(tx: &mut dyn Tx, serial: &str, now: i64) -> Result<CertStatus> {
    let serial = serial.trim().to_ascii_uppercase();
    let row = tx.query_opt(
        "SELECT status, revoked_at, revoke_reason, not_after FROM certificates WHERE serial = $1",
        &params![serial.as_str()],
    )?;
    let Some(row) = row else {
        return Ok(CertStatus {
            serial,
            status: RevocationStatus::Unknown,
            revoked_at: None,
            reason: None,
            not_after: None,
            produced_at: now,
        });
    };
    let (status, reason) = match row.text(0)?.as_str() {
        "revoked" => (
            RevocationStatus::Revoked,
            Some(reason_name(row.opt_i64(2)?.unwrap_or(0)).to_owned()),
        ),
        "suspended" => (RevocationStatus::Suspended, Some(reason_name(6).to_owned())),
        _ => (RevocationStatus::Good, None),
    };
    Ok(CertStatus {
        serial,
        status,
        revoked_at: if status == RevocationStatus::Good {
            None
        } else {
            row.opt_i64(1)?
        },
        reason,
        not_after: Some(row.i64(3)?),
        produced_at: now,
    })
}
