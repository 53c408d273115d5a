//! pingpong [N] [rendezvous|cap1]: two tasks bounce a message N times
//! (default 100000), over rendezvous channels, then over capacity-1
//! channels (or only the kind named), and print the mean round trip (two
//! handoffs) as `bench pingpong_<kind>_rt <ns> ns`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::chan;
use chanos::time::Instant;
use chanos::{eprintln, println, spawn_named};
extern crate alloc;
use alloc::string::String;

/// Mean round trip in ns over `rounds` round trips on channels of `capacity`.
async fn bounce(capacity: usize, rounds: u64) -> f64 {
    let (ping_tx, ping_rx) = chan::bounded_named::<u64>(capacity, "ping");
    let (pong_tx, pong_rx) = chan::bounded_named::<u64>(capacity, "pong");
    let echo = spawn_named("echo", async move {
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
    let (rendezvous, cap1) = match args.get(1).map(String::as_str) {
        None => (true, true),
        Some("rendezvous") => (true, false),
        Some("cap1") => (false, true),
        Some(_) => usage(),
    };
    if rendezvous {
        let rt = bounce(0, rounds).await;
        println!("bench pingpong_rendezvous_rt {rt:.1} ns");
    }
    if cap1 {
        let rt = bounce(1, rounds).await;
        println!("bench pingpong_cap1_rt {rt:.1} ns");
    }
}

fn usage() -> ! {
    eprintln!("usage: pingpong [N] [rendezvous|cap1]   (N > 0 round trips, default 100000)");
    chanos::env::exit(64);
}
