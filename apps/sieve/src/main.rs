//! sieve N: Go's concurrent prime sieve. A generator task sends 2, 3, 4, ...
//! down a chain of filter tasks over rendezvous channels; each filter holds
//! one prime and passes on only numbers it does not divide. Prints the first
//! N primes, one per line (so the last line is the N-th prime), or with
//! `--last` only the N-th. `--bench` adds `bench sieve_<N> <ms> ms`.
//!
//! `--spread` lays the chain over every core (`CHANOS_CORES`) as a
//! pipeline: core 0 runs the generator and the first filters, core 1 the
//! next ones, and so on, so that only the few links between blocks cross
//! cores. The first filters see most numbers, so the blocks are cut where
//! each holds an equal share of the estimated work (see [`blocks`]);
//! `--bench` then says `sieve_<N>_spread`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use chanos::chan::{self, Receiver, Sender};
use chanos::time::Instant;
use chanos::{eprintln, println, spawn_named, spawn_on_named};

async fn generate(tx: Sender<u32>) {
    let mut n = 2;
    while tx.send(n).await.is_ok() {
        n += 1;
    }
}

/// `SPREAD` only makes the filters spawned on other cores a code of their
/// own: sharing one with the one-core path cost that path about 20
/// instructions a handoff (callgrind), LLVM no longer inlining it.
async fn filter<const SPREAD: bool>(rx: Receiver<u32>, tx: Sender<u32>, prime: u32) {
    while let Some(n) = rx.recv().await {
        if n % prime != 0 && tx.send(n).await.is_err() {
            return;
        }
    }
}

/// The core of each of `count` filters, spread over `cores` in blocks. A
/// number reaches filter k only if no smaller prime divides it, about
/// 0.56 / ln(p_k) of them (Mertens), and the k-th prime is near k ln k: so
/// filter k's work is about 1 / ln(k ln k), and each core gets an equal
/// share of the sum (logarithms to base 2, rounded down: `core` has no
/// `ln`, and the shares only need to be roughly right).
fn blocks(count: u32, cores: usize) -> Vec<usize> {
    let work: Vec<f64> = (0..count)
        .map(|k| {
            let k = u64::from(k.max(2));
            1.0 / f64::from((k * u64::from(k.ilog2())).ilog2())
        })
        .collect();
    let total: f64 = work.iter().sum();
    let mut before = 0.0;
    work.iter()
        .map(|w| {
            let core = (before / total * cores as f64) as usize;
            before += w;
            core.min(cores - 1)
        })
        .collect()
}

#[chanos::main]
async fn main() {
    let mut count: Option<u32> = None;
    let (mut last_only, mut bench, mut spread) = (false, false, false);
    for arg in chanos::env::args() {
        match arg.as_str() {
            "--last" => last_only = true,
            "--bench" => bench = true,
            "--spread" => spread = true,
            n => match n.parse() {
                Ok(n) if count.is_none() => count = Some(n),
                _ => {
                    eprintln!("usage: sieve [N] [--last] [--bench] [--spread]   (N: how many primes, default 100)");
                    chanos::env::exit(64);
                }
            },
        }
    }
    let count = count.unwrap_or(100);
    let start = Instant::now();
    let core_of = if spread {
        blocks(count, chanos::cores())
    } else {
        Vec::new() // not looked at
    };
    let (tx, mut rx) = chan::bounded(0);
    spawn_named("generate", generate(tx));
    for i in 1..=count {
        let prime = rx.recv().await.expect("the chain never ends");
        if !last_only || i == count {
            println!("{prime}");
        }
        let (next_tx, next_rx) = chan::bounded(0);
        let name = format!("filter {prime}");
        if spread {
            let core = core_of[i as usize - 1];
            drop(spawn_on_named(
                core,
                name,
                filter::<true>(rx, next_tx, prime),
            ));
        } else {
            spawn_named(name, filter::<false>(rx, next_tx, prime));
        }
        rx = next_rx;
    }
    if bench {
        let ms = start.elapsed().as_micros() as f64 / 1000.0;
        let how = if spread { "_spread" } else { "" };
        println!("bench sieve_{count}{how} {ms:.3} ms");
    }
}
