//! The executor's timers: a map ordered by deadline.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use core::cell::{Cell, RefCell};
use core::task::Waker;

use super::counters::Count;

/// Identifies a timer: its deadline, then a sequence number for ties.
pub(crate) type TimerKey = (u64, u64);

/// Something a timer does when it fires, other than waking a task.
pub(crate) trait TimerTick {
    fn fire(&mut self, now_ns: u64);
    /// False once firing can no longer affect anyone (e.g. nobody listens).
    fn is_live(&self) -> bool;
}

pub(crate) enum TimerAction {
    Wake(Waker),
    Tick(Box<dyn TimerTick>),
}

impl TimerAction {
    fn is_live(&self) -> bool {
        match self {
            TimerAction::Wake(_) => true,
            TimerAction::Tick(tick) => tick.is_live(),
        }
    }
}

#[derive(Default)]
pub(super) struct Timers {
    map: RefCell<BTreeMap<TimerKey, TimerAction>>,
    seq: Cell<u64>,
    /// How many are pending, for `stats` on any core.
    pending: Count,
}

impl Timers {
    pub(super) fn add(&self, deadline_ns: u64, action: TimerAction) -> TimerKey {
        let key = (deadline_ns, self.seq.get());
        self.seq.set(key.1 + 1);
        let mut map = self.map.borrow_mut();
        map.insert(key, action);
        self.pending.set(map.len() as u64);
        key
    }

    pub(super) fn cancel(&self, key: TimerKey) {
        let removed = {
            let mut map = self.map.borrow_mut();
            let removed = map.remove(&key);
            self.pending.set(map.len() as u64);
            removed
        };
        drop(removed); // outside the borrow: dropping a tick drops a channel end
    }

    pub(super) fn refresh(&self, key: TimerKey, waker: &Waker) -> bool {
        match self.map.borrow_mut().get_mut(&key) {
            Some(TimerAction::Wake(old)) => {
                if !old.will_wake(waker) {
                    *old = waker.clone();
                }
                true
            }
            _ => false,
        }
    }

    /// Fires every timer due at `now_ns`; returns how many fired.
    pub(super) fn fire_due(&self, now_ns: u64) -> usize {
        let mut fired = 0;
        loop {
            let due = {
                let mut map = self.map.borrow_mut();
                match map.first_key_value() {
                    Some((key, _)) if key.0 <= now_ns => {
                        let due = map.pop_first();
                        self.pending.set(map.len() as u64);
                        due
                    }
                    _ => None,
                }
            };
            let Some((_, action)) = due else { return fired };
            fired += 1;
            match action {
                TimerAction::Wake(waker) => waker.wake(),
                TimerAction::Tick(mut tick) => tick.fire(now_ns),
            }
        }
    }

    /// The earliest deadline of a timer that can still wake someone.
    pub(super) fn next_live_deadline(&self) -> Option<u64> {
        let map = self.map.borrow();
        map.iter()
            .find(|(_, action)| action.is_live())
            .map(|(key, _)| key.0)
    }

    /// How many timers are pending (readable from any core).
    pub(super) fn pending(&self) -> &Count {
        &self.pending
    }

    pub(super) fn clear(&self) {
        let map = core::mem::take(&mut *self.map.borrow_mut());
        self.pending.set(0);
        drop(map);
    }
}
