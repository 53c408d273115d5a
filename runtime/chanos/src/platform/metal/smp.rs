//! The secondary CPUs: how many there are, starting them, and giving each
//! work to run (one core of a runtime) and waking it.
//!
//! At boot the boot CPU finds how many CPUs the machine has (QEMU's fw_cfg,
//! uhyve's boot information), gives each other CPU a kernel stack and two
//! fault stacks from the heap, each with an unmapped guard page below it,
//! and starts them: under QEMU with INIT and START-UP IPIs to all of them
//! at once into the start-up code at 0x8000 (`boot`), under uhyve, which starts every CPU
//! at the ELF entry at once, by publishing their stacks. Each CPU then
//! loads its own GDT and TSS, enables its local APIC and waits, halted,
//! for work ([`run_on`]). See ../shared/docs/smp.md for the facts behind
//! each step.

use super::percpu::{self, MAX_CPUS};
use super::{apic, boot, clock, cpu, interrupts, paging, Machine};
use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use x86_64::instructions::port::Port;

/// Each secondary CPU's stack top, published when it may start; read by
/// `chanos_ap_wait` (`boot`), indexed by CPU number.
#[no_mangle]
static chanos_ap_stacks: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The page tables the secondary CPUs load, set before any stack is.
#[no_mangle]
static chanos_ap_page_tables: AtomicU64 = AtomicU64::new(0);

/// Where each secondary CPU's fault stacks end, for its TSS.
struct FaultStackTops {
    double_fault: AtomicU64,
    page_fault: AtomicU64,
}

static FAULT_STACK_TOPS: [FaultStackTops; MAX_CPUS] = [const {
    FaultStackTops {
        double_fault: AtomicU64::new(0),
        page_fault: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// How many CPUs are running, the boot CPU included.
static ONLINE: AtomicU32 = AtomicU32::new(1);

/// Work for a CPU: what [`run_on`] gave it, not yet taken.
type Job = Box<dyn FnOnce() + Send>;
static JOBS: [AtomicPtr<Job>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

/// How long a CPU may take to start before the image goes on without it.
const START_TIMEOUT_NS: u64 = 1_000_000_000;

/// How many CPUs the machine says it has (1 when it does not say).
pub(super) fn cpus_present(machine: Machine, uhyve_cpus: Option<u32>) -> usize {
    let n = match machine {
        Machine::Qemu => fw_cfg_cpus(),
        Machine::Uhyve => uhyve_cpus,
    };
    (n.unwrap_or(1) as usize).clamp(1, MAX_CPUS)
}

/// QEMU's fw_cfg item 0x05, the number of CPUs (`-smp`); it answers with
/// ACPI on and off alike.
fn fw_cfg_cpus() -> Option<u32> {
    let mut select = Port::<u16>::new(0x510);
    let mut data = Port::<u8>::new(0x511);
    let mut read = |key: u16, bytes: usize| {
        // SAFETY: fw_cfg's selector and data ports; reading them has no
        // other effect.
        unsafe {
            select.write(key);
            (0..bytes).fold(0u32, |v, i| v | u32::from(data.read()) << (8 * i))
        }
    };
    // The signature item reads "QEMU" where there is a fw_cfg at all.
    (read(0, 4) == u32::from_le_bytes(*b"QEMU")).then(|| read(5, 2))
}

/// Starts the other `n - 1` CPUs; returns once each has started or been
/// given up on (with a warning).
pub(super) fn start_secondaries(machine: Machine, n: usize) {
    if n < 2 {
        return;
    }
    if !apic::is_present() {
        log::warn!("{n} CPUs, but no local APIC to start them with: running on one");
        return;
    }
    chanos_ap_page_tables.store(paging::root(), Ordering::Release);
    for index in 1..n {
        give_stacks(index);
    }
    // uhyve started every CPU at the entry, and each goes in once it has
    // its stack; under QEMU they start now.
    if machine == Machine::Qemu {
        install_trampoline();
        start_all_at_trampoline();
    }
    wait_online(n);
}

/// Allocates CPU `index`'s kernel and fault stacks, each above a guard
/// page that is unmapped here, and publishes them: from then on the CPU,
/// once started, goes in (`chanos_ap_wait` waits for its stack).
fn give_stacks(index: usize) {
    const PAGE: usize = 4096;
    let size = 3 * PAGE + boot::STACK_SIZE + 2 * boot::FAULT_STACK_SIZE;
    let layout = core::alloc::Layout::from_size_align(size, PAGE).expect("a valid layout");
    // SAFETY: a non-zero size; the memory is never freed (the CPU uses it
    // for as long as the image runs).
    let base = unsafe { alloc::alloc::alloc(layout) } as u64;
    let stack_guard = base;
    let stack_top = stack_guard + (PAGE + boot::STACK_SIZE) as u64;
    let double_fault_guard = stack_top;
    let double_fault_top = double_fault_guard + (PAGE + boot::FAULT_STACK_SIZE) as u64;
    let page_fault_guard = double_fault_top;
    let page_fault_top = page_fault_guard + (PAGE + boot::FAULT_STACK_SIZE) as u64;
    for guard in [stack_guard, double_fault_guard, page_fault_guard] {
        paging::unmap_page(guard);
    }
    percpu::set_stack_guard(index, stack_guard);
    let tops = &FAULT_STACK_TOPS[index];
    tops.double_fault.store(double_fault_top, Ordering::Relaxed);
    tops.page_fault.store(page_fault_top, Ordering::Relaxed);
    // Last: the CPU reads the rest once it sees its stack.
    chanos_ap_stacks[index].store(stack_top, Ordering::Release);
}

unsafe extern "C" {
    static chanos_trampoline: u8;
    static chanos_trampoline_end: u8;
    static chanos_trampoline_page_tables: u8;
}

/// Where the start-up code runs: page 8, free RAM below 1 MiB (smp.md).
const TRAMPOLINE: u64 = 0x8000;

/// The address in the copy at 0x8000 of `symbol`, inside the start-up code.
fn in_copy(symbol: &u8) -> *mut u32 {
    let start = core::ptr::addr_of!(chanos_trampoline) as u64;
    (TRAMPOLINE + (symbol as *const u8 as u64 - start)) as *mut u32
}

fn install_trampoline() {
    let start = core::ptr::addr_of!(chanos_trampoline);
    let end = core::ptr::addr_of!(chanos_trampoline_end);
    let len = end as usize - start as usize;
    // SAFETY: 0x8000 is identity-mapped RAM that nothing uses (boot data
    // lives above 0xd0000, the image at 1 MiB: smp.md), and the code is
    // shorter than a page.
    unsafe {
        core::ptr::copy_nonoverlapping(start, TRAMPOLINE as *mut u8, len);
        in_copy(&chanos_trampoline_page_tables).write_volatile(paging::root() as u32);
    }
}

/// INIT to every other CPU at once, 10 ms, then START-UP twice, 200 us
/// apart (Intel's sequence, with the all-but-self shorthand: no need to
/// know the CPUs' APIC ids). A CPU that already started ignores the
/// second START-UP; each takes its number in the start-up code.
fn start_all_at_trampoline() {
    const ALL_BUT_SELF: u32 = 0b11 << 18;
    let page = (TRAMPOLINE >> 12) as u8;
    apic::send(0, apic::INIT | ALL_BUT_SELF);
    spin_for(10_000_000);
    apic::send(0, apic::startup(page) | ALL_BUT_SELF);
    spin_for(200_000);
    apic::send(0, apic::startup(page) | ALL_BUT_SELF);
}

fn spin_for(ns: u64) {
    let start = clock::now_ns();
    while clock::now_ns() - start < ns {}
}

/// Waits until `count` CPUs are online, or warns after a second.
fn wait_online(count: usize) {
    let started = clock::now_ns();
    while online() < count {
        if clock::now_ns() - started > START_TIMEOUT_NS {
            log::warn!(
                "{} of {count} CPUs started within a second: going on without the others",
                online()
            );
            return;
        }
    }
}

/// How many CPUs are running.
pub(super) fn online() -> usize {
    ONLINE.load(Ordering::Acquire) as usize
}

/// A secondary CPU's first Rust, on its own stack, interrupts off.
#[no_mangle]
extern "C" fn chanos_ap_entry(index: u32) -> ! {
    let index = index as usize;
    percpu::enter(index);
    let tops = &FAULT_STACK_TOPS[index];
    cpu::load_tables(cpu::FaultStacks {
        double_fault_top: tops.double_fault.load(Ordering::Relaxed),
        page_fault_top: tops.page_fault.load(Ordering::Relaxed),
    });
    apic::init_secondary();
    percpu::set_apic_id(u32::from(apic::id()));
    ONLINE.fetch_add(1, Ordering::AcqRel);
    loop {
        let job = JOBS[index].swap(core::ptr::null_mut(), Ordering::AcqRel);
        if job.is_null() {
            super::halt_until_woken(None);
            continue;
        }
        // SAFETY: `run_on` stored it from `Box::into_raw`, and the swap
        // above took it from there once.
        let job = unsafe { Box::from_raw(job) };
        job();
    }
}

/// Runs `job` on CPU `cpu` (not this one), once it has finished what it
/// was given before.
pub(super) fn run_on(cpu: usize, job: Job) {
    assert!(cpu > 0 && cpu < online(), "CPU {cpu} is not running");
    let job = Box::into_raw(Box::new(job));
    while JOBS[cpu]
        .compare_exchange(
            core::ptr::null_mut(),
            job,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {}
    wake(cpu);
}

/// Wakes CPU `cpu` from a halt (at once if it is not halted): its next
/// check for work will look. From any CPU, interrupt handlers included.
pub(super) fn wake(cpu: usize) {
    if percpu::set_wake_pending(cpu) && cpu != percpu::index() {
        apic::send(percpu::apic_id(cpu), apic::fixed(interrupts::WAKE_VECTOR));
    }
}
