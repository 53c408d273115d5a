//! The bare-metal platform: chanos as the kernel of a bootable x86_64 image.
//!
//! One file per hardware concern:
//! - `boot`: the PVH (QEMU) and hermit (uhyve) entries and boot notes;
//! - `cpu`: GDT, TSS with separate stacks for faults, IDT, exception reports;
//! - `interrupts`: the vectors and their handlers, which devices register
//!   into (it uses no other file);
//! - `paging`: the page tables (identity map of RAM from the memory map,
//!   unmapped null and guard pages);
//! - `heap`: the global allocator (talc) and the out-of-memory report;
//! - `console`: 16550 serial (QEMU) or uhyve hypercalls; exit;
//! - `clock`: the TSC, calibrated, as the monotonic clock;
//! - `apic`: the local APIC's one-shot timer, which ends an idle `hlt`;
//! - `ioapic`: routes device interrupt lines to vectors;
//! - `virtio`: the virtio-net device (virtio-mmio), as a smoltcp device.
//!
//! The machine is decided once, at boot ([`Machine`]), and kept here; the
//! rest of the platform asks [`machine`] rather than probing again.
//!
//! Exit statuses of the image (the app's own, or): 2 deadlock, 101 panic,
//! 102 CPU exception, 103 out of memory, 104 boot failure.

mod apic;
mod boot;
mod clock;
mod console;
mod cpu;
mod heap;
mod interrupts;
mod ioapic;
mod once;
mod paging;
mod virtio;

pub(crate) use virtio::{open_net_device, NetDevice};

use super::Stream;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub(crate) use crate::exit_status::{
    BOOT_FAILURE as EXIT_BOOT_FAILURE, CPU_EXCEPTION as EXIT_CPU_EXCEPTION,
    OUT_OF_MEMORY as EXIT_OUT_OF_MEMORY, PANIC as EXIT_PANIC,
};

/// What the image runs on, decided once at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Machine {
    /// Booted by QEMU through PVH: 16550 console, isa-debug-exit.
    Qemu = 1,
    /// Booted by uhyve: hypercalls for console and exit.
    Uhyve = 2,
}

static MACHINE: AtomicU8 = AtomicU8::new(0);

pub(crate) fn machine() -> Option<Machine> {
    match MACHINE.load(Ordering::Relaxed) {
        1 => Some(Machine::Qemu),
        2 => Some(Machine::Uhyve),
        _ => None,
    }
}

/// What the boot protocol told us.
pub(super) struct BootFacts {
    /// Usable RAM around the image: (start, end).
    ram: (u64, u64),
    /// The command line, as given to the machine.
    cmdline: Option<&'static str>,
    /// The TSC frequency, when the boot protocol says it.
    tsc_khz: Option<u64>,
}

/// The Rust entry, called by `boot` on the kernel stack with interrupts off;
/// `entry` says which entry ran: 0 PVH (QEMU), 1 hermit (uhyve).
///
/// # Safety
/// Called once, by the entry assembly, with `info` pointing at the boot
/// protocol's information block for `entry`.
#[no_mangle]
unsafe extern "C" fn chanos_boot(info: u64, entry: u64) -> ! {
    let (machine, facts) = match entry {
        // SAFETY: `info` is what the entry that ran passed (our caller's promise).
        0 => (Machine::Qemu, unsafe { pvh_facts(info) }),
        // SAFETY: as above.
        _ => (Machine::Uhyve, unsafe { uhyve_facts(info) }),
    };
    MACHINE.store(machine as u8, Ordering::Relaxed);
    console::init(machine);
    cpu::init();
    paging::init(facts.ram.1);
    heap::init(facts.ram);
    clock::init(machine, facts.tsc_khz);
    apic::init();
    set_cmdline(facts.cmdline);
    unsafe extern "Rust" {
        // Defined by `#[chanos::main]` in the app.
        fn chanos_app_main() -> !;
    }
    // SAFETY: the app defines it; it never returns.
    unsafe { chanos_app_main() }
}

/// Reads QEMU's PVH `hvm_start_info`.
///
/// # Safety
/// `info` is the physical (identity-mapped) address QEMU passed in `ebx`.
unsafe fn pvh_facts(info: u64) -> BootFacts {
    const MAGIC: u32 = 0x336e_c578;
    let base = info as *const u8;
    // SAFETY: the layout of `hvm_start_info` (boot.md); QEMU put it in RAM
    // below 1 MiB, which the boot page tables map.
    let read32 = |offset: usize| unsafe { (base.add(offset) as *const u32).read_unaligned() };
    // SAFETY: as above.
    let read64 = |offset: usize| unsafe { (base.add(offset) as *const u64).read_unaligned() };
    if read32(0) != MAGIC {
        console::early_fail("PVH boot information has a bad magic number");
    }
    let cmdline = match read64(24) {
        0 => None,
        // SAFETY: a NUL-terminated string from QEMU's `-append`.
        addr => unsafe { c_str(addr as *const u8) },
    };
    let (map, entries) = (read64(40) as *const u8, read32(48) as usize);
    let image_end = boot::image_range().1;
    let mut ram = (image_end, image_end);
    for i in 0..entries {
        // SAFETY: `entries` memory-map entries of 24 bytes each.
        let (addr, size, kind) = unsafe {
            let e = map.add(i * 24);
            (
                (e as *const u64).read_unaligned(),
                (e.add(8) as *const u64).read_unaligned(),
                (e.add(16) as *const u32).read_unaligned(),
            )
        };
        if kind == 1 && addr <= image_end && image_end < addr + size {
            ram = (image_end, addr + size);
        }
    }
    BootFacts {
        ram,
        cmdline,
        tsc_khz: None,
    }
}

/// Reads uhyve's boot information and device tree.
///
/// # Safety
/// `info` is the physical (identity-mapped) address uhyve passed in `rdi`.
unsafe fn uhyve_facts(info: u64) -> BootFacts {
    use hermit_entry::boot_info::{BootInfo, PlatformInfo, RawBootInfo};
    // SAFETY: uhyve placed a `RawBootInfo` there.
    let raw = unsafe { &*(info as *const RawBootInfo) };
    let boot_info = BootInfo::from(*raw);
    let range = &boot_info.hardware_info.phys_addr_range;
    let image_end = boot::image_range().1;
    let ram = (image_end.max(range.start), range.end);
    let tsc_khz = match boot_info.platform_info {
        PlatformInfo::Uhyve { cpu_freq, .. } => cpu_freq.map(|f| u64::from(f.get())),
        _ => None,
    };
    let cmdline = boot_info.hardware_info.device_tree.and_then(|fdt| {
        // SAFETY: uhyve wrote a flattened device tree there.
        let tree = unsafe { fdt::Fdt::from_ptr(fdt.get() as *const u8) }.ok()?;
        let bootargs = tree.chosen().bootargs()?;
        // SAFETY: the device tree stays in memory the kernel never reuses
        // (uhyve places it outside the image, below the heap's start).
        Some(unsafe { core::mem::transmute::<&str, &'static str>(bootargs) })
    });
    BootFacts {
        ram,
        cmdline,
        tsc_khz,
    }
}

/// A NUL-terminated string at `ptr`, if it is UTF-8.
///
/// # Safety
/// `ptr` points at a NUL-terminated string that lives forever.
unsafe fn c_str(ptr: *const u8) -> Option<&'static str> {
    // SAFETY: the caller's promise.
    let bytes = unsafe { core::ffi::CStr::from_ptr(ptr as *const core::ffi::c_char) };
    bytes.to_str().ok()
}

static CMDLINE: once::Once<Vec<String>> = once::Once::new();
static LOG_LEVEL: once::Once<Option<String>> = once::Once::new();
static NET_CONFIG: once::Once<Option<String>> = once::Once::new();

/// Splits the command line into the app's arguments and chanos's own
/// options (`chanos.log=LEVEL`, `chanos.net=dhcp|ADDRESS/PREFIX[,GATEWAY]`).
/// Arguments after a `--` are all the app's, except the device
/// descriptions QEMU appends at the very end (`virtio_mmio.device=`).
fn set_cmdline(cmdline: Option<&'static str>) {
    let mut args = Vec::new();
    let mut log = None;
    let mut net = None;
    let mut devices = Vec::new();
    let mut after_separator = false;
    for word in cmdline.unwrap_or("").split_whitespace() {
        if let Some(device) = word.strip_prefix("virtio_mmio.device=") {
            match virtio::MmioDevice::parse(device) {
                Some(device) => devices.push(device),
                None => log::warn!("cannot read the device description {word:?}"),
            }
            continue;
        }
        match word {
            "--" if !after_separator => {
                after_separator = true;
                args.clear();
            }
            _ if !after_separator && word.starts_with("chanos.log=") => {
                log = Some(String::from(&word["chanos.log=".len()..]));
            }
            _ if !after_separator && word.starts_with("chanos.net=") => {
                net = Some(String::from(&word["chanos.net=".len()..]));
            }
            _ => args.push(String::from(word)),
        }
    }
    CMDLINE.set(args);
    LOG_LEVEL.set(log);
    NET_CONFIG.set(net);
    virtio::DEVICES.set(devices);
}

/// The network configuration from the command line (`chanos.net=`), if any.
pub(crate) fn net_config() -> Option<&'static str> {
    NET_CONFIG.get().and_then(Option::as_deref)
}

// ---- the platform API used by the executor ----

pub(crate) fn now_ns() -> u64 {
    clock::now_ns()
}

/// What boot measured, for the debug log.
pub(crate) fn boot_report() -> String {
    alloc::format!(
        "TSC {}, local APIC timer {}",
        clock::describe_rate(),
        match apic::ticks_per_ms() {
            Some(t) => alloc::format!("{t} ticks/ms (divide by 16)"),
            None => String::from("absent: idle polls the clock"),
        }
    )
}

/// Bytes the heap has handed out and not had back.
pub(crate) fn heap_bytes() -> Option<u64> {
    Some(heap::in_use())
}

/// No process, no resident set.
pub(crate) fn resident_bytes() -> Option<u64> {
    None
}

/// Nanoseconds from the first instruction to now.
pub(crate) fn since_first_instruction_ns() -> Option<u64> {
    Some(clock::tsc_to_ns(
        clock::rdtsc().saturating_sub(boot::first_instruction_tsc()),
    ))
}

/// Sleeps the core until an interrupt or a deadline.
#[derive(Debug)]
pub(crate) struct Parker {
    _private: (),
}

/// Set by `unpark` (from an interrupt handler): there is work.
static UNPARKED: AtomicBool = AtomicBool::new(false);

impl Parker {
    pub(crate) fn new() -> Self {
        Parker { _private: () }
    }

    /// Halts until an interrupt or `deadline_ns`. Interrupts are off
    /// outside `hlt`, and `sti; hlt` is one step for the CPU, so an `unpark`
    /// that comes after the check below still ends the halt.
    pub(crate) fn park(&self, deadline_ns: Option<u64>) {
        x86_64::instructions::interrupts::disable();
        if UNPARKED.swap(false, Ordering::AcqRel) {
            return;
        }
        match deadline_ns {
            Some(deadline) => {
                let now = now_ns();
                if deadline <= now {
                    return;
                }
                // Aim a little early: the timer's rate is calibrated in
                // 100 us and may be a few percent off; an early wake-up
                // re-parks for the rest, a late one would be late.
                let wait = deadline - now;
                apic::arm_timer(if wait > 100_000 {
                    wait - wait / 8
                } else {
                    wait
                });
            }
            None => apic::disarm_timer(),
        }
        apic::idle();
    }

    /// The image has one core: the parker is always its own.
    pub(crate) fn bind(&self) {}

    pub(crate) fn unpark(&self) {
        UNPARKED.store(true, Ordering::Release);
    }

    /// The device's interrupt wakes the network task: nothing to look at.
    #[inline(always)]
    pub(crate) fn poll_io(&self) {}
}

/// How many cores a runtime uses: one, so far.
pub(crate) fn default_cores() -> usize {
    1
}

/// A spinning wait's back-off: with one core, nothing else to run.
pub(crate) fn yield_now() {
    core::hint::spin_loop();
}

pub(crate) fn in_interrupt() -> bool {
    interrupts::in_interrupt()
}

pub(crate) fn console_write(_stream: Stream, text: &str) {
    console::write(text);
}

pub(crate) fn exit(code: i32) -> ! {
    console::exit(code)
}

pub(crate) fn args() -> Vec<String> {
    CMDLINE.get().cloned().unwrap_or_default()
}

pub(crate) fn seed() -> u64 {
    clock::rdtsc()
}

pub(crate) fn log_level() -> Option<String> {
    LOG_LEVEL.get().cloned().flatten()
}

static DESCRIBE_RUNNING: once::Once<fn() -> String> = once::Once::new();

/// Names the running task in panic and exception reports.
pub(crate) fn install_panic_report(describe: fn() -> String) {
    DESCRIBE_RUNNING.set(describe);
}

pub(super) fn describe_running() -> String {
    match DESCRIBE_RUNNING.get() {
        Some(describe) => describe(),
        None => String::from("the runtime"),
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    // Straight to the console: the heap may be what failed, or not be up yet.
    let mut out = console::Writer;
    let who = if heap::is_ready() {
        describe_running()
    } else {
        String::new()
    };
    let who = if who.is_empty() {
        "the kernel"
    } else {
        who.as_str()
    };
    let _ = write!(out, "chanos: {who} panicked");
    if let Some(l) = info.location() {
        let _ = write!(out, " at {}:{}:{}", l.file(), l.line(), l.column());
    }
    let _ = writeln!(out, ":\n{}", info.message());
    exit(EXIT_PANIC)
}

// One core, interrupts off outside `hlt`: a critical section only has to
// keep interrupt handlers out.
struct CriticalSection;
critical_section::set_impl!(CriticalSection);

// SAFETY: disabling interrupts on the only core excludes every other
// context that could enter a critical section; `release` restores the
// previous state.
unsafe impl critical_section::Impl for CriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        let enabled = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        enabled
    }

    unsafe fn release(was_enabled: critical_section::RawRestoreState) {
        if was_enabled {
            x86_64::instructions::interrupts::enable();
        }
    }
}
