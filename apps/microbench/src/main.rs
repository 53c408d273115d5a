//! microbench MODE [N]: the runtime's basic costs, printed as
//! `bench <metric> <value> <unit>` lines.
//! - `spawn [N]`: spawn a task that returns at once and await it, N times
//!   (default 1000000): `bench spawn_join <ns> ns`.
//! - `yield [N]`: two tasks each yield N times (default 1000000):
//!   `bench yield <ns> ns` per yield.
//! - `throughput P [N]`: P producers send N messages in all (default
//!   1000000) through one channel of capacity 1024 to one consumer:
//!   `bench throughput_<P>p <msgs/s> msg/s`.
//! - `counter [N]`: a task owns a counter; another asks it to add one, N
//!   times (default 1000000), over a channel of capacity 1024 and waits for
//!   the final value: `bench counter_via_task <ns> ns` per increment (what a
//!   lock or an atomic would do in shared memory).
//! - `park N`: spawn N tasks that all wait on one channel, report when they
//!   are parked, then release them: `bench parked_tasks <N> tasks`. Measure
//!   its memory from outside (e.g. maximum resident size) against `park 0`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::chan;
use chanos::time::Instant;
extern crate alloc;

use alloc::string::String;
use chanos::{eprintln, println, spawn, yield_now};

fn per_op(start: Instant, ops: u64) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

async fn spawn_join(n: u64) {
    let start = Instant::now();
    let mut total = 0u64;
    for i in 0..n {
        total += spawn(async move { i & 1 }).await;
    }
    let ns = per_op(start, n);
    assert_eq!(total, n / 2);
    println!("bench spawn_join {ns:.1} ns");
}

async fn yields(n: u64) {
    let other = spawn(async move {
        for _ in 0..n {
            yield_now().await;
        }
    });
    let start = Instant::now();
    for _ in 0..n {
        yield_now().await;
    }
    other.await;
    println!("bench yield {:.1} ns", per_op(start, 2 * n));
}

async fn throughput(producers: u64, n: u64) {
    let (tx, rx) = chan::bounded::<u64>(1024);
    let per_producer = n / producers;
    let start = Instant::now();
    for _ in 0..producers {
        let tx = tx.clone();
        spawn(async move {
            for i in 0..per_producer {
                tx.send(i).await.expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    let mut received = 0u64;
    while rx.recv().await.is_some() {
        received += 1;
    }
    let seconds = start.elapsed().as_nanos() as f64 / 1e9;
    assert_eq!(received, per_producer * producers);
    println!(
        "bench throughput_{producers}p {:.0} msg/s",
        received as f64 / seconds
    );
}

async fn counter(n: u64) {
    let (add_tx, add_rx) = chan::bounded::<u64>(1024);
    let owner = spawn(async move {
        let mut count = 0u64;
        while let Some(amount) = add_rx.recv().await {
            count += amount;
        }
        count
    });
    let start = Instant::now();
    for _ in 0..n {
        add_tx.send(1).await.expect("the owner is alive");
    }
    drop(add_tx);
    let total = owner.await;
    let ns = per_op(start, n);
    assert_eq!(total, n);
    println!("bench counter_via_task {ns:.1} ns");
}

async fn park(n: u64) {
    let (tx, rx) = chan::bounded::<()>(0);
    let (done_tx, done_rx) = chan::bounded::<()>(0);
    for _ in 0..n {
        let (rx, done) = (rx.clone(), done_tx.clone());
        spawn(async move {
            rx.recv().await;
            drop(done);
        });
    }
    drop((rx, done_tx));
    yield_now().await; // every task runs once and parks
    println!("bench parked_tasks {n} tasks");
    drop(tx); // closing wakes them all
    assert_eq!(done_rx.recv().await, None);
}

#[chanos::main]
async fn main() {
    let args = chanos::env::args();
    let n = match args.get(1).map(|a| a.parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => usage(),
    };
    match args.first().map(String::as_str) {
        Some("spawn") => spawn_join(n.unwrap_or(1_000_000).max(1)).await,
        Some("yield") => yields(n.unwrap_or(1_000_000).max(1)).await,
        Some("park") => park(n.unwrap_or_else(|| usage())).await,
        Some("throughput") => {
            let producers = n.unwrap_or_else(|| usage()).max(1);
            let total = match args.get(2).map(|a| a.parse::<u64>()) {
                None => 1_000_000,
                Some(Ok(total)) => total.max(producers),
                Some(Err(_)) => usage(),
            };
            throughput(producers, total).await
        }
        Some("counter") => counter(n.unwrap_or(1_000_000).max(1)).await,
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: microbench spawn [N] | yield [N] | park N | throughput P [N] | counter [N]");
    chanos::env::exit(64)
}
