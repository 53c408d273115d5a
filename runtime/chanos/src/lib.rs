//! # chanos: green tasks that share nothing and talk over channels
//!
//! chanos is a CSP runtime (as in Go, Occam and Limbo): tasks are stackless
//! futures on a single-core executor, and the only way they cooperate is by
//! passing values over bounded channels. It runs as a Linux process
//! ("hosted") and, with the same app, as a bootable unikernel image.
//!
//! ```
//! use chanos::{chan, spawn_named};
//!
//! chanos::Runtime::new().block_on(async {
//!     let (tx, rx) = chan::bounded::<String>(0);
//!     spawn_named("greeter", async move {
//!         tx.send("hello".to_string()).await.unwrap();
//!     });
//!     assert_eq!(rx.recv().await.as_deref(), Some("hello"));
//! }).unwrap();
//! ```
//!
//! # Layers (each uses only the ones below it)
//! 1. API: [`spawn`], [`chan`], [`select!`], [`time`], [`println!`],
//!    [`env`], `#[chanos::main]`.
//! 2. Executor and channels: `executor` (tasks, run queue, wakers, timers,
//!    deadlock reports) and `chan` (channel logic). `no_std` + `alloc`.
//! 3. Platform (`platform`): clock, park/unpark, console, exit, arguments.
//!
//! # Guarantees
//! - Channel-only: spawned futures and channel values must be [`Isolated`],
//!   an auto trait that shared mutable state lacks. chanos exports no lock.
//! - Deadlocks are reported: when nothing can run, no timer is pending and
//!   `main` has not finished, the program exits with status 2 and names
//!   every blocked task and what it waits on ([`Deadlock`]).
//! - A panicking task ends the program with status 101, its name and message.
#![no_std]
#![feature(allocator_api, auto_traits, negative_impls)]
#![cfg_attr(target_os = "none", feature(abi_x86_interrupt))]
#![warn(missing_docs)]
// `unsafe` only where it is allowed, item by item, each with its proof.
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

// Lets the macros' `::chanos::...` paths work inside this crate's own tests.
#[cfg(test)]
extern crate self as chanos;

mod atomic_waker;
pub mod chan;
pub mod console;
pub mod env;
mod executor;
pub mod exit_status;
mod isolated;
pub mod net;
mod platform;
pub mod select;
mod stats;
pub mod time;

pub use chanos_macros::{main, select};
pub use executor::{
    core, cores, spawn, spawn_named, spawn_on, spawn_on_named, spawn_spread, yield_now,
    BlockedTask, CoreJoinHandle, Deadlock, JoinHandle, Runtime, TaskName, YieldNow,
};
pub use isolated::Isolated;
pub use log;
pub use stats::{print_every as print_stats_every, stats, stats_by_core, Stats};

/// Checks for the fuzzer (`tests/fuzz`), built only under `cfg(fuzzing)`.
#[cfg(all(fuzzing, not(target_os = "none")))]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::net::pump_check::check_stream_pump;
}

/// What `#[chanos::main]` expands to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    use core::fmt::Debug;
    use core::future::Future;

    /// What an async `main` may return.
    pub trait MainOutput {
        /// The exit status, after reporting an error.
        fn exit_code(self) -> i32;
    }

    impl MainOutput for () {
        fn exit_code(self) -> i32 {
            crate::exit_status::SUCCESS
        }
    }

    impl<E: Debug> MainOutput for Result<(), E> {
        fn exit_code(self) -> i32 {
            match self {
                Ok(()) => crate::exit_status::SUCCESS,
                Err(error) => {
                    crate::eprintln!("Error: {error:?}");
                    crate::exit_status::MAIN_ERROR
                }
            }
        }
    }

    /// Runs an app's `main` and exits: with its status, or as
    /// [`exit_status`](crate::exit_status) says on a deadlock or a panic.
    pub fn start<F>(main: F) -> !
    where
        F: Future + 'static,
        F::Output: MainOutput,
    {
        crate::console::init_logger();
        crate::platform::install_panic_report(crate::executor::describe_running);
        log::debug!("platform: {}", crate::platform::boot_report());
        if let Some(ns) = crate::platform::since_first_instruction_ns() {
            log::debug!(
                "boot: first instruction to main in {}.{:03} ms",
                ns / 1_000_000,
                ns / 1000 % 1000
            );
        }
        match crate::Runtime::new().block_on(main) {
            Ok(output) => crate::platform::exit(output.exit_code()),
            Err(deadlock) => {
                crate::eprint!("{deadlock}");
                crate::platform::exit(crate::exit_status::DEADLOCK)
            }
        }
    }
}
