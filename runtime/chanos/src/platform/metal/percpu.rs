//! What each CPU keeps for itself, found through its GS base: its number,
//! its local APIC id, how deep it is in interrupt handlers, whether it has
//! a wake-up pending, and where its stack's guard page is.
//!
//! CPU `i` (0 is the boot CPU; the others are numbered as they are started)
//! points its GS base at `CPUS[i]`, whose first field is `i`, so "which CPU
//! am I" is one load (`mov gs:[0]`). That is what `core_local!` statics
//! index by, and what the critical section's lock records as its owner.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use x86_64::registers::model_specific::GsBase;
use x86_64::VirtAddr;

/// The most CPUs the image runs on (a power of two: see `index`).
pub(crate) const MAX_CPUS: usize = 16;
/// The size of one CPU's slot of a `core_local!` static (a cache line).
pub(crate) const SLOT: usize = 64;

/// One CPU's own state. Only its CPU writes it, except `wake_pending`.
#[repr(C, align(64))]
pub(super) struct PerCpu {
    /// This CPU's number: must stay the first field (`index` reads it).
    index: u32,
    /// How deep in interrupt handlers this CPU is: must stay the second
    /// (`in_interrupt` reads it).
    interrupt_depth: AtomicU32,
    /// `index` times 64, the distance from the first CPU's `core_local!`
    /// slot to this CPU's: must stay the third (`slot_offset` reads it).
    slot_offset: usize,
    apic_id: AtomicU32,
    /// Set by a wake-up (`wake`); a halt checks and clears it first.
    wake_pending: AtomicBool,
    /// The guard page below this CPU's kernel stack.
    stack_guard: AtomicU64,
}

// The fields the assembly above reads, where it reads them.
const _: () = {
    assert!(core::mem::offset_of!(PerCpu, index) == 0);
    assert!(core::mem::offset_of!(PerCpu, interrupt_depth) == 4);
    assert!(core::mem::offset_of!(PerCpu, slot_offset) == 8);
};

static CPUS: [PerCpu; MAX_CPUS] = {
    let mut cpus = [const {
        PerCpu {
            index: 0,
            interrupt_depth: AtomicU32::new(0),
            slot_offset: 0,
            apic_id: AtomicU32::new(0),
            wake_pending: AtomicBool::new(false),
            stack_guard: AtomicU64::new(0),
        }
    }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        cpus[i].index = i as u32;
        cpus[i].slot_offset = i * SLOT;
        i += 1;
    }
    cpus
};

/// Makes this CPU CPU `index`: points its GS base at its state. The first
/// thing each CPU does in Rust, before anything asks [`index`].
pub(super) fn enter(index: usize) {
    GsBase::write(VirtAddr::from_ptr(&CPUS[index]));
}

/// Records where CPU `cpu`'s kernel stack's guard page is (the boot CPU
/// does, for every CPU, before that CPU starts).
pub(super) fn set_stack_guard(cpu: usize, guard: u64) {
    CPUS[cpu].stack_guard.store(guard, Ordering::Relaxed);
}

/// This CPU's number, from 0 (the boot CPU) to `MAX_CPUS - 1`.
#[inline(always)]
pub(crate) fn index() -> usize {
    let index: u32;
    // SAFETY: the GS base points at this CPU's `PerCpu` (set by `enter`
    // before any code that asks), whose first field is its number.
    unsafe {
        asm!("mov {0:e}, gs:[0]", out(reg) index, options(nostack, readonly, preserves_flags));
    }
    index as usize & (MAX_CPUS - 1)
}

/// `index() * SLOT`: where this CPU's slot of a `core_local!` static is.
#[inline(always)]
pub(crate) fn slot_offset() -> usize {
    let offset: usize;
    // SAFETY: as in `index`; the third field is at byte 8.
    unsafe {
        asm!("mov {0}, gs:[8]", out(reg) offset, options(nostack, readonly, preserves_flags));
    }
    offset
}

/// Whether this CPU runs an interrupt handler.
#[inline(always)]
pub(super) fn in_interrupt() -> bool {
    let depth: u32;
    // SAFETY: as in `index`; the second field is at byte 4.
    unsafe {
        asm!("mov {0:e}, gs:[4]", out(reg) depth, options(nostack, readonly, preserves_flags));
    }
    depth > 0
}

fn this() -> &'static PerCpu {
    &CPUS[index()]
}

pub(super) fn set_apic_id(id: u32) {
    this().apic_id.store(id, Ordering::Relaxed);
}

pub(super) fn apic_id(cpu: usize) -> u32 {
    CPUS[cpu].apic_id.load(Ordering::Relaxed)
}

pub(super) fn stack_guard() -> u64 {
    this().stack_guard.load(Ordering::Relaxed)
}

pub(super) fn interrupt_depth() -> &'static AtomicU32 {
    &this().interrupt_depth
}

/// Marks a wake-up pending for `cpu`; true if it was not already.
pub(super) fn set_wake_pending(cpu: usize) -> bool {
    !CPUS[cpu].wake_pending.swap(true, Ordering::AcqRel)
}

/// Takes this CPU's pending wake-up, if any.
pub(super) fn take_wake_pending() -> bool {
    this().wake_pending.swap(false, Ordering::AcqRel)
}
