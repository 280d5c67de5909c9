//! Bank statement lines: credits to the Bidkey corporate account, matched against
//! micro-payment requests ([`crate::enterprises::micropay`]).
//!
//! Two ways in, both idempotent on the bank's transaction id:
//!
//! - the operator command `bidkey-server bank-import FILE.csv` ([`parse_csv`], [`import`]);
//! - the signed webhook `POST /v1/bank/webhook` ([`webhook`]).
//!
//! **CSV format** ([`statement`]): UTF-8 (an optional BOM) or GBK, RFC 4180 quoting, a
//! header line first. Our own headings are below; a bank's export is read through the
//! operator's column map (`[bank.columns]`, docs/operations.md), extra columns ignored and
//! rows without an amount (debits) skipped:
//!
//! ```text
//! bank_txn_id,booked_at,payer_account,payer_name,amount,reference
//! 202603010001,2026-03-01 10:15:00,6222020200001234567,某某建设有限公司,0.37,BK7Q2M4XZ
//! ```
//!
//! `booked_at` is Unix seconds or `YYYY-MM-DD HH:MM:SS` (or `YYYY/MM/DD`) in Beijing time (UTC+8);
//! `payer_account` is the full account number or its last six digits (only those are kept);
//! `amount` is in yuan with at most two decimals (thousands separators allowed);
//! `reference` may be empty.
//! A file with any bad line is refused whole, with every bad line listed; nothing of it is
//! imported. A good file is imported in one transaction.
//!
//! **Webhook**: the body is JSON ([`BankWebhook`]); the bank sends
//! `X-Bidkey-Timestamp: <unix seconds>` and
//! `X-Bidkey-Signature: hex(HMAC-SM3(key, "<timestamp>.<body>"))` where `key` is the 32 bytes
//! of `bank-webhook.key` in the data directory (made on first start, like `pii.key`). A
//! timestamp more than five minutes off is refused, and so is a signature seen before
//! (a replay); a resend of the same transactions with a fresh signature is answered
//! `duplicate` line by line.
//!
//! **Matching**: same account tail, exact amount, booked within the request's window
//! (from 10 minutes before its creation, for clock skew, to its expiry), the payer's name
//! equal to the enterprise's registered name ([`names::same`]: full-width/half-width,
//! brackets, spaces and case do not matter), and when the line has a remark, the remark
//! contains the request's reference. A line without the payer's name, or from another
//! payer, matches nothing. A line that matches nothing is kept unmatched for the operator.

pub mod names;
pub mod statement;

use crate::audit::{self, Event};
use crate::db::{Db, Tx};
use crate::enterprises::micropay::expire_stale;
use crate::error::{Result, ServerError};
use crate::memberships::{self, Role};
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use crate::{applications, idempotency};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::platforms::{
    BankImport, BankTransaction, BankWebhook, LineOutcome, LineResult,
};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// The CSV header, in this order.
pub const CSV_HEADER: &str = "bank_txn_id,booked_at,payer_account,payer_name,amount,reference";
/// Accepted clock difference of a webhook call.
pub const WEBHOOK_WINDOW: i64 = 300;
/// Statement lines may be booked this long before the request was made (bank clocks).
const SKEW: i64 = 600;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/bank/webhook", post(webhook))
}

/// A checked statement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub bank_txn_id: String,
    pub booked_at: i64,
    pub last6: String,
    pub payer_name: Option<String>,
    pub amount_fen: i64,
    pub reference: Option<String>,
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Check a transaction as the bank sent it.
pub fn check(t: &BankTransaction) -> std::result::Result<Line, String> {
    let id = t.bank_txn_id.trim();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("bank_txn_id must be 1..64 printable ASCII characters".into());
    }
    let digits: String = t
        .payer_account
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("payer_account must be at least six digits".into());
    }
    if !(1..=100_000_000_000).contains(&t.amount_fen) {
        return Err("amount must be positive".into());
    }
    if t.booked_at <= 0 {
        return Err("booked_at must be a time".into());
    }
    let payer_name = non_empty(t.payer_name.as_deref());
    let reference = non_empty(t.reference.as_deref());
    if payer_name.as_ref().is_some_and(|n| n.chars().count() > 200)
        || reference.as_ref().is_some_and(|r| r.chars().count() > 200)
    {
        return Err("payer_name and reference are limited to 200 characters".into());
    }
    Ok(Line {
        bank_txn_id: id.to_owned(),
        booked_at: t.booked_at,
        last6: digits[digits.len() - 6..].to_owned(),
        payer_name,
        amount_fen: t.amount_fen,
        reference,
    })
}

/// Record one line and match it. See the module documentation.
pub fn ingest(tx: &mut dyn Tx, now: i64, source: &str, line: &Line) -> Result<LineOutcome> {
    let seen = tx.query_opt(
        "SELECT id FROM bank_statement_lines WHERE bank_txn_id = $1",
        &params![line.bank_txn_id.as_str()],
    )?;
    if seen.is_some() {
        return Ok(LineOutcome::Duplicate);
    }
    let candidates = tx.query(
        "SELECT m.id, m.account_id, m.enterprise_id, m.reference, e.name FROM micropayments m \
         JOIN enterprises e ON e.id = m.enterprise_id \
         WHERE m.account_last6 = $1 AND m.amount_fen = $2 AND m.status IN ('pending', 'expired') \
         AND m.created_at - $3 <= $4 AND $4 <= m.expires_at ORDER BY m.created_at DESC, m.id",
        &params![line.last6.as_str(), line.amount_fen, SKEW, line.booked_at],
    )?;
    let remark = line.reference.as_deref().map(str::to_ascii_uppercase);
    let mut matched = None;
    for r in &candidates {
        let reference = r.text(3)?;
        if !remark.as_deref().is_none_or(|m| m.contains(&reference)) {
            continue;
        }
        // The money must come from the enterprise itself, not from any account that shares
        // the last six digits: the payer's name is the registered name.
        let registered = r.text(4)?;
        if !line
            .payer_name
            .as_deref()
            .is_some_and(|p| names::same(p, &registered))
        {
            tracing::info!(line = %line.bank_txn_id, "statement line: payer name is not the enterprise's");
            continue;
        }
        matched = Some((r.text(0)?, r.text(1)?, r.text(2)?));
        break;
    }
    let line_id = new_id()?;
    tx.execute(
        "INSERT INTO bank_statement_lines (id, source, bank_txn_id, account_last6, payer_name, amount_fen, reference, booked_at, imported_at, micropayment_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &params![
            line_id.as_str(),
            source,
            line.bank_txn_id.as_str(),
            line.last6.as_str(),
            line.payer_name.as_deref(),
            line.amount_fen,
            line.reference.as_deref(),
            line.booked_at,
            now,
            matched.as_ref().map(|(id, _, _)| id.as_str())
        ],
    )?;
    let Some((mp_id, account_id, enterprise_id)) = matched else {
        return Ok(LineOutcome::Unmatched);
    };
    tx.execute(
        "UPDATE micropayments SET status = 'matched', statement_line_id = $1, matched_at = $2 WHERE id = $3",
        &params![line_id.as_str(), now, mp_id.as_str()],
    )?;
    let role = match memberships::role_of(tx, &enterprise_id, &account_id)? {
        Some(r) => r,
        None => {
            let role = if memberships::admin_of(tx, &enterprise_id)?.is_some() {
                Role::Staff
            } else {
                Role::Admin
            };
            memberships::add(tx, now, &enterprise_id, &account_id, role)?;
            role
        }
    };
    audit::record(
        tx,
        now,
        Event {
            actor: &format!("bank:{source}"),
            action: "micropayment.matched",
            target: Some(&mp_id),
            detail: Some(format!("{enterprise_id} {account_id} {}", role.as_str())),
            ..Default::default()
        },
    )?;
    let (zh, en) = match role {
        Role::Admin => ("管理员", "the administrator"),
        Role::Staff => ("办事人员", "staff"),
    };
    applications::notify(
        tx,
        now,
        &account_id,
        None,
        &format!("对公打款认证成功，您已成为该企业的{zh}。"),
        &format!("The micro-payment matched; you are now {en} of the enterprise."),
    )?;
    Ok(LineOutcome::Matched)
}

/// Record and match checked lines in the current transaction; expire stale requests after.
pub fn ingest_all(
    tx: &mut dyn Tx,
    now: i64,
    source: &str,
    lines: &[Line],
) -> Result<Vec<LineResult>> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        out.push(LineResult {
            bank_txn_id: line.bank_txn_id.clone(),
            outcome: ingest(tx, now, source, line)?,
        });
    }
    expire_stale(tx, now)?;
    Ok(out)
}

/// A yuan amount with at most two decimals, in fen.
fn parse_yuan(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 12 || frac.len() > 2 {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yuan: i64 = int.parse().ok()?;
    let fen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    Some(yuan * 100 + fen)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds, or `YYYY-MM-DD HH:MM:SS` (also with `T`) in Beijing time.
fn parse_time(s: &str) -> Option<i64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let b = s.as_bytes();
    // `-` or, as some banks print dates, `/`; the same in both places.
    if b.len() != 19 || !matches!(b[4], b'-' | b'/') || b[7] != b[4] {
        return None;
    }
    if !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max_day = if mo == 2 && leap {
        29
    } else {
        *month_days.get(usize::try_from(mo - 1).ok()?)?
    };
    if !(1..=12).contains(&mo) || !(1..=max_day).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - 8 * 3600)
}

/// Parse a statement CSV in our own format (UTF-8 or GBK, our headings). Every bad line is
/// reported (`line N: why`); a file with any is refused whole.
pub fn parse_csv(text: &str) -> std::result::Result<Vec<Line>, Vec<String>> {
    statement::parse(text.as_bytes(), &statement::Format::default())
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub matched: usize,
    pub unmatched: usize,
    pub duplicate: usize,
}

impl ImportSummary {
    fn of(results: &[LineResult]) -> Self {
        let count = |o| results.iter().filter(|r| r.outcome == o).count();
        ImportSummary {
            matched: count(LineOutcome::Matched),
            unmatched: count(LineOutcome::Unmatched),
            duplicate: count(LineOutcome::Duplicate),
        }
    }
}

/// Import a statement CSV in our own format in one transaction.
pub async fn import(
    db: &Db,
    now: i64,
    text: &str,
) -> std::result::Result<ImportSummary, Vec<String>> {
    import_file(db, now, text.as_bytes(), &statement::Format::default()).await
}

/// Import a bank's statement file, read with the operator's `format`, in one transaction
/// (the `bank-import` command).
pub async fn import_file(
    db: &Db,
    now: i64,
    bytes: &[u8],
    format: &statement::Format,
) -> std::result::Result<ImportSummary, Vec<String>> {
    let lines = statement::parse(bytes, format)?;
    let count = lines.len();
    let results = db
        .write(move |tx| {
            let results = ingest_all(tx, now, "csv", &lines)?;
            audit::record(
                tx,
                now,
                Event {
                    actor: "operator",
                    action: "bank.csv_imported",
                    detail: Some(format!("{count} lines")),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServerError>(results)
        })
        .await
        .map_err(|e| vec![format!("import failed, nothing imported: {e}")])?;
    Ok(ImportSummary::of(&results))
}

/// `hex(HMAC-SM3(key, "<timestamp>.<body>"))`, the webhook signature.
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp}.").into_bytes();
    msg.extend_from_slice(body);
    hex::encode(bidkey_crypto::sm3::hmac_sm3(key, &msg))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

async fn refuse(st: &AppState, now: i64, ip: String, why: &'static str) -> ServerError {
    let r = st
        .db
        .write(move |tx| {
            audit::record(
                tx,
                now,
                Event {
                    actor: "bank:webhook",
                    action: "bank.webhook_refused",
                    ip: Some(&ip),
                    detail: Some(why.to_owned()),
                    ..Default::default()
                },
            )
        })
        .await;
    match r {
        Ok(()) => ErrorCode::Unauthorized.into(),
        Err(e) => e,
    }
}

/// `POST /v1/bank/webhook`. See the module documentation.
pub async fn webhook(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<BankImport>> {
    let now = st.clock.now();
    let ip = addr.ip().to_string();
    let ts = header(&headers, "x-bidkey-timestamp").and_then(|t| t.parse::<i64>().ok());
    let sig = header(&headers, "x-bidkey-signature").map(str::to_ascii_lowercase);
    let (Some(ts), Some(sig)) = (ts, sig) else {
        return Err(refuse(&st, now, ip, "missing timestamp or signature").await);
    };
    let expected = sign(st.secrets.bank_webhook_key.as_slice(), ts, &body);
    if !bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
        return Err(refuse(&st, now, ip, "bad signature").await);
    }
    if (now - ts).abs() > WEBHOOK_WINDOW {
        return Err(refuse(&st, now, ip, "stale timestamp").await);
    }
    let hook: BankWebhook =
        serde_json::from_slice(&body).map_err(|_| ServerError::Api(ErrorCode::BadRequest))?;
    if hook.transactions.is_empty() || hook.transactions.len() > 1000 {
        return Err(ErrorCode::BadRequest.into());
    }
    let lines = hook
        .transactions
        .iter()
        .map(check)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| ServerError::Api(ErrorCode::BadRequest))?;
    let results = st
        .db
        .write(move |tx| {
            // A signature is good once: an exact replay inside the window is refused.
            tx.execute(
                "DELETE FROM idempotency WHERE key LIKE 'bank-webhook:%' AND created_at < $1",
                &params![now - 2 * WEBHOOK_WINDOW],
            )?;
            if idempotency::lookup::<i64>(tx, "bank-webhook", "bank", &sig)?.is_some() {
                return Err(ServerError::Api(ErrorCode::Conflict));
            }
            idempotency::store(tx, now, "bank-webhook", "bank", &sig, &ts)?;
            let results = ingest_all(tx, now, "webhook", &lines)?;
            audit::record(
                tx,
                now,
                Event {
                    actor: "bank:webhook",
                    action: "bank.webhook",
                    ip: Some(&ip),
                    detail: Some(format!("{} lines", lines.len())),
                    ..Default::default()
                },
            )?;
            Ok(results)
        })
        .await?;
    Ok(Json(BankImport { results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times() {
        assert_eq!(parse_yuan("0.37"), Some(37));
        assert_eq!(parse_yuan("1.5"), Some(150));
        assert_eq!(parse_yuan("12"), Some(1200));
        assert_eq!(parse_yuan("0.371"), None);
        assert_eq!(parse_yuan("-1"), None);
        assert_eq!(parse_yuan(""), None);
        // 2026-03-01 08:00:00 +08:00 is 2026-03-01T00:00:00Z.
        assert_eq!(parse_time("2026-03-01 08:00:00"), Some(1_772_323_200));
        assert_eq!(parse_time("1772323200"), Some(1_772_323_200));
        assert_eq!(parse_time("2026-02-30 08:00:00"), None);
        assert_eq!(parse_time("2026-3-1 8:00"), None);
    }

    #[test]
    fn csv_quotes_and_errors() {
        let ok = format!(
            "{CSV_HEADER}\n1,1772323200,\"6222 0202 0000 1234 567\",\"某某, 有限公司\",0.37,BK1\n"
        );
        let lines = parse_csv(&ok).expect("good csv");
        assert_eq!(lines[0].last6, "234567");
        assert_eq!(lines[0].payer_name.as_deref(), Some("某某, 有限公司"));
        let bad = format!("{CSV_HEADER}\n1,x,123456,,0.37,\n2,1,12,,0.37,\n1,1,123456,,0.3,\n");
        let errs = parse_csv(&bad).expect_err("bad csv");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("line 2:"));
        assert!(errs[1].starts_with("line 3:"));
        assert!(parse_csv("a,b\n").is_err());
    }
}
