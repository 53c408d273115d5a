//! Every core: a runtime of several executors, one per core, each on its
//! own thread (hosted) or CPU (the image). They share nothing
//! but channels: a task stays on the core it was spawned on, `spawn_on`
//! starts one on another core, and a wake-up from another core goes through
//! that core's injector and parker.
//!
//! # Ending
//! A runtime ends when `main` (on core 0) returns, when a task panics on
//! any core, or when every core is idle with nothing in flight between
//! them (a deadlock): the core that sees it sets `stop` and wakes the
//! others, each of which leaves its run loop, adds its part of a deadlock
//! report, drops its tasks and ends its thread. Core 0 waits for them,
//! answering their requests to share its channels meanwhile.
//!
//! # Idle, and deadlock
//! A core with nothing runnable, no timer and no wake source counts itself
//! idle and parks. Every wake-up or spawn sent to a core is counted in that
//! core's `in_flight` (`injector.rs`) before it is visible and uncounted
//! only once the core has queued it, after leaving the idle count. So
//! "every core idle and nothing in flight", checked under one lock, means
//! nothing can ever run.

use super::context::{current, expect_current};
use super::share::wait_answering_share_requests;
use super::task::{self, JoinHandle, TaskName};
use super::{BlockedTask, Shared};
use crate::chan::{self, Receiver};
use crate::Isolated;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use core::task::{Context, Poll};
use critical_section::Mutex;

/// A task spawned onto another core, run there to spawn it locally.
pub(super) type RemoteSpawn = Box<dyn FnOnce() + Send>;

pub(super) const RUNNING: u8 = 0;
pub(super) const MAIN_DONE: u8 = 1;
pub(super) const PANICKED: u8 = 2;
pub(super) const DEADLOCKED: u8 = 3;

/// The cores of one runtime.
pub(super) struct Cores {
    pub(super) executors: Vec<&'static Shared>,
    pub(super) stop: AtomicU8,
    /// How many cores are idle with nothing that could wake them.
    pub(super) idle: Mutex<Cell<u32>>,
    /// The blocked tasks of every core, once `stop` is `DEADLOCKED`.
    pub(super) report: Mutex<RefCell<Vec<BlockedTask>>>,
    /// How many cores have added their part to `report`.
    pub(super) reported: AtomicU32,
    /// The first panic of a task on a core other than 0, for core 0 to
    /// resume (`block_on` then panics as with one core).
    pub(super) panic: Mutex<RefCell<Option<Box<dyn core::any::Any + Send>>>>,
    /// How many core threads have finished.
    pub(super) finished: AtomicU32,
    /// Where `spawn_spread` puts its next task.
    pub(super) next_spread: AtomicU32,
    /// Whether a core that ran out of work gives its CPU away while it
    /// waits before parking ([`spin_yields`]).
    pub(super) spin_yields: bool,
}

impl Cores {
    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) != RUNNING
    }

    pub(super) fn end(&self, why: u8) {
        if self
            .stop
            .compare_exchange(RUNNING, why, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.executors.iter().for_each(|e| e.parker.unpark());
        }
    }

    /// Parks the idle core `shared` until woken; ends the runtime instead
    /// when every core is idle and nothing is in flight.
    pub(super) fn idle(&self, shared: &Shared) {
        if spin_for_work(shared, self.spin_yields) {
            return;
        }
        let everyone_asleep = critical_section::with(|cs| {
            let idle = self.idle.borrow(cs);
            idle.set(idle.get() + 1);
            idle.get() == self.executors.len() as u32
                && self.executors.iter().all(|e| e.injector.is_empty())
        });
        if everyone_asleep {
            self.end(DEADLOCKED);
        } else if !self.stopping() {
            shared.park(None);
        }
        critical_section::with(|cs| {
            let idle = self.idle.borrow(cs);
            idle.set(idle.get() - 1);
        });
    }

    /// After a core's run loop: its part of a deadlock report. Then it
    /// waits for every core's part before it drops its tasks: their drops
    /// close channels, which would let tasks on cores that have not
    /// reported yet run on, and leave the report.
    pub(super) fn add_report(&self, shared: &Shared) {
        if self.stop.load(Ordering::Acquire) != DEADLOCKED {
            return;
        }
        let mut blocked = shared.blocked_tasks();
        critical_section::with(|cs| self.report.borrow_ref_mut(cs).append(&mut blocked));
        self.reported.fetch_add(1, Ordering::AcqRel);
        let all = self.executors.len() as u32;
        wait_answering_share_requests(|| self.reported.load(Ordering::Acquire) == all);
    }
}

/// How long a core that ran out of work waits for a wake-up from another
/// core before it parks: waking a parked thread costs a system call on
/// each side (tens of microseconds here), a waiting core sees the wake-up
/// within a cache-line transfer.
const SPIN_BEFORE_PARK_NS: u64 = 50_000;

/// Whether a core waiting for work should give its CPU away between looks:
/// with more cores than CPUs, a core that only spins takes the CPU from the
/// core it waits for. Measured on 2 CPUs (`microbench table-owner`): a
/// request to the owning core took 33-73 us with 3 and 4 cores spinning,
/// 10-380 us parking at once, 2.5-3.6 us yielding (2 cores, spinning:
/// 1.4-2.9 us).
pub(super) fn spin_yields(cores: usize, cpus: usize) -> bool {
    cores > cpus
}

/// Waits until a wake-up or spawn comes in (true) or the spin time is up.
/// Share requests and the clock are looked at every 64 spins, or after
/// every yield (a yield takes about a microsecond).
fn spin_for_work(shared: &Shared, yields: bool) -> bool {
    let start = crate::platform::now_ns();
    let looks = if yields { 1 } else { 64 };
    loop {
        for _ in 0..looks {
            if !shared.injector.is_empty() {
                return true;
            }
            if yields {
                crate::platform::yield_now();
            } else {
                crate::platform::spin_hint();
            }
        }
        super::serve_share_requests();
        if crate::platform::now_ns() - start > SPIN_BEFORE_PARK_NS {
            return false;
        }
    }
}

/// The number of cores of the running runtime (1 outside one).
pub fn cores() -> usize {
    current().map_or(1, |shared| {
        shared.cores.get().map_or(1, |cores| cores.executors.len())
    })
}

/// The number of the core this code runs on (0 outside a runtime).
pub fn core() -> usize {
    current().map_or(0, |shared| shared.core.get() as usize)
}

/// The result of a task spawned with [`spawn_on`] or [`spawn_spread`]:
/// await it for the task's output, or drop it to let the task run on, detached.
pub struct CoreJoinHandle<T> {
    inner: Join<T>,
}

impl<T> core::fmt::Debug for CoreJoinHandle<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.inner {
            Join::Here(_) => f.write_str("CoreJoinHandle(this core)"),
            Join::There { core, .. } => write!(f, "CoreJoinHandle(core {core})"),
        }
    }
}

enum Join<T> {
    Here(JoinHandle<T>),
    /// The output comes back over a channel from the other core.
    There {
        output: Receiver<T>,
        core: usize,
    },
}

impl<T: 'static> Future for CoreJoinHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.inner {
            Join::Here(handle) => Pin::new(handle).poll(cx),
            Join::There { output, .. } => {
                match futures_core::Stream::poll_next(Pin::new(output), cx) {
                    Poll::Ready(Some(value)) => Poll::Ready(value),
                    // The task ended without an output: it panicked, or its
                    // core stopped. Either way the runtime is ending, and
                    // its end (that panic) is for this core to report.
                    Poll::Ready(None) => Poll::Pending,
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// Spawns a task on core `core` (0 to [`cores()`] - 1), where it stays.
///
/// The future goes to another core, so it must be `Send` as well as
/// [`Isolated`]; so must its output, which comes back to the awaiting task.
///
/// # Panics
/// Outside a running chanos runtime, or when there is no core `core`.
#[track_caller]
pub fn spawn_on<F>(core: usize, future: F) -> CoreJoinHandle<F::Output>
where
    F: Future + Isolated + Send + 'static,
    F::Output: Isolated + Send + 'static,
{
    spawn_on_named(core, "task", future)
}

/// [`spawn_on`], with a name for the task, which every report shows.
#[track_caller]
pub fn spawn_on_named<F>(
    core: usize,
    name: impl Into<TaskName>,
    future: F,
) -> CoreJoinHandle<F::Output>
where
    F: Future + Isolated + Send + 'static,
    F::Output: Isolated + Send + 'static,
{
    let here = expect_current();
    let count = cores();
    assert!(
        core < count,
        "chanos: spawn_on({core}): this runtime has {count} core(s), numbered from 0"
    );
    let name = name.into();
    if core == here.core.get() as usize {
        return CoreJoinHandle {
            inner: Join::Here(task::spawn_on(here, name, future)),
        };
    }
    let cores = here.cores.get().expect("more than one core");
    let target = cores.executors[core];
    let (tx, rx) = chan::make(
        1,
        Some("output of a task on another core"),
        core::panic::Location::caller(),
    );
    let spawn: RemoteSpawn = Box::new(move || {
        let task = async move {
            let output = future.await;
            let _ = tx.try_send(output); // room for one; none if nobody waits
        };
        drop(task::spawn_on(expect_current(), name, task));
    });
    // Counted before it is visible (see the module documentation).
    target.injector.count_in();
    critical_section::with(|cs| target.remote_spawns.borrow_ref_mut(cs).push(spawn));
    target.spawns_pending.store(true, Ordering::Release);
    target.parker.unpark();
    CoreJoinHandle {
        inner: Join::There { output: rx, core },
    }
}

/// Spawns a task on the next core in turn, spreading work over every core
/// without naming one (round robin). See [`spawn_on`] for the bounds.
#[track_caller]
pub fn spawn_spread<F>(future: F) -> CoreJoinHandle<F::Output>
where
    F: Future + Isolated + Send + 'static,
    F::Output: Isolated + Send + 'static,
{
    let core = match expect_current().cores.get() {
        Some(cores) => {
            cores.next_spread.fetch_add(1, Ordering::Relaxed) as usize % cores.executors.len()
        }
        None => 0,
    };
    spawn_on(core, future)
}
