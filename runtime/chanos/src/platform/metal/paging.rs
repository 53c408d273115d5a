//! The page tables, built at boot from the memory map: an identity map of
//! RAM (from address 0 to the end of the RAM the boot protocol reported,
//! below 3 GiB) and of device registers (virtio-mmio, I/O APIC, local
//! APIC); nothing else is mapped,
//! so a wild pointer beyond RAM faults instead of reading nothing.
//!
//! 2 MiB pages everywhere, except the 2 MiB regions that hold a page left
//! unmapped on purpose, which get 4 KiB pages: page 0, so that a null
//! pointer faults, and the guard page below each stack, so that a stack
//! overflow faults (and is reported, see `cpu`). Device registers are
//! mapped uncached.

use super::boot;
use core::cell::UnsafeCell;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;
use x86_64::PhysAddr;

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const WRITE_THROUGH: u64 = 1 << 3;
const NO_CACHE: u64 = 1 << 4;
const HUGE: u64 = 1 << 7;
const TWO_MIB: u64 = 2 << 20;
/// Where the local APIC's registers are (its default base).
pub(super) const APIC_BASE: u64 = 0xfee0_0000;
/// The 2 MiB regions of device registers, mapped uncached: microvm's
/// virtio-mmio slots (from 0xfeb0_0000), the I/O APICs, the local APIC.
const DEVICE_REGIONS: [u64; 3] = [0xfea0_0000, super::ioapic::IOAPIC_BASE, APIC_BASE];

#[repr(C, align(4096))]
struct Table([u64; 512]);

/// At most this many 2 MiB regions hold unmapped pages (null + 3 guards).
const SPLIT_REGIONS: usize = 4;

#[repr(C)]
struct Tables {
    pml4: Table,
    pdpt: Table,
    pd: [Table; 4],
    split: [Table; SPLIT_REGIONS],
}

struct TablesCell(UnsafeCell<Tables>);

// SAFETY: written once by `init` on the only core, before it is loaded.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    pml4: Table([0; 512]),
    pdpt: Table([0; 512]),
    pd: [const { Table([0; 512]) }; 4],
    split: [const { Table([0; 512]) }; SPLIT_REGIONS],
}));

fn addr<T>(table: &T) -> u64 {
    table as *const T as u64
}

/// Fills `table` with 4 KiB pages for the 2 MiB region at `base`, leaving
/// the pages in `holes` unmapped.
fn split_region(table: &mut Table, base: u64, holes: &[u64]) {
    for (i, entry) in table.0.iter_mut().enumerate() {
        let page = base + i as u64 * 4096;
        *entry = if holes.contains(&page) {
            0
        } else {
            page | PRESENT | WRITABLE
        };
    }
}

/// Builds the page tables for RAM up to `ram_end` and switches to them.
pub(super) fn init(ram_end: u64) {
    let guards = boot::guard_pages();
    let holes = [0, guards[0], guards[1], guards[2]];
    // SAFETY: boot runs once, on one core, before the tables are in use.
    let tables = unsafe { &mut *TABLES.0.get() };
    tables.pml4.0[0] = addr(&tables.pdpt) | PRESENT | WRITABLE;
    for (gib, pd) in tables.pd.iter_mut().enumerate() {
        tables.pdpt.0[gib] = addr(pd) | PRESENT | WRITABLE;
        for (i, entry) in pd.0.iter_mut().enumerate() {
            let base = (gib as u64) << 30 | (i as u64) * TWO_MIB;
            *entry = if DEVICE_REGIONS.contains(&base) {
                base | PRESENT | WRITABLE | HUGE | NO_CACHE | WRITE_THROUGH
            } else if base < ram_end {
                base | PRESENT | WRITABLE | HUGE
            } else {
                0
            };
        }
    }
    // Each region with a hole gets a table of its own (regions repeat when
    // holes share one; the first table made for a region wins).
    let mut used = 0;
    for hole in holes {
        let region = hole & !(TWO_MIB - 1);
        let (gib, index) = ((region >> 30) as usize, ((region >> 21) & 511) as usize);
        if tables.pd[gib].0[index] & (PRESENT | HUGE) == PRESENT {
            continue; // already split
        }
        let table = &mut tables.split[used];
        used += 1;
        split_region(table, region, &holes);
        tables.pd[gib].0[index] = addr(table) | PRESENT | WRITABLE;
    }
    let root = PhysFrame::containing_address(PhysAddr::new(addr(&tables.pml4)));
    // SAFETY: the new tables identity-map everything the kernel uses (all of
    // RAM but the null and guard pages, and the APIC), so execution goes on.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
}
