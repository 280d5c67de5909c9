//! Asking people for PINs, passwords and confirmations. Secrets are read without echo from
//! the terminal, or (with `--pin-stdin`, for scripts) one line each from stdin, and live in
//! `Zeroizing` buffers so they are wiped after use.

use crate::error::{CliError, Result};
use crate::output::Out;
use std::io::{BufRead, IsTerminal, Write};
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy)]
pub struct Prompter {
    pub from_stdin: bool,
    pub assume_yes: bool,
    pub out: Out,
}

impl Prompter {
    /// One secret. From stdin: the next line, without its line end.
    pub fn secret(&self, zh: &str, en: &str) -> Result<Zeroizing<String>> {
        if self.from_stdin {
            return read_stdin_line();
        }
        // rpassword reads the controlling terminal, not stdin, so piped input is never
        // taken for a PIN by accident; without a terminal, say how scripts pass one.
        let answer =
            rpassword::prompt_password(format!("{}: ", self.out.t(zh, en))).map_err(|_| {
                CliError::Usage(
                    self.out
                        .t(
                            "没有可询问密码的终端，请使用 --pin-stdin。",
                            "No terminal to ask for a secret: use --pin-stdin.",
                        )
                        .into(),
                )
            })?;
        Ok(Zeroizing::new(answer))
    }

    /// A new secret: asked twice on a terminal so a typo does not lock the user out;
    /// once from stdin.
    pub fn new_secret(&self, zh: &str, en: &str) -> Result<Zeroizing<String>> {
        let first = self.secret(zh, en)?;
        if self.from_stdin {
            return Ok(first);
        }
        let again = self.secret("请再次输入", "Repeat it")?;
        if *first != *again {
            return Err(CliError::Usage(
                self.out
                    .t("两次输入不一致。", "The two entries differ.")
                    .into(),
            ));
        }
        Ok(first)
    }

    /// Show `warning` and ask to go on. `--yes` answers for scripts; without a terminal
    /// and without `--yes` the answer is no.
    pub fn confirm(&self, warning: &str) -> Result<()> {
        if self.assume_yes {
            return Ok(());
        }
        if self.out.json || self.from_stdin || !std::io::stdin().is_terminal() {
            return Err(CliError::NotConfirmed);
        }
        eprint!("{warning}\n{} ", self.out.t("确认？[y/N]", "Go on? [y/N]"));
        std::io::stderr()
            .flush()
            .map_err(|e| CliError::io("writing the terminal", e))?;
        let answer = read_stdin_line()?;
        if matches!(answer.trim(), "y" | "Y" | "yes" | "是") {
            Ok(())
        } else {
            Err(CliError::NotConfirmed)
        }
    }
}

fn read_stdin_line() -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::io("reading stdin", e))?;
    if n == 0 {
        return Err(CliError::Usage("stdin ended before a line was read".into()));
    }
    let trimmed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed);
    Ok(line)
}
