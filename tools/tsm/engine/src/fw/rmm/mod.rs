// SPDX-License-Identifier: GPL-2.0

//! A model of the Arm CCA RMM's device-assignment interface (RMI 2.0), for hosts that
//! have no RMM: the firmware a CCA host backend talks to through the SMC conduit.
//!
//! The model sees only what real firmware sees: the registers of one SMC
//! ([`SmcRegs`]) and the memory the host handed to firmware ([`FwMemory`]: delegated
//! granules, and the NS pages whose addresses the host passed), by physical address.
//! [`Rmm::call`] takes one SMC and returns its result registers. The calls and their
//! rules are the fact sheet's (`shared/backends/cca-rmm-abi.md`), through the shared
//! codec `tsm_proto::rmi`: function IDs, `X0` results, parameter and communication
//! pages, and the PDEV, VDEV and stream state machines. What the model adds is the
//! bookkeeping a real RMM keeps (granules, objects, stateful operations) and the
//! device traffic: the RMM is the SPDM requester toward the device, and the model
//! reuses the software firmware's requester (`fw::connect`, `fw::tdisp_op`,
//! `fw::meas_op`, `fw::disconnect`) for it, one DOE exchange per COMMUNICATE exit.
//!
//! | file | what |
//! |---|---|
//! | this file | [`Rmm`], its configuration, [`SmcRegs`], the dispatcher, [`Snapshot`] |
//! | `memory` | [`FwMemory`], [`MemFault`], [`PageMemory`] (a map of pages, for tests) |
//! | `granule` | granule tracking: delegate, undelegate, the state checks |
//! | `sro` | stateful operations: EP PDEV create (donate) and destroy (reclaim) |
//! | `pdev` | PDEV_CREATE .. PDEV_DESTROY |
//! | `stream` | PDEV_STREAM_CONNECT .. COMPLETE and the two-PDEV communicate dance |
//! | `vdev` | VDEV_CREATE .. VDEV_DESTROY, GET_INTERFACE_REPORT, GET_MEASUREMENTS |
//! | `comm` | the communicate loop: enter half in, engine op, exit half out |
//! | `knobs` | the model's fault knobs ([`Knobs`]) |
//!
//! Served: VERSION, FEATURES, GRANULE_RANGE_DELEGATE/UNDELEGATE, REALM_CREATE,
//! REALM_DESTROY (stand-ins, below), PDEV_CREATE, _GET_STATE, _COMMUNICATE,
//! _SET_PUBKEY, _STOP, _ABORT, _DESTROY, PDEV_STREAM_CONNECT, _DISCONNECT, _COMPLETE,
//! _KEY_REFRESH, _KEY_PURGE (NOT_SUPPORTED, as TF-RMM), VDEV_CREATE, _GET_STATE,
//! _COMMUNICATE, _LOCK, _START, _GET_INTERFACE_REPORT, _GET_MEASUREMENTS, _UNLOCK,
//! _ABORT, _DESTROY, OP_MEM_DONATE, OP_MEM_RECLAIM, OP_CONTINUE, OP_CANCEL. Other RMI
//! 2.0 calls (VDEV_COMPLETE, the RTT_DEV calls) answer RMI_NOT_SUPPORTED; a function ID
//! that is no RMI 2.0 call answers SMCCC NOT_SUPPORTED (−1).
//!
//! Realms are not modelled. REALM_CREATE and REALM_DESTROY are stand-ins that exist so
//! that a host can give its VDEVs a Realm descriptor: CREATE turns a DELEGATED granule
//! into a descriptor and records only `flags0.DA` of the parameters
//! ([`tsm_proto::rmi::RealmParams`]; no IPA width, RTTs, VMID, RECs, measurements or
//! activation), and DESTROY, once no VDEV names the Realm, returns the granule to
//! DELEGATED.

use std::collections::{BTreeMap, HashMap};

use log::{debug, info};
use tsm_proto::report::FirstPageUnit;
use tsm_proto::rmi::features::FEATURES_DA_INDEX;
use tsm_proto::rmi::result::SMC_NOT_SUPPORTED;
use tsm_proto::rmi::stream::StreamEnds;
use tsm_proto::rmi::{
    Abi, Call, DaFeatures, OrderError, Outcome, Pdev, RealmParams, Revision, Status, Stream, Vdev,
};

use super::FwConfig;

mod comm;
mod granule;
pub mod knobs;
mod memory;
mod pdev;
mod sro;
mod stream;
mod vdev;

pub use granule::GranuleState;
pub use knobs::{Knob, KnobError, KnobKind, Knobs};
pub use memory::{granule_pieces, FwMemory, MemFault, PageMemory, GRANULE};

use granule::Granules;
use pdev::PdevRec;
use sro::Sro;
use stream::StreamRec;
use vdev::VdevRec;

/// Registers of one SMC: `x0..x17`, as SMCCC 1.2 and Linux's `arm_smccc_1_2_regs`
/// carry them. RMI uses X0 for the function ID on entry and the result on return, X1..
/// for arguments (at most X6, RTT_DEV_MAP) and outputs (at most X3).
pub const SMC_REGS: usize = 18;

/// The register file of one SMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmcRegs {
    /// `x0..x17`.
    pub x: [u64; SMC_REGS],
}

impl SmcRegs {
    /// A call of `fid` with `args` in X1.. (extra arguments are dropped).
    pub fn call(fid: u32, args: &[u64]) -> Self {
        let mut x = [0u64; SMC_REGS];
        x[0] = u64::from(fid);
        for (slot, a) in x.iter_mut().skip(1).zip(args) {
            *slot = *a;
        }
        Self { x }
    }

    /// `x[i]`, zero past the file.
    pub fn get(&self, i: usize) -> u64 {
        self.x.get(i).copied().unwrap_or(0)
    }
}

/// The model's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmmConfig {
    /// FEATURES(2) bits 7:4: the order of the most VDEVs per PDEV, which also bounds an
    /// EP's requester-ID span (TF-RMM reports 10).
    pub max_vdevs_order: u8,
    /// Auxiliary granules an EP PDEV_CREATE asks the host to donate.
    ///
    /// Unconfirmed: TF-RMM derives the count from its own data structures (at most 72);
    /// the model's default is small, which changes nothing but the number of granules.
    pub aux_granules: u16,
    /// The `timeout` (ms) written in every exit that sends a request.
    pub timeout_ms: u64,
    /// Fault knobs.
    pub knobs: Knobs,
}

impl Default for RmmConfig {
    fn default() -> Self {
        Self {
            max_vdevs_order: 10,
            aux_granules: 2,
            timeout_ms: 1000,
            knobs: Knobs::none(),
        }
    }
}

/// A comparable picture of everything the model's ABI state consists of, for tests
/// that a refused call changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Every granule not UNDELEGATED.
    pub granules: BTreeMap<u64, GranuleState>,
    /// PDEVs by PA, with whether a device operation is in the middle of an exchange.
    pub pdevs: BTreeMap<u64, (Pdev, bool)>,
    /// VDEVs by PA, likewise.
    pub vdevs: BTreeMap<u64, (Vdev, bool)>,
    /// Streams by handle, with their place in the communicate dance.
    pub streams: BTreeMap<u64, (Stream, usize)>,
    /// Stateful operations in progress, by handle.
    pub operations: Vec<u64>,
}

/// The RMM model.
pub struct Rmm {
    cfg: RmmConfig,
    /// The requester configuration the engine ops take. The RMM has no trust anchor
    /// (the host verifies the chain and hands back the leaf key) and does not validate
    /// reports (the Realm does), so neither field is read.
    engine_cfg: FwConfig,
    granules: Granules,
    pdevs: BTreeMap<u64, PdevRec>,
    vdevs: BTreeMap<u64, VdevRec>,
    streams: BTreeMap<u64, StreamRec>,
    sros: BTreeMap<u64, Sro>,
    next_handle: u64,
    calls: HashMap<Call, u32>,
}

/// A successful call's result: its `X0` and X1..X3.
pub(super) struct Ret {
    outcome: Outcome,
    x: [u64; 3],
}

impl Ret {
    fn ok() -> Self {
        Self::with(Outcome::Success, [0; 3])
    }

    fn ok1(x1: u64) -> Self {
        Self::with(Outcome::Success, [x1, 0, 0])
    }

    fn with(outcome: Outcome, x: [u64; 3]) -> Self {
        Self { outcome, x }
    }
}

/// What a call handler returns: a result, or the refusal (no state changed).
type Reply = Result<Ret, OrderError>;

/// ERROR_INPUT for `why`.
fn input(why: &'static str) -> OrderError {
    OrderError::new(Status::ErrorInput, why)
}

/// RMI_BUSY for `why`.
fn busy(why: &'static str) -> OrderError {
    OrderError::new(Status::Busy, why)
}

impl Rmm {
    /// A model with no granule delegated and no object.
    pub fn new(cfg: RmmConfig) -> Self {
        Self {
            cfg,
            engine_cfg: FwConfig {
                trust_anchor: Vec::new(),
                first_page_unit: FirstPageUnit::PageNumber,
            },
            granules: Granules::default(),
            pdevs: BTreeMap::new(),
            vdevs: BTreeMap::new(),
            streams: BTreeMap::new(),
            sros: BTreeMap::new(),
            next_handle: 0x5_0000,
            calls: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RmmConfig {
        &self.cfg
    }

    /// Serves one SMC: `regs` as the host set them, `mem` the conduit's memory. Never
    /// panics; every refusal is a status in X0.
    pub fn call(&mut self, regs: &SmcRegs, mem: &mut dyn FwMemory) -> SmcRegs {
        let mut out = SmcRegs::default();
        let Some(call) = u32::try_from(regs.x[0])
            .ok()
            .and_then(|fid| Call::from_fid(Abi::V2_0, fid).ok())
        else {
            debug!("rmm: unknown function ID {:#x}", regs.x[0]);
            out.x[0] = SMC_NOT_SUPPORTED;
            return out;
        };
        let count = self.calls.entry(call).or_insert(0);
        *count = count.saturating_add(1);
        let count = *count;
        let knob = self.cfg.knobs.fire(call, count);
        if let Some(k) = knob {
            // Tests read this to know the knob they set reached its call.
            info!(
                "rmm: knob {k:?} fired at {} #{count}",
                knobs::call_name(call)
            );
        }
        let reply = match knob {
            Some(KnobKind::Busy) => Err(busy("knob: busy")),
            Some(KnobKind::Error(status)) => Err(OrderError::new(status, "knob: error")),
            _ => self.dispatch(call, regs, mem, knob),
        };
        match reply {
            Ok(r) => {
                out.x[0] = r
                    .outcome
                    .encode()
                    .unwrap_or(u64::from(Status::ErrorInput.to_u8()));
                out.x[1..4].copy_from_slice(&r.x);
            }
            Err(e) => {
                debug!("rmm: {call:?} #{count}: {:?} ({})", e.status, e.why);
                out.x[0] = u64::from(e.status.to_u8());
                out.x[1] = e.value;
            }
        }
        out
    }

    fn dispatch(
        &mut self,
        call: Call,
        regs: &SmcRegs,
        mem: &mut dyn FwMemory,
        knob: Option<KnobKind>,
    ) -> Reply {
        let a = |i| regs.get(i);
        let hang = knob == Some(KnobKind::Hang);
        match call {
            Call::Version => Ok(self.version(a(1))),
            Call::Features => Ok(Ret::ok1(self.features(a(1)))),
            Call::GranuleDelegate => self.range(a(1), a(2), mem, true),
            Call::GranuleUndelegate => self.range(a(1), a(2), mem, false),
            Call::RealmCreate => self.realm_create(a(1), a(2), mem),
            Call::RealmDestroy => self.realm_destroy(a(1)),
            Call::PdevCreate => {
                let donate = match knob {
                    Some(KnobKind::Donate(n)) => Some(n),
                    _ => None,
                };
                self.pdev_create(a(1), a(2), mem, donate)
            }
            Call::PdevGetState => self.pdev_get_state(a(1)),
            Call::PdevCommunicate => self.pdev_communicate(a(1), a(2), mem, hang),
            Call::PdevSetPubkey => self.pdev_set_pubkey(a(1), a(2), mem),
            Call::PdevStop => self.pdev_stop(a(1)),
            Call::PdevAbort => self.pdev_abort(a(1)),
            Call::PdevDestroy => self.pdev_destroy(a(1)),
            Call::PdevStreamConnect => self.stream_connect(a(1), mem),
            Call::PdevStreamDisconnect => {
                self.stream_call(tsm_proto::rmi::StreamCall::Disconnect, a(1), a(2), a(3))
            }
            Call::PdevStreamComplete => {
                self.stream_call(tsm_proto::rmi::StreamCall::Complete, a(1), a(2), a(3))
            }
            Call::PdevStreamKeyRefresh => {
                self.stream_call(tsm_proto::rmi::StreamCall::KeyRefresh, a(1), a(2), a(3))
            }
            Call::PdevStreamKeyPurge => {
                self.stream_call(tsm_proto::rmi::StreamCall::KeyPurge, a(1), a(2), a(3))
            }
            Call::VdevCreate => self.vdev_create(a(1), a(2), a(3), a(4), mem),
            Call::VdevGetState => self.vdev_get_state(a(1)),
            Call::VdevCommunicate => self.vdev_communicate(a(1), a(2), a(3), a(4), mem, hang),
            Call::VdevLock => self.vdev_command(vdev::Command::Lock, a(1), a(2), a(3), mem),
            Call::VdevStart => self.vdev_command(vdev::Command::Start, a(1), a(2), a(3), mem),
            Call::VdevGetInterfaceReport => {
                self.vdev_command(vdev::Command::Report, a(1), a(2), a(3), mem)
            }
            Call::VdevGetMeasurements => {
                let cmd = vdev::Command::Measurements { params: a(4) };
                self.vdev_command(cmd, a(1), a(2), a(3), mem)
            }
            Call::VdevUnlock => self.vdev_command(vdev::Command::Unlock, a(1), a(2), a(3), mem),
            Call::VdevAbort => self.vdev_abort(a(1), a(2), a(3)),
            Call::VdevDestroy => self.vdev_destroy(a(1), a(2), a(3)),
            Call::OpMemDonate => self.op_mem_donate(a(1), a(2), a(3), mem),
            Call::OpMemReclaim => self.op_mem_reclaim(a(1), a(2), a(3), mem),
            Call::OpContinue => self.op_continue(a(1), a(2)),
            Call::OpCancel => self.op_cancel(a(1)),
            _ => Err(OrderError::new(
                Status::NotSupported,
                "call not modelled by the RMM model",
            )),
        }
    }

    /// RMI_VERSION: the model implements 2.0 only, so X1 = X2 = 2.0; any other request
    /// is ERROR_INPUT with the same outputs.
    fn version(&self, requested: u64) -> Ret {
        let v = Revision::V2_0.to_reg();
        let outcome = match Revision::from_reg(requested) {
            Ok(r) if r == Revision::V2_0 => Outcome::Success,
            _ => Outcome::Failed {
                status: Status::ErrorInput,
                index: 0,
            },
        };
        Ret::with(outcome, [v, v, 0])
    }

    /// RMI_FEATURES: register 2 has DA and the VDEV order; the other registers read as
    /// zero.
    ///
    /// Unconfirmed: the values of registers 0 and 1 and the answer for an index beyond
    /// the defined registers; the model has nothing of them to report.
    fn features(&self, index: u64) -> u64 {
        if index != FEATURES_DA_INDEX {
            return 0;
        }
        DaFeatures {
            da: true,
            max_vdevs_order: self.cfg.max_vdevs_order,
            ..DaFeatures::default()
        }
        .encode()
    }

    /// GRANULE_RANGE_DELEGATE / _UNDELEGATE: one granule per call, as TF-RMM; X1 is the
    /// next PA to ask for (on a refusal, the base).
    fn range(&mut self, base: u64, top: u64, mem: &mut dyn FwMemory, delegate: bool) -> Reply {
        let at_base = |e: OrderError| OrderError { value: base, ..e };
        if !memory::aligned(base) || !memory::aligned(top) || top <= base {
            return Err(at_base(input("bad granule range")));
        }
        let r = if delegate {
            self.granules.delegate(mem, base)
        } else {
            self.granules.undelegate(mem, base)
        };
        r.map_err(at_base)?;
        Ok(Ret::ok1(base + GRANULE))
    }

    /// RMI_REALM_CREATE(rd, params), a stand-in (Realms are not modelled): `rd` a
    /// DELEGATED granule (else ERROR_INPUT, as for every object granule), `params` an NS
    /// page other than `rd` that the conduit reaches and that decodes as
    /// [`RealmParams`] (else ERROR_INPUT). `rd` becomes the descriptor of a Realm with
    /// device assignment (`flags0.DA`) or without; nothing else of the Realm is kept.
    fn realm_create(&mut self, rd: u64, params: u64, mem: &mut dyn FwMemory) -> Reply {
        self.granules.require_delegated(rd)?;
        if rd == params {
            return Err(input("rd is the parameters page"));
        }
        let page = self.ns_page(mem, params)?;
        let RealmParams { da } = RealmParams::decode(&page)?;
        self.granules.claim(rd, GranuleState::Rd { da })?;
        debug!("rmm: Realm {rd:#x} (DA {da})");
        Ok(Ret::ok())
    }

    /// RMI_REALM_DESTROY(rd), a stand-in: `rd` must be a Realm descriptor (else
    /// ERROR_INPUT) that no VDEV names (else ERROR_REALM); it returns to DELEGATED.
    fn realm_destroy(&mut self, rd: u64) -> Reply {
        if !matches!(self.granules.state(rd), Some(GranuleState::Rd { .. })) {
            return Err(input("rd is not a Realm descriptor"));
        }
        if self.vdevs.values().any(|v| v.rd == rd) {
            return Err(OrderError::new(
                Status::ErrorRealm,
                "the Realm still has VDEVs",
            ));
        }
        self.granules.release(rd);
        debug!("rmm: Realm {rd:#x} destroyed");
        Ok(Ret::ok())
    }

    /// The state of the granule at `pa` (`None`: UNDELEGATED).
    pub fn granule(&self, pa: u64) -> Option<GranuleState> {
        self.granules.state(pa)
    }

    /// The RMI state of the PDEV at `pa`.
    pub fn pdev_state(&self, pa: u64) -> Option<tsm_proto::rmi::PdevState> {
        self.pdevs.get(&pa).map(|p| p.core.state)
    }

    /// The RMI state of the VDEV at `pa`.
    pub fn vdev_state(&self, pa: u64) -> Option<tsm_proto::rmi::VdevState> {
        self.vdevs.get(&pa).map(|v| v.core.state)
    }

    /// Whether the PDEV at `pa` holds an SPDM session with its device.
    pub fn pdev_has_session(&self, pa: u64) -> bool {
        self.pdevs
            .get(&pa)
            .and_then(|p| p.dev.spdm.as_ref())
            .is_some_and(|s| s.session.is_some())
    }

    /// Everything the model keeps, comparably.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            granules: self.granules.all().clone(),
            pdevs: self
                .pdevs
                .iter()
                .map(|(pa, p)| (*pa, (p.core, p.conv.as_ref().is_some_and(|c| c.awaiting()))))
                .collect(),
            vdevs: self
                .vdevs
                .iter()
                .map(|(pa, v)| (*pa, (v.core, v.conv.as_ref().is_some_and(|c| c.awaiting()))))
                .collect(),
            streams: self
                .streams
                .iter()
                .map(|(h, s)| (*h, (s.core, s.turn)))
                .collect(),
            operations: self.sros.keys().copied().collect(),
        }
    }

    /// Whether the model holds nothing: no object, no operation, no granule delegated.
    pub fn is_clean(&self) -> bool {
        self.granules.all().is_empty()
            && self.pdevs.is_empty()
            && self.vdevs.is_empty()
            && self.streams.is_empty()
            && self.sros.is_empty()
    }

    /// Whether a device operation of the PDEV at `pdev`, or of any of its VDEVs but
    /// `except`, is in progress: the PDEV and its VDEVs share one DOE mailbox and one
    /// SPDM session, so a second operation must wait (RMI_BUSY).
    ///
    /// Unconfirmed: the status TF-RMM gives a second operation on the same PDEV; the
    /// fact sheet says only that Linux serialises a PDEV's traffic. BUSY ("no progress
    /// for a transient reason") is what a host retrying later expects.
    fn pdev_busy(&self, pdev: u64, except: Option<u64>) -> bool {
        let own = self.pdevs.get(&pdev).is_some_and(|p| !p.core.comm_idle());
        own || self.vdevs.iter().any(|(pa, v)| {
            v.pdev == pdev && Some(*pa) != except && v.core.comm != tsm_proto::rmi::CommState::Idle
        })
    }

    /// The NS page at `pa` (a parameter page), read whole.
    fn ns_page(&self, mem: &mut dyn FwMemory, pa: u64) -> Result<Vec<u8>, OrderError> {
        self.granules.require_ns(pa)?;
        memory::read_page(mem, pa).map_err(|_| input("parameter page not reachable"))
    }

    /// Whether a VDEV of the PDEV at `pdev` has a device operation in progress.
    fn vdev_active(&self, pdev: u64) -> bool {
        self.vdevs
            .values()
            .any(|v| v.pdev == pdev && v.core.comm != tsm_proto::rmi::CommState::Idle)
    }

    /// A fresh stateful-operation handle.
    fn new_handle(&mut self) -> u64 {
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        self.next_handle
    }

    /// The stream ends as `tsm_proto` returns them, written back.
    fn store_stream(&mut self, handle: u64, ends: StreamEnds, ep: u64, rp: u64) {
        let (s, e, r) = ends;
        if let Some(rec) = self.streams.get_mut(&handle) {
            rec.core = s;
        }
        if let Some(p) = self.pdevs.get_mut(&ep) {
            p.core = e;
        }
        if let Some(p) = self.pdevs.get_mut(&rp) {
            p.core = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fids_and_version() {
        let mut rmm = Rmm::new(RmmConfig::default());
        let mut mem = PageMemory::new();
        for fid in [0u64, 0xC400_0156, 1 << 40, u64::MAX] {
            let r = rmm.call(&SmcRegs { x: [fid; SMC_REGS] }, &mut mem);
            assert_eq!(r.x[0], SMC_NOT_SUPPORTED, "{fid:#x}");
        }
        let fid = |c: Call| c.fid(Abi::V2_0).unwrap();
        let r = rmm.call(&SmcRegs::call(fid(Call::Version), &[0x2_0000]), &mut mem);
        assert_eq!(r.x[..3], [0, 0x2_0000, 0x2_0000]);
        let r = rmm.call(&SmcRegs::call(fid(Call::Version), &[0x1_0001]), &mut mem);
        assert_eq!(r.x[0], 1);
        let r = rmm.call(&SmcRegs::call(fid(Call::Features), &[2]), &mut mem);
        assert!(DaFeatures::decode(r.x[1]).da);
        let r = rmm.call(&SmcRegs::call(fid(Call::VdevComplete), &[]), &mut mem);
        assert_eq!(r.x[0], u64::from(Status::NotSupported.to_u8()));
    }
}
