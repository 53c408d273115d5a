//! fetch ADDRESS:PORT [PATH]: an HTTP/1.0 GET over an outgoing TCP
//! connection; prints the response as it came. In an image under QEMU's
//! user network, the host is 10.0.2.2 (`scripts/run fetch --nic --
//! 10.0.2.2:8080 /`).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use chanos::net::{NetError, SocketAddr, TcpStream};
use chanos::time::{timeout, Duration};
use chanos::{eprintln, print};

#[chanos::main]
async fn main() {
    let args = chanos::env::args();
    let (address, path) = match args.as_slice() {
        [address] => (address, "/"),
        [address, path] => (address, path.as_str()),
        _ => usage(),
    };
    let Ok(address) = address.parse::<SocketAddr>() else {
        eprintln!("fetch: {address:?} is not ADDRESS:PORT (e.g. 10.0.2.2:8080)");
        chanos::env::exit(64)
    };
    match timeout(Duration::from_secs(30), get(address, path)).await {
        Ok(Ok(response)) => print!("{}", String::from_utf8_lossy(&response)),
        Ok(Err(error)) => {
            eprintln!("fetch: {address}: {error}");
            chanos::env::exit(1)
        }
        Err(_) => {
            eprintln!("fetch: no complete answer from {address} in 30 s");
            chanos::env::exit(1)
        }
    }
}

/// The whole response to `GET path`.
async fn get(address: SocketAddr, path: &str) -> Result<Vec<u8>, NetError> {
    let mut stream = TcpStream::connect(address).await?;
    let request = alloc::format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write(request.into_bytes()).await?;
    stream.shutdown_write();
    let mut response = Vec::new();
    while let Some(bytes) = stream.read().await? {
        response.extend_from_slice(&bytes);
    }
    Ok(response)
}

fn usage() -> ! {
    eprintln!("usage: fetch ADDRESS:PORT [PATH]");
    chanos::env::exit(64)
}
