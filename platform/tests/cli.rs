//! The `bidkey-platform` binary, run as an operator would.

mod support;

use bidkey_crypto::file_key::WrappedKeyContents;
use bidkey_crypto::sm2::{self, DEFAULT_ID};
use std::path::Path;
use std::process::{Command, Output};
use support::{DAY, T0, USCC, crl, pki};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bidkey-platform"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("binary runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} in {out}"))
}

#[test]
fn verify_offline_and_show_cert() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let p = pki();
    let write = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).expect("write");
    write("root.pem", p.root.to_pem().expect("pem").as_bytes());
    write("ca.der", p.ca.to_der());
    write("sign.pem", p.sign.to_pem().expect("pem").as_bytes());
    write(
        "ca.crl",
        crl(&p.ca, &p.ca_key, &[], T0, T0 + 7 * DAY).to_der(),
    );
    write(
        "root.crl",
        crl(&p.root, &p.root_key, &[], T0, T0 + 30 * DAY)
            .to_pem()
            .expect("pem")
            .as_bytes(),
    );
    write(
        "revoked.crl",
        crl(&p.ca, &p.ca_key, &[&p.sign], T0, T0 + 7 * DAY).to_der(),
    );
    write("bid.pdf", b"%PDF-1.7 bid");
    write("other.pdf", b"%PDF-1.7 changed");
    let sig = p
        .sign_key
        .sign(DEFAULT_ID, b"%PDF-1.7 bid")
        .expect("sign")
        .to_der();
    write("bid.sig", &sig);
    write("bid.sig.hex", hex::encode(&sig).as_bytes());
    let at = (T0 + DAY).to_string();
    let base = |sig: &'static str, file: &'static str, crl: &'static str| {
        vec![
            "verify", "--cert", "sign.pem", "--sig", sig, "--file", file, "--root", "root.pem",
            "--ca", "ca.der", "--crl", crl, "--crl", "root.crl", "--at",
        ]
    };
    let mut args = base("bid.sig", "bid.pdf", "ca.crl");
    args.extend([at.as_str(), "--uscc", USCC]);
    let out = ok(d, &args);
    assert_eq!(field(&out, "verified"), "yes");
    assert_eq!(field(&out, "uscc"), USCC);
    assert_eq!(field(&out, "serial"), p.sign.serial_hex());

    let mut args = base("bid.sig.hex", "bid.pdf", "ca.crl");
    args.push(&at);
    ok(d, &args);

    for (sig, file, crl, msg) in [
        (
            "bid.sig",
            "other.pdf",
            "ca.crl",
            "signature does not verify",
        ),
        ("bid.sig", "bid.pdf", "revoked.crl", "revoked"),
    ] {
        let mut args = base(sig, file, crl);
        args.push(&at);
        let out = run(d, &args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{err}");
    }
    let mut args = base("bid.sig", "bid.pdf", "ca.crl");
    args.push(&at);
    args.extend(["--uscc", "91110000600037341L"]);
    assert!(!run(d, &args).status.success());

    let out = ok(d, &["show-cert", "sign.pem"]);
    assert_eq!(field(&out, "serial"), p.sign.serial_hex());
    assert_eq!(field(&out, "uscc"), USCC);
    assert!(field(&out, "key_usage").contains("digitalSignature"));
}

#[test]
fn encrypt_header_decrypt() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let p = pki();
    std::fs::write(d.join("enc.pem"), p.enc.to_pem().expect("pem")).expect("write");
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    std::fs::write(d.join("标书.pdf"), &plain).expect("write");
    let out = ok(
        d,
        &[
            "encrypt",
            "--cert",
            "enc.pem",
            "--in",
            "标书.pdf",
            "--out",
            "标书.bid",
            "--tender",
            "ZB-1",
            "--platform",
            "plat-1",
        ],
    );
    assert_eq!(field(&out, "recipient_serial"), p.enc.serial_hex());
    assert_eq!(field(&out, "plaintext_bytes"), "300000");

    let out = ok(d, &["header", "标书.bid"]);
    assert_eq!(field(&out, "tender_id"), "ZB-1");
    assert_eq!(field(&out, "platform_id"), "plat-1");
    assert_eq!(field(&out, "file_name"), "标书.pdf");
    let wrapped = hex::decode(field(&out, "wrapped_key_hex")).expect("hex");
    // What the phone does at bid opening: unwrap, and find the purpose the header names.
    let contents =
        WrappedKeyContents::parse(&sm2::decrypt_der(&p.enc_key, &wrapped).expect("unwraps"))
            .expect("a key with its purpose");
    assert_eq!(contents.tender_id, "ZB-1");
    assert_eq!(contents.platform_id, "plat-1");
    assert_eq!(
        hex::encode(contents.header_hash),
        field(&out, "binding_hash_hex")
    );
    let key = hex::encode(contents.key.as_slice());

    ok(
        d,
        &[
            "decrypt",
            "--key",
            &key,
            "--in",
            "标书.bid",
            "--out",
            "opened.pdf",
        ],
    );
    assert_eq!(std::fs::read(d.join("opened.pdf")).expect("read"), plain);

    // A wrong key fails and leaves no output file behind.
    let out = run(
        d,
        &[
            "decrypt",
            "--key",
            &"00".repeat(16),
            "--in",
            "标书.bid",
            "--out",
            "x.pdf",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("key does not open"));
    assert!(!d.join("x.pdf").exists() && !d.join(".x.pdf.part").exists());

    // The signing certificate is not a recipient.
    std::fs::write(d.join("sign.pem"), p.sign.to_pem().expect("pem")).expect("write");
    assert!(
        !run(
            d,
            &[
                "encrypt",
                "--cert",
                "sign.pem",
                "--in",
                "标书.pdf",
                "--out",
                "y.bid",
                "--tender",
                "ZB-1",
                "--platform",
                "plat-1",
            ]
        )
        .status
        .success()
    );
}
