//! Bidkey's CMS and timestamps checked by tools not written here.
//!
//! - P-256: `openssl cms -verify` (detached and attached, `-binary`, `-CAfile` of the chain)
//!   and `openssl ts -verify` / `ts -reply -text` (a request made by `openssl ts -query`);
//!   and the other way, a CMS made by `openssl cms -sign` verified here.
//! - SM2: `tests/sm2_cms_check.py` (asn1crypto + gmssl-fast, i.e. GmSSL in C): SM3 of the
//!   content against messageDigest, the SM2 signature over the DER SET of the signed
//!   attributes. OpenSSL 3.0 cannot make or check SM2 CMS.
//!
//! Certificates here are valid around the wall clock because OpenSSL checks them at its own
//! current time; no outcome of Bidkey's code depends on it.

mod support;

use bidkey_crypto::cms::tsp::{self, TsaSigner};
use bidkey_crypto::cms::{
    Content, ContentTypes, HashAlgorithm, TimeStampRequest, TimeStampResponse, oids, sign_data,
    verify_signed_data,
};
use bidkey_crypto::x509::Cert;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use support::Ossl;
use support::pki::{Pki, pki};

const BID: &[u8] = "投标文件\r\n binary \x00\x01 content".as_bytes();

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn pem_all(certs: &[&Cert]) -> String {
    certs.iter().map(|c| c.to_pem().expect("pem")).collect()
}

#[test]
fn openssl_cms_verify_accepts_p256_detached_and_attached() {
    let p = pki(false, now());
    let o = Ossl::new();
    o.write("root.pem", p.root.to_pem().expect("pem"));
    o.write("content.bin", BID);
    for attached in [false, true] {
        let der = sign_data(
            BID,
            attached,
            ContentTypes::Pkcs7,
            p.signer_key.signer(),
            &p.signer,
            &p.chain(),
            Some(now()),
        )
        .expect("sign");
        o.write("sig.p7s", &der);
        let mut args = vec![
            "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s", "-CAfile", "root.pem",
            "-out", "out.bin",
        ];
        if !attached {
            args.extend(["-content", "content.bin"]);
        }
        let text = o.ok(&args);
        assert!(text.contains("Verification successful"), "{text}");
        assert_eq!(o.read("out.bin"), BID);
        // A changed content byte: OpenSSL refuses too.
        if !attached {
            let mut other = BID.to_vec();
            other[0] ^= 1;
            o.write("other.bin", &other);
            let (ok, text) = o.run(&[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "sig.p7s",
                "-CAfile",
                "root.pem",
                "-content",
                "other.bin",
                "-out",
                "/dev/null",
            ]);
            assert!(!ok, "OpenSSL accepted changed content: {text}");
        }
        // The structure as OpenSSL prints it: the signed attributes Bidkey writes.
        let printed = o.ok(&[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.p7s",
        ]);
        for attr in [
            "contentType",
            "messageDigest",
            "signingTime",
            "id-smime-aa-signingCertificateV2",
        ] {
            assert!(printed.contains(attr), "{attr} missing:\n{printed}");
        }
    }
}

#[test]
fn cms_signed_by_openssl_verifies_here() {
    let p = pki(false, now());
    let o = Ossl::new();
    o.write("signer.pem", p.signer.to_pem().expect("pem"));
    o.write("chain.pem", pem_all(&[&p.ca]));
    let key = match &p.signer_key {
        support::pki::Key::P256(k) => k,
        support::pki::Key::Sm2(_) => unreachable!("P-256 PKI"),
    };
    o.write("key.der", pkcs8_der(key));
    o.write("content.bin", BID);
    o.ok(&[
        "pkey", "-inform", "DER", "-in", "key.der", "-out", "key.pem",
    ]);
    o.ok(&[
        "cms",
        "-sign",
        "-binary",
        "-md",
        "sha256",
        "-in",
        "content.bin",
        "-signer",
        "signer.pem",
        "-inkey",
        "key.pem",
        "-certfile",
        "chain.pem",
        "-outform",
        "DER",
        "-out",
        "openssl.p7s",
    ]);
    let der = o.read("openssl.p7s");
    let v = verify_signed_data(&der, Content::Detached(BID), &[]).expect("OpenSSL's CMS");
    assert_eq!(v.signers[0].cert, p.signer);
    assert!(v.signers[0].attributes.is_some());
    let mut other = BID.to_vec();
    other[1] ^= 1;
    assert!(verify_signed_data(&der, Content::Detached(&other), &[]).is_err());
}

fn pkcs8_der(key: &bidkey_crypto::p256::P256PrivateKey) -> Vec<u8> {
    use p256::pkcs8::EncodePrivateKey;
    let sk = p256::ecdsa::SigningKey::from_slice(key.to_bytes().as_slice()).expect("key");
    sk.to_pkcs8_der().expect("pkcs8").as_bytes().to_vec()
}

fn tsa<'a>(p: &'a Pki, chain: &'a [Cert]) -> TsaSigner<'a> {
    TsaSigner {
        key: p.tsa_key.signer(),
        cert: &p.tsa,
        chain,
        policy: oids::DEFAULT_TSA_POLICY,
    }
}

#[test]
fn openssl_ts_verifies_p256_timestamps() {
    let p = pki(false, now());
    let chain = p.chain();
    let o = Ossl::new();
    o.write("root.pem", p.root.to_pem().expect("pem"));
    o.write("untrusted.pem", pem_all(&[&p.tsa, &p.ca]));
    o.write("data.bin", BID);
    // A request made by OpenSSL, answered here.
    o.ok(&[
        "ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "req.tsq",
    ]);
    let req = TimeStampRequest::from_der(&o.read("req.tsq")).expect("OpenSSL's request");
    assert_eq!(req.imprint(), &HashAlgorithm::Sha256.digest(BID)[..]);
    assert!(req.cert_req() && req.nonce().is_some());
    let token = tsp::issue_token(&req, &[0x0a, 0xbc], now(), &tsa(&p, &chain)).expect("token");
    o.write("resp.tsr", tsp::response_granted(&token).expect("resp"));
    let text = o.ok(&["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(text.contains("Status: Granted."), "{text}");
    assert!(
        text.contains(&format!("Policy OID: {}", oids::DEFAULT_TSA_POLICY)),
        "{text}"
    );
    assert!(text.contains("Serial number: 0x0ABC"), "{text}");
    let text = o.ok(&[
        "ts",
        "-verify",
        "-queryfile",
        "req.tsq",
        "-in",
        "resp.tsr",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "untrusted.pem",
    ]);
    assert!(text.contains("Verification: OK"), "{text}");
    let text = o.ok(&[
        "ts",
        "-verify",
        "-data",
        "data.bin",
        "-in",
        "resp.tsr",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "untrusted.pem",
    ]);
    assert!(text.contains("Verification: OK"), "{text}");
    // Other data: OpenSSL refuses the same response.
    o.write("other.bin", b"other");
    let (ok, text) = o.run(&[
        "ts",
        "-verify",
        "-data",
        "other.bin",
        "-in",
        "resp.tsr",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "untrusted.pem",
    ]);
    assert!(!ok, "OpenSSL accepted a timestamp of other data: {text}");
    // And here, the response checked against the request.
    TimeStampResponse::from_der(&o.read("resp.tsr"))
        .expect("parse")
        .check(&req, &[])
        .expect("accepted");
}

fn python3() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

/// Run the independent SM2 checker; returns (success, output).
fn sm2_check(o: &Ossl, p7: &str, content: Option<&str>) -> (bool, String) {
    let script = format!("{}/tests/sm2_cms_check.py", env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(o.path(p7));
    if let Some(c) = content {
        cmd.arg(o.path(c));
    }
    let out = cmd.output().expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn sm2_cms_checked_by_asn1crypto_and_gmssl() {
    if python3().is_none() {
        eprintln!(
            "\n\n!!!!! SKIPPED: python3 is not installed, so the independent SM2 CMS check \
             (asn1crypto + gmssl-fast) did not run. CI installs it (.ci/run). !!!!!\n"
        );
        return;
    }
    let p = pki(true, now());
    let o = Ossl::new();
    o.write("content.bin", BID);
    for types in [ContentTypes::Pkcs7, ContentTypes::GbT35275] {
        for attached in [false, true] {
            let der = sign_data(
                BID,
                attached,
                types,
                p.signer_key.signer(),
                &p.signer,
                &p.chain(),
                Some(now()),
            )
            .expect("sign");
            o.write("sm2.p7s", &der);
            let content = (!attached).then_some("content.bin");
            let (ok, text) = sm2_check(&o, "sm2.p7s", content);
            assert!(
                ok,
                "independent SM2 check failed ({types:?}, attached {attached}):\n{text}"
            );
            assert!(text.contains("\"ok\": true"), "{text}");
            let md = hex::encode(HashAlgorithm::Sm3.digest(BID));
            assert!(text.contains(&md), "{text}");
            // The checker says no to a changed content byte and to a changed signature.
            if !attached {
                let mut other = BID.to_vec();
                other[2] ^= 1;
                o.write("other.bin", &other);
                let (ok, text) = sm2_check(&o, "sm2.p7s", Some("other.bin"));
                assert!(!ok, "checker accepted changed content:\n{text}");
            }
            let sig = verify_signed_data(
                &der,
                if attached {
                    Content::Attached
                } else {
                    Content::Detached(BID)
                },
                &[],
            )
            .expect("verify")
            .signers[0]
                .signer_info
                .signature()
                .to_vec();
            let pos = der
                .windows(sig.len())
                .position(|w| w == &sig[..])
                .expect("signature in DER");
            let mut bad = der.clone();
            bad[pos + sig.len() - 1] ^= 1;
            o.write("bad.p7s", &bad);
            let (ok, text) = sm2_check(&o, "bad.p7s", content);
            assert!(!ok, "checker accepted a changed signature:\n{text}");
        }
    }
}

#[test]
fn sm2_timestamp_token_checked_by_asn1crypto_and_gmssl() {
    if python3().is_none() {
        eprintln!(
            "\n\n!!!!! SKIPPED: python3 is not installed, so the independent SM2 timestamp \
             check did not run. CI installs it (.ci/run). !!!!!\n"
        );
        return;
    }
    // An SM2 TSA's token is an SM2 SignedData over the TSTInfo: the same independent check
    // (SM3 of the TSTInfo = messageDigest, SM2 over the signed attributes) applies.
    let p = pki(true, now());
    let chain = p.chain();
    let req =
        TimeStampRequest::new(HashAlgorithm::Sm3, &HashAlgorithm::Sm3.digest(BID)).expect("req");
    let token = tsp::issue_token(&req, &[0x42], now(), &tsa(&p, &chain)).expect("token");
    let o = Ossl::new();
    o.write("token.p7s", &token);
    let (ok, text) = sm2_check(&o, "token.p7s", None);
    assert!(
        ok,
        "independent check of the SM2 timestamp token failed:\n{text}"
    );
    // OpenSSL parses and prints the SM2 reply (it cannot verify SM2 CMS).
    o.write("resp.tsr", tsp::response_granted(&token).expect("resp"));
    let text = o.ok(&["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(
        text.contains("Hash Algorithm: sm3") && text.contains("Serial number: 0x42"),
        "{text}"
    );
}
