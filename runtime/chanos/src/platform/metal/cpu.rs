//! The CPU's tables: GDT (with a TSS giving faults stacks of their own),
//! IDT (with the handlers of `interrupts`), and readable reports for every
//! CPU exception.
//!
//! Page faults and double faults run on separate stacks (IST), so that a
//! stack overflow, which faults on the guard page below the kernel stack,
//! can still be reported instead of becoming a triple fault.
//!
//! Every CPU has its own GDT and TSS (loading a TSS marks its descriptor
//! busy, so two CPUs cannot share one) with its own fault stacks; the IDT
//! is built once and loaded by every CPU.

use super::percpu::{self, MAX_CPUS};
use super::{console, describe_running, interrupts, EXIT_CPU_EXCEPTION};
use core::cell::UnsafeCell;
use core::fmt::Write;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::control::Cr2;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

const DOUBLE_FAULT_IST: u16 = 0;
const PAGE_FAULT_IST: u16 = 1;

/// Static storage each CPU writes once while it starts, before interrupts.
struct BootCell<T>(UnsafeCell<T>);

// SAFETY: a CPU's GDT and TSS are written only by that CPU in
// `load_tables` (the IDT only by the boot CPU in `init`, before any other
// CPU starts), with interrupts off, before anything reads them; after
// that only the CPU reads them.
unsafe impl<T> Sync for BootCell<T> {}

static TSS: [BootCell<TaskStateSegment>; MAX_CPUS] =
    [const { BootCell(UnsafeCell::new(TaskStateSegment::new())) }; MAX_CPUS];
static GDT: [BootCell<GlobalDescriptorTable>; MAX_CPUS] =
    [const { BootCell(UnsafeCell::new(GlobalDescriptorTable::new())) }; MAX_CPUS];
static IDT: BootCell<InterruptDescriptorTable> =
    BootCell(UnsafeCell::new(InterruptDescriptorTable::new()));

/// Where a CPU's fault stacks end (they grow down).
pub(super) struct FaultStacks {
    pub(super) double_fault_top: u64,
    pub(super) page_fault_top: u64,
}

/// Builds the IDT and loads the boot CPU's tables. Called once, early,
/// with interrupts off.
pub(super) fn init(stacks: FaultStacks) {
    // SAFETY: boot runs on the boot CPU alone, interrupts off; nothing
    // reads the IDT before it is loaded, and after that it is only read.
    unsafe {
        let idt = &mut *IDT.0.get();
        install_exception_handlers(idt);
        idt.double_fault
            .set_handler_fn(double_fault)
            .set_stack_index(DOUBLE_FAULT_IST);
        idt.page_fault
            .set_handler_fn(page_fault)
            .set_stack_index(PAGE_FAULT_IST);
        interrupts::install(idt);
    }
    load_tables(stacks);
}

/// Loads this CPU's GDT and TSS (made here, with `stacks`) and the shared
/// IDT. Called once per CPU, with interrupts off.
pub(super) fn load_tables(stacks: FaultStacks) {
    let cpu = percpu::index();
    // SAFETY: this CPU's own GDT and TSS, written only here, once, before
    // they are loaded (see `BootCell`); the IDT is complete (`init` ran).
    unsafe {
        let tss = &mut *TSS[cpu].0.get();
        tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] =
            VirtAddr::new(stacks.double_fault_top);
        tss.interrupt_stack_table[PAGE_FAULT_IST as usize] = VirtAddr::new(stacks.page_fault_top);

        let gdt = &mut *GDT[cpu].0.get();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_selector = gdt.append(Descriptor::tss_segment(&*TSS[cpu].0.get()));
        (*GDT[cpu].0.get()).load();
        CS::set_reg(code);
        SS::set_reg(data);
        DS::set_reg(data);
        ES::set_reg(data);
        load_tss(tss_selector);
        (*IDT.0.get()).load();
    }
}

/// Prints the report of a CPU exception and ends the program (every CPU).
fn report(name: &str, frame: &InterruptStackFrame, error_code: Option<u64>, detail: &str) -> ! {
    // The report is one piece of console text: other CPUs' lines wait.
    critical_section::with(|_| report_locked(name, frame, error_code, detail))
}

fn report_locked(
    name: &str,
    frame: &InterruptStackFrame,
    error_code: Option<u64>,
    detail: &str,
) -> ! {
    let mut out = console::Writer;
    let _ = write!(
        out,
        "chanos: CPU exception on CPU {}: {name} at RIP {:#x}",
        percpu::index(),
        frame.instruction_pointer.as_u64()
    );
    if let Some(code) = error_code {
        let _ = write!(out, ", error code {code:#x}");
    }
    let _ = write!(out, "{detail}");
    let _ = out.write_str(", in ");
    let _ = describe_running(&mut out);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  stack pointer {:#x}, flags {:#x}",
        frame.stack_pointer.as_u64(),
        frame.cpu_flags.bits()
    );
    console::exit(EXIT_CPU_EXCEPTION)
}

macro_rules! exception_handlers {
    ($( $field:ident: $name:literal, $kind:ident; )*) => {
        fn install_exception_handlers(idt: &mut InterruptDescriptorTable) {
            $( exception_handlers!(@install idt, $field, $name, $kind); )*
        }
    };
    (@install $idt:ident, $field:ident, $name:literal, plain) => {{
        extern "x86-interrupt" fn handler(frame: InterruptStackFrame) {
            report($name, &frame, None, "")
        }
        $idt.$field.set_handler_fn(handler);
    }};
    (@install $idt:ident, $field:ident, $name:literal, code) => {{
        extern "x86-interrupt" fn handler(frame: InterruptStackFrame, code: u64) {
            report($name, &frame, Some(code), "")
        }
        $idt.$field.set_handler_fn(handler);
    }};
    (@install $idt:ident, $field:ident, $name:literal, diverging) => {{
        extern "x86-interrupt" fn handler(frame: InterruptStackFrame) -> ! {
            report($name, &frame, None, "")
        }
        $idt.$field.set_handler_fn(handler);
    }};
}

exception_handlers! {
    divide_error: "divide error (#DE)", plain;
    debug: "debug (#DB)", plain;
    non_maskable_interrupt: "non-maskable interrupt (NMI)", plain;
    breakpoint: "breakpoint (#BP)", plain;
    overflow: "overflow (#OF)", plain;
    bound_range_exceeded: "bound range exceeded (#BR)", plain;
    invalid_opcode: "invalid opcode (#UD)", plain;
    device_not_available: "device not available (#NM)", plain;
    invalid_tss: "invalid TSS (#TS)", code;
    segment_not_present: "segment not present (#NP)", code;
    stack_segment_fault: "stack-segment fault (#SS)", code;
    general_protection_fault: "general protection fault (#GP)", code;
    x87_floating_point: "x87 floating-point error (#MF)", plain;
    alignment_check: "alignment check (#AC)", code;
    machine_check: "machine check (#MC)", diverging;
    simd_floating_point: "SIMD floating-point error (#XM)", plain;
    virtualization: "virtualization exception (#VE)", plain;
    cp_protection_exception: "control-protection exception (#CP)", code;
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, code: u64) -> ! {
    report("double fault (#DF)", &frame, Some(code), "")
}

extern "x86-interrupt" fn page_fault(frame: InterruptStackFrame, code: PageFaultErrorCode) {
    let address = Cr2::read_raw();
    let guard_start = percpu::stack_guard();
    let guard_end = guard_start + 4096;
    let access = if code.contains(PageFaultErrorCode::INSTRUCTION_FETCH) {
        "executing"
    } else if code.contains(PageFaultErrorCode::CAUSED_BY_WRITE) {
        "writing"
    } else {
        "reading"
    };
    let what = if (guard_start..guard_end).contains(&address) {
        "stack overflow: the kernel stack ran into its guard page"
    } else if address < 4096 {
        "null pointer"
    } else if code.contains(PageFaultErrorCode::PROTECTION_VIOLATION) {
        "protection violation"
    } else {
        "address not mapped"
    };
    let mut detail = heapless_string::Line::new();
    let _ = write!(detail, ", {access} address (CR2) {address:#x}: {what}");
    report(
        "page fault (#PF)",
        &frame,
        Some(code.bits()),
        detail.as_str(),
    )
}

/// A line of text on the stack, for reports that must not allocate.
mod heapless_string {
    pub(super) struct Line {
        buf: [u8; 160],
        len: usize,
    }

    impl Line {
        pub(super) fn new() -> Self {
            Line {
                buf: [0; 160],
                len: 0,
            }
        }

        pub(super) fn as_str(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let room = self.buf.len() - self.len;
            let n = s.len().min(room);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
}
