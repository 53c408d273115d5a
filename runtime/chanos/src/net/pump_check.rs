//! A check of [`StreamPump`] against a scripted socket, for the fuzzer
//! (`tests/fuzz`, target `stream_pump`) and for the unit tests.
//!
//! The script's bytes decide, call by call, what the socket does: reads
//! return a few bytes, "would block", the end of stream or a reset;
//! writes take part of what they are given, block or fail. An app task
//! reads the stream (and may stop reading early) while another writes to
//! it. Whatever the script, the bytes must arrive whole and in order both
//! ways, an end or a reset must reach the app as such, nothing may be read
//! after the end or written after a failure or the FIN, and the pump must
//! finish.

use super::io::{Accepted, Backend, ReadStep, WriteStep};
use super::pump::StreamPump;
use super::{Datagram, NetError, ReadResult, SocketAddr, STREAM_CHUNKS};
use crate::chan;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::{Context, Poll};

/// How many bytes the peer sends at most, and the app writes at most.
const PEER_BYTES: usize = 4096;

/// The peer's byte at `i`, and the app's.
fn peer_byte(i: usize) -> u8 {
    (i % 251) as u8
}
fn app_byte(i: usize) -> u8 {
    (i * 7 % 256) as u8
}

/// How the read side ended, as the socket said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    Open,
    Eof,
    Reset,
}

/// The socket: it follows the script, then behaves (delivers the rest,
/// takes every write).
struct Scripted {
    script: Vec<u8>,
    at: usize,
    /// How much of the peer's data it has delivered, and how it ended.
    delivered: usize,
    read_end: ReadEnd,
    /// What the app's writes put on the wire, whether a write failed, and
    /// whether FIN was sent.
    wire: Vec<u8>,
    write_failed: bool,
    fin: bool,
}

impl Scripted {
    fn next(&mut self) -> Option<u8> {
        let byte = self.script.get(self.at).copied();
        self.at += 1;
        byte
    }
}

impl Backend for Scripted {
    type Stream = ();
    type Listener = ();
    type Datagram = ();

    fn read(&mut self, _: &mut (), _: &mut Context<'_>) -> ReadStep<Vec<u8>> {
        assert_eq!(
            self.read_end,
            ReadEnd::Open,
            "read after the read side ended"
        );
        let left = PEER_BYTES - self.delivered;
        let step = self.next();
        let take = |n: usize, this: &mut Self| {
            let n = n.clamp(1, left);
            let bytes = (this.delivered..this.delivered + n)
                .map(peer_byte)
                .collect();
            this.delivered += n;
            ReadStep::Data(bytes)
        };
        match step.map(|b| b % 8) {
            _ if left == 0 => {
                self.read_end = ReadEnd::Eof;
                ReadStep::Eof
            }
            None => take(left, self),
            Some(0..=3) => {
                let n = usize::from(self.next().unwrap_or(255)) * 8;
                take(n, self)
            }
            Some(4 | 5) => ReadStep::WouldBlock,
            Some(6) => {
                self.read_end = ReadEnd::Eof;
                ReadStep::Eof
            }
            Some(_) => {
                self.read_end = ReadEnd::Reset;
                ReadStep::Failed(NetError::Reset)
            }
        }
    }

    fn write(&mut self, _: &mut (), bytes: &[u8], _: &mut Context<'_>) -> WriteStep {
        assert!(!self.write_failed, "write after a failed write");
        assert!(!self.fin, "write after FIN");
        assert!(!bytes.is_empty(), "an empty write");
        match self.next() {
            None => {
                self.wire.extend_from_slice(bytes);
                WriteStep::Wrote(bytes.len())
            }
            Some(b) if b % 16 == 15 => {
                self.write_failed = true;
                WriteStep::Failed
            }
            Some(b) if b % 4 == 2 => WriteStep::WouldBlock,
            Some(b) => {
                let n = (usize::from(b) * 5 + 1).min(bytes.len());
                self.wire.extend_from_slice(&bytes[..n]);
                WriteStep::Wrote(n)
            }
        }
    }

    fn shutdown_write(&mut self, _: &mut ()) {
        assert!(!self.fin, "FIN twice");
        self.fin = true;
    }

    fn release(&mut self, _: ()) {}

    // The pump uses none of these.
    fn listen(&mut self, _: u16, _: usize, _: bool) -> Result<((), u16), NetError> {
        unreachable!()
    }
    fn accept(&mut self, _: &mut ()) -> Option<Accepted<()>> {
        unreachable!()
    }
    fn close_listener(&mut self, _: ()) {}
    fn connect(&mut self, _: SocketAddr) -> Result<(), NetError> {
        unreachable!()
    }
    fn poll_connected(
        &mut self,
        _: &mut (),
        _: &mut Context<'_>,
    ) -> Poll<Result<(SocketAddr, SocketAddr), NetError>> {
        unreachable!()
    }
    fn bind_udp(&mut self, _: u16) -> Result<((), u16), NetError> {
        unreachable!()
    }
    fn recv_datagram(&mut self, _: &mut ()) -> ReadStep<Datagram> {
        unreachable!()
    }
    fn send_datagram(&mut self, _: &mut (), _: &Datagram) -> WriteStep {
        unreachable!()
    }
    fn release_udp(&mut self, _: ()) {}
    fn poll(&mut self, _: &mut Context<'_>) -> bool {
        false
    }
    fn deadline(&mut self) -> Option<u64> {
        None
    }
}

/// What the app saw and did.
#[derive(Default)]
struct AppLog {
    read: Vec<u8>,
    /// The read side's last word: `Some(Ok(()))` for the end of stream,
    /// `Some(Err(..))` for a reset; `None` if the app stopped early.
    ended: Option<Result<(), NetError>>,
    written: usize,
}

/// Runs the pump under `script` and panics if anything is amiss.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))] // public for the fuzzer
pub fn check_stream_pump(script: &[u8]) {
    // The first bytes shape the app: how many chunks it reads before it
    // stops (255: all of them), and the sizes of the chunks it writes.
    let reads_wanted = match script.first().copied().unwrap_or(255) {
        255 => usize::MAX,
        n => usize::from(n),
    };
    let writes: Vec<usize> = script
        .get(1..5)
        .unwrap_or(&[])
        .iter()
        .map(|b| usize::from(*b) * 4)
        .filter(|n| *n > 0)
        .collect();
    let script = script.get(5..).unwrap_or(&[]).to_vec();
    let log = Rc::new(RefCell::new(AppLog::default()));
    let (reader_log, writer_log) = (log.clone(), log.clone());
    let socket = crate::Runtime::with_seed(1)
        .block_on(async move {
            let (to_app, reads) = chan::bounded::<ReadResult>(STREAM_CHUNKS);
            let (writes_tx, from_app) = chan::bounded::<Vec<u8>>(STREAM_CHUNKS);
            // The app: a reader and a writer, as futures of main's (a log
            // shared between tasks would not be `Isolated`).
            let reader = async move {
                for _ in 0..reads_wanted {
                    let end = match reads.recv().await {
                        Some(Ok(bytes)) => {
                            reader_log.borrow_mut().read.extend(bytes);
                            continue;
                        }
                        Some(Err(error)) => Err(error),
                        None => Ok(()),
                    };
                    reader_log.borrow_mut().ended = Some(end);
                    return;
                }
                // Stops reading (drops `reads`): the rest is thrown away.
            };
            let writer = async move {
                let mut offset = 0;
                for size in writes {
                    let chunk: Vec<u8> = (offset..offset + size).map(app_byte).collect();
                    if writes_tx.send(chunk).await.is_err() {
                        break;
                    }
                    offset += size;
                    writer_log.borrow_mut().written = offset;
                }
                // Dropping `writes_tx` asks for the FIN.
            };
            let pumping = async move {
                let mut pump = StreamPump::new(to_app.into_sink(), from_app);
                let mut socket = Scripted {
                    script,
                    at: 0,
                    delivered: 0,
                    read_end: ReadEnd::Open,
                    wire: Vec::new(),
                    write_failed: false,
                    fin: false,
                };
                let mut rounds = 0u32;
                while !(pump.finished() && pump.app_gone()) {
                    poll_fn(|cx| {
                        pump.pump(&mut socket, &mut (), cx);
                        Poll::Ready(())
                    })
                    .await;
                    crate::yield_now().await;
                    rounds += 1;
                    assert!(rounds < 100_000, "the pump does not finish");
                }
                socket
            };
            both(reader, both(writer, pumping)).await.1 .1
        })
        .expect("no deadlock");
    let log = log.borrow();
    // Peer to app: what was delivered, whole and in order (all of it,
    // unless the app stopped reading), then the end as it happened.
    let delivered: Vec<u8> = (0..socket.delivered).map(peer_byte).collect();
    match log.ended {
        None => assert!(delivered.starts_with(&log.read), "the app read other bytes"),
        Some(ref end) => {
            assert_eq!(log.read, delivered, "the app read other bytes");
            match socket.read_end {
                ReadEnd::Eof => assert_eq!(*end, Ok(()), "an end of stream became {end:?}"),
                ReadEnd::Reset => assert!(end.is_err(), "a reset became an end of stream"),
                ReadEnd::Open => panic!("the app saw an end the socket never gave"),
            }
        }
    }
    // App to peer: a prefix of what the app wrote, all of it (then FIN)
    // unless a write failed.
    let written: Vec<u8> = (0..socket.wire.len()).map(app_byte).collect();
    assert_eq!(socket.wire, written, "other bytes went on the wire");
    if !socket.write_failed {
        assert!(
            socket.wire.len() >= log.written,
            "bytes written by the app were lost"
        );
        assert!(socket.fin, "no FIN after the app's last write");
    }
}

/// Both futures to completion, polled in turn within one task.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    poll_fn(|cx| {
        if a_out.is_none() {
            a_out = match a.as_mut().poll(cx) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            };
        }
        if b_out.is_none() {
            b_out = match b.as_mut().poll(cx) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            };
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::check_stream_pump;

    #[test]
    fn the_pump_keeps_bytes_whole_under_scripted_sockets() {
        // A few scripts of each kind; the fuzzer tries millions more.
        check_stream_pump(&[]);
        check_stream_pump(&[255, 10, 20, 30, 40, 0, 9, 4, 1, 2, 3, 4, 5, 6, 7, 8]);
        check_stream_pump(&[255, 200, 0, 0, 0, 4, 4, 4, 7]); // blocks, then a reset
        check_stream_pump(&[1, 50, 50, 50, 50, 0, 1, 15, 2, 2]); // stops reading; a write fails
        check_stream_pump(&[255, 1, 1, 1, 1, 6, 6]); // an early end of stream
        let mut long: alloc::vec::Vec<u8> = (0..=255).collect();
        long.extend((0..=255u8).rev());
        check_stream_pump(&long);
    }
}
