//! Fixtures shared by the unit tests of this module.

use super::*;
use crate::sm2::Sm2PrivateKey;

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

pub fn template(profile: CertProfile, subject: Name, key: &dyn TbsSigner) -> CertTemplate {
    CertTemplate {
        profile,
        subject,
        public_key_spki: key.public_key_spki().expect("spki"),
        not_before: T0,
        not_after: T0 + 365 * DAY,
    }
}

/// Root (10 years) → issuing CA (5 years) → signing and encryption leaves (1 year), all SM2.
pub fn sm2_pki() -> Pki {
    let root_key = key();
    let root = Cert::self_signed_root(
        ca_subject("Bidkey 根 CA", "Bidkey").expect("name"),
        &root_key,
        T0 - DAY,
        T0 + 3650 * DAY,
    )
    .expect("root");
    let ca_key = key();
    let mut t = template(
        CertProfile::IssuingCa,
        ca_subject("Bidkey 签发 CA", "Bidkey").expect("name"),
        &ca_key,
    );
    t.not_after = T0 + 1825 * DAY;
    let ca = Cert::issue(&t, &root, &root_key).expect("ca");
    let subject = enterprise_subject("测试建设有限公司", USCC).expect("name");
    let sign_key = key();
    let sign = Cert::issue(
        &template(CertProfile::Signing, subject.clone(), &sign_key),
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
            crl_number: 7,
            this_update: this,
            next_update: next,
            revoked,
        },
        issuer,
        key,
    )
    .expect("crl")
}

/// Every truncation must fail; every single-byte change and some garbage must not panic.
pub fn fuzz_parser<T>(der: &[u8], parse: impl Fn(&[u8]) -> crate::Result<T>) {
    for len in 0..der.len() {
        assert!(parse(&der[..len]).is_err(), "truncated to {len} parsed");
    }
    for i in 0..der.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut m = der.to_vec();
            m[i] ^= flip;
            let _ = parse(&m);
        }
    }
    let mut extended = der.to_vec();
    extended.push(0);
    assert!(parse(&extended).is_err(), "trailing byte accepted");
    let mut seed = 0x1234_5678_u32;
    for len in [0usize, 1, 2, 16, 300] {
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8
            })
            .collect();
        assert!(parse(&garbage).is_err());
        let mut framed = vec![0x30, 0x82, 0x01, 0x2c];
        framed.extend_from_slice(&garbage);
        let _ = parse(&framed);
    }
}
