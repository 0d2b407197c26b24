// SPDX-License-Identifier: GPL-2.0

//! vfio-pci variant driver for PCIe TEE-IO (TDISP) device assignment.
//!
//! While a device interface (TDI) is bound to a confidential VM, the host must not do
//! anything through VFIO that moves the TDI out of the TDISP state the guest expects.
//! This module grows into the variant driver that enforces that; for now it carries the
//! config-space write classification ([`config_filter`]) the filter is built on.

use kernel::prelude::*;

mod config_filter;

// The protocol crate is pure `no_std` Rust shared with the host tools; it is compiled
// into this module as a submodule. Its crate-level attributes do not apply here, and
// the parts of its public API this module does not use are neither reachable nor live.
#[allow(unused, unreachable_pub)]
#[path = "../../../../rust/tsm_proto/src/lib.rs"]
mod tsm_proto;

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
