// SPDX-License-Identifier: GPL-2.0

//! A model of the AMD PSP's SEV-TIO firmware (the TIO commands), for hosts with no
//! SEV-TIO PSP: the firmware a SEV-TIO host backend talks to through the PSP conduit.
//!
//! The model sees what the PSP sees: one mailbox command (its ID and the address of
//! its command buffer) and the memory the host handed over, by physical address
//! ([`FwMemory`], the conduit's memory). [`Psp::command`] serves one command and
//! returns its status (CMDRESP bits 15:0). The ABI is `tsm_proto::tio` and nothing
//! else: command IDs and buffers ([`Request`]), SLAs, the SPDM buffer and object
//! headers, the status pages and the status codes. The facts are the fact sheet's
//! (`shared/backends/sev-tio-abi.md`); the firmware specification was not read, so
//! every status the model chooses for a refusal, and every rule the fact sheet does
//! not give, is marked unconfirmed.
//!
//! The PSP is the SPDM requester toward the device (`relay`): it reuses the software
//! firmware's requester ops, one DOE exchange per SPDM_REQUEST, relayed by the host.
//!
//! | file | what |
//! |---|---|
//! | this file | [`Psp`], [`PspConfig`], the dispatcher, [`Snapshot`], the stand-ins |
//! | `memory` | [`Rmp`] (which pages are firmware-owned), [`SlaBuf`] (the pages an SLA names) |
//! | `relay` | the SPDM requester: jobs of engine ops, REQ out, RESP in |
//! | `dev` | TIO_STATUS, TIO_INIT, DEV_CREATE .. DEV_RECLAIM, DEV_STATUS, measurements, certificates, ROLL_KEY |
//! | `tdi` | TDI_CREATE .. TDI_RECLAIM, TDI_STATUS, TDI_INFO, TDI_REPORT, the ASID fences |
//! | `knobs` | the model's fault knobs ([`Knobs`]) |
//!
//! Device context states (DEV_STATUS `ctx_state`, values unconfirmed): 0 created (or
//! disconnected), 1 connected. TDI context states are TDI_INFO's: unbound, locked, run.
//!
//! Stand-ins (not TIO commands, and no PSP ABI): [`Psp::make_firmware`] and
//! [`Psp::make_shared`] are the host's RMP updates (`rmp_make_private`, and
//! SNP_PAGE_RECLAIM with `rmp_make_shared`); [`Psp::activate_guest`] is what SNP
//! guest launch tells the PSP of a guest: its context page (`gctx`) and ASID, and
//! [`Psp::decommission_guest`] its end. TDI_BIND carries only `gctx` (there is no ASID
//! field, fact sheet §1), so the model records the gctx of each binding and finds its
//! ASID there, the way the PSP knows it from SNP_ACTIVATE. A backend reaches them over
//! the conduit as calls of their own, `tsm_proto::tio::standin` IDs in the command-ID
//! register (all above the largest CMDRESP command ID), which
//! `conduit::serve_psp_one` answers with these methods; [`Psp::command`] never sees
//! them, so they count for no knob.
//!
//! Not modelled: GUEST_REQUEST (its messages are encrypted with the guest's keys, which
//! the model does not have) answers INVALID_PARAM after its checks; the AIK layouts.

use std::collections::{BTreeMap, HashMap};

use log::{debug, info};
use tsm_proto::report::FirstPageUnit;
use tsm_proto::tio::status::TdiInfoState;
use tsm_proto::tio::status::{DmaFence, MmioFence, SizeRange};
use tsm_proto::tio::{Command, Layout, Request, Status, TioStatus};

use super::{Device, FwConfig};

mod dev;
pub mod knobs;
mod memory;
mod relay;
mod tdi;

pub use knobs::{Knob, KnobError, KnobKind, Knobs};
pub use memory::{Owner, Refusal, Rmp, SlaBuf, PAGE};

use crate::fw::rmm::FwMemory;
use relay::Job;

/// The model's configuration.
#[derive(Debug, Clone)]
pub struct PspConfig {
    /// What TIO_STATUS reports: the buffer sizes the host allocates, the context sizes.
    pub status: TioStatus,
    /// The requester's configuration: the trust anchor the device's chain must verify
    /// to. Unconfirmed: whether the PSP checks the chain against a root of its own (the
    /// host and the guest get the chain in the CERTIFICATE object either way).
    pub engine: FwConfig,
    /// Fault knobs.
    pub knobs: Knobs,
}

impl PspConfig {
    /// The default status page and knobs, with `trust_anchor`.
    pub fn new(trust_anchor: Vec<u8>) -> Self {
        let r = |min, max| SizeRange { min, max };
        Self {
            status: TioStatus {
                length: 0x34,
                tio_en: true,
                init_done: false,
                req: r(0x1000, 0x2000),
                scratch: r(0x1000, 0x1000),
                output: r(0x1000, 0x2000),
                rsp: r(0x1000, 0x2000),
                devctx_size: 0x1000,
                tdictx_size: 0x1000,
                tio_crypto_alg: Some(0),
            },
            engine: FwConfig {
                trust_anchor,
                first_page_unit: FirstPageUnit::PageNumber,
            },
            knobs: Knobs::none(),
        }
    }
}

/// A device context's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevState {
    /// DEV_CREATE done, not connected (or disconnected).
    Created,
    /// DEV_CONNECT done.
    Connected,
}

/// The model's record of one device context.
pub(super) struct DevCtx {
    state: DevState,
    rid: u16,
    root_port_id: u16,
    segment: u8,
    tc_mask: u8,
    cert_slot: u8,
    streams: [u8; 8],
    dev: Device,
    chain: Vec<u8>,
    measurements: Vec<u8>,
    job: Option<Job>,
}

/// The model's record of one TDI context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TdiCtx {
    dev: u64,
    interface: tsm_proto::tio::InterfaceId,
    state: TdiInfoState,
    gctx: Option<u64>,
    asid: u32,
    guest_device_id: u16,
    reached_run: bool,
    report: Vec<u8>,
    report_counter: u64,
}

/// A device context in a [`Snapshot`]: its state, the command in progress with
/// whether it awaits RESP, and the engine's TDI records.
pub type DevPicture = (DevState, Option<(Command, bool)>, usize);

/// A comparable picture of the model's ABI state, for tests that a refusal changed
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// TIO_INIT done.
    pub init_done: bool,
    /// The RMP stand-in.
    pub rmp: Rmp,
    /// Device contexts: state, the command in progress and whether it awaits RESP.
    pub devs: BTreeMap<u64, DevPicture>,
    /// TDI contexts: device, state, guest context.
    pub tdis: BTreeMap<u64, (u64, TdiInfoState, Option<u64>)>,
    /// Fences by ASID.
    pub fences: BTreeMap<u32, (DmaFence, MmioFence)>,
    /// Guests by gctx.
    pub guests: BTreeMap<u64, u32>,
}

/// The PSP model.
pub struct Psp {
    cfg: PspConfig,
    init_done: bool,
    rmp: Rmp,
    devs: BTreeMap<u64, DevCtx>,
    tdis: BTreeMap<u64, TdiCtx>,
    fences: BTreeMap<u32, (DmaFence, MmioFence)>,
    guests: BTreeMap<u64, u32>,
    calls: HashMap<Command, u32>,
}

/// What a handler returns: the status, or a refusal (nothing changed).
type Reply = Result<Status, Refusal>;

fn param(why: &'static str) -> Refusal {
    Refusal::new(Status::InvalidParam, why)
}

impl Psp {
    /// A model with nothing initialised, no page firmware-owned.
    pub fn new(cfg: PspConfig) -> Self {
        Self {
            cfg,
            init_done: false,
            rmp: Rmp::default(),
            devs: BTreeMap::new(),
            tdis: BTreeMap::new(),
            fences: BTreeMap::new(),
            guests: BTreeMap::new(),
            calls: HashMap::new(),
        }
    }

    /// Serves one TIO command: `id` as CMDRESP bits 26:16 carry it, `buf` the address of
    /// the command buffer, `mem` the conduit's memory. Returns the status (an unknown
    /// `id`, a stand-in's included, is INVALID_PARAM and counts for no knob). Never
    /// panics. The model never rewrites the command buffer, so the copy-back the host
    /// reads is its own buffer (the fact sheet gives no firmware-written field in one).
    pub fn command(&mut self, id: u64, buf: u64, mem: &mut dyn FwMemory) -> u16 {
        let Some(cmd) = u16::try_from(id)
            .ok()
            .and_then(|v| Command::from_u16(v).ok())
        else {
            debug!("psp: unknown command {id:#x}");
            return Status::InvalidParam.to_u16();
        };
        let count = self.calls.entry(cmd).or_insert(0);
        *count = count.saturating_add(1);
        let count = *count;
        let r = self.serve(cmd, count, buf, mem);
        match r {
            Ok(st) => st.to_u16(),
            Err(e) => {
                debug!("psp: {cmd:?} #{count}: {:?} ({})", e.status, e.why);
                e.status.to_u16()
            }
        }
    }

    fn serve(&mut self, cmd: Command, count: u32, buf: u64, mem: &mut dyn FwMemory) -> Reply {
        let len = cmd.buffer_len(Layout::Current);
        let raw = memory::read_at(mem, buf, len)?;
        if tsm_proto::tio::cmd::check_len_field(&raw, len).is_err() {
            return Err(Refusal::new(
                Status::IncorrectBufferLength,
                "length field is not the command's",
            ));
        }
        let req = Request::decode(Layout::Current, cmd, &raw)
            .map_err(|_| param("command buffer does not decode"))?;
        let knob = self.cfg.knobs.fire(cmd, count);
        if let Some(k) = knob {
            // Tests read this to know the knob they set reached its command.
            info!(
                "psp: knob {k:?} fired at {} #{count}",
                knobs::command_name(cmd)
            );
        }
        match knob {
            Some(KnobKind::Error(st)) => return Err(Refusal::new(st, "knob: error")),
            Some(KnobKind::Expand(bytes)) => {
                if let Some(st) = self.expand(&req, bytes, mem)? {
                    return Ok(st);
                }
            }
            Some(KnobKind::Fence(d, m)) => self.raise_fence(&req, d, m),
            None => {}
        }
        if !self.init_done && !matches!(cmd, Command::TioStatus | Command::TioInit) {
            // Unconfirmed: the status of a command before TIO_INIT.
            return Err(param("TIO_INIT not done"));
        }
        self.dispatch(&req, &raw, mem)
    }

    fn dispatch(&mut self, req: &Request, raw: &[u8], mem: &mut dyn FwMemory) -> Reply {
        match *req {
            Request::TioStatus { status_paddr } => self.tio_status(status_paddr, mem),
            Request::TioInit => {
                self.init_done = true;
                info!("psp: TIO initialised");
                Ok(Status::Success)
            }
            Request::DevCreate {
                dev_ctx,
                rid,
                root_port_id,
                segment,
            } => self.dev_create(dev_ctx, rid, root_port_id, segment, mem),
            Request::DevReclaim { dev_ctx } => self.dev_reclaim(dev_ctx),
            Request::DevStatus {
                dev_ctx,
                status_paddr,
                ..
            } => self.dev_status(dev_ctx, status_paddr, mem),
            Request::TdiCreate {
                dev_ctx,
                tdi_ctx,
                interface_id,
            } => self.tdi_create(dev_ctx, tdi_ctx, interface_id, mem),
            Request::TdiReclaim { dev_ctx, tdi_ctx } => self.tdi_reclaim(dev_ctx, tdi_ctx),
            Request::TdiInfo {
                dev_ctx,
                tdi_ctx,
                status_paddr,
            } => self.tdi_info(dev_ctx, tdi_ctx, status_paddr, mem),
            Request::AsidFenceClear { dev_ctx, gctx, .. } => self.fence_clear(dev_ctx, gctx),
            Request::AsidFenceStatus {
                dev_ctx,
                asid,
                status_paddr,
                ..
            } => self.fence_status(dev_ctx, asid, status_paddr, mem),
            Request::GuestRequest {
                dev_ctx,
                tdi_ctx,
                gctx,
                ..
            } => {
                self.tdi_of(dev_ctx, tdi_ctx)?;
                if self.tdis.get(&tdi_ctx.encode()).and_then(|t| t.gctx) != Some(gctx) {
                    return Err(Refusal::new(
                        Status::InvalidTdiState,
                        "TDI not bound to the guest",
                    ));
                }
                Err(param("GUEST_REQUEST is not modelled"))
            }
            Request::TdiStatus { .. } => self.tdi_status(req, mem),
            _ => self.spdm(req, raw, mem),
        }
    }

    /// The host's `rmp_make_private` of the page at `pa` (a stand-in, no TIO command).
    pub fn make_firmware(&mut self, pa: u64) -> Result<(), Refusal> {
        self.rmp.make_firmware(pa)
    }

    /// The host's SNP_PAGE_RECLAIM and `rmp_make_shared` of the page at `pa` (a
    /// stand-in): refused while a context holds it.
    pub fn make_shared(&mut self, pa: u64) -> Result<(), Refusal> {
        self.rmp.make_shared(pa)
    }

    /// What SNP guest launch tells the PSP of a guest (a stand-in): its context page
    /// and ASID. A gctx already known is refused (INVALID_PARAM, unconfirmed).
    pub fn activate_guest(&mut self, gctx: u64, asid: u32) -> Result<(), Refusal> {
        if gctx == 0 || self.guests.contains_key(&gctx) {
            return Err(param("guest context unknown or known"));
        }
        self.guests.insert(gctx, asid);
        Ok(())
    }

    /// The end of a guest (a stand-in): refused while a TDI is bound to it.
    pub fn decommission_guest(&mut self, gctx: u64) -> Result<(), Refusal> {
        if self.tdis.values().any(|t| t.gctx == Some(gctx)) {
            return Err(Refusal::new(Status::InUse, "a TDI is bound to the guest"));
        }
        self.guests
            .remove(&gctx)
            .map(|_| ())
            .ok_or(param("no such guest"))
    }

    /// The configuration.
    pub fn config(&self) -> &PspConfig {
        &self.cfg
    }

    /// The state of the device context whose SLA encodes as `dev_ctx`.
    pub fn dev_state(&self, dev_ctx: u64) -> Option<DevState> {
        self.devs.get(&dev_ctx).map(|d| d.state)
    }

    /// The RID, root port id and segment DEV_CREATE gave the device context
    /// `dev_ctx`.
    pub fn dev_ids(&self, dev_ctx: u64) -> Option<(u16, u16, u8)> {
        self.devs
            .get(&dev_ctx)
            .map(|d| (d.rid, d.root_port_id, d.segment))
    }

    /// The state of the TDI context whose SLA encodes as `tdi_ctx`.
    pub fn tdi_state(&self, tdi_ctx: u64) -> Option<TdiInfoState> {
        self.tdis.get(&tdi_ctx).map(|t| t.state)
    }

    /// Whether the device context holds an SPDM session.
    pub fn has_session(&self, dev_ctx: u64) -> bool {
        self.devs
            .get(&dev_ctx)
            .and_then(|d| d.dev.spdm.as_ref())
            .is_some_and(|s| s.session.is_some())
    }

    /// The RMP stand-in.
    pub fn rmp(&self) -> &Rmp {
        &self.rmp
    }

    /// Everything the model keeps, comparably.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            init_done: self.init_done,
            rmp: self.rmp.clone(),
            devs: self
                .devs
                .iter()
                .map(|(k, d)| {
                    let job = d.job.as_ref().map(|j| (j.cmd, j.awaiting()));
                    (*k, (d.state, job, d.dev.tdis.len()))
                })
                .collect(),
            tdis: self
                .tdis
                .iter()
                .map(|(k, t)| (*k, (t.dev, t.state, t.gctx)))
                .collect(),
            fences: self.fences.clone(),
            guests: self.guests.clone(),
        }
    }

    /// Whether the model holds nothing: no context, no page held, no fence.
    pub fn is_clean(&self) -> bool {
        self.devs.is_empty()
            && self.tdis.is_empty()
            && self.rmp.held().is_empty()
            && self.fences.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fw::rmm::PageMemory;

    #[test]
    fn unknown_commands_and_lengths() {
        let mut psp = Psp::new(PspConfig::new(Vec::new()));
        let mut mem = PageMemory::new();
        mem.add_page(0x1000);
        assert_eq!(psp.command(0xD9, 0x1000, &mut mem), 0x16);
        assert_eq!(psp.command(1 << 20, 0x1000, &mut mem), 0x16);
        // A length field that is not the command's.
        assert_eq!(psp.command(0xD1, 0x1000, &mut mem), 0x30);
        // A buffer the conduit does not reach.
        assert_eq!(psp.command(0xD1, 0x5000, &mut mem), 0x16);
        let b = Request::TioInit.encode(Layout::Current).unwrap();
        mem.write(0x1000, b.as_bytes()).unwrap();
        let b2 = Request::DevReclaim {
            dev_ctx: tsm_proto::tio::Sla::data_4k(0x2000).unwrap(),
        }
        .encode(Layout::Current)
        .unwrap();
        mem.add_page(0x3000);
        mem.write(0x3000, b2.as_bytes()).unwrap();
        assert_eq!(psp.command(0xD3, 0x3000, &mut mem), 0x16, "before TIO_INIT");
        assert_eq!(psp.command(0xD1, 0x1000, &mut mem), 0);
        assert_eq!(psp.command(0xD3, 0x3000, &mut mem), 0x36, "no such device");
        assert!(psp.is_clean());
    }
}
