//! Scan (扫码): a trading platform's QR code asks this phone to bind, log in, sign / seal,
//! decrypt bid-file keys at the opening, or open a session (`docs/scan-protocol.md`).
//!
//! `scan` fetches the request from the relay and checks everything the phone can check
//! before anything is shown: the QR's relay is our server, the platform's certificate chains
//! to the Bidkey CA and names the request's origin, the platform signed these exact bytes,
//! the request is for the QR's id and not expired. `confirm_scan` signs or decrypts through
//! the co-signing service and posts the reply sealed to the platform's ephemeral key.

use crate::Bidkey;
use crate::error::{Cause, CoreError, CryptoError, Result, StorageError};
use crate::scan::request::{PlatformBinding, check_session_request};
use crate::scan::sessions::{OpenSession, Sessions};
use crate::scan::{DocumentView, UsableSeal, document_views, signed_attributes, signed_document};
use crate::wallet::StoredCert;
use bidkey_crypto::cosign::DeviceShare;
use bidkey_crypto::scan as scan_crypto;
use bidkey_crypto::sm2::{DEFAULT_ID, Sm2Ciphertext, message_digest};
use bidkey_crypto::x509::{Cert, Crl};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::certs::CaChain;
use bidkey_protocol::cosign::CosignPurpose;
use bidkey_protocol::platforms::GrantCheck;
use bidkey_protocol::scan::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A verified request, ready to show (扫码确认页).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanView {
    pub request_id: String,
    pub kind: ScanKind,
    pub platform_id: String,
    /// The platform's name as its certificate states it (the organisation the Bidkey CA
    /// certified; the platform directory's entry only when the certificate has none).
    pub platform_name: String,
    pub origin: String,
    /// The four digits the platform's page also shows.
    pub verification_code: String,
    pub expires_at: i64,
    /// Set when the request came inside a session.
    pub session_id: Option<String>,
    /// What exactly is asked: documents, files, session terms.
    pub action: ScanAction,
    /// For sign: each document as shown (name, digest, pages, seal image and place); the
    /// phone signs exactly these (see [`crate::scan`]).
    pub documents: Vec<DocumentView>,
    /// The certificate that will sign (bind, login, sign, session); none for decrypt.
    pub certificate: Option<StoredCert>,
    /// For decrypt: files whose key this phone can unwrap (the others are not addressed to
    /// any encryption certificate here).
    pub decryptable_files: Vec<String>,
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanDone {
    pub request_id: String,
    pub kind: ScanKind,
    pub signatures: usize,
    pub files_decrypted: usize,
    pub session: Option<SessionGrant>,
    pub auto_confirmed: bool,
}

/// A session request that reached the phone without a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    pub view: ScanView,
    /// Already confirmed by the phone itself (auto-confirm session, sign or login).
    pub done: Option<ScanDone>,
}

/// Scans between `scan` and `confirm`, and the sessions this phone opened with the shares
/// auto-confirm holds ([`Sessions`], pure, with its own tests).
#[derive(Default)]
pub(crate) struct ScanState {
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Sessions,
}

impl std::fmt::Debug for ScanState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScanState { .. }")
    }
}

#[derive(Clone)]
struct Pending {
    body: ScanRequestBody,
    /// The key the reply is MACed under (ADR 0016): the QR code's `k`, or for a request
    /// inside a session the session's reply key.
    reply_key: Option<zeroize::Zeroizing<[u8; 32]>>,
    platform: PlatformBinding,
    view: ScanView,
    /// The co-decryption session the relay opened with the fetch (ADR 0031): for this
    /// encryption key, received at that instant.
    cosign_session: Option<Prefetched>,
}

/// A co-decryption session opened by the relay's fetch of a decrypt request.
#[derive(Clone)]
struct Prefetched {
    serial: String,
    session: bidkey_protocol::cosign::Session,
    received: std::time::Instant,
}

impl Prefetched {
    /// The session, if it is for `serial`, still has a minute to live (by this phone's
    /// monotonic clock since it came, not its wall clock) and its server time is not before
    /// `not_before`; otherwise the phone opens a fresh one.
    fn usable_for(
        &self,
        serial: &str,
        not_before: i64,
    ) -> Option<bidkey_protocol::cosign::Session> {
        let life = self.session.expires_at - self.session.server_time - 60;
        let elapsed = i64::try_from(self.received.elapsed().as_secs()).unwrap_or(i64::MAX);
        (self.serial == serial && elapsed < life && self.session.server_time >= not_before)
            .then(|| self.session.clone())
    }
}

/// Whom a reply goes to: the platform that made the request, and the QR code's reply key.
#[derive(Clone, Copy)]
struct ReplyTo<'a> {
    platform: &'a PlatformBinding,
    reply_key: Option<&'a [u8; 32]>,
}

const CA_CACHE_KEY: &str = "ca_chain";
/// Wallet meta key prefix of a session's reply key (sealed by the device keystore), so a
/// session outlives the process that opened it (the CLI runs one per command; the app
/// restarts): `expires_at:hex(sealed key)`.
const SESSION_KEY_PREFIX: &str = "scan_session_key:";

impl Bidkey {
    /// Read a scanned QR code and fetch and verify its request; nothing is signed yet.
    pub async fn scan(&self, uri: &str) -> Result<ScanView> {
        self.require_login()?;
        let uri = ScanUri::parse(uri).map_err(|_| CoreError::InvalidInput { field: "qr" })?;
        if normalize_base_url(&uri.relay) != normalize_base_url(self.api.base()) {
            return Err(CoreError::InvalidInput { field: "qr_relay" });
        }
        // With the phone's one encryption key named, the fetch of a decrypt request also
        // opens its co-decryption session (ADR 0031: one round trip less at the opening).
        let key = self.one_encryption_key()?;
        let ask = key
            .as_ref()
            .map(|(serial, pair)| format!("&cosign_serial={serial}&cosign_pair={pair}"))
            .unwrap_or_default();
        let fetched: FetchedScanRequest = self
            .api
            .get(&format!(
                "/v1/relay/requests/{}?t={}&code={}{ask}",
                uri.request_id, uri.t, uri.code
            ))
            .await?;
        let received = std::time::Instant::now();
        let signed = fetched.request;
        let (body, name, platform) = self.verify_request(&signed, Some(&uri.request_id)).await?;
        if body.session_id.is_some() {
            return Err(server_error(ErrorCode::ScanSignatureInvalid));
        }
        let reply_key = match &uri.k {
            Some(k) => {
                let mut key = zeroize::Zeroizing::new([0u8; 32]);
                hex::decode_to_slice(k, key.as_mut())
                    .map_err(|_| CoreError::InvalidInput { field: "qr" })?;
                Some(key)
            }
            None => None,
        };
        let request_id = body.request_id.clone();
        let view = self.remember_scan(body, name, platform, reply_key).await?;
        if let (Some(session), Some((serial, _))) = (fetched.cosign_session, key)
            && let Some(p) = lock(&self.scan.pending).get_mut(&request_id)
        {
            p.cosign_session = Some(Prefetched {
                serial,
                session,
                received,
            });
        }
        Ok(view)
    }

    /// The serial and pair of this phone's encryption key, when it holds exactly one (with
    /// several, which one a request needs is not known before it is read). Only ids that
    /// go into a query string as they are.
    fn one_encryption_key(&self) -> Result<Option<(String, String)>> {
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let enc: Vec<_> = self
            .wallet
            .shares()?
            .into_iter()
            .filter(|s| s.usage == "encryption")
            .collect();
        Ok(match enc.as_slice() {
            [one] if plain(&one.key_id) && plain(&one.pair_id) => {
                Some((one.key_id.clone(), one.pair_id.clone()))
            }
            _ => None,
        })
    }

    /// Approve a scanned request with the certificate PIN. For a session request this opens
    /// the session without auto-confirm; see [`Bidkey::confirm_session`].
    pub async fn confirm_scan(&self, request_id: &str, pin: &str) -> Result<ScanDone> {
        self.confirm_with(request_id, pin, false).await
    }

    /// Approve a session request; with `auto_confirm` (if the platform allows it) later sign
    /// and login requests of this session are confirmed without asking. Decryption always
    /// asks.
    pub async fn confirm_session(
        &self,
        request_id: &str,
        pin: &str,
        auto_confirm: bool,
    ) -> Result<ScanDone> {
        self.confirm_with(request_id, pin, auto_confirm).await
    }

    /// Refuse a request; the platform learns it was rejected.
    pub async fn reject_scan(&self, request_id: &str, reason: Option<&str>) -> Result<()> {
        let p = self.pending(request_id)?;
        let reply = ScanReply {
            request_id: p.body.request_id.clone(),
            outcome: ReplyOutcome::Rejected,
            reason: reason.map(|r| r.chars().take(200).collect()),
            signer_cert: None,
            encryption_cert: None,
            signatures: vec![],
            documents: vec![],
            file_keys: vec![],
            session: None,
            auto_confirmed: false,
            auth: None,
        };
        self.send_reply(&p.body, reply, p.reply_key.as_deref())
            .await?;
        self.forget(request_id);
        Ok(())
    }

    /// Sessions this account holds with platforms (会话列表).
    pub async fn scan_sessions(&self) -> Result<Vec<ScanSession>> {
        self.require_login()?;
        let mut list: Vec<ScanSession> = self.api.get("/v1/relay/sessions").await?;
        for s in &mut list {
            s.auto_confirm = self.scan.sessions.is_auto(&s.session_id);
        }
        Ok(list)
    }

    /// End a session; the platform can send nothing more through it.
    pub async fn end_scan_session(&self, session_id: &str) -> Result<()> {
        self.require_login()?;
        let sid = crate::flows::id_segment(session_id, "session_id")?;
        self.scan.sessions.end(sid);
        self.wallet
            .delete_meta(&format!("{SESSION_KEY_PREFIX}{sid}"))?;
        let _: serde_json::Value = self
            .api
            .delete(&format!("/v1/relay/sessions/{sid}"))
            .await?;
        Ok(())
    }

    /// Turn auto-confirm off for a session.
    pub fn stop_auto_confirm(&self, session_id: &str) {
        self.scan.sessions.stop_auto(session_id);
    }

    /// Turn auto-confirm on for a session this phone opened, if the platform allows it. The
    /// PIN is proven to the co-signing service first (a wrong one counts like any other).
    pub async fn start_auto_confirm(&self, session_id: &str, pin: &str) -> Result<()> {
        self.require_login()?;
        let (serial, expires_at) = self
            .scan
            .sessions
            .may_auto_confirm(session_id, self.now())?;
        let share = Arc::new(
            self.wallet
                .share_with_pin(&serial, pin, self.pin_kdf)
                .await?,
        );
        let public = self.public_key_of(&serial)?;
        let e = message_digest(&public, DEFAULT_ID, b"bidkey auto-confirm on")?;
        self.co_sign_digest(&serial, &share, &e, CosignPurpose::Sign, None)
            .await?;
        self.scan.sessions.start_auto(
            session_id,
            &serial,
            share,
            expires_at,
            self.now(),
            self.auto_confirm_max_secs,
        );
        Ok(())
    }

    /// Wait up to `wait_secs` for the next request of an open session. In an auto-confirm
    /// session a sign or login request is confirmed at once and returned with `done`.
    pub async fn next_session_request(&self, wait_secs: u64) -> Result<Option<SessionRequest>> {
        self.require_login()?;
        let wait = wait_secs.min(MAX_WAIT_SECS);
        let items: Vec<InboxItem> = self
            .api
            .get(&format!("/v1/relay/inbox?wait={wait}"))
            .await?;
        let Some(item) = items.into_iter().next() else {
            return Ok(None);
        };
        let (body, name, platform) = self
            .verify_request(&item.request, Some(&item.request_id))
            .await?;
        let (opened_by, session_key) = self.scan.sessions.opened(&item.session_id);
        let session_key = match session_key {
            Some(k) => Some(k),
            None => self.stored_session_key(&item.session_id)?,
        };
        check_session_request(&item.session_id, opened_by.as_ref(), &body, &platform)?;
        let view = self
            .remember_scan(body.clone(), name, platform.clone(), session_key.clone())
            .await?;
        let done = match self.auto_share(&item.session_id) {
            Some((serial, share))
                if matches!(
                    body.action,
                    ScanAction::Sign { .. } | ScanAction::Login { .. }
                ) =>
            {
                Some(
                    self.answer(
                        &body,
                        ReplyTo {
                            platform: &platform,
                            reply_key: session_key.as_deref(),
                        },
                        &serial,
                        &share,
                        false,
                        true,
                    )
                    .await?,
                )
            }
            _ => None,
        };
        if done.is_some() {
            self.forget(&view.request_id);
        }
        Ok(Some(SessionRequest { view, done }))
    }

    async fn confirm_with(
        &self,
        request_id: &str,
        pin: &str,
        auto_confirm: bool,
    ) -> Result<ScanDone> {
        self.require_login()?;
        crate::wallet::check_pin(pin)?;
        let p = self.pending(request_id)?;
        if p.body.expires_at <= self.now() {
            self.forget(request_id);
            return Err(server_error(ErrorCode::ScanExpired));
        }
        let done = match &p.body.action {
            ScanAction::Decrypt { .. } => {
                // A session is good for one attempt: taken now, so a retry after a wrong PIN
                // (which spent it) opens a fresh one.
                let prefetched = lock(&self.scan.pending)
                    .get_mut(request_id)
                    .and_then(|q| q.cosign_session.take());
                self.answer_decrypt(&p.body, pin, p.reply_key.as_deref(), prefetched.as_ref())
                    .await?
            }
            action => {
                let cert = p
                    .view
                    .certificate
                    .clone()
                    .ok_or_else(|| CoreError::NotFound("a signing certificate".into()))?;
                self.check_grant(&p.body, &cert).await?;
                let share = Arc::new(
                    self.wallet
                        .share_with_pin(&cert.serial, pin, self.pin_kdf)
                        .await?,
                );
                let auto = auto_confirm
                    && matches!(
                        action,
                        ScanAction::Session {
                            auto_confirm_allowed: true,
                            ..
                        }
                    );
                self.answer(
                    &p.body,
                    ReplyTo {
                        platform: &p.platform,
                        reply_key: p.reply_key.as_deref(),
                    },
                    &cert.serial,
                    &share,
                    auto,
                    false,
                )
                .await?
            }
        };
        self.forget(request_id);
        Ok(done)
    }

    /// Sign what `body` asks with `share` of `serial` and send the approval.
    async fn answer(
        &self,
        body: &ScanRequestBody,
        to: ReplyTo<'_>,
        serial: &str,
        share: &Arc<DeviceShare>,
        auto_confirm: bool,
        auto_confirmed: bool,
    ) -> Result<ScanDone> {
        let cert = self.stored_cert(serial)?;
        let public = self.public_key_of(serial)?;
        let mut signatures = Vec::new();
        let mut documents = Vec::new();
        let mut session = None;
        match &body.action {
            ScanAction::Sign {
                documents: docs, ..
            } => {
                let signer = Cert::from_der(&cert.der)?;
                let (_, issuing) = self.ca_chain().await?;
                for d in docs {
                    // The signing time is the server's, from the session that co-signs.
                    let s = self
                        .open_cosign_session(serial, CosignPurpose::Sign)
                        .await?;
                    let server_time = s.server_time;
                    let attrs = signed_attributes(d, server_time, &signer)?;
                    let e = message_digest(&public, DEFAULT_ID, &attrs)?;
                    let sig = self
                        .co_sign_digest(serial, share, &e, CosignPurpose::Sign, Some(s))
                        .await?;
                    let ses_signature = match &d.seal {
                        Some(place) => {
                            self.seal_signature(
                                body,
                                serial,
                                share,
                                &signer,
                                &public,
                                d,
                                place,
                                server_time,
                            )
                            .await?
                        }
                        None => None,
                    };
                    documents.push(ReplyDocument {
                        name: d.name.clone(),
                        signed_data: signed_document(&signer, &issuing, &attrs, &sig.to_der())?,
                        ses_signature,
                    });
                }
            }
            _ => {
                let e = message_digest(&public, DEFAULT_ID, &challenge_message(body))?;
                let sig = self
                    .co_sign_digest(serial, share, &e, CosignPurpose::Sign, None)
                    .await?;
                signatures.push(ReplySignature {
                    name: "challenge".to_owned(),
                    signature: sig.to_der(),
                });
            }
        }
        if let ScanAction::Session { ttl_secs, .. } = &body.action {
            let ttl = (*ttl_secs).clamp(60, MAX_SESSION_SECS) as i64;
            let grant = SessionGrant {
                session_id: hex::encode(bidkey_crypto::rng::bytes::<16>()?),
                expires_at: self.now() + ttl,
                auto_confirm,
            };
            let session_key = to
                .reply_key
                .map(|k| scan_crypto::session_reply_key(k, &grant.session_id))
                .transpose()?;
            if let Some(k) = &session_key {
                self.keep_session_key(&grant.session_id, grant.expires_at, k)?;
            }
            self.scan.sessions.open(
                &grant.session_id,
                OpenSession {
                    serial: serial.to_owned(),
                    opened_by: to.platform.clone(),
                    reply_key: session_key,
                    expires_at: grant.expires_at,
                    auto_allowed: matches!(
                        body.action,
                        ScanAction::Session {
                            auto_confirm_allowed: true,
                            ..
                        }
                    ),
                },
            );
            if auto_confirm {
                self.scan.sessions.start_auto(
                    &grant.session_id,
                    serial,
                    share.clone(),
                    grant.expires_at,
                    self.now(),
                    self.auto_confirm_max_secs,
                );
            }
            session = Some(grant);
        }
        let reply = ScanReply {
            request_id: body.request_id.clone(),
            outcome: ReplyOutcome::Approved,
            reason: None,
            signer_cert: Some(cert.der.clone()),
            encryption_cert: match body.action {
                ScanAction::Bind { .. } | ScanAction::Login { .. } => {
                    self.encryption_cert_of(&cert)?
                }
                _ => None,
            },
            signatures,
            documents,
            file_keys: vec![],
            session: session.clone(),
            auto_confirmed,
            auth: None,
        };
        let signed_count = reply.signatures.len() + reply.documents.len();
        let sent = self.send_reply(body, reply, to.reply_key).await;
        if sent.is_err() {
            if let Some(s) = &session {
                self.scan.sessions.stop_auto(&s.session_id);
            }
        }
        sent?;
        let _ = self.wallet.log(
            self.now(),
            &format!(
                "scan {} {} for {}",
                body.action.kind().as_str(),
                body.request_id,
                body.origin
            ),
        );
        Ok(ScanDone {
            request_id: body.request_id.clone(),
            kind: body.action.kind(),
            signatures: signed_count,
            files_decrypted: 0,
            session,
            auto_confirmed,
        })
    }

    /// Unwrap each file key addressed to an encryption certificate on this phone.
    async fn answer_decrypt(
        &self,
        body: &ScanRequestBody,
        pin: &str,
        reply_key: Option<&[u8; 32]>,
        prefetched: Option<&Prefetched>,
    ) -> Result<ScanDone> {
        let ScanAction::Decrypt {
            opening_at, files, ..
        } = &body.action
        else {
            return Err(CoreError::InvalidInput { field: "kind" });
        };
        // The opening time is judged by the server's clock (each co-decryption session
        // carries it), never by this phone's, which its holder can set forward.
        let held = self.held_keys()?;
        let mut shares: HashMap<String, DeviceShare> = HashMap::new();
        let mut file_keys = Vec::new();
        for f in files.iter().filter(|f| held.contains(&f.recipient_serial)) {
            if !shares.contains_key(&f.recipient_serial) {
                let share = self
                    .wallet
                    .share_with_pin(&f.recipient_serial, pin, self.pin_kdf)
                    .await?;
                shares.insert(f.recipient_serial.clone(), share);
            }
            let ct = Sm2Ciphertext::from_der(&f.wrapped_key)?;
            let share = shares
                .get(&f.recipient_serial)
                .ok_or_else(|| CoreError::NotFound("key share".into()))?;
            // The session the fetch opened serves the first file of its key.
            let session = match prefetched {
                Some(p) if file_keys.is_empty() => p.usable_for(&f.recipient_serial, *opening_at),
                _ => None,
            };
            let unwrapped = self
                .co_decrypt_in(&f.recipient_serial, share, &ct, *opening_at, session)
                .await?;
            // Released only for the tender, platform and header it was wrapped for: a
            // mismatch ends the whole request with nothing sent to the platform (ADR 0017).
            let key = crate::scan::file_key::checked_key(&unwrapped, body, f)?;
            file_keys.push(ReplyFileKey {
                file_name: f.file_name.clone(),
                key: key.to_vec(),
            });
        }
        if file_keys.is_empty() {
            return Err(CoreError::NotFound(
                "an encryption certificate for these files on this phone".into(),
            ));
        }
        let n = file_keys.len();
        let reply = ScanReply {
            request_id: body.request_id.clone(),
            outcome: ReplyOutcome::Approved,
            reason: None,
            signer_cert: None,
            encryption_cert: None,
            signatures: vec![],
            documents: vec![],
            file_keys,
            session: None,
            auto_confirmed: false,
            auth: None,
        };
        self.send_reply(body, reply, reply_key).await?;
        Ok(ScanDone {
            request_id: body.request_id.clone(),
            kind: ScanKind::Decrypt,
            signatures: 0,
            files_decrypted: n,
            session: None,
            auto_confirmed: false,
        })
    }

    /// Seal `reply` to the platform's ephemeral key, MACed first under the reply key when
    /// there is one (the QR code's `k`, or the session's key derived from it; ADR 0016), and
    /// post it.
    async fn send_reply(
        &self,
        body: &ScanRequestBody,
        mut reply: ScanReply,
        reply_key: Option<&[u8; 32]>,
    ) -> Result<()> {
        if let Some(k) = reply_key {
            let bare = serde_json::to_vec(&reply.without_auth())
                .map_err(|e| CryptoError::Encoding(Cause::new(e)))?;
            reply.auth = Some(scan_crypto::reply_mac(k, &reply.request_id, &bare).to_vec());
        }
        let reply = &reply;
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(reply).map_err(|e| CryptoError::Encoding(Cause::new(e)))?,
        );
        let alg = match body.reply_key.alg {
            ReplyAlg::Sm2Sm4Gcm => scan_crypto::ReplyAlg::Sm2Sm4Gcm,
            ReplyAlg::P256Aes256Gcm => scan_crypto::ReplyAlg::P256Aes256Gcm,
        };
        let sealed = scan_crypto::seal_reply(
            alg,
            &body.reply_key.public_key,
            body.request_id.as_bytes(),
            &plain,
        )?;
        if sealed.ciphertext.len() > MAX_SEALED_REPLY {
            return Err(CoreError::InvalidInput {
                field: "reply size",
            });
        }
        let upload = ReplyUpload {
            outcome: reply.outcome,
            sealed: SealedReply {
                ephemeral: sealed.ephemeral,
                nonce: sealed.nonce.to_vec(),
                ciphertext: sealed.ciphertext,
            },
            session: reply.session.clone(),
        };
        let _: serde_json::Value = self
            .api
            .post(
                &format!("/v1/relay/requests/{}/reply", body.request_id),
                &upload,
            )
            .await?;
        Ok(())
    }

    /// Everything the phone checks of a platform's request before showing it. Returns the
    /// request and the platform's name as its certificate states it (the Bidkey CA puts the
    /// registered name there).
    async fn verify_request(
        &self,
        signed: &SignedScanRequest,
        expected_id: Option<&str>,
    ) -> Result<(ScanRequestBody, Option<String>, PlatformBinding)> {
        let (root, issuing) = self.ca_chain().await?;
        let at = u64::try_from(self.now()).unwrap_or(0);
        let (body, cert) =
            crate::scan::request::verify_signed_request(signed, &root, &issuing, at)?;
        // Revocation by the issuing CA's own signed CRL, not by the relay's word.
        let crl = Crl::from_der(&self.api.get_bytes("/v1/ca/crl").await?)
            .map_err(|_| server_error(ErrorCode::PlatformCertificateInvalid))?;
        crate::scan::request::check_not_revoked(&cert, &issuing, &crl, at)?;
        if expected_id.is_some_and(|id| id != body.request_id) {
            return Err(server_error(ErrorCode::ScanSignatureInvalid));
        }
        if body.expires_at <= self.now() {
            return Err(server_error(ErrorCode::ScanExpired));
        }
        let name = cert.subject_organization().ok().flatten();
        let platform = PlatformBinding::of(&body, &cert);
        Ok((body, name, platform))
    }

    /// The view of a verified request, remembered until confirmed or rejected.
    async fn remember_scan(
        &self,
        body: ScanRequestBody,
        certified_name: Option<String>,
        platform: PlatformBinding,
        reply_key: Option<zeroize::Zeroizing<[u8; 32]>>,
    ) -> Result<ScanView> {
        let cert = match &body.action {
            ScanAction::Decrypt { .. } => None,
            action => Some(self.signing_cert_for(action.uscc())?),
        };
        let decryptable_files = match &body.action {
            ScanAction::Decrypt { files, .. } => {
                let held = self.held_keys()?;
                files
                    .iter()
                    .filter(|f| held.contains(&f.recipient_serial))
                    .map(|f| f.file_name.clone())
                    .collect()
            }
            _ => vec![],
        };
        let documents = match (&body.action, &cert) {
            (ScanAction::Sign { documents, .. }, Some(c)) => {
                let seals = self.usable_seals(documents, c).await?;
                document_views(documents, &seals, &c.serial)?
            }
            _ => vec![],
        };
        let platform_name = match certified_name {
            Some(name) => name,
            None => self
                .platform(&body.platform_id)
                .await
                .map(|p| p.name)
                .unwrap_or_else(|_| body.platform_id.clone()),
        };
        let view = ScanView {
            request_id: body.request_id.clone(),
            kind: body.action.kind(),
            platform_id: body.platform_id.clone(),
            platform_name,
            origin: body.origin.clone(),
            verification_code: scan_crypto::verification_code(&body.nonce),
            expires_at: body.expires_at,
            session_id: body.session_id.clone(),
            action: body.action.clone(),
            documents,
            certificate: cert,
            decryptable_files,
        };
        lock(&self.scan.pending).insert(
            body.request_id.clone(),
            Pending {
                body,
                reply_key,
                platform,
                view: view.clone(),
                cosign_session: None,
            },
        );
        Ok(view)
    }

    /// The GB/T 38540 `SES_Signature` for sealing `doc` at `place`, when the server gives
    /// this account the seal as an approved electronic seal on the request's platform: the
    /// phone checks the seal maker's signature, that the seal lists the signing certificate
    /// and is valid at the server's time, builds `TBS_Sign` itself (the seal, that time, the
    /// document's digest as shown, a property string naming the document and the place) and
    /// co-signs it. A seal the CA has not approved gives none: its image alone is drawn.
    #[allow(clippy::too_many_arguments)]
    async fn seal_signature(
        &self,
        body: &ScanRequestBody,
        serial: &str,
        share: &Arc<DeviceShare>,
        signer: &Cert,
        public: &bidkey_crypto::sm2::Sm2PublicKey,
        doc: &DocumentToSign,
        place: &SealPlacement,
        server_time: i64,
    ) -> Result<Option<Vec<u8>>> {
        use bidkey_crypto::ses;
        let usable = self.usable_seals_on(&body.platform_id).await?;
        let Some(entry) = usable.iter().find(|e| e.seal.id == place.seal_id) else {
            return Ok(None);
        };
        let seal = ses::verify_seal(&entry.eseal)?;
        let at = u64::try_from(server_time).unwrap_or(0);
        if !seal.lists(signer) || !seal.valid_at(at) {
            return Err(CoreError::InvalidInput { field: "seal" });
        }
        let property = crate::scan::seal_property_info(doc, place);
        let tbs = ses::tbs_sign_der(&entry.eseal, at, &doc.digest, &property)?;
        let e = message_digest(public, DEFAULT_ID, &tbs)?;
        let sig = self
            .co_sign_digest(serial, share, &e, CosignPurpose::Sign, None)
            .await?;
        Ok(Some(ses::assemble_signature(&tbs, signer, &sig.to_der())?))
    }

    /// The live seals of the signing certificate's enterprise that `documents` name, with
    /// their images; none asked for, none fetched. A personal certificate has no seals.
    async fn usable_seals(
        &self,
        documents: &[DocumentToSign],
        cert: &StoredCert,
    ) -> Result<Vec<UsableSeal>> {
        let wanted: Vec<&str> = documents
            .iter()
            .filter_map(|d| d.seal.as_ref().map(|s| s.seal_id.as_str()))
            .collect();
        let Some(eid) = cert.enterprise_id.as_deref().filter(|_| !wanted.is_empty()) else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        for seal in self.seals(eid).await? {
            if wanted.contains(&seal.id.as_str()) {
                let image_png = self.seal_image(eid, &seal.id).await?;
                out.push(UsableSeal { seal, image_png });
            }
        }
        Ok(out)
    }

    /// Keep a session's reply key in the wallet, sealed by the device keystore, until the
    /// session ends or expires.
    fn keep_session_key(&self, session_id: &str, expires_at: i64, key: &[u8; 32]) -> Result<()> {
        let sealed = self.wallet.seal(key)?;
        self.wallet.set_meta(
            &format!("{SESSION_KEY_PREFIX}{session_id}"),
            &format!("{expires_at}:{}", hex::encode(sealed)),
        )
    }

    /// The reply key of a session this wallet opened (in another process, or before a
    /// restart); none once it expired.
    fn stored_session_key(&self, session_id: &str) -> Result<Option<zeroize::Zeroizing<[u8; 32]>>> {
        let name = format!("{SESSION_KEY_PREFIX}{session_id}");
        let Some(value) = self.wallet.meta(&name)? else {
            return Ok(None);
        };
        let bad = || CoreError::Storage(StorageError::Damaged("session key"));
        let (expires_at, sealed) = value.split_once(':').ok_or_else(bad)?;
        if expires_at.parse::<i64>().map_err(|_| bad())? <= self.now() {
            self.wallet.delete_meta(&name)?;
            return Ok(None);
        }
        let plain = self
            .wallet
            .open_sealed(&hex::decode(sealed).map_err(|_| bad())?)?;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        if plain.len() != key.len() {
            return Err(bad());
        }
        key.copy_from_slice(&plain);
        Ok(Some(key))
    }

    fn pending(&self, request_id: &str) -> Result<Pending> {
        lock(&self.scan.pending)
            .get(request_id)
            .cloned()
            .ok_or_else(|| CoreError::NotFound(format!("scan request {request_id}")))
    }

    fn forget(&self, request_id: &str) {
        lock(&self.scan.pending).remove(request_id);
    }

    fn auto_share(&self, session_id: &str) -> Option<(String, Arc<DeviceShare>)> {
        self.scan.sessions.auto_share(session_id, self.now())
    }

    /// The valid signing certificate to use: of the enterprise with `uscc` when the platform
    /// names one, else an enterprise certificate before a personal one.
    fn signing_cert_for(&self, uscc: Option<&str>) -> Result<StoredCert> {
        let at = self.now();
        let mut certs: Vec<StoredCert> = self
            .wallet
            .certs()?
            .into_iter()
            .filter(|c| {
                c.usage == "signing"
                    && c.status == "valid"
                    && c.not_before <= at
                    && at < c.not_after
            })
            .collect();
        certs.sort_by_key(|c| (c.enterprise_id.is_none(), -c.not_after));
        let found = match uscc {
            Some(u) => certs.into_iter().find(|c| {
                Cert::from_der(&c.der)
                    .ok()
                    .and_then(|x| x.subject_uscc().ok().flatten())
                    .is_some_and(|x| x == u)
            }),
            None => certs.into_iter().next(),
        };
        found.ok_or_else(|| {
            CoreError::NotFound("a valid signing certificate for this request".into())
        })
    }

    fn stored_cert(&self, serial: &str) -> Result<StoredCert> {
        self.wallet
            .certs()?
            .into_iter()
            .find(|c| c.serial == serial)
            .ok_or_else(|| CoreError::NotFound(format!("certificate {serial}")))
    }

    /// The valid encryption certificate of the same pair as `signing`.
    fn encryption_cert_of(&self, signing: &StoredCert) -> Result<Option<Vec<u8>>> {
        Ok(self
            .wallet
            .certs()?
            .into_iter()
            .find(|c| {
                c.pair_id == signing.pair_id && c.usage == "encryption" && c.status == "valid"
            })
            .map(|c| c.der))
    }

    /// Serials of every key share on this phone (current and past encryption keys).
    fn held_keys(&self) -> Result<Vec<String>> {
        Ok(self
            .wallet
            .shares()?
            .into_iter()
            .map(|s| s.key_id)
            .collect())
    }

    /// An enterprise certificate may be used on a platform only under a live grant
    /// (授权管理); asked before the PIN is used, so a revoked grant is refused clearly.
    async fn check_grant(&self, body: &ScanRequestBody, cert: &StoredCert) -> Result<()> {
        let (Some(enterprise_id), Some(account)) = (&cert.enterprise_id, self.account()?) else {
            return Ok(());
        };
        let check: GrantCheck = self
            .api
            .get(&format!(
                "/v1/grants/check?platform_id={}&account_id={}&enterprise_id={}",
                crate::flows::query_value(&body.platform_id),
                crate::flows::query_value(&account.id),
                crate::flows::query_value(enterprise_id),
            ))
            .await?;
        if check.granted {
            Ok(())
        } else {
            Err(server_error(ErrorCode::GrantMissing))
        }
    }

    /// The Bidkey CA's root and issuing certificates, fetched once and kept.
    pub(crate) async fn ca_chain(&self) -> Result<(Cert, Cert)> {
        let cached = self.wallet.meta(CA_CACHE_KEY)?;
        let chain: CaChain = match cached.and_then(|s| serde_json::from_str(&s).ok()) {
            Some(c) => c,
            None => {
                let c: CaChain = self.api.get("/v1/ca/chain").await?;
                let json =
                    serde_json::to_string(&c).map_err(|e| StorageError::json("CA list", e))?;
                self.wallet.set_meta(CA_CACHE_KEY, &json)?;
                c
            }
        };
        Ok((
            Cert::from_der(&chain.root_der)?,
            Cert::from_der(&chain.issuing_der)?,
        ))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps behind; keep using them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The error a server refusal would give, for checks the phone makes itself.
fn server_error(code: ErrorCode) -> CoreError {
    CoreError::from(bidkey_protocol::ErrorBody::new(code))
}
