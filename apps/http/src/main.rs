//! http: an HTTP/1.1 server on port 80. `GET /` is a page of live runtime
//! statistics, `GET /metrics` the same as text; connections are kept alive
//! and closed after `--idle-secs` (10) without a request; a request's head,
//! and then its body, must each arrive within `--request-secs` (10), or the
//! answer is 408. One task per connection, and one task, the ledger, that
//! owns the server's counters: connection tasks tell it what happened over
//! a channel. The protocol logic is in the library half (`lib.rs`).
//!
//! `http [--port N] [--idle-secs N] [--request-secs N] [--report-secs N]`
//! (hosted, port 80 needs root); `--report-secs` prints the runtime's
//! statistics that often.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

mod connection;
mod pages;

use alloc::string::String;
use chanos::chan::{self, oneshot, Receiver, Sender};
use chanos::net::{NetError, TcpListener};
use chanos::time::Duration;
use chanos::{println, spawn_named};
use http::conversation::Limits;

/// What connection tasks tell the ledger.
pub(crate) enum Event {
    Opened,
    Closed,
    Served,
    Report(oneshot::Sender<Counts>),
}

/// The server's own counters, kept by the ledger task.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) open: u64,
    pub(crate) accepted: u64,
    pub(crate) requests: u64,
}

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
    let listener = TcpListener::bind(options.port).await?;
    let (ledger, events) = chan::bounded_named(64, "ledger events");
    spawn_named("ledger", keep_ledger(events));
    println!("http: serving on port {}", listener.port());
    loop {
        let stream = listener.accept().await?;
        let ledger: Sender<Event> = ledger.clone();
        spawn_named(
            "http connection",
            connection::serve(stream, ledger, options.limits),
        );
    }
}

/// Owns the counters; answers reports.
async fn keep_ledger(events: Receiver<Event>) {
    let mut counts = Counts::default();
    while let Some(event) = events.recv().await {
        match event {
            Event::Opened => {
                counts.open += 1;
                counts.accepted += 1;
            }
            Event::Closed => counts.open -= 1,
            Event::Served => counts.requests += 1,
            Event::Report(reply) => {
                let _ = reply.send(counts);
            }
        }
    }
}
