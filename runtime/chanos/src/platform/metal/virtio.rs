//! The virtio-net device (virtio-mmio, as QEMU's microvm provides it),
//! driven by the `virtio-drivers` crate and offered to smoltcp as a
//! `phy::Device`.
//!
//! QEMU tells the image where its virtio-mmio devices are by appending
//! `virtio_mmio.device=<size>@<base>:<irq>` to the command line (with
//! `-M microvm,acpi=off`); `set_cmdline` collects those. The device's
//! interrupt line is routed through the I/O APIC to `interrupts::DEVICE_VECTOR`;
//! the handler acknowledges the device and wakes the network task, and does
//! nothing else: all packet work happens in that task.

use super::{apic, interrupts, ioapic, once};
use crate::atomic_waker::AtomicWaker;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::RefCell;
use core::ptr::NonNull;
use core::task::Waker;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

/// Descriptors per virtqueue.
const QUEUE_SIZE: usize = 64;
/// Receive buffer size: an Ethernet frame of 1514 bytes and the virtio header.
const RX_BUFFER: usize = 2048;
/// virtio-mmio registers the interrupt handler uses (virtio 1.x, 4.2.2).
const INTERRUPT_STATUS: u64 = 0x60;
const INTERRUPT_ACK: u64 = 0x64;

/// One virtio-mmio device QEMU announced.
#[derive(Clone, Copy, Debug)]
pub(super) struct MmioDevice {
    pub(super) base: u64,
    pub(super) size: u64,
    pub(super) irq: u8,
}

impl MmioDevice {
    /// Parses QEMU's `<size>@<base>:<irq>` (size in bytes or with K).
    pub(super) fn parse(text: &str) -> Option<MmioDevice> {
        let (size, rest) = text.split_once('@')?;
        let (base, irq) = rest.split_once(':')?;
        let size = match size.strip_suffix(['K', 'k']) {
            Some(k) => k.parse::<u64>().ok()? * 1024,
            None => size.parse().ok()?,
        };
        let base = u64::from_str_radix(base.strip_prefix("0x")?, 16).ok()?;
        let irq = irq.split(':').next()?.parse().ok()?;
        Some(MmioDevice { base, size, irq })
    }
}

pub(super) static DEVICES: once::Once<Vec<MmioDevice>> = once::Once::new();

/// The register page of the network device, for the interrupt handler.
static NET_REGISTERS: once::Once<u64> = once::Once::new();
/// Whom the interrupt wakes: the network task.
static NET_WAKER: AtomicWaker = AtomicWaker::new();

/// Identity mapping: virtual addresses are physical ones.
struct IdentityHal;

// SAFETY: DMA memory comes from the heap, which is identity-mapped RAM, so
// the addresses given to the device are the physical addresses of memory
// that stays allocated (and unmoved) until `dma_dealloc`.
unsafe impl Hal for IdentityHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("DMA layout");
        // SAFETY: the layout has a non-zero size (virtio-drivers asks for pages >= 1).
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| alloc::alloc::handle_alloc_error(layout));
        (ptr.as_ptr() as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("DMA layout");
        // SAFETY: `vaddr` came from `dma_alloc` with this many pages (the caller's promise).
        unsafe { alloc::alloc::dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).expect("MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

type Net = VirtIONet<IdentityHal, MmioTransport<'static>, QUEUE_SIZE>;

/// The network card, as smoltcp sees it.
pub(crate) struct NetDevice {
    net: RefCell<Net>,
}

impl core::fmt::Debug for NetDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NetDevice")
    }
}

/// Opens the first virtio-net device QEMU announced and routes its interrupt.
pub(crate) fn open_net_device() -> Option<NetDevice> {
    for device in DEVICES.get().map(Vec::as_slice).unwrap_or_default() {
        let header = NonNull::new(device.base as *mut VirtIOHeader)?;
        // SAFETY: QEMU announced a virtio-mmio device of `size` bytes at
        // `base`, which `paging` maps uncached; nothing else uses it.
        let Ok(transport) = (unsafe { MmioTransport::new(header, device.size as usize) }) else {
            continue;
        };
        if transport.device_type() != DeviceType::Network {
            continue;
        }
        let net = match Net::new(transport, RX_BUFFER) {
            Ok(net) => net,
            Err(error) => {
                log::warn!("virtio-net at {:#x}: {error:?}", device.base);
                continue;
            }
        };
        NET_REGISTERS.set(device.base);
        let vector = interrupts::register_device(on_interrupt);
        ioapic::route(device.irq, vector, apic::id());
        return Some(NetDevice {
            net: RefCell::new(net),
        });
    }
    None
}

/// The interrupt handler's work: acknowledge the device (so its line drops
/// and the next event raises it again) and wake the network task.
fn on_interrupt() {
    if let Some(&base) = NET_REGISTERS.get() {
        // SAFETY: the device's register page (see `open_net_device`);
        // reading the status and writing it back acknowledges it.
        unsafe {
            let status = ((base + INTERRUPT_STATUS) as *const u32).read_volatile();
            ((base + INTERRUPT_ACK) as *mut u32).write_volatile(status);
        }
    }
    NET_WAKER.wake();
}

impl NetDevice {
    /// The card's MAC address.
    pub(crate) fn mac(&self) -> [u8; 6] {
        self.net.borrow().mac_address()
    }

    /// Makes the device's next interrupt wake `waker`.
    pub(crate) fn wake_on_interrupt(&self, waker: &Waker) {
        NET_WAKER.register(waker);
    }
}

pub(crate) struct RxToken<'a> {
    buffer: RxBuffer,
    net: &'a RefCell<Net>,
}

pub(crate) struct TxToken<'a> {
    net: &'a RefCell<Net>,
}

impl phy::Device for NetDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(
        &mut self,
        _now: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let buffer = self.net.get_mut().receive().ok()?;
        Some((
            RxToken {
                buffer,
                net: &self.net,
            },
            TxToken { net: &self.net },
        ))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        self.net
            .get_mut()
            .can_send()
            .then_some(TxToken { net: &self.net })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps.max_burst_size = Some(QUEUE_SIZE / 2);
        caps
    }
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let result = f(self.buffer.packet());
        if let Err(error) = self.net.borrow_mut().recycle_rx_buffer(self.buffer) {
            log::error!("virtio-net: cannot reuse a receive buffer: {error:?}");
        }
        result
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut net = self.net.borrow_mut();
        let mut buffer = net.new_tx_buffer(len);
        let result = f(buffer.packet_mut());
        // `send` waits for the device to take the frame: QEMU does so at
        // once, in the notify that `send` makes.
        if let Err(error) = net.send(buffer) {
            log::warn!("virtio-net: frame dropped: {error:?}");
        }
        result
    }
}
