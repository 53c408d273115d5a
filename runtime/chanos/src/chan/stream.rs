//! `Receiver` as a `futures::Stream`, and `SinkSender`, a `Sender` made
//! into a `futures::Sink`.

use super::ops::{cancel_send, poll_recv, poll_send, SendOp};
use super::{Receiver, SendError, Sender};
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::Stream;
use futures_sink::Sink;

impl<T> Unpin for Receiver<T> {}

/// A [`Sender`] as a `futures::Sink`, from [`Sender::into_sink`]. It holds
/// the one send in progress, so that plain senders carry no such state.
pub struct SinkSender<T> {
    sender: Sender<T>,
    op: SendOp<T>,
}

impl<T> Sender<T> {
    /// Makes this sender a `futures::Sink` (e.g. for `StreamExt::forward`).
    pub fn into_sink(self) -> SinkSender<T> {
        SinkSender {
            sender: self,
            op: SendOp::Empty,
        }
    }
}

impl<T> SinkSender<T> {
    /// The sender inside.
    pub fn get_ref(&self) -> &Sender<T> {
        &self.sender
    }
}

impl<T> Unpin for SinkSender<T> {}

impl<T> Drop for SinkSender<T> {
    fn drop(&mut self) {
        cancel_send(&self.sender.chan, &mut self.op);
    }
}

impl<T> fmt::Debug for SinkSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SinkSender").field(&self.sender).finish()
    }
}

impl<T: 'static> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        poll_recv(&this.chan, &mut this.stream, cx)
    }
}

/// Sends one value at a time: `start_send` begins a send, and `poll_ready` /
/// `poll_flush` wait until the channel has taken it. `poll_close` flushes;
/// the channel closes when the last sender is dropped.
impl<T: 'static> Sink<T> for SinkSender<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        assert!(
            matches!(self.op, SendOp::Empty),
            "start_send without poll_ready"
        );
        self.op = SendOp::Ready(item);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = &mut *self;
        poll_send(&this.sender.chan, &mut this.op, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }
}
