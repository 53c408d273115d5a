//! The monotonic clock: the TSC, calibrated once at boot.
//!
//! How the TSC's rate is found, in order:
//! 1. under QEMU, against the PIT (channel 0 read back over 1 ms): it
//!    measures the rate the guest really sees, which under
//!    TCG is the host's TSC rate whatever CPUID claims; the PIT's 838 ns tick
//!    over 1 ms bounds the error to about 0.1%, plus emulation jitter;
//! 2. uhyve's `cpu_freq` from its boot information (kHz; uhyve has no PIT);
//! 3. CPUID leaf 0x15 (crystal ratio) or 0x16 (base MHz);
//! 4. otherwise an assumed 1 GHz, said in a warning.

use super::Machine;
use core::arch::x86_64::{__cpuid, _rdtsc};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

/// Nanoseconds per TSC tick, as a 32.32 fixed-point number.
static NS_PER_TICK: AtomicU64 = AtomicU64::new(1 << 32);
static TSC_HZ: AtomicU64 = AtomicU64::new(1_000_000_000);
static ORIGIN: AtomicU64 = AtomicU64::new(0);

pub(super) fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the time-stamp counter.
    unsafe { _rdtsc() }
}

pub(super) fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

pub(super) fn tsc_to_ns(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(NS_PER_TICK.load(Ordering::Relaxed))) >> 32) as u64
}

pub(super) fn now_ns() -> u64 {
    tsc_to_ns(rdtsc().saturating_sub(ORIGIN.load(Ordering::Relaxed)))
}

pub(super) fn init(machine: Machine, boot_khz: Option<u64>) {
    let hz = match machine {
        Machine::Qemu => pit_calibrate(),
        Machine::Uhyve => None,
    }
    .or(boot_khz.map(|khz| khz * 1000))
    .or_else(cpuid_hz);
    let hz = match hz {
        Some(hz) => hz,
        None => {
            super::console::write("chanos: warning: the TSC rate is unknown; assuming 1 GHz\n");
            1_000_000_000
        }
    };
    TSC_HZ.store(hz, Ordering::Relaxed);
    NS_PER_TICK.store(
        ((1_000_000_000u128 << 32) / u128::from(hz)) as u64,
        Ordering::Relaxed,
    );
    ORIGIN.store(super::boot::first_instruction_tsc(), Ordering::Relaxed);
}

/// The TSC rate measured against 1 ms of the PIT, if there is a PIT.
///
/// Uses channel 0 in rate-generator mode and reads its counter back with
/// latch commands: `-M microvm` has a PIT but not port 0x61, through which
/// channel 2 is usually polled. Interrupts are off, so channel 0's IRQ is
/// never taken (and the legacy PIC, if any, is masked later).
fn pit_calibrate() -> Option<u64> {
    const PIT_HZ: u64 = 1_193_182;
    // 1 ms: the PIT's 838 ns tick bounds the error to about 0.1%, and boot
    // stays short.
    const WINDOW: u64 = PIT_HZ / 1000;
    // SAFETY: the PIT's command and channel 0 ports.
    let (mut command, mut channel0) = (Port::<u8>::new(0x43), Port::<u8>::new(0x40));
    let mut read_counter = || -> u16 {
        // SAFETY: as above; latch channel 0, then read its low and high byte.
        unsafe {
            command.write(0x00);
            let low = channel0.read();
            let high = channel0.read();
            u16::from_le_bytes([low, high])
        }
    };
    // SAFETY: as above; channel 0, low then high byte, mode 2, count 65535.
    unsafe {
        Port::<u8>::new(0x43).write(0b0011_0100);
        Port::<u8>::new(0x40).write(0xff);
        Port::<u8>::new(0x40).write(0xff);
    }
    let start_count = read_counter();
    let start = rdtsc();
    let limit = start + (1 << 32); // about a second at any plausible rate
    let mut last = start_count;
    let mut elapsed: u64 = 0;
    while elapsed < WINDOW {
        let now = read_counter();
        // The counter counts down and reloads at 65535.
        elapsed += u64::from(last.wrapping_sub(now)) % 65535;
        last = now;
        if rdtsc() > limit {
            return None; // no PIT answered
        }
    }
    let ticks = rdtsc() - start;
    Some(ticks * PIT_HZ / elapsed)
}

fn cpuid_hz() -> Option<u64> {
    let max = __cpuid(0).eax;
    if max >= 0x15 {
        let leaf = __cpuid(0x15);
        if leaf.eax != 0 && leaf.ebx != 0 && leaf.ecx != 0 {
            return Some(u64::from(leaf.ecx) * u64::from(leaf.ebx) / u64::from(leaf.eax));
        }
    }
    if max >= 0x16 {
        let mhz = __cpuid(0x16).eax & 0xffff;
        if mhz != 0 {
            return Some(u64::from(mhz) * 1_000_000);
        }
    }
    None
}
