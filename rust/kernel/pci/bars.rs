// SPDX-License-Identifier: GPL-2.0

//! Where a PCI function's resources are: its memory BARs and the placement of its MSI-X
//! table and PBA.
//!
//! Callers that describe a function to someone else need this: a platform TSM hands the
//! BARs to its firmware at bind, and checks a TDISP interface report against the BARs and
//! the MSI-X layout. Nothing here maps or touches the resources.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)

use crate::{
    bindings,
    pci::Device,
    prelude::*, //
};

/// A memory BAR of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemBar {
    /// BAR index, 0-5.
    pub index: u8,
    /// Host physical base.
    pub start: u64,
    /// Size in bytes.
    pub len: u64,
    /// A 64-bit BAR.
    pub is_64bit: bool,
    /// A prefetchable BAR.
    pub prefetchable: bool,
}

/// The MSI-X table and PBA placement of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixLayout {
    /// Table Size + 1.
    pub table_entries: u16,
    /// Table BIR.
    pub table_bar: u8,
    /// PBA BIR.
    pub pba_bar: u8,
    /// Table offset within its BAR.
    pub table_offset: u32,
    /// PBA offset within its BAR.
    pub pba_offset: u32,
}

/// `PCI_CAP_ID_MSIX`.
const CAP_ID_MSIX: c_int = 0x11;
/// `PCI_MSIX_FLAGS`, `PCI_MSIX_TABLE` and `PCI_MSIX_PBA`: offsets in the capability.
const MSIX_FLAGS: c_int = 2;
const MSIX_TABLE: c_int = 4;
const MSIX_PBA: c_int = 8;
/// `PCI_MSIX_FLAGS_QSIZE` and `PCI_MSIX_TABLE_BIR` (also the PBA's BIR).
const MSIX_QSIZE: u16 = 0x7ff;
const MSIX_BIR: u32 = 7;

impl Device {
    /// The assigned memory BARs of the function, by index.
    pub fn mem_bars(&self) -> [Option<MemBar>; 6] {
        let mut out = [None; 6];
        for (i, slot) in out.iter_mut().enumerate() {
            // SAFETY: By its type invariant `self.as_raw` is a valid pointer to a
            // `struct pci_dev`, and `i` is a standard BAR index.
            let flags = unsafe { bindings::pci_resource_flags(self.as_raw(), i as c_int) } as u64;
            if flags & u64::from(bindings::IORESOURCE_MEM) == 0 {
                continue;
            }
            let (Ok(start), Ok(len)) = (self.resource_start(i as u32), self.resource_len(i as u32))
            else {
                continue;
            };
            if len == 0 {
                continue;
            }
            *slot = Some(MemBar {
                index: i as u8,
                start,
                len,
                is_64bit: flags & u64::from(bindings::IORESOURCE_MEM_64) != 0,
                prefetchable: flags & u64::from(bindings::IORESOURCE_PREFETCH) != 0,
            });
        }
        out
    }

    /// The MSI-X layout of the function, if it has the capability and its registers read.
    pub fn msix_layout(&self) -> Option<MsixLayout> {
        let raw = self.as_raw();
        // SAFETY: By its type invariant `self.as_raw` is a valid pointer to a
        // `struct pci_dev`.
        let pos = c_int::from(unsafe { bindings::pci_find_capability(raw, CAP_ID_MSIX) });
        if pos == 0 {
            return None;
        }
        let mut flags = 0u16;
        let mut table = 0u32;
        let mut pba = 0u32;
        // SAFETY: `raw` is valid (as above) and the out pointers are valid for their sizes.
        let rc = unsafe {
            bindings::pci_read_config_word(raw, pos + MSIX_FLAGS, &mut flags)
                | bindings::pci_read_config_dword(raw, pos + MSIX_TABLE, &mut table)
                | bindings::pci_read_config_dword(raw, pos + MSIX_PBA, &mut pba)
        };
        if rc != 0 {
            return None;
        }
        Some(MsixLayout {
            table_entries: (flags & MSIX_QSIZE) + 1,
            table_bar: (table & MSIX_BIR) as u8,
            pba_bar: (pba & MSIX_BIR) as u8,
            table_offset: table & !MSIX_BIR,
            pba_offset: pba & !MSIX_BIR,
        })
    }
}
