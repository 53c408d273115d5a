//! echo: the TCP and UDP echo service (RFC 862) on port 7. Every core
//! listens for TCP (`TcpListener::bind_on_every_core`) and serves the
//! connections it accepts, one task each; one task on core 0 echoes UDP.
//! `echo [--port N] [--report-secs S]`: another port (hosted, port 7 needs
//! root); core 0's runtime statistics every S seconds.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec::Vec;

use chanos::net::{NetError, TcpListener, TcpStream, UdpSocket};
use chanos::time::{timeout, Duration};
use chanos::{println, spawn_named, spawn_on_named};

#[chanos::main]
async fn main() -> Result<(), NetError> {
    let mut port = 7;
    let args = chanos::env::args();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u16>().ok());
        match (flag.as_str(), value) {
            ("--port", Some(n)) => port = n,
            ("--report-secs", Some(s)) if s > 0 => {
                spawn_named(
                    "stats",
                    chanos::print_stats_every(Duration::from_secs(s.into())),
                );
            }
            _ => usage(),
        }
    }
    let listeners = TcpListener::bind_on_every_core(port).await?;
    let port = listeners[0].port();
    let udp = UdpSocket::bind(port).await?;
    println!(
        "echo: listening on tcp and udp port {port}, tcp on {} core(s)",
        listeners.len()
    );
    spawn_named("udp echo", async move {
        while let Ok(datagram) = udp.recv_from().await {
            let _ = udp.send_to(datagram.data, datagram.peer).await;
        }
    });
    let cores: Vec<_> = (0..)
        .zip(listeners)
        .map(|(core, listener)| spawn_on_named(core, "echo acceptor", accept(listener)))
        .collect();
    for core in cores {
        core.await?;
    }
    Ok(())
}

/// Serves the connections of one core's listener.
async fn accept(listener: TcpListener) -> Result<(), NetError> {
    loop {
        let stream = listener.accept().await?;
        spawn_named("echo connection", echo(stream));
    }
}

/// How long an echo may wait for the peer to take it. A client that sends
/// and never reads fills every buffer on the way and then holds its
/// connection (in the image, one of its 512 sockets) only this long; its
/// reset may never come (QEMU's user network does not pass one on).
const STALL: Duration = Duration::from_secs(10);

/// Sends back every chunk until the peer closes; then dropping the stream
/// closes our side after the last echo.
async fn echo(stream: TcpStream) {
    while let Ok(Some(bytes)) = stream.read().await {
        if !matches!(timeout(STALL, stream.write(bytes)).await, Ok(Ok(()))) {
            return;
        }
    }
}

fn usage() -> ! {
    chanos::eprintln!("usage: echo [--port N] [--report-secs S]");
    chanos::env::exit(64)
}
