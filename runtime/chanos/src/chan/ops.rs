//! The waiting side of channel operations: the `Recv` and `Send` futures
//! and the poll functions that `Stream`, `Sink` and oneshot reuse.

use super::wake_one;
use super::{
    Chan, Receiver, RecvRefusal, RecvWait, SendError, SendRefusal, SendWait, Sender, Token,
};
use crate::executor::{set_wait_chan, ChanOp};
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A receive in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RecvOp {
    Idle,
    Waiting(Token),
}

/// A send in progress.
#[derive(Debug)]
pub(crate) enum SendOp<T> {
    Empty,
    Ready(T),
    Waiting(Token),
}

#[inline(always)]
pub(crate) fn poll_recv<T: 'static>(
    chan: &Arc<Chan<T>>,
    op: &mut RecvOp,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    if let RecvOp::Idle = op {
        core::task::ready!(crate::executor::poll_budget(cx));
    }
    let mut state = chan.state.lock();
    if let RecvOp::Waiting(token) = *op {
        match state.poll_recv_waiter(token, cx.waker()) {
            RecvWait::Handed(value) => {
                *op = RecvOp::Idle;
                return Poll::Ready(Some(value));
            }
            RecvWait::Waiting => {
                drop(state);
                set_wait_chan(ChanOp::Recv, chan);
                return Poll::Pending;
            }
            RecvWait::Gone => *op = RecvOp::Idle,
        }
    }
    match state.try_recv() {
        Ok((value, waker)) => {
            drop(state);
            wake_one(waker);
            Poll::Ready(Some(value))
        }
        Err(RecvRefusal::Closed) => Poll::Ready(None),
        Err(RecvRefusal::Empty) => {
            *op = RecvOp::Waiting(state.wait_recv(cx.waker(), None));
            drop(state);
            set_wait_chan(ChanOp::Recv, chan);
            Poll::Pending
        }
    }
}

#[inline(always)] // runs on every drop of a receive; usually there is nothing to do
pub(crate) fn cancel_recv<T>(chan: &Chan<T>, op: &mut RecvOp) {
    if let RecvOp::Waiting(token) = core::mem::replace(op, RecvOp::Idle) {
        withdraw_recv(chan, token);
    }
}

/// Withdraws the waiting receive `token`; a value already handed to it goes on.
#[cold] // a receive dropped while it waits: rare, and kept out of every drop
#[inline(never)]
pub(crate) fn withdraw_recv<T>(chan: &Chan<T>, token: Token) {
    let waker = chan.state.lock().cancel_recv(token);
    wake_one(waker);
}

#[inline(always)] // into the awaiting future: the common cases take no call
pub(crate) fn poll_send<T: 'static>(
    chan: &Arc<Chan<T>>,
    op: &mut SendOp<T>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), SendError<T>>> {
    match *op {
        SendOp::Waiting(token) => {
            let mut state = chan.state.lock();
            match state.poll_send_waiter(token, cx.waker()) {
                SendWait::Taken => {
                    *op = SendOp::Empty;
                    Poll::Ready(Ok(()))
                }
                SendWait::Waiting => {
                    drop(state);
                    set_wait_chan(ChanOp::Send, chan);
                    Poll::Pending
                }
                SendWait::Refused(value) => {
                    *op = SendOp::Empty;
                    Poll::Ready(Err(SendError(value)))
                }
            }
        }
        SendOp::Ready(_) => {
            core::task::ready!(crate::executor::poll_budget(cx));
            let SendOp::Ready(value) = core::mem::replace(op, SendOp::Empty) else {
                unreachable!("matched above")
            };
            let mut state = chan.state.lock();
            match state.try_send(value) {
                Ok(waker) => {
                    drop(state);
                    wake_one(waker);
                    Poll::Ready(Ok(()))
                }
                Err(SendRefusal::Full(value)) => {
                    *op = SendOp::Waiting(state.wait_send(value, cx.waker(), None));
                    drop(state);
                    set_wait_chan(ChanOp::Send, chan);
                    Poll::Pending
                }
                Err(SendRefusal::Closed(value)) => Poll::Ready(Err(SendError(value))),
            }
        }
        SendOp::Empty => Poll::Ready(Ok(())),
    }
}

/// Withdraws a send in progress; its value, if not delivered, is dropped.
#[inline(always)] // runs on every drop of a send; usually there is nothing to do
pub(crate) fn cancel_send<T>(chan: &Chan<T>, op: &mut SendOp<T>) {
    if let SendOp::Waiting(token) = *op {
        *op = SendOp::Empty;
        drop(withdraw_send(chan, token));
    }
}

/// Withdraws the waiting send `token`; its value comes back if undelivered.
#[cold] // as `withdraw_recv`
#[inline(never)]
pub(crate) fn withdraw_send<T>(chan: &Chan<T>, token: Token) -> Option<T> {
    chan.state.lock().cancel_send(token)
}

/// The future of [`Receiver::recv`]: the next value, or `None` when closed.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Recv<'a, T> {
    pub(crate) receiver: &'a Receiver<T>,
    op: RecvOp,
}

impl<'a, T> Recv<'a, T> {
    pub(super) fn new(receiver: &'a Receiver<T>) -> Self {
        Recv {
            receiver,
            op: RecvOp::Idle,
        }
    }
}

impl<T: 'static> Future for Recv<'_, T> {
    type Output = Option<T>;

    #[inline(always)] // see `poll_send` and `poll_recv`
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        poll_recv(&this.receiver.chan, &mut this.op, cx)
    }
}

impl<T> Drop for Recv<'_, T> {
    #[inline(always)] // see `cancel_recv`
    fn drop(&mut self) {
        cancel_recv(&self.receiver.chan, &mut self.op);
    }
}

/// The future of [`Sender::send`]: `Err` gives the value back when it can
/// never be delivered.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Send<'a, T> {
    pub(crate) sender: &'a Sender<T>,
    op: SendOp<T>,
}

impl<'a, T> Send<'a, T> {
    pub(super) fn new(sender: &'a Sender<T>, value: T) -> Self {
        Send {
            sender,
            op: SendOp::Ready(value),
        }
    }

    /// The value, when the send has not started (used by `select!`).
    pub(crate) fn take_unsent(&mut self) -> Option<T> {
        match core::mem::replace(&mut self.op, SendOp::Empty) {
            SendOp::Ready(value) => Some(value),
            other => {
                self.op = other;
                None
            }
        }
    }
}

// `Send` holds no self-references: moving it is fine.
impl<T> Unpin for Send<'_, T> {}

impl<T: 'static> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline(always)] // see `poll_send` and `poll_recv`
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        poll_send(&this.sender.chan, &mut this.op, cx)
    }
}

impl<T> Drop for Send<'_, T> {
    #[inline(always)] // see `cancel_send`
    fn drop(&mut self) {
        cancel_send(&self.sender.chan, &mut self.op);
    }
}
