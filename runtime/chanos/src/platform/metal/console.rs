//! The console and the way out: a 16550 UART (COM1) under QEMU, uhyve's
//! hypercalls under uhyve; QEMU's isa-debug-exit device or uhyve's exit
//! hypercall to end the program.

use super::Machine;
use core::arch::asm;
use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;
const DEBUG_EXIT_PORT: u16 = 0xf4;
const UHYVE_EXIT: u16 = 0x540;
const UHYVE_SERIAL_BUFFER: u16 = 0x880;

fn machine() -> Machine {
    super::machine().unwrap_or(Machine::Qemu)
}

/// Sets up the UART (QEMU): 115200 8N1, FIFOs on, no interrupts.
pub(super) fn init(machine: Machine) {
    if machine != Machine::Qemu {
        return;
    }
    let out = |offset: u16, value: u8| {
        // SAFETY: COM1's registers; writing them only configures the UART.
        unsafe { Port::<u8>::new(COM1 + offset).write(value) }
    };
    out(1, 0x00); // no interrupts
    out(3, 0x80); // divisor latch on
    out(0, 0x01); // 115200 baud
    out(1, 0x00);
    out(3, 0x03); // 8 bits, no parity, one stop bit
    out(2, 0xc7); // FIFOs on and cleared
    out(4, 0x03); // DTR, RTS
}

/// Sends `port` the guest-physical address of `params` (uhyve, interface 1).
/// uhyve reads `rdi` as an address on every port write, so it is cleared.
fn uhyve_hypercall<T>(port: u16, params: &T) {
    let address = params as *const T as u64;
    // SAFETY: a port write that uhyve turns into the hypercall; `params`
    // is identity-mapped, so its address is its guest-physical address.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") address as u32, in("rdi") 0u64, options(nostack, preserves_flags));
    }
}

#[repr(C)]
struct SerialBuffer {
    buf: u64,
    len: u64,
}

#[repr(C, packed)]
struct ExitParams {
    arg: i32,
}

pub(super) fn write(text: &str) {
    write_bytes(text.as_bytes());
}

fn write_bytes(bytes: &[u8]) {
    match machine() {
        Machine::Uhyve => {
            let params = SerialBuffer {
                buf: bytes.as_ptr() as u64,
                len: bytes.len() as u64,
            };
            uhyve_hypercall(UHYVE_SERIAL_BUFFER, &params);
        }
        // Bytes go out as they are, `\n` included: the same as a hosted app
        // writes. A terminal behind QEMU's `-serial stdio` still shows
        // lines right, since QEMU leaves the tty's output processing (and
        // so its `\n` to `\r\n`) on.
        Machine::Qemu => bytes.iter().copied().for_each(uart_put),
    }
}

fn uart_put(byte: u8) {
    // SAFETY: COM1's line-status and data registers.
    unsafe {
        let mut status = Port::<u8>::new(COM1 + 5);
        while status.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
        Port::<u8>::new(COM1).write(byte);
    }
}

/// Writes formatted text straight to the console (reports that must not allocate).
pub(super) struct Writer;

impl core::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write(s);
        Ok(())
    }
}

/// Ends the program with `code` as its exit status.
///
/// Under QEMU, writing `v` to isa-debug-exit makes QEMU exit with status
/// `(v << 1) | 1`. chanos writes `v = code + 1` (codes clamped to 0..=126),
/// so QEMU exits with `2 * code + 3`: never 0 (a reset, e.g. a triple
/// fault, with `-no-reboot`) and never 1 (QEMU's own errors).
/// `scripts/run` maps it back to `code`.
pub(super) fn exit(code: i32) -> ! {
    match machine() {
        Machine::Uhyve => uhyve_hypercall(UHYVE_EXIT, &ExitParams { arg: code }),
        Machine::Qemu => {
            let value = code.clamp(0, 126) as u32 + 1;
            // SAFETY: the isa-debug-exit device; QEMU exits on this write.
            unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(value) };
        }
    }
    // Without an exit device, stop here rather than run on.
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Reports a failure before the runtime is up, and stops.
pub(super) fn early_fail(message: &str) -> ! {
    write("chanos: boot failed: ");
    write(message);
    write("\n");
    exit(super::EXIT_BOOT_FAILURE)
}
