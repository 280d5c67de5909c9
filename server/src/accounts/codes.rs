//! One-time SMS codes: six digits, valid 5 minutes, 5 wrong tries, limited sends per phone
//! and per IP, and at most [`WRONG_PER_PHONE_PER_HOUR`] wrong guesses per number per hour
//! whatever the number of codes sent (a fresh code does not reset the budget). Only a keyed
//! hash (HMAC-SM3 under `sms-code.key`, bound to the number and purpose) of the code is
//! stored: a six-digit code under a plain hash falls to a million tries offline.
//!
//! A code is judged by its own state (its purpose, whether it is spent, its tries, its
//! expiry), never by which one carries the latest timestamp: a server clock that steps
//! (backwards in production, or the demo stepping past the resend limit) would otherwise
//! make an older code look newer and refuse the fresh one. Sending a new code spends the
//! earlier unspent ones for the same phone and purpose, so the one the person just received
//! is the one that counts.

use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::sms::{SmsMessage, SmsProvider, SmsTemplate};
use crate::util::new_id;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;

pub const CODE_TTL: i64 = 300;
pub const RESEND_AFTER: i64 = 60;
const MAX_TRIES: i64 = 5;
/// Wrong guesses per phone number per (fixed) hour, across codes and purposes.
pub const WRONG_PER_PHONE_PER_HOUR: i64 = 10;
const HOUR: i64 = 3600;

/// The stored form of `code`: HMAC-SM3 under the server's SMS code key, over the number,
/// the purpose and the code, so a copy of the table reveals no code without the key file.
pub fn code_hash(key: &[u8; 32], phone: &str, purpose: SmsPurpose, code: &str) -> String {
    let msg = format!("bidkey-sms-code\0{phone}\0{}\0{code}", purpose.as_str());
    hex::encode(bidkey_crypto::sm3::hmac_sm3(key, msg.as_bytes()))
}

fn wrong_bucket(phone: &str) -> String {
    format!("sms:wrong1h:{phone}")
}

/// Create a code for `phone` and send it.
#[allow(clippy::too_many_arguments)]
pub fn issue(
    tx: &mut dyn Tx,
    key: &[u8; 32],
    sms: &dyn SmsProvider,
    now: i64,
    phone: &str,
    purpose: SmsPurpose,
    ip: &str,
    per_ip_per_hour: i64,
) -> Result<()> {
    ratelimit::hit(tx, &format!("sms:phone1m:{phone}"), now, RESEND_AFTER, 1)?;
    ratelimit::hit(tx, &format!("sms:phone1h:{phone}"), now, 3600, 10)?;
    ratelimit::hit(tx, &format!("sms:ip1h:{ip}"), now, 3600, per_ip_per_hour)?;
    let code = six_digits()?;
    // Spent rather than deleted: they stay for the record, marked used.
    tx.execute(
        "UPDATE sms_codes SET used = 1 WHERE phone = $1 AND purpose = $2 AND used = 0",
        &params![phone, purpose.as_str()],
    )?;
    tx.execute(
        "INSERT INTO sms_codes (id, phone, purpose, code_hash, ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![new_id()?, phone, purpose.as_str(), code_hash(key, phone, purpose, &code), ip, now, now + CODE_TTL],
    )?;
    let text = format!(
        "【Bidkey】验证码 {code}，5分钟内有效，请勿告诉他人。Your Bidkey code is {code}, valid for 5 minutes."
    );
    let msg = SmsMessage {
        phone: phone.to_owned(),
        template: SmsTemplate::Code(purpose),
        params: vec![("code", code)],
        text,
    };
    sms.send(tx, now, &msg)
}

fn six_digits() -> Result<String> {
    // Rejection sampling keeps the code uniform over 000000-999999.
    loop {
        let b = bidkey_crypto::rng::bytes::<4>()?;
        let v = u32::from_be_bytes(b);
        if v < 4_294_000_000 {
            return Ok(format!("{:06}", v % 1_000_000));
        }
    }
}

/// Check and consume the live code for `phone` and `purpose`: unspent, with tries left,
/// not expired. Sending a code spends the earlier ones, so there is normally one; should two
/// sends have raced, the guess is tried against each and a wrong one counts on each, so no
/// code ever gets more than its tries.
///
/// A wrong guess is counted in the same transaction, so the caller must commit even when
/// this returns an error; [`verify_outcome`] makes that explicit.
pub fn verify(
    tx: &mut dyn Tx,
    key: &[u8; 32],
    now: i64,
    phone: &str,
    purpose: SmsPurpose,
    code: &str,
) -> Result<Result<(), ErrorCode>> {
    // The budget is judged before any code is: guesses spread over fresh codes stop here.
    let window = now - now.rem_euclid(HOUR);
    let wrong = tx
        .query_opt(
            "SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2",
            &params![wrong_bucket(phone), window],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    if wrong >= WRONG_PER_PHONE_PER_HOUR {
        return Err(ServerError::RateLimited {
            retry_after: (window + HOUR - now).max(1) as u64,
        });
    }
    let rows = tx.query(
        "SELECT id, code_hash, expires_at FROM sms_codes \
         WHERE phone = $1 AND purpose = $2 AND used = 0 AND attempts < $3",
        &params![phone, purpose.as_str(), MAX_TRIES],
    )?;
    let mut live = Vec::with_capacity(rows.len());
    let mut expired = false;
    for row in &rows {
        if row.i64(2)? <= now {
            expired = true;
        } else {
            live.push((row.text(0)?, row.text(1)?));
        }
    }
    if live.is_empty() {
        return Ok(Err(if expired {
            ErrorCode::SmsCodeExpired
        } else {
            ErrorCode::SmsCodeInvalid
        }));
    }
    let given = code_hash(key, phone, purpose, code.trim());
    let matching = live.iter().find(|(_, stored)| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            stored.as_bytes(),
        ))
    });
    if let Some((id, _)) = matching {
        tx.execute("UPDATE sms_codes SET used = 1 WHERE id = $1", &params![id])?;
        return Ok(Ok(()));
    }
    for (id, _) in &live {
        tx.execute(
            "UPDATE sms_codes SET attempts = attempts + 1 WHERE id = $1",
            &params![id],
        )?;
    }
    // Counted, never refused here: the check above refuses the next guess over budget.
    ratelimit::hit(tx, &wrong_bucket(phone), now, HOUR, i64::MAX)?;
    Ok(Err(ErrorCode::SmsCodeInvalid))
}

/// Turn a verification outcome into an error after the transaction committed.
pub fn verify_outcome(r: Result<(), ErrorCode>) -> Result<()> {
    r.map_err(ServerError::Api)
}
