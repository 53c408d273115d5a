//! Single-use channels: one value, one sender, one receiver (built on a
//! channel of capacity 1).

use super::ops::{cancel_recv, poll_recv, RecvOp};
use crate::Isolated;
use core::fmt;
use core::future::Future;
use core::panic::Location;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Makes a oneshot channel: one value from the sender to the receiver.
#[track_caller]
pub fn channel<T: Isolated + 'static>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = super::make(1, Some("oneshot"), Location::caller());
    (
        Sender { inner: tx },
        Receiver {
            inner: rx,
            op: RecvOp::Idle,
        },
    )
}

/// Sends the one value; never waits.
#[derive(Debug)]
pub struct Sender<T> {
    inner: super::Sender<T>,
}

/// Awaits the one value; `Err` when the sender was dropped without sending.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    inner: super::Receiver<T>,
    op: RecvOp,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending")
    }
}

impl core::error::Error for RecvError {}

impl<T> Sender<T> {
    /// Sends the value; gives it back when the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        self.inner.try_send(value).map_err(|e| match e {
            super::TrySendError::Full(v) | super::TrySendError::Closed(v) => v,
        })
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T: 'static> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        poll_recv(&this.inner.chan, &mut this.op, cx).map(|v| v.ok_or(RecvError))
    }
}

impl<T> Unpin for Receiver<T> {}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        cancel_recv(&self.inner.chan, &mut self.op);
    }
}
