//! Passphrase-sealed key files, one per secret domain (ADR 0019).
//!
//! Each domain — the root CA, the issuing CA, the KMC's escrow, the co-signing shares — has
//! its own [`Slot`]: its own file in the data directory and its own passphrase, so that one
//! stolen file (with its passphrase) gives that domain's secrets and no other. A further key
//! (a seal maker's, say) is one more `Slot` constant, an entry in [`SERVING`] and [`ALL`],
//! its material in `ca::keys::write_material` (made by `ca init`), and its field in
//! `ca::keys::ServingKeys` (and `Sealer::kinds` if it seals database values).
//!
//! File format (every length u32 BE):
//!
//! ```text
//! "BIDKEYKF" ‖ version (1) ‖ len ‖ slot id ‖ Argon2id m_KiB, t, p (u32 BE each) ‖ salt (16)
//!   ‖ count (u32) ‖ (len ‖ public blob)*  ‖ nonce ‖ SM4-GCM(secret) ‖ tag
//! ```
//! The SM4-GCM key is HKDF-SM3 of Argon2id(passphrase, salt) with the slot id in the info;
//! the additional data is every byte before the nonce, so neither the public part (the
//! certificates) nor the slot can be swapped.
//!
//! Passphrases come from the slot's environment variable or from a file named in the
//! configuration (`[passphrase_files]`), which must lie outside the data directory. Only in
//! sandbox mode may a passphrase be made at random and kept beside the key file
//! (`<file>.passphrase`), for tests, the demo and development.

use crate::error::{Result, ServerError};
use bidkey_crypto::aead::{self, AeadAlgorithm};
use bidkey_crypto::kdf::hkdf_sm3;
use bidkey_crypto::pin::{PinKdfParams, SALT_LEN, derive_pin_key};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"BIDKEYKF";
const VERSION: u8 = 1;
/// Argon2id: 64 MiB, 3 passes, 1 lane (RFC 9106 second recommendation; derived once at
/// start).
pub const KDF: PinKdfParams = PinKdfParams {
    memory_kib: 64 * 1024,
    iterations: 3,
    parallelism: 1,
};
/// For a passphrase made at random (sandbox mode: 256 bits), stretching adds nothing.
pub const RANDOM_KDF: PinKdfParams = PinKdfParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

/// One secret domain: where its file lives and where its passphrase comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// Short name: the `[passphrase_files]` key and the sandbox passphrase file's stem.
    pub id: &'static str,
    /// The key file in the data directory.
    pub file: &'static str,
    /// The environment variable holding the passphrase.
    pub env: &'static str,
    /// What it protects, for messages.
    pub what: &'static str,
}

/// The root CA's key: read only by `bidkey-server ca …` operator commands, never by the
/// serving process.
pub const ROOT: Slot = Slot {
    id: "root",
    file: "ca-root.key",
    env: "BIDKEY_ROOT_PASSPHRASE",
    what: "the root CA key",
};
/// The issuing CA's key (certificates, CRLs) and the time-stamp authority's sealing key.
pub const CA: Slot = Slot {
    id: "ca",
    file: "ca-issuing.key",
    env: "BIDKEY_CA_PASSPHRASE",
    what: "the issuing CA key",
};
/// The key management centre's escrow sealing key.
pub const KMC: Slot = Slot {
    id: "kmc",
    file: "kmc.key",
    env: "BIDKEY_KMC_PASSPHRASE",
    what: "the KMC escrow sealing key",
};
/// The co-signing service's share sealing keys (shares and pending enrolments).
pub const COSIGN: Slot = Slot {
    id: "cosign",
    file: "cosign.key",
    env: "BIDKEY_COSIGN_PASSPHRASE",
    what: "the co-signing share sealing key",
};

/// The slots the serving process opens.
pub const SERVING: &[Slot] = &[CA, KMC, COSIGN];
/// Every slot, the operator's root included.
pub const ALL: &[Slot] = &[ROOT, CA, KMC, COSIGN];

/// A slot by its id (`[passphrase_files]` keys).
pub fn slot(id: &str) -> Option<Slot> {
    ALL.iter().copied().find(|s| s.id == id)
}

impl Slot {
    pub fn path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(self.file)
    }

    /// The sandbox-only passphrase file beside the key file.
    pub fn sandbox_passphrase_path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(format!("{}.passphrase", self.file))
    }
}

/// Passphrases by slot, as configured (environment or a secret file). Never printed.
#[derive(Clone, Default)]
pub struct Passphrases(BTreeMap<&'static str, Zeroizing<String>>);

impl std::fmt::Debug for Passphrases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Passphrases {
    pub fn set(&mut self, slot: Slot, passphrase: &str) {
        self.0
            .insert(slot.id, Zeroizing::new(passphrase.trim().to_owned()));
    }

    pub fn with(mut self, slot: Slot, passphrase: &str) -> Passphrases {
        self.set(slot, passphrase);
        self
    }

    pub fn get(&self, slot: Slot) -> Option<&str> {
        self.0
            .get(slot.id)
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
    }

    /// Read each slot's passphrase: its variable (`env` looks it up), else its configured
    /// file. A file inside `data_dir` is refused unless `sandbox`.
    pub fn gather(
        env: impl Fn(&str) -> Option<String>,
        files: &BTreeMap<String, PathBuf>,
        data_dir: &Path,
        sandbox: bool,
    ) -> std::result::Result<Passphrases, Vec<String>> {
        let mut out = Passphrases::default();
        let mut problems = Vec::new();
        for (id, file) in files {
            if slot(id).is_none() {
                problems.push(format!(
                    "passphrase_files.{id}: no such key (the keys are {})",
                    ALL.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
                ));
            }
            if !sandbox && inside(file, data_dir) {
                problems.push(format!(
                    "passphrase_files.{id} = {:?}: the passphrase file lies in the data directory, beside the key files, where one copy of the directory takes both; keep it elsewhere (a systemd credential, a secret store) or use sandbox mode for development",
                    file.display().to_string()
                ));
            }
        }
        for s in ALL {
            if let Some(p) = env(s.env).filter(|p| !p.trim().is_empty()) {
                out.set(*s, &p);
            } else if let Some(f) = files.get(s.id) {
                match std::fs::read_to_string(f) {
                    Ok(t) => out.set(*s, t.trim_end_matches(['\r', '\n'])),
                    Err(e) => problems.push(format!(
                        "passphrase_files.{} = {:?}: {e}",
                        s.id,
                        f.display().to_string()
                    )),
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// Outside sandbox mode, two slots sharing a passphrase would undo the split.
    pub fn check_distinct(&self) -> std::result::Result<(), String> {
        let all: Vec<(&str, &Zeroizing<String>)> = self.0.iter().map(|(k, v)| (*k, v)).collect();
        for (i, (a, pa)) in all.iter().enumerate() {
            for (b, pb) in &all[i + 1..] {
                if pa.as_bytes() == pb.as_bytes() {
                    return Err(format!(
                        "the passphrases of the {a} and {b} key files are the same: each key file needs its own, or one stolen passphrase opens both"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether `file` lies in `dir` (both made absolute; symbolic links resolved where they
/// exist).
pub fn inside(file: &Path, dir: &Path) -> bool {
    let abs = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_owned())
        })
    };
    let file = match (file.parent(), file.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => abs(parent).join(name),
        _ => abs(file),
    };
    file.starts_with(abs(dir))
}

/// The passphrase a serving or operator process uses for `slot`: configured, else (sandbox
/// only) the file beside the key, made at random when `creating`.
pub fn passphrase_for(
    slot: Slot,
    data_dir: &Path,
    configured: &Passphrases,
    sandbox: bool,
    creating: bool,
) -> Result<Zeroizing<String>> {
    let beside = slot.sandbox_passphrase_path(data_dir);
    if !sandbox && beside.exists() {
        return Err(ServerError::Internal(format!(
            "{} lies beside the key files in the data directory: a passphrase file there is refused outside sandbox mode; move it out of the data directory and name it in [passphrase_files] (or set {}), then delete it here",
            beside.display(),
            slot.env
        )));
    }
    if let Some(p) = configured.get(slot) {
        return Ok(Zeroizing::new(p.to_owned()));
    }
    if !sandbox {
        return Err(ServerError::Internal(format!(
            "{} ({}) needs its passphrase: set {} or passphrase_files.{} in the configuration file (a file outside the data directory)",
            slot.what, slot.file, slot.env, slot.id
        )));
    }
    match std::fs::read_to_string(&beside) {
        Ok(p) if !p.trim().is_empty() => Ok(Zeroizing::new(p.trim().to_owned())),
        _ if creating => {
            let p = Zeroizing::new(hex::encode(bidkey_crypto::rng::bytes::<32>()?));
            crate::write_private(&beside, p.as_bytes())?;
            Ok(p)
        }
        _ => Err(ServerError::Internal(format!(
            "{} ({}) needs its passphrase: set {} or restore {}",
            slot.what,
            slot.file,
            slot.env,
            beside.display()
        ))),
    }
}

fn file_key(
    slot: Slot,
    passphrase: &str,
    salt: &[u8; SALT_LEN],
    params: PinKdfParams,
) -> Result<Zeroizing<Vec<u8>>> {
    let stretched = derive_pin_key(passphrase.as_bytes(), salt, params)?;
    Ok(hkdf_sm3(
        stretched.as_slice(),
        b"",
        format!("bidkey/key-file/{}/v1", slot.id).as_bytes(),
        16,
    )?)
}

/// Seal `secret` (with its public blobs in clear) into a key file's bytes.
pub fn seal(
    slot: Slot,
    passphrase: &str,
    params: PinKdfParams,
    public: &[&[u8]],
    secret: &[u8],
) -> Result<Vec<u8>> {
    let salt = bidkey_crypto::rng::bytes::<SALT_LEN>()?;
    let mut header = Vec::new();
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    put(&mut header, slot.id.as_bytes())?;
    for v in [params.memory_kib, params.iterations, params.parallelism] {
        header.extend_from_slice(&v.to_be_bytes());
    }
    header.extend_from_slice(&salt);
    let count = u32::try_from(public.len()).map_err(|_| too_long())?;
    header.extend_from_slice(&count.to_be_bytes());
    for blob in public {
        put(&mut header, blob)?;
    }
    let key = file_key(slot, passphrase, &salt, params)?;
    let sealed = aead::seal(AeadAlgorithm::Sm4Gcm, &key, &header, secret)?;
    header.extend_from_slice(&sealed);
    Ok(header)
}

fn too_long() -> ServerError {
    ServerError::Internal("key file part too long".into())
}

fn put(out: &mut Vec<u8>, blob: &[u8]) -> Result<()> {
    let len = u32::try_from(blob.len()).map_err(|_| too_long())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(blob);
    Ok(())
}

/// What an opened key file holds.
pub struct Opened {
    pub public: Vec<Vec<u8>>,
    pub secret: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened(..)")
    }
}

/// Open the key file of `slot` at `path`.
pub fn open(slot: Slot, path: &Path, passphrase: &str) -> Result<Opened> {
    let bytes = std::fs::read(path)
        .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display())))?;
    let bad = || {
        ServerError::Internal(format!(
            "{} is not the key file of {}",
            path.display(),
            slot.what
        ))
    };
    let mut r = Reader(&bytes);
    if r.take(8).ok_or_else(bad)? != MAGIC || r.take(1).ok_or_else(bad)? != [VERSION] {
        return Err(bad());
    }
    let id = r.blob().ok_or_else(bad)?;
    if id != slot.id.as_bytes() {
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
    let count = r.u32().ok_or_else(bad)?;
    if count > 16 {
        return Err(bad());
    }
    let mut public = Vec::new();
    for _ in 0..count {
        public.push(r.blob().ok_or_else(bad)?.to_vec());
    }
    let header_len = bytes.len() - r.0.len();
    let key = file_key(slot, passphrase, &salt, params)?;
    let secret =
        aead::open(AeadAlgorithm::Sm4Gcm, &key, &bytes[..header_len], r.0).map_err(|_| {
            ServerError::Internal(format!(
                "cannot open {}: wrong passphrase ({}) or a damaged file",
                path.display(),
                slot.env
            ))
        })?;
    Ok(Opened { public, secret })
}

/// Cheap parameters for unit tests.
#[cfg(test)]
pub const TEST_KDF: PinKdfParams = PinKdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// Create `path` owner-only, failing if it exists.
pub fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
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

pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }

    fn blob(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_opens_only_as_its_own_slot_with_its_passphrase() {
        let dir = tempfile::tempdir().expect("dir");
        let bytes = seal(KMC, "kmc pass", TEST_KDF, &[b"pub"], b"secret").expect("seal");
        let path = dir.path().join("kmc.key");
        std::fs::write(&path, &bytes).expect("write");
        let o = open(KMC, &path, "kmc pass").expect("open");
        assert_eq!(o.public, vec![b"pub".to_vec()]);
        assert_eq!(o.secret.as_slice(), b"secret");
        assert!(open(KMC, &path, "wrong").is_err());
        // Renamed to another slot's file: refused, whatever the passphrase.
        assert!(open(COSIGN, &path, "kmc pass").is_err());
        // The public part is authenticated.
        let mut t = bytes.clone();
        let at = t.len() - 40;
        t[at] ^= 1;
        std::fs::write(&path, &t).expect("write");
        assert!(open(KMC, &path, "kmc pass").is_err());
    }

    #[test]
    fn passphrase_files_inside_the_data_dir_are_refused_outside_sandbox() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let inner = data.join("ca-pass");
        let outer = dir.path().join("ca-pass");
        std::fs::write(&inner, "a\n").expect("w");
        std::fs::write(&outer, "b\n").expect("w");
        let files: BTreeMap<String, PathBuf> = [("ca".to_owned(), inner.clone())].into();
        let e = Passphrases::gather(|_| None, &files, &data, false).expect_err("inside");
        assert!(e[0].contains("lies in the data directory"), "{e:?}");
        // Relative spelling of the same place: still inside.
        let files: BTreeMap<String, PathBuf> = [(
            "ca".to_owned(),
            data.join("..").join("data").join("ca-pass"),
        )]
        .into();
        assert!(Passphrases::gather(|_| None, &files, &data, false).is_err());
        let p = Passphrases::gather(|_| None, &[("ca".to_owned(), inner)].into(), &data, true)
            .expect("sandbox");
        assert_eq!(p.get(CA), Some("a"));
        let p = Passphrases::gather(|_| None, &[("ca".to_owned(), outer)].into(), &data, false)
            .expect("outside");
        assert_eq!(p.get(CA), Some("b"));
        let e = Passphrases::gather(
            |_| None,
            &[("cas".to_owned(), dir.path().join("x"))].into(),
            &data,
            false,
        )
        .expect_err("unknown");
        assert!(e[0].contains("passphrase_files.cas: no such key"), "{e:?}");
        // The environment wins over the file.
        let p = Passphrases::gather(
            |k| (k == "BIDKEY_KMC_PASSPHRASE").then(|| "k".to_owned()),
            &BTreeMap::new(),
            &data,
            false,
        )
        .expect("env");
        assert_eq!(p.get(KMC), Some("k"));
        assert_eq!(p.get(CA), None);
    }

    #[test]
    fn the_sandbox_passphrase_beside_the_keys_is_refused_outside_sandbox() {
        let dir = tempfile::tempdir().expect("dir");
        let none = Passphrases::default();
        let p = passphrase_for(CA, dir.path(), &none, true, true).expect("sandbox makes one");
        assert!(CA.sandbox_passphrase_path(dir.path()).exists());
        let again = passphrase_for(CA, dir.path(), &none, true, false).expect("kept");
        assert_eq!(p.as_str(), again.as_str());
        let configured = Passphrases::default().with(CA, "from the environment");
        let e = passphrase_for(CA, dir.path(), &configured, false, false)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("refused outside sandbox mode"), "{e}");
        let e = passphrase_for(KMC, dir.path(), &none, false, false)
            .expect_err("none")
            .to_string();
        assert!(e.contains("BIDKEY_KMC_PASSPHRASE"), "{e}");
    }

    #[test]
    fn equal_passphrases_are_named() {
        let p = Passphrases::default()
            .with(CA, "same")
            .with(KMC, "same")
            .with(COSIGN, "other");
        let e = p.check_distinct().expect_err("same");
        assert!(e.contains("ca and kmc"), "{e}");
        assert!(
            Passphrases::default()
                .with(CA, "a")
                .with(KMC, "b")
                .check_distinct()
                .is_ok()
        );
    }
}
