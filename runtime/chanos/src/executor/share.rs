//! Channels becoming shared between cores: the requests a core receives to
//! switch a channel it made from its local lock to the atomic one (see
//! `chan::lock`), and the key that names each run of a core.

use super::context::current;
use super::{budget, Shared};
use crate::chan::lock_word;
use crate::platform;
use core::sync::atomic::{AtomicU32, Ordering};

/// A runtime core, as a channel made on it remembers it.
#[derive(Clone, Copy)]
pub(crate) struct CoreRef(&'static Shared);

/// A channel's lock word, to be switched by its home core.
pub(super) struct ShareRequest {
    word: *const AtomicU32,
    /// The key of the core run that was asked; a later run ignores it.
    key: u32,
}

// SAFETY: the pointer is only followed by the core run named by `key`, and
// the asking core keeps the channel alive until that run has switched it or
// ended (`ask_to_share`).
#[allow(unsafe_code)]
unsafe impl Send for ShareRequest {}

/// The runtime core running here, if any (not in interrupt context).
pub(crate) fn this_core() -> Option<CoreRef> {
    current().map(CoreRef)
}

/// Waits until the channel whose lock `word` is local to the core run
/// `key` is shared; `first` says this caller queues the request. If that
/// run has ended, nobody takes the lock locally any more: the channel is
/// switched here.
#[cold]
pub(crate) fn ask_to_share(core: CoreRef, key: u32, word: &AtomicU32, first: bool) {
    let shared = core.0;
    if first {
        let request = ShareRequest { word, key };
        critical_section::with(|cs| shared.share_requests.borrow_ref_mut(cs).push(request));
        shared.share_pending.store(true, Ordering::Release);
        shared.parker.unpark();
        cut_home_poll_short(shared);
    }
    let mut spins = 0u32;
    let home_is_live = || shared.key.load(Ordering::Acquire) == key;
    lock_word::wait_until_shared(word, key, home_is_live, || {
        // Two cores may be asking each other at once: answer while waiting.
        serve_share_requests();
        spins += 1;
        if spins.is_multiple_of(64) {
            cut_home_poll_short(shared); // the last cut may have been lost
            platform::yield_now();
        } else {
            platform::spin_hint();
        }
    });
}

/// Makes the task that `home` polls now, if any, yield at its next channel
/// operation, where `home` answers share requests (`budget::cut_short`);
/// without this a task that computes between operations could make the
/// asker wait for 128 of them.
fn cut_home_poll_short(home: &Shared) {
    // In the critical section: `end_key` clears the cell, in one too, before
    // the home's thread can end, so a cell seen here is alive.
    critical_section::with(|_| {
        let cell = home.budget.load(Ordering::Relaxed);
        // SAFETY: see above: non-null only while its thread runs the core.
        #[allow(unsafe_code)]
        if let Some(cell) = unsafe { cell.as_ref() } {
            budget::cut_short(cell);
        }
    });
}

/// Waits until `done`, answering the share requests made to this core
/// meanwhile: the cores it waits for may be waiting for those answers.
pub(super) fn wait_answering_share_requests(done: impl Fn() -> bool) {
    while !done() {
        serve_share_requests();
        platform::yield_now();
    }
}

/// Switches the channels other cores asked this core to share.
#[inline]
pub(crate) fn serve_share_requests() {
    if let Some(shared) = current() {
        if shared.share_pending.load(Ordering::Acquire) {
            shared.serve_share_requests();
        }
    }
}

impl Shared {
    #[cold]
    pub(super) fn serve_share_requests(&self) {
        let key = self.key.load(Ordering::Relaxed);
        critical_section::with(|cs| {
            let mut requests = self.share_requests.borrow_ref_mut(cs);
            // A channel this core holds right now (an operation that waits
            // for another core's channel) is switched at a later call.
            requests.retain(|request| {
                if request.key != key {
                    return false; // for an earlier run: dropped unread
                }
                // SAFETY: a request naming this run has an asker still
                // waiting in `ask_to_share`, which keeps the channel alive.
                #[allow(unsafe_code)]
                let word = unsafe { &*request.word };
                !lock_word::share(word, key)
            });
            self.share_pending
                .store(!requests.is_empty(), Ordering::Relaxed);
        });
    }
}

/// Gives the core run starting here its key: unique for every run, even
/// and at least 2 (the form of a channel's lock word, `chan::lock`).
pub(super) fn start_key(shared: &Shared) {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let key = NEXT.fetch_add(1, Ordering::Relaxed) << 1;
    shared.key.store(key, Ordering::Release);
    platform::set_core_key(key);
    let cell = budget::this_cores_budget().cast_mut();
    critical_section::with(|_| shared.budget.store(cell, Ordering::Relaxed));
}

/// Ends the core run here: channels made in it are switched by their askers.
pub(super) fn end_key(shared: &Shared) {
    platform::set_core_key(0);
    shared.key.store(0, Ordering::Release);
    critical_section::with(|_| {
        shared
            .budget
            .store(core::ptr::null_mut(), Ordering::Relaxed)
    });
}
