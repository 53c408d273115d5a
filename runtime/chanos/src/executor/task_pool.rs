//! Task cells come from a pool on each core: a task's allocation, once the
//! task and its `JoinHandle` are gone, goes back to a free list of its size
//! class, and the next spawn of that size takes it. So a spawn and a join
//! cost no call to the system allocator once the pool is warm (glibc's
//! `malloc` and `free` were 129 of the 682 instructions of a spawn + join).
//!
//! Size classes are 16 bytes apart (the system allocator's own granularity,
//! so a pooled task takes no more memory than before), up to 1 KiB; larger
//! or more strictly aligned cells go to the system allocator as before. A
//! class keeps at most `KEPT_PER_CLASS` free cells, so a burst of tasks does
//! not hold its memory for ever.

use crate::platform::core_local;
use alloc::alloc::{AllocError, Allocator, Global, Layout};
use core::cell::Cell;
use core::ptr::NonNull;

/// The allocator of task cells (`Rc::new_in(.., TaskAlloc)`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TaskAlloc;

const STEP: usize = 16;
const CLASSES: usize = 64;
const KEPT_PER_CLASS: u32 = 4096;

/// The free cells of each size class, on this core: a list threaded
/// through the cells themselves (each free cell's first word points to the
/// next), and its length.
struct Pool {
    heads: [Cell<*mut u8>; CLASSES],
    lengths: [Cell<u32>; CLASSES],
}

core_local! {
    static POOL: Pool = const {
        Pool {
            heads: [const { Cell::new(core::ptr::null_mut()) }; CLASSES],
            lengths: [const { Cell::new(0) }; CLASSES],
        }
    };
}

/// The size class of `layout`, when it is pooled.
#[inline(always)]
fn class_of(layout: Layout) -> Option<usize> {
    let class = layout.size().div_ceil(STEP).max(1) - 1;
    (class < CLASSES && layout.align() <= STEP).then_some(class)
}

/// The layout every cell of `class` is allocated with.
fn class_layout(class: usize) -> Layout {
    Layout::from_size_align((class + 1) * STEP, STEP).expect("a small power-of-two layout")
}

#[allow(unsafe_code)] // the free lists' links, below
impl Pool {
    /// Takes a kept cell of `class`.
    #[inline(always)]
    fn pop(&self, class: usize) -> Option<NonNull<u8>> {
        let head = NonNull::new(self.heads[class].get())?;
        // SAFETY: a kept cell is at least 16 bytes, aligned to 16, owned by
        // the pool, and its first word is the next link (see `push`).
        let next = unsafe { head.cast::<*mut u8>().read() };
        self.heads[class].set(next);
        self.lengths[class].set(self.lengths[class].get() - 1);
        Some(head)
    }

    /// Keeps `cell` of `class`; false when the class has enough.
    #[inline(always)]
    fn push(&self, class: usize, cell: NonNull<u8>) -> bool {
        let length = self.lengths[class].get();
        if length >= KEPT_PER_CLASS {
            return false;
        }
        // SAFETY: the cell was handed back by its owner, is at least 16
        // bytes and aligned to 16: its first word can hold the link.
        unsafe { cell.cast::<*mut u8>().write(self.heads[class].get()) };
        self.heads[class].set(cell.as_ptr());
        self.lengths[class].set(length + 1);
        true
    }
}

#[allow(unsafe_code)] // gives the cells back to `Global`
impl Drop for Pool {
    fn drop(&mut self) {
        // The thread is ending (hosted): give the kept cells back.
        for class in 0..CLASSES {
            while let Some(cell) = self.pop(class) {
                // SAFETY: every kept cell was allocated by `Global` with
                // `class_layout(class)` and is owned by no one.
                unsafe { Global.deallocate(cell, class_layout(class)) };
            }
        }
    }
}

// SAFETY: a block handed out is either a kept cell (owned by no one since
// its `deallocate`) or fresh from `Global`, at least `layout.size()` bytes
// and aligned to `STEP >= layout.align()`; `deallocate` gets back exactly
// what `allocate` gave for the same layout, so the class (and `Global`'s
// layout) match. The pool is per core and never touched from interrupts.
#[allow(unsafe_code)]
unsafe impl Allocator for TaskAlloc {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let Some(class) = class_of(layout) else {
            return Global.allocate(layout);
        };
        match POOL.try_with(|pool| pool.pop(class)).ok().flatten() {
            Some(cell) => Ok(NonNull::slice_from_raw_parts(cell, (class + 1) * STEP)),
            None => Global.allocate(class_layout(class)),
        }
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let Some(class) = class_of(layout) else {
            // SAFETY: allocated by `Global` with this layout (see `allocate`).
            return unsafe { Global.deallocate(ptr, layout) };
        };
        if POOL.try_with(|pool| pool.push(class, ptr)) != Ok(true) {
            // SAFETY: allocated by `Global` with the class's layout.
            unsafe { Global.deallocate(ptr, class_layout(class)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::rc::Rc;

    #[test]
    fn a_freed_cell_is_reused_by_the_next_of_its_size_and_large_ones_are_not_pooled() {
        let first = Rc::new_in([7u8; 100], TaskAlloc);
        let address = Rc::as_ptr(&first) as usize;
        drop(first);
        let second = Rc::new_in([9u8; 100], TaskAlloc);
        assert_eq!(Rc::as_ptr(&second) as usize, address);
        assert_eq!(second[99], 9);
        assert_eq!(class_of(Layout::new::<[u8; 2000]>()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 64).unwrap()), None);
        assert_eq!(class_of(Layout::new::<u8>()), Some(0));
        assert_eq!(class_of(Layout::new::<[u8; 1024]>()), Some(CLASSES - 1));
    }
}
