//! loadgen MODE ADDRESS [N...]: the host-side clients of the network apps,
//! used by the tests and by `scripts/bench`.
//!
//! - `echo ADDRESS CONNECTIONS BYTES`: that many connections at once, each
//!   sending BYTES of a pattern unique to it while reading the echo back,
//!   then checking every byte. Prints `bench echo_throughput MB/s`.
//! - `http ADDRESS CONNECTIONS MILLISECONDS`: keep-alive `GET /metrics`
//!   requests, one at a time per connection, for that long; every response
//!   must be a complete 200. Prints `bench http_requests_per_sec`.
//!
//! Exits 1, saying why, when a byte or a response is wrong.

use peers::{arg, report, usage_error};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// No single read or write may take longer (a hang is a failure, not a wait).
const IO_TIMEOUT: Duration = Duration::from_secs(120);

fn fail(message: String) -> ! {
    eprintln!("loadgen: {message}");
    std::process::exit(1)
}

fn connect(address: &str) -> TcpStream {
    let stream = TcpStream::connect(address)
        .unwrap_or_else(|e| fail(format!("cannot connect to {address}: {e}")));
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok();
    stream.set_write_timeout(Some(IO_TIMEOUT)).ok();
    stream
}

/// Byte `i` of connection `c`'s pattern: differs between connections and
/// does not repeat every 256 bytes, so a misplaced chunk is caught.
fn pattern(c: u64, i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ c.wrapping_mul(131)) as u8
}

fn echo(address: &str, connections: u64, bytes: u64) {
    let start = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|c| {
            let stream = connect(address);
            thread::spawn(move || echo_one(stream, c, bytes))
        })
        .collect();
    for (c, client) in clients.into_iter().enumerate() {
        if let Err(message) = client.join().expect("client thread") {
            fail(format!("connection {c}: {message}"));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let total = (connections * bytes) as f64;
    eprintln!(
        "echo: {connections} connections x {bytes} bytes, every byte checked, in {seconds:.2} s"
    );
    report("echo_throughput", total / seconds / 1e6, "MB/s");
}

fn echo_one(stream: TcpStream, c: u64, bytes: u64) -> Result<(), String> {
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sending = thread::spawn(move || -> Result<(), String> {
        // Made first, then written in large pieces: the way a client that
        // has its data ready sends it.
        let data: Vec<u8> = (0..bytes).map(|i| pattern(c, i)).collect();
        for (k, piece) in data.chunks(1 << 20).enumerate() {
            writer
                .write_all(piece)
                .map_err(|e| format!("write of MiB {k}: {e}"))?;
        }
        writer.shutdown(Shutdown::Write).map_err(|e| e.to_string())
    });
    let mut reader = stream;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| format!("read at byte {received}: {e}"))?;
        if n == 0 {
            break;
        }
        for (k, &byte) in buffer[..n].iter().enumerate() {
            let at = received + k as u64;
            if at >= bytes || byte != pattern(c, at) {
                return Err(format!("wrong byte at {at}"));
            }
        }
        received += n as u64;
    }
    sending.join().expect("sender thread")?;
    if received != bytes {
        return Err(format!("got {received} bytes back, sent {bytes}"));
    }
    Ok(())
}

fn http(address: &str, connections: u64, millis: u64) {
    let deadline = Instant::now() + Duration::from_millis(millis);
    let start = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let stream = connect(address);
            thread::spawn(move || http_one(stream, deadline))
        })
        .collect();
    let mut requests = 0;
    for (c, client) in clients.into_iter().enumerate() {
        match client.join().expect("client thread") {
            Ok(n) => requests += n,
            Err(message) => fail(format!("connection {c}: {message}")),
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "http: {requests} requests over {connections} keep-alive connections in {seconds:.2} s"
    );
    report("http_requests_per_sec", requests as f64 / seconds, "req/s");
}

/// Requests until the deadline; returns how many were answered.
fn http_one(stream: TcpStream, deadline: Instant) -> Result<u64, String> {
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut answered = 0;
    while Instant::now() < deadline {
        writer
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
            .map_err(|e| format!("request {answered}: {e}"))?;
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(format!("request {answered}: status line {line:?}"));
        }
        let mut length = None;
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or(format!("request {answered}: no Content-Length"))?;
        let mut body = vec![0u8; length];
        reader
            .read_exact(&mut body)
            .map_err(|e| format!("request {answered}: body: {e}"))?;
        answered += 1;
    }
    Ok(answered)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: loadgen echo ADDRESS CONNECTIONS BYTES | loadgen http ADDRESS CONNECTIONS MILLISECONDS";
    let (Some(mode), Some(address)) = (args.first(), args.get(1)) else {
        usage_error(usage)
    };
    match mode.as_str() {
        "echo" => echo(address, arg(&args, 2, 100), arg(&args, 3, 1 << 20)),
        "http" => http(address, arg(&args, 2, 4), arg(&args, 3, 3000)),
        _ => usage_error(usage),
    }
}
