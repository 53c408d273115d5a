//! How a hosted executor sleeps: on std's thread parker until the core
//! opens its first socket, then in `epoll_wait` (through mio), so that one
//! system call waits for a wake-up from another core, a timer deadline and
//! socket readiness at once. No poller thread stands between a socket and
//! its core: readiness is read by the core that owns the socket, when it
//! parks and, while it is busy, every few dozen polls ([`Parker::poll_io`]).
//!
//! The switch from the thread parker to epoll happens on the executor's own
//! thread, while it runs, so it never parks in one while a waker looks for
//! it in the other: a waker reads which one after the injector's fence,
//! and the executor made the switch before its own (`injector.rs`).

use alloc::vec::Vec;
use core::task::Waker;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Socket readiness, as the network backend reads it.
pub(crate) const READABLE: u8 = 1;
pub(crate) const WRITABLE: u8 = 2;

/// The token of the eventfd that `unpark` writes.
const UNPARK: mio::Token = mio::Token(usize::MAX);

/// Puts the executor's thread to sleep; `unpark` may come from any thread.
#[derive(Debug)]
pub(crate) struct Parker {
    /// The thread that parks: the one running the executor now (`bind`).
    thread: Mutex<std::thread::Thread>,
    /// Made when the executor opens its first socket, kept after.
    io: OnceLock<Io>,
}

/// One executor's epoll instance and what it reported.
#[derive(Debug)]
pub(crate) struct Io {
    poll: Mutex<mio::Poll>,
    registry: mio::Registry,
    unpark: mio::Waker,
    news: Mutex<News>,
}

#[derive(Debug)]
struct News {
    events: mio::Events,
    /// (socket token, READABLE | WRITABLE) not yet taken by the network task.
    ready: Vec<(usize, u8)>,
    /// The network task, woken when readiness comes in.
    task: Option<Waker>,
}

impl Parker {
    /// A parker for the calling thread.
    pub(crate) fn new() -> Self {
        Parker {
            thread: Mutex::new(std::thread::current()),
            io: OnceLock::new(),
        }
    }

    /// Makes the calling thread the one that parks (an executor made on one
    /// thread may run on another: a core's).
    pub(crate) fn bind(&self) {
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = std::thread::current();
    }

    /// This executor's epoll instance, made on first use (executor thread
    /// only: see the module documentation).
    pub(crate) fn io(&self) -> std::io::Result<&Io> {
        if let Some(io) = self.io.get() {
            return Ok(io);
        }
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let unpark = mio::Waker::new(poll.registry(), UNPARK)?;
        let news = News {
            events: mio::Events::with_capacity(256),
            ready: Vec::new(),
            task: None,
        };
        Ok(self.io.get_or_init(|| Io {
            poll: Mutex::new(poll),
            registry,
            unpark,
            news: Mutex::new(news),
        }))
    }

    /// Sleeps until `unpark`, the deadline or (once there is an epoll
    /// instance) socket readiness. An `unpark` that came first is not lost:
    /// std keeps a token for it, and the eventfd stays readable.
    pub(crate) fn park(&self, deadline_ns: Option<u64>) {
        let timeout = match deadline_ns {
            None => None,
            Some(deadline) => match deadline.checked_sub(super::now_ns()) {
                Some(wait) if wait > 0 => Some(Duration::from_nanos(wait)),
                _ => return,
            },
        };
        match (self.io.get(), timeout) {
            (Some(io), _) => io.wait(timeout),
            (None, None) => std::thread::park(),
            (None, Some(wait)) => std::thread::park_timeout(wait),
        }
    }

    pub(crate) fn unpark(&self) {
        match self.io.get() {
            Some(io) => {
                if let Err(error) = io.unpark.wake() {
                    log::error!("chanos: cannot wake a core: {error}");
                }
            }
            None => self
                .thread
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unpark(),
        }
    }

    /// Takes in socket readiness without sleeping, when there are sockets
    /// (the run loop calls this every few dozen polls).
    #[inline]
    pub(crate) fn poll_io(&self) {
        if let Some(io) = self.io.get() {
            io.wait(Some(Duration::ZERO));
        }
    }
}

impl Io {
    /// Where sockets are registered to wake this executor.
    pub(crate) fn registry(&self) -> &mio::Registry {
        &self.registry
    }

    /// The readiness reported since the last call (which it forgets), and
    /// `task` to wake when more comes in.
    pub(crate) fn take_ready(&self, task: &Waker) -> Vec<(usize, u8)> {
        let mut news = self.news.lock().unwrap_or_else(|e| e.into_inner());
        if !news.task.as_ref().is_some_and(|t| t.will_wake(task)) {
            news.task = Some(task.clone());
        }
        core::mem::take(&mut news.ready)
    }

    /// Forgets what sockets of an earlier runtime reported (their tokens
    /// will be reused).
    pub(crate) fn forget_ready(&self) {
        let mut news = self.news.lock().unwrap_or_else(|e| e.into_inner());
        news.ready.clear();
        news.task = None;
    }

    /// Waits in `epoll_wait` and notes what it reports.
    fn wait(&self, timeout: Option<Duration>) {
        let mut poll = self.poll.lock().unwrap_or_else(|e| e.into_inner());
        let mut news = self.news.lock().unwrap_or_else(|e| e.into_inner());
        let news = &mut *news;
        match poll.poll(&mut news.events, timeout) {
            Ok(()) => {}
            // A signal: the run loop looks around and parks again.
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => return,
            Err(error) => {
                log::error!("chanos: epoll_wait failed: {error}");
                return;
            }
        }
        let before = news.ready.len();
        for event in news.events.iter() {
            if event.token() == UNPARK {
                continue;
            }
            let mut flags = 0;
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                flags |= READABLE;
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                flags |= WRITABLE;
            }
            news.ready.push((event.token().0, flags));
        }
        if news.ready.len() > before {
            if let Some(task) = &news.task {
                task.wake_by_ref();
            }
        }
    }
}
