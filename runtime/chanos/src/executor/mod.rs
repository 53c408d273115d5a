//! The executor: one per core, polling green tasks (stackless futures).
//!
//! The run loop, in order: move wake-ups that came from other threads or
//! interrupts (the injector) to the run queue; poll runnable tasks, the one
//! woken last first (the LIFO `next` slot, so a receiver runs right after
//! its sender) but never more than [`LIFO_BUDGET`] times in a row; fire due
//! timers; and when nothing is runnable, park the core until the next timer
//! deadline or a wake-up. When nothing is runnable, no timer is pending and
//! `main` has not finished, no task can ever run again: that is a deadlock,
//! reported by name ([`Deadlock`]).
//!
//! This file holds one executor's state (`Shared`) and its run loop. The
//! rest, one concern a file: `api` (`Runtime`, `spawn`, `yield_now`),
//! `context` (which executor runs here), `budget` (the cooperative budget),
//! `wait_note` (what a task waits on, for the reports), `services` (what the
//! rest of the crate asks of the executor: services, wake sources, timers,
//! the PRNG), `task` (a task's allocation and its `JoinHandle`), `slot`
//! (wakers), `timers`, and `deadlock` (the report).

mod api;
mod budget;
mod context;
#[cfg(not(target_os = "none"))]
mod core_threads;
mod cores;
pub(crate) mod counters;
mod deadlock;
mod injector;
mod services;
mod share;
mod slot;
mod task;
mod task_pool;
mod timers;
mod wait_note;

pub use api::{spawn, spawn_named, yield_now, Runtime, YieldNow};
pub(crate) use budget::poll_budget;
pub use cores::{core, cores, spawn_on, spawn_on_named, spawn_spread, CoreJoinHandle};
pub(crate) use counters::count;
pub use deadlock::{BlockedTask, Deadlock};
pub(crate) use services::{
    add_timer, cancel_timer, random_below, refresh_timer, service, spawn_service, WakeSource,
};
pub(crate) use share::{ask_to_share, serve_share_requests, this_core, CoreRef};
pub(crate) use slot::wake_now_or_defer;
pub(crate) use task::{ChanOp, Labelled, WaitOn};
pub use task::{JoinHandle, TaskName};
pub(crate) use timers::{TimerAction, TimerKey, TimerTick};
pub(crate) use wait_note::{describe_running, set_wait, set_wait_chan};

use crate::platform::{self, Parker};
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use context::current;
use core::cell::{Cell, RefCell};
use core::task::Context;
use slot::{Slot, CHUNK};
use task::ErasedTask;
use task_pool::TaskAlloc;

/// How many times in a row the LIFO slot may jump the queue.
const LIFO_BUDGET: u32 = 16;
/// Timers and remote wake-ups are looked at after this many polls at the latest.
const POLLS_PER_TICK: u32 = 61;

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
    /// Outside wake sources (a NIC, a socket poller) that may wake a task
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

    fn slot(&self, index: u32) -> &'static Slot {
        let i = index as usize;
        &self.slots.borrow()[i / CHUNK][i % CHUNK]
    }

    /// Makes the task in `slot` runnable (executor thread only).
    #[inline(always)] // hot: once per wake-up
    fn schedule(&self, slot: &'static Slot) {
        if slot.queued.replace(true) {
            return;
        }
        if core::ptr::eq(self.running.get(), slot) {
            // A task that wakes itself (yield) goes to the back of the line.
            self.queue.borrow_mut().push_back(slot);
        } else if let Some(previous) = self.next.replace(Some(slot)) {
            self.queue.borrow_mut().push_back(previous);
        }
    }

    fn alloc_slot(&'static self) -> &'static Slot {
        if let Some(index) = self.free.borrow_mut().pop() {
            return self.slot(index);
        }
        let mut tasks = self.tasks.borrow_mut();
        let index = tasks.len();
        tasks.push(None);
        if index.is_multiple_of(CHUNK) {
            self.slots
                .borrow_mut()
                .push(Slot::leak_chunk(self, index as u32));
        }
        self.slot(index as u32)
    }

    fn insert_task(&'static self, slot: &'static Slot, task: Rc<dyn ErasedTask, TaskAlloc>) {
        slot.task.set(Some(core::ptr::NonNull::from(&*task)));
        self.tasks.borrow_mut()[slot.index as usize] = Some(task);
        self.counters.tasks_live.bump();
        self.schedule(slot);
    }

    fn drain_injector(&self) {
        use core::sync::atomic::Ordering;
        if self.share_pending.load(Ordering::Acquire) {
            self.serve_share_requests();
        }
        if self.injector.is_empty() {
            return; // nothing pushed: no atomic read-modify-write, no lock
        }
        let mut taken = 0;
        let mut next = self.injector.take_all();
        while next != injector::EMPTY {
            let slot = self.slot(next);
            next = injector::unlink(&slot.remote_queued, &slot.remote_next);
            self.schedule(slot);
            taken += 1;
        }
        // Most drains on the cross-core path take only wake-ups: skip the
        // lock unless a spawn was pushed.
        if self.spawns_pending.swap(false, Ordering::Acquire) {
            let spawns = critical_section::with(|cs| {
                core::mem::take(&mut *self.remote_spawns.borrow_ref_mut(cs))
            });
            taken += spawns.len();
            for spawn in spawns {
                spawn();
            }
        }
        if taken > 0 {
            // Only now: until they are on the run queue, they are in flight.
            self.injector.taken(taken as u32);
        }
    }

    fn injector_is_empty(&self) -> bool {
        self.injector.is_empty()
    }

    /// Parks until `unpark` or the deadline, unless a wake-up, spawn or
    /// share request is already in (`injector.rs` says why none is missed).
    fn park(&self, deadline: Option<u64>) {
        let share_pending = || {
            self.share_pending
                .load(core::sync::atomic::Ordering::Acquire)
        };
        self.injector
            .park_unless_news(share_pending, || self.parker.park(deadline));
    }

    /// Whether another core has ended the runtime (multi-core only).
    fn stopping(&self) -> bool {
        self.cores.get().is_some_and(cores::Cores::stopping)
    }

    fn pop_runnable(&self, lifo_streak: &mut u32) -> Option<&'static Slot> {
        if *lifo_streak < LIFO_BUDGET {
            if let Some(slot) = self.next.take() {
                *lifo_streak += 1;
                return Some(slot);
            }
        }
        *lifo_streak = 0;
        let popped = self.queue.borrow_mut().pop_front();
        popped.or_else(|| self.next.take())
    }

    /// Polls the task in `slot` once; true when it has finished.
    #[inline]
    #[allow(unsafe_code)] // reads the slot's task pointer
    fn poll_task(&'static self, slot: &'static Slot) -> bool {
        slot.queued.set(false);
        let Some(task) = slot.task.get() else {
            return false; // a late wake-up for a task that has ended
        };
        // SAFETY: the slot's task is the one the task table owns, which
        // keeps it until it finishes (noticed below, after the poll) or the
        // runtime shuts down (which clears every slot's task first).
        let (header, task) = unsafe { (task::header_of(task), task.as_ref()) };
        self.running.set(slot);
        self.running_header.set(header);
        self.wait_noted.set(false);
        budget::start_poll();
        // A slot's waker has nothing to drop: skip the call that would.
        let waker = core::mem::ManuallyDrop::new(slot.waker());
        let finished = task.poll(&mut Context::from_waker(&waker)).is_ready();
        budget::end_poll();
        self.running.set(core::ptr::null());
        self.running_header.set(core::ptr::null());
        if !finished && !self.wait_noted.get() {
            // Pending on something chanos cannot see: forget the old note.
            header.set_wait(WaitOn::Nothing);
        }
        if finished {
            self.end_task(slot);
        }
        finished
    }

    /// Frees the slot of a task that has finished.
    fn end_task(&self, slot: &'static Slot) {
        slot.task.set(None);
        let ended = self.tasks.borrow_mut()[slot.index as usize].take();
        self.free.borrow_mut().push(slot.index);
        self.counters.tasks_live.drop_one();
        drop(ended);
    }

    /// Runs until the task in slot `main` finishes, or nothing can run
    /// again, or (with several cores) another core ends the runtime.
    fn run(&'static self, main: u32) -> RunEnd {
        let mut polls_since_tick = 0u32;
        let mut lifo_streak = 0u32;
        loop {
            while let Some(slot) = self.pop_runnable(&mut lifo_streak) {
                if self.poll_task(slot) && slot.index == main {
                    return RunEnd::MainDone;
                }
                polls_since_tick += 1;
                if polls_since_tick >= POLLS_PER_TICK {
                    polls_since_tick = 0;
                    self.timers.fire_due(platform::now_ns());
                    self.drain_injector();
                    if self.stopping() {
                        return RunEnd::Stopped;
                    }
                }
            }
            self.drain_injector();
            if self.next.get().is_some() || !self.queue.borrow().is_empty() {
                continue;
            }
            if self.timers.fire_due(platform::now_ns()) > 0 {
                continue;
            }
            if self.stopping() {
                return RunEnd::Stopped;
            }
            match self.timers.next_live_deadline() {
                Some(deadline) => self.park(Some(deadline)),
                None if self.wake_sources.get() > 0 => self.park(None),
                None if !self.injector_is_empty() => {}
                None => match self.cores.get() {
                    None => return RunEnd::Deadlock(self.deadlock_report()),
                    // Idle: parked until woken, unless every core is.
                    Some(cores) => cores.idle(self),
                },
            }
            self.drain_injector();
        }
    }

    fn deadlock_report(&self) -> Deadlock {
        Deadlock {
            tasks: self.blocked_tasks(),
        }
    }

    fn blocked_tasks(&self) -> Vec<BlockedTask> {
        let tasks = self.tasks.borrow();
        let name_of = |index: u32| {
            tasks
                .get(index as usize)
                .and_then(Option::as_ref)
                .map(|t| t.header().name.clone())
        };
        let core = self.core.get();
        tasks
            .iter()
            .flatten()
            .map(|t| BlockedTask::new(t.header(), core, &name_of))
            .collect()
    }

    /// Drops every task that is left, then forgets the executor's state.
    /// The task table keeps its length: every slot stays numbered, and
    /// `reset` frees them all.
    fn shut_down(&'static self) {
        self.for_each_slot(|slot| slot.task.set(None));
        loop {
            // Dropping a future may wake others, spawn, or drop tasks' last
            // handles: never hold a borrow while it runs.
            let tasks: Vec<_> = self
                .tasks
                .borrow_mut()
                .iter_mut()
                .map(Option::take)
                .collect();
            if tasks.iter().all(Option::is_none) {
                break;
            }
            drop(tasks);
        }
        drop(core::mem::take(&mut *self.services.borrow_mut()));
        self.counters.tasks_live.set(0);
        self.timers.clear();
        self.queue.borrow_mut().clear();
        self.next.set(None);
    }

    /// Makes a shut-down executor as good as new for another runtime (the
    /// image runs one runtime, so only hosted code reuses executors). Its
    /// slots are all free again; a waker kept from the old runtime can at
    /// most wake a new task spuriously, which tasks tolerate (see `slot`).
    #[cfg(not(target_os = "none"))]
    fn reset(&'static self, seed: u64) {
        let slots = self.tasks.borrow().len() as u32;
        *self.free.borrow_mut() = (0..slots).rev().collect();
        self.for_each_slot(|slot| {
            slot.queued.set(false);
            slot.remote_queued
                .store(false, core::sync::atomic::Ordering::Relaxed);
        });
        critical_section::with(|cs| {
            self.injector.reset();
            self.share_requests.borrow_ref_mut(cs).clear();
        });
        self.running.set(core::ptr::null());
        self.running_header.set(core::ptr::null());
        self.wait_noted.set(false);
        self.rng.set(seed | 1);
        self.wake_sources.set(0);
        self.counters.reset();
        critical_section::with(|cs| self.remote_spawns.borrow_ref_mut(cs).clear());
        self.spawns_pending
            .store(false, core::sync::atomic::Ordering::Relaxed);
        self.core.set(0);
        self.cores.set(None);
    }

    fn for_each_slot(&self, mut f: impl FnMut(&'static Slot)) {
        for chunk in self.slots.borrow().iter() {
            chunk.iter().for_each(&mut f);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chan;
    use alloc::vec;

    #[test]
    fn a_woken_receiver_runs_next_and_a_yielding_task_goes_last() {
        let trace = Runtime::with_seed(1)
            .block_on(async {
                let (trace_tx, trace_rx) = chan::bounded::<&'static str>(16);
                let (tx, rx) = chan::bounded::<()>(0);
                let t = trace_tx.clone();
                spawn_named("receiver", async move {
                    rx.recv().await;
                    t.send("receiver woke").await.unwrap();
                });
                let t = trace_tx.clone();
                spawn_named("bystander", async move {
                    t.send("bystander ran").await.unwrap();
                });
                yield_now().await; // both spawned tasks run; the receiver waits
                tx.send(()).await.unwrap();
                trace_tx.send("sender goes on").await.unwrap();
                yield_now().await;
                drop(trace_tx);
                let mut trace = vec![];
                while let Some(event) = trace_rx.recv().await {
                    trace.push(event);
                }
                trace
            })
            .unwrap();
        assert_eq!(trace, ["bystander ran", "sender goes on", "receiver woke"]);
    }

    #[test]
    fn select_inside_the_crate_uses_the_same_macro() {
        let got = Runtime::new()
            .block_on(async {
                let (tx, rx) = chan::bounded::<u8>(1);
                tx.try_send(1).unwrap();
                crate::select! { v = rx.recv() => v, default => None }
            })
            .unwrap();
        assert_eq!(got, Some(1));
    }

    #[test]
    fn slots_are_reused_after_tasks_end() {
        Runtime::new()
            .block_on(async {
                for _ in 0..3 * CHUNK {
                    spawn(async {}).await;
                }
                let shared = current().unwrap();
                assert!(
                    shared.tasks.borrow().len() <= 2,
                    "{}",
                    shared.tasks.borrow().len()
                );
            })
            .unwrap();
    }
}
