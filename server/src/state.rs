//! What every request handler can reach.

use crate::db::Db;
use crate::realname::RealNameProvider;
use crate::sms::SmsProvider;
use crate::util::Clock;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Clock,
    pub sms: Arc<dyn SmsProvider>,
    pub realname: Arc<dyn RealNameProvider>,
    /// Sandbox mode: the sandbox payment provider is accepted only then (ADR 0014).
    pub sandbox: bool,
    /// Alipay and WeChat Pay, when the deployment offers them.
    pub payments: Arc<crate::payments::PaymentConfig>,
    pub secrets: Arc<Secrets>,
    /// The RFC 3161 time-stamp authority's keys and certificates.
    pub tsa: Arc<crate::tsa::Tsa>,
    /// The seal maker that signs approved electronic seals (GB/T 38540).
    pub seal_maker: Arc<crate::seal_maker::SealMaker>,
    /// Wake-ups for the relay's long polls.
    pub relay: crate::relay::notify::Notifier,
    /// Platform certificate chains already verified by the relay.
    pub platform_chains: crate::relay::requests::VerifiedChains,
    /// When the relay last deleted each platform's old requests.
    pub relay_sweeps: crate::relay::requests::Sweeps,
    /// Latency of every route (`GET /v1/operator/metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Rate limits an operator may tune.
    pub limits: crate::Limits,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// Server-side secrets that never reach the database in clear.
pub struct Secrets {
    /// Key for HMACs of personal identifiers (ID numbers), so that "the same person" can be
    /// checked without storing the number.
    pub pii_key: zeroize::Zeroizing<[u8; 32]>,
    /// Key of the stored SMS codes' HMACs (`sms-code.key` in the data dir).
    pub sms_code_key: zeroize::Zeroizing<[u8; 32]>,
    /// Key of the bank's statement webhook (HMAC-SM3), `bank-webhook.key` in the data dir.
    pub bank_webhook_key: zeroize::Zeroizing<[u8; 32]>,
    /// The issuing CA's keys (its own key file; the root key is never here, ADR 0019).
    pub ca: crate::ca::keys::CaKeys,
    /// The KMC's escrow sealing key (`kmc.key`).
    pub kmc: crate::ca::keys::Sealer,
    /// The co-signing service's share sealing keys (`cosign.key`).
    pub cosign: crate::ca::keys::Sealer,
    /// Server shares already unsealed and checked (ADR 0031).
    pub cosign_shares: crate::cosign::keys::ShareCache,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}
