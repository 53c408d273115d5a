//! peer-threads MODE [ARGS]: channel and switch costs between OS threads.
//!
//! Modes (N: operations, default 100000; P: producers):
//! - `pingpong N`: std `sync_channel(0)` and `sync_channel(1)` round trips;
//! - `pingpong-crossbeam N`: crossbeam `bounded(0)` and `bounded(1)`;
//! - `pingpong-condvar N`: a `Mutex` + `Condvar` handoff;
//! - `pingpong-socketpair N`: one byte each way over a Unix socketpair;
//! - `pingpong-pipe N`: one byte each way over pipes to a child process;
//! - `spawn N`: `thread::spawn` + `join`;
//! - `yield N`: two threads calling `thread::yield_now`;
//! - `throughput P N`, `throughput-crossbeam P N`: P producers, one consumer,
//!   capacity 1024;
//! - `counter-atomic N [T]`, `counter-mutex N [T]`: T threads (default 2)
//!   add one N times in all to a shared counter (the shared-memory way of
//!   `counter_via_task`): `bench counter_atomic_<T>`, `counter_mutex_<T>`;
//! - `table-rwlock N [T]`, `table-mutex N [T]`: T threads (default 2) do N
//!   operations in all on one shared 256-entry table behind a `RwLock` or a
//!   `Mutex`: lookups, and on thread 0 a write every 1000th (the same
//!   operations as microbench's `table-owner` and `table-replicas`):
//!   `bench table_rwlock_<T>`, `table_mutex_<T>`;
//! - `cacheline N`: two threads pinned to CPUs 0 and 1 bounce one atomic
//!   word, each waiting for the other's store: the raw round trip of a
//!   cache line between two cores, the floor of any cross-core handoff
//!   (`bench cross_core_rt`).

use peers::{arg, ns_per_op, report, usage_error};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock};
use std::thread;
use std::time::Instant;

/// Round trips between this thread and an echo thread over two channels
/// made by `make`, whatever their kind.
fn round_trips<Tx, Rx>(
    n: u64,
    make: impl Fn() -> (Tx, Rx),
    send: fn(&Tx, u64),
    recv: fn(&Rx) -> Option<u64>,
) -> f64
where
    Tx: Send + 'static,
    Rx: Send + 'static,
{
    let (ping_tx, ping_rx) = make();
    let (pong_tx, pong_rx) = make();
    let echo = thread::spawn(move || {
        while let Some(v) = recv(&ping_rx) {
            send(&pong_tx, v);
        }
    });
    let start = Instant::now();
    for i in 0..n {
        send(&ping_tx, i);
        assert_eq!(recv(&pong_rx), Some(i));
    }
    let ns = ns_per_op(start, n);
    drop(ping_tx);
    echo.join().unwrap();
    ns
}

fn std_round_trips(capacity: usize, n: u64) -> f64 {
    round_trips(
        n,
        || mpsc::sync_channel::<u64>(capacity),
        |tx, v| tx.send(v).unwrap(),
        |rx| rx.recv().ok(),
    )
}

fn crossbeam_round_trips(capacity: usize, n: u64) -> f64 {
    round_trips(
        n,
        || crossbeam_channel::bounded::<u64>(capacity),
        |tx, v| tx.send(v).unwrap(),
        |rx| rx.recv().ok(),
    )
}

/// Whose turn it is, handed back and forth under a mutex: the classic
/// shared-memory handoff.
fn condvar_round_trips(n: u64) -> f64 {
    let shared = Arc::new((Mutex::new(false), Condvar::new())); // true: echo's turn
    let theirs = shared.clone();
    let echo = thread::spawn(move || {
        let (turn, cond) = &*theirs;
        for _ in 0..n {
            let mut echo_turn = cond.wait_while(turn.lock().unwrap(), |t| !*t).unwrap();
            *echo_turn = false;
            cond.notify_one();
        }
    });
    let (turn, cond) = &*shared;
    let start = Instant::now();
    for _ in 0..n {
        let mut echo_turn = turn.lock().unwrap();
        *echo_turn = true;
        cond.notify_one();
        drop(cond.wait_while(echo_turn, |t| *t).unwrap());
    }
    let ns = ns_per_op(start, n);
    echo.join().unwrap();
    ns
}

fn byte_round_trips(mut ours_in: impl Read, mut ours_out: impl Write, n: u64) -> f64 {
    let mut byte = [0u8; 1];
    let start = Instant::now();
    for _ in 0..n {
        ours_out.write_all(&byte).unwrap();
        ours_in.read_exact(&mut byte).unwrap();
    }
    ns_per_op(start, n)
}

fn echo_bytes(mut input: impl Read, mut output: impl Write) {
    let mut byte = [0u8; 1];
    while input.read_exact(&mut byte).is_ok() {
        if output.write_all(&byte).is_err() {
            break;
        }
        let _ = output.flush();
    }
}

fn socketpair_round_trips(n: u64) -> f64 {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let echo = thread::spawn(move || echo_bytes(&theirs, &theirs));
    let ns = byte_round_trips(&ours, &ours, n);
    ours.shutdown(std::net::Shutdown::Both).unwrap();
    echo.join().unwrap();
    ns
}

fn pipe_round_trips(n: u64) -> f64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("pipe-echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let to_child = child.stdin.take().unwrap();
    let from_child = child.stdout.take().unwrap();
    let ns = byte_round_trips(from_child, to_child, n);
    child.wait().unwrap();
    ns
}

/// P producer threads send `n` messages in all through one channel made by
/// `make`; this thread receives them.
fn throughput<Tx, Rx>(
    producers: u64,
    n: u64,
    make: fn() -> (Tx, Rx),
    send: fn(&Tx, u64),
    recv: fn(&Rx) -> Option<u64>,
) where
    Tx: Clone + Send + 'static,
{
    let per = n / producers;
    let start = Instant::now();
    let (tx, rx) = make();
    for _ in 0..producers {
        let tx = tx.clone();
        thread::spawn(move || (0..per).for_each(|i| send(&tx, i)));
    }
    drop(tx);
    let received = std::iter::from_fn(|| recv(&rx)).count() as u64;
    assert_eq!(received, per * producers);
    let rate = received as f64 / start.elapsed().as_secs_f64();
    report(&format!("throughput_{producers}p"), rate, "msg/s");
}

fn counter(n: u64, threads: u64, with_mutex: bool) {
    let atomic = Arc::new(AtomicU64::new(0));
    let mutex = Arc::new(Mutex::new(0u64));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (atomic, mutex) = (atomic.clone(), mutex.clone());
            thread::spawn(move || {
                for _ in 0..n / threads {
                    if with_mutex {
                        *mutex.lock().unwrap() += 1;
                    } else {
                        atomic.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let ns = ns_per_op(start, n / threads * threads);
    let kind = if with_mutex { "mutex" } else { "atomic" };
    report(&format!("counter_{kind}_{threads}"), ns, "ns");
}

/// The shared-memory way of microbench's read-mostly table (see its
/// `table.rs` for the operations, repeated here).
fn table(n: u64, threads: u64, with_rwlock: bool) {
    const TABLE: usize = 256;
    const WRITE_EVERY: u64 = 1000;
    let rwlock = Arc::new(RwLock::new(vec![0u64; TABLE]));
    let mutex = Arc::new(Mutex::new(vec![0u64; TABLE]));
    let per_thread = n / threads;
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (rwlock, mutex) = (rwlock.clone(), mutex.clone());
            thread::spawn(move || {
                let mut sum = 0u64;
                for i in 0..per_thread {
                    let key = (i as usize * 7) % TABLE;
                    let write = t == 0 && i.is_multiple_of(WRITE_EVERY);
                    match (write, with_rwlock) {
                        (true, true) => rwlock.write().unwrap()[key] = i,
                        (true, false) => mutex.lock().unwrap()[key] = i,
                        (false, true) => sum = sum.wrapping_add(rwlock.read().unwrap()[key]),
                        (false, false) => sum = sum.wrapping_add(mutex.lock().unwrap()[key]),
                    }
                }
                std::hint::black_box(sum);
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let ns = ns_per_op(start, per_thread * threads);
    let kind = if with_rwlock { "rwlock" } else { "mutex" };
    report(&format!("table_{kind}_{threads}"), ns, "ns");
}

/// Pins the calling thread to `cpu` (best effort: unpinned if refused).
fn pin_to(cpu: usize) {
    // SAFETY: `set` is a plain bit set, zeroed then filled by CPU_SET, and
    // sched_setaffinity only reads it for this thread (0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn cacheline_round_trips(n: u64) -> f64 {
    let word = Arc::new(AtomicU64::new(0));
    let echo = {
        let word = word.clone();
        thread::spawn(move || {
            pin_to(1);
            for i in 0..n {
                while word.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                word.store(2 * i + 2, Ordering::Release);
            }
        })
    };
    pin_to(0);
    let start = Instant::now();
    for i in 0..n {
        word.store(2 * i + 1, Ordering::Release);
        while word.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
        }
    }
    let ns = ns_per_op(start, n);
    echo.join().unwrap();
    ns
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = arg(&args, 1, 100_000);
    match args.first().map(String::as_str) {
        Some("pingpong") => {
            report("pingpong_rendezvous_rt", std_round_trips(0, n), "ns");
            report("pingpong_cap1_rt", std_round_trips(1, n), "ns");
        }
        Some("pingpong-crossbeam") => {
            report("pingpong_rendezvous_rt", crossbeam_round_trips(0, n), "ns");
            report("pingpong_cap1_rt", crossbeam_round_trips(1, n), "ns");
        }
        Some("pingpong-condvar") => report("pingpong_rendezvous_rt", condvar_round_trips(n), "ns"),
        Some("pingpong-socketpair") => {
            report("pingpong_rendezvous_rt", socketpair_round_trips(n), "ns")
        }
        Some("pingpong-pipe") => report("pingpong_rendezvous_rt", pipe_round_trips(n), "ns"),
        Some("pipe-echo") => echo_bytes(std::io::stdin().lock(), std::io::stdout().lock()),
        Some("spawn") => {
            let start = Instant::now();
            for i in 0..n {
                assert_eq!(thread::spawn(move || i).join().unwrap(), i);
            }
            report("spawn_join", ns_per_op(start, n), "ns");
        }
        Some("yield") => {
            let start = Instant::now();
            let other = thread::spawn(move || (0..n).for_each(|_| thread::yield_now()));
            (0..n).for_each(|_| thread::yield_now());
            other.join().unwrap();
            report("yield", ns_per_op(start, 2 * n), "ns");
        }
        Some("throughput") => throughput(
            n,
            arg(&args, 2, 1_000_000),
            || mpsc::sync_channel::<u64>(1024),
            |tx, v| tx.send(v).unwrap(),
            |rx| rx.recv().ok(),
        ),
        Some("throughput-crossbeam") => throughput(
            n,
            arg(&args, 2, 1_000_000),
            || crossbeam_channel::bounded::<u64>(1024),
            |tx, v| tx.send(v).unwrap(),
            |rx| rx.recv().ok(),
        ),
        Some("counter-atomic") => counter(n, arg(&args, 2, 2).max(1), false),
        Some("counter-mutex") => counter(n, arg(&args, 2, 2).max(1), true),
        Some("table-rwlock") => table(n, arg(&args, 2, 2).max(1), true),
        Some("table-mutex") => table(n, arg(&args, 2, 2).max(1), false),
        Some("cacheline") => report("cross_core_rt", cacheline_round_trips(n), "ns"),
        _ => usage_error("usage: peer-threads MODE [N] (see the source's header for modes)"),
    }
}
