// SPDX-License-Identifier: GPL-2.0

//! The AMD PSP SEV-TIO model driven as a SEV-TIO host backend would drive a real PSP: a
//! small host written here (the role of the kernel backend) issues TIO commands through
//! the conduit's fake channel and `serve_psp_one`, runs each with the sequencer of
//! `tsm_proto::tio` (SPDM relay, one EXPAND grow-and-retry), carries every DOE exchange
//! to an in-process tsm-dsm, and follows the ABI's orders (`tio::order`): platform
//! init, DEV_DISCONNECT with its forced retry then DEV_RECLAIM, and TDI teardown
//! (unbind → status → reclaim → fence). Then every knob, and the ABI's refusals.
//!
//! The host's RMP updates and guest launch are the conduit's stand-ins
//! (`tsm_proto::tio::standin`), made through the same channel as the commands, the way
//! the kernel backend makes them on the model's conduit.
//!
//! Every status other than success, SPDM_REQUEST and SPDM_ERROR (a device failure,
//! which ends the command) must leave the model as it was; `Host::issue` checks that on
//! every command, and `Host::stand_in` on every stand-in (any status but 0).

use std::time::Duration;

use tsm_engine::conduit::{serve_psp_one, FakeChannel};
use tsm_engine::faults::Faults;
use tsm_engine::fw::psp::{DevState, Knobs, Psp, PspConfig};
use tsm_engine::fw::rmm::{FwMemory, PageMemory};
use tsm_engine::testing::testbed;
use tsm_engine::transport::relay::{
    doe_request_object, doe_response_payload, DoeEndpoint, LocalDsm,
};
use tsm_proto::conduit::{Kind, NR_REGS};
use tsm_proto::tio::buffer::{expand_request, init_resp, write_resp, OutputObject, SpdmRequest};
use tsm_proto::tio::order::{DevTeardown, TdiTeardown};
use tsm_proto::tio::sla::encode_scatter;
use tsm_proto::tio::standin::{self, StandIn};
use tsm_proto::tio::status::{TdiInfoState, TdispState};
use tsm_proto::tio::{
    Command, Completion, Done, Failure, FenceStatus, InterfaceId, Layout, LockFlags, Next,
    ObjectId, Op, PlatformInit, Request, Sequencer, Sla, SpdmCtrl, Status, TdiInfo, TdiStatus,
    TioStatus, PAGE_SIZE,
};

const P: u64 = PAGE_SIZE as u64;
const RID: u16 = 0x0100;
const GCTX: u64 = 0x7_0000_0000;
const ASID: u32 = 5;
/// The TC0 stream: the testbed DSM has selective IDE stream 0.
const STREAM: u8 = 0;

/// A buffer the host allocated: its SLA and pages.
#[derive(Debug, Clone)]
struct HBuf {
    sla: Sla,
    pages: Vec<u64>,
}

struct Host {
    psp: Psp,
    mem: PageMemory,
    dsm: LocalDsm,
    next_pa: u64,
    last_id: u64,
    cmd_page: u64,
    status_page: u64,
    /// Pages the host made firmware-owned (to reclaim at the end).
    fw: Vec<u64>,
    tio: Option<TioStatus>,
    dev_ctx: Option<HBuf>,
    ctrl: SpdmCtrl,
    output: Option<HBuf>,
    resp: Option<HBuf>,
    req: Option<HBuf>,
    tdi_ctx: Option<HBuf>,
    reached_run: bool,
    /// Statuses in order, for the tests.
    trace: Vec<(Command, u16)>,
}

impl Host {
    fn new(knobs: &str) -> Self {
        let (dsm, cfg) = testbed::platform(Faults::default()).expect("platform");
        let mut pc = PspConfig::new(cfg.trust_anchor);
        pc.knobs = knobs.parse::<Knobs>().expect("knobs");
        let mut h = Self {
            psp: Psp::new(pc),
            mem: PageMemory::new(),
            dsm: LocalDsm(dsm),
            next_pa: 0x1_0000_0000,
            last_id: 0,
            cmd_page: 0,
            status_page: 0,
            fw: Vec::new(),
            tio: None,
            dev_ctx: None,
            ctrl: SpdmCtrl::default(),
            output: None,
            resp: None,
            req: None,
            tdi_ctx: None,
            reached_run: false,
            trace: Vec::new(),
        };
        h.cmd_page = h.page();
        h.status_page = h.fw_page();
        h
    }

    fn page(&mut self) -> u64 {
        let pa = self.next_pa;
        self.next_pa += P;
        self.mem.add_page(pa);
        pa
    }

    fn fw_page(&mut self) -> u64 {
        let pa = self.page();
        assert_eq!(
            self.stand_in(StandIn::MakeFirmware, pa, 0),
            0,
            "rmp_make_private"
        );
        self.fw.push(pa);
        pa
    }

    /// A buffer of `bytes`: firmware-owned pages or not; a scatter page (hypervisor)
    /// for more than one.
    fn buf(&mut self, bytes: u32, firmware: bool) -> HBuf {
        let n = (bytes as u64).div_ceil(P).max(1);
        let pages: Vec<u64> = (0..n)
            .map(|_| {
                if firmware {
                    self.fw_page()
                } else {
                    self.page()
                }
            })
            .collect();
        let sla = if n == 1 {
            Sla::data_4k(pages[0]).unwrap()
        } else {
            let s = self.page();
            let mut page = vec![0u8; PAGE_SIZE];
            encode_scatter(&pages, &mut page).unwrap();
            self.mem.write(s, &page).unwrap();
            Sla::scatter(s).unwrap()
        };
        HBuf { sla, pages }
    }

    fn read_buf(&mut self, b: &HBuf) -> Vec<u8> {
        let mut out = vec![0u8; b.pages.len() * PAGE_SIZE];
        for (p, c) in b.pages.iter().zip(out.chunks_mut(PAGE_SIZE)) {
            self.mem.read(*p, c).unwrap();
        }
        out
    }

    fn write_buf(&mut self, b: &HBuf, data: &[u8]) {
        for (p, c) in b.pages.iter().zip(data.chunks(PAGE_SIZE)) {
            self.mem.write(*p, c).unwrap();
        }
    }

    /// One PSP call through the conduit: its status and the handed-memory accesses the
    /// model made. The return must echo the call's registers but the status.
    fn call(&mut self, regs: [u64; NR_REGS]) -> (u16, usize) {
        let mut ch = FakeChannel::new(&mut self.mem, self.last_id);
        let id = ch.call(Kind::PspCommand, regs);
        assert!(serve_psp_one(&mut ch, &mut self.psp).expect("serve"));
        self.last_id = ch.last_id();
        let out = ch.result(id).expect("answered");
        assert_eq!((out[0], out[1], &out[3..]), (regs[0], regs[1], &regs[3..]));
        (out[2] as u16, ch.accesses)
    }

    /// One stand-in call (`regs[0]` = `id`, `regs[1]` = `at`, `regs[3]` = `r3`): its
    /// status. It touches no handed memory, and a refusal changes nothing.
    fn stand_in_raw(&mut self, id: u64, at: u64, r3: u64) -> u16 {
        let before = self.psp.snapshot();
        let mut regs = [0u64; NR_REGS];
        (regs[0], regs[1], regs[3]) = (id, at, r3);
        let (st, accesses) = self.call(regs);
        assert_eq!(accesses, 0, "stand-in {id:#x} touched memory");
        if st != 0 {
            assert_eq!(
                self.psp.snapshot(),
                before,
                "stand-in {id:#x} answered {st:#x} changed the model"
            );
        }
        st
    }

    fn stand_in(&mut self, s: StandIn, at: u64, r3: u64) -> u16 {
        self.stand_in_raw(s.to_u64(), at, r3)
    }

    /// One mailbox command through the conduit; its status and the copy-back.
    fn issue(&mut self, cmd: Command, buf: &[u8]) -> (u16, Vec<u8>) {
        let before = self.psp.snapshot();
        self.mem.write(self.cmd_page, buf).unwrap();
        let mut regs = [0u64; NR_REGS];
        regs[0] = u64::from(cmd.to_u16());
        regs[1] = self.cmd_page;
        let (st, _) = self.call(regs);
        let mut copied = vec![0u8; buf.len()];
        self.mem.read(self.cmd_page, &mut copied).unwrap();
        if !matches!(st, 0 | 0x32 | 0x33) {
            assert_eq!(
                self.psp.snapshot(),
                before,
                "{cmd:?} answered {st:#x} changed the model"
            );
        }
        self.trace.push((cmd, st));
        (st, copied)
    }

    /// One command run by the sequencer: relays, one EXPAND.
    fn run(&mut self, req: Request) -> Result<Done, Failure> {
        let mut next = Next::Issue(Sequencer::start(Layout::Current, req)?);
        loop {
            next = match next {
                Next::Issue(i) => {
                    let (st, copied) = self.issue(i.command(), i.buffer().as_bytes());
                    i.returned(st, &copied)
                }
                Next::Relay(r) => match self.relay() {
                    true => r.exchanged(),
                    false => r.failed(),
                },
                Next::Expand(e) => {
                    let ctrl = e.ctrl().expect("spdm command");
                    let out = self.output.clone().expect("output");
                    let bytes = self.read_buf(&out);
                    let host_len = (out.pages.len() * PAGE_SIZE) as u32;
                    match expand_request(&bytes, host_len).unwrap() {
                        Some(cap) => {
                            // The old buffer stays firmware-owned until the host
                            // reclaims it at the end (the device may hold it).
                            let nb = self.buf(cap, true);
                            let new = SpdmCtrl {
                                output: nb.sla,
                                ..ctrl
                            };
                            self.output = Some(nb);
                            self.ctrl = new;
                            e.grown(new)
                        }
                        None => e.abandon(),
                    }
                }
                Next::Done(r) => return r,
            };
        }
    }

    /// Relays the REQ in the req buffer to the DSM and writes RESP.
    fn relay(&mut self) -> bool {
        let req = self.req.clone().unwrap();
        let resp = self.resp.clone().unwrap();
        let bytes = self.read_buf(&req);
        let Ok(r) = SpdmRequest::decode(&bytes) else {
            return false;
        };
        let ty = r.data_type.doe_type();
        let answer = doe_request_object(ty, r.payload)
            .and_then(|o| self.dsm.exchange(&o, Duration::from_secs(2)))
            .and_then(|o| doe_response_payload(&o, ty));
        let Ok(p) = answer else { return false };
        let mut rb = self.read_buf(&resp);
        if write_resp(&mut rb, r.data_type, &p).is_err() {
            return false;
        }
        self.write_buf(&resp, &rb);
        true
    }

    fn status_ok(&mut self, req: Request) -> Result<(), Failure> {
        self.run(req).map(|_| ())
    }

    fn platform_init(&mut self) {
        let mut m = PlatformInit::new();
        while let Some(op) = m.next() {
            let c = match op {
                Op::TioStatus => {
                    let ok = self
                        .status_ok(Request::TioStatus {
                            status_paddr: self.status_page,
                        })
                        .is_ok();
                    let page = self.mem.page(self.status_page).unwrap().to_vec();
                    match (ok, TioStatus::decode(&page)) {
                        (true, Ok(s)) => Completion::Status(s),
                        _ => Completion::Failed,
                    }
                }
                _ => match self.status_ok(Request::TioInit) {
                    Ok(()) => Completion::Ok,
                    Err(_) => Completion::Failed,
                },
            };
            m = m.complete(op, c).unwrap();
        }
        let PlatformInit::Ready(s) = m else {
            panic!("platform init failed: {m:?}")
        };
        assert!(s.init_done && s.tio_en);
        self.tio = Some(s);
    }

    fn dev_ctx(&self) -> Sla {
        self.dev_ctx.as_ref().unwrap().sla
    }

    /// DEV_CREATE, the SPDM buffers, DEV_CONNECT; the certificate chain.
    fn connect(&mut self) -> Result<Vec<u8>, Failure> {
        let s = self.tio.unwrap();
        let d = self.buf(s.devctx_size, true);
        self.status_ok(Request::DevCreate {
            dev_ctx: d.sla,
            rid: RID,
            root_port_id: 2,
            segment: 0,
        })?;
        self.dev_ctx = Some(d);
        let [req, resp, scratch, out] = s.buffer_sizes();
        let req = self.buf(req, true);
        let resp = self.buf(resp, false);
        let mut rb = self.read_buf(&resp);
        init_resp(&mut rb, (resp.pages.len() * PAGE_SIZE) as u32).unwrap();
        self.write_buf(&resp, &rb);
        let scratch = self.buf(scratch, true);
        let output = self.buf(out, true);
        self.ctrl = SpdmCtrl {
            req: req.sla,
            resp: resp.sla,
            scratch: scratch.sla,
            output: output.sla,
        };
        (self.req, self.resp, self.output) = (Some(req), Some(resp), Some(output));
        self.run(Request::dev_connect_tc0(
            self.ctrl,
            self.dev_ctx(),
            0,
            STREAM,
        ))?;
        Ok(self.output_object(ObjectId::Certificate))
    }

    fn output_object(&mut self, id: ObjectId) -> Vec<u8> {
        let out = self.output.clone().unwrap();
        let b = self.read_buf(&out);
        let o = OutputObject::decode(&b).expect("output object");
        assert_eq!((o.header.id, o.devid), (id, RID));
        o.payload.to_vec()
    }

    fn tdi_ctx(&self) -> Sla {
        self.tdi_ctx.as_ref().unwrap().sla
    }

    fn tdi_status(&mut self) -> Result<TdispState, Failure> {
        let pa = self.status_page;
        self.status_ok(Request::TdiStatus {
            ctrl: self.ctrl,
            dev_ctx: self.dev_ctx(),
            tdi_ctx: self.tdi_ctx(),
            status_paddr: pa,
        })?;
        let page = self.mem.page(pa).unwrap().to_vec();
        Ok(TdiStatus::decode(Layout::Current, &page).unwrap().state)
    }

    fn bind_req(&self, run: bool) -> Request {
        Request::TdiBind {
            ctrl: self.ctrl,
            dev_ctx: self.dev_ctx(),
            tdi_ctx: self.tdi_ctx(),
            gctx: GCTX,
            guest_device_id: 8,
            lock_flags: LockFlags::from_bits(0),
            run_flags: u16::from(run),
        }
    }

    /// TDI_CREATE, TDI_BIND (lock), TDI_STATUS, TDI_BIND (RUN); the report.
    fn bind(&mut self) -> Result<Vec<u8>, Failure> {
        if self.psp.snapshot().guests.is_empty() {
            let st = self.stand_in(StandIn::GuestActivate, GCTX, u64::from(ASID));
            assert_eq!(st, 0, "guest launch");
        }
        let s = self.tio.unwrap();
        let t = self.buf(s.tdictx_size, true);
        self.status_ok(Request::TdiCreate {
            dev_ctx: self.dev_ctx(),
            tdi_ctx: t.sla,
            interface_id: InterfaceId::for_function(RID, 0),
        })?;
        self.tdi_ctx = Some(t);
        self.run(self.bind_req(false))?;
        let report = self.output_object(ObjectId::Report);
        assert_eq!(self.tdi_status()?, TdispState::Locked);
        self.run(self.bind_req(true))?;
        self.reached_run = true;
        Ok(report)
    }

    /// The TDI teardown order; what it did.
    fn unbind(&mut self) -> tsm_proto::tio::order::TdiReport {
        let mut t = TdiTeardown::new(true, self.reached_run);
        while let Some(op) = t.next() {
            let r = match op {
                Op::TdiUnbind { force } => self.status_ok(Request::TdiUnbind {
                    force,
                    ctrl: self.ctrl,
                    dev_ctx: self.dev_ctx(),
                    tdi_ctx: self.tdi_ctx(),
                    gctx: GCTX,
                }),
                Op::TdiStatus => self.tdi_status().map(|_| ()),
                Op::TdiReclaim => self.status_ok(Request::TdiReclaim {
                    dev_ctx: self.dev_ctx(),
                    tdi_ctx: self.tdi_ctx(),
                }),
                Op::AsidFenceStatus => {
                    let pa = self.status_page;
                    let r = self.status_ok(Request::AsidFenceStatus {
                        dev_ctx: self.dev_ctx(),
                        asid: ASID,
                        status_paddr: pa,
                        devid: 0,
                        segment: 0,
                    });
                    let page = self.mem.page(pa).unwrap().to_vec();
                    let c = match r {
                        Ok(()) => Completion::Fence(
                            FenceStatus::decode_bytes(Layout::Current, &page).unwrap(),
                        ),
                        Err(_) => Completion::Failed,
                    };
                    t = t.complete(op, c).unwrap();
                    continue;
                }
                _ => self.status_ok(Request::AsidFenceClear {
                    dev_ctx: self.dev_ctx(),
                    gctx: GCTX,
                    devid: 0,
                    segment: 0,
                }),
            };
            let c = match r {
                Ok(()) => Completion::Ok,
                Err(_) => Completion::Failed,
            };
            t = t.complete(op, c).unwrap();
        }
        self.reached_run = false;
        t.report()
    }

    /// The device teardown order (`connected`: else straight to DEV_RECLAIM), then the
    /// host reclaims every page it made firmware-owned.
    fn teardown(&mut self, connected: bool) -> tsm_proto::tio::order::DevReport {
        let mut t = match connected {
            true => DevTeardown::new(false),
            false => DevTeardown::after_failed_connect(),
        };
        while let Some(op) = t.next() {
            let r = match op {
                Op::DevDisconnect { force } => self.status_ok(Request::DevDisconnect {
                    force,
                    ctrl: self.ctrl,
                    dev_ctx: self.dev_ctx(),
                }),
                _ => self.status_ok(Request::DevReclaim {
                    dev_ctx: self.dev_ctx(),
                }),
            };
            let c = match r {
                Ok(()) => Completion::Ok,
                Err(_) => Completion::Failed,
            };
            t = t.complete(op, c).unwrap();
        }
        t.report()
    }

    /// Reclaims every firmware-owned page: nothing may be left held.
    fn reclaim_all(&mut self) {
        for pa in std::mem::take(&mut self.fw) {
            let st = self.stand_in(StandIn::MakeShared, pa, 0);
            assert_eq!(st, 0, "page {pa:#x} is still held");
        }
        // Launched or not (a failed connect binds nothing).
        let launched = self.psp.snapshot().guests.contains_key(&GCTX);
        let st = self.stand_in(StandIn::GuestDecommission, GCTX, 0);
        assert_eq!(st == 0, launched, "{st:#x}");
        assert!(self.psp.is_clean(), "{:?}", self.psp.snapshot());
        assert_eq!(self.psp.rmp().firmware_pages(), 0);
    }

    fn statuses(&self, cmd: Command) -> Vec<u16> {
        self.trace
            .iter()
            .filter(|(c, _)| *c == cmd)
            .map(|(_, s)| *s)
            .collect()
    }
}

fn fw_err(status: Status) -> Failure {
    Failure::Firmware {
        status: status.to_u16(),
    }
}

#[test]
fn lifecycle() {
    let mut h = Host::new("");
    h.platform_init();
    let chain = h.connect().expect("connect");
    assert!(chain.len() > 100, "a certificate chain");
    assert_eq!(
        h.psp.dev_state(h.dev_ctx().encode()),
        Some(DevState::Connected)
    );
    assert!(h.psp.has_session(h.dev_ctx().encode()));
    assert_eq!(h.psp.dev_ids(h.dev_ctx().encode()), Some((RID, 2, 0)));
    assert!(
        h.statuses(Command::DevConnect)
            .iter()
            .filter(|s| **s == 0x32)
            .count()
            > 5
    );

    // DEV_STATUS in the firmware-owned data page.
    let pa = h.status_page;
    h.status_ok(Request::DevStatus {
        dev_ctx: h.dev_ctx(),
        status_paddr: pa,
        status_length: 0,
    })
    .unwrap();
    let page = h.mem.page(pa).unwrap().to_vec();
    let ds = tsm_proto::tio::DevStatus::decode(Layout::Current, &page).unwrap();
    assert_eq!(
        (ds.ctx_state, ds.devid, ds.tc_mask, ds.ide_stream_id[0]),
        (1, RID, 1, 0)
    );
    assert_eq!(
        ds.certs_digest.to_vec(),
        tsm_engine::crypto::sha384(&chain).to_vec()
    );

    // Measurements and certificates.
    h.status_ok(Request::DevMeasurements {
        raw: true,
        ctrl: h.ctrl,
        dev_ctx: h.dev_ctx(),
        nonce: [3; 32],
    })
    .unwrap();
    assert!(!h.output_object(ObjectId::Measurement).is_empty());
    h.status_ok(Request::DevCertificates {
        ctrl: h.ctrl,
        dev_ctx: h.dev_ctx(),
    })
    .unwrap();
    assert_eq!(h.output_object(ObjectId::Certificate), chain);
    h.status_ok(Request::RollKey {
        ctrl: h.ctrl,
        dev_ctx: h.dev_ctx(),
    })
    .unwrap();

    // Bind, report, info.
    let report = h.bind().expect("bind");
    assert!(tsm_proto::report::InterfaceReport::parse(&report).is_ok());
    assert_eq!(h.tdi_status().unwrap(), TdispState::Run);
    h.status_ok(Request::TdiReport {
        ctrl: h.ctrl,
        dev_ctx: h.dev_ctx(),
        tdi_ctx: h.tdi_ctx(),
        gctx: GCTX,
    })
    .unwrap();
    assert_eq!(h.output_object(ObjectId::Report), report);
    h.status_ok(Request::TdiInfo {
        dev_ctx: h.dev_ctx(),
        tdi_ctx: h.tdi_ctx(),
        status_paddr: pa,
    })
    .unwrap();
    let info = TdiInfo::decode(h.mem.page(pa).unwrap()).unwrap();
    assert_eq!(
        (
            info.state,
            info.asid,
            info.report_counter,
            info.interface_id.rid
        ),
        (TdiInfoState::Run, ASID, 2, RID)
    );
    assert_eq!(
        info.report_digest.to_vec(),
        tsm_engine::crypto::sha384(&report).to_vec()
    );

    // Unbind -> status -> reclaim -> fence: the unbind from RUN fenced the ASID.
    let r = h.unbind();
    assert!(r.unbound && r.status_ok && r.reclaimed && !r.unbind_forced);
    assert!(r.fence.is_some_and(|f| f.fenced()));
    assert_eq!(r.fence_cleared, Some(true));
    assert!(h.psp.snapshot().fences.is_empty());

    // A second bind on the same device, then teardown.
    h.bind().expect("second bind");
    let r = h.unbind();
    assert!(r.unbound && r.reclaimed && r.fence_cleared == Some(true));
    let d = h.teardown(true);
    assert!(d.disconnected && !d.forced && d.reclaimed, "{d:?}");
    h.reclaim_all();
}

#[test]
fn connect_error_knob_fails_cleanly() {
    let mut h = Host::new("error@dev_connect:1=spdm_error");
    h.platform_init();
    assert_eq!(h.connect(), Err(fw_err(Status::SpdmError)));
    assert_eq!(
        h.psp.dev_state(h.dev_ctx().encode()),
        Some(DevState::Created)
    );
    assert!(!h.psp.has_session(h.dev_ctx().encode()));
    // The host goes straight to DEV_RECLAIM; nothing is left.
    let d = h.teardown(false);
    assert!(d.reclaimed);
    h.reclaim_all();
}

#[test]
fn untrusted_device_fails_connect_cleanly() {
    // The model trusts another root: the chain does not verify.
    let (_, cfg) = testbed::platform(Faults::default()).unwrap();
    let mut h = Host::new("");
    h.psp = Psp::new(PspConfig::new(cfg.trust_anchor));
    for p in h.fw.clone() {
        assert_eq!(h.stand_in(StandIn::MakeFirmware, p, 0), 0);
    }
    h.platform_init();
    // Another root: the chain does not verify, the job fails with SPDM_ERROR.
    assert_eq!(h.connect(), Err(fw_err(Status::SpdmError)));
    assert_eq!(
        h.psp.dev_state(h.dev_ctx().encode()),
        Some(DevState::Created)
    );
    let d = h.teardown(false);
    assert!(d.reclaimed);
    h.reclaim_all();
}

#[test]
fn expand_is_one_grow_and_retry() {
    for knob in ["expand@dev_connect", "expand@tdi_bind:1=0x5000"] {
        let mut h = Host::new(knob);
        h.platform_init();
        h.connect().expect(knob);
        h.bind().expect(knob);
        let n = h.output.as_ref().unwrap().pages.len();
        assert!(n >= 3, "{knob}: the output grew ({n} pages)");
        assert!(h.trace.iter().any(|(_, s)| *s == 0x31), "{knob}");
        h.unbind();
        h.teardown(true);
        h.reclaim_all();
    }
}

#[test]
fn expand_twice_is_refused_by_the_host() {
    // Two EXPANDs in one command (the second at the retry): the sequencer ends it.
    let mut h = Host::new("expand@dev_connect:1=0x3000,expand@dev_connect:2=0x8000");
    h.platform_init();
    assert_eq!(h.connect(), Err(Failure::ExpandTwice));
    assert_eq!(
        h.psp.dev_state(h.dev_ctx().encode()),
        Some(DevState::Created)
    );
    h.teardown(false);
    h.reclaim_all();
}

#[test]
fn error_knobs_reach_their_end_states() {
    // (knob, what fails, the end state checked)
    for knob in [
        "busy@tdi_create",
        "error@tdi_bind:1=in_use",
        "error@tdi_bind:2=invalid_tdi_state",
        "error@tdi_create=0x16",
    ] {
        let mut h = Host::new(knob);
        h.platform_init();
        h.connect().unwrap();
        let r = h.bind();
        assert!(r.is_err(), "{knob}");
        if h.tdi_ctx.is_some() && h.psp.tdi_state(h.tdi_ctx().encode()).is_some() {
            // Bound (lock done, RUN refused) or not: the teardown order settles it.
            let locked = h.psp.tdi_state(h.tdi_ctx().encode()) == Some(TdiInfoState::Locked);
            let rep = h.unbind();
            assert!(rep.reclaimed, "{knob}: {rep:?}");
            assert_eq!(rep.unbound, locked, "{knob}");
        }
        let d = h.teardown(true);
        assert!(d.disconnected && d.reclaimed, "{knob}: {d:?}");
        h.reclaim_all();
    }
}

#[test]
fn forced_retries() {
    // One refused TDI_UNBIND: the plain call again, which stops the TDI on the device.
    let mut h = Host::new("error@tdi_unbind:1=spdm_error");
    h.platform_init();
    h.connect().unwrap();
    h.bind().unwrap();
    let r = h.unbind();
    assert!(!r.unbind_forced && r.unbound && r.reclaimed, "{r:?}");
    assert_eq!(h.statuses(Command::TdiUnbind)[..2], [0x33, 0x32]);
    h.teardown(true);
    h.reclaim_all();
    // Two: forced.
    let mut h = Host::new(
        "error@tdi_unbind:1=spdm_error,error@tdi_unbind:2=spdm_error,error@dev_disconnect:1=spdm_error,error@dev_disconnect:2=spdm_error",
    );
    h.platform_init();
    h.connect().unwrap();
    h.bind().unwrap();
    let r = h.unbind();
    assert!(r.unbind_forced && r.unbound && r.reclaimed, "{r:?}");
    assert_eq!(r.fence_cleared, Some(true));
    let d = h.teardown(true);
    assert!(d.forced && d.disconnected && d.reclaimed, "{d:?}");
    assert!(!h.psp.has_session(0) && h.psp.is_clean());
    h.reclaim_all();
}

#[test]
fn fence_knob_is_seen_and_cleared() {
    // Fenced while bound (at the TDI_STATUS of the teardown): the host clears it.
    let mut h = Host::new("fence@tdi_status:3=both");
    h.platform_init();
    h.connect().unwrap();
    h.bind().unwrap();
    h.tdi_status().unwrap();
    h.tdi_status().unwrap();
    assert_eq!(
        h.psp.snapshot().fences.len(),
        1,
        "fenced at the third TDI_STATUS"
    );
    // ASID_FENCE_CLEAR while the TDI is still bound is refused.
    assert_eq!(
        h.status_ok(Request::AsidFenceClear {
            dev_ctx: h.dev_ctx(),
            gctx: GCTX,
            devid: 0,
            segment: 0
        }),
        Err(fw_err(Status::InUse))
    );
    let r = h.unbind();
    assert!(r.fence.is_some_and(|f| f.fenced()) && r.fence_cleared == Some(true));
    h.teardown(true);
    h.reclaim_all();
}

#[test]
fn refusals_change_nothing() {
    let mut h = Host::new("");
    // Before TIO_INIT.
    let d = h.buf(0x1000, true);
    assert_eq!(
        h.status_ok(Request::DevCreate {
            dev_ctx: d.sla,
            rid: RID,
            root_port_id: 0,
            segment: 0
        }),
        Err(fw_err(Status::InvalidParam))
    );
    h.platform_init();
    // A dev_ctx page the host did not make firmware-owned.
    let hv = h.buf(0x1000, false);
    assert_eq!(
        h.status_ok(Request::DevCreate {
            dev_ctx: hv.sla,
            rid: RID,
            root_port_id: 0,
            segment: 0
        }),
        Err(fw_err(Status::InvalidPageState))
    );
    // A page that is not handed over at all.
    let gone = Sla::data_4k(0x40_0000_0000).unwrap();
    assert_eq!(
        h.status_ok(Request::DevCreate {
            dev_ctx: gone,
            rid: RID,
            root_port_id: 0,
            segment: 0
        }),
        Err(fw_err(Status::InvalidParam))
    );
    // A status page that is hypervisor-owned.
    assert_eq!(
        h.status_ok(Request::TioStatus {
            status_paddr: hv.pages[0]
        }),
        Err(fw_err(Status::InvalidPageState))
    );
    h.connect().unwrap();
    // Wrong device state: connect again, reclaim while connected.
    let ctrl = h.ctrl;
    assert_eq!(
        h.status_ok(Request::dev_connect_tc0(ctrl, h.dev_ctx(), 0, STREAM)),
        Err(fw_err(Status::InvalidDevState))
    );
    assert_eq!(
        h.status_ok(Request::DevReclaim {
            dev_ctx: h.dev_ctx()
        }),
        Err(fw_err(Status::InvalidDevState))
    );
    // The dev_ctx is held: the host cannot take it back.
    let dpage = h.dev_ctx.as_ref().unwrap().pages[0];
    assert_eq!(
        h.stand_in(StandIn::MakeShared, dpage, 0),
        Status::InUse.to_u16()
    );
    // A resp buffer in a firmware-owned page.
    let bad = SpdmCtrl {
        resp: h.buf(0x2000, true).sla,
        ..ctrl
    };
    assert_eq!(
        h.status_ok(Request::DevMeasurements {
            raw: false,
            ctrl: bad,
            dev_ctx: h.dev_ctx(),
            nonce: [0; 32]
        }),
        Err(fw_err(Status::InvalidPageState))
    );
    // An output buffer in hypervisor-owned pages.
    let bad = SpdmCtrl {
        output: h.buf(0x2000, false).sla,
        ..ctrl
    };
    assert_eq!(
        h.status_ok(Request::DevCertificates {
            ctrl: bad,
            dev_ctx: h.dev_ctx()
        }),
        Err(fw_err(Status::InvalidPageState))
    );
    h.bind().unwrap();
    // Wrong TDI state: lock again, reclaim while bound, RUN again, an unknown guest.
    assert_eq!(
        h.run(h.bind_req(false)).map(|_| ()),
        Err(fw_err(Status::InvalidTdiState))
    );
    assert_eq!(
        h.status_ok(Request::TdiReclaim {
            dev_ctx: h.dev_ctx(),
            tdi_ctx: h.tdi_ctx()
        }),
        Err(fw_err(Status::InvalidTdiState))
    );
    assert_eq!(
        h.run(h.bind_req(true)).map(|_| ()),
        Err(fw_err(Status::InvalidTdiState))
    );
    assert_eq!(
        h.status_ok(Request::TdiUnbind {
            force: false,
            ctrl,
            dev_ctx: h.dev_ctx(),
            tdi_ctx: h.tdi_ctx(),
            gctx: GCTX + P
        }),
        Err(fw_err(Status::InvalidTdiState))
    );
    // A disconnect with a TDI bound; a reclaim with a TDI context.
    assert_eq!(
        h.status_ok(Request::DevDisconnect {
            force: false,
            ctrl,
            dev_ctx: h.dev_ctx()
        }),
        Err(fw_err(Status::InUse))
    );
    // Unknown contexts.
    let other = h.buf(0x1000, true);
    assert_eq!(
        h.status_ok(Request::TdiInfo {
            dev_ctx: other.sla,
            tdi_ctx: h.tdi_ctx(),
            status_paddr: h.status_page
        }),
        Err(fw_err(Status::InvalidDevCtx))
    );
    assert_eq!(
        h.status_ok(Request::TdiInfo {
            dev_ctx: h.dev_ctx(),
            tdi_ctx: other.sla,
            status_paddr: h.status_page
        }),
        Err(fw_err(Status::InvalidTdiCtx))
    );
    h.unbind();
    h.teardown(true);
    h.reclaim_all();
}

#[test]
fn stand_in_refusals_change_nothing() {
    let st = |s: Status| s.to_u16();
    let mut h = Host::new("");
    h.platform_init();
    // RMP: a page made firmware-owned twice, or unaligned; a page given back that is
    // not firmware-owned; a page a context holds.
    let sp = h.status_page;
    assert_eq!(
        h.stand_in(StandIn::MakeFirmware, sp, 0),
        st(Status::InvalidPageState)
    );
    let hv = h.page();
    assert_eq!(
        h.stand_in(StandIn::MakeFirmware, hv + 8, 0),
        st(Status::InvalidPageState)
    );
    assert_eq!(
        h.stand_in(StandIn::MakeShared, hv, 0),
        st(Status::InvalidPageState)
    );
    h.connect().unwrap();
    let dpage = h.dev_ctx.as_ref().unwrap().pages[0];
    assert_eq!(h.stand_in(StandIn::MakeShared, dpage, 0), st(Status::InUse));
    // Guests: launched twice, a zero context, an ASID above 32 bits.
    assert_eq!(h.stand_in(StandIn::GuestActivate, GCTX, u64::from(ASID)), 0);
    for (gctx, asid) in [(GCTX, ASID.into()), (0, 1), (GCTX + P, 1 << 32)] {
        assert_eq!(
            h.stand_in(StandIn::GuestActivate, gctx, asid),
            st(Status::InvalidParam),
            "{gctx:#x} {asid:#x}"
        );
    }
    h.bind().unwrap();
    // The end of a guest with a TDI bound; of a guest never launched.
    assert_eq!(
        h.stand_in(StandIn::GuestDecommission, GCTX, 0),
        st(Status::InUse)
    );
    assert_eq!(
        h.stand_in(StandIn::GuestDecommission, GCTX + P, 0),
        st(Status::InvalidParam)
    );
    // IDs above every command ID that are no stand-in.
    for id in [standin::FIRST + 1, 0x1_0000, 0x1_0005, u64::MAX] {
        assert_eq!(
            h.stand_in_raw(id, sp, 0),
            st(Status::InvalidParam),
            "{id:#x}"
        );
    }
    // None of it reached the model's commands: the lifecycle goes on.
    assert!(h.trace.iter().all(|(_, s)| matches!(*s, 0 | 0x32)));
    h.unbind();
    h.teardown(true);
    h.reclaim_all();
}

#[test]
fn stand_ins_count_for_no_knob() {
    // The first TIO_STATUS fails though the host made stand-in calls before it.
    let mut h = Host::new("error@tio_status:1=in_use");
    assert!(!h.fw.is_empty());
    assert_eq!(
        h.status_ok(Request::TioStatus {
            status_paddr: h.status_page
        }),
        Err(fw_err(Status::InUse))
    );
    h.reclaim_all();
}
