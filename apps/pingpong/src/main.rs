//! pingpong [N] [rendezvous|cap1|cross]: two tasks bounce a message N times
//! (default 100000), over rendezvous channels, then over capacity-1
//! channels (or only the kind named), and print the mean round trip (two
//! handoffs) as `bench pingpong_<kind>_rt <ns> ns`. `cross` bounces over
//! rendezvous channels between a task on core 0 and one on core 1
//! (`CHANOS_CORES` at least 2): `bench cross_core_rt <ns> ns`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::chan;
use chanos::time::Instant;
use chanos::{eprintln, println, spawn_on_named};
extern crate alloc;
use alloc::string::String;

/// Mean round trip in ns over `rounds` round trips on channels of
/// `capacity`, with the echoing task on core `echo_core`.
async fn bounce(capacity: usize, rounds: u64, echo_core: usize) -> f64 {
    let (ping_tx, ping_rx) = chan::bounded_named::<u64>(capacity, "ping");
    let (pong_tx, pong_rx) = chan::bounded_named::<u64>(capacity, "pong");
    let echo = spawn_on_named(echo_core, "echo", async move {
        while let Some(n) = ping_rx.recv().await {
            if pong_tx.send(n).await.is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..rounds {
        ping_tx.send(i).await.expect("echo is alive");
        let back = pong_rx.recv().await.expect("echo answers");
        assert_eq!(back, i, "messages arrive in order");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.await;
    elapsed.as_nanos() as f64 / rounds as f64
}

#[chanos::main]
async fn main() {
    let args = chanos::env::args();
    let rounds = match args.first().map(|a| a.parse::<u64>()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => usage(),
    };
    let (rendezvous, cap1, cross) = match args.get(1).map(String::as_str) {
        None => (true, true, false),
        Some("rendezvous") => (true, false, false),
        Some("cap1") => (false, true, false),
        Some("cross") => (false, false, true),
        Some(_) => usage(),
    };
    if cross {
        if chanos::cores() < 2 {
            eprintln!("pingpong cross needs 2 cores; this runtime has 1 (set CHANOS_CORES=2)");
            chanos::env::exit(64);
        }
        let rt = bounce(0, rounds, 1).await;
        println!("bench cross_core_rt {rt:.1} ns");
    }
    if rendezvous {
        let rt = bounce(0, rounds, 0).await;
        println!("bench pingpong_rendezvous_rt {rt:.1} ns");
    }
    if cap1 {
        let rt = bounce(1, rounds, 0).await;
        println!("bench pingpong_cap1_rt {rt:.1} ns");
    }
}

fn usage() -> ! {
    eprintln!("usage: pingpong [N] [rendezvous|cap1|cross]   (N > 0 round trips, default 100000)");
    chanos::env::exit(64);
}
