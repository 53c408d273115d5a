//! The cooperative budget (Tokio's "coop"): how many channel operations the
//! running task may still complete in this poll. It lives in a per-core
//! cell of its own, so taking one unit is a load, a compare and a store,
//! with no look-up of the executor.
//!
//! The cell is a relaxed atomic (on x86 the same plain loads and stores as
//! a `Cell`) so that another core waiting for an answer from this one can
//! cut the running task's poll short ([`cut_short`]): a task that computes
//! between its channel operations may otherwise keep its core for 128 of
//! them before the core looks at what others asked (`executor::share`).

use crate::platform::core_local;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use core::task::{Context, Poll};

/// How many channel operations a task may complete in one poll before it
/// is made to yield.
const OPS_PER_POLL: u32 = 128;

/// Outside a task's poll operations are not counted.
const UNLIMITED: u32 = u32::MAX;

core_local! {
    static LEFT: AtomicU32 = const { AtomicU32::new(UNLIMITED) };
}

/// Takes one unit of the running task's budget. When it is spent, the task
/// is woken (to the back of the run queue) and must return `Pending`: a
/// loop of channel operations that never have to wait (a `select!` over a
/// closed channel, a producer with room to spare) cannot starve the others.
#[inline(always)] // hot: once per channel operation
pub(crate) fn poll_budget(cx: &Context<'_>) -> Poll<()> {
    if take_one() {
        Poll::Ready(())
    } else {
        budget_spent(cx)
    }
}

#[cold]
#[inline(never)]
fn budget_spent(cx: &Context<'_>) -> Poll<()> {
    // Perhaps spent by another core's `cut_short`: answer it now.
    super::serve_share_requests();
    cx.waker().wake_by_ref();
    Poll::Pending
}

#[inline(always)]
pub(super) fn start_poll() {
    LEFT.with(|c| c.store(OPS_PER_POLL, Relaxed));
}

#[inline(always)]
pub(super) fn end_poll() {
    LEFT.with(|c| c.store(UNLIMITED, Relaxed));
}

/// False when the running task has spent its budget.
#[inline(always)]
fn take_one() -> bool {
    LEFT.with(|c| match c.load(Relaxed) {
        0 => false,
        UNLIMITED => true,
        n => {
            // Not a read-modify-write: a `cut_short` in between is lost,
            // and its caller asks again.
            c.store(n - 1, Relaxed);
            true
        }
    })
}

/// This core's budget cell, for [`cut_short`] from other cores. Hosted it
/// lives as long as its thread, so it is handed out only for the length of
/// a core run (`share::start_key` and `end_key`).
pub(super) fn this_cores_budget() -> *const AtomicU32 {
    LEFT.with(|c| c as *const AtomicU32)
}

/// Spends the budget of the task polled on the core whose cell this is, if
/// one is polled: its next channel operation yields and answers the share
/// requests. Only during a poll: outside one, operations are not counted.
pub(super) fn cut_short(cell: &AtomicU32) {
    let left = cell.load(Relaxed);
    if left != 0 && left != UNLIMITED {
        let _ = cell.compare_exchange(left, 0, Relaxed, Relaxed);
    }
}
