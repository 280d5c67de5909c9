//! `bidkey`: the Bidkey phone core as a desktop terminal program. One subcommand area per
//! module in `cmd/`; a new area (e.g. `scan`) is one module and one line in [`Command`].

// Every line goes through `bidkey_cli::stdout`, which ends quietly on a closed pipe.
#![deny(clippy::print_stdout)]

mod app;
mod cmd;
mod error;
mod output;
mod prompt;

use crate::app::{App, Setup};
use crate::error::{CliError, Report};
use crate::output::Out;
use crate::prompt::Prompter;
use bidkey_core::i18n::Lang;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// The server's own default address (`bidkey-server --listen`).
const DEFAULT_SERVER: &str = "http://127.0.0.1:8750";

#[derive(Debug, Parser)]
#[command(
    name = "bidkey",
    version,
    about = "Bidkey soft-key wallet for the desktop (标证通 on your computer)"
)]
struct Cli {
    /// The Bidkey server.
    #[arg(
        long,
        global = true,
        env = "BIDKEY_SERVER",
        default_value = DEFAULT_SERVER
    )]
    server: String,
    /// PEM of the CA that signed the server's TLS certificate (for https).
    #[arg(long, global = true, env = "BIDKEY_SERVER_CA")]
    server_ca: Option<PathBuf>,
    /// The wallet directory: one per "phone" (default: the per-user data directory).
    #[arg(long, global = true, env = "BIDKEY_WALLET")]
    wallet: Option<PathBuf>,
    /// Machine output: one JSON value on stdout; errors as JSON on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// Language of messages (default: the locale, LC_ALL / LC_MESSAGES / LANG: zh… is
    /// Chinese, any other English; Chinese when none is set).
    #[arg(long, global = true, env = "BIDKEY_LANG", value_enum)]
    lang: Option<LangArg>,
    /// Read each PIN or password as one line from stdin instead of prompting.
    #[arg(long, global = true)]
    pin_stdin: bool,
    /// Answer yes to confirmations (revoke, transfer admin, change information, scan).
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// The device name shown in the account's device list.
    #[arg(
        long,
        global = true,
        env = "BIDKEY_DEVICE_NAME",
        default_value = "bidkey desktop"
    )]
    device_name: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Account: SMS codes, sign-up, login, password, phone, real-name.
    #[command(subcommand)]
    Account(cmd::account::Cmd),
    /// Certificates: apply, pay, enrol, list, renew, revoke, PIN, loss, recovery.
    #[command(subcommand)]
    Certs(cmd::certs::Cmd),
    /// Enterprises: search, claim, micro-payment, join, messages.
    #[command(subcommand)]
    Enterprise(cmd::enterprise::Cmd),
    /// Enterprise administration: staff, admin transfer, information, grants, zones, seals.
    #[command(subcommand)]
    Admin(cmd::admin::Cmd),
    /// Trading platforms.
    #[command(subcommand)]
    Platforms(cmd::platforms::Cmd),
    /// Bid files: encrypt before upload to the members granted for the platform.
    #[command(subcommand)]
    Bid(cmd::bid::Cmd),
    /// Scan a platform's QR code (text or PNG/JPEG): log in, sign, decrypt, sessions.
    Scan(cmd::scan::ScanArgs),
    /// The whole system in one command: a server and a demo trading platform on loopback,
    /// the full story run through the phone core, QR codes, signed files and a report.
    Demo(bidkey_cli::demo::DemoArgs),
    /// Print the shell completion script for SHELL (e.g. `bidkey completions bash >
    /// /etc/bash_completion.d/bidkey`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `bidkey man > bidkey.1 && man ./bidkey.1`.
    Man,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        // The demo starts its own server and wallets; the global options do not apply.
        Command::Demo(args) => return bidkey_cli::demo::command(args),
        Command::Completions { shell } => return print_generated(completions(shell)),
        Command::Man => return print_generated(man_page()),
        _ => {}
    }
    let out = Out {
        json: cli.json,
        lang: match cli.lang {
            Some(LangArg::Zh) => Lang::Zh,
            Some(LangArg::En) => Lang::En,
            None => bidkey_cli::locale::lang_from_env(),
        },
    };
    match run(cli, out) {
        Ok(()) | Err(CliError::StdoutClosed) => ExitCode::SUCCESS,
        Err(err) => {
            let report = Report::of(&err, out.lang);
            if out.json {
                eprintln!("{}", report.to_json());
            } else {
                eprintln!("{}: {}", out.t("错误", "error"), report.message);
            }
            ExitCode::from(u8::try_from(report.exit_code).unwrap_or(1))
        }
    }
}

/// The completion script for `shell`, generated from the command definition.
fn completions(shell: clap_complete::Shell) -> Result<Vec<u8>, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "bidkey", &mut script);
    Ok(script)
}

/// The man page (roff), generated from the command definition.
fn man_page() -> Result<Vec<u8>, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| CliError::io("rendering the man page", e))?;
    Ok(page)
}

/// Print what a generator made; generated into memory first, because the generators panic
/// on a failed write and stdout may be a closed pipe.
fn print_generated(made: Result<Vec<u8>, CliError>) -> ExitCode {
    let report = match made.and_then(|b| bidkey_cli::stdout::bytes(&b).map_err(CliError::from)) {
        Ok(()) | Err(CliError::StdoutClosed) => return ExitCode::SUCCESS,
        Err(e) => Report::of(&e, Lang::En),
    };
    eprintln!("error: {}", report.message);
    ExitCode::from(u8::try_from(report.exit_code).unwrap_or(1))
}

/// Help and version print as usual; a usage error is one JSON value on stderr when the
/// command line asked for `--json`, clap's own message otherwise.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let wants_json = std::env::args_os().any(|a| a == "--json");
    if !wants_json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let message = first.trim_start_matches("error: ").to_owned();
    let report = Report::of(&CliError::Usage(message), Lang::En);
    eprintln!("{}", report.to_json());
    ExitCode::from(2)
}

fn run(cli: Cli, out: Out) -> Result<(), CliError> {
    let wallet = cli.wallet.unwrap_or_else(app::default_wallet_dir);
    let core = app::open_core(&Setup {
        server: &cli.server,
        server_ca: cli.server_ca.as_deref(),
        wallet: &wallet,
    })?;
    let app = App {
        core,
        out,
        ask: Prompter {
            from_stdin: cli.pin_stdin,
            assume_yes: cli.yes,
            out,
        },
        device_name: cli.device_name,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::io("starting the async runtime", e))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Account(c) => cmd::account::run(&app, c).await,
            Command::Certs(c) => cmd::certs::run(&app, c).await,
            Command::Enterprise(c) => cmd::enterprise::run(&app, c).await,
            Command::Admin(c) => cmd::admin::run(&app, c).await,
            Command::Platforms(c) => cmd::platforms::run(&app, c).await,
            Command::Scan(a) => cmd::scan::run(&app, a).await,
            Command::Bid(c) => cmd::bid::run(&app, c).await,
            Command::Demo(_) | Command::Completions { .. } | Command::Man => {
                Err(CliError::Usage("this command runs on its own".into()))
            }
        }
    })
}
