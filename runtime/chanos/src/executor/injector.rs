//! The injector's protocol: how a wake-up from another core (or thread, or
//! an interrupt) reaches an executor, and how an executor parks without
//! missing one. On its own so that it can be model-checked: `tests/loom`
//! includes this very file and runs it under loom, whose atomics replace
//! core's (`cfg(loom_model)`).
//!
//! - A woken slot is pushed onto a lock-free stack (a Treiber stack) linked
//!   through the slots' `next` words; its `queued` flag keeps it there at
//!   most once. Only the executor pops, and it takes the whole stack at
//!   once, so there is no ABA.
//! - `in_flight` counts what was pushed and not yet taken: raised before
//!   the push is visible, lowered only once the executor has taken it, so
//!   that no core sees every core idle while a wake-up is on its way.
//! - Parking is announced (`sleeping`) before the last look at `in_flight`;
//!   a waker raises `in_flight` before it looks at `sleeping`. A
//!   sequentially consistent fence stands between the write and the read
//!   on each side, so either the executor sees the wake-up and does not
//!   park, or the waker sees the announcement and unparks it (Dekker's
//!   pattern). Fences, not SeqCst accesses: loom models fences, and
//!   treats a SeqCst load or store as merely acquire or release (loom
//!   issue #180), under which it rightly finds this protocol broken.

#[cfg(loom_model)]
use loom::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};

#[cfg(not(loom_model))]
use core::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};

/// No slot: the bottom of the stack.
pub(crate) const EMPTY: u32 = u32::MAX;

/// One executor's side of the protocol.
pub(crate) struct Injector {
    /// The top of the stack of woken slots.
    head: AtomicU32,
    /// Pushed (wake-ups, and spawns from other cores) and not yet taken.
    in_flight: AtomicU32,
    /// The executor is about to park, or parked.
    sleeping: AtomicBool,
}

impl Injector {
    pub(crate) fn new() -> Self {
        Injector {
            head: AtomicU32::new(EMPTY),
            in_flight: AtomicU32::new(0),
            sleeping: AtomicBool::new(false),
        }
    }

    /// Forgets everything, between runtimes (nobody pushes then).
    pub(crate) fn reset(&self) {
        self.head.store(EMPTY, Ordering::Relaxed);
        self.in_flight.store(0, Ordering::Relaxed);
    }

    /// Wakes slot `index` (its `queued` flag and `next` word): pushes it
    /// unless it is on the stack already. True when the executor may be
    /// parked and must be unparked.
    pub(crate) fn wake(&self, index: u32, queued: &AtomicBool, next: &AtomicU32) -> bool {
        if queued.swap(true, Ordering::AcqRel) {
            return false; // on the stack already: the executor will see it
        }
        // Counted before it is visible (see the module documentation).
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            next.store(head, Ordering::Relaxed);
            match self
                .head
                .compare_exchange_weak(head, index, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        fence(Ordering::SeqCst); // between raising in_flight and reading sleeping
        self.sleeping.load(Ordering::Relaxed)
    }

    /// Counts something another core will hand over by another way (a
    /// spawn), before it is visible.
    pub(crate) fn count_in(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// Nothing pushed and not yet taken.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// The whole stack, its top slot (follow it with [`unlink`]), or
    /// `EMPTY`; taking it lowers nothing yet (see [`taken`](Self::taken)).
    pub(crate) fn take_all(&self) -> u32 {
        self.head.swap(EMPTY, Ordering::Acquire)
    }

    /// `n` things taken are now on the run queue: no longer in flight.
    pub(crate) fn taken(&self, n: u32) {
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
    }

    /// Parks with `park` unless something is in flight or `other_news`
    /// (another reason to stay awake, read after the fence) says so:
    /// announced first, checked second (see the module documentation).
    pub(crate) fn park_unless_news(&self, other_news: impl FnOnce() -> bool, park: impl FnOnce()) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst); // between announcing and the last look
        if self.in_flight.load(Ordering::Acquire) == 0 && !other_news() {
            park();
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// A slot taken off the stack: the next one down, read before the slot may
/// be pushed again (clearing `queued` lets a waker overwrite `next`).
pub(crate) fn unlink(queued: &AtomicBool, next: &AtomicU32) -> u32 {
    let below = next.load(Ordering::Relaxed);
    queued.store(false, Ordering::Release);
    below
}
