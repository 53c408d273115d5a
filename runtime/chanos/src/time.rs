//! Time: a monotonic clock, sleeping, timeouts, intervals, and `after`
//! (Go's `time.After`), a channel that delivers the time once.
//!
//! Timers belong to the executor: a sleeping task costs one entry in the
//! executor's timer map, and an idle executor parks until the earliest one.

use crate::chan::{self, Receiver, Sender};
use crate::executor::{self, TimerAction, TimerKey, TimerTick, WaitOn};
use crate::platform;
use core::fmt;
use core::future::Future;
use core::ops::{Add, Sub};
use core::panic::Location;
use core::pin::Pin;
use core::task::{Context, Poll};
pub use core::time::Duration;

/// A point in monotonic time, in nanoseconds since the program started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// Now, from the platform's monotonic clock.
    pub fn now() -> Instant {
        Instant(platform::now_ns())
    }

    /// Time since `earlier`; zero if `earlier` is later.
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time since this instant.
    pub fn elapsed(self) -> Duration {
        Instant::now().duration_since(self)
    }

    /// Nanoseconds since the program started.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The instant `ns` nanoseconds after the program started.
    pub(crate) fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// Waits for `duration`.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        key: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels its timer.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    key: Option<TimerKey>,
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(key) = self.key.take() {
                executor::cancel_timer(key);
            }
            return Poll::Ready(());
        }
        let registered = self
            .key
            .is_some_and(|key| executor::refresh_timer(key, cx.waker()));
        if !registered {
            let action = TimerAction::Wake(cx.waker().clone());
            self.key = Some(executor::add_timer(self.deadline.0, action));
        }
        executor::set_wait(WaitOn::Sleep);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            executor::cancel_timer(key);
        }
    }
}

/// Runs `future` for at most `duration`.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

/// The time ran out before the future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl core::error::Error for Elapsed {}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (future, sleep) = (this.future, Pin::new(this.sleep));
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        sleep.poll(cx).map(|()| Err(Elapsed))
    }
}

/// Ticks every `period`, starting one period from now. Like Go's `Ticker`,
/// a slow consumer misses ticks instead of getting a burst of late ones.
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be positive");
    Interval {
        next: Instant::now() + period,
        period,
    }
}

/// See [`interval`].
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        let at = self.next;
        sleep_until(at).await;
        self.next = at + self.period;
        let now = Instant::now();
        if self.next <= now {
            // Fell behind: skip the missed ticks.
            let missed = (now - self.next).as_nanos() / self.period.as_nanos() + 1;
            self.next = self.next + self.period * missed as u32;
        }
        at
    }
}

/// A channel that receives the time once, `duration` from now: Go's
/// `time.After`, for timeouts in `select!`.
///
/// The [`After`] owns its timer: when it is dropped (say, because another
/// arm of its `select!` won), the timer and the channel are freed at once,
/// so a loop of selects with long timeouts holds only the live ones.
#[track_caller]
pub fn after(duration: Duration) -> After {
    let (tx, receiver) = chan::make(1, Some("time::after"), Location::caller());
    let deadline = Instant::now() + duration;
    let key = executor::add_timer(deadline.0, TimerAction::Tick(alloc::boxed::Box::new(tx)));
    After {
        receiver,
        timer: TimerCancel(key),
    }
}

/// The channel of [`after`]. It derefs to its [`Receiver`] and stands in a
/// `select!` arm as it is. Dropping it cancels the timer: a clone of the
/// receiver then sees the channel closed (keep the timer running with
/// [`into_receiver`](After::into_receiver)).
#[derive(Debug)]
pub struct After {
    receiver: Receiver<Instant>,
    timer: TimerCancel,
}

impl After {
    /// The receiver alone: the timer then runs to its deadline, whatever
    /// becomes of the receiver.
    pub fn into_receiver(self) -> Receiver<Instant> {
        self.timer.disarm();
        self.receiver
    }

    /// The receiver and what cancels its timer when dropped.
    pub(crate) fn into_parts(self) -> (Receiver<Instant>, TimerCancel) {
        (self.receiver, self.timer)
    }
}

impl core::ops::Deref for After {
    type Target = Receiver<Instant>;
    fn deref(&self) -> &Receiver<Instant> {
        &self.receiver
    }
}

/// Cancels a timer when dropped (dropping the timer's channel end with it).
#[derive(Debug)]
pub(crate) struct TimerCancel(TimerKey);

impl TimerCancel {
    /// Lets the timer run to its deadline.
    fn disarm(self) {
        core::mem::forget(self); // nothing to free: the key is two numbers
    }
}

impl Drop for TimerCancel {
    fn drop(&mut self) {
        executor::cancel_timer(self.0);
    }
}

impl TimerTick for Sender<Instant> {
    fn fire(&mut self, now_ns: u64) {
        let _ = self.try_send(Instant(now_ns));
    }

    fn is_live(&self) -> bool {
        !self.is_closed()
    }
}
