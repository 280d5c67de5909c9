//! The bid-file header: what the file is for, whom it is for, and the wrapped file key.
//!
//! Layout (big-endian; see docs/bid-file-format.md):
//! `magic(8) version(1) fields_len(4) fields header_mac(32)`, where `fields` is
//! `aead(1) chunk_size(4) nonce_prefix(7) created_at(8) key_check(32)`, three
//! length-prefixed (u16) strings: tender id, platform id, file name; then the recipient count
//! (1 byte, 1..=32), the threshold (1 byte: 1 = any one recipient opens it; k ≥ 2 = any k
//! together, each recipient holding a Shamir share of the key), every recipient's
//! certificate serial (u16-prefixed), and every
//! recipient's wrapped key DER (u16-prefixed) in the same order (version 3, ADR 0026).
//!
//! Each wrapped key carries, inside the SM2 ciphertext, the tender id, the platform id and
//! the [`BidFileHeader::binding_hash`] (every header field but the wrapped keys and the MAC,
//! so there is no circularity; it covers the list of recipients): the phone refuses to unwrap
//! it for another purpose (ADR 0017).

use crate::error::{BidFileError, Result};
use bidkey_crypto::kdf::hkdf_sm3;
use bidkey_crypto::sm3::{hmac_sm3, sm3_parts};
use std::io::Read;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const MAGIC: [u8; 8] = *b"BIDKEYBF";
/// Version 3: several recipients (the enterprise's staff granted for the platform), written
/// by the bidder (ADR 0026). Version 2 had one recipient, written by the platform.
pub const VERSION: u8 = 3;
/// At most this many recipients per file.
pub const MAX_RECIPIENTS: usize = 32;
/// The only AEAD of version 1: SM4-GCM.
pub const AEAD_SM4_GCM: u8 = 1;
pub const NONCE_PREFIX_LEN: usize = 7;
pub const MAC_LEN: usize = 32;
/// Chunk sizes accepted when reading (a writer picks one in this range).
pub const MIN_CHUNK: u32 = 16;
pub const MAX_CHUNK: u32 = 16 << 20;
const MAX_FIELDS_LEN: u32 = 64 * 1024;
const KEY_CHECK_LABEL: &[u8] = b"bidkey bid-file v1 key check";
const MAC_KEY_INFO: &[u8] = b"bidkey bid-file v1 header mac";
const BINDING_LABEL: &[u8] = b"bidkey bid-file v3 binding\0";

/// One recipient of a bid file: an encryption certificate and the file key wrapped to it.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Serial (hex) of the recipient's encryption certificate.
    pub serial: String,
    /// The file key and its purpose ([`bidkey_crypto::file_key::WrappedKeyContents`])
    /// encrypted with SM2 to the recipient (GM/T 0009 DER, C1C3C2): what the phone unwraps.
    pub wrapped_key: Vec<u8>,
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipient")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// Everything the header says, and the bytes it was read from.
#[derive(Clone, PartialEq, Eq)]
pub struct BidFileHeader {
    pub chunk_size: u32,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    /// Unix seconds at encryption (the platform's clock; informational).
    pub created_at: u64,
    pub(crate) key_check: [u8; 32],
    pub tender_id: String,
    /// The trading platform the file was made for (its id in the Bidkey platform directory).
    pub platform_id: String,
    pub file_name: String,
    /// Whom the file key is wrapped to, in order; at least one.
    pub recipients: Vec<Recipient>,
    /// 1: each recipient's wrapped key is the file key. k ≥ 2: recipient `i` (from 0) holds
    /// the Shamir share at x = i + 1 (GF(2⁸)), and any k of them together open the file.
    pub threshold: u8,
    pub(crate) mac: [u8; MAC_LEN],
}

impl std::fmt::Debug for BidFileHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BidFileHeader")
            .field("recipients", &self.recipients)
            .field("threshold", &self.threshold)
            .field("tender_id", &self.tender_id)
            .field("platform_id", &self.platform_id)
            .field("file_name", &self.file_name)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

/// Proof of the file key without revealing it: SM3 over a label, the nonce prefix and the
/// key. It lets a wrong key be told apart from a changed file.
pub fn key_check(nonce_prefix: &[u8; NONCE_PREFIX_LEN], key: &[u8]) -> [u8; 32] {
    sm3_parts(&[KEY_CHECK_LABEL, nonce_prefix, key])
}

impl BidFileHeader {
    /// A header for `key` with the given fields: fills in the key check and the MAC.
    pub(crate) fn sealed(mut self, key: &[u8]) -> Result<Self> {
        self.key_check = key_check(&self.nonce_prefix, key);
        self.mac = hmac_sm3(&self.mac_key(key)?, &self.signed_bytes()?);
        Ok(self)
    }

    /// The header MAC key: derived from the file key (HKDF-SM3), so the SM4 key itself is
    /// used by SM4-GCM only.
    fn mac_key(&self, key: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        hkdf_sm3(key, &self.nonce_prefix, MAC_KEY_INFO, 32).map_err(BidFileError::Crypto)
    }

    /// Everything the header says except the wrapped keys (and the MAC after them): what
    /// [`Self::binding_hash`] covers, the list of recipients' serials included.
    fn bound_fields(&self) -> Result<Vec<u8>> {
        let mut f = Vec::with_capacity(128 + 160 * self.recipients.len());
        f.push(AEAD_SM4_GCM);
        f.extend_from_slice(&self.chunk_size.to_be_bytes());
        f.extend_from_slice(&self.nonce_prefix);
        f.extend_from_slice(&self.created_at.to_be_bytes());
        f.extend_from_slice(&self.key_check);
        for (what, s) in [
            ("tender id", self.tender_id.as_bytes()),
            ("platform id", self.platform_id.as_bytes()),
            ("file name", self.file_name.as_bytes()),
        ] {
            put_sized(&mut f, what, s)?;
        }
        let count = u8::try_from(self.recipients.len())
            .ok()
            .filter(|n| (1..=MAX_RECIPIENTS).contains(&usize::from(*n)))
            .ok_or(BidFileError::MalformedHeader("recipient count"))?;
        f.push(count);
        if self.threshold == 0 || self.threshold > count {
            return Err(BidFileError::MalformedHeader("threshold"));
        }
        f.push(self.threshold);
        for r in &self.recipients {
            put_sized(&mut f, "recipient serial", r.serial.as_bytes())?;
        }
        Ok(f)
    }

    fn fields(&self) -> Result<Vec<u8>> {
        let mut f = self.bound_fields()?;
        for r in &self.recipients {
            put_sized(&mut f, "wrapped key", &r.wrapped_key)?;
        }
        Ok(f)
    }

    /// What the wrapped keys bind the file to: SM3 over a label, the magic, the version and
    /// every header field but the wrapped keys (cipher, chunk size, nonce prefix, creation
    /// time, key check, tender, platform, file name, recipients' serials). The wrapped keys
    /// and the MAC are left out because they are made after it (no circularity); the MAC,
    /// checked with the key, covers them. A platform sends this with each wrapped key in a decrypt request
    /// and the phone compares it with the one inside the key.
    pub fn binding_hash(&self) -> Result<[u8; 32]> {
        Ok(sm3_parts(&[
            BINDING_LABEL,
            &MAGIC,
            &[VERSION],
            &self.bound_fields()?,
        ]))
    }

    /// Magic, version, length and fields: what the header MAC covers.
    fn signed_bytes(&self) -> Result<Vec<u8>> {
        let fields = self.fields()?;
        let len = u32::try_from(fields.len())
            .ok()
            .filter(|l| *l <= MAX_FIELDS_LEN)
            .ok_or(BidFileError::MalformedHeader("header too long"))?;
        let mut out = Vec::with_capacity(13 + fields.len() + MAC_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&fields);
        Ok(out)
    }

    /// This file's entries in a decrypt request (scan protocol), one per recipient: its
    /// name, the recipient, the wrapped key and the binding hash the phone compares with the
    /// one inside the key. A phone answers for the recipients it holds a key of.
    pub fn wrapped_file_keys(
        &self,
        file_name: &str,
    ) -> Result<Vec<bidkey_protocol::scan::WrappedFileKey>> {
        let header_hash = self.binding_hash()?.to_vec();
        Ok(self
            .recipients
            .iter()
            .map(|r| bidkey_protocol::scan::WrappedFileKey {
                file_name: file_name.to_owned(),
                recipient_serial: r.serial.clone(),
                wrapped_key: r.wrapped_key.clone(),
                header_hash: header_hash.clone(),
            })
            .collect())
    }

    /// The entry for the first recipient (a file with one recipient, as in most tests).
    pub fn wrapped_file_key(
        &self,
        file_name: &str,
    ) -> Result<bidkey_protocol::scan::WrappedFileKey> {
        self.wrapped_file_keys(file_name)?
            .into_iter()
            .next()
            .ok_or(BidFileError::MalformedHeader("recipient count"))
    }

    /// The recipients' certificate serials, in order.
    pub fn recipient_serials(&self) -> Vec<String> {
        self.recipients.iter().map(|r| r.serial.clone()).collect()
    }

    /// The first recipient's serial (files made by older tools and most tests have one).
    pub fn recipient_serial(&self) -> &str {
        self.recipients.first().map_or("", |r| r.serial.as_str())
    }

    /// The header as written to the file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = self.signed_bytes()?;
        out.extend_from_slice(&self.mac);
        Ok(out)
    }

    /// SM3 of the whole header: every chunk's AAD, so a chunk only opens under its header.
    pub fn hash(&self) -> Result<[u8; 32]> {
        Ok(sm3_parts(&[&self.to_bytes()?]))
    }

    /// Read and parse the header from the start of a bid file, leaving `r` at the first
    /// chunk. Needs no key: this is how a platform finds the wrapped key to send to the phone.
    pub fn read_from(r: &mut impl Read) -> Result<Self> {
        let mut fixed = [0u8; 13];
        read_exact_or(r, &mut fixed, BidFileError::NotABidFile)?;
        if fixed[..8] != MAGIC {
            return Err(BidFileError::NotABidFile);
        }
        if fixed[8] != VERSION {
            return Err(BidFileError::UnsupportedVersion(fixed[8]));
        }
        let len = u32::from_be_bytes([fixed[9], fixed[10], fixed[11], fixed[12]]);
        if len > MAX_FIELDS_LEN {
            return Err(BidFileError::MalformedHeader("header too long"));
        }
        let mut fields = vec![0u8; len as usize];
        read_exact_or(
            r,
            &mut fields,
            BidFileError::MalformedHeader("short header"),
        )?;
        let mut mac = [0u8; MAC_LEN];
        read_exact_or(r, &mut mac, BidFileError::MalformedHeader("short header"))?;
        let mut c = Cursor(&fields);
        if c.take(1)?[0] != AEAD_SM4_GCM {
            return Err(BidFileError::MalformedHeader("unknown cipher"));
        }
        let chunk_size = u32::from_be_bytes(c.array()?);
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
            return Err(BidFileError::MalformedHeader("chunk size"));
        }
        let nonce_prefix = c.array()?;
        let created_at = u64::from_be_bytes(c.array()?);
        let key_check = c.array()?;
        let tender_id = c.string("tender id")?;
        let platform_id = c.string("platform id")?;
        let file_name = c.string("file name")?;
        let count = usize::from(c.take(1)?[0]);
        if !(1..=MAX_RECIPIENTS).contains(&count) {
            return Err(BidFileError::MalformedHeader("recipient count"));
        }
        let threshold = c.take(1)?[0];
        if threshold == 0 || usize::from(threshold) > count {
            return Err(BidFileError::MalformedHeader("threshold"));
        }
        let serials = (0..count)
            .map(|_| c.string("recipient serial"))
            .collect::<Result<Vec<_>>>()?;
        let distinct: std::collections::HashSet<&str> =
            serials.iter().map(String::as_str).collect();
        if distinct.len() != serials.len() {
            return Err(BidFileError::MalformedHeader("recipient listed twice"));
        }
        let mut recipients = Vec::with_capacity(count);
        for serial in serials {
            recipients.push(Recipient {
                serial,
                wrapped_key: c.sized()?.to_vec(),
            });
        }
        if !c.0.is_empty() {
            return Err(BidFileError::MalformedHeader("trailing header bytes"));
        }
        let h = Self {
            chunk_size,
            nonce_prefix,
            created_at,
            key_check,
            tender_id,
            platform_id,
            file_name,
            recipients,
            threshold,
            mac,
        };
        // Canonical form only: re-encoding must give the bytes read.
        if h.fields()? != fields {
            return Err(BidFileError::MalformedHeader("not canonical"));
        }
        Ok(h)
    }

    /// Check `key` against this header: [`BidFileError::WrongKey`] if it is not the file's
    /// key, [`BidFileError::HeaderTampered`] if the header changed since encryption.
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        if !bool::from(key_check(&self.nonce_prefix, key).ct_eq(&self.key_check)) {
            return Err(BidFileError::WrongKey);
        }
        if !bool::from(hmac_sm3(&self.mac_key(key)?, &self.signed_bytes()?).ct_eq(&self.mac)) {
            return Err(BidFileError::HeaderTampered);
        }
        Ok(())
    }
}

fn put_sized(f: &mut Vec<u8>, what: &'static str, s: &[u8]) -> Result<()> {
    let len = u16::try_from(s.len()).map_err(|_| BidFileError::MalformedHeader(what))?;
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(s);
    Ok(())
}

fn read_exact_or(r: &mut impl Read, buf: &mut [u8], short: BidFileError) -> Result<()> {
    match r.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(short),
        Err(e) => Err(e.into()),
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(BidFileError::MalformedHeader("short header fields"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| BidFileError::MalformedHeader("short header fields"))
    }

    fn sized(&mut self) -> Result<&'a [u8]> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }

    fn string(&mut self, what: &'static str) -> Result<String> {
        String::from_utf8(self.sized()?.to_vec()).map_err(|_| BidFileError::MalformedHeader(what))
    }
}
