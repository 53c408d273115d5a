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
    /// Sockets the network task holds now: listeners, connections (those
    /// the app let go of that still linger included) and UDP sockets.
    pub sockets: u64,
    /// Bytes the heap has handed out and not had back (the image).
    pub heap_bytes: Option<u64>,
    /// The process's resident memory (hosted).
    pub resident_bytes: Option<u64>,
    /// Time since the program started.
    pub uptime: Duration,
}

/// Counts of things made and passed, on this thread or core.
pub(crate) struct Counters {
    pub(crate) tasks_spawned: Cell<u64>,
    pub(crate) channels_made: Cell<u64>,
    pub(crate) channels_dropped: Cell<u64>,
    pub(crate) messages: Cell<u64>,
    pub(crate) sockets: Cell<u64>,
}

impl Counters {
    const fn new() -> Self {
        Counters {
            tasks_spawned: Cell::new(0),
            channels_made: Cell::new(0),
            channels_dropped: Cell::new(0),
            messages: Cell::new(0),
            sockets: Cell::new(0),
        }
    }
}

crate::platform::core_local! {
    static COUNTERS: Counters = const { Counters::new() };
}

/// Runs `f` on this thread's (or core's) counters.
#[inline(always)]
fn with<R>(f: impl FnOnce(&Counters) -> R) -> R {
    COUNTERS.with(f)
}

/// Adds one to a counter.
#[inline(always)]
pub(crate) fn bump(counter: impl FnOnce(&Counters) -> &Cell<u64>) {
    with(|c| {
        let cell = counter(c);
        cell.set(cell.get() + 1);
    });
}

/// Prints `stats: ` and the [`Stats`] line every `period`, for ever: spawn
/// it for a server's log (the soak test reads it).
pub async fn print_every(period: Duration) {
    let mut ticks = crate::time::interval(period);
    loop {
        ticks.tick().await;
        crate::println!("stats: {}", stats());
    }
}

/// Sets how many sockets the network task holds.
pub(crate) fn set_sockets(n: usize) {
    with(|c| c.sockets.set(n as u64));
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
        sockets: c.sockets.get(),
        heap_bytes: crate::platform::heap_bytes(),
        resident_bytes: crate::platform::resident_bytes(),
        uptime: Duration::from_nanos(crate::platform::now_ns()),
    })
}

/// One line: `tasks=3 channels=5 timers=1 sockets=2 messages=10
/// heap_bytes=123456` (the memory figure this platform has).
impl core::fmt::Display for Stats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "tasks={} channels={} timers={} sockets={} messages={}",
            self.tasks, self.channels, self.timers, self.sockets, self.messages
        )?;
        if let Some(bytes) = self.heap_bytes {
            write!(f, " heap_bytes={bytes}")?;
        }
        if let Some(bytes) = self.resident_bytes {
            write!(f, " resident_bytes={bytes}")?;
        }
        Ok(())
    }
}
