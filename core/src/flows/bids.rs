//! 投标文件加密: the bidder encrypts a bid file before upload (issue 17, ADR 0026), to the
//! encryption certificates of every member its enterprise granted for the platform (the
//! server says who), for one tender on that platform. The platform receives only the
//! ciphertext and checks its header; any one of the recipients opens it at the opening.

use super::id_segment;
use crate::Bidkey;
use crate::error::{CoreError, Result};
use bidkey_bidfile::{self as bidfile, BidFileError, EncryptOptions};
use bidkey_crypto::x509::Cert;
use bidkey_protocol::platforms::BidRecipient;
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

impl From<BidFileError> for CoreError {
    fn from(e: BidFileError) -> Self {
        match e {
            BidFileError::Io(e) => CoreError::Storage(e.to_string()),
            e => CoreError::Crypto(e.to_string()),
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
                .map_err(|_| CoreError::Crypto("a recipient certificate is malformed".into()))?;
            if !cert.serial_hex().eq_ignore_ascii_case(&r.serial) {
                return Err(CoreError::Crypto(
                    "a recipient certificate does not have the serial the server named".into(),
                ));
            }
            Ok(cert)
        })
        .collect()
}

impl Bidkey {
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
                created_at: u64::try_from(crate::now()).unwrap_or(0),
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
        let io = |e: std::io::Error| CoreError::Storage(e.to_string());
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
