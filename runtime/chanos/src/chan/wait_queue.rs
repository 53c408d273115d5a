//! The waiters on one side of a channel: a first-come, first-served queue
//! whose entries stay where they are while their futures wait.
//!
//! Each waiting operation owns one entry of a slab, named by its [`Token`]
//! (the entry's index). The entries are linked by index into two lists:
//! the queue of waiters in arrival order (both ways, so that a cancelled
//! waiter leaves from the middle in one step) and the free list. Serving the
//! longest waiter is unlinking the head, and a waiter finds what was handed
//! to it in its own entry: no search and no allocation on the hot path. An
//! entry is freed only by its owner ([`WaitQueue::poll`] once it is done, or
//! [`WaitQueue::withdraw`]), so a token never names someone else's entry.
//! Freed entries keep their waker, so a task that waits again with the same
//! waker (the usual case) stores it without touching it.

use super::state::SelectClaim;
use crate::executor::wake_now_or_defer;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::Waker;

/// Names one waiting operation on one side of a channel (never zero, so
/// that an `Option` of it takes no extra space).
pub(crate) type Token = core::num::NonZeroU32;

/// A waiter that belongs to a `select!`: its claim, and its arm's number.
pub(crate) type SelectArmRef = (Arc<SelectClaim>, u16);

#[derive(Debug)]
struct Entry<T> {
    waker: Waker,
    select: Option<SelectArmRef>,
    /// A receiver's handed value, or a sender's value on offer.
    value: Option<T>,
    /// In the queue, waiting to be served.
    queued: bool,
    /// Owned by no one: on the free list.
    free: bool,
    /// The next entry of the list this one is on (the queue or the free
    /// list), and the one before it in the queue; `NONE` at the ends.
    next: u32,
    prev: u32,
}

/// The end of a list.
const NONE: u32 = u32::MAX;

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
    /// The longest and the latest waiter.
    head: u32,
    tail: u32,
    /// The first free entry.
    free: u32,
}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        WaitQueue {
            entries: Vec::new(),
            head: NONE,
            tail: NONE,
            free: NONE,
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

fn index(token: Token) -> u32 {
    token.get() - 1
}

impl<T> WaitQueue<T> {
    /// The entry a token names (checked: the token comes from outside).
    fn entry(&mut self, i: u32) -> &mut Entry<T> {
        &mut self.entries[i as usize]
    }

    /// The entry a link names (`head`, `tail`, `free`, `next`, `prev`),
    /// without a bounds check: these are the hot path's look-ups, several
    /// per handoff.
    #[inline(always)]
    #[allow(unsafe_code)] // no bounds check, by the links' invariant
    fn linked(&mut self, i: u32) -> &mut Entry<T> {
        debug_assert!((i as usize) < self.entries.len(), "a link names an entry");
        // SAFETY: every link holds `NONE` (never passed here) or the index
        // of an entry that existed when the link was made, and entries are
        // never removed from the slab (`grow` only appends), so `i` is in
        // bounds.
        unsafe { self.entries.get_unchecked_mut(i as usize) }
    }

    /// Queues a waiter at the back, holding `value` (a sender's).
    #[inline(always)] // hot: once per wait
    pub(crate) fn push(
        &mut self,
        value: Option<T>,
        waker: &Waker,
        select: Option<SelectArmRef>,
    ) -> Token {
        let tail = self.tail;
        let i = self.free;
        if i != NONE {
            self.free = self.linked(i).next;
            let entry = self.linked(i);
            set_waker(&mut entry.waker, waker);
            entry.select = select;
            entry.value = value;
            entry.queued = true;
            entry.free = false;
            entry.next = NONE;
            entry.prev = tail;
        } else {
            self.grow(value, waker, select);
        }
        let i = if i != NONE {
            i
        } else {
            self.entries.len() as u32 - 1
        };
        match tail {
            NONE => self.head = i,
            tail => self.linked(tail).next = i,
        }
        self.tail = i;
        Token::MIN.saturating_add(i)
    }

    /// A new entry at the end of the slab, for `push`.
    #[cold]
    fn grow(&mut self, value: Option<T>, waker: &Waker, select: Option<SelectArmRef>) {
        assert!(
            self.entries.len() < NONE as usize,
            "fewer than 2^32 - 1 waiters"
        );
        self.entries.push(Entry {
            waker: waker.clone(),
            select,
            value,
            queued: true,
            free: false,
            next: NONE,
            prev: self.tail,
        });
    }

    /// Takes entry `i` out of the queue.
    #[inline(always)]
    fn unlink(&mut self, i: u32) {
        let entry = self.linked(i);
        let (prev, next) = (entry.prev, entry.next);
        entry.queued = false;
        match prev {
            NONE => self.head = next,
            prev => self.linked(prev).next = next,
        }
        match next {
            NONE => self.tail = prev,
            next => self.linked(next).prev = prev,
        }
    }

    /// Takes the longest waiter that can still be served out of the queue,
    /// claiming its `select!`; waiters whose select already fired are
    /// dropped from the queue on the way (their select withdraws them).
    #[inline(always)] // hot: once per handoff
    fn claim(&mut self) -> Option<&mut Entry<T>> {
        loop {
            let i = self.head;
            if i == NONE {
                return None;
            }
            self.unlink(i);
            let entry = self.linked(i);
            let won = match &entry.select {
                None => true,
                Some((claim, arm)) => claim.try_fire(*arm),
            };
            if won {
                return Some(self.linked(i));
            }
        }
    }

    /// Hands `value` to the longest waiting receiver and wakes it; with a
    /// foreign waker, returns that waker for the caller to wake (see
    /// `wake_now_or_defer`). With no one to take it, the value comes back.
    #[inline(always)] // hot: once per handoff
    pub(crate) fn hand(&mut self, value: T) -> Result<Option<Waker>, T> {
        match self.claim() {
            Some(entry) => {
                entry.value = Some(value);
                Ok(wake_now_or_defer(&entry.waker))
            }
            None => Err(value),
        }
    }

    /// Takes the value of the longest waiting sender and wakes it (or
    /// returns its foreign waker, as `hand` does).
    #[inline(always)] // hot: once per handoff
    pub(crate) fn take_offered(&mut self) -> Option<(Option<Waker>, T)> {
        let entry = self.claim()?;
        let value = entry
            .value
            .take()
            .expect("a waiting sender holds its value");
        Some((wake_now_or_defer(&entry.waker), value))
    }

    /// The queued entries, longest waiter first.
    fn queued(&self) -> impl Iterator<Item = &Entry<T>> + '_ {
        let mut i = self.head;
        core::iter::from_fn(move || {
            let entry = self.entries.get(i as usize)?;
            i = entry.next;
            Some(entry)
        })
    }

    /// Whether a waiter could be served now.
    pub(crate) fn any_claimable(&self) -> bool {
        self.queued().any(Entry::is_claimable)
    }

    /// Looks at the waiter `token` for its owner; frees it once it is done.
    #[inline(always)] // hot: once per wait
    pub(crate) fn poll(&mut self, token: Token, waker: &Waker) -> Polled<T> {
        let entry = self.entry(index(token));
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
        if self.entry(i).queued {
            self.unlink(i);
        }
        let value = self.entry(i).value.take();
        self.release(token);
        value
    }

    #[inline(always)]
    fn release(&mut self, token: Token) {
        let i = index(token);
        let entry = &mut self.entries[i as usize];
        debug_assert!(!entry.free, "a waiter is freed once, by its owner");
        entry.free = true;
        entry.select = None;
        entry.next = self.free;
        self.free = i;
    }

    /// Dismisses every waiter (they see `Done`, or get their value back);
    /// adds their wakers to `woken`.
    pub(crate) fn dismiss_all(&mut self, woken: &mut Vec<Waker>) {
        self.wakers(woken);
        while self.head != NONE {
            self.unlink(self.head);
        }
    }

    /// Adds the wakers of every waiter, which stay queued, to `woken`.
    pub(crate) fn wakers(&self, woken: &mut Vec<Waker>) {
        woken.extend(self.queued().map(|entry| entry.waker.clone()));
    }

    /// Takes every value held by a waiter (handed to receivers that never
    /// collected them).
    pub(crate) fn take_values(&mut self) -> impl Iterator<Item = T> + '_ {
        self.entries.iter_mut().filter_map(|e| e.value.take())
    }
}
