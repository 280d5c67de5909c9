//! Certificates: the CA chain, enrolment (two-party key generation, co-signed CSR, dual
//! certificates), the holder's certificate list, lifecycle requests (renew, re-apply, recover,
//! revoke, loss report and undo, unlock), revocation status, and platform certificates.
//!
//! Binary values (DER, protocol messages, session ids) are base64 through [`crate::b64`].

use crate::accounts::RealNameRequest;
use serde::{Deserialize, Serialize};

/// `GET /v1/ca/chain`: the root and the issuing CA that signs holders' certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaChain {
    #[serde(with = "crate::b64")]
    pub root_der: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub issuing_der: Vec<u8>,
    pub root_pem: String,
    pub issuing_pem: String,
}

/// `POST /v1/applications/personal`: a personal certificate (个人证书) for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalApplicationRequest {
    /// The same key returns the same application.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `POST /v1/applications/{id}/enroll/start` answer: a fresh enrolment for a paid
/// application. The phone runs `make_device_keygen(keygen_session)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollStart {
    pub enrollment_id: String,
    /// Random session id of the two-party key generation (single use).
    #[serde(with = "crate::b64")]
    pub keygen_session: Vec<u8>,
    /// DER `Name` the CSR must carry (the CA decides the subject).
    #[serde(with = "crate::b64")]
    pub subject_der: Vec<u8>,
    pub expires_at: i64,
}

/// `POST /v1/enrollments/{id}/keygen`: the device's `DeviceKeygenMsg` (129 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeygenRequest {
    #[serde(with = "crate::b64")]
    pub device_msg: Vec<u8>,
}

/// The server's `ServerKeygenMsg` (194 bytes) and the random session id of the one
/// co-signature the new key may make: its own CSR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeygenResponse {
    #[serde(with = "crate::b64")]
    pub server_msg: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub csr_sign_session: Vec<u8>,
}

/// `POST /v1/enrollments/{id}/csr/sign`: a two-party `SignRequest` (161 bytes) over the CSR
/// digest (`CsrDraft::sm2_digest` of `subject_der` and the joint key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsrSignRequest {
    #[serde(with = "crate::b64")]
    pub request: Vec<u8>,
}

/// A two-party `SignResponse` (96 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsrSignResponse {
    #[serde(with = "crate::b64")]
    pub response: Vec<u8>,
}

/// `POST /v1/enrollments/{id}/finish`: the assembled, co-signed CSR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollFinishRequest {
    #[serde(with = "crate::b64")]
    pub csr_der: Vec<u8>,
}

/// An escrowed encryption key delivered to the phone: the device share `d1` of a fresh
/// re-sharing, in a key envelope sealed to the new **signing** key (open it by
/// co-decryption with that key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredKey {
    /// Serial of the encryption certificate of this key.
    pub serial: String,
    #[serde(with = "crate::b64")]
    pub cert_der: Vec<u8>,
    /// DER `BidkeyEnvelopedKey` (`bidkey_crypto::envelope`).
    #[serde(with = "crate::b64")]
    pub envelope: Vec<u8>,
    /// The current encryption key (the others are past keys, for old bid files).
    pub current: bool,
}

/// The result of an enrolment; a retried finish returns the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResult {
    pub application_id: String,
    pub pair_id: String,
    pub signing_serial: String,
    #[serde(with = "crate::b64")]
    pub signing_cert: Vec<u8>,
    pub encryption_serial: String,
    #[serde(with = "crate::b64")]
    pub encryption_cert: Vec<u8>,
    /// Issuing CA then root, DER.
    pub chain: Vec<B64>,
    pub delivered_keys: Vec<DeliveredKey>,
}

/// `POST /v1/enrollments/{id}/confirm` (no body): the phone has stored the new pair and
/// every delivered key; the pairs this enrolment replaces end now (ADR 0005). Repeating it
/// answers the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollConfirmation {
    /// The new pair.
    pub pair_id: String,
    /// The pairs replaced (superseded) by this confirmation; empty when there were none or
    /// they ended at `finish` (recovery).
    pub superseded_pair_ids: Vec<String>,
    /// Serials of the certificates revoked with them.
    pub revoked_serials: Vec<String>,
}

/// A base64 binary value inside a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct B64(#[serde(with = "crate::b64")] pub Vec<u8>);

/// Which certificate of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertUsage {
    Signing,
    Encryption,
}

impl CertUsage {
    pub fn as_str(self) -> &'static str {
        match self {
            CertUsage::Signing => "signing",
            CertUsage::Encryption => "encryption",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "signing" => Some(CertUsage::Signing),
            "encryption" => Some(CertUsage::Encryption),
            _ => None,
        }
    }
}

/// Where a certificate pair stands for its holder (证书管理 tabs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairState {
    /// 生效中
    InForce,
    /// 生效中, expiring within 30 days: 续期 possible
    Expiring,
    /// 已挂失
    Suspended,
    /// 已过期: 重新申请
    Expired,
    /// 已注销 / replaced
    Revoked,
}

/// One certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub serial: String,
    pub usage: CertUsage,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    pub status: RevocationStatus,
    #[serde(with = "crate::b64")]
    pub der: Vec<u8>,
}

/// A certificate pair as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertPairView {
    pub pair_id: String,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub state: PairState,
    pub signing: Option<CertInfo>,
    pub encryption: Option<CertInfo>,
    pub not_after: i64,
    /// Held by the device of this login.
    pub this_device: bool,
    pub key_locked: bool,
    pub pin_tries_left: u32,
}

/// `GET /v1/certs`: the caller's certificates in the three lists of the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertList {
    /// In force, including suspended and expiring ones.
    pub in_force: Vec<CertPairView>,
    /// In force and expiring within 30 days (also listed in `in_force`).
    pub expiring: Vec<CertPairView>,
    /// Expired or revoked.
    pub invalid: Vec<CertPairView>,
}

/// Revocation status of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    Good,
    Revoked,
    /// On hold after a loss report (CRL reason certificateHold).
    Suspended,
    Unknown,
}

/// `GET /v1/certs/{serial}/status`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertStatus {
    pub serial: String,
    pub status: RevocationStatus,
    /// When revoked or suspended.
    pub revoked_at: Option<i64>,
    /// RFC 5280 reason name, e.g. `key_compromise`, `certificate_hold`.
    pub reason: Option<String>,
    pub not_after: Option<i64>,
    /// The server's time of this answer.
    pub produced_at: i64,
}

/// `POST /v1/certs/{serial}/renew` and `/reapply`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Proof that the caller is still the same person: real-name verification again and an SMS
/// code to the account's phone (purpose `unlock` or `recover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCheck {
    pub realname: RealNameRequest,
    pub code: String,
}

/// `POST /v1/certs/recover` (证书找回): from a new phone, after login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverRequest {
    pub realname: RealNameRequest,
    pub code: String,
    /// The enterprise of the certificate to recover; none for a personal certificate.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `POST /v1/certs/loss-report` (挂失): works without the phone and without a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossReportRequest {
    pub phone: String,
    /// SMS code, purpose `loss_report`.
    pub code: String,
    /// One certificate (either of a pair); all of the account's when absent.
    #[serde(default)]
    pub serial: Option<String>,
}

/// `POST /v1/certs/{serial}/undo-loss-report` (解挂): logged in, with a fresh SMS code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoLossRequest {
    /// SMS code, purpose `loss_report`.
    pub code: String,
}

/// `POST /v1/certs/{serial}/revoke` (注销): the session of a co-signature over the revocation
/// challenge (cosign purpose `revoke`), finished successfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeRequest {
    #[serde(with = "crate::b64")]
    pub session_id: Vec<u8>,
}

/// What a lifecycle request changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairChange {
    pub pair_ids: Vec<String>,
    /// Serials whose status changed.
    pub serials: Vec<String>,
    pub state: PairState,
}

/// `POST /v1/operator/platforms/{id}/certificate`: a PKCS#10 request (SM2 or P-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCertRequest {
    #[serde(with = "crate::b64")]
    pub csr_der: Vec<u8>,
    /// Validity in days (default 365, at most 825).
    #[serde(default)]
    pub days: Option<u32>,
}

/// The platform's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCert {
    pub platform_id: String,
    pub serial: String,
    #[serde(with = "crate::b64")]
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_are_stable() {
        let s = CertStatus {
            serial: "0a".into(),
            status: RevocationStatus::Suspended,
            revoked_at: Some(5),
            reason: Some("certificate_hold".into()),
            not_after: Some(9),
            produced_at: 7,
        };
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            r#"{"serial":"0a","status":"suspended","revoked_at":5,"reason":"certificate_hold","not_after":9,"produced_at":7}"#
        );
        let k = KeygenRequest {
            device_msg: vec![1, 2, 3],
        };
        assert_eq!(
            serde_json::to_string(&k).expect("json"),
            r#"{"device_msg":"AQID"}"#
        );
        let list = vec![B64(vec![0xff])];
        assert_eq!(serde_json::to_string(&list).expect("json"), r#"["/w=="]"#);
        let back: Vec<B64> = serde_json::from_str(r#"["/w=="]"#).expect("parse");
        assert_eq!(back, list);
    }
}
