//! chorus [LINES]: a task on every core prints LINES lines (default 200)
//! at once, each `core K line I` followed by a run of K's digit, so that a
//! line broken up by another core's would show. The image tests boot it on
//! 4 CPUs and check that every line arrives whole.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec::Vec;
use chanos::{eprintln, println, spawn_on_named};

#[chanos::main]
async fn main() {
    let lines = match chanos::env::args().first().map(|n| n.parse::<usize>()) {
        None => 200,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: chorus [LINES]");
            chanos::env::exit(64);
        }
    };
    let singers: Vec<_> = (0..chanos::cores())
        .map(|core| {
            spawn_on_named(core, "singer", async move {
                let digit = char::from(b'0' + (core % 10) as u8);
                let tail: alloc::string::String = core::iter::repeat_n(digit, 60).collect();
                for line in 0..lines {
                    println!("core {core} line {line} {tail}");
                }
            })
        })
        .collect();
    for singer in singers {
        singer.await;
    }
}
