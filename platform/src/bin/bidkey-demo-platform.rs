//! `bidkey-demo-platform`: the demo trading platform (演示交易平台) as a program. It
//! registers itself with a Bidkey server through its operator listener (operator token:
//! `operator.token` in a sandbox server's data directory, or `bidkey-server operator token`),
//! gets its certificate, and serves its pages until stopped.

use bidkey_platform::demo::{self, DemoConfig, Tender};
use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "bidkey-demo-platform",
    version,
    about = "Bidkey demo trading platform"
)]
struct Args {
    /// The Bidkey server (relay, CA, grants).
    #[arg(long, env = "BIDKEY_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// That server's operator listener (registration and the platform's certificate).
    #[arg(
        long,
        env = "BIDKEY_OPERATOR_URL",
        default_value = "http://127.0.0.1:8751"
    )]
    operator_url: String,
    /// An operator token of that server (a sandbox server's `operator.token`, or one from
    /// `bidkey-server operator token`).
    #[arg(long, env = "BIDKEY_OPERATOR_TOKEN")]
    operator_token: String,
    /// Where to listen; the origin registered with Bidkey is `http://` this address.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: std::net::SocketAddr,
    #[arg(long, default_value = "演示市公共资源交易中心")]
    name: String,
    #[arg(long, default_value = "演示市某道路改造工程施工")]
    tender: String,
    /// The bid opening starts this many seconds after start.
    #[arg(long, default_value_t = 0)]
    opening_in: i64,
    /// Where bids are kept (default: a new temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bidkey-demo-platform: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (listener, origin) = demo::bind(args.listen).await?;
    let http = reqwest::Client::new();
    let identity = demo::provision(
        &http,
        &args.operator_url,
        &args.operator_token,
        &args.name,
        &origin,
    )
    .await?;
    let tmp;
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let platform_id = identity.platform_id.clone();
    let running = demo::serve(
        listener,
        DemoConfig {
            bidkey_url: args.server,
            identity,
            name: args.name,
            tender: Tender {
                id: format!("DEMO-{now}"),
                name: args.tender,
                opening_at: now + args.opening_in,
            },
            data_dir,
            clock: None,
        },
    )
    .await?;
    println!("demo platform {platform_id} at {}", running.url);
    tokio::signal::ctrl_c().await?;
    running.stop();
    Ok(())
}
