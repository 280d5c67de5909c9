//! The seal maker (制章者, GB/T 38540): a CA-side SM2 key of its own, with a certificate from
//! the issuing CA, that signs every electronic seal the CA approves. It is not the CA's key:
//! a seal maker signs seals, never certificates, and can be replaced without touching the CA.
//!
//! `seal-maker.key` in the data directory, owner-only:
//!
//! ```text
//! "BIDKEYSM" ‖ version (1) ‖ len (u32 BE) ‖ certificate DER ‖ sealed private key
//! ```
//! The key is sealed with the CA key file's seal-maker sealing key ([`Sealed::SealMakerKey`], AAD
//! bound to this file), and checked against the certificate when loaded. A certificate that
//! ends within 30 days, or that the current issuing CA did not sign, is replaced at start
//! with a new key; seals made earlier carry their maker's certificate and stay verifiable.

use crate::ca::issue::{BACKDATE, DAY};
use crate::ca::keys::{CaKeys, Sealed};
use crate::error::{Result, ServerError};
use bidkey_crypto::ses::{self, SealContent};
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, TbsSigner, ca_subject};
use std::path::Path;

pub const KEY_FILE: &str = "seal-maker.key";
const MAGIC: &[u8; 8] = b"BIDKEYSM";
const VERSION: u8 = 1;
/// The AAD row id of the sealed key.
const ROW: &str = "seal-maker.key";
const CERT_DAYS: i64 = 5 * 365;
const RENEW_BEFORE: i64 = 30 * DAY;

/// The seal maker's key and certificate, in memory.
pub struct SealMaker {
    key: Sm2PrivateKey,
    cert: Cert,
}

impl std::fmt::Debug for SealMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealMaker")
            .field("cert", &self.cert.serial_hex())
            .finish_non_exhaustive()
    }
}

fn internal(what: &'static str) -> impl Fn(bidkey_crypto::Error) -> ServerError {
    move |e| ServerError::Internal(format!("seal maker {what}: {e}"))
}

impl SealMaker {
    /// Load the seal maker from `dir`, or make one (and its certificate) at first start or
    /// when its certificate nears its end.
    pub fn load_or_create(dir: &Path, ca: &CaKeys, now: i64) -> Result<SealMaker> {
        let path = dir.join(KEY_FILE);
        if path.exists() {
            let bytes = std::fs::read(&path)
                .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display())))?;
            let maker = Self::parse(&bytes, ca)?;
            let end = i64::try_from(maker.cert.not_after()).unwrap_or(i64::MAX);
            if end > now + RENEW_BEFORE
                && maker
                    .cert
                    .verify_signature(ca.issuing().public_key())
                    .is_ok()
            {
                return Ok(maker);
            }
        }
        let (bytes, maker) = Self::create(ca, now)?;
        crate::write_private(&path, &bytes)?;
        tracing::info!(serial = %maker.cert.serial_hex(), "made a seal maker key and certificate");
        Ok(maker)
    }

    fn create(ca: &CaKeys, now: i64) -> Result<(Vec<u8>, SealMaker)> {
        let key = Sm2PrivateKey::make_random()?;
        let issuing_end = i64::try_from(ca.issuing().not_after()).unwrap_or(i64::MAX);
        let to_u64 = |t: i64| u64::try_from(t).map_err(|_| ServerError::Internal("time".into()));
        let template = CertTemplate {
            profile: CertProfile::Signing,
            subject: ca_subject("Bidkey Seal Maker", "Bidkey").map_err(internal("name"))?,
            public_key_spki: key.public_key_spki()?,
            not_before: to_u64(now - BACKDATE)?,
            not_after: to_u64((now + CERT_DAYS * DAY).min(issuing_end))?,
        };
        let cert = Cert::issue(&template, ca.issuing(), ca.issuing_key())?;
        let der = cert.to_der();
        let len = u32::try_from(der.len()).map_err(|_| ServerError::Internal("cert".into()))?;
        let mut bytes = Vec::with_capacity(der.len() + 128);
        bytes.extend_from_slice(MAGIC);
        bytes.push(VERSION);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(der);
        bytes.extend_from_slice(&ca.seal(Sealed::SealMakerKey, ROW, key.to_bytes().as_slice())?);
        Ok((bytes, SealMaker { key, cert }))
    }

    fn parse(bytes: &[u8], ca: &CaKeys) -> Result<SealMaker> {
        let bad = || ServerError::Internal(format!("{KEY_FILE} is not a seal maker key file"));
        if bytes.get(..8) != Some(MAGIC.as_slice()) || bytes.get(8) != Some(&VERSION) {
            return Err(bad());
        }
        let len: [u8; 4] = bytes
            .get(9..13)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        let end = 13 + u32::from_be_bytes(len) as usize;
        let cert =
            Cert::from_der(bytes.get(13..end).ok_or_else(bad)?).map_err(internal("certificate"))?;
        let d = ca.open(Sealed::SealMakerKey, ROW, bytes.get(end..).ok_or_else(bad)?)?;
        let key = Sm2PrivateKey::from_bytes(&d).map_err(internal("key"))?;
        if key.public_key_spki()? != cert.public_key_spki_der()? {
            return Err(ServerError::Internal(
                "seal maker key does not match its certificate".into(),
            ));
        }
        Ok(SealMaker { key, cert })
    }

    pub fn certificate(&self) -> &Cert {
        &self.cert
    }

    /// Make and sign an `SESeal` (DER).
    pub fn make(&self, content: &SealContent) -> Result<Vec<u8>> {
        Ok(ses::make_seal(content, &self.cert, &self.key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_ca(dir: &std::path::Path) -> CaKeys {
        let none = crate::keyfile::Passphrases::default();
        crate::ca::keys::init(dir, &none, true).expect("init");
        crate::ca::keys::load_serving(dir, &none, true)
            .expect("keys")
            .ca
    }

    #[test]
    fn the_key_file_round_trips_and_is_bound_to_the_ca() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = test_ca(dir.path());
        let now = 1_767_225_600;
        let a = SealMaker::load_or_create(dir.path(), &ca, now).expect("make");
        let b = SealMaker::load_or_create(dir.path(), &ca, now).expect("load");
        assert_eq!(a.certificate(), b.certificate());
        a.certificate()
            .verify_signature(ca.issuing().public_key())
            .expect("issued by the CA");
        // Another CA's master key does not open it: a fresh maker replaces nothing silently.
        let other = tempfile::tempdir().expect("dir");
        let other_ca = test_ca(other.path());
        let bytes = std::fs::read(dir.path().join(KEY_FILE)).expect("read");
        assert!(SealMaker::parse(&bytes, &other_ca).is_err());
        // Near its end, it is replaced.
        let later = now + CERT_DAYS * DAY;
        let c = SealMaker::load_or_create(dir.path(), &ca, later).expect("renew");
        assert_ne!(c.certificate(), a.certificate());
    }
}
