//! A check of [`Conversation`] for the fuzzer (`tests/fuzz`, target
//! `http_conversation`) and the unit tests: whatever the bytes, the same
//! input fed whole or in pieces of any size gets the same answers and
//! refusals, and every request answered is within the limits.

use crate::conversation::{Conversation, Limits, Step};
use crate::request::{MAX_BODY, MAX_HEAD};
use alloc::vec::Vec;
use core::time::Duration;

const LIMITS: Limits = Limits {
    idle: Duration::from_secs(10),
    request: Duration::from_secs(10),
};

/// What a conversation fed `input` in pieces of `piece` bytes answers,
/// up to its first refusal.
fn outcomes(input: &[u8], piece: usize) -> Vec<Step> {
    let mut conversation = Conversation::new(LIMITS, Duration::ZERO);
    let mut seen = Vec::new();
    for bytes in input.chunks(piece) {
        conversation.received(bytes, Duration::ZERO);
        loop {
            match conversation.step(Duration::ZERO) {
                Step::Read { .. } => break,
                Step::Answer(head) => {
                    assert!(head.len <= MAX_HEAD && head.body <= MAX_BODY, "{head:?}");
                    assert!(head.path.starts_with('/') || head.path == "*", "{head:?}");
                    seen.push(Step::Answer(head));
                }
                refused @ Step::Refuse(_) => {
                    seen.push(refused);
                    return seen;
                }
            }
        }
    }
    seen
}

/// The first byte picks the piece size; the rest is what a client sends.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))] // public for the fuzzer
pub fn check_conversation(data: &[u8]) {
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let whole = outcomes(input, input.len().max(1));
    let pieces = outcomes(input, usize::from(piece % 64) + 1);
    assert_eq!(
        whole,
        pieces,
        "pieces of {} bytes change the outcome",
        piece % 64 + 1
    );
}

#[cfg(test)]
mod tests {
    use super::check_conversation;

    #[test]
    fn chunking_never_changes_an_answer() {
        for input in [
            &b"\x00GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"\x03POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            b"\x07POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n",
            b"\x01GET http://a/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
            b"\x3f\xff\xfe garbage\r\n\r\n",
        ] {
            check_conversation(input);
        }
        let mut long = alloc::vec![5u8];
        long.extend_from_slice(b"GET /");
        long.extend(core::iter::repeat_n(b'a', 9000));
        check_conversation(&long);
        // Found by the fuzzer: a bad byte early in an overlong request
        // line was 414 whole and 400 in pieces (now 400 either way).
        let mut bad_early = alloc::vec![0x1b];
        bad_early.extend_from_slice(b"GET /aa\x01");
        bad_early.extend(core::iter::repeat_n(b'a', 5000));
        check_conversation(&bad_early);
    }
}
