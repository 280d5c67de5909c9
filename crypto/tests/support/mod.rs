//! Shared helpers for the integration tests: running the `openssl` CLI in a temp dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory with helpers to call `openssl` inside it.
pub struct Ossl {
    dir: tempfile::TempDir,
}

impl Ossl {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write");
        p
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }

    /// Run `openssl args…` in the directory; returns (success, stdout+stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl CLI on PATH");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Like [`Self::run`] but fails the test when openssl fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "openssl {args:?} failed:\n{text}");
        text
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The test PKIs live once, in the test kit; the crypto crate's tests cannot depend on the
/// test kit (it builds the server), so they compile the same file.
#[path = "../../../testkit/src/pki.rs"]
pub mod pki;
