//! 预授权开标 on the platform's side (issue 17 §4, ADR 0027): at or after the opening time
//! the platform asks the Bidkey server for a pre-authorised file's halves, opens K1 with
//! the key of its Bidkey certificate, and `K = K1 ⊕ K2` is checked against the file's
//! header (key commitment and MAC) before anything is decrypted. The bidder's phone need
//! not be online.

use crate::bidfile::{BidFileHeader, FileKey};
use crate::client::PlatformClient;
use crate::error::{PlatformError, Result};
use bidkey_crypto::scan::PlatformKey;
use zeroize::Zeroizing;

/// The file key of a pre-authorised bid, released by the server to `platform_id` (this
/// platform, whose certificate key is `key`) for the file with `header`.
pub async fn released_key(
    client: &PlatformClient,
    key: &PlatformKey,
    platform_id: &str,
    header: &BidFileHeader,
) -> Result<FileKey> {
    let binding = hex::encode(header.binding_hash()?);
    let PlatformKey::Sm2(sk) = key else {
        return Err(PlatformError::Config(
            "pre-authorised opening needs an SM2 platform key",
        ));
    };
    if header.threshold >= 2 {
        // k-of-n: each holder pre-authorised their own share; the server hands them out
        // together once k have, and they combine into K (checked against the header).
        let released = client.preauth_release_shares(platform_id, &binding).await?;
        if released.tender_id != header.tender_id {
            return Err(PlatformError::BadReply("released for another tender"));
        }
        if released.shares.len() < usize::from(header.threshold) {
            return Err(PlatformError::NotEnoughPreauths {
                have: released.ready,
                need: header.threshold,
            });
        }
        let mut shares = Vec::with_capacity(released.shares.len());
        for s in &released.shares {
            let y = join(sk, &s.k1_sealed, &s.k2)?;
            shares.push((s.recipient_serial.clone(), y.to_vec()));
        }
        let key = crate::bidfile::combine_shares(header, &shares);
        for (_, y) in &mut shares {
            zeroize::Zeroize::zeroize(y);
        }
        return Ok(key?);
    }
    let release = client.preauth_release(platform_id, &binding).await?;
    if release.tender_id != header.tender_id {
        return Err(PlatformError::BadReply("released for another tender"));
    }
    let k = join(sk, &release.k1_sealed, &release.k2)?;
    let key = FileKey::from_bytes(k.as_slice())?;
    header.check_key(key.as_bytes())?;
    Ok(key)
}

/// `K1 ⊕ K2`, K1 opened with the platform's certificate key.
fn join(
    sk: &bidkey_crypto::sm2::Sm2PrivateKey,
    k1_sealed: &[u8],
    k2: &[u8],
) -> Result<Zeroizing<[u8; 16]>> {
    let k1 = bidkey_crypto::sm2::decrypt_der(sk, k1_sealed)
        .map_err(|_| PlatformError::BadReply("K1 is not sealed to this platform"))?;
    if k1.len() != 16 || k2.len() != 16 {
        return Err(PlatformError::BadReply("key half length"));
    }
    let mut k = Zeroizing::new([0u8; 16]);
    for (o, (a, b)) in k.iter_mut().zip(k1.iter().zip(k2)) {
        *o = a ^ b;
    }
    Ok(k)
}
