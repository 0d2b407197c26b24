// SPDX-License-Identifier: GPL-2.0

//! A ready-made emulated platform for tests and the benchmark: an NVMe-like function
//! (BAR0 16 KiB with the MSI-X table and PBA in it, BAR2 8 KiB; PM capability at 0x60,
//! PCI Express capability at 0x80, DOE at 0x100), a DSM with a fresh identity, and a
//! firmware that trusts that identity's root; the commands of its lifecycle, and a
//! command run that must succeed.

use std::time::Duration;

use tsm_proto::report::{BarInfo, FirstPageUnit, MsixLayout};
use tsm_proto::tdisp::{FunctionId, LockFlags};

use crate::certs::{CertError, Identity};
use crate::dsm::{Dsm, DsmConfig, MmioPolicy};
use crate::faults::Faults;
use crate::fw::{BindParams, Command, DevId, Firmware, FwConfig, GuestOp, Output};
use crate::transport::relay::{self, DoeEndpoint};

/// The device's function 0.
pub const DEV: DevId = DevId {
    segment: 0,
    bus: 1,
    devfn: 0,
};

/// The TDI: function 0 itself.
pub const TDI: FunctionId = FunctionId::new(0x0100, None);

/// BAR0 (16 KiB, 64-bit) and BAR2 (8 KiB).
pub fn bars() -> Vec<BarInfo> {
    vec![
        BarInfo {
            index: 0,
            base: 0x1000_0000,
            size: 0x4000,
            is_64bit: true,
            prefetchable: false,
        },
        BarInfo {
            index: 2,
            base: 0x1001_0000,
            size: 0x2000,
            is_64bit: false,
            prefetchable: false,
        },
    ]
}

/// MSI-X: 32 entries at BAR0 + 0x2000, PBA at BAR0 + 0x3000.
pub fn msix() -> MsixLayout {
    MsixLayout {
        table_bar: 0,
        table_offset: 0x2000,
        table_entries: 32,
        pba_bar: 0,
        pba_offset: 0x3000,
    }
}

/// Offset of the test function's PCI Express capability.
pub const PCIE_CAP: u16 = 0x80;
/// Offset of the test function's Power Management capability.
pub const PM_CAP: u16 = 0x60;
/// Offset of the test function's DOE extended capability.
pub const DOE_CAP: u16 = 0x100;

/// A DSM configuration for the test function with `faults`.
pub fn dsm_config(identity: Identity, faults: Faults) -> DsmConfig {
    DsmConfig {
        identity,
        segment: 0,
        bus: DEV.bus,
        devfn: DEV.devfn,
        functions: vec![TDI],
        bars: bars(),
        msix: Some(msix()),
        first_page_unit: FirstPageUnit::PageNumber,
        ide_streams: 1,
        faults,
        pcie_cap: Some(PCIE_CAP),
        pm_cap: Some(PM_CAP),
        doe_cap: Some(DOE_CAP),
        mmio_policy: MmioPolicy::Reject,
    }
}

/// A DSM and the firmware configuration that trusts it.
pub fn platform(faults: Faults) -> Result<(Dsm, FwConfig), CertError> {
    let id = Identity::generate("tsm-dsm test device")?;
    let fw = FwConfig {
        trust_anchor: id.root_der.clone(),
        first_page_unit: FirstPageUnit::PageNumber,
    };
    Ok((Dsm::new(dsm_config(id, faults)), fw))
}

/// BIND parameters for the test TDI.
pub fn bind_params() -> BindParams {
    BindParams {
        dev: DEV,
        tdi: TDI,
        guest_rid: 0x0008,
        lock_flags: LockFlags::NO_FW_UPDATE.union(LockFlags::LOCK_MSIX),
        mmio_reporting_offset: 0,
        bars: bars(),
        msix: Some(msix()),
    }
}

/// CONNECT of the test device, keying selective IDE stream 0.
pub fn connect() -> Command {
    Command::Connect {
        dev: DEV,
        stream_id: 0,
    }
}

/// DISCONNECT of the test device.
pub fn disconnect() -> Command {
    Command::Disconnect { dev: DEV }
}

/// BIND of the test TDI with [`bind_params`].
pub fn bind() -> Command {
    Command::Bind(bind_params())
}

/// UNBIND of the test TDI.
pub fn unbind() -> Command {
    Command::Unbind { dev: DEV, tdi: TDI }
}

/// The guest request `op` about the test TDI.
pub fn guest(op: GuestOp) -> Command {
    Command::GuestReq {
        dev: DEV,
        tdi: TDI,
        op,
    }
}

/// A command that did not succeed, and what the firmware answered instead.
#[derive(Debug, thiserror::Error)]
#[error("{command:?}: {output:?}")]
pub struct CommandFailed {
    /// The command.
    pub command: Command,
    /// The firmware's last output for it.
    pub output: Output,
}

/// Runs `command` through the relay to `ep` (`timeout` per exchange); its payload if it
/// succeeded.
pub fn run_ok(
    fw: &mut Firmware,
    ep: &mut dyn DoeEndpoint,
    command: Command,
    timeout: Duration,
) -> Result<Vec<u8>, CommandFailed> {
    match relay::run(fw, ep, command.clone(), timeout).output {
        Output::Done { payload, .. } => Ok(payload),
        output => Err(CommandFailed { command, output }),
    }
}
