//! The CLI's one error type, and the one place that turns any failure into a message for
//! people (in the chosen language), a JSON value for scripts, and an exit code.

use bidkey_core::CoreError;
use bidkey_core::error::chain;
use bidkey_core::i18n::{Lang, error_message};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A failure of the core (network, server refusal, PIN, wallet ...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A local file or terminal could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The command line or a prompt answer is not usable.
    #[error("{0}")]
    Usage(String),
    /// A question needed an answer ("yes") that was not given.
    #[error("not confirmed")]
    NotConfirmed,
    /// Stdout's reader has gone (`bidkey … | head`): the command ends quietly, successfully.
    #[error("stdout closed by its reader")]
    StdoutClosed,
}

impl From<bidkey_cli::stdout::WriteError> for CliError {
    fn from(e: bidkey_cli::stdout::WriteError) -> Self {
        match e {
            bidkey_cli::stdout::WriteError::Closed => CliError::StdoutClosed,
            bidkey_cli::stdout::WriteError::Io(source) => CliError::io("stdout", source),
        }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        CliError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Exit codes, stable for scripts (documented in docs/cli.md). 2 is clap's usage error.
pub mod exit {
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NOT_LOGGED_IN: i32 = 3;
    pub const WRONG_PIN: i32 = 4;
    pub const KEY_LOCKED: i32 = 5;
    pub const NETWORK: i32 = 6;
    pub const REFUSED: i32 = 7;
    pub const INVALID_INPUT: i32 = 8;
    pub const NOT_FOUND: i32 = 9;
    pub const WALLET: i32 = 10;
    pub const NOT_CONFIRMED: i32 = 11;
    /// Not a failure: the reader of stdout stopped reading (`| head`), as a tool killed by
    /// `SIGPIPE` would stop, minus the signal.
    pub const STDOUT_CLOSED: i32 = 0;
}

/// What a failure means, for both outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// A short stable word for scripts (`wrong_pin`, `server`, ...).
    pub kind: &'static str,
    /// The server's error code (snake_case), when the server refused.
    pub code: Option<String>,
    pub message: String,
    pub exit_code: i32,
    pub tries_left: Option<u32>,
    pub retry_after: Option<u64>,
}

impl Report {
    pub fn of(err: &CliError, lang: Lang) -> Report {
        let zh = lang == Lang::Zh;
        let pick = |z: &str, e: &str| if zh { z.to_owned() } else { e.to_owned() };
        let base = |kind, exit_code, message| Report {
            kind,
            code: None,
            message,
            exit_code,
            tries_left: None,
            retry_after: None,
        };
        match err {
            CliError::Core(core) => {
                // The sentence is the core's (the phones show the same); the CLI adds only
                // what a terminal needs: the detail, or the command to run next.
                let said = error_message(core, lang);
                let mut r = match core {
                    CoreError::Network(e) => {
                        base("network", exit::NETWORK, format!("{said} ({})", chain(e)))
                    }
                    CoreError::Server { retry_after, .. } => Report {
                        retry_after: *retry_after,
                        ..base("server", exit::REFUSED, said)
                    },
                    CoreError::WrongPin { tries_left } => Report {
                        tries_left: Some(*tries_left),
                        ..base("wrong_pin", exit::WRONG_PIN, said)
                    },
                    CoreError::KeyLocked => base(
                        "key_locked",
                        exit::KEY_LOCKED,
                        format!("{said} (bidkey certs unlock)"),
                    ),
                    CoreError::UnlockLimited { .. } => base("unlock_limited", exit::REFUSED, said),
                    CoreError::RecoveryCoolingOff { .. } => {
                        base("recovery_cooling_off", exit::REFUSED, said)
                    }
                    CoreError::NotLoggedIn => base(
                        "not_logged_in",
                        exit::NOT_LOGGED_IN,
                        format!("{said} (bidkey account login)"),
                    ),
                    CoreError::InvalidInput { .. } => {
                        base("invalid_input", exit::INVALID_INPUT, said)
                    }
                    CoreError::NotFound(_) => base("not_found", exit::NOT_FOUND, said),
                    CoreError::Storage(e) => {
                        base("wallet", exit::WALLET, format!("{said} ({})", chain(e)))
                    }
                    CoreError::Keystore(detail) => {
                        base("keystore", exit::WALLET, format!("{said} ({detail})"))
                    }
                    CoreError::Crypto(e) => {
                        base("crypto", exit::FAILURE, format!("{said} ({})", chain(e)))
                    }
                    CoreError::CosignerMisbehaved => {
                        base("cosigner_misbehaved", exit::FAILURE, said)
                    }
                };
                r.code = core.code().and_then(|c| {
                    serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                });
                r
            }
            CliError::Io { .. } => base("io", exit::FAILURE, err.to_string()),
            CliError::Usage(m) => base("usage", exit::USAGE, m.clone()),
            CliError::StdoutClosed => base("stdout_closed", exit::STDOUT_CLOSED, err.to_string()),
            CliError::NotConfirmed => base(
                "not_confirmed",
                exit::NOT_CONFIRMED,
                pick(
                    "操作未确认（脚本中请加 --yes）。",
                    "Not confirmed (pass --yes in scripts).",
                ),
            ),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "error": {
                "kind": self.kind,
                "code": self.code,
                "message": self.message,
                "exit_code": self.exit_code,
                "tries_left": self.tries_left,
                "retry_after": self.retry_after,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_core::error::{NetworkError, StorageError};
    use bidkey_protocol::ErrorCode;

    #[test]
    fn wrong_pin_and_server_refusals_map_once() {
        let r = Report::of(
            &CliError::Core(CoreError::WrongPin { tries_left: 3 }),
            Lang::En,
        );
        assert_eq!(r.exit_code, exit::WRONG_PIN);
        assert_eq!(r.kind, "wrong_pin");
        assert_eq!(r.code.as_deref(), Some("wrong_pin"));
        assert_eq!(r.tries_left, Some(3));
        assert!(r.message.contains("3 tries left"));
        let zh = Report::of(
            &CliError::Core(CoreError::WrongPin { tries_left: 3 }),
            Lang::Zh,
        );
        assert!(zh.message.contains("3次"));

        let refused = CliError::Core(CoreError::Server {
            code: ErrorCode::NotAdmin,
            message_zh: "仅管理员可操作".into(),
            message_en: "Only the administrator may do this".into(),
            retry_after: None,
        });
        let r = Report::of(&refused, Lang::Zh);
        assert_eq!(
            (r.exit_code, r.code.as_deref()),
            (exit::REFUSED, Some("not_admin"))
        );
        assert_eq!(r.message, "仅管理员可操作");
        let v = r.to_json();
        assert_eq!(v["error"]["exit_code"], exit::REFUSED);
    }

    #[test]
    fn every_kind_has_its_own_exit_code() {
        let cases = [
            (CoreError::Network(NetworkError::Down), exit::NETWORK),
            (CoreError::KeyLocked, exit::KEY_LOCKED),
            (CoreError::NotLoggedIn, exit::NOT_LOGGED_IN),
            (
                CoreError::InvalidInput { field: "PIN" },
                exit::INVALID_INPUT,
            ),
            (CoreError::NotFound("c".into()), exit::NOT_FOUND),
            (CoreError::Storage(StorageError::Poisoned), exit::WALLET),
        ];
        for (e, code) in cases {
            assert_eq!(Report::of(&CliError::Core(e), Lang::En).exit_code, code);
        }
        assert_eq!(
            Report::of(&CliError::NotConfirmed, Lang::En).exit_code,
            exit::NOT_CONFIRMED
        );
    }
}
