//! Rows of `cert_pairs` and `certificates`.

use crate::ca::issue::Holder;
use crate::db::{Row, Tx};
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_crypto::x509::Cert;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::CertUsage;

/// A certificate pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRow {
    pub id: String,
    pub account_id: String,
    pub enterprise_id: Option<String>,
    pub device_id: Option<String>,
    /// valid | suspended | revoked | superseded
    pub status: String,
    pub created_at: i64,
}

impl PairRow {
    pub fn holder(&self) -> Holder {
        Holder {
            account_id: self.account_id.clone(),
            enterprise_id: self.enterprise_id.clone(),
        }
    }
}

const PAIR_COLUMNS: &str = "id, account_id, enterprise_id, device_id, status, created_at";

fn pair_from_row(r: &Row) -> Result<PairRow> {
    Ok(PairRow {
        id: r.text(0)?,
        account_id: r.text(1)?,
        enterprise_id: r.opt_text(2)?,
        device_id: r.opt_text(3)?,
        status: r.text(4)?,
        created_at: r.i64(5)?,
    })
}

/// One certificate row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRow {
    pub serial: String,
    pub pair_id: String,
    pub usage: CertUsage,
    pub subject: String,
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    /// valid | suspended | revoked
    pub status: String,
    pub revoked_at: Option<i64>,
}

const CERT_COLUMNS: &str =
    "serial, pair_id, usage, subject, der, not_before, not_after, status, revoked_at";

fn cert_from_row(r: &Row) -> Result<CertRow> {
    Ok(CertRow {
        serial: r.text(0)?,
        pair_id: r.text(1)?,
        usage: CertUsage::parse(&r.text(2)?)
            .ok_or_else(|| ServerError::Internal("bad certificate usage".into()))?,
        subject: r.text(3)?,
        der: r.bytes(4)?,
        not_before: r.i64(5)?,
        not_after: r.i64(6)?,
        status: r.text(7)?,
        revoked_at: r.opt_i64(8)?,
    })
}

pub fn pair(tx: &mut dyn Tx, id: &str) -> Result<PairRow> {
    let sql = format!("SELECT {PAIR_COLUMNS} FROM cert_pairs WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    pair_from_row(&r)
}

/// The pair a certificate belongs to, if `account_id` holds it.
pub fn pair_of_serial(tx: &mut dyn Tx, serial: &str, account_id: &str) -> Result<PairRow> {
    let r = tx
        .query_opt(
            "SELECT pair_id FROM certificates WHERE serial = $1",
            &params![serial.trim().to_ascii_uppercase()],
        )?
        .ok_or(ServerError::Api(ErrorCode::CertificateNotFound))?;
    let p = pair(tx, &r.text(0)?)?;
    if p.account_id != account_id {
        return Err(ErrorCode::CertificateNotFound.into());
    }
    Ok(p)
}

/// The certificates of a pair.
pub fn certs_of(tx: &mut dyn Tx, pair_id: &str) -> Result<Vec<CertRow>> {
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE pair_id = $1 ORDER BY usage DESC, created_at"
    );
    tx.query(&sql, &params![pair_id])?
        .iter()
        .map(cert_from_row)
        .collect()
}

/// The certificate of `usage` in a pair.
pub fn cert_of(tx: &mut dyn Tx, pair_id: &str, usage: CertUsage) -> Result<Option<CertRow>> {
    Ok(certs_of(tx, pair_id)?
        .into_iter()
        .find(|c| c.usage == usage))
}

/// An account's pairs, newest first.
pub fn pairs_of_account(tx: &mut dyn Tx, account_id: &str) -> Result<Vec<PairRow>> {
    let sql = format!(
        "SELECT {PAIR_COLUMNS} FROM cert_pairs WHERE account_id = $1 ORDER BY created_at DESC, id"
    );
    tx.query(&sql, &params![account_id])?
        .iter()
        .map(pair_from_row)
        .collect()
}

/// A holder's pairs still in force or suspended (normally at most one).
pub fn live_pairs_of(tx: &mut dyn Tx, holder: &Holder) -> Result<Vec<PairRow>> {
    let sql = format!(
        "SELECT {PAIR_COLUMNS} FROM cert_pairs WHERE account_id = $1 \
         AND COALESCE(enterprise_id, '') = COALESCE($2, '') AND status IN ('valid', 'suspended') \
         ORDER BY created_at DESC, id"
    );
    tx.query(
        &sql,
        &params![&holder.account_id, holder.enterprise_id.as_deref()],
    )?
    .iter()
    .map(pair_from_row)
    .collect()
}

/// Insert a pair in force.
pub fn insert_pair(
    tx: &mut dyn Tx,
    now: i64,
    id: &str,
    holder: &Holder,
    device_id: &str,
    application_id: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO cert_pairs (id, account_id, enterprise_id, device_id, status, created_at, updated_at, application_id) \
         VALUES ($1, $2, $3, $4, 'valid', $5, $5, $6)",
        &params![
            id,
            &holder.account_id,
            holder.enterprise_id.as_deref(),
            device_id,
            now,
            application_id
        ],
    )?;
    Ok(())
}

/// Insert an issued certificate.
pub fn insert_cert(
    tx: &mut dyn Tx,
    now: i64,
    pair_id: &str,
    usage: CertUsage,
    cert: &Cert,
) -> Result<()> {
    tx.execute(
        "INSERT INTO certificates (serial, pair_id, usage, subject, der, not_before, not_after, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'valid', $8)",
        &params![
            cert.serial_hex(),
            pair_id,
            usage.as_str(),
            cert.subject_string(),
            cert.to_der(),
            i64::try_from(cert.not_before()).unwrap_or(i64::MAX),
            i64::try_from(cert.not_after()).unwrap_or(i64::MAX),
            now
        ],
    )?;
    Ok(())
}
