// SPDX-License-Identifier: GPL-2.0

//! Classification of host writes to a TDI's PCI config space by the TDISP host events
//! they would cause (PCIe Base 6.x §11.2.6 "TDI configuration", §11.4.3, §11.4.9), for
//! the kernel's vfio config filter: the filter refuses a write whose events would move
//! a locked TDI to ERROR. The state machine that consumes the events is in `state`.

use super::codec::{Error, Result};
use super::state::{HostEvent, HostEvents};

/// Where the registers the classifier watches live in a type 0 function's config
/// space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigLayout<'a> {
    /// Offset of the PCI Express capability, if present (Device Control at +8).
    pub pcie_cap: Option<u16>,
    /// Offset of the Power Management capability, if present (PMCSR at +4).
    pub pm_cap: Option<u16>,
    /// Further locked byte ranges `(offset, length)` (e.g. resizable BAR control, IDE
    /// stream registers, SR-IOV VF BARs); any change is a
    /// [`HostEvent::LockedConfigChange`].
    pub locked: &'a [(u16, u16)],
}

/// Command register (PCI header offset `04h`).
const COMMAND: u32 = 0x04;
const CMD_MEMORY: u8 = 1 << 1;
const CMD_MASTER: u8 = 1 << 2;
/// Base address registers `10h`-`27h` and the expansion ROM BAR `30h`-`33h`.
const BARS: (u32, u32) = (0x10, 0x28);
const ROM: (u32, u32) = (0x30, 0x34);
/// Device Control, "Initiate Function Level Reset" is bit 15, i.e. bit 7 of byte +9.
const DEVCTL_FLR_BYTE: u32 = 0x09;
const DEVCTL_FLR_BIT: u8 = 1 << 7;
/// PMCSR at PM capability + 4, PowerState in bits 1:0.
const PMCSR: u32 = 0x04;
/// The locked fields of Device Control (PCIe capability + 8) and Device Control 2
/// (+28h), as `(byte offset in the capability, bit mask)`: the fields that set the
/// attributes, tags and sizes of the TLPs the function sends. Device Control: Enable
/// Relaxed Ordering (4), Max_Payload_Size (7:5), Extended Tag Field Enable (8),
/// Phantom Functions Enable (9), Enable No Snoop (11), Max_Read_Request_Size (14:12).
/// Device Control 2: AtomicOp Requester Enable (6), IDO Request Enable (8), IDO
/// Completion Enable (9), 10-Bit Tag Requester Enable (12).
///
/// Unconfirmed: this is our reading of the TDISP table of registers a device locks
/// (PCIe Base 6.x §11.2.6); the table's text is not in the sources this project could
/// consult, and the list may be longer (or shorter) there. The error reporting enables
/// (Device Control 3:0) are taken as the host's.
pub const DEVCTL_LOCKED: [(u16, u8); 4] = [(0x08, 0xf0), (0x09, 0x7b), (0x28, 0x40), (0x29, 0x13)];

/// Classifies a config-space write of `new` at `offset` over the current contents
/// `old` (same length, 1 to 4 bytes, not crossing a dword) into the host events it
/// would cause.
///
/// Recognised: clearing Memory Space Enable or Bus Master Enable in the command
/// register; writing 1 to Initiate Function Level Reset in Device Control; changing
/// PMCSR PowerState to D1/D2/D3hot; any change to a BAR, the expansion ROM BAR, a
/// locked field of Device Control or Device Control 2 ([`DEVCTL_LOCKED`]) or a range
/// in [`ConfigLayout::locked`]. A write with mismatched lengths, more than 4
/// bytes, or crossing a dword boundary is an [`Error::InvalidField`].
pub fn classify_config_write(
    layout: &ConfigLayout<'_>,
    offset: u16,
    old: &[u8],
    new: &[u8],
) -> Result<HostEvents> {
    let len = new.len();
    if len != old.len() || len == 0 || len > 4 || (usize::from(offset) % 4) + len > 4 {
        return Err(Error::InvalidField {
            field: "config write",
            value: u64::from(offset),
        });
    }
    let mut ev = HostEvents::empty();
    let pcie = layout.pcie_cap.map(u32::from);
    let pm = layout.pm_cap.map(u32::from);
    for (i, (&o, &n)) in old.iter().zip(new.iter()).enumerate() {
        // offset <= 0xffff and i < 4: no overflow in u32.
        let a = u32::from(offset) + i as u32;
        if a == COMMAND {
            if o & CMD_MEMORY != 0 && n & CMD_MEMORY == 0 {
                ev.insert(HostEvent::MemorySpaceDisabled);
            }
            if o & CMD_MASTER != 0 && n & CMD_MASTER == 0 {
                ev.insert(HostEvent::BusMasterDisabled);
            }
        }
        if o != n && ((BARS.0..BARS.1).contains(&a) || (ROM.0..ROM.1).contains(&a)) {
            ev.insert(HostEvent::LockedConfigChange);
        }
        if let Some(p) = pcie {
            if a == p + DEVCTL_FLR_BYTE && n & DEVCTL_FLR_BIT != 0 {
                ev.insert(HostEvent::FunctionLevelReset);
            }
            let locked = DEVCTL_LOCKED
                .iter()
                .any(|&(b, m)| a == p + u32::from(b) && (o ^ n) & m != 0);
            if locked {
                ev.insert(HostEvent::LockedConfigChange);
            }
        }
        if let Some(p) = pm {
            if a == p + PMCSR && (o & 0x3) != (n & 0x3) && (n & 0x3) != 0 {
                ev.insert(HostEvent::PowerStateNonD0);
            }
        }
        if o != n
            && layout.locked.iter().any(|&(start, l)| {
                let s = u32::from(start);
                a >= s && a < s + u32::from(l)
            })
        {
            ev.insert(HostEvent::LockedConfigChange);
        }
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_register_clear_is_classified() {
        let l = ConfigLayout::default();
        let ev = classify_config_write(&l, 4, &[0x06, 0], &[0x00, 0]).unwrap();
        assert!(ev.contains(HostEvent::MemorySpaceDisabled));
        assert!(ev.contains(HostEvent::BusMasterDisabled));
        assert!(classify_config_write(&l, 6, &[0, 0, 0], &[0, 0, 0]).is_err());
    }

    #[test]
    fn locked_device_control_fields_are_classified() {
        let l = ConfigLayout {
            pcie_cap: Some(0x80),
            ..ConfigLayout::default()
        };
        let change = |off: u16, old: u16, new: u16| {
            classify_config_write(&l, off, &old.to_le_bytes(), &new.to_le_bytes()).unwrap()
        };
        let locked = |ev: HostEvents| ev.contains(HostEvent::LockedConfigChange);
        // Relaxed Ordering, No Snoop, MRRS in Device Control; IDO in Device Control 2
        assert!(locked(change(0x88, 0x2810, 0x2800)));
        assert!(locked(change(0x88, 0x2810, 0x2010)));
        assert!(locked(change(0x88, 0x2810, 0x3810)));
        assert!(locked(change(0xa8, 0x0000, 0x0100)));
        // The error reporting enables, and Device Control 2's Completion Timeout, are not
        assert!(change(0x88, 0x2810, 0x281f).is_empty());
        assert!(change(0xa8, 0x0000, 0x0015).is_empty());
        // Without the capability, nothing is known there
        let ev = classify_config_write(&ConfigLayout::default(), 0x88, &[0x10], &[0]).unwrap();
        assert!(ev.is_empty());
    }
}
