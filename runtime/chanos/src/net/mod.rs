//! TCP and UDP sockets as channels.
//!
//! One runtime task, the *network task*, owns every socket: in the image it
//! owns the TCP/IP stack (smoltcp) and the virtio-net device, hosted it owns
//! non-blocking Linux sockets, in its core's epoll instance. Apps never touch a
//! socket: an accepted [`TcpStream`] is a pair of bounded channels to and
//! from the network task, so reading and writing are channel operations
//! that compose with [`select!`](crate::select!) and
//! [`timeout`](crate::time::timeout), and the same app runs hosted and booted.
//!
//! ```no_run
//! # async fn serve() -> Result<(), chanos::net::NetError> {
//! use chanos::net::TcpListener;
//! let listener = TcpListener::bind(7).await?;
//! loop {
//!     let stream = listener.accept().await?;
//!     chanos::spawn(async move {
//!         while let Ok(Some(bytes)) = stream.read().await {
//!             if stream.write(bytes).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! [`TcpStream::connect`] makes outgoing connections, the same kind of stream.
//!
//! # Contract
//! - **Backpressure.** Each direction of a stream is a bounded channel of
//!   chunks ([`STREAM_CHUNKS`] of them, each at most [`CHUNK_BYTES`]). When
//!   an app reads slowly, its channel fills and the network task stops
//!   taking that connection's bytes out of the stack: the TCP window closes
//!   for that peer only; other connections' data keep flowing.
//! - **End of stream.** A read returns `Ok(None)` when the peer closed its
//!   side in order, and `Err(NetError::Reset)` when the connection was reset
//!   or timed out. Writes fail with `NetError::Closed` once the connection is
//!   gone. Dropping the stream (or [`TcpStream::shutdown_write`]) sends FIN
//!   after everything written so far.
//! - **Listeners** queue accepted connections in a channel of `backlog`
//!   streams; dropping the listener stops listening.
//! - **UDP** datagrams that arrive while the socket's channel is full are
//!   dropped, as a kernel drops them when a socket buffer is full.

mod dirty;
mod driver;
mod io;
mod pump;
#[cfg(any(test, fuzzing))]
pub(crate) mod pump_check;

#[cfg(not(target_os = "none"))]
#[path = "hosted.rs"]
mod backend;

#[cfg(target_os = "none")]
#[path = "stack.rs"]
mod backend;

use crate::chan::{self, oneshot, Receiver, Sender};
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::fmt;
pub use core::net::{Ipv4Addr, SocketAddr};

/// How many chunks each direction of a stream buffers.
pub const STREAM_CHUNKS: usize = 4;
/// The largest chunk a read returns.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// How many accepted connections a listener queues by default.
pub const DEFAULT_BACKLOG: usize = 128;
/// How many datagrams a UDP socket buffers in each direction.
pub const DATAGRAM_QUEUE: usize = 32;
/// The largest UDP payload over IPv4 (65,535 less the IP and UDP headers):
/// datagrams up to this size arrive whole, on both backends.
pub const MAX_DATAGRAM: usize = 65_507;

/// Why a network operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// Something already listens on (or is bound to) this port.
    AddressInUse(u16),
    /// The connection was reset by the peer, or timed out.
    Reset,
    /// The connection (or socket) is closed: nothing more can be written.
    Closed,
    /// The image has no network device (boot QEMU with a virtio-net device).
    NoDevice,
    /// Nobody accepted the connection: the peer refused it, or (in the
    /// image) did not answer in time.
    Refused,
    /// The operating system refused (hosted), with its message.
    Os(alloc::string::String),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::AddressInUse(port) => write!(f, "port {port} is already in use"),
            NetError::Reset => f.write_str("connection reset by peer"),
            NetError::Refused => f.write_str("connection refused"),
            NetError::Closed => f.write_str("connection closed"),
            NetError::NoDevice => f.write_str("no network device (boot with a virtio-net device)"),
            NetError::Os(message) => f.write_str(message),
        }
    }
}

/// What one read of a stream yields: bytes, or why there are none.
pub type ReadResult = Result<Vec<u8>, NetError>;

/// A connected TCP stream: two channels to and from the network task.
#[derive(Debug)]
pub struct TcpStream {
    reads: Receiver<ReadResult>,
    writes: Option<Sender<Vec<u8>>>,
    peer: SocketAddr,
    local: SocketAddr,
}

impl TcpStream {
    /// Connects to `address` (IPv4 only, in the image).
    pub async fn connect(address: SocketAddr) -> Result<TcpStream, NetError> {
        let (reply, answer) = oneshot::channel();
        request(driver::Request::Connect { address, reply }).await?;
        answer.await.map_err(|_| NetError::Closed)?
    }

    /// The next bytes from the peer; `Ok(None)` once the peer has closed.
    pub async fn read(&self) -> Result<Option<Vec<u8>>, NetError> {
        self.reads.recv().await.transpose()
    }

    /// The channel reads come from, for [`select!`](crate::select!): it
    /// yields chunks, an error at a reset, and closes at the end of stream.
    pub fn reads(&self) -> &Receiver<ReadResult> {
        &self.reads
    }

    /// Queues `bytes` to be sent; waits while the stream's channel is full.
    pub async fn write(&self, bytes: impl Into<Vec<u8>>) -> Result<(), NetError> {
        let writes = self.writes.as_ref().ok_or(NetError::Closed)?;
        writes
            .send(bytes.into())
            .await
            .map_err(|_| NetError::Closed)
    }

    /// The channel writes go to, for [`select!`](crate::select!); `None`
    /// after [`shutdown_write`](Self::shutdown_write).
    pub fn writes(&self) -> Option<&Sender<Vec<u8>>> {
        self.writes.as_ref()
    }

    /// Sends FIN after everything written so far; reading goes on.
    pub fn shutdown_write(&mut self) {
        self.writes = None;
    }

    /// The two channels, to hand the halves to different tasks.
    pub fn into_split(self) -> (Receiver<ReadResult>, Option<Sender<Vec<u8>>>) {
        (self.reads, self.writes)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// This end's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// A listening TCP socket; accepted connections arrive on a channel.
#[derive(Debug)]
pub struct TcpListener {
    accepted: Receiver<TcpStream>,
    port: u16,
    /// Dropped with the listener, which closes the channel the network
    /// task watches: that is how it learns to stop listening.
    _lifeline: Sender<()>,
}

impl TcpListener {
    /// Listens on `port` on every address, queueing [`DEFAULT_BACKLOG`]
    /// connections.
    pub async fn bind(port: u16) -> Result<TcpListener, NetError> {
        TcpListener::bind_with_backlog(port, DEFAULT_BACKLOG).await
    }

    /// Listens on `port`, queueing up to `backlog` accepted connections.
    pub async fn bind_with_backlog(port: u16, backlog: usize) -> Result<TcpListener, NetError> {
        TcpListener::listen(port, backlog, false).await
    }

    /// Listens on `port` beside the other listeners bound this way, one per
    /// core: each core's network task then accepts its own connections and
    /// serves them on its own core, with no channel between cores on the
    /// way. Hosted, the listeners are Linux sockets with `SO_REUSEPORT`,
    /// and the kernel spreads incoming connections over them (by a hash of
    /// the client's address and port). In the image, whose one network
    /// device is served by one network task on core 0, each is a set of
    /// listening sockets of its own on the port, and its connections are
    /// served on its core over channels from core 0.
    ///
    /// Bind port 0 on one core first and the others to the port it got.
    /// Any process of the same user may join a port bound this way.
    pub async fn bind_per_core(port: u16) -> Result<TcpListener, NetError> {
        TcpListener::listen(port, DEFAULT_BACKLOG, true).await
    }

    /// A listener per core on `port`, each bound by its own core's network
    /// task with [`bind_per_core`](Self::bind_per_core): listener `k` is
    /// core `k`'s. Hand each to a task on its core
    /// ([`spawn_on`](crate::spawn_on)`(k, ...)`), which then accepts and
    /// serves that core's connections. Port 0 picks one port for all.
    ///
    /// ```no_run
    /// # async fn serve() -> Result<(), chanos::net::NetError> {
    /// use chanos::net::TcpListener;
    /// let listeners = TcpListener::bind_on_every_core(7).await?;
    /// let serving: Vec<_> = (0..).zip(listeners)
    ///     .map(|(core, listener)| chanos::spawn_on(core, async move {
    ///         while let Ok(stream) = listener.accept().await {
    ///             chanos::spawn(async move { let _ = stream; /* serve it */ });
    ///         }
    ///     }))
    ///     .collect();
    /// for core in serving {
    ///     core.await;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind_on_every_core(port: u16) -> Result<Vec<TcpListener>, NetError> {
        // Core 0 first, so that port 0 becomes one port.
        let first = crate::spawn_on(0, TcpListener::bind_per_core(port)).await?;
        let port = first.port();
        let others: Vec<_> = (1..crate::cores())
            .map(|core| crate::spawn_on(core, TcpListener::bind_per_core(port)))
            .collect();
        let mut listeners = Vec::with_capacity(others.len() + 1);
        listeners.push(first);
        for bound in others {
            listeners.push(bound.await?);
        }
        Ok(listeners)
    }

    async fn listen(port: u16, backlog: usize, per_core: bool) -> Result<TcpListener, NetError> {
        let (reply, answer) = oneshot::channel();
        let (lifeline, watch) = chan::bounded_named(0, "listener lifeline");
        request(driver::Request::Listen {
            port,
            backlog: backlog.max(1),
            per_core,
            watch,
            reply,
        })
        .await?;
        let (accepted, port) = answer.await.map_err(|_| NetError::Closed)??;
        Ok(TcpListener {
            accepted,
            port,
            _lifeline: lifeline,
        })
    }

    /// The next connection.
    pub async fn accept(&self) -> Result<TcpStream, NetError> {
        self.accepted.recv().await.ok_or(NetError::Closed)
    }

    /// The channel connections arrive on, for [`select!`](crate::select!).
    pub fn incoming(&self) -> &Receiver<TcpStream> {
        &self.accepted
    }

    /// The port it listens on (the one chosen, when bound to port 0).
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// One UDP datagram and where it came from (or goes to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The payload.
    pub data: Vec<u8>,
    /// The peer: the sender of a received datagram, the destination of a sent one.
    pub peer: SocketAddr,
}

/// A bound UDP socket: datagrams in and out over channels.
#[derive(Debug)]
pub struct UdpSocket {
    incoming: Receiver<Datagram>,
    outgoing: Sender<Datagram>,
    port: u16,
}

impl UdpSocket {
    /// Binds `port` on every address.
    pub async fn bind(port: u16) -> Result<UdpSocket, NetError> {
        let (reply, answer) = oneshot::channel();
        request(driver::Request::BindUdp { port, reply }).await?;
        let (incoming, outgoing, port) = answer.await.map_err(|_| NetError::Closed)??;
        Ok(UdpSocket {
            incoming,
            outgoing,
            port,
        })
    }

    /// The next datagram.
    pub async fn recv_from(&self) -> Result<Datagram, NetError> {
        self.incoming.recv().await.ok_or(NetError::Closed)
    }

    /// Queues a datagram for `peer`.
    pub async fn send_to(
        &self,
        data: impl Into<Vec<u8>>,
        peer: SocketAddr,
    ) -> Result<(), NetError> {
        let datagram = Datagram {
            data: data.into(),
            peer,
        };
        self.outgoing
            .send(datagram)
            .await
            .map_err(|_| NetError::Closed)
    }

    /// The channel datagrams arrive on, for [`select!`](crate::select!).
    pub fn incoming(&self) -> &Receiver<Datagram> {
        &self.incoming
    }

    /// The channel datagrams leave by, for [`select!`](crate::select!).
    pub fn outgoing(&self) -> &Sender<Datagram> {
        &self.outgoing
    }

    /// The port it is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// The network task's request channel, starting the task on first use.
struct NetService {
    requests: Sender<driver::Request>,
}

async fn request(req: driver::Request) -> Result<(), NetError> {
    // The image has one network device, and one network task for it, on
    // core 0: other cores' requests go there.
    // The request carries its own reply channel, so it goes on without us.
    #[cfg(target_os = "none")]
    if crate::core() != 0 {
        drop(crate::spawn_on_named(0, "network request", async move {
            if let Err(chan::SendError(req)) = request_here(req).await {
                driver::refuse(req, &NetError::NoDevice);
            }
        }));
        return Ok(());
    }
    request_here(req).await.map_err(|_| NetError::NoDevice)
}

/// Sends `req` to this core's network task (started on first use).
async fn request_here(req: driver::Request) -> Result<(), chan::SendError<driver::Request>> {
    // A clone of the sender, not the `Rc`, is held across the await: the
    // futures of the network API stay `Send`, to be spawned on any core.
    let requests = crate::executor::service(|| {
        let (requests, incoming) = chan::bounded_named(8, "network requests");
        driver::start(incoming);
        Rc::new(NetService { requests })
    })
    .requests
    .clone();
    requests.send(req).await
}
