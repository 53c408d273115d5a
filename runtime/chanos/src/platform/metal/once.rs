//! A write-once cell for boot facts (set before any task runs).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Once<T> {
    set: AtomicBool,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: written once, before it is first read (`set` publishes it).
unsafe impl<T: Send + Sync> Sync for Once<T> {}

impl<T> Once<T> {
    pub(crate) const fn new() -> Self {
        Once {
            set: AtomicBool::new(false),
            value: UnsafeCell::new(None),
        }
    }

    pub(crate) fn set(&self, value: T) {
        assert!(!self.set.load(Ordering::Acquire), "set twice");
        // SAFETY: nobody reads before `set` is true, and it is set once.
        unsafe { *self.value.get() = Some(value) };
        self.set.store(true, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<&T> {
        if self.set.load(Ordering::Acquire) {
            // SAFETY: set once, never written again.
            unsafe { (*self.value.get()).as_ref() }
        } else {
            None
        }
    }
}
