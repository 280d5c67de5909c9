//! The co-signing service: the server half of two-party SM2 signing and decryption
//! (`bidkey_crypto::cosign`, `docs/two-party-sm2.md`).
//!
//! Every operation opens a session first; its random id is the two-party session id the
//! device binds its proof to, and it is accepted once:
//!
//! ```text
//! POST /v1/cosign/sessions     {serial, purpose, pair_id?, confirm?} → {session_id, challenge?}
//! POST /v1/cosign/sign         {session_id, request(161)}   → {response(96)}
//! POST /v1/cosign/sign/finish  {session_id, signature}      → {signature}   (checked)
//! POST /v1/cosign/decrypt      {session_id, request(194)}   → {response(65)}
//! ```
//! A wrong PIN answers `wrong_pin` with `tries_left`; the fifth in a row `key_locked`.

use serde::{Deserialize, Serialize};

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CosignPurpose {
    /// Sign any digest with the signing key.
    Sign,
    /// Sign the server's revocation challenge (注销 with the PIN).
    Revoke,
    /// Sign the server's confirmation challenge for one admin action (ADR 0018): the
    /// admin's PIN, which a login token alone cannot give.
    Confirm,
    /// Co-decrypt with an encryption key.
    Decrypt,
    /// Co-decrypt, with a new signing key, the SM4 key of an envelope that delivers the
    /// holder's escrowed encryption keys: enrolment only (within a day of the pair's
    /// creation). A signing key decrypts nothing else.
    KeyDelivery,
}

impl CosignPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CosignPurpose::Sign => "sign",
            CosignPurpose::Revoke => "revoke",
            CosignPurpose::Confirm => "confirm",
            CosignPurpose::Decrypt => "decrypt",
            CosignPurpose::KeyDelivery => "key_delivery",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign" => Some(CosignPurpose::Sign),
            "revoke" => Some(CosignPurpose::Revoke),
            "confirm" => Some(CosignPurpose::Confirm),
            "decrypt" => Some(CosignPurpose::Decrypt),
            "key_delivery" => Some(CosignPurpose::KeyDelivery),
            _ => None,
        }
    }
}

/// `POST /v1/cosign/sessions`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSession {
    /// Serial of the certificate whose key is used.
    pub serial: String,
    pub purpose: CosignPurpose,
    /// The pair whose share of that key the phone holds. A key delivered again with a new
    /// pair has one server share per pair; naming the pair makes the server use the share
    /// that matches the phone's, so a share of another pair can never be judged a wrong PIN.
    /// Without it the server takes the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_id: Option<String>,
    /// For `confirm` (and only then): the admin action the PIN is to confirm; the server's
    /// challenge names it, and the confirmation is good for nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<AdminAction>,
}

/// The header an admin action carries its PIN confirmation in: the hex id of a finished
/// `confirm` co-signing session for exactly that action, made on the caller's device
/// (ADR 0018). Spent by the action; a missing one is `pin_confirmation_required`, a wrong,
/// foreign or spent one `invalid_proof`.
pub const CONFIRMATION_HEADER: &str = "x-bidkey-confirmation";

/// An admin action that needs the admin's PIN (issue 13 §7, ADR 0018).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdminAction {
    /// 转授管理员 to `to_account_id`.
    TransferAdmin {
        enterprise_id: String,
        to_account_id: String,
    },
    /// Remove a staff member (their enterprise certificates and grants are revoked).
    RemoveStaff {
        enterprise_id: String,
        account_id: String,
    },
    /// Allow a member's enterprise certificate on a platform.
    AddGrant {
        enterprise_id: String,
        account_id: String,
        platform_id: String,
    },
    /// Revoke a grant.
    RevokeGrant {
        enterprise_id: String,
        grant_id: String,
    },
    /// 新增印章 with the PNG whose SM3 (hex) is `image_sm3`.
    AddSeal {
        enterprise_id: String,
        image_sm3: String,
    },
    /// Replace a seal's image with the PNG whose SM3 (hex) is `image_sm3`.
    ReplaceSeal {
        enterprise_id: String,
        seal_id: String,
        image_sm3: String,
    },
}

impl AdminAction {
    /// The action's name, as the audit log records it.
    pub fn name(&self) -> &'static str {
        match self {
            AdminAction::TransferAdmin { .. } => "transfer_admin",
            AdminAction::RemoveStaff { .. } => "remove_staff",
            AdminAction::AddGrant { .. } => "add_grant",
            AdminAction::RevokeGrant { .. } => "revoke_grant",
            AdminAction::AddSeal { .. } => "add_seal",
            AdminAction::ReplaceSeal { .. } => "replace_seal",
        }
    }

    /// The enterprise the action is in.
    pub fn enterprise_id(&self) -> &str {
        match self {
            AdminAction::TransferAdmin { enterprise_id, .. }
            | AdminAction::RemoveStaff { enterprise_id, .. }
            | AdminAction::AddGrant { enterprise_id, .. }
            | AdminAction::RevokeGrant { enterprise_id, .. }
            | AdminAction::AddSeal { enterprise_id, .. }
            | AdminAction::ReplaceSeal { enterprise_id, .. } => enterprise_id,
        }
    }

    /// Every field, in a fixed order: what the challenge names.
    fn fields(&self) -> Vec<&str> {
        match self {
            AdminAction::TransferAdmin {
                enterprise_id,
                to_account_id,
            } => vec![enterprise_id, to_account_id],
            AdminAction::RemoveStaff {
                enterprise_id,
                account_id,
            } => vec![enterprise_id, account_id],
            AdminAction::AddGrant {
                enterprise_id,
                account_id,
                platform_id,
            } => vec![enterprise_id, account_id, platform_id],
            AdminAction::RevokeGrant {
                enterprise_id,
                grant_id,
            } => vec![enterprise_id, grant_id],
            AdminAction::AddSeal {
                enterprise_id,
                image_sm3,
            } => vec![enterprise_id, image_sm3],
            AdminAction::ReplaceSeal {
                enterprise_id,
                seal_id,
                image_sm3,
            } => vec![enterprise_id, seal_id, image_sm3],
        }
    }

    /// One line for people and the audit log: the name and the fields.
    pub fn describe(&self) -> String {
        let mut out = self.name().to_owned();
        for f in self.fields() {
            out.push(' ');
            out.push_str(f);
        }
        out
    }
}

/// The message a `confirm` session asks the phone to co-sign (SM2, default ID): a label,
/// then length-prefixed (u32 BE) the certificate serial, the session id (hex), the action's
/// name and each of its fields, so no two actions give the same bytes. The phone builds it
/// too and signs only if the server's challenge is exactly this.
pub fn confirm_challenge(serial: &str, session_hex: &str, action: &AdminAction) -> Vec<u8> {
    let mut out = b"bidkey-confirm-v1\0".to_vec();
    let mut put = |f: &str| {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    };
    put(serial);
    put(session_hex);
    put(action.name());
    for f in action.fields() {
        put(f);
    }
    out
}

/// A fresh session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// 32 random bytes; the two-party session id.
    #[serde(with = "crate::b64")]
    pub session_id: Vec<u8>,
    /// For `revoke`: the message to sign (with the default SM2 ID).
    #[serde(with = "crate::b64::option", default)]
    pub challenge: Option<Vec<u8>>,
    pub expires_at: i64,
    /// The server's clock when it opened the session (Unix seconds): the phone's trusted
    /// time, e.g. for a tender's opening time (the phone's own clock can be set forward).
    #[serde(default)]
    pub server_time: i64,
}

/// `POST /v1/cosign/sign`: a two-party `SignRequest` (161 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    #[serde(with = "crate::b64")]
    pub session_id: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub request: Vec<u8>,
}

/// A two-party `SignResponse` (96 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignResponse {
    #[serde(with = "crate::b64")]
    pub response: Vec<u8>,
}

/// `POST /v1/cosign/sign/finish`: the signature the device computed (DER or raw `r ‖ s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignFinish {
    #[serde(with = "crate::b64")]
    pub session_id: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

/// The checked signature (DER), released only when it verifies under the certificate key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignDone {
    pub serial: String,
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

/// `POST /v1/cosign/decrypt`: a two-party `DecryptRequest` (194 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptRequest {
    #[serde(with = "crate::b64")]
    pub session_id: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub request: Vec<u8>,
}

/// A two-party `DecryptResponse` (65 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptResponse {
    #[serde(with = "crate::b64")]
    pub response: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirm_challenges_name_the_action() {
        let a = AdminAction::RemoveStaff {
            enterprise_id: "e1".into(),
            account_id: "a1".into(),
        };
        let b = AdminAction::TransferAdmin {
            enterprise_id: "e1".into(),
            to_account_id: "a1".into(),
        };
        let c = AdminAction::RemoveStaff {
            enterprise_id: "e1a".into(),
            account_id: "1".into(),
        };
        let x = confirm_challenge("01", "ff", &a);
        assert_ne!(x, confirm_challenge("01", "ff", &b), "another action");
        assert_ne!(x, confirm_challenge("01", "ff", &c), "fields are framed");
        assert_ne!(x, confirm_challenge("02", "ff", &a), "another key");
        assert_ne!(x, confirm_challenge("01", "fe", &a), "another session");
        assert_eq!(a.describe(), "remove_staff e1 a1");
        let json = serde_json::to_value(&a).expect("json");
        assert_eq!(json["kind"], "remove_staff");
    }
}
