//! The injector (runtime/chanos/src/executor/injector.rs, included as it
//! is) under every interleaving loom explores with up to 3 preemptions a
//! run: other cores waking slots of an executor that drains its stack and
//! parks when it finds nothing.
//! - A wake-up lost while the executor parks leaves it parked for ever,
//!   which loom reports as a deadlock.
//! - A slot lost off the stack (its `next` read after its `queued` flag
//!   was cleared, so that a second wake-up overwrote it) leaves the
//!   executor looking for ever, until loom gives up on the run.
//! - Every slot is on the stack at most once, and what is left in flight
//!   at the end is exactly what is left on the stack.
//!
//! Tried, each failing: `unlink` clearing `queued` before reading `next`
//! (the second test: the executor loops until loom's version counter
//! overflows); `wake` reading `sleeping` before raising `in_flight`, or
//! either side's fence left out (both tests: "deadlock", the executor
//! parked with every waker finished).

#[path = "../../../runtime/chanos/src/executor/injector.rs"]
#[allow(dead_code, unreachable_pub)]
mod injector;

use chanos_loom::model;
use injector::{Injector, EMPTY};
use loom::sync::atomic::{AtomicBool, AtomicU32};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// The executor's parker (a futex hosted): a token, kept if it comes first.
/// (loom's own `thread::park` trips an internal assertion when unparked
/// from two threads.)
struct Parker {
    token: Mutex<bool>,
    woken: Condvar,
}

impl Parker {
    fn park(&self) {
        let mut token = self.token.lock().unwrap();
        while !*token {
            token = self.woken.wait(token).unwrap();
        }
        *token = false;
    }

    fn unpark(&self) {
        *self.token.lock().unwrap() = true;
        self.woken.notify_one();
    }
}

/// The wake-up state of one task slot (`Slot::remote_queued`, `remote_next`).
struct Slot {
    queued: AtomicBool,
    next: AtomicU32,
}

struct Executor {
    injector: Injector,
    parker: Parker,
    slots: [Slot; 2],
}

impl Executor {
    fn new() -> Arc<Executor> {
        let slot = || Slot {
            queued: AtomicBool::new(false),
            next: AtomicU32::new(EMPTY),
        };
        Arc::new(Executor {
            injector: Injector::new(),
            parker: Parker {
                token: Mutex::new(false),
                woken: Condvar::new(),
            },
            slots: [slot(), slot()],
        })
    }

    /// `Slot::wake_remote`: waking slot `index` from another thread.
    fn wake(&self, index: u32) {
        let slot = &self.slots[index as usize];
        if self.injector.wake(index, &slot.queued, &slot.next) {
            self.parker.unpark();
        }
    }

    /// `Shared::drain_injector`: how often each slot was taken.
    fn drain(&self) -> [u32; 2] {
        let mut taken = [0; 2];
        if self.injector.is_empty() {
            return taken;
        }
        let mut next = self.injector.take_all();
        while next != EMPTY {
            let slot = &self.slots[next as usize];
            taken[next as usize] += 1;
            next = injector::unlink(&slot.queued, &slot.next);
        }
        let n = taken[0] + taken[1];
        assert!(taken.iter().all(|&t| t <= 1), "a slot twice on the stack");
        if n > 0 {
            self.injector.taken(n);
        }
        taken
    }

    /// The executor's loop, reduced: drain, and park when nothing came,
    /// until `done` says what it has taken is enough.
    fn run_until(&self, done: impl Fn(&[u32; 2]) -> bool) -> [u32; 2] {
        let mut seen = [0; 2];
        loop {
            let taken = self.drain();
            seen[0] += taken[0];
            seen[1] += taken[1];
            if done(&seen) {
                return seen;
            }
            if taken == [0, 0] {
                // Something is in flight but not on the stack yet: look again.
                let mut parked = false;
                self.injector.park_unless_news(
                    || false,
                    || {
                        parked = true;
                        self.parker.park();
                    },
                );
                if !parked {
                    thread::yield_now();
                }
            }
        }
    }
}

#[test]
fn wake_ups_from_two_cores_all_arrive() {
    model(3, || {
        let executor = Executor::new();
        let wakers: Vec<_> = (0..2)
            .map(|index| {
                let executor = executor.clone();
                thread::spawn(move || executor.wake(index))
            })
            .collect();
        let seen = executor.run_until(|seen| seen[0] >= 1 && seen[1] >= 1);
        assert_eq!(seen, [1, 1]);
        for waker in wakers {
            waker.join().unwrap();
        }
        assert!(executor.injector.is_empty());
    });
}

#[test]
fn a_slot_woken_again_while_it_is_drained_keeps_the_rest_of_the_stack() {
    model(3, || {
        let executor = Executor::new();
        // Slot 1 first, then slot 0 (on top): draining takes 0, then 1,
        // while slot 0 is woken again.
        executor.wake(1);
        let again = {
            let executor = executor.clone();
            thread::spawn(move || {
                executor.wake(0);
                executor.wake(0);
            })
        };
        executor.run_until(|seen| seen[0] >= 1 && seen[1] >= 1);
        again.join().unwrap();
        // What is still in flight is what is still on the stack.
        let left = executor.drain();
        assert!(executor.injector.is_empty(), "in flight: {left:?}");
        assert_eq!(left[1], 0);
    });
}
