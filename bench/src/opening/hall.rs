//! The bid-opening hall (开标大厅): every bidder clicks 解密 on the platform's page, which
//! makes a signed decrypt request and shows its QR code; the bidder's phone scans it,
//! confirms with the PIN (two-party co-decryption with the co-signing service) and sends
//! the file key sealed to the platform; the platform verifies the reply and decrypts the
//! bid, checking it against the digest taken at upload. All through the real core, SDK and
//! server over HTTP on loopback.

use super::BenchError;
use super::cpu::CpuSample;
use super::population::{Bidder, TENDER_ID, TENDER_NAME};
use bidkey_crypto::sm3::sm3;
use bidkey_platform::bidfile::{self, FileKey};
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PendingScan, ScanClient, ScanResult};
use bidkey_protocol::scan::ScanAction;
use bidkey_server::metrics::Snapshot;
use bidkey_testkit::TestServer;
use bidkey_testkit::phones::{PIN, phone_at_url};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// How long each decrypt request lives (the protocol's maximum is 600 s).
const REQUEST_TTL_SECS: i64 = 300;

/// The platform's side of the opening and where the phones run.
#[derive(Debug, Clone)]
pub struct Hall {
    pub server: Arc<TestServer>,
    pub client: Arc<ScanClient>,
    pub verifier: Arc<ReplyVerifier>,
    pub phones: Handle,
    /// Bidders mid-decrypt at one moment at most (file descriptors: each holds a wallet and
    /// two connections on each side).
    pub max_active: usize,
}

/// What one opening measured.
#[derive(Debug, Clone)]
pub struct Opening {
    pub bidders: usize,
    pub at_once: usize,
    /// From the first click to the last bid decrypted at the platform.
    pub wall: Duration,
    /// Per bidder, from the click to the decrypted bid.
    pub end_to_end: Vec<Duration>,
    /// The server's latency histograms of this opening only.
    pub server: Snapshot,
    pub cpu: CpuSample,
    pub failures: Vec<String>,
}

impl Hall {
    /// Open the bids of `bidders`, all of them starting at once (at most `max_active` in
    /// flight).
    pub async fn open(&self, bidders: &[Bidder]) -> Opening {
        let at_once = self.max_active.min(bidders.len());
        let slots = Arc::new(Semaphore::new(at_once));
        let metrics_before = self.server.running.state.metrics.snapshot();
        let cpu_before = CpuSample::now();
        // The opening has begun (the phone refuses a decryption before its time).
        let opening_at = bidkey_server::util::Clock::default().now() - 1;
        let start = Instant::now();
        let tasks: Vec<_> = bidders
            .iter()
            .cloned()
            .map(|b| {
                let (hall, slots) = (self.clone(), slots.clone());
                tokio::spawn(async move {
                    let _slot = slots.acquire_owned().await.map_err(|e| e.to_string())?;
                    let t0 = Instant::now();
                    hall.decrypt_one(&b, opening_at)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>(t0.elapsed())
                })
            })
            .collect();
        let mut end_to_end = Vec::with_capacity(bidders.len());
        let mut failures = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(d)) => end_to_end.push(d),
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(format!("task: {e}")),
            }
        }
        let wall = start.elapsed();
        Opening {
            bidders: bidders.len(),
            at_once,
            wall,
            end_to_end,
            server: self
                .server
                .running
                .state
                .metrics
                .snapshot()
                .since(&metrics_before),
            cpu: CpuSample::now().since(&cpu_before),
            failures,
        }
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
            self.server.url(),
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
        let mut opened = Vec::new();
        bidfile::decrypt(
            &key,
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
}

/// The bidder's phone: open the wallet, scan the QR code the page shows now, confirm.
async fn scan_and_confirm(
    url: String,
    b: Bidder,
    pending: Arc<PendingScan>,
) -> Result<(), BenchError> {
    let phone = phone_at_url(&url, &b.wallet);
    let view = phone
        .scan(&pending.current_qr_uri())
        .await
        .map_err(|e| BenchError::Run(format!("scan: {e}")))?;
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
