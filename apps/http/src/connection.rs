//! One HTTP/1.1 connection: the [`Conversation`] says what to do next
//! (read until a deadline, answer, refuse); this task does the I/O.

use crate::ledger::{self, Ask, Event};
use crate::pages::{self, Response};
use alloc::sync::Arc;
use chanos::chan::Sender;
use chanos::net::TcpStream;
use chanos::time::{timeout, Duration, Instant};
use http::conversation::{Conversation, Limits, Step};
use http::request::{Head, Method};

/// Serves one connection until it closes, telling this core's ledger;
/// `ledgers` are every core's, asked for the pages that show the counters.
pub(crate) async fn serve(
    stream: TcpStream,
    ledger: Sender<Event>,
    ledgers: Arc<[Sender<Ask>]>,
    limits: Limits,
) {
    let _ = ledger.send(Event::Opened).await;
    converse(&stream, &ledger, &ledgers, limits).await;
    let _ = ledger.send(Event::Closed).await;
}

async fn converse(
    stream: &TcpStream,
    ledger: &Sender<Event>,
    ledgers: &[Sender<Ask>],
    limits: Limits,
) {
    let opened = Instant::now();
    let mut conversation = Conversation::new(limits, opened.elapsed());
    loop {
        let now = opened.elapsed();
        match conversation.step(now) {
            Step::Answer(head) => {
                let response = route(&head, ledger, ledgers).await;
                let head_only = head.method == Method::Head;
                if send(stream, response, head.keep_alive, head_only)
                    .await
                    .is_err()
                {
                    return;
                }
                let _ = ledger.send(Event::Served).await;
                if !head.keep_alive {
                    return;
                }
            }
            Step::Refuse(refusal) => {
                let _ = send(stream, pages::refused(&refusal), false, false).await;
                return;
            }
            Step::Read { until } => match timeout(until.saturating_sub(now), stream.read()).await {
                Ok(Ok(Some(bytes))) => conversation.received(&bytes, opened.elapsed()),
                // The client closed or reset.
                Ok(Ok(None) | Err(_)) => return,
                Err(_) => {
                    if let Some(refusal) = conversation.timed_out() {
                        let _ = send(stream, pages::refused(&refusal), false, false).await;
                    }
                    return;
                }
            },
        }
    }
}

async fn route(head: &Head, ledger: &Sender<Event>, ledgers: &[Sender<Ask>]) -> Response {
    match (head.method, head.path.as_str()) {
        (Method::Other, _) => pages::not_allowed(),
        (_, "/") => pages::index(&ledger::every_core(ledger, ledgers).await),
        (_, "/metrics") => pages::metrics(&ledger::every_core(ledger, ledgers).await),
        _ => pages::not_found(),
    }
}

/// Writes a response; a client that takes none of it within `STALL` is
/// dropped (it may pipeline requests and never read the answers).
async fn send(
    stream: &TcpStream,
    response: Response,
    keep_alive: bool,
    head_only: bool,
) -> Result<(), ()> {
    let bytes = response.into_bytes(keep_alive, head_only);
    match timeout(STALL, stream.write(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(()),
    }
}

/// How long a response may wait for the client to take it.
const STALL: Duration = Duration::from_secs(10);
