//! A 200 MB PDF is sealed and verified in constant memory: the input is copied and hashed
//! in 64 KiB pieces and only the objects the update rewrites are read. Alone in its own test
//! binary so the process's peak resident size (VmHWM) is this test's.

use bidkey_crypto::cms::tsp::TsaSigner;
use bidkey_crypto::cms::{ContentTypes, HashAlgorithm, oids};
use bidkey_platform::pdf::verify::VerifyOptions;
use bidkey_platform::pdf::{self, Placement, SealRequest, fixture};
use bidkey_platform::verify::TrustAnchor;
use bidkey_testkit::pki::pki;
use std::io::{BufWriter, Write};

const T0: u64 = 1_767_225_600;
const BIG: usize = 200 << 20;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_200_mb_pdf_is_sealed_and_verified_in_constant_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let input_path = dir.path().join("big.pdf");
    // The fixture, then an update adding a 200 MB stream (pseudo-random bytes).
    let base = fixture::bid_pdf("大文件 投标文件", 2, false);
    let text = String::from_utf8_lossy(&base).into_owned();
    let prev: u64 = text
        .rsplit("startxref\n")
        .next()
        .and_then(|t| t.lines().next())
        .and_then(|n| n.parse().ok())
        .expect("startxref");
    {
        let mut w = BufWriter::new(std::fs::File::create(&input_path).expect("create"));
        w.write_all(&base).expect("write");
        let obj_at = base.len();
        let num = 11; // the fixture's /Size for two pages
        w.write_all(format!("{num} 0 obj\n<</Length {BIG}>>\nstream\n").as_bytes())
            .expect("write");
        let mut chunk = vec![0u8; 1 << 20];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..BIG / chunk.len() {
            for b in chunk.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            w.write_all(&chunk).expect("write");
        }
        let header = format!("{num} 0 obj\n<</Length {BIG}>>\nstream\n").len();
        let xref_at = obj_at + header + BIG + "\nendstream\nendobj\n".len();
        w.write_all(b"\nendstream\nendobj\n").expect("write");
        w.write_all(
            format!(
                "xref\n{num} 1\n{obj_at:010} 00000 n\r\ntrailer\n<</Size {} /Root 1 0 R /Prev {prev}>>\nstartxref\n{xref_at}\n%%EOF\n",
                num + 1
            )
            .as_bytes(),
        )
        .expect("write");
    }
    let before = peak_rss_kib();
    let p = pki(false, T0);
    let png = fixture::seal_png(120);
    let req = SealRequest {
        placement: Placement {
            page: 2,
            x: 100.0,
            y: 100.0,
            width: 100.0,
            height: 100.0,
        },
        seal_png: &png,
        digest: HashAlgorithm::Sha256,
        signing_time: T0,
        contents_capacity: pdf::seal::DEFAULT_CONTENTS_CAPACITY,
        field_name: None,
    };
    let out_path = dir.path().join("sealed.pdf");
    let mut out = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&out_path)
        .expect("create");
    let input = std::fs::File::open(&input_path).expect("open");
    let prepared = pdf::prepare(input, &mut out, &req).expect("prepare");
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
        T0,
        Some((&tsa, T0)),
    )
    .expect("sign");
    drop(out);
    std::fs::remove_file(&input_path).expect("rm");
    assert!(prepared.len > BIG as u64);
    let anchor = TrustAnchor::new(p.root.clone(), vec![p.ca.clone()]).expect("anchor");
    let r = pdf::verify(
        std::fs::File::open(&out_path).expect("open"),
        &VerifyOptions {
            anchor: Some(&anchor),
            tsa_anchor: None,
            crls: &[],
            now: T0,
        },
    )
    .expect("verify");
    assert!(r.all_valid(), "{r:?}");
    assert!(r.signatures[0].covers_whole_file);
    let grew_mib = peak_rss_kib().saturating_sub(before) / 1024;
    assert!(
        grew_mib < 48,
        "sealing and verifying 200 MB raised the peak RSS by {grew_mib} MiB"
    );
}
