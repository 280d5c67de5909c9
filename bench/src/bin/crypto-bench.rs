//! `crypto-bench`: operations per second of Bidkey's cryptography next to OpenSSL 3, in one
//! run on this machine, with the ratio ours/OpenSSL.
//!
//! OpenSSL is measured by `openssl speed` where it has the operation (SM2 and P-256
//! sign/verify, AES-256-GCM, SM4-CTR/CBC/ECB) and in-process through the `openssl` crate
//! where it has not (SM2 decryption). Two-party SM2 has no OpenSSL counterpart. The
//! `target` column is issue 19's goal for the row, marked met or SHORT.
//!
//! Usage: `cargo run --release -p bidkey-bench --bin crypto-bench [-- --quick | --seconds N]`

use bidkey_bench::{
    Budget, Clock, Timing, measure, openssl_speed, openssl_version, parse_cipher, parse_sign_verify,
};
use bidkey_crypto::aead::{self, AeadAlgorithm};
use bidkey_crypto::hazmat::{
    self, DecryptRequest, DecryptResponse, DeviceKeygenMsg, DeviceShare, ServerKeygenMsg,
    ServerShare, SignRequest, SignResponse,
};
use bidkey_crypto::p256::P256PrivateKey;
use bidkey_crypto::sm2::{self, DEFAULT_ID, Sm2Ciphertext, Sm2PrivateKey, Sm2PublicKey};
use bidkey_crypto::sm4;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Bulk-cipher buffer: 1 MiB, as `openssl speed -bytes 1048576`.
const BUF: usize = 1 << 20;
/// `openssl speed sm2` / `ecdsap256` sign 20 bytes; so do we.
const MSG: &[u8] = b"bidkey bench 20bytes";
/// A typical SM2-encrypted payload: a 32-byte envelope key.
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
/// A session id for the two-party steps (a real server draws a fresh one per run).
const SID: &[u8] = b"bench-session-0123456789";

struct Options {
    /// Seconds per operation, ours and OpenSSL's (`openssl speed` rounds up to whole seconds).
    seconds: f64,
    clock: Clock,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        seconds: 2.0,
        clock: Clock::best_available(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => opts.seconds = 0.3,
            "--wall" => opts.clock = Clock::Wall,
            "--seconds" => {
                let v = args.next().ok_or("--seconds needs a value")?;
                opts.seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && *s <= 60.0)
                    .ok_or(format!("bad --seconds {v}"))?;
            }
            "-h" | "--help" => {
                println!(
                    "crypto-bench [--quick | --seconds N] [--wall]\n\
                     Times Bidkey's crypto and OpenSSL 3 on the same operations, per \
                     CPU-second of the measuring thread (--wall: per wall-clock second).\n\
                     Default 2 s per operation (about 55 s on an idle machine), \
                     --quick 0.3 s (OpenSSL 1 s)."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(opts)
}

/// One row of the table.
struct Row {
    name: &'static str,
    unit: &'static str,
    ours: f64,
    /// OpenSSL's rate, or why there is none.
    openssl: Result<f64, String>,
    /// What OpenSSL ran, when it is not the same operation.
    note: &'static str,
    /// Issue 19's target for the row: a minimum ratio to OpenSSL or a minimum rate.
    target: Target,
}

/// What a row has to reach.
#[derive(Clone, Copy)]
enum Target {
    /// Ours / OpenSSL of this row at least this.
    Ratio(f64),
    /// Ours at least this many units per second.
    Rate(f64),
    /// Ours at least this multiple of another row's OpenSSL figure (SM4-GCM vs SM4-CBC).
    RatioOfSm4Cbc(f64),
    None,
}

/// Times our operations and adds up how much of the wall-clock time they got a CPU.
struct Bench {
    budget: Budget,
    clock: Clock,
    measured: Duration,
    wall: Duration,
}

impl Bench {
    fn time<T>(&mut self, op: impl FnMut() -> T) -> Timing {
        let t = measure(self.budget, self.clock, op);
        self.measured += t.elapsed;
        self.wall += t.wall;
        t
    }
}

fn per_sec(t: Timing) -> f64 {
    t.per_sec()
}

fn mb_per_sec(t: Timing) -> f64 {
    t.per_sec() * BUF as f64 / 1e6
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("crypto-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crypto-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Options) -> Result<(), String> {
    let started = Instant::now();
    let clock = opts.clock;
    let mut bench = Bench {
        budget: Budget {
            warmup: Duration::from_secs_f64((opts.seconds / 6.0).min(0.5)),
            measure: Duration::from_secs_f64(opts.seconds),
        },
        clock,
        measured: Duration::ZERO,
        wall: Duration::ZERO,
    };
    let ossl_secs = opts.seconds.ceil() as u32;
    let e = |err: bidkey_crypto::Error| err.to_string();

    eprintln!(
        "crypto-bench: {} s per operation ({:?} clock); {}",
        opts.seconds,
        clock,
        openssl_version()
    );
    let mut rows = Vec::new();

    // SM2 sign / verify (with Z and SM3 over a 20-byte message, as `openssl speed sm2`).
    let key = Sm2PrivateKey::make_random().map_err(e)?;
    let public = *key.public_key();
    let sig = key.sign(DEFAULT_ID, MSG).map_err(e)?;
    sm2::verify(&public, DEFAULT_ID, MSG, &sig).map_err(e)?;
    progress("SM2 sign / verify");
    let sign = bench.time(|| key.sign(DEFAULT_ID, MSG));
    let verify = bench.time(|| sm2::verify(&public, DEFAULT_ID, MSG, &sig));
    let ossl = openssl_speed(clock, ossl_secs, &["sm2"])
        .and_then(|out| parse_sign_verify(&out, "CurveSM2").ok_or(unparsed("sm2", &out)));
    rows.push(Row {
        name: "SM2 sign (Z+SM3, 20 B msg)",
        unit: "ops/s",
        ours: per_sec(sign),
        openssl: ossl.clone().map(|(s, _)| s),
        note: "openssl speed sm2",
        target: Target::Ratio(10.0),
    });
    rows.push(Row {
        name: "SM2 verify (Z+SM3, 20 B msg)",
        unit: "ops/s",
        ours: per_sec(verify),
        openssl: ossl.map(|(_, v)| v),
        note: "openssl speed sm2",
        target: Target::Ratio(3.0),
    });

    // Two-party co-sign: every step through the wire encodings, incl. server_check_final.
    let (device, server, joint) = two_party_keygen().map_err(e)?;
    co_sign(&device, &server, &joint).map_err(e)?;
    progress("two-party co-sign");
    let cosign = bench.time(|| co_sign(&device, &server, &joint));
    rows.push(Row {
        name: "SM2 two-party co-sign (all steps)",
        unit: "ops/s",
        ours: per_sec(cosign),
        openssl: Err("n/a: no two-party SM2; incl. proofs, server check, device verify".into()),
        note: "",
        target: Target::Rate(3000.0),
    });

    // SM2 decrypt of a 32-byte secret: plain, two-party, and OpenSSL in-process.
    let ct = sm2::encrypt(&public, SECRET).map_err(e)?;
    let ct_der = ct.to_der().map_err(e)?;
    if sm2::decrypt(&key, &ct).map_err(e)?.as_slice() != SECRET {
        return Err("SM2 decrypt self-check failed".into());
    }
    progress("SM2 decrypt");
    let dec = bench.time(|| sm2::decrypt(&key, &ct));
    let ossl_dec = openssl_sm2_decrypt(&key, &ct_der, &mut bench);
    rows.push(Row {
        name: "SM2 decrypt (32 B, C1C3C2)",
        unit: "ops/s",
        ours: per_sec(dec),
        openssl: ossl_dec.map(per_sec),
        note: "in-process EVP_PKEY_decrypt",
        target: Target::None,
    });
    let joint_ct = sm2::encrypt(&joint, SECRET).map_err(e)?;
    if co_decrypt(&device, &server, &joint_ct).map_err(e)? != SECRET {
        return Err("two-party decrypt self-check failed".into());
    }
    progress("two-party co-decrypt");
    let codec = bench.time(|| co_decrypt(&device, &server, &joint_ct));
    rows.push(Row {
        name: "SM2 two-party co-decrypt",
        unit: "ops/s",
        ours: per_sec(codec),
        openssl: Err("n/a: no two-party SM2; all steps incl. the proof".into()),
        note: "",
        target: Target::Rate(2000.0),
    });

    // P-256 ECDSA.
    let pkey = P256PrivateKey::make_random().map_err(e)?;
    let ppub = pkey.public_key();
    let psig = pkey.sign_der(MSG);
    ppub.verify_der(MSG, &psig).map_err(e)?;
    progress("P-256 ECDSA");
    let psign = bench.time(|| pkey.sign_der(MSG));
    let pverify = bench.time(|| ppub.verify_der(MSG, &psig));
    let ossl = openssl_speed(clock, ossl_secs, &["ecdsap256"])
        .and_then(|out| parse_sign_verify(&out, "256").ok_or(unparsed("ecdsap256", &out)));
    rows.push(Row {
        name: "P-256 ECDSA sign",
        unit: "ops/s",
        ours: per_sec(psign),
        openssl: ossl.clone().map(|(s, _)| s),
        note: "openssl speed ecdsap256",
        target: Target::Ratio(0.9),
    });
    rows.push(Row {
        name: "P-256 ECDSA verify",
        unit: "ops/s",
        ours: per_sec(pverify),
        openssl: ossl.map(|(_, v)| v),
        note: "openssl speed ecdsap256",
        target: Target::Ratio(0.9),
    });

    // Bulk ciphers on 1 MiB buffers.
    let buf = vec![0x5au8; BUF];
    let nonce = [7u8; aead::NONCE_LEN];
    let key16 = [1u8; 16];
    let key32 = [2u8; 32];
    progress("SM4-GCM / AES-256-GCM / SM4-CBC");
    let sm4gcm =
        bench.time(|| aead::seal_with_nonce(AeadAlgorithm::Sm4Gcm, &key16, &nonce, b"", &buf));
    let sm4ctr = openssl_cipher(clock, ossl_secs, "sm4-ctr");
    rows.push(Row {
        name: "SM4-GCM seal, 1 MiB",
        unit: "MB/s",
        ours: mb_per_sec(sm4gcm),
        openssl: sm4ctr,
        note: "SM4-CTR: OpenSSL 3.0 has no SM4-GCM",
        target: Target::RatioOfSm4Cbc(2.0),
    });
    let aesgcm =
        bench.time(|| aead::seal_with_nonce(AeadAlgorithm::Aes256Gcm, &key32, &nonce, b"", &buf));
    rows.push(Row {
        name: "AES-256-GCM seal, 1 MiB",
        unit: "MB/s",
        ours: mb_per_sec(aesgcm),
        openssl: openssl_cipher(clock, ossl_secs, "aes-256-gcm"),
        note: "openssl speed -evp aes-256-gcm",
        target: Target::None,
    });
    let sm4cbc = bench.time(|| sm4::cbc_encrypt(&key16, &key16, &buf));
    let ossl_cbc = openssl_cipher(clock, ossl_secs, "sm4-cbc");
    let ossl_sm4_cbc = ossl_cbc.clone().ok();
    rows.push(Row {
        name: "SM4-CBC encrypt, 1 MiB",
        unit: "MB/s",
        ours: mb_per_sec(sm4cbc),
        openssl: ossl_cbc,
        note: "openssl speed -evp sm4-cbc",
        target: Target::Ratio(2.0),
    });
    let cbc_ct = sm4::cbc_encrypt(&key16, &key16, &buf).map_err(e)?;
    let sm4cbc_dec = bench.time(|| sm4::cbc_decrypt(&key16, &key16, &cbc_ct));
    rows.push(Row {
        name: "SM4-CBC decrypt, 1 MiB",
        unit: "MB/s",
        ours: mb_per_sec(sm4cbc_dec),
        openssl: openssl_cipher_decrypt(clock, ossl_secs, "sm4-cbc"),
        note: "openssl speed -decrypt -evp sm4-cbc",
        target: Target::None,
    });
    // Every SM4 back end this CPU runs, on its own: the parallel (ECB) path that CTR/GCM
    // and CBC decryption use, and the serial CBC-encryption path. The portable one is what
    // CPUs without the x86 instructions (ARM phones today) run.
    progress("SM4 back ends");
    let ossl_ecb = openssl_cipher(clock, ossl_secs, "sm4-ecb");
    let iv16 = [3u8; 16];
    for backend in sm4::testing::backends() {
        use sm4::testing::Backend;
        let (ecb_name, cbc_name) = match backend {
            Backend::Gfni => (
                "SM4 blocks, GFNI+AVX-512 (32/pass), 1 MiB",
                "SM4-CBC encrypt, GFNI (chained), 1 MiB",
            ),
            Backend::GfniAvx2 => (
                "SM4 blocks, GFNI+AVX2 (16/pass), 1 MiB",
                "SM4-CBC encrypt, GFNI+AVX2 (chained), 1 MiB",
            ),
            Backend::AesNi => (
                "SM4 blocks, AES-NI (8/pass), 1 MiB",
                "SM4-CBC encrypt, AES-NI, 1 MiB",
            ),
            Backend::Soft => (
                "SM4 blocks, portable bitsliced (64/pass), 1 MiB",
                "SM4-CBC encrypt, portable (serial), 1 MiB",
            ),
        };
        let mut data = buf.clone();
        let ecb = bench.time(|| sm4::testing::encrypt_blocks(backend, &key16, &mut data));
        rows.push(Row {
            name: ecb_name,
            unit: "MB/s",
            ours: mb_per_sec(ecb),
            openssl: ossl_ecb.clone(),
            note: "openssl speed -evp sm4-ecb (table S-box)",
            target: Target::None,
        });
        let cbc = bench.time(|| {
            sm4::testing::cbc_encrypt_blocks(backend, &key16, &iv16, &mut data);
        });
        rows.push(Row {
            name: cbc_name,
            unit: "MB/s",
            ours: mb_per_sec(cbc),
            openssl: ossl_sm4_cbc.ok_or_else(|| "see SM4-CBC row".to_string()),
            note: "openssl speed -evp sm4-cbc",
            target: Target::None,
        });
    }

    print_table(&rows, ossl_sm4_cbc);
    let (per, flag) = match clock {
        Clock::Cpu => ("CPU-second of the measuring thread", ""),
        Clock::Wall => ("wall-clock second", " -elapsed"),
    };
    println!(
        "\nOne thread; rates per {per}. OpenSSL via `openssl speed -mr{flag} -seconds {ossl_secs}` \
         unless noted. MB = 10^6 bytes."
    );
    if clock == Clock::Cpu {
        println!(
            "Our loops were on a CPU {:.0}% of their wall-clock time (below 100%: the machine was busy).",
            100.0 * bench.measured.as_secs_f64() / bench.wall.as_secs_f64().max(1e-9)
        );
    }
    println!("Run took {:.0} s.", started.elapsed().as_secs_f64());
    Ok(())
}

fn progress(what: &str) {
    eprintln!("  timing {what} ...");
}

fn unparsed(what: &str, out: &str) -> String {
    format!(
        "unparsed `openssl speed {what}` output: {:?}",
        out.lines().last()
    )
}

fn openssl_cipher_decrypt(clock: Clock, seconds: u32, cipher: &str) -> Result<f64, String> {
    let out = openssl_speed(
        clock,
        seconds,
        &["-decrypt", "-evp", cipher, "-bytes", &BUF.to_string()],
    )?;
    parse_cipher(&out, cipher, BUF)
        .map(|bps| bps / 1e6)
        .ok_or_else(|| unparsed(cipher, &out))
}

fn openssl_cipher(clock: Clock, seconds: u32, cipher: &str) -> Result<f64, String> {
    let out = openssl_speed(
        clock,
        seconds,
        &["-evp", cipher, "-bytes", &BUF.to_string()],
    )?;
    parse_cipher(&out, cipher, BUF)
        .map(|bps| bps / 1e6)
        .ok_or_else(|| unparsed(cipher, &out))
}

/// OpenSSL's SM2 decryption of the same GM/T 0009 DER ciphertext, in-process (`openssl
/// speed` has no SM2 decryption, and `openssl pkeyutl` per call would time process start).
fn openssl_sm2_decrypt(
    key: &Sm2PrivateKey,
    ct_der: &[u8],
    bench: &mut Bench,
) -> Result<Timing, String> {
    use openssl::pkey::PKey;
    use openssl::pkey_ctx::PkeyCtx;
    let err = |e: openssl::error::ErrorStack| format!("OpenSSL: {e}");
    let pem = key.to_pkcs8_pem().map_err(|e| e.to_string())?;
    let pkey = PKey::private_key_from_pem(pem.as_bytes()).map_err(err)?;
    // OpenSSL 3 decodes a key on the SM2 curve as an SM2 provider key (its legacy id
    // reads -1); the self-check below shows the decryption is SM2's.
    let mut ctx = PkeyCtx::new(&pkey).map_err(err)?;
    ctx.decrypt_init().map_err(err)?;
    let mut out = Vec::with_capacity(SECRET.len() + 64);
    ctx.decrypt_to_vec(ct_der, &mut out).map_err(err)?;
    if out != SECRET {
        return Err("OpenSSL SM2 decrypt gave a different plaintext".into());
    }
    let mut failed = false;
    let t = bench.time(|| {
        out.clear();
        failed |= ctx.decrypt_to_vec(ct_der, &mut out).is_err();
    });
    if failed {
        return Err("OpenSSL SM2 decrypt failed while timing".into());
    }
    Ok(t)
}

fn two_party_keygen() -> bidkey_crypto::Result<(DeviceShare, ServerShare, Sm2PublicKey)> {
    let (state, m1) = hazmat::make_device_keygen(SID)?;
    let m1 = DeviceKeygenMsg::from_bytes(&m1.to_bytes())?;
    let (server, m2) = hazmat::make_server_keygen(&m1, SID)?;
    let m2 = ServerKeygenMsg::from_bytes(&m2.to_bytes())?;
    let (device, public) = hazmat::device_keygen_finish(state, &m2, SID)?;
    Ok((device, server, public))
}

/// The whole co-signing flow through the byte encodings, as the apps run it.
fn co_sign(
    device: &DeviceShare,
    server: &ServerShare,
    public: &Sm2PublicKey,
) -> bidkey_crypto::Result<()> {
    let (state, req) = hazmat::device_sign_start(device, public, DEFAULT_ID, MSG, SID)?;
    let req = SignRequest::from_bytes(&req.to_bytes())?;
    let resp = hazmat::server_sign(server, &req, SID)?;
    let resp = SignResponse::from_bytes(&resp.to_bytes())?;
    // `device_sign_finish` verifies the co-signature for the device's own digest before
    // returning it (issue 13 §1); the server checks it again.
    let sig = hazmat::device_sign_finish(state, device, &resp)?;
    hazmat::server_check_final(public, req.digest(), &sig)
}

fn co_decrypt(
    device: &DeviceShare,
    server: &ServerShare,
    ct: &Sm2Ciphertext,
) -> bidkey_crypto::Result<Vec<u8>> {
    let (state, req) = hazmat::device_decrypt_start(device, ct, SID)?;
    let req = DecryptRequest::from_bytes(&req.to_bytes())?;
    let resp = hazmat::server_decrypt(server, &req, SID)?;
    let resp = DecryptResponse::from_bytes(&resp.to_bytes())?;
    Ok(hazmat::device_decrypt_finish(state, ct, &resp)?.to_vec())
}

fn print_table(rows: &[Row], ossl_sm4_cbc: Option<f64>) {
    println!(
        "\n| {:<36} | {:>5} | {:>10} | {:>10} | {:>14} | {:>16} | OpenSSL measured as |",
        "operation", "unit", "Bidkey", "OpenSSL", "Bidkey/OpenSSL", "target"
    );
    println!(
        "|{:-<38}|{:->7}|{:->12}|{:->12}|{:->16}|{:->18}|{:-<22}|",
        "", ":", ":", ":", ":", ":", ""
    );
    for r in rows {
        let (ossl, ratio, note) = match &r.openssl {
            Ok(v) => (
                fmt_rate(*v),
                format!("{:.2}x", r.ours / v),
                r.note.to_owned(),
            ),
            Err(why) => ("n/a".to_owned(), "n/a".to_owned(), why.clone()),
        };
        let target = match (r.target, &r.openssl) {
            (Target::Ratio(t), Ok(v)) => verdict(format!(">= {t}x"), r.ours / v >= t),
            (Target::Rate(t), _) => verdict(format!(">= {}/s", fmt_rate(t)), r.ours >= t),
            (Target::RatioOfSm4Cbc(t), _) => match ossl_sm4_cbc {
                Some(cbc) => verdict(format!(">= {t}x SM4-CBC"), r.ours / cbc >= t),
                None => "n/a".to_owned(),
            },
            (Target::Ratio(_), Err(_)) => "n/a".to_owned(),
            (Target::None, _) => String::new(),
        };
        println!(
            "| {:<36} | {:>5} | {:>10} | {:>10} | {:>14} | {:>16} | {} |",
            r.name,
            r.unit,
            fmt_rate(r.ours),
            ossl,
            ratio,
            target,
            note
        );
    }
}

fn verdict(target: String, met: bool) -> String {
    format!("{target} {}", if met { "met" } else { "SHORT" })
}

fn fmt_rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
