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

#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
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
