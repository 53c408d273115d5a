//! One executor's counters (what [`crate::stats`] reports): written only by
//! the executor's own thread, read from any core. A single writer needs no
//! read-modify-write: counting is a relaxed load and store, which is what
//! adding to a plain cell compiles to, and another core reads a relaxed
//! load of a value at most a moment old.

use super::Shared;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// One figure.
#[derive(Default)]
pub(crate) struct Count(AtomicU64);

impl Count {
    /// Adds one (the owning executor's thread only).
    #[inline(always)]
    pub(crate) fn bump(&self) {
        self.set(self.get().wrapping_add(1));
    }

    /// Takes one away (the owning executor's thread only).
    #[inline(always)]
    pub(crate) fn drop_one(&self) {
        self.set(self.get().wrapping_sub(1));
    }

    /// Sets it (the owning executor's thread only).
    #[inline(always)]
    pub(crate) fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What one executor counts.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) tasks_spawned: Count,
    /// Tasks in its table now (running, runnable or waiting).
    pub(crate) tasks_live: Count,
    pub(crate) channels_made: Count,
    pub(crate) channels_dropped: Count,
    /// Values passed by operations on its thread.
    pub(crate) messages: Count,
    /// Sockets its network task holds.
    pub(crate) sockets: Count,
}

impl Counters {
    /// Back to zero, for a runtime that reuses the executor.
    pub(crate) fn reset(&self) {
        for count in [
            &self.tasks_spawned,
            &self.tasks_live,
            &self.channels_made,
            &self.channels_dropped,
            &self.messages,
            &self.sockets,
        ] {
            count.set(0);
        }
    }
}

/// Counts on the calling thread's executor, if there is one: code that
/// runs outside a runtime (a plain thread using a channel) is not counted.
#[inline(always)]
pub(crate) fn count(counter: impl FnOnce(&Counters) -> &Count) {
    if let Some(shared) = super::context::current() {
        counter(&shared.counters).bump();
    }
}

/// Sets a figure of the calling thread's executor, if there is one.
pub(crate) fn set(counter: impl FnOnce(&Counters) -> &Count, value: u64) {
    if let Some(shared) = super::context::current() {
        counter(&shared.counters).set(value);
    }
}

/// One core's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Figures {
    pub(crate) tasks: u64,
    pub(crate) tasks_spawned: u64,
    pub(crate) channels_made: u64,
    pub(crate) channels_dropped: u64,
    pub(crate) messages: u64,
    pub(crate) sockets: u64,
    pub(crate) timers: u64,
}

fn figures(shared: &Shared) -> Figures {
    let c = &shared.counters;
    Figures {
        tasks: c.tasks_live.get(),
        tasks_spawned: c.tasks_spawned.get(),
        channels_made: c.channels_made.get(),
        channels_dropped: c.channels_dropped.get(),
        messages: c.messages.get(),
        sockets: c.sockets.get(),
        timers: shared.timers.pending().get(),
    }
}

/// The figures of every core of the calling code's runtime, in core order
/// (none outside a runtime).
pub(crate) fn every_core() -> Vec<Figures> {
    let Some(shared) = super::context::current() else {
        return Vec::new();
    };
    match shared.cores.get() {
        Some(cores) => cores.executors.iter().map(|e| figures(e)).collect(),
        None => alloc::vec![figures(shared)],
    }
}

/// The calling core's figures (none outside a runtime).
pub(crate) fn this_core() -> Option<Figures> {
    super::context::current().map(figures)
}
