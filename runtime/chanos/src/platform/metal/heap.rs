//! The heap: all RAM after the image, managed by `talc`.
//!
//! Allocation runs with interrupts off (a critical section), since handlers
//! may not find the allocator half-way through an update. When a request
//! cannot be met, the program ends with a report of the request and the
//! heap's size, instead of a panic deep inside `alloc`.

use super::{console, EXIT_OUT_OF_MEMORY};
use core::alloc::{GlobalAlloc, Layout};
use core::cell::RefCell;
use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use talc::{ErrOnOom, Span, Talc};

struct Heap {
    talc: critical_section::Mutex<RefCell<Talc<ErrOnOom>>>,
    size: AtomicUsize,
    in_use: AtomicUsize,
}

#[global_allocator]
static HEAP: Heap = Heap {
    talc: critical_section::Mutex::new(RefCell::new(Talc::new(ErrOnOom))),
    size: AtomicUsize::new(0),
    in_use: AtomicUsize::new(0),
};

/// Bytes allocated and not yet freed.
pub(super) fn in_use() -> u64 {
    HEAP.in_use.load(Ordering::Relaxed) as u64
}

/// Gives the allocator the RAM in `ram` (start, end).
pub(super) fn init(ram: (u64, u64)) {
    let start = (ram.0 + 4095) & !4095;
    let end = ram.1.min(3 << 30); // the identity map ends before the 3-4 GiB hole
    if end <= start + (1 << 20) {
        console::early_fail("less than 1 MiB of RAM is left for the heap");
    }
    let span = Span::new(start as *mut u8, end as *mut u8);
    let claimed = critical_section::with(|cs| {
        // SAFETY: this RAM is identity-mapped, unused by the image (it starts
        // after `__kernel_end`) and given to the allocator once.
        unsafe { HEAP.talc.borrow_ref_mut(cs).claim(span) }
    });
    match claimed {
        Ok(span) => HEAP.size.store(span.size(), Ordering::Relaxed),
        Err(()) => console::early_fail("the heap could not be set up"),
    }
}

fn out_of_memory(layout: Layout) -> ! {
    let mut out = console::Writer;
    let _ = writeln!(
        out,
        "chanos: out of memory on CPU {}: a request for {} bytes (alignment {}) failed; the heap has {} bytes, {} in use",
        super::cpu_index(),
        layout.size(),
        layout.align(),
        HEAP.size.load(Ordering::Relaxed),
        HEAP.in_use.load(Ordering::Relaxed),
    );
    let _ = out.write_str("  in ");
    let _ = super::describe_running(&mut out);
    let _ = writeln!(out);
    console::exit(EXIT_OUT_OF_MEMORY)
}

// SAFETY: every call goes to `talc` inside a critical section, so calls never
// overlap; talc upholds the `GlobalAlloc` contract for the memory it manages.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `layout` has a non-zero size (GlobalAlloc's contract).
        let result =
            critical_section::with(|cs| unsafe { self.talc.borrow_ref_mut(cs).malloc(layout) });
        match result {
            Ok(ptr) => {
                self.in_use.fetch_add(layout.size(), Ordering::Relaxed);
                ptr.as_ptr()
            }
            Err(()) => out_of_memory(layout),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.in_use.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this `layout`.
        critical_section::with(|cs| unsafe {
            self.talc
                .borrow_ref_mut(cs)
                .free(NonNull::new_unchecked(ptr), layout)
        });
    }
}
