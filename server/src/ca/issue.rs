//! Issuing certificates: holders' subjects, the signing and encryption profiles, platform
//! certificates.

use super::keys::CaKeys;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_crypto::x509::{
    Cert, CertProfile, CertTemplate, Csr, Name, PersonIdDigest, ca_subject, enterprise_subject,
    person_subject,
};
use bidkey_protocol::ErrorCode;

/// Holders' certificates are valid one year.
pub const CERT_DAYS: i64 = 365;
pub const DAY: i64 = 86_400;
/// Back-dating of notBefore, for relying parties whose clocks are a little behind.
pub const BACKDATE: i64 = 300;

/// Whose certificates: a person alone, or a person acting for an enterprise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub account_id: String,
    pub enterprise_id: Option<String>,
}

/// The subject the CA puts into a holder's certificates.
///
/// A person: `C=CN, serialNumber=IDH1-<digest>, CN=<real name>`, where the digest is the
/// first 16 bytes of the stored `id_number_hash` (HMAC-SM3 of the ID number under the
/// server's PII key) — the value `PersonIdDigest::compute(pii_key, id_number)` gives, so the
/// server never needs the ID number again. An enterprise: its name and USCC.
pub fn holder_subject(tx: &mut dyn Tx, holder: &Holder) -> Result<Name> {
    match &holder.enterprise_id {
        Some(enterprise_id) => {
            let row = tx
                .query_opt(
                    "SELECT name, uscc FROM enterprises WHERE id = $1",
                    &params![enterprise_id],
                )?
                .ok_or(ServerError::Api(ErrorCode::NotFound))?;
            let (name, uscc) = (row.text(0)?, row.text(1)?);
            enterprise_subject(&name, &uscc).map_err(|_| ErrorCode::InvalidUscc.into())
        }
        None => {
            let row = tx
                .query_opt(
                    "SELECT real_name, id_number_hash FROM accounts WHERE id = $1",
                    &params![&holder.account_id],
                )?
                .ok_or(ServerError::Api(ErrorCode::AccountNotFound))?;
            let (Some(name), Some(hash)) = (row.opt_text(0)?, row.opt_text(1)?) else {
                return Err(ErrorCode::RealNameRequired.into());
            };
            let mac = hex::decode(&hash)
                .map_err(|_| ServerError::Internal("bad id_number_hash".into()))?;
            let digest = PersonIdDigest::from_keyed_mac(&mac)?;
            Ok(person_subject(&name, &digest)?)
        }
    }
}

/// The subject for an application: the holder's current one, except that a change of
/// enterprise information (变更企业信息) is issued under the new name it asks for.
pub fn subject_for_application(
    tx: &mut dyn Tx,
    holder: &Holder,
    app: &crate::applications::Application,
) -> Result<Name> {
    if app.kind != bidkey_protocol::orders::ApplicationKind::ChangeInfo {
        return holder_subject(tx, holder);
    }
    let enterprise_id = holder
        .enterprise_id
        .as_deref()
        .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    let uscc = tx
        .query_opt(
            "SELECT uscc FROM enterprises WHERE id = $1",
            &params![enterprise_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?
        .text(0)?;
    let detail: serde_json::Value = app
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    let name = detail["new_name"]
        .as_str()
        .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    enterprise_subject(name, &uscc).map_err(|_| ErrorCode::InvalidUscc.into())
}

/// Issue an end-entity certificate (signing or encryption profile) under the issuing CA.
pub fn issue(
    ca: &CaKeys,
    profile: CertProfile,
    subject: &Name,
    public_key_spki: Vec<u8>,
    not_before: i64,
    not_after: i64,
) -> Result<Cert> {
    let template = CertTemplate {
        profile,
        subject: subject.clone(),
        public_key_spki,
        not_before: to_u64(not_before)?,
        not_after: to_u64(not_after)?,
    };
    Ok(Cert::issue(&template, ca.issuing(), ca.issuing_key())?)
}

fn to_u64(t: i64) -> Result<u64> {
    u64::try_from(t).map_err(|_| ServerError::Internal("negative time".into()))
}

/// A trading platform's certificate (SM2 or P-256) from its CSR: the CSR's self-signature
/// proves possession; the subject is the CA's, from the registered platform (`O` = name,
/// `CN` = origin), not what the CSR asked for.
pub fn issue_platform(
    ca: &CaKeys,
    csr_der: &[u8],
    name: &str,
    origin: &str,
    now: i64,
    days: i64,
) -> Result<Cert> {
    let csr = Csr::from_der(csr_der).map_err(|_| ServerError::Api(ErrorCode::InvalidCsr))?;
    let cn: String = origin.chars().take(64).collect();
    let org: String = name.chars().take(64).collect();
    // The platform profile (ADR 0016): phones accept scan requests only under it, and no
    // relying party takes it for a bidder's signing certificate.
    let mut template = CertTemplate::from_csr(
        CertProfile::Platform,
        &csr,
        to_u64(now - BACKDATE)?,
        to_u64(now + days * DAY)?,
    )
    .map_err(|_| ServerError::Api(ErrorCode::InvalidCsr))?;
    template.subject =
        ca_subject(&cn, &org).map_err(|_| ServerError::Api(ErrorCode::BadRequest))?;
    Ok(Cert::issue(&template, ca.issuing(), ca.issuing_key())?)
}
