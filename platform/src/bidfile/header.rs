//! The bid-file header: what the file is for, whom it is for, and the wrapped file key.
//!
//! Layout (big-endian; see docs/bid-file-format.md):
//! `magic(8) version(1) fields_len(4) fields header_mac(32)`, where `fields` is
//! `aead(1) chunk_size(4) nonce_prefix(7) created_at(8) key_check(32)` followed by five
//! length-prefixed (u16) strings: recipient serial, tender id, platform id, file name,
//! wrapped key DER.
//!
//! The wrapped key carries, inside the SM2 ciphertext, the tender id, the platform id and
//! the [`BidFileHeader::binding_hash`] (every header field but the wrapped key and the MAC,
//! so there is no circularity): the phone refuses to unwrap it for another purpose (ADR 0017).

use crate::error::{PlatformError, Result};
use bidkey_crypto::kdf::hkdf_sm3;
use bidkey_crypto::sm3::{hmac_sm3, sm3_parts};
use std::io::Read;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const MAGIC: [u8; 8] = *b"BIDKEYBF";
/// Version 2: the platform id in the header and the purpose inside the wrapped key.
pub const VERSION: u8 = 2;
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
const BINDING_LABEL: &[u8] = b"bidkey bid-file v2 binding\0";

/// Everything the header says, and the bytes it was read from.
#[derive(Clone, PartialEq, Eq)]
pub struct BidFileHeader {
    pub chunk_size: u32,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    /// Unix seconds at encryption (the platform's clock; informational).
    pub created_at: u64,
    pub(crate) key_check: [u8; 32],
    /// Serial (hex) of the recipient's encryption certificate.
    pub recipient_serial: String,
    pub tender_id: String,
    /// The trading platform the file was made for (its id in the Bidkey platform directory).
    pub platform_id: String,
    pub file_name: String,
    /// The file key and its purpose ([`bidkey_crypto::file_key::WrappedKeyContents`])
    /// encrypted with SM2 to the recipient (GM/T 0009 DER, C1C3C2): what the phone unwraps.
    pub wrapped_key: Vec<u8>,
    pub(crate) mac: [u8; MAC_LEN],
}

impl std::fmt::Debug for BidFileHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BidFileHeader")
            .field("recipient_serial", &self.recipient_serial)
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
        hkdf_sm3(key, &self.nonce_prefix, MAC_KEY_INFO, 32).map_err(PlatformError::Crypto)
    }

    /// The fields up to the file name: everything the header says except the wrapped key
    /// (and the MAC after it). What [`Self::binding_hash`] covers.
    fn bound_fields(&self) -> Result<Vec<u8>> {
        let mut f = Vec::with_capacity(128 + self.wrapped_key.len());
        f.push(AEAD_SM4_GCM);
        f.extend_from_slice(&self.chunk_size.to_be_bytes());
        f.extend_from_slice(&self.nonce_prefix);
        f.extend_from_slice(&self.created_at.to_be_bytes());
        f.extend_from_slice(&self.key_check);
        for (what, s) in [
            ("recipient serial", self.recipient_serial.as_bytes()),
            ("tender id", self.tender_id.as_bytes()),
            ("platform id", self.platform_id.as_bytes()),
            ("file name", self.file_name.as_bytes()),
        ] {
            put_sized(&mut f, what, s)?;
        }
        Ok(f)
    }

    fn fields(&self) -> Result<Vec<u8>> {
        let mut f = self.bound_fields()?;
        put_sized(&mut f, "wrapped key", &self.wrapped_key)?;
        Ok(f)
    }

    /// What the wrapped key binds the file to: SM3 over a label, the magic, the version and
    /// every header field before the wrapped key (cipher, chunk size, nonce prefix, creation
    /// time, key check, recipient, tender, platform, file name). The wrapped key and the MAC
    /// are left out because they are made after it (no circularity); the MAC, checked with
    /// the key, covers them. A platform sends this with each wrapped key in a decrypt request
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
            .ok_or(PlatformError::MalformedHeader("header too long"))?;
        let mut out = Vec::with_capacity(13 + fields.len() + MAC_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&fields);
        Ok(out)
    }

    /// This file's entry in a decrypt request (scan protocol): its name, the recipient, the
    /// wrapped key and the binding hash the phone compares with the one inside the key.
    pub fn wrapped_file_key(
        &self,
        file_name: &str,
    ) -> Result<bidkey_protocol::scan::WrappedFileKey> {
        Ok(bidkey_protocol::scan::WrappedFileKey {
            file_name: file_name.to_owned(),
            recipient_serial: self.recipient_serial.clone(),
            wrapped_key: self.wrapped_key.clone(),
            header_hash: self.binding_hash()?.to_vec(),
        })
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
        read_exact_or(r, &mut fixed, PlatformError::NotABidFile)?;
        if fixed[..8] != MAGIC {
            return Err(PlatformError::NotABidFile);
        }
        if fixed[8] != VERSION {
            return Err(PlatformError::UnsupportedVersion(fixed[8]));
        }
        let len = u32::from_be_bytes([fixed[9], fixed[10], fixed[11], fixed[12]]);
        if len > MAX_FIELDS_LEN {
            return Err(PlatformError::MalformedHeader("header too long"));
        }
        let mut fields = vec![0u8; len as usize];
        read_exact_or(
            r,
            &mut fields,
            PlatformError::MalformedHeader("short header"),
        )?;
        let mut mac = [0u8; MAC_LEN];
        read_exact_or(r, &mut mac, PlatformError::MalformedHeader("short header"))?;
        let mut c = Cursor(&fields);
        if c.take(1)?[0] != AEAD_SM4_GCM {
            return Err(PlatformError::MalformedHeader("unknown cipher"));
        }
        let chunk_size = u32::from_be_bytes(c.array()?);
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
            return Err(PlatformError::MalformedHeader("chunk size"));
        }
        let nonce_prefix = c.array()?;
        let created_at = u64::from_be_bytes(c.array()?);
        let key_check = c.array()?;
        let recipient_serial = c.string("recipient serial")?;
        let tender_id = c.string("tender id")?;
        let platform_id = c.string("platform id")?;
        let file_name = c.string("file name")?;
        let wrapped_key = c.sized()?.to_vec();
        if !c.0.is_empty() {
            return Err(PlatformError::MalformedHeader("trailing header bytes"));
        }
        let h = Self {
            chunk_size,
            nonce_prefix,
            created_at,
            key_check,
            recipient_serial,
            tender_id,
            platform_id,
            file_name,
            wrapped_key,
            mac,
        };
        // Canonical form only: re-encoding must give the bytes read.
        if h.fields()? != fields {
            return Err(PlatformError::MalformedHeader("not canonical"));
        }
        Ok(h)
    }

    /// Check `key` against this header: [`PlatformError::WrongKey`] if it is not the file's
    /// key, [`PlatformError::HeaderTampered`] if the header changed since encryption.
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        if !bool::from(key_check(&self.nonce_prefix, key).ct_eq(&self.key_check)) {
            return Err(PlatformError::WrongKey);
        }
        if !bool::from(hmac_sm3(&self.mac_key(key)?, &self.signed_bytes()?).ct_eq(&self.mac)) {
            return Err(PlatformError::HeaderTampered);
        }
        Ok(())
    }
}

fn put_sized(f: &mut Vec<u8>, what: &'static str, s: &[u8]) -> Result<()> {
    let len = u16::try_from(s.len()).map_err(|_| PlatformError::MalformedHeader(what))?;
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(s);
    Ok(())
}

fn read_exact_or(r: &mut impl Read, buf: &mut [u8], short: PlatformError) -> Result<()> {
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
            return Err(PlatformError::MalformedHeader("short header fields"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| PlatformError::MalformedHeader("short header fields"))
    }

    fn sized(&mut self) -> Result<&'a [u8]> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }

    fn string(&mut self, what: &'static str) -> Result<String> {
        String::from_utf8(self.sized()?.to_vec()).map_err(|_| PlatformError::MalformedHeader(what))
    }
}
