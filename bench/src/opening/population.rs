//! The people at the opening: each bidder is an enterprise claimed by its admin through the
//! real flows (sign-up by SMS, real-name, claim with the business licence, CA review,
//! payment, two-party enrolment under the PIN), and a sealed bid the platform keeps,
//! encrypted to that enterprise's encryption certificate. Before the opening each bidder
//! also pre-authorises the opening of its bid (ADR 0027: the phone co-decrypts the key with
//! the PIN, splits it and deposits the halves), so one population serves the online, the
//! pre-authorised and the mixed opening. Made once per store, before any measurement.

use super::BenchError;
use bidkey_crypto::sm3::sm3;
use bidkey_crypto::x509::Cert;
use bidkey_platform::bidfile::{self, EncryptOptions};
use bidkey_protocol::scan::WrappedFileKey;
use bidkey_testkit::TestServer;
use bidkey_testkit::phones::{
    PIN, approve_and_pay, id_number, identity, phone_at, png, registered, uscc,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The tender every bid is for.
pub const TENDER_ID: &str = "CQ-2026-GC-0417";
pub const TENDER_NAME: &str = "渝北区道路改造工程施工";
/// Size of each sealed bid (the opening decrypts the key and then the file).
const BID_BYTES: usize = 16 * 1024;

/// One bidder: the wallet directory of its phone and what the platform holds of its bid.
#[derive(Debug, Clone)]
pub struct Bidder {
    pub wallet: PathBuf,
    pub file: WrappedFileKey,
    /// The bid as the platform stores it: sealed to the bidder's encryption certificate.
    pub sealed_bid: Arc<Vec<u8>>,
    /// SM3 of the plaintext, to check the opened bid against.
    pub bid_digest: [u8; 32],
    /// The opening time named in the bidder's pre-authorisation (server's clock).
    pub preauth_opening_at: i64,
}

/// A bidder as the bench's two processes pass it (the sealed bid stays in its file).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BidderEntry {
    pub wallet: PathBuf,
    pub sealed_path: PathBuf,
    pub file: WrappedFileKey,
    pub bid_digest: String,
    pub preauth_opening_at: i64,
}

impl Bidder {
    pub fn entry(&self) -> BidderEntry {
        BidderEntry {
            wallet: self.wallet.clone(),
            sealed_path: sealed_path(&self.wallet),
            file: self.file.clone(),
            bid_digest: hex::encode(self.bid_digest),
            preauth_opening_at: self.preauth_opening_at,
        }
    }

    pub fn from_entry(e: &BidderEntry) -> Result<Bidder, BenchError> {
        let sealed = std::fs::read(&e.sealed_path)
            .map_err(|err| BenchError::Setup(format!("{}: {err}", e.sealed_path.display())))?;
        let digest: [u8; 32] = hex::decode(&e.bid_digest)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| BenchError::Setup("bad bid digest".into()))?;
        Ok(Bidder {
            wallet: e.wallet.clone(),
            file: e.file.clone(),
            sealed_bid: Arc::new(sealed),
            bid_digest: digest,
            preauth_opening_at: e.preauth_opening_at,
        })
    }
}

/// Where the bidder's phone keeps its copy of the sealed bid (pre-authorisation reads it).
fn sealed_path(wallet: &Path) -> PathBuf {
    wallet.join("bid.sealed")
}

/// Enroll `n` bidders, `parallel` at a time, wallets under `root`; reports progress.
pub async fn enroll(
    server: &Arc<TestServer>,
    root: &Path,
    n: usize,
    parallel: usize,
    platform_id: &str,
) -> Result<Vec<Bidder>, BenchError> {
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..parallel.clamp(1, n.max(1)) {
        let (server, root, done, next, platform_id) = (
            server.clone(),
            root.to_path_buf(),
            done.clone(),
            next.clone(),
            platform_id.to_owned(),
        );
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, BenchError>(mine);
                }
                match one_bidder(&server, &root, i, &platform_id).await {
                    Ok(b) => mine.push((i, b)),
                    Err(e) => {
                        // The others stop after their current bidder.
                        next.store(n, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d % (n / 20).max(1) == 0 || d == n {
                    eprintln!(
                        "  enrolled {d}/{n} bidders ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    // Every worker is waited for, even after one failed: their wallets live under `root`.
    let mut all = Vec::with_capacity(n);
    let mut first_error = None;
    for w in workers {
        match w.await {
            Ok(Ok(mine)) => all.extend(mine),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                next.store(n, Ordering::Relaxed);
                first_error.get_or_insert(BenchError::Setup(format!("enrolment task: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, b)| b).collect())
}

/// Bidder `i`: phone 139xxxxxxxx, enterprise with USCC number `i`.
async fn one_bidder(
    server: &TestServer,
    root: &Path,
    i: usize,
    platform_id: &str,
) -> Result<Bidder, BenchError> {
    let seq = u32::try_from(i).map_err(|_| BenchError::Setup("too many bidders".into()))?;
    let wallet = root.join(format!("bidder-{i:05}"));
    let phone = phone_at(server, &wallet);
    let number = format!("139{:08}", 10_000_000 + seq);
    registered(
        server,
        &phone,
        &number,
        &identity(&format!("投标人{i:05}"), &id_number(seq)),
    )
    .await;
    let claim = phone
        .claim_enterprise(
            &uscc(100_000 + seq),
            &format!("重庆第{i:05}建设工程有限公司"),
            None,
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await
        .map_err(|e| BenchError::Setup(format!("claim {i}: {e}")))?;
    let paid = approve_and_pay(server, &phone, &claim).await;
    let pair = phone
        .enroll(&paid.id, PIN)
        .await
        .map_err(|e| BenchError::Setup(format!("enrol {i}: {e}")))?;
    let enc = phone
        .local_certificates()
        .map_err(|e| BenchError::Setup(format!("wallet {i}: {e}")))?
        .into_iter()
        .find(|c| c.serial == pair.encryption_serial)
        .ok_or_else(|| BenchError::Setup(format!("bidder {i} has no encryption certificate")))?;
    let cert = Cert::from_der(&enc.der).map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut bidder = seal_bid(&cert, i, wallet, platform_id)?;
    // 预授权开标: deposited now, for an opening time two seconds ahead by the server's clock
    // (the opening the bench measures starts after every bidder's has passed).
    let path = sealed_path(&bidder.wallet);
    std::fs::write(&path, bidder.sealed_bid.as_slice())
        .map_err(|e| BenchError::Setup(format!("bid file {i}: {e}")))?;
    let opening_at = server.running.state.clock.now() + 2;
    let deposit = phone
        .preauthorize_opening(&path, PIN, opening_at)
        .await
        .map_err(|e| BenchError::Setup(format!("pre-authorisation {i}: {e}")))?;
    bidder.preauth_opening_at = deposit.opening_at;
    Ok(bidder)
}

/// The platform receives the bid and keeps it only encrypted (as at upload).
fn seal_bid(
    cert: &Cert,
    i: usize,
    wallet: PathBuf,
    platform_id: &str,
) -> Result<Bidder, BenchError> {
    let plain: Vec<u8> = format!("投标文件 {i}: 报价、工期、质量承诺……")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(BID_BYTES)
        .collect();
    let file_name = format!("投标文件-{i:05}.zip");
    let mut sealed = Vec::new();
    let out = bidfile::encrypt(
        cert,
        &mut plain.as_slice(),
        &mut sealed,
        &EncryptOptions {
            tender_id: TENDER_ID.into(),
            platform_id: platform_id.into(),
            file_name: file_name.clone(),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .map_err(|e| BenchError::Setup(format!("seal bid {i}: {e}")))?;
    Ok(Bidder {
        wallet,
        file: out
            .header
            .wrapped_file_key(&file_name)
            .map_err(|e| BenchError::Setup(format!("bid {i}'s header: {e}")))?,
        sealed_bid: Arc::new(sealed),
        bid_digest: sm3(&plain),
        preauth_opening_at: 0,
    })
}
