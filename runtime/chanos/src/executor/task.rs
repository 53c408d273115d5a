//! A task: its header and its future, allocated together once, and the
//! [`JoinHandle`] that awaits its output.
//!
//! ```text
//!   spawn ──► Running(future) ──(poll returns Ready)──► Finished(output) ──(JoinHandle::await)──► Taken
//! ```
//! The executor's task table holds one `Rc` of the cell while the task runs;
//! the `JoinHandle` holds another. The cell is freed when both are gone.

// A task's cell pins its future in place and is reached through an erased
// pointer: each block says why that holds.
#![allow(unsafe_code)]

use super::task_pool::TaskAlloc;
use super::Shared;
use crate::Isolated;
use alloc::borrow::Cow;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// A task's name, shown in every report about it.
pub type TaskName = Cow<'static, str>;

/// Something a task can wait on, able to describe itself in a deadlock report.
pub(crate) trait Labelled {
    fn label(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// Which way a task waits on a channel.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChanOp {
    Recv = 0,
    Send = 1,
}

/// What a blocked task waits for. Noted by the future that returned
/// `Pending` (see `note_wait`); reset by the executor when a poll returns
/// `Pending` without a note. The `Rc`s keep what they name alive, so a
/// report can always read them.
#[derive(Default)]
pub(crate) enum WaitOn {
    #[default]
    Nothing,
    Chan(ChanOp, alloc::sync::Arc<dyn Labelled>),
    Select(Rc<dyn Labelled>),
    Join(u32),
    Sleep,
}

/// The part of a task that the executor reads without knowing its future.
pub(crate) struct Header {
    pub(crate) index: u32,
    pub(crate) name: TaskName,
    pub(crate) wait: Cell<WaitOn>,
    /// `wait` as one number (`WaitOn::key`; 0 when it has none), so that
    /// waiting on the same thing again is noticed with one compare.
    pub(crate) wait_key: Cell<usize>,
    join_waker: Cell<Option<Waker>>,
}

/// The `wait_key` of waiting to `op` on the channel at `chan`: its address
/// (channels are aligned to 8, so the low three bits are free) with the
/// direction in the lowest bit.
#[inline(always)]
pub(crate) fn chan_wait_key(op: ChanOp, chan: *const ()) -> usize {
    debug_assert_eq!(chan as usize & 0b111, 0, "a channel is aligned to 8");
    chan as usize | op as usize
}

impl WaitOn {
    /// This note as one number, for `Header::wait_key`: a channel's
    /// `chan_wait_key` (low bits `00x`), a joined task's number above the
    /// low bits `010`, or `100` for a sleep; 0 where one number cannot say
    /// it (nothing, or a select's arms).
    pub(crate) fn key(&self) -> usize {
        match self {
            WaitOn::Chan(op, chan) => chan_wait_key(*op, alloc::sync::Arc::as_ptr(chan).cast()),
            WaitOn::Join(index) => ((*index as usize) << 3) | 0b010,
            WaitOn::Sleep => 0b100,
            WaitOn::Nothing | WaitOn::Select(_) => 0,
        }
    }
}

impl Header {
    /// Replaces the note of what the task waits on.
    pub(crate) fn set_wait(&self, wait: WaitOn) {
        let key = wait.key();
        drop(self.wait.take()); // before the new note: a drop may run user code
        self.wait.set(wait);
        self.wait_key.set(key);
    }
}

enum Stage<F: Future> {
    Running(F),
    Finished(F::Output),
    Taken,
}

// `repr(C)` with the header first: a pointer to any task is a pointer to
// its header (see `header_of`), read without a virtual call.
#[repr(C)]
pub(crate) struct TaskCell<F: Future> {
    header: Header,
    stage: RefCell<Stage<F>>,
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(index: u32, name: TaskName, future: F) -> Self {
        TaskCell {
            header: Header {
                index,
                name,
                wait: Cell::default(),
                wait_key: Cell::new(0),
                join_waker: Cell::new(None),
            },
            stage: RefCell::new(Stage::Running(future)),
        }
    }
}

/// The header of a task, from a pointer to it.
///
/// # Safety
/// `task` points to a live task, and the header is used only while it lives.
#[inline(always)]
pub(crate) unsafe fn header_of<'a>(task: core::ptr::NonNull<dyn ErasedTask>) -> &'a Header {
    // SAFETY: every `ErasedTask` is a `TaskCell` (the trait is implemented
    // for nothing else), which is `repr(C)` with its header first, so the
    // task's address is its header's; the caller keeps the task alive.
    unsafe { task.cast::<Header>().as_ref() }
}

/// A task as the executor sees it. Implemented only by `TaskCell`, which
/// `header_of` relies on.
pub(crate) trait ErasedTask {
    fn header(&self) -> &Header;
    /// Polls the future once; `Ready` when it has finished.
    fn poll(&self, cx: &mut Context<'_>) -> Poll<()>;
}

impl<F: Future> ErasedTask for TaskCell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut stage = self.stage.borrow_mut();
        let Stage::Running(future) = &mut *stage else {
            return Poll::Ready(());
        };
        // SAFETY: the future lives inside an `Rc` allocation that never moves,
        // and it is only ever dropped in place (by overwriting `stage`).
        let future = unsafe { Pin::new_unchecked(future) };
        match future.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(output) => {
                *stage = Stage::Finished(output);
                drop(stage);
                if let Some(waker) = self.header.join_waker.take() {
                    waker.wake();
                }
                Poll::Ready(())
            }
        }
    }
}

/// The output side of a task, typed by its output only.
trait JoinTarget<T> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<T>;
    fn is_finished(&self) -> bool;
    fn header(&self) -> &Header;
}

impl<F: Future> JoinTarget<F::Output> for TaskCell<F> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut stage = self.stage.borrow_mut();
        if let Stage::Finished(_) = &*stage {
            match core::mem::replace(&mut *stage, Stage::Taken) {
                Stage::Finished(output) => return Poll::Ready(output),
                _ => unreachable!(),
            }
        }
        assert!(
            !matches!(*stage, Stage::Taken),
            "JoinHandle polled after it returned"
        );
        self.header.join_waker.set(Some(cx.waker().clone()));
        super::set_wait(WaitOn::Join(self.header.index));
        Poll::Pending
    }

    fn is_finished(&self) -> bool {
        !matches!(*self.stage.borrow(), Stage::Running(_))
    }

    fn header(&self) -> &Header {
        &self.header
    }
}

/// Awaits a spawned task's output. Dropping it detaches the task, which
/// keeps running.
pub struct JoinHandle<T> {
    task: Rc<dyn JoinTarget<T>, TaskAlloc>,
}

// SAFETY: the handle only lets its owner take the task's output, which is
// `Isolated` itself; the shared cell behind it is the executor's business.
unsafe impl<T: Isolated> Isolated for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Whether the task has finished (its output may already be taken).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.task.header().name
    }

    pub(super) fn index(&self) -> u32 {
        self.task.header().index
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.task.poll_join(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = self.task.header();
        write!(f, "JoinHandle(task {} {:?})", header.index, header.name)
    }
}

/// Spawns onto `shared`; the caller has checked that it is the current executor.
pub(super) fn spawn_on<F>(
    shared: &'static Shared,
    name: TaskName,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    super::count(|c| &c.tasks_spawned);
    let slot = shared.alloc_slot();
    let cell = Rc::new_in(TaskCell::new(slot.index, name, future), TaskAlloc);
    shared.insert_task(slot, cell.clone());
    JoinHandle { task: cell }
}
