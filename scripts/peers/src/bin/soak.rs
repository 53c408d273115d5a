//! soak http|echo ADDRESS SECONDS: the clients of `scripts/soak`, run
//! against one server for SECONDS: well-behaved ones beside hostile ones.
//!
//! - http (the server runs with `--request-secs 2`): two keep-alive clients
//!   checking every response; a client that trickles its head a byte at a
//!   time (must get 408); one sending bad requests in turn (each must get
//!   its own status: 400, 413, 414, 431, 501); one that vanishes
//!   mid-request; one that keeps sending after the server's FIN (must be
//!   reset within the lingering bound).
//! - echo: two clients echoing 64 KiB and checking every byte; UDP up to
//!   60,000 bytes; a client that writes and never reads; connections made
//!   and dropped at once.
//!
//! Every 10 s it prints `soak MODE t=Ns ok=A refused=B errors=C`: ok counts
//! good exchanges, refused the hostile ones handled as they must be, errors
//! anything else (each also said on its own line). Exits 1 if any error.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
}

impl Tally {
    fn ok(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }
    fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
    fn error(&self, what: String) {
        eprintln!("soak: error: {what}");
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

struct Shared {
    address: String,
    tally: Tally,
    stop: AtomicBool,
}

impl Shared {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn connect(&self, timeout: Duration) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(&self.address)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(stream)
    }
}

type Client = fn(&Shared);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, address, seconds) = match args.as_slice() {
        [mode, address, seconds] => match seconds.parse::<u64>() {
            Ok(seconds) => (mode.clone(), address.clone(), seconds),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    let clients: &[Client] = match mode.as_str() {
        "http" => &[
            http_keep_alive,
            http_keep_alive,
            http_trickle,
            http_bad_requests,
            http_vanish,
            http_linger,
        ],
        "echo" => &[echo_tcp, echo_tcp, echo_udp, echo_never_reads, echo_churn],
        _ => usage(),
    };
    let shared = Arc::new(Shared {
        address,
        tally: Tally::default(),
        stop: AtomicBool::new(false),
    });
    let threads: Vec<_> = clients
        .iter()
        .map(|client| {
            let (shared, client) = (shared.clone(), *client);
            thread::spawn(move || {
                while shared.running() {
                    client(&shared);
                }
            })
        })
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut next_report = start + Duration::from_secs(10);
    while Instant::now() < end {
        thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next_report || Instant::now() >= end {
            next_report += Duration::from_secs(10);
            let t = &shared.tally;
            eprintln!(
                "soak {mode} t={}s ok={} refused={} errors={}",
                start.elapsed().as_secs(),
                t.ok.load(Ordering::Relaxed),
                t.refused.load(Ordering::Relaxed),
                t.errors.load(Ordering::Relaxed)
            );
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    for thread in threads {
        let _ = thread.join();
    }
    if shared.tally.errors.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: soak http|echo ADDRESS SECONDS");
    std::process::exit(64)
}

// ---- http ----

/// Reads one response (head and `Content-Length` body); its status line.
fn read_response(stream: &mut TcpStream, pending: &mut Vec<u8>) -> std::io::Result<String> {
    let mut buffer = [0u8; 8192];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            if pending.len() >= end + 4 + length {
                pending.drain(..end + 4 + length);
                return Ok(head.lines().next().unwrap_or_default().to_string());
            }
        }
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        pending.extend_from_slice(&buffer[..n]);
    }
}

fn http_keep_alive(shared: &Shared) {
    let Ok(mut stream) = shared.connect(Duration::from_secs(30)) else {
        return shared
            .tally
            .error("a keep-alive client could not connect".into());
    };
    let mut pending = Vec::new();
    for _ in 0..200 {
        if !shared.running() {
            return;
        }
        let request = b"GET /metrics HTTP/1.1\r\nHost: soak\r\n\r\n";
        let answer = stream
            .write_all(request)
            .and_then(|()| read_response(&mut stream, &mut pending));
        match answer {
            Ok(status) if status == "HTTP/1.1 200 OK" => shared.tally.ok(),
            Ok(status) => shared.tally.error(format!("keep-alive GET got {status:?}")),
            Err(e) => return shared.tally.error(format!("keep-alive GET failed: {e}")),
        }
    }
}

/// Sends `request` and reads until the server closes: the status line.
fn refused_with(shared: &Shared, request: &[u8], status: &str) {
    let Ok(mut stream) = shared.connect(Duration::from_secs(10)) else {
        return shared.tally.error("a client could not connect".into());
    };
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) if answer.starts_with(format!("HTTP/1.1 {status}").as_bytes()) => {
            shared.tally.refused()
        }
        Ok(_) => shared.tally.error(format!(
            "wanted {status}, got {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(60)])
        )),
        Err(e) => shared
            .tally
            .error(format!("wanted {status}, the connection failed: {e}")),
    }
}

fn http_bad_requests(shared: &Shared) {
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(5000));
    let big_headers = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "b".repeat(9000)
    );
    let cases: [(&[u8], &str); 8] = [
        (b"\x00\x01 garbage \xff\r\n\r\n", "400"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "400",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", "400"),
        (b"GET / HTTP/1.1\r\n\r\n", "400"),
        (long_line.as_bytes(), "414"),
        (big_headers.as_bytes(), "431"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n", "413"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "501"),
    ];
    for (request, status) in cases {
        if !shared.running() {
            return;
        }
        refused_with(shared, request, status);
    }
}

fn http_trickle(shared: &Shared) {
    let Ok(mut stream) = shared.connect(Duration::from_secs(10)) else {
        return shared
            .tally
            .error("a trickling client could not connect".into());
    };
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX: ";
    match peers::trickle(
        &mut stream,
        head,
        Duration::from_millis(150),
        Duration::from_secs(10),
    ) {
        Ok(answer) if answer.starts_with(b"HTTP/1.1 408") => shared.tally.refused(),
        Ok(answer) => shared.tally.error(format!(
            "a trickling client got {:?}",
            String::from_utf8_lossy(&answer)
        )),
        Err(e) => shared.tally.error(e),
    }
}

fn http_vanish(shared: &Shared) {
    for _ in 0..20 {
        if let Ok(mut stream) = shared.connect(Duration::from_secs(5)) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHo");
            shared.tally.refused();
        }
    }
    thread::sleep(Duration::from_millis(200));
}

fn http_linger(shared: &Shared) {
    let Ok(mut stream) = shared.connect(Duration::from_secs(10)) else {
        return shared
            .tally
            .error("a lingering client could not connect".into());
    };
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut answer = Vec::new();
    if stream.write_all(request).is_err() || stream.read_to_end(&mut answer).is_err() {
        return shared
            .tally
            .error("a lingering client got no answer".into());
    }
    let closed = Instant::now();
    while stream.write_all(b"k").is_ok() {
        if closed.elapsed() > Duration::from_secs(45) || !shared.running() {
            if shared.running() {
                shared
                    .tally
                    .error("a client sending after FIN was held 45 s".into());
            }
            return;
        }
        thread::sleep(Duration::from_millis(250));
    }
    shared.tally.refused();
}

// ---- echo ----

fn pattern(seed: u64, i: usize) -> u8 {
    ((i as u64).wrapping_mul(31) ^ (i as u64 >> 8) ^ seed.wrapping_mul(131)) as u8
}

fn echo_tcp(shared: &Shared) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = NEXT.fetch_add(1, Ordering::Relaxed);
    let Ok(stream) = shared.connect(Duration::from_secs(30)) else {
        return shared
            .tally
            .error("an echo client could not connect".into());
    };
    let data: Vec<u8> = (0..64 * 1024).map(|i| pattern(seed, i)).collect();
    let mut writer = stream.try_clone().expect("clone");
    let sent = data.clone();
    let sending = thread::spawn(move || writer.write_all(&sent));
    let mut back = vec![0u8; data.len()];
    let mut reader = stream;
    match reader.read_exact(&mut back) {
        Ok(()) if back == data => shared.tally.ok(),
        Ok(()) => shared.tally.error("an echo came back different".into()),
        Err(e) => shared.tally.error(format!("an echo failed: {e}")),
    }
    let _ = sending.join();
}

fn echo_udp(shared: &Shared) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    for size in [16, 1_400, 9_000, 60_000] {
        let data: Vec<u8> = (0..size).map(|i| pattern(size as u64, i)).collect();
        if peers::udp_echoes(&socket, &shared.address, &data, 5) {
            shared.tally.ok();
        } else {
            shared
                .tally
                .error(format!("no UDP echo of {size} bytes in 5 tries"));
        }
    }
}

fn echo_never_reads(shared: &Shared) {
    let Ok(mut stream) = shared.connect(Duration::from_secs(2)) else {
        return shared
            .tally
            .error("a never-reading client could not connect".into());
    };
    let chunk = vec![b'n'; 64 * 1024];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) && stream.write_all(&chunk).is_ok() {}
    shared.tally.refused();
}

fn echo_churn(shared: &Shared) {
    for _ in 0..50 {
        if TcpStream::connect(&shared.address).is_ok() {
            shared.tally.refused();
        }
    }
    thread::sleep(Duration::from_millis(100));
}
