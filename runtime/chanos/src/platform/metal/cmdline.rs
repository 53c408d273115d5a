//! The command line: the app's arguments and chanos's own options, split
//! once at boot.

use super::{once, virtio};
use alloc::string::String;
use alloc::vec::Vec;

static CMDLINE: once::Once<Vec<String>> = once::Once::new();
static LOG_LEVEL: once::Once<Option<String>> = once::Once::new();
static NET_CONFIG: once::Once<Option<String>> = once::Once::new();

/// Splits the command line into the app's arguments and chanos's own
/// options (`chanos.log=LEVEL`, `chanos.net=dhcp|ADDRESS/PREFIX[,GATEWAY]`).
/// Arguments after a `--` are all the app's, except the device
/// descriptions QEMU appends at the very end (`virtio_mmio.device=`).
pub(super) fn set(cmdline: Option<&'static str>) {
    let mut args = Vec::new();
    let mut log = None;
    let mut net = None;
    let mut devices = Vec::new();
    let mut after_separator = false;
    for word in cmdline.unwrap_or("").split_whitespace() {
        if let Some(device) = word.strip_prefix("virtio_mmio.device=") {
            match virtio::MmioDevice::parse(device) {
                Some(device) => devices.push(device),
                None => log::warn!("cannot read the device description {word:?}"),
            }
            continue;
        }
        match word {
            "--" if !after_separator => {
                after_separator = true;
                args.clear();
            }
            _ if !after_separator && word.starts_with("chanos.log=") => {
                log = Some(String::from(&word["chanos.log=".len()..]));
            }
            _ if !after_separator && word.starts_with("chanos.net=") => {
                net = Some(String::from(&word["chanos.net=".len()..]));
            }
            _ => args.push(String::from(word)),
        }
    }
    CMDLINE.set(args);
    LOG_LEVEL.set(log);
    NET_CONFIG.set(net);
    virtio::DEVICES.set(devices);
}

/// The network configuration from the command line (`chanos.net=`), if any.
pub(crate) fn net_config() -> Option<&'static str> {
    NET_CONFIG.get().and_then(Option::as_deref)
}

pub(crate) fn args() -> Vec<String> {
    CMDLINE.get().cloned().unwrap_or_default()
}

pub(crate) fn log_level() -> Option<String> {
    LOG_LEVEL.get().cloned().flatten()
}
