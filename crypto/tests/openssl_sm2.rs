//! Interoperability of one-party SM2, SM3 and SM4 with OpenSSL 3 (the `openssl` CLI).
//!
//! OpenSSL 3.0's `pkeyutl -rawin` hashes Z with an *empty* ID unless told
//! `-pkeyopt distid:1234567812345678`; its X.509 verification uses the default ID. Both
//! behaviours are pinned below.

mod support;

use bidkey_crypto::sm2::{self, DEFAULT_ID, Sm2PrivateKey, Sm2PublicKey, Sm2Signature};
use bidkey_crypto::{sm3, sm4};
use support::Ossl;

const MSG: &[u8] = "投标文件摘要 bid digest".as_bytes();

fn key_files(o: &Ossl) -> (Sm2PrivateKey, Sm2PublicKey) {
    o.ok(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:SM2",
        "-out",
        "k.pem",
    ]);
    o.ok(&["pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem"]);
    let pem = String::from_utf8(o.read("k.pem")).expect("pem");
    let key = Sm2PrivateKey::from_pkcs8_pem(&pem).expect("OpenSSL key parses");
    let public = Sm2PublicKey::from_spki_pem(&String::from_utf8(o.read("pub.pem")).expect("pem"))
        .expect("OpenSSL public key parses");
    assert_eq!(key.public_key(), &public);
    (key, public)
}

#[test]
fn our_signature_verifies_in_openssl() {
    let o = Ossl::new();
    let key = Sm2PrivateKey::make_random().expect("key");
    o.write("k.pem", key.to_pkcs8_pem().expect("pem").as_bytes());
    o.write("pub.pem", key.public_key().to_spki_pem().expect("pem"));
    o.write("msg", MSG);
    o.write("sig", key.sign(DEFAULT_ID, MSG).expect("sign").to_der());
    let args = [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "pub.pem",
        "-rawin",
        "-in",
        "msg",
        "-digest",
        "sm3",
        "-sigfile",
        "sig",
        "-pkeyopt",
        "distid:1234567812345678",
    ];
    assert!(o.ok(&args).contains("Verified Successfully"));
    // A signature under another ID must not verify with OpenSSL's default.
    o.write(
        "sig",
        key.sign(b"ALICE123@YAHOO.COM", MSG).expect("sign").to_der(),
    );
    assert!(!o.run(&args).0);
    // OpenSSL reads the PKCS#8 key we wrote.
    o.ok(&["pkey", "-in", "k.pem", "-noout"]);
}

#[test]
fn openssl_signature_verifies_here() {
    let o = Ossl::new();
    let (_, public) = key_files(&o);
    o.write("msg", MSG);
    o.ok(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        "k.pem",
        "-rawin",
        "-in",
        "msg",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-out",
        "sig",
    ]);
    let sig = Sm2Signature::from_der(&o.read("sig")).expect("OpenSSL DER signature");
    sm2::verify(&public, DEFAULT_ID, MSG, &sig).expect("verifies");
    assert!(sm2::verify(&public, DEFAULT_ID, b"other", &sig).is_err());
    // Without distid, OpenSSL 3.0 signs under the empty ID.
    o.ok(&[
        "pkeyutl", "-sign", "-inkey", "k.pem", "-rawin", "-in", "msg", "-digest", "sm3", "-out",
        "sig0",
    ]);
    let sig0 = Sm2Signature::from_der(&o.read("sig0")).expect("OpenSSL DER signature");
    sm2::verify(&public, b"", MSG, &sig0).expect("verifies under the empty ID");
    assert!(sm2::verify(&public, DEFAULT_ID, MSG, &sig0).is_err());
}

#[test]
fn encryption_both_ways() {
    let o = Ossl::new();
    let (key, public) = key_files(&o);
    o.write("msg", MSG);
    o.ok(&[
        "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "msg", "-out", "ct",
    ]);
    let pt = sm2::decrypt_der(&key, &o.read("ct")).expect("OpenSSL ciphertext decrypts");
    assert_eq!(pt.as_slice(), MSG);

    o.write("ours", sm2::encrypt_der(&public, MSG).expect("enc"));
    o.ok(&[
        "pkeyutl", "-decrypt", "-inkey", "k.pem", "-in", "ours", "-out", "back",
    ]);
    assert_eq!(o.read("back"), MSG);
}

#[test]
fn sm3_and_sm4_cbc_match_openssl() {
    let o = Ossl::new();
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    o.write("data", &data);
    let out = o.ok(&["dgst", "-sm3", "-r", "data"]);
    assert_eq!(
        out.split_whitespace().next(),
        Some(hex::encode(sm3::sm3(&data)).as_str())
    );

    let key = [0x11u8; 16];
    let iv = [0x22u8; 16];
    o.ok(&[
        "enc",
        "-sm4-cbc",
        "-K",
        &hex::encode(key),
        "-iv",
        &hex::encode(iv),
        "-in",
        "data",
        "-out",
        "ct",
    ]);
    let ct = o.read("ct");
    assert_eq!(sm4::cbc_encrypt(&key, &iv, &data).expect("enc"), ct);
    assert_eq!(
        sm4::cbc_decrypt(&key, &iv, &ct).expect("dec").as_slice(),
        &data[..]
    );
}
