// SPDX-License-Identifier: GPL-2.0

//! vfio-pci variant driver for PCIe TEE-IO (TDISP) device assignment.
//!
//! While a device interface (TDI) is bound to a confidential VM, the host must not do
//! anything through VFIO that moves the TDI out of the TDISP state the guest expects.
//! This crate is the module entry and the decision of which config-space writes would
//! do that ([`config_filter`], on the protocol crate's rules). The vfio_pci_core glue
//! (the `vfio_device_ops` table, probe, ioctls, the device set lock) is C in
//! `vfio_pci_tsm_core.c` of the same module: a variant driver's drvdata must be its
//! `struct vfio_pci_core_device`, which Rust's `kernel::pci::Driver` cannot host, and
//! 7.2 has no Rust abstraction of vfio. The two halves meet in `vfio_pci_tsm.h`.

use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

mod config_filter;

extern "C" {
    // In vfio_pci_tsm_core.c: register / unregister the vfio-pci-tsm PCI driver.
    fn vfio_pci_tsm_driver_register() -> c_int;
    fn vfio_pci_tsm_driver_unregister();
}

/// The config-write filter for the C glue (declared in `vfio_pci_tsm.h`).
///
/// # Safety
///
/// `old`, `hw` and `user` are each valid for reads of `len` bytes (or `len` is out of
/// range, in which case they are not read).
#[no_mangle]
unsafe extern "C" fn vfio_pci_tsm_write_refused(
    pcie_cap: u16,
    pm_cap: u16,
    af_ctrl: u16,
    pos: u16,
    old: *const u8,
    hw: *const u8,
    user: *const u8,
    len: usize,
) -> bool {
    if old.is_null() || hw.is_null() || user.is_null() || len == 0 || len > 4 {
        return true;
    }
    // SAFETY: non-null and valid for `len` (1..=4) bytes by the function's contract;
    // the C caller passes three on-stack arrays of 4 bytes.
    let (old, hw, user) = unsafe {
        (
            core::slice::from_raw_parts(old, len),
            core::slice::from_raw_parts(hw, len),
            core::slice::from_raw_parts(user, len),
        )
    };
    config_filter::write_refused(pcie_cap, pm_cap, af_ctrl, pos, old, hw, user)
}

module! {
    type: VfioPciTsm,
    name: "vfio_pci_tsm",
    authors: ["tsm-vfio developers"],
    description: "VFIO PCI variant driver for TEE-IO (TDISP) device assignment",
    license: "GPL",
}

struct VfioPciTsm;

impl kernel::Module for VfioPciTsm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: called once at module load; the driver is unregistered in `drop`.
        to_result(unsafe { vfio_pci_tsm_driver_register() })?;
        pr_info!("loaded\n");
        Ok(VfioPciTsm)
    }
}

impl Drop for VfioPciTsm {
    fn drop(&mut self) {
        // SAFETY: `init` registered the driver (a module whose init failed is never
        // dropped).
        unsafe { vfio_pci_tsm_driver_unregister() };
        pr_info!("unloaded\n");
    }
}
