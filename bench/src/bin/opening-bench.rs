//! `opening-bench`: a bid opening under load. N bids opened at once through a real server on
//! loopback: by scan (phones co-decrypt), from pre-authorisations (the server releases the
//! keys to the platform), or a mix; on SQLite and PostgreSQL. The server and the simulated
//! phones and platform run in two processes; prints bids opened per second, the time to
//! open all, per-bid p50/p99, and each process's CPU per bid.
//!
//! Usage: `cargo run --release -p bidkey-bench --bin opening-bench [-- --bidders 5000]
//! [--mode online,preauth,mix] [--mix 70] [--store sqlite,postgres] [--at-once N] [--pool N]
//! [--routes] [--quick]`

use bidkey_bench::opening::{self, Mode, Options, report};
use bidkey_testkit::Store;
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> &'static str {
    "opening-bench [--bidders 5000] [--mode online,preauth,mix] [--mix 70]\n\
     \x20             [--store sqlite,postgres] [--at-once 2500] [--pool N] [--enrol-parallel 8]\n\
     \x20             [--warmup 200] [--routes] [--quick]\n\
     Enrols N bidders through the real flows once per store (each pre-authorises its bid),\n\
     then opens all N bids once per mode: online (every phone scans, confirms with the PIN:\n\
     two-party co-decryption), preauth (the server releases the keys to the platform), mix\n\
     (--mix percent online, the rest pre-authorised). The phones and the platform run in a\n\
     second process (this executable with --role clients).\n\
     --at-once caps bids mid-opening (each holds a wallet and connections: file limits).\n\
     --routes prints every route's latency too. --quick: 200 bids, SQLite only."
}

struct Args {
    opts: Options,
    routes: bool,
}

fn parse_list<T>(v: &str, what: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    v.split(',')
        .map(|x| f(x.trim()).ok_or(format!("bad {what}: {x}")))
        .collect()
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        opts: Options {
            stores: vec![Store::Sqlite, Store::Postgres],
            bidders: 5000,
            modes: vec![],
            max_active: 2500,
            enrol_parallel: 8,
            pool_size: None,
            clients_exe: std::env::current_exe().map_err(|e| e.to_string())?,
            warmup: 200,
        },
        routes: false,
    };
    let mut modes = vec!["online".to_owned(), "preauth".into(), "mix".into()];
    let mut online_pct = 70;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--bidders" => {
                a.opts.bidders = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=28_000).contains(n))
                    .ok_or("bad --bidders")?;
            }
            "--mode" => {
                modes = parse_list(&value()?, "--mode", |x| {
                    ["online", "preauth", "mix"]
                        .contains(&x)
                        .then(|| x.to_owned())
                })?;
            }
            "--mix" => {
                online_pct = value()?
                    .parse()
                    .ok()
                    .filter(|n| (0..=100).contains(n))
                    .ok_or("bad --mix (percent opened online)")?;
            }
            "--store" => {
                a.opts.stores = parse_list(&value()?, "--store", |x| match x {
                    "sqlite" => Some(Store::Sqlite),
                    "postgres" => Some(Store::Postgres),
                    _ => None,
                })?;
            }
            "--at-once" => {
                a.opts.max_active = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or("bad --at-once")?;
            }
            "--pool" => {
                a.opts.pool_size = Some(
                    value()?
                        .parse()
                        .ok()
                        .filter(|n| (1..=64).contains(n))
                        .ok_or("bad --pool")?,
                );
            }
            "--enrol-parallel" => {
                a.opts.enrol_parallel = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or("bad --enrol-parallel")?;
            }
            "--warmup" => {
                a.opts.warmup = value()?.parse().map_err(|_| "bad --warmup")?;
            }
            "--routes" => a.routes = true,
            "--quick" => {
                a.opts.bidders = 200;
                a.opts.warmup = 20;
                a.opts.stores = vec![Store::Sqlite];
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    a.opts.modes = modes
        .iter()
        .map(|m| match m.as_str() {
            "online" => Mode::Online,
            "preauth" => Mode::Preauth,
            _ => Mode::Mix { online_pct },
        })
        .collect();
    Ok(a)
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    // The second process: the phones and the platform.
    if argv.peek().map(String::as_str) == Some("--role") {
        let rest: Vec<String> = argv.collect();
        return match rest.as_slice() {
            [_, role, flag, path] if role == "clients" && flag == "--manifest" => {
                match opening::clients::serve(&PathBuf::from(path)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("opening-bench clients: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            _ => {
                eprintln!("--role clients --manifest PATH");
                ExitCode::from(2)
            }
        };
    }
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runs = match opening::run(&args.opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("opening-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    for run in &runs {
        println!(
            "{}: {} database connections; population of {} set up in {:.0} s",
            opening::store_name(run.store),
            run.pool_size,
            args.opts.bidders,
            run.setup.as_secs_f64()
        );
    }
    println!("\n{}", report::summary(&runs));
    if args.routes {
        for run in &runs {
            for m in &run.openings {
                println!("{}", report::routes(run, m));
            }
        }
    }
    let mut failed = false;
    for run in &runs {
        for m in &run.openings {
            for f in m.outcome.failures.iter().take(5) {
                eprintln!(
                    "failure ({}, {}): {f}",
                    opening::store_name(run.store),
                    m.mode.name()
                );
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
