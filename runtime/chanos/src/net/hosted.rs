//! The hosted backend: non-blocking Linux sockets, registered (through
//! mio) in the epoll instance of the core that opened them. That core reads
//! their readiness when it parks or every few dozen polls
//! (`platform::Parker`), and wakes the network task, which reads and writes
//! only sockets marked ready and clears the mark when the kernel says
//! "would block" (mio's readiness is edge-triggered: the next change wakes
//! the task again).
//!
//! One readiness is never reported again: a listener whose `accept` failed
//! for want of file descriptors or memory (EMFILE and the like) still has
//! clients queued, and epoll said so already. Such listeners are retried
//! on a timer instead, as nginx does, and the failure is logged once per
//! burst.

use super::io::{Accepted, Backend, ReadStep, WriteStep};
use super::{Datagram, NetError, SocketAddr, CHUNK_BYTES, MAX_DATAGRAM};
use crate::platform::{Io, READABLE as READ, WRITABLE as WRITE};
use crate::time::{Duration, Instant};
use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::task::{Context, Poll, Waker};
use mio::{Interest, Token};
use std::io::{ErrorKind, Read, Write};

/// How soon a listener that ran out of descriptors is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

pub(crate) struct Hosted {
    /// This core's epoll instance (its parker's).
    io: &'static Io,
    /// Readiness per socket token, as last reported and not yet used up.
    ready: BTreeMap<usize, u8>,
    /// Who waits for a socket to become ready (its connection's waker).
    waiting: BTreeMap<usize, Waker>,
    next_token: usize,
    /// Room for one read: a TCP chunk or a whole datagram.
    scratch: Vec<u8>,
    /// Listeners that could not accept for want of resources, and when
    /// to try them again (see the module docs).
    starved: Vec<usize>,
    retry_at: Option<Instant>,
    /// Accepting has failed so since the last success: it was logged.
    starving: bool,
}

pub(crate) struct Socket<S> {
    io: S,
    token: usize,
}

pub(crate) fn open() -> Result<Hosted, NetError> {
    let io = crate::executor::io().map_err(os)?;
    // Tokens start again from 0: what sockets of an earlier runtime
    // reported is not about these.
    io.forget_ready();
    Ok(Hosted {
        io,
        ready: BTreeMap::new(),
        waiting: BTreeMap::new(),
        next_token: 0,
        scratch: alloc::vec![0; CHUNK_BYTES.max(MAX_DATAGRAM)],
        starved: Vec::new(),
        retry_at: None,
        starving: false,
    })
}

fn os(error: std::io::Error) -> NetError {
    NetError::Os(error.to_string())
}

fn connect_error(error: std::io::Error) -> NetError {
    match error.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::TimedOut => NetError::Refused,
        _ => NetError::Os(error.to_string()),
    }
}

fn bind_error(port: u16, error: std::io::Error) -> NetError {
    match error.kind() {
        ErrorKind::AddrInUse => NetError::AddressInUse(port),
        _ => NetError::Os(alloc::format!("cannot bind port {port}: {error}")),
    }
}

impl Hosted {
    fn register<S: mio::event::Source>(&mut self, mut io: S) -> Result<Socket<S>, NetError> {
        let token = self.next_token;
        self.next_token += 1;
        self.io
            .registry()
            .register(
                &mut io,
                Token(token),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(os)?;
        // Try once before any event: edge-triggered readiness reports only changes.
        self.ready.insert(token, READ | WRITE);
        Ok(Socket { io, token })
    }

    fn forget<S: mio::event::Source>(&mut self, mut socket: Socket<S>) {
        let _ = self.io.registry().deregister(&mut socket.io);
        self.ready.remove(&socket.token);
        self.waiting.remove(&socket.token);
    }

    /// `cx` is woken at the socket's next readiness event.
    fn wait(&mut self, token: usize, cx: &Context<'_>) {
        self.waiting.insert(token, cx.waker().clone());
    }

    fn is_ready(&self, token: usize, flag: u8) -> bool {
        self.ready.get(&token).is_some_and(|f| f & flag != 0)
    }

    fn used_up(&mut self, token: usize, flag: u8) {
        if let Some(flags) = self.ready.get_mut(&token) {
            *flags &= !flag;
        }
    }

    /// Runs `op` (given the scratch buffer) while socket `token` is marked
    /// ready for `flag`, again when interrupted: its outcome, or `None` once
    /// the kernel says it would block (the mark is then used up until the
    /// next event).
    fn attempt<T>(
        &mut self,
        token: usize,
        flag: u8,
        mut op: impl FnMut(&mut [u8]) -> std::io::Result<T>,
    ) -> Option<std::io::Result<T>> {
        while self.is_ready(token, flag) {
            match op(&mut self.scratch) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.used_up(token, flag),
                outcome => return Some(outcome),
            }
        }
        None
    }
}

impl Backend for Hosted {
    type Stream = Socket<mio::net::TcpStream>;
    type Listener = Socket<mio::net::TcpListener>;
    type Datagram = Socket<mio::net::UdpSocket>;

    fn listen(
        &mut self,
        port: u16,
        _backlog: usize,
        per_core: bool,
    ) -> Result<(Self::Listener, u16), NetError> {
        let io = listening_socket(port, per_core).map_err(|e| bind_error(port, e))?;
        let io = mio::net::TcpListener::from_std(io);
        let port = io.local_addr().map_err(os)?.port();
        Ok((self.register(io)?, port))
    }

    fn accept(&mut self, listener: &mut Self::Listener) -> Option<Accepted<Self::Stream>> {
        loop {
            match self.attempt(listener.token, READ, |_| listener.io.accept())? {
                Ok((io, peer)) => {
                    if core::mem::take(&mut self.starving) {
                        log::warn!("network: accepting connections again");
                    }
                    let local = io.local_addr().ok()?;
                    // Small replies (HTTP) go out at once.
                    let _ = io.set_nodelay(true);
                    let stream = self.register(io).ok()?;
                    return Some(Accepted {
                        stream,
                        peer,
                        local,
                    });
                }
                // A connection that died in the queue: the next one may be fine.
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
                Err(e) if lacks_resources(&e) => {
                    if !core::mem::replace(&mut self.starving, true) {
                        log::warn!(
                            "network: accept failed: {e}; retrying every {} ms",
                            ACCEPT_RETRY.as_millis()
                        );
                    }
                    self.used_up(listener.token, READ);
                    if !self.starved.contains(&listener.token) {
                        self.starved.push(listener.token);
                    }
                    self.retry_at.get_or_insert(Instant::now() + ACCEPT_RETRY);
                    return None;
                }
                Err(e) => {
                    log::warn!("network: accept failed: {e}");
                    self.used_up(listener.token, READ);
                    return None;
                }
            }
        }
    }

    fn close_listener(&mut self, listener: Self::Listener) {
        self.forget(listener);
    }

    fn connect(&mut self, address: SocketAddr) -> Result<Self::Stream, NetError> {
        let io = mio::net::TcpStream::connect(address).map_err(connect_error)?;
        let _ = io.set_nodelay(true);
        let stream = self.register(io)?;
        // Not writable until connected: wait for the event that says so.
        self.used_up(stream.token, WRITE);
        Ok(stream)
    }

    fn poll_connected(
        &mut self,
        stream: &mut Self::Stream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(SocketAddr, SocketAddr), NetError>> {
        // mio: when the socket turns writable, the connection is up or failed.
        if self.is_ready(stream.token, WRITE) {
            if let Ok(Some(error)) | Err(error) = stream.io.take_error() {
                return Poll::Ready(Err(connect_error(error)));
            }
            match (stream.io.local_addr(), stream.io.peer_addr()) {
                (Ok(local), Ok(peer)) => return Poll::Ready(Ok((local, peer))),
                (_, Err(e)) if e.kind() == ErrorKind::NotConnected => {
                    self.used_up(stream.token, WRITE)
                }
                (Err(e), _) | (_, Err(e)) => return Poll::Ready(Err(os(e))),
            }
        }
        self.wait(stream.token, cx);
        Poll::Pending
    }

    fn read(&mut self, stream: &mut Self::Stream, cx: &mut Context<'_>) -> ReadStep<Vec<u8>> {
        let read = |buffer: &mut [u8]| {
            let buffer = &mut buffer[..CHUNK_BYTES];
            stream.io.read(buffer).map(|n| buffer[..n].to_vec())
        };
        match self.attempt(stream.token, READ, read) {
            Some(Ok(bytes)) if bytes.is_empty() => ReadStep::Eof,
            Some(Ok(bytes)) => ReadStep::Data(bytes),
            Some(Err(_)) => ReadStep::Failed(NetError::Reset),
            None => {
                self.wait(stream.token, cx);
                ReadStep::WouldBlock
            }
        }
    }

    fn write(
        &mut self,
        stream: &mut Self::Stream,
        bytes: &[u8],
        cx: &mut Context<'_>,
    ) -> WriteStep {
        match self.attempt(stream.token, WRITE, |_| stream.io.write(bytes)) {
            Some(Ok(n)) => WriteStep::Wrote(n),
            Some(Err(_)) => WriteStep::Failed,
            None => {
                self.wait(stream.token, cx);
                WriteStep::WouldBlock
            }
        }
    }

    fn shutdown_write(&mut self, stream: &mut Self::Stream) {
        let _ = stream.io.shutdown(std::net::Shutdown::Write);
    }

    fn release(&mut self, stream: Self::Stream) {
        self.forget(stream);
    }

    fn bind_udp(&mut self, port: u16) -> Result<(Self::Datagram, u16), NetError> {
        let address = std::net::SocketAddr::from(([0, 0, 0, 0], port));
        let io = mio::net::UdpSocket::bind(address).map_err(|e| bind_error(port, e))?;
        let port = io.local_addr().map_err(os)?.port();
        Ok((self.register(io)?, port))
    }

    fn recv_datagram(&mut self, socket: &mut Self::Datagram) -> ReadStep<Datagram> {
        let mut receive = |buffer: &mut [u8]| {
            let (n, peer) = socket.io.recv_from(buffer)?;
            let data = buffer[..n].to_vec();
            Ok(Datagram { data, peer })
        };
        loop {
            match self.attempt(socket.token, READ, &mut receive) {
                Some(Ok(datagram)) => return ReadStep::Data(datagram),
                // E.g. an ICMP "port unreachable" for an earlier send: skip it.
                Some(Err(_)) => {}
                None => return ReadStep::WouldBlock,
            }
        }
    }

    fn send_datagram(&mut self, socket: &mut Self::Datagram, datagram: &Datagram) -> WriteStep {
        let send = |_: &mut [u8]| socket.io.send_to(&datagram.data, datagram.peer);
        match self.attempt(socket.token, WRITE, send) {
            Some(Ok(n)) => WriteStep::Wrote(n),
            Some(Err(_)) => WriteStep::Failed,
            None => WriteStep::WouldBlock,
        }
    }

    fn release_udp(&mut self, socket: Self::Datagram) {
        self.forget(socket);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        let news = self.io.take_ready(cx.waker());
        let mut any = !news.is_empty();
        if self.retry_at.is_some_and(|at| Instant::now() >= at) {
            // Try the starved listeners again; one that fails again starts
            // the next retry (quietly: the burst was logged).
            self.retry_at = None;
            for token in core::mem::take(&mut self.starved) {
                if let Some(ready) = self.ready.get_mut(&token) {
                    *ready |= READ;
                    any = true;
                }
            }
        }
        for (token, flags) in news {
            if let Some(ready) = self.ready.get_mut(&token) {
                *ready |= flags;
            }
            if let Some(waiter) = self.waiting.remove(&token) {
                waiter.wake();
            }
        }
        any
    }

    fn deadline(&mut self) -> Option<u64> {
        self.retry_at.map(Instant::as_nanos)
    }
}

/// A non-blocking listener on `port` of every address, set up as std's
/// and mio's are (`SO_REUSEADDR`, a queue of 1024), with `SO_REUSEPORT`
/// when it is one of a listener per core.
fn listening_socket(port: u16, per_core: bool) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM.nonblocking().cloexec(), None)?;
    socket.set_reuse_address(true)?;
    if per_core {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&std::net::SocketAddr::from(([0, 0, 0, 0], port)).into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Whether an `accept` failed for want of descriptors or memory, which
/// closing other connections may cure.
fn lacks_resources(error: &std::io::Error) -> bool {
    const ENOMEM: i32 = 12;
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const ENOBUFS: i32 = 105;
    matches!(
        error.raw_os_error(),
        Some(ENOMEM | ENFILE | EMFILE | ENOBUFS)
    )
}
