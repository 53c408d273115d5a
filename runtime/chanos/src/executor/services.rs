//! What the rest of the crate asks of the current executor: runtime
//! services (the network task), wake sources, timers, the PRNG, counts.

use super::context::{current, expect_current};
use super::task::{self, JoinHandle, TaskName};
use super::timers::{TimerAction, TimerKey};
use super::Shared;
use alloc::rc::Rc;
use core::future::Future;

/// Spawns a runtime-internal task (the network task), which may hold
/// what apps may not: device handles, sockets.
#[track_caller]
pub(crate) fn spawn_service<F>(name: &'static str, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    task::spawn_on(expect_current(), TaskName::Borrowed(name), future)
}

/// The current executor's service of type `T`, made by `start` on first use.
/// Services are dropped when the runtime shuts down.
#[track_caller]
pub(crate) fn service<T: 'static>(start: impl FnOnce() -> Rc<T>) -> Rc<T> {
    let shared = expect_current();
    let found = shared
        .services
        .borrow()
        .iter()
        .find_map(|s| s.clone().downcast::<T>().ok());
    found.unwrap_or_else(|| {
        let made = start();
        shared.services.borrow_mut().push(made.clone());
        made
    })
}

/// The current executor's epoll instance, where the hosted network
/// backend registers its sockets: their readiness wakes this core.
#[cfg(not(target_os = "none"))]
#[track_caller]
pub(crate) fn io() -> std::io::Result<&'static crate::platform::Io> {
    expect_current().parker.io()
}

/// Held while an outside source (a device interrupt, socket readiness) may
/// wake a task: the executor then waits for it instead of reporting a
/// deadlock when nothing else can run.
pub(crate) struct WakeSource {
    shared: &'static Shared,
}

impl WakeSource {
    #[track_caller]
    pub(crate) fn hold() -> WakeSource {
        let shared = expect_current();
        shared.wake_sources.set(shared.wake_sources.get() + 1);
        WakeSource { shared }
    }
}

impl Drop for WakeSource {
    fn drop(&mut self) {
        // Saturating: a wake source kept past its runtime's end must not
        // unbalance the next runtime's count (`reset` zeroes it).
        let held = &self.shared.wake_sources;
        held.set(held.get().saturating_sub(1));
    }
}

/// A uniformly distributed number below `n` (n > 0), from the executor's PRNG.
pub(crate) fn random_below(n: u64) -> u64 {
    let x = current().map_or(0, Shared::random);
    ((x as u128 * n as u128) >> 64) as u64
}

/// Registers a timer on the current executor.
#[track_caller]
pub(crate) fn add_timer(deadline_ns: u64, action: TimerAction) -> TimerKey {
    expect_current().timers.add(deadline_ns, action)
}

/// Cancels a timer, if the current executor still has it.
pub(crate) fn cancel_timer(key: TimerKey) {
    if let Some(shared) = current() {
        shared.timers.cancel(key);
    }
}

/// Updates the waker of a pending timer; false when the timer has fired.
pub(crate) fn refresh_timer(key: TimerKey, waker: &core::task::Waker) -> bool {
    current().is_some_and(|shared| shared.timers.refresh(key, waker))
}
