//! One connection's requests and their deadlines, as a state machine over
//! bytes and times (no I/O, no runtime): the connection task feeds it what
//! it reads and asks it what to do next.
//!
//! Deadlines are for whole stages, never restarted by a byte, so a client
//! that trickles a byte a second cannot hold a connection (and, in the
//! image, one of its 512 sockets) for long:
//! - between requests, the next one's first byte within `idle`;
//! - from that first byte, the whole head within `request`;
//! - from the end of the head, the whole body within `request`.
//!
//! A stage that runs out is answered with 408 if a request had begun, and
//! closed quietly if the connection was idle.

use crate::request::{self, Head, Parsed, Refusal};
use alloc::vec::Vec;
use core::time::Duration;

/// How long each stage may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub idle: Duration,
    pub request: Duration,
}

/// What the connection does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A whole request (head and body) arrived: answer it; close after it
    /// unless `head.keep_alive`.
    Answer(Head),
    /// Answer with this status, then close.
    Refuse(Refusal),
    /// Read more, until this time at the latest; then call `timed_out`.
    Read { until: Duration },
}

/// Times are durations since any fixed origin (the connection's opening).
#[derive(Debug)]
pub struct Conversation {
    limits: Limits,
    /// Bytes received and not yet answered.
    buffer: Vec<u8>,
    /// When the current stage must be over.
    deadline: Duration,
    /// Whether the head of the request being read is complete (its body
    /// is on the way).
    in_body: bool,
}

impl Conversation {
    /// A connection opened at `now`, waiting for its first request.
    pub fn new(limits: Limits, now: Duration) -> Conversation {
        Conversation {
            limits,
            buffer: Vec::new(),
            deadline: now + limits.idle,
            in_body: false,
        }
    }

    /// `bytes` arrived at `now`.
    pub fn received(&mut self, bytes: &[u8], now: Duration) {
        if self.buffer.is_empty() && !bytes.is_empty() && !self.in_body {
            // The first byte of a request: its head's stage begins.
            self.deadline = now + self.limits.request;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// What to do now.
    pub fn step(&mut self, now: Duration) -> Step {
        match request::parse(&self.buffer) {
            Parsed::Head(head) if self.buffer.len() >= head.len + head.body => {
                self.buffer.drain(..head.len + head.body);
                self.in_body = false;
                self.deadline = if self.buffer.is_empty() {
                    now + self.limits.idle
                } else {
                    now + self.limits.request // the next request began already
                };
                Step::Answer(head)
            }
            Parsed::Head(_) => {
                if !self.in_body {
                    self.in_body = true;
                    self.deadline = now + self.limits.request;
                }
                Step::Read {
                    until: self.deadline,
                }
            }
            Parsed::Incomplete => Step::Read {
                until: self.deadline,
            },
            Parsed::Refused(refusal) => Step::Refuse(refusal),
        }
    }

    /// The deadline passed: 408 if a request had begun, else nothing (the
    /// connection was idle and is closed quietly).
    pub fn timed_out(&self) -> Option<Refusal> {
        (self.in_body || !self.buffer.is_empty()).then_some(Refusal::Timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Method;

    const LIMITS: Limits = Limits {
        idle: Duration::from_secs(10),
        request: Duration::from_secs(5),
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn an_idle_connection_waits_idle_then_closes_quietly() {
        let mut c = Conversation::new(LIMITS, secs(1));
        assert_eq!(c.step(secs(1)), Step::Read { until: secs(11) });
        assert_eq!(c.timed_out(), None);
    }

    #[test]
    fn a_trickled_head_gets_the_request_limit_in_all() {
        let mut c = Conversation::new(LIMITS, secs(0));
        let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        c.received(&request[..1], secs(2));
        for (i, byte) in request[1..request.len() - 1].iter().enumerate() {
            c.received(&[*byte], secs(3 + i as u64));
            assert_eq!(c.step(secs(3 + i as u64)), Step::Read { until: secs(7) });
        }
        assert_eq!(c.timed_out(), Some(Refusal::Timeout));
    }

    #[test]
    fn a_body_gets_its_own_deadline_and_pipelined_requests_are_answered_in_turn() {
        let mut c = Conversation::new(LIMITS, secs(0));
        c.received(
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab",
            secs(1),
        );
        assert_eq!(c.step(secs(2)), Step::Read { until: secs(7) });
        assert_eq!(c.step(secs(3)), Step::Read { until: secs(7) });
        assert_eq!(c.timed_out(), Some(Refusal::Timeout));
        c.received(b"cGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /m", secs(4));
        let Step::Answer(first) = c.step(secs(4)) else {
            panic!("the POST is whole")
        };
        assert_eq!((first.method, first.body), (Method::Other, 3));
        let Step::Answer(second) = c.step(secs(4)) else {
            panic!("the GET is whole")
        };
        assert_eq!(second.path, "/");
        // The third has begun: the request limit, from its answer on.
        assert_eq!(c.step(secs(4)), Step::Read { until: secs(9) });
        assert_eq!(c.timed_out(), Some(Refusal::Timeout));
    }

    #[test]
    fn after_an_answer_the_idle_limit_applies_again() {
        let mut c = Conversation::new(LIMITS, secs(0));
        c.received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", secs(1));
        assert!(matches!(c.step(secs(1)), Step::Answer(_)));
        assert_eq!(c.step(secs(2)), Step::Read { until: secs(11) });
        assert_eq!(c.timed_out(), None);
    }

    #[test]
    fn a_bad_request_is_refused() {
        let mut c = Conversation::new(LIMITS, secs(0));
        c.received(b"GET / HTTP/1.1\r\n\r\n", secs(1));
        assert_eq!(
            c.step(secs(1)),
            Step::Refuse(Refusal::BadRequest("no Host header"))
        );
    }
}
