//! A channel's lock word (runtime/chanos/src/chan/lock_word.rs, included
//! as it is) under every interleaving loom explores: a home core taking
//! the lock locally and answering a share request between operations,
//! another core asking, waiting for the switch and taking the lock shared.
//! The channel's state is a loom `UnsafeCell`, so two holders at once, or
//! a holder whose writes the next one does not see, fail the check; a
//! switch that is lost (the word local again after the asker saw it
//! shared) leaves the asker waiting for ever, which loom reports as
//! "Model exceeded maximum number of branches". Tried: a `share` that
//! ignores "held" fails both tests that way.

#[path = "../../../runtime/chanos/src/chan/lock_word.rs"]
#[allow(dead_code, unreachable_pub)]
mod lock_word;

use chanos_loom::model;
use lock_word::SHARED_FREE;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

/// The home core run's key.
const HOME: u32 = 2;

struct Channel {
    word: AtomicU32,
    /// What every holder increments, twice.
    state: UnsafeCell<u32>,
    /// A share request queued (the executor's request queue, reduced to
    /// the one channel).
    asked: AtomicBool,
    /// The home run's key is still current (`Shared::key`).
    home_live: AtomicBool,
}

impl Channel {
    fn new() -> Self {
        Channel {
            word: AtomicU32::new(HOME),
            state: UnsafeCell::new(0),
            asked: AtomicBool::new(false),
            home_live: AtomicBool::new(true),
        }
    }

    /// One operation, as `ChanLock::lock` does it on a core with `key`.
    fn operate(&self, key: u32) {
        let unlock_to = if lock_word::try_take_local(&self.word, key) {
            key
        } else {
            while !lock_word::try_take_shared(&self.word) {
                thread::yield_now();
            }
            SHARED_FREE
        };
        // SAFETY: the lock is held (loom checks that no one else is in).
        self.state.with_mut(|state| unsafe { *state += 1 });
        if key == HOME {
            // Holding it, the home may answer requests: an operation can
            // wait for another core's channel, answering meanwhile.
            self.serve();
        }
        // SAFETY: as above.
        self.state.with_mut(|state| unsafe { *state += 1 });
        lock_word::release(&self.word, unlock_to);
    }

    /// The home's answer to requests, between its operations.
    fn serve(&self) {
        if self.asked.load(Ordering::Acquire) && lock_word::share(&self.word, HOME) {
            self.asked.store(false, Ordering::Relaxed);
        }
    }

    /// Another core's first operation on the channel.
    fn ask_and_operate(&self) {
        if lock_word::is_local_to(&self.word, HOME) {
            self.asked.store(true, Ordering::Release);
            let home_is_live = || self.home_live.load(Ordering::Acquire);
            lock_word::wait_until_shared(&self.word, HOME, home_is_live, thread::yield_now);
        }
        self.operate(4);
    }

    fn total(&self) -> u32 {
        // SAFETY: every thread has been joined.
        self.state.with(|state| unsafe { *state })
    }
}

#[test]
fn a_home_core_and_an_asker_never_hold_the_lock_at_once_and_lose_no_update() {
    model(3, || {
        let channel = Arc::new(Channel::new());
        let asker = {
            let channel = channel.clone();
            thread::spawn(move || channel.ask_and_operate())
        };
        for _ in 0..2 {
            channel.operate(HOME);
            channel.serve();
        }
        // The home run ends: a request it did not answer is the asker's.
        channel.home_live.store(false, Ordering::Release);
        asker.join().unwrap();
        assert_eq!(channel.total(), 6);
        assert_eq!(channel.word.load(Ordering::Relaxed), SHARED_FREE);
    });
}

#[test]
fn two_askers_and_a_home_that_keeps_working_share_one_lock() {
    model(1, || {
        let channel = Arc::new(Channel::new());
        let askers: Vec<_> = (0..2)
            .map(|_| {
                let channel = channel.clone();
                thread::spawn(move || channel.ask_and_operate())
            })
            .collect();
        channel.operate(HOME);
        channel.serve();
        channel.operate(HOME);
        channel.home_live.store(false, Ordering::Release);
        for asker in askers {
            asker.join().unwrap();
        }
        assert_eq!(channel.total(), 8);
    });
}
