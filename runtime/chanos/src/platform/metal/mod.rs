//! The bare-metal platform: chanos as the kernel of a bootable x86_64 image.
//!
//! One file per hardware concern:
//! - `boot`: the PVH (QEMU) and hermit (uhyve) entries and boot notes;
//! - `cpu`: GDT, TSS with separate stacks for faults, IDT, exception reports;
//! - `percpu`: each CPU's own state, through its GS base;
//! - `smp`: counting, starting, feeding and waking the secondary CPUs;
//! - `interrupts`: the vectors and their handlers, which devices register
//!   into (it uses no other file but `percpu`);
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
mod percpu;
mod smp;
mod virtio;

pub(crate) use percpu::{
    index as cpu_index, slot_offset as cpu_slot_offset, MAX_CPUS, SLOT as CPU_SLOT,
};

pub(crate) use virtio::{open_net_device, NetDevice};

use super::Stream;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

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
    /// How many CPUs uhyve gave the machine (QEMU says through fw_cfg).
    uhyve_cpus: Option<u32>,
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
    percpu::set_stack_guard(0, boot::stack_guard());
    percpu::enter(0);
    MACHINE.store(machine as u8, Ordering::Relaxed);
    console::init(machine);
    cpu::init(boot::fault_stacks());
    paging::init(facts.ram.1);
    heap::init(facts.ram);
    clock::init(machine, facts.tsc_khz);
    apic::init();
    percpu::set_apic_id(u32::from(apic::id()));
    set_cmdline(facts.cmdline);
    smp::start_secondaries(machine, smp::cpus_present(machine, facts.uhyve_cpus));
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
        uhyve_cpus: None,
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
    let (tsc_khz, uhyve_cpus) = match boot_info.platform_info {
        PlatformInfo::Uhyve {
            cpu_freq, num_cpus, ..
        } => (
            cpu_freq.map(|f| u64::from(f.get())),
            u32::try_from(num_cpus.get()).ok(),
        ),
        _ => (None, None),
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
        uhyve_cpus,
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
        "TSC {}, local APIC timer {}, {} CPU(s) online",
        clock::describe_rate(),
        match apic::ticks_per_ms() {
            Some(t) => alloc::format!("{t} ticks/ms (divide by 16)"),
            None => String::from("absent: idle polls the clock"),
        },
        smp::online(),
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

/// Halts this CPU until a wake-up ([`smp::wake`]), an interrupt, or
/// `deadline_ns`. Interrupts are off outside `hlt`, and `sti; hlt` is one
/// step for the CPU, so a wake-up that comes after the check below (its
/// IPI waits, pending) still ends the halt.
fn halt_until_woken(deadline_ns: Option<u64>) {
    x86_64::instructions::interrupts::disable();
    if percpu::take_wake_pending() {
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

/// Sleeps a core's CPU until it is woken, an interrupt, or a deadline.
#[derive(Debug)]
pub(crate) struct Parker {
    /// The CPU of the core that parks here (set by `bind`).
    cpu: AtomicUsize,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            cpu: AtomicUsize::new(0),
        }
    }

    /// Halts until an `unpark`, an interrupt or `deadline_ns`.
    pub(crate) fn park(&self, deadline_ns: Option<u64>) {
        halt_until_woken(deadline_ns);
    }

    /// Makes this CPU the one `unpark` wakes (a core starts running here).
    pub(crate) fn bind(&self) {
        self.cpu.store(percpu::index(), Ordering::Release);
    }

    pub(crate) fn unpark(&self) {
        smp::wake(self.cpu.load(Ordering::Acquire));
    }

    /// The device's interrupt wakes the network task: nothing to look at.
    #[inline(always)]
    pub(crate) fn poll_io(&self) {}
}

/// How many CPUs the image runs on.
pub(crate) fn cpus() -> usize {
    smp::online()
}

/// How many cores a runtime uses unless told: one per CPU.
pub(crate) fn default_cores() -> usize {
    cpus()
}

/// Runs `job`, core `index` of a runtime, on CPU `index`.
pub(crate) fn start_core(index: usize, job: alloc::boxed::Box<dyn FnOnce() + Send>) -> CoreRun {
    smp::run_on(index, job);
    CoreRun
}

/// A core running on its CPU; the runtime learns that it finished from the
/// core itself (the CPU goes back to waiting for work).
pub(crate) struct CoreRun;

impl CoreRun {
    pub(crate) fn join(self) {}
}

/// Runs `f`: a panic in the image ends it (reported by the panic
/// handler), so nothing is ever caught.
pub(crate) fn catch_panic<R>(
    f: impl FnOnce() -> R,
) -> Result<R, alloc::boxed::Box<dyn core::any::Any + Send>> {
    Ok(f())
}

/// Never called: [`catch_panic`] catches nothing.
pub(crate) fn resume_panic(_payload: alloc::boxed::Box<dyn core::any::Any + Send>) -> ! {
    unreachable!("the image's panics end it: nothing is caught")
}

/// A spinning wait's back-off: a plain instruction, since `pause` costs a
/// round trip through QEMU's global lock under multi-threaded TCG (smp.md).
#[inline(always)]
pub(crate) fn spin_hint() {
    // SAFETY: `nop` does nothing; it keeps the loop from being empty.
    unsafe { core::arch::asm!("nop", options(nomem, nostack, preserves_flags)) };
}

/// A spinning wait's yield: another CPU may hold what we wait for.
pub(crate) fn yield_now() {
    spin_hint();
}

pub(crate) fn in_interrupt() -> bool {
    interrupts::in_interrupt()
}

pub(crate) fn console_write(_stream: Stream, text: &str) {
    // One piece of text at a time: lines from several CPUs never mix.
    critical_section::with(|_| console::write(text));
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
    // The report is one piece of console text, and ends every CPU.
    critical_section::with(|_| report_panic(info))
}

fn report_panic(info: &core::panic::PanicInfo<'_>) -> ! {
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

// A critical section keeps out both interrupt handlers (interrupts off on
// this CPU) and the other CPUs (one lock for the whole image, taken
// again freely by the CPU that holds it: critical sections nest).
struct CriticalSection;
critical_section::set_impl!(CriticalSection);

/// The CPU in the critical section (`NO_ONE` when none is), and how deep.
static CS_OWNER: AtomicUsize = AtomicUsize::new(NO_ONE);
static CS_DEPTH: AtomicUsize = AtomicUsize::new(0);
const NO_ONE: usize = usize::MAX;

// SAFETY: with interrupts off on this CPU and `CS_OWNER` naming it, no
// other context (handler or CPU) can be inside a critical section;
// `release` undoes one `acquire`, restoring the interrupt flag it found.
unsafe impl critical_section::Impl for CriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        let enabled = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        let me = percpu::index();
        // Only this CPU ever stores its own number, so a relaxed look
        // tells whether it already holds the lock.
        if CS_OWNER.load(Ordering::Relaxed) != me {
            while CS_OWNER
                .compare_exchange_weak(NO_ONE, me, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                spin_hint();
            }
        }
        CS_DEPTH.fetch_add(1, Ordering::Relaxed);
        enabled
    }

    unsafe fn release(was_enabled: critical_section::RawRestoreState) {
        if CS_DEPTH.fetch_sub(1, Ordering::Relaxed) == 1 {
            CS_OWNER.store(NO_ONE, Ordering::Release);
        }
        if was_enabled {
            x86_64::instructions::interrupts::enable();
        }
    }
}
