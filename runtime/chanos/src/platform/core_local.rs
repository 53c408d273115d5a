//! State that belongs to one core's executor and is reached without a
//! look-up: the running task's budget, the statistics counters, which
//! executor runs here.
//!
//! `core_local! { static NAME: Type = const { init }; }` declares it, and
//! `NAME.with(|value| ...)` reaches it, the same way on both platforms:
//! hosted it is a `thread_local!` (one executor per thread); in the image,
//! a static holding one value per CPU, indexed by the CPU's number (one
//! load through the GS base, `metal::percpu`).
//!
//! The value is only ever shared (`&T`), so it holds `Cell`s; code in
//! interrupt context must not use it (interrupt handlers only wake tasks).

/// Declares per-core statics; see the module documentation.
macro_rules! core_local {
    ($(static $name:ident: $ty:ty = const { $init:expr };)+) => {
        $(
            #[cfg(not(target_os = "none"))]
            std::thread_local! {
                static $name: $ty = const { $init };
            }

            #[cfg(target_os = "none")]
            static $name: $crate::platform::CoreLocal<$ty> =
                $crate::platform::CoreLocal::new([const { $crate::platform::CpuSlot($init) }; $crate::platform::MAX_CPUS]);
        )+
    };
}
pub(crate) use core_local;

/// The image's form of a `core_local!` static: a value per CPU, with the
/// `thread_local!` API.
#[cfg(target_os = "none")]
pub(crate) struct CoreLocal<T>([CpuSlot<T>; super::MAX_CPUS]);

/// One CPU's value, on a cache line of its own (no false sharing).
#[cfg(target_os = "none")]
#[repr(align(64))]
pub(crate) struct CpuSlot<T>(pub(crate) T);

#[cfg(target_os = "none")]
impl<T> CoreLocal<T> {
    pub(crate) const fn new(values: [CpuSlot<T>; super::MAX_CPUS]) -> Self {
        CoreLocal(values)
    }

    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        // Slots are whole cache lines (`CpuSlot`'s alignment), and
        // `cpu_slot_offset()` is this CPU's number times a cache line: one
        // load, and a multiplication the compiler folds (none for a slot
        // of one line), where indexing would load, mask and scale.
        let lines = core::mem::size_of::<CpuSlot<T>>() / super::CPU_SLOT;
        let first = self.0.as_ptr().cast::<u8>();
        // SAFETY: `cpu_slot_offset() * lines` is this CPU's number (below
        // `MAX_CPUS`) times the slot size, so the pointer is this CPU's
        // slot, within the array.
        let slot = unsafe {
            &*first
                .add(super::cpu_slot_offset() * lines)
                .cast::<CpuSlot<T>>()
        };
        f(&slot.0)
    }

    /// As `thread_local!`'s `try_with`: in the image the value never goes.
    #[inline(always)]
    pub(crate) fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, ()> {
        Ok(self.with(f))
    }
}

// SAFETY: each CPU reaches only its own value (`with` indexes by the
// running CPU's number), and interrupt handlers never touch a
// `core_local!` value (they only wake tasks through the injector), so no
// value is ever reached from two contexts at once.
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
unsafe impl<T> Sync for CoreLocal<T> {}

core_local! {
    static CORE_KEY: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

/// A number naming the runtime core running here, unique for every run of
/// every core (so never the same on two threads); 0 outside a runtime.
/// Channels compare it with their home's to take the local path.
#[inline(always)]
pub(crate) fn core_key() -> u32 {
    CORE_KEY.with(core::cell::Cell::get)
}

/// Sets [`core_key`] while a runtime core runs here.
pub(crate) fn set_core_key(key: u32) {
    CORE_KEY.with(|c| c.set(key));
}
