//! pingpong [N]: two tasks bounce a message N times (default 100000), first
//! over rendezvous channels, then over capacity-1 channels, and print the
//! mean round trip (two handoffs) as `bench pingpong_<kind>_rt <ns> ns`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::chan;
use chanos::time::Instant;
use chanos::{eprintln, println, spawn_named};

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
        Some(_) => {
            eprintln!("usage: pingpong [N]   (N > 0 round trips, default 100000)");
            chanos::env::exit(64);
        }
    };
    let rendezvous = bounce(0, rounds).await;
    println!("bench pingpong_rendezvous_rt {rendezvous:.1} ns");
    let cap1 = bounce(1, rounds).await;
    println!("bench pingpong_cap1_rt {cap1:.1} ns");
}
