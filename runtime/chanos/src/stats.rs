//! Live runtime statistics: how many tasks and channels exist, how many
//! messages have passed. Apps read them with [`stats`] (the `http` app
//! serves them).
//!
//! The counters are plain cells per executor thread (hosted) or per core
//! (metal): counting a message costs one add, no atomic.

use core::cell::Cell;
use core::time::Duration;

/// A snapshot of the runtime's counters, from [`stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks alive now (running, runnable or waiting), `main` included.
    pub tasks: u64,
    /// Tasks spawned since the program started.
    pub tasks_spawned: u64,
    /// Channels alive now (at least one end not dropped).
    pub channels: u64,
    /// Channels made since the program started.
    pub channels_made: u64,
    /// Values passed over channels since the program started.
    pub messages: u64,
    /// Timers pending now (sleeps, timeouts, `time::after`).
    pub timers: u64,
    /// Time since the program started.
    pub uptime: Duration,
}

/// Counts of things made and passed, on this thread or core.
pub(crate) struct Counters {
    pub(crate) tasks_spawned: Cell<u64>,
    pub(crate) channels_made: Cell<u64>,
    pub(crate) channels_dropped: Cell<u64>,
    pub(crate) messages: Cell<u64>,
}

impl Counters {
    const fn new() -> Self {
        Counters {
            tasks_spawned: Cell::new(0),
            channels_made: Cell::new(0),
            channels_dropped: Cell::new(0),
            messages: Cell::new(0),
        }
    }
}

#[cfg(not(target_os = "none"))]
std::thread_local! {
    static COUNTERS: Counters = const { Counters::new() };
}

#[cfg(target_os = "none")]
struct SingleCore(Counters);

// SAFETY: the image runs on one core, and interrupt handlers never count
// (they only wake tasks), so the cells are never touched concurrently.
#[cfg(target_os = "none")]
unsafe impl Sync for SingleCore {}

#[cfg(target_os = "none")]
static COUNTERS: SingleCore = SingleCore(Counters::new());

/// Runs `f` on this thread's (or core's) counters.
#[inline(always)]
fn with<R>(f: impl FnOnce(&Counters) -> R) -> R {
    #[cfg(not(target_os = "none"))]
    return COUNTERS.with(f);
    #[cfg(target_os = "none")]
    return f(&COUNTERS.0);
}

/// Adds one to a counter.
#[inline(always)]
pub(crate) fn bump(counter: impl FnOnce(&Counters) -> &Cell<u64>) {
    with(|c| {
        let cell = counter(c);
        cell.set(cell.get() + 1);
    });
}

/// The runtime's counters now, for the calling thread's executor.
pub fn stats() -> Stats {
    with(|c| Stats {
        tasks: crate::executor::live_tasks(),
        tasks_spawned: c.tasks_spawned.get(),
        channels: c.channels_made.get() - c.channels_dropped.get(),
        channels_made: c.channels_made.get(),
        messages: c.messages.get(),
        timers: crate::executor::pending_timers(),
        uptime: Duration::from_nanos(crate::platform::now_ns()),
    })
}
