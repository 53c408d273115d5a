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

mod deadlock;
mod slot;
mod task;
mod timers;

pub use deadlock::{BlockedTask, Deadlock};
pub(crate) use slot::wake_now_or_defer;
pub(crate) use task::{ChanOp, Labelled, WaitOn};
pub use task::{JoinHandle, TaskName};
pub(crate) use timers::{TimerAction, TimerKey, TimerTick};

use crate::platform::{self, Parker};
use crate::Isolated;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use slot::{Slot, CHUNK};
use task::ErasedTask;

/// How many times in a row the LIFO slot may jump the queue.
const LIFO_BUDGET: u32 = 16;
/// How many channel operations a task may complete in one poll before it
/// is made to yield (Tokio calls this a cooperative budget).
const OPS_PER_POLL: u32 = 128;
/// Timers and remote wake-ups are looked at after this many polls at the latest.
const POLLS_PER_TICK: u32 = 61;

/// One executor's state. Leaked (see `slot`), so that wakers never dangle;
/// once its runtime has ended it is reset and kept for the thread's next
/// runtime (`spare`), so that making runtimes one after another (tests, a
/// fuzzer) does not leak one each time.
pub(crate) struct Shared {
    // Reached from any thread or interrupt:
    injector: critical_section::Mutex<RefCell<Vec<u32>>>,
    parker: Parker,
    // Only on the executor's thread (see `is_current`):
    slots: RefCell<Vec<&'static [Slot; CHUNK]>>,
    free: RefCell<Vec<u32>>,
    tasks: RefCell<Vec<Option<Rc<dyn ErasedTask>>>>,
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
}

// SAFETY: the fields not marked "any thread" are only touched by code that
// runs on the executor's thread, which every path from a waker checks first
// with `is_current`; the injector is behind a critical section and the parker
// is thread-safe.
unsafe impl Sync for Shared {}
// SAFETY: as above; `Shared` is only ever used through `&'static Shared`.
unsafe impl Send for Shared {}

// The executor running on this thread (hosted) or this core (metal).
#[cfg(not(target_os = "none"))]
std::thread_local! {
    static CURRENT: Cell<Option<&'static Shared>> = const { Cell::new(None) };
}

#[cfg(not(target_os = "none"))]
fn current_raw() -> Option<&'static Shared> {
    CURRENT.with(Cell::get)
}

#[cfg(not(target_os = "none"))]
fn set_current(shared: Option<&'static Shared>) {
    CURRENT.with(|c| c.set(shared));
}

#[cfg(target_os = "none")]
static CURRENT: core::sync::atomic::AtomicPtr<Shared> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

#[cfg(target_os = "none")]
fn current_raw() -> Option<&'static Shared> {
    let shared = CURRENT.load(core::sync::atomic::Ordering::Relaxed);
    // SAFETY: only ever set from a `&'static Shared` (or null).
    unsafe { shared.as_ref() }
}

#[cfg(target_os = "none")]
fn set_current(shared: Option<&'static Shared>) {
    let ptr = shared.map_or(core::ptr::null_mut(), |s| s as *const Shared as *mut Shared);
    CURRENT.store(ptr, core::sync::atomic::Ordering::Relaxed);
}

// An executor whose runtime has ended on this thread, for the next one.
#[cfg(not(target_os = "none"))]
std::thread_local! {
    static SPARE: Cell<Option<&'static Shared>> = const { Cell::new(None) };
}

/// An executor for a new runtime: the thread's spare, reset, or a new one.
fn fresh_executor(seed: u64) -> &'static Shared {
    #[cfg(not(target_os = "none"))]
    if let Some(shared) = SPARE.with(Cell::take) {
        shared.reset(seed);
        return shared;
    }
    Shared::leak(seed)
}

/// Keeps an executor whose runtime has ended (and shut it down) for the
/// next runtime on this thread. The image runs one runtime: nothing to keep.
fn keep_spare(shared: &'static Shared) {
    #[cfg(not(target_os = "none"))]
    SPARE.with(|spare| spare.set(Some(shared)));
    #[cfg(target_os = "none")]
    let _ = shared;
}

/// The executor of the calling code, unless it runs in interrupt context.
fn current() -> Option<&'static Shared> {
    if platform::in_interrupt() {
        return None;
    }
    current_raw()
}

#[track_caller]
fn expect_current() -> &'static Shared {
    current().expect(
        "chanos: this needs a running chanos runtime (inside #[chanos::main] or Runtime::block_on)",
    )
}

impl Shared {
    fn leak(seed: u64) -> &'static Shared {
        alloc::boxed::Box::leak(alloc::boxed::Box::new(Shared {
            injector: critical_section::Mutex::new(RefCell::new(Vec::new())),
            parker: Parker::new(),
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

    fn insert_task(&'static self, slot: &'static Slot, task: Rc<dyn ErasedTask>) {
        slot.task.set(Some(core::ptr::NonNull::from(&*task)));
        self.tasks.borrow_mut()[slot.index as usize] = Some(task);
        self.schedule(slot);
    }

    fn drain_injector(&self) {
        let woken =
            critical_section::with(|cs| core::mem::take(&mut *self.injector.borrow_ref_mut(cs)));
        for index in woken {
            let slot = self.slot(index);
            slot.remote_queued
                .store(false, core::sync::atomic::Ordering::Release);
            self.schedule(slot);
        }
    }

    fn injector_is_empty(&self) -> bool {
        critical_section::with(|cs| self.injector.borrow_ref(cs).is_empty())
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
        drop(ended);
    }

    /// Runs until the task in slot `main` finishes, or nothing can run again.
    fn run(&'static self, main: u32) -> Result<(), Deadlock> {
        let mut polls_since_tick = 0u32;
        let mut lifo_streak = 0u32;
        loop {
            while let Some(slot) = self.pop_runnable(&mut lifo_streak) {
                if self.poll_task(slot) && slot.index == main {
                    return Ok(());
                }
                polls_since_tick += 1;
                if polls_since_tick >= POLLS_PER_TICK {
                    polls_since_tick = 0;
                    self.timers.fire_due(platform::now_ns());
                    self.drain_injector();
                }
            }
            self.drain_injector();
            if self.next.get().is_some() || !self.queue.borrow().is_empty() {
                continue;
            }
            if self.timers.fire_due(platform::now_ns()) > 0 {
                continue;
            }
            match self.timers.next_live_deadline() {
                Some(deadline) => self.parker.park(Some(deadline)),
                None if self.wake_sources.get() > 0 => self.parker.park(None),
                None if self.injector_is_empty() => return Err(self.deadlock_report()),
                None => {}
            }
            self.drain_injector();
        }
    }

    fn deadlock_report(&self) -> Deadlock {
        let tasks = self.tasks.borrow();
        let name_of = |index: u32| {
            tasks
                .get(index as usize)
                .and_then(Option::as_ref)
                .map(|t| t.header().name.clone())
        };
        let blocked = tasks
            .iter()
            .flatten()
            .map(|t| BlockedTask::new(t.header(), &name_of))
            .collect();
        Deadlock { tasks: blocked }
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
        critical_section::with(|cs| self.injector.borrow_ref_mut(cs).clear());
        self.running.set(core::ptr::null());
        self.running_header.set(core::ptr::null());
        self.wait_noted.set(false);
        self.rng.set(seed | 1);
        self.wake_sources.set(0);
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

/// A chanos executor for the current thread.
///
/// Apps do not make one: `#[chanos::main]` does. Tests use
/// [`Runtime::block_on`] to run a future and learn whether it deadlocked.
#[derive(Debug)]
pub struct Runtime {
    seed: u64,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// A runtime whose `select!` choices are seeded from the platform.
    pub fn new() -> Self {
        Runtime {
            seed: platform::seed(),
        }
    }

    /// A runtime whose `select!` choices follow `seed`: the same program
    /// makes the same choices.
    pub fn with_seed(seed: u64) -> Self {
        Runtime { seed }
    }

    /// Runs `main` as the task named "main", with every task it spawns,
    /// until `main` finishes; tasks still alive then are dropped. Returns
    /// the deadlock report when nothing can run and `main` has not finished.
    ///
    /// # Panics
    /// When called inside another chanos runtime on the same thread.
    pub fn block_on<F: Future + 'static>(self, main: F) -> Result<F::Output, Deadlock> {
        assert!(
            current().is_none(),
            "chanos: a runtime is already running on this thread"
        );
        let shared = fresh_executor(self.seed);
        set_current(Some(shared));
        // Unset the current runtime even if a task panics through us.
        struct Reset(&'static Shared);
        impl Drop for Reset {
            fn drop(&mut self) {
                budget::end_poll(); // a task may have panicked mid-poll
                self.0.shut_down();
                set_current(None);
                keep_spare(self.0);
            }
        }
        let _reset = Reset(shared);
        let mut handle = task::spawn_on(shared, TaskName::Borrowed("main"), main);
        shared.run(handle.index())?;
        let waker = core::task::Waker::noop();
        match Pin::new(&mut handle).poll(&mut Context::from_waker(waker)) {
            Poll::Ready(output) => Ok(output),
            Poll::Pending => unreachable!("main finished but has no output"),
        }
    }
}

/// Spawns a task; it starts running at the next chance the executor gets.
///
/// The future and its output must be [`Isolated`]: tasks share nothing
/// mutable, they talk over channels.
///
/// # Panics
/// Outside a running chanos runtime.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Isolated + 'static,
    F::Output: Isolated + 'static,
{
    task::spawn_on(expect_current(), TaskName::Borrowed("task"), future)
}

/// Spawns a task with a name, which every report about it shows.
///
/// # Panics
/// Outside a running chanos runtime.
#[track_caller]
pub fn spawn_named<F>(name: impl Into<TaskName>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Isolated + 'static,
    F::Output: Isolated + 'static,
{
    task::spawn_on(expect_current(), name.into(), future)
}

/// Spawns a runtime-internal task (the network task), which may hold
/// what apps may not: device handles, a socket poller.
#[track_caller]
pub(crate) fn spawn_service<F>(name: &'static str, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    task::spawn_on(expect_current(), TaskName::Borrowed(name), future)
}

/// The current executor's service of type `T`, made by `start` on first use.
/// Services are dropped when the runtime shuts down.
#[track_caller]
pub(crate) fn service<T: 'static>(start: impl FnOnce() -> Rc<T>) -> Rc<T> {
    let shared = expect_current();
    let found = shared
        .services
        .borrow()
        .iter()
        .find_map(|s| s.clone().downcast::<T>().ok());
    found.unwrap_or_else(|| {
        let made = start();
        shared.services.borrow_mut().push(made.clone());
        made
    })
}

/// Held while an outside source (a device interrupt, a socket poller) may
/// wake a task: the executor then waits for it instead of reporting a
/// deadlock when nothing else can run.
pub(crate) struct WakeSource {
    shared: &'static Shared,
}

impl WakeSource {
    #[track_caller]
    pub(crate) fn hold() -> WakeSource {
        let shared = expect_current();
        shared.wake_sources.set(shared.wake_sources.get() + 1);
        WakeSource { shared }
    }
}

impl Drop for WakeSource {
    fn drop(&mut self) {
        // Saturating: a wake source kept past its runtime's end must not
        // unbalance the next runtime's count (`reset` zeroes it).
        let held = &self.shared.wake_sources;
        held.set(held.get().saturating_sub(1));
    }
}

/// How many tasks the current executor has (0 outside a runtime): every
/// table entry that is not free holds one.
pub(crate) fn live_tasks() -> u64 {
    current().map_or(0, |shared| {
        (shared.tasks.borrow().len() - shared.free.borrow().len()) as u64
    })
}

/// How many timers the current executor has pending (0 outside a runtime).
pub(crate) fn pending_timers() -> u64 {
    current().map_or(0, |shared| shared.timers.len() as u64)
}

/// Lets every other runnable task run once before this one goes on.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// This thread's executor, while it polls a task.
fn polling() -> Option<&'static Shared> {
    current().filter(|shared| !shared.running_header.get().is_null())
}

impl Shared {
    /// The header of the task being polled, if any.
    fn running_header(&self) -> Option<&task::Header> {
        // SAFETY: `running_header` is non-null only while `poll_task` polls
        // that task, whose `Rc` the task table holds, so the header is alive.
        unsafe { self.running_header.get().as_ref() }
    }

    /// Notes what the running task waits on; `same` says whether the note
    /// already there says it, so that the common case touches no `Rc`.
    fn note_wait(&self, same: impl FnOnce(&WaitOn) -> bool, wait: impl FnOnce() -> WaitOn) {
        self.wait_noted.set(true);
        let Some(header) = self.running_header() else {
            return;
        };
        // SAFETY: a shared look at the note, which nothing else touches
        // meanwhile: `same` only compares, and the executor is single-threaded.
        if same(unsafe { &*header.wait.as_ptr() }) {
            return;
        }
        header.set_wait(wait());
    }
}

/// Takes one unit of the running task's budget. When it is spent, the task
/// is woken (to the back of the run queue) and must return `Pending`: a
/// loop of channel operations that never have to wait (a `select!` over a
/// closed channel, a producer with room to spare) cannot starve the others.
#[inline(always)] // hot: once per channel operation
pub(crate) fn poll_budget(cx: &Context<'_>) -> Poll<()> {
    if budget::take_one() {
        Poll::Ready(())
    } else {
        budget_spent(cx)
    }
}

#[cold]
#[inline(never)]
fn budget_spent(cx: &Context<'_>) -> Poll<()> {
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// The running task's budget, in a per-thread (per-core) cell of its own:
/// taking from it is one load and one store, with no look-up of the executor.
mod budget {
    use super::OPS_PER_POLL;
    use core::cell::Cell;

    /// Outside a task's poll operations are not counted.
    const UNLIMITED: u32 = u32::MAX;

    #[cfg(not(target_os = "none"))]
    std::thread_local! {
        static LEFT: Cell<u32> = const { Cell::new(UNLIMITED) };
    }

    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn left<R>(f: impl FnOnce(&Cell<u32>) -> R) -> R {
        LEFT.with(f)
    }

    #[cfg(target_os = "none")]
    struct SingleCore(Cell<u32>);

    // SAFETY: the image runs tasks on one core, and interrupt handlers never
    // run channel operations (they only wake tasks).
    #[cfg(target_os = "none")]
    unsafe impl Sync for SingleCore {}

    #[cfg(target_os = "none")]
    static LEFT: SingleCore = SingleCore(Cell::new(UNLIMITED));

    #[cfg(target_os = "none")]
    #[inline(always)]
    fn left<R>(f: impl FnOnce(&Cell<u32>) -> R) -> R {
        f(&LEFT.0)
    }

    #[inline(always)]
    pub(super) fn start_poll() {
        left(|c| c.set(OPS_PER_POLL));
    }

    #[inline(always)]
    pub(super) fn end_poll() {
        left(|c| c.set(UNLIMITED));
    }

    /// False when the running task has spent its budget.
    #[inline(always)]
    pub(super) fn take_one() -> bool {
        left(|c| match c.get() {
            0 => false,
            UNLIMITED => true,
            n => {
                c.set(n - 1);
                true
            }
        })
    }
}

/// Records what the running task waits on, for a deadlock report.
pub(crate) fn set_wait(wait: WaitOn) {
    if let Some(shared) = polling() {
        shared.note_wait(|_| false, || wait);
    }
}

/// Records that the running task waits to `op` on `chan`. Waiting on the
/// same channel again (the usual case) costs no reference count.
#[inline(always)] // hot: once per wait; the common case is two compares
pub(crate) fn set_wait_chan<L: Labelled + 'static>(op: ChanOp, chan: &Rc<L>) {
    let Some(shared) = polling() else {
        return;
    };
    shared.wait_noted.set(true);
    let key = task::chan_wait_key(op, Rc::as_ptr(chan).cast());
    if let Some(header) = shared.running_header() {
        if header.wait_key.get() != key {
            note_chan_wait(header, op, chan.clone());
        }
    }
}

#[cold]
#[inline(never)]
fn note_chan_wait(header: &task::Header, op: ChanOp, chan: Rc<dyn Labelled>) {
    header.set_wait(WaitOn::Chan(op, chan));
}

/// A uniformly distributed number below `n` (n > 0), from the executor's PRNG.
pub(crate) fn random_below(n: u64) -> u64 {
    let x = current().map_or(0, Shared::random);
    ((x as u128 * n as u128) >> 64) as u64
}

/// Registers a timer on the current executor.
#[track_caller]
pub(crate) fn add_timer(deadline_ns: u64, action: TimerAction) -> TimerKey {
    expect_current().timers.add(deadline_ns, action)
}

/// Cancels a timer, if the current executor still has it.
pub(crate) fn cancel_timer(key: TimerKey) {
    if let Some(shared) = current() {
        shared.timers.cancel(key);
    }
}

/// Updates the waker of a pending timer; false when the timer has fired.
pub(crate) fn refresh_timer(key: TimerKey, waker: &core::task::Waker) -> bool {
    current().is_some_and(|shared| shared.timers.refresh(key, waker))
}

/// "task 3 \"worker\"" for the task running now, or "the runtime" outside tasks.
pub(crate) fn describe_running() -> alloc::string::String {
    let running = current().and_then(|shared| {
        let header = shared.running_header()?;
        Some(alloc::format!("task {} {:?}", header.index, header.name))
    });
    running.unwrap_or_else(|| "the runtime".into())
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
