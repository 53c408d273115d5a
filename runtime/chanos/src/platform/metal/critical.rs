//! The critical section (the `critical-section` crate's implementation):
//! interrupts off on this CPU plus one lock for the whole image.

use super::{percpu, spin_hint};
use core::sync::atomic::{AtomicUsize, Ordering};

// A critical section keeps out both interrupt handlers (interrupts off on
// this CPU) and the other CPUs (one lock for the whole image, taken
// again freely by the CPU that holds it: critical sections nest).
struct CriticalSection;
critical_section::set_impl!(CriticalSection);

/// The CPU in the critical section (`NO_ONE` when none is), and how deep.
static CS_OWNER: AtomicUsize = AtomicUsize::new(NO_ONE);
static CS_DEPTH: AtomicUsize = AtomicUsize::new(0);
const NO_ONE: usize = usize::MAX;

// SAFETY: with interrupts off on this CPU and `CS_OWNER` naming it, no
// other context (handler or CPU) can be inside a critical section;
// `release` undoes one `acquire`, restoring the interrupt flag it found.
unsafe impl critical_section::Impl for CriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        let enabled = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        let me = percpu::index();
        // Only this CPU ever stores its own number, so a relaxed look
        // tells whether it already holds the lock.
        if CS_OWNER.load(Ordering::Relaxed) != me {
            while CS_OWNER
                .compare_exchange_weak(NO_ONE, me, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                spin_hint();
            }
        }
        CS_DEPTH.fetch_add(1, Ordering::Relaxed);
        enabled
    }

    unsafe fn release(was_enabled: critical_section::RawRestoreState) {
        if CS_DEPTH.fetch_sub(1, Ordering::Relaxed) == 1 {
            CS_OWNER.store(NO_ONE, Ordering::Release);
        }
        if was_enabled {
            x86_64::instructions::interrupts::enable();
        }
    }
}
