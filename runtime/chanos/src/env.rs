//! The program's environment: its arguments, and how it ends.

use alloc::string::String;
use alloc::vec::Vec;

/// The program's arguments, without the program's name: hosted, the command
/// line after the program; in the image, the kernel command line.
pub fn args() -> Vec<String> {
    crate::platform::args()
}

/// Ends the program at once with `code` as its exit status.
pub fn exit(code: i32) -> ! {
    crate::platform::exit(code)
}
