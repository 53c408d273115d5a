//! The http app's protocol logic, apart from its I/O so that it can be
//! tested and fuzzed alone: [`request`] reads a request head strictly,
//! [`conversation`] keeps one connection's requests and deadlines.
#![no_std]

extern crate alloc;

#[cfg(any(test, fuzzing))]
pub mod check;
pub mod conversation;
pub mod request;
