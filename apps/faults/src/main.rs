//! faults MODE [CORE]: misbehaves on purpose, to show how chanos reports
//! it; the misbehaving task runs on core CORE (0 unless given: in the
//! image, give it CPUs with `--cores`).
//! - `panic`: a task named "worker" panics; the program exits 101 naming it.
//! - `error`: main returns an error; the program exits 1 and prints it.
//! - `null`: a task writes through a null pointer. In the image: a page-fault
//!   report naming the task, status 102. Hosted: the process gets SIGSEGV.
//! - `overflow`: a task recurses without bound. In the image: a stack-overflow
//!   report (the guard page below the stack), status 102. Hosted: Rust's
//!   stack-overflow message and SIGABRT.
//! - `wild`: a task writes beyond the end of RAM (at 3 GiB). In the image,
//!   where only RAM is mapped: a page-fault report, status 102. Hosted:
//!   SIGSEGV.
//! - `oom`: a task keeps 1 MiB blocks until the heap runs out. In the image:
//!   an out-of-memory report with the request, the heap's size and the task, status
//!   103. Hosted: it would eat the machine's memory, so it refuses.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use chanos::{chan, eprintln, spawn_on_named};

#[chanos::main]
async fn main() -> Result<(), &'static str> {
    let args = chanos::env::args();
    let mode = args.first().cloned().unwrap_or_default();
    let core = match args.get(1).map(|c| c.parse::<usize>()) {
        None => 0,
        Some(Ok(core)) if core < chanos::cores() => core,
        Some(_) => {
            eprintln!(
                "faults: CORE must be a core number below {}",
                chanos::cores()
            );
            chanos::env::exit(64);
        }
    };
    match mode.as_str() {
        "panic" => {
            let (tx, rx) = chan::bounded::<u32>(0);
            spawn_on_named(core, "worker", async move {
                let n = rx.recv().await.unwrap_or(0);
                panic!("worker cannot handle {n}");
            });
            tx.send(42).await.ok();
            chanos::time::sleep(core::time::Duration::from_secs(10)).await;
            Ok(())
        }
        "error" => Err("main gave up on purpose"),
        "null" => {
            spawn_on_named(core, "scribbler", async {
                let target = core::hint::black_box(core::ptr::null_mut::<u64>());
                // SAFETY: none; this is the bug the app exists to show.
                unsafe { target.write_volatile(42) };
            })
            .await;
            Ok(())
        }
        "oom" if cfg!(target_os = "none") => {
            let kept = spawn_on_named(core, "hoarder", async {
                let mut blocks = alloc::vec::Vec::new();
                loop {
                    blocks.push(core::hint::black_box(alloc::vec::Vec::<u8>::with_capacity(
                        1 << 20,
                    )));
                }
                #[allow(unreachable_code)]
                blocks.len()
            })
            .await;
            chanos::println!("unreachable: kept {kept} blocks");
            Ok(())
        }
        "oom" => {
            Err("`faults oom` runs only in the image: hosted, it would eat this machine's memory")
        }
        "wild" => {
            spawn_on_named(core, "wanderer", async {
                let target = core::hint::black_box(0xc000_0000usize as *mut u64);
                // SAFETY: none; this is the bug the app exists to show.
                unsafe { target.write_volatile(7) };
            })
            .await;
            Ok(())
        }
        "overflow" => {
            let depth = spawn_on_named(core, "recurser", async {
                recurse(core::hint::black_box(1))
            })
            .await;
            chanos::println!("unreachable: recursed {depth} times");
            Ok(())
        }
        _ => {
            eprintln!("usage: faults panic|error|null|wild|overflow|oom [CORE]");
            chanos::env::exit(64);
        }
    }
}

/// Recurses until the stack runs out; the array keeps each frame large and
/// `black_box` keeps the compiler from turning this into a loop.
fn recurse(n: u64) -> u64 {
    if n == u64::MAX {
        return 0; // never: the stack runs out long before
    }
    let frame = core::hint::black_box([n; 64]);
    recurse(n + 1) + frame[(n % 64) as usize]
}
