//! Interoperability with the OpenSSL 3 command line (`openssl` on PATH, with SM2).
//!
//! Both directions: chains, CRLs and CSRs made here are checked by `openssl verify`,
//! `openssl req -verify`, `openssl x509/crl -text`; keys, CSRs, certificates and CRLs made by
//! OpenSSL are parsed and verified here. No `-check_ss_sig` (wrong for SM2 roots in 3.0).
//!
//! SM2 distinguishing IDs: this crate signs with the GM/T default `1234567812345678`.
//! OpenSSL 3.0.19 signs and verifies X.509 SM2 signatures with an *empty* ID by default.
//! `openssl verify -vfyopt distid:1234567812345678` applies to the leaf only (intermediates
//! and CRLs are still checked with the empty ID), and `openssl crl` has no such option. So:
//! - standard-ID material is checked by OpenSSL link by link, each link as the leaf of
//!   `openssl verify -vfyopt distid:1234567812345678` (`-partial_chain` for the
//!   intermediate → leaf link), and `openssl req -verify -vfyopt distid:1234567812345678`;
//! - the full `openssl verify -CAfile root -untrusted inter leaf` and `-crl_check` runs use
//!   material signed with `Sm2Id::OpenSsl3Empty`, exactly what OpenSSL 3.0 expects.

use bidkey_crypto::CertProblem;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// OpenSSL 3.0 signs and verifies SM2 with an empty distinguishing ID unless told otherwise;
/// GM/T 0009/0015 (and this crate) use the default ID, so OpenSSL needs these options.
const SM2_VFYOPT: &[&str] = &["-vfyopt", "distid:1234567812345678"];
const SM2_SIGOPT: &[&str] = &["-sigopt", "distid:1234567812345678"];
const DAY: u64 = 86_400;
const USCC: &str = "91350100M000100Y43";
const ENTERPRISE: &str = "测试建设工程有限公司";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

fn template(profile: CertProfile, subject: Name, key: &dyn TbsSigner, days: u64) -> CertTemplate {
    CertTemplate {
        profile,
        subject,
        public_key_spki: key.public_key_spki().expect("spki"),
        not_before: now() - DAY,
        not_after: now() + days * DAY,
    }
}

fn crl(issuer: &Cert, key: &dyn TbsSigner, revoked: &[&Cert]) -> Crl {
    let revoked = revoked
        .iter()
        .map(|c| RevokedEntry {
            serial: c.serial_bytes().to_vec(),
            revoked_at: now() - 60,
            reason: Some(CrlReason::KeyCompromise),
        })
        .collect();
    Crl::issue(
        &CrlTemplate {
            crl_number: 1,
            this_update: now() - 3600,
            next_update: now() + 7 * DAY,
            revoked,
        },
        issuer,
        key,
    )
    .expect("crl")
}

/// Root → issuing CA → signing leaf + encryption leaf, and a CRL from each CA; the
/// issuing CA's CRL revokes the encryption leaf.
struct Chain {
    root: Cert,
    ca: Cert,
    sign: Cert,
    enc: Cert,
    root_crl: Crl,
    ca_crl: Crl,
    csr: Csr,
}

fn make_chain<K: TbsSigner>(mut gen_key: impl FnMut() -> K) -> Chain {
    let root_key = gen_key();
    let root = Cert::self_signed_root(
        ca_subject("Bidkey 根证书", "Bidkey 测试").expect("name"),
        &root_key,
        now() - DAY,
        now() + 3650 * DAY,
    )
    .expect("root");
    let ca_key = gen_key();
    let ca = Cert::issue(
        &template(
            CertProfile::IssuingCa,
            ca_subject("Bidkey 签发 CA", "Bidkey 测试").expect("name"),
            &ca_key,
            1825,
        ),
        &root,
        &root_key,
    )
    .expect("issuing CA");
    let subject = enterprise_subject(ENTERPRISE, USCC).expect("subject");
    let sign_key = gen_key();
    let csr = Csr::create(subject.clone(), &sign_key).expect("csr");
    let sign = Cert::issue(
        &CertTemplate::from_csr(CertProfile::Signing, &csr, now() - DAY, now() + 365 * DAY)
            .expect("template"),
        &ca,
        &ca_key,
    )
    .expect("signing leaf");
    let enc_key = gen_key();
    let enc = Cert::issue(
        &template(
            CertProfile::Encryption {
                key_agreement: true,
            },
            subject,
            &enc_key,
            365,
        ),
        &ca,
        &ca_key,
    )
    .expect("encryption leaf");
    let root_crl = crl(&root, &root_key, &[]);
    let ca_crl = crl(&ca, &ca_key, &[&enc]);
    Chain {
        root,
        ca,
        sign,
        enc,
        root_crl,
        ca_crl,
        csr,
    }
}

fn write_chain(dir: &Path, c: &Chain) {
    write(dir, "root.pem", &c.root.to_pem().expect("pem"));
    write(dir, "inter.pem", &c.ca.to_pem().expect("pem"));
    write(dir, "sign.pem", &c.sign.to_pem().expect("pem"));
    write(dir, "enc.pem", &c.enc.to_pem().expect("pem"));
    write(dir, "crl.pem", &c.ca_crl.to_pem().expect("pem"));
    write(
        dir,
        "crls.pem",
        &(c.ca_crl.to_pem().expect("pem") + &c.root_crl.to_pem().expect("pem")),
    );
    write(dir, "csr.pem", &c.csr.to_pem().expect("pem"));
}

/// Everything OpenSSL should accept and refuse about a chain made here.
/// Standard-ID SM2 material, one link at a time (see the module comment).
fn check_standard_sm2_links_in_openssl(c: &Chain) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write_chain(dir, c);
    let out = ok(
        dir,
        &[
            &["verify", "-CAfile", "root.pem"][..],
            SM2_VFYOPT,
            &["inter.pem"],
        ]
        .concat(),
    );
    assert!(out.contains("inter.pem: OK"), "{out}");
    for leaf in ["sign.pem", "enc.pem"] {
        let args = [
            &["verify", "-partial_chain", "-CAfile", "inter.pem"][..],
            SM2_VFYOPT,
            &[leaf],
        ]
        .concat();
        assert!(ok(dir, &args).contains(&format!("{leaf}: OK")));
    }
    let text = ok(
        dir,
        &[
            &["req", "-in", "csr.pem", "-verify", "-noout"][..],
            SM2_VFYOPT,
        ]
        .concat(),
    );
    assert!(text.contains("verify OK"), "{text}");
    check_text_output(dir, c);
}

/// The full `openssl verify` runs, with and without CRLs, and `openssl req -verify`.
fn check_chain_in_openssl(c: &Chain) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write_chain(dir, c);
    let base = ["verify", "-CAfile", "root.pem", "-untrusted", "inter.pem"];

    for leaf in ["sign.pem", "enc.pem"] {
        let out = ok(dir, &[&base[..], &[leaf]].concat());
        assert!(out.contains(&format!("{leaf}: OK")), "{out}");
    }

    let crl_check = [&base[..], &["-crl_check", "-CRLfile", "crl.pem"]].concat();
    ok(dir, &[&crl_check[..], &["sign.pem"]].concat());
    let crl_check_all = [&base[..], &["-crl_check_all", "-CRLfile", "crls.pem"]].concat();
    ok(dir, &[&crl_check_all[..], &["sign.pem"]].concat());
    for args in [&crl_check, &crl_check_all] {
        let out = openssl(dir, &[&args[..], &["enc.pem"]].concat());
        assert!(!out.status.success(), "revoked leaf accepted");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("certificate revoked"), "{text}");
    }
    let text = ok(
        dir,
        &["crl", "-in", "crl.pem", "-CAfile", "inter.pem", "-noout"],
    );
    assert!(text.contains("verify OK"), "{text}");
    let text = ok(dir, &["req", "-in", "csr.pem", "-verify", "-noout"]);
    assert!(text.contains("verify OK"), "{text}");
    check_text_output(dir, c);
}

/// Key usages, names (UTF-8), serial, fingerprint and CRL fields as OpenSSL prints them.
fn check_text_output(dir: &Path, c: &Chain) {
    let text = ok(
        dir,
        &[
            "x509", "-in", "sign.pem", "-noout", "-text", "-nameopt", "utf8",
        ],
    );
    assert!(
        text.contains("Digital Signature, Non Repudiation"),
        "{text}"
    );
    assert!(text.contains(&format!("CN={ENTERPRISE}")), "{text}");
    assert!(
        text.contains(&format!("organizationIdentifier=NTRCN-{USCC}")),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    let text = ok(dir, &["x509", "-in", "enc.pem", "-noout", "-text"]);
    assert!(
        text.contains("Key Encipherment, Data Encipherment, Key Agreement"),
        "{text}"
    );
    let text = ok(dir, &["x509", "-in", "inter.pem", "-noout", "-text"]);
    assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    let serial = ok(dir, &["x509", "-in", "sign.pem", "-noout", "-serial"]);
    assert_eq!(serial.trim(), format!("serial={}", c.sign.serial_hex()));
    let fp = ok(
        dir,
        &[
            "x509",
            "-in",
            "sign.pem",
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    );
    let ours: Vec<String> = c
        .sign
        .fingerprint_sha256()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert!(fp.contains(&ours.join(":")), "{fp}");

    let text = ok(dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains(&c.enc.serial_hex()), "{text}");
}

#[test]
fn sm2_standard_id_chain_and_csr_are_accepted_by_openssl() {
    let chain = make_chain(|| Sm2PrivateKey::make_random().expect("key"));
    check_standard_sm2_links_in_openssl(&chain);
    // And the same material passes and fails here as it does there.
    let at = now();
    let crls = [chain.root_crl.clone(), chain.ca_crl.clone()];
    let inter = std::slice::from_ref(&chain.ca);
    let roots = std::slice::from_ref(&chain.root);
    verify_chain(&chain.sign, inter, roots, at, &crls, RequiredUsage::Signing).expect("valid");
    assert_eq!(
        verify_chain(
            &chain.enc,
            inter,
            roots,
            at,
            &crls,
            RequiredUsage::Encryption
        ),
        Err(CertProblem::Revoked)
    );
}

#[test]
fn sm2_openssl3_id_chain_crl_and_csr_are_accepted_by_openssl() {
    let chain = make_chain(|| {
        Sm2Signer::new(
            Sm2PrivateKey::make_random().expect("key"),
            Sm2Id::OpenSsl3Empty,
        )
    });
    check_chain_in_openssl(&chain);
}

#[test]
fn p256_chain_crl_and_csr_are_accepted_by_openssl() {
    use p256::elliptic_curve::Generate;
    let chain = make_chain(|| {
        p256::ecdsa::SigningKey::generate_from_rng(&mut rand_core::UnwrapErr(getrandom::SysRng))
    });
    check_chain_in_openssl(&chain);
}

/// Keys, CSRs and certificates made by OpenSSL parse and verify here.
#[test]
fn openssl_sm2_material_verifies_here() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    ok(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:SM2",
            "-out",
            "sm2.pem",
        ],
    );
    ok(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "sm2.pem",
            "-sm3",
            "-utf8",
            "-days",
            "30",
            "-subj",
            "/C=CN/O=测试/CN=OpenSSL SM2 根",
            "-out",
            "ss.pem",
        ],
    );
    ok(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "sm2.pem",
            "-sm3",
            "-utf8",
            "-subj",
            "/C=CN/CN=张三",
            "-out",
            "req.pem",
        ],
    );

    // The same with the standard ID, as a GM-conformant CA would sign.
    ok(
        dir,
        &[
            &[
                "req", "-new", "-x509", "-key", "sm2.pem", "-sm3", "-days", "30", "-subj",
                "/CN=std",
            ][..],
            SM2_SIGOPT,
            &["-out", "ss_std.pem"],
        ]
        .concat(),
    );

    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read");
    let std_id = Cert::from_pem(&read("ss_std.pem")).expect("parses");
    std_id
        .verify_signature(std_id.public_key())
        .expect("standard-ID OpenSSL signature verifies");
    let ss = Cert::from_pem(&read("ss.pem")).expect("OpenSSL certificate parses");
    ss.verify_signature(ss.public_key())
        .expect("OpenSSL SM2 self-signature verifies");
    assert_eq!(
        ss.subject_common_name().expect("cn").as_deref(),
        Some("OpenSSL SM2 根")
    );
    assert!(ss.is_ca());
    assert!(ss.sm2_public_key().is_ok());
    let serial = ok(dir, &["x509", "-in", "ss.pem", "-noout", "-serial"]);
    assert_eq!(serial.trim(), format!("serial={}", ss.serial_hex()));

    let csr = Csr::from_pem(&read("req.pem")).expect("OpenSSL CSR parses");
    csr.verify_self_signature()
        .expect("OpenSSL SM2 CSR signature verifies");
    assert_eq!(
        csr.subject_common_name().expect("cn").as_deref(),
        Some("张三")
    );
    assert_eq!(
        csr.sm2_public_key().expect("key"),
        ss.sm2_public_key().expect("key")
    );

    // A tampered OpenSSL certificate no longer verifies.
    let mut der = ss.to_der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    let bad = Cert::from_der(&der).expect("well-formed");
    assert!(bad.verify_signature(ss.public_key()).is_err());
}

/// An OpenSSL SM2 CA with key usages issues a leaf from an OpenSSL CSR; the chain verifies
/// here, with an OpenSSL CRL.
#[test]
fn openssl_sm2_chain_and_crl_verify_here() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let gen_key = |name: &str| {
        ok(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:SM2",
                "-out",
                name,
            ],
        );
    };
    gen_key("ca.key");
    gen_key("leaf.key");
    ok(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "ca.key",
            "-sm3",
            "-days",
            "30",
            "-subj",
            "/CN=OpenSSL CA",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ],
    );
    ok(
        dir,
        &[
            "req", "-new", "-key", "leaf.key", "-sm3", "-subj", "/CN=leaf", "-out", "leaf.csr",
        ],
    );
    write(
        dir,
        "ext.cnf",
        "keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=critical,CA:FALSE\n",
    );
    ok(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-sm3",
            "-days",
            "10",
            "-extfile",
            "ext.cnf",
            "-set_serial",
            "0x1234",
            "-out",
            "leaf.pem",
        ],
    );
    // A minimal CA database for `openssl ca -gencrl`.
    std::fs::write(dir.join("index.txt"), "").expect("index");
    write(
        dir,
        "ca.cnf",
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ndefault_md=sm3\ndefault_crl_days=7\ncrlnumber=crlnumber\n",
    );
    write(dir, "crlnumber", "01\n");
    ok(
        dir,
        &[
            "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem", "-gencrl", "-out",
            "crl.pem",
        ],
    );

    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read");
    let ca = Cert::from_pem(&read("ca.pem")).expect("ca");
    let leaf = Cert::from_pem(&read("leaf.pem")).expect("leaf");
    let crl = Crl::from_pem(&read("crl.pem")).expect("OpenSSL CRL parses");
    crl.verify_signature(&ca)
        .expect("OpenSSL CRL signature verifies");
    assert_eq!(crl.crl_number(), Some(1));
    assert_eq!(leaf.serial_hex(), "1234");
    verify_chain(&leaf, &[], &[ca], now(), &[crl], RequiredUsage::Signing)
        .expect("OpenSSL chain verifies here");
}
