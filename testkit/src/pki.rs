//! Test PKIs (no server) for the CMS, timestamp and sealed-PDF tests: root → issuing CA →
//! signer and TSA, in SM2 and in P-256. Only `bidkey_crypto` may be used here: the crypto
//! crate's own tests compile this file too (`crypto/tests/support/mod.rs`).

use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{
    Cert, CertProfile, CertTemplate, TbsSigner, ca_subject, enterprise_subject,
};

pub const DAY: u64 = 86_400;
pub const USCC: &str = "91350100M000100Y43";

/// A signing key of either kind.
pub enum Key {
    Sm2(Sm2PrivateKey),
    P256(bidkey_crypto::p256::P256PrivateKey),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Key::Sm2(_) => "Key::Sm2(..)",
            Key::P256(_) => "Key::P256(..)",
        })
    }
}

impl Key {
    pub fn signer(&self) -> &dyn TbsSigner {
        match self {
            Key::Sm2(k) => k,
            Key::P256(k) => k,
        }
    }
}

pub fn new_key(sm2: bool) -> Key {
    if sm2 {
        Key::Sm2(Sm2PrivateKey::make_random().expect("key"))
    } else {
        Key::P256(bidkey_crypto::p256::P256PrivateKey::make_random().expect("key"))
    }
}

#[derive(Debug)]
pub struct Pki {
    pub root_key: Key,
    pub root: Cert,
    pub ca_key: Key,
    pub ca: Cert,
    pub signer_key: Key,
    pub signer: Cert,
    pub tsa_key: Key,
    pub tsa: Cert,
}

impl Pki {
    /// The chain above the leaves: issuing CA, root.
    pub fn chain(&self) -> Vec<Cert> {
        vec![self.ca.clone(), self.root.clone()]
    }
}

fn template(profile: CertProfile, name: &str, key: &Key, t0: u64) -> CertTemplate {
    let subject = match profile {
        CertProfile::Signing => enterprise_subject(name, USCC).expect("name"),
        _ => ca_subject(name, "Bidkey Test").expect("name"),
    };
    CertTemplate {
        profile,
        subject,
        public_key_spki: key.signer().public_key_spki().expect("spki"),
        not_before: t0 - DAY,
        not_after: t0 + 365 * DAY,
    }
}

/// All SM2 (`sm2 = true`) or all P-256, valid from a day before `t0` for a year.
pub fn pki(sm2: bool, t0: u64) -> Pki {
    let root_key = new_key(sm2);
    let root = Cert::self_signed_root(
        ca_subject("CMS Test Root", "Bidkey Test").expect("name"),
        root_key.signer(),
        t0 - DAY,
        t0 + 3650 * DAY,
    )
    .expect("root");
    let ca_key = new_key(sm2);
    let ca = Cert::issue(
        &template(CertProfile::IssuingCa, "CMS Test CA", &ca_key, t0),
        &root,
        root_key.signer(),
    )
    .expect("ca");
    let signer_key = new_key(sm2);
    let signer = Cert::issue(
        &template(CertProfile::Signing, "测试建设有限公司", &signer_key, t0),
        &ca,
        ca_key.signer(),
    )
    .expect("signer");
    let tsa_key = new_key(sm2);
    let tsa = Cert::issue(
        &template(CertProfile::TimeStamping, "CMS Test TSA", &tsa_key, t0),
        &ca,
        ca_key.signer(),
    )
    .expect("tsa");
    Pki {
        root_key,
        root,
        ca_key,
        ca,
        signer_key,
        signer,
        tsa_key,
        tsa,
    }
}
