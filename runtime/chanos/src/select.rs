//! The machinery behind [`select!`](crate::select!): wait on several channel
//! operations, complete exactly one.
//!
//! ```
//! # chanos::Runtime::new().block_on(async {
//! use chanos::{chan, select, time};
//! use core::time::Duration;
//! let (tx, rx) = chan::bounded::<&str>(1);
//! tx.send("hi").await.unwrap();
//! select! {
//!     message = rx.recv() => assert_eq!(message, Some("hi")),
//!     _ = time::after(Duration::from_secs(1)) => unreachable!(),
//! }
//! # }).unwrap();
//! ```
//!
//! # How an arm is chosen
//! 1. The arms are tried in a random order (as Go does), and the first that
//!    can complete now completes: a uniform choice among the arms that
//!    could. The others are not touched, so a losing receive consumes
//!    nothing and a losing send delivers nothing.
//! 2. If none can and there is a `default` arm, it runs.
//! 3. Otherwise every arm registers as a waiter on its channel, all sharing
//!    one [`SelectClaim`]. The first counterpart to complete one of them
//!    claims the select; the other waiters become stale and are removed
//!    when the select wakes. The value of a send arm that did not win is
//!    dropped, never delivered.

// The arm traits are sealed and hidden; their methods name crate-private
// types on purpose, so that no code outside chanos can make an arm.
#![allow(private_interfaces)]

use crate::chan::{
    self, wake_one, Receiver, Recv, SelectClaim, SendError, SendRefusal, Sender, Token,
};
use crate::executor::{self, Labelled, WaitOn};
use crate::time::{After, Instant, TimerCancel};
use crate::Isolated;
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

mod sealed {
    pub trait Sealed {}
}

/// One arm of a `select!`: a channel operation that can be tried, waited
/// for and withdrawn. Implemented by chanos's channel operations only.
#[doc(hidden)]
pub trait ErasedArm: sealed::Sealed {
    /// Completes now if the channel lets it (a value to take, room to
    /// send, or closed); false, changing nothing, when it does not.
    fn complete(&mut self) -> bool;
    /// Waits as arm `arm` of the select `claim`; or, when the channel has
    /// become ready meanwhile (another core), claims the select for this
    /// arm and completes at once (true), so that no counterpart that came
    /// in between is left waiting too.
    fn register(&mut self, claim: &Arc<SelectClaim>, arm: u16, waker: &Waker) -> bool;
    /// This arm won the claim while waiting: collect its result.
    fn won(&mut self);
    /// Withdraws the waiter, if any.
    fn cancel(&mut self);
    fn describe(&self) -> (&'static str, Arc<dyn Labelled>);
}

/// An arm with its result, taken after the select completed.
#[doc(hidden)]
pub trait SelectArm: ErasedArm {
    type Output;
    fn take_output(&mut self) -> Self::Output;
}

/// What may stand on the right of `pattern = ...` in `select!`.
pub trait IntoArm {
    /// The arm.
    #[doc(hidden)]
    type Arm: SelectArm;
    /// Makes the arm.
    #[doc(hidden)]
    fn into_arm(self) -> Self::Arm;
}

enum Held<'a, T> {
    Borrowed(&'a Receiver<T>),
    Owned(Receiver<T>),
}

/// A receive arm: `value = rx.recv()`, or an owned receiver such as
/// `time::after(d)`. Its result is `Option<T>`, `None` when closed.
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    receiver: Held<'a, T>,
    token: Option<Token>,
    output: Option<Option<T>>,
    /// For `time::after(d)`: its timer, cancelled when the arm is dropped
    /// (after the receiver, so the channel goes with it).
    _timer: Option<TimerCancel>,
}

impl<'a, T> RecvArm<'a, T> {
    fn new(receiver: Held<'a, T>, timer: Option<TimerCancel>) -> Self {
        RecvArm {
            receiver,
            token: None,
            output: None,
            _timer: timer,
        }
    }
}

impl<T> RecvArm<'_, T> {
    fn chan(&self) -> &Arc<chan::Chan<T>> {
        match &self.receiver {
            Held::Borrowed(r) => &r.chan,
            Held::Owned(r) => &r.chan,
        }
    }

    /// Keeps what a receive got; false when it found nothing after all.
    fn take_result(&mut self, result: Result<(T, Option<Waker>), chan::RecvRefusal>) -> bool {
        self.output = Some(match result {
            Ok((value, waker)) => {
                wake_one(waker);
                Some(value)
            }
            Err(chan::RecvRefusal::Closed) => None,
            Err(chan::RecvRefusal::Empty) => return false,
        });
        true
    }

    /// Withdraws the waiter, if any; a value already handed to it goes on.
    fn withdraw(&mut self) {
        if let Some(token) = self.token.take() {
            chan::withdraw_recv(self.chan(), token);
        }
    }
}

impl<'a, T: 'static> IntoArm for Recv<'a, T> {
    type Arm = RecvArm<'a, T>;
    fn into_arm(self) -> RecvArm<'a, T> {
        RecvArm::new(Held::Borrowed(self.receiver), None)
    }
}

impl<T: 'static> IntoArm for Receiver<T> {
    type Arm = RecvArm<'static, T>;
    fn into_arm(self) -> RecvArm<'static, T> {
        RecvArm::new(Held::Owned(self), None)
    }
}

impl<'a, T: 'static> IntoArm for &'a Receiver<T> {
    type Arm = RecvArm<'a, T>;
    fn into_arm(self) -> RecvArm<'a, T> {
        RecvArm::new(Held::Borrowed(self), None)
    }
}

impl IntoArm for After {
    type Arm = RecvArm<'static, Instant>;
    fn into_arm(self) -> RecvArm<'static, Instant> {
        let (receiver, timer) = self.into_parts();
        RecvArm::new(Held::Owned(receiver), Some(timer))
    }
}

impl<T> sealed::Sealed for RecvArm<'_, T> {}

impl<T> fmt::Debug for RecvArm<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvArm")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<T: 'static> ErasedArm for RecvArm<'_, T> {
    fn complete(&mut self) -> bool {
        let result = self.chan().state.lock().try_recv();
        self.take_result(result)
    }

    fn register(&mut self, claim: &Arc<SelectClaim>, arm: u16, waker: &Waker) -> bool {
        let mut state = self.chan().state.lock();
        if state.recv_ready() {
            if !claim.try_fire(arm) {
                return false;
            }
            let result = state.try_recv();
            drop(state);
            return self.take_result(result);
        }
        let token = state.wait_recv(waker, Some((claim.clone(), arm)));
        drop(state);
        self.token = Some(token);
        false
    }

    fn won(&mut self) {
        let token = self.token.take().expect("a winning arm was registered");
        let waiting = self
            .chan()
            .state
            .lock()
            .poll_recv_waiter(token, Waker::noop());
        match waiting {
            chan::RecvWait::Handed(value) => self.output = Some(Some(value)),
            _ => unreachable!("a receive arm wins only when a value is handed to it"),
        }
    }

    fn cancel(&mut self) {
        self.withdraw();
    }

    fn describe(&self) -> (&'static str, Arc<dyn Labelled>) {
        ("receive on", self.chan().clone())
    }
}

impl<T: 'static> SelectArm for RecvArm<'_, T> {
    type Output = Option<T>;
    fn take_output(&mut self) -> Option<T> {
        self.output.take().expect("the select chose this arm")
    }
}

impl<T> Drop for RecvArm<'_, T> {
    fn drop(&mut self) {
        self.withdraw();
    }
}

/// A send arm: `result = tx.send(value)`; its result is `Result<(), SendError<T>>`.
#[doc(hidden)]
pub struct SendArm<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    token: Option<Token>,
    output: Option<Result<(), SendError<T>>>,
}

impl<'a, T: 'static> IntoArm for chan::Send<'a, T> {
    type Arm = SendArm<'a, T>;
    fn into_arm(mut self) -> SendArm<'a, T> {
        let value = self.take_unsent();
        SendArm {
            sender: self.sender,
            value,
            token: None,
            output: None,
        }
    }
}

impl<T> sealed::Sealed for SendArm<'_, T> {}

impl<T> fmt::Debug for SendArm<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendArm")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<T: 'static> ErasedArm for SendArm<'_, T> {
    fn complete(&mut self) -> bool {
        let value = self.value.take().expect("a send arm is completed once");
        let result = self.sender.chan.state.lock().try_send(value);
        self.take_result(result)
    }

    fn register(&mut self, claim: &Arc<SelectClaim>, arm: u16, waker: &Waker) -> bool {
        let value = self
            .value
            .take()
            .expect("a send arm registers with its value");
        let mut state = self.sender.chan.state.lock();
        if state.send_ready() {
            if !claim.try_fire(arm) {
                self.value = Some(value);
                return false;
            }
            let result = state.try_send(value);
            drop(state);
            return self.take_result(result);
        }
        self.token = Some(state.wait_send(value, waker, Some((claim.clone(), arm))));
        false
    }

    fn won(&mut self) {
        self.token = None;
        self.output = Some(Ok(()));
    }

    fn cancel(&mut self) {
        // The value comes back undelivered; a later try may send it again.
        if let Some(value) = self.withdraw() {
            self.value = Some(value);
        }
    }

    fn describe(&self) -> (&'static str, Arc<dyn Labelled>) {
        ("send on", self.sender.chan.clone())
    }
}

impl<T: 'static> SelectArm for SendArm<'_, T> {
    type Output = Result<(), SendError<T>>;
    fn take_output(&mut self) -> Self::Output {
        self.output.take().expect("the select chose this arm")
    }
}

impl<T> SendArm<'_, T> {
    /// Keeps what a send did; false (the value kept) when there was no room
    /// after all.
    fn take_result(&mut self, result: Result<Option<Waker>, SendRefusal<T>>) -> bool {
        self.output = Some(match result {
            Ok(waker) => {
                wake_one(waker);
                Ok(())
            }
            Err(SendRefusal::Closed(value)) => Err(SendError(value)),
            Err(SendRefusal::Full(value)) => {
                self.value = Some(value);
                return false;
            }
        });
        true
    }

    /// Withdraws the waiter, if any, and returns its value if undelivered.
    fn withdraw(&mut self) -> Option<T> {
        let token = self.token.take()?;
        chan::withdraw_send(&self.sender.chan, token)
    }
}

impl<T> Drop for SendArm<'_, T> {
    fn drop(&mut self) {
        drop(self.withdraw());
    }
}

/// The arms a blocked select waits on, for a deadlock report.
struct Waiting(Vec<(&'static str, Arc<dyn Labelled>)>);

impl Labelled for Waiting {
    fn label(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (op, chan)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { " | " };
            write!(f, "{sep}{op} ")?;
            chan.label(f)?;
        }
        Ok(())
    }
}

/// The future behind `select!`: `Some(i)` when arm `i` completed, `None`
/// when the `default` arm should run.
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct Select<'a, const N: usize> {
    arms: [&'a mut dyn ErasedArm; N],
    has_default: bool,
    claim: Option<Arc<SelectClaim>>,
}

// SAFETY: the arms are chanos channel operations (the trait is sealed),
// each holding a channel end or a value that is `Isolated` itself.
#[allow(unsafe_code)]
unsafe impl<const N: usize> Isolated for Select<'_, N> {}

impl<const N: usize> fmt::Debug for Select<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("arms", &N)
            .field("waiting", &self.claim.is_some())
            .finish()
    }
}

/// Starts a select over `arms` (at most 64).
#[doc(hidden)]
pub fn select<const N: usize>(arms: [&mut dyn ErasedArm; N], has_default: bool) -> Select<'_, N> {
    const { assert!(N <= 64, "select! takes at most 64 arms") };
    Select {
        arms,
        has_default,
        claim: None,
    }
}

impl<const N: usize> Select<'_, N> {
    fn withdraw(&mut self, except: Option<usize>) {
        for (i, arm) in self.arms.iter_mut().enumerate() {
            if Some(i) != except {
                arm.cancel();
            }
        }
    }
}

impl<const N: usize> Future for Select<'_, N> {
    type Output = Option<usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let this = &mut *self;
        if let Some(claim) = this.claim.take() {
            if let Some(winner) = claim.fired() {
                let winner = winner as usize;
                this.arms[winner].won();
                this.withdraw(Some(winner));
                return Poll::Ready(Some(winner));
            }
            // Woken without a winner (a channel closed, or a spurious wake):
            // withdraw, so that no arm can match this select's own waiters,
            // and look again.
            this.withdraw(None);
        }
        core::task::ready!(executor::poll_budget(cx));
        // Try the arms in a random order, drawn one arm at a time, until
        // one completes: the first ready arm of a uniformly random order
        // is a uniform choice among the ready arms, and when the first arm
        // drawn is ready (two ready arms: half the time, or more) this
        // takes one channel lock, where looking at every arm first took
        // one per arm more.
        let mut untried: [u8; N] = core::array::from_fn(|i| i as u8);
        let mut left = N;
        while left > 0 {
            let pick = executor::random_below(left as u64) as usize;
            let arm = usize::from(untried[pick]);
            if this.arms[arm].complete() {
                return Poll::Ready(Some(arm));
            }
            left -= 1;
            untried[pick] = untried[left];
        }
        if this.has_default {
            return Poll::Ready(None);
        }
        let claim = Arc::new(SelectClaim::default());
        let mut waiting = Vec::with_capacity(N);
        for i in 0..N {
            if this.arms[i].register(&claim, i as u16, cx.waker()) {
                this.withdraw(Some(i));
                return Poll::Ready(Some(i));
            }
            waiting.push(this.arms[i].describe());
        }
        this.claim = Some(claim);
        executor::set_wait(WaitOn::Select(Rc::new(Waiting(waiting))));
        Poll::Pending
    }
}

impl<const N: usize> Drop for Select<'_, N> {
    fn drop(&mut self) {
        if self.claim.take().is_some() {
            self.withdraw(None);
        }
    }
}
