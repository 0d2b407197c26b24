// SPDX-License-Identifier: GPL-2.0

//! The host's check of a TDISP interface report, the same for every platform TSM.
//!
//! Whichever firmware fetched it (the RMM's VDEV_GET_INTERFACE_REPORT, the PSP's
//! REPORT object after TDI_BIND, the emulated firmware), the report must describe the
//! function the host bound: its MMIO ranges within the function's memory BARs, the
//! MSI-X table and PBA where the function has them. The parsing and the rules are the
//! protocol crate's (`tsm_proto::report`); this is where they meet the PCI function.

use crate::{
    pci,
    prelude::*, //
};
use tsm_proto::report::{
    self,
    BarInfo,
    FirstPageUnit,
    InterfaceReport,
    ValidationParams, //
};

/// Validates the interface report `bytes` against `pdev`'s memory BARs and MSI-X
/// layout: `unit` is how the firmware's report counts its first page, `msix_locked`
/// whether the TDI was locked with LOCK_MSIX (the report must then describe the table
/// as locked). `EPROTO` (logged) if the report does not parse, breaks a rule or has no
/// MMIO range.
pub fn validate(
    pdev: &pci::Device,
    bytes: &[u8],
    unit: FirstPageUnit,
    msix_locked: bool,
) -> Result {
    let r = InterfaceReport::parse(bytes).map_err(|e| {
        dev_warn!(pdev, "interface report: {:?}\n", e);
        EPROTO
    })?;
    let mut bars = KVec::new();
    for b in pdev.mem_bars().iter().flatten() {
        bars.push(
            BarInfo {
                index: b.index,
                base: b.start,
                size: b.len,
                is_64bit: b.is_64bit,
                prefetchable: b.prefetchable,
            },
            GFP_KERNEL,
        )?;
    }
    let msix = pdev.msix_layout().map(|m| report::MsixLayout {
        table_bar: m.table_bar,
        table_offset: m.table_offset,
        table_entries: m.table_entries,
        pba_bar: m.pba_bar,
        pba_offset: m.pba_offset,
    });
    let ranges = report::validate(
        &r,
        &ValidationParams {
            bars: &bars,
            mmio_reporting_offset: 0,
            unit,
            msix,
            msix_locked,
        },
    )
    .map_err(|e| {
        dev_warn!(pdev, "interface report refused: {:?}\n", e);
        EPROTO
    })?;
    if ranges.count() == 0 {
        dev_warn!(pdev, "interface report has no MMIO range\n");
        return Err(EPROTO);
    }
    Ok(())
}
