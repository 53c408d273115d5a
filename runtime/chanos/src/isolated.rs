//! `Isolated`: the compile-time rule that tasks share nothing mutable.
//!
//! chanos tasks cooperate only through channels. A spawned task's future and
//! every value that travels over a channel must be [`Isolated`]: it owns its
//! data, or refers only to immutable data. The trait is an *auto trait*: the
//! compiler implements it for every type built only from isolated parts, and
//! withholds it from anything that contains an [`UnsafeCell`], the one primitive
//! behind every shared mutable cell (`Cell`, `RefCell`, `Mutex`, `RwLock`,
//! atomics, `OnceCell`, ...). So `Arc<Mutex<_>>`, `Rc<RefCell<_>>`,
//! `&'static AtomicUsize` and `&Cell<_>` are rejected where a task is spawned
//! or a channel is made, with an error that points to channels.
//!
//! # Holes, written down
//! - A `static` with interior mutability (an atomic, a `Mutex`) named directly
//!   inside a task is not *captured*, so no bound sees it. Same for
//!   `thread_local!`. chanos exports no such static and no lock.
//! - Raw pointers count as isolated when their target is: code that needs raw
//!   pointers is `unsafe` code and carries its own proof.
//! - A task's *own* local cell held across an `.await` is rejected too, even
//!   though nobody else sees it: keep task-local state in plain `let mut`
//!   variables instead.
//! - Trait objects are isolated only when they say so: `Box<dyn Fn() + Isolated>`.

// The auto trait is `unsafe` by nature: implementing it by hand is a
// promise the compiler cannot check, made here for `Rc` and `Arc` only.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;

/// Values that may cross between tasks without becoming shared mutable state.
///
/// Implemented automatically; see the [module documentation](self) for the
/// rule and its known holes.
///
/// # Safety
/// Implement it by hand only for a type whose shared parts are never mutated
/// in a way another task can observe (chanos does so for its channel ends,
/// whose interior state is the channel itself).
#[diagnostic::on_unimplemented(
    message = "`{Self}` can be shared mutable state, which chanos tasks and channels do not allow",
    label = "this is (or holds) shared mutable state",
    note = "share memory by communicating: keep the state inside one task and send it requests \
            and values over a `chanos::chan::bounded` channel",
    note = "plain owned data (`Vec`, `String`, `Box`, your own structs of them), channel ends \
            and immutable `'static` data are fine"
)]
pub unsafe auto trait Isolated {}

impl<T: ?Sized> !Isolated for UnsafeCell<T> {}

// SAFETY: an `Rc` or `Arc` of isolated data shares only immutable data; its
// reference count is mutated, but only as an implementation detail that no
// task can observe as state.
unsafe impl<T: ?Sized + Isolated> Isolated for alloc::rc::Rc<T> {}
// SAFETY: as for `Rc` above.
unsafe impl<T: ?Sized + Isolated> Isolated for alloc::sync::Arc<T> {}
