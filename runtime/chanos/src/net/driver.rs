//! The network task: owns the backend's sockets and pumps bytes between
//! them and the apps' channels. It runs whenever the device (or its core's
//! epoll instance), an app's channel or the stack's own timer wakes it, and sleeps
//! otherwise: it never polls in a loop.

use super::dirty::{Dirty, Mark};
use super::io::Backend;
use super::pump::{DatagramPump, StreamPump};
use super::{Datagram, NetError, ReadResult, SocketAddr, TcpStream, DATAGRAM_QUEUE, STREAM_CHUNKS};
use crate::chan::{self, oneshot, Receiver, Sender, SinkSender};
use crate::executor::WakeSource;
use crate::time::{sleep_until, Instant, Sleep};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use futures_core::Stream;
use futures_sink::Sink;

/// How long a connection the app has let go of may go without moving a
/// byte (the peer neither reads what is left nor answers our FIN) before it
/// is reset.
const LINGER: Duration = Duration::from_secs(10);
/// How long such a connection may linger at all, however busy: a peer that
/// keeps sending after our FIN (what it sends is read and thrown away)
/// cannot hold the socket longer than this (nginx's `lingering_time`).
const LINGER_AT_MOST: Duration = Duration::from_secs(30);
/// Rounds of "pump, then let the stack work" per wake-up before the
/// network task yields to the others.
const ROUNDS_PER_POLL: u32 = 32;

/// What apps ask of the network task.
pub(crate) enum Request {
    Listen {
        port: u16,
        backlog: usize,
        /// One of several listeners on the port (`TcpListener::bind_per_core`).
        per_core: bool,
        /// Closes when the app drops the listener.
        watch: Receiver<()>,
        reply: oneshot::Sender<Result<(Receiver<TcpStream>, u16), NetError>>,
    },
    Connect {
        address: SocketAddr,
        reply: oneshot::Sender<Result<TcpStream, NetError>>,
    },
    BindUdp {
        port: u16,
        #[allow(clippy::type_complexity)] // a reply of three parts, named where it is made
        reply: oneshot::Sender<Result<(Receiver<Datagram>, Sender<Datagram>, u16), NetError>>,
    },
}

struct Listening<B: Backend> {
    socket: B::Listener,
    accepted: SinkSender<TcpStream>,
    watch: Receiver<()>,
}

struct Connection<B: Backend> {
    socket: B::Stream,
    pump: StreamPump,
    /// Once the app has let go of it: when that was, and when it last moved a byte.
    let_go_at: Option<Instant>,
    abandoned_at: Option<Instant>,
    /// Its own waker, which marks it for the next round (see `dirty`).
    mark: Arc<Mark>,
    waker: Waker,
}

/// A connection being made for `TcpStream::connect`.
struct Connecting<B: Backend> {
    socket: B::Stream,
    reply: oneshot::Sender<Result<TcpStream, NetError>>,
    mark: Arc<Mark>,
    waker: Waker,
}

struct Bound<B: Backend> {
    socket: B::Datagram,
    pump: DatagramPump,
}

struct Driver<B: Backend> {
    backend: B,
    requests: Receiver<Request>,
    listeners: Vec<Listening<B>>,
    connections: BTreeMap<u64, Connection<B>>,
    connecting: BTreeMap<u64, Connecting<B>>,
    dirty: Arc<Dirty>,
    udp: Vec<Bound<B>>,
    alarm: Option<Sleep>,
    /// Held while any socket is open: the device or epoll may wake us.
    wake_source: Option<WakeSource>,
}

/// Spawns the network task, which serves `requests` until the runtime ends.
pub(crate) fn start(requests: Receiver<Request>) {
    crate::executor::spawn_service("network", async move {
        match super::backend::open() {
            Ok(backend) => {
                let mut driver = Driver {
                    backend,
                    requests,
                    listeners: Vec::new(),
                    connections: BTreeMap::new(),
                    connecting: BTreeMap::new(),
                    dirty: Arc::default(),
                    udp: Vec::new(),
                    alarm: None,
                    wake_source: None,
                };
                poll_fn(|cx| driver.poll(cx)).await
            }
            Err(error) => {
                log::warn!("network: {error}");
                while let Some(request) = requests.recv().await {
                    refuse(request, &error);
                }
            }
        }
    });
}

/// Answers `request` with `error` (no network to serve it).
pub(super) fn refuse(request: Request, error: &NetError) {
    // A requester that went away no longer needs the answer.
    let _ = match request {
        Request::Listen { reply, .. } => reply.send(Err(error.clone())).map_err(drop),
        Request::BindUdp { reply, .. } => reply.send(Err(error.clone())).map_err(drop),
        Request::Connect { reply, .. } => reply.send(Err(error.clone())).map_err(drop),
    };
}

impl<B: Backend> Driver<B> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.dirty.wake_on_mark(cx.waker());
        for _ in 0..ROUNDS_PER_POLL {
            self.take_requests(cx);
            let mut busy = self.backend.poll(cx);
            busy |= self.serve_listeners(cx);
            busy |= self.serve_connections();
            busy |= self.serve_udp(cx);
            if !busy {
                self.arm_alarm(cx);
                self.note_wake_source();
                return Poll::Pending;
            }
        }
        // Still busy: let the other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn take_requests(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(request)) = Pin::new(&mut self.requests).poll_next(cx) {
            let _ = match request {
                Request::Listen {
                    port,
                    backlog,
                    per_core,
                    watch,
                    reply,
                } => reply
                    .send(self.listen(port, backlog, per_core, watch))
                    .map_err(drop),
                Request::BindUdp { port, reply } => reply.send(self.bind_udp(port)).map_err(drop),
                Request::Connect { address, reply } => {
                    self.connect(address, reply);
                    Ok(())
                }
            };
        }
    }

    fn listen(
        &mut self,
        port: u16,
        backlog: usize,
        per_core: bool,
        watch: Receiver<()>,
    ) -> Result<(Receiver<TcpStream>, u16), NetError> {
        let (socket, port) = self.backend.listen(port, backlog, per_core)?;
        let (accepted, incoming) = chan::bounded_named(backlog, "accepted connections");
        self.listeners.push(Listening {
            socket,
            accepted: accepted.into_sink(),
            watch,
        });
        Ok((incoming, port))
    }

    fn bind_udp(
        &mut self,
        port: u16,
    ) -> Result<(Receiver<Datagram>, Sender<Datagram>, u16), NetError> {
        let (socket, port) = self.backend.bind_udp(port)?;
        let (to_app, incoming) = chan::bounded_named(DATAGRAM_QUEUE, "udp in");
        let (outgoing, from_app) = chan::bounded_named(DATAGRAM_QUEUE, "udp out");
        self.udp.push(Bound {
            socket,
            pump: DatagramPump::new(to_app, from_app),
        });
        Ok((incoming, outgoing, port))
    }

    /// Hands accepted connections to listeners with room in their queue,
    /// and stops listening where the app dropped its listener.
    fn serve_listeners(&mut self, cx: &mut Context<'_>) -> bool {
        let mut busy = false;
        let mut i = 0;
        while i < self.listeners.len() {
            let (open, came) = self.accept_from(i, cx);
            busy |= came;
            if open {
                i += 1;
            } else {
                let gone = self.listeners.swap_remove(i);
                self.backend.close_listener(gone.socket);
            }
        }
        busy
    }

    /// Moves connections listener `i` accepted into its queue while there
    /// is room. Says whether the app still holds the listener, and whether
    /// any connection came.
    fn accept_from(&mut self, i: usize, cx: &mut Context<'_>) -> (bool, bool) {
        let listening = &mut self.listeners[i];
        let mut came = false;
        if let Poll::Ready(None) = Pin::new(&mut listening.watch).poll_next(cx) {
            return (false, came);
        }
        loop {
            match Pin::new(&mut listening.accepted).poll_flush(cx) {
                Poll::Pending => return (true, came),
                Poll::Ready(Err(_)) => return (false, came),
                Poll::Ready(Ok(())) if listening.accepted.get_ref().is_closed() => {
                    return (false, came)
                }
                Poll::Ready(Ok(())) => {}
            }
            let Some(accepted) = self.backend.accept(&mut listening.socket) else {
                return (true, came);
            };
            came = true;
            let (id, mark, waker) = self.dirty.mark();
            let (connection, stream) =
                Connection::open(accepted.stream, accepted.peer, accepted.local, mark, waker);
            self.connections.insert(id, connection);
            // `poll_flush` said the previous stream was taken: room for one.
            let _ = Pin::new(&mut listening.accepted).start_send(stream);
        }
    }

    /// Begins an outgoing connection; the answer comes once it is up (or not).
    fn connect(
        &mut self,
        address: SocketAddr,
        reply: oneshot::Sender<Result<TcpStream, NetError>>,
    ) {
        match self.backend.connect(address) {
            Ok(socket) => {
                let (id, mark, waker) = self.dirty.mark();
                let connecting = Connecting {
                    socket,
                    reply,
                    mark,
                    waker,
                };
                self.connecting.insert(id, connecting);
            }
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Looks at an outgoing connection being made; once it is up, it is a
    /// connection like the accepted ones, under the same id and waker.
    fn serve_connecting(&mut self, id: u64) -> bool {
        let Some(connecting) = self.connecting.get_mut(&id) else {
            return false;
        };
        connecting.mark.clear();
        let mut cx = Context::from_waker(&connecting.waker);
        let Poll::Ready(outcome) = self.backend.poll_connected(&mut connecting.socket, &mut cx)
        else {
            return false;
        };
        let Some(connecting) = self.connecting.remove(&id) else {
            return false;
        };
        match outcome {
            Ok((local, peer)) => {
                let Connecting {
                    socket,
                    reply,
                    mark,
                    waker,
                } = connecting;
                let (connection, stream) = Connection::open(socket, peer, local, mark, waker);
                if reply.send(Ok(stream)).is_err() {
                    // Nobody waits for it any more.
                    self.backend.release(connection.socket);
                    return true;
                }
                connection.waker.wake_by_ref();
                self.connections.insert(id, connection);
            }
            Err(error) => {
                self.backend.release(connecting.socket);
                let _ = connecting.reply.send(Err(error));
            }
        }
        true
    }

    /// Pumps the connections whose waker was woken since the last round.
    fn serve_connections(&mut self) -> bool {
        let now = Instant::now();
        let mut busy = false;
        for id in self.dirty.take() {
            busy |= self.serve_connecting(id);
            let Some(connection) = self.connections.get_mut(&id) else {
                continue; // released meanwhile, or still connecting
            };
            connection.mark.clear();
            let mut cx = Context::from_waker(&connection.waker);
            let moved = connection
                .pump
                .pump(&mut self.backend, &mut connection.socket, &mut cx);
            busy |= moved;
            if connection.pump.app_gone() {
                connection.let_go_at.get_or_insert(now);
                if moved || connection.abandoned_at.is_none() {
                    connection.abandoned_at = Some(now);
                }
            }
            let lingered = connection.linger_ends().is_some_and(|end| now >= end);
            if connection.pump.finished() || lingered {
                if let Some(gone) = self.connections.remove(&id) {
                    self.backend.release(gone.socket);
                }
                busy = true;
            }
        }
        busy
    }

    fn serve_udp(&mut self, cx: &mut Context<'_>) -> bool {
        let mut busy = false;
        let mut i = 0;
        while i < self.udp.len() {
            let bound = &mut self.udp[i];
            busy |= bound.pump.pump(&mut self.backend, &mut bound.socket, cx);
            if bound.pump.finished() {
                let gone = self.udp.swap_remove(i);
                self.backend.release_udp(gone.socket);
            } else {
                i += 1;
            }
        }
        busy
    }

    /// Sets the timer for the stack's next deadline and the oldest lingering connection.
    fn arm_alarm(&mut self, cx: &mut Context<'_>) {
        let linger = self
            .connections
            .values()
            .filter_map(Connection::linger_ends)
            .min();
        let stack = self.backend.deadline().map(Instant::from_nanos);
        let deadline = match (stack, linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(at) = deadline else {
            self.alarm = None;
            return;
        };
        if self
            .alarm
            .as_ref()
            .is_none_or(|alarm| alarm.deadline() != at)
        {
            self.alarm = Some(sleep_until(at));
        }
        if let Some(alarm) = self.alarm.as_mut() {
            if Pin::new(alarm).poll(cx).is_ready() {
                self.alarm = None;
                // The lingering ones may be due: look at them again.
                for connection in self.connections.values() {
                    if connection.abandoned_at.is_some() {
                        connection.waker.wake_by_ref();
                    }
                }
                cx.waker().wake_by_ref();
            }
        }
    }

    fn note_wake_source(&mut self) {
        let held =
            self.listeners.len() + self.connections.len() + self.connecting.len() + self.udp.len();
        crate::executor::counters::set(|c| &c.sockets, held as u64);
        let open = held > 0;
        match (open, self.wake_source.is_some()) {
            (true, false) => self.wake_source = Some(WakeSource::hold()),
            (false, true) => self.wake_source = None,
            _ => {}
        }
    }
}

impl<B: Backend> Connection<B> {
    /// A connection up on `socket`, and the app's end of its two channels.
    fn open(
        socket: B::Stream,
        peer: SocketAddr,
        local: SocketAddr,
        mark: Arc<Mark>,
        waker: Waker,
    ) -> (Self, TcpStream) {
        let (to_app, reads) = chan::bounded_named::<ReadResult>(STREAM_CHUNKS, "tcp reads");
        let (writes, from_app) = chan::bounded_named::<Vec<u8>>(STREAM_CHUNKS, "tcp writes");
        let stream = TcpStream {
            reads,
            writes: Some(writes),
            peer,
            local,
        };
        let connection = Connection {
            socket,
            pump: StreamPump::new(to_app.into_sink(), from_app),
            let_go_at: None,
            abandoned_at: None,
            mark,
            waker,
        };
        (connection, stream)
    }

    /// When a connection the app has let go of is released, if it is not
    /// finished before: after `LINGER` without a byte moving, and
    /// `LINGER_AT_MOST` after the app let go at the latest.
    fn linger_ends(&self) -> Option<Instant> {
        let quiet = self.abandoned_at? + LINGER;
        Some(quiet.min(self.let_go_at? + LINGER_AT_MOST))
    }
}
