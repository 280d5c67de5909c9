//! Scan requests from the platform's side (`docs/scan-protocol.md`): make and sign a
//! request, post it to the relay, draw its rotating QR code, wait for the reply and open it.
//! What a reply proves is checked by [`crate::scan::verify`].

pub mod verify;

use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use bidkey_crypto::scan::{
    self as scan_crypto, PlatformKey, ReplyAlg as CryptoReplyAlg, ReplySecret,
};
use bidkey_protocol::scan::*;
use bidkey_protocol::{ErrorBody, ErrorCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Who the platform is: its registration at Bidkey and its certificate and key.
#[derive(Debug)]
pub struct PlatformIdentity {
    pub platform_id: String,
    /// The web origin registered with Bidkey (the certificate's CN).
    pub origin: String,
    pub cert_der: Vec<u8>,
    pub key: PlatformKey,
}

/// Talks to the Bidkey relay for one platform.
#[derive(Debug)]
pub struct ScanClient {
    relay: String,
    http: reqwest::Client,
    platform_id: String,
    origin: String,
    cert_der: Vec<u8>,
    /// Shared with the `PlatformClient` a `ReplyVerifier` uses: the grant check is signed too.
    key: std::sync::Arc<PlatformKey>,
    reply_alg: ReplyAlg,
    webhook_url: Option<String>,
    /// The reply key of each session this client opened (ADR 0016, *session replies*).
    sessions: SessionKeys,
}

/// Session id → the session's reply key, derived from the `k` of the QR code that opened
/// it; never printed.
#[derive(Default)]
struct SessionKeys(std::sync::Mutex<std::collections::HashMap<String, Zeroizing<[u8; 32]>>>);

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Zeroizing<[u8; 32]>>> {
        // A map of keys stays consistent even if a holder of the lock panicked.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether the platform's poll secret matches, shown as the relay expects it.
fn poll_header(secret: &[u8; 32]) -> String {
    hex::encode(secret)
}

/// A request waiting for its reply. Holds the secrets only the platform may know: the QR
/// secret, the poll secret and the reply key.
#[derive(Debug)]
pub struct PendingScan {
    pub body: ScanRequestBody,
    relay: String,
    qr_secret: Zeroizing<[u8; 32]>,
    poll_secret: Zeroizing<[u8; 32]>,
    reply_secret: ReplySecret,
    /// The reply authentication key `k` the QR code carries and the relay never sees
    /// (ADR 0016); none for a session request, which has no QR code.
    qr_key: Option<Zeroizing<[u8; 32]>>,
    /// The key the reply must be MACed under: `qr_key`, or for a request inside a session
    /// the session's reply key (derived from the `k` of the QR code that opened it).
    mac_key: Zeroizing<[u8; 32]>,
    /// When the relay counts second 0 from, on this machine's monotonic clock.
    started: Instant,
}

/// The opened reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per reply, matched once; boxing would change the public API"
)]
pub enum ScanResult {
    Approved(ScanReply),
    Rejected { reason: Option<String> },
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl ScanClient {
    /// Requests go to the relay of the Bidkey server `client` talks to.
    pub fn new(client: &PlatformClient, identity: PlatformIdentity) -> ScanClient {
        ScanClient {
            relay: client.base().to_owned(),
            http: client.http().clone(),
            platform_id: identity.platform_id,
            origin: identity.origin,
            cert_der: identity.cert_der,
            key: std::sync::Arc::new(identity.key),
            reply_alg: ReplyAlg::Sm2Sm4Gcm,
            webhook_url: None,
            sessions: SessionKeys::default(),
        }
    }

    /// Also have the relay POST each result (`RelayResult` JSON) to `url` when answered.
    pub fn with_webhook(mut self, url: &str) -> ScanClient {
        self.webhook_url = Some(url.to_owned());
        self
    }

    /// Seal replies with P-256/AES-GCM instead of SM2/SM4-GCM.
    pub fn with_reply_alg(mut self, alg: ReplyAlg) -> ScanClient {
        self.reply_alg = alg;
        self
    }

    /// This platform's id at Bidkey.
    pub fn platform_id(&self) -> &str {
        &self.platform_id
    }

    /// The platform's request key, for [`PlatformClient::signed_by`]: a `ReplyVerifier`'s
    /// client must sign its grant checks (`GET /v1/grants/check`) with it.
    pub fn request_key(&self) -> std::sync::Arc<PlatformKey> {
        self.key.clone()
    }

    /// Sign `action` into a request living `ttl_secs` and post it with a QR secret.
    pub async fn create(&self, action: ScanAction, ttl_secs: i64) -> Result<PendingScan> {
        self.post(action, ttl_secs, None).await
    }

    /// Send `action` to the phone through an open session (no QR code). The session must be
    /// one this client opened and learnt of through [`ScanClient::wait`] (or
    /// [`ScanClient::remember_session`]): its reply key authenticates the phone's replies.
    pub async fn create_in_session(
        &self,
        session_id: &str,
        action: ScanAction,
        ttl_secs: i64,
    ) -> Result<PendingScan> {
        let key =
            self.sessions
                .map()
                .get(session_id)
                .cloned()
                .ok_or(PlatformError::InvalidInput(
                    "session_id (not opened by this client)",
                ))?;
        self.post(action, ttl_secs, Some((session_id, key))).await
    }

    /// Remember the session an approved reply to a session request grants, with its reply
    /// key; [`ScanClient::wait`] does this itself. Nothing for other replies.
    pub fn remember_session(&self, pending: &PendingScan, result: &ScanResult) -> Result<()> {
        if let Some((id, key)) = pending.session_key(result)? {
            self.sessions.map().insert(id, key);
        }
        Ok(())
    }

    async fn post(
        &self,
        action: ScanAction,
        ttl_secs: i64,
        session: Option<(&str, Zeroizing<[u8; 32]>)>,
    ) -> Result<PendingScan> {
        let session_id = session.as_ref().map(|(id, _)| *id);
        if !(10..=MAX_TTL_SECS).contains(&ttl_secs) {
            return Err(PlatformError::InvalidInput("ttl_secs"));
        }
        let reply_secret = ReplySecret::make(match self.reply_alg {
            ReplyAlg::Sm2Sm4Gcm => CryptoReplyAlg::Sm2Sm4Gcm,
            ReplyAlg::P256Aes256Gcm => CryptoReplyAlg::P256Aes256Gcm,
        })?;
        let now = unix_now();
        let body = ScanRequestBody {
            v: SCAN_VERSION,
            request_id: hex::encode(bidkey_crypto::rng::bytes::<16>()?),
            platform_id: self.platform_id.clone(),
            origin: self.origin.clone(),
            created_at: now,
            expires_at: now + ttl_secs,
            nonce: bidkey_crypto::rng::bytes::<32>()?.to_vec(),
            reply_key: ReplyKey {
                alg: self.reply_alg,
                public_key: reply_secret.public_key(),
            },
            session_id: session_id.map(str::to_owned),
            action,
            webhook_url: self.webhook_url.clone(),
        };
        let body_json =
            serde_json::to_vec(&body).map_err(|_| PlatformError::Malformed("request body"))?;
        let signature = self.key.sign(&request_message(&body_json))?;
        let qr_secret = Zeroizing::new(bidkey_crypto::rng::bytes::<32>()?);
        let poll_secret = Zeroizing::new(bidkey_crypto::rng::bytes::<32>()?);
        let new = NewRelayRequest {
            request: SignedScanRequest {
                body: body_json,
                signature,
                platform_cert: self.cert_der.clone(),
            },
            qr_secret: session_id.is_none().then(|| qr_secret.to_vec()),
            poll_secret: poll_secret.to_vec(),
            webhook_url: self.webhook_url.clone(),
        };
        let path = match session_id {
            None => "/v1/relay/requests".to_owned(),
            Some(sid) => format!("/v1/relay/sessions/{sid}/requests"),
        };
        let (qr_key, mac_key) = match session {
            None => {
                let k = Zeroizing::new(bidkey_crypto::rng::bytes::<32>()?);
                (Some(k.clone()), k)
            }
            Some((_, key)) => (None, key),
        };
        let started = Instant::now();
        let _: RelayCreated = self
            .send(self.http.post(self.url(&path)).json(&new))
            .await?;
        Ok(PendingScan {
            body,
            relay: self.relay.clone(),
            qr_secret,
            poll_secret,
            reply_secret,
            qr_key,
            mac_key,
            started,
        })
    }

    /// One long-poll (at most `wait` seconds): where the request stands.
    pub async fn poll(&self, pending: &PendingScan, wait: u64) -> Result<RelayResult> {
        let url = self.url(&format!(
            "/v1/relay/requests/{}/result?wait={}",
            pending.body.request_id,
            wait.min(MAX_WAIT_SECS)
        ));
        let req = self
            .http
            .get(url)
            .header(POLL_HEADER, poll_header(&pending.poll_secret))
            .timeout(Duration::from_secs(wait.min(MAX_WAIT_SECS) + 15));
        self.send(req).await
    }

    /// Long-poll until the phone answers or the request expires, then open the reply.
    pub async fn wait(&self, pending: &PendingScan) -> Result<ScanResult> {
        loop {
            let r = self.poll(pending, 25).await?;
            match r.status {
                RelayStatus::Answered => {
                    let sealed = r.sealed.ok_or(PlatformError::Relay(ErrorCode::Internal))?;
                    let result = pending.open(&sealed)?;
                    self.remember_session(pending, &result)?;
                    return Ok(result);
                }
                RelayStatus::Expired => return Err(PlatformError::Relay(ErrorCode::ScanExpired)),
                RelayStatus::Pending | RelayStatus::Scanned => {
                    if unix_now() > pending.body.expires_at + 5 {
                        return Err(PlatformError::Relay(ErrorCode::ScanExpired));
                    }
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.relay)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T> {
        let resp = req
            .send()
            .await
            .map_err(|e| PlatformError::Network(e.to_string()))?;
        if resp.status().is_success() {
            return resp
                .json()
                .await
                .map_err(|e| PlatformError::Network(e.to_string()));
        }
        let body: ErrorBody = resp
            .json()
            .await
            .map_err(|e| PlatformError::Network(e.to_string()))?;
        Err(PlatformError::Relay(body.code))
    }
}

/// A pending scan as bytes, for a platform that keeps it across a restart of its own
/// process ([`PendingScan::export`]). It holds the request's secrets: the caller must seal
/// it (encrypt at rest) and zeroize it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ExportedScan {
    /// The exported form's version.
    v: u32,
    body: ScanRequestBody,
    relay: String,
    qr_secret: [u8; 32],
    poll_secret: [u8; 32],
    alg: ReplyAlg,
    reply_secret: [u8; 32],
    /// The QR code's reply key `k` (hex), none for a request inside a session.
    qr_key: Option<String>,
    /// The key the reply is MACed under (hex): `k`, or the session's reply key.
    mac_key: String,
    /// Unix milliseconds of the relay's second 0 (the QR code's `t`).
    started_at_ms: u64,
}

impl Drop for ExportedScan {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.qr_secret.zeroize();
        self.poll_secret.zeroize();
        self.reply_secret.zeroize();
        self.qr_key.zeroize();
        self.mac_key.zeroize();
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl PendingScan {
    /// The pending scan with its secrets, as bytes another process can
    /// [`import`](PendingScan::import): a platform (or the gateway) keeps scans across a
    /// restart. Secret: seal it before it leaves memory.
    pub fn export(&self) -> Result<Zeroizing<Vec<u8>>> {
        let reply_secret = match &self.reply_secret {
            ReplySecret::Sm2(k) => *k.to_bytes(),
            ReplySecret::P256(k) => *k.to_bytes(),
        };
        let e = ExportedScan {
            v: 1,
            body: self.body.clone(),
            relay: self.relay.clone(),
            qr_secret: *self.qr_secret,
            poll_secret: *self.poll_secret,
            alg: match self.reply_secret.alg() {
                CryptoReplyAlg::Sm2Sm4Gcm => ReplyAlg::Sm2Sm4Gcm,
                CryptoReplyAlg::P256Aes256Gcm => ReplyAlg::P256Aes256Gcm,
            },
            reply_secret,
            qr_key: self.qr_key.as_ref().map(|k| hex::encode(**k)),
            mac_key: hex::encode(*self.mac_key),
            started_at_ms: unix_ms().saturating_sub(self.started.elapsed().as_millis() as u64),
        };
        serde_json::to_vec(&e)
            .map(Zeroizing::new)
            .map_err(|_| PlatformError::Malformed("pending scan"))
    }

    /// A pending scan [`export`](PendingScan::export)ed earlier, here or by another process.
    /// The QR code keeps counting from the same second 0 (by the wall clock in between).
    pub fn import(bytes: &[u8]) -> Result<PendingScan> {
        let bad = || PlatformError::Malformed("pending scan");
        let e: ExportedScan = serde_json::from_slice(bytes).map_err(|_| bad())?;
        if e.v != 1 {
            return Err(bad());
        }
        let reply_secret = match e.alg {
            ReplyAlg::Sm2Sm4Gcm => ReplySecret::Sm2(
                bidkey_crypto::sm2::Sm2PrivateKey::from_bytes(&e.reply_secret)
                    .map_err(|_| bad())?,
            ),
            ReplyAlg::P256Aes256Gcm => ReplySecret::P256(
                bidkey_crypto::p256::P256PrivateKey::from_bytes(&e.reply_secret)
                    .map_err(|_| bad())?,
            ),
        };
        if reply_secret.public_key() != e.body.reply_key.public_key {
            return Err(bad());
        }
        let key = |k: &str| -> Result<Zeroizing<[u8; 32]>> {
            let mut out = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(k, &mut *out).map_err(|_| bad())?;
            Ok(out)
        };
        let qr_key = e.qr_key.as_deref().map(key).transpose()?;
        let mac_key = key(&e.mac_key)?;
        let ago = Duration::from_millis(unix_ms().saturating_sub(e.started_at_ms));
        let started = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
        Ok(PendingScan {
            body: e.body.clone(),
            relay: e.relay.clone(),
            qr_secret: Zeroizing::new(e.qr_secret),
            poll_secret: Zeroizing::new(e.poll_secret),
            reply_secret,
            qr_key,
            mac_key,
            started,
        })
    }

    /// Seconds since the relay's second 0: the `t` of the QR code to show now.
    pub fn elapsed_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    pub fn request_id(&self) -> &str {
        &self.body.request_id
    }

    /// The QR code's text for second `t` of the request.
    pub fn qr_uri_at(&self, t: u64) -> String {
        ScanUri {
            relay: self.relay.clone(),
            request_id: self.body.request_id.clone(),
            t,
            code: scan_crypto::rotating_code(&*self.qr_secret, t),
            k: self.qr_key.as_ref().map(|k| hex::encode(**k)),
        }
        .to_string()
    }

    /// The QR code to show now; draw it again every second.
    pub fn current_qr_uri(&self) -> String {
        self.qr_uri_at(self.started.elapsed().as_secs())
    }

    /// The four digits the phone also shows.
    pub fn verification_code(&self) -> String {
        scan_crypto::verification_code(&self.body.nonce)
    }

    /// Open a sealed reply: it must be for this request.
    pub fn open(&self, sealed: &SealedReply) -> Result<ScanResult> {
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| PlatformError::BadReply("nonce"))?;
        let plain = self.reply_secret.open(
            &scan_crypto::Sealed {
                ephemeral: sealed.ephemeral.clone(),
                nonce,
                ciphertext: sealed.ciphertext.clone(),
            },
            self.body.request_id.as_bytes(),
        )?;
        let reply: ScanReply =
            serde_json::from_slice(&plain).map_err(|_| PlatformError::BadReply("json"))?;
        if reply.request_id != self.body.request_id {
            return Err(PlatformError::BadReply("request id"));
        }
        // Only the phone that scanned the QR code holds `k` (and the session key derived
        // from it): a reply without its MAC (e.g. a "rejected" or file keys the relay sealed
        // to our public reply key) is refused, inside a session as well.
        let bare = serde_json::to_vec(&reply.without_auth())
            .map_err(|_| PlatformError::BadReply("json"))?;
        let mac = reply.auth.as_deref().unwrap_or_default();
        if !scan_crypto::check_reply_mac(&self.mac_key, &reply.request_id, &bare, mac) {
            return Err(PlatformError::BadReply("not authenticated by the phone"));
        }
        Ok(match reply.outcome {
            ReplyOutcome::Approved => ScanResult::Approved(reply),
            ReplyOutcome::Rejected => ScanResult::Rejected {
                reason: reply.reason,
            },
        })
    }

    /// For an approved reply to a QR-opened session request: the session id and its reply
    /// key (`scan::session_reply_key` of this request's `k`). The reply has been opened, so
    /// its MAC under `k` is already checked.
    fn session_key(&self, result: &ScanResult) -> Result<Option<(String, Zeroizing<[u8; 32]>)>> {
        let (ScanResult::Approved(reply), Some(k)) = (result, &self.qr_key) else {
            return Ok(None);
        };
        let Some(grant) = reply
            .session
            .as_ref()
            .filter(|_| matches!(self.body.action, ScanAction::Session { .. }))
        else {
            return Ok(None);
        };
        let key = scan_crypto::session_reply_key(k, &grant.session_id)?;
        Ok(Some((grant.session_id.clone(), key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(alg: CryptoReplyAlg, with_k: bool) -> PendingScan {
        let reply_secret = ReplySecret::make(alg).expect("key");
        PendingScan {
            body: ScanRequestBody {
                v: SCAN_VERSION,
                request_id: "0123456789abcdef0123456789abcdef".into(),
                platform_id: "p1".into(),
                origin: "https://p.example".into(),
                created_at: 1,
                expires_at: 100,
                nonce: vec![7; 32],
                reply_key: ReplyKey {
                    alg: match alg {
                        CryptoReplyAlg::Sm2Sm4Gcm => ReplyAlg::Sm2Sm4Gcm,
                        CryptoReplyAlg::P256Aes256Gcm => ReplyAlg::P256Aes256Gcm,
                    },
                    public_key: reply_secret.public_key(),
                },
                session_id: None,
                action: ScanAction::Login { uscc: None },
                webhook_url: None,
            },
            relay: "http://127.0.0.1:1".into(),
            qr_secret: Zeroizing::new([1; 32]),
            poll_secret: Zeroizing::new([2; 32]),
            reply_secret,
            qr_key: with_k.then(|| Zeroizing::new([3; 32])),
            mac_key: Zeroizing::new([if with_k { 3 } else { 4 }; 32]),
            started: Instant::now(),
        }
    }

    #[test]
    fn an_exported_scan_imports_to_the_same_qr_codes_and_reply_key() {
        for (alg, k) in [
            (CryptoReplyAlg::Sm2Sm4Gcm, true),
            (CryptoReplyAlg::P256Aes256Gcm, false),
        ] {
            let p = pending(alg, k);
            let back = PendingScan::import(&p.export().expect("export")).expect("import");
            assert_eq!(back.body, p.body);
            assert_eq!(back.qr_uri_at(5), p.qr_uri_at(5));
            assert_eq!(back.reply_secret.public_key(), p.reply_secret.public_key());
            assert_eq!(
                *back.mac_key, *p.mac_key,
                "the reply is checked under the same key"
            );
            // A reply sealed to the request opens with the imported key.
            let sealed = scan_crypto::seal_reply(alg, &p.reply_secret.public_key(), b"id", b"x")
                .expect("seal");
            assert_eq!(
                back.reply_secret
                    .open(&sealed, b"id")
                    .expect("opens")
                    .as_slice(),
                b"x"
            );
        }
    }

    #[test]
    fn a_tampered_export_is_refused() {
        let p = pending(CryptoReplyAlg::Sm2Sm4Gcm, true);
        let mut v: serde_json::Value =
            serde_json::from_slice(&p.export().expect("export")).expect("json");
        // Another reply key than the request announced.
        v["reply_secret"] = serde_json::json!(vec![9u8; 32]);
        let bytes = serde_json::to_vec(&v).expect("json");
        assert!(matches!(
            PendingScan::import(&bytes),
            Err(PlatformError::Malformed(_))
        ));
        assert!(PendingScan::import(b"not json").is_err());
    }
}
