//! Shared bits of the peer programs: argument parsing and the output format,
//! `bench <metric> <value> <unit>`, the same as chanos's apps print; and a
//! hostile HTTP client that the soak and the network tests both use.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Prints one measurement.
pub fn report(metric: &str, value: f64, unit: &str) {
    println!("bench {metric} {value:.1} {unit}");
}

/// Nanoseconds per operation since `start`.
pub fn ns_per_op(start: Instant, ops: u64) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// The `i`-th argument as a number, or `default`; exits 64 on garbage.
pub fn arg(args: &[String], i: usize, default: u64) -> u64 {
    match args.get(i).map(|a| a.parse::<u64>()) {
        None => default,
        Some(Ok(n)) => n,
        Some(Err(_)) => usage_error(&format!("not a number: {}", args[i])),
    }
}

/// Prints `message` and exits with status 64.
pub fn usage_error(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(64)
}

/// A client that sends `head` a byte at a time, `gap` apart, then filler
/// bytes, until the server answers or closes: what it answered. `Err` if
/// the server still takes bytes after `limit`.
pub fn trickle(
    stream: &mut TcpStream,
    head: &[u8],
    gap: Duration,
    limit: Duration,
) -> Result<Vec<u8>, String> {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut answer = Vec::new();
    for byte in head.iter().chain(std::iter::repeat(&b'z')) {
        if start.elapsed() > limit {
            return Err(format!("still connected after {limit:?} of trickling"));
        }
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        let mut buffer = [0u8; 1024];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        std::thread::sleep(gap);
    }
    Ok(answer)
}

/// Whether `data`, sent from `socket` to `address`, comes back whole within
/// `tries` sends (UDP may lose a datagram; `socket`'s read timeout bounds
/// each wait).
pub fn udp_echoes(socket: &UdpSocket, address: &str, data: &[u8], tries: u32) -> bool {
    let mut buffer = vec![0u8; 65_536];
    (0..tries).any(|_| {
        let _ = socket.send_to(data, address);
        matches!(socket.recv_from(&mut buffer), Ok((n, _)) if buffer[..n] == *data)
    })
}
