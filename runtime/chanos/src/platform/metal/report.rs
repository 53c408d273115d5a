//! The panic report: which task (and core) panicked, where, and why; and
//! the description of the running task that every fault report uses.

use super::{console, once, EXIT_PANIC};

/// Writes what is running now: the executor's `describe_running`.
type DescribeRunning = fn(&mut dyn core::fmt::Write) -> core::fmt::Result;
static DESCRIBE_RUNNING: once::Once<DescribeRunning> = once::Once::new();

/// Names the running task in panic, exception and out-of-memory reports.
pub(crate) fn install_panic_report(describe: DescribeRunning) {
    DESCRIBE_RUNNING.set(describe);
}

/// Writes what is running now ("task 3 \"worker\" on core 1"), or "the
/// kernel" before the runtime starts. It allocates nothing.
pub(super) fn describe_running(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
    match DESCRIBE_RUNNING.get() {
        Some(describe) => describe(out),
        None => out.write_str("the kernel"),
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // The report is one piece of console text, and ends every CPU.
    critical_section::with(|_| report_panic(info))
}

fn report_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    // Straight to the console: the heap may be what failed, or not be up yet.
    let mut out = console::Writer;
    let _ = out.write_str("chanos: ");
    let _ = describe_running(&mut out);
    let _ = write!(out, " panicked");
    if let Some(l) = info.location() {
        let _ = write!(out, " at {}:{}:{}", l.file(), l.line(), l.column());
    }
    let _ = writeln!(out, ":\n{}", info.message());
    console::exit(EXIT_PANIC)
}
