//! Bounded channels with Go's semantics: the only way chanos tasks share data.
//!
//! ```
//! # chanos::Runtime::new().block_on(async {
//! use chanos::chan;
//! let (tx, rx) = chan::bounded::<u32>(0); // a rendezvous, like Go's `make(chan int)`
//! chanos::spawn(async move { tx.send(7).await.unwrap() });
//! assert_eq!(rx.recv().await, Some(7));
//! assert_eq!(rx.recv().await, None); // the sender is gone: closed
//! # }).unwrap();
//! ```
//!
//! # Contract
//! - [`bounded(0)`](bounded) is a rendezvous: a send completes only when a
//!   receiver takes the value. `bounded(n)` buffers up to `n` values.
//! - Ends are cloned for more senders and receivers. Waiting senders and
//!   waiting receivers are each served first come, first served.
//! - **Disconnection.** Dropping the last [`Sender`], or [`Sender::close`],
//!   closes the channel: receivers drain what is buffered, then get `None`.
//!   Sending on a closed channel, or one whose receivers are all gone,
//!   returns the value in the error. A receive that was already waiting when
//!   the channel closed wakes and sees `None`; so does a waiting send, which
//!   gets its value back.
//! - **Cancel safety.** Dropping a [`Recv`] future loses nothing: a value
//!   already handed to it goes to the next receiver, or back to the head of
//!   the buffer (which can then hold one more than its capacity for a while).
//!   Dropping a [`Send`] future before it completed withdraws the value: it
//!   was never delivered.
//! - **Allocation.** A channel allocates once when made; its queues grow to
//!   the largest number of waiters seen and are reused, so a send or a
//!   receive on a warm channel does not allocate.
//! - Channels, like tasks, carry only [`Isolated`](crate::Isolated) values.

pub(crate) mod lock;
pub(crate) mod lock_word;
pub mod oneshot;
mod ops;
mod state;
mod stream;
mod wait_queue;

pub(crate) use ops::{withdraw_recv, withdraw_send};
pub use ops::{Recv, Send};
pub(crate) use state::{RecvRefusal, RecvWait, SelectClaim, SendRefusal, SendWait, Token};
pub use stream::SinkSender;

use crate::executor::Labelled;
use crate::Isolated;
use alloc::sync::Arc;
use core::fmt;
use core::panic::Location;
use state::ChannelState;

/// Where a channel came from, for reports.
struct ChanLabel {
    name: Option<&'static str>,
    capacity: usize,
    made_at: &'static Location<'static>,
}

pub(crate) struct Chan<T> {
    label: ChanLabel,
    pub(crate) state: lock::ChanLock<ChannelState<T>>,
}

impl<T> Labelled for Chan<T> {
    fn label(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.label.name {
            write!(f, "channel {name:?} ")?;
        } else {
            write!(f, "channel ")?;
        }
        write!(
            f,
            "(capacity {}, made at {})",
            self.label.capacity, self.label.made_at
        )
    }
}

pub(crate) fn wake_one(waker: Option<core::task::Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

pub(crate) fn wake_all(wakers: alloc::vec::Vec<core::task::Waker>) {
    wakers.into_iter().for_each(core::task::Waker::wake);
}

/// Makes a channel that buffers `capacity` values; 0 makes a rendezvous.
/// Reports name it by where it was made; [`bounded_named`] gives it a name.
#[track_caller]
pub fn bounded<T: Isolated + 'static>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    make(capacity, None, Location::caller())
}

/// Makes a channel with a name, which deadlock reports show.
#[track_caller]
pub fn bounded_named<T: Isolated + 'static>(
    capacity: usize,
    name: &'static str,
) -> (Sender<T>, Receiver<T>) {
    make(capacity, Some(name), Location::caller())
}

pub(crate) fn make<T: 'static>(
    capacity: usize,
    name: Option<&'static str>,
    made_at: &'static Location<'static>,
) -> (Sender<T>, Receiver<T>) {
    crate::executor::count(|c| &c.channels_made);
    let chan = Arc::new(Chan {
        label: ChanLabel {
            name,
            capacity,
            made_at,
        },
        state: lock::ChanLock::new(ChannelState::new(capacity)),
    });
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            stream: ops::RecvOp::Idle,
        },
    )
}

/// The sending end of a channel. Clone it for more senders;
/// [`into_sink`](Sender::into_sink) makes it a [`Sink`](futures_sink::Sink).
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving end of a channel. Clone it for more receivers; it is also
/// a [`Stream`](futures_core::Stream) of the values.
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
    /// The receive in progress when the receiver is used as a `Stream`.
    stream: ops::RecvOp,
}

// SAFETY: a channel end gives access only to the channel, whose values are
// `Isolated` and move from one task to another, never shared.
#[allow(unsafe_code)]
unsafe impl<T: Isolated> Isolated for Sender<T> {}
// SAFETY: as for `Sender`.
#[allow(unsafe_code)]
unsafe impl<T: Isolated> Isolated for Receiver<T> {}

/// The value of a send that can never be delivered: the channel is closed or
/// every receiver is gone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No room, and no receiver waiting.
    Full(T),
    /// The channel is closed or has no receivers.
    Closed(T),
}

/// Why [`Receiver::try_recv`] did not receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing buffered and no sender waiting.
    Empty,
    /// Closed, and everything buffered has been received.
    Closed,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room (or, on a rendezvous, for a receiver).
    ///
    /// # Cancel safety
    /// Dropping the future before it completes withdraws the value; it is
    /// then never delivered.
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send::new(self, value)
    }

    /// Sends without waiting.
    #[inline(always)] // hot: a refill after each receive, often in a loop
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let result = self.chan.state.lock().try_send(value);
        match result {
            Ok(waker) => {
                wake_one(waker);
                Ok(())
            }
            Err(SendRefusal::Full(v)) => Err(TrySendError::Full(v)),
            Err(SendRefusal::Closed(v)) => Err(TrySendError::Closed(v)),
        }
    }

    /// Closes the channel for every sender: receivers drain what is
    /// buffered, then get `None`; waiting and later sends fail.
    pub fn close(&self) {
        let wakers = self.chan.state.lock().close();
        wake_all(wakers);
    }

    /// Whether sends can never succeed again (closed, or no receivers).
    pub fn is_closed(&self) -> bool {
        self.chan.state.lock().refuses_sends()
    }

    /// How many values are buffered.
    pub fn len(&self) -> usize {
        self.chan.state.lock().len()
    }

    /// Whether no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values the channel buffers (0 for a rendezvous).
    pub fn capacity(&self) -> usize {
        self.chan.label.capacity // fixed when made: no lock
    }
}

impl<T> Receiver<T> {
    /// Receives the next value; `None` once the channel is closed and drained.
    ///
    /// # Cancel safety
    /// Dropping the future loses no value (see the module docs).
    pub fn recv(&self) -> Recv<'_, T> {
        Recv::new(self)
    }

    /// Receives without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let result = self.chan.state.lock().try_recv();
        match result {
            Ok((value, waker)) => {
                wake_one(waker);
                Ok(value)
            }
            Err(RecvRefusal::Empty) => Err(TryRecvError::Empty),
            Err(RecvRefusal::Closed) => Err(TryRecvError::Closed),
        }
    }

    /// Whether the channel is closed (more buffered values may remain).
    pub fn is_closed(&self) -> bool {
        self.chan.state.lock().is_closed()
    }

    /// How many values are buffered.
    pub fn len(&self) -> usize {
        self.chan.state.lock().len()
    }

    /// Whether no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values the channel buffers (0 for a rendezvous).
    pub fn capacity(&self) -> usize {
        self.chan.label.capacity // fixed when made: no lock
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().add_receiver();
        Receiver {
            chan: self.chan.clone(),
            stream: ops::RecvOp::Idle,
        }
    }
}

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        crate::executor::count(|c| &c.channels_dropped);
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let wakers = self.chan.state.lock().drop_sender();
        wake_all(wakers);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        ops::cancel_recv(&self.chan, &mut self.stream);
        let (wakers, unread) = self.chan.state.lock().drop_receiver();
        wake_all(wakers);
        drop(unread);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sender({})", Shown(&*self.chan))
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Receiver({})", Shown(&*self.chan))
    }
}

struct Shown<'a>(&'a dyn Labelled);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.label(f)
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Closed => f.write_str("the channel is closed and drained"),
        }
    }
}

impl<T> core::error::Error for SendError<T> {}
impl<T> core::error::Error for TrySendError<T> {}
impl core::error::Error for TryRecvError {}
