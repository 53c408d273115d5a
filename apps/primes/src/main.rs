//! primes [LIMIT] [--chunk N] [--rounds R] [--bench]: counts the primes below LIMIT
//! (default 3000000) by trial division, CPU-bound work split into chunks of
//! N numbers (default 10000) that a pool of worker tasks takes from one
//! shared channel: the CSP way to balance load, since a worker that finishes
//! early simply takes the next chunk. It counts R times (default 3) with one
//! worker (on core 0) and R times with one worker on every core, in turn,
//! checks that every count agrees, and prints each side's median time and
//! the speed-up. `--bench` adds `bench primes_1_core <ms> ms` and `bench
//! primes_<K>_cores <ms> ms`.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use chanos::chan::{self, Receiver, Sender};
use chanos::time::Instant;
use chanos::{eprintln, println, spawn_named, spawn_on_named};

/// Above this, `d * d` in [`is_prime`] could overflow a `u32`.
const MAX_LIMIT: u32 = 1 << 31;

fn is_prime(n: u32) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// One chunk's result.
struct Counted {
    primes: u32,
    core: usize,
    /// How long counting took, in microseconds.
    us: u64,
}

/// Takes chunks until the channel closes; for each, sends back how many
/// primes it holds, which core counted them and how long it took.
async fn worker(chunks: Receiver<(u32, u32)>, counts: Sender<Counted>) {
    while let Some((start, end)) = chunks.recv().await {
        let began = Instant::now();
        let primes = (start..end).filter(|&n| is_prime(n)).count() as u32;
        let counted = Counted {
            primes,
            core: chanos::core(),
            us: began.elapsed().as_micros() as u64,
        };
        if counts.send(counted).await.is_err() {
            return;
        }
        // Nothing preempts a task: after a chunk's worth of computing, let
        // this core's other tasks run (the feeder refills the channel that
        // the other cores' workers are taking from).
        chanos::yield_now().await;
    }
}

struct Run {
    primes: u64,
    ms: f64,
    chunks_per_core: Vec<u32>,
    /// Time spent counting on each core, in microseconds.
    busy_us: Vec<u64>,
}

/// Counts the primes below `limit` with one worker on each of cores
/// `0..workers`.
async fn count_primes(limit: u32, chunk: u32, workers: usize) -> Run {
    let start = Instant::now();
    let (chunks_tx, chunks_rx) = chan::bounded_named(2 * workers, "chunks");
    let (counts_tx, counts_rx) = chan::bounded_named(2 * workers, "counts");
    for core in 0..workers {
        let (chunks, counts) = (chunks_rx.clone(), counts_tx.clone());
        drop(spawn_on_named(core, "worker", worker(chunks, counts)));
    }
    drop((chunks_rx, counts_tx));
    spawn_named("feeder", async move {
        let mut next = 0;
        while next < limit {
            let end = limit.min(next.saturating_add(chunk));
            if chunks_tx.send((next, end)).await.is_err() {
                return;
            }
            next = end;
        }
    });
    let mut run = Run {
        primes: 0,
        ms: 0.0,
        chunks_per_core: vec![0; workers],
        busy_us: vec![0; workers],
    };
    while let Some(counted) = counts_rx.recv().await {
        run.primes += u64::from(counted.primes);
        run.chunks_per_core[counted.core] += 1;
        run.busy_us[counted.core] += counted.us;
    }
    run.ms = start.elapsed().as_micros() as f64 / 1000.0;
    run
}

fn usage() -> ! {
    eprintln!(
        "usage: primes [LIMIT] [--chunk N] [--rounds R] [--bench]   (LIMIT: count the primes \
         below it, default 3000000, at most {MAX_LIMIT}; N: numbers per chunk, default 10000; \
         R: rounds of each, default 3)"
    );
    chanos::env::exit(64);
}

/// An option's value: a number above 0, or the usage message.
fn positive(value: Option<String>) -> u32 {
    match value.and_then(|n| n.parse().ok()) {
        Some(n) if n > 0 => n,
        _ => usage(),
    }
}

/// The median of `runs`' times, and the run that took it.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.ms.total_cmp(&b.ms));
    runs.swap_remove(runs.len() / 2)
}

#[chanos::main]
async fn main() {
    let (mut limit, mut chunk, mut rounds, mut bench) = (None, 10_000u32, 3u32, false);
    let mut args = chanos::env::args().into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--chunk" => chunk = positive(args.next()),
            "--rounds" => rounds = positive(args.next()),
            n => match n.parse::<u32>() {
                Ok(n) if limit.is_none() && n <= MAX_LIMIT => limit = Some(n),
                _ => usage(),
            },
        }
    }
    let limit = limit.unwrap_or(3_000_000);
    let cores = chanos::cores();
    // Rounds alternate one worker and every core, so that a slow moment of
    // the machine does not fall on one side only; each side's median counts.
    let (mut ones, mut alls) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ones.push(count_primes(limit, chunk, 1).await);
        if cores > 1 {
            alls.push(count_primes(limit, chunk, cores).await);
        }
    }
    if let Some(wrong) = ones
        .iter()
        .chain(&alls)
        .find(|run| run.primes != ones[0].primes)
    {
        eprintln!(
            "primes: counted {} primes once and {} another time",
            ones[0].primes, wrong.primes
        );
        chanos::env::exit(1);
    }
    let one = median(ones);
    println!("primes below {limit}: {}", one.primes);
    println!("1 core: {:.1} ms (median of {rounds})", one.ms);
    if bench {
        println!("bench primes_1_core {:.3} ms", one.ms);
    }
    if cores == 1 {
        println!("(one core only: nothing to compare; `scripts/run primes --cores N` gives N)");
        return;
    }
    let all = median(alls);
    let busy: Vec<_> = all
        .busy_us
        .iter()
        .map(|&us| format!("{:.0}%", us as f64 / 10.0 / all.ms))
        .collect();
    println!(
        "{cores} cores: {:.1} ms (median of {rounds}), speed-up {:.2}x; per core: chunks {:?}, \
         counting {}",
        all.ms,
        one.ms / all.ms,
        all.chunks_per_core,
        busy.join(" ")
    );
    if bench {
        println!("bench primes_{cores}_cores {:.3} ms", all.ms);
    }
}
