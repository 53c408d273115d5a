//! Interrupt vectors and what runs on them, for every other file to use
//! without using each other: `cpu` installs these handlers in the IDT, the
//! local APIC (`apic`) programs its vectors and registers how an interrupt
//! is acknowledged, and a driver (`virtio`) registers its device's handler.
//! This file uses none of them; it is where inter-processor interrupts
//! will go when the image runs on every core.
//!
//! Handlers only acknowledge and wake (interrupts never run tasks or
//! channel operations): the timer's only job is to end an idle `hlt`.

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};
use critical_section::Mutex;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame};

/// The vector of the local APIC timer.
pub(super) const TIMER_VECTOR: u8 = 32;
/// The vector of the device interrupt (the network card, through the I/O APIC).
pub(super) const DEVICE_VECTOR: u8 = 33;
/// The local APIC's spurious-interrupt vector.
pub(super) const SPURIOUS_VECTOR: u8 = 0xff;

/// How deep in interrupt handlers the CPU is.
static DEPTH: AtomicU32 = AtomicU32::new(0);
/// The interrupt controller's end of interrupt, registered by it.
static END_OF_INTERRUPT: Mutex<Cell<Option<fn()>>> = Mutex::new(Cell::new(None));
/// The device handler, registered by its driver.
static DEVICE_HANDLER: Mutex<Cell<Option<fn()>>> = Mutex::new(Cell::new(None));

pub(super) fn in_interrupt() -> bool {
    DEPTH.load(Ordering::Relaxed) > 0
}

/// Sets how an interrupt is acknowledged (the local APIC's EOI).
pub(super) fn set_end_of_interrupt(acknowledge: fn()) {
    critical_section::with(|cs| END_OF_INTERRUPT.borrow(cs).set(Some(acknowledge)));
}

/// Runs `handler` on every device interrupt; returns the vector to route
/// the device's line to.
pub(super) fn register_device(handler: fn()) -> u8 {
    critical_section::with(|cs| DEVICE_HANDLER.borrow(cs).set(Some(handler)));
    DEVICE_VECTOR
}

/// Installs the handlers of the timer, device and spurious vectors.
pub(super) fn install(idt: &mut InterruptDescriptorTable) {
    idt[TIMER_VECTOR].set_handler_fn(timer_interrupt);
    idt[DEVICE_VECTOR].set_handler_fn(device_interrupt);
    idt[SPURIOUS_VECTOR].set_handler_fn(spurious_interrupt);
}

/// Runs `work` as an interrupt handler: counted in `DEPTH`, acknowledged after.
fn handle(work: impl FnOnce()) {
    DEPTH.fetch_add(1, Ordering::Relaxed);
    work();
    if let Some(acknowledge) = critical_section::with(|cs| END_OF_INTERRUPT.borrow(cs).get()) {
        acknowledge();
    }
    DEPTH.fetch_sub(1, Ordering::Relaxed);
}

extern "x86-interrupt" fn timer_interrupt(_frame: InterruptStackFrame) {
    handle(|| {});
}

extern "x86-interrupt" fn device_interrupt(_frame: InterruptStackFrame) {
    handle(|| {
        if let Some(handler) = critical_section::with(|cs| DEVICE_HANDLER.borrow(cs).get()) {
            handler();
        }
    });
}

extern "x86-interrupt" fn spurious_interrupt(_frame: InterruptStackFrame) {}
