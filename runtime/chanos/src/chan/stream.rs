//! `Receiver` as a `futures::Stream`, `Sender` as a `futures::Sink`.

use super::ops::{poll_recv, poll_send, SendOp};
use super::{Receiver, SendError, Sender};
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::Stream;
use futures_sink::Sink;

impl<T> Unpin for Receiver<T> {}
impl<T> Unpin for Sender<T> {}

impl<T: 'static> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        poll_recv(&this.chan, &mut this.stream, cx)
    }
}

/// A `Sink` that sends one value at a time: `start_send` begins a send, and
/// `poll_ready` / `poll_flush` wait until the channel has taken it.
/// `poll_close` flushes; the channel closes when the last sender is dropped.
impl<T: 'static> Sink<T> for Sender<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        assert!(
            matches!(self.sink, SendOp::Empty),
            "start_send without poll_ready"
        );
        self.sink = SendOp::Ready(item);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = &mut *self;
        poll_send(&this.chan, &mut this.sink, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }
}
