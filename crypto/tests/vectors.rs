//! Published test vectors that nobody on this project wrote.
//!
//! SM2/SM4/SM4-GCM/HKDF annex examples live beside their modules; this file holds SM3
//! (GB/T 32905 / GM/T 0004 appendix A) and Project
//! Wycheproof for P-256 ECDSA, P-256 ECDH and AES-256-GCM (see `data/wycheproof/README.md`).

use bidkey_crypto::aead::{AeadAlgorithm, open_with_nonce, seal_with_nonce};
use bidkey_crypto::p256::{P256PrivateKey, P256PublicKey};
use bidkey_crypto::sm3::{Sm3Hasher, sm3};
use serde_json::Value;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("vector file");
    serde_json::from_str(&text).expect("vector json")
}

fn tests_of(doc: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    doc["testGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| {
            g["tests"]
                .as_array()
                .expect("tests")
                .iter()
                .map(move |t| (g, t))
        })
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().expect("string field")
}

#[test]
fn sm3_standard_examples() {
    // GB/T 32905-2016 appendix A, examples 1 and 2.
    assert_eq!(
        sm3(b"abc").to_vec(),
        h("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
    let abcd16 = b"abcd".repeat(16);
    assert_eq!(
        sm3(&abcd16).to_vec(),
        h("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    );
    // Streaming equals one-shot (OpenSSL cross-checks are in openssl_sm2.rs).
    let seq: Vec<u8> = (0u8..64).collect();
    let mut hasher = Sm3Hasher::new();
    hasher.update(&seq[..10]);
    hasher.update(&seq[10..]);
    assert_eq!(hasher.finish(), sm3(&seq));
}

#[test]
fn wycheproof_p256_ecdsa_sha256() {
    let doc = load("ecdsa_secp256r1_sha256_test.json");
    let mut checked = 0;
    for (group, t) in tests_of(&doc) {
        let key = P256PublicKey::from_sec1(&h(s(&group["publicKey"], "uncompressed")))
            .expect("group key is valid");
        let ok = key.verify_der(&h(s(t, "msg")), &h(s(t, "sig"))).is_ok();
        match s(t, "result") {
            "valid" => assert!(ok, "tcId {} should verify", t["tcId"]),
            "invalid" => assert!(!ok, "tcId {} should fail", t["tcId"]),
            _ => {}
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        doc["numberOfTests"].as_u64().expect("count") as usize
    );
}

/// Wycheproof integers may carry a leading zero or be shorter than 32 bytes.
fn scalar32(hex_int: &str) -> Option<[u8; 32]> {
    let raw = h(hex_int);
    let trimmed: Vec<u8> = raw.iter().copied().skip_while(|&b| b == 0).collect();
    if trimmed.len() > 32 {
        return None;
    }
    let mut out = [0u8; 32];
    out[32 - trimmed.len()..].copy_from_slice(&trimmed);
    Some(out)
}

#[test]
fn wycheproof_p256_ecdh() {
    let doc = load("ecdh_secp256r1_test.json");
    let mut valid = 0;
    for (_, t) in tests_of(&doc) {
        let private = scalar32(s(t, "private")).and_then(|b| P256PrivateKey::from_bytes(&b).ok());
        let public = P256PublicKey::from_spki_der(&h(s(t, "public"))).ok();
        let shared = match (private, public) {
            (Some(sk), Some(pk)) => Some(sk.ecdh(&pk).to_vec()),
            _ => None,
        };
        match s(t, "result") {
            "valid" => {
                assert_eq!(shared, Some(h(s(t, "shared"))), "tcId {}", t["tcId"]);
                valid += 1;
            }
            "invalid" => assert!(shared.is_none(), "tcId {} must be refused", t["tcId"]),
            // "acceptable": compressed points, unusual encodings; if we compute, it must agree.
            _ => {
                if let Some(sh) = shared {
                    assert_eq!(sh, h(s(t, "shared")), "tcId {}", t["tcId"]);
                }
            }
        }
    }
    assert!(valid > 300);
}

#[test]
fn wycheproof_aes_256_gcm() {
    let doc = load("aes_gcm_test.json");
    let mut checked = 0;
    for (group, t) in tests_of(&doc) {
        let sizes = (
            group["keySize"].as_u64(),
            group["ivSize"].as_u64(),
            group["tagSize"].as_u64(),
        );
        if sizes != (Some(256), Some(96), Some(128)) {
            continue;
        }
        let key = h(s(t, "key"));
        let nonce: [u8; 12] = h(s(t, "iv")).try_into().expect("96-bit iv");
        let (aad, msg) = (h(s(t, "aad")), h(s(t, "msg")));
        let sealed = [h(s(t, "ct")), h(s(t, "tag"))].concat();
        let opened = open_with_nonce(AeadAlgorithm::Aes256Gcm, &key, &nonce, &aad, &sealed);
        match s(t, "result") {
            "valid" => {
                assert_eq!(
                    opened.expect("opens").as_slice(),
                    &msg[..],
                    "tcId {}",
                    t["tcId"]
                );
                let ours = seal_with_nonce(AeadAlgorithm::Aes256Gcm, &key, &nonce, &aad, &msg);
                assert_eq!(ours.expect("seals"), sealed, "tcId {}", t["tcId"]);
            }
            _ => assert!(opened.is_err(), "tcId {} must fail", t["tcId"]),
        }
        checked += 1;
    }
    assert!(checked > 50, "checked {checked}");
}
