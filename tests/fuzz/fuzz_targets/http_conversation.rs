//! The http app's request handling: any bytes, fed whole or in pieces,
//! get the same answers and refusals (http::check).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| http::check::check_conversation(data));
