// SPDX-License-Identifier: GPL-2.0

//! Classification of config-space writes that would break a bound TDI.
//!
//! A TDISP device interface in CONFIG_LOCKED or RUN moves to ERROR when the host clears
//! Memory Space Enable or Bus Master Enable, starts an FLR, moves the function out of D0
//! or changes locked configuration (PCIe Base 6.x §11.2). The rules live in the protocol
//! crate ([`tsm_proto::config::classify_config_write`]); this file adapts them to
//! the kernel. The filter compares the value the device holds with what vfio will write
//! to it after its virtualization (and, for the actions vfio takes on virtualized bits,
//! FLR and power state, with the user's value), on the one copy of the user's buffer
//! that vfio then uses, so a buffer rewritten after the check cannot slip past.

use kernel::prelude::*;
use tsm_proto::config::{classify_config_write, ConfigLayout};
use tsm_proto::state::HostEvents;

/// Host events that writing `new` over `old` at config `offset` would cause.
///
/// `old` and `new` are 1 to 4 bytes within one dword; anything else is `EINVAL`.
pub(crate) fn write_events(
    layout: &ConfigLayout<'_>,
    offset: u16,
    old: &[u8],
    new: &[u8],
) -> Result<HostEvents> {
    classify_config_write(layout, offset, old, new).map_err(|_| EINVAL)
}

/// The end of the type 0 header (`PCI_STD_HEADER_SIZEOF`): the capabilities start here.
const HEADER_END: u16 = 0x40;

/// Device Control (PCIe capability + `PCI_EXP_DEVCTL`).
const DEVCTL: u16 = 0x08;
/// Max_Payload_Size in Device Control's first byte (`PCI_EXP_DEVCTL_PAYLOAD`): vfio
/// virtualizes it and, unlike FLR, Max_Read_Request_Size and the power state, does
/// nothing with the user's value.
const DEVCTL_PAYLOAD: u8 = 0xe0;

/// `user` as vfio acts on it: with Device Control's Max_Payload_Size the device's own
/// (`old`), the one virtualized field it ignores; `None` if malformed (over 4 bytes or
/// not `old`'s length, which the classifier refuses anyway).
fn acted_on(pcie_cap: u16, offset: u16, old: &[u8], user: &[u8]) -> Option<[u8; 4]> {
    if user.len() > 4 || old.len() != user.len() {
        return None;
    }
    let devctl = pcie_cap.checked_add(DEVCTL).filter(|_| pcie_cap != 0);
    let mut acted = [0u8; 4];
    for (i, (a, (&u, &o))) in acted.iter_mut().zip(user.iter().zip(old)).enumerate() {
        // i < 4: the cast is exact.
        *a = if devctl.is_some() && offset.checked_add(i as u16) == devctl {
            (u & !DEVCTL_PAYLOAD) | (o & DEVCTL_PAYLOAD)
        } else {
            u
        };
    }
    Some(acted)
}

/// Whether a bound TDI must refuse a config write of `user` at config `offset` over the
/// device's bytes `old`, when vfio writes `hw` to the device (the user's bits where it
/// passes them through, the device's own where it virtualizes them).
///
/// Judged on `hw`, what reaches the device: any host event (clearing MSE or BME, a
/// change of a locked range). Judged on `user`, in the capabilities only: the actions
/// vfio takes on bits it virtualizes, an FLR (Device Control, the AF control byte), a
/// Max_Read_Request_Size change (vfio calls `pcie_set_readrq()`) and a power state
/// change (PMCSR); Max_Payload_Size, which vfio virtualizes and ignores, is judged on
/// the device's value. Header writes vfio virtualizes (the BARs, the ROM BAR) never
/// reach the device and are not refused.
///
/// The layout is given as the offsets the C glue found at probe (0 for an absent
/// capability): the PCI Express capability, the Power Management capability and the
/// Advanced Features control byte, whose FLR bit is treated as locked configuration
/// (any change of it is refused). Any host event, and any malformed write, refuses.
pub(crate) fn write_refused(
    pcie_cap: u16,
    pm_cap: u16,
    af_ctrl: u16,
    offset: u16,
    old: &[u8],
    hw: &[u8],
    user: &[u8],
) -> bool {
    let af = [(af_ctrl, 1u16)];
    let locked: &[(u16, u16)] = if af_ctrl != 0 { &af } else { &[] };
    let layout = ConfigLayout {
        pcie_cap: (pcie_cap != 0).then_some(pcie_cap),
        pm_cap: (pm_cap != 0).then_some(pm_cap),
        locked,
    };
    let Some(acted) = acted_on(pcie_cap, offset, old, user) else {
        return true;
    };
    let acted = acted.get(..user.len()).unwrap_or(user);
    match (
        write_events(&layout, offset, old, hw),
        write_events(&layout, offset, old, acted),
    ) {
        (Ok(reaches), Ok(requested)) => {
            !reaches.is_empty() || (offset >= HEADER_END && !requested.is_empty())
        }
        _ => true,
    }
}

#[cfg(CONFIG_VFIO_PCI_TSM_KUNIT_TEST)]
#[kunit_tests(vfio_pci_tsm_config_filter)]
mod tests {
    use super::*;
    use kernel::bindings;
    use tsm_proto::state::HostEvent;

    // pci_regs.h values as bindgen emits them (u32); all fit in a byte or u16.
    const MSE: u8 = bindings::PCI_COMMAND_MEMORY as u8;
    const BME: u8 = bindings::PCI_COMMAND_MASTER as u8;
    const INTX_DISABLE: u16 = bindings::PCI_COMMAND_INTX_DISABLE as u16;
    const CMD: u16 = bindings::PCI_COMMAND as u16;
    const FLR: u16 = bindings::PCI_EXP_DEVCTL_BCR_FLR as u16;
    const DEVCTL: u16 = bindings::PCI_EXP_DEVCTL as u16;
    const PMCSR: u16 = bindings::PCI_PM_CTRL as u16;
    // PowerState 11b (the whole field) is D3hot.
    const D3HOT: u16 = bindings::PCI_PM_CTRL_STATE_MASK as u16;

    const PCIE_CAP: u16 = 0x70;
    const PM_CAP: u16 = 0x40;
    const LAYOUT: ConfigLayout<'static> = ConfigLayout {
        pcie_cap: Some(PCIE_CAP),
        pm_cap: Some(PM_CAP),
        locked: &[],
    };

    fn events(offset: u16, old: &[u8], new: &[u8]) -> HostEvents {
        match write_events(&LAYOUT, offset, old, new) {
            Ok(ev) => ev,
            Err(_) => panic!("valid write refused"),
        }
    }

    #[test]
    fn clearing_mse_or_bme_is_seen() {
        let ev = events(CMD, &[MSE | BME], &[BME]);
        assert!(ev.contains(HostEvent::MemorySpaceDisabled));
        assert!(!ev.contains(HostEvent::BusMasterDisabled));
        let ev = events(CMD, &[MSE | BME, 0], &[0, 0]);
        assert!(ev.contains(HostEvent::MemorySpaceDisabled));
        assert!(ev.contains(HostEvent::BusMasterDisabled));
    }

    #[test]
    fn writes_keeping_mse_and_bme_are_harmless() {
        let old = u16::from(MSE | BME).to_le_bytes();
        let new = (u16::from(MSE | BME) | INTX_DISABLE).to_le_bytes();
        assert!(events(CMD, &old, &new).is_empty());
        // Bits that were already clear cannot be cleared again.
        assert!(events(CMD, &[0], &[0]).is_empty());
    }

    #[test]
    fn flr_and_d3hot_are_seen() {
        let ev = events(PCIE_CAP + DEVCTL, &[0, 0], &FLR.to_le_bytes());
        assert!(ev.contains(HostEvent::FunctionLevelReset));
        let ev = events(PM_CAP + PMCSR, &[0, 0], &D3HOT.to_le_bytes());
        assert!(ev.contains(HostEvent::PowerStateNonD0));
    }

    /// `write_refused` for a write vfio passes to the device as the user gave it.
    fn raw_refused(af_ctrl: u16, offset: u16, old: &[u8], new: &[u8]) -> bool {
        write_refused(PCIE_CAP, PM_CAP, af_ctrl, offset, old, new, new)
    }

    #[test]
    fn refusal_follows_the_probed_layout() {
        // Clearing BME and MSE is refused; a harmless command write is not.
        assert!(raw_refused(0, CMD, &[MSE | BME], &[0]));
        assert!(!raw_refused(0, CMD, &[MSE | BME], &[MSE | BME]));
        // FLR through Device Control only where the PCIe capability is.
        assert!(raw_refused(
            0,
            PCIE_CAP + DEVCTL,
            &[0, 0],
            &FLR.to_le_bytes()
        ));
        assert!(!write_refused(
            0,
            PM_CAP,
            0,
            PCIE_CAP + DEVCTL,
            &[0, 0],
            &[0, 0],
            &FLR.to_le_bytes()
        ));
        // The AF control byte: setting its FLR bit (bit 0) is refused, writing 0 is not.
        const AF_CTRL: u16 = 0x55;
        assert!(raw_refused(AF_CTRL, AF_CTRL, &[0], &[1]));
        assert!(!raw_refused(AF_CTRL, AF_CTRL, &[0], &[0]));
        assert!(!raw_refused(0, AF_CTRL, &[0], &[1]));
        // D3hot through PMCSR.
        assert!(raw_refused(
            0,
            PM_CAP + PMCSR,
            &[0, 0],
            &D3HOT.to_le_bytes()
        ));
        // Malformed writes refuse.
        assert!(raw_refused(0, CMD, &[0], &[0, 0]));
    }

    #[test]
    fn judged_on_what_reaches_the_device() {
        const BAR0: u16 = bindings::PCI_BASE_ADDRESS_0 as u16;
        const ROM: u16 = bindings::PCI_ROM_ADDRESS as u16;
        let bar = 0xfe00_0000u32.to_le_bytes();
        // BAR sizing (all ones) and ROM BAR writes: virtualized, the device keeps its own.
        let sizing = [0xffu8; 4];
        assert!(!write_refused(
            PCIE_CAP, PM_CAP, 0, BAR0, &bar, &bar, &sizing
        ));
        assert!(!write_refused(
            PCIE_CAP,
            PM_CAP,
            0,
            ROM,
            &[0; 4],
            &[0; 4],
            &[1, 0, 0, 0]
        ));
        // The same bytes reaching the device (a raw write) are refused.
        assert!(write_refused(
            PCIE_CAP, PM_CAP, 0, BAR0, &bar, &sizing, &sizing
        ));
        // MSE cleared in what reaches the device, whatever the user's value says.
        assert!(write_refused(
            PCIE_CAP,
            PM_CAP,
            0,
            CMD,
            &[MSE | BME],
            &[BME],
            &[MSE | BME]
        ));
        // FLR and D3hot are virtualized bits vfio acts on: the user's value decides.
        let flr = FLR.to_le_bytes();
        assert!(write_refused(
            PCIE_CAP,
            PM_CAP,
            0,
            PCIE_CAP + DEVCTL,
            &[0, 0],
            &[0, 0],
            &flr
        ));
        let d3 = D3HOT.to_le_bytes();
        assert!(write_refused(
            PCIE_CAP,
            PM_CAP,
            0,
            PM_CAP + PMCSR,
            &[0, 0],
            &[0, 0],
            &d3
        ));
        // A user value of the wrong length refuses in the header too.
        assert!(write_refused(PCIE_CAP, PM_CAP, 0, CMD, &[0], &[0], &[0, 0]));
    }

    #[test]
    fn locked_device_control_fields() {
        const RELAX: u16 = bindings::PCI_EXP_DEVCTL_RELAX_EN as u16;
        const PAYLOAD: u16 = bindings::PCI_EXP_DEVCTL_PAYLOAD as u16;
        const READRQ: u16 = bindings::PCI_EXP_DEVCTL_READRQ as u16;
        const CERE: u16 = bindings::PCI_EXP_DEVCTL_CERE as u16;
        let at = PCIE_CAP + DEVCTL;
        let old = (RELAX | 0x2000).to_le_bytes();
        // Relaxed Ordering cleared in what reaches the device: refused
        let no_ro = 0x2000u16.to_le_bytes();
        assert!(raw_refused(0, at, &old, &no_ro));
        // An error reporting enable is the host's
        let cere = (RELAX | 0x2000 | CERE).to_le_bytes();
        assert!(!raw_refused(0, at, &old, &cere));
        // Max_Payload_Size: virtualized and ignored by vfio, not refused
        let mps = (RELAX | 0x2000 | (PAYLOAD & 0x0020)).to_le_bytes();
        assert!(!write_refused(PCIE_CAP, PM_CAP, 0, at, &old, &old, &mps));
        // Max_Read_Request_Size: virtualized, but vfio sets it: refused
        let mrrs = (RELAX | (READRQ & 0x1000)).to_le_bytes();
        assert!(write_refused(PCIE_CAP, PM_CAP, 0, at, &old, &old, &mrrs));
    }

    #[test]
    fn malformed_writes_are_einval() {
        assert!(write_events(&LAYOUT, CMD, &[0], &[0, 0]).is_err());
        assert!(write_events(&LAYOUT, 3, &[0, 0], &[0, 0]).is_err());
        assert!(write_events(&LAYOUT, CMD, &[], &[]).is_err());
    }
}
