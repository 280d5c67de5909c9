//! Bid files (投标文件加密): a file of any size encrypted by the bidder to the SM2 encryption
//! certificates of its staff granted for the platform (ADR 0026),
//! opened at bid opening with the file key one of their phones unwraps.
//!
//! A random 16-byte SM4 file key is wrapped with SM2 to the certificate's key, together with
//! the tender, the platform and a hash of the header it is for (ADR 0017); the body is
//! SM4-GCM in chunks (STREAM construction): chunk `i` has the nonce
//! `nonce_prefix(7) ‖ i(4, BE) ‖ final(1)` and the SM3 of the whole header as AAD, so chunks
//! cannot be dropped, reordered, moved to another file, or the file cut at a chunk boundary.
//! Memory use is two chunk buffers whatever the file size. Format: docs/bid-file-format.md.

mod error;
mod header;

pub use error::{BidFileError, Result};

pub use bidkey_crypto::file_key::WrappedKeyContents;
pub use header::{BidFileHeader, MAGIC, MAX_CHUNK, MAX_RECIPIENTS, MIN_CHUNK, Recipient, VERSION};

use bidkey_crypto::aead::{self, AeadAlgorithm, NONCE_LEN, TAG_LEN};
use bidkey_crypto::x509::Cert;
use bidkey_crypto::{rng, shamir, sm2};
use header::NONCE_PREFIX_LEN;
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK: u32 = 64 * 1024;
/// Length of the SM4 file key.
pub const FILE_KEY_LEN: usize = bidkey_crypto::file_key::FILE_KEY_LEN;
/// How many positions around a failing chunk are tried to tell reordering from tampering.
const REORDER_WINDOW: u64 = 16;

/// The 16-byte SM4 key of one bid file; zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct FileKey(Zeroizing<[u8; FILE_KEY_LEN]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    /// From the bytes the phone returns after unwrapping.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; FILE_KEY_LEN] = bytes.try_into().map_err(|_| BidFileError::WrongKey)?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// From 32 hex digits (the CLI's `--key`).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| BidFileError::WrongKey)?);
        Self::from_bytes(&bytes)
    }

    fn make_random() -> Result<Self> {
        Ok(Self(Zeroizing::new(
            rng::bytes::<FILE_KEY_LEN>().map_err(BidFileError::Crypto)?,
        )))
    }

    /// From what SM2 decryption of a header's wrapped key gave (the key and its purpose,
    /// [`WrappedKeyContents`]), e.g. with the recipient's whole private key in tests or
    /// with OpenSSL. A phone checks the purpose first; this does not.
    pub fn from_unwrapped(plaintext: &[u8]) -> Result<Self> {
        let contents = WrappedKeyContents::parse(plaintext).map_err(|_| BidFileError::WrongKey)?;
        Ok(Self(contents.key.clone()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// What to write into the header besides the key.
#[derive(Debug, Clone, Default)]
pub struct EncryptOptions {
    pub tender_id: String,
    /// The platform the file is for; with the tender and the header, bound into the wrapped
    /// key so the phone unwraps it only for that platform's request for that tender.
    pub platform_id: String,
    pub file_name: String,
    /// Plaintext bytes per chunk; [`DEFAULT_CHUNK`] when `None`.
    pub chunk_size: Option<u32>,
    /// Unix seconds written as the creation time.
    pub created_at: u64,
    /// Plaintext length if known, passed to the progress callback as the total.
    pub total_len: Option<u64>,
    /// `None` or 1: any one recipient opens the file. `Some(k)`, 2 ≤ k ≤ recipients: the
    /// file key is split into Shamir shares, one wrapped to each recipient, and any k of
    /// them together open it (k-of-n, issue 17).
    pub threshold: Option<u8>,
}

/// Progress: bytes of plaintext done, and the total if known.
pub type Progress<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// What encryption produced.
#[derive(Debug, Clone)]
pub struct Encrypted {
    pub header: BidFileHeader,
    pub plaintext_len: u64,
    pub chunks: u64,
}

/// Encrypt `input` to `recipient` (an SM2 certificate with keyEncipherment) into `output`.
///
/// The caller is expected to have validated the certificate's chain (see
/// `bidkey_platform::verify::Verifier::check_encryption_cert`); here only its key and usage are
/// checked.
pub fn encrypt(
    recipient: &Cert,
    input: &mut impl Read,
    output: &mut impl Write,
    opts: &EncryptOptions,
    progress: Progress<'_>,
) -> Result<Encrypted> {
    encrypt_to(
        std::slice::from_ref(recipient),
        input,
        output,
        opts,
        progress,
    )
}

/// Encrypt `input` to every certificate of `recipients` (1..=[`MAX_RECIPIENTS`], distinct):
/// one file key, wrapped to each (ADR 0026). Any one recipient's key opens the file. This is
/// what a bidder does before upload, to the staff its enterprise granted for the platform.
pub fn encrypt_to(
    recipients: &[Cert],
    input: &mut impl Read,
    output: &mut impl Write,
    opts: &EncryptOptions,
    progress: Progress<'_>,
) -> Result<Encrypted> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(BidFileError::BadRecipient("1 to 32 recipients"));
    }
    let mut keys = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        if !recipient.key_usage().is_some_and(|ku| ku.key_encipherment) {
            return Err(BidFileError::BadRecipient("not an encryption certificate"));
        }
        let public = recipient
            .sm2_public_key()
            .map_err(|_| BidFileError::BadRecipient("not an SM2 key"))?;
        let serial = recipient.serial_hex();
        if keys.iter().any(|(s, _)| *s == serial) {
            return Err(BidFileError::BadRecipient("a certificate listed twice"));
        }
        keys.push((serial, public));
    }
    let chunk_size = opts.chunk_size.unwrap_or(DEFAULT_CHUNK);
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
        return Err(BidFileError::MalformedHeader("chunk size"));
    }
    let threshold = opts.threshold.unwrap_or(1);
    if threshold == 0 || usize::from(threshold) > recipients.len() {
        return Err(BidFileError::BadRecipient(
            "the threshold must be between 1 and the number of recipients",
        ));
    }
    let key = FileKey::make_random()?;
    let nonce_prefix = rng::bytes::<NONCE_PREFIX_LEN>().map_err(BidFileError::Crypto)?;
    let mut header = BidFileHeader {
        chunk_size,
        nonce_prefix,
        created_at: opts.created_at,
        key_check: header::key_check(&nonce_prefix, key.as_bytes()),
        tender_id: opts.tender_id.clone(),
        platform_id: opts.platform_id.clone(),
        file_name: opts.file_name.clone(),
        recipients: keys
            .iter()
            .map(|(serial, _)| Recipient {
                serial: serial.clone(),
                wrapped_key: Vec::new(),
            })
            .collect(),
        threshold,
        mac: [0; 32],
    };
    // The purpose goes inside each SM2 ciphertext: the binding hash covers every header
    // field but the wrapped keys, so it is known before the keys are wrapped. With a
    // threshold, what is wrapped to recipient i is its share's y (x = i + 1 by position).
    let header_hash = header.binding_hash()?;
    let secrets: Vec<Zeroizing<[u8; FILE_KEY_LEN]>> = if threshold == 1 {
        vec![key.0.clone(); keys.len()]
    } else {
        let n = u8::try_from(keys.len()).map_err(|_| BidFileError::BadRecipient("too many"))?;
        shamir::split(key.as_bytes(), threshold, n)
            .map_err(BidFileError::Crypto)?
            .iter()
            .map(|s| {
                <[u8; FILE_KEY_LEN]>::try_from(s.y.as_slice())
                    .map(Zeroizing::new)
                    .map_err(|_| BidFileError::MalformedHeader("share length"))
            })
            .collect::<Result<_>>()?
    };
    for ((slot, (_, public)), secret) in header.recipients.iter_mut().zip(&keys).zip(secrets) {
        let contents = WrappedKeyContents {
            key: secret,
            header_hash,
            tender_id: opts.tender_id.clone(),
            platform_id: opts.platform_id.clone(),
        };
        let plain = contents
            .to_bytes()
            .map_err(|_| BidFileError::MalformedHeader("tender or platform id"))?;
        slot.wrapped_key = sm2::encrypt_der(public, &plain).map_err(BidFileError::Crypto)?;
    }
    let header = header.sealed(key.as_bytes())?;
    output.write_all(&header.to_bytes()?)?;
    let aad = header.hash()?;

    let size = chunk_size as usize;
    let mut reader = ChunkReader::new(input, size);
    let mut done = 0u64;
    let mut index = 0u64;
    progress(0, opts.total_len);
    loop {
        let (chunk, last) = reader.next_chunk()?;
        let nonce = chunk_nonce(&nonce_prefix, index, last)?;
        let sealed =
            aead::seal_with_nonce(AeadAlgorithm::Sm4Gcm, key.as_bytes(), &nonce, &aad, chunk)
                .map_err(BidFileError::Crypto)?;
        output.write_all(&sealed)?;
        done += chunk.len() as u64;
        index += 1;
        progress(done, opts.total_len);
        if last {
            break;
        }
    }
    output.flush()?;
    Ok(Encrypted {
        header,
        plaintext_len: done,
        chunks: index,
    })
}

/// Why a platform refuses an uploaded bid file (before the opening, when the bidder can
/// still fix it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadProblem {
    #[error("the file was encrypted for tender {found}, not {expected}")]
    OtherTender { expected: String, found: String },
    #[error("the file was encrypted for platform {found}, not this one ({expected})")]
    OtherPlatform { expected: String, found: String },
    #[error("none of the file's recipients can open it on this platform")]
    NoOpener,
}

impl UploadProblem {
    /// The problem in words a bidder understands, in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            UploadProblem::OtherTender { expected, found } => {
                format!(
                    "投标文件是为项目 {found} 加密的，不是本项目（{expected}），开标时无法解密，请重新加密"
                )
            }
            UploadProblem::OtherPlatform { found, .. } => {
                format!(
                    "投标文件是为另一交易平台（{found}）加密的，本平台开标时无法解密，请重新加密"
                )
            }
            UploadProblem::NoOpener => {
                "投标文件的接收人中没有贵单位在本平台获授权的人员，开标时无人能解密，请重新加密"
                    .into()
            }
        }
    }
}

/// The checks a platform makes of an uploaded bid file's header: it is for `tender_id` on
/// `platform_id`, and at least one recipient is among `openers` (the serials of encryption
/// certificates that could answer a decrypt request here, e.g. the bidder's staff granted
/// for this platform). Needs no key: the header says it all, and its binding hash is inside
/// every wrapped key, so a header changed to pass these checks opens for no one.
pub fn check_upload(
    header: &BidFileHeader,
    tender_id: &str,
    platform_id: &str,
    openers: &[String],
) -> std::result::Result<(), UploadProblem> {
    if header.tender_id != tender_id {
        return Err(UploadProblem::OtherTender {
            expected: tender_id.to_owned(),
            found: header.tender_id.clone(),
        });
    }
    if header.platform_id != platform_id {
        return Err(UploadProblem::OtherPlatform {
            expected: platform_id.to_owned(),
            found: header.platform_id.clone(),
        });
    }
    if !header
        .recipients
        .iter()
        .any(|r| openers.contains(&r.serial))
    {
        return Err(UploadProblem::NoOpener);
    }
    Ok(())
}

/// The file key of a k-of-n file from the shares its recipients' phones released: each
/// `(serial, y)` is what unwrapping that recipient's wrapped key gave (the 16 bytes a phone
/// returns as the "key"). The key is recovered from the first `threshold` distinct
/// recipients and checked against the header's key commitment (`key_check`) and MAC, so a
/// wrong or altered share is [`BidFileError::WrongKey`], never a wrong plaintext.
pub fn combine_shares(header: &BidFileHeader, shares: &[(String, Vec<u8>)]) -> Result<FileKey> {
    if header.threshold < 2 {
        return Err(BidFileError::MalformedHeader("not a k-of-n file"));
    }
    let mut picked: Vec<shamir::Share> = Vec::new();
    for (serial, y) in shares {
        let index = header
            .recipients
            .iter()
            .position(|r| r.serial == *serial)
            .ok_or(BidFileError::BadRecipient(
                "a share from someone not a recipient",
            ))?;
        let x = u8::try_from(index + 1).map_err(|_| BidFileError::MalformedHeader("index"))?;
        if y.len() != FILE_KEY_LEN {
            return Err(BidFileError::WrongKey);
        }
        if !picked.iter().any(|s| s.x == x) {
            picked.push(shamir::Share { x, y: y.clone() });
        }
    }
    if picked.len() < usize::from(header.threshold) {
        return Err(BidFileError::NotEnoughShares {
            have: picked.len(),
            need: header.threshold,
        });
    }
    picked.truncate(usize::from(header.threshold));
    let secret = shamir::combine(&picked).map_err(BidFileError::Crypto)?;
    let key = FileKey::from_bytes(&secret)?;
    header.check_key(key.as_bytes())?;
    Ok(key)
}

/// Decrypt a bid file with its file key. Plaintext is written chunk by chunk as each
/// authenticates; on error, discard what was written (the caller writes to a temporary file
/// and renames on success).
pub fn decrypt(
    key: &FileKey,
    input: &mut impl Read,
    output: &mut impl Write,
    progress: Progress<'_>,
) -> Result<BidFileHeader> {
    let header = BidFileHeader::read_from(input)?;
    header.check_key(key.as_bytes())?;
    let aad = header.hash()?;
    let sealed_size = header.chunk_size as usize + TAG_LEN;
    let mut reader = ChunkReader::new(input, sealed_size);
    let mut done = 0u64;
    let mut index = 0u64;
    progress(0, None);
    loop {
        let (sealed, last) = reader.next_chunk()?;
        if sealed.len() < TAG_LEN || (!last && sealed.len() != sealed_size) {
            return Err(BidFileError::Truncated { chunks: index });
        }
        let open = |i: u64, fin: bool| -> Result<Option<Zeroizing<Vec<u8>>>> {
            let nonce = chunk_nonce(&header.nonce_prefix, i, fin)?;
            Ok(
                aead::open_with_nonce(AeadAlgorithm::Sm4Gcm, key.as_bytes(), &nonce, &aad, sealed)
                    .ok(),
            )
        };
        let plain = match open(index, last)? {
            Some(p) => p,
            None => return Err(diagnose(index, last, &open)?),
        };
        output.write_all(&plain)?;
        done += plain.len() as u64;
        index += 1;
        progress(done, None);
        if last {
            break;
        }
    }
    output.flush()?;
    Ok(header)
}

/// Name the failure of chunk `index`: a non-final chunk at the end is truncation, a chunk
/// that opens at a nearby position was reordered, anything else was tampered with.
fn diagnose(
    index: u64,
    last: bool,
    open: &dyn Fn(u64, bool) -> Result<Option<Zeroizing<Vec<u8>>>>,
) -> Result<BidFileError> {
    if last && open(index, false)?.is_some() {
        return Ok(BidFileError::Truncated { chunks: index + 1 });
    }
    if !last && open(index, true)?.is_some() {
        return Ok(BidFileError::TrailingData);
    }
    let lo = index.saturating_sub(REORDER_WINDOW);
    for j in lo..=index + REORDER_WINDOW {
        if j == index {
            continue;
        }
        for fin in [false, true] {
            if open(j, fin)?.is_some() {
                return Ok(BidFileError::ChunkReordered {
                    index,
                    belongs_at: j,
                });
            }
        }
    }
    Ok(BidFileError::ChunkTampered { index })
}

fn chunk_nonce(prefix: &[u8; NONCE_PREFIX_LEN], index: u64, last: bool) -> Result<[u8; NONCE_LEN]> {
    let index =
        u32::try_from(index).map_err(|_| BidFileError::MalformedHeader("too many chunks"))?;
    let mut n = [0u8; NONCE_LEN];
    n[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    n[NONCE_PREFIX_LEN..NONCE_LEN - 1].copy_from_slice(&index.to_be_bytes());
    n[NONCE_LEN - 1] = u8::from(last);
    Ok(n)
}

/// Reads fixed-size chunks and knows whether each is the last (one byte of look-ahead).
struct ChunkReader<'r, R: Read> {
    inner: &'r mut R,
    buf: Zeroizing<Vec<u8>>,
    peeked: Option<u8>,
    size: usize,
}

impl<'r, R: Read> ChunkReader<'r, R> {
    fn new(inner: &'r mut R, size: usize) -> Self {
        Self {
            inner,
            buf: Zeroizing::new(vec![0u8; size]),
            peeked: None,
            size,
        }
    }

    fn next_chunk(&mut self) -> Result<(&[u8], bool)> {
        let mut filled = 0;
        if let Some(b) = self.peeked.take() {
            self.buf[0] = b;
            filled = 1;
        }
        filled += read_full(self.inner, &mut self.buf[filled..self.size])?;
        let last = if filled < self.size {
            true
        } else {
            let mut one = [0u8; 1];
            match read_full(self.inner, &mut one)? {
                0 => true,
                _ => {
                    self.peeked = Some(one[0]);
                    false
                }
            }
        };
        Ok((&self.buf[..filled], last))
    }
}

/// Read until `buf` is full or end of input; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}
