//! Which connections have news: each connection is polled with a waker of
//! its own, which marks it and wakes the network task. So a wake-up costs
//! the network task a look at the connections that changed, not a sweep of
//! all of them (a hundred idle connections cost nothing per packet).

use crate::atomic_waker::AtomicWaker;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::Waker;

/// The marked connections, and the network task's waker.
pub(crate) struct Dirty {
    /// The id the next connection gets.
    next_id: AtomicU64,
    marked: critical_section::Mutex<RefCell<Vec<u64>>>,
    task: AtomicWaker,
}

impl Default for Dirty {
    fn default() -> Self {
        Dirty {
            next_id: AtomicU64::new(0),
            marked: critical_section::Mutex::new(RefCell::new(Vec::new())),
            task: AtomicWaker::new(),
        }
    }
}

/// One connection's mark; its waker sets it.
pub(crate) struct Mark {
    id: u64,
    set: AtomicBool,
    dirty: Arc<Dirty>,
}

impl Wake for Mark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.set.swap(true, Ordering::AcqRel) {
            critical_section::with(|cs| self.dirty.marked.borrow_ref_mut(cs).push(self.id));
        }
        self.dirty.task.wake();
    }
}

impl Mark {
    /// Clears the mark before the connection is pumped, so that news that
    /// comes while it is pumped marks it again.
    pub(crate) fn clear(&self) {
        self.set.store(false, Ordering::Release);
    }
}

impl Dirty {
    /// A new connection's id, and its mark (set) and waker.
    pub(crate) fn mark(self: &Arc<Self>) -> (u64, Arc<Mark>, Waker) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mark = Arc::new(Mark {
            id,
            set: AtomicBool::new(false),
            dirty: self.clone(),
        });
        let waker = Waker::from(mark.clone());
        waker.wake_by_ref();
        (id, mark, waker)
    }

    /// Remembers whom a mark wakes: the network task, polled with `task`.
    pub(crate) fn wake_on_mark(&self, task: &Waker) {
        self.task.register(task);
    }

    /// The ids of the connections marked since the last call.
    pub(crate) fn take(&self) -> Vec<u64> {
        critical_section::with(|cs| core::mem::take(&mut *self.marked.borrow_ref_mut(cs)))
    }
}
