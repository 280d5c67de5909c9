//! `bidkey-server`: run the server, and the operator's commands.

use bidkey_server::bank;
use bidkey_server::db::{Db, DbUrl};
use bidkey_server::util::Clock;
use bidkey_server::{Config, start};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "bidkey-server", version, about = "Bidkey server")]
struct Cli {
    /// Directory for the SQLite file and key files.
    #[arg(long, env = "BIDKEY_DATA_DIR", default_value = "bidkey-data")]
    data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; default: a SQLite file in the data directory.
    #[arg(long, env = "BIDKEY_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
    },
    /// Import a bank statement CSV and match micro-payments (对公打款). Columns, header
    /// first: bank_txn_id,booked_at,payer_account,payer_name,amount,reference — booked_at in
    /// Unix seconds or `YYYY-MM-DD HH:MM:SS` Beijing time, amount in yuan. A file with any
    /// bad line is refused whole; importing a file twice changes nothing.
    BankImport {
        /// The CSV file.
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let mut config = Config::local(cli.data_dir.clone());
    if let Some(url) = &cli.database_url {
        config.db = DbUrl::parse(url);
    }
    let listen = match cli.command {
        Some(Command::Serve { listen }) => listen,
        Some(Command::BankImport { file }) => {
            std::process::exit(bank_import(&config, &file).await);
        }
        None => SocketAddr::from(([127, 0, 0, 1], 8750)),
    };
    config.listen = listen;
    // Read from the environment only: a command-line flag would show in `ps`.
    config.ca_passphrase = std::env::var("BIDKEY_CA_PASSPHRASE").ok();
    match start(config).await {
        Ok(running) => {
            println!("Bidkey server listening on {}", running.url());
            println!("data directory: {}", cli.data_dir.display());
            let _ = tokio::signal::ctrl_c().await;
            running.stop().await;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            std::process::exit(1);
        }
    }
}

/// `bidkey-server bank-import FILE.csv`: the exit status.
async fn bank_import(config: &Config, file: &std::path::Path) -> i32 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bidkey-server: {}: {e}", file.display());
            return 2;
        }
    };
    let url = config.db.clone();
    let db = match tokio::task::spawn_blocking(move || Db::open(&url, 1)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            eprintln!("bidkey-server: {e}");
            return 1;
        }
        Err(e) => {
            eprintln!("bidkey-server: {e}");
            return 1;
        }
    };
    let now = Clock::default().now();
    match bank::import(&db, now, &text).await {
        Ok(s) => {
            println!(
                "imported {}: {} matched, {} unmatched, {} already imported",
                file.display(),
                s.matched,
                s.unmatched,
                s.duplicate
            );
            0
        }
        Err(errors) => {
            eprintln!("{}: refused, nothing imported:", file.display());
            for e in errors {
                eprintln!("  {e}");
            }
            1
        }
    }
}
