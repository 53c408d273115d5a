//! The logic of one channel, as plain data with `&mut self` methods.
//!
//! No executor, no `RefCell`, no user code here: a chanos waker is woken in
//! place (it only pushes a task onto this core's run queue), while a foreign
//! waker and any value to drop are returned, and the caller wakes or drops
//! them after releasing the channel, so that no user code (a `Drop`, a foreign
//! waker) ever runs while the channel is borrowed. That also makes this file
//! testable on its own.
//!
//! # The Go contract, and how it is kept
//! - A value goes to the receiver that has waited longest: a send first hands
//!   it straight to the head of `recv_waiters` (the rendezvous case, and the
//!   buffered case when receivers wait on an empty buffer); otherwise it is
//!   buffered while there is room; otherwise the sender waits in
//!   `send_waiters`, with its value, in FIFO order.
//! - A receive takes the oldest buffered value and then lets the longest-
//!   waiting sender move its value into the freed room; with no buffer
//!   (capacity 0) it takes the waiting sender's value directly.
//! - `close()` ends every waiting send: from then on no receive takes a
//!   waiting sender's value (receivers drain the buffer, then see Closed),
//!   and each waiting sender gets its value back when it is next polled.
//! - Values handed to a waiting receiver sit in its entry of the wait queue
//!   (`wait_queue`) until it collects them; if it is cancelled first, the value is
//!   offered to the next receiver or put back at the head of the buffer:
//!   never lost.
//! - A waiter may belong to a `select!` ([`SelectClaim`]); handing to it or
//!   taking from it first claims the select, which fails when another arm of
//!   that select already won. Such stale waiters are skipped, not removed:
//!   their select removes them itself when it wakes.
//! - No lost wake-ups: an operation tries first, and registers as a waiter
//!   only when it cannot complete, in the same borrow of the channel; every
//!   change that can complete a waiter (a send, a receive, a close, the last
//!   receiver leaving) returns that waiter's waker. The executor is single-
//!   threaded, so nothing can happen between the try and the registration.

pub(crate) use super::wait_queue::Token;
use super::wait_queue::{Polled, SelectArmRef, WaitQueue};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Waker;

/// The shared fate of a `select!`'s arms: the first arm to complete claims it.
#[derive(Debug)]
pub(crate) struct SelectClaim {
    /// The arm that won, or `NOT_FIRED`; set once, by whichever core's
    /// counterpart claims the select first.
    fired: AtomicU32,
}

const NOT_FIRED: u32 = u32::MAX;

impl Default for SelectClaim {
    fn default() -> Self {
        SelectClaim {
            fired: AtomicU32::new(NOT_FIRED),
        }
    }
}

impl SelectClaim {
    pub(crate) fn fired(&self) -> Option<u16> {
        match self.fired.load(Ordering::Acquire) {
            NOT_FIRED => None,
            arm => Some(arm as u16),
        }
    }

    /// Claims the select for `arm`; false when another arm won first.
    pub(crate) fn try_fire(&self, arm: u16) -> bool {
        self.fired
            .compare_exchange(
                NOT_FIRED,
                u32::from(arm),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

/// Why `try_send` did not send; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendRefusal<T> {
    Full(T),
    Closed(T),
}

/// Why `try_recv` did not receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvRefusal {
    Empty,
    Closed,
}

/// Where a waiting receiver stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecvWait<T> {
    Handed(T),
    Waiting,
    /// No longer waiting and nothing handed (woken by a close): try again.
    Gone,
}

/// Where a waiting sender stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendWait<T> {
    Taken,
    Waiting,
    /// The channel closed or lost its receivers: the value comes back.
    Refused(T),
}

#[derive(Debug)]
pub(crate) struct ChannelState<T> {
    buf: VecDeque<T>,
    cap: usize,
    receivers_waiting: WaitQueue<T>,
    senders_waiting: WaitQueue<T>,
    senders: usize,
    receivers: usize,
    closed: bool,
}

impl<T> ChannelState<T> {
    /// A channel with one sender, one receiver and room for `cap` values.
    pub(crate) fn new(cap: usize) -> Self {
        ChannelState {
            buf: VecDeque::with_capacity(cap.min(1024)),
            cap,
            receivers_waiting: WaitQueue::default(),
            senders_waiting: WaitQueue::default(),
            senders: 1,
            receivers: 1,
            closed: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Closed explicitly, or every sender is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed || self.senders == 0
    }

    /// Sending can never succeed again.
    #[inline(always)]
    pub(crate) fn refuses_sends(&self) -> bool {
        self.closed || self.receivers == 0
    }

    /// Claims the longest-waiting sender that can still give its value.
    /// None once the channel is closed: a send still waiting then fails and
    /// gets its value back, whoever is polled first (Go's semantics).
    #[inline(always)] // hot: once per handoff
    fn claim_sender(&mut self) -> Option<(Option<Waker>, T)> {
        if self.closed {
            return None;
        }
        let taken = self.senders_waiting.take_offered()?;
        crate::executor::count(|c| &c.messages);
        Some(taken)
    }

    /// Hands `value` to the longest-waiting receiver, or buffers it.
    #[inline(always)] // hot: once per send
    fn offer(&mut self, value: T) -> Result<Option<Waker>, SendRefusal<T>> {
        let value = match self.receivers_waiting.hand(value) {
            Ok(waker) => {
                crate::executor::count(|c| &c.messages);
                return Ok(waker);
            }
            Err(value) => value,
        };
        if self.buf.len() < self.cap {
            self.buf.push_back(value);
            crate::executor::count(|c| &c.messages);
            return Ok(None);
        }
        Err(SendRefusal::Full(value))
    }

    #[inline(always)] // hot: once per send
    pub(crate) fn try_send(&mut self, value: T) -> Result<Option<Waker>, SendRefusal<T>> {
        if self.refuses_sends() {
            return Err(SendRefusal::Closed(value));
        }
        self.offer(value)
    }

    #[inline(always)] // hot: once per receive
    pub(crate) fn try_recv(&mut self) -> Result<(T, Option<Waker>), RecvRefusal> {
        if let Some(value) = self.buf.pop_front() {
            let woken = self.claim_sender().and_then(|(waker, moved)| {
                self.buf.push_back(moved);
                waker
            });
            return Ok((value, woken));
        }
        if let Some((waker, value)) = self.claim_sender() {
            return Ok((value, waker));
        }
        Err(if self.is_closed() {
            RecvRefusal::Closed
        } else {
            RecvRefusal::Empty
        })
    }

    /// Whether `try_recv` would complete now (with a value or with Closed).
    pub(crate) fn recv_ready(&self) -> bool {
        !self.buf.is_empty() || self.senders_waiting.any_claimable() || self.is_closed()
    }

    /// Whether `try_send` would complete now (sent, or refused as closed).
    pub(crate) fn send_ready(&self) -> bool {
        self.refuses_sends() || self.receivers_waiting.any_claimable() || self.buf.len() < self.cap
    }

    pub(crate) fn wait_recv(&mut self, waker: &Waker, select: Option<SelectArmRef>) -> Token {
        self.receivers_waiting.push(None, waker, select)
    }

    pub(crate) fn wait_send(
        &mut self,
        value: T,
        waker: &Waker,
        select: Option<SelectArmRef>,
    ) -> Token {
        self.senders_waiting.push(Some(value), waker, select)
    }

    #[inline(always)] // hot: once per wait
    pub(crate) fn poll_recv_waiter(&mut self, token: Token, waker: &Waker) -> RecvWait<T> {
        match self.receivers_waiting.poll(token, waker) {
            Polled::Value(value) => RecvWait::Handed(value),
            Polled::Waiting => RecvWait::Waiting,
            Polled::Done => RecvWait::Gone,
        }
    }

    #[inline(always)] // hot: once per wait
    pub(crate) fn poll_send_waiter(&mut self, token: Token, waker: &Waker) -> SendWait<T> {
        if self.refuses_sends() {
            return self.refuse_waiting_send(token);
        }
        match self.senders_waiting.poll(token, waker) {
            Polled::Waiting => SendWait::Waiting,
            Polled::Done => SendWait::Taken,
            // Dismissed with its value: only a select that lost is, and
            // it withdraws rather than polls; refuse rather than lose it.
            Polled::Value(value) => SendWait::Refused(value),
        }
    }

    /// A waiting send on a channel that refuses sends: its value comes back
    /// unless a receiver took it first.
    #[cold]
    fn refuse_waiting_send(&mut self, token: Token) -> SendWait<T> {
        match self.senders_waiting.withdraw(token) {
            Some(value) => SendWait::Refused(value),
            None => SendWait::Taken,
        }
    }

    /// Withdraws a waiting receive. A value already handed to it goes to the
    /// next waiting receiver, or back to the head of the buffer.
    pub(crate) fn cancel_recv(&mut self, token: Token) -> Option<Waker> {
        let value = self.receivers_waiting.withdraw(token)?;
        match self.receivers_waiting.hand(value) {
            Ok(waker) => waker,
            Err(value) => {
                self.buf.push_front(value);
                None
            }
        }
    }

    /// Withdraws a waiting send; its value comes back (None if it was taken).
    pub(crate) fn cancel_send(&mut self, token: Token) -> Option<T> {
        self.senders_waiting.withdraw(token)
    }

    /// Closes the channel: waiting receivers wake to drain it (then see
    /// Closed), waiting senders wake to take their values back.
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        self.closed = true;
        self.wake_everyone()
    }

    fn wake_everyone(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        self.receivers_waiting.dismiss_all(&mut wakers);
        self.senders_waiting.wakers(&mut wakers);
        wakers
    }

    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    pub(crate) fn add_receiver(&mut self) {
        self.receivers += 1;
    }

    /// One sender fewer; the last one closes the channel.
    pub(crate) fn drop_sender(&mut self) -> Vec<Waker> {
        self.senders -= 1;
        if self.senders == 0 {
            self.wake_everyone()
        } else {
            Vec::new()
        }
    }

    /// One receiver fewer. When it was the last, waiting senders wake to
    /// take their values back, and the buffered values are returned, to be
    /// dropped by the caller.
    pub(crate) fn drop_receiver(&mut self) -> (Vec<Waker>, VecDeque<T>) {
        self.receivers -= 1;
        if self.receivers > 0 {
            return (Vec::new(), VecDeque::new());
        }
        let mut unread = core::mem::take(&mut self.buf);
        unread.extend(self.receivers_waiting.take_values());
        (self.wake_everyone(), unread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::vec;
    use core::task::Waker;

    fn noop() -> Waker {
        Waker::noop().clone()
    }

    #[test]
    fn a_send_hands_its_value_to_the_longest_waiting_receiver() {
        let mut ch = ChannelState::<u32>::new(0);
        let first = ch.wait_recv(&noop(), None);
        let second = ch.wait_recv(&noop(), None);
        assert!(ch.try_send(1).unwrap().is_some(), "the receiver is woken");
        assert_eq!(ch.poll_recv_waiter(second, &noop()), RecvWait::Waiting);
        assert_eq!(ch.poll_recv_waiter(first, &noop()), RecvWait::Handed(1));
        assert_eq!(ch.len(), 0, "a rendezvous buffers nothing");
    }

    #[test]
    fn a_receive_takes_from_the_buffer_and_lets_a_waiting_sender_refill_it() {
        let mut ch = ChannelState::<u32>::new(1);
        ch.try_send(1).unwrap();
        assert_eq!(ch.try_send(2).err(), Some(SendRefusal::Full(2)));
        let sender = ch.wait_send(2, &noop(), None);
        let (value, woken) = ch.try_recv().unwrap();
        assert_eq!((value, woken.is_some()), (1, true));
        assert_eq!(ch.poll_send_waiter(sender, &noop()), SendWait::Taken);
        assert_eq!(ch.try_recv().map(|(v, _)| v), Ok(2));
        assert_eq!(ch.try_recv().map(|(v, _)| v), Err(RecvRefusal::Empty));
    }

    #[test]
    fn a_select_that_already_fired_is_skipped_not_served() {
        let mut ch = ChannelState::<u32>::new(0);
        let claim = Arc::new(SelectClaim::default());
        let stale = ch.wait_recv(&noop(), Some((claim.clone(), 0)));
        assert!(claim.try_fire(3)); // another arm of that select won
        let plain = ch.wait_recv(&noop(), None);
        assert!(ch.send_ready());
        ch.try_send(9).unwrap();
        assert_eq!(ch.poll_recv_waiter(plain, &noop()), RecvWait::Handed(9));
        assert!(!ch.send_ready(), "a stale waiter makes no room");
        assert!(ch.cancel_recv(stale).is_none(), "its select withdraws it");
        assert!(!ch.send_ready());
    }

    #[test]
    fn claiming_a_select_waiter_marks_the_arm_that_won() {
        let mut ch = ChannelState::<u32>::new(0);
        let claim = Arc::new(SelectClaim::default());
        ch.wait_send(4, &noop(), Some((claim.clone(), 2)));
        assert!(ch.recv_ready());
        assert_eq!(ch.try_recv().map(|(v, _)| v), Ok(4));
        assert_eq!(claim.fired(), Some(2));
    }

    #[test]
    fn a_cancelled_receive_passes_its_value_on_or_puts_it_back() {
        let mut ch = ChannelState::<u32>::new(0);
        let a = ch.wait_recv(&noop(), None);
        let b = ch.wait_recv(&noop(), None);
        ch.try_send(1).unwrap(); // to a
        assert!(ch.cancel_recv(a).is_some(), "b is woken with a's value");
        assert_eq!(ch.poll_recv_waiter(b, &noop()), RecvWait::Handed(1));
        let c = ch.wait_recv(&noop(), None);
        ch.try_send(2).unwrap(); // to c
        assert!(ch.cancel_recv(c).is_none());
        assert_eq!(ch.len(), 1, "back at the head of the buffer");
        assert_eq!(ch.try_recv().map(|(v, _)| v), Ok(2));
    }

    #[test]
    fn closing_wakes_receivers_and_refuses_waiting_senders() {
        let mut ch = ChannelState::<u32>::new(1);
        ch.try_send(1).unwrap();
        let sender = ch.wait_send(2, &noop(), None);
        assert_eq!(ch.close().len(), 1);
        assert_eq!(ch.poll_send_waiter(sender, &noop()), SendWait::Refused(2));
        assert_eq!(
            ch.try_recv().map(|(v, _)| v),
            Ok(1),
            "buffered values drain"
        );
        assert_eq!(ch.try_recv().map(|(v, _)| v), Err(RecvRefusal::Closed));
        assert_eq!(ch.try_send(3).err(), Some(SendRefusal::Closed(3)));
    }

    #[test]
    fn after_close_no_receive_takes_a_waiting_senders_value() {
        for cap in [0, 1] {
            let mut ch = ChannelState::<u32>::new(cap);
            if cap == 1 {
                ch.try_send(100).unwrap();
            }
            let senders: Vec<Token> = (0..8).map(|v| ch.wait_send(v, &noop(), None)).collect();
            assert_eq!(ch.close().len(), 8, "every waiting sender is woken");
            if cap == 1 {
                assert_eq!(ch.try_recv().map(|(v, _)| v), Ok(100), "the buffer drains");
            }
            assert_eq!(ch.try_recv().map(|(v, _)| v), Err(RecvRefusal::Closed));
            for (value, token) in senders.into_iter().enumerate() {
                let back = SendWait::Refused(value as u32);
                assert_eq!(ch.poll_send_waiter(token, &noop()), back, "capacity {cap}");
            }
        }
    }

    #[test]
    fn the_last_receiver_leaving_returns_what_was_unread() {
        let mut ch = ChannelState::<u32>::new(2);
        ch.add_receiver();
        ch.try_send(1).unwrap();
        ch.try_send(2).unwrap();
        let sender = ch.wait_send(3, &noop(), None);
        assert_eq!(ch.drop_receiver().1.len(), 0, "one receiver is left");
        let (woken, unread) = ch.drop_receiver();
        assert_eq!((woken.len(), Vec::from(unread)), (1, vec![1, 2]));
        assert_eq!(ch.poll_send_waiter(sender, &noop()), SendWait::Refused(3));
    }

    #[test]
    fn the_last_sender_leaving_closes_the_channel() {
        let mut ch = ChannelState::<u32>::new(0);
        ch.add_sender();
        let receiver = ch.wait_recv(&noop(), None);
        assert!(ch.drop_sender().is_empty());
        assert!(!ch.is_closed());
        assert_eq!(ch.drop_sender().len(), 1);
        assert!(ch.is_closed());
        assert_eq!(ch.poll_recv_waiter(receiver, &noop()), RecvWait::Gone);
    }
}
