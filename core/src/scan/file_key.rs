//! What the phone checks of a bid-file key it unwrapped before it hands the key out (ADR
//! 0017): the key was wrapped for this request's tender, by (or for) this request's
//! platform, and for the file header the request names. A platform asking to decrypt
//! tender B with a key lifted from a tender-A bid, another platform's bid, or a header
//! altered after wrapping gets nothing.

use crate::error::{CoreError, Result};
use bidkey_crypto::file_key::{FILE_KEY_LEN, PurposeMismatch, WrappedKeyContents};
use bidkey_protocol::scan::{ScanAction, ScanRequestBody, WrappedFileKey};
use bidkey_protocol::{ErrorBody, ErrorCode};
use zeroize::Zeroizing;

/// Why an unwrapped key is not released for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// The plaintext is not a key with its purpose (e.g. a bare key of format v1, or a
    /// ciphertext that is no bid-file key at all).
    NoPurpose,
    /// Wrapped for another tender, platform or header.
    Mismatch(PurposeMismatch),
}

/// The file key inside `unwrapped` (what co-decryption of `file.wrapped_key` gave), if it
/// was wrapped for the tender and platform of `body` and the header `file` names.
pub fn key_for_request(
    unwrapped: &[u8],
    body: &ScanRequestBody,
    file: &WrappedFileKey,
) -> std::result::Result<Zeroizing<[u8; FILE_KEY_LEN]>, KeyRefusal> {
    let ScanAction::Decrypt { tender_id, .. } = &body.action else {
        return Err(KeyRefusal::NoPurpose);
    };
    let contents = WrappedKeyContents::parse(unwrapped).map_err(|_| KeyRefusal::NoPurpose)?;
    match contents.mismatch(tender_id, &body.platform_id, &file.header_hash) {
        Some(m) => Err(KeyRefusal::Mismatch(m)),
        None => Ok(contents.key.clone()),
    }
}

impl From<KeyRefusal> for CoreError {
    fn from(_: KeyRefusal) -> Self {
        CoreError::from(ErrorBody::new(ErrorCode::FileKeyPurposeMismatch))
    }
}

/// [`key_for_request`] as the flows want it: a refusal is `file_key_purpose_mismatch`.
pub fn checked_key(
    unwrapped: &[u8],
    body: &ScanRequestBody,
    file: &WrappedFileKey,
) -> Result<Zeroizing<[u8; FILE_KEY_LEN]>> {
    Ok(key_for_request(unwrapped, body, file)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_protocol::scan::{ReplyAlg, ReplyKey};

    fn request(
        tender: &str,
        platform: &str,
        header_hash: [u8; 32],
    ) -> (ScanRequestBody, WrappedFileKey) {
        let file = WrappedFileKey {
            file_name: "bid.pdf".into(),
            recipient_serial: "01".into(),
            wrapped_key: vec![],
            header_hash: header_hash.to_vec(),
        };
        let body = ScanRequestBody {
            v: 1,
            request_id: "00".repeat(16),
            platform_id: platform.into(),
            origin: "https://p.example".into(),
            created_at: 0,
            expires_at: 60,
            nonce: vec![0; 32],
            reply_key: ReplyKey {
                alg: ReplyAlg::Sm2Sm4Gcm,
                public_key: vec![],
            },
            session_id: None,
            action: ScanAction::Decrypt {
                tender_id: tender.into(),
                tender_name: "道路工程".into(),
                opening_at: 0,
                files: vec![file.clone()],
            },
            webhook_url: None,
        };
        (body, file)
    }

    fn unwrapped(tender: &str, platform: &str, header_hash: [u8; 32]) -> Zeroizing<Vec<u8>> {
        WrappedKeyContents {
            key: Zeroizing::new([5; FILE_KEY_LEN]),
            header_hash,
            tender_id: tender.into(),
            platform_id: platform.into(),
        }
        .to_bytes()
        .expect("encodes")
    }

    #[test]
    fn a_key_for_this_request_is_released() {
        let (body, file) = request("B", "plat-a", [1; 32]);
        let key = key_for_request(&unwrapped("B", "plat-a", [1; 32]), &body, &file).expect("ours");
        assert_eq!(*key, [5; FILE_KEY_LEN]);
    }

    /// The attacks, on the pure check: a tender-A key in a tender-B request, another
    /// platform's key, a header changed after wrapping, and a bare v1 key.
    #[test]
    fn keys_for_another_purpose_are_refused() {
        let (body, file) = request("B", "plat-a", [1; 32]);
        let refused = |plain: &[u8]| key_for_request(plain, &body, &file).err();
        assert_eq!(
            refused(&unwrapped("A", "plat-a", [1; 32])),
            Some(KeyRefusal::Mismatch(PurposeMismatch::Tender))
        );
        assert_eq!(
            refused(&unwrapped("B", "plat-b", [1; 32])),
            Some(KeyRefusal::Mismatch(PurposeMismatch::Platform))
        );
        assert_eq!(
            refused(&unwrapped("B", "plat-a", [2; 32])),
            Some(KeyRefusal::Mismatch(PurposeMismatch::Header))
        );
        assert_eq!(refused(&[5; FILE_KEY_LEN]), Some(KeyRefusal::NoPurpose));
        let err =
            checked_key(&unwrapped("A", "plat-a", [1; 32]), &body, &file).expect_err("refused");
        assert!(
            matches!(
                err,
                CoreError::Server {
                    code: ErrorCode::FileKeyPurposeMismatch,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
