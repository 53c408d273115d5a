//! peer-tokio FLAVOR MODE [ARGS]: Tokio's costs, FLAVOR `current` (the
//! current-thread runtime) or `multi` (the multi-thread runtime, a worker
//! per core).
//!
//! Modes (N: operations, default 100000; P: producers):
//! - `pingpong N`: round trips over `mpsc::channel(1)` (Tokio has no
//!   rendezvous channel): `pingpong_cap1_rt`;
//! - `spawn N`: `tokio::spawn` + await of the handle;
//! - `yield N`: two tasks calling `task::yield_now`;
//! - `throughput P N`: P producers, one consumer, `mpsc::channel(1024)`;
//! - `sieve N`: the concurrent prime sieve over `mpsc::channel(1)`;
//! - `park N`: N tasks waiting on one `Semaphore` (measure memory from outside).

use peers::{arg, ns_per_op, report, usage_error};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Semaphore};

async fn pingpong(n: u64) {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping_tx.send(i).await.unwrap();
        assert_eq!(pong_rx.recv().await, Some(i));
    }
    report("pingpong_cap1_rt", ns_per_op(start, n), "ns");
    drop(ping_tx);
    echo.await.unwrap();
}

async fn throughput(producers: u64, n: u64) {
    let per = n / producers;
    let (tx, mut rx) = mpsc::channel::<u64>(1024);
    let start = Instant::now();
    for _ in 0..producers {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..per {
                tx.send(i).await.unwrap();
            }
        });
    }
    drop(tx);
    let mut received = 0u64;
    while rx.recv().await.is_some() {
        received += 1;
    }
    assert_eq!(received, per * producers);
    let rate = received as f64 / start.elapsed().as_secs_f64();
    report(&format!("throughput_{producers}p"), rate, "msg/s");
}

async fn sieve(count: u64) {
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel::<u64>(1);
    tokio::spawn(async move {
        let mut n = 2;
        while tx.send(n).await.is_ok() {
            n += 1;
        }
    });
    let mut last = 0;
    for _ in 0..count {
        let prime = rx.recv().await.unwrap();
        last = prime;
        let (next_tx, next_rx) = mpsc::channel::<u64>(1);
        let mut input = std::mem::replace(&mut rx, next_rx);
        tokio::spawn(async move {
            while let Some(n) = input.recv().await {
                if n % prime != 0 && next_tx.send(n).await.is_err() {
                    return;
                }
            }
        });
    }
    println!("{last}");
    report(
        &format!("sieve_{count}"),
        start.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
}

async fn park(n: u64) {
    // A semaphore with no permits: every task waits on it, and permits added
    // later are not lost on tasks that had not started waiting yet.
    let gate = Arc::new(Semaphore::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move { drop(gate.acquire().await.unwrap()) })
        })
        .collect();
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await; // they park
    println!("bench parked_tasks {n} tasks");
    gate.add_permits(n as usize);
    for h in handles {
        h.await.unwrap();
    }
}

async fn run(args: Vec<String>) {
    let n = arg(&args, 2, 100_000);
    match args.get(1).map(String::as_str) {
        Some("pingpong") => pingpong(n).await,
        Some("spawn") => {
            let start = Instant::now();
            for i in 0..n {
                assert_eq!(tokio::spawn(async move { i }).await.unwrap(), i);
            }
            report("spawn_join", ns_per_op(start, n), "ns");
        }
        Some("yield") => {
            let start = Instant::now();
            let other = tokio::spawn(async move {
                for _ in 0..n {
                    tokio::task::yield_now().await;
                }
            });
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
            other.await.unwrap();
            report("yield", ns_per_op(start, 2 * n), "ns");
        }
        Some("throughput") => throughput(n, arg(&args, 3, 1_000_000)).await,
        Some("sieve") => sieve(n).await,
        Some("park") => park(n).await,
        _ => usage_error("usage: peer-tokio current|multi MODE [N] (see the source's header)"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match args.first().map(String::as_str) {
        Some("current") => tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build(),
        Some("multi") => tokio::runtime::Builder::new_multi_thread()
            .enable_time()
            .build(),
        _ => usage_error("usage: peer-tokio current|multi MODE [N]"),
    };
    runtime.expect("a Tokio runtime").block_on(run(args));
}
