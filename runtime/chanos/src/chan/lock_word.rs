//! The protocol of a channel lock's word (`chan::lock` explains the two
//! modes), on its own so that it can be model-checked: `tests/loom`
//! includes this very file and runs it under loom, whose atomics replace
//! core's (`cfg(loom_model)`), exploring every interleaving of a home core
//! taking the lock locally, answering a share request, and another core
//! asking, waiting and taking it shared.
//!
//! A word is a core run's key (even, at least 2) while the channel is
//! local to that run, plus 1 while held; [`SHARED_FREE`] or
//! [`SHARED_HELD`] once shared.

#[cfg(loom_model)]
use loom::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(loom_model))]
use core::sync::atomic::{AtomicU32, Ordering};

/// A shared channel's word, free and held.
pub(crate) const SHARED_FREE: u32 = u32::MAX - 1;
pub(crate) const SHARED_HELD: u32 = u32::MAX;

/// Takes a local lock on its home core: a load, a compare and a plain
/// store, sound because only the home core (run `key`) writes a local
/// word, and it switches the word to shared only outside this function.
#[inline(always)]
pub(crate) fn try_take_local(word: &AtomicU32, key: u32) -> bool {
    if word.load(Ordering::Relaxed) == key {
        word.store(key | 1, Ordering::Relaxed);
        return true;
    }
    false
}

/// Takes a shared lock if it is free.
#[inline]
pub(crate) fn try_take_shared(word: &AtomicU32) -> bool {
    word.compare_exchange_weak(
        SHARED_FREE,
        SHARED_HELD,
        Ordering::Acquire,
        Ordering::Relaxed,
    )
    .is_ok()
}

/// Releases the lock to `to`: the home's key (local) or [`SHARED_FREE`].
#[inline(always)]
pub(crate) fn release(word: &AtomicU32, to: u32) {
    word.store(to, Ordering::Release);
}

/// Switches a local word to shared, if it is free; false when the home
/// core (run `key`), the only caller, holds it right now. Never called
/// between [`try_take_local`]'s check and its store.
pub(crate) fn share(word: &AtomicU32, key: u32) -> bool {
    if word.load(Ordering::Relaxed) == key | 1 {
        return false;
    }
    if word.load(Ordering::Relaxed) == key {
        word.store(SHARED_FREE, Ordering::Release);
    }
    true
}

/// Whether `word` is still local to the core run `key` (held or not).
pub(crate) fn is_local_to(word: &AtomicU32, key: u32) -> bool {
    word.load(Ordering::Acquire) & !1 == key
}

/// Another core's wait for the home (run `key`) to share `word`, once it
/// has asked: `meanwhile` runs between looks (answer one's own requests,
/// spin or yield). If the home run has ended (`home_is_live` false),
/// nobody takes the lock locally any more, so the asker switches it.
pub(crate) fn wait_until_shared(
    word: &AtomicU32,
    key: u32,
    home_is_live: impl Fn() -> bool,
    mut meanwhile: impl FnMut(),
) {
    while is_local_to(word, key) {
        if !home_is_live() {
            // Held at the end of a run cannot be: a run ends between polls.
            let _ = word.compare_exchange(key, SHARED_FREE, Ordering::AcqRel, Ordering::Acquire);
            return;
        }
        meanwhile();
    }
}
