//! "Still the same person": real-name verification again (the provider's verdict, the ID
//! number's HMAC equal to the stored `id_number_hash`, and the name equal to the stored real
//! name) plus an SMS code to the account's phone. Used by unlock (解锁)
//! and recovery (证书找回). Wrong codes and refused checks are committed and audited.

use crate::accounts::codes;
use crate::audit::{self, Event};
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::realname::Verdict;
use crate::state::AppState;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{RealNameRequest, SmsPurpose};

/// The provider's verdict and the ID hash, computed before the transaction.
#[derive(Debug, Clone)]
pub struct Claimed {
    verdict: Verdict,
    id_hash: String,
    name: String,
    /// For the SMS code's keyed hash.
    secrets: std::sync::Arc<crate::state::Secrets>,
}

pub async fn claim(st: &AppState, req: &RealNameRequest) -> Result<Claimed> {
    Ok(Claimed {
        verdict: crate::realname::person(st.realname.clone(), req.clone()).await?,
        id_hash: crate::accounts::id_number_hash(st, &req.id_number),
        name: req.name.trim().to_owned(),
        secrets: st.secrets.clone(),
    })
}

/// Check the SMS code and the person. The outer error aborts the transaction; the inner one
/// is a refusal that must be committed (the code attempt, the audit entry).
pub fn check(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    claimed: &Claimed,
    purpose: SmsPurpose,
    code: &str,
) -> Result<Result<(), ServerError>> {
    ratelimit::hit(tx, &format!("recheck:{account_id}"), now, 86_400, 10)?;
    let row = tx
        .query_opt(
            "SELECT phone, id_number_hash, real_name FROM accounts WHERE id = $1",
            &params![account_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
    let (phone, stored, real_name) = (row.text(0)?, row.opt_text(1)?, row.opt_text(2)?);
    if let Err(code) = codes::verify(
        tx,
        &claimed.secrets.sms_code_key,
        now,
        &phone,
        purpose,
        code,
    )? {
        return Ok(Err(code.into()));
    }
    let refused = match (&claimed.verdict, stored) {
        (_, None) => Some(ErrorCode::RealNameRequired),
        (Verdict::Refused(_), _) => Some(ErrorCode::RealNameFailed),
        (Verdict::Verified, Some(prev)) if prev != claimed.id_hash => {
            Some(ErrorCode::RealNameFailed)
        }
        // The ID number alone is not enough: the name must be the one verified before.
        _ if real_name.as_deref().map(str::trim) != Some(claimed.name.as_str()) => {
            Some(ErrorCode::RealNameFailed)
        }
        _ => None,
    };
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: if refused.is_some() {
                "identity.recheck_refused"
            } else {
                "identity.rechecked"
            },
            target: Some(account_id),
            detail: Some(purpose.as_str().to_owned()),
            ..Default::default()
        },
    )?;
    Ok(match refused {
        Some(code) => Err(code.into()),
        None => Ok(()),
    })
}
