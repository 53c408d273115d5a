//! The hosted platform: chanos as an ordinary Linux process.

use super::Stream;
use alloc::string::String;
use alloc::vec::Vec;
use std::io::Write;
use std::sync::OnceLock;

#[path = "hosted_parker.rs"]
mod parker;
pub(crate) use parker::{Io, Parker, READABLE, WRITABLE};
use std::time::Instant;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Monotonic nanoseconds since the first call.
pub(crate) fn now_ns() -> u64 {
    origin().elapsed().as_nanos() as u64
}

/// What boot measured (nothing, for a process).
pub(crate) fn boot_report() -> String {
    String::from(
        "hosted: std's monotonic clock, thread park/unpark, epoll_wait once a socket opens",
    )
}

/// A process has no first instruction of its own to measure from.
pub(crate) fn since_first_instruction_ns() -> Option<u64> {
    None
}

/// The heap's allocations are the C library's business hosted: unknown.
pub(crate) fn heap_bytes() -> Option<u64> {
    None
}

/// The process's resident set (`VmRSS` in /proc/self/status), read at most
/// every 100 ms: it changes slowly, and reading it costs three system calls,
/// which a server that reports it on every request (`/metrics`) would feel.
pub(crate) fn resident_bytes() -> Option<u64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    const FRESH_NS: u64 = 100_000_000;
    static BYTES: AtomicU64 = AtomicU64::new(0);
    static READ_AT: AtomicU64 = AtomicU64::new(0);
    let now = now_ns().max(1); // 0 in READ_AT means "never read"
    let read_at = READ_AT.load(Ordering::Relaxed);
    if read_at != 0 && now.saturating_sub(read_at) < FRESH_NS {
        return Some(BYTES.load(Ordering::Relaxed));
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    BYTES.store(kib * 1024, Ordering::Relaxed);
    READ_AT.store(now, Ordering::Relaxed);
    Some(kib * 1024)
}

/// Lets another thread run (a spinning wait's back-off).
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// A spinning wait's back-off: `pause`.
#[inline(always)]
pub(crate) fn spin_hint() {
    core::hint::spin_loop();
}

/// Runs `job`, core `index` of a runtime, on a thread of its own.
pub(crate) fn start_core(index: usize, job: alloc::boxed::Box<dyn FnOnce() + Send>) -> CoreRun {
    let thread = std::thread::Builder::new()
        .name(alloc::format!("chanos core {index}"))
        .spawn(job)
        .expect("chanos: could not start a thread for a core");
    CoreRun(thread)
}

/// A core running on its thread.
pub(crate) struct CoreRun(std::thread::JoinHandle<()>);

impl CoreRun {
    /// Waits for the thread to end.
    pub(crate) fn join(self) {
        drop(self.0.join());
    }
}

/// Goes on with a panic caught by [`catch_panic`] on another thread.
pub(crate) fn resume_panic(payload: alloc::boxed::Box<dyn core::any::Any + Send>) -> ! {
    std::panic::resume_unwind(payload)
}

/// Runs `f`, catching a panic that unwinds out of it.
pub(crate) fn catch_panic<R>(
    f: impl FnOnce() -> R,
) -> Result<R, alloc::boxed::Box<dyn core::any::Any + Send>> {
    std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
}

/// A Linux process has no interrupt context that could run chanos code.
pub(crate) fn in_interrupt() -> bool {
    false
}

pub(crate) fn console_write(stream: Stream, text: &str) {
    // A closed stdout (e.g. `| head`) must not panic the program.
    let _ = match stream {
        Stream::Out => std::io::stdout().lock().write_all(text.as_bytes()),
        Stream::Err => std::io::stderr().lock().write_all(text.as_bytes()),
    };
}

pub(crate) fn exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// The program's arguments, without the program name.
pub(crate) fn args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

/// A seed for `select!`'s random choice: `CHANOS_SEED` when set, else the clock.
pub(crate) fn seed() -> u64 {
    match std::env::var("CHANOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => seed,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed),
    }
}

/// How many CPUs this process may run on.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How many cores a runtime uses unless told: `CHANOS_CORES`, or else as
/// many as this process may use.
pub(crate) fn default_cores() -> usize {
    match std::env::var("CHANOS_CORES") {
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n @ 1..=1024) => n,
            _ => panic!("chanos: CHANOS_CORES must be a number from 1 to 1024, not {text:?}"),
        },
        Err(_) => cpus(),
    }
}

/// The logging level asked for by `CHANOS_LOG` (error, warn, info, debug, trace).
pub(crate) fn log_level() -> Option<String> {
    std::env::var("CHANOS_LOG").ok()
}

/// Makes a panic print who panicked (`describe` names the running task) and
/// exit with status 101 at once, instead of unwinding through the executor.
pub(crate) fn install_panic_report(describe: fn(&mut dyn core::fmt::Write) -> core::fmt::Result) {
    std::panic::set_hook(alloc::boxed::Box::new(move |info| {
        let location = info
            .location()
            .map(|l| alloc::format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let mut who = String::new();
        let _ = describe(&mut who);
        console_write(
            Stream::Err,
            &alloc::format!("chanos: {who} panicked{location}:\n{message}\n"),
        );
        exit(crate::exit_status::PANIC);
    }));
}
