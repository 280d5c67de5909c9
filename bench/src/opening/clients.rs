//! The clients process of `opening-bench` (`--role clients --manifest PATH`): the simulated
//! phones and the trading platform, apart from the server's process so that each side's CPU
//! is its own. It loads the population the server process made, says `READY`, then runs
//! one opening per `Job` line on its stdin and answers each with an `Outcome` line.

use super::hall::{Hall, Job};
use super::population::{Bidder, BidderEntry};
use super::{BenchError, runtime};
use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::Cert;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PlatformIdentity, ScanClient};
use bidkey_platform::verify::{TrustAnchor, Verifier};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The clients process's first line once it is ready for jobs.
pub const READY: &str = "READY";

/// What the server process hands the clients process: where the server is, the platform's
/// identity (a bench platform's key, in a private temporary directory) and the bidders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub url: String,
    pub platform_id: String,
    pub origin: String,
    pub platform_cert_der: String,
    pub platform_key: String,
    pub max_active: usize,
    pub bidders: Vec<BidderEntry>,
}

/// The clients process's main loop.
pub fn serve(manifest_path: &Path) -> Result<(), BenchError> {
    bidkey_testkit::install_tls_provider();
    let raw = std::fs::read(manifest_path)
        .map_err(|e| BenchError::Setup(format!("{}: {e}", manifest_path.display())))?;
    let manifest: Manifest =
        serde_json::from_slice(&raw).map_err(|e| BenchError::Setup(format!("manifest: {e}")))?;
    let bidders = manifest
        .bidders
        .iter()
        .map(Bidder::from_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let phones_rt = runtime("bk-phones")?;
    let platform_rt = runtime("bk-platform")?;
    let hall = platform_rt.block_on(platform_hall(&manifest, phones_rt.handle().clone()))?;
    let stdout = std::io::stdout();
    let say = |line: &str| -> Result<(), BenchError> {
        let mut out = stdout.lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| BenchError::Run(format!("stdout: {e}")))
    };
    say(READY)?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| BenchError::Run(format!("stdin: {e}")))?;
        let job: Job =
            serde_json::from_str(&line).map_err(|e| BenchError::Run(format!("job: {e}")))?;
        let outcome = platform_rt.block_on(hall.open(&bidders, job));
        say(&serde_json::to_string(&outcome).map_err(|e| BenchError::Run(e.to_string()))?)?;
    }
    Ok(())
}

fn platform_key(hex_key: &str) -> Result<Sm2PrivateKey, BenchError> {
    let bytes =
        Zeroizing::new(hex::decode(hex_key).map_err(|_| BenchError::Setup("platform key".into()))?);
    Sm2PrivateKey::from_bytes(&bytes).map_err(|e| BenchError::Setup(e.to_string()))
}

/// The trading platform's SDK clients.
async fn platform_hall(m: &Manifest, phones: tokio::runtime::Handle) -> Result<Hall, BenchError> {
    let api = || {
        PlatformClient::new(&m.url, None, Duration::from_secs(60))
            .map_err(|e| BenchError::Setup(e.to_string()))
    };
    let cert_der =
        hex::decode(&m.platform_cert_der).map_err(|_| BenchError::Setup("platform cert".into()))?;
    Cert::from_der(&cert_der).map_err(|e| BenchError::Setup(format!("platform cert: {e}")))?;
    let client = ScanClient::new(
        &api()?,
        PlatformIdentity {
            platform_id: m.platform_id.clone(),
            origin: m.origin.clone(),
            cert_der,
            key: PlatformKey::Sm2(platform_key(&m.platform_key)?),
        },
    );
    let anchor = TrustAnchor::fetch(&api()?, None)
        .await
        .map_err(|e| BenchError::Setup(format!("trust anchor: {e}")))?;
    let verifier = ReplyVerifier::new(
        api()?.signed_by(client.request_key()),
        Verifier::new(anchor),
        &m.platform_id,
    );
    let key = Arc::new(PlatformKey::Sm2(platform_key(&m.platform_key)?));
    Ok(Hall {
        url: m.url.clone(),
        api: Arc::new(api()?.signed_by(key.clone())),
        key,
        client: Arc::new(client),
        verifier: Arc::new(verifier),
        phones,
        max_active: m.max_active,
    })
}
