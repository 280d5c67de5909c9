//! `bidkey-server`: run the server, and the operator's commands.

use bidkey_server::db::DbUrl;
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
