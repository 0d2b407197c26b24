// SPDX-License-Identifier: GPL-2.0

//! The CCA RMM model driven as a CCA host backend would drive a real RMM: a small host
//! written here (the role of the future kernel backend) issues SMCs through
//! `Rmm::call`, shares pages with it through `PageMemory`, carries every DOE exchange
//! the model asks for to an in-process tsm-dsm, and keeps the device objects the model
//! asks it to cache. Then: the ABI's rules, every fault knob, and random calls.

use std::collections::HashMap;
use std::time::Duration;

use tsm_engine::certs;
use tsm_engine::faults::Faults;
use tsm_engine::fw::rmm::{FwMemory, GranuleState, Knobs, PageMemory, Rmm, RmmConfig, SmcRegs};
use tsm_engine::testing::testbed::{self, TDI};
use tsm_engine::transport::relay::{
    doe_request_object, doe_response_payload, DoeEndpoint, LocalDsm,
};
use tsm_proto::codec::Writer;
use tsm_proto::report::{self, FirstPageUnit, InterfaceReport, ValidationParams};
use tsm_proto::rmi::sro::ADDR_RANGE_DESC_LEN;
use tsm_proto::rmi::{
    Abi, AddrRange, AddrRangeDesc, BlockSize, CacheObject, Call, Category, CommEnter, CommExit,
    DonateReq, HashAlgo, MemReq, MemState, Next, Outcome, PdevFlags, PdevParams, PdevState,
    PubkeyParams, SignatureAlgo, Status, StreamParams, StreamType, VdevParams, VdevState,
    GRANULE_SIZE,
};
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

fn fid(c: Call) -> u32 {
    c.fid(Abi::V2_0).expect("a 2.0 call")
}

fn outcome(r: &SmcRegs) -> Outcome {
    Outcome::decode(r.x[0]).expect("X0 decodes")
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
    rd: Option<u64>,
    vdev: Option<u64>,
    /// Stateful operation in progress (a failed PDEV creation), to cancel.
    sro: Option<u64>,
    calls: HashMap<Call, u32>,
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
            rd: None,
            vdev: None,
            sro: None,
            calls: HashMap::new(),
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

    fn smc(&mut self, call: Call, args: &[u64]) -> SmcRegs {
        *self.calls.entry(call).or_insert(0) += 1;
        self.rmm
            .call(&SmcRegs::call(fid(call), args), &mut self.mem)
    }

    /// A call, retried while BUSY; its registers, or the failure.
    fn call(&mut self, call: Call, args: &[u64]) -> Result<SmcRegs, HostErr> {
        for _ in 0..8 {
            let r = self.smc(call, args);
            match outcome(&r) {
                Outcome::Success | Outcome::Incomplete(_) => return Ok(r),
                Outcome::Failed {
                    status: Status::Busy,
                    ..
                } => continue,
                other => {
                    return Err(HostErr::Status(
                        call,
                        other.status().unwrap_or(Status::NotSupported),
                    ))
                }
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

    fn pdev_state(&mut self, pdev: u64) -> Result<PdevState, HostErr> {
        let r = self.call(Call::PdevGetState, &[pdev])?;
        PdevState::from_reg(r.x[1]).map_err(|e| HostErr::State(e.to_string()))
    }

    fn vdev_state(&mut self, vdev: u64) -> Result<VdevState, HostErr> {
        let r = self.call(Call::VdevGetState, &[vdev])?;
        VdevState::from_reg(r.x[1]).map_err(|e| HostErr::State(e.to_string()))
    }

    /// Communicates the PDEV until it reaches `target`; on a host failure aborts.
    fn drive_pdev(&mut self, pdev: u64, target: PdevState) -> Result<(), HostErr> {
        let r = self.communicate(Target::Pdev(pdev));
        if let Err(e) = r {
            let _ = self.smc(Call::PdevAbort, &[pdev]);
            return Err(e);
        }
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
        let r = self.communicate(Target::Vdev { rd, pdev, vdev });
        if let Err(e) = r {
            let _ = self.smc(Call::VdevAbort, &[rd, pdev, vdev]);
            return Err(e);
        }
        match self.vdev_state(vdev)? {
            s if s == target => Ok(()),
            s => Err(HostErr::State(format!("VDEV {s:?}, wanted {target:?}"))),
        }
    }

    /// PDEV_CREATE with its donation loop; the PDEV's PA.
    fn create_pdev(&mut self, params: PdevParams) -> Result<u64, HostErr> {
        let pdev = self.delegated_page()?;
        let pp = self.page_with(|w| params.encode(w).expect("params"));
        let mut r = self.call(Call::PdevCreate, &[pdev, pp])?;
        let handle = r.x[1];
        let mut pool: Vec<u64> = Vec::new();
        loop {
            match outcome(&r) {
                Outcome::Success => return Ok(pdev),
                Outcome::Incomplete(i) => {
                    self.sro = Some(handle);
                    match i.mem_req {
                        MemReq::Donate => {
                            let req = DonateReq::decode(r.x[2]).expect("donate request");
                            assert_eq!(req.block, BlockSize::L3Page);
                            assert_eq!(req.state, MemState::Delegated);
                            while pool.len() < usize::from(req.count) {
                                let pa = self.delegated_page()?;
                                pool.push(pa);
                            }
                            let list = self.page();
                            let mut raw = Vec::new();
                            for pa in &pool {
                                let d = AddrRangeDesc {
                                    block: BlockSize::L3Page,
                                    count: 1,
                                    pa: *pa,
                                    state: MemState::Delegated,
                                };
                                raw.extend_from_slice(&d.encode().expect("entry").to_le_bytes());
                            }
                            self.mem.write(list, &raw).expect("list");
                            r = self.call(Call::OpMemDonate, &[handle, list, pool.len() as u64])?;
                            // The model takes the first X1 entries of the list.
                            pool.drain(..r.x[1] as usize);
                        }
                        MemReq::None => r = self.call(Call::OpContinue, &[handle, 0])?,
                        MemReq::Reclaim => return Err(HostErr::State("reclaim at create".into())),
                    }
                }
                _ => unreachable!("call() returns only successes"),
            }
            if outcome(&r) == Outcome::Success {
                self.sro = None;
            }
        }
    }

    /// PDEV_DESTROY with its reclaim loop (one entry per batch), undelegating all.
    fn destroy_pdev(&mut self, pdev: u64) -> Result<(), HostErr> {
        let mut r = self.call(Call::PdevDestroy, &[pdev])?;
        let handle = r.x[1];
        while let Outcome::Incomplete(i) = outcome(&r) {
            assert_eq!(i.mem_req, MemReq::Reclaim);
            let list = self.page();
            r = self.call(Call::OpMemReclaim, &[handle, list, 1])?;
            let mut raw = vec![0u8; r.x[1] as usize * ADDR_RANGE_DESC_LEN];
            self.mem.read(list, &mut raw).expect("list");
            for e in raw.chunks_exact(ADDR_RANGE_DESC_LEN) {
                let d = AddrRangeDesc::decode(u64::from_le_bytes(e.try_into().expect("8")))
                    .expect("entry");
                self.undelegate(d.pa)?;
            }
        }
        self.undelegate(pdev)
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

    /// The stream dance of TF-RMM's host test and Linux.
    fn stream_dance(&mut self) -> Result<(), HostErr> {
        let (ep, rp) = (self.ep(), self.rp());
        for (pdev, want) in [
            (rp, Ended::StreamWait),
            (ep, Ended::StreamWait),
            (rp, Ended::Done),
            (ep, Ended::Done),
        ] {
            let got = self.communicate(Target::Pdev(pdev))?;
            if got != want {
                return Err(HostErr::State(format!("dance: {got:?}, wanted {want:?}")));
            }
        }
        let handle = self.stream.expect("stream");
        self.call(Call::PdevStreamComplete, &[ep, rp, handle])?;
        Ok(())
    }

    /// `cca_tsm_connect`: root port, endpoint to READY with the key, the IDE stream.
    fn connect(&mut self) -> Result<(), HostErr> {
        let rp = self.create_pdev(Self::rp_params())?;
        self.rp = Some(rp);
        self.drive_pdev(rp, PdevState::Ready)?;
        let ep = self.create_pdev(Self::ep_params())?;
        self.ep = Some(ep);
        self.drive_pdev(ep, PdevState::NeedsKey)?;
        assert!(!self.cache(ep, CacheObject::Vca).is_empty(), "VCA cached");
        let chain = self.cache(ep, CacheObject::Certificate).to_vec();
        let leaf = certs::verify_chain(&chain, &self.anchor)
            .map_err(|e| HostErr::State(format!("chain: {e}")))?;
        let point = leaf.to_encoded_point(false);
        let kp = self.page_with(|w| {
            PubkeyParams::ecdsa(SignatureAlgo::EcdsaP384, point.as_bytes())
                .encode(w)
                .expect("key")
        });
        self.call(Call::PdevSetPubkey, &[ep, kp])?;
        self.drive_pdev(ep, PdevState::Ready)?;
        let sp = self.page_with(|w| {
            StreamParams::new(StreamType::Ncoh, ep, rp, 0)
                .encode(w)
                .expect("stream")
        });
        let r = self.call(Call::PdevStreamConnect, &[sp])?;
        self.stream = Some(r.x[1]);
        self.stream_dance()
    }

    /// `cca_vdev_create` and lock.
    fn bind(&mut self) -> Result<(), HostErr> {
        let ep = self.ep();
        let rd = self.delegated_page()?;
        self.rmm.realm_create(rd, true).expect("realm");
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
        self.call(Call::VdevLock, &[rd, ep, vdev])?;
        self.drive_vdev(rd, ep, vdev, VdevState::Locked)
    }

    fn vdev_args(&self) -> [u64; 3] {
        [self.rd.expect("rd"), self.ep(), self.vdev.expect("vdev")]
    }

    /// The report, fetched into the host's cache; validated against the BARs.
    fn report(&mut self) -> Result<Vec<u8>, HostErr> {
        let [rd, ep, vdev] = self.vdev_args();
        self.caches
            .remove(&(vdev, CacheObject::InterfaceReport.to_u8()));
        self.call(Call::VdevGetInterfaceReport, &[rd, ep, vdev])?;
        let before = self.vdev_state(vdev)?;
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
        assert_eq!(n, r.range_count());
        Ok(bytes)
    }

    fn start(&mut self) -> Result<(), HostErr> {
        let [rd, ep, vdev] = self.vdev_args();
        self.call(Call::VdevStart, &[rd, ep, vdev])?;
        self.drive_vdev(rd, ep, vdev, VdevState::Started)
    }

    /// `cca_vdev_unlock_and_destroy`.
    fn unbind(&mut self) -> Result<(), HostErr> {
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
        self.rmm.realm_destroy(rd).expect("realm destroy");
        self.rd = None;
        self.undelegate(rd)
    }

    /// Stream disconnect, then each PDEV stopped and destroyed.
    fn disconnect(&mut self) -> Result<(), HostErr> {
        if let Some(handle) = self.stream {
            let (ep, rp) = (self.ep(), self.rp());
            self.call(Call::PdevStreamDisconnect, &[ep, rp, handle])?;
            self.stream_dance()?;
            self.stream = None;
        }
        for p in [self.rp, self.ep].into_iter().flatten() {
            self.stop_and_destroy(p)?;
            if self.rp == Some(p) {
                self.rp = None;
            } else {
                self.ep = None;
            }
        }
        Ok(())
    }

    fn stop_and_destroy(&mut self, pdev: u64) -> Result<(), HostErr> {
        if self.pdev_state(pdev)? != PdevState::Stopped {
            self.call(Call::PdevStop, &[pdev])?;
            self.drive_pdev(pdev, PdevState::Stopped)?;
        }
        self.destroy_pdev(pdev)
    }

    /// The whole lifecycle; the first failing step.
    fn lifecycle(&mut self) -> Result<(), (&'static str, HostErr)> {
        self.connect().map_err(|e| ("connect", e))?;
        self.bind().map_err(|e| ("bind", e))?;
        let report = self.report().map_err(|e| ("report", e))?;
        assert_eq!(report, self.dsm.0.report(0).expect("DSM report"));
        self.start().map_err(|e| ("start", e))?;
        self.unbind().map_err(|e| ("unbind", e))?;
        self.disconnect().map_err(|e| ("disconnect", e))
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
    let aux: Vec<u64> = h
        .delegated
        .iter()
        .copied()
        .filter(|pa| h.rmm.granule(*pa) == Some(GranuleState::PdevAux { pdev: ep }))
        .collect();
    assert_eq!(aux.len(), 2, "the default donation");
    h.bind().unwrap();
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    let report = h.report().unwrap();
    assert_eq!(report, h.dsm.0.report(0).unwrap());
    h.start().unwrap();
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::Run));
    assert_eq!(h.rmm.vdev_state(h.vdev.unwrap()), Some(VdevState::Started));
    // The report again, from RUN.
    assert_eq!(h.report().unwrap(), report);
    h.unbind().unwrap();
    assert_eq!(h.dsm.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    h.disconnect().unwrap();
    h.assert_clean();
    let snap = h.dsm.0.snapshot();
    assert!(snap.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"), "{snap}");
    assert!(snap.contains("spdm=none"), "{snap}");
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
