//! What the boot protocol tells the kernel: QEMU's PVH start info
//! (`hvm_start_info`, boot.md) or uhyve's hermit boot information, read
//! once into [`BootFacts`].

use super::{boot, console};

/// What the boot protocol told us.
pub(super) struct BootFacts {
    /// Usable RAM around the image: (start, end).
    pub(super) ram: (u64, u64),
    /// The command line, as given to the machine.
    pub(super) cmdline: Option<&'static str>,
    /// The TSC frequency, when the boot protocol says it.
    pub(super) tsc_khz: Option<u64>,
    /// How many CPUs uhyve gave the machine (QEMU says through fw_cfg).
    pub(super) uhyve_cpus: Option<u32>,
}

/// Xen's `hvm_start_info`, version 1 (the one QEMU writes): all addresses
/// physical.
#[repr(C)]
struct HvmStartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// One entry of the PVH memory map.
#[repr(C)]
struct HvmMemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

const HVM_START_MAGIC: u32 = 0x336e_c578;
const HVM_MEMMAP_RAM: u32 = 1;

/// Reads QEMU's PVH `hvm_start_info`.
///
/// # Safety
/// `info` is the physical (identity-mapped) address QEMU passed in `ebx`.
pub(super) unsafe fn pvh_facts(info: u64) -> BootFacts {
    // SAFETY: QEMU put an `hvm_start_info` there, in RAM below 1 MiB, which
    // the boot page tables map; it is never written again.
    let start = unsafe { (info as *const HvmStartInfo).read_unaligned() };
    if start.magic != HVM_START_MAGIC {
        console::early_fail("PVH boot information has a bad magic number");
    }
    let cmdline = match start.cmdline_paddr {
        0 => None,
        // SAFETY: a NUL-terminated string from QEMU's `-append`.
        addr => unsafe { c_str(addr as *const u8) },
    };
    let map = start.memmap_paddr as *const HvmMemmapEntry;
    let image_end = boot::image_range().1;
    let mut ram = (image_end, image_end);
    for i in 0..start.memmap_entries as usize {
        // SAFETY: QEMU wrote `memmap_entries` entries there, in mapped RAM.
        let entry = unsafe { map.add(i).read_unaligned() };
        let holds_image = entry.addr <= image_end && image_end < entry.addr + entry.size;
        if entry.kind == HVM_MEMMAP_RAM && holds_image {
            ram = (image_end, entry.addr + entry.size);
        }
    }
    BootFacts {
        ram,
        cmdline,
        tsc_khz: None,
        uhyve_cpus: None,
    }
}

/// Reads uhyve's boot information and device tree.
///
/// # Safety
/// `info` is the physical (identity-mapped) address uhyve passed in `rdi`.
pub(super) unsafe fn uhyve_facts(info: u64) -> BootFacts {
    use hermit_entry::boot_info::{BootInfo, PlatformInfo, RawBootInfo};
    // SAFETY: uhyve placed a `RawBootInfo` there.
    let raw = unsafe { &*(info as *const RawBootInfo) };
    let boot_info = BootInfo::from(*raw);
    let range = &boot_info.hardware_info.phys_addr_range;
    let image_end = boot::image_range().1;
    let ram = (image_end.max(range.start), range.end);
    let (tsc_khz, uhyve_cpus) = match boot_info.platform_info {
        PlatformInfo::Uhyve {
            cpu_freq, num_cpus, ..
        } => (
            cpu_freq.map(|f| u64::from(f.get())),
            u32::try_from(num_cpus.get()).ok(),
        ),
        _ => (None, None),
    };
    let cmdline = boot_info.hardware_info.device_tree.and_then(|fdt| {
        // SAFETY: uhyve wrote a flattened device tree there.
        let tree = unsafe { fdt::Fdt::from_ptr(fdt.get() as *const u8) }.ok()?;
        let bootargs = tree.chosen().bootargs()?;
        // SAFETY: the device tree stays in memory the kernel never reuses
        // (uhyve places it outside the image, below the heap's start).
        Some(unsafe { core::mem::transmute::<&str, &'static str>(bootargs) })
    });
    BootFacts {
        ram,
        cmdline,
        tsc_khz,
        uhyve_cpus,
    }
}

/// A NUL-terminated string at `ptr`, if it is UTF-8.
///
/// # Safety
/// `ptr` points at a NUL-terminated string that lives forever.
pub(super) unsafe fn c_str(ptr: *const u8) -> Option<&'static str> {
    // SAFETY: the caller's promise.
    let bytes = unsafe { core::ffi::CStr::from_ptr(ptr as *const core::ffi::c_char) };
    bytes.to_str().ok()
}
