//! Admin actions confirmed with the admin's PIN (issue 13 §7, ADR 0018): the mechanism of
//! 注销 (a co-signed server challenge, `purpose = revoke`), with a challenge that names one
//! admin action. The phone opens a `confirm` session for the action, co-signs the challenge
//! with its PIN, and sends the action with the session id in [`CONFIRMATION_HEADER`]; the
//! action's handler spends it here, in its own transaction, before it changes anything.
//! A stolen login token gives no PIN, so it cannot make a confirmation.

use super::{keys, session_in, set_status};
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use axum::http::HeaderMap;
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2PublicKey, message_digest};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::{AdminAction, CONFIRMATION_HEADER, CosignPurpose, confirm_challenge};

/// What a request brought to confirm an admin action: the caller's device and the session
/// id in the header, if any. Taken from the request before the transaction.
#[derive(Debug, Clone)]
pub struct Confirmation {
    account_id: String,
    device_id: Option<String>,
    session_hex: Option<String>,
}

impl Confirmation {
    pub fn of(user: &AuthUser, headers: &HeaderMap) -> Confirmation {
        Confirmation {
            account_id: user.account_id.clone(),
            device_id: user.device_id.clone(),
            session_hex: headers
                .get(CONFIRMATION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_ascii_lowercase()),
        }
    }

    /// Spend the confirmation for exactly `action`: a finished `confirm` session of the
    /// caller on this device whose co-signed challenge names `action`. None is
    /// `pin_confirmation_required`; anything else that is not that (another action, another
    /// account or device, unfinished, expired, spent) is `invalid_proof`. Recorded in the
    /// audit log (`admin.pin_confirmed`, naming the action and the key).
    pub fn spend(&self, tx: &mut dyn Tx, now: i64, action: &AdminAction) -> Result<()> {
        let Some(sid) = &self.session_hex else {
            return Err(ErrorCode::PinConfirmationRequired.into());
        };
        let invalid = || ServerError::Api(ErrorCode::InvalidProof);
        let device = self.device_id.as_deref().ok_or_else(invalid)?;
        if sid.len() != 64 || !sid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let s =
            session_in(tx, sid, &self.account_id, device, "done", now).map_err(|e| match e {
                ServerError::Api(_) => invalid(),
                other => other,
            })?;
        if s.purpose != CosignPurpose::Confirm {
            return Err(invalid());
        }
        let key = keys::get(tx, &s.key_id)?;
        // What was co-signed is the digest of the challenge for this key, session and
        // action; any other action gives another digest.
        let public = Sm2PublicKey::from_sec1(&key.public_key)?;
        let e = message_digest(
            &public,
            DEFAULT_ID,
            &confirm_challenge(&key.cert_serial, sid, action),
        )?;
        if s.digest.as_deref() != Some(e.as_slice()) {
            return Err(invalid());
        }
        set_status(tx, &s.id, "done", "consumed")?;
        audit::record(
            tx,
            now,
            Event {
                actor: &self.account_id,
                action: "admin.pin_confirmed",
                target: Some(action.name()),
                detail: Some(format!("{} key={}", action.describe(), key.cert_serial)),
                ..Default::default()
            },
        )
    }
}
