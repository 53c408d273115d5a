//! The I/O APIC: routes a device's interrupt line to a vector on this core.
//! QEMU's microvm has one at the standard address (and, with ACPI, a second
//! one for lines 24 and up).

use x86_64::instructions::interrupts;

/// Where the first I/O APIC's registers are; the second follows 64 KiB on.
pub(super) const IOAPIC_BASE: u64 = 0xfec0_0000;
const SECOND_IOAPIC: u64 = 0xfec1_0000;
const LINES_PER_IOAPIC: u8 = 24;

/// Writes one I/O APIC register through its select/window pair.
fn write(base: u64, register: u32, value: u32) {
    // SAFETY: the I/O APIC's register window, identity-mapped uncached
    // (`paging`); the select-then-write pair runs with interrupts off.
    interrupts::without_interrupts(|| unsafe {
        (base as *mut u32).write_volatile(register);
        ((base + 0x10) as *mut u32).write_volatile(value);
    });
}

/// Delivers line `gsi` as `vector` to the local APIC `apic_id`:
/// fixed delivery, edge-triggered, active high, unmasked.
pub(super) fn route(gsi: u8, vector: u8, apic_id: u8) {
    let (base, pin) = if gsi < LINES_PER_IOAPIC {
        (IOAPIC_BASE, gsi)
    } else {
        (SECOND_IOAPIC, gsi - LINES_PER_IOAPIC)
    };
    let entry = 0x10 + 2 * u32::from(pin);
    write(base, entry + 1, u32::from(apic_id) << 24);
    write(base, entry, u32::from(vector));
}
