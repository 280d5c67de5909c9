//! One-time SMS codes: six digits, valid 5 minutes, 5 wrong tries, limited sends per phone
//! and per IP. Only a hash of the code is stored.

use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::sms::SmsProvider;
use crate::util::{hash_secret, new_id};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::SmsPurpose;

pub const CODE_TTL: i64 = 300;
pub const RESEND_AFTER: i64 = 60;
const MAX_TRIES: i64 = 5;

/// Create a code for `phone` and send it.
pub fn issue(
    tx: &mut dyn Tx,
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
    tx.execute(
        "INSERT INTO sms_codes (id, phone, purpose, code_hash, ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![new_id()?, phone, purpose.as_str(), hash_secret(&code), ip, now, now + CODE_TTL],
    )?;
    let body = format!(
        "【Bidkey】验证码 {code}，5分钟内有效，请勿告诉他人。Your Bidkey code is {code}, valid for 5 minutes."
    );
    sms.send(tx, now, phone, &body)
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

/// Check and consume the newest code for `phone` and `purpose`.
///
/// A wrong guess is counted in the same transaction, so the caller must commit even when
/// this returns an error; [`verify_outcome`] makes that explicit.
pub fn verify(
    tx: &mut dyn Tx,
    now: i64,
    phone: &str,
    purpose: SmsPurpose,
    code: &str,
) -> Result<Result<(), ErrorCode>> {
    let row = tx.query_opt(
        "SELECT id, code_hash, attempts, used, expires_at FROM sms_codes \
         WHERE phone = $1 AND purpose = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
        &params![phone, purpose.as_str()],
    )?;
    let Some(row) = row else {
        return Ok(Err(ErrorCode::SmsCodeInvalid));
    };
    let id = row.text(0)?;
    if row.bool(3)? || row.i64(2)? >= MAX_TRIES {
        return Ok(Err(ErrorCode::SmsCodeInvalid));
    }
    if row.i64(4)? <= now {
        return Ok(Err(ErrorCode::SmsCodeExpired));
    }
    let given = hash_secret(code.trim());
    let stored = row.text(1)?;
    let matches: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), stored.as_bytes()).into();
    if matches {
        tx.execute("UPDATE sms_codes SET used = 1 WHERE id = $1", &params![id])?;
        Ok(Ok(()))
    } else {
        tx.execute(
            "UPDATE sms_codes SET attempts = attempts + 1 WHERE id = $1",
            &params![id],
        )?;
        Ok(Err(ErrorCode::SmsCodeInvalid))
    }
}

/// Turn a verification outcome into an error after the transaction committed.
pub fn verify_outcome(r: Result<(), ErrorCode>) -> Result<()> {
    r.map_err(ServerError::Api)
}
