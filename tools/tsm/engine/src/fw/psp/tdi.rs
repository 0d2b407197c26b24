// SPDX-License-Identifier: GPL-2.0

//! The TDI commands and the ASID fences.
//!
//! | command | rule (statuses unconfirmed) |
//! |---|---|
//! | TDI_CREATE | device connected (INVALID_DEV_STATE); `tdi_ctx` firmware-owned free pages of at least tdictx_size, then held; an interface id not yet on the device (IN_USE); unbound |
//! | TDI_BIND, RUN clear | unbound (INVALID_TDI_STATE), `gctx` a known guest (INVALID_PARAM): TDISP version, capabilities, LOCK_INTERFACE, the report (written as REPORT); locked, with the guest's gctx, ASID and guest device id recorded |
//! | TDI_BIND, RUN set | locked by the same gctx (INVALID_TDI_STATE): START_INTERFACE; run |
//! | TDI_UNBIND | locked or run by the same gctx (INVALID_TDI_STATE): STOP_INTERFACE unless FORCE; unbound. Unbinding from run fences the guest's ASID (DMA error-fenced; unconfirmed, the fact sheet gives only the host's FENCE_CLEAR after a TDI that reached run) |
//! | TDI_REPORT | locked or run: the report again, as REPORT |
//! | TDI_STATUS | writes TDI_STATUS (the TDISP state the model last saw) at `status_paddr`; no device traffic |
//! | TDI_INFO | writes TDI_INFO at `status_paddr` |
//! | TDI_RECLAIM | unbound (INVALID_TDI_STATE): the context and its pages freed, and a LOCK of it the host left in progress dropped |
//! | ASID_FENCE_STATUS | writes the ASID's fence status at `status_pa` |
//! | ASID_FENCE_CLEAR | no TDI of the device still bound to the guest (IN_USE): the guest's fence cleared |
//!
//! The TDI's requester ID is the interface id's RID; the engine's TDI record names the
//! device by it (segment 0 unless the interface id has one).

use log::{info, warn};
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::{FunctionId, LockInterfaceParams};
use tsm_proto::tio::request::RUN_FLAG_RUN;
use tsm_proto::tio::status::{
    DmaFence, MmioFence, TdiInfoLockFlags, TdiInfoState, TdispState, DIGEST_LEN, TDI_INFO_LEN,
};
use tsm_proto::tio::{FenceStatus, InterfaceId, Layout, Request, Sla, Status, TdiInfo, TdiStatus};

use super::super::tdisp_op::{TdispKind, TdispOp};
use super::super::{BindParams, DevId, Tdi};
use super::dev::{algos, dev_ctx_missing};
use super::memory::{self, Refusal, SlaBuf};
use super::relay::{Engine, Finish, Job};
use super::{param, DevState, Psp, Reply, TdiCtx};
use crate::fw::rmm::FwMemory;

fn tdi_state(why: &'static str) -> Refusal {
    Refusal::new(Status::InvalidTdiState, why)
}

pub(super) fn function(i: InterfaceId) -> FunctionId {
    FunctionId::new(i.rid, i.segment)
}

pub(super) fn tdisp_flags(f: tsm_proto::tio::LockFlags) -> tsm_proto::tdisp::LockFlags {
    use tsm_proto::tdisp::LockFlags as L;
    use tsm_proto::tio::LockFlags as T;
    let mut out = L::empty();
    for (t, l) in [
        (T::NO_FW_UPDATE, L::NO_FW_UPDATE),
        (T::CACHE_LINE_SIZE, L::SYSTEM_CACHE_LINE_SIZE_128),
        (T::LOCK_MSIX, L::LOCK_MSIX),
        (T::BIND_P2P, L::BIND_P2P),
        (T::ALL_REQUEST_REDIRECT, L::ALL_REQUEST_REDIRECT),
    ] {
        if f.contains(t) {
            out = out.union(l);
        }
    }
    out
}

impl Psp {
    /// The TDI context `tdi_ctx` of the device `dev_ctx` (INVALID_DEV_CTX,
    /// INVALID_TDI_CTX, or INVALID_TDI if it is another device's).
    pub(super) fn tdi_of(&self, dev_ctx: Sla, tdi_ctx: Sla) -> Result<&TdiCtx, Refusal> {
        self.devs
            .get(&dev_ctx.encode())
            .ok_or_else(dev_ctx_missing)?;
        let t = self
            .tdis
            .get(&tdi_ctx.encode())
            .ok_or(Refusal::new(Status::InvalidTdiCtx, "not a TDI context"))?;
        if t.dev != dev_ctx.encode() {
            return Err(Refusal::new(
                Status::InvalidTdi,
                "the TDI is another device's",
            ));
        }
        Ok(t)
    }

    pub(super) fn tdi_create(
        &mut self,
        dev_ctx: Sla,
        tdi_ctx: Sla,
        interface: InterfaceId,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let key = dev_ctx.encode();
        let d = self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        if d.state != DevState::Connected {
            return Err(Refusal::new(
                Status::InvalidDevState,
                "device not connected",
            ));
        }
        let b = SlaBuf::resolve(mem, tdi_ctx)?;
        b.reachable(mem)?;
        if b.len() < self.cfg.status.tdictx_size as usize {
            return Err(Refusal::new(
                Status::IncorrectBufferLength,
                "tdi_ctx too small",
            ));
        }
        self.rmp.require_free(&b.pages)?;
        if self
            .tdis
            .values()
            .any(|t| t.dev == key && t.interface == interface)
        {
            return Err(Refusal::new(
                Status::InUse,
                "the interface has a TDI context",
            ));
        }
        let tkey = tdi_ctx.encode();
        self.rmp.hold(&b.pages, tkey);
        let f = function(interface);
        if let Some(d) = self.devs.get_mut(&key) {
            let flags = tsm_proto::tdisp::LockFlags::empty();
            d.dev.tdis.insert(
                f.to_u32(),
                Tdi {
                    state: TdiState::ConfigUnlocked,
                    params: BindParams {
                        dev: DevId {
                            segment: u16::from(interface.segment.unwrap_or(0)),
                            bus: (interface.rid >> 8) as u8,
                            devfn: interface.rid as u8,
                        },
                        tdi: f,
                        guest_rid: 0,
                        lock_flags: flags,
                        mmio_reporting_offset: 0,
                        bars: Vec::new(),
                        msix: None,
                    },
                    lock: LockInterfaceParams {
                        flags,
                        default_stream_id: d.dev.stream_id,
                        mmio_reporting_offset: 0,
                        bind_p2p_address_mask: 0,
                    },
                    nonce: None,
                },
            );
        }
        self.tdis.insert(
            tkey,
            TdiCtx {
                dev: key,
                interface,
                state: TdiInfoState::Unbound,
                gctx: None,
                asid: 0,
                guest_device_id: 0,
                reached_run: false,
                report: Vec::new(),
                report_counter: 0,
            },
        );
        info!("psp: TDI {:#06x} created", interface.rid);
        Ok(Status::Success)
    }

    pub(super) fn tdi_reclaim(&mut self, dev_ctx: Sla, tdi_ctx: Sla) -> Reply {
        let t = self.tdi_of(dev_ctx, tdi_ctx)?;
        if t.state != TdiInfoState::Unbound {
            return Err(tdi_state("bound"));
        }
        let busy = self
            .devs
            .get(&dev_ctx.encode())
            .and_then(|d| d.job.as_ref())
            .is_some_and(|j| matches!(j.finish, Finish::Lock { tdi, .. } | Finish::Run { tdi } | Finish::Unbind { tdi } | Finish::Report { tdi } if tdi == tdi_ctx.encode()));
        let f = function(t.interface);
        if busy {
            // An unbound TDI's command in progress can only be a LOCK the host gave up
            // on (the fact sheet §3: a failed relay leaves the command behind): the
            // reclaim drops it.
            if let Some(d) = self.devs.get_mut(&dev_ctx.encode()) {
                if let Some(j) = d.job.take() {
                    warn!("psp: TDI_RECLAIM drops {:?} in progress", j.cmd);
                    j.abandon(&mut d.dev);
                }
            }
        }
        self.tdis.remove(&tdi_ctx.encode());
        if let Some(d) = self.devs.get_mut(&dev_ctx.encode()) {
            d.dev.tdis.remove(&f.to_u32());
        }
        self.rmp.release(tdi_ctx.encode());
        info!("psp: TDI context {:#x} reclaimed", tdi_ctx.encode());
        Ok(Status::Success)
    }

    fn engine_state(&self, t: &TdiCtx) -> TdiState {
        self.devs
            .get(&t.dev)
            .and_then(|d| d.dev.tdis.get(&function(t.interface).to_u32()))
            .map_or(TdiState::ConfigUnlocked, |x| x.state)
    }

    /// TDI_STATUS: the TDISP state the model last saw, no device traffic (the command
    /// may relay SPDM, fact sheet §1; the model does not need to).
    pub(super) fn tdi_status(&mut self, req: &Request, mem: &mut dyn FwMemory) -> Reply {
        let Request::TdiStatus {
            dev_ctx,
            tdi_ctx,
            status_paddr,
            ..
        } = *req
        else {
            return Err(param("not TDI_STATUS"));
        };
        let t = self.tdi_of(dev_ctx, tdi_ctx)?;
        let n = TdiStatus::len(Layout::Current);
        let st = TdispState::from_u8(self.engine_state(t) as u8).unwrap_or(TdispState::Error);
        self.status_page_check(status_paddr, n, mem)?;
        let mut b = vec![0u8; n];
        TdiStatus { state: st }
            .encode(Layout::Current, &mut b)
            .map_err(|_| param("status"))?;
        memory::write_at(mem, status_paddr, &b)?;
        Ok(Status::Success)
    }

    pub(super) fn tdi_info(
        &mut self,
        dev_ctx: Sla,
        tdi_ctx: Sla,
        pa: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let t = self.tdi_of(dev_ctx, tdi_ctx)?;
        self.status_page_check(pa, TDI_INFO_LEN, mem)?;
        let d = self.devs.get(&t.dev).ok_or_else(dev_ctx_missing)?;
        let digest = |b: &[u8]| match b.is_empty() {
            true => [0u8; DIGEST_LEN],
            false => crate::crypto::sha384(b),
        };
        let info = TdiInfo {
            interface_id: t.interface,
            meas_valid: !d.measurements.is_empty(),
            meas_fresh: false,
            state: t.state,
            lock_flags: TdiInfoLockFlags::from_bits(0),
            algos: algos(),
            certs_digest: digest(&d.chain),
            meas_digest: digest(&d.measurements),
            report_digest: digest(&t.report),
            report_counter: t.report_counter,
            asid: t.asid,
        };
        let mut b = [0u8; TDI_INFO_LEN];
        info.encode(&mut b).map_err(|_| param("status"))?;
        memory::write_at(mem, pa, &b)?;
        Ok(Status::Success)
    }

    pub(super) fn fence_status(
        &mut self,
        dev_ctx: Sla,
        asid: u32,
        pa: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        self.devs
            .get(&dev_ctx.encode())
            .ok_or_else(dev_ctx_missing)?;
        self.status_page_check(pa, 8, mem)?;
        let (dma, mmio) = self
            .fences
            .get(&asid)
            .copied()
            .unwrap_or((DmaFence::None, MmioFence::None));
        memory::write_at(
            mem,
            pa,
            &FenceStatus::Split { dma, mmio }.encode().to_le_bytes(),
        )?;
        Ok(Status::Success)
    }

    pub(super) fn fence_clear(&mut self, dev_ctx: Sla, gctx: u64) -> Reply {
        let key = dev_ctx.encode();
        self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        let asid = *self
            .guests
            .get(&gctx)
            .ok_or(param("unknown guest context"))?;
        if self
            .tdis
            .values()
            .any(|t| t.dev == key && t.gctx == Some(gctx))
        {
            return Err(Refusal::new(
                Status::InUse,
                "a TDI is still bound to the guest",
            ));
        }
        self.fences.remove(&asid);
        info!("psp: ASID {asid} fence cleared");
        Ok(Status::Success)
    }

    fn status_page_check(
        &self,
        pa: u64,
        len: usize,
        mem: &mut dyn FwMemory,
    ) -> Result<(), Refusal> {
        if (pa % super::PAGE) as usize + len > super::PAGE as usize || pa == 0 {
            return Err(param("status page"));
        }
        if !matches!(
            self.rmp.owner(pa),
            super::Owner::Firmware | super::Owner::Held(_)
        ) {
            return Err(Refusal::new(
                Status::InvalidPageState,
                "status page not firmware-owned",
            ));
        }
        memory::read_at(mem, pa, 1).map(|_| ())
    }

    /// The checks and engine ops of a TDI command with `spdm_ctrl`.
    pub(super) fn plan_tdi(
        &self,
        req: &Request,
        key: u64,
    ) -> Result<(Finish, Vec<Engine>), Refusal> {
        let op = |t: &TdiCtx, k| {
            Engine::Tdisp(Box::new(
                TdispOp::new(function(t.interface), k).without_report_check(),
            ))
        };
        let d = self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        if d.state != DevState::Connected {
            return Err(Refusal::new(
                Status::InvalidDevState,
                "device not connected",
            ));
        }
        match *req {
            Request::TdiBind {
                dev_ctx,
                tdi_ctx,
                gctx,
                guest_device_id,
                run_flags,
                ..
            } => {
                let t = self.tdi_of(dev_ctx, tdi_ctx)?;
                let tdi = tdi_ctx.encode();
                if run_flags & RUN_FLAG_RUN != 0 {
                    if t.state != TdiInfoState::Locked || t.gctx != Some(gctx) {
                        return Err(tdi_state("RUN needs the TDI locked by this guest"));
                    }
                    return Ok((Finish::Run { tdi }, vec![op(t, TdispKind::Start)]));
                }
                if t.state != TdiInfoState::Unbound {
                    return Err(tdi_state("already bound"));
                }
                let asid = *self
                    .guests
                    .get(&gctx)
                    .ok_or(param("unknown guest context"))?;
                Ok((
                    Finish::Lock {
                        tdi,
                        gctx,
                        asid,
                        guest_device_id,
                    },
                    vec![op(t, TdispKind::Lock), op(t, TdispKind::Report)],
                ))
            }
            Request::TdiUnbind {
                force,
                dev_ctx,
                tdi_ctx,
                gctx,
                ..
            } => {
                let t = self.tdi_of(dev_ctx, tdi_ctx)?;
                if t.state == TdiInfoState::Unbound || t.gctx != Some(gctx) {
                    return Err(tdi_state("not bound to this guest"));
                }
                let steps = match force {
                    true => Vec::new(),
                    false => vec![op(t, TdispKind::Unbind)],
                };
                Ok((
                    Finish::Unbind {
                        tdi: tdi_ctx.encode(),
                    },
                    steps,
                ))
            }
            Request::TdiReport {
                dev_ctx,
                tdi_ctx,
                gctx,
                ..
            } => {
                let t = self.tdi_of(dev_ctx, tdi_ctx)?;
                if t.state == TdiInfoState::Unbound || t.gctx != Some(gctx) {
                    return Err(tdi_state("not bound to this guest"));
                }
                Ok((
                    Finish::Report {
                        tdi: tdi_ctx.encode(),
                    },
                    vec![op(t, TdispKind::Report)],
                ))
            }
            _ => Err(param("command not modelled")),
        }
    }

    /// A TDI job ended well: the transition; the report to write, if any.
    pub(super) fn finish_tdi(&mut self, job: &Job) -> Option<(tsm_proto::tio::ObjectId, Vec<u8>)> {
        let report = |t: &mut TdiCtx| {
            t.report = job.result.clone();
            t.report_counter = t.report_counter.wrapping_add(1);
            Some((tsm_proto::tio::ObjectId::Report, job.result.clone()))
        };
        match job.finish {
            Finish::Lock {
                tdi,
                gctx,
                asid,
                guest_device_id,
            } => {
                let t = self.tdis.get_mut(&tdi)?;
                t.state = TdiInfoState::Locked;
                t.gctx = Some(gctx);
                t.asid = asid;
                t.guest_device_id = guest_device_id;
                t.reached_run = false;
                info!("psp: TDI {tdi:#x} locked for ASID {asid}");
                report(t)
            }
            Finish::Run { tdi } => {
                let t = self.tdis.get_mut(&tdi)?;
                t.state = TdiInfoState::Run;
                t.reached_run = true;
                None
            }
            Finish::Report { tdi } => report(self.tdis.get_mut(&tdi)?),
            Finish::Unbind { tdi } => {
                self.unbound(tdi);
                None
            }
            _ => None,
        }
    }

    /// The TDI at `tdi` is unbound (its engine record CONFIG_UNLOCKED); from run, its
    /// guest's ASID is DMA error-fenced.
    pub(super) fn unbound(&mut self, tdi: u64) {
        let Some(t) = self.tdis.get_mut(&tdi) else {
            return;
        };
        if t.state == TdiInfoState::Run {
            let asid = t.asid;
            self.fences
                .entry(asid)
                .or_insert((DmaFence::ErrorFenced, MmioFence::None));
            info!("psp: ASID {asid} fenced by the unbind from RUN");
        }
        let Some(t) = self.tdis.get_mut(&tdi) else {
            return;
        };
        t.state = TdiInfoState::Unbound;
        t.gctx = None;
        let (dev, f) = (t.dev, function(t.interface));
        if let Some(x) = self
            .devs
            .get_mut(&dev)
            .and_then(|d| d.dev.tdis.get_mut(&f.to_u32()))
        {
            x.state = TdiState::ConfigUnlocked;
            x.nonce = None;
        }
    }

    /// A TDI job failed: the TDI as before, but a failed LOCK leaves the device's TDI in
    /// whatever state the exchanges reached, which a forced unbind or the host's
    /// reclaim settles: the model's TDI stays unbound.
    pub(super) fn failed_tdi(&mut self, job: &Job) {
        if let Finish::Lock { tdi, .. } = job.finish {
            if let Some(t) = self.tdis.get(&tdi) {
                let (dev, f) = (t.dev, function(t.interface));
                if let Some(x) = self
                    .devs
                    .get_mut(&dev)
                    .and_then(|d| d.dev.tdis.get_mut(&f.to_u32()))
                {
                    x.state = TdiState::ConfigUnlocked;
                    x.nonce = None;
                }
            }
        }
    }
}
