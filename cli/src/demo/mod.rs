//! `bidkey demo`: the whole system on this computer, for real, in one command. It starts a
//! Bidkey server (a fresh SQLite file) and the demo trading platform on loopback, runs the
//! story of [`story`] through the phone core, and leaves the QR codes, the signed documents
//! and `report.md` in an output folder. With `--serve` both keep running so the user can
//! open the platform in a browser and point the `bidkey` CLI at the server.
//!
//! The end-to-end tests (`tests/`, package `bidkey-e2e`) call [`World::start`] and
//! [`story::run`] directly.

pub mod browser;
pub mod error;
pub mod journal;
pub mod story;
pub mod world;

pub use error::{DemoError, Result};
pub use journal::Journal;
pub use story::Outcome;
pub use world::{World, WorldConfig};

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `bidkey demo` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Output folder for the QR codes, signed documents, report.md, wallets and the
    /// server's data (default: a new temporary folder, printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep the server and the demo platform running after the story, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
}

/// Run the story on `world`; the journal holds every step, the failed one included.
pub async fn run_story(world: &World, print: bool) -> (Journal, Result<Outcome>) {
    let mut journal = Journal::new(story::STEPS, print);
    let outcome = story::run(world, &mut journal).await;
    if let Err(e) = &outcome {
        journal.fail(e);
    }
    (journal, outcome)
}

/// The lines at the top of `report.md`.
pub fn report_header(world: &World) -> Vec<String> {
    vec![
        format!("Bidkey server: {}", world.server_url()),
        format!("Demo trading platform: {}", world.platform_url()),
        format!("Output folder: {}", world.out_dir.display()),
    ]
}

/// The `bidkey demo` command.
pub fn command(args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bidkey demo: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bidkey demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn out_dir(args: &DemoArgs) -> Result<PathBuf> {
    match &args.out {
        Some(dir) => {
            world::make_dir(dir)?;
            let has_server = dir.join("server").exists();
            if has_server {
                return Err(DemoError::Unexpected(format!(
                    "{} already holds a demo; give a new or empty folder",
                    dir.display()
                )));
            }
            Ok(dir.clone())
        }
        None => Ok(tempfile::Builder::new()
            .prefix("bidkey-demo-")
            .tempdir()
            .map_err(|e| DemoError::io("a temporary folder", e))?
            .keep()),
    }
}

async fn demo(args: DemoArgs) -> Result<bool> {
    let out = out_dir(&args)?;
    crate::say!("Bidkey demo: the whole story, for real, on this computer.");
    crate::say!("Output folder: {}", out.display());
    crate::say!("Starting the Bidkey server (SQLite) and the demo trading platform …");
    let world = World::start(WorldConfig {
        out_dir: out.clone(),
        db: None,
        pin_kdf: None,
    })
    .await?;
    crate::say!("  Bidkey server:          {}", world.server_url());
    crate::say!("  demo trading platform:  {}", world.platform_url());

    let (journal, outcome) = run_story(&world, true).await;
    let report = journal.write_report(&out, &report_header(&world))?;
    crate::say!();
    match &outcome {
        Ok(_) => crate::say!(
            "All {} steps passed in {:.1} s.",
            story::STEPS,
            journal.elapsed().as_secs_f64()
        ),
        Err(e) => crate::say!("The story stopped: {e}"),
    }
    crate::say!("Report: {}", report.display());
    if let Ok(o) = &outcome {
        crate::say!("QR codes and signed documents:");
        for f in &o.files {
            crate::say!("  {}", f.display());
        }
    }
    print_next_steps(&world, &out, args.serve, outcome.as_ref().ok());
    if args.serve {
        crate::say!("\nServing until Ctrl-C …");
        let _ = tokio::signal::ctrl_c().await;
        crate::say!("Stopping.");
    }
    world.stop().await;
    Ok(outcome.is_ok())
}

fn print_next_steps(world: &World, out: &Path, serve: bool, outcome: Option<&Outcome>) {
    let wallets = out.join("wallets");
    let server = world.server_url();
    if !serve {
        crate::say!(
            "\nRun `cargo run --release -p bidkey-cli -- demo --serve` to keep the server and the \
             platform running afterwards and try them yourself."
        );
        return;
    }
    crate::say!("\nTry it yourself:");
    crate::say!(
        "  Browser: open {} — 扫码登录 shows a QR code; the bids of the story are listed on the \
         platform's pages.",
        world.platform_url()
    );
    crate::say!(
        "  The wallets of the story with the `bidkey` CLI (PIN {}, new phone {}):",
        story::PIN,
        story::NEW_PIN
    );
    for (who, dir) in [
        ("admin 张三", "admin"),
        ("staff 李四, recovered phone", "staff-new"),
    ] {
        crate::say!(
            "    cargo run -p bidkey-cli -- --server {server} --wallet {} certs list     # {who}",
            wallets.join(dir).display()
        );
    }
    if let Some(o) = outcome {
        crate::say!(
            "    cargo run -p bidkey-cli -- --server {server} --wallet {} admin grants list {}",
            wallets.join("admin").display(),
            o.enterprise_id
        );
    }
    crate::say!(
        "  A new person: cargo run -p bidkey-cli -- --server {server} --wallet {} account sms send --phone 13900000009 --purpose sign-up",
        out.join("wallets").join("you").display()
    );
    crate::say!(
        "  SMS codes of the sandbox: cargo run -p bidkey-server -- --sandbox --data-dir {} sms-outbox",
        out.join("server").display()
    );
}
