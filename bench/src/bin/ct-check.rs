//! `ct-check`: a dudect-style timing test of the code that handles secrets (Reparaz,
//! Balasch, Verbauwhede, "Dude, is my code constant time?", DATE 2017).
//!
//! For each target, two classes of secret input: class 0 one fixed, deliberately special
//! value (all-zero key or plaintext, the scalar 1), class 1 fresh random values. The
//! classes are interleaved in random order, each call timed on its own, and Welch's t-test
//! compares the two timing distributions, on all measurements and on those below several
//! percentiles (cropping cuts the long tail that interrupts and other processes add). As
//! in dudect, |t| > 4.5 is evidence of a timing difference; a smaller |t| means none was
//! found with this many measurements, which is evidence, not proof.
//!
//! Class 0 is all-zero data by default; `--fixed-random` makes it one fixed random value
//! instead (dudect allows either). A control row times `ring`'s AES-256-GCM the same way.
//!
//! Usage: `cargo run --release -p bidkey-bench --bin ct-check [-- --quick] [--fixed-random]`

use bidkey_crypto::aead::{AeadAlgorithm, seal_with_nonce};
use bidkey_crypto::sm2::testing as sm2t;
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2PrivateKey, Sm2PublicKey};
use bidkey_crypto::sm4::testing::{self as sm4t, Backend};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// dudect's threshold.
const THRESHOLD: f64 = 4.5;
/// Percentiles at which the measurements are also cropped.
const CROPS: [f64; 5] = [0.5, 0.75, 0.9, 0.95, 0.99];

struct Verdict {
    name: String,
    measurements: usize,
    max_t: f64,
    at: String,
}

/// A second copy of a private key for the measurement's input (keys are not `Clone`); made
/// while preparing a call, outside the timed part.
fn copy_key(key: &Sm2PrivateKey) -> Sm2PrivateKey {
    Sm2PrivateKey::from_bytes(key.to_bytes().as_slice()).unwrap_or_else(|e| panic!("key: {e}"))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    bidkey_crypto::rng::bytes::<N>().unwrap_or_else(|e| panic!("OS RNG: {e}"))
}

/// A random non-zero scalar below n (rejection sampling; n is just below 2²⁵⁶).
fn random_scalar() -> [u8; 32] {
    loop {
        let k = random_bytes::<32>();
        if k[0] < 0xff && k.iter().any(|&b| b != 0) {
            return k;
        }
    }
}

/// Time `op(slot)` for `n` calls with classes in random order. `prepare(class, i, slot)`
/// puts the input of call `i` into `slot` before the clock starts, so both classes read
/// their input from the same, freshly written memory and only `op` is timed.
fn run<T>(
    name: &str,
    n: usize,
    mut slot: T,
    mut prepare: impl FnMut(u8, usize, &mut T),
    mut op: impl FnMut(&mut T),
) -> Verdict {
    let mut classes = vec![0u8; n];
    bidkey_crypto::rng::fill(&mut classes).unwrap_or_else(|e| panic!("OS RNG: {e}"));
    for c in &mut classes {
        *c &= 1;
    }
    // Warm caches and branch predictors with both classes.
    for (i, &c) in classes.iter().enumerate().take(n / 4) {
        prepare(c, i, &mut slot);
        op(&mut slot);
    }
    let mut times = Vec::with_capacity(n);
    for (i, &c) in classes.iter().enumerate() {
        prepare(c, i, &mut slot);
        let start = Instant::now();
        op(black_box(&mut slot));
        times.push((c, start.elapsed().as_nanos() as f64));
    }
    let mut sorted: Vec<f64> = times.iter().map(|t| t.1).collect();
    sorted.sort_by(f64::total_cmp);
    let mut best = (welch_t(&times, f64::INFINITY), "all".to_owned());
    for p in CROPS {
        let cut = sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
        let t = welch_t(&times, cut);
        if t.abs() > best.0.abs() {
            best = (t, format!("below p{}", (p * 100.0) as u32));
        }
    }
    eprintln!("  {name}: max |t| = {:.2} ({})", best.0.abs(), best.1);
    Verdict {
        name: name.to_owned(),
        measurements: n,
        max_t: best.0.abs(),
        at: best.1,
    }
}

/// Welch's t statistic between the two classes, over measurements below `cut`.
fn welch_t(times: &[(u8, f64)], cut: f64) -> f64 {
    let mut n = [0f64; 2];
    let mut mean = [0f64; 2];
    let mut m2 = [0f64; 2];
    for &(c, t) in times.iter().filter(|t| t.1 <= cut) {
        let c = c as usize;
        n[c] += 1.0;
        let d = t - mean[c];
        mean[c] += d / n[c];
        m2[c] += d * (t - mean[c]);
    }
    if n[0] < 2.0 || n[1] < 2.0 {
        return 0.0;
    }
    let var = [m2[0] / (n[0] - 1.0), m2[1] / (n[1] - 1.0)];
    let se = (var[0] / n[0] + var[1] / n[1]).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (mean[0] - mean[1]) / se
    }
}

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    let fixed_random = std::env::args().any(|a| a == "--fixed-random");
    let scale = if quick { 1 } else { 5 };
    let started = Instant::now();
    let mut verdicts = Vec::new();

    // SM4: the plaintext and the key are the secrets.
    for backend in sm4t::backends() {
        let (n, blocks) = match backend {
            Backend::Soft => (20_000 * scale, 1),
            _ => (100_000 * scale, 4),
        };
        let key = random_bytes::<16>();
        let pts: Vec<[u8; 64]> = (0..256).map(|_| random_bytes::<64>()).collect();
        let keys: Vec<[u8; 16]> = (0..256).map(|_| random_bytes::<16>()).collect();
        // Class 0 is one fixed value: all zero (the most special), or with `--fixed-random`
        // a fixed random value (same Hamming weight statistics as class 1, which separates
        // data-value effects on the CPU's power and clock from the code's behaviour).
        let (fixed_pt, fixed_key) = if fixed_random {
            (random_bytes::<64>(), random_bytes::<16>())
        } else {
            ([0u8; 64], [0u8; 16])
        };
        let label = if fixed_random { "fixed" } else { "zero" };
        verdicts.push(run(
            &format!("SM4 {backend:?}: plaintext ({label} vs random), {blocks} block(s)"),
            n,
            [0u8; 64],
            |class, i, buf| *buf = if class == 0 { fixed_pt } else { pts[i % 256] },
            |buf| sm4t::encrypt_blocks(backend, &key, &mut buf[..16 * blocks]),
        ));
        verdicts.push(run(
            &format!("SM4 {backend:?}: key ({label} vs random), schedule + {blocks} block(s)"),
            n,
            ([0u8; 16], [0u8; 64]),
            |class, i, (k, buf)| {
                *k = if class == 0 { fixed_key } else { keys[i % 256] };
                *buf = [0x5a; 64];
            },
            |(k, buf)| sm4t::encrypt_blocks(backend, k, &mut buf[..16 * blocks]),
        ));
    }

    // The paths the loop above does not reach: the portable bitsliced batch (64 blocks,
    // what CTR/GCM and CBC decryption run without the x86 instructions) and GFNI's chained
    // CBC-encryption kernel.
    {
        let label = if fixed_random { "fixed" } else { "zero" };
        let key = random_bytes::<16>();
        let pts: Vec<[u8; 1024]> = (0..64).map(|_| random_bytes::<1024>()).collect();
        let keys: Vec<[u8; 16]> = (0..256).map(|_| random_bytes::<16>()).collect();
        let (fixed_pt, fixed_key) = if fixed_random {
            (random_bytes::<1024>(), random_bytes::<16>())
        } else {
            ([0u8; 1024], [0u8; 16])
        };
        let n = 10_000 * scale;
        verdicts.push(run(
            &format!("SM4 Soft bitsliced: plaintext ({label} vs random), 64 block(s)"),
            n,
            [0u8; 1024],
            |class, i, buf| *buf = if class == 0 { fixed_pt } else { pts[i % 64] },
            |buf| sm4t::encrypt_blocks(Backend::Soft, &key, buf),
        ));
        verdicts.push(run(
            &format!("SM4 Soft bitsliced: key ({label} vs random), schedule + 64 block(s)"),
            n,
            ([0u8; 16], [0u8; 1024]),
            |class, i, (k, buf)| {
                *k = if class == 0 { fixed_key } else { keys[i % 256] };
                *buf = [0x5a; 1024];
            },
            |(k, buf)| sm4t::encrypt_blocks(Backend::Soft, k, buf),
        ));
        if sm4t::backends().contains(&Backend::Gfni) {
            let iv = random_bytes::<16>();
            let n = 100_000 * scale;
            verdicts.push(run(
                &format!("SM4 Gfni CBC-encrypt chain: plaintext ({label} vs random), 4 block(s)"),
                n,
                [0u8; 64],
                |class, i, buf| {
                    buf.copy_from_slice(if class == 0 {
                        &fixed_pt[..64]
                    } else {
                        &pts[i % 64][..64]
                    })
                },
                |buf| sm4t::cbc_encrypt_blocks(Backend::Gfni, &key, &iv, buf),
            ));
            verdicts.push(run(
                &format!(
                    "SM4 Gfni CBC-encrypt chain: key ({label} vs random), schedule + 4 block(s)"
                ),
                n,
                ([0u8; 16], [0u8; 64]),
                |class, i, (k, buf)| {
                    *k = if class == 0 { fixed_key } else { keys[i % 256] };
                    *buf = [0x5a; 64];
                },
                |(k, buf)| sm4t::cbc_encrypt_blocks(Backend::Gfni, k, &iv, buf),
            ));
        }
    }

    // Control: AES-256-GCM in `ring` (AES-NI, constant time by design) on the same inputs.
    // A difference here too means the CPU itself times all-zero data differently (data-
    // dependent power and clock, store elimination), not that the code branches or looks up.
    {
        let key = random_bytes::<32>();
        let nonce = [0u8; 12];
        let pts: Vec<[u8; 64]> = (0..256).map(|_| random_bytes::<64>()).collect();
        let fixed_pt = if fixed_random {
            random_bytes::<64>()
        } else {
            [0u8; 64]
        };
        let label = if fixed_random { "fixed" } else { "zero" };
        verdicts.push(run(
            &format!("control: ring AES-256-GCM, plaintext ({label} vs random), 64 B"),
            100_000 * scale,
            [0u8; 64],
            |class, i, buf| *buf = if class == 0 { fixed_pt } else { pts[i % 256] },
            |buf| {
                black_box(seal_with_nonce(AeadAlgorithm::Aes256Gcm, &key, &nonce, b"", buf).ok());
            },
        ));
    }

    // SM2: scalar multiplications with a secret scalar, and signing with a secret key.
    let n = 10_000 * scale;
    let mut one = [0u8; 32];
    one[31] = 1;
    let scalars: Vec<[u8; 32]> = (0..256).map(|_| random_scalar()).collect();
    let pick = |class: u8, i: usize, k: &mut [u8; 32]| {
        *k = if class == 0 { one } else { scalars[i % 256] };
    };
    verdicts.push(run(
        "SM2 k·G, k secret (1 vs random)",
        n,
        [0u8; 32],
        pick,
        |k| {
            black_box(sm2t::mul_base(k).ok());
        },
    ));
    let point: Sm2PublicKey = *Sm2PrivateKey::make_random()
        .unwrap_or_else(|e| panic!("key: {e}"))
        .public_key();
    verdicts.push(run(
        "SM2 k·P, k secret (1 vs random)",
        n,
        [0u8; 32],
        pick,
        |k| {
            black_box(sm2t::mul_point(&point, k).ok());
        },
    ));
    let comb = sm2t::Comb::new(&point).unwrap_or_else(|| panic!("comb of a key"));
    verdicts.push(run(
        "SM2 comb k·P + batched affine, k secret (1 vs random)",
        n,
        [0u8; 32],
        pick,
        |k| {
            black_box(comb.mul(k).ok());
        },
    ));
    // Inversions (crypto-bigint's constant-time safegcd): every secret-dependent affine
    // conversion and the protocols' scalar inversions go through them.
    let n_inv = 50_000 * scale;
    for (label, fixed) in [("0", [0u8; 32]), ("1", one)] {
        verdicts.push(run(
            &format!("SM2 field inversion, value secret ({label} vs random)"),
            n_inv,
            [0u8; 32],
            |class, i, x| *x = if class == 0 { fixed } else { scalars[i % 256] },
            |x| {
                black_box(sm2t::invert_field(x));
            },
        ));
    }
    verdicts.push(run(
        "SM2 scalar inversion, value secret (1 vs random)",
        n_inv,
        [0u8; 32],
        pick,
        |k| {
            black_box(sm2t::invert_scalar(k).ok());
        },
    ));
    let mut small = [0u8; 32];
    small[31] = 2;
    let fixed = Sm2PrivateKey::from_bytes(&small).unwrap_or_else(|e| panic!("key: {e}"));
    let keys: Vec<Sm2PrivateKey> = (0..64)
        .map(|_| Sm2PrivateKey::make_random().unwrap_or_else(|e| panic!("key: {e}")))
        .collect();
    verdicts.push(run(
        "SM2 sign, private key secret (2 vs random)",
        n,
        copy_key(&fixed),
        |class, i, key| {
            *key = if class == 0 {
                copy_key(&fixed)
            } else {
                copy_key(&keys[i % 64])
            }
        },
        |key| {
            black_box(key.sign(DEFAULT_ID, b"bid").ok());
        },
    ));

    println!("\n| target | measurements | max \\|t\\| | where | verdict |");
    println!("| --- | --: | --: | --- | --- |");
    let mut leaks = 0;
    for v in &verdicts {
        let verdict = if v.max_t > THRESHOLD {
            leaks += 1;
            "timing difference"
        } else {
            "no difference found"
        };
        println!(
            "| {} | {} | {:.2} | {} | {} |",
            v.name, v.measurements, v.max_t, v.at, verdict
        );
    }
    println!(
        "\nWelch's t-test, classes interleaved at random; threshold |t| > {THRESHOLD}. Run took {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    if leaks > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
