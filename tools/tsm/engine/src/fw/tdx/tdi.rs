// SPDX-License-Identifier: GPL-2.0

//! **Provisional:** the TDI bind calls, modelled minimally.
//!
//! No TDI leaf of the new ABI has a public number or register layout (§5 "Host side";
//! `tsm_proto::tdx::provisional`), so these are methods of the model, not SEAMCALLs:
//! create (after `tdh_devif_create(stream_id, devif_id, tdr_pa, devifcs_pa)`,
//! [`DevifCreate`]), the TDISP requests LOCK (LOCK_INTERFACE; RFC30's BIND), START
//! (TDH.TDI.START) and STOP through the same relay as the published leaves (a call
//! answers TDX_SPDM_REQUEST until it ends), and free. Everything here is replaced when
//! the ABI is published.
//!
//! Unconfirmed (all of it, beyond the names): one metadata page (DEVIFCS) per TDI; TDs
//! are not modelled, so the TDR page is only checked for alignment; the TD's own
//! authorisation of START (TDG.TDI.START, §5 guest side) is not modelled; DEVIFMT and
//! MMIOMT (RFC30) and the MMIO mapping leaves are not modelled.

use log::info;
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::{self, LockFlags, LockInterfaceParams};
use tsm_proto::tdx::provisional::DevifCreate;
use tsm_proto::tdx::{page_pa_ok, FunctionId, Output, Returned};

use super::super::tdisp_op::{TdispKind, TdispOp};
use super::super::{BindParams, DevId, Tdi};
use super::pages::Owner;
use super::relay::Engine;
use super::spdm::{OpKey, Ran};
use super::{busy, done, failed, refuse, refused, FwMemory, Refusal, Reply, TdxModule};

/// The lock flags the model asks for (as the RMM model).
const LOCK_FLAGS: LockFlags = LockFlags::NO_FW_UPDATE.union(LockFlags::LOCK_MSIX);

/// Provisional: a TDISP request the host asks the module to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TdiOp {
    /// LOCK_INTERFACE (RFC30's BIND).
    Lock,
    /// START_INTERFACE (TDH.TDI.START).
    Start,
    /// STOP_INTERFACE.
    Stop,
}

/// The call a TDI operation runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TdiKey {
    op: TdiOp,
    function: u64,
    response: u64,
    request: u64,
}

fn tdisp_id(f: FunctionId) -> tdisp::FunctionId {
    tdisp::FunctionId::new(f.rid, f.segment_valid.then_some(f.segment))
}

fn reply(r: Reply) -> Returned {
    r.unwrap_or_else(refused)
}

impl TdxModule {
    /// The SPDM object whose device record holds TDI `f`.
    fn tdi_owner(&self, f: FunctionId) -> Result<u64, Refusal> {
        let key = tdisp_id(f).to_u32();
        self.spdms
            .iter()
            .find(|(_, r)| r.dev.tdis.contains_key(&key))
            .map(|(id, _)| *id)
            .ok_or(refuse("no such TDI"))
    }

    /// The TDISP state of TDI `f` as the module tracks it (provisional).
    pub fn tdi_state(&self, f: FunctionId) -> Option<TdiState> {
        let key = tdisp_id(f).to_u32();
        self.spdms
            .values()
            .find_map(|r| r.dev.tdis.get(&key))
            .map(|t| t.state)
    }

    /// Provisional: creates the device interface `a.devif_id` on the keyed stream
    /// `a.stream_id`; DEVIFCS becomes the module's. The TDI starts CONFIG_UNLOCKED.
    pub fn tdi_create(&mut self, a: DevifCreate) -> Returned {
        reply(self.tdi_create_inner(a))
    }

    fn tdi_create_inner(&mut self, a: DevifCreate) -> Reply {
        self.ready()?;
        if !page_pa_ok(a.tdr_pa) || a.tdr_pa == 0 {
            return Err(refuse("TDR page"));
        }
        if self.tdi_owner(a.devif_id).is_ok() {
            return Err(refuse("the interface exists"));
        }
        let (id, rec) = self
            .spdms
            .iter()
            .find(|(_, r)| r.streams.contains_key(&a.stream_id))
            .ok_or(refuse("no such stream"))?;
        let id = *id;
        if !rec.streams.get(&a.stream_id).is_some_and(|s| s.keyed) {
            return Err(refuse("the stream is not keyed"));
        }
        if rec.op.is_some() {
            return Err(busy("an operation of the SPDM object is in progress"));
        }
        self.pages.check_new(&[a.devifcs_pa])?;
        let function = rec.function;
        let tdi = tdisp_id(a.devif_id);
        self.pages
            .claim(&[a.devifcs_pa], Owner::Devif(a.devif_id.encode()));
        if let Some(rec) = self.spdms.get_mut(&id) {
            let lock = LockInterfaceParams {
                flags: LOCK_FLAGS,
                default_stream_id: rec.dev.stream_id,
                mmio_reporting_offset: 0,
                bind_p2p_address_mask: 0,
            };
            rec.dev.tdis.insert(
                tdi.to_u32(),
                Tdi {
                    state: TdiState::ConfigUnlocked,
                    params: BindParams {
                        dev: DevId {
                            segment: u16::from(function.segment),
                            bus: (function.rid >> 8) as u8,
                            devfn: function.rid as u8,
                        },
                        tdi,
                        guest_rid: 0,
                        lock_flags: LOCK_FLAGS,
                        mmio_reporting_offset: 0,
                        bars: Vec::new(),
                        msix: None,
                    },
                    lock,
                    nonce: None,
                },
            );
        }
        info!("tdx: TDI {:#x} created (provisional)", a.devif_id.encode());
        done(Output::None)
    }

    /// Provisional: runs TDISP `op` on TDI `f` through the relay (`response` and
    /// `request` the message pages, as for the published relaying leaves).
    pub fn tdi_request(
        &mut self,
        op: TdiOp,
        f: FunctionId,
        response: u64,
        request: u64,
        mem: &mut dyn FwMemory,
    ) -> Returned {
        reply(self.tdi_request_inner(op, f, response, request, mem))
    }

    fn tdi_request_inner(
        &mut self,
        op: TdiOp,
        f: FunctionId,
        response: u64,
        request: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let id = self.tdi_owner(f)?;
        let tdi = tdisp_id(f);
        let key = OpKey::Tdi(TdiKey {
            op,
            function: f.encode(),
            response,
            request,
        });
        let state = self.tdi_state(f);
        let in_progress = self.spdms.get(&id).is_some_and(|r| r.op.is_some());
        let fits = match op {
            TdiOp::Lock => state == Some(TdiState::ConfigUnlocked),
            TdiOp::Start => state == Some(TdiState::ConfigLocked),
            TdiOp::Stop => true,
        };
        if !in_progress && !fits {
            return Err(refuse("TDISP request does not fit the TDI's state"));
        }
        let kind = match op {
            TdiOp::Lock => TdispKind::Lock,
            TdiOp::Start => TdispKind::Start,
            TdiOp::Stop => TdispKind::Unbind,
        };
        let ran = self.converse(id, key, response, request, mem, |_| {
            Ok(Engine::Tdisp(Box::new(
                TdispOp::new(tdi, kind).without_report_check(),
            )))
        })?;
        if let Some(r) = ran.pending() {
            return Ok(r);
        }
        info!("tdx: TDI {:#x} {op:?} done (provisional)", f.encode());
        match ran {
            Ran::Done(_) => done(Output::None),
            _ => Ok(failed()),
        }
    }

    /// Provisional: frees TDI `f` (CONFIG_UNLOCKED, or ERROR: STOP ran or nothing was
    /// locked); DEVIFCS returns to the host.
    pub fn tdi_free(&mut self, f: FunctionId) -> Returned {
        reply(self.tdi_free_inner(f))
    }

    fn tdi_free_inner(&mut self, f: FunctionId) -> Reply {
        let id = self.tdi_owner(f)?;
        let rec = self.spdms.get_mut(&id).ok_or(refuse("no such TDI"))?;
        if rec.op.is_some() {
            return Err(busy("an operation of the SPDM object is in progress"));
        }
        let key = tdisp_id(f).to_u32();
        if !matches!(
            rec.dev.tdis.get(&key).map(|t| t.state),
            Some(TdiState::ConfigUnlocked | TdiState::Error)
        ) {
            return Err(refuse("the TDI is locked or running"));
        }
        rec.dev.tdis.remove(&key);
        self.pages.release(Owner::Devif(f.encode()));
        info!("tdx: TDI {:#x} freed (provisional)", f.encode());
        done(Output::None)
    }
}
