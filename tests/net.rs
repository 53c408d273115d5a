//! The network apps, talked to from the host with real clients: curl for
//! `http`, `loadgen` (scripts/peers) for `echo`, and raw sockets for bad
//! input. Every test runs twice: against the hosted build (Linux sockets)
//! and against the image booted under QEMU TCG (virtio-net, smoltcp, QEMU
//! user networking with a port forward, as `scripts/run --forward` does).

use chanos_tests::{app_dir, boot_command, build_images, ends_with_test, workspace_root, Tag};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Where {
    Hosted,
    Tcg,
    Kvm,
}

/// A running server app, killed (with its QEMU) when dropped; the drop
/// also checks that every process it started has ended.
struct Server {
    child: Child,
    tag: Tag,
    port: u16,
    /// What the server printed so far.
    output: Arc<Mutex<String>>,
    /// Says when the server printed that it listens.
    started: mpsc::Receiver<()>,
}

/// Builds the network images once per test process.
fn images() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_images(&["echo", "http", "fetch"]))
        .clone()
}

/// A port that is free for both TCP and UDP on 127.0.0.1 right now.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The QEMU command of `scripts/run APP --on ACCEL --forward P:G --forward udp:P:G`.
fn qemu_command(accel: &str, app: &str, host: u16, guest: u16, args: &[&str]) -> Command {
    let forward = format!("qemu_forward {host}:{guest} udp:{host}:{guest} &&");
    let boot = format!("boot_qemu {accel}");
    boot_command(&forward, &boot, &images().join(app), args, None)
}

impl Server {
    /// Starts `app` and waits until it prints that it listens.
    fn start(on: Where, app: &str, args: &[&str]) -> Server {
        let port = free_port();
        let guest_port = if app == "http" { 80 } else { 7 };
        let mut command = match on {
            Where::Hosted => {
                let mut command = Command::new(app_dir().join(app));
                command.args(["--port", &port.to_string()]).args(args);
                command
            }
            Where::Tcg => qemu_command("tcg", app, port, guest_port, args),
            Where::Kvm => qemu_command("kvm", app, port, guest_port, args),
        };
        command.stderr(Stdio::inherit());
        let server = Server::spawn(command, port);
        server.wait_until_listening(Duration::from_secs(120));
        server
    }

    /// Starts `app` hosted with `CHANOS_CORES=cores`.
    fn start_hosted_on_cores(app: &str, cores: usize) -> Server {
        let port = free_port();
        let mut command = Command::new(app_dir().join(app));
        command
            .args(["--port", &port.to_string()])
            .env("CHANOS_CORES", cores.to_string())
            .stderr(Stdio::inherit());
        let server = Server::spawn(command, port);
        server.wait_until_listening(Duration::from_secs(60));
        server
    }

    /// Spawns `command`, in a process group of its own so that dropping the
    /// server stops QEMU too.
    fn spawn(mut command: Command, port: u16) -> Server {
        let tag = Tag::new();
        let mut child = ends_with_test(tag.apply(&mut command))
            .process_group(0)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("piped");
        let (ready, started) = mpsc::channel();
        let output = Arc::new(Mutex::new(String::new()));
        let printed = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut printed = printed.lock().unwrap();
                printed.push_str(&line);
                printed.push('\n');
                if line.contains("listening on") || line.contains("serving on") {
                    let _ = ready.send(());
                }
            }
        });
        Server {
            child,
            tag,
            port,
            output,
            started,
        }
    }

    /// Waits up to `wait` until the server prints that it listens.
    fn wait_until_listening(&self, wait: Duration) {
        self.started
            .recv_timeout(wait)
            .unwrap_or_else(|_| panic!("the server did not start listening"));
    }

    /// Waits until the server's latest `stats:` line (`--report-secs`)
    /// contains `wanted`, and returns it.
    fn wait_for_stats(&self, wanted: &str, wait: Duration) -> String {
        let start = Instant::now();
        loop {
            let output = self.output.lock().unwrap().clone();
            // Only lines printed once it listens (its sockets all made).
            let (_, listening) = output.split_once("listening").unwrap_or_default();
            let latest = listening.lines().rev().find(|l| l.starts_with("stats: "));
            if let Some(line) = latest.filter(|l| l.contains(wanted)) {
                return line.to_string();
            }
            assert!(
                start.elapsed() < wait,
                "no {wanted:?} in {wait:?}; the latest: {latest:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// CPU seconds used so far by the server's processes (QEMU, for an image).
    fn cpu_seconds(&self) -> f64 {
        let group = self.child.id().to_string();
        let mut ticks = 0u64;
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Fields after the command name: state ppid pgrp ... utime(14) stime(15).
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let fields: Vec<&str> = rest.split(' ').collect();
            if fields.get(2) == Some(&group.as_str()) {
                ticks += fields[11].parse::<u64>().unwrap_or(0);
                ticks += fields[12].parse::<u64>().unwrap_or(0);
            }
        }
        ticks as f64 / 100.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            self.tag.assert_all_ended(Duration::from_secs(10));
        }
    }
}

fn curl(args: &[&str]) -> String {
    let out: Output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl runs (scripts/test installs it)");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.address()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream
}

/// Everything the server sends until it closes; `Err` on a reset.
fn read_to_close(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Sends `request` (from a thread, so a server that answers early cannot
/// block us), then reads until the server closes.
fn exchange(server: &Server, request: Vec<u8>) -> std::io::Result<String> {
    let mut stream = connect(server);
    let mut writer = stream.try_clone()?;
    let sending = std::thread::spawn(move || {
        let result = writer.write_all(&request);
        let _ = writer.shutdown(Shutdown::Write);
        result
    });
    let answer = read_to_close(&mut stream);
    let _ = sending.join();
    answer
}

/// "`status` or a clean close": that response alone, or nothing, but never
/// a reset.
fn assert_refused(what: &str, status: &str, answer: std::io::Result<String>) {
    let answer = answer.unwrap_or_else(|e| panic!("{what}: the connection failed: {e}"));
    assert!(
        answer.is_empty() || answer.starts_with(&format!("HTTP/1.1 {status}\r\n")),
        "{what}: got {answer:?}"
    );
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        usize::from(!answer.is_empty()),
        "{what}: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.contains("Connection: close"),
        "{what}: {answer:?}"
    );
}

/// Sends `request` and reads for `within`: the answer, and whether the
/// server closed the connection by then (the client never closes first).
fn answer_and_close(server: &Server, request: &[u8], within: Duration) -> (String, bool) {
    let mut stream = connect(server);
    stream.set_read_timeout(Some(within)).expect("timeout");
    stream.write_all(request).expect("write");
    let mut answer = Vec::new();
    let closed = stream.read_to_end(&mut answer).is_ok();
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

// ---- the tests, each run hosted and booted ----

fn echo_100_connections_of_1_mib(server: &Server) {
    let out = Command::new(app_dir().join("loadgen"))
        .args(["echo", &server.address(), "100", "1048576"])
        .output()
        .expect("loadgen runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen failed: {log}");
    assert!(
        log.contains("100 connections x 1048576 bytes, every byte checked"),
        "{log}"
    );
}

/// A client that sends and never reads fills every buffer on its path and
/// is made to wait; other clients are served meanwhile, every byte intact.
fn echo_a_client_that_never_reads_holds_back_only_itself(server: &Server) {
    // Before any client: the listeners and the UDP socket, on every core.
    let idle = idle_line_or(server);
    let idle = idle
        .split_whitespace()
        .find(|field| field.starts_with("sockets="))
        .expect("a sockets figure")
        .to_string();
    assert_per_core_figures_add_up(&idle_line_or(server), "sockets");
    let mut stuck = connect(server);
    stuck
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    while stuck.write_all(&chunk).is_ok() {
        sent += chunk.len();
        assert!(
            sent < 256 << 20,
            "256 MiB went into a connection that never reads"
        );
    }
    let out = Command::new(app_dir().join("loadgen"))
        .args(["echo", &server.address(), "4", "1048576"])
        .output()
        .expect("loadgen runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "with a stuck client beside them: {log}"
    );
    drop(stuck);
    // Its connection ends too: booted, no reset may come through QEMU's
    // user network, and the echo's write gives up instead (10 s).
    server.wait_for_stats(&format!("{idle} "), Duration::from_secs(45));
}

/// The latest statistics line of a server that just started listening.
fn idle_line_or(server: &Server) -> String {
    server.wait_for_stats("sockets=", Duration::from_secs(30))
}

/// With several cores, a `stats:` line's `per_core: NAME=[a,b,...]` adds
/// up to its total `NAME=n`.
fn assert_per_core_figures_add_up(line: &str, name: &str) {
    let Some((total, per_core)) = line.split_once(" per_core: ") else {
        return; // one core
    };
    let figure = |text: &str, prefix: &str| -> Option<String> {
        text.split_whitespace()
            .find_map(|f| f.strip_prefix(prefix).map(str::to_string))
    };
    let total: u64 = figure(total, &format!("{name}=")).unwrap().parse().unwrap();
    let cores = figure(per_core, &format!("{name}=[")).unwrap();
    let sum: u64 = cores
        .trim_end_matches(']')
        .split(',')
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, total, "{name} per core in {line:?}");
}

/// Whether a new connection gets one byte echoed.
fn echoes_one_byte(server: &Server) -> bool {
    let Ok(mut stream) = TcpStream::connect(server.address()) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut byte = [0u8];
    stream.write_all(b"y").is_ok() && matches!(stream.read(&mut byte), Ok(1)) && byte == *b"y"
}

/// 700 connections, one after another, each kept open: each is served or,
/// beyond what the server holds, refused at once (never left hanging, never
/// a crash); once they are gone, it serves as before.
fn echo_survives_a_flood_of_connections(server: &Server) {
    let mut flood = Vec::new();
    let (mut served, mut refused) = (0, 0);
    for _ in 0..700 {
        let Ok(mut stream) = TcpStream::connect(server.address()) else {
            refused += 1;
            continue;
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let _ = stream.write_all(b"x");
        let mut byte = [0u8];
        match stream.read(&mut byte) {
            Ok(1) if byte == *b"x" => served += 1,
            Ok(_) => refused += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => refused += 1,
            Err(e) => panic!("connection {} neither served nor refused: {e}", flood.len()),
        }
        flood.push(stream);
    }
    assert!(served >= 300, "only {served} served, {refused} refused");
    drop(flood);
    // Closing 700 connections takes the server a moment; then it serves again.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !echoes_one_byte(server) {
        assert!(
            Instant::now() < deadline,
            "not serving again after the flood"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = Command::new(app_dir().join("loadgen"))
        .args(["echo", &server.address(), "4", "1048576"])
        .output()
        .expect("loadgen runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "after the flood: {log}");
}

fn echo_answers_udp(server: &Server) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buffer = [0u8; 64];
    // UDP may lose a datagram: ask a few times.
    for attempt in 0..10 {
        let message = format!("ping {attempt}");
        socket
            .send_to(message.as_bytes(), server.address())
            .expect("send");
        if let Ok((n, _)) = socket.recv_from(&mut buffer) {
            assert_eq!(&buffer[..n], message.as_bytes());
            return;
        }
    }
    panic!("no UDP echo in 10 tries");
}

/// Datagrams beyond one Ethernet frame (IP-fragmented on the way to the
/// image) come back whole, up to UDP's largest, 65,507 bytes.
fn echo_answers_large_udp(server: &Server) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    for size in [1_473, 16_385, 40_000, 65_507] {
        let message: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let echoed = peers::udp_echoes(&socket, &server.address(), &message, 10);
        assert!(echoed, "no whole echo of {size} bytes in 10 tries");
    }
}

fn http_serves_pages_to_curl(server: &Server) {
    let page = curl(&["--include", &server.url("/")]);
    assert!(page.starts_with("HTTP/1.1 200 OK\n"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.contains("<h1>chanos</h1>"), "{page}");
    assert!(page.contains("<td>tasks alive</td>"), "{page}");

    let metrics = curl(&[&server.url("/metrics")]);
    assert!(metric(&metrics, "chanos_tasks") >= 3, "{metrics}");
    assert!(metric(&metrics, "chanos_messages_total") > 0, "{metrics}");
    assert!(metric(&metrics, "http_requests_total") >= 1, "{metrics}");
    // Two requests on one connection, so one core: its own figures are
    // always fresh (another core's may be a few milliseconds old).
    let both = curl(&[&server.url("/metrics"), &server.url("/metrics")]);
    let second = both.rfind("chanos_uptime_seconds").expect("two answers");
    let (first, later) = both.split_at(second);
    assert!(
        metric(later, "http_requests_total") > metric(first, "http_requests_total"),
        "the statistics are live:\n{both}"
    );

    // Keep-alive: two requests, one connection.
    let connects = curl(&[
        "--output",
        "/dev/null",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{num_connects}\n",
        &server.url("/"),
        &server.url("/metrics"),
    ]);
    assert_eq!(connects, "200 1\n200 0\n");

    let codes = |args: &[&str]| {
        let mut all = vec!["--output", "/dev/null", "--write-out", "%{http_code}"];
        all.extend_from_slice(args);
        curl(&all)
    };
    assert_eq!(codes(&[&server.url("/no/such/page")]), "404");
    assert_eq!(codes(&["--data", "x=1", &server.url("/")]), "405");
    let head = curl(&["--head", &server.url("/metrics")]);
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{head}");
    assert!(head.contains("Content-Length: "), "{head}");
}

fn http_survives_bad_clients(server: &Server) {
    // A well-behaved client keeps being served meanwhile.
    let address = server.address();
    let steady = std::thread::spawn(move || {
        Command::new(app_dir().join("loadgen"))
            .args(["http", &address, "2", "4000"])
            .output()
            .expect("loadgen runs")
    });

    let garbage = exchange(server, b"\x00\x01\x02 garbage \xff\r\n\r\n".to_vec());
    let garbage = garbage.expect("garbage: the connection failed");
    assert!(
        garbage.starts_with("HTTP/1.1 400 Bad Request"),
        "{garbage:?}"
    );

    let mut long_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
    long_header.extend(std::iter::repeat_n(b'a', 64 * 1024));
    long_header.extend_from_slice(b"\r\n\r\n");
    assert_refused(
        "an overlong header line",
        "431 Request Header Fields Too Large",
        exchange(server, long_header),
    );

    let mut long_line = b"GET /".to_vec();
    long_line.extend(std::iter::repeat_n(b'a', 1 << 20));
    long_line.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    assert_refused(
        "a 1 MiB request line",
        "414 URI Too Long",
        exchange(server, long_line),
    );

    // Half-open: a request head that never ends. The request deadline (2 s
    // here) answers 408 and closes it cleanly.
    let mut half_open = connect(server);
    half_open
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let started = Instant::now();
    assert_refused(
        "a half-open request",
        "408 Request Timeout",
        read_to_close(&mut half_open),
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the idle connection was not closed"
    );

    // Clients that vanish mid-request, some by reset.
    for _ in 0..20 {
        let mut gone = connect(server);
        gone.write_all(b"GET /metrics HTTP/1.1\r\nHo")
            .expect("write");
        drop(gone);
    }

    let steady = steady.join().expect("steady client");
    assert!(
        steady.status.success(),
        "a good client failed while bad ones came: {}",
        String::from_utf8_lossy(&steady.stderr)
    );
    let page = curl(&["--include", &server.url("/")]);
    assert!(page.starts_with("HTTP/1.1 200 OK\n"), "{page}");

    // Every bad connection ends: only curl's own stays open.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = curl(&[&server.url("/metrics")]);
        if metric(&metrics, "http_connections_open") <= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connections left open:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Requests judged by RFC 9112's rules on framing, `Connection`, `Host`
/// and targets, each answer with its own status.
fn http_follows_rfc_9112(server: &Server) {
    let within = Duration::from_secs(5);
    let refused = |what: &str, status: &str, request: &str| {
        let (answer, closed) = answer_and_close(server, request.as_bytes(), within);
        assert!(closed, "{what}: the server kept the connection");
        assert_refused(what, status, Ok(answer));
    };
    // A request hidden in a body that another parser would frame differently.
    refused(
        "two Content-Lengths",
        "400 Bad Request",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\n\
         helloGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    refused(
        "a signed Content-Length",
        "400 Bad Request",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    );
    refused("no Host", "400 Bad Request", "GET / HTTP/1.1\r\n\r\n");
    refused(
        "two Hosts",
        "400 Bad Request",
        "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    );
    refused(
        "an invalid Host",
        "400 Bad Request",
        "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n",
    );
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(8192));
    refused("a long request line", "414 URI Too Long", &long_target);
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "b".repeat(16384)
    );
    refused(
        "big headers",
        "431 Request Header Fields Too Large",
        &big_header,
    );
    refused(
        "a big body",
        "413 Content Too Large",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
    );

    // `Connection` is a token list, over every Connection line.
    for connection in ["keep-alive, close", "keep-alive\r\nConnection: Close"] {
        let request =
            format!("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\n\r\n");
        let (answer, closed) = answer_and_close(server, request.as_bytes(), within);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("Connection: close\r\n"),
            "{connection:?}: {answer}"
        );
        assert!(closed, "{connection:?}: the server kept the connection");
    }
    // An absolute-form target is served by its path.
    let absolute = format!(
        "GET http://{}/metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.address(),
        server.address()
    );
    let (answer, _) = answer_and_close(server, absolute.as_bytes(), within);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("chanos_uptime_seconds"), "{answer}");
}

/// A client that trickles its request a byte at a time is cut off when the
/// whole head is late (2 s here), not kept alive by each byte.
fn http_cuts_off_a_trickling_client(server: &Server) {
    let mut slow = connect(server);
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let answer = peers::trickle(
        &mut slow,
        head,
        Duration::from_millis(200),
        Duration::from_secs(15),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer:?}"
    );
}

/// After the server has answered and closed, a client that keeps sending a
/// byte now and then is cut off (reset) within the lingering bound, 30 s.
fn http_bounds_lingering_after_close(server: &Server) {
    let mut stream = connect(server);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the answer, then the server's FIN");
    let closed_at = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if stream.write_all(b"k").is_err() {
            break;
        }
        assert!(
            closed_at.elapsed() < Duration::from_secs(50),
            "a client sending after the server's FIN held the connection for 50 s"
        );
    }
    assert!(
        closed_at.elapsed() >= Duration::from_secs(5),
        "cut off early"
    );
}

fn http_closes_when_asked(server: &Server) {
    let answer = exchange(
        server,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .expect("the connection works");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("Connection: close"), "{answer}");
    assert!(answer.contains("chanos_uptime_seconds"), "{answer}");
}

macro_rules! hosted_and_booted {
    ($($name:ident: $app:literal $args:expr;)*) => {
        mod hosted {
            use super::*;
            $(#[test] fn $name() { super::$name(&Server::start(Where::Hosted, $app, $args)); })*
        }
        mod tcg {
            use super::*;
            $(#[test] fn $name() { super::$name(&Server::start(Where::Tcg, $app, $args)); })*
        }
    };
}

hosted_and_booted! {
    echo_100_connections_of_1_mib: "echo" &[];
    echo_answers_udp: "echo" &[];
    echo_answers_large_udp: "echo" &[];
    echo_a_client_that_never_reads_holds_back_only_itself: "echo" &["--report-secs", "1"];
    echo_survives_a_flood_of_connections: "echo" &[];
    http_serves_pages_to_curl: "http" &[];
    http_survives_bad_clients: "http" &["--idle-secs", "2", "--request-secs", "2"];
    http_follows_rfc_9112: "http" &[];
    http_cuts_off_a_trickling_client: "http" &["--request-secs", "2"];
    http_bounds_lingering_after_close: "http" &[];
    http_closes_when_asked: "http" &[];
}

/// Under QEMU with KVM, small workloads only: /dev/kvm may be a slow
/// software virtualiser (kvm_pvm). Skipped, saying so, without /dev/kvm.
mod kvm {
    use super::*;

    fn start(app: &str) -> Option<Server> {
        if !std::path::Path::new("/dev/kvm").exists() {
            eprintln!("skipped: no /dev/kvm on this machine");
            return None;
        }
        Some(Server::start(Where::Kvm, app, &[]))
    }

    #[test]
    fn http_serves_pages_to_curl() {
        if let Some(server) = start("http") {
            super::http_serves_pages_to_curl(&server);
        }
    }

    #[test]
    fn echo_answers_udp() {
        if let Some(server) = start("echo") {
            super::echo_answers_udp(&server);
        }
    }
}

/// Hosted, with few file descriptors: connections beyond them wait in the
/// listener's backlog (accept fails with EMFILE), and are served once others
/// close, without a new connection arriving to wake the listener.
#[test]
fn hosted_accept_recovers_after_running_out_of_descriptors() {
    let port = free_port();
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=24:24")
        .arg("--")
        .arg(app_dir().join("echo"))
        .args(["--port", &port.to_string()])
        .env("CHANOS_LOG", "warn")
        // One core, so one network task: its warnings alternate (each
        // core's network task logs its own bursts).
        .env("CHANOS_CORES", "1")
        .stderr(Stdio::piped());
    let mut server = Server::spawn(command, port);
    server.wait_until_listening(Duration::from_secs(60));
    let stderr = server.child.stderr.take().expect("piped");
    let warnings = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let streams: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut stream = connect(&server);
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
            stream.write_all(b"x").expect("write");
            stream
        })
        .collect();
    let (served, waiting): (Vec<_>, Vec<_>) = streams.into_iter().partition(echoed);
    assert!(!served.is_empty(), "nothing was served");
    assert!(
        !waiting.is_empty(),
        "every connection was served: the limit did not bite"
    );
    drop(served);
    for (i, mut stream) in waiting.into_iter().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut byte = [0u8];
        assert!(
            matches!(stream.read(&mut byte), Ok(1)),
            "queued connection {i} was not served after the others closed"
        );
    }
    drop(server);
    let warnings = warnings.join().expect("stderr reader");
    // One warning per burst of failures (not one per retry, every 100 ms),
    // each burst ended by a recovery.
    let said: Vec<bool> = warnings
        .lines()
        .filter(|l| l.contains("accept failed") || l.contains("accepting connections again"))
        .map(|l| l.contains("accept failed"))
        .collect();
    let alternating = said
        .iter()
        .enumerate()
        .all(|(i, failed)| *failed == (i % 2 == 0));
    assert!(
        alternating && !said.is_empty() && said.len() <= 6,
        "{warnings}"
    );
}

/// Whether `stream` gets its byte back within its read timeout.
fn echoed(mut stream: &TcpStream) -> bool {
    let mut byte = [0u8];
    matches!(stream.read(&mut byte), Ok(1))
}

// ---- outgoing connections: the fetch app ----

/// Runs `fetch ADDRESS PATH` hosted, or booted with a network card (and no
/// forward) under TCG, where the host is 10.0.2.2.
fn fetch(on: Where, port: u16, path: &str) -> (Option<i32>, String, String) {
    let out = match on {
        Where::Hosted => Command::new("timeout")
            .arg("60")
            .arg(app_dir().join("fetch"))
            .args([&format!("127.0.0.1:{port}"), path])
            .output(),
        _ => {
            let address = format!("10.0.2.2:{port}");
            let image = images().join("fetch");
            boot_command(
                "qemu_forward &&",
                "boot_qemu tcg",
                &image,
                &[&address, path],
                Some(120),
            )
            .output()
        }
    }
    .expect("fetch runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace('\r', "");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn fetch_gets_a_page_from_a_server_on_the_host(on: Where) {
    let server = Server::start(Where::Hosted, "http", &[]);
    let (status, stdout, stderr) = fetch(on, server.port, "/metrics");
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert!(stdout.contains("\nchanos_tasks "), "{stdout}");
}

fn fetch_from_a_closed_port_is_refused(on: Where) {
    let (status, stdout, stderr) = fetch(on, free_port(), "/");
    assert_eq!(status, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("connection refused") || stderr.contains("connection refused"),
        "{stdout}{stderr}"
    );
}

/// The value of `name{core="K"}` for each core K in `text`.
fn per_core(text: &str, name: &str, cores: usize) -> Vec<u64> {
    (0..cores)
        .map(|core| metric(text, &format!("{name}{{core=\"{core}\"}}")))
        .collect()
}

/// Connections to `server`, each one request and closed.
fn one_request_each(server: &Server, connections: usize) {
    for _ in 0..connections {
        let answer = exchange(
            server,
            b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        )
        .expect("the connection works");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
}

#[test]
fn http_serves_connections_on_every_core() {
    let server = Server::start_hosted_on_cores("http", 3);
    assert!(
        server.output.lock().unwrap().contains("on 3 core(s)"),
        "{}",
        server.output.lock().unwrap()
    );
    // The kernel spreads connections over the cores' listeners by a hash
    // of the client's port: 60 connections all on one core would be a
    // chance of 3^-59.
    one_request_each(&server, 60);
    // Another core's figures in a page are at most 10 ms old.
    std::thread::sleep(Duration::from_millis(50));
    let metrics = curl(&[&server.url("/metrics")]);
    let served = per_core(&metrics, "http_core_requests_total", 3);
    assert!(served.iter().all(|&n| n > 0), "{served:?}\n{metrics}");
    assert!(served.iter().sum::<u64>() >= 60, "{served:?}\n{metrics}");
    assert_eq!(
        metric(&metrics, "http_requests_total"),
        served.iter().sum::<u64>(),
        "the total is the sum over cores:\n{metrics}"
    );
    let tasks = per_core(&metrics, "chanos_core_tasks", 3);
    // Every core runs at least its acceptor, its ledger and its network task.
    assert!(tasks.iter().all(|&n| n >= 3), "{tasks:?}\n{metrics}");
    let page = curl(&[&server.url("/")]);
    assert!(
        page.contains("<th>all cores</th><th>core 0</th><th>core 1</th><th>core 2</th>"),
        "{page}"
    );
}

#[test]
fn echo_serves_connections_on_every_core() {
    let server = Server::start_hosted_on_cores("echo", 3);
    assert!(
        server.output.lock().unwrap().contains("tcp on 3 core(s)"),
        "{}",
        server.output.lock().unwrap()
    );
    echo_100_connections_of_1_mib(&server);
    echo_answers_udp(&server);
}

#[test]
fn hosted_fetch_gets_a_page() {
    fetch_gets_a_page_from_a_server_on_the_host(Where::Hosted);
}

#[test]
fn booted_fetch_gets_a_page_from_the_host() {
    fetch_gets_a_page_from_a_server_on_the_host(Where::Tcg);
}

#[test]
fn hosted_fetch_from_a_closed_port_is_refused() {
    fetch_from_a_closed_port_is_refused(Where::Hosted);
}

#[test]
fn booted_fetch_from_a_closed_port_is_refused() {
    fetch_from_a_closed_port_is_refused(Where::Tcg);
}

// ---- through scripts/run, as a user starts them ----

/// `scripts/run http --on WHERE --forward P:80`: prints where to look, then serves there.
fn run_script_serves_http(on: &str) {
    let port = free_port();
    let mut command = Command::new("bash");
    command
        .arg(workspace_root().join("scripts/run"))
        .args(["http", "--on", on, "--forward", &format!("{port}:80")])
        // The hosted build's own target directory is locked by the `cargo
        // test` that runs this; use the one the test apps are built in.
        .env("CARGO_TARGET_DIR", app_dir().parent().expect("target dir"))
        .stderr(Stdio::piped());
    let mut server = Server::spawn(command, port);
    let stderr = server.child.stderr.take().expect("piped");
    let (said, heard) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = said.send(line);
        }
    });
    server.wait_until_listening(Duration::from_secs(300));
    let url = server.url("/");
    let mut told = Vec::new();
    let mut printed = false;
    while let Ok(line) = heard.recv_timeout(Duration::from_secs(10)) {
        printed |= line.contains(&format!("open {url}"));
        told.push(line);
        if printed {
            break;
        }
    }
    assert!(printed, "scripts/run did not print {url}: {told:?}");
    let page = curl(&["--include", &url]);
    assert!(page.starts_with("HTTP/1.1 200 OK\n"), "{page}");
}

#[test]
fn scripts_run_forwards_a_port_to_the_image() {
    run_script_serves_http("tcg");
}

#[test]
fn scripts_run_hosted_listens_on_the_host_port() {
    run_script_serves_http("hosted");
}

#[test]
fn scripts_run_says_why_uhyve_has_no_network() {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/run"))
        .args(["echo", "--on", "uhyve", "--forward", "7007:7"])
        .output()
        .expect("scripts/run runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{said}");
    assert!(
        said.contains("uhyve gives an image no network here"),
        "{said}"
    );
}

// ---- the image only ----

/// Boots the echo image under TCG until it exits, after `setup` (shell
/// code run before `boot_qemu`), and returns its status and console text.
fn boot_echo_to_exit(setup: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = boot_command(
        setup,
        "boot_qemu tcg",
        &images().join("echo"),
        args,
        Some(120),
    )
    .output()
    .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), text)
}

#[test]
fn an_image_without_a_network_card_says_so() {
    let (status, text) = boot_echo_to_exit("", &[]);
    assert_eq!(status, Some(1), "{text}");
    assert!(text.contains("no network device"), "{text}");
}

#[test]
fn an_image_takes_a_static_address_from_the_command_line() {
    let server = Server::start(
        Where::Tcg,
        "echo",
        &["chanos.net=10.0.2.15/24,10.0.2.2", "chanos.log=info"],
    );
    echo_answers_udp(&server);
    let output = server.output.lock().unwrap().clone();
    assert!(
        output.contains("network: address 10.0.2.15/24, gateway 10.0.2.2"),
        "{output}"
    );
    assert!(!output.contains("DHCP"), "{output}");
}

#[test]
fn a_bad_static_address_is_a_clear_error() {
    let (status, text) = boot_echo_to_exit("qemu_forward 1:7 &&", &["chanos.net=10.0.2.300/24"]);
    assert_eq!(status, Some(1), "{text}");
    assert!(
        text.contains("chanos.net=10.0.2.300/24: expected dhcp or ADDRESS/PREFIX[,GATEWAY]"),
        "{text}"
    );
}

#[test]
fn an_idle_image_server_does_not_spin() {
    let server = Server::start(Where::Tcg, "http", &[]);
    let _ = curl(&[&server.url("/metrics")]);
    let before = server.cpu_seconds();
    std::thread::sleep(Duration::from_secs(3));
    let used = server.cpu_seconds() - before;
    // A spinning guest would use the whole 3 s of a core.
    assert!(used < 1.0, "QEMU used {used:.2} s of CPU in 3 s of idling");
}
