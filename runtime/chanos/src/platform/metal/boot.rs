//! The two ways in: the PVH entry (QEMU) and the hermit entry (uhyve), in
//! one ELF, and the boot notes that advertise them.
//!
//! - QEMU reads the Xen `PHYS32_ENTRY` note and enters `pvh_start32` in
//!   32-bit protected mode, paging off, with `ebx` = the physical address of
//!   `hvm_start_info`. The assembly below builds an identity map of the first
//!   GiB, enters long mode and calls [`super::boot`] with `Entry::Pvh`.
//! - uhyve reads the `HERMIT` note and enters `_start` (the ELF entry) in
//!   long mode, with `rdi` = the physical address of its `RawBootInfo` and
//!   `rsi` = the CPU number. Secondary CPUs park; CPU 0 calls
//!   [`super::boot`] with `Entry::Uhyve`.
//!
//! Both read the TSC as their very first instruction, for the boot-time
//! figure, and switch to the kernel stack, which has an unmapped guard page
//! below it (as do the two stacks the CPU uses for faults).

use core::arch::global_asm;

// The uhyve boot note (HERMIT, entry version).
hermit_entry::define_entry_version!();

/// Size of the boot (and only) kernel stack.
pub(super) const STACK_SIZE: usize = 1 << 20;
/// Size of each of the two fault stacks.
const FAULT_STACK_SIZE: usize = 16 * 1024;

global_asm!(
    r#"
    .section .note.Xen, "a"
    .balign 4
    .long 4                 # name size
    .long 8                 # descriptor size
    .long 18                # XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .quad pvh_start32       # 32-bit entry, as a 64-bit value

    .section .bss.boot, "aw", @nobits
    .balign 4096
    .global chanos_boot_pml4
chanos_boot_pml4: .skip 4096
chanos_boot_pdpt: .skip 4096
chanos_boot_pd:   .skip 4096
    .global chanos_stack_guard
chanos_stack_guard: .skip 4096
    .global chanos_stack_bottom
chanos_stack_bottom: .skip {stack_size}
    .global chanos_stack_top
chanos_stack_top:
    # The stacks the CPU switches to for double and page faults (IST),
    # each with a guard page below it too.
    .global chanos_double_fault_guard
chanos_double_fault_guard: .skip 4096
    .skip {fault_stack_size}
    .global chanos_double_fault_top
chanos_double_fault_top:
    .global chanos_page_fault_guard
chanos_page_fault_guard: .skip 4096
    .skip {fault_stack_size}
    .global chanos_page_fault_top
chanos_page_fault_top:
    .balign 8
    .global chanos_boot_tsc
chanos_boot_tsc: .skip 8
chanos_boot_info: .skip 8

    .section .text.boot32, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    rdtsc
    mov %eax, chanos_boot_tsc
    mov %edx, chanos_boot_tsc + 4
    cli
    cld
    mov %ebx, chanos_boot_info
    mov $chanos_stack_top, %esp

    # Identity-map the first GiB with 2 MiB pages: PML4[0] -> PDPT[0] -> PD.
    mov $chanos_boot_pdpt, %eax
    or $0x3, %eax
    mov %eax, chanos_boot_pml4
    mov $chanos_boot_pd, %eax
    or $0x3, %eax
    mov %eax, chanos_boot_pdpt
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                      # present, writable, 2 MiB page
    mov %eax, chanos_boot_pd(,%ecx,8)
    movl $0, chanos_boot_pd + 4(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jb 1b

    mov $chanos_boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax                      # PAE
    mov %eax, %cr4
    mov $0xC0000080, %ecx               # EFER
    rdmsr
    or $0x100, %eax                     # long mode enable
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax                # paging, protection
    mov %eax, %cr0
    lgdt chanos_boot_gdt_pointer
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $chanos_stack_top, %rsp
    mov chanos_boot_info, %edi          # zero-extends into rdi
    xor %esi, %esi                      # Entry::Pvh
    call chanos_boot
2:  hlt
    jmp 2b

    .section .text, "ax"
    .global _start
_start:
    test %esi, %esi                     # only CPU 0 boots
    jnz 3f
    mov %rdi, %r8
    rdtsc
    mov %eax, chanos_boot_tsc
    mov %edx, chanos_boot_tsc + 4
    mov %r8, %rdi
    mov $chanos_stack_top, %rsp
    mov $1, %esi                        # Entry::Uhyve
    call chanos_boot
3:  hlt
    jmp 3b

    .section .rodata
    .balign 16
chanos_boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF            # 64-bit code
    .quad 0x00CF92000000FFFF            # data
chanos_boot_gdt_pointer:
    .word chanos_boot_gdt_pointer - chanos_boot_gdt - 1
    .quad chanos_boot_gdt
"#,
    stack_size = const STACK_SIZE,
    fault_stack_size = const FAULT_STACK_SIZE,
    options(att_syntax)
);

unsafe extern "C" {
    static chanos_boot_tsc: u64;
    static chanos_stack_guard: u8;
    static chanos_double_fault_guard: u8;
    static chanos_double_fault_top: u8;
    static chanos_page_fault_guard: u8;
    static chanos_page_fault_top: u8;
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// The TSC when the first instruction ran.
pub(super) fn first_instruction_tsc() -> u64 {
    // SAFETY: written once by the entry code before any Rust runs.
    unsafe { core::ptr::addr_of!(chanos_boot_tsc).read_volatile() }
}

/// The guard page below the stack: (start, end).
pub(super) fn stack_guard() -> (u64, u64) {
    let start = core::ptr::addr_of!(chanos_stack_guard) as u64;
    (start, start + 4096)
}

/// Every guard page: below the kernel stack and below each fault stack.
pub(super) fn guard_pages() -> [u64; 3] {
    [
        core::ptr::addr_of!(chanos_stack_guard) as u64,
        core::ptr::addr_of!(chanos_double_fault_guard) as u64,
        core::ptr::addr_of!(chanos_page_fault_guard) as u64,
    ]
}

/// The tops of the double-fault and page-fault stacks.
pub(super) fn fault_stack_tops() -> (u64, u64) {
    (
        core::ptr::addr_of!(chanos_double_fault_top) as u64,
        core::ptr::addr_of!(chanos_page_fault_top) as u64,
    )
}

/// Where the loaded image starts and ends (from the linker script).
pub(super) fn image_range() -> (u64, u64) {
    (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    )
}
