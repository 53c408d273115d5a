//! The `chanos::net` contract, hosted: streams end and fail as documented,
//! reads compose with `select!` and timeouts, a slow reader holds back only
//! its own connection, and an open socket is a wake source, not a deadlock.
//! Clients are plain std sockets on other threads.

use chanos::net::{NetError, TcpListener, UdpSocket};
use chanos::time::{timeout, Duration};
use chanos::{chan, select, Runtime};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

/// Runs `main`, which gets a listener, with `client` on a thread once the
/// listener's port is known; the runtime lives until the client is done.
fn serve<T: 'static>(
    main: impl AsyncFnOnce(TcpListener) -> T + 'static,
    client: impl FnOnce(u16) + Send + 'static,
) -> T {
    let (result, client) = Runtime::new()
        .block_on(async move {
            let listener = TcpListener::bind(0).await.expect("bind");
            let port = listener.port();
            let client = thread::spawn(move || client(port));
            let result = main(listener).await;
            while !client.is_finished() {
                chanos::time::sleep(Duration::from_millis(10)).await;
            }
            (result, client)
        })
        .expect("no deadlock");
    if let Err(panic) = client.join() {
        std::panic::resume_unwind(panic);
    }
    result
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream
}

#[test]
fn an_orderly_close_reads_as_none_and_writes_arrive_first() {
    let got = serve(
        async |listener: TcpListener| {
            let stream = listener.accept().await.unwrap();
            let mut got = Vec::new();
            while let Some(bytes) = stream.read().await.unwrap() {
                got.extend(bytes);
            }
            stream.write(b"bye".to_vec()).await.unwrap();
            got
        },
        |port| {
            let mut s = connect(port);
            s.write_all(b"hello").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            assert_eq!(answer, "bye");
        },
    );
    assert_eq!(got, b"hello");
}

#[test]
fn a_reset_reads_as_an_error() {
    let result = serve(
        async |listener: TcpListener| {
            let stream = listener.accept().await.unwrap();
            stream.write(b"never read".to_vec()).await.unwrap();
            loop {
                match stream.read().await {
                    Ok(Some(_)) => continue,
                    other => return other,
                }
            }
        },
        |port| {
            let s = connect(port);
            // Closing with unread bytes in the receive buffer makes Linux
            // send a reset instead of a FIN.
            thread::sleep(std::time::Duration::from_millis(300));
            drop(s);
        },
    );
    assert_eq!(result, Err(NetError::Reset));
}

#[test]
fn reads_compose_with_select_and_timeouts() {
    let outcome = serve(
        async |listener: TcpListener| {
            let stream = listener.accept().await.unwrap();
            let (tick_tx, tick_rx) = chan::bounded::<()>(1);
            tick_tx.try_send(()).unwrap();
            // A ready channel and a silent socket: select takes the channel.
            let first = select! {
                _ = stream.reads().recv() => "socket",
                _ = tick_rx.recv() => "tick",
            };
            // A silent socket times out.
            let silent = timeout(Duration::from_millis(200), stream.read()).await;
            // Then the client speaks.
            let too_late = chanos::time::after(Duration::from_secs(20));
            let spoke = select! {
                bytes = stream.reads().recv() => bytes,
                _ = too_late.recv() => None,
            };
            (first, silent.is_err(), spoke)
        },
        |port| {
            let mut s = connect(port);
            thread::sleep(std::time::Duration::from_millis(600));
            s.write_all(b"late").unwrap();
            thread::sleep(std::time::Duration::from_millis(500));
        },
    );
    assert_eq!(outcome.0, "tick");
    assert!(outcome.1, "the read did not time out");
    assert_eq!(outcome.2, Some(Ok(b"late".to_vec())));
}

#[test]
fn a_slow_reader_holds_back_only_its_own_connection() {
    const BIG: usize = 8 << 20;
    let fast_bytes = serve(
        async |listener: TcpListener| {
            let slow = listener.accept().await.unwrap();
            let fast = listener.accept().await.unwrap();
            // Never read `slow`; read all of `fast`.
            let mut total = 0;
            while let Some(bytes) = fast.read().await.unwrap() {
                total += bytes.len();
            }
            drop(slow);
            total
        },
        |port| {
            let mut slow = connect(port);
            thread::sleep(std::time::Duration::from_millis(100));
            let mut fast = connect(port);
            // The slow connection fills its windows and then blocks...
            slow.set_write_timeout(Some(std::time::Duration::from_millis(500)))
                .unwrap();
            let chunk = vec![7u8; 64 * 1024];
            let mut stuck = false;
            for _ in 0..(BIG / chunk.len()) {
                if slow.write_all(&chunk).is_err() {
                    stuck = true;
                    break;
                }
            }
            assert!(stuck, "8 MiB went into a connection nobody reads");
            // ...while the fast one carries all of its bytes.
            for _ in 0..(BIG / chunk.len()) {
                fast.write_all(&chunk).unwrap();
            }
            fast.shutdown(Shutdown::Write).unwrap();
        },
    );
    assert_eq!(fast_bytes, BIG);
}

#[test]
fn connect_makes_the_same_kind_of_stream() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        let mut question = [0u8; 8];
        s.read_exact(&mut question).unwrap();
        assert_eq!(&question, b"question");
        s.write_all(b"answer").unwrap();
    });
    let answer = Runtime::new()
        .block_on(async move {
            let address = chanos::net::SocketAddr::from(([127, 0, 0, 1], port));
            let stream = chanos::net::TcpStream::connect(address).await.unwrap();
            assert_eq!(stream.peer_addr(), address);
            stream.write(b"question".to_vec()).await.unwrap();
            let mut got = Vec::new();
            while let Some(bytes) = stream.read().await.unwrap() {
                got.extend(bytes);
            }
            got
        })
        .unwrap();
    peer.join().unwrap();
    assert_eq!(answer, b"answer");
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // dropped: nobody listens there now
    let result = Runtime::new()
        .block_on(async move {
            let address = chanos::net::SocketAddr::from(([127, 0, 0, 1], port));
            chanos::net::TcpStream::connect(address).await.map(|_| ())
        })
        .unwrap();
    assert_eq!(result, Err(NetError::Refused));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let result = Runtime::new()
        .block_on(async {
            let first = TcpListener::bind(0).await.unwrap();
            let second = TcpListener::bind(first.port()).await;
            (first.port(), second.map(|l| l.port()))
        })
        .unwrap();
    assert_eq!(result.1, Err(NetError::AddressInUse(result.0)));
    assert_eq!(
        NetError::AddressInUse(80).to_string(),
        "port 80 is already in use"
    );
}

#[test]
fn a_listener_per_core_shares_one_port_and_only_with_its_kind() {
    let (ports, exclusive, served) = Runtime::with_cores(3)
        .block_on(async {
            let listeners = TcpListener::bind_on_every_core(0).await.unwrap();
            let ports: Vec<u16> = listeners.iter().map(|l| l.port()).collect();
            let exclusive = TcpListener::bind(ports[0]).await.map(|l| l.port());
            let port = ports[0];
            let clients = thread::spawn(move || {
                for _ in 0..30 {
                    let mut stream = connect(port);
                    stream.write_all(b"x").unwrap();
                    let mut byte = [0u8];
                    stream.read_exact(&mut byte).unwrap();
                }
            });
            // Each core answers its own listener's connections; the cores
            // that served report back.
            let (served_tx, served) = chan::bounded::<usize>(30);
            let acceptors: Vec<_> = (0..)
                .zip(listeners)
                .map(|(core, listener)| {
                    let served_tx = served_tx.clone();
                    chanos::spawn_on(core, async move {
                        while let Ok(Ok(stream)) =
                            timeout(Duration::from_secs(2), listener.accept()).await
                        {
                            if let Ok(Some(bytes)) = stream.read().await {
                                let _ = stream.write(bytes).await;
                            }
                            let _ = served_tx.send(chanos::core()).await;
                        }
                    })
                })
                .collect();
            drop(served_tx);
            let mut by_core = [0; 3];
            while let Some(core) = served.recv().await {
                by_core[core] += 1;
            }
            for acceptor in acceptors {
                acceptor.await;
            }
            clients.join().unwrap();
            (ports, exclusive, by_core)
        })
        .unwrap();
    assert!(ports.iter().all(|&p| p == ports[0] && p != 0), "{ports:?}");
    assert_eq!(exclusive, Err(NetError::AddressInUse(ports[0])));
    assert_eq!(served.iter().sum::<usize>(), 30, "{served:?}");
    // 30 connections on one core of three: a chance of 3^-29.
    assert!(served.iter().filter(|&&n| n > 0).count() >= 2, "{served:?}");
}

#[test]
fn udp_datagrams_go_both_ways() {
    let peer = Runtime::new()
        .block_on(async {
            let socket = UdpSocket::bind(0).await.unwrap();
            let port = socket.port();
            let client = thread::spawn(move || {
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                s.send_to(b"question", ("127.0.0.1", port)).unwrap();
                let mut buf = [0u8; 32];
                let (n, _) = s.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"answer");
            });
            let datagram = socket.recv_from().await.unwrap();
            assert_eq!(datagram.data, b"question");
            socket
                .send_to(b"answer".to_vec(), datagram.peer)
                .await
                .unwrap();
            // Wait for the client without blocking the runtime.
            while !client.is_finished() {
                chanos::time::sleep(Duration::from_millis(10)).await;
            }
            client.join().is_ok()
        })
        .unwrap();
    assert!(peer, "the UDP client failed");
}

#[test]
fn waiting_on_a_socket_is_not_a_deadlock_but_waiting_after_closing_it_is() {
    let waited = Runtime::new().block_on(async {
        let listener = TcpListener::bind(0).await.unwrap();
        timeout(Duration::from_millis(300), listener.accept())
            .await
            .is_err()
    });
    assert_eq!(
        waited.ok(),
        Some(true),
        "accept with nobody coming should time out"
    );

    let report = Runtime::new().block_on(async {
        let listener = TcpListener::bind(0).await.unwrap();
        drop(listener);
        // Let the network task close the socket, then wait on nothing.
        chanos::time::sleep(Duration::from_millis(50)).await;
        let (_tx, rx) = chan::bounded_named::<()>(0, "never");
        rx.recv().await
    });
    let report = report.expect_err("a deadlock").to_string();
    assert!(report.contains("\"never\""), "{report}");
}
