//! echo: the TCP and UDP echo service (RFC 862) on port 7, one task per
//! connection. `echo --port N` listens on another port (hosted, port 7
//! needs root).
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::net::{NetError, TcpListener, TcpStream, UdpSocket};
use chanos::{println, spawn_named};

#[chanos::main]
async fn main() -> Result<(), NetError> {
    let port = match chanos::env::args().as_slice() {
        [] => 7,
        [flag, port] if flag == "--port" => match port.parse() {
            Ok(port) => port,
            Err(_) => usage(),
        },
        _ => usage(),
    };
    let listener = TcpListener::bind(port).await?;
    let udp = UdpSocket::bind(listener.port()).await?;
    println!("echo: listening on tcp and udp port {}", listener.port());
    spawn_named("udp echo", async move {
        while let Ok(datagram) = udp.recv_from().await {
            let _ = udp.send_to(datagram.data, datagram.peer).await;
        }
    });
    loop {
        let stream = listener.accept().await?;
        spawn_named("echo connection", echo(stream));
    }
}

/// Sends back every chunk until the peer closes; then dropping the stream
/// closes our side after the last echo.
async fn echo(stream: TcpStream) {
    while let Ok(Some(bytes)) = stream.read().await {
        if stream.write(bytes).await.is_err() {
            return;
        }
    }
}

fn usage() -> ! {
    chanos::eprintln!("usage: echo [--port N]");
    chanos::env::exit(64)
}
