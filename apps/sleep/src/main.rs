//! sleep [MS]: sleeps MS milliseconds (default 1000) in a task, then says
//! how long it slept. While it sleeps the core is idle: hosted, the thread
//! is parked; in the image, the CPU halts until the timer interrupt.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::time::{self, Duration, Instant};
use chanos::{eprintln, println, spawn_named};

#[chanos::main]
async fn main() {
    let ms = match chanos::env::args().first().map(|a| a.parse::<u64>()) {
        None => 1000,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            eprintln!("usage: sleep [MS]   (milliseconds, default 1000)");
            chanos::env::exit(64);
        }
    };
    let start = Instant::now();
    spawn_named("sleeper", time::sleep(Duration::from_millis(ms))).await;
    println!("slept {} ms", start.elapsed().as_millis());
}
