//! The lock around one channel's state: plain loads and stores while the
//! channel is used on the core that made it, an atomic lock once it is not.
//!
//! A channel starts *local* to its core (its `home`): the home core takes
//! the lock by checking `home` and setting a flag, no atomic instruction,
//! so a channel whose ends stay on one core costs what a `RefCell` did.
//! The first time another core (or thread) takes it, the channel becomes
//! *shared* for good: that core asks the home core to switch it
//! ([`crate::executor::ask_to_share`]), because only the home core knows it
//! is not between its own check and its own store. From then on every core
//! takes it with a compare-and-swap. Measured here: an atomic lock on every
//! operation added about half to a same-core round trip's time, hence the
//! two modes.
//!
//! Channel code holds the lock only for the few instructions of one
//! operation and runs no user code meanwhile (wakers that could are woken
//! after it is released), so waiting for it is spinning. Taking it again on
//! the core that holds it panics, as the `RefCell` it replaced did.

// A lock is an `UnsafeCell` and the proof that only its holder touches it.
#![allow(unsafe_code)]

use super::lock_word::{self, SHARED_FREE, SHARED_HELD};
use crate::executor::{self, CoreRef};
use crate::platform;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub(crate) struct ChanLock<T> {
    /// Whose the channel is and whether it is held, in one word, so that
    /// taking the lock locally is a load, a compare and a store.
    word: AtomicU32,
    /// The home core's executor, to ask it to share the channel.
    home_core: Option<CoreRef>,
    /// Whether a core asked already (only one request is ever queued).
    share_asked: AtomicBool,
    /// The key of the core that took the lock last in shared mode, to tell
    /// a core that waits for a lock it holds itself.
    holder: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and one guard exists
// at a time: locally the home core alone writes `word`, and shared every
// core takes it with a compare-and-swap (see the module documentation for
// the switch between the two). The value moves between threads only as
// `T: Send` allows.
unsafe impl<T: Send> Sync for ChanLock<T> {}
// SAFETY: as above: the lock owns its value.
unsafe impl<T: Send> Send for ChanLock<T> {}

impl<T> ChanLock<T> {
    /// A lock local to the calling runtime core; shared from the start when
    /// made outside a runtime.
    pub(crate) fn new(value: T) -> Self {
        let home_core = executor::this_core();
        ChanLock {
            word: AtomicU32::new(home_core.map_or(SHARED_FREE, |_| platform::core_key())),
            home_core,
            share_asked: AtomicBool::new(false),
            holder: AtomicU32::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock.
    #[inline(always)] // hot: every channel operation, usually local and free
    pub(crate) fn lock(&self) -> ChanGuard<'_, T> {
        let key = platform::core_key();
        if lock_word::try_take_local(&self.word, key) {
            return ChanGuard {
                lock: self,
                unlock_to: key,
            };
        }
        self.lock_slow(key);
        ChanGuard {
            lock: self,
            unlock_to: SHARED_FREE,
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self, key: u32) {
        let mut waited = 0u64;
        loop {
            match self.word.load(Ordering::Acquire) {
                SHARED_FREE => {
                    if lock_word::try_take_shared(&self.word) {
                        self.holder.store(key, Ordering::Relaxed);
                        return;
                    }
                }
                SHARED_HELD => {
                    waited += 1;
                    // Held for this long with this core the last taker: it
                    // is this core's own operation, which can never end.
                    if waited > 1 << 26 && key != 0 && self.holder.load(Ordering::Relaxed) == key {
                        re_entered();
                    }
                    executor::serve_share_requests();
                    // Back off, up to 64 pauses between looks: every look
                    // takes the cache line from the holder, who is writing
                    // the state beside the word.
                    for _ in 0..1u32 << waited.min(6) {
                        crate::platform::spin_hint();
                    }
                }
                word if word == key | 1 => re_entered(),
                word => {
                    let first = !self.share_asked.swap(true, Ordering::AcqRel);
                    let core = self.home_core.expect("a local channel has a home core");
                    executor::ask_to_share(core, word & !1, &self.word, first);
                }
            }
        }
    }
}

#[cold]
#[inline(never)]
fn re_entered() -> ! {
    panic!("chanos: a channel was used again while one of its own operations was running")
}

/// The held lock; releasing it is dropping it.
pub(crate) struct ChanGuard<'a, T> {
    lock: &'a ChanLock<T>,
    /// `word` once released: the home's key, or shared and free.
    unlock_to: u32,
}

impl<T> Deref for ChanGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for ChanGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this one unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for ChanGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        lock_word::release(&self.lock.word, self.unlock_to);
    }
}
