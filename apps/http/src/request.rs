//! One HTTP/1.1 request head, read strictly (RFC 9112): the request line
//! and the headers that decide how the message is framed and where it goes.
//!
//! Pure code over bytes, no I/O and no runtime, so that it can be tested
//! and fuzzed on its own. httparse splits the head into its parts; this
//! module judges them:
//! - framing: `Content-Length` is one or more decimal digits, and every
//!   `Content-Length` value agrees (a request that two parsers could frame
//!   differently is refused: request smuggling); `Transfer-Encoding` is
//!   not supported (501), and together with `Content-Length` is refused;
//! - `Connection`: the token lists of every `Connection` line;
//! - `Host`: exactly one valid `Host` in HTTP/1.1;
//! - targets: origin form (`/path?query`), absolute form
//!   (`http://host/path`), `*`;
//! - sizes, each with its own status: 414 for a long request line, 431 for
//!   large headers, 413 for a large body.

use alloc::string::String;

/// The longest request line accepted.
pub const MAX_REQUEST_LINE: usize = 4 * 1024;
/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 32;
/// The largest request body accepted (and thrown away: no route takes one).
pub const MAX_BODY: usize = 64 * 1024;

/// The methods the server tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Other,
}

/// A request head that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: Method,
    /// The target's path, without the query.
    pub path: String,
    pub keep_alive: bool,
    /// The head's length in bytes, and the body's (from `Content-Length`).
    pub len: usize,
    pub body: usize,
}

/// Why a request is refused; the connection is closed after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BadRequest(&'static str),
    Timeout,
    BodyTooLarge,
    UriTooLong,
    HeadersTooLarge,
    NotImplemented(&'static str),
}

impl Refusal {
    /// The status line's code and reason phrase.
    pub fn status(&self) -> &'static str {
        match self {
            Refusal::BadRequest(_) => "400 Bad Request",
            Refusal::Timeout => "408 Request Timeout",
            Refusal::BodyTooLarge => "413 Content Too Large",
            Refusal::UriTooLong => "414 URI Too Long",
            Refusal::HeadersTooLarge => "431 Request Header Fields Too Large",
            Refusal::NotImplemented(_) => "501 Not Implemented",
        }
    }

    /// A sentence for the response body.
    pub fn why(&self) -> &'static str {
        match self {
            Refusal::BadRequest(why) | Refusal::NotImplemented(why) => why,
            Refusal::Timeout => "the request did not arrive in time",
            Refusal::BodyTooLarge => "request body too large",
            Refusal::UriTooLong => "request line too long",
            Refusal::HeadersTooLarge => "request headers too large",
        }
    }
}

/// What the bytes received so far hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A complete head; its body may still be on the way.
    Head(Head),
    Incomplete,
    Refused(Refusal),
}

/// Reads the request head at the start of `buffer`.
///
/// Every verdict depends only on a bounded prefix of the bytes, and once a
/// prefix is refused every longer buffer is refused the same way, so a
/// request gets the same answer however the network splits it: httparse
/// sees at most `MAX_REQUEST_LINE + 1` bytes until the request line has
/// ended, and at most `MAX_HEAD + 1` after.
pub fn parse(buffer: &[u8]) -> Parsed {
    let line_ended = buffer
        .iter()
        .take(MAX_REQUEST_LINE + 1)
        .any(|b| *b == b'\n');
    let (limit, too_long) = if line_ended {
        (MAX_HEAD + 1, Refusal::HeadersTooLarge)
    } else {
        (MAX_REQUEST_LINE + 1, Refusal::UriTooLong)
    };
    let view = &buffer[..buffer.len().min(limit)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(view) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Complete(_)) => return Parsed::Refused(Refusal::HeadersTooLarge),
        Ok(httparse::Status::Partial) if view.len() == limit => return Parsed::Refused(too_long),
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Refused(Refusal::HeadersTooLarge),
        Err(_) => return Parsed::Refused(Refusal::BadRequest("malformed request")),
    };
    match judge(&request, len) {
        Ok(head) => Parsed::Head(head),
        Err(refusal) => Parsed::Refused(refusal),
    }
}

/// The checks on a head httparse has split.
fn judge(request: &httparse::Request<'_, '_>, len: usize) -> Result<Head, Refusal> {
    let values = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let http11 = request.version == Some(1);
    let has_length = values("content-length").next().is_some();
    if values("transfer-encoding").next().is_some() {
        return Err(if has_length {
            Refusal::BadRequest("both Transfer-Encoding and Content-Length")
        } else {
            Refusal::NotImplemented("request bodies in a transfer coding are not supported")
        });
    }
    let body = content_length(values("content-length"))?;
    let mut hosts = values("host");
    match (hosts.next(), hosts.next()) {
        (None, _) if http11 => return Err(Refusal::BadRequest("no Host header")),
        (Some(_), Some(_)) => return Err(Refusal::BadRequest("more than one Host header")),
        (Some(host), None) if !is_valid_host(host) => {
            return Err(Refusal::BadRequest("invalid Host header"))
        }
        _ => {}
    }
    let (mut close, mut keep_alive) = (false, false);
    for token in values("connection").flat_map(|v| v.split(|b| *b == b',')) {
        let token = trim(token);
        close |= token.eq_ignore_ascii_case(b"close");
        keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
    }
    let method = match request.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => Method::Other,
    };
    Ok(Head {
        method,
        path: target_path(request.path.unwrap_or("/"))?,
        keep_alive: !close && (http11 || keep_alive),
        len,
        body,
    })
}

/// The body's length: every `Content-Length` value (lines, and comma
/// lists within them) must be the same run of decimal digits.
fn content_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<usize, Refusal> {
    let mut length: Option<usize> = None;
    for value in values.flat_map(|v| v.split(|b| *b == b',')) {
        let digits = trim(value);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Refusal::BadRequest("bad Content-Length"));
        }
        // Digits only: an error here can only be an overflow.
        let n = core::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse::<usize>().ok())
            .ok_or(Refusal::BodyTooLarge)?;
        if length.is_some_and(|seen| seen != n) {
            return Err(Refusal::BadRequest("conflicting Content-Length headers"));
        }
        length = Some(n);
    }
    match length.unwrap_or(0) {
        n if n > MAX_BODY => Err(Refusal::BodyTooLarge),
        n => Ok(n),
    }
}

/// The path of a request target in origin form (`/a?b`), absolute form
/// (`http://host:port/a?b`), or `*`.
fn target_path(target: &str) -> Result<String, Refusal> {
    let without_query = |t: &str| String::from(t.split('?').next().unwrap_or(t));
    if target.starts_with('/') || target == "*" {
        return Ok(without_query(target));
    }
    let scheme_end = target.find("://").filter(|&at| {
        let scheme = &target[..at];
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    });
    let Some(at) = scheme_end else {
        return Err(Refusal::BadRequest("bad request target"));
    };
    let rest = &target[at + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    if !is_valid_host(&rest.as_bytes()[..authority_end]) {
        return Err(Refusal::BadRequest("bad request target"));
    }
    let path = &rest[authority_end..];
    Ok(if path.starts_with('/') {
        without_query(path)
    } else {
        String::from("/")
    })
}

/// `uri-host [ ":" port ]` (RFC 9110 7.2, RFC 3986 3.2.2), not empty.
fn is_valid_host(value: &[u8]) -> bool {
    let value = trim(value);
    let (host, port) = match value.first() {
        Some(b'[') => match value.iter().position(|b| *b == b']') {
            Some(end) => (&value[..=end], &value[end + 1..]),
            None => return false,
        },
        _ => match value.iter().rposition(|b| *b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        },
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let host_ok = match host {
        [] => false,
        [b'[', inner @ .., b']'] => {
            !inner.is_empty()
                && inner
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        }
        name => is_reg_name(name),
    };
    port_ok && host_ok
}

/// A registered name or IPv4 address: unreserved characters, sub-delims
/// and percent-encoded octets.
fn is_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'%' => {
                let hex = name.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// Without the spaces and tabs around it (optional white space).
fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        match parse(text.as_bytes()) {
            Parsed::Head(head) => head,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn refused(text: &str) -> Refusal {
        match parse(text.as_bytes()) {
            Parsed::Refused(refusal) => refusal,
            other => panic!("{text:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_plain_get_keeps_the_connection_alive() {
        let h = head("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            h,
            Head {
                method: Method::Get,
                path: "/metrics".into(),
                keep_alive: true,
                len: 38,
                body: 0
            }
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n"), Parsed::Incomplete);
    }

    #[test]
    fn content_length_must_be_digits_and_agree() {
        let bad = Refusal::BadRequest("bad Content-Length");
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Refusal::BadRequest("conflicting Content-Length headers")
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"),
            Refusal::BadRequest("conflicting Content-Length headers")
        );
        let same =
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n");
        assert_eq!(same.body, 5);
        assert_eq!(
            refused(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"
            ),
            Refusal::BodyTooLarge
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n"),
            Refusal::BodyTooLarge
        );
    }

    #[test]
    fn transfer_encoding_is_refused() {
        assert!(matches!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Refusal::NotImplemented(_)
        ));
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
            Refusal::BadRequest("both Transfer-Encoding and Content-Length")
        );
    }

    #[test]
    fn connection_tokens_come_from_every_line() {
        let alive = |text: &str| head(text).keep_alive;
        assert!(!alive(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n"
        ));
        assert!(!alive(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n"
        ));
        assert!(!alive(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade,\tclose \r\n\r\n"
        ));
        assert!(alive(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n"
        ));
        assert!(!alive("GET / HTTP/1.0\r\n\r\n"));
        assert!(alive(
            "GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n"
        ));
        assert!(!alive(
            "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
        ));
    }

    #[test]
    fn http11_needs_exactly_one_valid_host() {
        let no = Refusal::BadRequest("no Host header");
        assert_eq!(refused("GET / HTTP/1.1\r\n\r\n"), no);
        assert_eq!(
            refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Refusal::BadRequest("more than one Host header")
        );
        for bad in ["", "a b", "a/b", "a:x", "a:123456", "[::1", "a@b", "[]"] {
            assert_eq!(
                refused(&alloc::format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n")),
                Refusal::BadRequest("invalid Host header"),
                "{bad:?}"
            );
        }
        for good in ["a", "127.0.0.1:8080", "[::1]:80", "ex-ample.org:", "%41b"] {
            head(&alloc::format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n"));
        }
        head("GET / HTTP/1.0\r\n\r\n");
    }

    #[test]
    fn absolute_form_targets_are_served_by_their_path() {
        let path =
            |target: &str| head(&alloc::format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n")).path;
        assert_eq!(path("http://127.0.0.1:8080/metrics"), "/metrics");
        assert_eq!(path("HTTP://a/x?y"), "/x");
        assert_eq!(path("http://a"), "/");
        assert_eq!(path("http://a?q"), "/");
        assert_eq!(path("*"), "*");
        assert_eq!(
            refused("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            Refusal::BadRequest("bad request target")
        );
        assert_eq!(
            refused("GET http://a b/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            Refusal::BadRequest("malformed request")
        );
    }

    #[test]
    fn each_size_limit_has_its_own_status() {
        let long_line = alloc::format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(refused(&long_line), Refusal::UriTooLong);
        assert_eq!(
            refused(&long_line[..MAX_REQUEST_LINE + 1]),
            Refusal::UriTooLong
        );
        let big_headers = alloc::format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n",
            "b".repeat(MAX_HEAD)
        );
        assert_eq!(refused(&big_headers), Refusal::HeadersTooLarge);
        let mut many = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..MAX_HEADERS {
            many.push_str(&alloc::format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(refused(&many), Refusal::HeadersTooLarge);
    }
}
