//! The GB/T 38540 parsers on a seal and a seal signature made here and deterministic
//! mutations of them (truncations, flipped and inserted bytes, moved chunks), as the
//! `verify_ses` fuzz target (`platform/fuzz`) does at length: errors are fine, a panic fails.

use bidkey_crypto::cms::HashAlgorithm;
use bidkey_crypto::ses::{self, SealContent, SealPicture, SesSigner};
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, ca_subject};
use bidkey_platform::eseal::fuzz_one;
use bidkey_testkit::pki::{DAY, new_key, pki};

const T0: u64 = 1_767_225_600;

fn inputs() -> Vec<Vec<u8>> {
    let p = pki(true, T0);
    let mk = new_key(true);
    let maker = Cert::issue(
        &CertTemplate {
            profile: CertProfile::Signing,
            subject: ca_subject("Bidkey Seal Maker", "Bidkey").expect("name"),
            public_key_spki: mk.signer().public_key_spki().expect("spki"),
            not_before: T0 - DAY,
            not_after: T0 + 365 * DAY,
        },
        &p.ca,
        p.ca_key.signer(),
    )
    .expect("maker");
    let seal = ses::make_seal(
        &SealContent {
            es_id: "BKCORPUS".into(),
            vid: "Bidkey".into(),
            seal_type: 3,
            name: "投标专用章".into(),
            signer_certs: vec![p.signer.clone()],
            create_date: T0,
            valid_start: T0,
            valid_end: T0 + 365 * DAY,
            picture: SealPicture {
                kind: "PNG".into(),
                data: bidkey_platform::pdf::fixture::seal_png(8),
                width_mm: 42,
                height_mm: 42,
            },
        },
        &maker,
        mk.signer(),
    )
    .expect("seal");
    let sig = ses::sign(
        &seal,
        T0 + 10,
        &HashAlgorithm::Sm3.digest(b"x"),
        "bidkey-pdf;name=x.pdf;pages=1;page=1;x_mm=1;y_mm=1;w_mm=40;h_mm=40",
        SesSigner {
            cert: &p.signer,
            key: p.signer_key.signer(),
        },
    )
    .expect("signature");
    vec![seal, sig]
}

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
fn seals_and_seal_signatures_and_their_mutations_never_panic() {
    let rounds: usize = std::env::var("BIDKEY_SES_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for data in inputs() {
        fuzz_one(&data);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ data.len() as u64);
        for i in 0..rounds {
            let mut m = data.clone();
            match i % 4 {
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
                _ => {
                    let at = rng.below(m.len());
                    let chunk = m[at..(at + rng.below(200)).min(m.len())].to_vec();
                    let to = rng.below(m.len());
                    m.splice(to..to, chunk);
                }
            }
            fuzz_one(&m);
        }
    }
}
