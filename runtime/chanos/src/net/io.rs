//! What the network task needs from a TCP/IP implementation (a backend):
//! smoltcp on a virtio-net device in the image (`stack.rs`), Linux
//! sockets hosted (`hosted.rs`). Every call returns at once.

use super::{Datagram, NetError, SocketAddr};
use alloc::vec::Vec;
use core::task::{Context, Poll};

/// What a non-blocking read found.
pub(crate) enum ReadStep<T> {
    Data(T),
    WouldBlock,
    Eof,
    Failed(NetError),
}

/// What a non-blocking write did.
pub(crate) enum WriteStep {
    Wrote(usize),
    WouldBlock,
    Failed,
}

/// A connection a listener accepted.
pub(crate) struct Accepted<S> {
    pub(crate) stream: S,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
}

/// What the network task needs from a TCP/IP implementation: smoltcp on a
/// virtio-net device (the image), or Linux sockets (hosted). Every call
/// must return at once; `poll` registers `cx` for when there is news.
pub(crate) trait Backend: 'static {
    type Stream;
    type Listener;
    type Datagram;

    /// Listens on `port`; `per_core`: beside other listeners on the same
    /// port that asked for it (one per core's network task), where the
    /// backend can spread connections over them.
    fn listen(
        &mut self,
        port: u16,
        backlog: usize,
        per_core: bool,
    ) -> Result<(Self::Listener, u16), NetError>;
    fn accept(&mut self, listener: &mut Self::Listener) -> Option<Accepted<Self::Stream>>;
    fn close_listener(&mut self, listener: Self::Listener);

    /// Begins a connection to `address`.
    fn connect(&mut self, address: SocketAddr) -> Result<Self::Stream, NetError>;
    /// Whether a connection `connect` began is up: its local and peer
    /// addresses, or why not; `Pending` wakes `cx` when that may change.
    fn poll_connected(
        &mut self,
        stream: &mut Self::Stream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(SocketAddr, SocketAddr), NetError>>;

    /// Reads; on `WouldBlock`, `cx` is woken when there may be more.
    fn read(&mut self, stream: &mut Self::Stream, cx: &mut Context<'_>) -> ReadStep<Vec<u8>>;
    /// Writes; on `WouldBlock`, `cx` is woken when there may be room.
    fn write(&mut self, stream: &mut Self::Stream, bytes: &[u8], cx: &mut Context<'_>)
        -> WriteStep;
    /// Sends FIN once what was written has gone.
    fn shutdown_write(&mut self, stream: &mut Self::Stream);
    /// Lets the socket go: the app has dropped it and both directions are
    /// over, or it lingered too long (then it may be reset).
    fn release(&mut self, stream: Self::Stream);

    fn bind_udp(&mut self, port: u16) -> Result<(Self::Datagram, u16), NetError>;
    fn recv_datagram(&mut self, socket: &mut Self::Datagram) -> ReadStep<Datagram>;
    fn send_datagram(&mut self, socket: &mut Self::Datagram, datagram: &Datagram) -> WriteStep;
    fn release_udp(&mut self, socket: Self::Datagram);

    /// Moves packets between the device and the sockets (hosted: takes
    /// the readiness epoll reported); true when something happened that
    /// the pumps should see.
    fn poll(&mut self, cx: &mut Context<'_>) -> bool;
    /// When `poll` must run again even if nothing wakes the task, in
    /// nanoseconds of [`Instant`] time.
    fn deadline(&mut self) -> Option<u64>;
}
