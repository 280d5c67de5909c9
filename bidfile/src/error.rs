//! What can go wrong with a bid file, each failure its own variant so a platform can tell a
//! bidder in words what happened.

/// A bid-file error.
#[derive(Debug, thiserror::Error)]
pub enum BidFileError {
    #[error("not a Bidkey bid file")]
    NotABidFile,

    #[error("unsupported bid-file version {0}")]
    UnsupportedVersion(u8),

    #[error("malformed bid-file header: {0}")]
    MalformedHeader(&'static str),

    #[error("the key does not open this bid file")]
    WrongKey,

    #[error("the bid-file header has been tampered with")]
    HeaderTampered,

    #[error("chunk {index} of the bid file has been tampered with")]
    ChunkTampered { index: u64 },

    #[error("chunk {index} of the bid file belongs at position {belongs_at}")]
    ChunkReordered { index: u64, belongs_at: u64 },

    #[error("the bid file is truncated after {chunks} chunks")]
    Truncated { chunks: u64 },

    #[error("data after the final chunk of the bid file")]
    TrailingData,

    #[error("{have} of the {need} shares needed to open this bid")]
    NotEnoughShares { have: usize, need: u8 },

    #[error("recipient certificate unusable for encryption: {0}")]
    BadRecipient(&'static str),

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    #[error("crypto: {0}")]
    Crypto(bidkey_crypto::Error),
}

pub type Result<T> = std::result::Result<T, BidFileError>;
