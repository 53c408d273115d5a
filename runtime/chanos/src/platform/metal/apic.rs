//! The local APIC: its one-shot timer ends an idle `hlt` at the next timer
//! deadline, and its interrupt command register sends other CPUs wake-ups
//! and start-ups. Each CPU has its own (the same address reaches the local
//! APIC of the CPU that accesses it). Without a local APIC, idling falls
//! back to polling the clock, and the image runs on one CPU.

use super::paging::APIC_BASE;
use super::{clock, interrupts};
use core::arch::x86_64::__cpuid;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::instructions::port::Port;

const EOI: usize = 0xb0;
const SPURIOUS: usize = 0xf0;
const TASK_PRIORITY: usize = 0x80;
const LVT_TIMER: usize = 0x320;
const INITIAL_COUNT: usize = 0x380;
const CURRENT_COUNT: usize = 0x390;
const DIVIDE: usize = 0x3e0;
const ICR_LOW: usize = 0x300;
const ICR_HIGH: usize = 0x310;
const MASKED: u32 = 1 << 16;
/// The ICR's delivery-status bit: the last IPI is not sent yet.
const SEND_PENDING: u32 = 1 << 12;

static PRESENT: AtomicBool = AtomicBool::new(false);
/// Timer ticks per millisecond (divide by 16).
static TICKS_PER_MS: AtomicU64 = AtomicU64::new(0);
/// Without an APIC: the deadline `idle` polls for.
static POLL_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);

fn write(register: usize, value: u32) {
    // SAFETY: the APIC's register page, identity-mapped uncached (`paging`).
    unsafe { ((APIC_BASE as usize + register) as *mut u32).write_volatile(value) }
}

fn read(register: usize) -> u32 {
    // SAFETY: as in `write`.
    unsafe { ((APIC_BASE as usize + register) as *const u32).read_volatile() }
}

pub(super) fn init() {
    let has_apic = __cpuid(1).edx & (1 << 9) != 0;
    // Mask the legacy PICs, if any: the APIC timer is the only interrupt.
    // SAFETY: the 8259s' data ports; masking them has no other effect.
    unsafe {
        Port::<u8>::new(0x21).write(0xff);
        Port::<u8>::new(0xa1).write(0xff);
    }
    if !has_apic {
        return;
    }
    interrupts::set_end_of_interrupt(end_of_interrupt);
    enable_here();
    // Count down for 100 us of TSC time, five times, and keep the lowest
    // rate: under emulation a window can be stretched by a host-side pause,
    // which only ever inflates the count. Too low a rate makes the timer
    // fire early, which `Parker::park` absorbs by arming again; too high a
    // rate would make every sleep late.
    let window = clock::tsc_hz() / 10_000;
    let ticks = (0..5)
        .map(|_| {
            write(INITIAL_COUNT, u32::MAX);
            let start = clock::rdtsc();
            while clock::rdtsc() - start < window {
                core::hint::spin_loop();
            }
            u64::from(u32::MAX - read(CURRENT_COUNT)) * 10
        })
        .min()
        .unwrap_or(0);
    write(INITIAL_COUNT, 0);
    if ticks > 0 {
        TICKS_PER_MS.store(ticks, Ordering::Relaxed);
        PRESENT.store(true, Ordering::Relaxed);
    }
}

/// Software-enables this CPU's local APIC, its timer masked until armed.
fn enable_here() {
    write(SPURIOUS, 0x100 | u32::from(interrupts::SPURIOUS_VECTOR));
    write(TASK_PRIORITY, 0);
    write(DIVIDE, 0b0011); // divide by 16
    write(LVT_TIMER, MASKED | u32::from(interrupts::TIMER_VECTOR));
}

/// Sets up a secondary CPU's local APIC, with the boot CPU's calibration.
pub(super) fn init_secondary() {
    if is_present() {
        enable_here();
    }
}

/// Whether there is a local APIC (and so a way to start and wake CPUs).
pub(super) fn is_present() -> bool {
    PRESENT.load(Ordering::Relaxed)
}

/// Sends an inter-processor interrupt: `command` is the ICR's low word
/// (vector, delivery mode, shorthand), to the CPU whose APIC id is `apic_id`.
pub(super) fn send(apic_id: u32, command: u32) {
    // The two writes are one command: no interrupt on this CPU may send
    // its own in between.
    x86_64::instructions::interrupts::without_interrupts(|| {
        while read(ICR_LOW) & SEND_PENDING != 0 {}
        write(ICR_HIGH, apic_id << 24);
        write(ICR_LOW, command);
        while read(ICR_LOW) & SEND_PENDING != 0 {}
    });
}

/// Fixed delivery of `vector` (an IPI that runs its handler).
pub(super) fn fixed(vector: u8) -> u32 {
    0x4000 | u32::from(vector)
}

/// INIT, level-triggered, asserted: resets the CPU into wait-for-SIPI.
pub(super) const INIT: u32 = 0x4500;

/// START-UP with the real-mode page of the start-up code (`page` = its
/// address / 4096).
pub(super) fn startup(page: u8) -> u32 {
    0x4600 | u32::from(page)
}

/// Fires the timer interrupt in `ns` nanoseconds (or as late as it can).
pub(super) fn arm_timer(ns: u64) {
    if !PRESENT.load(Ordering::Relaxed) {
        POLL_DEADLINE.store(clock::now_ns().saturating_add(ns), Ordering::Relaxed);
        return;
    }
    let ticks = u128::from(ns) * u128::from(TICKS_PER_MS.load(Ordering::Relaxed)) / 1_000_000;
    let ticks = ticks.clamp(1, u128::from(u32::MAX)) as u32;
    write(LVT_TIMER, u32::from(interrupts::TIMER_VECTOR)); // one-shot, unmasked
    write(INITIAL_COUNT, ticks);
}

pub(super) fn ticks_per_ms() -> Option<u64> {
    PRESENT
        .load(Ordering::Relaxed)
        .then(|| TICKS_PER_MS.load(Ordering::Relaxed))
}

pub(super) fn disarm_timer() {
    if PRESENT.load(Ordering::Relaxed) {
        write(INITIAL_COUNT, 0);
    } else {
        POLL_DEADLINE.store(u64::MAX, Ordering::Relaxed);
    }
}

/// Halts until an interrupt (interrupts must be off on entry; they are
/// off again on return).
pub(super) fn idle() {
    if PRESENT.load(Ordering::Relaxed) {
        x86_64::instructions::interrupts::enable_and_hlt();
        x86_64::instructions::interrupts::disable();
    } else {
        while clock::now_ns() < POLL_DEADLINE.load(Ordering::Relaxed) {
            core::hint::spin_loop();
        }
    }
}

/// This CPU's local APIC id, where device interrupts and wake-ups are sent.
pub(super) fn id() -> u8 {
    (read(0x20) >> 24) as u8
}

fn end_of_interrupt() {
    write(EOI, 0);
}
