//! The image's backend: smoltcp on the virtio-net device, owned by the
//! network task.
//!
//! Listening: smoltcp has no accept queue; a listening socket *becomes* the
//! connection when a SYN arrives. So a listener keeps `backlog` sockets
//! listening on its port, hands each one over once it is established, and
//! puts a fresh one in its place. The address comes from DHCP, or from
//! `chanos.net=ADDRESS/PREFIX[,GATEWAY]` on the command line.

use super::io::{Accepted, Backend, ReadStep, WriteStep};
use super::{Datagram, Ipv4Addr, NetError, SocketAddr, CHUNK_BYTES};
use crate::platform::{self, NetDevice};
use alloc::vec;
use alloc::vec::Vec;
use core::task::{Context, Poll};
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint, Ipv4Cidr};

/// Per-connection buffers: the receive buffer is the TCP window.
const TCP_BUFFER: usize = 32 * 1024;
/// Local ports for outgoing connections (IANA's dynamic range).
const EPHEMERAL: core::ops::Range<u16> = 49152..65535;
/// How long an outgoing connection (or, once it is up, its unacknowledged
/// data) may go unanswered before smoltcp gives up on it.
const TCP_TIMEOUT: smoltcp::time::Duration = smoltcp::time::Duration::from_secs(20);
/// At most this many TCP sockets, listening ones included, exist at once.
/// Each holds 64 KiB of buffers, so a flood of connections is refused
/// (reset) instead of exhausting the heap.
const MAX_TCP_SOCKETS: usize = 512;
/// Per-UDP-socket buffers: datagrams and bytes. Twice the largest datagram,
/// so that one always fits while another is queued.
const UDP_PACKETS: usize = 32;
const UDP_BYTES: usize = 2 * 64 * 1024;

pub(crate) struct Stack {
    device: NetDevice,
    iface: Interface,
    sockets: SocketSet<'static>,
    dhcp: Option<SocketHandle>,
    /// Sockets released while still closing; dropped once closed.
    closing: Vec<SocketHandle>,
    /// Ports with a listener or a bound UDP socket: (port, TCP, per core),
    /// an entry for each.
    ports: Vec<(u16, bool, bool)>,
    /// The next local port to try for an outgoing connection.
    next_ephemeral: u16,
    /// Outgoing connections waiting for an address, woken once there is one.
    want_address: Vec<core::task::Waker>,
    /// TCP sockets in `sockets` (see `MAX_TCP_SOCKETS`).
    tcp_sockets: usize,
}

pub(crate) struct Listener {
    port: u16,
    /// How many sockets to keep listening.
    backlog: usize,
    listening: Vec<SocketHandle>,
}

pub(crate) struct Stream {
    handle: SocketHandle,
    /// An outgoing connection waiting for this machine to have an address
    /// (DHCP may not have answered yet): where to, and from which port.
    unsent: Option<(IpEndpoint, u16)>,
}

pub(crate) struct Udp {
    handle: SocketHandle,
    port: u16,
}

fn now() -> Instant {
    Instant::from_micros((platform::now_ns() / 1000) as i64)
}

pub(crate) fn open() -> Result<Stack, NetError> {
    let mut device = platform::open_net_device().ok_or(NetError::NoDevice)?;
    let mac = EthernetAddress(device.mac());
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = platform::seed();
    let iface = Interface::new(config, &mut device, now());
    let mut stack = Stack {
        device,
        iface,
        sockets: SocketSet::new(Vec::new()),
        dhcp: None,
        closing: Vec::new(),
        ports: Vec::new(),
        next_ephemeral: EPHEMERAL.start,
        want_address: Vec::new(),
        tcp_sockets: 0,
    };
    match platform::net_config() {
        None | Some("dhcp") => {
            let handle = stack.sockets.add(dhcpv4::Socket::new());
            stack.dhcp = Some(handle);
            log::info!("network: {mac}, asking DHCP for an address");
        }
        Some(text) => {
            let (cidr, gateway) = parse_static(text).ok_or_else(|| {
                NetError::Os(alloc::format!(
                    "chanos.net={text}: expected dhcp or ADDRESS/PREFIX[,GATEWAY]"
                ))
            })?;
            stack.configure(cidr, gateway);
        }
    }
    Ok(stack)
}

/// `10.0.2.15/24,10.0.2.2` -> the address and the gateway.
fn parse_static(text: &str) -> Option<(Ipv4Cidr, Option<Ipv4Addr>)> {
    let (cidr, gateway) = match text.split_once(',') {
        Some((cidr, gateway)) => (cidr, Some(gateway.parse().ok()?)),
        None => (text, None),
    };
    let (address, prefix) = cidr.split_once('/')?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= 32).then_some(())?;
    Some((Ipv4Cidr::new(address.parse().ok()?, prefix), gateway))
}

/// The stack speaks IPv4 only.
fn endpoint(address: SocketAddr) -> Option<IpEndpoint> {
    match address {
        SocketAddr::V4(v4) => Some(IpEndpoint::new((*v4.ip()).into(), v4.port())),
        SocketAddr::V6(_) => None,
    }
}

fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    SocketAddr::new(endpoint.addr.into(), endpoint.port)
}

impl Stack {
    fn configure(&mut self, cidr: Ipv4Cidr, gateway: Option<Ipv4Addr>) {
        self.iface.update_ip_addrs(|addresses| {
            addresses.clear();
            let _ = addresses.push(IpCidr::Ipv4(cidr));
        });
        self.iface.routes_mut().remove_default_ipv4_route();
        if let Some(gateway) = gateway {
            let _ = self.iface.routes_mut().add_default_ipv4_route(gateway);
        }
        log::info!(
            "network: address {cidr}{}",
            gateway.map_or(alloc::string::String::new(), |g| alloc::format!(
                ", gateway {g}"
            ))
        );
    }

    fn poll_dhcp(&mut self) -> bool {
        let Some(handle) = self.dhcp else {
            return false;
        };
        let event = self.sockets.get_mut::<dhcpv4::Socket<'_>>(handle).poll();
        match event {
            None => false,
            Some(dhcpv4::Event::Configured(config)) => {
                let (address, router) = (config.address, config.router);
                self.configure(address, router);
                self.want_address
                    .drain(..)
                    .for_each(core::task::Waker::wake);
                true
            }
            // Also what a fresh DHCP socket says first, before any lease.
            Some(dhcpv4::Event::Deconfigured) => {
                if self.iface.ipv4_addr().is_some() {
                    log::warn!("network: the DHCP lease is lost");
                    self.iface.update_ip_addrs(|addresses| addresses.clear());
                }
                true
            }
        }
    }

    /// A TCP socket with its buffers, unless `MAX_TCP_SOCKETS` exist.
    fn new_tcp(&self) -> Option<tcp::Socket<'static>> {
        if self.tcp_sockets >= MAX_TCP_SOCKETS {
            return None;
        }
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
            tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
        );
        socket.set_nagle_enabled(false);
        Some(socket)
    }

    fn add_tcp(&mut self, socket: tcp::Socket<'static>) -> SocketHandle {
        self.tcp_sockets += 1;
        self.sockets.add(socket)
    }

    fn remove_tcp(&mut self, handle: SocketHandle) {
        self.tcp_sockets -= 1;
        self.sockets.remove(handle);
    }

    fn new_listening(&mut self, port: u16) -> Option<SocketHandle> {
        let mut socket = self.new_tcp()?;
        socket.listen(port).ok()?;
        Some(self.add_tcp(socket))
    }

    /// Whether `port` is taken for a new holder; listeners bound per core
    /// share a port with each other, not with anyone else.
    fn port_taken_for(&self, port: u16, tcp: bool, per_core: bool) -> bool {
        self.ports
            .iter()
            .any(|&(p, t, shared)| (p, t) == (port, tcp) && !(per_core && shared))
    }

    fn port_taken(&self, port: u16, tcp: bool) -> bool {
        self.port_taken_for(port, tcp, false)
    }

    /// Lets go of one holder's claim on `port`.
    fn free_port(&mut self, port: u16, tcp: bool) {
        if let Some(i) = self
            .ports
            .iter()
            .position(|&(p, t, _)| (p, t) == (port, tcp))
        {
            self.ports.swap_remove(i);
        }
    }

    fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(handle)
    }

    /// Drops the released sockets that have finished closing.
    fn collect_closed(&mut self) {
        let mut i = 0;
        while i < self.closing.len() {
            let handle = self.closing[i];
            let state = self.tcp(handle).state();
            if matches!(state, tcp::State::Closed | tcp::State::TimeWait) {
                let handle = self.closing.swap_remove(i);
                self.remove_tcp(handle);
            } else {
                i += 1;
            }
        }
    }
}

impl Backend for Stack {
    type Stream = Stream;
    type Listener = Listener;
    type Datagram = Udp;

    /// One network task serves the image's one device: listeners bound
    /// per core are each a set of listening sockets on the same port, and
    /// a connection goes to whichever set's socket smoltcp matches first.
    fn listen(
        &mut self,
        port: u16,
        backlog: usize,
        per_core: bool,
    ) -> Result<(Listener, u16), NetError> {
        if port == 0 {
            return Err(NetError::Os("listening needs a port number".into()));
        }
        if self.port_taken_for(port, true, per_core) {
            return Err(NetError::AddressInUse(port));
        }
        let listening: Vec<_> = (0..backlog)
            .map_while(|_| self.new_listening(port))
            .collect();
        if listening.is_empty() {
            return Err(NetError::Os(alloc::format!(
                "cannot listen on port {port}: {MAX_TCP_SOCKETS} TCP sockets are open"
            )));
        }
        self.ports.push((port, true, per_core));
        let listener = Listener {
            port,
            backlog,
            listening,
        };
        Ok((listener, port))
    }

    fn accept(&mut self, listener: &mut Listener) -> Option<Accepted<Stream>> {
        // Sockets handed over are replaced here, as far as the cap allows.
        while listener.listening.len() < listener.backlog {
            let Some(fresh) = self.new_listening(listener.port) else {
                break;
            };
            listener.listening.push(fresh);
        }
        let position = listener.listening.iter().position(|&handle| {
            let state = self.tcp(handle).state();
            !matches!(state, tcp::State::Listen | tcp::State::SynReceived)
        })?;
        let handle = listener.listening.swap_remove(position);
        let socket = self.tcp(handle);
        let (Some(peer), Some(local)) = (socket.remote_endpoint(), socket.local_endpoint()) else {
            // Reset before it was handed over: nothing to hand.
            self.closing.push(handle);
            return None;
        };
        Some(Accepted {
            stream: Stream {
                handle,
                unsent: None,
            },
            peer: socket_addr(peer),
            local: socket_addr(local),
        })
    }

    fn connect(&mut self, address: SocketAddr) -> Result<Stream, NetError> {
        let remote = endpoint(address).ok_or(NetError::Os("the image speaks IPv4 only".into()))?;
        let local_port = loop {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port + 1 >= EPHEMERAL.end {
                EPHEMERAL.start
            } else {
                port + 1
            };
            if !self.port_taken(port, true) {
                break port;
            }
        };
        let mut socket = self.new_tcp().ok_or_else(|| {
            NetError::Os(alloc::format!("{MAX_TCP_SOCKETS} TCP sockets are open"))
        })?;
        socket.set_timeout(Some(TCP_TIMEOUT));
        Ok(Stream {
            handle: self.add_tcp(socket),
            unsent: Some((remote, local_port)),
        })
    }

    fn poll_connected(
        &mut self,
        stream: &mut Stream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(SocketAddr, SocketAddr), NetError>> {
        if let Some((remote, local_port)) = stream.unsent {
            if self.iface.ipv4_addr().is_none() {
                self.want_address.push(cx.waker().clone());
                return Poll::Pending;
            }
            stream.unsent = None;
            let context = self.iface.context();
            let socket = self.sockets.get_mut::<tcp::Socket<'static>>(stream.handle);
            if let Err(e) = socket.connect(context, remote, local_port) {
                let message = alloc::format!("cannot connect to {remote}: {e}");
                return Poll::Ready(Err(NetError::Os(message)));
            }
        }
        let socket = self.tcp(stream.handle);
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => {
                // Both wakers: the send one for "established", the receive one for a reset.
                socket.register_send_waker(cx.waker());
                socket.register_recv_waker(cx.waker());
                Poll::Pending
            }
            tcp::State::Closed | tcp::State::Listen => Poll::Ready(Err(NetError::Refused)),
            _ => match (socket.local_endpoint(), socket.remote_endpoint()) {
                (Some(local), Some(peer)) => {
                    Poll::Ready(Ok((socket_addr(local), socket_addr(peer))))
                }
                _ => Poll::Ready(Err(NetError::Refused)),
            },
        }
    }

    fn close_listener(&mut self, listener: Listener) {
        for handle in listener.listening {
            self.tcp(handle).abort();
            self.closing.push(handle);
        }
        self.free_port(listener.port, true);
    }

    fn read(&mut self, stream: &mut Stream, cx: &mut Context<'_>) -> ReadStep<Vec<u8>> {
        let socket = self.tcp(stream.handle);
        if socket.can_recv() {
            let taken = socket.recv(|ready| {
                let n = ready.len().min(CHUNK_BYTES);
                (n, ready[..n].to_vec())
            });
            return match taken {
                Ok(bytes) => ReadStep::Data(bytes),
                Err(_) => ReadStep::Failed(NetError::Reset),
            };
        }
        if socket.may_recv() {
            socket.register_recv_waker(cx.waker());
            return ReadStep::WouldBlock;
        }
        match socket.state() {
            // Our own SYN-time states cannot be here; Closed means a reset
            // or a timeout (an orderly close passes a FIN state first).
            tcp::State::Closed => ReadStep::Failed(NetError::Reset),
            _ => ReadStep::Eof,
        }
    }

    fn write(&mut self, stream: &mut Stream, bytes: &[u8], cx: &mut Context<'_>) -> WriteStep {
        let socket = self.tcp(stream.handle);
        if !socket.may_send() {
            return WriteStep::Failed;
        }
        match socket.send_slice(bytes) {
            Ok(0) => {
                socket.register_send_waker(cx.waker());
                WriteStep::WouldBlock
            }
            Ok(n) => WriteStep::Wrote(n),
            Err(_) => WriteStep::Failed,
        }
    }

    fn shutdown_write(&mut self, stream: &mut Stream) {
        self.tcp(stream.handle).close();
    }

    fn release(&mut self, stream: Stream) {
        let socket = self.tcp(stream.handle);
        match socket.state() {
            tcp::State::Closed | tcp::State::TimeWait => {
                self.remove_tcp(stream.handle);
                return;
            }
            // Both directions are over in order: the FIN exchange finishes here.
            tcp::State::LastAck | tcp::State::Closing => {}
            // Released early (it lingered): reset it. FIN-WAIT-2 is one of
            // these: the peer never sent its FIN, and may keep sending.
            _ => socket.abort(),
        }
        self.closing.push(stream.handle);
    }

    fn bind_udp(&mut self, port: u16) -> Result<(Udp, u16), NetError> {
        if port == 0 {
            return Err(NetError::Os("binding needs a port number".into()));
        }
        if self.port_taken(port, false) {
            return Err(NetError::AddressInUse(port));
        }
        let buffer = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                vec![0; UDP_BYTES],
            )
        };
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket
            .bind(port)
            .map_err(|e| NetError::Os(alloc::format!("cannot bind udp port {port}: {e}")))?;
        self.ports.push((port, false, false));
        let handle = self.sockets.add(socket);
        Ok((Udp { handle, port }, port))
    }

    fn recv_datagram(&mut self, socket: &mut Udp) -> ReadStep<Datagram> {
        let socket = self.sockets.get_mut::<udp::Socket<'static>>(socket.handle);
        match socket.recv() {
            Ok((data, meta)) => ReadStep::Data(Datagram {
                data: data.to_vec(),
                peer: socket_addr(meta.endpoint),
            }),
            Err(_) => ReadStep::WouldBlock,
        }
    }

    fn send_datagram(&mut self, socket: &mut Udp, datagram: &Datagram) -> WriteStep {
        let socket = self.sockets.get_mut::<udp::Socket<'static>>(socket.handle);
        let Some(peer) = endpoint(datagram.peer) else {
            return WriteStep::Failed;
        };
        match socket.send_slice(&datagram.data, peer) {
            Ok(()) => WriteStep::Wrote(datagram.data.len()),
            Err(udp::SendError::BufferFull) => WriteStep::WouldBlock,
            Err(udp::SendError::Unaddressable) => WriteStep::Failed,
        }
    }

    fn release_udp(&mut self, socket: Udp) {
        self.sockets.remove(socket.handle);
        self.free_port(socket.port, false);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        // First ask to be woken, then look: a packet in between still wakes us.
        self.device.wake_on_interrupt(cx.waker());
        let changed = self.iface.poll(now(), &mut self.device, &mut self.sockets);
        let configured = self.poll_dhcp();
        self.collect_closed();
        changed == PollResult::SocketStateChanged || configured
    }

    fn deadline(&mut self) -> Option<u64> {
        let at = self.iface.poll_at(now(), &self.sockets)?;
        Some(at.total_micros().max(0) as u64 * 1000)
    }
}
