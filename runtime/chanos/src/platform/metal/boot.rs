//! The two ways in: the PVH entry (QEMU) and the hermit entry (uhyve), in
//! one ELF, and the boot notes that advertise them.
//!
//! - QEMU reads the Xen `PHYS32_ENTRY` note and enters `pvh_start32` in
//!   32-bit protected mode, paging off, with `ebx` = the physical address of
//!   `hvm_start_info`. The assembly below builds an identity map of the first
//!   GiB, enters long mode and calls [`super::boot`] with `Entry::Pvh`.
//! - uhyve reads the `HERMIT` note and enters `_start` (the ELF entry) in
//!   long mode, with `rdi` = the physical address of its `RawBootInfo` and
//!   `rsi` = the CPU number, on every CPU at once. CPU 0 calls
//!   [`super::boot`] with `Entry::Uhyve`; the others wait in
//!   `chanos_ap_wait` until the boot CPU gives them a stack.
//! - Under QEMU the secondary CPUs start in real mode at the start-up code
//!   (`chanos_trampoline`, copied to 0x8000 by `smp`), which takes them to
//!   long mode with the boot CPU's page tables and on to `chanos_ap_wait`.
//!
//! The boot CPU reads the TSC as its very first instruction, for the
//! boot-time figure. Every CPU runs on a kernel stack with an unmapped
//! guard page below it (as do the two stacks each CPU uses for faults).

use core::arch::global_asm;

// The uhyve boot note (HERMIT, entry version).
hermit_entry::define_entry_version!();

/// Size of each CPU's kernel stack.
pub(super) const STACK_SIZE: usize = 1 << 20;
/// Size of each of a CPU's two fault stacks.
pub(super) const FAULT_STACK_SIZE: usize = 16 * 1024;

global_asm!(
    r#"
    # From 32-bit protected mode with CR3 loaded: PAE, long mode, paging.
    .macro enter_long_mode
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
    .endm

    # In long mode: the data segments flat (0x10), FS and GS null.
    .macro load_data_segments
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    .endm

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
    enter_long_mode
    lgdt chanos_boot_gdt_pointer
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    load_data_segments
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
    jnz chanos_ap_wait
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

    # A secondary CPU, number esi, interrupts off, in long mode, with no
    # stack of its own yet: wait until the boot CPU publishes its stack
    # (after the page tables), then load those tables and go in.
    .global chanos_ap_wait
chanos_ap_wait:
    mov %esi, %esi
    cmp ${max_cpus}, %esi               # beyond what the image runs on: stay off
    jae 5f
4:  mov chanos_ap_stacks(,%rsi,8), %rax
    test %rax, %rax
    jz 4b
    mov chanos_ap_page_tables, %rcx
    mov %rcx, %cr3
    mov %rax, %rsp
    mov %esi, %edi
    call chanos_ap_entry
5:  hlt
    jmp 5b

    # The start-up code of a secondary CPU under QEMU, copied to 0x8000
    # (the start-up IPI's page 8): real mode at CS = 0x800, then 32-bit
    # protected mode, then long mode; positions are 0x8000 + the offset
    # from `chanos_trampoline`. The boot CPU fills in `_page_tables` in
    # the copy before the start-up.
    .section .rodata.trampoline, "a"
    .code16
    .global chanos_trampoline
chanos_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl chanos_trampoline_gdt_pointer - chanos_trampoline
    mov %cr0, %eax
    or $1, %eax                         # protection
    mov %eax, %cr0
    ljmpl $0x18, $(0x8000 + chanos_trampoline32 - chanos_trampoline)
    .code32
chanos_trampoline32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov 0x8000 + chanos_trampoline_page_tables - chanos_trampoline, %eax
    mov %eax, %cr3
    enter_long_mode
    ljmp $0x08, $(0x8000 + chanos_trampoline64 - chanos_trampoline)
    .code64
chanos_trampoline64:
    load_data_segments
    # Every CPU was started at once: each takes the next number.
    mov $1, %esi
    lock xadd %esi, 0x8000 + chanos_trampoline_next_cpu - chanos_trampoline
    movabs $chanos_ap_wait, %rax
    jmp *%rax
    .balign 8
chanos_trampoline_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF            # 0x08: 64-bit code
    .quad 0x00CF92000000FFFF            # 0x10: data
    .quad 0x00CF9A000000FFFF            # 0x18: 32-bit code
chanos_trampoline_gdt_pointer:
    .word chanos_trampoline_gdt_pointer - chanos_trampoline_gdt - 1
    .long 0x8000 + chanos_trampoline_gdt - chanos_trampoline
    .balign 4
    .global chanos_trampoline_page_tables
chanos_trampoline_page_tables: .long 0
chanos_trampoline_next_cpu: .long 1
    .global chanos_trampoline_end
chanos_trampoline_end:

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
    max_cpus = const super::percpu::MAX_CPUS,
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

/// The guard page below the boot CPU's stack.
pub(super) fn stack_guard() -> u64 {
    core::ptr::addr_of!(chanos_stack_guard) as u64
}

/// Every guard page: below the kernel stack and below each fault stack.
pub(super) fn guard_pages() -> [u64; 3] {
    [
        core::ptr::addr_of!(chanos_stack_guard) as u64,
        core::ptr::addr_of!(chanos_double_fault_guard) as u64,
        core::ptr::addr_of!(chanos_page_fault_guard) as u64,
    ]
}

/// The boot CPU's double-fault and page-fault stacks.
pub(super) fn fault_stacks() -> super::cpu::FaultStacks {
    super::cpu::FaultStacks {
        double_fault_top: core::ptr::addr_of!(chanos_double_fault_top) as u64,
        page_fault_top: core::ptr::addr_of!(chanos_page_fault_top) as u64,
    }
}

/// Where the loaded image starts and ends (from the linker script).
pub(super) fn image_range() -> (u64, u64) {
    (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    )
}
