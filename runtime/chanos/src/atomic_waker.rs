//! A place for one waker, which any thread or interrupt handler may wake:
//! how a device or a connection reaches the task that
//! serves it. (embassy and `futures` call this an `AtomicWaker`; here it is
//! a critical section around an `Option<Waker>`, which serves both
//! platforms.)

use core::cell::RefCell;
use core::task::Waker;

pub(crate) struct AtomicWaker(critical_section::Mutex<RefCell<Option<Waker>>>);

impl Default for AtomicWaker {
    fn default() -> Self {
        AtomicWaker::new()
    }
}

impl AtomicWaker {
    pub(crate) const fn new() -> Self {
        AtomicWaker(critical_section::Mutex::new(RefCell::new(None)))
    }

    /// Makes `waker` the one woken (a clone is kept only when it differs).
    pub(crate) fn register(&self, waker: &Waker) {
        critical_section::with(|cs| {
            let mut slot = self.0.borrow_ref_mut(cs);
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        });
    }

    /// Wakes the registered waker, if any; it stays registered. The wake
    /// itself runs outside the critical section.
    pub(crate) fn wake(&self) {
        let waker = critical_section::with(|cs| self.0.borrow_ref(cs).clone());
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
