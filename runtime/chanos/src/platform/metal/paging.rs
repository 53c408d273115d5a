//! The page tables: an identity map of the first 4 GiB, built at boot.
//!
//! 2 MiB pages everywhere, except two 4 KiB-paged regions: the first 2 MiB,
//! whose page 0 is left unmapped so that a null pointer faults, and the
//! region holding the kernel stack's guard page, left unmapped so that a
//! stack overflow faults (and is reported, see `cpu`). The local APIC's
//! registers are mapped uncached.

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

#[repr(C, align(4096))]
struct Table([u64; 512]);

#[repr(C)]
struct Tables {
    pml4: Table,
    pdpt: Table,
    pd: [Table; 4],
    null_region: Table,
    guard_region: Table,
}

struct TablesCell(UnsafeCell<Tables>);

// SAFETY: written once by `init` on the only core, before it is loaded.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    pml4: Table([0; 512]),
    pdpt: Table([0; 512]),
    pd: [
        Table([0; 512]),
        Table([0; 512]),
        Table([0; 512]),
        Table([0; 512]),
    ],
    null_region: Table([0; 512]),
    guard_region: Table([0; 512]),
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

/// Builds the page tables and switches to them.
pub(super) fn init() {
    let (guard, _) = boot::stack_guard();
    let guard_region = guard & !(TWO_MIB - 1);
    // SAFETY: boot runs once, on one core, before the tables are in use.
    let tables = unsafe { &mut *TABLES.0.get() };
    tables.pml4.0[0] = addr(&tables.pdpt) | PRESENT | WRITABLE;
    for (gib, pd) in tables.pd.iter_mut().enumerate() {
        tables.pdpt.0[gib] = addr(pd) | PRESENT | WRITABLE;
        for (i, entry) in pd.0.iter_mut().enumerate() {
            let base = (gib as u64) << 30 | (i as u64) * TWO_MIB;
            let cache = if base == APIC_BASE {
                NO_CACHE | WRITE_THROUGH
            } else {
                0
            };
            *entry = base | PRESENT | WRITABLE | HUGE | cache;
        }
    }
    if guard_region == 0 {
        split_region(&mut tables.null_region, 0, &[0, guard]);
    } else {
        split_region(&mut tables.null_region, 0, &[0]);
        split_region(&mut tables.guard_region, guard_region, &[guard]);
        let (gib, index) = (
            (guard_region >> 30) as usize,
            ((guard_region >> 21) & 511) as usize,
        );
        tables.pd[gib].0[index] = addr(&tables.guard_region) | PRESENT | WRITABLE;
    }
    tables.pd[0].0[0] = addr(&tables.null_region) | PRESENT | WRITABLE;
    let root = PhysFrame::containing_address(PhysAddr::new(addr(&tables.pml4)));
    // SAFETY: the new tables identity-map everything the kernel uses (all of
    // the first 4 GiB but the null and guard pages), so execution goes on.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
}
