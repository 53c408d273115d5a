//! The bare-metal platform: chanos as the kernel of a bootable x86_64 image.
//!
//! One file per concern:
//! - `boot`: the PVH (QEMU) and hermit (uhyve) entries and boot notes;
//! - `bootinfo`: what the boot protocol tells the kernel (memory, command
//!   line, TSC rate, CPU count);
//! - `cmdline`: the app's arguments and chanos's options;
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
//! - `virtio`: the virtio-net device (virtio-mmio), as a smoltcp device;
//! - `critical`: the critical section (interrupts off plus one lock);
//! - `report`: the panic report, and the running task's description that
//!   every fault report gives.
//!
//! The machine is decided once, at boot ([`Machine`]), and kept here; the
//! rest of the platform asks [`machine`] rather than probing again.
//!
//! Exit statuses of the image (the app's own, or): 2 deadlock, 101 panic,
//! 102 CPU exception, 103 out of memory, 104 boot failure.

mod apic;
mod boot;
mod bootinfo;
mod clock;
mod cmdline;
mod console;
mod cpu;
mod critical;
mod heap;
mod interrupts;
mod ioapic;
mod once;
mod paging;
mod percpu;
mod report;
mod smp;
mod virtio;

pub(crate) use percpu::{
    index as cpu_index, slot_offset as cpu_slot_offset, MAX_CPUS, SLOT as CPU_SLOT,
};

pub(crate) use cmdline::{args, log_level, net_config};
use report::describe_running;
pub(crate) use report::install_panic_report;
pub(crate) use virtio::{open_net_device, NetDevice};

use super::Stream;
use alloc::string::String;
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
        0 => (Machine::Qemu, unsafe { bootinfo::pvh_facts(info) }),
        // SAFETY: as above.
        _ => (Machine::Uhyve, unsafe { bootinfo::uhyve_facts(info) }),
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
    cmdline::set(facts.cmdline);
    smp::start_secondaries(machine, smp::cpus_present(machine, facts.uhyve_cpus));
    unsafe extern "Rust" {
        // Defined by `#[chanos::main]` in the app.
        fn chanos_app_main() -> !;
    }
    // SAFETY: the app defines it; it never returns.
    unsafe { chanos_app_main() }
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

pub(crate) fn seed() -> u64 {
    clock::rdtsc()
}
