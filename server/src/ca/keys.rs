//! The server's secret keys, split by domain (ADR 0019), each in its own passphrase-sealed
//! key file ([`crate::keyfile`]):
//!
//! | file             | passphrase               | holds                                        | read by |
//! |------------------|--------------------------|----------------------------------------------|---------|
//! | `ca-root.key`    | `BIDKEY_ROOT_PASSPHRASE` | the root CA key                              | `bidkey-server ca …` only |
//! | `ca-issuing.key` | `BIDKEY_CA_PASSPHRASE`   | the issuing CA key, the TSA key sealing key  | the server |
//! | `kmc.key`        | `BIDKEY_KMC_PASSPHRASE`  | the KMC escrow sealing key                   | the server |
//! | `cosign.key`     | `BIDKEY_COSIGN_PASSPHRASE` | the co-signing share and enrolment sealing keys | the server |
//!
//! `bidkey-server ca init` makes them (sandbox mode makes them on first start); the serving
//! process never opens `ca-root.key`, so the root's CRL (ARL) is signed by `bidkey-server ca
//! root-crl` and served from the database. A data directory of an earlier version holds one
//! `ca-keys.bin` with everything: `bidkey-server ca split-keys` turns it into these files.

use crate::error::{Result, ServerError};
use crate::keyfile::{self, Opened, Passphrases, Slot};
use bidkey_crypto::aead::{self, AeadAlgorithm};
use bidkey_crypto::kdf::hkdf_sm3;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{Cert, CertProfile, CertTemplate, ca_subject};
use std::path::Path;
use zeroize::Zeroizing;

const ROOT_YEARS: u64 = 20;
const ISSUING_YEARS: u64 = 10;
const YEAR: u64 = 365 * 86_400;
const SEAL_KEY_LEN: usize = 16;

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
    /// `seal-maker.key`: the GB/T 38540 seal maker's private key.
    SealMakerKey,
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
            Sealed::SealMakerKey => b"bidkey/seal/seal-maker-key/v1",
            Sealed::PreauthK2 => b"bidkey/seal/preauth-k2/v1",
        }
    }
}

/// The sealing keys of one domain: it seals and opens only its own kinds of value.
pub struct Sealer {
    slot: Slot,
    keys: Vec<(Sealed, Zeroizing<Vec<u8>>)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({})", self.slot.id)
    }
}

impl Sealer {
    /// The kinds this domain seals, in the order their keys sit in its key file.
    fn kinds(slot: Slot) -> &'static [Sealed] {
        match slot.id {
            "ca" => &[Sealed::TsaKey, Sealed::SealMakerKey, Sealed::PreauthK2],
            "kmc" => &[Sealed::KmcEscrow],
            "cosign" => &[Sealed::CosignShare, Sealed::Enrollment],
            _ => &[],
        }
    }

    fn from_bytes(slot: Slot, bytes: &[u8]) -> Result<Sealer> {
        let kinds = Self::kinds(slot);
        if bytes.len() != kinds.len() * SEAL_KEY_LEN {
            return Err(ServerError::Internal(format!(
                "{}: wrong sealing key length",
                slot.file
            )));
        }
        Ok(Sealer {
            slot,
            keys: kinds
                .iter()
                .zip(bytes.chunks(SEAL_KEY_LEN))
                .map(|(k, b)| (*k, Zeroizing::new(b.to_vec())))
                .collect(),
        })
    }

    fn key(&self, what: Sealed) -> Result<&[u8]> {
        self.keys
            .iter()
            .find(|(k, _)| *k == what)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| {
                ServerError::Internal(format!("{} does not seal {what:?} values", self.slot.what))
            })
    }

    /// Seal a secret for the row `row_id` of the table `what` is kept in (SM4-GCM, random
    /// nonce, AAD = label ‖ 0 ‖ row id): a sealed value copied to another row does not open.
    pub fn seal(&self, what: Sealed, row_id: &str, secret: &[u8]) -> Result<Vec<u8>> {
        Ok(aead::seal(
            AeadAlgorithm::Sm4Gcm,
            self.key(what)?,
            &aad(what, row_id),
            secret,
        )?)
    }

    /// Open what [`Sealer::seal`] made for the same row.
    pub fn open(&self, what: Sealed, row_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        open_with_key(self.key(what)?, what, row_id, sealed)
    }
}

/// Open a sealed value with raw key bytes (what an attacker holding one key file's secret
/// could try; the tests do).
pub fn open_with_key(
    key: &[u8],
    what: Sealed,
    row_id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    aead::open(AeadAlgorithm::Sm4Gcm, key, &aad(what, row_id), sealed)
        .map_err(|_| ServerError::Internal(format!("sealed value of {row_id} does not open")))
}

fn aad(what: Sealed, row_id: &str) -> Vec<u8> {
    [what.label(), &[0u8], row_id.as_bytes()].concat()
}

/// The issuing CA: certificates, its key, and the TSA key sealing key. No root key.
pub struct CaKeys {
    root: Cert,
    issuing: Cert,
    issuing_key: Sm2PrivateKey,
    seals: Sealer,
}

impl std::fmt::Debug for CaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaKeys")
            .field("root", &self.root.serial_hex())
            .field("issuing", &self.issuing.serial_hex())
            .finish_non_exhaustive()
    }
}

impl CaKeys {
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

    /// Seal a value of the CA's domain (the TSA's and the seal maker's keys, the server's
    /// halves of pre-authorised openings).
    pub fn seal(&self, what: Sealed, row_id: &str, secret: &[u8]) -> Result<Vec<u8>> {
        self.seals.seal(what, row_id, secret)
    }

    pub fn open(&self, what: Sealed, row_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.seals.open(what, row_id, sealed)
    }
}

/// The root CA's certificate and key: only operator commands hold one.
pub struct RootKey {
    cert: Cert,
    key: Sm2PrivateKey,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootKey({})", self.cert.serial_hex())
    }
}

impl RootKey {
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    pub fn key(&self) -> &Sm2PrivateKey {
        &self.key
    }
}

/// What the serving process holds: every serving slot's keys, and no root key.
#[derive(Debug)]
pub struct ServingKeys {
    pub ca: CaKeys,
    pub kmc: Sealer,
    pub cosign: Sealer,
}

/// The single key file of versions before the split (ADR 0019).
pub const LEGACY_FILE: &str = "ca-keys.bin";
pub const LEGACY_PASSPHRASE_FILE: &str = "ca.passphrase";

fn internal(what: &str) -> impl Fn(bidkey_crypto::Error) -> ServerError + '_ {
    move |e| ServerError::Internal(format!("{what}: {e}"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether the data directory holds initialised key files.
pub fn initialised(dir: &Path) -> bool {
    keyfile::CA.path(dir).exists()
}

/// Refuse a directory still on the single key file, saying what to do.
fn refuse_legacy(dir: &Path) -> Result<()> {
    if dir.join(LEGACY_FILE).exists() && !initialised(dir) {
        return Err(ServerError::Internal(format!(
            "{} is the single key file of an earlier Bidkey version; split it into one key file per secret (root CA, issuing CA, KMC, co-signing) with `bidkey-server ca split-keys`, giving the old passphrase in BIDKEY_OLD_CA_PASSPHRASE and a new one for each key (docs/operations.md, \"Splitting the key file\")",
            dir.join(LEGACY_FILE).display()
        )));
    }
    Ok(())
}

/// The plain secrets of every slot, before they are sealed into files.
struct Material {
    root: Cert,
    issuing: Cert,
    root_key: Sm2PrivateKey,
    issuing_key: Sm2PrivateKey,
    /// Sealing keys per slot, in [`Sealer::kinds`] order.
    ca_seal: Zeroizing<Vec<u8>>,
    kmc_seal: Zeroizing<Vec<u8>>,
    cosign_seal: Zeroizing<Vec<u8>>,
}

fn random_seal_keys(slot: Slot) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::new());
    for _ in Sealer::kinds(slot) {
        out.extend_from_slice(&bidkey_crypto::rng::bytes::<SEAL_KEY_LEN>()?);
    }
    Ok(out)
}

fn new_material() -> Result<Material> {
    let now = unix_now();
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
    Ok(Material {
        root,
        issuing,
        root_key,
        issuing_key,
        ca_seal: random_seal_keys(keyfile::CA)?,
        kmc_seal: random_seal_keys(keyfile::KMC)?,
        cosign_seal: random_seal_keys(keyfile::COSIGN)?,
    })
}

/// Seal every slot's file and write them, refusing to overwrite any.
fn write_material(
    dir: &Path,
    m: &Material,
    passphrases: &Passphrases,
    sandbox: bool,
) -> Result<()> {
    if !sandbox {
        passphrases
            .check_distinct()
            .map_err(ServerError::Internal)?;
    }
    for slot in keyfile::ALL {
        if slot.path(dir).exists() {
            return Err(ServerError::Internal(format!(
                "{} exists: the key files are made once",
                slot.path(dir).display()
            )));
        }
    }
    let mut files = Vec::new();
    for slot in keyfile::ALL {
        let kdf = if passphrases.get(*slot).is_some() {
            keyfile::KDF
        } else {
            keyfile::RANDOM_KDF
        };
        let pass = keyfile::passphrase_for(*slot, dir, passphrases, sandbox, true)?;
        let mut secret = Zeroizing::new(Vec::new());
        let root_der = m.root.to_der();
        let public: Vec<&[u8]> = match slot.id {
            "root" => {
                secret.extend_from_slice(m.root_key.to_bytes().as_slice());
                vec![root_der]
            }
            "ca" => {
                secret.extend_from_slice(m.issuing_key.to_bytes().as_slice());
                secret.extend_from_slice(&m.ca_seal);
                vec![root_der, m.issuing.to_der()]
            }
            "kmc" => {
                secret.extend_from_slice(&m.kmc_seal);
                vec![]
            }
            "cosign" => {
                secret.extend_from_slice(&m.cosign_seal);
                vec![]
            }
            // A slot added to `keyfile::ALL` needs its material here (and its kinds in
            // `Sealer::kinds`, its field in `ServingKeys`).
            other => {
                return Err(ServerError::Internal(format!(
                    "no key material made for the key file slot {other}"
                )));
            }
        };
        files.push((*slot, keyfile::seal(*slot, &pass, kdf, &public, &secret)?));
    }
    for (slot, bytes) in files {
        keyfile::write_new_private(&slot.path(dir), &bytes)
            .map_err(|e| ServerError::Internal(format!("{}: {e}", slot.path(dir).display())))?;
    }
    // Public copies for operators and relying parties.
    let _ = std::fs::write(dir.join("ca-root.pem"), m.root.to_pem()?);
    let _ = std::fs::write(dir.join("ca-issuing.pem"), m.issuing.to_pem()?);
    Ok(())
}

/// `bidkey-server ca init` (and sandbox mode's first start): make the root and issuing CA
/// and the sealing keys, one key file each. Returns the root key (for the first ARL),
/// which the caller drops once the ARL is stored.
pub fn init(dir: &Path, passphrases: &Passphrases, sandbox: bool) -> Result<RootKey> {
    refuse_legacy(dir)?;
    let m = new_material()?;
    write_material(dir, &m, passphrases, sandbox)?;
    tracing::info!(root = %m.root.serial_hex(), "created the key files");
    Ok(RootKey {
        cert: m.root,
        key: m.root_key,
    })
}

fn open_slot(dir: &Path, slot: Slot, passphrases: &Passphrases, sandbox: bool) -> Result<Opened> {
    let pass = keyfile::passphrase_for(slot, dir, passphrases, sandbox, false)?;
    keyfile::open(slot, &slot.path(dir), &pass)
}

fn cert_at(o: &Opened, i: usize, slot: Slot) -> Result<Cert> {
    let der = o
        .public
        .get(i)
        .ok_or_else(|| ServerError::Internal(format!("{}: certificate missing", slot.file)))?;
    Cert::from_der(der).map_err(internal(slot.file))
}

/// The serving process's keys: every [`keyfile::SERVING`] slot; never the root's.
pub fn load_serving(dir: &Path, passphrases: &Passphrases, sandbox: bool) -> Result<ServingKeys> {
    refuse_legacy(dir)?;
    if !initialised(dir) {
        return Err(ServerError::Internal(format!(
            "{} holds no key files: run `bidkey-server ca init` first (with the passphrases of docs/operations.md)",
            dir.display()
        )));
    }
    if !sandbox {
        passphrases
            .check_distinct()
            .map_err(ServerError::Internal)?;
    }
    let ca_file = open_slot(dir, keyfile::CA, passphrases, sandbox)?;
    let root = cert_at(&ca_file, 0, keyfile::CA)?;
    let issuing = cert_at(&ca_file, 1, keyfile::CA)?;
    let (key_bytes, seal_bytes) = ca_file.secret.split_at(32.min(ca_file.secret.len()));
    let issuing_key = Sm2PrivateKey::from_bytes(key_bytes).map_err(internal("issuing key"))?;
    if issuing_key.public_key().to_spki_der()? != issuing.public_key_spki_der()? {
        return Err(ServerError::Internal(
            "the issuing CA key does not match its certificate".into(),
        ));
    }
    issuing
        .verify_signature(root.public_key())
        .map_err(internal("issuing CA certificate"))?;
    let ca = CaKeys {
        root,
        issuing,
        issuing_key,
        seals: Sealer::from_bytes(keyfile::CA, seal_bytes)?,
    };
    let kmc = open_slot(dir, keyfile::KMC, passphrases, sandbox)?;
    let cosign = open_slot(dir, keyfile::COSIGN, passphrases, sandbox)?;
    Ok(ServingKeys {
        ca,
        kmc: Sealer::from_bytes(keyfile::KMC, &kmc.secret)?,
        cosign: Sealer::from_bytes(keyfile::COSIGN, &cosign.secret)?,
    })
}

/// The root key, for an operator command (`bidkey-server ca root-crl`).
pub fn load_root(dir: &Path, passphrases: &Passphrases, sandbox: bool) -> Result<RootKey> {
    refuse_legacy(dir)?;
    let o = open_slot(dir, keyfile::ROOT, passphrases, sandbox)?;
    let cert = cert_at(&o, 0, keyfile::ROOT)?;
    let key = Sm2PrivateKey::from_bytes(&o.secret).map_err(internal("root key"))?;
    if key.public_key().to_spki_der()? != cert.public_key_spki_der()? {
        return Err(ServerError::Internal(
            "the root key does not match its certificate".into(),
        ));
    }
    Ok(RootKey { cert, key })
}

/// `bidkey-server ca split-keys`: turn the single `ca-keys.bin` of earlier versions into one
/// key file per slot, keeping every key (sealed rows keep opening), then delete it and its
/// passphrase file.
pub fn split_legacy(
    dir: &Path,
    old_passphrase: Option<&str>,
    passphrases: &Passphrases,
    sandbox: bool,
) -> Result<()> {
    let path = dir.join(LEGACY_FILE);
    if !path.exists() {
        return Err(ServerError::Internal(format!(
            "{} does not exist: nothing to split",
            path.display()
        )));
    }
    let old = match old_passphrase.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Zeroizing::new(p.to_owned()),
        None => std::fs::read_to_string(dir.join(LEGACY_PASSPHRASE_FILE))
            .map(|p| Zeroizing::new(p.trim().to_owned()))
            .map_err(|_| {
                ServerError::Internal(
                    "give the old key file's passphrase in BIDKEY_OLD_CA_PASSPHRASE".into(),
                )
            })?,
    };
    let m = legacy::open(&path, &old)?;
    write_material(dir, &m, passphrases, sandbox)?;
    std::fs::remove_file(&path)
        .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display())))?;
    let _ = std::fs::remove_file(dir.join(LEGACY_PASSPHRASE_FILE));
    Ok(())
}

/// The single key file of earlier versions: read (to split it) and, for the tests, written.
mod legacy {
    use super::*;
    use crate::keyfile::Reader;
    use bidkey_crypto::pin::{PinKdfParams, SALT_LEN, derive_pin_key};

    const MAGIC: &[u8; 8] = b"BIDKEYCA";

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

    /// The per-slot sealing keys the old master key derived.
    fn derived(master: &[u8], slot: Slot) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        for kind in Sealer::kinds(slot) {
            out.extend_from_slice(&hkdf_sm3(
                master,
                b"bidkey-master-v1",
                kind.label(),
                SEAL_KEY_LEN,
            )?);
        }
        Ok(out)
    }

    pub(super) fn open(path: &Path, passphrase: &str) -> Result<Material> {
        let bytes = std::fs::read(path)
            .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display())))?;
        let bad = || ServerError::Internal(format!("{} is not a CA key file", path.display()));
        let mut r = Reader(&bytes);
        if r.take(8).ok_or_else(bad)? != MAGIC || r.take(1).ok_or_else(bad)? != [1] {
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
        let key = file_key(passphrase, &salt, params)?;
        let plain =
            aead::open(AeadAlgorithm::Sm4Gcm, &key, &bytes[..header_len], r.0).map_err(|_| {
                ServerError::Internal(format!(
                    "cannot open {}: wrong BIDKEY_OLD_CA_PASSPHRASE or a damaged file",
                    path.display()
                ))
            })?;
        if plain.len() != 96 {
            return Err(bad());
        }
        let master = &plain[64..96];
        Ok(Material {
            root,
            issuing,
            root_key: Sm2PrivateKey::from_bytes(&plain[..32]).map_err(internal("root key"))?,
            issuing_key: Sm2PrivateKey::from_bytes(&plain[32..64])
                .map_err(internal("issuing key"))?,
            ca_seal: derived(master, keyfile::CA)?,
            kmc_seal: derived(master, keyfile::KMC)?,
            cosign_seal: derived(master, keyfile::COSIGN)?,
        })
    }

    /// Write an old-format file (tests of the split), returning its master key.
    #[cfg(test)]
    pub(super) fn write(path: &Path, passphrase: &str) -> Result<Zeroizing<Vec<u8>>> {
        let m = new_material()?;
        let params = crate::keyfile::TEST_KDF;
        let salt = bidkey_crypto::rng::bytes::<SALT_LEN>()?;
        let mut header = Vec::new();
        header.extend_from_slice(MAGIC);
        header.push(1);
        for v in [params.memory_kib, params.iterations, params.parallelism] {
            header.extend_from_slice(&v.to_be_bytes());
        }
        header.extend_from_slice(&salt);
        for der in [m.root.to_der(), m.issuing.to_der()] {
            header.extend_from_slice(&(der.len() as u32).to_be_bytes());
            header.extend_from_slice(der);
        }
        let master = Zeroizing::new(bidkey_crypto::rng::bytes::<32>()?.to_vec());
        let mut plain = Zeroizing::new(Vec::new());
        plain.extend_from_slice(m.root_key.to_bytes().as_slice());
        plain.extend_from_slice(m.issuing_key.to_bytes().as_slice());
        plain.extend_from_slice(&master);
        let key = file_key(passphrase, &salt, params)?;
        let sealed = aead::seal(AeadAlgorithm::Sm4Gcm, &key, &header, &plain)?;
        header.extend_from_slice(&sealed);
        std::fs::write(path, header).map_err(|e| ServerError::Internal(e.to_string()))?;
        Ok(master)
    }

    /// Seal as the old server did (tests of the split).
    #[cfg(test)]
    pub(super) fn seal(master: &[u8], what: Sealed, row: &str, secret: &[u8]) -> Vec<u8> {
        let key = hkdf_sm3(master, b"bidkey-master-v1", what.label(), 16).expect("hkdf");
        aead::seal(AeadAlgorithm::Sm4Gcm, &key, &aad(what, row), secret).expect("seal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyfile::{CA, COSIGN, KMC, ROOT};

    fn passphrases() -> Passphrases {
        Passphrases::default()
            .with(ROOT, "root pass")
            .with(CA, "ca pass")
            .with(KMC, "kmc pass")
            .with(COSIGN, "cosign pass")
    }

    #[test]
    fn the_serving_keys_hold_no_root_key_and_the_root_file_is_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = passphrases();
        let root = init(dir.path(), &p, false).expect("init");
        let serving = load_serving(dir.path(), &p, false).expect("load");
        assert_eq!(serving.ca.root(), root.cert());
        // The serving process opens without the root passphrase at all.
        let without_root = Passphrases::default()
            .with(CA, "ca pass")
            .with(KMC, "kmc pass")
            .with(COSIGN, "cosign pass");
        load_serving(dir.path(), &without_root, false).expect("serves without the root's");
        let e = load_root(dir.path(), &without_root, false).expect_err("no root passphrase");
        assert!(e.to_string().contains("BIDKEY_ROOT_PASSPHRASE"), "{e}");
        assert_eq!(
            load_root(dir.path(), &p, false).expect("root").cert(),
            root.cert()
        );
        // Nothing the serving files hold is the root key.
        for slot in keyfile::SERVING {
            let o = keyfile::open(*slot, &slot.path(dir.path()), p.get(*slot).expect("p"))
                .expect("open");
            let d = root.key().to_bytes();
            assert!(
                !o.secret.windows(32).any(|w| w == d.as_slice()),
                "{} holds the root key",
                slot.file
            );
        }
        // Each file needs its own passphrase.
        let swapped = Passphrases::default()
            .with(CA, "kmc pass")
            .with(KMC, "ca pass")
            .with(COSIGN, "cosign pass");
        assert!(load_serving(dir.path(), &swapped, false).is_err());
        assert!(init(dir.path(), &p, false).is_err(), "made once");
    }

    #[test]
    fn one_stolen_key_file_opens_only_its_own_domain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = passphrases();
        init(dir.path(), &p, false).expect("init");
        let k = load_serving(dir.path(), &p, false).expect("load");
        let share = k
            .cosign
            .seal(Sealed::CosignShare, "row", b"d2")
            .expect("seal");
        let escrow = k
            .kmc
            .seal(Sealed::KmcEscrow, "row", b"enc key")
            .expect("seal");
        // The domains refuse each other's kinds...
        assert!(k.kmc.open(Sealed::CosignShare, "row", &share).is_err());
        assert!(k.cosign.open(Sealed::KmcEscrow, "row", &escrow).is_err());
        assert!(k.ca.open(Sealed::KmcEscrow, "row", &escrow).is_err());
        // ...and the raw secret of one stolen file (with its passphrase) opens nothing of
        // another's, whichever label the thief tries.
        let stolen_kmc = keyfile::open(KMC, &KMC.path(dir.path()), "kmc pass").expect("kmc");
        let stolen_cosign =
            keyfile::open(COSIGN, &COSIGN.path(dir.path()), "cosign pass").expect("cosign");
        for key in stolen_kmc.secret.chunks(SEAL_KEY_LEN) {
            for what in [Sealed::CosignShare, Sealed::Enrollment] {
                assert!(open_with_key(key, what, "row", &share).is_err());
            }
        }
        for key in stolen_cosign.secret.chunks(SEAL_KEY_LEN) {
            assert!(open_with_key(key, Sealed::KmcEscrow, "row", &escrow).is_err());
        }
        assert_eq!(
            k.cosign
                .open(Sealed::CosignShare, "row", &share)
                .expect("own")
                .as_slice(),
            b"d2"
        );
        // The same passphrase for two files is refused outside sandbox mode.
        let dir2 = tempfile::tempdir().expect("tempdir");
        let same = passphrases().with(KMC, "ca pass");
        let e = init(dir2.path(), &same, false).expect_err("same");
        assert!(e.to_string().contains("are the same"), "{e}");
    }

    #[test]
    fn the_old_single_file_is_refused_then_split_keeping_every_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = legacy::write(&dir.path().join(LEGACY_FILE), "old pass").expect("old");
        let share = legacy::seal(&master, Sealed::CosignShare, "c1", b"share");
        let escrow = legacy::seal(&master, Sealed::KmcEscrow, "e1", b"escrow");
        let tsa = legacy::seal(&master, Sealed::TsaKey, "sm2", b"tsa");
        let p = passphrases();
        let e = load_serving(dir.path(), &p, false).expect_err("old layout");
        assert!(e.to_string().contains("bidkey-server ca split-keys"), "{e}");
        assert!(split_legacy(dir.path(), Some("wrong"), &p, false).is_err());
        split_legacy(dir.path(), Some("old pass"), &p, false).expect("split");
        assert!(!dir.path().join(LEGACY_FILE).exists());
        let k = load_serving(dir.path(), &p, false).expect("load");
        assert_eq!(
            k.cosign
                .open(Sealed::CosignShare, "c1", &share)
                .expect("share")
                .as_slice(),
            b"share"
        );
        assert_eq!(
            k.kmc
                .open(Sealed::KmcEscrow, "e1", &escrow)
                .expect("escrow")
                .as_slice(),
            b"escrow"
        );
        assert_eq!(
            k.ca.open(Sealed::TsaKey, "sm2", &tsa)
                .expect("tsa")
                .as_slice(),
            b"tsa"
        );
        load_root(dir.path(), &p, false).expect("root kept");
    }

    #[test]
    fn sandbox_mode_keeps_random_passphrases_beside_the_keys_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = Passphrases::default();
        init(dir.path(), &none, true).expect("init");
        load_serving(dir.path(), &none, true).expect("load");
        let e = load_serving(dir.path(), &none, false).expect_err("not sandbox");
        assert!(
            e.to_string().contains("refused outside sandbox mode"),
            "{e}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for slot in keyfile::ALL {
                for f in [
                    slot.path(dir.path()),
                    slot.sandbox_passphrase_path(dir.path()),
                ] {
                    let mode = std::fs::metadata(&f).expect("meta").permissions().mode();
                    assert_eq!(mode & 0o077, 0, "{} must be owner-only", f.display());
                }
            }
        }
    }
}
