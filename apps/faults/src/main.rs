//! faults MODE: misbehaves on purpose, to show how chanos reports it.
//! - `panic`: a task named "worker" panics; the program exits 101 naming it.
//! - `error`: main returns an error; the program exits 1 and prints it.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::{chan, eprintln, spawn_named};

#[chanos::main]
async fn main() -> Result<(), &'static str> {
    let mode = chanos::env::args().into_iter().next().unwrap_or_default();
    match mode.as_str() {
        "panic" => {
            let (tx, rx) = chan::bounded::<u32>(0);
            spawn_named("worker", async move {
                let n = rx.recv().await.unwrap_or(0);
                panic!("worker cannot handle {n}");
            });
            tx.send(42).await.ok();
            chanos::time::sleep(core::time::Duration::from_secs(10)).await;
            Ok(())
        }
        "error" => Err("main gave up on purpose"),
        _ => {
            eprintln!("usage: faults panic|error");
            chanos::env::exit(64);
        }
    }
}
