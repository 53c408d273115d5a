//! args: prints how many arguments it got, then each on its own line, so
//! that hosted runs and booted images can be checked to see the same.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::println;

#[chanos::main]
async fn main() {
    let args = chanos::env::args();
    println!("{} arguments", args.len());
    for (i, arg) in args.iter().enumerate() {
        println!("{i}: {arg}");
    }
}
