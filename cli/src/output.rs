//! What a command prints: one JSON value on stdout with `--json`, otherwise text and tables
//! for people. Progress and prompts go to stderr so stdout stays clean for scripts.

use crate::error::{CliError, Result};
use bidkey_cli::stdout;
use bidkey_core::i18n::Lang;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub lang: Lang,
}

impl Out {
    pub fn zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// The Chinese or English text, as the user chose.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.zh() { zh } else { en }
    }

    /// Print `value` as JSON, or what `human` makes of it.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) -> Result<()> {
        if self.json {
            let s = serde_json::to_string_pretty(value)
                .map_err(|e| CliError::Usage(format!("JSON output: {e}")))?;
            stdout::line(s)?;
        } else {
            let text = human(value);
            if !text.is_empty() {
                stdout::line(text)?;
            }
        }
        Ok(())
    }

    /// A short confirmation: `{"ok": true, ...extra}` in JSON, the sentence otherwise.
    pub fn done(&self, zh: &str, en: &str) -> Result<()> {
        self.show(&serde_json::json!({ "ok": true }), |_| {
            self.t(zh, en).to_owned()
        })
    }

    /// A spinner on stderr while slow work runs (Argon2, co-signing rounds); silent with
    /// `--json` or when stderr is not a terminal.
    pub fn spinner(&self, zh: &str, en: &str) -> Spinner {
        if self.json || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(self.t(zh, en).to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }
}

/// Clears itself when dropped, also on error paths.
#[derive(Debug)]
pub struct Spinner(Option<ProgressBar>);

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Out {
    /// A table with a header row; an empty list says so in words.
    pub fn table(&self, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(header.iter().copied());
        let mut any = false;
        for r in rows {
            any = true;
            t.add_row(r);
        }
        if any {
            t.to_string()
        } else {
            self.t("（无）", "(none)").to_owned()
        }
    }
}

/// Unix seconds as Beijing time, as the apps show dates.
pub fn when(unix: i64) -> String {
    bidkey_core::i18n::beijing_time(unix)
}

pub fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

/// The snake_case word serde gives an enum (`in_force`, `admin` ...).
pub fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Fen as yuan: 12345 → "123.45".
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02}", f / 100, f % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_words_and_tables() {
        assert_eq!(yuan(12345), "123.45");
        assert_eq!(yuan(7), "0.07");
        assert_eq!(yuan(-150), "-1.50");
        assert_eq!(word(&bidkey_protocol::enterprises::Role::Admin), "admin");
        let out = Out {
            json: false,
            lang: Lang::En,
        };
        let t = out.table(&["a", "b"], vec![vec!["1".into(), "宿迁".into()]]);
        assert!(t.contains('a') && t.contains("宿迁"));
        assert_eq!(out.table(&["a"], Vec::<Vec<String>>::new()), "(none)");
    }
}
