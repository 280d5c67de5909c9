//! The bid-opening hall (开标大厅), run in the bench's clients process: every bidder
//! clicks 解密 on the platform's page, which makes a signed decrypt request and shows its QR
//! code; the bidder's phone scans it, confirms with the PIN (two-party co-decryption with
//! the co-signing service) and sends the file key sealed to the platform; the platform
//! verifies the reply and decrypts the bid, checking it against the digest taken at upload.
//! A pre-authorised bid (ADR 0027) is opened by the platform alone: it asks the server for
//! the released halves of the key, checks the key against the header and decrypts. All
//! through the real core, SDK and server over HTTP on loopback.

use super::BenchError;
use super::cpu::CpuSample;
use super::population::{Bidder, TENDER_ID, TENDER_NAME};
use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::sm3::sm3;
use bidkey_platform::bidfile::{self, BidFileHeader, FileKey};
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PendingScan, ScanClient, ScanResult};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::ScanAction;
use bidkey_testkit::phones::{PIN, phone_at_url};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// How long each decrypt request lives (the protocol's maximum is 600 s).
const REQUEST_TTL_SECS: i64 = 300;

/// The platform's side of the opening and where the phones run.
#[derive(Debug, Clone)]
pub struct Hall {
    pub url: String,
    pub client: Arc<ScanClient>,
    pub verifier: Arc<ReplyVerifier>,
    /// The platform's SDK client signed with its certificate's key (pre-authorised release).
    pub api: Arc<PlatformClient>,
    pub key: Arc<PlatformKey>,
    pub phones: Handle,
    /// Bidders mid-decrypt at one moment at most (file descriptors: each holds a wallet and
    /// two connections on each side).
    pub max_active: usize,
}

/// One opening asked of the clients process: the first `bidders` bidders, of whom
/// `preauth_pct` percent (spread evenly) are opened from their pre-authorisation and the
/// rest by scan.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Job {
    pub bidders: usize,
    pub preauth_pct: u32,
}

impl Job {
    /// Whether bidder `i` is opened from its pre-authorisation: the `preauth_pct` share,
    /// spread evenly over the bidders (a Bresenham step).
    pub fn is_preauth(&self, i: usize) -> bool {
        let pct = self.preauth_pct.min(100) as usize;
        (i + 1) * pct / 100 != i * pct / 100
    }
}

/// What one opening measured in the clients process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub bidders: usize,
    pub at_once: usize,
    /// From the first click to the last bid decrypted at the platform, µs.
    pub wall_us: u64,
    /// Per bid opened by scan, from the click to the decrypted bid, µs.
    pub online_us: Vec<u64>,
    /// Per pre-authorised bid, from the release request to the decrypted bid, µs.
    pub preauth_us: Vec<u64>,
    /// CPU of the clients process by role (`phones`, `platform`, `other`), µs.
    pub cpu_us: Vec<(String, u64)>,
    pub failures: Vec<String>,
}

impl Hall {
    /// Open the bids of `bidders[..job.bidders]`, all of them starting at once (at most
    /// `max_active` in flight).
    pub async fn open(&self, bidders: &[Bidder], job: Job) -> Outcome {
        let bidders = &bidders[..job.bidders.min(bidders.len())];
        let at_once = self.max_active.min(bidders.len());
        let slots = Arc::new(Semaphore::new(at_once));
        let cpu_before = CpuSample::now();
        // The opening has begun (the phone refuses a decryption before its time).
        let opening_at = unix_now() - 1;
        let start = Instant::now();
        let tasks: Vec<_> = bidders
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| {
                let (hall, slots) = (self.clone(), slots.clone());
                let preauth = job.is_preauth(i);
                tokio::spawn(async move {
                    let _slot = slots.acquire_owned().await.map_err(|e| e.to_string())?;
                    let t0 = Instant::now();
                    if preauth {
                        hall.release_one(&b).await
                    } else {
                        hall.decrypt_one(&b, opening_at).await
                    }
                    .map_err(|e| e.to_string())?;
                    Ok::<_, String>((preauth, t0.elapsed()))
                })
            })
            .collect();
        let mut out = Outcome {
            bidders: bidders.len(),
            at_once,
            ..Outcome::default()
        };
        for t in tasks {
            match t.await {
                Ok(Ok((true, d))) => out.preauth_us.push(micros(d)),
                Ok(Ok((false, d))) => out.online_us.push(micros(d)),
                Ok(Err(e)) => out.failures.push(e),
                Err(e) => out.failures.push(format!("task: {e}")),
            }
        }
        out.wall_us = micros(start.elapsed());
        out.cpu_us = CpuSample::now()
            .since(&cpu_before)
            .0
            .into_iter()
            .map(|(k, v)| (k.to_owned(), micros(v)))
            .collect();
        out
    }

    /// A pre-authorised bid: the platform alone, at the opening, by the server's release.
    async fn release_one(&self, b: &Bidder) -> Result<(), BenchError> {
        let header = BidFileHeader::read_from(&mut b.sealed_bid.as_slice())
            .map_err(|e| BenchError::Run(format!("header: {e}")))?;
        let key = bidkey_platform::preauth::released_key(
            &self.api,
            &self.key,
            self.client.platform_id(),
            &header,
        )
        .await
        .map_err(|e| BenchError::Run(format!("release: {e}")))?;
        open_bid(&key, b)
    }

    /// One bidder's decryption, the platform's part here and the phone's on its runtime.
    async fn decrypt_one(&self, b: &Bidder, opening_at: i64) -> Result<(), BenchError> {
        let pending = Arc::new(
            self.client
                .create(
                    ScanAction::Decrypt {
                        tender_id: TENDER_ID.into(),
                        tender_name: TENDER_NAME.into(),
                        opening_at,
                        files: vec![b.file.clone()],
                    },
                    REQUEST_TTL_SECS,
                )
                .await
                .map_err(|e| BenchError::Run(format!("platform request: {e}")))?,
        );
        let phone = self.phones.spawn(scan_and_confirm(
            self.url.clone(),
            b.clone(),
            pending.clone(),
        ));
        let reply = match self.client.wait(&pending).await {
            Ok(ScanResult::Approved(r)) => r,
            Ok(ScanResult::Rejected { reason }) => {
                return Err(BenchError::Run(format!("phone refused: {reason:?}")));
            }
            Err(e) => {
                // The phone's error says more than the platform's timeout.
                let phone_said = match phone.await {
                    Ok(Err(p)) => format!(" (phone: {p})"),
                    _ => String::new(),
                };
                return Err(BenchError::Run(format!("platform wait: {e}{phone_said}")));
            }
        };
        phone
            .await
            .map_err(|e| BenchError::Run(format!("phone task: {e}")))??;
        let verified = self
            .verifier
            .check_reply(&pending.body, &reply)
            .await
            .map_err(|e| BenchError::Run(format!("reply check: {e}")))?;
        let key = verified
            .file_keys
            .first()
            .ok_or_else(|| BenchError::Run("no file key in the reply".into()))
            .and_then(|k| {
                FileKey::from_bytes(&k.key).map_err(|e| BenchError::Run(e.to_string()))
            })?;
        open_bid(&key, b)
    }
}

/// The platform decrypts the bid and checks it against the digest taken at upload.
fn open_bid(key: &FileKey, b: &Bidder) -> Result<(), BenchError> {
    let mut opened = Vec::new();
    bidfile::decrypt(
        key,
        &mut b.sealed_bid.as_slice(),
        &mut opened,
        &mut |_, _| {},
    )
    .map_err(|e| BenchError::Run(format!("bid file: {e}")))?;
    if sm3(&opened) != b.bid_digest {
        return Err(BenchError::Run(
            "the opened bid differs from the upload".into(),
        ));
    }
    Ok(())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The bidder's phone: open the wallet, scan the QR code the page shows now, confirm.
async fn scan_and_confirm(
    url: String,
    b: Bidder,
    pending: Arc<PendingScan>,
) -> Result<(), BenchError> {
    let phone = phone_at_url(&url, &b.wallet);
    // The page's QR code changes every second and a frame is good for ten: a phone that
    // reached the server too late (a loaded machine queues thousands of bidders) reads the
    // code again, as a bidder would.
    let mut tries = 0;
    let view = loop {
        match phone.scan(&pending.current_qr_uri()).await {
            Ok(v) => break v,
            Err(e) if tries < 5 && e.code() == Some(ErrorCode::ScanCodeStale) => tries += 1,
            Err(e) => return Err(BenchError::Run(format!("scan: {e}"))),
        }
    };
    if view.decryptable_files != [b.file.file_name.clone()] {
        return Err(BenchError::Run(format!(
            "the phone can open {:?}",
            view.decryptable_files
        )));
    }
    phone
        .confirm_scan(&view.request_id, PIN)
        .await
        .map_err(|e| BenchError::Run(format!("confirm: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preauthorised_share_is_spread_evenly() {
        let job = |pct| Job {
            bidders: 10,
            preauth_pct: pct,
        };
        let count = |pct| (0..10).filter(|i| job(pct).is_preauth(*i)).count();
        assert_eq!(count(0), 0);
        assert_eq!(count(30), 3);
        assert_eq!(count(100), 10);
        let picked: Vec<usize> = (0..10).filter(|i| job(30).is_preauth(*i)).collect();
        assert_eq!(picked, vec![3, 6, 9]);
    }
}
