//! The executor's public API: [`Runtime`], [`spawn`], [`spawn_named`],
//! [`yield_now`].

use super::context::{current, expect_current, fresh_executor, keep_spare, set_current};
use super::task::{self, JoinHandle, TaskName};
use super::{budget, Deadlock, RunEnd, Shared};
use crate::platform;
use crate::Isolated;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A chanos executor for the current thread.
///
/// Apps do not make one: `#[chanos::main]` does. Tests use
/// [`Runtime::block_on`] to run a future and learn whether it deadlocked.
#[derive(Debug)]
pub struct Runtime {
    seed: u64,
    cores: usize,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// A runtime on as many cores as `CHANOS_CORES` says, or else as the
    /// process may use, whose `select!` choices are seeded from the platform.
    ///
    /// # Panics
    /// When `CHANOS_CORES` is set but not a number from 1 to 1024.
    pub fn new() -> Self {
        Runtime {
            seed: platform::seed(),
            cores: platform::default_cores(),
        }
    }

    /// A runtime on one core whose `select!` choices follow `seed`: the
    /// same program makes the same choices.
    pub fn with_seed(seed: u64) -> Self {
        Runtime { seed, cores: 1 }
    }

    /// A runtime on `cores` cores (one executor on its own thread each),
    /// seeded from the platform.
    ///
    /// # Panics
    /// When `cores` is 0, or, in the image, more than the CPUs it runs on
    /// (each core of the image is a CPU of its own).
    pub fn with_cores(cores: usize) -> Self {
        Runtime::new().on_cores(cores)
    }

    /// This runtime, on `cores` cores; see [`Runtime::with_cores`].
    pub fn on_cores(mut self, cores: usize) -> Self {
        assert!(cores >= 1, "chanos: a runtime needs at least one core");
        assert!(
            cfg!(not(target_os = "none")) || cores <= platform::cpus(),
            "chanos: a runtime of {cores} cores needs {cores} CPUs, and the image has {}: boot it with `--cores {cores}`",
            platform::cpus()
        );
        self.cores = cores;
        self
    }

    /// Runs `main` as the task named "main", with every task it spawns,
    /// until `main` finishes; tasks still alive then are dropped. Returns
    /// the deadlock report when nothing can run and `main` has not finished.
    ///
    /// # Panics
    /// When called inside another chanos runtime on the same thread.
    pub fn block_on<F: Future + 'static>(self, main: F) -> Result<F::Output, Deadlock> {
        assert!(
            current().is_none(),
            "chanos: a runtime is already running on this thread"
        );
        let shared = fresh_executor(self.seed);
        set_current(Some(shared));
        // Unset the current runtime even if a task panics through us.
        struct Reset(&'static Shared);
        impl Drop for Reset {
            fn drop(&mut self) {
                budget::end_poll(); // a task may have panicked mid-poll
                self.0.shut_down();
                set_current(None);
                keep_spare(self.0);
            }
        }
        let _reset = Reset(shared);
        let others =
            (self.cores > 1).then(|| super::core_threads::start(shared, self.cores, self.seed));
        let mut handle = task::spawn_on(shared, TaskName::Borrowed("main"), main);
        let end = shared.run(handle.index());
        if let Some(others) = others {
            match others.finish(shared, &end) {
                super::core_threads::Ended::Main => {}
                super::core_threads::Ended::Panic(payload) => platform::resume_panic(payload),
                super::core_threads::Ended::Deadlock(tasks) => return Err(Deadlock { tasks }),
            }
        }
        match end {
            RunEnd::MainDone => {}
            RunEnd::Deadlock(deadlock) => return Err(deadlock),
            RunEnd::Stopped => unreachable!("only another core stops core 0, and it said why"),
        }
        let waker = core::task::Waker::noop();
        match Pin::new(&mut handle).poll(&mut Context::from_waker(waker)) {
            Poll::Ready(output) => Ok(output),
            Poll::Pending => unreachable!("main finished but has no output"),
        }
    }
}

/// Spawns a task; it starts running at the next chance the executor gets.
///
/// The future and its output must be [`Isolated`]: tasks share nothing
/// mutable, they talk over channels.
///
/// # Panics
/// Outside a running chanos runtime.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Isolated + 'static,
    F::Output: Isolated + 'static,
{
    task::spawn_on(expect_current(), TaskName::Borrowed("task"), future)
}

/// Spawns a task with a name, which every report about it shows.
///
/// # Panics
/// Outside a running chanos runtime.
#[track_caller]
pub fn spawn_named<F>(name: impl Into<TaskName>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Isolated + 'static,
    F::Output: Isolated + 'static,
{
    task::spawn_on(expect_current(), name.into(), future)
}

/// Lets every other runnable task run once before this one goes on.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
