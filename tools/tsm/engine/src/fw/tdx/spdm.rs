// SPDX-License-Identifier: GPL-2.0

//! The SPDM object of a device (§1): TDH.SPDM.CREATE and DELETE (plain calls), and the
//! extension SEAMCALLs SPDM.CONNECT, DISCONNECT and MNG, which run device operations
//! through the relay ([`super::relay`]) on the extension queue. Also the operation
//! runner every relaying call shares ([`TdxModule::converse`]).

use std::collections::BTreeMap;

use log::info;
use tsm_proto::codec::Writer;
use tsm_proto::tdx::fields::CONNECT_CONFIG_LEN;
use tsm_proto::tdx::hpa::write_root_page;
use tsm_proto::tdx::{
    ConnectConfig, FunctionId, HpaArray, Input, Leaf, MngOp, Output, ReleaseBuffer, Returned,
    SpdmCreate, SpdmDelete, Status, PAGE_SIZE,
};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::super::Device;
use super::ide::StreamRec;
use super::pages::{read_page, write_page, Owner};
use super::relay::{Conversation, Engine, Step};
use super::tdi::TdiKey;
use super::{
    bdf, busy, done, failed, fresh_device, refuse, relay_out, FwMemory, Refusal, Reply, TdxModule,
};

/// What a device operation is running for: the call whose re-issues continue it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKey {
    /// A published relaying leaf, by its inputs.
    Leaf(Input),
    /// A provisional TDI call.
    Tdi(TdiKey),
}

/// A device operation in progress.
pub(super) struct Op {
    pub(super) key: OpKey,
    pub(super) conv: Conversation,
}

/// An SPDM object.
pub(super) struct SpdmRec {
    /// The device's PF0.
    pub(super) function: FunctionId,
    /// SPDM_MT as handed over.
    pub(super) mt: HpaArray,
    /// The session is up.
    pub(super) connected: bool,
    /// The requester's record of the device (session, stream, TDIs).
    pub(super) dev: Device,
    /// The device operation in progress.
    pub(super) op: Option<Op>,
    /// KEY_REQUIRE_REFRESH was answered; SPDM.MNG KEY_UPDATE is due.
    pub(super) refresh_due: bool,
    /// The device information (the certificate chain, SPDM format).
    pub(super) dev_info: Vec<u8>,
    /// The IDE streams.
    pub(super) streams: BTreeMap<u64, StreamRec>,
}

/// How far one call of a device operation got.
pub(super) enum Ran {
    /// A request is in the request page (its length).
    More(u64),
    /// The operation finished.
    Done(Conversation),
    /// The operation failed and is over.
    Failed,
    /// KEY_UPDATE is due first (nothing changed).
    Refresh,
}

impl Ran {
    /// The reply of a call that is not done: SPDM_REQUEST, DEVICE_FAILURE or
    /// KEY_REQUIRE_REFRESH.
    pub(super) fn pending(&self) -> Option<Returned> {
        match self {
            Ran::More(n) => Some(relay_out(*n)),
            Ran::Failed => Some(failed()),
            Ran::Refresh => Some(Returned {
                rax: Status::KeyRequireRefresh.code(),
                rcx: 0,
                rdx: 0,
            }),
            Ran::Done(_) => None,
        }
    }
}

/// The pages of a metadata array, released: written to the release buffer, returned as
/// the output `HPA_ARRAY_T` (§1 SPDM.DELETE).
///
/// Unconfirmed: whether the release buffer must be the array's own root page (any host
/// page is accepted) and whether a singleton array may name one (it may not).
pub(super) fn write_release(
    mt: HpaArray,
    pages: &[u64],
    rb: ReleaseBuffer,
    host_page: impl Fn(u64) -> Result<u64, Refusal>,
    mem: &mut dyn FwMemory,
) -> Result<HpaArray, Refusal> {
    match (mt.has_root(), rb) {
        (false, ReleaseBuffer::Singleton) => Ok(HpaArray::singleton(mt.pa)),
        (true, ReleaseBuffer::Root(pa)) => {
            let pa = host_page(pa)?;
            let mut page = vec![0u8; PAGE_SIZE];
            write_root_page(pages, &mut Writer::new(&mut page))
                .map_err(|_| refuse("released list does not encode"))?;
            write_page(mem, pa, &page)?;
            Ok(HpaArray::root(pa, mt.count))
        }
        _ => Err(refuse("release buffer does not fit the array")),
    }
}

impl TdxModule {
    /// TDH.SPDM.CREATE: one SPDM object per FUNCTION_ID, SPDM_MT of exactly
    /// SPDM_MT_PAGE_COUNT pages (Unconfirmed: "exactly").
    pub(super) fn spdm_create(&mut self, i: SpdmCreate, mem: &mut dyn FwMemory) -> Reply {
        self.ready()?;
        if self.spdms.values().any(|s| s.function == i.function) {
            return Err(refuse("the function has an SPDM object"));
        }
        if i.spdm_mt.count != self.cfg.spdm_mt_pages {
            return Err(refuse("SPDM_MT page count"));
        }
        let pages = self.pages.read_array(mem, i.spdm_mt)?;
        self.pages.check_new(&pages)?;
        let id = self.new_id();
        self.pages.claim(&pages, Owner::SpdmMt(id));
        self.spdms.insert(
            id,
            SpdmRec {
                function: i.function,
                mt: i.spdm_mt,
                connected: false,
                dev: fresh_device(),
                op: None,
                refresh_due: false,
                dev_info: Vec::new(),
                streams: BTreeMap::new(),
            },
        );
        info!("tdx: SPDM object {id:#x} for {}", bdf(i.function));
        done(Output::SpdmId(id))
    }

    /// TDH.SPDM.DELETE: no operation in progress, no stream, no TDI. The SPDM_MT pages
    /// return to the host, listed in the release buffer.
    ///
    /// Unconfirmed: whether DELETE of an object still holding a session is refused; the
    /// model drops the session without END_SESSION (so that a host whose DISCONNECT
    /// failed can still free the pages).
    pub(super) fn spdm_delete(&mut self, d: SpdmDelete, mem: &mut dyn FwMemory) -> Reply {
        let rec = self
            .spdms
            .get(&d.spdm_id)
            .ok_or(refuse("no such SPDM_ID"))?;
        if rec.op.is_some() {
            return Err(busy("an operation of the SPDM object is in progress"));
        }
        if !rec.streams.is_empty() || !rec.dev.tdis.is_empty() {
            return Err(refuse("the SPDM object has streams or TDIs"));
        }
        let pages: Vec<u64> = self
            .pages
            .all()
            .iter()
            .filter(|(_, o)| **o == Owner::SpdmMt(d.spdm_id))
            .map(|(pa, _)| *pa)
            .collect();
        let pages_ref = &self.pages;
        let out = write_release(rec.mt, &pages, d.release, |pa| pages_ref.host_page(pa), mem)?;
        self.spdms.remove(&d.spdm_id);
        self.pages.release(Owner::SpdmMt(d.spdm_id));
        info!("tdx: SPDM object {:#x} deleted", d.spdm_id);
        done(Output::Released(out))
    }

    /// SPDM.CONNECT, DISCONNECT and MNG.
    pub(super) fn spdm_relaying(&mut self, input: Input, mem: &mut dyn FwMemory) -> Reply {
        match input {
            Input::SpdmConnect(c) => {
                let rec = self
                    .spdms
                    .get(&c.spdm_id)
                    .ok_or(refuse("no such SPDM_ID"))?;
                if rec.connected {
                    return Err(refuse("the SPDM object is connected"));
                }
                let cfg = read_page(mem, self.pages.host_page(c.config)?)?;
                ConnectConfig::decode(&cfg).map_err(|_| refuse("config page"))?;
                if cfg[CONNECT_CONFIG_LEN..].iter().any(|b| *b != 0) {
                    return Err(refuse("config page reserved bytes"));
                }
                if c.dev_info.count > self.cfg.dev_info_pages {
                    return Err(refuse("more dev-info pages than SPDM_MAX_DEV_INFO_PAGES"));
                }
                let out = self.pages.read_array(mem, c.dev_info)?;
                for pa in &out {
                    self.pages.host_page(*pa)?;
                }
                let ran = self.converse(
                    c.spdm_id,
                    OpKey::Leaf(input),
                    c.response,
                    c.request,
                    mem,
                    |r| {
                        r.dev = fresh_device();
                        Ok(Engine::Connect(Box::new(ConnectOp::session_only())))
                    },
                )?;
                if let Some(r) = ran.pending() {
                    return Ok(r);
                }
                let Ran::Done(conv) = ran else {
                    return Ok(failed());
                };
                let info = conv.chain().to_vec();
                if info.len() > out.len() * PAGE_SIZE {
                    self.drop_session(c.spdm_id);
                    return Ok(failed());
                }
                for (pa, chunk) in out.iter().zip(info.chunks(PAGE_SIZE)) {
                    if write_page(mem, *pa, chunk).is_err() {
                        self.drop_session(c.spdm_id);
                        return Ok(failed());
                    }
                }
                if let Some(rec) = self.spdms.get_mut(&c.spdm_id) {
                    rec.connected = true;
                    rec.dev_info.clone_from(&info);
                }
                info!("tdx: SPDM object {:#x} connected", c.spdm_id);
                done(Output::DevInfo(info.len()))
            }
            Input::SpdmDisconnect(d) => {
                let rec = self
                    .spdms
                    .get(&d.spdm_id)
                    .ok_or(refuse("no such SPDM_ID"))?;
                if !rec.connected {
                    return Err(refuse("the SPDM object is not connected"));
                }
                if !rec.streams.is_empty() || !rec.dev.tdis.is_empty() {
                    return Err(refuse("the SPDM object has streams or TDIs"));
                }
                let ran = self.converse(
                    d.spdm_id,
                    OpKey::Leaf(input),
                    d.response,
                    d.request,
                    mem,
                    |_| {
                        Ok(Engine::Disconnect(DisconnectOp {
                            i: 6,
                            ide: false,
                            session: true,
                        }))
                    },
                )?;
                if let Ran::More(_) | Ran::Refresh = ran {
                    return Ok(ran.pending().unwrap_or_else(failed));
                }
                // Unconfirmed: after a failed END_SESSION the module's side of the
                // session is gone as well.
                self.drop_session(d.spdm_id);
                info!("tdx: SPDM object {:#x} disconnected", d.spdm_id);
                match ran {
                    Ran::Done(_) => done(Output::None),
                    _ => Ok(failed()),
                }
            }
            Input::SpdmMng(m) => {
                let busy_elsewhere = self.ext.is_some_and(|(_, id)| id != m.spdm_id);
                let rec = self
                    .spdms
                    .get_mut(&m.spdm_id)
                    .ok_or(refuse("no such SPDM_ID"))?;
                if !rec.connected && !rec.refresh_due {
                    return Err(refuse("the SPDM object is not connected"));
                }
                for pa in [Some(m.response), Some(m.request), m.param]
                    .into_iter()
                    .flatten()
                {
                    self.pages.host_page(pa)?;
                }
                if busy_elsewhere {
                    return Err(busy("extension queue: another call in progress"));
                }
                if rec.op.is_some() && !(rec.refresh_due && m.op == MngOp::KeyUpdate) {
                    return Err(busy("an operation of the SPDM object is in progress"));
                }
                // Unconfirmed: the engine's requester has no HEARTBEAT or KEY_UPDATE
                // message, so SPDM.MNG sends nothing to the device.
                match m.op {
                    MngOp::KeyUpdate => {
                        rec.refresh_due = false;
                        info!("tdx: SPDM object {:#x} key update", m.spdm_id);
                        done(Output::None)
                    }
                    _ if rec.refresh_due => Ok(Ran::Refresh.pending().unwrap_or_else(failed)),
                    MngOp::Heartbeat => done(Output::None),
                    MngOp::DevInfoRecollection => {
                        let Some(array) = m.output else {
                            return Err(refuse("DEV_INFO_RECOLLECTION without output pages"));
                        };
                        let info = rec.dev_info.clone();
                        let out = self.pages.read_array(mem, array)?;
                        if info.len() > out.len() * PAGE_SIZE {
                            return Err(refuse("output pages too small"));
                        }
                        for pa in &out {
                            self.pages.host_page(*pa)?;
                        }
                        for (pa, chunk) in out.iter().zip(info.chunks(PAGE_SIZE)) {
                            write_page(mem, *pa, chunk)?;
                        }
                        done(Output::MngOutput(info.len()))
                    }
                }
            }
            _ => Err(refuse("not an SPDM extension leaf")),
        }
    }

    /// The session of SPDM object `id` is gone.
    fn drop_session(&mut self, id: u64) {
        if let Some(rec) = self.spdms.get_mut(&id) {
            rec.connected = false;
            rec.refresh_due = false;
            rec.dev = fresh_device();
            rec.dev_info.clear();
        }
    }

    /// Starts (with `start`) or continues the device operation of `key` on SPDM object
    /// `id`: the re-issue of the call that started it feeds the answer in `response`;
    /// any other operation meanwhile is OPERAND_BUSY, and so is any other extension
    /// call while an extension call is in progress. Refusals change nothing.
    pub(super) fn converse(
        &mut self,
        id: u64,
        key: OpKey,
        response: u64,
        request: u64,
        mem: &mut dyn FwMemory,
        start: impl FnOnce(&mut SpdmRec) -> Result<Engine, Refusal>,
    ) -> Result<Ran, Refusal> {
        let extension = matches!(key, OpKey::Leaf(i) if i.leaf().is_extension());
        self.pages.host_page(response)?;
        self.pages.host_page(request)?;
        if response == request {
            return Err(refuse("request and response are one page"));
        }
        let ext = self.ext;
        let rec = self.spdms.get_mut(&id).ok_or(refuse("no such SPDM_ID"))?;
        if rec.refresh_due {
            return Ok(Ran::Refresh);
        }
        let step = if let Some(o) = rec.op.as_mut() {
            if o.key != key {
                return Err(busy("an operation of the SPDM object is in progress"));
            }
            let answer = o.conv.read_answer(mem, response).map_err(refuse)?;
            o.conv
                .step(&mut rec.dev, &self.engine_cfg, answer, mem, request)
        } else {
            if extension && ext.is_some() {
                return Err(busy("extension queue: another call in progress"));
            }
            let engine = start(rec)?;
            let mut conv = Conversation::new(engine);
            let step = conv.step(&mut rec.dev, &self.engine_cfg, None, mem, request);
            rec.op = Some(Op { key, conv });
            step
        };
        let leaf = match key {
            OpKey::Leaf(i) => i.leaf(),
            OpKey::Tdi(_) => Leaf::SpdmMng,
        };
        match step {
            Step::Request(n) => {
                if extension {
                    self.ext = Some((leaf, id));
                }
                Ok(Ran::More(n))
            }
            Step::Done | Step::Failed => {
                if self.ext.is_some_and(|(_, e)| e == id) {
                    self.ext = None;
                }
                let conv = self
                    .spdms
                    .get_mut(&id)
                    .and_then(|r| r.op.take())
                    .map(|o| o.conv);
                match (step, conv) {
                    (Step::Done, Some(c)) => Ok(Ran::Done(c)),
                    _ => Ok(Ran::Failed),
                }
            }
        }
    }
}
