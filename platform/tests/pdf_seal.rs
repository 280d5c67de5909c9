//! Sealed PDFs: written by `pdf::prepare`/`finish`, checked by Bidkey's verifier and by tools
//! nobody here wrote (pyHanko, poppler's `pdfsig` and `pdftoppm`, `qpdf --check`, and the
//! Python SM2 checker), with the attacks the verifier must catch.

use bidkey_crypto::cms::tsp::TsaSigner;
use bidkey_crypto::cms::{ContentTypes, HashAlgorithm, oids};
use bidkey_crypto::x509::{Crl, CrlReason, CrlTemplate, RevokedEntry};
use bidkey_platform::PlatformError;
use bidkey_platform::pdf::verify::{Check, LaterChanges, VerifyOptions, verify_cms};
use bidkey_platform::pdf::{self, PdfProblem, Placement, Prepared, SealRequest, fixture};
use bidkey_platform::verify::TrustAnchor;
use bidkey_testkit::pki::{Pki, USCC, pki};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

/// 2026-01-01T00:00:00Z: certificates are valid from a day before for a year.
const T0: u64 = 1_767_225_600;
const PAGE_H: f64 = 842.0;

fn placement(page: u32) -> Placement {
    Placement {
        page,
        x: 400.0,
        y: 100.0,
        width: 120.0,
        height: 120.0,
    }
}

/// Seal `input` with `p`'s signer (timestamped by its TSA at `at`); returns the sealed PDF.
fn seal(p: &Pki, input: &[u8], place: Placement, at: u64) -> (Vec<u8>, Prepared) {
    let png = fixture::seal_png(200);
    let digest = match p.signer.public_key().signature_algorithm() {
        bidkey_crypto::x509::SignatureAlgorithm::Sm2WithSm3 => HashAlgorithm::Sm3,
        _ => HashAlgorithm::Sha256,
    };
    let req = SealRequest {
        placement: place,
        seal_png: &png,
        digest,
        signing_time: at,
        contents_capacity: pdf::seal::DEFAULT_CONTENTS_CAPACITY,
        field_name: None,
    };
    let mut out = Cursor::new(Vec::new());
    let prepared = pdf::prepare(Cursor::new(input), &mut out, &req).expect("prepare");
    let chain = p.chain();
    let tsa = TsaSigner {
        key: p.tsa_key.signer(),
        cert: &p.tsa,
        chain: &chain,
        policy: oids::DEFAULT_TSA_POLICY,
    };
    pdf::sign_prepared(
        &mut out,
        &prepared,
        p.signer_key.signer(),
        &p.signer,
        &chain,
        ContentTypes::Pkcs7,
        at,
        Some((&tsa, at)),
    )
    .expect("sign");
    (out.into_inner(), prepared)
}

fn anchor(p: &Pki) -> TrustAnchor {
    TrustAnchor::new(p.root.clone(), vec![p.ca.clone()]).expect("anchor")
}

fn report(p: &Pki, pdf_bytes: &[u8], crls: &[Crl]) -> pdf::PdfReport {
    let a = anchor(p);
    pdf::verify(
        Cursor::new(pdf_bytes),
        &VerifyOptions {
            anchor: Some(&a),
            tsa_anchor: None,
            crls,
            now: T0 + 3600,
        },
    )
    .expect("verify runs")
}

/// Whether an external tool is here; in CI (`CI` set) its absence fails the test.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .or_else(|_| Command::new(tool).arg("-v").output())
        .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required in CI (.ci/run installs it)"
        );
        eprintln!("\n!!!!! SKIPPED: {tool} is not installed; CI installs it (.ci/run) !!!!!\n");
    }
    ok
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn qpdf_check(path: &Path) {
    if !have("qpdf") {
        return;
    }
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(path)
        .output()
        .expect("qpdf");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qpdf --check failed:\n{text}");
    assert!(
        text.contains("No syntax or stream encoding errors"),
        "{text}"
    );
}

fn pdfsig(path: &Path) -> String {
    let out = Command::new("pdfsig").arg(path).output().expect("pdfsig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pyhanko(dir: &Path, p: &Pki, path: &Path) -> Option<serde_json::Value> {
    if !have("python3") {
        return None;
    }
    let probe = Command::new("python3")
        .args(["-c", "import pyhanko, pyhanko_certvalidator"])
        .status()
        .expect("python3");
    if !probe.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "pyHanko is required in CI"
        );
        eprintln!("\n!!!!! SKIPPED: pyHanko is not installed; CI installs it (.ci/run) !!!!!\n");
        return None;
    }
    let root = write(dir, "root.pem", p.root.to_pem().expect("pem").as_bytes());
    let ca = write(dir, "ca.pem", p.ca.to_pem().expect("pem").as_bytes());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pdf_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(path)
        .arg(root)
        .arg(ca)
        .arg((T0 + 3600).to_string())
        .output()
        .expect("pdf_check.py");
    assert!(
        out.status.success(),
        "pyHanko check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("json"))
}

/// The colour of the rendered page at PDF point (x, y), page rendered at 72 dpi.
fn rendered_pixel(png: &Path, x: f64, y: f64) -> [u8; 3] {
    let img = image::open(png).expect("rendered PNG").to_rgb8();
    let px = img.get_pixel(x as u32, (PAGE_H - y) as u32);
    px.0
}

#[test]
fn a_p256_seal_is_accepted_by_pyhanko_pdfsig_qpdf_and_is_visible_where_placed() {
    let p = pki(false, T0);
    let input = fixture::bid_pdf("测试建设有限公司 投标文件", 3, false);
    let (sealed, prepared) = seal(&p, &input, placement(2), T0 + 60);
    assert_eq!(prepared.len, sealed.len() as u64);
    assert_eq!(
        &sealed[..input.len()],
        &input[..],
        "an incremental update only appends"
    );

    let r = report(&p, &sealed, &[]);
    let [s] = &r.signatures[..] else {
        panic!("one signature: {r:?}")
    };
    assert!(s.intact, "{s:?}");
    assert!(s.covers_whole_file);
    assert_eq!(s.later_changes, LaterChanges::None);
    assert_eq!(s.sub_filter.as_deref(), Some("adbe.pkcs7.detached"));
    let signer = s.signer.as_ref().expect("signer");
    assert_eq!(signer.uscc.as_deref(), Some(USCC));
    assert_eq!(signer.signer.as_deref(), Some("测试建设有限公司"));
    assert_eq!(signer.timestamp, Some(T0 + 60));
    assert_eq!(signer.chain, Check::Valid);
    assert!(s.is_valid() && r.all_valid());

    let dir = tempfile::tempdir().expect("tmp");
    qpdf_check(&write(dir.path(), "fixture.pdf", &input));
    let path = write(dir.path(), "sealed.pdf", &sealed);
    qpdf_check(&path);
    if have("pdfsig") {
        let text = pdfsig(&path);
        assert!(text.contains("Signature #1"), "{text}");
        assert!(!text.contains("Signature #2"), "{text}");
        assert!(text.contains("adbe.pkcs7.detached"), "{text}");
        assert!(
            text.contains("Signature Validation: Signature is Valid"),
            "{text}"
        );
        assert!(text.contains("Total document signed"), "{text}");
    }
    if have("pdftoppm") {
        let prefix = dir.path().join("page");
        let st = Command::new("pdftoppm")
            .args(["-r", "72", "-png", "-f", "2", "-l", "2", "-singlefile"])
            .arg(&path)
            .arg(&prefix)
            .status()
            .expect("pdftoppm");
        assert!(st.success());
        let png = dir.path().join("page.png");
        let pl = placement(2);
        let centre = rendered_pixel(&png, pl.x + pl.width / 2.0, pl.y + pl.height / 2.0);
        assert!(
            centre[0] > 180 && centre[1] < 80 && centre[2] < 80,
            "seal red at the centre: {centre:?}"
        );
        let ring = rendered_pixel(&png, pl.x + pl.width / 2.0, pl.y + pl.height * 0.06);
        assert!(ring[0] > 150 && ring[1] < 110, "the ring: {ring:?}");
        let outside = rendered_pixel(&png, pl.x - 60.0, pl.y + pl.height / 2.0);
        assert_eq!(outside, [255, 255, 255], "white outside the seal");
        // Transparent corner of the seal picture: the page shows through.
        let corner = rendered_pixel(&png, pl.x + 2.0, pl.y + 2.0);
        assert_eq!(
            corner,
            [255, 255, 255],
            "the soft mask keeps the corners transparent"
        );
    }
    if let Some(v) = pyhanko(dir.path(), &p, &path) {
        let sigs = v.as_array().expect("array");
        assert_eq!(sigs.len(), 1, "{v}");
        let s = &sigs[0];
        assert_eq!(s["intact"], true, "{v}");
        assert_eq!(s["valid"], true, "{v}");
        assert_eq!(s["trusted"], true, "{v}");
        assert_eq!(s["coverage"], "ENTIRE_FILE", "{v}");
        assert_eq!(s["timestamp"], true, "{v}");
        assert_eq!(s["timestamp_ok"], true, "{v}");
    }
}

#[test]
fn a_second_signer_keeps_the_first_valid() {
    let p = pki(false, T0);
    let q = pki(false, T0);
    let input = fixture::bid_pdf("投标文件", 2, false);
    let (once, _) = seal(&p, &input, placement(1), T0 + 60);
    let second = Placement {
        x: 100.0,
        ..placement(2)
    };
    let (twice, _) = seal(&p, &once, second, T0 + 120);
    let (thrice, _) = seal(&q, &twice, placement(2), T0 + 180);
    let r = report(&p, &thrice, &[]);
    assert_eq!(r.signatures.len(), 3);
    for s in &r.signatures[..2] {
        assert!(s.intact && !s.covers_whole_file, "{s:?}");
        assert_eq!(s.later_changes, LaterChanges::SignaturesOnly, "{s:?}");
        assert!(s.is_valid(), "{s:?}");
    }
    let last = &r.signatures[2];
    assert!(last.intact && last.covers_whole_file);
    // The third signer is of another PKI: intact, but not chained to this root.
    assert!(matches!(
        last.signer.as_ref().expect("signer").chain,
        Check::Invalid(_)
    ));

    let dir = tempfile::tempdir().expect("tmp");
    let path = write(dir.path(), "twice.pdf", &twice);
    qpdf_check(&path);
    if have("pdfsig") {
        let text = pdfsig(&path);
        assert!(text.contains("Signature #2"), "{text}");
        assert_eq!(text.matches("Signature is Valid").count(), 2, "{text}");
    }
    if let Some(v) = pyhanko(dir.path(), &p, &path) {
        let sigs = v.as_array().expect("array");
        assert_eq!(sigs.len(), 2, "{v}");
        for s in sigs {
            assert_eq!(s["intact"], true, "{v}");
            assert_eq!(s["valid"], true, "{v}");
            assert_eq!(s["docmdp_ok"], true, "{v}");
        }
        assert_eq!(sigs[1]["coverage"], "ENTIRE_FILE", "{v}");
        assert_eq!(sigs[0]["coverage"], "ENTIRE_REVISION", "{v}");
        assert_eq!(sigs[0]["modification_level"], "FORM_FILLING", "{v}");
    }
}

#[test]
fn a_changed_byte_inside_or_outside_the_byte_range_is_caught() {
    let p = pki(false, T0);
    let input = fixture::bid_pdf("投标文件", 1, false);
    let (sealed, prepared) = seal(&p, &input, placement(1), T0 + 60);

    // Inside the signed range: one byte of the original document.
    let mut inside = sealed.clone();
    let pos = inside
        .windows(6)
        .position(|w| w == b"/Count")
        .expect("page tree");
    inside[pos + 7] = b'9';
    let r = report(&p, &inside, &[]);
    assert!(!r.signatures[0].intact, "{:?}", r.signatures[0]);
    assert!(
        r.signatures[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("messageDigest"),
        "{:?}",
        r.signatures[0]
    );

    // Outside: a hex digit of the CMS in /Contents (the gap the ByteRange leaves out).
    let mut outside = sealed.clone();
    let at = prepared.contents_offset as usize + 200;
    outside[at] = if outside[at] == b'0' { b'1' } else { b'0' };
    let r = report(&p, &outside, &[]);
    assert!(!r.signatures[0].intact, "{:?}", r.signatures[0]);

    // A ByteRange that leaves out more than /Contents is refused.
    let mut widened = sealed.clone();
    let br = format!(
        "[0 {} {} {}]",
        prepared.byte_range[1], prepared.byte_range[2], prepared.byte_range[3]
    );
    let pos = widened
        .windows(br.len())
        .position(|w| w == br.as_bytes())
        .expect("byte range");
    let lie = format!(
        "[0 {} {} {}]",
        prepared.byte_range[1] - 10,
        prepared.byte_range[2],
        prepared.byte_range[3]
    );
    widened[pos..pos + lie.len()].copy_from_slice(lie.as_bytes());
    let r = report(&p, &widened, &[]);
    assert!(!r.signatures[0].intact);

    // Bytes appended after the signed revision that are no revision at all.
    let mut appended = sealed.clone();
    appended.extend_from_slice(b"% trailing garbage\n");
    let r = report(&p, &appended, &[]);
    let s = &r.signatures[0];
    assert!(s.intact && !s.covers_whole_file);
    assert_eq!(s.later_changes, LaterChanges::Unknown);
    assert!(!s.is_valid());
}

/// An incremental update that replaces page 1's content stream.
fn change_page_content(pdf_bytes: &[u8]) -> Vec<u8> {
    let mut f = pdf::file::PdfFile::open(Cursor::new(pdf_bytes)).expect("open");
    let page_ref = f.pages().expect("pages")[0];
    let mut page = f
        .dict(&pdf::object::Object::Ref(page_ref), None)
        .expect("page");
    let size = f.trailer().int(b"Size").expect("size") as u32;
    let root = f.trailer().get(b"Root").cloned().expect("root");
    let prev = f.startxref;
    let mut out = pdf_bytes.to_vec();
    let content = b"BT /F2 40 Tf 72 400 Td (CHANGED) Tj ET\n";
    let c_off = out.len();
    out.extend_from_slice(
        format!("{size} 0 obj\n<</Length {}>>\nstream\n", content.len()).as_bytes(),
    );
    out.extend_from_slice(content);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    page.set(
        b"Contents",
        pdf::object::Object::Ref(pdf::object::ObjRef {
            num: size,
            generation: 0,
        }),
    );
    let p_off = out.len();
    out.extend_from_slice(format!("{} 0 obj\n", page_ref.num).as_bytes());
    pdf::object::write(&pdf::object::Object::Dict(page), &mut out);
    out.extend_from_slice(b"\nendobj\n");
    let x = out.len();
    let mut root_txt = Vec::new();
    pdf::object::write(&root, &mut root_txt);
    out.extend_from_slice(
        format!(
            "xref\n{} 1\n{p_off:010} 00000 n\r\n{size} 1\n{c_off:010} 00000 n\r\n\
             trailer\n<</Size {} /Root {} /Prev {prev}>>\nstartxref\n{x}\n%%EOF\n",
            page_ref.num,
            size + 1,
            String::from_utf8_lossy(&root_txt)
        )
        .as_bytes(),
    );
    out
}

#[test]
fn a_pdf_changed_after_signing_is_reported() {
    let p = pki(false, T0);
    let input = fixture::bid_pdf("投标文件", 2, false);
    let (sealed, _) = seal(&p, &input, placement(1), T0 + 60);
    let changed = change_page_content(&sealed);
    let r = report(&p, &changed, &[]);
    let s = &r.signatures[0];
    assert!(s.intact, "the signed bytes are untouched");
    assert_eq!(s.later_changes, LaterChanges::Modified, "{s:?}");
    assert!(
        s.later_change_details.iter().any(|d| d.contains("Page")),
        "{s:?}"
    );
    assert!(!s.is_valid() && !r.all_valid());
    let dir = tempfile::tempdir().expect("tmp");
    let path = write(dir.path(), "changed.pdf", &changed);
    qpdf_check(&path);
    if let Some(v) = pyhanko(dir.path(), &p, &path) {
        // pyHanko agrees: intact, but the change is beyond form filling.
        let s = &v[0];
        assert_eq!(s["intact"], true, "{v}");
        assert_ne!(s["modification_level"], "FORM_FILLING", "{v}");
        assert_ne!(s["modification_level"], "NONE", "{v}");
    }
}

#[test]
fn revocation_is_judged_at_the_timestamped_time() {
    let p = pki(false, T0);
    let input = fixture::bid_pdf("投标文件", 1, false);
    let (sealed, _) = seal(&p, &input, placement(1), T0 + 60);
    let crl = |revoked_at: u64| {
        Crl::issue(
            &CrlTemplate {
                this_update: T0 + 7200,
                next_update: T0 + 7 * 86_400,
                crl_number: 1,
                revoked: vec![RevokedEntry {
                    serial: p.signer.serial_bytes().to_vec(),
                    revoked_at,
                    reason: Some(CrlReason::KeyCompromise),
                }],
            },
            &p.ca,
            p.ca_key.signer(),
        )
        .expect("crl")
    };
    let root_crl = Crl::issue(
        &CrlTemplate {
            this_update: T0 + 7200,
            next_update: T0 + 7 * 86_400,
            crl_number: 1,
            revoked: vec![],
        },
        &p.root,
        p.root_key.signer(),
    )
    .expect("root crl");
    // Revoked after the timestamp: the signature was made while the certificate was good.
    let r = report(&p, &sealed, &[crl(T0 + 3600), root_crl.clone()]);
    assert_eq!(
        r.signatures[0].signer.as_ref().expect("s").revocation,
        Check::Valid
    );
    assert!(r.all_valid());
    // Revoked before it.
    let r = report(&p, &sealed, &[crl(T0 + 30), root_crl]);
    assert!(matches!(
        r.signatures[0].signer.as_ref().expect("s").revocation,
        Check::Invalid(_)
    ));
    assert!(!r.all_valid());
}

#[test]
fn sm2_seals_verify_here_and_in_the_python_checker() {
    let p = pki(true, T0);
    let input = fixture::bid_pdf("投标文件 SM2", 2, false);
    let (sealed, prepared) = seal(&p, &input, placement(2), T0 + 60);
    assert_eq!(prepared.digest_algorithm, HashAlgorithm::Sm3);
    let r = report(&p, &sealed, &[]);
    let s = &r.signatures[0];
    assert!(s.is_valid(), "{s:?}");
    assert_eq!(s.signer.as_ref().expect("s").digest_algorithm, "Sm3");
    let dir = tempfile::tempdir().expect("tmp");
    let path = write(dir.path(), "sm2.pdf", &sealed);
    qpdf_check(&path);

    // The CMS from /Contents and the ByteRange bytes, for a checker with no Rust in it.
    let [_, a, b, c] = prepared.byte_range;
    let (a, b, c) = (a as usize, b as usize, c as usize);
    let hex = &sealed[a + 1..b - 1];
    let der_padded = hex::decode(hex).expect("hex");
    let total = 4 + u16::from_be_bytes([der_padded[2], der_padded[3]]) as usize;
    assert_eq!(der_padded[1], 0x82, "a CMS of 256..65535 bytes");
    let der = &der_padded[..total];
    let mut signed = sealed[..a].to_vec();
    signed.extend_from_slice(&sealed[b..b + c]);
    let cms = write(dir.path(), "sig.p7s", der);
    let content = write(dir.path(), "signed.bin", &signed);
    let reports = verify_cms(
        der,
        bidkey_crypto::cms::Content::Detached(&signed),
        &VerifyOptions {
            anchor: Some(&anchor(&p)),
            tsa_anchor: None,
            crls: &[],
            now: T0,
        },
    )
    .expect("verify-cms");
    assert_eq!(reports[0].chain, Check::Valid);
    if !have("python3") {
        return;
    }
    let probe = Command::new("python3")
        .args(["-c", "import asn1crypto, gmssl_fast"])
        .status()
        .expect("python3");
    if !probe.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "asn1crypto and gmssl-fast are required in CI"
        );
        eprintln!("\n!!!!! SKIPPED: asn1crypto/gmssl-fast missing; CI installs them !!!!!\n");
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crypto/tests/sm2_cms_check.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(&cms)
        .arg(&content)
        .output()
        .expect("checker");
    assert!(
        out.status.success(),
        "SM2 checker: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it says no to the bytes of another revision.
    let mut other = signed.clone();
    other[10] ^= 1;
    let content2 = write(dir.path(), "other.bin", &other);
    let out = Command::new("python3")
        .arg(script)
        .arg(&cms)
        .arg(&content2)
        .output()
        .expect("checker");
    assert!(!out.status.success());
}

#[test]
fn inputs_with_object_and_xref_streams_are_sealed() {
    let p = pki(false, T0);
    let input = fixture::bid_pdf("投标文件 PDF 1.5", 3, true);
    let pages = pdf::file::PdfFile::open(Cursor::new(&input))
        .expect("open")
        .pages()
        .expect("pages");
    assert_eq!(pages.len(), 3);
    let dir = tempfile::tempdir().expect("tmp");
    qpdf_check(&write(dir.path(), "compact.pdf", &input));
    let (sealed, _) = seal(&p, &input, placement(3), T0 + 60);
    let (twice, _) = seal(&p, &sealed, placement(1), T0 + 90);
    let r = report(&p, &twice, &[]);
    assert_eq!(r.signatures.len(), 2);
    assert!(r.all_valid(), "{r:?}");
    qpdf_check(&write(dir.path(), "compact-sealed.pdf", &twice));

    let hybrid = fixture::hybrid_pdf("投标文件 hybrid", 2);
    qpdf_check(&write(dir.path(), "hybrid.pdf", &hybrid));
    let (sealed, _) = seal(&p, &hybrid, placement(2), T0 + 60);
    assert!(report(&p, &sealed, &[]).all_valid());
    qpdf_check(&write(dir.path(), "hybrid-sealed.pdf", &sealed));
}

#[test]
fn sealing_streams_a_file_and_patches_contents_in_place() {
    let p = pki(false, T0);
    let dir = tempfile::tempdir().expect("tmp");
    let input_path = write(
        dir.path(),
        "in.pdf",
        &fixture::bid_pdf("投标文件", 4, false),
    );
    let out_path = dir.path().join("out.pdf");
    let png = fixture::seal_png(100);
    let req = SealRequest {
        placement: placement(4),
        seal_png: &png,
        digest: HashAlgorithm::Sha256,
        signing_time: T0,
        contents_capacity: 8192,
        field_name: Some("投标人签章".into()),
    };
    let input = std::fs::File::open(&input_path).expect("open");
    let mut output = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&out_path)
        .expect("create");
    let prepared = pdf::prepare(input, &mut output, &req).expect("prepare");
    // The digest can be signed anywhere; here by the local key.
    pdf::sign_prepared(
        &mut output,
        &prepared,
        p.signer_key.signer(),
        &p.signer,
        &p.chain(),
        ContentTypes::GbT35275,
        T0,
        None,
    )
    .expect("sign");
    drop(output);
    let file = std::fs::File::open(&out_path).expect("open");
    let a = anchor(&p);
    let r = pdf::verify(
        file,
        &VerifyOptions {
            anchor: Some(&a),
            tsa_anchor: None,
            crls: &[],
            now: T0 + 10,
        },
    )
    .expect("verify");
    let s = &r.signatures[0];
    assert_eq!(s.field, "投标人签章");
    assert!(s.is_valid(), "{s:?}");
    assert_eq!(s.signer.as_ref().expect("s").timestamp, None);
    assert_eq!(s.signer.as_ref().expect("s").checked_at, T0 + 10);
    // A CMS larger than the reservation is refused, and the file is left as it was.
    let mut f = std::fs::File::options()
        .write(true)
        .open(&out_path)
        .expect("open");
    let err = pdf::finish(&mut f, &prepared, &vec![0x30; 9000]).expect_err("too big");
    assert!(
        matches!(err, PlatformError::Pdf(PdfProblem::TooLarge(_))),
        "{err}"
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let good = fixture::bid_pdf("投标文件", 2, false);
    let open = |b: &[u8]| pdf::file::PdfFile::open(Cursor::new(b.to_vec())).map(|_| ());
    // Encrypted.
    let enc = replace(&good, b"/Size", b"/Encrypt 6 0 R /Size");
    assert!(matches!(open(&enc), Err(PdfProblem::Encrypted)));
    // Not a PDF, empty.
    assert!(matches!(open(b"hello"), Err(PdfProblem::NotPdf)));
    assert!(matches!(open(b""), Err(PdfProblem::NotPdf)));
    // Truncated: no startxref.
    assert!(matches!(
        open(&good[..good.len() / 2]),
        Err(PdfProblem::Truncated(_))
    ));
    // Broken xref: startxref points into the middle of an object.
    let pos = good
        .windows(10)
        .rposition(|w| w == b"startxref\n")
        .expect("startxref")
        + 10;
    let mut broken = good[..pos].to_vec();
    broken.extend_from_slice(b"20\n%%EOF\n");
    assert!(
        matches!(open(&broken), Err(PdfProblem::Syntax { .. })),
        "{:?}",
        open(&broken)
    );
    // A /Prev loop: the only section names itself.
    let start = String::from_utf8_lossy(&good[pos..])
        .lines()
        .next()
        .unwrap_or("0")
        .to_string();
    let looped = replace(&good, b"/Size", format!("/Prev {start} /Size").as_bytes());
    assert!(
        matches!(
            open(&looped),
            Err(PdfProblem::Syntax {
                what: "xref /Prev chain loops",
                ..
            })
        ),
        "{:?}",
        open(&looped)
    );
    // Sealing an encrypted file says so.
    let png = fixture::seal_png(50);
    let req = SealRequest {
        placement: placement(1),
        seal_png: &png,
        digest: HashAlgorithm::Sha256,
        signing_time: T0,
        contents_capacity: 4096,
        field_name: None,
    };
    let err = pdf::prepare(Cursor::new(enc), &mut Vec::new(), &req).expect_err("encrypted");
    assert!(err.to_string().contains("encrypted"), "{err}");
    // A page beyond the document, a placement without area, a non-PNG seal.
    let mut bad = req.clone();
    bad.placement.page = 3;
    assert!(pdf::prepare(Cursor::new(&good), &mut Vec::new(), &bad).is_err());
    bad.placement = Placement {
        width: 0.0,
        ..placement(1)
    };
    assert!(pdf::prepare(Cursor::new(&good), &mut Vec::new(), &bad).is_err());
    let bad = SealRequest {
        seal_png: b"GIF89a",
        ..req.clone()
    };
    assert!(pdf::prepare(Cursor::new(&good), &mut Vec::new(), &bad).is_err());
}

/// `hay` with the first `from` replaced by `to` (bytes: the PDF is binary).
fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let pos = hay
        .windows(from.len())
        .position(|w| w == from)
        .expect("needle");
    let mut out = hay[..pos].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&hay[pos + from.len()..]);
    out
}

/// A PDF whose AcroForm has `n` signature fields, each with a value.
fn many_signatures(n: usize, contents_len: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offs = Vec::new();
    let fields: Vec<String> = (0..n).map(|i| format!("{} 0 R", 5 + i)).collect();
    let objs: Vec<String> = [
        "<</Type /Catalog /Pages 2 0 R /AcroForm 4 0 R>>".to_string(),
        "<</Type /Pages /Kids [3 0 R] /Count 1>>".to_string(),
        "<</Type /Page /Parent 2 0 R /MediaBox [0 0 100 100]>>".to_string(),
        format!("<</Fields [{}] /SigFlags 3>>", fields.join(" ")),
    ]
    .into_iter()
    .chain((0..n).map(|_| {
        format!(
            "<</FT /Sig /T (s) /V <</Type /Sig /ByteRange [0 1 2 3] /Contents <{}>>>>>",
            "0".repeat(contents_len * 2)
        )
    }))
    .collect();
    for (i, o) in objs.iter().enumerate() {
        offs.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let x = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f\r\n", offs.len() + 1).as_bytes());
    for o in offs.iter() {
        out.extend_from_slice(format!("{o:010} 00000 n\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<</Size {} /Root 1 0 R>>\nstartxref\n{x}\n%%EOF\n",
            offs.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[test]
fn ten_thousand_signatures_and_a_huge_contents_are_refused_not_crashed() {
    let many = many_signatures(10_000, 1);
    let err = pdf::verify(Cursor::new(many), &VerifyOptions::default()).expect_err("too many");
    assert!(
        matches!(err, PlatformError::Pdf(PdfProblem::TooMany(_))),
        "{err}"
    );
    // 17 MB of /Contents (34 MB of hex): beyond the object size read into memory.
    let huge = many_signatures(1, 17 << 20);
    let err = pdf::verify(Cursor::new(huge), &VerifyOptions::default()).expect_err("too large");
    assert!(
        matches!(err, PlatformError::Pdf(PdfProblem::TooLarge(_))),
        "{err}"
    );
    // A smaller but malformed signature: a clear per-signature error.
    let small = many_signatures(3, 10);
    let r = pdf::verify(Cursor::new(small), &VerifyOptions::default()).expect("report");
    assert_eq!(r.signatures.len(), 3);
    assert!(r.signatures.iter().all(|s| !s.intact && s.error.is_some()));
    assert!(!r.all_valid());
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

#[test]
fn the_cli_verifies_pdfs_and_cms() {
    let p = pki(false, T0);
    let input = fixture::bid_pdf("投标文件", 2, false);
    let (sealed, prepared) = seal(&p, &input, placement(1), T0 + 60);
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let sealed_path = write(d, "sealed.pdf", &sealed);
    let changed_path = write(d, "changed.pdf", &change_page_content(&sealed));
    write(d, "root.pem", p.root.to_pem().expect("pem").as_bytes());
    write(d, "ca.der", p.ca.to_der());
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_bidkey-platform"))
            .current_dir(d)
            .args(args)
            .output()
            .expect("binary runs")
    };
    let trust = ["--root", "root.pem", "--ca", "ca.der", "--at", "1767229200"];
    let mut args: Vec<&std::ffi::OsStr> =
        vec![os("verify-pdf"), sealed_path.as_os_str(), os("--json")];
    args.extend(trust.iter().map(|a| os(a)));
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = &v["signatures"][0];
    assert_eq!(s["intact"], true);
    assert_eq!(s["signer"]["uscc"], USCC);
    assert_eq!(s["signer"]["timestamp"], T0 + 60);
    assert_eq!(s["signer"]["chain"]["status"], "valid");
    // Plain text, and a changed document refused.
    args[1] = changed_path.as_os_str();
    args.remove(2);
    let out = run(&args);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("NOT VALID") && text.contains("Modified"),
        "{text}"
    );
    // Without a root nothing is called valid.
    let out = run(&[os("verify-pdf"), sealed_path.as_os_str()]);
    assert!(!out.status.success());
    // verify-cms over the CMS from /Contents and the ByteRange bytes.
    let [_, a, b, c] = prepared.byte_range.map(|x| x as usize);
    let der_padded = hex::decode(&sealed[a + 1..b - 1]).expect("hex");
    let total = 4 + u16::from_be_bytes([der_padded[2], der_padded[3]]) as usize;
    write(d, "sig.p7s", &der_padded[..total]);
    let mut signed = sealed[..a].to_vec();
    signed.extend_from_slice(&sealed[b..b + c]);
    write(d, "signed.bin", &signed);
    let mut args: Vec<&std::ffi::OsStr> = vec![
        os("verify-cms"),
        os("sig.p7s"),
        os("--content"),
        os("signed.bin"),
    ];
    args.extend(trust.iter().map(|a| os(a)));
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("chain: valid"));
    write(d, "signed.bin", &signed[1..]);
    let out = run(&args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("messageDigest"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// pyHanko signs (its own key, made by `openssl`), Bidkey verifies; then Bidkey seals after
/// it and both signatures stand, in Bidkey's eyes and in pyHanko's.
#[test]
fn a_pdf_signed_by_pyhanko_is_verified_and_stays_valid_under_a_bidkey_seal() {
    if !have("python3") || !have("openssl") {
        return;
    }
    let probe = Command::new("python3")
        .args(["-c", "import pyhanko"])
        .status()
        .expect("python3");
    if !probe.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "pyHanko is required in CI"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let sh = |args: &[&str]| {
        let out = Command::new(args[0])
            .args(&args[1..])
            .current_dir(d)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(&[
        "openssl",
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "key.pem",
    ]);
    sh(&[
        "openssl",
        "req",
        "-new",
        "-x509",
        "-key",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "30",
        "-subj",
        "/CN=pyHanko Test Signer/O=Other Vendor",
    ]);
    write(d, "in.pdf", &fixture::bid_pdf("投标文件", 2, false));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pdf_pyhanko_sign.py");
    sh(&[
        "python3",
        script,
        "in.pdf",
        "signed.pdf",
        "key.pem",
        "cert.pem",
        "Vendor",
    ]);
    let signed = std::fs::read(d.join("signed.pdf")).expect("read");
    let r = pdf::verify(Cursor::new(&signed), &VerifyOptions::default()).expect("verify");
    let [s] = &r.signatures[..] else {
        panic!("one signature: {r:?}")
    };
    assert!(s.intact && s.covers_whole_file, "{s:?}");
    assert_eq!(s.field, "Vendor");
    let signer = s.signer.as_ref().expect("signer");
    assert_eq!(signer.signer.as_deref(), Some("pyHanko Test Signer"));
    assert_eq!(signer.enterprise.as_deref(), Some("Other Vendor"));

    let p = pki(false, T0);
    let (sealed, _) = seal(&p, &signed, placement(1), T0 + 60);
    let r = report(&p, &sealed, &[]);
    assert_eq!(r.signatures.len(), 2);
    assert!(r.signatures[0].intact, "{:?}", r.signatures[0]);
    assert_eq!(r.signatures[0].later_changes, LaterChanges::SignaturesOnly);
    assert!(r.signatures[1].is_valid(), "{:?}", r.signatures[1]);
    let path = write(d, "sealed.pdf", &sealed);
    qpdf_check(&path);
    if let Some(v) = pyhanko(d, &p, &path) {
        assert_eq!(v[0]["intact"], true, "{v}");
        assert_eq!(v[0]["docmdp_ok"], true, "{v}");
        assert_eq!(v[1]["valid"], true, "{v}");
        assert_eq!(v[1]["coverage"], "ENTIRE_FILE", "{v}");
    }
}

/// The GB/T 38540 seal signature inside the PDF's CMS (ADR 0021): reported by the verifier;
/// one by a signer the seal does not list makes the signature invalid.
#[test]
fn an_embedded_seal_signature_is_reported_and_an_unlisted_signer_is_refused() {
    use bidkey_crypto::ses::{self, SealContent, SealPicture, SesSigner};
    use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, ca_subject};
    let p = pki(true, T0);
    let maker_key = bidkey_testkit::pki::new_key(true);
    let maker = Cert::issue(
        &CertTemplate {
            profile: CertProfile::Signing,
            subject: ca_subject("Bidkey Seal Maker", "Bidkey").expect("name"),
            public_key_spki: maker_key.signer().public_key_spki().expect("spki"),
            not_before: T0 - 86_400,
            not_after: T0 + 365 * 86_400,
        },
        &p.ca,
        p.ca_key.signer(),
    )
    .expect("maker");
    let input = fixture::bid_pdf("投标文件", 2, false);
    for listed in [true, false] {
        let png = fixture::seal_png(64);
        let mut out = Cursor::new(Vec::new());
        let prepared = pdf::prepare(
            Cursor::new(&input),
            &mut out,
            &SealRequest {
                placement: placement(1),
                seal_png: &png,
                digest: HashAlgorithm::Sm3,
                signing_time: T0 + 60,
                contents_capacity: pdf::seal::DEFAULT_CONTENTS_CAPACITY,
                field_name: None,
            },
        )
        .expect("prepare");
        let chain = p.chain();
        let tsa = TsaSigner {
            key: p.tsa_key.signer(),
            cert: &p.tsa,
            chain: &chain,
            policy: oids::DEFAULT_TSA_POLICY,
        };
        let cms = pdf::sign_prepared(
            &mut out,
            &prepared,
            p.signer_key.signer(),
            &p.signer,
            &chain,
            ContentTypes::Pkcs7,
            T0 + 60,
            Some((&tsa, T0 + 60)),
        )
        .expect("sign");
        let holder = if listed {
            p.signer.clone()
        } else {
            p.tsa.clone()
        };
        let eseal = ses::make_seal(
            &SealContent {
                es_id: "BKPDFTEST".into(),
                vid: "Bidkey".into(),
                seal_type: 3,
                name: "投标专用章".into(),
                signer_certs: vec![holder],
                create_date: T0,
                valid_start: T0,
                valid_end: T0 + 30 * 86_400,
                picture: SealPicture {
                    kind: "PNG".into(),
                    data: png.clone(),
                    width_mm: 42,
                    height_mm: 42,
                },
            },
            &maker,
            maker_key.signer(),
        )
        .expect("seal");
        let signature = ses::sign(
            &eseal,
            T0 + 60,
            &prepared.digest,
            "bidkey-pdf;name=x.pdf;pages=2;page=1;x_mm=1;y_mm=1;w_mm=42;h_mm=42",
            SesSigner {
                cert: &p.signer,
                key: p.signer_key.signer(),
            },
        )
        .expect("seal signature");
        let with = bidkey_crypto::cms::add_ses_signature_to_signed_data(
            &cms,
            &signature,
            bidkey_crypto::cms::Content::DetachedDigest {
                algorithm: HashAlgorithm::Sm3,
                digest: &prepared.digest,
            },
        )
        .expect("embedded");
        pdf::finish(&mut out, &prepared, &with).expect("finish");
        let r = report(&p, out.get_ref(), &[]);
        let sig = &r.signatures[0];
        let e = sig
            .signer
            .as_ref()
            .and_then(|s| s.electronic_seal.clone())
            .expect("the seal signature is found");
        let seal = e.seal.as_ref().expect("seal report");
        assert_eq!(seal.name, "投标专用章");
        assert_eq!(seal.signer_listed, listed);
        if listed {
            assert!(e.check.is_valid(), "{e:?}");
            assert!(r.all_valid(), "{r:?}");
        } else {
            assert!(matches!(e.check, Check::Invalid(_)), "{e:?}");
            assert!(sig.intact, "the CMS itself is fine");
            assert!(!r.all_valid(), "an unlisted signer's seal is not valid");
        }
    }
}
