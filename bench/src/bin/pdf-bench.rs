//! `pdf-bench`: sealed-PDF verification next to `openssl cms -verify`, and streaming a
//! 100 MB PDF.
//!
//! - Verifications per second of a sealed PDF (5 pages, one seal): SM2 with the chain to a
//!   pinned root and an SM2 timestamp; the same for P-256; and `openssl cms -verify` on the
//!   P-256 file's CMS and ByteRange content (a process per verification, as a relying party
//!   scripting OpenSSL runs it, so its rate includes process start; the `openssl` row with
//!   `-noverify`... is not given: both sides check the chain).
//! - A 100 MB PDF (the bid plus a 100 MB stream in an incremental update): MB/s of
//!   `pdf::prepare` (copy + SM3 of the ByteRange) and of `pdf::verify` of the sealed file, and
//!   the peak resident memory of a child process doing only that (`VmHWM`), next to
//!   `openssl cms -verify` on the same P-256 file's 100 MB content.
//!
//! Usage: `cargo run --release -p bidkey-bench --bin pdf-bench [-- --seconds N]`

use bidkey_bench::{Budget, Clock, measure, openssl_version};
use bidkey_crypto::cms::oids::DEFAULT_TSA_POLICY;
use bidkey_crypto::cms::tsp::TsaSigner;
use bidkey_crypto::cms::{ContentTypes, HashAlgorithm};
use bidkey_platform::pdf::fixture::{bid_pdf, seal_png};
use bidkey_platform::pdf::seal::{Placement, SealRequest, prepare, sign_prepared};
use bidkey_platform::pdf::verify::{VerifyOptions, verify};
use bidkey_platform::verify::TrustAnchor;
use bidkey_testkit::pki::{Pki, pki};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIG: u64 = 100 * 1024 * 1024;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn request(sm2: bool) -> SealRequest<'static> {
    SealRequest {
        placement: Placement {
            page: 1,
            x: 380.0,
            y: 120.0,
            width: 120.0,
            height: 120.0,
        },
        seal_png: Box::leak(seal_png(128).into_boxed_slice()),
        digest: if sm2 {
            HashAlgorithm::Sm3
        } else {
            HashAlgorithm::Sha256
        },
        signing_time: now(),
        contents_capacity: 16 * 1024,
        field_name: None,
    }
}

/// Seal `input` (a file) into `output` with `p`'s signer and TSA.
fn seal_file(p: &Pki, sm2: bool, input: &Path, output: &Path) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(output)
        .map_err(|x| e(&x))?;
    let prepared = {
        let mut w = BufWriter::new(&mut out);
        let prepared = prepare(
            BufReader::new(std::fs::File::open(input).map_err(|x| e(&x))?),
            &mut w,
            &request(sm2),
        )
        .map_err(|x| e(&x))?;
        w.flush().map_err(|x| e(&x))?;
        prepared
    };
    let chain = p.chain();
    let tsa = TsaSigner {
        key: p.tsa_key.signer(),
        cert: &p.tsa,
        chain: &chain,
        policy: DEFAULT_TSA_POLICY,
    };
    sign_prepared(
        &mut out,
        &prepared,
        p.signer_key.signer(),
        &p.signer,
        std::slice::from_ref(&p.ca),
        ContentTypes::Pkcs7,
        now(),
        Some((&tsa, now())),
    )
    .map_err(|x| e(&x))?;
    Ok(())
}

fn anchor(p: &Pki) -> TrustAnchor {
    TrustAnchor::new(p.root.clone(), vec![p.ca.clone()]).expect("anchor")
}

fn verify_file(path: &Path, a: &TrustAnchor) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let r = verify(
        BufReader::with_capacity(1 << 16, f),
        &VerifyOptions {
            anchor: Some(a),
            tsa_anchor: None,
            crls: &[],
            now: now(),
        },
    )
    .map_err(|e| e.to_string())?;
    let ok = r.signatures.len() == 1
        && r.signatures[0].intact
        && r.signatures[0]
            .signer
            .as_ref()
            .is_some_and(|s| s.chain.is_valid() && s.timestamp.is_some());
    if ok {
        Ok(())
    } else {
        Err(format!("not valid: {r:?}"))
    }
}

/// The CMS and the ByteRange content of a sealed PDF's only signature, for OpenSSL.
fn extract_for_openssl(pdf: &Path, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let r = verify(
        BufReader::new(std::fs::File::open(pdf).map_err(|e| e.to_string())?),
        &VerifyOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let [a, b, c, d] = r.signatures[0].byte_range.ok_or("no ByteRange")?;
    let mut f = std::fs::File::open(pdf).map_err(|e| e.to_string())?;
    let content = dir.join("content.bin");
    let mut out = BufWriter::new(std::fs::File::create(&content).map_err(|e| e.to_string())?);
    for (start, len) in [(a, b), (c, d)] {
        f.seek(SeekFrom::Start(start)).map_err(|e| e.to_string())?;
        std::io::copy(&mut (&mut f).take(len), &mut out).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    // The hex between the ByteRange's two parts, without its angle brackets.
    f.seek(SeekFrom::Start(b + 1)).map_err(|e| e.to_string())?;
    let mut hex = vec![0u8; (c - b - 2) as usize];
    f.read_exact(&mut hex).map_err(|e| e.to_string())?;
    let mut der = hex::decode(&hex).map_err(|e| e.to_string())?;
    // Trim the zero padding: the DER's own length says where it ends.
    if der.len() > 4 && der[0] == 0x30 && der[1] == 0x82 {
        let n = usize::from(der[2]) << 8 | usize::from(der[3]);
        der.truncate(4 + n);
    } else if der.len() > 5 && der[0] == 0x30 && der[1] == 0x83 {
        let n = usize::from(der[2]) << 16 | usize::from(der[3]) << 8 | usize::from(der[4]);
        der.truncate(5 + n);
    }
    let p7 = dir.join("sig.p7s");
    std::fs::write(&p7, der).map_err(|e| e.to_string())?;
    Ok((p7, content))
}

fn openssl_verify(dir: &Path, p7: &Path, content: &Path) -> Result<Duration, String> {
    let t = Instant::now();
    let out = Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
        ])
        .arg(p7)
        .arg("-content")
        .arg(content)
        .args(["-CAfile", "root.pem", "-out", "/dev/null"])
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(t.elapsed())
}

/// A PDF of about 100 MB: the bid and an incremental update with one large stream.
fn big_pdf(path: &Path) -> Result<(), String> {
    let base = bid_pdf("投标文件（大）", 5, false);
    let tail = String::from_utf8_lossy(&base[base.len().saturating_sub(64)..]).into_owned();
    let prev: u64 = tail
        .split("startxref")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .ok_or("no startxref")?;
    let mut f = BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let e = |x: std::io::Error| x.to_string();
    f.write_all(&base).map_err(e)?;
    let obj_at = base.len() as u64 + 1;
    write!(f, "\n99 0 obj\n<</Length {BIG}>>\nstream\n").map_err(e)?;
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..(BIG >> 20) {
        f.write_all(&chunk).map_err(e)?;
    }
    f.write_all(b"\nendstream\nendobj\n").map_err(e)?;
    let header = format!("\n99 0 obj\n<</Length {BIG}>>\nstream\n").len() as u64;
    let xref_at = obj_at - 1 + header + BIG + b"\nendstream\nendobj\n".len() as u64;
    write!(
        f,
        "xref\n99 1\n{obj_at:010} 00000 n \ntrailer\n<</Size 100 /Root 1 0 R /Prev {prev}>>\nstartxref\n{xref_at}\n%%EOF\n"
    )
    .map_err(e)?;
    f.flush().map_err(e)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The child: prepare (copy + SM3) and verify one big file; prints MB/s and peak memory.
fn child(big: &Path, sealed: &Path, root: &Path, ca: &Path) -> Result<(), String> {
    let read = |p: &Path| {
        bidkey_crypto::x509::Cert::from_der(&std::fs::read(p).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    };
    let a = TrustAnchor::new(read(root)?, vec![read(ca)?]).map_err(|e| e.to_string())?;
    let mb = BIG as f64 / (1024.0 * 1024.0);
    let t = Instant::now();
    prepare(
        BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(big).map_err(|e| e.to_string())?,
        ),
        &mut std::io::sink(),
        &request(true),
    )
    .map_err(|e| e.to_string())?;
    let prep = t.elapsed().as_secs_f64();
    let t = Instant::now();
    verify_file(sealed, &a)?;
    let ver = t.elapsed().as_secs_f64();
    println!(
        "{:.0} {:.0} {}",
        mb / prep,
        mb / ver,
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 6 && args[1] == "--child" {
        return child(
            Path::new(&args[2]),
            Path::new(&args[3]),
            Path::new(&args[4]),
            Path::new(&args[5]),
        );
    }
    let mut seconds = 2.0;
    if args.len() == 3 && args[1] == "--seconds" {
        seconds = args[2].parse().map_err(|_| "bad --seconds")?;
    }
    let budget = Budget {
        warmup: Duration::from_secs_f64(seconds / 4.0),
        measure: Duration::from_secs_f64(seconds),
    };
    let clock = Clock::best_available();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    let small = d.join("bid.pdf");
    std::fs::write(&small, bid_pdf("渝北道路改造工程投标文件", 5, false))
        .map_err(|e| e.to_string())?;
    let (sm2, p256) = (pki(true, now()), pki(false, now()));
    let (sm2_pdf, p256_pdf) = (d.join("sm2.pdf"), d.join("p256.pdf"));
    seal_file(&sm2, true, &small, &sm2_pdf)?;
    seal_file(&p256, false, &small, &p256_pdf)?;
    let (a_sm2, a_p256) = (anchor(&sm2), anchor(&p256));
    verify_file(&sm2_pdf, &a_sm2)?;
    verify_file(&p256_pdf, &a_p256)?;
    std::fs::write(
        d.join("root.pem"),
        p256.root.to_pem().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;

    println!(
        "pdf-bench: {seconds} s per row ({clock:?} clock); {}",
        openssl_version()
    );
    println!("{:<58} {:>12}", "operation", "per second");
    let small_len = std::fs::metadata(&sm2_pdf)
        .map_err(|e| e.to_string())?
        .len();
    let t = measure(budget, clock, || verify_file(&sm2_pdf, &a_sm2));
    println!(
        "{:<58} {:>12.0}",
        format!(
            "Bidkey verify-pdf, SM2 + chain + SM2 timestamp ({} KiB)",
            small_len / 1024
        ),
        t.per_sec()
    );
    let t = measure(budget, clock, || verify_file(&p256_pdf, &a_p256));
    println!(
        "{:<58} {:>12.0}",
        "Bidkey verify-pdf, P-256 + chain + P-256 timestamp",
        t.per_sec()
    );
    let (p7, content) = extract_for_openssl(&p256_pdf, d)?;
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed().as_secs_f64() < seconds {
        openssl_verify(d, &p7, &content)?;
        n += 1;
    }
    println!(
        "{:<58} {:>12.0}",
        "openssl cms -verify, same P-256 file (process each, wall)",
        f64::from(n) / start.elapsed().as_secs_f64()
    );

    // 100 MB.
    let big = d.join("big.pdf");
    big_pdf(&big)?;
    let (big_sm2, big_p256) = (d.join("big-sm2.pdf"), d.join("big-p256.pdf"));
    seal_file(&sm2, true, &big, &big_sm2)?;
    seal_file(&p256, false, &big, &big_p256)?;
    let (root, ca) = (d.join("root.der"), d.join("ca.der"));
    std::fs::write(&root, sm2.root.to_der()).map_err(|e| e.to_string())?;
    std::fs::write(&ca, sm2.ca.to_der()).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--child")
        .args([&big, &big_sm2, &root, &ca])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = text.split_whitespace().collect();
    println!();
    println!("{:<58} {:>12}", "100 MB PDF", "MB/s (wall)");
    println!(
        "{:<58} {:>12}",
        "Bidkey prepare (copy + SM3 of the ByteRange)",
        v.first().unwrap_or(&"?")
    );
    println!(
        "{:<58} {:>12}",
        "Bidkey verify-pdf, SM2 + chain + timestamp",
        v.get(1).unwrap_or(&"?")
    );
    let (p7, content) = extract_for_openssl(&big_p256, d)?;
    let t = openssl_verify(d, &p7, &content)?;
    println!(
        "{:<58} {:>12.0}",
        "openssl cms -verify, same content, P-256 (SHA-256)",
        BIG as f64 / (1024.0 * 1024.0) / t.as_secs_f64()
    );
    println!(
        "peak resident memory of the process preparing and verifying the 100 MB PDF: {} MiB",
        v.get(2)
            .and_then(|k| k.parse::<u64>().ok())
            .map_or(0, |k| k / 1024)
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pdf-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
