//! What each task waits on, noted by the chanos future that returned
//! `Pending`, for the deadlock report; and which task is running, for the
//! panic and CPU-exception reports.

use super::context::{current, polling};
use super::task::{self, ChanOp, Labelled, WaitOn};
use super::Shared;
use alloc::sync::Arc;

impl Shared {
    /// The header of the task being polled, if any.
    #[allow(unsafe_code)] // a raw pointer the executor keeps valid
    fn running_header(&self) -> Option<&task::Header> {
        // SAFETY: `running_header` is non-null only while `poll_task` polls
        // that task, whose `Rc` the task table holds, so the header is alive.
        unsafe { self.running_header.get().as_ref() }
    }

    /// Notes what the running task waits on, unless the note already there
    /// says the same (the same `WaitOn::key`, when it has one): waiting on
    /// the same thing again, the usual case, touches no `Rc`.
    fn note_wait(&self, key: usize, wait: impl FnOnce() -> WaitOn) {
        self.wait_noted.set(true);
        let Some(header) = self.running_header() else {
            return;
        };
        if key != 0 && header.wait_key.get() == key {
            return;
        }
        header.set_wait(wait());
    }
}

/// Records what the running task waits on, for a deadlock report.
pub(crate) fn set_wait(wait: WaitOn) {
    if let Some(shared) = polling() {
        shared.note_wait(wait.key(), || wait);
    }
}

/// Records that the running task waits to `op` on `chan`: `set_wait` for a
/// channel, with the key compared before the `Arc` is cloned.
#[inline(always)] // hot: once per wait; the common case is two compares
pub(crate) fn set_wait_chan<L: Labelled + 'static>(op: ChanOp, chan: &Arc<L>) {
    let Some(shared) = polling() else {
        return;
    };
    shared.wait_noted.set(true);
    let key = task::chan_wait_key(op, Arc::as_ptr(chan).cast());
    if let Some(header) = shared.running_header() {
        if header.wait_key.get() != key {
            note_chan_wait(header, op, chan.clone());
        }
    }
}

#[cold]
#[inline(never)]
fn note_chan_wait(header: &task::Header, op: ChanOp, chan: Arc<dyn Labelled>) {
    header.set_wait(WaitOn::Chan(op, chan));
}

/// Writes "task 3 \"worker\" on core 1" for the task running now, or "the
/// runtime" outside tasks. It allocates nothing: the out-of-memory report
/// calls it.
pub(crate) fn describe_running(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
    let running = current().and_then(|shared| Some((shared.running_header()?, shared.core.get())));
    match running {
        Some((header, core)) => write!(
            out,
            "task {} {:?} on core {}",
            header.index, header.name, core
        ),
        None => out.write_str("the runtime"),
    }
}
