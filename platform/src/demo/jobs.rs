//! Scan jobs of the demo: each QR shown on a page is a job that long-polls the relay in the
//! background, then opens and verifies the reply and applies it (log in, record the bid's
//! signature, open the bid file).

use super::{Bid, Bidder, Demo, OpenedInfo, SignatureInfo, unix_now};
use crate::bidfile::{self, FileKey};
use crate::error::{PlatformError, Result};
use crate::scan::verify::VerifiedReply;
use crate::scan::{PendingScan, ScanResult};
use bidkey_crypto::sm3::Sm3Hasher as Sm3;
use bidkey_protocol::scan::{RelayStatus, ScanAction};
use serde::Serialize;
use std::sync::Arc;

/// What a job is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    Login,
    SignBid {
        bid_id: String,
    },
    OpenBid {
        bid_id: String,
        /// For a k-of-n bid: whose share was asked for.
        #[serde(skip_serializing_if = "Option::is_none")]
        recipient: Option<String>,
    },
}

/// Where a job stands, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a scan.
    Waiting,
    /// Scanned; the bidder is confirming on the phone.
    Scanned,
    /// Verified and applied.
    Done,
    /// Refused (by the bidder, by a check, or expired).
    Failed,
}

#[derive(Debug)]
pub(crate) struct Job {
    pub pending: Arc<PendingScan>,
    pub purpose: Purpose,
    pub browser: String,
    pub state: JobState,
    pub message: String,
}

/// A job as the JSON API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub request_id: String,
    pub purpose: Purpose,
    pub state: JobState,
    pub message: String,
    /// The four digits the phone shows too.
    pub code: String,
    pub expires_at: i64,
    /// The QR code's text right now (it changes every second).
    pub qr_text: String,
}

impl Job {
    pub fn view(&self) -> JobView {
        JobView {
            request_id: self.pending.request_id().to_owned(),
            purpose: self.purpose.clone(),
            state: self.state.clone(),
            message: self.message.clone(),
            code: self.pending.verification_code(),
            expires_at: self.pending.body.expires_at,
            qr_text: self.pending.current_qr_uri(),
        }
    }
}

impl Demo {
    /// Create a request for `action` and start waiting for its reply.
    pub(crate) async fn start_job(
        self: &Arc<Self>,
        browser: &str,
        purpose: Purpose,
        action: ScanAction,
    ) -> Result<JobView> {
        let pending = Arc::new(self.client.create(action, 120).await?);
        let job = Job {
            pending: pending.clone(),
            purpose,
            browser: browser.to_owned(),
            state: JobState::Waiting,
            message: "请使用Bidkey扫描二维码".into(),
        };
        let view = job.view();
        self.lock()
            .jobs
            .insert(pending.request_id().to_owned(), job);
        let demo = self.clone();
        tokio::spawn(async move { demo.follow(pending).await });
        Ok(view)
    }

    pub fn job(&self, request_id: &str) -> Option<JobView> {
        self.lock().jobs.get(request_id).map(Job::view)
    }

    fn set_state(&self, request_id: &str, state: JobState, message: String) {
        if let Some(j) = self.lock().jobs.get_mut(request_id) {
            j.state = state;
            j.message = message;
        }
    }

    /// Long-poll until answered or expired, then apply the verified reply.
    async fn follow(self: Arc<Self>, pending: Arc<PendingScan>) {
        let id = pending.request_id().to_owned();
        let outcome = loop {
            match self.client.poll(&pending, 25).await {
                Ok(r) => match r.status {
                    RelayStatus::Pending => {}
                    RelayStatus::Scanned => {
                        self.set_state(&id, JobState::Scanned, "已扫码，请在手机上确认".into())
                    }
                    RelayStatus::Expired => {
                        break Err(PlatformError::Server("二维码已过期".into()));
                    }
                    RelayStatus::Answered => match r.sealed {
                        Some(s) => break pending.open(&s),
                        None => break Err(PlatformError::Server("empty reply".into())),
                    },
                },
                Err(e) => {
                    if unix_now() > pending.body.expires_at + 5 {
                        break Err(e);
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        };
        let applied = match outcome {
            Ok(ScanResult::Approved(reply)) => self.apply(&id, &pending, &reply).await,
            Ok(ScanResult::Rejected { reason }) => Err(PlatformError::Rejected(reason)),
            Err(e) => Err(e),
        };
        match applied {
            Ok(message) => self.set_state(&id, JobState::Done, message),
            Err(PlatformError::Rejected(reason)) => self.set_state(
                &id,
                JobState::Failed,
                format!(
                    "投标人已拒绝{}",
                    reason.map(|r| format!("：{r}")).unwrap_or_default()
                ),
            ),
            Err(e) => self.set_state(&id, JobState::Failed, format!("验证失败：{e}")),
        }
    }

    async fn apply(
        &self,
        request_id: &str,
        pending: &PendingScan,
        reply: &bidkey_protocol::scan::ScanReply,
    ) -> Result<String> {
        let (purpose, browser) = {
            let inner = self.lock();
            let j = inner
                .jobs
                .get(request_id)
                .ok_or(PlatformError::Server("unknown job".into()))?;
            (j.purpose.clone(), j.browser.clone())
        };
        let verified = self.verifier.check_reply(&pending.body, reply).await?;
        match purpose {
            Purpose::Login => self.logged_in(&browser, &verified),
            Purpose::SignBid { bid_id } => self.bid_signed(&bid_id, &verified),
            Purpose::OpenBid { bid_id, recipient } => {
                let by = super::api::bidder_of(self, &browser)
                    .map(|b| b.name)
                    .unwrap_or_else(|| "扫码人员".into());
                match recipient {
                    None => self.bid_opened(&bid_id, &verified, &by),
                    Some(serial) => self.share_received(&bid_id, &serial, &verified, &by),
                }
            }
        }
    }

    fn logged_in(&self, browser: &str, v: &VerifiedReply) -> Result<String> {
        let signer = v.signer.as_ref().ok_or(PlatformError::BadSignature)?;
        let bidder = Bidder {
            uscc: signer.uscc.clone(),
            name: signer
                .organization
                .clone()
                .unwrap_or_else(|| signer.common_name.clone()),
            person: Some(signer.common_name.clone()),
            signing_serial: signer.serial.clone(),
            // Verified by ReplyVerifier to be ours and the signer's.
            encryption_cert: v.encryption_cert.clone(),
            logged_in_at: unix_now(),
        };
        let msg = format!("登录成功：{}", bidder.name);
        self.lock()
            .browsers
            .insert(browser.to_owned(), Some(bidder));
        Ok(msg)
    }

    fn bid_signed(&self, bid_id: &str, v: &VerifiedReply) -> Result<String> {
        let signer = v.signer.as_ref().ok_or(PlatformError::BadSignature)?;
        let doc = v.documents.first().ok_or(PlatformError::BadSignature)?;
        let mut inner = self.lock();
        let prepared = inner.prepared.remove(bid_id);
        // In a sealed PDF the CMS also carries the GB/T 38540 seal signature (ADR 0021).
        let cms = match (&prepared, &doc.ses_signature) {
            (Some((_, p)), Some(ses)) => bidkey_crypto::cms::add_ses_signature_to_signed_data(
                &doc.signed_data,
                ses,
                bidkey_crypto::cms::Content::DetachedDigest {
                    algorithm: p.digest_algorithm,
                    digest: &p.digest,
                },
            )?,
            _ => doc.signed_data.clone(),
        };
        let bid = find_bid(&mut inner.bids, bid_id)?;
        if bid.bidder.uscc != signer.uscc {
            return Err(PlatformError::UsccMismatch);
        }
        bid.signature = Some(SignatureInfo {
            signer: signer.common_name.clone(),
            serial: signer.serial.clone(),
            seal_id: doc.seal.as_ref().map(|s| s.seal_id.clone()),
            signature: hex::encode(&cms),
            signed_at: unix_now(),
            signing_time: doc.signing_time,
            timestamp_time: doc.timestamp_time,
            ses_signature: doc.ses_signature.as_deref().map(hex::encode),
            seal: doc.seal_report.clone(),
        });
        drop(inner);
        if let Some((path, prepared)) = prepared {
            self.finish_pdf(bid_id, &path, &prepared, &cms)?;
        }
        let mut inner = self.lock();
        let bid = find_bid(&mut inner.bids, bid_id)?;
        Ok(match &doc.seal_report {
            Some(seal) => format!(
                "签章成功：{}（证书 {}；电子印章 {}，esID {}，制章者 {}，签章人在印章证书列表中）",
                bid.file_name, signer.serial, seal.name, seal.es_id, seal.maker
            ),
            None => format!("签章成功：{}（证书 {}）", bid.file_name, signer.serial),
        })
    }

    /// Put the CMS into the prepared PDF and verify the sealed file as any relying party
    /// would (pinned root, timestamp, nothing changed after).
    fn finish_pdf(
        &self,
        bid_id: &str,
        path: &std::path::Path,
        prepared: &crate::pdf::Prepared,
        cms: &[u8],
    ) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        crate::pdf::finish(&mut f, prepared, cms)?;
        let report = crate::pdf::verify(
            std::io::BufReader::new(std::fs::File::open(path)?),
            &crate::pdf::verify::VerifyOptions {
                anchor: Some(self.verifier.anchor()),
                tsa_anchor: None,
                crls: &[],
                now: u64::try_from(unix_now()).unwrap_or(0),
            },
        )?;
        let valid = report.all_valid();
        let mut inner = self.lock();
        find_bid(&mut inner.bids, bid_id)?.sealed_pdf = Some(crate::demo::SealedPdfInfo {
            path: path.to_path_buf(),
            valid,
            report,
        });
        if valid {
            Ok(())
        } else {
            Err(PlatformError::Server("盖章后的 PDF 未通过验证".into()))
        }
    }

    fn bid_opened(&self, bid_id: &str, v: &VerifiedReply, by: &str) -> Result<String> {
        let file_name = {
            let mut inner = self.lock();
            find_bid(&mut inner.bids, bid_id)?.file_name.clone()
        };
        let key = v
            .file_keys
            .iter()
            .find(|k| k.file_name == file_name)
            .ok_or(PlatformError::WrongKey)?;
        let key = FileKey::from_bytes(&key.key)?;
        self.open_with_key(bid_id, &key, super::OpenedHow::OnlineScan, by)
    }

    /// A k-of-n share arrived: keep it (in memory, until the bid opens) and open the bid once
    /// the threshold is reached; say how many are still needed otherwise.
    fn share_received(
        &self,
        bid_id: &str,
        serial: &str,
        v: &VerifiedReply,
        by: &str,
    ) -> Result<String> {
        let (file_name, path) = {
            let mut inner = self.lock();
            let bid = find_bid(&mut inner.bids, bid_id)?;
            (bid.file_name.clone(), bid.encrypted_path.clone())
        };
        let share = v
            .file_keys
            .iter()
            .find(|k| k.file_name == file_name)
            .ok_or(PlatformError::WrongKey)?;
        let shares = {
            let mut inner = self.lock();
            let bid = find_bid(&mut inner.bids, bid_id)?;
            bid.shares.retain(|(s, _)| s != serial);
            bid.shares.push((serial.to_owned(), share.key.clone()));
            bid.share_holders.retain(|n| n != by);
            bid.share_holders.push(by.to_owned());
            bid.shares.clone()
        };
        let header = {
            let mut f = std::io::BufReader::new(std::fs::File::open(&path)?);
            bidfile::BidFileHeader::read_from(&mut f)?
        };
        match bidfile::combine_shares(&header, &shares) {
            Ok(key) => {
                let holders = {
                    let mut inner = self.lock();
                    let bid = find_bid(&mut inner.bids, bid_id)?;
                    bid.shares.clear();
                    bid.share_holders.join("、")
                };
                self.open_with_key(bid_id, &key, super::OpenedHow::KOfN, &holders)
            }
            Err(bidfile::BidFileError::NotEnoughShares { have, need }) => {
                let words =
                    crate::opening::failure_words(&PlatformError::NotEnoughShares { have, need });
                Ok(format!("已收到 {by} 的解密份额；{}", words.zh))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The threshold of a stored bid (1: any one recipient opens it).
    pub(crate) fn threshold_of(&self, bid: &Bid) -> Result<u8> {
        Ok(self.header_of(bid)?.threshold)
    }

    /// The header of a stored bid.
    pub(crate) fn header_of(&self, bid: &Bid) -> Result<bidfile::BidFileHeader> {
        let mut f = std::io::BufReader::new(std::fs::File::open(&bid.encrypted_path)?);
        Ok(bidfile::BidFileHeader::read_from(&mut f)?)
    }

    /// Remember why opening a bid failed, for the hall.
    pub(crate) fn record_failure(&self, bid_id: &str, words: crate::opening::Words) {
        if let Ok(bid) = find_bid(&mut self.lock().bids, bid_id) {
            bid.failure = Some(words);
        }
    }

    /// The opening hall's row for a bid: the SDK's words over what the demo knows, with the
    /// server's pre-authorisation state for the file (asked, signed, without key material).
    pub(crate) async fn hall_row(&self, bid: &Bid) -> crate::hall::HallRow {
        let header = self.header_of(bid).ok();
        let preauth = match &header {
            Some(h) => match h.binding_hash() {
                Ok(b) => self
                    .signed
                    .preauth_state(self.client.platform_id(), &hex::encode(b))
                    .await
                    .ok(),
                Err(_) => None,
            },
            None => None,
        };
        let able = self.openers_for(&bid.bidder);
        let check = bid.self_check.as_ref().map(|c| crate::hall::SelfCheckSeen {
            ok: c.ok,
            checked_at: c.checked_at,
            device: c.device.clone(),
            reason_zh: c.reason.clone(),
            reason_en: None,
        });
        let opened = bid.opened.as_ref().map(|o| crate::hall::OpenedSeen {
            how: o.how,
            by: o.by.clone(),
            opened_at: o.opened_at,
            intact: o.sm3_matches,
        });
        crate::hall::row(&crate::hall::HallFacts {
            recipients: &bid.recipient_serials,
            threshold: bid.threshold,
            able: Some(&able),
            self_check: check.as_ref(),
            preauth: preauth.as_ref(),
            opened: opened.as_ref(),
            failure: bid.failure.as_ref(),
            shares_received: bid.share_holders.len(),
        })
    }

    /// Open a stored bid with its file key, however it came, and record by whom and how.
    pub(crate) fn open_with_key(
        &self,
        bid_id: &str,
        key: &FileKey,
        how: super::OpenedHow,
        by: &str,
    ) -> Result<String> {
        let (path, file_name, sm3) = {
            let mut inner = self.lock();
            let bid = find_bid(&mut inner.bids, bid_id)?;
            (
                bid.encrypted_path.clone(),
                bid.file_name.clone(),
                bid.sm3.clone(),
            )
        };
        // The file opened is the file the bidder signed: its digest at upload.
        let signed_file = sm3_of_file(&path)? == sm3;
        let out_path = self.data_dir.join("opened").join(format!("{bid_id}.bin"));
        let mut input = std::io::BufReader::new(std::fs::File::open(&path)?);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path)?);
        // Every chunk authenticates under the key the header commits to, or this fails.
        bidfile::decrypt(key, &mut input, &mut out, &mut |_, _| {})?;
        let matches = signed_file;
        let mut inner = self.lock();
        let bid = find_bid(&mut inner.bids, bid_id)?;
        bid.opened = Some(OpenedInfo {
            opened_at: unix_now(),
            sm3_matches: matches,
            how,
            by: by.to_owned(),
            path: out_path,
        });
        bid.failure = None;
        if matches {
            Ok(format!("解密成功：{file_name}，与投标时签章的文件一致"))
        } else {
            Err(PlatformError::Server(
                "保存的密文与投标时签章的摘要不符".into(),
            ))
        }
    }

    /// Store an uploaded bid the bidder encrypted (issue 17): the platform never sees the
    /// plaintext. The header must be for this tender and this platform and wrapped to at
    /// least one encryption certificate that could answer here (the bidder's, or a colleague
    /// of the same enterprise known from a login); anything else is refused now, while the
    /// bidder can still fix it, rather than failing at the opening.
    pub(crate) fn store_bid(
        &self,
        bidder: Bidder,
        file_name: &str,
        encrypted: &std::path::Path,
    ) -> Result<Bid> {
        let header = {
            let mut f = std::io::BufReader::new(std::fs::File::open(encrypted)?);
            bidfile::BidFileHeader::read_from(&mut f)?
        };
        let openers = self.openers_for(&bidder);
        bidfile::check_upload(
            &header,
            &self.tender.id,
            self.client.platform_id(),
            &openers,
        )
        .map_err(PlatformError::UploadRefused)?;
        let id = hex::encode(bidkey_crypto::rng::bytes::<8>().map_err(PlatformError::Crypto)?);
        let size = std::fs::metadata(encrypted)?.len();
        let sm3 = sm3_of_file(encrypted)?;
        let encrypted_path = self.data_dir.join("bids").join(format!("{id}.bid"));
        std::fs::copy(encrypted, &encrypted_path)?;
        let recipient_serials = header.recipient_serials();
        let bid = Bid {
            id,
            bidder,
            file_name: file_name.to_owned(),
            size,
            sm3,
            recipient_serial: header.recipient_serial().to_owned(),
            recipient_serials,
            encrypted_path,
            document: None,
            signature: None,
            opened: None,
            sealed_pdf: None,
            self_check: None,
            threshold: header.threshold,
            shares: Vec::new(),
            share_holders: Vec::new(),
            document_only: false,
            failure: None,
        };
        self.lock().bids.push(bid.clone());
        Ok(bid)
    }

    /// Keep a document the bidder seals in the clear (a clarification reply): no bid-file
    /// header, no recipients; what is signed is the file itself (or a PDF's ByteRange).
    pub(crate) fn store_document(
        &self,
        bidder: Bidder,
        file_name: &str,
        plain: &std::path::Path,
    ) -> Result<Bid> {
        let id = hex::encode(bidkey_crypto::rng::bytes::<8>().map_err(PlatformError::Crypto)?);
        let size = std::fs::metadata(plain)?.len();
        let sm3 = sm3_of_file(plain)?;
        let path = self.data_dir.join("bids").join(format!("{id}.doc"));
        std::fs::copy(plain, &path)?;
        let bid = Bid {
            id,
            bidder,
            file_name: file_name.to_owned(),
            size,
            sm3,
            recipient_serial: String::new(),
            recipient_serials: Vec::new(),
            encrypted_path: path,
            document: None,
            signature: None,
            opened: None,
            sealed_pdf: None,
            self_check: None,
            threshold: 1,
            shares: Vec::new(),
            share_holders: Vec::new(),
            document_only: true,
            failure: None,
        };
        self.lock().bids.push(bid.clone());
        Ok(bid)
    }

    /// Serials of encryption certificates that could answer a decrypt request for a bid of
    /// `bidder`'s enterprise: theirs and those of colleagues seen at a login.
    pub(crate) fn openers_for(&self, bidder: &Bidder) -> Vec<String> {
        let inner = self.lock();
        let mut out: Vec<String> = std::iter::once(bidder)
            .chain(
                inner
                    .browsers
                    .values()
                    .flatten()
                    .filter(|b| b.uscc.is_some() && b.uscc == bidder.uscc),
            )
            .filter_map(|b| b.encryption_cert.as_deref())
            .filter_map(|der| bidkey_crypto::x509::Cert::from_der(der).ok())
            .map(|c| c.serial_hex())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub(crate) fn remember_document(
        &self,
        bid_id: &str,
        doc: bidkey_protocol::scan::DocumentToSign,
    ) {
        if let Some(b) = self.lock().bids.iter_mut().find(|b| b.id == bid_id) {
            b.document = Some(doc);
        }
    }

    /// Verify a bid's stored signature again, as things stand now (grant, revocation).
    pub async fn reverify(&self, bid_id: &str) -> Result<String> {
        let (sig, uscc, sm3) = {
            let mut inner = self.lock();
            let bid = find_bid(&mut inner.bids, bid_id)?;
            (
                bid.signature
                    .clone()
                    .ok_or(PlatformError::BadReply("the bid is not signed"))?,
                bid.bidder.uscc.clone(),
                // A sealed PDF's signature covers its ByteRange: the digest the platform
                // computed when it prepared the file; otherwise the file's own SM3.
                match (&bid.sealed_pdf, &bid.document) {
                    (Some(_), Some(doc)) => hex::encode(&doc.digest),
                    _ => bid.sm3.clone(),
                },
            )
        };
        let signed_data =
            hex::decode(&sig.signature).map_err(|_| PlatformError::Malformed("signature"))?;
        // The platform's own digest, not one the signature names.
        let digest = hex::decode(&sm3).map_err(|_| PlatformError::Malformed("digest"))?;
        let (v, at) = self
            .verifier
            .recheck(
                &signed_data,
                bidkey_protocol::scan::DigestAlg::Sm3,
                &digest,
                uscc.as_deref(),
            )
            .await?;
        Ok(format!(
            "签名有效：{}（证书 {}，时间戳 {}）",
            v.common_name.unwrap_or_default(),
            v.serial,
            at
        ))
    }

    /// Record the bidder's self-check of a stored bid. It must name the stored file (its
    /// binding hash) and come from a bidder of the same enterprise.
    pub(crate) fn record_self_check(
        &self,
        bid_id: &str,
        reporter: &Bidder,
        binding_hash: &str,
        info: super::SelfCheckInfo,
    ) -> Result<()> {
        let path = {
            let mut inner = self.lock();
            let bid = find_bid(&mut inner.bids, bid_id)?;
            if bid.bidder.uscc.is_none() || bid.bidder.uscc != reporter.uscc {
                return Err(PlatformError::UsccMismatch);
            }
            bid.encrypted_path.clone()
        };
        let mut f = std::io::BufReader::new(std::fs::File::open(&path)?);
        let header = bidfile::BidFileHeader::read_from(&mut f)?;
        if hex::encode(header.binding_hash()?) != binding_hash {
            return Err(PlatformError::BadReply(
                "the self-check was of another file",
            ));
        }
        let mut inner = self.lock();
        find_bid(&mut inner.bids, bid_id)?.self_check = Some(info);
        Ok(())
    }

    /// The decrypt-request entries of a bid: one per recipient; whoever of them scans
    /// answers with the key they hold.
    pub(crate) fn wrapped_keys_of(
        &self,
        bid: &Bid,
    ) -> Result<Vec<bidkey_protocol::scan::WrappedFileKey>> {
        let mut f = std::io::BufReader::new(std::fs::File::open(&bid.encrypted_path)?);
        let header = bidfile::BidFileHeader::read_from(&mut f)?;
        Ok(header.wrapped_file_keys(&bid.file_name)?)
    }
}

fn find_bid<'a>(bids: &'a mut [Bid], id: &str) -> Result<&'a mut Bid> {
    bids.iter_mut()
        .find(|b| b.id == id)
        .ok_or(PlatformError::Server("no such bid".into()))
}

/// SM3 of a file, hex.
fn sm3_of_file(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let mut sm3 = Sm3::new();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sm3.update(&buf[..n]);
    }
    Ok(hex::encode(sm3.finish()))
}
