//! Live runtime statistics: how many tasks and channels exist, how many
//! messages have passed. Apps read them with [`stats`] (the `http` app
//! serves them).
//!
//! Each executor keeps its own counters (`executor::counters`), written
//! by its thread alone: counting a message costs one add, no atomic
//! read-modify-write, and any core may read every core's.

use crate::executor::counters::Figures;
use core::time::Duration;

/// A snapshot of the runtime's counters, from [`stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks alive now (running, runnable or waiting), `main` included.
    pub tasks: u64,
    /// Tasks spawned since the runtime started.
    pub tasks_spawned: u64,
    /// Channels alive now (at least one end not dropped). A core's count
    /// is the channels made on it less those that ended on it (at least 0).
    pub channels: u64,
    /// Channels made since the runtime started.
    pub channels_made: u64,
    /// Values passed over channels since the runtime started.
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

/// Prints `stats: ` and the [`Stats`] line every `period`, for ever: spawn
/// it for a server's log (the soak test reads it). With several cores the
/// figures are the whole runtime's, followed by each core's
/// (`per_core: tasks=[3,2] ...`, core 0 first).
pub async fn print_every(period: Duration) {
    let mut ticks = crate::time::interval(period);
    loop {
        ticks.tick().await;
        let cores = crate::executor::counters::every_core();
        let per_core: alloc::vec::Vec<Stats> =
            cores.iter().copied().map(with_process_figures).collect();
        let total = with_process_figures(total(&cores));
        crate::println!("stats: {total}{}", PerCore(&per_core));
    }
}

/// The calling core's figures now (all zero outside a runtime), with the
/// process-wide ones (memory, uptime). [`stats_by_core`] has every core's.
pub fn stats() -> Stats {
    with_process_figures(crate::executor::counters::this_core().unwrap_or_default())
}

/// Every core's [`stats`], in core order (empty outside a runtime). Each
/// core counts what its own tasks do, so the figures of the whole runtime
/// are their sums (a message counts on the core of the operation that
/// completed it).
pub fn stats_by_core() -> alloc::vec::Vec<Stats> {
    crate::executor::counters::every_core()
        .into_iter()
        .map(with_process_figures)
        .collect()
}

fn with_process_figures(core: Figures) -> Stats {
    Stats {
        tasks: core.tasks,
        tasks_spawned: core.tasks_spawned,
        channels: core.channels_made.saturating_sub(core.channels_dropped),
        channels_made: core.channels_made,
        messages: core.messages,
        timers: core.timers,
        sockets: core.sockets,
        heap_bytes: crate::platform::heap_bytes(),
        resident_bytes: crate::platform::resident_bytes(),
        uptime: Duration::from_nanos(crate::platform::now_ns()),
    }
}

/// The sums of every core's figures: a channel may be made on one core
/// and end on another, so only the sums say how many are alive.
fn total(cores: &[Figures]) -> Figures {
    cores.iter().fold(Figures::default(), |sum, c| Figures {
        tasks: sum.tasks + c.tasks,
        tasks_spawned: sum.tasks_spawned + c.tasks_spawned,
        channels_made: sum.channels_made + c.channels_made,
        channels_dropped: sum.channels_dropped + c.channels_dropped,
        messages: sum.messages + c.messages,
        sockets: sum.sockets + c.sockets,
        timers: sum.timers + c.timers,
    })
}

/// One figure of a [`Stats`].
type Figure = fn(&Stats) -> u64;

/// ` per_core: tasks=[3,2] channels=[..] ...`, or nothing with one core.
struct PerCore<'a>(&'a [Stats]);

impl core::fmt::Display for PerCore<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.len() < 2 {
            return Ok(());
        }
        let figures: [(&str, Figure); 5] = [
            ("tasks", |s| s.tasks),
            ("channels", |s| s.channels),
            ("timers", |s| s.timers),
            ("sockets", |s| s.sockets),
            ("messages", |s| s.messages),
        ];
        write!(f, " per_core:")?;
        for (name, figure) in figures {
            write!(f, " {name}=[")?;
            for (i, core) in self.0.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                write!(f, "{comma}{}", figure(core))?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
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
