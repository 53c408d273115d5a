//! The server's responses: the statistics page, the metrics text, errors.

use crate::Counts;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;
use http::request::Refusal;

/// A response before it is written out.
pub(crate) struct Response {
    status: &'static str,
    content_type: &'static str,
    extra_header: Option<&'static str>,
    body: String,
}

impl Response {
    fn new(status: &'static str, content_type: &'static str, body: String) -> Response {
        Response {
            status,
            content_type,
            extra_header: None,
            body,
        }
    }

    /// The bytes on the wire; `head_only` for HEAD requests.
    pub(crate) fn into_bytes(self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {}\r\nServer: chanos\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        if let Some(header) = self.extra_header {
            out.push_str(header);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        if !head_only {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }
}

/// The statistics now: metric name (for /metrics), label (for the page)
/// and value. Memory is the heap's bytes in use in the image, the
/// resident set hosted.
fn rows(counts: &Counts) -> Vec<(&'static str, &'static str, String)> {
    let stats = chanos::stats();
    let ms = stats.uptime.as_millis();
    let mut rows = alloc::vec![
        (
            "chanos_uptime_seconds",
            "uptime (s)",
            format!("{}.{:03}", ms / 1000, ms % 1000)
        ),
        ("chanos_tasks", "tasks alive", stats.tasks.to_string()),
        (
            "chanos_tasks_spawned_total",
            "tasks spawned",
            stats.tasks_spawned.to_string()
        ),
        (
            "chanos_channels",
            "channels alive",
            stats.channels.to_string()
        ),
        (
            "chanos_channels_made_total",
            "channels made",
            stats.channels_made.to_string()
        ),
        (
            "chanos_messages_total",
            "messages passed",
            stats.messages.to_string()
        ),
        ("chanos_timers", "timers pending", stats.timers.to_string()),
        ("chanos_sockets", "sockets held", stats.sockets.to_string()),
    ];
    if let Some(bytes) = stats.heap_bytes {
        rows.push((
            "chanos_heap_bytes",
            "heap in use (bytes)",
            bytes.to_string(),
        ));
    }
    if let Some(bytes) = stats.resident_bytes {
        rows.push((
            "chanos_resident_bytes",
            "resident memory (bytes)",
            bytes.to_string(),
        ));
    }
    rows.push((
        "http_connections_open",
        "connections open",
        counts.open.to_string(),
    ));
    rows.push((
        "http_requests_total",
        "requests served",
        counts.requests.to_string(),
    ));
    rows
}

fn platform() -> &'static str {
    if cfg!(target_os = "none") {
        "booted image"
    } else {
        "hosted on Linux"
    }
}

pub(crate) fn index(counts: &Counts) -> Response {
    let mut body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>chanos</title>\
         <meta http-equiv=\"refresh\" content=\"2\"></head>\n<body><h1>chanos</h1>\n\
         <p>Green tasks that share nothing and talk over channels ({}).</p>\n<table>\n",
        platform()
    );
    for (_, label, value) in rows(counts) {
        let _ = writeln!(body, "<tr><td>{label}</td><td>{value}</td></tr>");
    }
    body.push_str("</table>\n<p><a href=\"/metrics\">/metrics</a></p></body></html>\n");
    Response::new("200 OK", "text/html; charset=utf-8", body)
}

pub(crate) fn metrics(counts: &Counts) -> Response {
    let mut body = String::new();
    for (name, _, value) in rows(counts) {
        let _ = writeln!(body, "{name} {value}");
    }
    Response::new("200 OK", "text/plain; version=0.0.4", body)
}

pub(crate) fn not_found() -> Response {
    Response::new("404 Not Found", "text/plain", "not found\n".into())
}

pub(crate) fn not_allowed() -> Response {
    let mut response = Response::new(
        "405 Method Not Allowed",
        "text/plain",
        "only GET and HEAD\n".into(),
    );
    response.extra_header = Some("Allow: GET, HEAD");
    response
}

/// The answer to a request that is refused (the connection closes after it).
pub(crate) fn refused(refusal: &Refusal) -> Response {
    Response::new(
        refusal.status(),
        "text/plain",
        format!("{}\n", refusal.why()),
    )
}
