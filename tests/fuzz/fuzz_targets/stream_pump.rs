//! The network task's byte pump between a socket and an app's channels,
//! under a socket scripted by the input: partial reads and writes, blocks,
//! ends and resets (chanos's net/pump_check.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chanos::__fuzz::check_stream_pump(data));
