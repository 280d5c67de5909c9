//! GB/T 38540 seals and seal signatures checked by a checker not written here:
//! `tests/ses_check.py` declares the GB/T 38540-2020 v4 schema for asn1crypto, and gmssl-fast
//! (GmSSL, C) verifies the seal maker's and the signer's SM2 signatures. The checker must
//! also say no: a changed picture, a signer the seal does not list, an expired seal.

mod support;

use bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY;
use bidkey_crypto::cms::tsp::{self, TsaSigner};
use bidkey_crypto::cms::{HashAlgorithm, TimeStampRequest};
use bidkey_crypto::ses::{self, SealContent, SealPicture, SesSigner};
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, ca_subject, enterprise_subject};
use std::process::Command;
use support::Ossl;
use support::pki::{DAY, Key, Pki, USCC, new_key, pki};

const T0: u64 = 1_767_225_600;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

fn issue(p: &Pki, profile: CertProfile, subject: bidkey_crypto::x509::Name, key: &Key) -> Cert {
    Cert::issue(
        &CertTemplate {
            profile,
            subject,
            public_key_spki: key.signer().public_key_spki().expect("spki"),
            not_before: T0 - DAY,
            not_after: T0 + 365 * DAY,
        },
        &p.ca,
        p.ca_key.signer(),
    )
    .expect("cert")
}

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import asn1crypto, gmssl_fast"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn check(o: &Ossl, args: &[&str]) -> (bool, String) {
    let script = format!("{}/tests/ses_check.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .current_dir(o.dir())
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn seal_for(maker: &Cert, maker_key: &Key, holders: Vec<Cert>, end: u64) -> Vec<u8> {
    ses::make_seal(
        &SealContent {
            es_id: "91350100M000100Y43-0001".into(),
            vid: "Bidkey".into(),
            seal_type: 2,
            name: "测试建设有限公司投标专用章".into(),
            signer_certs: holders,
            create_date: T0,
            valid_start: T0,
            valid_end: end,
            picture: SealPicture {
                kind: "PNG".into(),
                data: PNG.to_vec(),
                width_mm: 42,
                height_mm: 42,
            },
        },
        maker,
        maker_key.signer(),
    )
    .expect("seal")
}

fn token(p: &Pki, data: &[u8], at: u64) -> Vec<u8> {
    let req = TimeStampRequest::new(HashAlgorithm::Sm3, &HashAlgorithm::Sm3.digest(data))
        .expect("req")
        .with_cert_req(true);
    tsp::issue_token(
        &req,
        &[9],
        at,
        &TsaSigner {
            key: p.tsa_key.signer(),
            cert: &p.tsa,
            chain: &p.chain(),
            policy: DEFAULT_TSA_POLICY,
        },
    )
    .expect("token")
}

#[test]
fn seals_and_seal_signatures_checked_by_asn1crypto_and_gmssl() {
    if !python_ready() {
        eprintln!(
            "\n\n!!!!! SKIPPED: python3 with asn1crypto and gmssl-fast is not installed, so the \
             independent GB/T 38540 check did not run. CI installs them (.ci/run). !!!!!\n"
        );
        return;
    }
    let p = pki(true, T0);
    let maker_key = new_key(true);
    let maker = issue(
        &p,
        CertProfile::Signing,
        ca_subject("Bidkey Seal Maker", "Bidkey").expect("name"),
        &maker_key,
    );
    let o = Ossl::new();
    let seal = seal_for(&maker, &maker_key, vec![p.signer.clone()], T0 + 30 * DAY);
    o.write("seal.esl", &seal);
    let (ok, text) = check(&o, &["seal", "seal.esl"]);
    assert!(ok, "independent seal check failed:\n{text}");
    assert!(text.contains("测试建设有限公司投标专用章"), "{text}");
    assert!(text.contains("\"width_mm\": 42"), "{text}");

    // A signature, timestamped, over data whose SM3 the checker is told.
    let data_hash = HashAlgorithm::Sm3.digest(b"the sealed bytes");
    let signed = ses::sign(
        &seal,
        T0 + 100,
        &data_hash,
        "name=bid.pdf;page=1",
        SesSigner {
            cert: &p.signer,
            key: p.signer_key.signer(),
        },
    )
    .expect("sign");
    let v = ses::verify_signature(&signed, None, &[]).expect("verify");
    let stamped =
        ses::add_timestamp(&signed, &token(&p, &v.signature, T0 + 110), &[]).expect("stamp");
    o.write("sig.ses", &stamped);
    let hash_hex = hex::encode(&data_hash);
    let (ok, text) = check(&o, &["signature", "sig.ses", &hash_hex]);
    assert!(ok, "independent signature check failed:\n{text}");
    assert!(text.contains("name=bid.pdf;page=1"), "{text}");
    assert!(
        text.contains("\"timestamp\": \"2026-01-01T00:01:50"),
        "{text}"
    );

    // The checker says no to other data.
    let other = hex::encode(HashAlgorithm::Sm3.digest(b"other bytes"));
    let (ok, text) = check(&o, &["signature", "sig.ses", &other]);
    assert!(!ok && text.contains("dataHash"), "{text}");

    // A changed picture: the maker's signature fails, in the seal and inside a signature.
    for (name, der) in [("seal.esl", &seal), ("sig.ses", &stamped)] {
        let at = der
            .windows(PNG.len())
            .position(|x| x == PNG)
            .expect("picture inside");
        let mut bad = der.clone();
        bad[at + 30] ^= 0x10;
        o.write(name, &bad);
        let kind = if name == "seal.esl" {
            "seal"
        } else {
            "signature"
        };
        let (ok, text) = check(&o, &[kind, name]);
        assert!(!ok, "checker accepted a changed picture ({name}):\n{text}");
        assert!(
            text.contains("seal maker's signature") || text.contains("signer's signature"),
            "{text}"
        );
    }

    // A signer the seal does not list (its own signature is fine).
    let stranger_key = new_key(true);
    let stranger = issue(
        &p,
        CertProfile::Signing,
        enterprise_subject("另一家公司", USCC).expect("name"),
        &stranger_key,
    );
    let by_stranger = ses::sign(
        &seal,
        T0 + 100,
        &data_hash,
        "x",
        SesSigner {
            cert: &stranger,
            key: stranger_key.signer(),
        },
    )
    .expect("sign");
    o.write("stranger.ses", &by_stranger);
    let (ok, text) = check(&o, &["signature", "stranger.ses"]);
    assert!(
        !ok && text.contains("not in the seal's certificate list"),
        "{text}"
    );

    // An expired seal: the timestamped time is after validEnd.
    let short = seal_for(&maker, &maker_key, vec![p.signer.clone()], T0 + DAY);
    let late = ses::sign(
        &short,
        T0 + 100,
        &data_hash,
        "x",
        SesSigner {
            cert: &p.signer,
            key: p.signer_key.signer(),
        },
    )
    .expect("sign");
    let v = ses::verify_signature(&late, None, &[]).expect("verify");
    let late = ses::add_timestamp(&late, &token(&p, &v.signature, T0 + 2 * DAY), &[]).expect("ts");
    o.write("late.ses", &late);
    let (ok, text) = check(&o, &["signature", "late.ses"]);
    assert!(!ok && text.contains("outside its validity"), "{text}");
}
