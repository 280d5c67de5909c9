//! Bid files (投标文件加密): the format lives in `bidkey-bidfile`, shared with the phone
//! core (the bidder encrypts before upload, issue 17); this is the SDK's door to it, with
//! its errors as [`PlatformError`]s.

pub use bidkey_bidfile::*;

use crate::error::PlatformError;

impl From<BidFileError> for PlatformError {
    fn from(e: BidFileError) -> Self {
        match e {
            BidFileError::NotABidFile => PlatformError::NotABidFile,
            BidFileError::UnsupportedVersion(v) => PlatformError::UnsupportedVersion(v),
            BidFileError::MalformedHeader(w) => PlatformError::MalformedHeader(w),
            BidFileError::WrongKey => PlatformError::WrongKey,
            BidFileError::HeaderTampered => PlatformError::HeaderTampered,
            BidFileError::ChunkTampered { index } => PlatformError::ChunkTampered { index },
            BidFileError::ChunkReordered { index, belongs_at } => {
                PlatformError::ChunkReordered { index, belongs_at }
            }
            BidFileError::Truncated { chunks } => PlatformError::Truncated { chunks },
            BidFileError::TrailingData => PlatformError::TrailingData,
            BidFileError::NotEnoughShares { have, need } => {
                PlatformError::NotEnoughShares { have, need }
            }
            BidFileError::BadRecipient(w) => PlatformError::BadRecipient(w),
            BidFileError::Io(e) => PlatformError::Io(e),
            BidFileError::Crypto(e) => PlatformError::Crypto(e),
        }
    }
}
