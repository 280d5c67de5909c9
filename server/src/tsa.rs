//! The RFC 3161 time-stamp authority: `POST /v1/tsa`.
//!
//! Two TSA keys, each with a certificate from the issuing CA (profile `TimeStamping`:
//! critical extendedKeyUsage `id-kp-timeStamping`, nothing else): an SM2 key for requests
//! whose imprint is SM3, a P-256 key for SHA-256 imprints. Other hashes get `badAlg`. The
//! keys are sealed in `tsa_keys` with the CA master key and replaced 30 days before their
//! certificates end. genTime is the server's clock ([`crate::util::Clock`]); serial numbers
//! count up in `tsa_serial`, in the transaction that issues, so none is ever given twice.
//! The policy is the operator's ([`crate::Config::tsa_policy`], `--tsa-policy`), by default
//! [`bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY`] (ADR 0009).

use crate::ca::issue::{BACKDATE, DAY};
use crate::ca::keys::{CaKeys, Sealed};
use crate::db::Tx;
use crate::enterprises::ip_of;
use crate::error::{Result, ServerError};
use crate::params;
use crate::ratelimit;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bidkey_crypto::cms::tsp::{self, FailureInfo, TsaSigner};
use bidkey_crypto::cms::{HashAlgorithm, TimeStampRequest};
use bidkey_crypto::p256::P256PrivateKey;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, TbsSigner, ca_subject};
use bidkey_protocol::ErrorCode;
use der::asn1::ObjectIdentifier;
use std::net::SocketAddr;
use zeroize::Zeroizing;

/// `Content-Type` of a request (RFC 3161 §3.4).
pub const QUERY_TYPE: &str = "application/timestamp-query";
/// `Content-Type` of the answer.
pub const REPLY_TYPE: &str = "application/timestamp-reply";
/// A TimeStampReq with a SHA-512 imprint, a policy and a nonce is about 120 bytes.
const MAX_REQUEST: usize = 4096;
/// TSA certificates live five years, at most as long as the issuing CA.
const CERT_DAYS: i64 = 5 * 365;
/// A key whose certificate ends within this is replaced at start.
const RENEW_BEFORE: i64 = 30 * DAY;
/// Timestamps per client address per minute.
const PER_IP_PER_MINUTE: i64 = 600;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/tsa", post(timestamp))
}

/// Which TSA key: SM2 for SM3 imprints, P-256 for SHA-256 ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsaAlg {
    Sm2,
    P256,
}

impl TsaAlg {
    fn name(self) -> &'static str {
        match self {
            TsaAlg::Sm2 => "sm2",
            TsaAlg::P256 => "p256",
        }
    }

    /// The key for an imprint algorithm, if the TSA serves it.
    pub fn for_imprint(alg: HashAlgorithm) -> Option<TsaAlg> {
        match alg {
            HashAlgorithm::Sm3 => Some(TsaAlg::Sm2),
            HashAlgorithm::Sha256 => Some(TsaAlg::P256),
            HashAlgorithm::Sha384 | HashAlgorithm::Sha512 => None,
        }
    }
}

enum TsaKey {
    Sm2(Sm2PrivateKey),
    P256(P256PrivateKey),
}

impl TsaKey {
    fn make(alg: TsaAlg) -> Result<TsaKey> {
        Ok(match alg {
            TsaAlg::Sm2 => TsaKey::Sm2(Sm2PrivateKey::make_random()?),
            TsaAlg::P256 => TsaKey::P256(P256PrivateKey::make_random()?),
        })
    }

    fn from_bytes(alg: TsaAlg, bytes: &[u8]) -> Result<TsaKey> {
        Ok(match alg {
            TsaAlg::Sm2 => TsaKey::Sm2(Sm2PrivateKey::from_bytes(bytes)?),
            TsaAlg::P256 => TsaKey::P256(P256PrivateKey::from_bytes(bytes)?),
        })
    }

    fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        match self {
            TsaKey::Sm2(k) => k.to_bytes(),
            TsaKey::P256(k) => k.to_bytes(),
        }
    }

    fn signer(&self) -> &dyn TbsSigner {
        match self {
            TsaKey::Sm2(k) => k,
            TsaKey::P256(k) => k,
        }
    }
}

struct Unit {
    key: TsaKey,
    cert: Cert,
}

/// The TSA's keys and certificates, and the chain above them (issuing CA, root).
pub struct Tsa {
    sm2: Unit,
    p256: Unit,
    chain: Vec<Cert>,
    policy: ObjectIdentifier,
}

impl std::fmt::Debug for Tsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsa")
            .field("sm2", &self.sm2.cert.serial_hex())
            .field("p256", &self.p256.cert.serial_hex())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Tsa {
    /// Load both TSA keys, making (or renewing) them and their certificates as needed; the
    /// TSA issues under `policy`.
    pub fn load_or_create(
        tx: &mut dyn Tx,
        ca: &CaKeys,
        now: i64,
        policy: ObjectIdentifier,
    ) -> Result<Tsa> {
        Ok(Tsa {
            sm2: load_unit(tx, ca, TsaAlg::Sm2, now)?,
            p256: load_unit(tx, ca, TsaAlg::P256, now)?,
            chain: vec![ca.issuing().clone(), ca.root().clone()],
            policy,
        })
    }

    /// The policy every token names.
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// The TSA certificate of `alg`.
    pub fn certificate(&self, alg: TsaAlg) -> &Cert {
        &self.unit(alg).cert
    }

    /// The chain above the TSA certificates: issuing CA, root.
    pub fn chain(&self) -> &[Cert] {
        &self.chain
    }

    fn unit(&self, alg: TsaAlg) -> &Unit {
        match alg {
            TsaAlg::Sm2 => &self.sm2,
            TsaAlg::P256 => &self.p256,
        }
    }

    /// Answer a TimeStampReq (DER) at `now` with serial `serial`: the DER TimeStampResp.
    /// Requests the TSA cannot serve are answered with a rejection, as RFC 3161 asks.
    pub fn respond(&self, req: &TimeStampRequest, serial: u64, now: i64) -> Result<Vec<u8>> {
        let Some(alg) = TsaAlg::for_imprint(req.algorithm()) else {
            return Ok(tsp::response_rejected(
                FailureInfo::BadAlg,
                "imprint hash must be SM3 or SHA-256",
            )?);
        };
        let unit = self.unit(alg);
        // certReq brings the TSA certificate alone (RFC 3161 §2.4.1 asks for no more): the
        // chain above it is the Bidkey CA's, which relying parties hold as their anchor and
        // fetch from `/v1/ca/chain`; OpenSSL 3.0 could not follow its SM2 signatures anyway.
        let signer = TsaSigner {
            key: unit.key.signer(),
            cert: &unit.cert,
            chain: &[],
            policy: self.policy,
        };
        let at = u64::try_from(now).map_err(|_| ServerError::Internal("clock".into()))?;
        let token = tsp::issue_token(req, &serial.to_be_bytes(), at, &signer)?;
        Ok(tsp::response_granted(&token)?)
    }
}

fn load_unit(tx: &mut dyn Tx, ca: &CaKeys, alg: TsaAlg, now: i64) -> Result<Unit> {
    let row = tx.query_opt(
        "SELECT key_sealed, cert_der FROM tsa_keys WHERE alg = $1",
        &params![alg.name()],
    )?;
    if let Some(r) = &row {
        let unit = open_unit(ca, alg, &r.bytes(0)?, &r.bytes(1)?)?;
        if i64::try_from(unit.cert.not_after()).unwrap_or(i64::MAX) > now + RENEW_BEFORE
            && unit
                .cert
                .verify_signature(ca.issuing().public_key())
                .is_ok()
        {
            return Ok(unit);
        }
    }
    let (sealed, cert) = make_unit(ca, alg, now)?;
    if row.is_some() {
        tx.execute(
            "UPDATE tsa_keys SET key_sealed = $1, cert_der = $2, created_at = $3 WHERE alg = $4",
            &params![sealed, cert.to_der(), now, alg.name()],
        )?;
    } else {
        // Another server process may have made one first: keep whichever is stored.
        tx.execute(
            "INSERT INTO tsa_keys (alg, key_sealed, cert_der, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (alg) DO NOTHING",
            &params![alg.name(), sealed, cert.to_der(), now],
        )?;
    }
    let r = tx
        .query_opt(
            "SELECT key_sealed, cert_der FROM tsa_keys WHERE alg = $1",
            &params![alg.name()],
        )?
        .ok_or_else(|| ServerError::Internal("TSA key not stored".into()))?;
    tracing::info!(alg = alg.name(), "made a TSA key and certificate");
    open_unit(ca, alg, &r.bytes(0)?, &r.bytes(1)?)
}

fn open_unit(ca: &CaKeys, alg: TsaAlg, sealed: &[u8], cert_der: &[u8]) -> Result<Unit> {
    let bytes = ca.open(Sealed::TsaKey, alg.name(), sealed)?;
    let key = TsaKey::from_bytes(alg, &bytes)?;
    let cert = Cert::from_der(cert_der)?;
    if key.signer().public_key_spki()? != cert.public_key_spki_der()? {
        return Err(ServerError::Internal(
            "TSA key does not match its certificate".into(),
        ));
    }
    Ok(Unit { key, cert })
}

fn make_unit(ca: &CaKeys, alg: TsaAlg, now: i64) -> Result<(Vec<u8>, Cert)> {
    let key = TsaKey::make(alg)?;
    let name = match alg {
        TsaAlg::Sm2 => "Bidkey SM2 Time-Stamp Authority",
        TsaAlg::P256 => "Bidkey P-256 Time-Stamp Authority",
    };
    let issuing_end = i64::try_from(ca.issuing().not_after()).unwrap_or(i64::MAX);
    let to_u64 = |t: i64| u64::try_from(t).map_err(|_| ServerError::Internal("time".into()));
    let template = CertTemplate {
        profile: CertProfile::TimeStamping,
        subject: ca_subject(name, "Bidkey")?,
        public_key_spki: key.signer().public_key_spki()?,
        not_before: to_u64(now - BACKDATE)?,
        not_after: to_u64((now + CERT_DAYS * DAY).min(issuing_end))?,
    };
    let cert = Cert::issue(&template, ca.issuing(), ca.issuing_key())?;
    let sealed = ca.seal(Sealed::TsaKey, alg.name(), key.to_bytes().as_slice())?;
    Ok((sealed, cert))
}

/// The next serial number, counted in the database.
fn next_serial(tx: &mut dyn Tx) -> Result<u64> {
    let row = tx
        .query_opt(
            "UPDATE tsa_serial SET last_serial = last_serial + 1 WHERE id = 1 RETURNING last_serial",
            &params![],
        )?
        .ok_or_else(|| ServerError::Internal("tsa_serial row missing".into()))?;
    u64::try_from(row.i64(0)?).map_err(|_| ServerError::Internal("TSA serial".into()))
}

fn reply(der: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, REPLY_TYPE)], der).into_response()
}

/// `POST /v1/tsa`: a DER TimeStampReq in, a DER TimeStampResp out (RFC 3161 §3.4).
async fn timestamp(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !content_type.is_some_and(|t| t.eq_ignore_ascii_case(QUERY_TYPE)) {
        return Ok((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {QUERY_TYPE}"),
        )
            .into_response());
    }
    if body.len() > MAX_REQUEST {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let req = match TimeStampRequest::from_der(&body) {
        Ok(r) => r,
        Err(e) => {
            let fail = match e {
                bidkey_crypto::Error::UnsupportedAlgorithm(ref what)
                    if what.contains("extension") =>
                {
                    FailureInfo::UnacceptedExtension
                }
                bidkey_crypto::Error::UnsupportedAlgorithm(_) => FailureInfo::BadAlg,
                _ => FailureInfo::BadDataFormat,
            };
            return Ok(reply(tsp::response_rejected(fail, &e.to_string())?));
        }
    };
    if req.policy().is_some_and(|p| p != st.tsa.policy()) {
        return Ok(reply(tsp::response_rejected(
            FailureInfo::UnacceptedPolicy,
            "this TSA issues only under its own policy",
        )?));
    }
    if TsaAlg::for_imprint(req.algorithm()).is_none() {
        return Ok(reply(tsp::response_rejected(
            FailureInfo::BadAlg,
            "imprint hash must be SM3 or SHA-256",
        )?));
    }
    let now = st.clock.now();
    let ip = ip_of(&addr);
    let serial = st
        .db
        .write(move |tx| {
            ratelimit::hit(tx, &format!("tsa:{ip}"), now, 60, PER_IP_PER_MINUTE)?;
            next_serial(tx)
        })
        .await?;
    match st.tsa.respond(&req, serial, now) {
        Ok(der) => Ok(reply(der)),
        Err(e) => {
            tracing::error!(error = %e, "TSA could not issue a timestamp");
            Ok(reply(tsp::response_rejected(
                FailureInfo::SystemFailure,
                "the TSA could not issue a timestamp",
            )?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, DbUrl};

    #[tokio::test]
    async fn keys_persist_serials_count_up_and_answers_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = crate::keyfile::Passphrases::default();
        crate::ca::keys::init(dir.path(), &none, true).expect("init");
        let keys = crate::ca::keys::load_serving(dir.path(), &none, true).expect("keys");
        let ca = std::sync::Arc::new(keys.ca);
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("db.sqlite3")), 1).expect("db");
        let now = 1_800_000_000;
        let load = |db: &Db, now: i64| {
            let ca = ca.clone();
            let db = db.clone();
            async move {
                db.write(move |tx| {
                    Tsa::load_or_create(tx, &ca, now, bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY)
                })
                .await
                .expect("tsa")
            }
        };
        let a = load(&db, now).await;
        let b = load(&db, now + DAY).await;
        assert_eq!(
            a.certificate(TsaAlg::Sm2),
            b.certificate(TsaAlg::Sm2),
            "kept"
        );
        assert!(a.certificate(TsaAlg::P256).is_time_stamping_only());
        assert!(a.certificate(TsaAlg::Sm2).sm2_public_key().is_ok());
        assert!(a.certificate(TsaAlg::P256).sm2_public_key().is_err());
        // Near the end of the certificate: renewed.
        let end = i64::try_from(a.certificate(TsaAlg::P256).not_after()).expect("t");
        let c = load(&db, end - DAY).await;
        assert_ne!(a.certificate(TsaAlg::P256), c.certificate(TsaAlg::P256));

        let serials: Vec<u64> = {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(db.write(next_serial).await.expect("serial"));
            }
            v
        };
        assert_eq!(serials, vec![1, 2, 3]);
        // Reopened (a restart): the count goes on.
        drop(db);
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("db.sqlite3")), 1).expect("db");
        assert_eq!(db.write(next_serial).await.expect("serial"), 4);

        for (alg, tsa_alg) in [
            (HashAlgorithm::Sm3, TsaAlg::Sm2),
            (HashAlgorithm::Sha256, TsaAlg::P256),
        ] {
            let req = TimeStampRequest::new(alg, &alg.digest(b"x")).expect("req");
            let der = b.respond(&req, 77, now).expect("respond");
            let ts = bidkey_crypto::cms::TimeStampResponse::from_der(&der)
                .expect("parse")
                .check(&req, &[])
                .expect("valid");
            assert_eq!(&ts.tsa_cert, b.certificate(tsa_alg));
            assert_eq!(ts.gen_time, 1_800_000_000);
            assert_eq!(ts.serial, vec![77]);
        }
        let req = TimeStampRequest::new(HashAlgorithm::Sha512, &[0u8; 64]).expect("req");
        let r =
            bidkey_crypto::cms::TimeStampResponse::from_der(&b.respond(&req, 1, now).expect("r"))
                .expect("parse");
        assert_eq!((r.status, r.fail_info.as_deref()), (2, Some(&[0x80u8][..])));
    }
}
