//! Task slots and the waker vtable: the unsafe core of the executor.
//!
//! A [`Waker`] for a chanos task is a pointer to the task's [`Slot`]. Slots
//! live in chunks that are leaked on purpose, as is the executor state they
//! point to, so a waker can never dangle, however long it is kept and on
//! whatever thread: cloning a waker copies a pointer, dropping it does
//! nothing, and no reference count is touched on the hot path.
//!
//! A slot is reused by later tasks. A waker kept past its task's end may then
//! wake the slot's next occupant: a spurious wake-up, which every future must
//! (and every chanos future does) tolerate.
//!
//! # Waking, and why it is sound from anywhere
//! - On the executor's own thread, outside interrupt context
//!   ([`Shared::is_current`]), waking sets the slot's `queued` flag and puts
//!   the slot on the run queue: plain memory, no atomics.
//! - From another thread or an interrupt handler, waking sets the atomic
//!   `remote_queued` flag, pushes the slot onto the injector (a lock-free
//!   stack linked through `remote_next`) and unparks the executor if it
//!   sleeps; the executor moves it to the run queue. Those paths touch
//!   only atomics (and the parker).

// The waker vtable and the leaked slots are this module's whole concern.
#![allow(unsafe_code)]

use super::task::ErasedTask;
use super::Shared;
use core::cell::Cell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32};
use core::task::{RawWaker, RawWakerVTable, Waker};

/// Slots come in chunks of this many, allocated once and never freed.
pub(crate) const CHUNK: usize = 64;

/// The wake-up state of one task slot.
pub(crate) struct Slot {
    pub(crate) shared: &'static Shared,
    pub(crate) index: u32,
    /// On the run queue already (executor thread only).
    pub(crate) queued: Cell<bool>,
    /// In the injector already (any thread).
    pub(crate) remote_queued: AtomicBool,
    /// The next slot down the injector's stack (`injector::EMPTY` at its bottom).
    pub(crate) remote_next: AtomicU32,
    /// The task in this slot (executor thread only), the same one the
    /// executor's task table owns: polling it needs no table look-up.
    pub(crate) task: Cell<Option<NonNull<dyn ErasedTask>>>,
}

// SAFETY: `queued` and `task` are only read or written by code that first
// checked `shared.is_current()` (the executor's thread, outside interrupts)
// or runs the executor itself; everything else in a slot is immutable or
// atomic.
unsafe impl Sync for Slot {}

impl Slot {
    /// Allocates and leaks one chunk of slots, numbered from `first`.
    pub(crate) fn leak_chunk(shared: &'static Shared, first: u32) -> &'static [Slot; CHUNK] {
        alloc::boxed::Box::leak(alloc::boxed::Box::new(core::array::from_fn(|i| Slot {
            shared,
            index: first + i as u32,
            queued: Cell::new(false),
            remote_queued: AtomicBool::new(false),
            remote_next: AtomicU32::new(super::injector::EMPTY),
            task: Cell::new(None),
        })))
    }

    pub(crate) fn waker(&'static self) -> Waker {
        let raw = RawWaker::new(self as *const Slot as *const (), &VTABLE);
        // SAFETY: the data pointer is a `&'static Slot` (it outlives every
        // waker), and the vtable's functions below are sound on any thread.
        unsafe { Waker::from_raw(raw) }
    }

    #[inline(always)] // the vtable's `wake` is this, with no call inside
    fn wake(&'static self) {
        let shared = self.shared;
        if shared.is_current() {
            shared.schedule(self);
        } else {
            self.wake_remote();
        }
    }

    /// Wakes from another thread or an interrupt, through the injector.
    #[cold]
    #[inline(never)]
    fn wake_remote(&'static self) {
        let shared = self.shared;
        if shared
            .injector
            .wake(self.index, &self.remote_queued, &self.remote_next)
        {
            shared.parker.unpark();
        }
    }
}

/// Wakes the task of a chanos waker at once and returns None, or, for any
/// other waker, returns a clone of it for the caller to wake later. A chanos
/// wake-up runs no user code (it only queues the task), so channel code may
/// do it while it holds the channel; a foreign waker could run anything.
#[inline(always)] // hot: once per handoff
pub(crate) fn wake_now_or_defer(waker: &Waker) -> Option<Waker> {
    if core::ptr::eq(waker.vtable(), &VTABLE) {
        // SAFETY: a waker with chanos's vtable was made by `Slot::waker`,
        // so its data pointer is a `&'static Slot`.
        let slot: &'static Slot = unsafe { &*(waker.data() as *const Slot) };
        slot.wake();
        None
    } else {
        Some(waker.clone())
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

// SAFETY (all four): `data` always comes from `Slot::waker`, so it is a
// pointer to a leaked, never-freed `Slot`.
unsafe fn clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: see above; the slot lives for the rest of the program.
    let slot: &'static Slot = unsafe { &*(data as *const Slot) };
    slot.wake();
}

unsafe fn drop(_: *const ()) {}
