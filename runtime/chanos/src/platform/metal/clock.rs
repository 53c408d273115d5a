//! The monotonic clock: the TSC, its rate found once at boot.
//!
//! Where the rate comes from, in order of trust:
//! 1. the hypervisor, where it says: uhyve's `cpu_freq` (boot information),
//!    the timing leaf CPUID 0x40000010, or KVM's pvclock (`kvmclock`), whose
//!    scale factor is the rate KVM itself converts the guest's TSC with;
//! 2. under QEMU, the PIT (channel 0 read back over 1 ms): under TCG the
//!    guest's TSC is the host's whatever CPUID claims, and no hypervisor
//!    says its rate. Where a hypervisor does, the PIT is measured anyway, as
//!    a second source that the boot report shows: under a software
//!    virtualiser such as kvm_pvm its 1 ms window is stretched by the
//!    emulation, and a clock taken from it ran ten times fast;
//! 3. CPUID leaf 0x15 (crystal ratio) or 0x16 (base MHz);
//! 4. otherwise an assumed 1 GHz, said in a warning.

use super::Machine;
use core::arch::x86_64::{__cpuid, _rdtsc};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

/// Nanoseconds per TSC tick, as a 32.32 fixed-point number.
static NS_PER_TICK: AtomicU64 = AtomicU64::new(1 << 32);
static TSC_HZ: AtomicU64 = AtomicU64::new(1_000_000_000);
static ORIGIN: AtomicU64 = AtomicU64::new(0);
/// Where the rate came from (a `Source`), and what the PIT measured
/// beside it, for the boot report.
static SOURCE: AtomicU8 = AtomicU8::new(Source::Assumed as u8);
static PIT_HZ_SEEN: AtomicU64 = AtomicU64::new(0);

/// Where the TSC rate came from.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Source {
    Uhyve,
    TimingLeaf,
    KvmClock,
    Pit,
    CpuidBase,
    Assumed,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Uhyve => "uhyve's boot information",
            Source::TimingLeaf => "the hypervisor's CPUID 0x40000010",
            Source::KvmClock => "kvmclock",
            Source::Pit => "the PIT",
            Source::CpuidBase => "CPUID 0x15/0x16",
            Source::Assumed => "nowhere: assumed",
        }
    }
}

pub(super) fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the time-stamp counter.
    unsafe { _rdtsc() }
}

pub(super) fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// "2600000 kHz from kvmclock (the PIT measured 2612000 kHz)".
pub(super) fn describe_rate() -> alloc::string::String {
    let source = match SOURCE.load(Ordering::Relaxed) {
        0 => Source::Uhyve,
        1 => Source::TimingLeaf,
        2 => Source::KvmClock,
        3 => Source::Pit,
        4 => Source::CpuidBase,
        _ => Source::Assumed,
    };
    let mut text = alloc::format!("{} kHz from {}", tsc_hz() / 1000, source.name());
    let pit = PIT_HZ_SEEN.load(Ordering::Relaxed);
    if pit != 0 && source != Source::Pit {
        text.push_str(&alloc::format!(" (the PIT measured {} kHz)", pit / 1000));
    }
    text
}

pub(super) fn tsc_to_ns(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(NS_PER_TICK.load(Ordering::Relaxed))) >> 32) as u64
}

pub(super) fn now_ns() -> u64 {
    tsc_to_ns(rdtsc().saturating_sub(ORIGIN.load(Ordering::Relaxed)))
}

pub(super) fn init(machine: Machine, boot_khz: Option<u64>) {
    let told = boot_khz
        .map(|khz| (khz * 1000, Source::Uhyve))
        .or_else(hypervisor_hz);
    let measured = match machine {
        Machine::Qemu => pit_calibrate(),
        Machine::Uhyve => None, // uhyve has no PIT
    };
    PIT_HZ_SEEN.store(measured.unwrap_or(0), Ordering::Relaxed);
    let (hz, source) = match (told, measured) {
        (Some(told), _) => told,
        (None, Some(pit)) => (pit, Source::Pit),
        (None, None) => match cpuid_hz() {
            Some(hz) => (hz, Source::CpuidBase),
            None => {
                super::console::write("chanos: warning: the TSC rate is unknown; assuming 1 GHz\n");
                (1_000_000_000, Source::Assumed)
            }
        },
    };
    SOURCE.store(source as u8, Ordering::Relaxed);
    TSC_HZ.store(hz, Ordering::Relaxed);
    NS_PER_TICK.store(
        ((1_000_000_000u128 << 32) / u128::from(hz)) as u64,
        Ordering::Relaxed,
    );
    ORIGIN.store(super::boot::first_instruction_tsc(), Ordering::Relaxed);
}

/// The TSC rate a hypervisor states: its timing leaf, or kvmclock's scale.
fn hypervisor_hz() -> Option<(u64, Source)> {
    const HYPERVISOR_PRESENT: u32 = 1 << 31;
    if __cpuid(1).ecx & HYPERVISOR_PRESENT == 0 {
        return None; // the leaves below would be another CPU's data
    }
    let base = __cpuid(0x4000_0000);
    if base.eax >= 0x4000_0010 {
        let khz = __cpuid(0x4000_0010).eax;
        if khz != 0 {
            return Some((u64::from(khz) * 1000, Source::TimingLeaf));
        }
    }
    let mut signature = [0u8; 12];
    signature[..4].copy_from_slice(&base.ebx.to_le_bytes());
    signature[4..8].copy_from_slice(&base.ecx.to_le_bytes());
    signature[8..].copy_from_slice(&base.edx.to_le_bytes());
    if &signature != b"KVMKVMKVM\0\0\0" || base.eax < 0x4000_0001 {
        return None;
    }
    kvmclock_hz(__cpuid(0x4000_0001).eax).map(|hz| (hz, Source::KvmClock))
}

/// KVM's pvclock area (`pvclock_vcpu_time_info`), which KVM fills in once
/// its MSR is given the area's physical address: four 64-bit words, the
/// last holding `tsc_to_system_mul` (low 32 bits) and `tsc_shift` (next 8).
#[repr(C, align(64))]
struct PvClock([AtomicU64; 4]);

static PVCLOCK: PvClock = PvClock([const { AtomicU64::new(0) }; 4]);

/// The TSC rate from kvmclock, given CPUID 0x40000001's feature bits.
fn kvmclock_hz(features: u32) -> Option<u64> {
    const CLOCKSOURCE: u32 = 1 << 0;
    const CLOCKSOURCE2: u32 = 1 << 3;
    let mut msr = if features & CLOCKSOURCE2 != 0 {
        Msr::new(0x4b56_4d01) // MSR_KVM_SYSTEM_TIME_NEW
    } else if features & CLOCKSOURCE != 0 {
        Msr::new(0x12) // MSR_KVM_SYSTEM_TIME
    } else {
        return None;
    };
    // The image is identity-mapped: a static's address is its physical address.
    let area = &PVCLOCK as *const PvClock as u64;
    // SAFETY: KVM's clock MSR: bit 0 enables it, the rest is the address of
    // an aligned area that KVM writes and nothing else uses.
    unsafe { msr.write(area | 1) };
    let mut scale = None;
    for _ in 0..1000 {
        // A consistent copy: the version is even and the same on both sides.
        let before = PVCLOCK.0[0].load(Ordering::Acquire) as u32;
        let word = PVCLOCK.0[3].load(Ordering::Acquire);
        let after = PVCLOCK.0[0].load(Ordering::Acquire) as u32;
        if before != 0 && before % 2 == 0 && before == after {
            scale = Some(((word & 0xffff_ffff) as u32, (word >> 32) as u8 as i8));
            break;
        }
        core::hint::spin_loop();
    }
    // SAFETY: as above; 0 turns the clock off, so KVM writes the area no more.
    unsafe { msr.write(0) };
    let (mul, shift) = scale?;
    if mul == 0 {
        return None;
    }
    // ns = ticks * 2^shift * mul / 2^32, so hz = 1e9 * 2^32 / (mul * 2^shift).
    let numerator = 1_000_000_000u128 << 32;
    let hz = if shift >= 0 {
        numerator / (u128::from(mul) << shift)
    } else {
        (numerator << -shift) / u128::from(mul)
    };
    u64::try_from(hz).ok().filter(|hz| *hz > 0)
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
