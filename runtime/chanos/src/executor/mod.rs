//! The executor: one per core, polling green tasks (stackless futures).
//!
//! This file holds one executor's state (`Shared`). The rest, one concern
//! a file: `run` (the run loop), `table` (the task table: slots, tasks,
//! shutting down), `slot` (wakers), `injector` (wake-ups from other
//! cores), `cores` and `core_threads` (a runtime of several cores), `share`
//! (a channel's switch to shared), `api` (`Runtime`, `spawn`,
//! `yield_now`), `context` (which executor runs here), `budget` (the
//! cooperative budget), `wait_note` (what a task waits on, for the
//! reports), `services` (what the rest of the crate asks of the executor:
//! services, wake sources, timers, the PRNG), `task` (a task's allocation
//! and its `JoinHandle`), `task_pool`, `timers`, `counters` (what `stats`
//! reports) and `deadlock` (the report).

mod api;
mod budget;
mod context;
mod core_threads;
mod cores;
pub(crate) mod counters;
mod deadlock;
mod injector;
mod run;
mod services;
mod share;
mod slot;
mod table;
mod task;
mod task_pool;
mod timers;
mod wait_note;

pub use api::{spawn, spawn_named, yield_now, Runtime, YieldNow};
pub(crate) use budget::poll_budget;
pub use cores::{core, cores, spawn_on, spawn_on_named, spawn_spread, CoreJoinHandle};
pub(crate) use counters::count;
pub use deadlock::{BlockedTask, Deadlock};
#[cfg(not(target_os = "none"))]
pub(crate) use services::io;
pub(crate) use services::{
    add_timer, cancel_timer, random_below, refresh_timer, service, spawn_service, WakeSource,
};
pub(crate) use share::{ask_to_share, serve_share_requests, this_core, CoreRef};
pub(crate) use slot::wake_now_or_defer;
pub(crate) use task::{ChanOp, Labelled, WaitOn};
pub use task::{JoinHandle, TaskName};
pub(crate) use timers::{TimerAction, TimerKey, TimerTick};
pub(crate) use wait_note::{describe_running, set_wait, set_wait_chan};

use crate::platform::Parker;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use context::current;
use core::cell::{Cell, RefCell};
use slot::{Slot, CHUNK};
use task::ErasedTask;
use task_pool::TaskAlloc;

/// One executor's state. Leaked (see `slot`), so that wakers never dangle;
/// once its runtime has ended it is reset and kept for the thread's next
/// runtime (`spare`), so that making runtimes one after another (tests, a
/// fuzzer) does not leak one each time.
pub(crate) struct Shared {
    // Reached from any thread or interrupt:
    /// The injector: slots woken from other threads or interrupts (pushed
    /// by `Slot::wake_remote`), what is in flight, whether the executor
    /// parks (`injector.rs` has the protocol).
    injector: injector::Injector,
    parker: Parker,
    /// The key of the core run using this executor (0 between runs).
    key: core::sync::atomic::AtomicU32,
    /// Channels other cores asked this one to share (`share`).
    share_requests: critical_section::Mutex<RefCell<Vec<share::ShareRequest>>>,
    share_pending: core::sync::atomic::AtomicBool,
    /// The budget cell of the thread running this executor, during a core
    /// run (null otherwise); read and written in a critical section only.
    budget: core::sync::atomic::AtomicPtr<core::sync::atomic::AtomicU32>,
    /// Tasks that other cores spawned onto this one (`cores::spawn_on`).
    remote_spawns: critical_section::Mutex<RefCell<Vec<cores::RemoteSpawn>>>,
    /// Whether `remote_spawns` may hold some (so a drain skips the lock).
    spawns_pending: core::sync::atomic::AtomicBool,
    /// What `stats` reports (written on the executor's thread only).
    counters: counters::Counters,
    // Only on the executor's thread (see `is_current`):
    slots: RefCell<Vec<&'static [Slot; CHUNK]>>,
    free: RefCell<Vec<u32>>,
    tasks: RefCell<Vec<Option<Rc<dyn ErasedTask, TaskAlloc>>>>,
    queue: RefCell<VecDeque<&'static Slot>>,
    next: Cell<Option<&'static Slot>>,
    /// The slot and header of the running task, valid while it is polled.
    running: Cell<*const Slot>,
    running_header: Cell<*const task::Header>,
    /// Whether the running task noted what it waits on during this poll.
    wait_noted: Cell<bool>,
    timers: timers::Timers,
    rng: Cell<u64>,
    /// Outside wake sources (a NIC, sockets) that may wake a task
    /// although no timer is pending: while any is held, nothing runnable
    /// means "wait", not "deadlock".
    wake_sources: Cell<u32>,
    /// Runtime services started on demand (the network task's handle).
    services: RefCell<Vec<Rc<dyn core::any::Any>>>,
    /// This executor's core number, and its runtime's cores when it has
    /// more than one.
    core: Cell<u32>,
    cores: Cell<Option<&'static cores::Cores>>,
}

/// How a run of one core's loop ended.
enum RunEnd {
    /// The task in slot `main` finished.
    MainDone,
    /// Another core ended the runtime (main done, a panic, a deadlock).
    Stopped,
    /// Nothing can run again (one core).
    Deadlock(Deadlock),
}

// SAFETY: the fields not marked "any thread" are only touched by code that
// runs on the executor's thread, which every path from a waker checks first
// with `is_current`; the injector is atomics, remote spawns are behind a
// critical section, and the parker is thread-safe.
#[allow(unsafe_code)]
unsafe impl Sync for Shared {}
// SAFETY: as above; `Shared` is only ever used through `&'static Shared`.
#[allow(unsafe_code)]
unsafe impl Send for Shared {}

impl Shared {
    fn leak(seed: u64) -> &'static Shared {
        alloc::boxed::Box::leak(alloc::boxed::Box::new(Shared {
            injector: injector::Injector::new(),
            parker: Parker::new(),
            key: core::sync::atomic::AtomicU32::new(0),
            share_requests: critical_section::Mutex::new(RefCell::new(Vec::new())),
            share_pending: core::sync::atomic::AtomicBool::new(false),
            budget: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
            remote_spawns: critical_section::Mutex::new(RefCell::new(Vec::new())),
            spawns_pending: core::sync::atomic::AtomicBool::new(false),
            counters: counters::Counters::default(),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            tasks: RefCell::new(Vec::new()),
            queue: RefCell::new(VecDeque::new()),
            next: Cell::new(None),
            running: Cell::new(core::ptr::null()),
            running_header: Cell::new(core::ptr::null()),
            wait_noted: Cell::new(false),
            timers: timers::Timers::default(),
            rng: Cell::new(seed | 1),
            wake_sources: Cell::new(0),
            services: RefCell::new(Vec::new()),
            core: Cell::new(0),
            cores: Cell::new(None),
        }))
    }

    /// Whether the caller runs on this executor's thread, outside interrupts.
    fn is_current(&'static self) -> bool {
        current().is_some_and(|c| core::ptr::eq(c, self))
    }

    fn random(&self) -> u64 {
        // xorshift64*: small, fast and good enough to pick a select arm.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
