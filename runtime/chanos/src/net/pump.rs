//! Moving bytes between a socket and an app's channels, for one connection
//! or one UDP socket. The same pumps serve both backends: a backend only
//! says how to read, write and close its sockets ([`Backend`]).

use super::io::{Backend, ReadStep, WriteStep};
use super::{Datagram, ReadResult};
use crate::chan::{Receiver, Sender, SinkSender, TrySendError};
use alloc::vec::Vec;
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::Stream;
use futures_sink::Sink;

/// One TCP connection's two directions.
pub(crate) struct StreamPump {
    /// To the app; `None` once the end of stream is delivered or the app
    /// dropped its reader (bytes are then read and thrown away).
    to_app: Option<SinkSender<ReadResult>>,
    /// The socket said end of stream or failed: deliver what is queued, then close.
    read_ended: bool,
    from_app: Option<Receiver<Vec<u8>>>,
    /// The chunk being written, and how much of it is written.
    out: Vec<u8>,
    out_at: usize,
    write_ended: bool,
}

impl StreamPump {
    pub(crate) fn new(to_app: SinkSender<ReadResult>, from_app: Receiver<Vec<u8>>) -> Self {
        StreamPump {
            to_app: Some(to_app),
            read_ended: false,
            from_app: Some(from_app),
            out: Vec::new(),
            out_at: 0,
            write_ended: false,
        }
    }

    /// The app has let go of both channels (it can no longer see this connection).
    pub(crate) fn app_gone(&self) -> bool {
        self.to_app.is_none() && self.from_app.is_none()
    }

    /// Both directions are over: the socket can be released.
    pub(crate) fn finished(&self) -> bool {
        self.to_app.is_none() && self.read_ended && self.write_ended
    }

    /// Moves what can move now; true if any byte moved. Registers `cx` with
    /// the app's channels where it has to wait on them.
    pub(crate) fn pump<B: Backend>(
        &mut self,
        backend: &mut B,
        socket: &mut B::Stream,
        cx: &mut Context<'_>,
    ) -> bool {
        let read = self.pump_in(backend, socket, cx);
        let wrote = self.pump_out(backend, socket, cx);
        read || wrote
    }

    fn pump_in<B: Backend>(
        &mut self,
        backend: &mut B,
        socket: &mut B::Stream,
        cx: &mut Context<'_>,
    ) -> bool {
        let mut moved = false;
        loop {
            if let Some(to_app) = self.to_app.as_mut() {
                match Pin::new(&mut *to_app).poll_flush(cx) {
                    Poll::Pending => return moved,
                    Poll::Ready(Err(_)) => self.to_app = None, // the app dropped its reader
                    Poll::Ready(Ok(())) if self.read_ended => {
                        self.to_app = None; // everything delivered: closing it is the EOF
                        return moved;
                    }
                    Poll::Ready(Ok(())) => {}
                }
            }
            if self.read_ended {
                return moved;
            }
            let step = backend.read(socket, cx);
            let item = match step {
                ReadStep::Data(bytes) => {
                    moved = true;
                    Ok(bytes)
                }
                ReadStep::WouldBlock => return moved,
                ReadStep::Eof => {
                    self.read_ended = true;
                    continue;
                }
                ReadStep::Failed(error) => {
                    self.read_ended = true;
                    Err(error)
                }
            };
            if let Some(to_app) = self.to_app.as_mut() {
                // `poll_flush` said the previous chunk is taken: room for one.
                let _ = Pin::new(to_app).start_send(item);
            }
        }
    }

    fn pump_out<B: Backend>(
        &mut self,
        backend: &mut B,
        socket: &mut B::Stream,
        cx: &mut Context<'_>,
    ) -> bool {
        let mut moved = false;
        while !self.write_ended {
            if self.out_at < self.out.len() {
                match backend.write(socket, &self.out[self.out_at..], cx) {
                    WriteStep::Wrote(n) => {
                        self.out_at += n;
                        moved = true;
                    }
                    WriteStep::WouldBlock => break,
                    WriteStep::Failed => {
                        // The connection is gone: later writes by the app fail.
                        self.from_app = None;
                        self.out = Vec::new();
                        self.write_ended = true;
                    }
                }
                continue;
            }
            let Some(from_app) = self.from_app.as_mut() else {
                self.write_ended = true;
                break;
            };
            match Pin::new(from_app).poll_next(cx) {
                Poll::Ready(Some(chunk)) => {
                    self.out = chunk;
                    self.out_at = 0;
                }
                Poll::Ready(None) => {
                    self.from_app = None;
                    backend.shutdown_write(socket);
                    self.write_ended = true;
                }
                Poll::Pending => break,
            }
        }
        moved
    }
}

/// One UDP socket's two directions.
pub(crate) struct DatagramPump {
    to_app: Option<Sender<Datagram>>,
    from_app: Option<Receiver<Datagram>>,
    /// A datagram the socket could not take yet.
    held: Option<Datagram>,
}

impl DatagramPump {
    pub(crate) fn new(to_app: Sender<Datagram>, from_app: Receiver<Datagram>) -> Self {
        DatagramPump {
            to_app: Some(to_app),
            from_app: Some(from_app),
            held: None,
        }
    }

    /// The app dropped its socket (every sender of outgoing datagrams).
    pub(crate) fn finished(&self) -> bool {
        self.from_app.is_none() && self.held.is_none()
    }

    /// Moves what can move now; true if any datagram moved.
    pub(crate) fn pump<B: Backend>(
        &mut self,
        backend: &mut B,
        socket: &mut B::Datagram,
        cx: &mut Context<'_>,
    ) -> bool {
        let mut moved = false;
        // In: a full channel drops the datagram, as a full socket buffer would.
        while let ReadStep::Data(datagram) = backend.recv_datagram(socket) {
            moved = true;
            if let Some(to_app) = &self.to_app {
                if let Err(TrySendError::Closed(_)) = to_app.try_send(datagram) {
                    self.to_app = None;
                }
            }
        }
        // Out.
        loop {
            if let Some(datagram) = self.held.take() {
                match backend.send_datagram(socket, &datagram) {
                    WriteStep::Wrote(_) | WriteStep::Failed => moved = true,
                    WriteStep::WouldBlock => {
                        self.held = Some(datagram);
                        break;
                    }
                }
            }
            let Some(from_app) = self.from_app.as_mut() else {
                break;
            };
            match Pin::new(from_app).poll_next(cx) {
                Poll::Ready(Some(datagram)) => self.held = Some(datagram),
                Poll::Ready(None) => self.from_app = None,
                Poll::Pending => break,
            }
        }
        moved
    }
}
