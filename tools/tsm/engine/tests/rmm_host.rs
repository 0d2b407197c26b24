// SPDX-License-Identifier: GPL-2.0

//! The CCA RMM model driven as a CCA host backend would drive a real RMM: a small host
//! written here (the role of the future kernel backend) issues SMCs through
//! `Rmm::call`, shares pages with it through `PageMemory`, carries every DOE exchange
//! the model asks for to an in-process tsm-dsm, and keeps the device objects the model
//! asks it to cache. Then: every fault knob at every call the lifecycle makes, and the
//! ABI's rules (granule states, call order).
//!
//! The host follows Linux (`cca_tsm_connect`, `cca_vdev_create`,
//! `cca_vdev_unlock_and_destroy`, `_do_dev_communicate`): BUSY is retried, any other
//! error fails the step, and a failed communicate is followed by PDEV_ABORT or
//! VDEV_ABORT. Every refusal the model gives must leave its state and the
//! communication page as they were; `Host::smc` checks that on every call.

use std::collections::HashMap;
use std::time::Duration;

use tsm_engine::certs;
use tsm_engine::conduit::{serve_one, FakeChannel};
use tsm_engine::crypto::{self, Hasher, HASH_LEN, SIG_LEN};
use tsm_engine::faults::Faults;
use tsm_engine::fw::rmm::{
    FwMemory, GranuleState, Knobs, PageMemory, Rmm, RmmConfig, SmcRegs, Snapshot,
};
use tsm_engine::testing::testbed::{self, TDI};
use tsm_engine::transport::relay::{
    doe_request_object, doe_response_payload, DoeEndpoint, LocalDsm,
};
use tsm_engine::wire;
use tsm_proto::codec::Writer;
use tsm_proto::conduit::Kind;
use tsm_proto::report::{self, FirstPageUnit, InterfaceReport, ValidationParams};
use tsm_proto::rmi::sro::ADDR_RANGE_DESC_LEN;
use tsm_proto::rmi::vdev::MEASURE_NONCE_LEN;
use tsm_proto::rmi::{
    Abi, AddrRange, AddrRangeDesc, BlockSize, CacheObject, Call, Category, CommEnter, CommExit,
    DonateReq, HashAlgo, MeasureParams, MemReq, MemState, Next, Outcome, PdevFlags, PdevParams,
    PdevState, PubkeyParams, RealmParams, SignatureAlgo, Status, StreamParams, StreamType,
    VdevParams, VdevState, GRANULE_SIZE,
};
use tsm_proto::spdm::auth::{meas_attr, meas_op, SignedMeasurementRequest};
use tsm_proto::spdm::{self, Negotiated, Version};
use tsm_proto::state::TdiState;

const G: u64 = GRANULE_SIZE as u64;
/// The endpoint's BDF (testbed DEV, 01:00.0) and so its TDI's RID.
const EP_BDF: u64 = 0x0100;
/// The guest-visible ID of the VDEV.
const GUEST_RID: u64 = 0x0008;
/// Communicates a host allows one operation before it gives up (a timeout).
const MAX_LOOPS: usize = 200;
/// DOE timeout of the host.
const DOE_TIMEOUT: Duration = Duration::from_secs(2);
/// The phases of the lifecycle whose communicates carry a stream operation.
const STREAM_PHASES: [&str; 2] = ["connect:stream", "disconnect:stream"];

fn fid(c: Call) -> u32 {
    c.fid(Abi::V2_0).expect("a 2.0 call")
}

fn outcome(r: &SmcRegs) -> Outcome {
    Outcome::decode(r.x[0]).expect("X0 decodes")
}

/// The status of a refusal (None: SUCCESS or INCOMPLETE).
fn status_of(r: &SmcRegs) -> Option<Status> {
    match outcome(r) {
        Outcome::Failed { status, .. } => Some(status),
        _ => None,
    }
}

/// How a host operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostErr {
    /// A call answered this status.
    Status(Call, Status),
    /// The operation did not finish within MAX_LOOPS communicates.
    Timeout,
    /// The object ended in a state other than the target.
    State(String),
}

/// What a communicate loop ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Done,
    StreamWait,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Pdev(u64),
    Vdev { rd: u64, pdev: u64, vdev: u64 },
}

impl Target {
    fn owner(self) -> u64 {
        match self {
            Target::Pdev(p) => p,
            Target::Vdev { vdev, .. } => vdev,
        }
    }
}

/// A stateful operation the host left half-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingSro {
    /// PDEV_CREATE's donation: to cancel.
    Create { handle: u64 },
    /// PDEV_DESTROY's reclaim of the PDEV at `pdev`: to finish.
    Destroy { handle: u64, pdev: u64 },
}

/// One SMC the host made: the call, the lifecycle phase, and its status (None:
/// success or INCOMPLETE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Traced {
    call: Call,
    phase: &'static str,
    refused: Option<Status>,
}

/// The host: the model, the memory it shares with it, the device, and what exists.
struct Host {
    rmm: Rmm,
    mem: PageMemory,
    dsm: LocalDsm,
    anchor: Vec<u8>,
    next_pa: u64,
    comm: u64,
    req: u64,
    resp: u64,
    caches: HashMap<(u64, u8), Vec<u8>>,
    delegated: Vec<u64>,
    ep: Option<u64>,
    rp: Option<u64>,
    stream: Option<u64>,
    /// A stream operation's dance ended and STREAM_COMPLETE is due (true: a
    /// disconnect).
    complete_due: Option<bool>,
    rd: Option<u64>,
    vdev: Option<u64>,
    sro: Option<PendingSro>,
    phase: &'static str,
    trace: Vec<Traced>,
    /// In the teardown: a failed STOP is aborted and tried once more.
    recovering: bool,
    /// The SMCs go through the conduit's channel (a fake kernel side handing the model
    /// the host's pages) and `serve_one`: the last call ID, the model's memory accesses
    /// and those the channel refused.
    conduit: Option<ConduitStats>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ConduitStats {
    last_id: u64,
    accesses: usize,
    refused: usize,
}

impl Host {
    fn new(knobs: &str) -> Self {
        let (dsm, cfg) = testbed::platform(Faults::default()).expect("platform");
        let cfg_rmm = RmmConfig {
            knobs: knobs.parse::<Knobs>().expect("knobs"),
            ..RmmConfig::default()
        };
        let mut h = Self {
            rmm: Rmm::new(cfg_rmm),
            mem: PageMemory::new(),
            dsm: LocalDsm(dsm),
            anchor: cfg.trust_anchor,
            next_pa: 0x8000_0000,
            comm: 0,
            req: 0,
            resp: 0,
            caches: HashMap::new(),
            delegated: Vec::new(),
            ep: None,
            rp: None,
            stream: None,
            complete_due: None,
            rd: None,
            vdev: None,
            sro: None,
            phase: "setup",
            trace: Vec::new(),
            recovering: false,
            conduit: None,
        };
        h.comm = h.page();
        h.req = h.page();
        h.resp = h.page();
        h
    }

    /// A fresh NS page.
    fn page(&mut self) -> u64 {
        let pa = self.next_pa;
        self.next_pa += G;
        self.mem.add_page(pa);
        pa
    }

    /// A fresh NS page holding what `encode` writes.
    fn page_with(&mut self, encode: impl FnOnce(&mut Writer<'_>)) -> u64 {
        let pa = self.page();
        let mut buf = vec![0u8; GRANULE_SIZE];
        encode(&mut Writer::new(&mut buf));
        self.mem.write(pa, &buf).expect("own page");
        pa
    }

    /// One SMC. A refusal must change nothing: neither the model nor the
    /// communication page.
    fn smc(&mut self, call: Call, args: &[u64]) -> SmcRegs {
        let before: Snapshot = self.rmm.snapshot();
        let comm_before = self.mem.page(self.comm).map(|p| p.to_vec());
        let regs = SmcRegs::call(fid(call), args);
        let r = match self.conduit.as_mut() {
            None => self.rmm.call(&regs, &mut self.mem),
            Some(st) => {
                let mut ch = FakeChannel::new(&mut self.mem, st.last_id);
                let id = ch.call(Kind::Smc, regs.x);
                assert!(serve_one(&mut ch, &mut self.rmm).expect("serve"));
                st.last_id = ch.last_id();
                st.accesses += ch.accesses;
                st.refused += ch.refused.len();
                SmcRegs {
                    x: ch.result(id).expect("the call answered"),
                }
            }
        };
        let refused = status_of(&r);
        if let Some(st) = refused {
            assert_eq!(
                self.rmm.snapshot(),
                before,
                "{call:?} refused with {st:?} changed the model"
            );
            assert_eq!(
                self.mem.page(self.comm).map(|p| p.to_vec()),
                comm_before,
                "{call:?} refused with {st:?} wrote the communication page"
            );
        }
        self.trace.push(Traced {
            call,
            phase: self.phase,
            refused,
        });
        r
    }

    /// A call, retried while BUSY; its registers, or the failure.
    fn call(&mut self, call: Call, args: &[u64]) -> Result<SmcRegs, HostErr> {
        for _ in 0..8 {
            let r = self.smc(call, args);
            match status_of(&r) {
                None => return Ok(r),
                Some(Status::Busy) => continue,
                Some(st) => return Err(HostErr::Status(call, st)),
            }
        }
        Err(HostErr::Status(call, Status::Busy))
    }

    fn delegate(&mut self, pa: u64) -> Result<(), HostErr> {
        let r = self.call(Call::GranuleDelegate, &[pa, pa + G])?;
        assert_eq!(r.x[1], pa + G, "one granule per call, X1 the next");
        self.delegated.push(pa);
        Ok(())
    }

    fn undelegate(&mut self, pa: u64) -> Result<(), HostErr> {
        self.call(Call::GranuleUndelegate, &[pa, pa + G])?;
        self.delegated.retain(|p| *p != pa);
        Ok(())
    }

    fn delegated_page(&mut self) -> Result<u64, HostErr> {
        let pa = self.page();
        self.delegate(pa)?;
        Ok(pa)
    }

    /// A fresh NS page of Realm parameters.
    fn realm_params(&mut self, da: bool) -> u64 {
        self.page_with(|w| RealmParams { da }.encode(w).expect("realm params"))
    }

    /// The stand-in Realm a host creates for the VDEVs of one VM: a delegated granule,
    /// REALM_CREATE with `flags0.DA` as `da`.
    fn create_realm(&mut self, da: bool) -> Result<u64, HostErr> {
        let params = self.realm_params(da);
        let rd = self.delegated_page()?;
        self.call(Call::RealmCreate, &[rd, params])?;
        Ok(rd)
    }

    fn cache(&self, owner: u64, object: CacheObject) -> &[u8] {
        self.caches
            .get(&(owner, object.to_u8()))
            .map_or(&[], Vec::as_slice)
    }

    fn write_enter(&mut self, enter: CommEnter) {
        let mut page = vec![0u8; GRANULE_SIZE];
        self.mem.read(self.comm, &mut page).expect("comm page");
        enter.write_to_page(&mut page).expect("enter encodes");
        self.mem.write(self.comm, &page).expect("comm page");
    }

    /// The host communicate loop (Linux `_do_dev_communicate`): until the exit asks
    /// for nothing more, or STREAM_WAIT.
    fn communicate(&mut self, t: Target) -> Result<Ended, HostErr> {
        self.write_enter(CommEnter::none(self.req, self.resp));
        for _ in 0..MAX_LOOPS {
            match t {
                Target::Pdev(p) => self.call(Call::PdevCommunicate, &[p, self.comm])?,
                Target::Vdev { rd, pdev, vdev } => {
                    self.call(Call::VdevCommunicate, &[rd, pdev, vdev, self.comm])?
                }
            };
            let page = self.mem.page(self.comm).expect("comm page").to_vec();
            let plan = CommExit::decode_page(Abi::V2_0, &page)
                .and_then(|e| e.decide())
                .map_err(|e| HostErr::State(format!("exit: {e}")))?;
            for (slice, buf) in [(plan.cache_req, self.req), (plan.cache_rsp, self.resp)] {
                if let Some(s) = slice {
                    let data = self.mem.page(buf).expect("buffer")[s.range()].to_vec();
                    self.caches
                        .entry((t.owner(), s.object.to_u8()))
                        .or_default()
                        .extend_from_slice(&data);
                }
            }
            if plan.wait_response_ms.is_some() {
                return Err(HostErr::State("RSP_WAIT".into()));
            }
            let enter = match plan.send {
                Some(s) => {
                    let mut m = vec![0u8; s.req_len as usize];
                    self.mem.read(self.req, &mut m).expect("request buffer");
                    let ty = s.protocol.doe_kind().object_type();
                    let timeout = Duration::from_millis(s.timeout_ms).min(DOE_TIMEOUT);
                    let answer = doe_request_object(ty, &m)
                        .and_then(|o| self.dsm.exchange(&o, timeout))
                        .and_then(|o| doe_response_payload(&o, ty));
                    match answer {
                        Ok(p) if p.len() <= GRANULE_SIZE && !p.is_empty() => {
                            self.mem.write(self.resp, &p).expect("response buffer");
                            CommEnter::response(self.req, self.resp, p.len() as u64)
                        }
                        _ => CommEnter::error(self.req, self.resp),
                    }
                }
                None => CommEnter::none(self.req, self.resp),
            };
            self.write_enter(enter);
            match plan.next {
                Next::Continue => {}
                Next::Done => return Ok(Ended::Done),
                Next::StreamWait => return Ok(Ended::StreamWait),
            }
        }
        Err(HostErr::Timeout)
    }

    /// Communicates `t`; on a failure aborts it (Linux: `pdev_abort` / `vdev_abort`).
    fn communicate_or_abort(&mut self, t: Target) -> Result<Ended, HostErr> {
        let r = self.communicate(t);
        if r.is_err() {
            let _ = match t {
                Target::Pdev(p) => self.smc(Call::PdevAbort, &[p]),
                Target::Vdev { rd, pdev, vdev } => self.smc(Call::VdevAbort, &[rd, pdev, vdev]),
            };
        }
        r
    }

    fn pdev_state(&mut self, pdev: u64) -> Result<PdevState, HostErr> {
        let r = self.call(Call::PdevGetState, &[pdev])?;
        PdevState::from_reg(r.x[1]).map_err(|e| HostErr::State(e.to_string()))
    }

    fn vdev_state(&mut self, vdev: u64) -> Result<VdevState, HostErr> {
        let r = self.call(Call::VdevGetState, &[vdev])?;
        VdevState::from_reg(r.x[1]).map_err(|e| HostErr::State(e.to_string()))
    }

    /// Communicates the PDEV until it reaches `target`.
    fn drive_pdev(&mut self, pdev: u64, target: PdevState) -> Result<(), HostErr> {
        self.communicate_or_abort(Target::Pdev(pdev))?;
        match self.pdev_state(pdev)? {
            s if s == target => Ok(()),
            s => Err(HostErr::State(format!("PDEV {s:?}, wanted {target:?}"))),
        }
    }

    fn drive_vdev(
        &mut self,
        rd: u64,
        pdev: u64,
        vdev: u64,
        target: VdevState,
    ) -> Result<(), HostErr> {
        self.communicate_or_abort(Target::Vdev { rd, pdev, vdev })?;
        match self.vdev_state(vdev)? {
            s if s == target => Ok(()),
            s => Err(HostErr::State(format!("VDEV {s:?}, wanted {target:?}"))),
        }
    }

    /// Writes a donation list of `pool` (one L3 entry each); its PA.
    fn donation_list(&mut self, pool: &[u64]) -> u64 {
        let list = self.page();
        let mut raw = Vec::new();
        for pa in pool {
            let d = AddrRangeDesc {
                block: BlockSize::L3Page,
                count: 1,
                pa: *pa,
                state: MemState::Delegated,
            };
            raw.extend_from_slice(&d.encode().expect("entry").to_le_bytes());
        }
        self.mem.write(list, &raw).expect("list");
        list
    }

    /// PDEV_CREATE with its donation loop; the PDEV's PA.
    fn create_pdev(&mut self, params: PdevParams) -> Result<u64, HostErr> {
        let pdev = self.delegated_page()?;
        let pp = self.page_with(|w| params.encode(w).expect("params"));
        let mut r = self.call(Call::PdevCreate, &[pdev, pp])?;
        let handle = r.x[1];
        let mut pool: Vec<u64> = Vec::new();
        while let Outcome::Incomplete(i) = outcome(&r) {
            self.sro = Some(PendingSro::Create { handle });
            r = match i.mem_req {
                MemReq::Donate => {
                    let req = DonateReq::decode(r.x[2]).expect("donate request");
                    assert_eq!(req.block, BlockSize::L3Page);
                    assert_eq!(req.state, MemState::Delegated);
                    assert!(!req.contiguous);
                    while pool.len() < usize::from(req.count) {
                        let pa = self.delegated_page()?;
                        pool.push(pa);
                    }
                    let list = self.donation_list(&pool);
                    let r = self.call(Call::OpMemDonate, &[handle, list, pool.len() as u64])?;
                    // The model takes the first X1 entries of the list.
                    let taken = r.x[1] as usize;
                    assert!(taken <= pool.len(), "took {taken} of {}", pool.len());
                    pool.drain(..taken);
                    r
                }
                MemReq::None => self.call(Call::OpContinue, &[handle, 0])?,
                MemReq::Reclaim => return Err(HostErr::State("reclaim at create".into())),
            };
        }
        self.sro = None;
        assert!(pool.is_empty(), "granules left undonated: {pool:x?}");
        Ok(pdev)
    }

    /// OP_MEM_RECLAIM until the destruction of `pdev` ends (one entry per batch),
    /// undelegating every granule given back and then the PDEV's.
    fn reclaim(&mut self, handle: u64, pdev: u64) -> Result<(), HostErr> {
        self.sro = Some(PendingSro::Destroy { handle, pdev });
        loop {
            let list = self.page();
            let r = self.call(Call::OpMemReclaim, &[handle, list, 1])?;
            let last = outcome(&r) == Outcome::Success;
            if last {
                // The operation is over; what is left is undelegating.
                self.sro = None;
            }
            let mut raw = vec![0u8; r.x[1] as usize * ADDR_RANGE_DESC_LEN];
            self.mem.read(list, &mut raw).expect("list");
            for e in raw.chunks_exact(ADDR_RANGE_DESC_LEN) {
                let d = AddrRangeDesc::decode(u64::from_le_bytes(e.try_into().expect("8")))
                    .expect("entry");
                assert_eq!(d.state, MemState::Delegated);
                self.undelegate(d.pa)?;
            }
            match outcome(&r) {
                Outcome::Success => break,
                Outcome::Incomplete(i) => assert_eq!(i.mem_req, MemReq::Reclaim),
                other => unreachable!("call() returned {other:?}"),
            }
        }
        self.undelegate(pdev)
    }

    /// PDEV_DESTROY; for an endpoint, its reclaim.
    fn destroy_pdev(&mut self, pdev: u64) -> Result<(), HostErr> {
        let r = self.call(Call::PdevDestroy, &[pdev])?;
        // The PDEV is gone; what is left is its memory.
        if self.ep == Some(pdev) {
            self.ep = None;
        }
        if self.rp == Some(pdev) {
            self.rp = None;
        }
        match outcome(&r) {
            Outcome::Incomplete(i) => {
                assert_eq!(i.mem_req, MemReq::Reclaim);
                self.reclaim(r.x[1], pdev)
            }
            _ => self.undelegate(pdev),
        }
    }

    fn ep_params() -> PdevParams {
        PdevParams {
            flags: PdevFlags::new(Category::OffChipEndpoint, true),
            hb_base: 0x4000_0000,
            pdev_id: EP_BDF,
            routing_id: 0,
            id_index: 0,
            rid_base: EP_BDF as u32,
            rid_top: EP_BDF as u32 + 2,
            hash_algo: HashAlgo::Sha384,
        }
    }

    fn rp_params() -> PdevParams {
        PdevParams {
            flags: PdevFlags::new(Category::RootPort, false),
            pdev_id: 0,
            ..Self::ep_params()
        }
    }

    fn ep(&self) -> u64 {
        self.ep.expect("endpoint PDEV")
    }

    fn rp(&self) -> u64 {
        self.rp.expect("root port PDEV")
    }

    /// The stream dance of TF-RMM's host test and Linux, then STREAM_COMPLETE.
    fn stream_dance(&mut self, disconnect: bool) -> Result<(), HostErr> {
        let (ep, rp) = (self.ep(), self.rp());
        for (pdev, want) in [
            (rp, Ended::StreamWait),
            (ep, Ended::StreamWait),
            (rp, Ended::Done),
            (ep, Ended::Done),
        ] {
            let got = self.communicate_or_abort(Target::Pdev(pdev))?;
            if got != want {
                return Err(HostErr::State(format!("dance: {got:?}, wanted {want:?}")));
            }
        }
        self.complete_due = Some(disconnect);
        self.stream_complete()
    }

    fn stream_complete(&mut self) -> Result<(), HostErr> {
        let handle = self.stream.expect("stream");
        self.call(Call::PdevStreamComplete, &[self.ep(), self.rp(), handle])?;
        if self.complete_due.take() == Some(true) {
            self.stream = None;
        }
        Ok(())
    }

    /// `cca_tsm_connect`: root port, endpoint to READY with the key, the IDE stream.
    fn connect(&mut self) -> Result<(), HostErr> {
        self.phase = "connect:rp";
        let rp = self.create_pdev(Self::rp_params())?;
        self.rp = Some(rp);
        self.drive_pdev(rp, PdevState::Ready)?;
        self.phase = "connect:ep-init";
        let ep = self.create_pdev(Self::ep_params())?;
        self.ep = Some(ep);
        self.drive_pdev(ep, PdevState::NeedsKey)?;
        let chain = self.cache(ep, CacheObject::Certificate).to_vec();
        let leaf = certs::verify_chain(&chain, &self.anchor)
            .map_err(|e| HostErr::State(format!("chain: {e}")))?;
        let point = leaf.to_encoded_point(false);
        // The kernel's backend takes the key out of the chain without verifying it.
        let key = tsm_proto::x509::leaf_public_key(&chain, tsm_engine::crypto::HASH_LEN)
            .map_err(|e| HostErr::State(format!("leaf key: {e}")))?;
        assert_eq!(
            key.pubkey_params(),
            PubkeyParams::ecdsa(SignatureAlgo::EcdsaP384, point.as_bytes())
        );
        self.phase = "connect:ep-key";
        let kp = self.page_with(|w| key.pubkey_params().encode(w).expect("key"));
        self.call(Call::PdevSetPubkey, &[ep, kp])?;
        self.drive_pdev(ep, PdevState::Ready)?;
        self.phase = "connect:stream";
        let sp = self.page_with(|w| {
            StreamParams::new(StreamType::Ncoh, ep, rp, 0)
                .encode(w)
                .expect("stream")
        });
        let r = self.call(Call::PdevStreamConnect, &[sp])?;
        self.stream = Some(r.x[1]);
        self.stream_dance(false)
    }

    /// `cca_vdev_create` and lock.
    fn bind(&mut self) -> Result<(), HostErr> {
        self.phase = "bind:create";
        let ep = self.ep();
        let rd = self.create_realm(true)?;
        self.rd = Some(rd);
        let vdev = self.delegated_page()?;
        let ranges: Vec<AddrRange> = testbed::bars()
            .iter()
            .map(|b| AddrRange {
                base: b.base,
                top: b.base + b.size,
            })
            .collect();
        let vp = self.page_with(|w| {
            VdevParams {
                flags: Default::default(),
                vdev_id: GUEST_RID,
                tdi_id: EP_BDF,
                vsmmu_addr: 0,
                vsid: 0,
                ranges: tsm_proto::rmi::List::from_slice("t", &ranges).expect("ranges"),
            }
            .encode(w)
            .expect("vdev params")
        });
        self.call(Call::VdevCreate, &[rd, ep, vdev, vp])?;
        self.vdev = Some(vdev);
        self.drive_vdev(rd, ep, vdev, VdevState::Unlocked)?;
        self.phase = "bind:lock";
        self.call(Call::VdevLock, &[rd, ep, vdev])?;
        self.drive_vdev(rd, ep, vdev, VdevState::Locked)
    }

    fn vdev_args(&self) -> [u64; 3] {
        [self.rd.expect("rd"), self.ep(), self.vdev.expect("vdev")]
    }

    /// The report, fetched into the host's cache (reset first) and validated against
    /// the BARs with `tsm_proto::report`.
    fn report(&mut self) -> Result<Vec<u8>, HostErr> {
        self.phase = "report";
        let [rd, ep, vdev] = self.vdev_args();
        self.caches
            .remove(&(vdev, CacheObject::InterfaceReport.to_u8()));
        let before = self.vdev_state(vdev)?;
        self.call(Call::VdevGetInterfaceReport, &[rd, ep, vdev])?;
        self.drive_vdev(rd, ep, vdev, before)?;
        let bytes = self.cache(vdev, CacheObject::InterfaceReport).to_vec();
        let r = InterfaceReport::parse(&bytes).map_err(|e| HostErr::State(e.to_string()))?;
        let bars = testbed::bars();
        let n = report::validate(
            &r,
            &ValidationParams {
                bars: &bars,
                mmio_reporting_offset: 0,
                unit: FirstPageUnit::PageNumber,
                msix: Some(testbed::msix()),
                msix_locked: true,
            },
        )
        .map_err(|e| HostErr::State(format!("report: {e:?}")))?
        .count();
        if n == 0 {
            return Err(HostErr::State("report has no MMIO range".into()));
        }
        Ok(bytes)
    }

    /// A fresh NS measure-params page for `nonce`, with the raw flag if `raw`.
    fn measure_params(&mut self, nonce: [u8; MEASURE_NONCE_LEN], raw: bool) -> u64 {
        let flags = if raw { MeasureParams::RAW } else { 0 };
        self.page_with(|w| {
            MeasureParams { flags, nonce }
                .encode(w)
                .expect("measure params")
        })
    }

    /// The measurements, fetched into the host's cache (object 2, reset first) with
    /// `nonce`, the VDEV's state unchanged, and checked ([`Host::check_measurements`]).
    fn measurements(
        &mut self,
        nonce: [u8; MEASURE_NONCE_LEN],
        raw: bool,
    ) -> Result<Vec<u8>, HostErr> {
        self.phase = "measurements";
        let [rd, ep, vdev] = self.vdev_args();
        self.caches
            .remove(&(vdev, CacheObject::Measurements.to_u8()));
        let before = self.vdev_state(vdev)?;
        let params = self.measure_params(nonce, raw);
        self.call(Call::VdevGetMeasurements, &[rd, ep, vdev, params])?;
        self.drive_vdev(rd, ep, vdev, before)?;
        let bytes = self.cache(vdev, CacheObject::Measurements).to_vec();
        let raws = self.check_measurements(&bytes, &nonce, raw)?;
        if raws.iter().any(|r| *r != raw) {
            return Err(HostErr::State(format!(
                "raw bit streams {raws:?}, asked {raw}"
            )));
        }
        Ok(bytes)
    }

    /// Checks cached measurements as their reader (the Realm) would: one SPDM 1.2
    /// MEASUREMENTS response with at least one block, signed by the device's leaf key
    /// (out of the cached chain) over `VCA || GET_MEASUREMENTS || the response up to
    /// its signature`. VCA is the cached object 0; the request is the one the RMM sent,
    /// rebuilt from `nonce` and `raw` (all blocks, signed, slot 0). Returns each
    /// block's raw-bit-stream flag.
    fn check_measurements(
        &self,
        bytes: &[u8],
        nonce: &[u8; MEASURE_NONCE_LEN],
        raw: bool,
    ) -> Result<Vec<bool>, HostErr> {
        let err = |what: &str| HostErr::State(format!("measurements: {what}"));
        let neg = Negotiated {
            hash_size: HASH_LEN,
            signature_size: SIG_LEN,
            ..Negotiated::initial(Version::V12)
        };
        let (r, exact) = wire::decode_response(bytes, &neg).map_err(|e| err(&e.to_string()))?;
        let spdm::Response::Measurements(m) = r else {
            return Err(err("not a MEASUREMENTS response"));
        };
        if exact.len() != bytes.len() {
            return Err(err("trailing bytes"));
        }
        m.record.validate().map_err(|e| err(&e.to_string()))?;
        if m.record.count == 0 {
            return Err(err("no measurement block"));
        }
        let sig = m.signature.ok_or_else(|| err("not signed"))?;
        let raw_bit = if raw {
            meas_attr::RAW_BIT_STREAM_REQUESTED
        } else {
            0
        };
        let request = wire::spdm_request(
            &spdm::Request::GetMeasurements(spdm::GetMeasurements {
                attributes: meas_attr::SIGNATURE_REQUESTED | raw_bit,
                operation: meas_op::ALL,
                signed: Some(SignedMeasurementRequest {
                    nonce: *nonce,
                    slot_id: 0,
                }),
                requester_context: None,
            }),
            &neg,
        )
        .map_err(|e| err(&e.to_string()))?;
        let ep = self.ep();
        let mut h = Hasher::new();
        h.update(self.cache(ep, CacheObject::Vca));
        h.update(&request);
        h.update(&bytes[..bytes.len() - sig.len()]);
        let signed =
            crypto::signing_message(Version::V12, crypto::context::MEASUREMENTS, &h.digest());
        let leaf = certs::verify_chain(self.cache(ep, CacheObject::Certificate), &self.anchor)
            .map_err(|e| err(&e.to_string()))?;
        crypto::verify(&leaf, &signed, sig).map_err(|e| err(&e.to_string()))?;
        m.record
            .iter()
            .map(|b| match b {
                Ok(b) => b
                    .dmtf
                    .map(|d| d.raw_bit_stream)
                    .ok_or_else(|| err("not DMTF")),
                Err(e) => Err(err(&e.to_string())),
            })
            .collect()
    }

    fn start(&mut self) -> Result<(), HostErr> {
        self.phase = "start";
        let [rd, ep, vdev] = self.vdev_args();
        self.call(Call::VdevStart, &[rd, ep, vdev])?;
        self.drive_vdev(rd, ep, vdev, VdevState::Started)
    }

    /// `cca_vdev_unlock_and_destroy`: UNLOCK (if locked, started or failed),
    /// communicate to UNLOCKED, DESTROY, undelegate; then the Realm.
    fn unbind(&mut self) -> Result<(), HostErr> {
        self.phase = "unbind";
        let [rd, ep, vdev] = self.vdev_args();
        if matches!(
            self.vdev_state(vdev)?,
            VdevState::Locked | VdevState::Started | VdevState::Error
        ) {
            self.call(Call::VdevUnlock, &[rd, ep, vdev])?;
            self.drive_vdev(rd, ep, vdev, VdevState::Unlocked)?;
        }
        self.call(Call::VdevDestroy, &[rd, ep, vdev])?;
        self.vdev = None;
        self.undelegate(vdev)?;
        self.drop_realm()
    }

    /// REALM_DESTROY once the last VDEV is gone, and the descriptor undelegated. A
    /// refused destroy keeps the Realm for the teardown to try again.
    fn drop_realm(&mut self) -> Result<(), HostErr> {
        if let Some(rd) = self.rd {
            self.call(Call::RealmDestroy, &[rd])?;
            self.rd = None;
            self.undelegate(rd)?;
        }
        Ok(())
    }

    /// Stream disconnect, then the root port and the endpoint stopped and destroyed.
    fn disconnect(&mut self) -> Result<(), HostErr> {
        if let Some(handle) = self.stream {
            self.phase = "disconnect:stream";
            let (ep, rp) = (self.ep(), self.rp());
            self.call(Call::PdevStreamDisconnect, &[ep, rp, handle])?;
            self.stream_dance(true)?;
        }
        if let Some(rp) = self.rp {
            self.phase = "disconnect:rp";
            self.stop_and_destroy(rp)?;
        }
        if let Some(ep) = self.ep {
            self.phase = "disconnect:ep";
            self.stop_and_destroy(ep)?;
        }
        Ok(())
    }

    /// STOP and communicate to STOPPED, once more after an ABORT if that failed; then
    /// DESTROY.
    fn stop_and_destroy(&mut self, pdev: u64) -> Result<(), HostErr> {
        let mut tries = 0;
        while self.pdev_state(pdev)? != PdevState::Stopped {
            tries += 1;
            let r = self
                .call(Call::PdevStop, &[pdev])
                .and_then(|_| self.drive_pdev(pdev, PdevState::Stopped));
            match r {
                Err(e) if tries > 1 || !self.recovering => return Err(e),
                Err(_) => {
                    let _ = self.smc(Call::PdevAbort, &[pdev]);
                }
                Ok(()) => {}
            }
        }
        self.destroy_pdev(pdev)
    }

    /// The whole lifecycle; the first failing step.
    fn lifecycle(&mut self) -> Result<(), HostErr> {
        self.connect()?;
        self.bind()?;
        let report = self.report()?;
        assert_eq!(report, self.dsm.0.report(0).expect("DSM report"));
        self.measurements([0x4d; MEASURE_NONCE_LEN], false)?;
        self.start()?;
        self.unbind()?;
        self.disconnect()
    }

    /// Recovery from wherever a failure left the host, as a host tearing down does:
    /// the half-done stateful operation, the VDEV, a due STREAM_COMPLETE, the stream,
    /// the PDEVs, every granule still delegated.
    fn teardown(&mut self) -> Result<(), HostErr> {
        self.recovering = true;
        let r = self.recover();
        self.recovering = false;
        r
    }

    fn recover(&mut self) -> Result<(), HostErr> {
        match self.sro.take() {
            Some(PendingSro::Create { handle }) => {
                self.call(Call::OpCancel, &[handle])?;
            }
            Some(PendingSro::Destroy { handle, pdev }) => self.reclaim(handle, pdev)?,
            None => {}
        }
        if self.vdev.is_some() {
            let [rd, ep, vdev] = self.vdev_args();
            // Refused (ERROR_DEVICE) unless a device operation is stuck.
            let _ = self.smc(Call::VdevAbort, &[rd, ep, vdev]);
            self.unbind()?;
        }
        self.drop_realm()?;
        if self.complete_due.is_some() {
            self.stream_complete()?;
        }
        for p in [self.ep, self.rp].into_iter().flatten() {
            let _ = self.smc(Call::PdevAbort, &[p]);
        }
        self.disconnect()?;
        for pa in self.delegated.clone() {
            self.undelegate(pa)?;
        }
        Ok(())
    }

    /// The clean end: nothing left in the model, the device as after reset.
    fn assert_clean(&self) {
        assert!(
            self.delegated.is_empty(),
            "still delegated: {:x?}",
            self.delegated
        );
        assert!(self.rmm.is_clean(), "{:?}", self.rmm.snapshot());
        let dsm = &self.dsm.0;
        assert!(!dsm.session_established(), "session left");
        assert!(!dsm.ide_stream_active(0), "IDE left on");
        assert_eq!(dsm.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    }

    /// Calls of `call` the host made.
    fn count(&self, call: Call) -> usize {
        self.trace.iter().filter(|t| t.call == call).count()
    }

    fn refusals(&self) -> Vec<(Call, Status)> {
        self.trace
            .iter()
            .filter_map(|t| t.refused.map(|s| (t.call, s)))
            .collect()
    }
}

/// The trace of one clean lifecycle (what the fault tests walk).
fn baseline() -> Vec<Traced> {
    let mut h = Host::new("");
    h.lifecycle().expect("baseline lifecycle");
    h.assert_clean();
    h.trace
}

/// `(call, n, phase)` for the n-th (1-based) call of each function ID in `trace`.
fn nth_calls(trace: &[Traced]) -> Vec<(Call, u32, &'static str)> {
    let mut seen: HashMap<Call, u32> = HashMap::new();
    trace
        .iter()
        .map(|t| {
            let n = seen.entry(t.call).or_insert(0);
            *n += 1;
            (t.call, *n, t.phase)
        })
        .collect()
}

fn knob_name(call: Call) -> String {
    tsm_engine::fw::rmm::knobs::call_name(call)
}

#[test]
fn host_lifecycle() {
    let mut h = Host::new("");
    h.connect().unwrap();
    let (ep, rp) = (h.ep(), h.rp());
    assert_eq!(h.rmm.pdev_state(ep), Some(PdevState::Ready));
    assert_eq!(h.rmm.pdev_state(rp), Some(PdevState::Ready));
    assert!(h.rmm.pdev_has_session(ep));
    assert!(h.dsm.0.session_established());
    assert!(h.dsm.0.ide_stream_active(0));
    assert!(!h.cache(ep, CacheObject::Vca).is_empty(), "VCA cached");
    assert!(
        h.cache(rp, CacheObject::Vca).is_empty(),
        "no traffic to the root port"
    );
    let aux: Vec<u64> = h
        .delegated
        .iter()
        .copied()
        .filter(|pa| h.rmm.granule(*pa) == Some(GranuleState::PdevAux { pdev: ep }))
        .collect();
    assert_eq!(aux.len(), 2, "the default donation");
    assert_eq!(h.rmm.granule(rp), Some(GranuleState::Pdev));
    assert_eq!(h.rmm.snapshot().streams.len(), 1);
    h.bind().unwrap();
    let vdev = h.vdev.unwrap();
    let rd = h.rd.unwrap();
    assert_eq!(h.rmm.granule(rd), Some(GranuleState::Rd { da: true }));
    assert_eq!(h.count(Call::RealmCreate), 1);
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Locked));
    assert_eq!(h.rmm.granule(vdev), Some(GranuleState::Vdev { pdev: ep }));
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    let report = h.report().unwrap();
    assert_eq!(report, h.dsm.0.report(0).unwrap());
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Locked), "unchanged");
    h.start().unwrap();
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::Run));
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Started));
    // The report again, from RUN.
    assert_eq!(h.report().unwrap(), report);
    h.unbind().unwrap();
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    assert_eq!(h.rmm.granule(vdev), None, "undelegated");
    assert_eq!(h.rmm.granule(rd), None, "Realm destroyed and undelegated");
    assert_eq!(h.count(Call::RealmDestroy), 1);
    assert!(h.dsm.0.session_established(), "unbind keeps the session");
    h.disconnect().unwrap();
    h.assert_clean();
    let snap = h.dsm.0.snapshot();
    assert!(snap.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"), "{snap}");
    assert!(snap.contains("spdm=none"), "{snap}");
    assert_eq!(h.refusals(), vec![], "a correct host meets no refusal");
    // Once more on the same device and model.
    h.lifecycle().unwrap();
    h.assert_clean();
}

#[test]
fn undelegate_scrubs() {
    let mut h = Host::new("");
    let pa = h.delegated_page().unwrap();
    h.mem.write(pa, &[0xAA; 64]).unwrap();
    h.undelegate(pa).unwrap();
    assert!(h.mem.page(pa).unwrap().iter().all(|b| *b == 0));
}

/// BUSY at every call of the lifecycle: the host retries and ends clean, with exactly
/// one call more of that function ID.
#[test]
fn busy_at_every_call() {
    let base = baseline();
    for (call, n, phase) in nth_calls(&base) {
        let mut h = Host::new(&format!("busy@{}:{n}", knob_name(call)));
        h.lifecycle()
            .unwrap_or_else(|e| panic!("busy at {call:?} #{n} ({phase}): {e:?}"));
        h.assert_clean();
        assert_eq!(h.refusals(), vec![(call, Status::Busy)], "{call:?} #{n}");
        assert_eq!(h.trace.len(), base.len() + 1, "{call:?} #{n}");
    }
}

/// How a lifecycle that failed at one call ends after the host's teardown.
#[derive(Debug, PartialEq, Eq)]
enum EndState {
    /// Nothing left in the model, the device reset.
    Clean,
    /// The device kept a session the model never finished: the host refused the
    /// communicate that carried FINISH_RSP. The next connect's GET_VERSION resets it.
    DeviceSessionLeft,
    /// A stream operation was aborted half-way: the stream and both PDEVs remain, and
    /// neither DISCONNECT (the stream is not CONNECTED) nor STOP (a stream is still
    /// associated) is accepted. Unconfirmed: whether TF-RMM has a way out; the fact
    /// sheet names none.
    StreamStuck,
}

/// Tears `h` down after a failure in `phase` and checks the end it reached.
fn teardown_and_check(mut h: Host, phase: &str, what: &str) -> EndState {
    let device_ahead =
        h.dsm.0.session_established() && h.ep.is_some_and(|ep| !h.rmm.pdev_has_session(ep));
    let r = h.teardown();
    if STREAM_PHASES.contains(&phase) && r.is_err() {
        assert_eq!(
            r,
            Err(HostErr::Status(
                Call::PdevStreamDisconnect,
                Status::ErrorDevice
            )),
            "{what}"
        );
        let snap = h.rmm.snapshot();
        assert_eq!(snap.streams.len(), 1, "{what}: {snap:?}");
        assert_eq!(snap.pdevs.len(), 2, "{what}: {snap:?}");
        assert!(h.dsm.0.session_established(), "{what}");
        let ep = h.ep();
        assert_eq!(
            status_of(&h.smc(Call::PdevStop, &[ep])),
            Some(Status::ErrorDevice),
            "{what}"
        );
        return EndState::StreamStuck;
    }
    r.unwrap_or_else(|e| panic!("{what}: teardown: {e:?}"));
    if device_ahead {
        assert_eq!(phase, "connect:ep-key", "{what}");
        assert!(h.rmm.is_clean(), "{what}: {:?}", h.rmm.snapshot());
        assert!(h.dsm.0.session_established(), "{what}");
        h.lifecycle()
            .unwrap_or_else(|e| panic!("{what}: the next lifecycle: {e:?}"));
        h.assert_clean();
        return EndState::DeviceSessionLeft;
    }
    h.assert_clean();
    EndState::Clean
}

/// An RMI error at every call of the lifecycle (`iommufd_fail_nth`): the step fails
/// with exactly that status, the refusal changed nothing, and the teardown reaches a
/// known end.
#[test]
fn error_at_every_call() {
    let base = baseline();
    let mut ends: HashMap<&'static str, Vec<EndState>> = HashMap::new();
    for (i, (call, n, phase)) in nth_calls(&base).into_iter().enumerate() {
        let status = [Status::ErrorInput, Status::ErrorDevice, Status::ErrorGlobal][i % 3];
        let what = format!("error {status:?} at {call:?} #{n} ({phase})");
        let mut h = Host::new(&format!("error@{}:{n}={}", knob_name(call), status.to_u8()));
        assert_eq!(h.lifecycle(), Err(HostErr::Status(call, status)), "{what}");
        assert_eq!(h.refusals(), vec![(call, status)], "{what}");
        assert_eq!(h.trace.last().map(|t| t.phase), Some(phase), "{what}");
        let end = teardown_and_check(h, phase, &what);
        if end == EndState::StreamStuck {
            assert_eq!(call, Call::PdevCommunicate, "{what}");
        }
        ends.entry(phase).or_default().push(end);
    }
    // Every phase outside the stream dances ends clean but for the one FINISH case.
    for (phase, e) in &ends {
        let left = e
            .iter()
            .filter(|e| **e == EndState::DeviceSessionLeft)
            .count();
        if *phase == "connect:ep-key" {
            assert_eq!(left, 1, "{phase}: {e:?}");
        } else if !STREAM_PHASES.contains(phase) {
            assert!(e.iter().all(|e| *e == EndState::Clean), "{phase}: {e:?}");
        }
    }
}

/// A communicate that never finishes (the hang knob) at the first communicate of each
/// phase: the host gives up (Timeout), aborts, and the teardown reaches a known end.
#[test]
fn hang_in_every_phase() {
    let base = baseline();
    let mut done: Vec<&str> = Vec::new();
    for (call, n, phase) in nth_calls(&base) {
        if !matches!(call, Call::PdevCommunicate | Call::VdevCommunicate) || done.contains(&phase) {
            continue;
        }
        done.push(phase);
        let what = format!("hang at {call:?} #{n} ({phase})");
        let mut h = Host::new(&format!("hang@{}:{n}", knob_name(call)));
        assert_eq!(h.lifecycle(), Err(HostErr::Timeout), "{what}");
        let aborts = h.count(Call::PdevAbort) + h.count(Call::VdevAbort);
        assert_eq!(aborts, 1, "{what}: the host aborted");
        if call == Call::VdevCommunicate {
            assert_eq!(
                h.rmm.vdev_state(h.vdev.unwrap()),
                Some(VdevState::Error),
                "{what}"
            );
        }
        let end = teardown_and_check(h, phase, &what);
        let want = match STREAM_PHASES.contains(&phase) {
            true => EndState::StreamStuck,
            false => EndState::Clean,
        };
        assert_eq!(end, want, "{what}");
    }
    assert!(done.len() >= 10, "phases with a communicate: {done:?}");
}

/// The donate knob: the endpoint asks for 3 granules and takes one per OP_MEM_DONATE,
/// so the host donates three times; destruction gives back all three.
#[test]
fn donation_one_at_a_time() {
    // PDEV_CREATE #1 is the root port's, which takes no memory.
    let mut h = Host::new("donate@pdev_create:2=3");
    h.connect().unwrap();
    let ep = h.ep();
    assert_eq!(h.count(Call::OpMemDonate), 3);
    assert_eq!(h.count(Call::OpContinue), 1);
    let aux = h
        .delegated
        .iter()
        .filter(|pa| h.rmm.granule(**pa) == Some(GranuleState::PdevAux { pdev: ep }))
        .count();
    assert_eq!(aux, 3);
    h.bind().unwrap();
    h.unbind().unwrap();
    h.disconnect().unwrap();
    assert_eq!(h.count(Call::OpMemReclaim), 3, "one entry per batch");
    h.assert_clean();
}

/// Expects `r` to be refused with `st`.
fn refused(r: SmcRegs, st: Status, what: &str) {
    assert_eq!(status_of(&r), Some(st), "{what}");
}

/// Granule states: objects only in DELEGATED granules, parameter pages only in NS
/// ones, no undelegation of a granule in use. Each refusal changes nothing (checked by
/// `Host::smc`).
#[test]
fn abi_granule_states() {
    let mut h = Host::new("");
    let ns = h.page();
    let pp = h.page_with(|w| Host::ep_params().encode(w).unwrap());
    // Unconfirmed: TF-RMM's status for these granule-state checks; the fact sheet has
    // the range calls' ERROR_INPUT with X1 = base, the model uses ERROR_INPUT for all.
    let r = h.smc(Call::PdevCreate, &[ns, pp]);
    refused(r, Status::ErrorInput, "PDEV in an undelegated granule");
    let r = h.smc(Call::GranuleDelegate, &[ns + 8, ns + G + 8]);
    refused(r, Status::ErrorInput, "unaligned delegate");
    assert_eq!(r.x[1], ns + 8, "X1 = the base on a refusal");
    let r = h.smc(Call::GranuleDelegate, &[0x10_0000, 0x10_0000 + G]);
    refused(r, Status::ErrorInput, "delegate of no memory");
    let d = h.delegated_page().unwrap();
    let r = h.smc(Call::GranuleDelegate, &[d, d + G]);
    refused(r, Status::ErrorInput, "delegate twice");
    let dp = h.delegated_page().unwrap();
    let r = h.smc(Call::PdevCreate, &[d, dp]);
    refused(r, Status::ErrorInput, "parameters in a delegated granule");
    let realm = h.realm_params(true);
    h.call(Call::RealmCreate, &[dp, realm]).unwrap();
    let r = h.smc(Call::PdevCreate, &[dp, pp]);
    refused(r, Status::ErrorInput, "PDEV in a Realm descriptor");
    let r = h.smc(Call::GranuleUndelegate, &[dp, dp + G]);
    refused(r, Status::ErrorInput, "undelegate of a Realm descriptor");
    h.call(Call::RealmDestroy, &[dp]).unwrap();
    // A root port created at once: its granule is a PDEV's, not undelegatable.
    let rp_params = h.page_with(|w| Host::rp_params().encode(w).unwrap());
    assert_eq!(status_of(&h.smc(Call::PdevCreate, &[d, rp_params])), None);
    assert_eq!(h.rmm.granule(d), Some(GranuleState::Pdev));
    let r = h.smc(Call::GranuleUndelegate, &[d, d + G]);
    refused(r, Status::ErrorInput, "undelegate of a PDEV");
    let r = h.smc(Call::PdevCreate, &[d, rp_params]);
    refused(r, Status::ErrorInput, "PDEV_CREATE on a PDEV");
    // The communication page must be NS.
    let r = h.smc(Call::PdevCommunicate, &[d, dp]);
    refused(r, Status::ErrorInput, "communication page delegated");
    h.rp = Some(d);
    h.drive_pdev(d, PdevState::Ready).unwrap();
    h.disconnect().unwrap();
    for pa in h.delegated.clone() {
        h.undelegate(pa).unwrap();
    }
    let r = h.smc(Call::GranuleUndelegate, &[ns, ns + G]);
    refused(
        r,
        Status::ErrorInput,
        "undelegate of an undelegated granule",
    );
    h.assert_clean();
}

/// Donation rules (TF-RMM `sro.c`): the right follow-up only, DELEGATED granules only,
/// no more than asked.
#[test]
fn abi_donation_rules() {
    let mut h = Host::new("");
    let pdev = h.delegated_page().unwrap();
    let pp = h.page_with(|w| Host::ep_params().encode(w).unwrap());
    let r = h.smc(Call::PdevCreate, &[pdev, pp]);
    let Outcome::Incomplete(i) = outcome(&r) else {
        panic!("an endpoint's creation is a stateful operation: {r:?}");
    };
    assert_eq!(i.mem_req, MemReq::Donate);
    assert!(i.can_cancel);
    let handle = r.x[1];
    let req = DonateReq::decode(r.x[2]).unwrap();
    assert_eq!(req.count, 2);
    refused(
        h.smc(Call::OpContinue, &[handle, 0]),
        Status::ErrorInput,
        "OP_CONTINUE where DONATE is due",
    );
    refused(
        h.smc(Call::OpMemReclaim, &[handle, h.req, 1]),
        Status::ErrorInput,
        "OP_MEM_RECLAIM where DONATE is due",
    );
    refused(
        h.smc(Call::OpMemDonate, &[handle + 1, h.req, 1]),
        Status::ErrorInput,
        "unknown handle",
    );
    let ns = h.page();
    let list = h.donation_list(&[ns]);
    refused(
        h.smc(Call::OpMemDonate, &[handle, list, 1]),
        Status::ErrorInput,
        "an undelegated granule donated",
    );
    refused(
        h.smc(Call::OpMemDonate, &[handle, list + 4, 1]),
        Status::ErrorInput,
        "a list not 8-byte aligned",
    );
    let pool = [
        h.delegated_page().unwrap(),
        h.delegated_page().unwrap(),
        h.delegated_page().unwrap(),
    ];
    let list = h.donation_list(&pool);
    refused(
        h.smc(Call::OpMemDonate, &[handle, list, 3]),
        Status::ErrorInput,
        "more granules than asked",
    );
    let r = h.smc(Call::OpMemDonate, &[handle, list, 2]);
    assert_eq!(r.x[1], 2, "both taken");
    assert_eq!(
        outcome(&r),
        Outcome::Incomplete(tsm_proto::rmi::Incomplete {
            mem_req: MemReq::None,
            can_cancel: true
        })
    );
    // Cancelled instead of continued: every granule DELEGATED again.
    assert_eq!(status_of(&h.smc(Call::OpCancel, &[handle])), None);
    for pa in [pdev, pool[0], pool[1]] {
        assert_eq!(h.rmm.granule(pa), Some(GranuleState::Delegated), "{pa:#x}");
    }
    refused(
        h.smc(Call::OpContinue, &[handle, 0]),
        Status::ErrorInput,
        "the cancelled handle",
    );
    for pa in h.delegated.clone() {
        h.undelegate(pa).unwrap();
    }
    h.assert_clean();
}

/// Call order (fact sheet §4): each call out of order is refused with its documented
/// status and changes nothing.
#[test]
fn abi_call_order() {
    let mut h = Host::new("");
    let rp = h.create_pdev(Host::rp_params()).unwrap();
    h.rp = Some(rp);
    let ep = h.create_pdev(Host::ep_params()).unwrap();
    h.ep = Some(ep);
    // A valid P-384 key (the trust anchor's), so that only the state is wrong.
    let anchor_only = certs::spdm_chain(&[h.anchor.clone()]).unwrap();
    let anchor_key = certs::verify_chain(&anchor_only, &h.anchor).unwrap();
    let point = anchor_key.to_encoded_point(false);
    let kp = h.page_with(|w| {
        PubkeyParams::ecdsa(SignatureAlgo::EcdsaP384, point.as_bytes())
            .encode(w)
            .unwrap()
    });
    refused(
        h.smc(Call::PdevSetPubkey, &[ep, kp]),
        Status::ErrorDevice,
        "SET_PUBKEY in NEW",
    );
    refused(
        h.smc(Call::PdevDestroy, &[ep]),
        Status::ErrorDevice,
        "DESTROY before STOPPED",
    );
    refused(
        h.smc(Call::PdevStop, &[ep]),
        Status::ErrorDevice,
        "STOP during a device operation",
    );
    // RESPONSE before any request: ERROR_DEVICE (TF-RMM pdev.c).
    h.write_enter(CommEnter::response(h.req, h.resp, 16));
    refused(
        h.smc(Call::PdevCommunicate, &[ep, h.comm]),
        Status::ErrorDevice,
        "a response with no request out",
    );
    h.write_enter(CommEnter::response(h.req, h.resp, 0));
    refused(
        h.smc(Call::PdevCommunicate, &[ep, h.comm]),
        Status::ErrorInput,
        "RESPONSE with resp_len 0",
    );
    h.write_enter(CommEnter::none(h.req + 8, h.resp));
    refused(
        h.smc(Call::PdevCommunicate, &[ep, h.comm]),
        Status::ErrorInput,
        "request buffer not aligned",
    );
    h.drive_pdev(rp, PdevState::Ready).unwrap();
    refused(
        h.smc(Call::PdevCommunicate, &[rp, h.comm]),
        Status::ErrorDevice,
        "COMMUNICATE with no operation",
    );
    refused(
        h.smc(Call::PdevAbort, &[rp]),
        Status::ErrorDevice,
        "ABORT with no operation",
    );
    h.drive_pdev(ep, PdevState::NeedsKey).unwrap();
    // A VDEV before the stream: ERROR_DEVICE (and before READY).
    let rd = h.create_realm(true).unwrap();
    h.rd = Some(rd);
    let vdev = h.delegated_page().unwrap();
    let vparams = |tdi_id| VdevParams {
        flags: Default::default(),
        vdev_id: GUEST_RID,
        tdi_id,
        vsmmu_addr: 0,
        vsid: 0,
        ranges: tsm_proto::rmi::List::from_slice("t", &[]).unwrap(),
    };
    let vp = h.page_with(|w| vparams(EP_BDF).encode(w).unwrap());
    refused(
        h.smc(Call::VdevCreate, &[rd, ep, vdev, vp]),
        Status::ErrorDevice,
        "VDEV_CREATE on a PDEV in NEEDS_KEY",
    );
    // Finish the connection by hand, then the stream.
    let chain = h.cache(ep, CacheObject::Certificate).to_vec();
    let leaf = certs::verify_chain(&chain, &h.anchor).unwrap();
    let point = leaf.to_encoded_point(false);
    let kp = h.page_with(|w| {
        PubkeyParams::ecdsa(SignatureAlgo::EcdsaP384, point.as_bytes())
            .encode(w)
            .unwrap()
    });
    h.call(Call::PdevSetPubkey, &[ep, kp]).unwrap();
    refused(
        h.smc(Call::PdevSetPubkey, &[ep, kp]),
        Status::ErrorDevice,
        "SET_PUBKEY twice",
    );
    h.drive_pdev(ep, PdevState::Ready).unwrap();
    refused(
        h.smc(Call::VdevCreate, &[rd, ep, vdev, vp]),
        Status::ErrorDevice,
        "VDEV_CREATE with no connected stream",
    );
    let sp = h.page_with(|w| {
        StreamParams::new(StreamType::Ncoh, ep, rp, 0)
            .encode(w)
            .unwrap()
    });
    let coh = h.page_with(|w| {
        StreamParams::new(StreamType::Coh, ep, rp, 0)
            .encode(w)
            .unwrap()
    });
    refused(
        h.smc(Call::PdevStreamConnect, &[coh]),
        Status::NotSupported,
        "a COH stream",
    );
    let swapped = h.page_with(|w| {
        StreamParams::new(StreamType::Ncoh, rp, ep, 0)
            .encode(w)
            .unwrap()
    });
    refused(
        h.smc(Call::PdevStreamConnect, &[swapped]),
        Status::ErrorInput,
        "the ends swapped",
    );
    let r = h.call(Call::PdevStreamConnect, &[sp]).unwrap();
    let handle = r.x[1];
    h.stream = Some(handle);
    refused(
        h.smc(Call::PdevStreamComplete, &[ep, rp, handle]),
        Status::ErrorInput,
        "COMPLETE before the dance (PDEVs not idle)",
    );
    h.stream_dance(false).unwrap();
    refused(
        h.smc(Call::PdevStop, &[ep]),
        Status::ErrorDevice,
        "STOP with a stream",
    );
    // The VDEV: its parameters, then its order.
    let bad = h.page_with(|w| vparams(EP_BDF + 2).encode(w).unwrap());
    refused(
        h.smc(Call::VdevCreate, &[rd, ep, vdev, bad]),
        Status::ErrorInput,
        "tdi_id outside [rid_base, rid_top)",
    );
    let no_da = h.create_realm(false).unwrap();
    assert_eq!(h.rmm.granule(no_da), Some(GranuleState::Rd { da: false }));
    refused(
        h.smc(Call::VdevCreate, &[no_da, ep, vdev, vp]),
        Status::ErrorRealm,
        "a Realm without DA",
    );
    h.call(Call::RealmDestroy, &[no_da]).unwrap();
    assert_eq!(h.rmm.granule(no_da), Some(GranuleState::Delegated));
    refused(
        h.smc(Call::VdevCreate, &[rd, rp, vdev, vp]),
        Status::ErrorDevice,
        "VDEV_CREATE on the root port",
    );
    h.call(Call::VdevCreate, &[rd, ep, vdev, vp]).unwrap();
    h.vdev = Some(vdev);
    refused(
        h.smc(Call::VdevLock, &[rd, ep, vdev]),
        Status::ErrorDevice,
        "LOCK while the creation's operation is pending",
    );
    h.drive_vdev(rd, ep, vdev, VdevState::Unlocked).unwrap();
    for (call, what) in [
        (Call::VdevStart, "START in UNLOCKED"),
        (Call::VdevGetInterfaceReport, "report in UNLOCKED"),
        (Call::VdevUnlock, "UNLOCK in UNLOCKED"),
        (Call::VdevAbort, "ABORT with no operation"),
    ] {
        refused(h.smc(call, &[rd, ep, vdev]), Status::ErrorDevice, what);
    }
    refused(
        h.smc(Call::PdevStreamDisconnect, &[ep, rp, handle]),
        Status::ErrorDevice,
        "DISCONNECT with a VDEV",
    );
    refused(
        h.smc(Call::PdevStop, &[ep]),
        Status::ErrorDevice,
        "STOP with a VDEV",
    );
    refused(
        h.smc(Call::VdevLock, &[rd, rp, vdev]),
        Status::ErrorInput,
        "a VDEV named with the wrong PDEV",
    );
    h.call(Call::VdevLock, &[rd, ep, vdev]).unwrap();
    refused(
        h.smc(Call::VdevLock, &[rd, ep, vdev]),
        Status::ErrorDevice,
        "LOCK twice",
    );
    // Unconfirmed: BUSY for the PDEV's own operation while a VDEV's is in progress.
    refused(
        h.smc(Call::PdevStop, &[ep]),
        Status::Busy,
        "STOP during a VDEV's operation",
    );
    h.drive_vdev(rd, ep, vdev, VdevState::Locked).unwrap();
    refused(
        h.smc(Call::VdevDestroy, &[rd, ep, vdev]),
        Status::ErrorDevice,
        "DESTROY in LOCKED",
    );
    h.unbind().unwrap();
    h.disconnect().unwrap();
    for pa in h.delegated.clone() {
        h.undelegate(pa).unwrap();
    }
    h.assert_clean();
}

/// The REALM_CREATE / REALM_DESTROY stand-ins: the descriptor in a DELEGATED granule,
/// the parameters in an NS page, no destroy while a VDEV names the Realm. Each refusal
/// changes nothing (checked by `Host::smc`).
#[test]
fn abi_realm_stand_ins() {
    let mut h = Host::new("");
    let ns = h.page();
    let params = h.realm_params(true);
    // Unconfirmed: TF-RMM's status for the granule-state checks; ERROR_INPUT, as for
    // every object granule in the model.
    refused(
        h.smc(Call::RealmCreate, &[ns, params]),
        Status::ErrorInput,
        "REALM_CREATE in an undelegated granule",
    );
    let rd = h.delegated_page().unwrap();
    let other = h.delegated_page().unwrap();
    for (p, what) in [
        (rd, "rd as its own parameters"),
        (other, "parameters in a delegated granule"),
        (params + 8, "parameters not aligned"),
        (0x10_0000, "parameters not memory"),
    ] {
        refused(h.smc(Call::RealmCreate, &[rd, p]), Status::ErrorInput, what);
    }
    for (pa, what) in [
        (rd, "REALM_DESTROY of a DELEGATED granule"),
        (ns, "REALM_DESTROY of an undelegated granule"),
    ] {
        refused(h.smc(Call::RealmDestroy, &[pa]), Status::ErrorInput, what);
    }
    h.call(Call::RealmCreate, &[rd, params]).unwrap();
    assert_eq!(h.rmm.granule(rd), Some(GranuleState::Rd { da: true }));
    refused(
        h.smc(Call::RealmCreate, &[rd, params]),
        Status::ErrorInput,
        "REALM_CREATE on a Realm descriptor",
    );
    h.call(Call::RealmDestroy, &[rd]).unwrap();
    assert_eq!(h.rmm.granule(rd), Some(GranuleState::Delegated));
    refused(
        h.smc(Call::RealmDestroy, &[rd]),
        Status::ErrorInput,
        "REALM_DESTROY twice",
    );

    // The bound VDEV keeps its Realm.
    h.connect().unwrap();
    h.bind().unwrap();
    let [realm, ep, vdev] = h.vdev_args();
    assert_eq!(h.rmm.granule(realm), Some(GranuleState::Rd { da: true }));
    refused(
        h.smc(Call::RealmDestroy, &[realm]),
        Status::ErrorRealm,
        "REALM_DESTROY with a VDEV",
    );
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Locked));
    // Unbound by hand, the Realm kept until the VDEV is gone.
    h.call(Call::VdevUnlock, &[realm, ep, vdev]).unwrap();
    h.drive_vdev(realm, ep, vdev, VdevState::Unlocked).unwrap();
    h.call(Call::VdevDestroy, &[realm, ep, vdev]).unwrap();
    h.vdev = None;
    h.undelegate(vdev).unwrap();
    assert_eq!(h.rmm.granule(realm), Some(GranuleState::Rd { da: true }));
    h.call(Call::RealmDestroy, &[realm]).unwrap();
    h.rd = None;
    assert_eq!(h.rmm.granule(realm), Some(GranuleState::Delegated));
    h.undelegate(realm).unwrap();
    assert_eq!(h.rmm.granule(realm), None);
    h.disconnect().unwrap();
    for pa in h.delegated.clone() {
        h.undelegate(pa).unwrap();
    }
    h.assert_clean();
    assert!(
        h.refusals()
            .iter()
            .all(|(c, _)| matches!(c, Call::RealmCreate | Call::RealmDestroy)),
        "{:?}",
        h.refusals()
    );
}

/// The same lifecycle with every SMC carried by the conduit's channel and answered by
/// `serve_one`, the model reaching the host's pages only through MEM_READ/MEM_WRITE:
/// the same calls with the same results as the direct calls, nothing refused, a clean
/// end. Then an error knob through the channel, torn down clean.
#[test]
fn lifecycle_through_the_conduit() {
    let direct = baseline();
    let mut h = Host::new("");
    h.conduit = Some(ConduitStats::default());
    h.lifecycle().unwrap();
    h.assert_clean();
    let st = h.conduit.unwrap();
    assert_eq!(st.last_id, h.trace.len() as u64, "one channel call per SMC");
    assert_eq!(h.trace, direct, "the channel changes nothing");
    assert!(
        st.accesses > h.trace.len(),
        "pages reached through the channel"
    );
    assert_eq!(st.refused, 0);

    let mut h = Host::new("error@vdev_start=device");
    h.conduit = Some(ConduitStats::default());
    assert_eq!(
        h.lifecycle(),
        Err(HostErr::Status(Call::VdevStart, Status::ErrorDevice))
    );
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    assert_eq!(teardown_and_check(h, "start", "conduit"), EndState::Clean);
}

/// RMI_VDEV_GET_MEASUREMENTS as a host drives it: the params page's nonce and raw flag
/// reach the device, the signed MEASUREMENTS response is cached as object 2 (checked by
/// `Host::check_measurements`), the VDEV's state is unchanged in every state (it is not
/// checked), and the refusals: no such VDEV or a bad params page (ERROR_INPUT), the
/// PDEV's or the VDEV's own communication busy (ERROR_DEVICE), another VDEV's operation
/// in progress (BUSY). Each refusal changes nothing (checked by `Host::smc`).
#[test]
fn vdev_get_measurements() {
    let mut h = Host::new("");
    h.connect().unwrap();
    h.bind().unwrap();
    let [rd, ep, vdev] = h.vdev_args();

    // LOCKED: three communicates (the request out, the response cached, the end).
    let nonce = [0x11; MEASURE_NONCE_LEN];
    let before = h.count(Call::VdevCommunicate);
    let m = h.measurements(nonce, false).unwrap();
    assert_eq!(h.count(Call::VdevCommunicate) - before, 3);
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Locked));
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    assert_eq!(
        h.check_measurements(&m, &nonce, false),
        Ok(vec![false, false])
    );
    assert_eq!(m[..2], [0x12, 0x60], "SPDM 1.2 MEASUREMENTS");
    // The signature covers the host's nonce: another does not verify.
    assert!(h
        .check_measurements(&m, &[0x22; MEASURE_NONCE_LEN], false)
        .is_err());
    // The raw flag reaches the device as RawBitStreamRequested.
    let raw = h.measurements([0x33; MEASURE_NONCE_LEN], true).unwrap();
    assert_ne!(raw, m);
    assert_eq!(
        h.check_measurements(&raw, &[0x33; 32], true),
        Ok(vec![true, true])
    );

    // The PDEV's communication busy (a stream key refresh): ERROR_DEVICE.
    let params = h.measure_params(nonce, false);
    let (rp, handle) = (h.rp(), h.stream.unwrap());
    h.call(Call::PdevStreamKeyRefresh, &[ep, rp, handle])
        .unwrap();
    refused(
        h.smc(Call::VdevGetMeasurements, &[rd, ep, vdev, params]),
        Status::ErrorDevice,
        "GET_MEASUREMENTS while the PDEV communicates",
    );
    h.stream_dance(false).unwrap();

    // Another VDEV of the PDEV with its operation pending: BUSY.
    let other = h.delegated_page().unwrap();
    let op = h.page_with(|w| {
        VdevParams {
            flags: Default::default(),
            vdev_id: GUEST_RID + 1,
            tdi_id: EP_BDF + 1,
            vsmmu_addr: 0,
            vsid: 0,
            ranges: tsm_proto::rmi::List::from_slice("t", &[]).unwrap(),
        }
        .encode(w)
        .unwrap()
    });
    h.call(Call::VdevCreate, &[rd, ep, other, op]).unwrap();
    refused(
        h.smc(Call::VdevGetMeasurements, &[rd, ep, vdev, params]),
        Status::Busy,
        "GET_MEASUREMENTS during another VDEV's operation",
    );
    h.drive_vdev(rd, ep, other, VdevState::Unlocked).unwrap();
    h.call(Call::VdevDestroy, &[rd, ep, other]).unwrap();
    h.undelegate(other).unwrap();

    // No such VDEV, or a params page that is not an NS page: ERROR_INPUT. Unconfirmed:
    // TF-RMM answers ERROR_DEVICE for a VDEV of another PDEV or Realm; the model gives
    // ERROR_INPUT, as for its other VDEV calls.
    let not_vdev = h.delegated_page().unwrap();
    let delegated_params = h.delegated_page().unwrap();
    for (args, what) in [
        (
            [rd, ep, not_vdev, params],
            "a delegated granule as the VDEV",
        ),
        ([rd, ep, h.req, params], "an NS page as the VDEV"),
        ([rd, rp, vdev, params], "the VDEV named with the wrong PDEV"),
        ([ep, ep, vdev, params], "the PDEV as the Realm"),
        (
            [rd, ep, vdev, delegated_params],
            "params in a delegated granule",
        ),
        ([rd, ep, vdev, params + 8], "params not aligned"),
        ([rd, ep, vdev, 0x10_0000], "params not memory"),
    ] {
        refused(
            h.smc(Call::VdevGetMeasurements, &args),
            Status::ErrorInput,
            what,
        );
    }
    h.undelegate(not_vdev).unwrap();
    h.undelegate(delegated_params).unwrap();

    // STARTED.
    h.start().unwrap();
    h.measurements([0x44; MEASURE_NONCE_LEN], false).unwrap();
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Started));
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::Run));

    // UNLOCKED: the state is not checked.
    h.call(Call::VdevUnlock, &[rd, ep, vdev]).unwrap();
    // The VDEV's own operation pending: ERROR_DEVICE.
    refused(
        h.smc(Call::VdevGetMeasurements, &[rd, ep, vdev, params]),
        Status::ErrorDevice,
        "GET_MEASUREMENTS over the VDEV's pending UNLOCK",
    );
    h.drive_vdev(rd, ep, vdev, VdevState::Unlocked).unwrap();
    h.measurements([0x55; MEASURE_NONCE_LEN], true).unwrap();
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Unlocked));
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));

    // ERROR (a LOCK aborted before any traffic): still served, still ERROR.
    h.call(Call::VdevLock, &[rd, ep, vdev]).unwrap();
    h.call(Call::VdevAbort, &[rd, ep, vdev]).unwrap();
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Error));
    h.measurements([0x66; MEASURE_NONCE_LEN], false).unwrap();
    assert_eq!(h.rmm.vdev_state(vdev), Some(VdevState::Error));

    h.unbind().unwrap();
    h.disconnect().unwrap();
    h.assert_clean();
    let mut want = vec![Status::ErrorDevice, Status::Busy];
    want.extend([Status::ErrorInput; 7]);
    want.push(Status::ErrorDevice);
    let want: Vec<_> = want
        .into_iter()
        .map(|st| (Call::VdevGetMeasurements, st))
        .collect();
    assert_eq!(h.refusals(), want);
}

/// The knobs reach GET_MEASUREMENTS like any call: an error at its second call fails
/// that step with the status, and the host tears down clean.
#[test]
fn measurements_knob() {
    let mut h = Host::new("error@vdev_get_measurements:2=device");
    h.connect().unwrap();
    h.bind().unwrap();
    h.measurements([1; MEASURE_NONCE_LEN], false).unwrap();
    assert_eq!(
        h.measurements([2; MEASURE_NONCE_LEN], false),
        Err(HostErr::Status(
            Call::VdevGetMeasurements,
            Status::ErrorDevice
        ))
    );
    assert_eq!(
        teardown_and_check(h, "measurements", "knob"),
        EndState::Clean
    );
}
