//! `opening-bench`: a bid opening under load. N bidders decrypt their bids by scan at once
//! through the relay and the co-signing service of a real server on loopback; prints
//! decryptions per second, the server's own p50/p99 latency and CPU per decryption, for
//! SQLite and PostgreSQL.
//!
//! Usage: `cargo run --release -p bidkey-bench --bin opening-bench [-- --bidders 100,1000,5000]
//! [--store sqlite,postgres] [--at-once N] [--pool N] [--routes]`

use bidkey_bench::opening::{self, Options, report};
use bidkey_testkit::Store;
use std::process::ExitCode;

fn usage() -> &'static str {
    "opening-bench [--bidders 100,1000,5000] [--store sqlite,postgres] [--at-once 2500]\n\
     \x20             [--pool N] [--enrol-parallel 8] [--routes] [--quick]\n\
     Enrols the largest number of bidders through the real flows once per store, then runs\n\
     one opening per number: every bidder's platform request, scan, PIN confirmation\n\
     (two-party co-decryption) and the platform's check of the decrypted bid.\n\
     --at-once caps bidders mid-decrypt (each holds a wallet and connections: file limits).\n\
     --routes prints every route's latency too. --quick: 20 and 100 bidders, SQLite only."
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

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        opts: Options {
            stores: vec![Store::Sqlite, Store::Postgres],
            bidders: vec![100, 1000, 5000],
            max_active: 2500,
            enrol_parallel: 8,
            pool_size: None,
        },
        routes: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--bidders" => {
                a.opts.bidders = parse_list(&value()?, "--bidders", |x| {
                    x.parse().ok().filter(|n| (1..=28_000).contains(n))
                })?;
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
            "--routes" => a.routes = true,
            "--quick" => {
                a.opts.bidders = vec![20, 100];
                a.opts.stores = vec![Store::Sqlite];
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
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
            "{}: {} database connections; population set up in {:.0} s",
            opening::store_name(run.store),
            run.pool_size,
            run.setup.as_secs_f64()
        );
    }
    println!("\n{}", report::summary(&runs));
    if args.routes {
        for run in &runs {
            for o in &run.openings {
                println!("{}", report::routes(run, o));
            }
        }
    }
    let mut failed = false;
    for run in &runs {
        for o in &run.openings {
            for f in o.failures.iter().take(5) {
                eprintln!("failure ({} bidders): {f}", o.bidders);
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
