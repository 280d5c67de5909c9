//! 投标文件加密: the bidder encrypts a bid file before upload (issue 17, ADR 0026), to the
//! encryption certificates of every member its enterprise granted for the platform (the
//! server says who), for one tender on that platform. The platform receives only the
//! ciphertext and checks its header; any one of the recipients opens it at the opening.

use super::id_segment;
use crate::Bidkey;
use crate::error::{Cause, CoreError, CryptoError, Result, StorageError};
use bidkey_bidfile::{self as bidfile, BidFileError, EncryptOptions};
use bidkey_crypto::x509::Cert;
use bidkey_protocol::platforms::{BidRecipient, NewPreauth, Preauth};
use std::io::{Read, Write};

/// What to encrypt a bid for.
#[derive(Debug, Clone)]
pub struct BidTarget {
    pub enterprise_id: String,
    pub platform_id: String,
    pub tender_id: String,
    /// The name the platform will show (usually the plaintext file's name).
    pub file_name: String,
    /// `None`: any one recipient opens the bid. `Some(k)`: any k of them together (k-of-n
    /// Shamir shares of the file key, one wrapped to each).
    pub threshold: Option<u8>,
}

/// What [`Bidkey::encrypt_bid`] wrote.
#[derive(Debug, Clone)]
pub struct EncryptedBid {
    /// Whom the file key is wrapped to, in the header's order.
    pub recipients: Vec<BidRecipient>,
    /// The header's binding hash, hex: what every wrapped key is bound to.
    pub binding_hash: String,
    pub plaintext_len: u64,
    pub chunks: u64,
}

/// What a passed self-check proved about one bid file (issue 17 §3): on this phone, the
/// wrapped key for `recipient_serial` co-decrypts, carries this file's tender, platform and
/// header, and (one-recipient files) gives a key that matches the header's commitment and
/// authenticates every chunk. The key never left the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfCheck {
    pub recipient_serial: String,
    pub tender_id: String,
    pub platform_id: String,
    /// The header's binding hash, hex: names the exact file checked.
    pub binding_hash: String,
    /// Plaintext bytes that authenticated (0 for a k-of-n share, which alone opens nothing).
    pub plaintext_len: u64,
    /// True for a k-of-n file: this phone's share unwrapped for this file; the key itself
    /// needs the others.
    pub share_only: bool,
    /// Unix seconds (this phone's clock) when checked.
    pub checked_at: i64,
}

/// Why a self-check failed, in words for the bidder (zh and en).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{en}")]
pub struct SelfCheckFailure {
    pub zh: String,
    pub en: String,
}

impl SelfCheckFailure {
    fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// A bid-file problem in words.
    pub fn of(e: &BidFileError) -> Self {
        match e {
            BidFileError::NotABidFile
            | BidFileError::UnsupportedVersion(_)
            | BidFileError::MalformedHeader(_) => Self::new(
                format!("这不是可用的 Bidkey 投标文件（{e}），请重新加密并上传"),
                format!("this is not a usable Bidkey bid file ({e}); encrypt and upload it again"),
            ),
            BidFileError::WrongKey | BidFileError::HeaderTampered => Self::new(
                "文件头已被改动或损坏，开标时将无法解密，请重新上传",
                "the file's header was changed or damaged; it would not open at the opening: upload it again",
            ),
            BidFileError::ChunkTampered { index } | BidFileError::ChunkReordered { index, .. } => {
                Self::new(
                    format!("上传的文件第 {index} 块已损坏，开标时将无法解密，请重新上传"),
                    format!(
                        "part {index} of the uploaded file is damaged; it would not open at the opening: upload it again"
                    ),
                )
            }
            BidFileError::Truncated { .. } | BidFileError::TrailingData => Self::new(
                "上传的文件不完整或多出数据，开标时将无法解密，请重新上传",
                "the uploaded file is incomplete or has extra data; it would not open at the opening: upload it again",
            ),
            e => Self::new(format!("自检失败：{e}"), format!("self-check failed: {e}")),
        }
    }
}

impl From<BidFileError> for CoreError {
    fn from(e: BidFileError) -> Self {
        match e {
            BidFileError::Io(e) => CoreError::Storage(StorageError::io("bid file", e)),
            e => CoreError::Crypto(CryptoError::BidFile(Cause::new(e))),
        }
    }
}

/// Parse the server's recipients: each certificate must be DER with the serial the server
/// named (a list the bidder can show by name before encrypting).
pub fn recipient_certs(recipients: &[BidRecipient]) -> Result<Vec<Cert>> {
    recipients
        .iter()
        .map(|r| {
            let cert = Cert::from_der(&r.cert_der)
                .map_err(|_| CoreError::check("a recipient certificate is malformed"))?;
            if !cert.serial_hex().eq_ignore_ascii_case(&r.serial) {
                return Err(CoreError::check(
                    "a recipient certificate does not have the serial the server named",
                ));
            }
            Ok(cert)
        })
        .collect()
}

impl Bidkey {
    /// 预授权开标 (issue 17 §4, ADR 0027): authorise, with the PIN, the opening of the bid
    /// file at `path` on its platform for its tender at or after `opening_at`, without this
    /// phone at the opening. The phone co-decrypts its wrapped key, checks it against the
    /// file (purpose, commitment, MAC), splits `K = K1 ⊕ K2` with a fresh random K1, seals
    /// K1 to the platform's certificate (checked: chain to the Bidkey CA, platform profile,
    /// CN = the platform's registered origin) and deposits both with the server, bound to
    /// this file's binding hash. Neither the server nor the platform alone learns K before
    /// the server releases at `opening_at` by its own clock. For a k-of-n file the phone
    /// pre-authorises its own share the same way, and the server releases the shares only
    /// once k share holders have.
    pub async fn preauthorize_opening(
        &self,
        path: &std::path::Path,
        pin: &str,
        opening_at: i64,
    ) -> Result<Preauth> {
        use bidkey_crypto::x509::{RequiredUsage, verify_chain_without_revocation};
        let io = |e: std::io::Error| CoreError::Storage(StorageError::io("bid file", e));
        let header = {
            let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
            bidfile::BidFileHeader::read_from(&mut f)?
        };
        // A k-of-n file: this phone holds a Shamir share, not K; it pre-authorises its own
        // share, and the server releases the shares only once k holders have (ADR 0027).
        let k_of_n = header.threshold >= 2;
        let held: Vec<String> = self
            .local_certificates()?
            .into_iter()
            .filter(|c| c.usage == "encryption")
            .map(|c| c.serial)
            .collect();
        let recipient = header
            .recipients
            .iter()
            .find(|r| held.contains(&r.serial))
            .ok_or_else(|| CoreError::NotFound("an encryption certificate of this bid".into()))?;
        // The platform's certificate, checked before anything is sealed to it.
        let pid = id_segment(&header.platform_id, "platform")?;
        let platform: bidkey_protocol::platforms::Platform =
            self.api.get(&format!("/v1/platforms/{pid}")).await?;
        let pc: bidkey_protocol::certs::PlatformCert = self
            .api
            .get(&format!("/v1/platforms/{pid}/certificate"))
            .await?;
        let cert = Cert::from_der(&pc.cert_der)
            .map_err(|_| CoreError::check("the platform certificate is malformed"))?;
        let (root, issuing) = self.ca_chain().await?;
        verify_chain_without_revocation(
            &cert,
            std::slice::from_ref(&issuing),
            std::slice::from_ref(&root),
            u64::try_from(self.now()).unwrap_or(0),
            RequiredUsage::PlatformRequest,
        )
        .map_err(|_| CoreError::check("the platform certificate does not verify"))?;
        if cert.subject_common_name()?.as_deref() != Some(platform.origin.as_str()) {
            return Err(CoreError::check(
                "the platform certificate is not for the platform's origin",
            ));
        }
        let public = cert
            .sm2_public_key()
            .map_err(|_| CoreError::check("the platform's key is not SM2"))?;
        // The key, checked against this very file before anything leaves the phone.
        let unwrapped = self
            .decrypt(&recipient.serial, pin, &recipient.wrapped_key)
            .await?;
        let binding = header.binding_hash()?;
        let contents = bidkey_crypto::file_key::WrappedKeyContents::parse(&unwrapped)
            .map_err(|_| CoreError::check("not a bid-file key"))?;
        if contents
            .mismatch(&header.tender_id, &header.platform_id, &binding)
            .is_some()
        {
            return Err(CoreError::check("the key is for another file"));
        }
        // A share cannot be checked alone: the platform checks the combined key against
        // the header's commitment at the opening.
        if !k_of_n {
            header.check_key(contents.key.as_slice())?;
        }
        let k1 = zeroize::Zeroizing::new(bidkey_crypto::rng::bytes::<16>()?);
        let mut k2 = zeroize::Zeroizing::new([0u8; 16]);
        for (o, (a, b)) in k2.iter_mut().zip(k1.iter().zip(contents.key.iter())) {
            *o = a ^ b;
        }
        let k1_sealed = bidkey_crypto::sm2::encrypt_der(&public, k1.as_slice())?;
        self.api
            .post(
                "/v1/preauth",
                &NewPreauth {
                    platform_id: header.platform_id.clone(),
                    tender_id: header.tender_id.clone(),
                    binding_hash: hex::encode(binding),
                    file_name: header.file_name.clone(),
                    opening_at,
                    k1_sealed,
                    k2: k2.to_vec(),
                    share_of: k_of_n.then(|| recipient.serial.clone()),
                    threshold: if k_of_n { header.threshold } else { 1 },
                },
            )
            .await
    }

    /// This account's pre-authorisations and what became of each (released when, to which
    /// platform; withdrawn when): the audit the bidder sees.
    pub async fn preauthorizations(&self) -> Result<Vec<Preauth>> {
        self.require_login()?;
        self.api.get("/v1/preauth").await
    }

    /// Withdraw a pre-authorisation before its opening time (the server wipes K2).
    pub async fn withdraw_preauthorization(&self, id: &str) -> Result<Preauth> {
        self.require_login()?;
        let id = id_segment(id, "pre-authorisation")?;
        self.api.delete(&format!("/v1/preauth/{id}")).await
    }

    /// 解密自检: prove on this phone, with the PIN, that the bid file at `path` (the file as
    /// uploaded, e.g. downloaded back from the platform) will open at the opening: the
    /// wrapped key of a certificate this wallet holds co-decrypts, its purpose matches the
    /// header, the key matches the header's commitment and MAC, and every chunk
    /// authenticates (the plaintext is discarded). Nothing is sent but the co-decryption
    /// (blinded; the server never sees the key). `Ok(Err(..))` is a failed check with its
    /// reason in words; `Err` is the phone's own trouble (wrong PIN, network...).
    pub async fn self_check_bid_file(
        &self,
        path: &std::path::Path,
        pin: &str,
    ) -> Result<std::result::Result<SelfCheck, SelfCheckFailure>> {
        let io = |e: std::io::Error| CoreError::Storage(StorageError::io("bid file", e));
        let header = {
            let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
            match bidfile::BidFileHeader::read_from(&mut f) {
                Ok(h) => h,
                Err(BidFileError::Io(e)) => return Err(io(e)),
                Err(e) => return Ok(Err(SelfCheckFailure::of(&e))),
            }
        };
        let held: Vec<String> = self
            .local_certificates()?
            .into_iter()
            .filter(|c| c.usage == "encryption")
            .map(|c| c.serial)
            .collect();
        let Some(recipient) = header.recipients.iter().find(|r| held.contains(&r.serial)) else {
            return Ok(Err(SelfCheckFailure::new(
                "本手机没有该投标文件任一接收人的加密证书，无法在此自检",
                "this phone holds none of the file's recipients' encryption certificates",
            )));
        };
        let unwrapped = self
            .decrypt(&recipient.serial, pin, &recipient.wrapped_key)
            .await?;
        let binding = header.binding_hash()?;
        let Ok(contents) = bidkey_crypto::file_key::WrappedKeyContents::parse(&unwrapped) else {
            return Ok(Err(SelfCheckFailure::new(
                "文件中的密钥不是 Bidkey 投标文件密钥，开标时将无法解密",
                "the key in the file is not a Bidkey bid-file key; it would not open",
            )));
        };
        if contents
            .mismatch(&header.tender_id, &header.platform_id, &binding)
            .is_some()
        {
            return Ok(Err(SelfCheckFailure::new(
                "文件中的密钥属于另一项目、平台或文件，开标时将无法解密，请重新加密",
                "the key in the file belongs to another tender, platform or file; it would not open: encrypt again",
            )));
        }
        let mut plaintext_len = 0;
        if header.threshold < 2 {
            let key = bidfile::FileKey::from_bytes(contents.key.as_slice())?;
            let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
            let mut sink = CountingSink(0);
            match bidfile::decrypt(&key, &mut f, &mut sink, &mut |_, _| {}) {
                Ok(_) => plaintext_len = sink.0,
                Err(BidFileError::Io(e)) => return Err(io(e)),
                Err(e) => return Ok(Err(SelfCheckFailure::of(&e))),
            }
        }
        Ok(Ok(SelfCheck {
            recipient_serial: recipient.serial.clone(),
            tender_id: header.tender_id.clone(),
            platform_id: header.platform_id.clone(),
            binding_hash: hex::encode(binding),
            plaintext_len,
            share_only: header.threshold >= 2,
            checked_at: self.now(),
        }))
    }

    /// The encryption certificates a bid of this enterprise for `platform_id` is encrypted
    /// to: every active member granted for that platform with a valid certificate pair.
    pub async fn bid_recipients(
        &self,
        enterprise_id: &str,
        platform_id: &str,
    ) -> Result<Vec<BidRecipient>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let pid = id_segment(platform_id, "platform")?;
        self.api
            .get(&format!(
                "/v1/enterprises/{eid}/bid-recipients?platform_id={pid}"
            ))
            .await
    }

    /// Encrypt `input` into `output` as a bid file for `target`: one fresh file key, wrapped
    /// to every recipient the server names (refused if there is none: a bid no one could
    /// open at the opening). `progress` gets plaintext bytes done and `total_len`.
    pub async fn encrypt_bid(
        &self,
        target: &BidTarget,
        input: &mut (impl Read + Send),
        output: &mut (impl Write + Send),
        total_len: Option<u64>,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> Result<EncryptedBid> {
        let recipients = self
            .bid_recipients(&target.enterprise_id, &target.platform_id)
            .await?;
        if recipients.is_empty() {
            return Err(CoreError::NotFound(
                "a member granted for this platform with a valid encryption certificate".into(),
            ));
        }
        let certs = recipient_certs(&recipients)?;
        let out = bidfile::encrypt_to(
            &certs,
            input,
            output,
            &EncryptOptions {
                tender_id: target.tender_id.clone(),
                platform_id: target.platform_id.clone(),
                file_name: target.file_name.clone(),
                chunk_size: None,
                created_at: u64::try_from(self.now()).unwrap_or(0),
                total_len,
                threshold: target.threshold,
            },
            progress,
        )?;
        Ok(EncryptedBid {
            recipients,
            binding_hash: hex::encode(out.header.binding_hash()?),
            plaintext_len: out.plaintext_len,
            chunks: out.chunks,
        })
    }

    /// [`Self::encrypt_bid`] from the file at `input` to `output`, written beside it under
    /// a temporary name and renamed when complete, so no half-written bid is left to upload.
    pub async fn encrypt_bid_file(
        &self,
        target: &BidTarget,
        input: &std::path::Path,
        output: &std::path::Path,
    ) -> Result<EncryptedBid> {
        let io = |e: std::io::Error| CoreError::Storage(StorageError::io("bid file", e));
        let file = std::fs::File::open(input).map_err(io)?;
        let total = file.metadata().ok().map(|m| m.len());
        let mut partial = output.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let result = async {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
            let enc = self
                .encrypt_bid(
                    target,
                    &mut std::io::BufReader::new(file),
                    &mut w,
                    total,
                    &mut |_, _| {},
                )
                .await?;
            w.flush().map_err(io)?;
            drop(w);
            std::fs::rename(&partial, output).map_err(io)?;
            Ok(enc)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }
}

/// Counts what is written and keeps nothing (the self-check discards the plaintext).
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
