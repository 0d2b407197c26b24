// SPDX-License-Identifier: GPL-2.0

//! VDEV calls: CREATE, GET_STATE, COMMUNICATE, LOCK, START, GET_INTERFACE_REPORT,
//! GET_MEASUREMENTS, UNLOCK, ABORT, DESTROY.
//!
//! A VDEV binds one TDI (`tdi_id`, the function's RID) of a READY endpoint to a Realm
//! under a guest-visible ID (`vdev_id`). The rules are `tsm_proto`'s [`Vdev`] machine
//! plus the checks of VDEV_CREATE's parameters; the operations run the software
//! firmware's TDISP requester over the PDEV's session:
//!
//! | command | engine op | after the last communicate |
//! |---|---|---|
//! | CREATE | none | UNLOCKED |
//! | LOCK | GET_VERSION, GET_CAPABILITIES, LOCK_INTERFACE (the RMM's lock nonce) | LOCKED |
//! | START | START_INTERFACE with that nonce | STARTED |
//! | GET_INTERFACE_REPORT | GET_DEVICE_INTERFACE_REPORT until whole, each portion cached (object 3) | unchanged |
//! | GET_MEASUREMENTS | secured SPDM GET_MEASUREMENTS of all blocks, signed, the params page's nonce (and RawBitStreamRequested with its raw flag); the MEASUREMENTS response cached (object 2) | unchanged |
//! | UNLOCK | STOP_INTERFACE | UNLOCKED |
//!
//! The RMM does not validate the report: the host reads it from its cache and the
//! Realm checks it. The measurements' signature the model does verify, in the session:
//! the session record keeps the device key and the session's measurement transcript
//! (`fw::meas_op`), and a signature that does not verify fails the operation (the VDEV
//! goes to ERROR). Unconfirmed: that TF-RMM verifies it too (libspdm, its requester,
//! does when it asked for a signature). Either way the Realm has to check what it reads
//! from the host's cache, as for the report. Device memory mappings (RTT_DEV_MAP) are
//! not modelled, so UNLOCK never finds a mapped granule.
//!
//! GET_MEASUREMENTS does not look at the VDEV's RMI state (fact sheet §4; TF-RMM
//! `smc_vdev_get_measurements`): it needs the PDEV's own communication idle
//! (ERROR_DEVICE) and, in the model, the VDEV's too (ERROR_DEVICE, `tsm_proto`'s
//! [`Vdev`] machine); another VDEV of the PDEV in the middle of an operation is BUSY,
//! as for every VDEV command. Unconfirmed: the nonce. TF-RMM reads only the raw flag
//! of the params page and leaves the nonce to libspdm; the model sends the page's
//! nonce, so that the host (and the Realm) know what the signature covers. Flag bits
//! other than bit 0 are ignored, as TF-RMM does. Also unconfirmed: TF-RMM answers
//! ERROR_DEVICE for a VDEV of another Realm or PDEV; the model gives ERROR_INPUT, as
//! for its other VDEV calls. The attestation nonces TF-RMM refreshes when an
//! operation reaches idle (lock, report and measurement nonces) belong to the Realm's
//! side and are not modelled.
//!
//! Unconfirmed: the TDISP lock flags TF-RMM asks for (the model asks NO_FW_UPDATE and
//! LOCK_MSIX, MMIO reporting offset 0); the statuses of a `tdi_id` above 0xFFFF, of a
//! `tdi_id` already bound on the PDEV and of a `vdev_id` already used in the Realm (the
//! model refuses each with ERROR_INPUT).

use log::info;
use tsm_proto::rmi::{
    ranges_overlap, CommOutcome, MeasureParams, OrderError, PdevCall, Status, Vdev, VdevCall,
    VdevParams,
};
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::{FunctionId, LockFlags, LockInterfaceParams};

use super::super::meas_op::MeasOp;
use super::super::tdisp_op::{TdispKind, TdispOp};
use super::super::{BindParams, DevId, Tdi};
use super::comm::{self, Conversation, Engine, Progress};
use super::granule::GranuleState;
use super::{busy, input, Reply, Ret, Rmm};
use crate::fw::rmm::memory::FwMemory;

/// The model's record of one VDEV.
pub(super) struct VdevRec {
    /// The RMI state machine.
    pub(super) core: Vdev,
    /// The PDEV it belongs to.
    pub(super) pdev: u64,
    /// The Realm descriptor.
    pub(super) rd: u64,
    /// The creation parameters.
    pub(super) params: VdevParams,
    /// The TDI.
    pub(super) tdi: FunctionId,
    /// The device operation in progress.
    pub(super) conv: Option<Conversation>,
}

/// A VDEV command that starts a device operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    /// VDEV_LOCK.
    Lock,
    /// VDEV_START.
    Start,
    /// VDEV_GET_INTERFACE_REPORT.
    Report,
    /// VDEV_GET_MEASUREMENTS with its measure-params page.
    Measurements {
        /// PA of the NS page ([`MeasureParams`]).
        params: u64,
    },
    /// VDEV_UNLOCK.
    Unlock,
}

/// The TDISP lock flags the model asks for.
const LOCK_FLAGS: LockFlags = LockFlags::NO_FW_UPDATE.union(LockFlags::LOCK_MSIX);

impl Rmm {
    /// Checks that `vdev` is a VDEV of the PDEV `pdev` in the Realm `rd`.
    fn vdev_of(&self, rd: u64, pdev: u64, vdev: u64) -> Result<&VdevRec, OrderError> {
        if !matches!(self.granules.state(rd), Some(GranuleState::Rd { .. })) {
            return Err(input("rd is not a Realm descriptor"));
        }
        if !self.pdevs.contains_key(&pdev) {
            return Err(input("not a PDEV"));
        }
        self.vdevs
            .get(&vdev)
            .filter(|v| v.pdev == pdev && v.rd == rd)
            .ok_or(input("not a VDEV of this PDEV and Realm"))
    }

    /// VDEV_CREATE(rd, pdev, vdev, params).
    pub(super) fn vdev_create(
        &mut self,
        rd: u64,
        pdev: u64,
        vdev: u64,
        params: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        match self.granules.state(rd) {
            Some(GranuleState::Rd { da: true }) => {}
            Some(GranuleState::Rd { da: false }) => {
                return Err(OrderError::new(
                    Status::ErrorRealm,
                    "the Realm has no device assignment",
                ))
            }
            _ => return Err(input("rd is not a Realm descriptor")),
        }
        let p = self.pdevs.get(&pdev).ok_or(input("not a PDEV"))?;
        self.granules.require_delegated(vdev)?;
        let page = self.ns_page(mem, params)?;
        let params = VdevParams::decode(&page)?;
        params.check(u64::from(p.params.rid_base), u64::from(p.params.rid_top))?;
        let rid = u16::try_from(params.tdi_id).map_err(|_| input("tdi_id above 0xFFFF"))?;
        let tdi = FunctionId::new(rid, None);
        for v in self.vdevs.values() {
            if v.pdev == pdev
                && (v.tdi == tdi
                    || ranges_overlap(v.params.ranges.as_slice(), params.ranges.as_slice()))
            {
                return Err(input("TDI or ranges already bound on the PDEV"));
            }
            if v.rd == rd && v.params.vdev_id == params.vdev_id {
                return Err(input("vdev_id already used in the Realm"));
            }
        }
        if self.pdev_busy(pdev, None) {
            return Err(busy("a device operation of the PDEV is in progress"));
        }
        let connected = p
            .stream
            .and_then(|h| self.streams.get(&h))
            .is_some_and(|s| s.core.serves_vdevs());
        let max = 1u32
            .checked_shl(u32::from(self.cfg.max_vdevs_order))
            .unwrap_or(u32::MAX);
        let v = Vdev::create(&p.core, max, connected)?;
        let pcore = p.core.on(PdevCall::VdevCreated)?;
        self.granules.claim(vdev, GranuleState::Vdev { pdev })?;
        let guest_rid =
            u32::try_from(params.vdev_id).map_err(|_| input("vdev_id above 32 bits"))?;
        let Some(p) = self.pdevs.get_mut(&pdev) else {
            return Err(input("not a PDEV"));
        };
        p.core = pcore;
        let id = p.params.pdev_id;
        let lock = LockInterfaceParams {
            flags: LOCK_FLAGS,
            default_stream_id: p.dev.stream_id,
            mmio_reporting_offset: 0,
            bind_p2p_address_mask: 0,
        };
        p.dev.tdis.insert(
            tdi.to_u32(),
            Tdi {
                state: TdiState::ConfigUnlocked,
                params: BindParams {
                    dev: DevId {
                        segment: 0,
                        bus: (id >> 8) as u8,
                        devfn: id as u8,
                    },
                    tdi,
                    guest_rid,
                    lock_flags: LOCK_FLAGS,
                    mmio_reporting_offset: 0,
                    bars: Vec::new(),
                    msix: None,
                },
                lock,
                nonce: None,
            },
        );
        self.vdevs.insert(
            vdev,
            VdevRec {
                core: v,
                pdev,
                rd,
                params,
                tdi,
                conv: Some(Conversation::quiet()),
            },
        );
        info!(
            "rmm: VDEV {vdev:#x}: TDI {tdi:?} as guest ID {:#x}",
            params.vdev_id
        );
        Ok(Ret::ok())
    }

    /// VDEV_GET_STATE(vdev): X1 = the state.
    pub(super) fn vdev_get_state(&self, vdev: u64) -> Reply {
        let v = self.vdevs.get(&vdev).ok_or(input("not a VDEV"))?;
        Ok(Ret::ok1(u64::from(v.core.state.to_u8())))
    }

    /// VDEV_LOCK / _START / _GET_INTERFACE_REPORT / _UNLOCK(rd, pdev, vdev) and
    /// VDEV_GET_MEASUREMENTS(rd, pdev, vdev, params). The checks, in order: the objects
    /// (ERROR_INPUT), the state machine (ERROR_DEVICE, or ERROR_GRANULE), another
    /// operation on the PDEV (BUSY), GET_MEASUREMENTS' params page (an NS page the
    /// conduit reaches, else ERROR_INPUT; TF-RMM also reads it last).
    pub(super) fn vdev_command(
        &mut self,
        cmd: Command,
        rd: u64,
        pdev: u64,
        vdev: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let v = self.vdev_of(rd, pdev, vdev)?;
        let call = match cmd {
            Command::Lock => VdevCall::Lock,
            Command::Start => VdevCall::Start,
            Command::Report => VdevCall::GetInterfaceReport,
            Command::Measurements { .. } => VdevCall::GetMeasurements {
                pdev_comm_idle: self.pdevs.get(&pdev).is_some_and(|p| p.core.comm_idle()),
            },
            Command::Unlock => VdevCall::Unlock { mapped: None },
        };
        let next = v.core.on(call)?;
        if self.pdev_busy(pdev, Some(vdev)) {
            return Err(busy("a device operation of the PDEV is in progress"));
        }
        let tdi = v.tdi;
        let op = |kind| Engine::Tdisp(Box::new(TdispOp::new(tdi, kind).without_report_check()));
        let engine = match cmd {
            Command::Lock => op(TdispKind::Lock),
            Command::Start => op(TdispKind::Start),
            Command::Report => op(TdispKind::Report),
            Command::Measurements { params } => {
                let p = MeasureParams::decode(&self.ns_page(mem, params)?)?;
                let raw = p.flags & MeasureParams::RAW != 0;
                info!(
                    "rmm: VDEV {vdev:#x}: GET_MEASUREMENTS{}",
                    if raw { " (raw bitstream)" } else { "" }
                );
                Engine::Measurements(MeasOp::new(p.nonce, raw))
            }
            // Always STOP_INTERFACE, as TF-RMM's UNLOCK operation: from ERROR (a LOCK or
            // START the host aborted) the model cannot know whether the device acted on
            // the last request it was sent, and STOP is accepted in every TDI state.
            Command::Unlock => op(TdispKind::Unbind),
        };
        let v = self.vdevs.get_mut(&vdev).ok_or(input("not a VDEV"))?;
        v.core = next;
        v.conv = Some(Conversation::new(engine));
        Ok(Ret::ok())
    }

    /// VDEV_COMMUNICATE(rd, pdev, vdev, comm).
    pub(super) fn vdev_communicate(
        &mut self,
        rd: u64,
        pdev: u64,
        vdev: u64,
        comm_pa: u64,
        mem: &mut dyn FwMemory,
        hang: bool,
    ) -> Reply {
        let v = self.vdev_of(rd, pdev, vdev)?;
        v.core.comm.communicate(CommOutcome::InProgress)?;
        if self.pdev_busy(pdev, Some(vdev)) {
            return Err(busy("a device operation of the PDEV is in progress"));
        }
        let buf = comm::read_buffers(&self.granules, mem, comm_pa, v.core.comm)?;
        let timeout = self.cfg.timeout_ms;
        let (Some(v), Some(p)) = (self.vdevs.get_mut(&vdev), self.pdevs.get_mut(&pdev)) else {
            return Err(input("not a VDEV"));
        };
        let conv = v.conv.get_or_insert_with(Conversation::quiet);
        conv.check_enter(&buf.enter)?;
        if hang {
            conv.hang();
        }
        let outcome = match conv.step(&mut p.dev, &self.engine_cfg, &buf, timeout, 0, mem) {
            Progress::More => CommOutcome::InProgress,
            Progress::Finished => {
                v.conv = None;
                CommOutcome::Idle
            }
            Progress::Failed => {
                v.conv = None;
                CommOutcome::Failed
            }
        };
        v.core = v.core.on(VdevCall::Communicate(outcome))?;
        Ok(Ret::ok())
    }

    /// VDEV_ABORT(rd, pdev, vdev): the VDEV goes to ERROR, its operation dropped.
    pub(super) fn vdev_abort(&mut self, rd: u64, pdev: u64, vdev: u64) -> Reply {
        let next = self.vdev_of(rd, pdev, vdev)?.core.on(VdevCall::Abort)?;
        let (Some(v), Some(p)) = (self.vdevs.get_mut(&vdev), self.pdevs.get_mut(&pdev)) else {
            return Err(input("not a VDEV"));
        };
        v.core = next;
        if let Some(c) = v.conv.take() {
            c.abandon(&mut p.dev);
        }
        Ok(Ret::ok())
    }

    /// VDEV_DESTROY(rd, pdev, vdev): a NEW or UNLOCKED VDEV goes, its granule
    /// DELEGATED again and its TDI forgotten.
    pub(super) fn vdev_destroy(&mut self, rd: u64, pdev: u64, vdev: u64) -> Reply {
        let v = self.vdev_of(rd, pdev, vdev)?;
        v.core.destroy()?;
        let tdi = v.tdi;
        let p = self.pdevs.get_mut(&pdev).ok_or(input("not a PDEV"))?;
        p.core = p.core.on(PdevCall::VdevDestroyed)?;
        p.dev.tdis.remove(&tdi.to_u32());
        self.vdevs.remove(&vdev);
        self.granules.release(vdev);
        info!("rmm: VDEV {vdev:#x} destroyed");
        Ok(Ret::ok())
    }
}
