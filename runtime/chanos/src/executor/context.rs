//! Which executor runs on this thread (hosted) or this CPU (the image),
//! and the spare executor kept for the next runtime there.

use super::Shared;
use crate::platform::{self, core_local};
use core::cell::Cell;

core_local! {
    static CURRENT: Cell<Option<&'static Shared>> = const { Cell::new(None) };
    // An executor whose runtime has ended here, for the next one.
    static SPARE: Cell<Option<&'static Shared>> = const { Cell::new(None) };
}

/// Makes `shared` this thread's executor (a core run starts, with a new
/// key), or none (the run has ended).
pub(super) fn set_current(shared: Option<&'static Shared>) {
    match shared {
        Some(shared) => {
            shared.parker.bind();
            super::share::start_key(shared);
        }
        None => {
            if let Some(previous) = CURRENT.with(Cell::get) {
                super::share::end_key(previous);
            }
        }
    }
    CURRENT.with(|c| c.set(shared));
}

/// An executor for a new runtime: the thread's spare, reset, or a new one.
pub(super) fn fresh_executor(seed: u64) -> &'static Shared {
    if let Some(shared) = SPARE.with(Cell::take) {
        shared.reset(seed);
        return shared;
    }
    Shared::leak(seed)
}

/// Keeps an executor whose runtime has ended (and shut it down) for the
/// next runtime on this thread (or CPU).
pub(super) fn keep_spare(shared: &'static Shared) {
    SPARE.with(|spare| spare.set(Some(shared)));
}

/// The executor of the calling code, unless it runs in interrupt context.
pub(super) fn current() -> Option<&'static Shared> {
    if platform::in_interrupt() {
        return None;
    }
    CURRENT.with(Cell::get)
}

#[track_caller]
pub(super) fn expect_current() -> &'static Shared {
    current().expect(
        "chanos: this needs a running chanos runtime (inside #[chanos::main] or Runtime::block_on)",
    )
}

/// This thread's executor, while it polls a task.
pub(super) fn polling() -> Option<&'static Shared> {
    current().filter(|shared| !shared.running_header.get().is_null())
}
