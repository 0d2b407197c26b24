// SPDX-License-Identifier: GPL-2.0

//! The TDX module model driven as a TDX host backend would drive a real module: a
//! small host written here (the role of the future kernel backend) issues SEAMCALLs
//! through `TdxModule::call` (or the conduit's fake channel), hands pages over by HPA
//! through `PageMemory`, and carries every DOE object the model asks for to in-process
//! tsm-dsm devices. Every leaf call runs through `tsm_proto::tdx`'s leaf driver
//! (`LeafCall`, with the extension ticket of `ExtSlot`), and every order through its
//! sequencers (`Sequencer<PlatformStep>`, `Sequencer<LinkStep>`), so the host is the
//! shared host logic a kernel backend will run.
//!
//! Invariants checked on every run: a refused call (OPERAND_INVALID, OPERAND_BUSY)
//! changes nothing in the model (`Host::seamcall`), and at the end the metadata pages
//! the model still owns are exactly those the host did not get back (its leaks).

use std::collections::BTreeSet;
use std::time::Duration;

use tsm_engine::certs::Identity;
use tsm_engine::conduit::{serve_one_seamcall, FakeChannel};
use tsm_engine::dsm::Dsm;
use tsm_engine::faults::Faults;
use tsm_engine::fw::tdx::tdi::TdiOp;
use tsm_engine::fw::tdx::{
    FwMemory, Knobs, Owner, PageMemory, TdxConfig, TdxModule, DEVICE_FAILURE,
};
use tsm_engine::testing::testbed::{self, TDI};
use tsm_engine::transport::relay::{
    doe_request_object, doe_response_payload, DoeEndpoint, LocalDsm,
};
use tsm_proto::codec::Writer;
use tsm_proto::conduit::{Kind, NR_REGS};
use tsm_proto::state::TdiState;
use tsm_proto::tdx::driver::Failure;
use tsm_proto::tdx::fields::metadata;
use tsm_proto::tdx::hpa::{read_root_page, write_root_page};
use tsm_proto::tdx::order::{mem_add_chunks, platform_after_metadata, Plan};
use tsm_proto::tdx::provisional::DevifCreate;
use tsm_proto::tdx::{
    ConnectConfig, ExtMemAdd, ExtSlot, FunctionId, HpaArray, HpaListInfo, IdeStreamBlock,
    IdeStreamCreate, IdeStreamDelete, IdeStreamKm, Input, IommuClear, IommuMt, IommuSetup,
    IqBuffer, KmOp, Leaf, LeafCall, LeafValue, LinkStep, Next, Output, Phase, PlatformStep, Regs,
    RelayRequest, RelayResponse, ReleaseBuffer, Returned, Sequencer, SpdmConnect, SpdmCreate,
    SpdmDelete, SpdmDisconnect, Status, StepResult, StreamControl, StreamInfo, StreamType,
    SysConfig, PAGE_SIZE,
};

const P: u64 = PAGE_SIZE as u64;
/// The TDX-capable IOMMU of the model's default configuration, and one that is not.
const IOMMUS: [u64; 2] = [0xFED9_0000, 0xFED9_1000];
const DOE_TIMEOUT: Duration = Duration::from_secs(2);
/// A status a knob returns that is none of the model's own.
const KNOB_ERROR: u64 = 0xC000_0F99_0000_0000;

/// How a host step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostErr {
    /// The leaf call failed.
    Leaf(Leaf, Failure),
    /// IOMMU.SETUP: not TDX-capable.
    Skip,
    /// The extension ticket is out (another call holds it).
    SlotTaken,
    /// The host's own check failed.
    Check(&'static str),
}

/// A device: its DSM and the host pages of its link.
struct Dev {
    dsm: LocalDsm,
    function: FunctionId,
    req: u64,
    resp: u64,
    config: u64,
    dev_info: HpaArray,
    dev_info_pages: Vec<u64>,
    spdm_id: Option<u64>,
    spdm_mt: Option<HpaArray>,
    stream: Option<u64>,
    ide_mt: Option<HpaArray>,
    info: Vec<u8>,
}

/// The host.
struct Host {
    tdx: TdxModule,
    mem: PageMemory,
    slot: ExtSlot,
    next_pa: u64,
    devs: Vec<Dev>,
    /// Every SEAMCALL: its leaf and RAX.
    trace: Vec<(Leaf, u64)>,
    /// Through the conduit: the channel's last call ID.
    conduit: Option<u64>,
    iommus: Vec<(u64, u64)>,
    pool: Vec<u64>,
    /// Metadata pages the module holds, as the host sees it.
    held: BTreeSet<u64>,
}

impl Host {
    fn new(knobs: &str, devices: usize) -> Self {
        let id = Identity::generate("tsm-dsm test device").expect("identity");
        let cfg = TdxConfig {
            trust_anchor: id.root_der.clone(),
            knobs: knobs.parse::<Knobs>().expect("knobs"),
            ..TdxConfig::default()
        };
        let mut h = Self {
            tdx: TdxModule::new(cfg),
            mem: PageMemory::new(),
            slot: ExtSlot::new(),
            next_pa: 0x1_0000_0000,
            devs: Vec::new(),
            trace: Vec::new(),
            conduit: None,
            iommus: Vec::new(),
            pool: Vec::new(),
            held: BTreeSet::new(),
        };
        for i in 0..devices {
            let mut dc = testbed::dsm_config(id.clone(), Faults::default());
            dc.bus = testbed::DEV.bus + i as u8;
            let function = FunctionId::linux(0, u16::from(dc.bus) << 8);
            let (req, resp) = (h.page(), h.page());
            let config = h.page_with(|w| ConnectConfig::LINUX.encode(w).expect("config"));
            let (dev_info, dev_info_pages) = h.array(2);
            h.devs.push(Dev {
                dsm: LocalDsm(Dsm::new(dc)),
                function,
                req,
                resp,
                config,
                dev_info,
                dev_info_pages,
                spdm_id: None,
                spdm_mt: None,
                stream: None,
                ide_mt: None,
                info: Vec::new(),
            });
        }
        h
    }

    fn page(&mut self) -> u64 {
        let pa = self.next_pa;
        self.next_pa += P;
        self.mem.add_page(pa);
        pa
    }

    fn page_with(&mut self, encode: impl FnOnce(&mut Writer<'_>)) -> u64 {
        let pa = self.page();
        let mut buf = vec![0u8; PAGE_SIZE];
        encode(&mut Writer::new(&mut buf));
        self.mem.write(pa, &buf).expect("own page");
        pa
    }

    /// `n` fresh pages as an `HPA_ARRAY_T` (a root page when `n` > 1).
    fn array(&mut self, n: u16) -> (HpaArray, Vec<u64>) {
        let pages: Vec<u64> = (0..n).map(|_| self.page()).collect();
        if n == 1 {
            return (HpaArray::singleton(pages[0]), pages);
        }
        let root = self.page_with(|w| write_root_page(&pages, w).expect("root"));
        (HpaArray::root(root, n), pages)
    }

    /// One SEAMCALL. A refusal must change nothing in the model.
    fn seamcall(&mut self, regs: &Regs) -> Returned {
        let before = self.tdx.snapshot();
        let r = match self.conduit.as_mut() {
            None => self.tdx.call(regs, &mut self.mem),
            Some(last) => {
                let mut ch = FakeChannel::new(&mut self.mem, *last);
                let mut g = [0u64; NR_REGS];
                g[0] = regs.rax;
                g[1..10].copy_from_slice(&regs.inputs());
                let id = ch.call(Kind::Seamcall, g);
                assert!(serve_one_seamcall(&mut ch, &mut self.tdx).expect("serve"));
                assert!(
                    ch.refused.is_empty(),
                    "the model touched a page not handed over"
                );
                *last = ch.last_id();
                let out = ch.result(id).expect("answered");
                assert!(out[3..].iter().all(|r| *r == 0));
                Returned {
                    rax: out[0],
                    rcx: out[1],
                    rdx: out[2],
                }
            }
        };
        let leaf = LeafValue::decode(regs.rax).expect("a leaf").leaf;
        let refusal = [Status::OperandInvalid, Status::OperandBusy]
            .into_iter()
            .any(|s| r.rax & 0xFFFF_FFFF_0000_0000 == s.code());
        if refusal {
            assert_eq!(
                self.tdx.snapshot(),
                before,
                "{leaf:?} refused with {:#x} changed the model",
                r.rax
            );
        }
        self.trace.push((leaf, r.rax));
        r
    }

    /// One leaf call to its end through the shared driver.
    fn leaf(&mut self, input: Input) -> Result<Output, HostErr> {
        let ticket = if input.leaf().needs_slot() {
            Some(self.slot.take().ok_or(HostErr::SlotTaken)?)
        } else {
            None
        };
        let (mut call, regs) = LeafCall::start(input, ticket).expect("inputs encode");
        let mut next = Next::Issue(regs);
        let end = loop {
            next = match next {
                Next::Issue(r) => {
                    let ret = self.seamcall(&r);
                    call.on_return(ret)
                }
                Next::Relay {
                    request, response, ..
                } => match self.relay(request, response) {
                    Ok(()) => call.relayed(),
                    Err(e) => break Err(e),
                },
                Next::Done(o) => break Ok(o),
                Next::Skip => break Err(HostErr::Skip),
                Next::Failed(f) => break Err(HostErr::Leaf(input.leaf(), f)),
            }
        };
        if let Some(t) = call.finish() {
            self.slot.give_back(t);
        }
        end
    }

    /// Relays the DOE object of `request` to the device whose request page it is and
    /// writes the answer into `response` (§3 "DOE relay").
    fn relay(&mut self, request: u64, response: u64) -> Result<(), HostErr> {
        let mut page = vec![0u8; PAGE_SIZE];
        self.mem.read(request, &mut page).expect("request page");
        let req = RelayRequest::decode(&page).map_err(|_| HostErr::Check("request page"))?;
        let dev = self
            .devs
            .iter_mut()
            .find(|d| d.req == request)
            .ok_or(HostErr::Check("request page of no device"))?;
        let obj = doe_request_object(req.object_type, req.payload).expect("DOE object");
        let rsp = dev
            .dsm
            .exchange(&obj, DOE_TIMEOUT)
            .map_err(|_| HostErr::Check("DOE"))?;
        let reply =
            doe_response_payload(&rsp, req.object_type).map_err(|_| HostErr::Check("DOE"))?;
        let mut out = vec![0u8; PAGE_SIZE];
        let n = RelayResponse::to(&req, &reply)
            .encode(&mut Writer::new(&mut out))
            .map_err(|_| HostErr::Check("reply too large"))?;
        self.mem.write(response, &out[..n]).expect("response page");
        Ok(())
    }

    fn meta(&self, field: u64) -> u64 {
        self.tdx.metadata(field).expect("a field")
    }

    fn platform_step(&mut self, step: PlatformStep) -> Result<(), HostErr> {
        match step {
            PlatformStep::SysConfig => {
                let tdmr = self.page();
                self.leaf(Input::SysConfig(SysConfig {
                    tdmr_array_pa: tdmr,
                    tdmr_count: 1,
                    global_keyid: 0,
                    features: metadata::FEATURES0_TDX_CONNECT,
                    wall_clock: 0,
                }))?;
            }
            PlatformStep::ReadMetadata
            | PlatformStep::TsmRegister
            | PlatformStep::TsmUnregister => {}
            PlatformStep::ExtMemAdd => {
                for (_, count) in mem_add_chunks(self.meta(metadata::MEMORY_POOL_REQUIRED_PAGES)) {
                    let pages: Vec<u64> = (0..count).map(|_| self.page()).collect();
                    let root = self.page_with(|w| write_root_page(&pages, w).expect("root"));
                    self.leaf(Input::ExtMemAdd(ExtMemAdd {
                        list: HpaListInfo::new(root, count),
                    }))?;
                    self.pool.extend_from_slice(&pages);
                }
            }
            PlatformStep::ExtInit => {
                self.leaf(Input::ExtInit)?;
            }
            PlatformStep::IommuSetup => {
                let n = self.meta(metadata::IOMMU_MT_PAGE_COUNT) as usize;
                for base in IOMMUS {
                    let iq = [0, 1].map(|_| {
                        let pa = self.page();
                        self.page();
                        IqBuffer { pa, pages: 2 }
                    });
                    let mt: Vec<u64> = (0..n).map(|_| self.page()).collect();
                    let root =
                        self.page_with(|w| IommuMt { iq, pages: &mt }.encode(w).expect("IOMMU_MT"));
                    match self.leaf(Input::IommuSetup(IommuSetup {
                        reg_base: base,
                        iommu_mt: root,
                    })) {
                        Ok(Output::IommuId(id)) => self.iommus.push((id, root)),
                        Err(HostErr::Skip) => {}
                        Ok(_) => return Err(HostErr::Check("IOMMU.SETUP output")),
                        Err(e) => return Err(e),
                    }
                }
                if self.iommus.is_empty() {
                    return Err(HostErr::Check("no TDX-capable IOMMU"));
                }
            }
            PlatformStep::IommuClear => {
                for (id, mt) in std::mem::take(&mut self.iommus) {
                    self.leaf(Input::IommuClear(IommuClear {
                        iommu_id: id,
                        iommu_mt: mt,
                    }))?;
                }
            }
            PlatformStep::FlushAndFreePool => self.pool.clear(),
        }
        Ok(())
    }

    /// Platform enable (§4) through the sequencer.
    fn platform_enable(&mut self) -> Sequencer<PlatformStep> {
        let mut s = Sequencer::<PlatformStep>::new();
        while let Some(step) = s.next() {
            let r = self.platform_step(step);
            let res = if r.is_ok() {
                StepResult::Ok
            } else {
                StepResult::Failed
            };
            s = s.complete(step, res).expect("in order");
            if step == PlatformStep::ReadMetadata && r.is_ok() {
                let pool = self.meta(metadata::MEMORY_POOL_REQUIRED_PAGES);
                let ext = self.meta(metadata::EXT_REQUIRED);
                s = platform_after_metadata(&s, pool, ext, false).expect("skip");
            }
        }
        s
    }

    fn platform_disable(&mut self, s: Sequencer<PlatformStep>) -> Sequencer<PlatformStep> {
        let mut s = s.teardown().expect("up");
        while let Some(step) = s.next() {
            let res = match self.platform_step(step) {
                Ok(()) => StepResult::Ok,
                Err(_) => StepResult::Failed,
            };
            s = s.complete(step, res).expect("in order");
        }
        s
    }

    fn dev(&self, d: usize) -> &Dev {
        &self.devs[d]
    }

    /// One step of device `d`'s connect or disconnect (§4).
    fn link_step(&mut self, d: usize, step: LinkStep) -> Result<(), HostErr> {
        let (spdm_id, stream) = (
            self.dev(d).spdm_id.unwrap_or(0),
            self.dev(d).stream.unwrap_or(0),
        );
        let (resp, req) = (self.dev(d).resp, self.dev(d).req);
        match step {
            LinkStep::AllocPages
            | LinkStep::PciStreamRegister
            | LinkStep::EpIdeSetup
            | LinkStep::TsmStreamRegister
            | LinkStep::EpStreamEnable
            | LinkStep::PciIdeStreamRelease
            | LinkStep::FreePages => {}
            LinkStep::SpdmCreate => {
                let n = self.meta(metadata::SPDM_MT_PAGE_COUNT) as u16;
                let (mt, pages) = self.array(n);
                let out = self.leaf(Input::SpdmCreate(SpdmCreate {
                    function: self.dev(d).function,
                    spdm_mt: mt,
                }))?;
                let Output::SpdmId(id) = out else {
                    return Err(HostErr::Check("SPDM.CREATE output"));
                };
                self.held.extend(pages);
                let dev = &mut self.devs[d];
                dev.spdm_id = Some(id);
                dev.spdm_mt = Some(mt);
            }
            LinkStep::SpdmConnect => {
                let dev = self.dev(d);
                let input = Input::SpdmConnect(SpdmConnect {
                    spdm_id,
                    config: dev.config,
                    response: resp,
                    request: req,
                    dev_info: dev.dev_info,
                });
                let Output::DevInfo(n) = self.leaf(input)? else {
                    return Err(HostErr::Check("SPDM.CONNECT output"));
                };
                let mut info = Vec::new();
                for pa in self.dev(d).dev_info_pages.clone() {
                    let mut page = vec![0u8; PAGE_SIZE];
                    self.mem.read(pa, &mut page).expect("dev-info page");
                    info.extend_from_slice(&page);
                }
                info.truncate(n);
                if info.is_empty() {
                    return Err(HostErr::Check("no device information"));
                }
                self.devs[d].info = info;
            }
            LinkStep::IdeStreamCreate => {
                let n = self.meta(metadata::IDE_MT_PAGE_COUNT) as u16;
                let (mt, pages) = self.array(n);
                let out = self.leaf(Input::IdeStreamCreate(IdeStreamCreate {
                    stream_info: StreamInfo {
                        rp_devfn: 0x08,
                        kind: StreamType::Selective,
                    },
                    spdm_id,
                    ide_mt: mt,
                    control: StreamControl::LINUX,
                    rid_assoc: [0x0001_0000, 0x0001_0001],
                    addr_assoc: [0xFFF0_0001, 0xFFFF_FFFF, 0xFFFF_F000],
                }))?;
                let Output::Stream { stream_id, .. } = out else {
                    return Err(HostErr::Check("IDE.STREAM.CREATE output"));
                };
                self.held.extend(pages);
                let dev = &mut self.devs[d];
                dev.stream = Some(stream_id);
                dev.ide_mt = Some(mt);
            }
            LinkStep::KmSetup | LinkStep::KmStop => {
                let op = if step == LinkStep::KmSetup {
                    KmOp::Setup
                } else {
                    KmOp::Stop
                };
                self.leaf(Input::IdeStreamKm(IdeStreamKm {
                    spdm_id,
                    stream_id: stream,
                    op,
                    response: resp,
                    request: req,
                }))?;
            }
            LinkStep::StreamBlock => {
                self.leaf(Input::IdeStreamBlock(IdeStreamBlock {
                    spdm_id,
                    stream_id: stream,
                }))?;
            }
            LinkStep::StreamDelete => {
                let mt = self.dev(d).ide_mt.expect("IDE_MT");
                let out = self.leaf(Input::IdeStreamDelete(IdeStreamDelete {
                    spdm_id,
                    stream_id: stream,
                    release: ReleaseBuffer::for_array(mt),
                }))?;
                self.released(out, mt)?;
                self.devs[d].stream = None;
            }
            LinkStep::SpdmDisconnect => {
                self.leaf(Input::SpdmDisconnect(SpdmDisconnect {
                    spdm_id,
                    response: resp,
                    request: req,
                }))?;
            }
            LinkStep::SpdmDelete => {
                let mt = self.dev(d).spdm_mt.expect("SPDM_MT");
                let out = self.leaf(Input::SpdmDelete(SpdmDelete {
                    spdm_id,
                    release: ReleaseBuffer::for_array(mt),
                }))?;
                self.released(out, mt)?;
                self.devs[d].spdm_id = None;
            }
            LinkStep::ReleaseIdeMt | LinkStep::ReleaseSpdmMt => {}
        }
        Ok(())
    }

    /// The released array of a DELETE: the pages come back to the host.
    fn released(&mut self, out: Output, mt: HpaArray) -> Result<(), HostErr> {
        let Output::Released(a) = out else {
            return Err(HostErr::Check("DELETE output"));
        };
        if a.count != mt.count {
            return Err(HostErr::Check("released count"));
        }
        let pages = if a.has_root() {
            let mut page = vec![0u8; PAGE_SIZE];
            self.mem.read(a.pa, &mut page).expect("release page");
            let mut v = vec![0u64; usize::from(a.count)];
            read_root_page(&page, v.len(), &mut v).map_err(|_| HostErr::Check("released"))?;
            v
        } else {
            vec![a.pa]
        };
        for pa in pages {
            if !self.held.remove(&pa) {
                return Err(HostErr::Check("released a page the module did not hold"));
            }
        }
        Ok(())
    }

    fn connect(&mut self, d: usize) -> Sequencer<LinkStep> {
        self.walk(d, Sequencer::new())
    }

    fn disconnect(&mut self, d: usize, s: Sequencer<LinkStep>) -> Sequencer<LinkStep> {
        let s = s.teardown().expect("up");
        self.walk(d, s)
    }

    fn walk(&mut self, d: usize, mut s: Sequencer<LinkStep>) -> Sequencer<LinkStep> {
        while let Some(step) = s.next() {
            let res = match self.link_step(d, step) {
                Ok(()) => StepResult::Ok,
                Err(_) => StepResult::Failed,
            };
            s = s.complete(step, res).expect("in order");
        }
        s
    }

    /// The metadata pages the model owns besides the pool and the IOMMUs.
    fn model_link_pages(&self) -> BTreeSet<u64> {
        self.tdx
            .owned_pages()
            .iter()
            .filter(|(_, o)| !matches!(o, Owner::Pool | Owner::IommuMt(_)))
            .map(|(pa, _)| *pa)
            .collect()
    }

    /// The model owns exactly what the host leaked.
    fn assert_consistent(&self, what: &str) {
        assert_eq!(self.model_link_pages(), self.held, "{what}: pages");
        assert!(self.slot.is_free(), "{what}: ticket out");
    }

    fn leaves(&self) -> Vec<Leaf> {
        let mut v: Vec<Leaf> = self.trace.iter().map(|(l, _)| *l).collect();
        v.dedup();
        v
    }
}

/// Platform up, one device connected, disconnected, platform down.
fn lifecycle(h: &mut Host) -> (Sequencer<LinkStep>, Option<Sequencer<LinkStep>>) {
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::Up, "platform enable");
    let c = h.connect(0);
    if c.phase() != Phase::Up {
        return (c, None);
    }
    let d = h.disconnect(0, c);
    (c, Some(d))
}

#[test]
fn platform_connect_disconnect() {
    let mut h = Host::new("", 1);
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::Up);
    assert_eq!(h.iommus.len(), 1, "the second IOMMU is skipped");
    assert_eq!(h.pool.len(), 8);
    let c = h.connect(0);
    assert_eq!(c.phase(), Phase::Up, "{:?}", c.failed());
    let id = h.dev(0).spdm_id.unwrap();
    assert_eq!(h.tdx.spdm_connected(id), Some(true));
    assert_eq!(h.tdx.stream_keyed(id, h.dev(0).stream.unwrap()), Some(true));
    assert!(
        h.dev(0).info.len() > 500,
        "the certificate chain as dev info"
    );
    let d = h.disconnect(0, c);
    assert_eq!(d.phase(), Phase::Down);
    assert!(LinkStep::TEARDOWN.iter().all(|s| !d.leaked(*s)));
    h.assert_consistent("lifecycle");
    assert!(h.held.is_empty());
    let p = h.platform_disable(p);
    assert_eq!(p.phase(), Phase::Down);
    assert!(h.tdx.is_clean());
    // The documented order, leaf by leaf.
    assert_eq!(
        h.leaves(),
        [
            Leaf::SysConfig,
            Leaf::ExtMemAdd,
            Leaf::ExtInit,
            Leaf::IommuSetup,
            Leaf::SpdmCreate,
            Leaf::SpdmConnect,
            Leaf::IdeStreamCreate,
            Leaf::IdeStreamKm,
            Leaf::IdeStreamBlock,
            Leaf::IdeStreamDelete,
            Leaf::SpdmDisconnect,
            Leaf::SpdmDelete,
            Leaf::IommuClear,
        ]
    );
    let relays = h
        .trace
        .iter()
        .filter(|(_, r)| *r == Status::SpdmRequest.code())
        .count();
    assert!(
        relays > 10,
        "the session and IDE-KM went over the relay ({relays})"
    );
}

#[test]
fn lifecycle_through_the_conduit() {
    let mut direct = Host::new("", 1);
    lifecycle(&mut direct);
    let mut h = Host::new("", 1);
    h.conduit = Some(0);
    let (c, d) = lifecycle(&mut h);
    assert_eq!(c.phase(), Phase::Up);
    assert_eq!(d.map(|d| d.phase()), Some(Phase::Down));
    assert_eq!(
        h.conduit,
        Some(h.trace.len() as u64),
        "one channel call per SEAMCALL"
    );
    let leaves = |t: &[(Leaf, u64)]| t.iter().map(|(l, r)| (*l, *r)).collect::<Vec<_>>();
    assert_eq!(
        leaves(&h.trace),
        leaves(&direct.trace),
        "the channel changes nothing"
    );
    h.assert_consistent("conduit");
}

/// The connect steps' leaves and the disconnect steps' leaves with the Nth call of
/// each at which a knob is tried: the first call, and a call in the middle of a relay.
const KNOB_POINTS: [(Leaf, u32, bool); 10] = [
    (Leaf::SpdmCreate, 1, true),
    (Leaf::SpdmConnect, 1, true),
    (Leaf::SpdmConnect, 6, true),
    (Leaf::IdeStreamCreate, 1, true),
    (Leaf::IdeStreamKm, 2, true),
    (Leaf::IdeStreamKm, 40, false),
    (Leaf::IdeStreamBlock, 1, false),
    (Leaf::IdeStreamDelete, 1, false),
    (Leaf::SpdmDisconnect, 1, false),
    (Leaf::SpdmDelete, 1, false),
];

fn knob_name(l: Leaf) -> String {
    tsm_engine::fw::tdx::knobs::leaf_name(l)
}

/// The KM call numbers of the baseline: where SETUP ends and STOP starts.
fn km_calls() -> (u32, u32) {
    let mut h = Host::new("", 1);
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::Up);
    let c = h.connect(0);
    let setup = h
        .trace
        .iter()
        .filter(|(l, _)| *l == Leaf::IdeStreamKm)
        .count() as u32;
    h.disconnect(0, c);
    let all = h
        .trace
        .iter()
        .filter(|(l, _)| *l == Leaf::IdeStreamKm)
        .count() as u32;
    (setup, all)
}

#[test]
fn error_at_every_step_rolls_back_or_leaks_as_documented() {
    let (setup, all) = km_calls();
    assert!(setup >= 2 && all > setup);
    for (leaf, n, forward) in KNOB_POINTS {
        // The KM STOP point is the first call after SETUP.
        let n = if leaf == Leaf::IdeStreamKm && !forward {
            setup + 1
        } else {
            n
        };
        let knob = format!("error@{}:{n}={KNOB_ERROR:#x}", knob_name(leaf));
        let mut h = Host::new(&knob, 1);
        let (c, d) = lifecycle(&mut h);
        let fired = h.trace.iter().any(|(_, r)| *r == KNOB_ERROR);
        assert!(fired, "{knob}: the knob fired");
        if forward {
            assert_eq!(c.phase(), Phase::RolledBack, "{knob}");
            assert!(h.held.is_empty(), "{knob}: nothing leaked on rollback");
            assert!(h.tdx.snapshot().spdms.is_empty(), "{knob}: rolled back");
        } else {
            let d = d.expect("connected");
            assert_eq!(d.phase(), Phase::Down, "{knob}");
            // What leaks: a failed BLOCK or DELETE keeps its pages (§2), and an SPDM
            // object with a stream left cannot be deleted.
            let leaks = matches!(
                leaf,
                Leaf::IdeStreamBlock | Leaf::IdeStreamDelete | Leaf::SpdmDelete
            );
            assert_eq!(!h.held.is_empty(), leaks, "{knob}: leaks {:?}", h.held);
            assert_eq!(d.leaked(LinkStep::ReleaseSpdmMt), leaks, "{knob}");
        }
        h.assert_consistent(&knob);
    }
}

#[test]
fn resumable_at_every_resumable_leaf() {
    let (setup, _) = km_calls();
    let knobs = format!(
        "resume@ext_mem_add,resume@ext_init,resume@iommu_setup,resume@spdm_connect:4,resume@ide_stream_km:2,resume@ide_stream_km:{},resume@spdm_disconnect,resume@iommu_clear",
        setup + 1
    );
    let mut h = Host::new(&knobs, 1);
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::Up);
    let c = h.connect(0);
    assert_eq!(c.phase(), Phase::Up);
    let d = h.disconnect(0, c);
    assert_eq!(d.phase(), Phase::Down);
    let p = h.platform_disable(p);
    assert_eq!(p.phase(), Phase::Down);
    let resumed = h
        .trace
        .iter()
        .filter(|(_, r)| *r == Status::InterruptedResumable.code())
        .count();
    assert_eq!(resumed, 8, "every knob fired and was resumed");
    h.assert_consistent("resume");
    assert!(h.held.is_empty() && h.tdx.is_clean());
}

#[test]
fn key_refresh_required_is_served_inside_the_call() {
    let (setup, _) = km_calls();
    let knobs = format!(
        "refresh@spdm_connect:8,refresh@ide_stream_km:{},refresh@spdm_disconnect",
        setup + 1
    );
    let mut h = Host::new(&knobs, 1);
    let (c, d) = lifecycle(&mut h);
    assert_eq!(c.phase(), Phase::Up);
    assert_eq!(d.map(|d| d.phase()), Some(Phase::Down));
    let refresh = Status::KeyRequireRefresh.code();
    let idx: Vec<usize> = h
        .trace
        .iter()
        .enumerate()
        .filter(|(_, (_, r))| *r == refresh)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(idx.len(), 3);
    for i in idx {
        assert_eq!(h.trace[i + 1], (Leaf::SpdmMng, 0), "KEY_UPDATE right after");
        assert_eq!(h.trace[i + 2].0, h.trace[i].0, "then the same leaf again");
    }
    h.assert_consistent("refresh");
}

#[test]
fn operand_busy_is_not_retried_and_rolls_back() {
    for knob in [
        "busy@spdm_connect",
        "busy@ide_stream_km",
        "busy@ide_stream_create",
    ] {
        let mut h = Host::new(knob, 1);
        let (c, _) = lifecycle(&mut h);
        assert_eq!(c.phase(), Phase::RolledBack, "{knob}");
        assert!(matches!(
            c.failed(),
            Some(LinkStep::SpdmConnect | LinkStep::KmSetup | LinkStep::IdeStreamCreate)
        ));
        assert!(h.held.is_empty(), "{knob}");
        h.assert_consistent(knob);
    }
    // On the re-issue of a CONNECT in progress: the module's operation stays pending
    // (no abort in the ABI), so the rollback's DELETE is refused and SPDM_MT leaks,
    // and the extension queue stays taken.
    let mut h = Host::new("busy@spdm_connect:5", 1);
    let (c, _) = lifecycle(&mut h);
    assert_eq!(c.phase(), Phase::RolledBack);
    assert!(c.leaked(LinkStep::ReleaseSpdmMt));
    assert_eq!(h.held.len(), 2, "SPDM_MT");
    assert!(h.tdx.snapshot().ext.is_some());
    h.assert_consistent("busy mid-relay");
}

#[test]
fn two_connects_serialize_on_the_extension_queue() {
    let mut h = Host::new("", 2);
    assert_eq!(h.platform_enable().phase(), Phase::Up);
    for d in 0..2 {
        h.link_step(d, LinkStep::SpdmCreate).unwrap();
    }
    let input = |h: &Host, d: usize| {
        let dev = h.dev(d);
        Input::SpdmConnect(SpdmConnect {
            spdm_id: dev.spdm_id.unwrap(),
            config: dev.config,
            response: dev.resp,
            request: dev.req,
            dev_info: dev.dev_info,
        })
    };
    // Device 0's CONNECT takes the ticket and stops at its first relay.
    let t = h.slot.take().unwrap();
    let (mut a, regs) = LeafCall::start(input(&h, 0), Some(t)).unwrap();
    let r = h.seamcall(&regs);
    let Next::Relay {
        request, response, ..
    } = a.on_return(r)
    else {
        panic!("a relay");
    };
    // The host's queue refuses device 1 at once; a host that bypassed it gets
    // OPERAND_BUSY from the module (and nothing changes, checked by seamcall).
    assert_eq!(h.leaf(input(&h, 1)), Err(HostErr::SlotTaken));
    let b = input(&h, 1).regs().unwrap();
    assert_eq!(h.seamcall(&b).rax, Status::OperandBusy.code());
    // Device 0 finishes, then device 1 connects.
    h.relay(request, response).unwrap();
    let mut next = a.relayed();
    loop {
        next = match next {
            Next::Issue(r) => {
                let ret = h.seamcall(&r);
                a.on_return(ret)
            }
            Next::Relay {
                request, response, ..
            } => {
                h.relay(request, response).unwrap();
                a.relayed()
            }
            Next::Done(Output::DevInfo(_)) => break,
            other => panic!("{other:?}"),
        }
    }
    h.slot.give_back(a.finish().unwrap());
    assert!(matches!(h.leaf(input(&h, 1)), Ok(Output::DevInfo(_))));
    for d in 0..2 {
        assert_eq!(h.tdx.spdm_connected(h.dev(d).spdm_id.unwrap()), Some(true));
        h.link_step(d, LinkStep::SpdmDisconnect).unwrap();
        h.link_step(d, LinkStep::SpdmDelete).unwrap();
    }
    h.assert_consistent("two devices");
    assert!(h.held.is_empty());
}

/// The provisional TDI calls through the relay: a host loop like the leaf driver's.
fn tdi_call(h: &mut Host, op: TdiOp, f: FunctionId) -> u64 {
    let (resp, req) = (h.dev(0).resp, h.dev(0).req);
    for _ in 0..64 {
        let r = h.tdx.tdi_request(op, f, resp, req, &mut h.mem);
        if r.rax != Status::SpdmRequest.code() {
            return r.rax;
        }
        h.relay(req, resp).unwrap();
    }
    panic!("TDI call did not end");
}

#[test]
fn provisional_bind_start_stop_unbind() {
    let mut h = Host::new("", 1);
    assert_eq!(h.platform_enable().phase(), Phase::Up);
    let c = h.connect(0);
    assert_eq!(c.phase(), Phase::Up);
    let f = FunctionId::linux(0, TDI.to_u32() as u16);
    let devifcs = h.page();
    let tdr = h.page();
    let create = |stream_id, devifcs_pa| DevifCreate {
        stream_id,
        devif_id: f,
        tdr_pa: tdr,
        devifcs_pa,
    };
    let sid = h.dev(0).stream.unwrap();
    // Refusals: no such stream; a page the module owns; START before LOCK.
    let pool_page = h.pool[0];
    let before = h.tdx.snapshot();
    assert_eq!(
        h.tdx.tdi_create(create(sid + 1, devifcs)).rax,
        Status::OperandInvalid.code()
    );
    assert_eq!(
        h.tdx.tdi_create(create(sid, pool_page)).rax,
        Status::OperandInvalid.code()
    );
    assert_eq!(h.tdx.snapshot(), before);
    assert_eq!(h.tdx.tdi_create(create(sid, devifcs)).rax, 0);
    assert_eq!(h.tdx.tdi_state(f), Some(TdiState::ConfigUnlocked));
    assert_eq!(
        tdi_call(&mut h, TdiOp::Start, f),
        Status::OperandInvalid.code()
    );
    // LOCK, START, STOP, free.
    assert_eq!(tdi_call(&mut h, TdiOp::Lock, f), 0);
    assert_eq!(h.tdx.tdi_state(f), Some(TdiState::ConfigLocked));
    assert_eq!(h.dev(0).dsm.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    assert_eq!(
        h.tdx.tdi_free(f).rax,
        Status::OperandInvalid.code(),
        "locked"
    );
    // The stream and session cannot go while the TDI exists.
    let d = h.dev(0);
    let del = Input::IdeStreamBlock(IdeStreamBlock {
        spdm_id: d.spdm_id.unwrap(),
        stream_id: sid,
    });
    let disc = Input::SpdmDisconnect(SpdmDisconnect {
        spdm_id: d.spdm_id.unwrap(),
        response: d.resp,
        request: d.req,
    });
    for call in [del, disc] {
        assert_eq!(
            h.seamcall(&call.regs().unwrap()).rax,
            Status::OperandInvalid.code(),
            "{call:?}"
        );
    }
    assert_eq!(tdi_call(&mut h, TdiOp::Start, f), 0);
    assert_eq!(h.tdx.tdi_state(f), Some(TdiState::Run));
    assert_eq!(h.dev(0).dsm.0.tdi_state(TDI), Some(TdiState::Run));
    assert_eq!(tdi_call(&mut h, TdiOp::Stop, f), 0);
    assert_eq!(h.tdx.tdi_state(f), Some(TdiState::ConfigUnlocked));
    assert_eq!(
        h.dev(0).dsm.0.tdi_state(TDI),
        Some(TdiState::ConfigUnlocked)
    );
    assert_eq!(h.tdx.tdi_free(f).rax, 0);
    assert_eq!(h.tdx.tdi_state(f), None);
    let d = h.disconnect(0, c);
    assert_eq!(d.phase(), Phase::Down);
    h.assert_consistent("bind");
    assert!(h.held.is_empty());
}

#[test]
fn refusals_change_nothing() {
    let mut h = Host::new("", 1);
    let bad = Status::OperandInvalid.code();
    let (mt, _) = h.array(2);
    let function = h.dev(0).function;
    let create = Input::SpdmCreate(SpdmCreate {
        function,
        spdm_mt: mt,
    });
    // Before the platform is up.
    assert_eq!(h.seamcall(&create.regs().unwrap()).rax, bad);
    assert_eq!(h.seamcall(&Input::ExtInit.regs().unwrap()).rax, bad);
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::Up);
    // A second SYS.CONFIG, a second EXT.INIT, more pool pages after it.
    let sys = Input::SysConfig(SysConfig {
        tdmr_array_pa: 0,
        tdmr_count: 0,
        global_keyid: 0,
        features: metadata::FEATURES0_TDX_CONNECT,
        wall_clock: 0,
    });
    assert_eq!(h.seamcall(&sys.regs().unwrap()).rax, bad);
    assert_eq!(h.seamcall(&Input::ExtInit.regs().unwrap()).rax, bad);
    // Stray registers, a misaligned root, a wrong count, a page the module owns.
    let mut r = create.regs().unwrap();
    r.r8 = 1;
    assert_eq!(h.seamcall(&r).rax, bad);
    let mut r = create.regs().unwrap();
    r.rdx |= 0x8;
    assert_eq!(h.seamcall(&r).rax, bad);
    let (mt3, _) = h.array(3);
    let c3 = Input::SpdmCreate(SpdmCreate {
        function,
        spdm_mt: mt3,
    });
    assert_eq!(h.seamcall(&c3.regs().unwrap()).rax, bad);
    let pool = h.pool[0];
    let owned_root = h.page_with(|w| write_root_page(&[pool, pool + 0x10_0000], w).unwrap());
    let c4 = Input::SpdmCreate(SpdmCreate {
        function,
        spdm_mt: HpaArray::root(owned_root, 2),
    });
    assert_eq!(h.seamcall(&c4.regs().unwrap()).rax, bad);
    let c5 = Input::SpdmCreate(SpdmCreate {
        function,
        spdm_mt: HpaArray::root(pool, 2),
    });
    assert_eq!(
        h.seamcall(&c5.regs().unwrap()).rax,
        bad,
        "root page is the module's"
    );
    // IOMMU.SETUP of one already set up.
    let (id, root) = h.iommus[0];
    let again = Input::IommuSetup(IommuSetup {
        reg_base: IOMMUS[0],
        iommu_mt: root,
    });
    assert_eq!(h.seamcall(&again.regs().unwrap()).rax, bad);
    let clear = Input::IommuClear(IommuClear {
        iommu_id: id,
        iommu_mt: root + P,
    });
    assert_eq!(h.seamcall(&clear.regs().unwrap()).rax, bad);
    // Link calls in the wrong state.
    h.link_step(0, LinkStep::SpdmCreate).unwrap();
    let d = h.dev(0);
    let (spdm_id, resp, req, config, dev_info) =
        (d.spdm_id.unwrap(), d.resp, d.req, d.config, d.dev_info);
    assert_eq!(
        h.seamcall(&create.regs().unwrap()).rax,
        bad,
        "one SPDM object per function"
    );
    let (ide_mt, _) = h.array(2);
    let stream = Input::IdeStreamCreate(IdeStreamCreate {
        stream_info: StreamInfo {
            rp_devfn: 8,
            kind: StreamType::Selective,
        },
        spdm_id,
        ide_mt,
        control: StreamControl::LINUX,
        rid_assoc: [0, 0],
        addr_assoc: [0, 0, 0],
    });
    assert_eq!(
        h.seamcall(&stream.regs().unwrap()).rax,
        bad,
        "not connected"
    );
    let disc = Input::SpdmDisconnect(SpdmDisconnect {
        spdm_id,
        response: resp,
        request: req,
    });
    assert_eq!(h.seamcall(&disc.regs().unwrap()).rax, bad, "not connected");
    let conn = |cfg| {
        Input::SpdmConnect(SpdmConnect {
            spdm_id,
            config: cfg,
            response: resp,
            request: req,
            dev_info,
        })
    };
    let dirty = h.page_with(|w| {
        ConnectConfig::LINUX.encode(w).unwrap();
    });
    h.mem.write(dirty + 100, &[1]).unwrap();
    assert_eq!(
        h.seamcall(&conn(dirty).regs().unwrap()).rax,
        bad,
        "config reserved bytes"
    );
    let same = SpdmConnect {
        spdm_id,
        config,
        response: resp,
        request: resp,
        dev_info,
    };
    assert_eq!(
        h.seamcall(&Input::SpdmConnect(same).regs().unwrap()).rax,
        bad,
        "one page for both"
    );
    assert_eq!(
        h.seamcall(&conn(pool).regs().unwrap()).rax,
        bad,
        "config page is the module's"
    );
    let del = Input::SpdmDelete(SpdmDelete {
        spdm_id,
        release: ReleaseBuffer::Singleton,
    });
    assert_eq!(
        h.seamcall(&del.regs().unwrap()).rax,
        bad,
        "release buffer does not fit"
    );
    // Connected: a second CONNECT, link streams, stream control the module owns.
    h.link_step(0, LinkStep::SpdmConnect).unwrap();
    assert_eq!(h.seamcall(&conn(config).regs().unwrap()).rax, bad);
    let mut s = stream;
    if let Input::IdeStreamCreate(c) = &mut s {
        c.stream_info.kind = StreamType::Link;
    }
    assert_eq!(h.seamcall(&s.regs().unwrap()).rax, bad, "link stream");
    if let Input::IdeStreamCreate(c) = &mut s {
        c.stream_info.kind = StreamType::Selective;
        c.control = StreamControl(1);
    }
    assert_eq!(
        h.seamcall(&s.regs().unwrap()).rax,
        bad,
        "EN is the module's"
    );
    h.link_step(0, LinkStep::IdeStreamCreate).unwrap();
    let sid = h.dev(0).stream.unwrap();
    let km = |op| {
        Input::IdeStreamKm(IdeStreamKm {
            spdm_id,
            stream_id: sid,
            op,
            response: resp,
            request: req,
        })
    };
    assert_eq!(
        h.seamcall(&km(KmOp::Stop).regs().unwrap()).rax,
        bad,
        "not keyed"
    );
    assert_eq!(
        h.seamcall(&km(KmOp::Refresh).regs().unwrap()).rax,
        bad,
        "not keyed"
    );
    let sdel = Input::IdeStreamDelete(IdeStreamDelete {
        spdm_id,
        stream_id: sid,
        release: ReleaseBuffer::for_array(h.dev(0).ide_mt.unwrap()),
    });
    assert_eq!(h.seamcall(&sdel.regs().unwrap()).rax, bad, "not blocked");
    let del = Input::SpdmDelete(SpdmDelete {
        spdm_id,
        release: ReleaseBuffer::for_array(h.dev(0).spdm_mt.unwrap()),
    });
    assert_eq!(h.seamcall(&del.regs().unwrap()).rax, bad, "stream left");
    // Mid-relay: another operation on the object is OPERAND_BUSY.
    let t = h.slot.take().unwrap();
    let (mut a, regs) = LeafCall::start(km(KmOp::Setup), Some(t)).unwrap();
    let r = h.seamcall(&regs);
    assert!(matches!(a.on_return(r), Next::Relay { .. }));
    let blk = Input::IdeStreamBlock(IdeStreamBlock {
        spdm_id,
        stream_id: sid,
    });
    assert_eq!(
        h.seamcall(&blk.regs().unwrap()).rax,
        Status::OperandBusy.code()
    );
    // A re-issue without an answer in the response page.
    h.mem.write(resp, &[0u8; 8]).unwrap();
    assert_eq!(
        h.seamcall(&regs).rax,
        bad,
        "no DOE object in the response page"
    );
    h.slot.give_back(a.finish().unwrap());
    // The device answers, but the host hands the module garbage of the request's type:
    // the exchange fails, the operation ends with DEVICE_FAILURE, and the host can
    // tear down.
    h.relay(req, resp).unwrap();
    let mut page = vec![0u8; PAGE_SIZE];
    h.mem.read(req, &mut page).unwrap();
    let t = RelayRequest::decode(&page).unwrap().object_type;
    let mut out = vec![0u8; PAGE_SIZE];
    let n = RelayResponse {
        vendor_id: tsm_proto::doe::PCI_SIG_VENDOR_ID,
        object_type: t,
        reply: &[0u8; 16],
    }
    .encode(&mut Writer::new(&mut out))
    .unwrap();
    h.mem.write(resp, &out[..n]).unwrap();
    assert_eq!(h.seamcall(&regs).rax, DEVICE_FAILURE);
    assert_eq!(h.tdx.snapshot().spdms[&spdm_id], (true, false, false));
    for step in [
        LinkStep::StreamBlock,
        LinkStep::StreamDelete,
        LinkStep::SpdmDisconnect,
        LinkStep::SpdmDelete,
    ] {
        h.link_step(0, step).unwrap();
    }
    h.assert_consistent("refusals");
    assert!(h.held.is_empty());
}

#[test]
fn platform_enable_rolls_back() {
    // IOMMU.SETUP fails: nothing to clear, the pool stays the module's (EXT.INIT ran).
    let mut h = Host::new(&format!("error@iommu_setup={KNOB_ERROR:#x}"), 1);
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::RolledBack);
    assert_eq!(p.failed(), Some(PlatformStep::IommuSetup));
    assert!(
        !p.torn_down(PlatformStep::FlushAndFreePool),
        "kept by EXT.INIT"
    );
    assert!(h.tdx.snapshot().iommus.is_empty());
    assert_eq!(h.tdx.owned_pages().len(), h.pool.len());
    // EXT.INIT fails: the host frees the pool it added (§2 page hygiene), although no
    // leaf returns pool pages to it; the model keeps them.
    let mut h = Host::new("error@ext_init", 1);
    let p = h.platform_enable();
    assert_eq!(p.phase(), Phase::RolledBack);
    assert!(p.torn_down(PlatformStep::FlushAndFreePool));
    assert!(h.pool.is_empty());
    assert_eq!(
        h.tdx.owned_pages().len(),
        8,
        "pool pages still the module's"
    );
    assert!(h.tdx.owned_pages().values().all(|o| *o == Owner::Pool));
}

#[test]
fn spdm_mng_and_key_refresh_while_connected() {
    use tsm_proto::tdx::{MngOp, SpdmMng};
    let mut h = Host::new("", 1);
    assert_eq!(h.platform_enable().phase(), Phase::Up);
    let c = h.connect(0);
    assert_eq!(c.phase(), Phase::Up);
    let d = h.dev(0);
    let (spdm_id, resp, req, sid) = (d.spdm_id.unwrap(), d.resp, d.req, d.stream.unwrap());
    let info = d.info.clone();
    let mng = |op, output| {
        Input::SpdmMng(SpdmMng {
            spdm_id,
            op,
            param: None,
            response: resp,
            request: req,
            output,
        })
    };
    assert_eq!(h.leaf(mng(MngOp::Heartbeat, None)), Ok(Output::None));
    assert_eq!(h.leaf(mng(MngOp::KeyUpdate, None)), Ok(Output::None));
    let (out, pages) = h.array(2);
    assert_eq!(
        h.leaf(mng(MngOp::DevInfoRecollection, Some(out))),
        Ok(Output::MngOutput(info.len()))
    );
    let mut got = vec![0u8; 2 * PAGE_SIZE];
    for (i, pa) in pages.iter().enumerate() {
        h.mem
            .read(*pa, &mut got[i * PAGE_SIZE..(i + 1) * PAGE_SIZE])
            .unwrap();
    }
    assert_eq!(&got[..info.len()], &info[..]);
    // Without output pages it is refused.
    let r = h.seamcall(&mng(MngOp::DevInfoRecollection, None).regs().unwrap());
    assert_eq!(r.rax, Status::OperandInvalid.code());
    // IDE-KM REFRESH re-keys the stream over the relay.
    let before = h.trace.len();
    let km = Input::IdeStreamKm(IdeStreamKm {
        spdm_id,
        stream_id: sid,
        op: KmOp::Refresh,
        response: resp,
        request: req,
    });
    assert_eq!(h.leaf(km), Ok(Output::None));
    assert!(h.trace.len() - before > 4, "KEY_PROG and K_SET_GO relayed");
    assert_eq!(h.tdx.stream_keyed(spdm_id, sid), Some(true));
    let d = h.disconnect(0, c);
    assert_eq!(d.phase(), Phase::Down);
    h.assert_consistent("mng");
    assert!(h.held.is_empty());
}
