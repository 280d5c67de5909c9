//! What a bid file's wrapped key carries (bid-file format v2, ADR 0017): the 16-byte file
//! key together with the purpose it was wrapped for — the tender, the trading platform and
//! a hash of the file's header — all inside the SM2 ciphertext. Only the recipient (the
//! phone, by co-decryption) sees them, and it hands the key out only to a decrypt request
//! that names the same tender, comes from the same platform and names the same header.
//!
//! Layout (`docs/bid-file-format.md`): `"BKFK" ‖ version(1) = 2 ‖ key(16) ‖
//! header_hash(32) ‖ u16 len ‖ tender id ‖ u16 len ‖ platform id`, all big-endian, nothing
//! after. Anyone who has the recipient's certificate can write one (a platform today, the
//! bidder itself later).

use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// Length of a bid file's SM4 key.
pub const FILE_KEY_LEN: usize = 16;
/// Longest tender or platform id a wrapped key carries (keeps the SM2 ciphertext within
/// the scan protocol's wrapped-key limit).
pub const MAX_ID_LEN: usize = 256;
const MAGIC: &[u8; 4] = b"BKFK";
const VERSION: u8 = 2;

/// The plaintext under a bid file's wrapped key. The key is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKeyContents {
    pub key: Zeroizing<[u8; FILE_KEY_LEN]>,
    /// The hash of the header fields that do not depend on the wrapped key
    /// (`BidFileHeader::binding_hash` in `bidkey-platform`).
    pub header_hash: [u8; 32],
    pub tender_id: String,
    pub platform_id: String,
}

impl std::fmt::Debug for WrappedKeyContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKeyContents")
            .field("tender_id", &self.tender_id)
            .field("platform_id", &self.platform_id)
            .field("header_hash", &hex::encode(self.header_hash))
            .finish_non_exhaustive()
    }
}

/// Which part of a wrapped key's purpose differs from the request it was offered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurposeMismatch {
    Tender,
    Platform,
    Header,
}

impl WrappedKeyContents {
    /// The bytes to encrypt with SM2 to the recipient.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            57 + self.tender_id.len() + self.platform_id.len(),
        ));
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(self.key.as_slice());
        out.extend_from_slice(&self.header_hash);
        for id in [&self.tender_id, &self.platform_id] {
            if id.is_empty() || id.len() > MAX_ID_LEN {
                return Err(Error::InvalidLength("tender or platform id"));
            }
            out.extend_from_slice(&(id.len() as u16).to_be_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        Ok(out)
    }

    /// Parse an unwrapped key strictly: the magic, the version, every field, nothing after.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = Error::Malformed {
            what: "wrapped file key",
        };
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(bad.clone())?;
        let (&version, rest) = rest.split_first().ok_or(bad.clone())?;
        if version != VERSION {
            return Err(bad);
        }
        if rest.len() < FILE_KEY_LEN + 32 {
            return Err(bad);
        }
        let (key, rest) = rest.split_at(FILE_KEY_LEN);
        let (hash, mut rest) = rest.split_at(32);
        let mut ids = Vec::with_capacity(2);
        for _ in 0..2 {
            if rest.len() < 2 {
                return Err(bad);
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let body = rest.get(2..2 + len).ok_or(bad.clone())?;
            if len == 0 || len > MAX_ID_LEN {
                return Err(bad);
            }
            ids.push(String::from_utf8(body.to_vec()).map_err(|_| bad.clone())?);
            rest = &rest[2 + len..];
        }
        if !rest.is_empty() {
            return Err(bad);
        }
        let platform_id = ids.pop().ok_or(bad.clone())?;
        let tender_id = ids.pop().ok_or(bad.clone())?;
        let mut k = Zeroizing::new([0u8; FILE_KEY_LEN]);
        k.copy_from_slice(key);
        let mut header_hash = [0u8; 32];
        header_hash.copy_from_slice(hash);
        Ok(Self {
            key: k,
            header_hash,
            tender_id,
            platform_id,
        })
    }

    /// Whether this key was wrapped for `tender_id` of `platform_id` and the header whose
    /// binding hash is `header_hash`: the first part that differs, if any.
    pub fn mismatch(
        &self,
        tender_id: &str,
        platform_id: &str,
        header_hash: &[u8],
    ) -> Option<PurposeMismatch> {
        if self.tender_id != tender_id {
            Some(PurposeMismatch::Tender)
        } else if self.platform_id != platform_id {
            Some(PurposeMismatch::Platform)
        } else if self.header_hash.as_slice() != header_hash {
            Some(PurposeMismatch::Header)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WrappedKeyContents {
        WrappedKeyContents {
            key: Zeroizing::new([7; FILE_KEY_LEN]),
            header_hash: [9; 32],
            tender_id: "T-2026-001".into(),
            platform_id: "plat-a".into(),
        }
    }

    #[test]
    fn round_trips_and_checks_its_purpose() {
        let c = sample();
        let bytes = c.to_bytes().expect("encodes");
        let back = WrappedKeyContents::parse(&bytes).expect("parses");
        assert_eq!(back, c);
        assert_eq!(back.mismatch("T-2026-001", "plat-a", &[9; 32]), None);
        assert_eq!(
            back.mismatch("T-2026-002", "plat-a", &[9; 32]),
            Some(PurposeMismatch::Tender)
        );
        assert_eq!(
            back.mismatch("T-2026-001", "plat-b", &[9; 32]),
            Some(PurposeMismatch::Platform)
        );
        assert_eq!(
            back.mismatch("T-2026-001", "plat-a", &[8; 32]),
            Some(PurposeMismatch::Header)
        );
    }

    #[test]
    fn a_bare_key_or_a_damaged_block_does_not_parse() {
        // A version-1 wrapped key was the bare 16-byte file key: no purpose, refused.
        assert!(WrappedKeyContents::parse(&[7; FILE_KEY_LEN]).is_err());
        let bytes = sample().to_bytes().expect("encodes");
        for cut in 0..bytes.len() {
            assert!(
                WrappedKeyContents::parse(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(WrappedKeyContents::parse(&longer).is_err());
        let mut other_version = bytes.to_vec();
        other_version[4] = 1;
        assert!(WrappedKeyContents::parse(&other_version).is_err());
    }

    #[test]
    fn empty_or_overlong_ids_are_refused() {
        let mut c = sample();
        c.tender_id = String::new();
        assert!(c.to_bytes().is_err());
        c.tender_id = "x".repeat(MAX_ID_LEN + 1);
        assert!(c.to_bytes().is_err());
    }
}
