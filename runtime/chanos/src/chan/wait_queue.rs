//! The waiters on one side of a channel: a first-come, first-served queue
//! whose entries stay where they are while their futures wait.
//!
//! Each waiting operation owns one entry of a slab, named by its [`Token`]
//! (the entry's index). The queue itself is a ring of indices, so serving
//! the longest waiter is a pop and an index, and a waiter finds what was
//! handed to it in its own entry: no search on the hot path. An entry is
//! freed only by its owner ([`WaitQueue::poll`] once it is done, or
//! [`WaitQueue::withdraw`]), so a token never names someone else's entry.
//! Freed entries keep their waker, so a task that waits again with the same
//! waker (the usual case) stores it without touching it.

use super::state::SelectClaim;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::task::Waker;

/// Names one waiting operation on one side of a channel (never zero, so
/// that an `Option` of it takes no extra space).
pub(crate) type Token = core::num::NonZeroU32;

/// A waiter that belongs to a `select!`: its claim, and its arm's number.
pub(crate) type SelectArmRef = (Rc<SelectClaim>, u16);

#[derive(Debug)]
struct Entry<T> {
    waker: Waker,
    select: Option<SelectArmRef>,
    /// A receiver's handed value, or a sender's value on offer.
    value: Option<T>,
    /// In `order`, waiting to be served.
    queued: bool,
    /// Owned by no one: on the free list.
    free: bool,
}

impl<T> Entry<T> {
    /// Whether this waiter can still be served: a `select!` whose other
    /// arm already won cannot.
    fn is_claimable(&self) -> bool {
        self.select
            .as_ref()
            .is_none_or(|(claim, _)| claim.fired().is_none())
    }
}

/// What [`WaitQueue::poll`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled<T> {
    /// Still waiting; the waker is updated.
    Waiting,
    /// Served or dismissed, holding a value; the entry is freed.
    Value(T),
    /// Served or dismissed with no value; the entry is freed.
    Done,
}

#[derive(Debug)]
pub(crate) struct WaitQueue<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    order: VecDeque<u32>,
}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        WaitQueue {
            entries: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
        }
    }
}

/// `Waker::clone_from`, with the usual case (the same waker) inlined.
#[inline(always)]
fn set_waker(kept: &mut Waker, waker: &Waker) {
    if !kept.will_wake(waker) {
        *kept = waker.clone();
    }
}

fn index(token: Token) -> usize {
    (token.get() - 1) as usize
}

impl<T> WaitQueue<T> {
    /// Queues a waiter at the back, holding `value` (a sender's).
    #[inline(always)] // hot: once per wait
    pub(crate) fn push(
        &mut self,
        value: Option<T>,
        waker: &Waker,
        select: Option<SelectArmRef>,
    ) -> Token {
        let i = match self.free.pop() {
            Some(i) => {
                let entry = &mut self.entries[i as usize];
                set_waker(&mut entry.waker, waker);
                entry.select = select;
                entry.value = value;
                entry.queued = true;
                entry.free = false;
                i
            }
            None => {
                let i = u32::try_from(self.entries.len()).expect("fewer than 2^32 waiters");
                self.entries.push(Entry {
                    waker: waker.clone(),
                    select,
                    value,
                    queued: true,
                    free: false,
                });
                i
            }
        };
        self.order.push_back(i);
        Token::MIN.saturating_add(i)
    }

    /// Takes the longest waiter that can still be served out of the queue,
    /// claiming its `select!`; waiters whose select already fired are
    /// dropped from the queue on the way (their select withdraws them).
    #[inline(always)] // hot: once per handoff
    fn claim(&mut self) -> Option<&mut Entry<T>> {
        loop {
            let i = self.order.pop_front()? as usize;
            let entry = &mut self.entries[i];
            entry.queued = false;
            if entry.is_claimable() {
                if let Some((claim, arm)) = &entry.select {
                    claim.fire(*arm);
                }
                return Some(&mut self.entries[i]);
            }
        }
    }

    /// Hands `value` to the longest waiting receiver; its waker, to wake.
    /// With no one to take it, the value comes back.
    #[inline(always)] // hot: once per handoff
    pub(crate) fn hand(&mut self, value: T) -> Result<Waker, T> {
        match self.claim() {
            Some(entry) => {
                entry.value = Some(value);
                Ok(entry.waker.clone())
            }
            None => Err(value),
        }
    }

    /// Takes the value of the longest waiting sender, and its waker.
    #[inline(always)] // hot: once per handoff
    pub(crate) fn take_offered(&mut self) -> Option<(Waker, T)> {
        let entry = self.claim()?;
        let value = entry
            .value
            .take()
            .expect("a waiting sender holds its value");
        Some((entry.waker.clone(), value))
    }

    /// Whether a waiter could be served now.
    pub(crate) fn any_claimable(&self) -> bool {
        self.order
            .iter()
            .any(|&i| self.entries[i as usize].is_claimable())
    }

    /// Looks at the waiter `token` for its owner; frees it once it is done.
    #[inline(always)] // hot: once per wait
    pub(crate) fn poll(&mut self, token: Token, waker: &Waker) -> Polled<T> {
        let entry = &mut self.entries[index(token)];
        if entry.queued {
            set_waker(&mut entry.waker, waker);
            return Polled::Waiting;
        }
        let value = entry.value.take();
        self.release(token);
        match value {
            Some(value) => Polled::Value(value),
            None => Polled::Done,
        }
    }

    /// Takes the waiter `token` out for good; its value, if it holds one.
    pub(crate) fn withdraw(&mut self, token: Token) -> Option<T> {
        let i = index(token);
        if self.entries[i].queued {
            let at = self.order.iter().position(|&j| j as usize == i);
            self.order
                .remove(at.expect("a queued waiter is in the queue"));
        }
        let value = self.entries[i].value.take();
        self.release(token);
        value
    }

    fn release(&mut self, token: Token) {
        let entry = &mut self.entries[index(token)];
        debug_assert!(!entry.free, "a waiter is freed once, by its owner");
        entry.queued = false;
        entry.free = true;
        entry.select = None;
        self.free.push(index(token) as u32);
    }

    /// Dismisses every waiter (they see `Done`, or get their value back);
    /// their wakers, to wake.
    pub(crate) fn dismiss_all(&mut self) -> impl Iterator<Item = Waker> + '_ {
        let entries = &mut self.entries;
        self.order.drain(..).map(move |i| {
            let entry = &mut entries[i as usize];
            entry.queued = false;
            entry.waker.clone()
        })
    }

    /// The wakers of every waiter, which stay queued.
    pub(crate) fn wakers(&self) -> impl Iterator<Item = Waker> + '_ {
        self.order
            .iter()
            .map(|&i| self.entries[i as usize].waker.clone())
    }

    /// Takes every value held by a waiter (handed to receivers that never
    /// collected them).
    pub(crate) fn take_values(&mut self) -> impl Iterator<Item = T> + '_ {
        self.entries.iter_mut().filter_map(|e| e.value.take())
    }
}
