//! The cooperative budget (Tokio's "coop"): how many channel operations the
//! running task may still complete in this poll. It lives in a per-core
//! cell of its own, so taking one unit is a load, a compare and a store,
//! with no look-up of the executor.

use crate::platform::core_local;
use core::cell::Cell;
use core::task::{Context, Poll};

/// How many channel operations a task may complete in one poll before it
/// is made to yield.
const OPS_PER_POLL: u32 = 128;

/// Outside a task's poll operations are not counted.
const UNLIMITED: u32 = u32::MAX;

core_local! {
    static LEFT: Cell<u32> = const { Cell::new(UNLIMITED) };
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
    cx.waker().wake_by_ref();
    Poll::Pending
}

#[inline(always)]
pub(super) fn start_poll() {
    LEFT.with(|c| c.set(OPS_PER_POLL));
}

#[inline(always)]
pub(super) fn end_poll() {
    LEFT.with(|c| c.set(UNLIMITED));
}

/// False when the running task has spent its budget.
#[inline(always)]
fn take_one() -> bool {
    LEFT.with(|c| match c.get() {
        0 => false,
        UNLIMITED => true,
        n => {
            c.set(n - 1);
            true
        }
    })
}
