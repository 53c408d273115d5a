//! http: an HTTP/1.1 server on port 80, on every core. `GET /` is a page
//! of live runtime statistics per core, `GET /metrics` the same as text;
//! connections are kept alive and closed after `--idle-secs` (10) without a
//! request; a request's head, and then its body, must each arrive within
//! `--request-secs` (10), or the answer is 408. Each core listens on the
//! port (`TcpListener::bind_per_core`) and serves the connections it
//! accepts, one task each; each core's ledger task owns that core's
//! counters (see `ledger.rs`). The protocol logic is in the library half
//! (`lib.rs`).
//!
//! `http [--port N] [--idle-secs N] [--request-secs N] [--report-secs N]`
//! (hosted, port 80 needs root); `--report-secs` prints core 0's runtime
//! statistics that often.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod connection;
mod ledger;
mod pages;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use chanos::chan::{self, Receiver, Sender};
use chanos::net::{NetError, TcpListener};
use chanos::time::Duration;
use chanos::{println, spawn_named, spawn_on_named};
use http::conversation::Limits;
use ledger::Ask;

struct Options {
    port: u16,
    limits: Limits,
    report: Option<Duration>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        port: 80,
        limits: Limits {
            idle: Duration::from_secs(10),
            request: Duration::from_secs(10),
        },
        report: None,
    };
    let args = chanos::env::args();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(alloc::format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value.parse::<u16>().map_err(|_| {
                alloc::format!("{what} must be a number from 0 to 65535, not {value:?}")
            })
        };
        match flag.as_str() {
            "--port" => options.port = number("--port")?,
            "--idle-secs" => {
                options.limits.idle = Duration::from_secs(number("--idle-secs")?.into())
            }
            "--request-secs" => {
                options.limits.request = Duration::from_secs(number("--request-secs")?.into())
            }
            "--report-secs" => {
                options.report = Some(Duration::from_secs(number("--report-secs")?.into()))
            }
            _ => return Err(alloc::format!("unknown option {flag:?}")),
        }
    }
    Ok(options)
}

#[chanos::main]
async fn main() -> Result<(), NetError> {
    let options = options().unwrap_or_else(|problem| {
        chanos::eprintln!(
            "http: {problem}\nusage: http [--port N] [--idle-secs N] [--request-secs N] [--report-secs N]"
        );
        chanos::env::exit(64)
    });
    if let Some(period) = options.report.filter(|p| !p.is_zero()) {
        spawn_named("stats", chanos::print_stats_every(period));
    }
    let listeners = TcpListener::bind_on_every_core(options.port).await?;
    let port = listeners[0].port();
    let (ledgers, asks): (Vec<Sender<Ask>>, Vec<Receiver<Ask>>) = (0..listeners.len())
        .map(|_| chan::bounded_named(8, "ledger asks"))
        .unzip();
    println!(
        "http: serving on port {port} on {} core(s)",
        listeners.len()
    );
    let cores: Vec<_> = (0..)
        .zip(listeners.into_iter().zip(asks))
        .map(|(core, (listener, asks))| {
            let ledgers = ledgers.clone();
            spawn_on_named(core, "http acceptor", async move {
                serve_core(listener, asks, ledgers, options.limits).await
            })
        })
        .collect();
    drop(ledgers);
    for core in cores {
        core.await?;
    }
    Ok(())
}

/// Accepts this core's connections and serves each in a task of its own,
/// beside this core's ledger.
async fn serve_core(
    listener: TcpListener,
    asks: Receiver<Ask>,
    ledgers: Vec<Sender<Ask>>,
    limits: Limits,
) -> Result<(), NetError> {
    let (events, incoming) = chan::bounded_named(64, "ledger events");
    spawn_named("ledger", ledger::keep(incoming, asks));
    let ledgers: Arc<[Sender<Ask>]> = ledgers.into();
    loop {
        let stream = listener.accept().await?;
        spawn_named(
            "http connection",
            connection::serve(stream, events.clone(), ledgers.clone(), limits),
        );
    }
}
