//! Fixtures: a small SM2 PKI made here (root → issuing CA → signing and encryption leaves)
//! for tests that need no server, and helpers to run OpenSSL.
#![allow(dead_code)]

use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{
    Cert, CertProfile, CertTemplate, Crl, CrlReason, CrlTemplate, Name, RevokedEntry, TbsSigner,
    ca_subject, enterprise_subject,
};

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;
pub const DAY: u64 = 86_400;
pub const USCC: &str = "91350100M000100Y43";

pub struct Pki {
    pub root_key: Sm2PrivateKey,
    pub root: Cert,
    pub ca_key: Sm2PrivateKey,
    pub ca: Cert,
    pub sign_key: Sm2PrivateKey,
    pub sign: Cert,
    pub enc_key: Sm2PrivateKey,
    pub enc: Cert,
}

pub fn key() -> Sm2PrivateKey {
    Sm2PrivateKey::make_random().expect("key")
}

fn template(profile: CertProfile, subject: Name, key: &dyn TbsSigner, days: u64) -> CertTemplate {
    CertTemplate {
        profile,
        subject,
        public_key_spki: key.public_key_spki().expect("spki"),
        not_before: T0,
        not_after: T0 + days * DAY,
    }
}

impl Pki {
    /// Another encryption certificate of the same enterprise (a colleague), with its key.
    pub fn another_encryption_leaf(&self) -> (Sm2PrivateKey, Cert) {
        let k = key();
        let c = Cert::issue(
            &template(
                CertProfile::Encryption {
                    key_agreement: false,
                },
                enterprise_subject("测试建设有限公司", USCC).expect("name"),
                &k,
                365,
            ),
            &self.ca,
            &self.ca_key,
        )
        .expect("enc");
        (k, c)
    }
}

pub fn pki() -> Pki {
    let root_key = key();
    let root = Cert::self_signed_root(
        ca_subject("Bidkey 根 CA", "Bidkey").expect("name"),
        &root_key,
        T0 - DAY,
        T0 + 3650 * DAY,
    )
    .expect("root");
    let ca_key = key();
    let ca = Cert::issue(
        &template(
            CertProfile::IssuingCa,
            ca_subject("Bidkey 签发 CA", "Bidkey").expect("name"),
            &ca_key,
            1825,
        ),
        &root,
        &root_key,
    )
    .expect("ca");
    let subject = enterprise_subject("测试建设有限公司", USCC).expect("name");
    let sign_key = key();
    let sign = Cert::issue(
        &template(CertProfile::Signing, subject.clone(), &sign_key, 365),
        &ca,
        &ca_key,
    )
    .expect("sign");
    let enc_key = key();
    let enc = Cert::issue(
        &template(
            CertProfile::Encryption {
                key_agreement: false,
            },
            subject,
            &enc_key,
            365,
        ),
        &ca,
        &ca_key,
    )
    .expect("enc");
    Pki {
        root_key,
        root,
        ca_key,
        ca,
        sign_key,
        sign,
        enc_key,
        enc,
    }
}

pub fn crl(issuer: &Cert, key: &dyn TbsSigner, revoked: &[&Cert], this: u64, next: u64) -> Crl {
    let revoked = revoked
        .iter()
        .map(|c| RevokedEntry {
            serial: c.serial_bytes().to_vec(),
            revoked_at: this,
            reason: Some(CrlReason::KeyCompromise),
        })
        .collect();
    Crl::issue(
        &CrlTemplate {
            crl_number: 1,
            this_update: this,
            next_update: next,
            revoked,
        },
        issuer,
        key,
    )
    .expect("crl")
}
