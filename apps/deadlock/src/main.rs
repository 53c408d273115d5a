//! deadlock: two tasks each wait to receive from the other, so nothing can
//! ever run again. chanos notices, names both tasks and the channels they
//! wait on, and exits with status 2 (Go: "all goroutines are asleep").
//! `deadlock CORE` runs "right" on core CORE: across cores, the same.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::{chan, eprintln, println, spawn_named, spawn_on_named};

#[chanos::main]
async fn main() {
    let core = match chanos::env::args().first().map(|c| c.parse::<usize>()) {
        None => 0,
        Some(Ok(core)) if core < chanos::cores() => core,
        Some(_) => {
            eprintln!("usage: deadlock [CORE], CORE below {}", chanos::cores());
            chanos::env::exit(64);
        }
    };
    let (to_left, from_right) = chan::bounded_named::<u32>(0, "right to left");
    let (to_right, from_left) = chan::bounded_named::<u32>(0, "left to right");
    let left = spawn_named("left", async move {
        // Waits for right before it speaks...
        let value = from_right.recv().await;
        to_right.send(value.unwrap_or(0) + 1).await.ok();
    });
    let right = spawn_on_named(core, "right", async move {
        // ...and right waits for left: neither ever speaks.
        let value = from_left.recv().await;
        to_left.send(value.unwrap_or(0) + 1).await.ok();
    });
    left.await;
    right.await;
    println!("unreachable: both tasks finished");
}
