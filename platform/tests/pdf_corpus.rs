//! The fuzz corpus (`platform/fuzz/corpus/verify_pdf/`) and deterministic mutations of it
//! (truncations, flipped and inserted bytes, changed digits) through every entry point of
//! the PDF reader: errors are fine, a panic fails the test. What cargo-fuzz does at length,
//! CI does here on every run.

use bidkey_platform::pdf::{self, fixture};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/verify_pdf");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .map(|e| {
            let p = e.expect("entry").path();
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    files.sort();
    files.push(("generated".into(), fixture::bid_pdf("投标", 2, false)));
    files.push((
        "generated-compact".into(),
        fixture::bid_pdf("投标", 2, true),
    ));
    files
}

/// xorshift64: deterministic, so a failure is reproducible by its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn the_corpus_and_its_mutations_never_panic() {
    // More rounds by hand: BIDKEY_PDF_MUTATIONS=20000.
    let rounds: usize = std::env::var("BIDKEY_PDF_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let files = corpus();
    assert!(files.len() >= 5, "corpus present");
    let mut runs = 0;
    for (name, data) in &files {
        pdf::fuzz_one(data);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ data.len() as u64);
        for i in 0..rounds {
            let mut m = data.clone();
            match i % 6 {
                0 => m.truncate(rng.below(m.len())),
                1 => {
                    for _ in 0..1 + rng.below(8) {
                        let at = rng.below(m.len());
                        m[at] ^= 1 << rng.below(8);
                    }
                }
                2 => {
                    let at = rng.below(m.len());
                    let junk: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                    m.splice(at..at, junk);
                }
                3 => {
                    // A digit somewhere (offsets, lengths, object numbers) changed.
                    let digits: Vec<usize> =
                        (0..m.len()).filter(|&k| m[k].is_ascii_digit()).collect();
                    if !digits.is_empty() {
                        let at = digits[rng.below(digits.len())];
                        m[at] = b'0' + rng.below(10) as u8;
                    }
                }
                4 => {
                    // Delimiters removed or doubled.
                    let at = rng.below(m.len());
                    let end = (at + rng.below(64)).min(m.len());
                    m.drain(at..end);
                }
                _ => {
                    let at = rng.below(m.len());
                    let chunk = m[at..(at + rng.below(200)).min(m.len())].to_vec();
                    let to = rng.below(m.len());
                    m.splice(to..to, chunk);
                }
            }
            pdf::fuzz_one(&m);
            runs += 1;
        }
        eprintln!("{name}: ok");
    }
    assert!(runs >= 5 * rounds);
}

/// Regenerate the committed corpus: `BIDKEY_WRITE_CORPUS=1 cargo test -p bidkey-platform
/// --test pdf_corpus write_corpus -- --ignored`.
#[test]
#[ignore = "writes files; run by hand to regenerate the corpus"]
fn write_corpus() {
    use bidkey_crypto::cms::{ContentTypes, HashAlgorithm, oids, tsp::TsaSigner};
    use std::io::Cursor;
    const T0: u64 = 1_767_225_600;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/verify_pdf");
    let w = |n: &str, b: &[u8]| std::fs::write(format!("{dir}/{n}"), b).expect("write");
    let plain = fixture::bid_pdf("投标文件", 1, false);
    let compact = fixture::bid_pdf("投标文件", 1, true);
    w("plain.pdf", &plain);
    w("compact.pdf", &compact);
    for (name, input, sm2) in [
        ("sealed-p256.pdf", &plain, false),
        ("sealed-sm2-compact.pdf", &compact, true),
    ] {
        let p = bidkey_testkit::pki::pki(sm2, T0);
        let png = fixture::seal_png(24);
        let req = pdf::SealRequest {
            placement: pdf::Placement {
                page: 1,
                x: 300.0,
                y: 100.0,
                width: 60.0,
                height: 60.0,
            },
            seal_png: &png,
            digest: if sm2 {
                HashAlgorithm::Sm3
            } else {
                HashAlgorithm::Sha256
            },
            signing_time: T0,
            contents_capacity: 6000,
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
            T0,
            Some((&tsa, T0)),
        )
        .expect("sign");
        w(name, &out.into_inner());
    }
    w("hybrid.pdf", &fixture::hybrid_pdf("投标文件", 1));
}
