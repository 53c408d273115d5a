//! microbench MODE [N]: the runtime's basic costs, printed as
//! `bench <metric> <value> <unit>` lines.
//! - `spawn [N]`: spawn a task that returns at once and await it, N times
//!   (default 1000000): `bench spawn_join <ns> ns`.
//! - `yield [N]`: two tasks each yield N times (default 1000000):
//!   `bench yield <ns> ns` per yield.
//! - `throughput P [N]`: P producers send N messages in all (default
//!   1000000) through one channel of capacity 1024 to one consumer:
//!   `bench throughput_<P>p <msgs/s> msg/s`.
//! - `counter [N]`: a task on core 0 owns a counter; one task on every core
//!   (`CHANOS_CORES`) asks it to add one, N times in all (default 1000000),
//!   over one channel of capacity 1024, and the owner's final value is
//!   awaited: `bench counter_via_task_<cores> <ns> ns` per increment (what
//!   a lock or an atomic would do in shared memory: Barrelfish's question).
//! - `table-owner [N]`, `table-replicas [N]`: a read-mostly table read from
//!   every core, through the task that owns it or from a copy per core
//!   (`table.rs`): `bench table_via_task_<cores>`, `table_replicas_<cores>`,
//!   ns per operation.
//! - `recv-ready [N]`: N receives from a capacity-1 channel that always
//!   holds a value (refilled with `try_send` after each): `bench recv_ready
//!   <ns> ns`; `select-ready [N]`: the same with `select!` over two such
//!   channels: `bench select_ready <ns> ns`. Their difference is what a
//!   select over two ready arms adds to a plain receive.
//! - `select-wait [N]`: a round trip whose reply is received by a `select!`
//!   over two channels that had nothing ready, so it registers on both and
//!   is completed by the sender: `bench select_wait_rt <ns> ns` (compare
//!   with pingpong's rendezvous round trip).
//! - `park N`: spawn N tasks that all wait on one channel, report when they
//!   are parked, then release them: `bench parked_tasks <N> tasks`. Measure
//!   its memory from outside (e.g. maximum resident size) against `park 0`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::chan;
use chanos::time::Instant;
extern crate alloc;

mod table;

use alloc::string::String;
use chanos::{eprintln, println, select, spawn, yield_now};

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
    let cores = chanos::cores();
    let per_core = n / cores as u64;
    let (add_tx, add_rx) = chan::bounded::<u64>(1024);
    let owner = spawn(async move {
        let mut count = 0u64;
        while let Some(amount) = add_rx.recv().await {
            count += amount;
        }
        count
    });
    let start = Instant::now();
    let adders: alloc::vec::Vec<_> = (0..cores)
        .map(|core| {
            let add_tx = add_tx.clone();
            chanos::spawn_on(core, async move {
                for _ in 0..per_core {
                    add_tx.send(1).await.expect("the owner is alive");
                }
            })
        })
        .collect();
    drop(add_tx);
    for adder in adders {
        adder.await;
    }
    let total = owner.await;
    let ns = per_op(start, total);
    assert_eq!(total, per_core * cores as u64);
    println!("bench counter_via_task_{cores} {ns:.1} ns");
}

/// A capacity-1 channel that starts with a value in it.
fn full_channel() -> (chan::Sender<u64>, chan::Receiver<u64>) {
    let (tx, rx) = chan::bounded::<u64>(1);
    tx.try_send(0).expect("room for one");
    (tx, rx)
}

async fn recv_ready(n: u64) {
    let (tx, rx) = full_channel();
    let start = Instant::now();
    for i in 0..n {
        let v = rx.recv().await.expect("a value is always there");
        tx.try_send(v ^ i).expect("room again");
    }
    println!("bench recv_ready {:.1} ns", per_op(start, n));
}

async fn select_ready(n: u64) {
    let ((tx1, rx1), (tx2, rx2)) = (full_channel(), full_channel());
    let start = Instant::now();
    for i in 0..n {
        select! {
            v = rx1.recv() => tx1.try_send(v.expect("ready") ^ i).expect("room again"),
            v = rx2.recv() => tx2.try_send(v.expect("ready") ^ i).expect("room again"),
        }
    }
    println!("bench select_ready {:.1} ns", per_op(start, n));
}

async fn select_wait(n: u64) {
    let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
    let (_quiet_tx, quiet_rx) = chan::bounded::<u64>(0);
    let echo = spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v).await.is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping_tx.send(i).await.expect("echo is alive");
        // The echo has not run yet: nothing is ready, the select registers.
        let back = select! {
            v = pong_rx.recv() => v,
            v = quiet_rx.recv() => v,
        };
        assert_eq!(back, Some(i));
    }
    let ns = per_op(start, n);
    drop(ping_tx);
    echo.await;
    println!("bench select_wait_rt {ns:.1} ns");
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
        Some("table-owner") => table::owner(n.unwrap_or(1_000_000).max(1)).await,
        Some("table-replicas") => table::replicas(n.unwrap_or(1_000_000).max(1)).await,
        Some("recv-ready") => recv_ready(n.unwrap_or(1_000_000).max(1)).await,
        Some("select-ready") => select_ready(n.unwrap_or(1_000_000).max(1)).await,
        Some("select-wait") => select_wait(n.unwrap_or(1_000_000).max(1)).await,
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: microbench spawn [N] | yield [N] | park N | throughput P [N] | counter [N] \
         | table-owner [N] | table-replicas [N] | recv-ready [N] | select-ready [N] | select-wait [N]"
    );
    chanos::env::exit(64)
}
