//! The `bidkey-server` binary as an operator runs it: spawned with flags, environment and a
//! data directory, its logs in a file, stopped with a signal. In sandbox mode
//! (`BIDKEY_SANDBOX=1`, ADR 0014) unless the caller's environment says otherwise.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_bidkey-server")
}

/// Run a command of the binary to its end: (success, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env("BIDKEY_SANDBOX", "1")
        // Each test's server picks free ports, the operator listener's too.
        .env("BIDKEY_OPERATOR_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .env_remove("BIDKEY_DATABASE_URL")
        .output()
        .expect("bidkey-server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    /// The operator listener (ADR 0020).
    pub operator_url: String,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Start `bidkey-server ARGS` and wait until it serves (its "ready" line: the database
    /// open, the key files loaded); `log` receives its stderr.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], log: &Path) -> ServerProcess {
        ServerProcess::start(args, env, log, true)
    }

    /// Start `bidkey-server ARGS` and wait only for its listeners to open (its "listening
    /// on" lines), ready or not.
    pub fn spawn_listening(args: &[&str], env: &[(&str, &str)], log: &Path) -> ServerProcess {
        ServerProcess::start(args, env, log, false)
    }

    fn start(args: &[&str], env: &[(&str, &str)], log: &Path, ready: bool) -> ServerProcess {
        let log_file = std::fs::File::create(log).expect("log file");
        let mut child = Command::new(binary())
            .args(args)
            .env("BIDKEY_SANDBOX", "1")
            .env("BIDKEY_OPERATOR_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .env_remove("BIDKEY_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("bidkey-server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(u) = l.strip_prefix("Bidkey server listening on ") {
                        break u.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!(
                        "server ended before listening: {}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
        };
        let operator_url = match lines.next() {
            Some(Ok(l)) => l
                .strip_prefix("operator listener on ")
                .map(|u| u.trim().to_owned())
                .unwrap_or_else(|| panic!("no operator listener line: {l}")),
            _ => panic!("server ended before its operator listener opened"),
        };
        if ready {
            loop {
                match lines.next() {
                    Some(Ok(l)) if l.starts_with("Bidkey server ready") => break,
                    Some(Ok(_)) => {}
                    _ => {
                        let _ = child.kill();
                        panic!(
                            "server ended before it was ready: {}",
                            std::fs::read_to_string(log).unwrap_or_default()
                        );
                    }
                }
            }
        }
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServerProcess {
            child,
            url,
            operator_url,
            log: log.to_owned(),
        }
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Wait for the process to end, at most `bound`; `None` if it is still running then.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + bound;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
