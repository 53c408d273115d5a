//! sieve N: Go's concurrent prime sieve. A generator task sends 2, 3, 4, ...
//! down a chain of filter tasks over rendezvous channels; each filter holds
//! one prime and passes on only numbers it does not divide. Prints the first
//! N primes, one per line (so the last line is the N-th prime), or with
//! `--last` only the N-th. `--bench` adds `bench sieve_<N> <ms> ms`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use chanos::chan::{self, Receiver, Sender};
use chanos::time::Instant;
use chanos::{eprintln, println, spawn_named};

async fn generate(tx: Sender<u32>) {
    let mut n = 2;
    while tx.send(n).await.is_ok() {
        n += 1;
    }
}

async fn filter(rx: Receiver<u32>, tx: Sender<u32>, prime: u32) {
    while let Some(n) = rx.recv().await {
        if n % prime != 0 && tx.send(n).await.is_err() {
            return;
        }
    }
}

#[chanos::main]
async fn main() {
    let mut count: Option<u32> = None;
    let (mut last_only, mut bench) = (false, false);
    for arg in chanos::env::args() {
        match arg.as_str() {
            "--last" => last_only = true,
            "--bench" => bench = true,
            n => {
                match n.parse() {
                    Ok(n) if count.is_none() => count = Some(n),
                    _ => {
                        eprintln!("usage: sieve [N] [--last] [--bench]   (N: how many primes, default 100)");
                        chanos::env::exit(64);
                    }
                }
            }
        }
    }
    let count = count.unwrap_or(100);
    let start = Instant::now();
    let (tx, mut rx) = chan::bounded(0);
    spawn_named("generate", generate(tx));
    for i in 1..=count {
        let prime = rx.recv().await.expect("the chain never ends");
        if !last_only || i == count {
            println!("{prime}");
        }
        let (next_tx, next_rx) = chan::bounded(0);
        spawn_named(format!("filter {prime}"), filter(rx, next_tx, prime));
        rx = next_rx;
    }
    if bench {
        let ms = start.elapsed().as_micros() as f64 / 1000.0;
        println!("bench sieve_{count} {ms:.3} ms");
    }
}
