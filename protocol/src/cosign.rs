//! The co-signing service: the server half of two-party SM2 signing and decryption
//! (`bidkey_crypto::cosign`, `docs/two-party-sm2.md`).
//!
//! Every operation opens a session first; its random id is the two-party session id the
//! device binds its proof to, and it is accepted once:
//!
//! ```text
//! POST /v1/cosign/sessions     {serial, purpose, pair_id?}  → {session_id, challenge?}
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
            CosignPurpose::Decrypt => "decrypt",
            CosignPurpose::KeyDelivery => "key_delivery",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign" => Some(CosignPurpose::Sign),
            "revoke" => Some(CosignPurpose::Revoke),
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
