//! The platform boundary: everything the executor needs from the machine.
//!
//! One implementation is chosen here, once, by target: `hosted` (a Linux
//! process, std) or, in the bootable image, `metal`. Each provides the same
//! small set of items:
//!
//! - `now_ns()`: monotonic nanoseconds since the program started;
//! - `Parker`: sleep until woken or until a deadline (`park`), and wake the
//!   sleeper from any thread or interrupt (`unpark`);
//! - `in_interrupt()`: whether the caller runs in interrupt context;
//! - `cpus()`, `default_cores()`, `start_core(index, job)` (a thread, or
//!   a CPU of the image), `catch_panic`/`resume_panic` (hosted, a panic on
//!   another core reaches core 0; the image ends at any panic), and
//!   `spin_hint()`/`yield_now()` for spinning waits;
//! - `console_write(stream, text)`, `exit(code)`, `args()`, `seed()`;
//! - `install_panic_report(..)`: how a panic is reported before exiting;
//! - `since_first_instruction_ns()`: boot time, where there was a boot;
//! - `heap_bytes()`, `resident_bytes()`: memory in use, where it can be
//!   told (the heap's allocations in the image, the resident set hosted);
//! - and, common to both, `core_local!`: state of this core's executor.

#[cfg(not(target_os = "none"))]
#[path = "hosted.rs"]
mod imp;

// The bare-metal platform is hardware access: `unsafe` is its trade, with
// a `// SAFETY:` on every block.
#[cfg(target_os = "none")]
#[path = "metal/mod.rs"]
#[allow(unsafe_code)]
mod imp;

pub(crate) use imp::*;

mod core_local;
pub(crate) use core_local::{core_key, core_local, set_core_key};
#[cfg(target_os = "none")]
pub(crate) use core_local::{CoreLocal, CpuSlot};

/// Where console text goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Out,
    Err,
}
