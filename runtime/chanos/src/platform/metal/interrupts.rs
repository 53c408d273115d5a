//! Interrupt vectors and what runs on them, for every other file to use
//! without using each other: `cpu` installs these handlers in the IDT, the
//! local APIC (`apic`) programs its vectors and registers how an interrupt
//! is acknowledged, and a driver (`virtio`) registers its device's handler.
//! This file uses none of them but `percpu` (each CPU counts its own
//! depth in handlers).
//!
//! Handlers only acknowledge and wake (interrupts never run tasks or
//! channel operations): the timer's only job is to end an idle `hlt`, and
//! the wake-up vector's (an inter-processor interrupt) likewise.

use super::percpu;
use core::sync::atomic::{AtomicUsize, Ordering};
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame};

/// The vector of the local APIC timer.
pub(super) const TIMER_VECTOR: u8 = 32;
/// The vector of the device interrupt (the network card, through the I/O APIC).
pub(super) const DEVICE_VECTOR: u8 = 33;
/// The vector another CPU sends to end this one's `hlt` (a wake-up).
pub(super) const WAKE_VECTOR: u8 = 34;
/// The local APIC's spurious-interrupt vector.
pub(super) const SPURIOUS_VECTOR: u8 = 0xff;

/// A function registered once and called from handlers on any CPU,
/// without a lock: a handler must not wait for another CPU.
struct Registered(AtomicUsize);

impl Registered {
    const fn none() -> Self {
        Registered(AtomicUsize::new(0))
    }

    fn set(&self, f: fn()) {
        self.0.store(f as usize, Ordering::Release);
    }

    fn call(&self) {
        let f = self.0.load(Ordering::Acquire);
        if f != 0 {
            // SAFETY: a non-zero value was stored by `set`, from a `fn()`.
            let f = unsafe { core::mem::transmute::<usize, fn()>(f) };
            f();
        }
    }
}

/// The interrupt controller's end of interrupt, registered by it.
static END_OF_INTERRUPT: Registered = Registered::none();
/// The device handler, registered by its driver.
static DEVICE_HANDLER: Registered = Registered::none();

pub(super) fn in_interrupt() -> bool {
    percpu::in_interrupt()
}

/// Sets how an interrupt is acknowledged (the local APIC's EOI).
pub(super) fn set_end_of_interrupt(acknowledge: fn()) {
    END_OF_INTERRUPT.set(acknowledge);
}

/// Runs `handler` on every device interrupt; returns the vector to route
/// the device's line to.
pub(super) fn register_device(handler: fn()) -> u8 {
    DEVICE_HANDLER.set(handler);
    DEVICE_VECTOR
}

/// Installs the handlers of the timer, device and spurious vectors.
pub(super) fn install(idt: &mut InterruptDescriptorTable) {
    idt[TIMER_VECTOR].set_handler_fn(timer_interrupt);
    idt[DEVICE_VECTOR].set_handler_fn(device_interrupt);
    idt[WAKE_VECTOR].set_handler_fn(wake_interrupt);
    idt[SPURIOUS_VECTOR].set_handler_fn(spurious_interrupt);
}

/// Runs `work` as an interrupt handler: counted in this CPU's interrupt
/// depth, acknowledged after.
fn handle(work: impl FnOnce()) {
    let depth = percpu::interrupt_depth();
    depth.fetch_add(1, Ordering::Relaxed);
    work();
    END_OF_INTERRUPT.call();
    depth.fetch_sub(1, Ordering::Relaxed);
}

extern "x86-interrupt" fn timer_interrupt(_frame: InterruptStackFrame) {
    handle(|| {});
}

extern "x86-interrupt" fn device_interrupt(_frame: InterruptStackFrame) {
    handle(|| DEVICE_HANDLER.call());
}

/// Another CPU's wake-up: it has set this CPU's `wake_pending` already.
extern "x86-interrupt" fn wake_interrupt(_frame: InterruptStackFrame) {
    handle(|| {});
}

extern "x86-interrupt" fn spurious_interrupt(_frame: InterruptStackFrame) {}
