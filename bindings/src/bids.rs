//! 投标文件加密 on the exported object: the bidder encrypts a bid file before upload
//! (issue 17), to every member its enterprise granted for the platform.

use crate::Bidkey;
use crate::error::BidkeyError;

type Result<T, E = BidkeyError> = std::result::Result<T, E>;

/// What a bid is encrypted for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BidTarget {
    pub enterprise_id: String,
    pub platform_id: String,
    pub tender_id: String,
    /// The name the platform will show.
    pub file_name: String,
    /// k: any k recipients together open it (k-of-n); none: any one does.
    pub threshold: Option<u8>,
}

impl From<BidTarget> for bidkey_core::flows::bids::BidTarget {
    fn from(t: BidTarget) -> Self {
        Self {
            enterprise_id: t.enterprise_id,
            platform_id: t.platform_id,
            tender_id: t.tender_id,
            file_name: t.file_name,
            threshold: t.threshold,
        }
    }
}

/// One recipient of an encrypted bid: who can open it at the opening.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BidRecipient {
    pub account_id: String,
    pub real_name: Option<String>,
    /// The encryption certificate's serial, hex.
    pub serial: String,
}

/// What encrypting a bid wrote.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EncryptedBid {
    pub recipients: Vec<BidRecipient>,
    /// The header's binding hash, hex.
    pub binding_hash: String,
    pub plaintext_len: u64,
}

impl From<bidkey_protocol::platforms::BidRecipient> for BidRecipient {
    fn from(r: bidkey_protocol::platforms::BidRecipient) -> Self {
        Self {
            account_id: r.account_id,
            real_name: r.real_name,
            serial: r.serial,
        }
    }
}

impl From<bidkey_core::flows::bids::EncryptedBid> for EncryptedBid {
    fn from(e: bidkey_core::flows::bids::EncryptedBid) -> Self {
        Self {
            recipients: e.recipients.into_iter().map(Into::into).collect(),
            binding_hash: e.binding_hash,
            plaintext_len: e.plaintext_len,
        }
    }
}

/// 解密自检: what checking an uploaded bid file on this phone found.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum BidSelfCheck {
    /// 可解密 ✓: this phone's wrapped key opens this very file (for a k-of-n file: its share
    /// unwraps for this file; the key needs the others).
    Passed {
        recipient_serial: String,
        tender_id: String,
        platform_id: String,
        /// The header's binding hash, hex: names the exact file checked.
        binding_hash: String,
        /// Plaintext bytes that authenticated (0 for a k-of-n share).
        plaintext_len: u64,
        share_only: bool,
        /// Unix seconds, this phone's clock.
        checked_at: i64,
    },
    /// It would not open at the opening; why, in words for the bidder.
    Failed {
        reason_zh: String,
        reason_en: String,
    },
}

impl From<Result<bidkey_core::flows::bids::SelfCheck, bidkey_core::flows::bids::SelfCheckFailure>>
    for BidSelfCheck
{
    fn from(
        r: Result<bidkey_core::flows::bids::SelfCheck, bidkey_core::flows::bids::SelfCheckFailure>,
    ) -> Self {
        match r {
            Ok(c) => Self::Passed {
                recipient_serial: c.recipient_serial,
                tender_id: c.tender_id,
                platform_id: c.platform_id,
                binding_hash: c.binding_hash,
                plaintext_len: c.plaintext_len,
                share_only: c.share_only,
                checked_at: c.checked_at,
            },
            Err(f) => Self::Failed {
                reason_zh: f.zh,
                reason_en: f.en,
            },
        }
    }
}

/// A pre-authorised opening as the bidder sees it: the audit of what the server did with it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Preauthorization {
    pub id: String,
    pub platform_id: String,
    pub tender_id: String,
    /// The bid file's binding hash, hex.
    pub binding_hash: String,
    pub file_name: String,
    /// Unix seconds (server clock): not released before.
    pub opening_at: i64,
    pub created_at: i64,
    pub withdrawn_at: Option<i64>,
    /// When the server first released it to the platform.
    pub released_at: Option<i64>,
}

impl From<bidkey_protocol::platforms::Preauth> for Preauthorization {
    fn from(p: bidkey_protocol::platforms::Preauth) -> Self {
        Self {
            id: p.id,
            platform_id: p.platform_id,
            tender_id: p.tender_id,
            binding_hash: p.binding_hash,
            file_name: p.file_name,
            opening_at: p.opening_at,
            created_at: p.created_at,
            withdrawn_at: p.withdrawn_at,
            released_at: p.released_at,
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
    /// 解密自检: prove with the PIN that the bid file at `path` (as uploaded) opens on this
    /// phone; the key never leaves it. A file that would not open is `Failed` with the
    /// reason; the phone's own trouble (wrong PIN, network) is an error.
    pub async fn self_check_bid_file(&self, path: String, pin: String) -> Result<BidSelfCheck> {
        Ok(self
            .core
            .self_check_bid_file(path.as_ref(), &pin)
            .await?
            .into())
    }

    /// This account's pre-authorised openings and what became of each.
    pub async fn preauthorizations(&self) -> Result<Vec<Preauthorization>> {
        Ok(self
            .core
            .preauthorizations()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// 预授权开标: authorise with the PIN the opening of the bid file at `path` at or after
    /// `opening_at` (server clock) without this phone; returns the deposit's id. For a
    /// k-of-n file this phone pre-authorises its own share; the bid opens without phones
    /// once k holders have (ADR 0027).
    pub async fn preauthorize_opening(
        &self,
        path: String,
        pin: String,
        opening_at: i64,
    ) -> Result<String> {
        Ok(self
            .core
            .preauthorize_opening(path.as_ref(), &pin, opening_at)
            .await?
            .id)
    }

    /// Withdraw a pre-authorisation before its opening time.
    pub async fn withdraw_preauthorization(&self, id: String) -> Result<()> {
        self.core.withdraw_preauthorization(&id).await?;
        Ok(())
    }

    /// Who a bid of the enterprise for the platform would be encrypted to.
    pub async fn bid_recipients(
        &self,
        enterprise_id: String,
        platform_id: String,
    ) -> Result<Vec<BidRecipient>> {
        let list = self
            .core
            .bid_recipients(&enterprise_id, &platform_id)
            .await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Encrypt the bid file at `input_path` for `target` (one tender on one platform) into
    /// `output_path`, ready to upload; the platform never sees the plaintext.
    pub async fn encrypt_bid_file(
        &self,
        target: BidTarget,
        input_path: String,
        output_path: String,
    ) -> Result<EncryptedBid> {
        Ok(self
            .core
            .encrypt_bid_file(&target.into(), input_path.as_ref(), output_path.as_ref())
            .await?
            .into())
    }
}
