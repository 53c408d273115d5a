//! State that belongs to one core's executor and is reached without a
//! look-up: the running task's budget, the statistics counters, which
//! executor runs here.
//!
//! `core_local! { static NAME: Type = const { init }; }` declares it, and
//! `NAME.with(|value| ...)` reaches it, the same way on both platforms:
//! hosted it is a `thread_local!` (one executor per thread); in the image,
//! which runs one core, a plain static. When the image runs on every core
//! this is the one place that becomes per-CPU storage (the GS base).
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
            static $name: $crate::platform::CoreLocal<$ty> = $crate::platform::CoreLocal::new($init);
        )+
    };
}
pub(crate) use core_local;

/// The image's form of a `core_local!` static: the value, with the
/// `thread_local!` API.
#[cfg(target_os = "none")]
pub(crate) struct CoreLocal<T>(T);

#[cfg(target_os = "none")]
impl<T> CoreLocal<T> {
    pub(crate) const fn new(value: T) -> Self {
        CoreLocal(value)
    }

    #[inline(always)]
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }

    /// As `thread_local!`'s `try_with`: in the image the value never goes.
    #[inline(always)]
    pub(crate) fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, ()> {
        Ok(f(&self.0))
    }
}

// SAFETY: the image runs tasks on one core, and interrupt handlers never
// touch a `core_local!` value (they only wake tasks through the injector),
// so the value is never reached from two contexts at once.
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
