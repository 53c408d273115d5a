//! The exit statuses of a chanos app, hosted and booted alike: what a
//! script or a test can tell from the status alone. (Booted under QEMU,
//! the image writes `status + 1` to isa-debug-exit and QEMU exits with
//! `2 * status + 3`; `scripts/run` turns that back into these numbers.)

/// `main` returned `()` or `Ok(())`.
pub const SUCCESS: i32 = 0;
/// `main` returned `Err(e)`; `Error: e` was printed first.
pub const MAIN_ERROR: i32 = 1;
/// No task could ever run again; the deadlock report was printed first.
pub const DEADLOCK: i32 = 2;
/// A task panicked; its number, name, place and message were printed.
pub const PANIC: i32 = 101;
/// The image took a CPU exception (a page fault, a stack overflow, ...);
/// the report names it, where it happened and the running task.
pub const CPU_EXCEPTION: i32 = 102;
/// The image's heap could not satisfy an allocation; the report gives the
/// request and the heap's size.
pub const OUT_OF_MEMORY: i32 = 103;
/// The image could not set up the machine (no usable memory map, an
/// unknown boot protocol, ...).
pub const BOOT_FAILURE: i32 = 104;
