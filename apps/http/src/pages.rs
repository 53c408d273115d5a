//! The server's responses: the statistics page, the metrics text, errors.

use crate::ledger::CoreReport;
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

/// A figure each core has: metric name (for /metrics), label (for the
/// page), and how to read it from a core's report.
type PerCore = (&'static str, &'static str, fn(&CoreReport) -> u64);

const PER_CORE: [PerCore; 9] = [
    ("chanos_tasks", "tasks alive", |r| r.stats.tasks),
    ("chanos_tasks_spawned_total", "tasks spawned", |r| {
        r.stats.tasks_spawned
    }),
    ("chanos_channels", "channels alive", |r| r.stats.channels),
    ("chanos_channels_made_total", "channels made", |r| {
        r.stats.channels_made
    }),
    ("chanos_messages_total", "messages passed", |r| {
        r.stats.messages
    }),
    ("chanos_timers", "timers pending", |r| r.stats.timers),
    ("chanos_sockets", "sockets held", |r| r.stats.sockets),
    ("http_connections_open", "connections open", |r| {
        r.counts.open
    }),
    ("http_requests_total", "requests served", |r| {
        r.counts.requests
    }),
];

/// The figures of the whole process: name, label, value. Memory is the
/// heap's bytes in use in the image, the resident set hosted.
fn process_rows() -> Vec<(&'static str, &'static str, String)> {
    let stats = chanos::stats();
    let ms = stats.uptime.as_millis();
    let mut rows = alloc::vec![(
        "chanos_uptime_seconds",
        "uptime (s)",
        format!("{}.{:03}", ms / 1000, ms % 1000)
    )];
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
    rows
}

/// The per-core metric's name for one core's figure: `chanos_tasks` ->
/// `chanos_core_tasks` (its sum over cores is the unlabelled `chanos_tasks`).
fn per_core_name(name: &str) -> String {
    match name.split_once('_') {
        Some((system, rest)) => format!("{system}_core_{rest}"),
        None => format!("core_{name}"),
    }
}

fn platform() -> &'static str {
    if cfg!(target_os = "none") {
        "booted image"
    } else {
        "hosted on Linux"
    }
}

/// The statistics page: each figure summed, and per core.
pub(crate) fn index(reports: &[CoreReport]) -> Response {
    let mut body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>chanos</title>\
         <meta http-equiv=\"refresh\" content=\"2\"></head>\n<body><h1>chanos</h1>\n\
         <p>Green tasks that share nothing and talk over channels ({}, {} core(s)).</p>\n<table>\n",
        platform(),
        reports.len()
    );
    for (_, label, value) in process_rows() {
        let _ = writeln!(body, "<tr><td>{label}</td><td>{value}</td></tr>");
    }
    body.push_str("</table>\n<table>\n<tr><th></th><th>all cores</th>");
    for report in reports {
        let _ = write!(body, "<th>core {}</th>", report.core);
    }
    body.push_str("</tr>\n");
    for (_, label, read) in PER_CORE {
        let total: u64 = reports.iter().map(read).sum();
        let _ = write!(body, "<tr><td>{label}</td><td>{total}</td>");
        for report in reports {
            let _ = write!(body, "<td>{}</td>", read(report));
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</table>\n<p><a href=\"/metrics\">/metrics</a></p></body></html>\n");
    Response::new("200 OK", "text/html; charset=utf-8", body)
}

/// The same as text: `name value` for the sums and the process's figures,
/// `name_core{core="K"} value` per core.
pub(crate) fn metrics(reports: &[CoreReport]) -> Response {
    let mut body = String::new();
    for (name, _, value) in process_rows() {
        let _ = writeln!(body, "{name} {value}");
    }
    for (name, _, read) in PER_CORE {
        let total: u64 = reports.iter().map(read).sum();
        let _ = writeln!(body, "{name} {total}");
        let per_core = per_core_name(name);
        for report in reports {
            let _ = writeln!(
                body,
                "{per_core}{{core=\"{}\"}} {}",
                report.core,
                read(report)
            );
        }
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
