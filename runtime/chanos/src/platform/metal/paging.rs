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
//! mapped uncached. The secondary CPUs' stacks come from the heap; their
//! guard pages are unmapped (`unmap_page`) before those CPUs start.

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

/// At most this many 2 MiB regions hold unmapped pages: page 0 and the
/// boot CPU's 3 guards, and 3 guards for each other CPU.
const SPLIT_REGIONS: usize = 4 + 3 * (super::percpu::MAX_CPUS - 1);

#[repr(C)]
struct Tables {
    pml4: Table,
    pdpt: Table,
    pd: [Table; 4],
    split: [Table; SPLIT_REGIONS],
}

struct TablesCell(UnsafeCell<Tables>);

// SAFETY: written only by the boot CPU, alone (`init`, and `unmap_page`
// before the other CPUs start); the other CPUs only load it.
unsafe impl Sync for TablesCell {}

/// How many of `Tables::split` are in use.
static SPLIT_USED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    pml4: Table([0; 512]),
    pdpt: Table([0; 512]),
    pd: [const { Table([0; 512]) }; 4],
    split: [const { Table([0; 512]) }; SPLIT_REGIONS],
}));

fn addr<T>(table: &T) -> u64 {
    table as *const T as u64
}

/// Fills `table` with 4 KiB pages mapping the 2 MiB region at `base`.
fn split_region(table: &mut Table, base: u64) {
    for (i, entry) in table.0.iter_mut().enumerate() {
        *entry = (base + i as u64 * 4096) | PRESENT | WRITABLE;
    }
}

/// Unmaps the 4 KiB page at `page`, giving its 2 MiB region a table of
/// 4 KiB pages first if it has none.
fn unmap_in(tables: &mut Tables, page: u64) {
    let region = page & !(TWO_MIB - 1);
    let (gib, index) = ((region >> 30) as usize, ((region >> 21) & 511) as usize);
    let entry = tables.pd[gib].0[index];
    let table = if entry & (PRESENT | HUGE) == PRESENT {
        let address = entry & !0xfff;
        tables
            .split
            .iter_mut()
            .find(|t| addr(&**t) == address)
            .expect("a split region's table is one of `split`")
    } else {
        let used = SPLIT_USED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let table = &mut tables.split[used];
        split_region(table, region);
        tables.pd[gib].0[index] = addr(table) | PRESENT | WRITABLE;
        table
    };
    table.0[((page >> 12) & 511) as usize] = 0;
}

/// Unmaps the page at `page` (a guard page below a secondary CPU's
/// stack). Only the boot CPU calls it, before the other CPUs start.
pub(super) fn unmap_page(page: u64) {
    // SAFETY: the boot CPU alone changes the tables (see `TablesCell`), and
    // the page is not in use: nothing is lost when it faults from now on.
    let tables = unsafe { &mut *TABLES.0.get() };
    unmap_in(tables, page);
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(page));
}

/// The root of the page tables, for the other CPUs to load.
pub(super) fn root() -> u64 {
    // SAFETY: only the table's address is taken.
    addr(unsafe { &(*TABLES.0.get()).pml4 })
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
    for hole in holes {
        unmap_in(tables, hole);
    }
    let root = PhysFrame::containing_address(PhysAddr::new(addr(&tables.pml4)));
    // SAFETY: the new tables identity-map everything the kernel uses (all of
    // RAM but the null and guard pages, and the APIC), so execution goes on.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
}
