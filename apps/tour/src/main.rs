//! tour: the API on one screen (the README shows this file).
#![cfg_attr(target_os = "none", no_std, no_main)] // same source boots as an image
use chanos::chan::{self, oneshot};
use chanos::time::{self, Duration, Instant};
use chanos::{println, select, spawn, spawn_named, yield_now};

#[chanos::main]                        // async main = the task "main"; may return Result
#[rustfmt::skip]                       // keep this screen's comments aligned
async fn main() {
    let _args = chanos::env::args();   // arguments, without the program name
    let (tx, rx) = chan::bounded::<u32>(0);          // rendezvous; bounded(n) buffers n
    let (jobs, _inbox) = chan::bounded_named::<u32>(8, "jobs"); // named in reports
    let worker = spawn_named("worker", async move {  // JoinHandle<T>; drop = detach
        while let Some(n) = rx.recv().await {         // None once closed and drained
            println!("got {n}");
        }
        "done"
    });
    tx.send(1).await.unwrap();         // Err(SendError(v)) gives v back if no receiver
    tx.try_send(2).ok();               // Err(Full(v)) / Err(Closed(v))
    select! {                          // uniform random choice among ready arms
        r = jobs.send(3) => r.unwrap(),
        _ = time::after(Duration::from_millis(10)) => println!("timed out"),
        default => println!("nothing ready"),
    }
    drop(tx);                          // last sender gone: the channel closes
    assert_eq!(worker.await, "done");
    let (once_tx, once_rx) = oneshot::channel::<Instant>();
    spawn(async move { once_tx.send(Instant::now()).ok(); });
    let _at = once_rx.await;
    time::sleep(Duration::from_millis(1)).await;      // also sleep_until, interval, timeout
    yield_now().await;
    chanos::log::info!("logs go to the console (CHANOS_LOG=info)");
}
