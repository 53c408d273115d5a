//! One HTTP/1.1 connection: read a request head, answer, repeat while the
//! client keeps the connection alive.

use crate::pages::{self, Response};
use crate::{Counts, Event};
use alloc::vec::Vec;
use chanos::chan::{oneshot, Sender};
use chanos::net::TcpStream;
use chanos::time::{timeout, Duration};

/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8 * 1024;
/// The largest request body accepted (and thrown away: no route takes one).
const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 32;

/// How a request looked, once parsed.
struct Request {
    method: Method,
    path: alloc::string::String,
    keep_alive: bool,
    /// The head's length and the body's, in bytes.
    head: usize,
    body: usize,
}

enum Method {
    Get,
    Head,
    Other,
}

/// What the bytes received so far hold.
enum Parsed {
    Request(Request),
    Incomplete,
    Bad(&'static str),
}

/// Serves one connection until it closes, telling the ledger.
pub(crate) async fn serve(stream: TcpStream, ledger: Sender<Event>, idle: Duration) {
    let _ = ledger.send(Event::Opened).await;
    converse(&stream, &ledger, idle).await;
    let _ = ledger.send(Event::Closed).await;
}

async fn converse(stream: &TcpStream, ledger: &Sender<Event>, idle: Duration) {
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        match parse(&buffer) {
            Parsed::Request(request) if buffer.len() >= request.head + request.body => {
                let counts = report(ledger).await;
                let response = match (&request.method, request.path.as_str()) {
                    (Method::Other, _) => pages::not_allowed(),
                    (_, "/") => pages::index(&counts),
                    (_, "/metrics") => pages::metrics(&counts),
                    _ => pages::not_found(),
                };
                let head_only = matches!(request.method, Method::Head);
                if send(stream, response, request.keep_alive, head_only)
                    .await
                    .is_err()
                {
                    return;
                }
                let _ = ledger.send(Event::Served).await;
                if !request.keep_alive {
                    return;
                }
                buffer.drain(..request.head + request.body);
                continue;
            }
            Parsed::Request(_) | Parsed::Incomplete => {}
            Parsed::Bad(why) => {
                let _ = send(stream, pages::bad_request(why), false, false).await;
                return;
            }
        }
        match timeout(idle, stream.read()).await {
            Ok(Ok(Some(bytes))) => buffer.extend_from_slice(&bytes),
            // The client closed or reset, or sent nothing for too long.
            Ok(Ok(None) | Err(_)) | Err(_) => return,
        }
    }
}

fn parse(buffer: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head = match request.parse(buffer) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) if buffer.len() > MAX_HEAD => {
            return Parsed::Bad("request head too large")
        }
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Bad("too many headers"),
        Err(_) => return Parsed::Bad("malformed request"),
    };
    if head > MAX_HEAD {
        return Parsed::Bad("request head too large");
    }
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if header("transfer-encoding").is_some() {
        return Parsed::Bad("chunked request bodies are not supported");
    }
    let body = match header("content-length").map(core::str::from_utf8) {
        None => 0,
        Some(Ok(text)) => match text.trim().parse::<usize>() {
            Ok(n) if n <= MAX_BODY => n,
            Ok(_) => return Parsed::Bad("request body too large"),
            Err(_) => return Parsed::Bad("bad Content-Length"),
        },
        Some(Err(_)) => return Parsed::Bad("bad Content-Length"),
    };
    let connection = header("connection").unwrap_or_default();
    let keep_alive = match request.version {
        Some(1) => !connection.eq_ignore_ascii_case(b"close"),
        _ => connection.eq_ignore_ascii_case(b"keep-alive"),
    };
    let method = match request.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => Method::Other,
    };
    let path = request.path.unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path).into();
    Parsed::Request(Request {
        method,
        path,
        keep_alive,
        head,
        body,
    })
}

/// Asks the ledger for the server's counters.
async fn report(ledger: &Sender<Event>) -> Counts {
    let (reply, answer) = oneshot::channel();
    if ledger.send(Event::Report(reply)).await.is_err() {
        return Counts::default();
    }
    answer.await.unwrap_or_default()
}

async fn send(
    stream: &TcpStream,
    response: Response,
    keep_alive: bool,
    head_only: bool,
) -> Result<(), chanos::net::NetError> {
    stream
        .write(response.into_bytes(keep_alive, head_only))
        .await
}
