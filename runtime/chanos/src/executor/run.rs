//! The run loop of one executor, in order: move wake-ups that came from
//! other threads or interrupts (the injector) to the run queue; poll
//! runnable tasks, the one woken last first (the LIFO `next` slot, so a
//! receiver runs right after its sender) but never more than
//! [`LIFO_BUDGET`] times in a row; fire due timers; and when nothing is
//! runnable, park the core until the next timer deadline or a wake-up.
//! When nothing is runnable, no timer is pending and `main` has not
//! finished, no task can ever run again: that is a deadlock, reported by
//! name ([`super::Deadlock`]).

use super::slot::Slot;
use super::task::{self, WaitOn};
use super::{budget, cores, injector, RunEnd, Shared};
use crate::platform;
use core::task::Context;

/// How many times in a row the LIFO slot may jump the queue.
const LIFO_BUDGET: u32 = 16;
/// Timers and remote wake-ups are looked at after this many polls at the latest.
const POLLS_PER_TICK: u32 = 61;

impl Shared {
    /// Makes the task in `slot` runnable (executor thread only).
    #[inline(always)] // hot: once per wake-up
    pub(super) fn schedule(&self, slot: &'static Slot) {
        if slot.queued.replace(true) {
            return;
        }
        if core::ptr::eq(self.running.get(), slot) {
            // A task that wakes itself (yield) goes to the back of the line.
            self.queue.borrow_mut().push_back(slot);
        } else if let Some(previous) = self.next.replace(Some(slot)) {
            self.queue.borrow_mut().push_back(previous);
        }
    }

    pub(super) fn drain_injector(&self) {
        use core::sync::atomic::Ordering;
        if self.share_pending.load(Ordering::Acquire) {
            self.serve_share_requests();
        }
        if self.injector.is_empty() {
            return; // nothing pushed: no atomic read-modify-write, no lock
        }
        let mut taken = 0;
        let mut next = self.injector.take_all();
        while next != injector::EMPTY {
            let slot = self.slot(next);
            next = injector::unlink(&slot.remote_queued, &slot.remote_next);
            self.schedule(slot);
            taken += 1;
        }
        // Most drains on the cross-core path take only wake-ups: skip the
        // lock unless a spawn was pushed.
        if self.spawns_pending.swap(false, Ordering::Acquire) {
            let spawns = critical_section::with(|cs| {
                core::mem::take(&mut *self.remote_spawns.borrow_ref_mut(cs))
            });
            taken += spawns.len();
            for spawn in spawns {
                spawn();
            }
        }
        if taken > 0 {
            // Only now: until they are on the run queue, they are in flight.
            self.injector.taken(taken as u32);
        }
    }

    pub(super) fn injector_is_empty(&self) -> bool {
        self.injector.is_empty()
    }

    /// Parks until `unpark` or the deadline, unless a wake-up, spawn or
    /// share request is already in (`injector.rs` says why none is missed).
    pub(super) fn park(&self, deadline: Option<u64>) {
        let share_pending = || {
            self.share_pending
                .load(core::sync::atomic::Ordering::Acquire)
        };
        self.injector
            .park_unless_news(share_pending, || self.parker.park(deadline));
    }

    /// Whether another core has ended the runtime (multi-core only).
    pub(super) fn stopping(&self) -> bool {
        self.cores.get().is_some_and(cores::Cores::stopping)
    }

    pub(super) fn pop_runnable(&self, lifo_streak: &mut u32) -> Option<&'static Slot> {
        if *lifo_streak < LIFO_BUDGET {
            if let Some(slot) = self.next.take() {
                *lifo_streak += 1;
                return Some(slot);
            }
        }
        *lifo_streak = 0;
        let popped = self.queue.borrow_mut().pop_front();
        popped.or_else(|| self.next.take())
    }

    /// Polls the task in `slot` once; true when it has finished.
    #[inline]
    #[allow(unsafe_code)] // reads the slot's task pointer
    pub(super) fn poll_task(&'static self, slot: &'static Slot) -> bool {
        slot.queued.set(false);
        let Some(task) = slot.task.get() else {
            return false; // a late wake-up for a task that has ended
        };
        // SAFETY: the slot's task is the one the task table owns, which
        // keeps it until it finishes (noticed below, after the poll) or the
        // runtime shuts down (which clears every slot's task first).
        let (header, task) = unsafe { (task::header_of(task), task.as_ref()) };
        self.running.set(slot);
        self.running_header.set(header);
        self.wait_noted.set(false);
        budget::start_poll();
        // A slot's waker has nothing to drop: skip the call that would.
        let waker = core::mem::ManuallyDrop::new(slot.waker());
        let finished = task.poll(&mut Context::from_waker(&waker)).is_ready();
        budget::end_poll();
        self.running.set(core::ptr::null());
        self.running_header.set(core::ptr::null());
        if !finished && !self.wait_noted.get() {
            // Pending on something chanos cannot see: forget the old note.
            header.set_wait(WaitOn::Nothing);
        }
        if finished {
            self.end_task(slot);
        }
        finished
    }

    /// Runs until the task in slot `main` finishes, or nothing can run
    /// again, or (with several cores) another core ends the runtime.
    pub(super) fn run(&'static self, main: u32) -> RunEnd {
        let mut polls_since_tick = 0u32;
        let mut lifo_streak = 0u32;
        loop {
            while let Some(slot) = self.pop_runnable(&mut lifo_streak) {
                if self.poll_task(slot) && slot.index == main {
                    return RunEnd::MainDone;
                }
                polls_since_tick += 1;
                if polls_since_tick >= POLLS_PER_TICK {
                    polls_since_tick = 0;
                    self.timers.fire_due(platform::now_ns());
                    self.parker.poll_io();
                    self.drain_injector();
                    if self.stopping() {
                        return RunEnd::Stopped;
                    }
                }
            }
            self.drain_injector();
            if self.next.get().is_some() || !self.queue.borrow().is_empty() {
                continue;
            }
            if self.timers.fire_due(platform::now_ns()) > 0 {
                continue;
            }
            if self.stopping() {
                return RunEnd::Stopped;
            }
            match self.timers.next_live_deadline() {
                Some(deadline) => self.park(Some(deadline)),
                None if self.wake_sources.get() > 0 => self.park(None),
                None if !self.injector_is_empty() => {}
                None => match self.cores.get() {
                    None => return RunEnd::Deadlock(self.deadlock_report()),
                    // Idle: parked until woken, unless every core is.
                    Some(cores) => cores.idle(self),
                },
            }
            self.drain_injector();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::current;
    use super::super::slot::CHUNK;
    use super::super::{spawn, spawn_named, yield_now, Runtime};
    use crate::chan;
    use alloc::vec;

    #[test]
    fn a_woken_receiver_runs_next_and_a_yielding_task_goes_last() {
        let trace = Runtime::with_seed(1)
            .block_on(async {
                let (trace_tx, trace_rx) = chan::bounded::<&'static str>(16);
                let (tx, rx) = chan::bounded::<()>(0);
                let t = trace_tx.clone();
                spawn_named("receiver", async move {
                    rx.recv().await;
                    t.send("receiver woke").await.unwrap();
                });
                let t = trace_tx.clone();
                spawn_named("bystander", async move {
                    t.send("bystander ran").await.unwrap();
                });
                yield_now().await; // both spawned tasks run; the receiver waits
                tx.send(()).await.unwrap();
                trace_tx.send("sender goes on").await.unwrap();
                yield_now().await;
                drop(trace_tx);
                let mut trace = vec![];
                while let Some(event) = trace_rx.recv().await {
                    trace.push(event);
                }
                trace
            })
            .unwrap();
        assert_eq!(trace, ["bystander ran", "sender goes on", "receiver woke"]);
    }

    #[test]
    fn select_inside_the_crate_uses_the_same_macro() {
        let got = Runtime::new()
            .block_on(async {
                let (tx, rx) = chan::bounded::<u8>(1);
                tx.try_send(1).unwrap();
                crate::select! { v = rx.recv() => v, default => None }
            })
            .unwrap();
        assert_eq!(got, Some(1));
    }

    #[test]
    fn slots_are_reused_after_tasks_end() {
        Runtime::new()
            .block_on(async {
                for _ in 0..3 * CHUNK {
                    spawn(async {}).await;
                }
                let shared = current().unwrap();
                assert!(
                    shared.tasks.borrow().len() <= 2,
                    "{}",
                    shared.tasks.borrow().len()
                );
            })
            .unwrap();
    }
}
