// SPDX-License-Identifier: GPL-2.0

//! The platform and device commands, and the frame every SPDM command runs in.
//!
//! | command | rule (statuses unconfirmed unless the fact sheet gives them) |
//! |---|---|
//! | TIO_STATUS | writes the status page at `status_paddr` (a firmware-owned page) |
//! | TIO_INIT | sets init_done; every other command before it is INVALID_PARAM |
//! | DEV_CREATE | `dev_ctx`: firmware-owned free pages of at least devctx_size, then held; a device context in the created state |
//! | DEV_CONNECT | created state (else INVALID_DEV_STATE), tc_mask bit 0 with a TC0 stream: SPDM (VCA, certificates, CHALLENGE, MEASUREMENTS, session) and IDE-KM for the TC0 stream; writes CERTIFICATE; connected |
//! | DEV_DISCONNECT | connected; non-forced: no TDI bound (else IN_USE), K_SET_STOP and END_SESSION; forced: no device traffic, bound TDIs unbound, a job in progress dropped; created |
//! | DEV_RECLAIM | not connected (INVALID_DEV_STATE), no TDI context (IN_USE): the context and every page it holds are freed |
//! | DEV_STATUS | writes DEV_STATUS at `status_paddr` (firmware-owned) |
//! | DEV_MEASUREMENTS | connected: signed GET_MEASUREMENTS in the session with the nonce; writes MEASUREMENT |
//! | DEV_CERTIFICATES | connected: writes the chain cached at connect as CERTIFICATE, no device traffic |
//! | ROLL_KEY | connected: IDE-KM again for the TC0 stream |
//!
//! The SPDM frame: the command's `spdm_ctrl` must name req, scratch and output
//! buffers in firmware-owned pages and a resp buffer in hypervisor-owned ones (a
//! scatter page hypervisor-owned too, fact sheet §4), all reachable; the device holds
//! the req, scratch and output pages from then until DEV_RECLAIM. A device failure
//! during the exchanges ends the command with SPDM_ERROR (unconfirmed), the context
//! left as before the command.

use log::{info, warn};
use tsm_proto::tio::buffer::BUFFER_HEADER_LEN;
use tsm_proto::tio::status::{DmaFence, MmioFence, DEV_STATUS_LEN, TIO_STATUS_LEN};
use tsm_proto::tio::{
    write_output, Command, DevStatus, Layout, ObjectId, Request, Sla, SpdmAlgos, SpdmCtrl, Status,
};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::super::meas_op::MeasOp;
use super::super::Device;
use super::memory::{self, Owner, Refusal, SlaBuf, PAGE};
use super::relay::{Engine, Finish, Job, Step};
use super::{param, DevCtx, DevState, Psp, Reply};
use crate::fw::rmm::FwMemory;

pub(super) fn dev_ctx_missing() -> Refusal {
    Refusal::new(Status::InvalidDevCtx, "not a device context")
}

fn dev_state(why: &'static str) -> Refusal {
    Refusal::new(Status::InvalidDevState, why)
}

/// The algorithms the engine negotiates (P-384, AES-256-GCM, ECDSA-P384, SHA-384).
pub(super) fn algos() -> SpdmAlgos {
    use tsm_proto::tio::status::{Aead, Asym, Dhe, Hash, KeySchedule};
    SpdmAlgos {
        dhe: Dhe::P384,
        aead: Aead::Aes256Gcm,
        asym: Asym::EcdsaP384,
        hash: Hash::Sha384,
        key_schedule: KeySchedule::Spdm,
    }
}

/// The buffers of one SPDM command, resolved and checked.
pub(super) struct Bufs {
    pub(super) req: SlaBuf,
    pub(super) resp: SlaBuf,
    pub(super) scratch: SlaBuf,
    pub(super) output: SlaBuf,
}

impl Bufs {
    fn held(&self) -> Vec<u64> {
        [&self.req, &self.scratch, &self.output]
            .iter()
            .flat_map(|b| b.pages.iter().copied())
            .collect()
    }
}

impl Psp {
    /// Requires the page holding `pa`, and `len` bytes from it within that page, to be
    /// firmware-owned (a status page: fact sheet §4 "data_pg") and reachable.
    fn status_page(&self, pa: u64, len: usize, mem: &mut dyn FwMemory) -> Result<(), Refusal> {
        if (pa % PAGE) as usize + len > PAGE as usize || pa == 0 {
            return Err(param("status page"));
        }
        if !matches!(self.rmp.owner(pa), Owner::Firmware | Owner::Held(_)) {
            return Err(Refusal::new(
                Status::InvalidPageState,
                "status page not firmware-owned",
            ));
        }
        memory::read_at(mem, pa, 1).map(|_| ())
    }

    pub(super) fn tio_status(&mut self, pa: u64, mem: &mut dyn FwMemory) -> Reply {
        self.status_page(pa, TIO_STATUS_LEN, mem)?;
        let mut page = [0u8; TIO_STATUS_LEN];
        let s = tsm_proto::tio::TioStatus {
            init_done: self.init_done,
            ..self.cfg.status
        };
        s.encode(&mut page).map_err(|_| param("status"))?;
        memory::write_at(mem, pa, &page)?;
        Ok(Status::Success)
    }

    pub(super) fn dev_create(
        &mut self,
        dev_ctx: Sla,
        rid: u16,
        root_port_id: u16,
        segment: u8,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let b = SlaBuf::resolve(mem, dev_ctx)?;
        b.reachable(mem)?;
        if b.len() < self.cfg.status.devctx_size as usize {
            return Err(Refusal::new(
                Status::IncorrectBufferLength,
                "dev_ctx too small",
            ));
        }
        self.rmp.require_free(&b.pages)?;
        if let Some(s) = b.scatter {
            self.rmp.require_hypervisor(&[s])?;
        }
        let key = dev_ctx.encode();
        self.rmp.hold(&b.pages, key);
        self.devs.insert(
            key,
            DevCtx {
                state: DevState::Created,
                rid,
                root_port_id,
                segment,
                tc_mask: 0,
                cert_slot: 0,
                streams: [tsm_proto::tio::request::IDE_STREAM_UNUSED; 8],
                dev: Device {
                    spdm: None,
                    stream_id: 0,
                    ide_active: false,
                    tdis: Default::default(),
                },
                chain: Vec::new(),
                measurements: Vec::new(),
                job: None,
            },
        );
        info!("psp: device {rid:#06x} (segment {segment}, root port {root_port_id}) created");
        Ok(Status::Success)
    }

    pub(super) fn dev_reclaim(&mut self, dev_ctx: Sla) -> Reply {
        let key = dev_ctx.encode();
        let d = self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        if d.state == DevState::Connected {
            return Err(dev_state("connected"));
        }
        if self.tdis.values().any(|t| t.dev == key) {
            return Err(Refusal::new(Status::InUse, "TDI contexts remain"));
        }
        if let Some(mut d) = self.devs.remove(&key) {
            if let Some(j) = d.job.take() {
                j.abandon(&mut d.dev);
            }
        }
        self.rmp.release(key);
        info!("psp: device context {key:#x} reclaimed");
        Ok(Status::Success)
    }

    pub(super) fn dev_status(&mut self, dev_ctx: Sla, pa: u64, mem: &mut dyn FwMemory) -> Reply {
        let key = dev_ctx.encode();
        let d = self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        self.status_page(pa, DEV_STATUS_LEN, mem)?;
        let digest = |b: &[u8]| match b.is_empty() {
            true => [0u8; 48],
            false => crate::crypto::sha384(b),
        };
        let pending = d.job.as_ref();
        let s = DevStatus {
            header: DEV_STATUS_LEN as u32,
            ctx_state: match d.state {
                DevState::Created => 0,
                DevState::Connected => 1,
            },
            pending_flags: u8::from(pending.is_some()),
            certs_slot: d.cert_slot,
            devid: d.rid,
            segment: d.segment,
            tc_mask: d.tc_mask,
            pending_command: pending.map_or(0, |j| j.cmd.to_u16()),
            pending_interface_id: Default::default(),
            flags: u32::from(!d.measurements.is_empty()),
            ide_stream_id: d.streams.map(u16::from),
            certs_digest: digest(&d.chain),
            meas_digest: digest(&d.measurements),
            tdi_count: self.tdis.values().filter(|t| t.dev == key).count() as u32,
            bound_tdi_count: self
                .tdis
                .values()
                .filter(|t| t.dev == key && t.gctx.is_some())
                .count() as u32,
            algos: algos(),
        };
        let mut b = [0u8; DEV_STATUS_LEN];
        s.encode(Layout::Current, &mut b)
            .map_err(|_| param("status"))?;
        memory::write_at(mem, pa, &b)?;
        Ok(Status::Success)
    }

    /// Resolves and checks the four buffers of `ctrl` for the device `key`.
    fn bufs(&self, ctrl: SpdmCtrl, key: u64, mem: &mut dyn FwMemory) -> Result<Bufs, Refusal> {
        let get = |mem: &mut dyn FwMemory, s: Sla| -> Result<SlaBuf, Refusal> {
            let b = SlaBuf::resolve(mem, s)?;
            b.reachable(mem)?;
            if let Some(p) = b.scatter {
                self.rmp.require_hypervisor(&[p])?;
                memory::read_at(mem, p, 1)?;
            }
            Ok(b)
        };
        let bufs = Bufs {
            req: get(mem, ctrl.req)?,
            resp: get(mem, ctrl.resp)?,
            scratch: get(mem, ctrl.scratch)?,
            output: get(mem, ctrl.output)?,
        };
        self.rmp.require_firmware(&bufs.held(), key)?;
        self.rmp.require_hypervisor(&bufs.resp.pages)?;
        let min = |b: &SlaBuf, r: tsm_proto::tio::status::SizeRange| b.len() >= r.min as usize;
        let st = &self.cfg.status;
        let ok = [
            min(&bufs.req, st.req),
            min(&bufs.resp, st.req),
            min(&bufs.scratch, st.scratch),
            min(&bufs.output, st.output),
        ];
        if ok.contains(&false) {
            return Err(Refusal::new(
                Status::IncorrectBufferLength,
                "an SPDM buffer is too small",
            ));
        }
        Ok(bufs)
    }

    /// The expand knob: if `req`'s output buffer is smaller than `bytes`, writes `bytes`
    /// as its capacity and answers EXPAND; `None` when it is large enough already.
    pub(super) fn expand(
        &mut self,
        req: &Request,
        bytes: u32,
        mem: &mut dyn FwMemory,
    ) -> Result<Option<Status>, Refusal> {
        let ctrl = req.ctrl().ok_or(param("no spdm_ctrl"))?;
        let out = SlaBuf::resolve(mem, ctrl.output)?;
        if out.len() >= bytes as usize {
            return Ok(None);
        }
        if !matches!(
            self.rmp.owner(out.pages[0]),
            Owner::Firmware | Owner::Held(_)
        ) {
            return Err(Refusal::new(
                Status::InvalidPageState,
                "output not firmware-owned",
            ));
        }
        memory::write_at(mem, out.pages[0], &bytes.to_le_bytes())?;
        info!(
            "psp: EXPAND: output buffer of {} bytes, {bytes} needed",
            out.len()
        );
        Ok(Some(Status::ExpandBufferLengthRequest))
    }

    /// The fence knob: every guest with a TDI bound on `req`'s device is fenced.
    pub(super) fn raise_fence(&mut self, req: &Request, d: DmaFence, m: MmioFence) {
        let Some(key) = dev_of(req) else { return };
        let asids: Vec<u32> = self
            .tdis
            .values()
            .filter(|t| t.dev == key && t.gctx.is_some())
            .map(|t| t.asid)
            .collect();
        for a in asids {
            info!("psp: ASID {a} fenced (DMA {d:?}, MMIO {m:?})");
            self.fences.insert(a, (d, m));
        }
    }

    /// An SPDM command: a re-issue continues the device's job, a new command starts
    /// one after its checks.
    pub(super) fn spdm(&mut self, req: &Request, raw: &[u8], mem: &mut dyn FwMemory) -> Reply {
        let cmd = req.command();
        let ctrl = req.ctrl().ok_or(param("no spdm_ctrl"))?;
        let key = dev_of(req).ok_or(param("no dev_ctx"))?;
        let d = self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        let forced_disconnect = matches!(req, Request::DevDisconnect { force: true, .. });
        if let Some(j) = &d.job {
            if j.cmd == cmd && j.saved == raw {
                return self.resume(key, mem);
            }
            if !forced_disconnect {
                return Err(Refusal::new(
                    Status::InUse,
                    "another command's exchange is in progress",
                ));
            }
        }
        let bufs = self.bufs(ctrl, key, mem)?;
        let (finish, steps) = self.plan(req, key)?;
        // Committed: nothing below refuses.
        let held = bufs.held();
        self.rmp.hold(&held, key);
        if let Some(d) = self.devs.get_mut(&key) {
            if let Some(j) = d.job.take() {
                warn!("psp: forced disconnect drops {:?} in progress", j.cmd);
                j.abandon(&mut d.dev);
            }
            if let Request::DevConnect {
                tc_mask,
                cert_slot,
                ide_stream_id,
                ..
            } = *req
            {
                d.dev.stream_id = ide_stream_id[0];
                d.dev.spdm = None;
                d.dev.ide_active = false;
                (d.tc_mask, d.cert_slot, d.streams) = (tc_mask, cert_slot, ide_stream_id);
            }
            if let Request::TdiBind {
                tdi_ctx,
                lock_flags,
                run_flags,
                ..
            } = *req
            {
                if run_flags & tsm_proto::tio::request::RUN_FLAG_RUN == 0 {
                    let f = self.tdis.get(&tdi_ctx.encode()).map(|t| t.interface);
                    if let Some(x) =
                        f.and_then(|i| d.dev.tdis.get_mut(&super::tdi::function(i).to_u32()))
                    {
                        x.lock.flags = super::tdi::tdisp_flags(lock_flags);
                        x.params.lock_flags = x.lock.flags;
                    }
                }
            }
            d.job = Some(Job::new(cmd, raw.to_vec(), ctrl, finish, steps));
        }
        info!("psp: {cmd:?} on device {key:#x} started");
        self.resume(key, mem)
    }

    /// Runs the device's job one exchange further.
    fn resume(&mut self, key: u64, mem: &mut dyn FwMemory) -> Reply {
        let Some(d) = self.devs.get_mut(&key) else {
            return Err(dev_ctx_missing());
        };
        let Some(mut job) = d.job.take() else {
            return Err(param("no job"));
        };
        let bufs = match (
            SlaBuf::resolve(mem, job.ctrl.req),
            SlaBuf::resolve(mem, job.ctrl.resp),
        ) {
            (Ok(r), Ok(s)) => (r, s),
            _ => {
                d.job = Some(job);
                return Err(param("SPDM buffers"));
            }
        };
        match job.step(&mut d.dev, &self.cfg.engine, mem, &bufs.0, &bufs.1) {
            Ok(Step::Relay) => {
                d.job = Some(job);
                Ok(Status::SpdmRequest)
            }
            Ok(Step::Done) => self.finish(key, job, mem),
            Err(e) => {
                warn!("psp: {:?} failed: {e}", job.cmd);
                self.failed(key, &job);
                Ok(Status::SpdmError)
            }
        }
    }

    /// What a command checks before its job starts: the finish and the engine ops.
    fn plan(&self, req: &Request, key: u64) -> Result<(Finish, Vec<Engine>), Refusal> {
        let d = self.devs.get(&key).ok_or_else(dev_ctx_missing)?;
        let connected = || match d.state {
            DevState::Connected => Ok(()),
            DevState::Created => Err(dev_state("not connected")),
        };
        match *req {
            Request::DevConnect {
                tc_mask,
                ide_stream_id,
                ..
            } => {
                if d.state != DevState::Created {
                    return Err(dev_state("already connected"));
                }
                if tc_mask & 1 == 0
                    || ide_stream_id[0] == tsm_proto::tio::request::IDE_STREAM_UNUSED
                {
                    return Err(param("TC0 and its stream are required"));
                }
                Ok((
                    Finish::Connect,
                    vec![Engine::Connect(Box::new(ConnectOp::new()))],
                ))
            }
            Request::DevDisconnect { force, .. } => {
                connected()?;
                if force {
                    return Ok((Finish::Disconnect, Vec::new()));
                }
                if self.tdis.values().any(|t| t.dev == key && t.gctx.is_some()) {
                    return Err(Refusal::new(Status::InUse, "TDIs bound"));
                }
                let session = d.dev.spdm.as_ref().is_some_and(|s| s.session.is_some());
                let op = DisconnectOp {
                    i: 0,
                    ide: d.dev.ide_active,
                    session,
                };
                Ok((Finish::Disconnect, vec![Engine::Disconnect(op)]))
            }
            Request::DevMeasurements { raw, nonce, .. } => {
                connected()?;
                Ok((
                    Finish::Measurements,
                    vec![Engine::Measurements(MeasOp::new(nonce, raw))],
                ))
            }
            Request::DevCertificates { .. } => {
                connected()?;
                Ok((Finish::Certificates, Vec::new()))
            }
            Request::RollKey { .. } => {
                connected()?;
                Ok((
                    Finish::RollKey,
                    vec![Engine::Connect(Box::new(ConnectOp::ide_only()))],
                ))
            }
            _ => self.plan_tdi(req, key),
        }
    }

    /// A job ended well: the transition and the output.
    fn finish(&mut self, key: u64, job: Job, mem: &mut dyn FwMemory) -> Reply {
        let Some(d) = self.devs.get_mut(&key) else {
            return Err(dev_ctx_missing());
        };
        let (rid, seg) = (d.rid, d.segment);
        let out = match job.finish {
            Finish::Connect => {
                d.state = DevState::Connected;
                d.chain = job.chain.clone();
                info!("psp: device {key:#x} connected");
                Some((ObjectId::Certificate, job.chain.clone()))
            }
            Finish::Certificates => Some((ObjectId::Certificate, d.chain.clone())),
            Finish::Measurements => {
                d.measurements = job.measurements.clone();
                Some((ObjectId::Measurement, job.measurements.clone()))
            }
            Finish::RollKey => None,
            Finish::Disconnect => {
                d.state = DevState::Created;
                d.dev.spdm = None;
                d.dev.ide_active = false;
                for t in d.dev.tdis.values_mut() {
                    t.state = tsm_proto::state::TdiState::ConfigUnlocked;
                }
                let bound: Vec<u64> = self
                    .tdis
                    .iter()
                    .filter(|(_, t)| t.dev == key && t.gctx.is_some())
                    .map(|(k, _)| *k)
                    .collect();
                for t in bound {
                    self.unbound(t);
                }
                info!("psp: device {key:#x} disconnected");
                None
            }
            _ => self.finish_tdi(&job),
        };
        if let Some((id, body)) = out {
            if !job.ctrl.output.is_null() {
                let b = SlaBuf::resolve(mem, job.ctrl.output)?;
                let cap = u32::try_from(b.len()).unwrap_or(u32::MAX);
                let mut page = vec![0u8; BUFFER_HEADER_LEN + 0x20 + body.len()];
                write_output(&mut page, cap, id, rid, seg, 1, &body)
                    .map_err(|_| param("output"))?;
                b.write(mem, &page)?;
            }
        }
        Ok(Status::Success)
    }

    /// A job failed: the context as before the command.
    fn failed(&mut self, key: u64, job: &Job) {
        if let Some(d) = self.devs.get_mut(&key) {
            if job.cmd == Command::DevConnect {
                d.dev.spdm = None;
                d.dev.ide_active = false;
            }
        }
        self.failed_tdi(job);
    }
}

/// The device context a request names.
pub(super) fn dev_of(req: &Request) -> Option<u64> {
    match *req {
        Request::DevCreate { dev_ctx, .. }
        | Request::DevReclaim { dev_ctx }
        | Request::DevConnect { dev_ctx, .. }
        | Request::DevDisconnect { dev_ctx, .. }
        | Request::DevStatus { dev_ctx, .. }
        | Request::DevMeasurements { dev_ctx, .. }
        | Request::DevCertificates { dev_ctx, .. }
        | Request::TdiCreate { dev_ctx, .. }
        | Request::TdiReclaim { dev_ctx, .. }
        | Request::TdiBind { dev_ctx, .. }
        | Request::TdiUnbind { dev_ctx, .. }
        | Request::TdiReport { dev_ctx, .. }
        | Request::TdiStatus { dev_ctx, .. }
        | Request::GuestRequest { dev_ctx, .. }
        | Request::AsidFenceClear { dev_ctx, .. }
        | Request::AsidFenceStatus { dev_ctx, .. }
        | Request::TdiInfo { dev_ctx, .. }
        | Request::RollKey { dev_ctx, .. } => Some(dev_ctx.encode()),
        Request::TioStatus { .. } | Request::TioInit => None,
    }
}
