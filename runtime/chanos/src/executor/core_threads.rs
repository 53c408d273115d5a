//! Starting cores 1 to n - 1 of a runtime, each on a thread of its own
//! (hosted) or on a CPU of its own (the image), and how core 0 ends them
//! (see `cores` for the protocol).

use super::context::set_current;
use super::cores::{Cores, DEADLOCKED, MAIN_DONE, PANICKED, RUNNING};
use super::share::wait_answering_share_requests;
use super::{budget, BlockedTask, RunEnd, Shared};
use crate::platform;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use critical_section::Mutex;

/// The other cores of a runtime, running on their threads or CPUs, from
/// `block_on`.
pub(super) struct Started {
    cores: &'static Cores,
    threads: Vec<platform::CoreRun>,
}

/// Starts cores 1 to `n - 1` of a runtime whose core 0 is `main_core`.
pub(super) fn start(main_core: &'static Shared, n: usize, seed: u64) -> Started {
    let mut executors = alloc::vec![main_core];
    executors.extend((1..n).map(|i| spare_or_new(seed.wrapping_add(i as u64))));
    // Leaked, as executors are (wakers and channels may name them for as
    // long as they live): one small allocation per multi-core runtime.
    let cores: &'static Cores = Box::leak(Box::new(Cores {
        executors,
        stop: AtomicU8::new(RUNNING),
        idle: Mutex::new(Cell::new(0)),
        report: Mutex::new(RefCell::new(Vec::new())),
        reported: AtomicU32::new(0),
        panic: Mutex::new(RefCell::new(None)),
        finished: AtomicU32::new(0),
        next_spread: AtomicU32::new(0),
        spin_yields: super::cores::spin_yields(n, platform::cpus()),
    }));
    main_core.cores.set(Some(cores));
    let threads = (1..n)
        .map(|i| platform::start_core(i, Box::new(move || run_core(cores, i))))
        .collect();
    Started { cores, threads }
}

fn run_core(cores: &'static Cores, index: usize) {
    let shared = cores.executors[index];
    set_current(Some(shared));
    shared.core.set(index as u32);
    shared.cores.set(Some(cores));
    let ran = platform::catch_panic(|| shared.run(u32::MAX));
    budget::end_poll(); // a task may have panicked mid-poll
    match ran {
        Ok(RunEnd::Stopped) => cores.add_report(shared),
        Ok(RunEnd::MainDone | RunEnd::Deadlock(_)) => unreachable!("only core 0 runs main"),
        Err(payload) => {
            critical_section::with(|cs| {
                cores.panic.borrow_ref_mut(cs).get_or_insert(payload);
            });
            cores.end(PANICKED);
        }
    }
    shared.shut_down();
    set_current(None);
    keep_spare_core(shared);
    cores.finished.fetch_add(1, Ordering::AcqRel);
}

/// How a multi-core runtime ended, seen from core 0.
pub(super) enum Ended {
    /// `main` finished.
    Main,
    /// A task on another core panicked: resume its panic.
    Panic(Box<dyn core::any::Any + Send>),
    /// Every core was idle: the tasks of all of them.
    Deadlock(Vec<BlockedTask>),
}

impl Started {
    /// Ends the other cores after core 0's run loop ended with `end`, and
    /// waits for their threads.
    pub(super) fn finish(mut self, main_core: &'static Shared, end: &RunEnd) -> Ended {
        let cores = self.cores;
        if let RunEnd::MainDone = end {
            cores.end(MAIN_DONE);
        }
        if let RunEnd::Stopped = end {
            cores.add_report(main_core);
        }
        let threads = core::mem::take(&mut self.threads);
        // Their tasks' drops may ask to share channels made here.
        let others = threads.len() as u32;
        wait_answering_share_requests(|| cores.finished.load(Ordering::Acquire) == others);
        threads.into_iter().for_each(platform::CoreRun::join);
        main_core.cores.set(None);
        if let Some(payload) = critical_section::with(|cs| cores.panic.borrow_ref_mut(cs).take()) {
            return Ended::Panic(payload);
        }
        match cores.stop.load(Ordering::Acquire) {
            DEADLOCKED => {
                let mut tasks = critical_section::with(|cs| cores.report.take(cs));
                tasks.sort_by_key(|t| (t.core, t.id));
                Ended::Deadlock(tasks)
            }
            _ => Ended::Main,
        }
    }
}

impl Drop for Started {
    /// Core 0 unwinding (its task panicked): stop the others too.
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.cores.end(PANICKED);
            let others = self.threads.len() as u32;
            wait_answering_share_requests(|| self.cores.finished.load(Ordering::Acquire) == others);
        }
    }
}

// Executors of finished core threads, for the next multi-core runtime.
static SPARE_CORES: Mutex<RefCell<Vec<&'static Shared>>> = Mutex::new(RefCell::new(Vec::new()));

fn spare_or_new(seed: u64) -> &'static Shared {
    let spare = critical_section::with(|cs| SPARE_CORES.borrow_ref_mut(cs).pop());
    match spare {
        Some(shared) => {
            shared.reset(seed);
            shared
        }
        None => Shared::leak(seed),
    }
}

fn keep_spare_core(shared: &'static Shared) {
    critical_section::with(|cs| SPARE_CORES.borrow_ref_mut(cs).push(shared));
}
