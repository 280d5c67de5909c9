//! The CA's key file: the root and issuing CA keys and the master key that seals secrets at
//! rest in the database (co-signing server shares, KMC escrow, pending enrolments).
//!
//! `ca-keys.bin` in the data directory, owner-only:
//!
//! ```text
//! "BIDKEYCA" ‖ version (1) ‖ Argon2id m_KiB, t, p (u32 BE each) ‖ salt (16)
//!   ‖ len ‖ root certificate DER ‖ len ‖ issuing CA certificate DER      (lengths u32 BE)
//!   ‖ nonce ‖ SM4-GCM(root d ‖ issuing d ‖ master key) ‖ tag
//! ```
//! The SM4-GCM key is HKDF-SM3 of Argon2id(passphrase, salt); the additional data is every
//! byte before the nonce, so the certificates and parameters cannot be swapped either.
//!
//! The passphrase comes from `BIDKEY_CA_PASSPHRASE` (or [`crate::Config::ca_passphrase`]).
//! Without one, the first start makes a random passphrase and keeps it in `ca.passphrase`
//! beside the key file (owner-only): convenient for development and single-host installs,
//! but then the passphrase only protects copies of the key file made without the
//! passphrase file (backups, a stray `scp`). Production passes it from a secret store and
//! deletes `ca.passphrase`. See `docs/ca.md`.

use crate::error::{Result, ServerError};
use bidkey_crypto::aead::{self, AeadAlgorithm};
use bidkey_crypto::kdf::hkdf_sm3;
use bidkey_crypto::pin::{PinKdfParams, SALT_LEN, derive_pin_key};
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, ca_subject};
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

pub const KEY_FILE: &str = "ca-keys.bin";
pub const PASSPHRASE_FILE: &str = "ca.passphrase";
const MAGIC: &[u8; 8] = b"BIDKEYCA";
const VERSION: u8 = 1;
/// Argon2id for the key file: 64 MiB, 3 passes, 1 lane (RFC 9106 second recommendation,
/// one lane because the server derives it once at start).
const KDF: PinKdfParams = PinKdfParams {
    memory_kib: 64 * 1024,
    iterations: 3,
    parallelism: 1,
};
const ROOT_YEARS: u64 = 20;
const ISSUING_YEARS: u64 = 10;
const YEAR: u64 = 365 * 86_400;

/// What a sealed database value is; each has its own key and AAD label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// `cosign_keys.share_sealed`: a server share `d2 ‖ P1 ‖ P`.
    CosignShare,
    /// `kmc_escrow.key_sealed`: a whole escrowed encryption key.
    KmcEscrow,
    /// `enrollments.share_sealed`: a server share before its certificate exists.
    Enrollment,
    /// `tsa_keys.key_sealed`: a time-stamp authority's private key.
    TsaKey,
    /// `preauths.k2`: the server's half of a pre-authorised bid opening (ADR 0027).
    PreauthK2,
}

impl Sealed {
    fn label(self) -> &'static [u8] {
        match self {
            Sealed::CosignShare => b"bidkey/seal/cosign-share/v1",
            Sealed::KmcEscrow => b"bidkey/seal/kmc-escrow/v1",
            Sealed::Enrollment => b"bidkey/seal/enrollment/v1",
            Sealed::TsaKey => b"bidkey/seal/tsa-key/v1",
            Sealed::PreauthK2 => b"bidkey/seal/preauth-k2/v1",
        }
    }
}

/// The CA's keys and certificates, and the master sealing keys, in memory.
pub struct CaKeys {
    root: Cert,
    issuing: Cert,
    root_key: Sm2PrivateKey,
    issuing_key: Sm2PrivateKey,
    cosign_key: Zeroizing<Vec<u8>>,
    kmc_key: Zeroizing<Vec<u8>>,
    enrollment_key: Zeroizing<Vec<u8>>,
    tsa_key: Zeroizing<Vec<u8>>,
    preauth_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for CaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaKeys")
            .field("root", &self.root.serial_hex())
            .field("issuing", &self.issuing.serial_hex())
            .finish_non_exhaustive()
    }
}

fn internal(what: &str) -> impl Fn(bidkey_crypto::Error) -> ServerError + '_ {
    move |e| ServerError::Internal(format!("{what}: {e}"))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ServerError + '_ {
    move |e| ServerError::Internal(format!("{}: {e}", path.display()))
}

impl CaKeys {
    /// Load the key file from `dir`, or create the CA on first start.
    pub fn load_or_create(dir: &Path, passphrase: Option<&str>) -> Result<CaKeys> {
        let path = dir.join(KEY_FILE);
        if path.exists() {
            let pass = passphrase_for(dir, passphrase, false)?;
            return Self::load(&path, &pass);
        }
        let pass = passphrase_for(dir, passphrase, true)?;
        let (bytes, keys) = Self::create(&pass)?;
        match write_new_private(&path, &bytes) {
            Ok(()) => {
                // Public copies for operators and relying parties.
                let _ = std::fs::write(dir.join("ca-root.pem"), keys.root.to_pem()?);
                let _ = std::fs::write(dir.join("ca-issuing.pem"), keys.issuing.to_pem()?);
                tracing::info!(root = %keys.root.serial_hex(), "created the CA key file");
                Ok(keys)
            }
            // Another process created it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(&path, &pass),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn create(passphrase: &str) -> Result<(Vec<u8>, CaKeys)> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let not_before = now.saturating_sub(3600);
        let root_key = Sm2PrivateKey::make_random()?;
        let root = Cert::self_signed_root(
            ca_subject("Bidkey Root CA", "Bidkey")?,
            &root_key,
            not_before,
            now + ROOT_YEARS * YEAR,
        )?;
        let issuing_key = Sm2PrivateKey::make_random()?;
        let template = CertTemplate {
            profile: CertProfile::IssuingCa,
            subject: ca_subject("Bidkey SM2 Issuing CA", "Bidkey")?,
            public_key_spki: issuing_key.public_key().to_spki_der()?,
            not_before,
            not_after: now + ISSUING_YEARS * YEAR,
        };
        let issuing = Cert::issue(&template, &root, &root_key)?;
        let master = Zeroizing::new(bidkey_crypto::rng::bytes::<32>()?);

        let salt = bidkey_crypto::rng::bytes::<SALT_LEN>()?;
        let mut header = Vec::new();
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        for v in [KDF.memory_kib, KDF.iterations, KDF.parallelism] {
            header.extend_from_slice(&v.to_be_bytes());
        }
        header.extend_from_slice(&salt);
        for der in [root.to_der(), issuing.to_der()] {
            let len = u32::try_from(der.len()).map_err(|_| ServerError::Internal("cert".into()))?;
            header.extend_from_slice(&len.to_be_bytes());
            header.extend_from_slice(der);
        }
        let mut plain = Zeroizing::new(Vec::with_capacity(96));
        plain.extend_from_slice(root_key.to_bytes().as_slice());
        plain.extend_from_slice(issuing_key.to_bytes().as_slice());
        plain.extend_from_slice(master.as_slice());
        let file_key = file_key(passphrase, &salt, KDF)?;
        let sealed = aead::seal(AeadAlgorithm::Sm4Gcm, &file_key, &header, &plain)?;
        let mut bytes = header;
        bytes.extend_from_slice(&sealed);
        let keys = CaKeys::assemble(root, issuing, root_key, issuing_key, &master)?;
        Ok((bytes, keys))
    }

    fn load(path: &Path, passphrase: &str) -> Result<CaKeys> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let bad = || ServerError::Internal(format!("{} is not a CA key file", path.display()));
        let mut r = Reader(&bytes);
        if r.take(8).ok_or_else(bad)? != MAGIC || r.take(1).ok_or_else(bad)? != [VERSION] {
            return Err(bad());
        }
        let params = PinKdfParams {
            memory_kib: r.u32().ok_or_else(bad)?,
            iterations: r.u32().ok_or_else(bad)?,
            parallelism: r.u32().ok_or_else(bad)?,
        };
        let salt: [u8; SALT_LEN] = r
            .take(SALT_LEN)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        let root_len = r.u32().ok_or_else(bad)? as usize;
        let root = Cert::from_der(r.take(root_len).ok_or_else(bad)?).map_err(internal("root"))?;
        let issuing_len = r.u32().ok_or_else(bad)? as usize;
        let issuing =
            Cert::from_der(r.take(issuing_len).ok_or_else(bad)?).map_err(internal("issuing"))?;
        let header_len = bytes.len() - r.0.len();
        let file_key = file_key(passphrase, &salt, params)?;
        let plain = aead::open(AeadAlgorithm::Sm4Gcm, &file_key, &bytes[..header_len], r.0)
            .map_err(|_| {
                ServerError::Internal(format!(
                    "cannot open {}: wrong BIDKEY_CA_PASSPHRASE or a damaged file",
                    path.display()
                ))
            })?;
        if plain.len() != 96 {
            return Err(bad());
        }
        let root_key = Sm2PrivateKey::from_bytes(&plain[..32]).map_err(internal("root key"))?;
        let issuing_key =
            Sm2PrivateKey::from_bytes(&plain[32..64]).map_err(internal("issuing key"))?;
        let mut master = Zeroizing::new([0u8; 32]);
        master.copy_from_slice(&plain[64..96]);
        CaKeys::assemble(root, issuing, root_key, issuing_key, &master)
    }

    fn assemble(
        root: Cert,
        issuing: Cert,
        root_key: Sm2PrivateKey,
        issuing_key: Sm2PrivateKey,
        master: &[u8; 32],
    ) -> Result<CaKeys> {
        if root_key.public_key().to_spki_der()? != root.public_key_spki_der()?
            || issuing_key.public_key().to_spki_der()? != issuing.public_key_spki_der()?
        {
            return Err(ServerError::Internal(
                "CA keys do not match their certificates".into(),
            ));
        }
        issuing
            .verify_signature(root.public_key())
            .map_err(internal("issuing CA certificate"))?;
        let derive = |s: Sealed| hkdf_sm3(master, b"bidkey-master-v1", s.label(), 16);
        Ok(CaKeys {
            cosign_key: derive(Sealed::CosignShare)?,
            kmc_key: derive(Sealed::KmcEscrow)?,
            enrollment_key: derive(Sealed::Enrollment)?,
            tsa_key: derive(Sealed::TsaKey)?,
            preauth_key: derive(Sealed::PreauthK2)?,
            root,
            issuing,
            root_key,
            issuing_key,
        })
    }

    pub fn root(&self) -> &Cert {
        &self.root
    }

    pub fn issuing(&self) -> &Cert {
        &self.issuing
    }

    /// Signs certificates and the CRL of the issuing CA.
    pub fn issuing_key(&self) -> &Sm2PrivateKey {
        &self.issuing_key
    }

    /// Signs the root's CRL (ARL).
    pub fn root_key(&self) -> &Sm2PrivateKey {
        &self.root_key
    }

    fn key(&self, what: Sealed) -> &[u8] {
        match what {
            Sealed::CosignShare => &self.cosign_key,
            Sealed::KmcEscrow => &self.kmc_key,
            Sealed::Enrollment => &self.enrollment_key,
            Sealed::TsaKey => &self.tsa_key,
            Sealed::PreauthK2 => &self.preauth_key,
        }
    }

    /// Seal a secret for the row `row_id` of the table `what` is kept in (SM4-GCM, random
    /// nonce, AAD = label ‖ 0 ‖ row id): a sealed value copied to another row does not open.
    pub fn seal(&self, what: Sealed, row_id: &str, secret: &[u8]) -> Result<Vec<u8>> {
        Ok(aead::seal(
            AeadAlgorithm::Sm4Gcm,
            self.key(what),
            &aad(what, row_id),
            secret,
        )?)
    }

    /// Open what [`CaKeys::seal`] made for the same row.
    pub fn open(&self, what: Sealed, row_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        aead::open(
            AeadAlgorithm::Sm4Gcm,
            self.key(what),
            &aad(what, row_id),
            sealed,
        )
        .map_err(|_| ServerError::Internal(format!("sealed value of {row_id} does not open")))
    }
}

fn aad(what: Sealed, row_id: &str) -> Vec<u8> {
    [what.label(), &[0u8], row_id.as_bytes()].concat()
}

fn file_key(
    passphrase: &str,
    salt: &[u8; SALT_LEN],
    params: PinKdfParams,
) -> Result<Zeroizing<Vec<u8>>> {
    let stretched = derive_pin_key(passphrase.as_bytes(), salt, params)?;
    Ok(hkdf_sm3(
        stretched.as_slice(),
        b"",
        b"bidkey/ca-key-file/v1",
        16,
    )?)
}

/// The passphrase: configured, else `ca.passphrase`, else (only when creating) a new random
/// one saved there.
fn passphrase_for(
    dir: &Path,
    configured: Option<&str>,
    creating: bool,
) -> Result<Zeroizing<String>> {
    if let Some(p) = configured.map(str::trim).filter(|p| !p.is_empty()) {
        return Ok(Zeroizing::new(p.to_owned()));
    }
    let path = dir.join(PASSPHRASE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(p) if !p.trim().is_empty() => Ok(Zeroizing::new(p.trim().to_owned())),
        _ if creating => {
            let p = Zeroizing::new(hex::encode(bidkey_crypto::rng::bytes::<32>()?));
            crate::write_private(&path, p.as_bytes())?;
            Ok(p)
        }
        _ => Err(ServerError::Internal(format!(
            "the CA key file needs its passphrase: set BIDKEY_CA_PASSPHRASE or restore {}",
            path.display()
        ))),
    }
}

/// Create `path` owner-only, failing if it exists.
fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_needs_the_passphrase() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = CaKeys::load_or_create(dir.path(), Some("correct horse battery")).expect("create");
        let b = CaKeys::load_or_create(dir.path(), Some("correct horse battery")).expect("load");
        assert_eq!(a.root(), b.root());
        assert_eq!(a.issuing(), b.issuing());
        let sealed = a.seal(Sealed::KmcEscrow, "row-1", b"secret").expect("seal");
        assert_eq!(
            b.open(Sealed::KmcEscrow, "row-1", &sealed)
                .expect("open")
                .as_slice(),
            b"secret"
        );
        assert!(b.open(Sealed::KmcEscrow, "row-2", &sealed).is_err());
        assert!(b.open(Sealed::CosignShare, "row-1", &sealed).is_err());
        assert!(CaKeys::load_or_create(dir.path(), Some("wrong")).is_err());
        assert!(!dir.path().join(PASSPHRASE_FILE).exists());
        // Without a configured passphrase and without the passphrase file: refused.
        assert!(CaKeys::load_or_create(dir.path(), None).is_err());
    }

    #[test]
    fn random_passphrase_is_kept_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = CaKeys::load_or_create(dir.path(), None).expect("create");
        let b = CaKeys::load_or_create(dir.path(), None).expect("load");
        assert_eq!(a.issuing(), b.issuing());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [KEY_FILE, PASSPHRASE_FILE] {
                let mode = std::fs::metadata(dir.path().join(f))
                    .expect("meta")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{f} must be owner-only");
            }
        }
        let bytes = std::fs::read(dir.path().join(KEY_FILE)).expect("read");
        let mut tampered = bytes.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        std::fs::remove_file(dir.path().join(KEY_FILE)).expect("rm");
        std::fs::write(dir.path().join(KEY_FILE), &tampered).expect("write");
        assert!(CaKeys::load_or_create(dir.path(), None).is_err());
    }
}
