// SPDX-License-Identifier: GPL-2.0

//! The address of a PCI function (segment, bus, device and function) and the encodings of
//! it that PCIe protocols carry: the requester ID and the TDISP/IDE function ID.
//!
//! Nothing here is specific to a TSM: platform TSM backends name functions to their
//! firmware by these encodings, and test facilities find a function by its address.

use crate::{
    bindings,
    pci,
    prelude::*,
    sync::aref::ARef, //
};
use core::ptr::NonNull;

/// The PCI address of a function: segment, bus, device and function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    /// PCI segment (domain).
    pub segment: u16,
    /// Bus number.
    pub bus: u8,
    /// Device << 3 | function.
    pub devfn: u8,
}

impl Address {
    /// The address of `pdev`.
    pub fn of(pdev: &pci::Device) -> Self {
        let raw = pdev.as_raw();
        // SAFETY: `raw` is a valid `struct pci_dev`, whose `bus` is valid while it exists.
        let (domain, bus, devfn) = unsafe {
            (
                bindings::pci_domain_nr_of(raw),
                (*(*raw).bus).number,
                (*raw).devfn,
            )
        };
        Self {
            // Segments are 16 bits wide (PCI Firmware Specification, _SEG).
            segment: domain as u16,
            bus,
            devfn: devfn as u8,
        }
    }

    /// The address of `pdev`'s PCIe root port, if it is below one.
    pub fn root_port_of(pdev: &pci::Device) -> Option<Self> {
        // SAFETY: `pdev` is a valid `struct pci_dev`; the root port found, if any, is an
        // upstream bridge of it, valid while `pdev` is.
        let rp = unsafe { bindings::pcie_find_root_port(pdev.as_raw()) };
        if rp.is_null() {
            return None;
        }
        // SAFETY: `rp` is a valid `struct pci_dev` (above), and `pci::Device` is a
        // transparent wrapper of one.
        Some(Self::of(unsafe { &*rp.cast::<pci::Device>() }))
    }

    /// The Port Number of `pdev`'s PCIe root port (its Link Capabilities bits 31:24,
    /// PCIe r6.x 7.5.3.6), by which some platform firmwares name the root port; `None` if
    /// `pdev` is below no root port or the register cannot be read.
    pub fn root_port_number_of(pdev: &pci::Device) -> Option<u8> {
        // SAFETY: As in `root_port_of()`.
        let rp = unsafe { bindings::pcie_find_root_port(pdev.as_raw()) };
        if rp.is_null() {
            return None;
        }
        let mut v = 0u32;
        // SAFETY: `rp` is a valid `struct pci_dev` (above); `v` is valid for writing a
        // `u32`.
        let rc = unsafe {
            bindings::pcie_capability_read_dword(rp, bindings::PCI_EXP_LNKCAP as c_int, &mut v)
        };
        (rc == 0).then_some((v >> 24) as u8)
    }

    /// The function at this address, if present (a counted reference).
    pub fn device(self) -> Option<ARef<pci::Device>> {
        // SAFETY: Plain lookup; returns a counted reference or NULL.
        let raw = unsafe {
            bindings::pci_get_domain_bus_and_slot(
                c_int::from(self.segment),
                u32::from(self.bus),
                u32::from(self.devfn),
            )
        };
        let raw = NonNull::new(raw)?;
        // SAFETY: `pci_get_domain_bus_and_slot()` returned a reference we now own;
        // `pci::Device` is transparent over `struct pci_dev`.
        Some(unsafe { ARef::from_raw(raw.cast()) })
    }

    /// The requester ID: bus in bits 15:8, device and function in 7:0.
    pub fn rid(&self) -> u16 {
        u16::from(self.bus) << 8 | u16::from(self.devfn)
    }

    /// The TDISP FUNCTION_ID: requester ID in bits 15:0; for a function outside segment 0,
    /// the segment in 23:16 with bit 24 (segment valid) set. Segment 0 is left implicit,
    /// as single-segment DSMs expect.
    pub fn function_id(&self) -> u32 {
        let rid = u32::from(self.rid());
        match self.segment {
            0 => rid,
            s => rid | (u32::from(s) & 0xff) << 16 | 1 << 24,
        }
    }
}
