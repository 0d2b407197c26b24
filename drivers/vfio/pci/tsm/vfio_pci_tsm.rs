// SPDX-License-Identifier: GPL-2.0

//! vfio-pci variant driver for PCIe TEE-IO (TDISP) device assignment.
//!
//! While a device interface (TDI) is bound to a confidential VM, the host must not do
//! anything through VFIO that moves the TDI out of the TDISP state the guest expects.
//! This module grows into the variant driver that enforces that; for now it carries the
//! pure config-space write classification ([`config_filter`]) the filter is built on.

use kernel::prelude::*;

mod config_filter;

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
        pr_info!("loaded\n");
        Ok(VfioPciTsm)
    }
}

impl Drop for VfioPciTsm {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
