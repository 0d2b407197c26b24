// SPDX-License-Identifier: GPL-2.0

//! A model of the Intel TDX module's TDX Connect host interface, for hosts that have no
//! TDX module: the firmware a TDX host backend talks to through SEAMCALLs.
//!
//! The model sees only what the module sees: the registers of one SEAMCALL
//! ([`Regs`]) and the host's memory by physical address ([`FwMemory`]: the metadata
//! pages handed over, and the message, config, root and output pages the registers
//! name). [`TdxModule::call`] takes one SEAMCALL and returns RAX, RCX and RDX
//! ([`Returned`]). Every register and page layout is the shared codec's
//! (`tsm_proto::tdx`): leaf numbers, the per-leaf inputs ([`Input::decode`]),
//! `HPA_ARRAY_T`/`HPA_LIST_INFO`/IOMMU_MT, FUNCTION_ID and the stream fields, status
//! codes and the DOE objects of the relay. The facts are the project's sheets
//! (`shared/backends/tdx-connect-abi.md`, cited by section, and `tdx-connect.md`);
//! where the sheets say nothing the model's choice is marked "Unconfirmed".
//!
//! The module is the SPDM requester toward the device: a relaying leaf answers
//! TDX_SPDM_REQUEST with one DOE object in the request page, the host relays it and
//! calls again (`relay`). The requester is the software firmware's (`fw::connect`,
//! `fw::ide_km`, `fw::disconnect`, `fw::tdisp_op`), unchanged.
//!
//! | file | what |
//! |---|---|
//! | this file | [`TdxModule`], [`TdxConfig`], the dispatcher, the extension queue, [`Snapshot`] |
//! | `pages` | page ownership by HPA ([`Owner`]), array and list reads through [`FwMemory`] |
//! | `platform` | TDH.SYS.CONFIG, EXT.MEM.ADD, EXT.INIT, IOMMU.SETUP/CLEAR, the metadata stand-in |
//! | `spdm` | SPDM.CREATE, CONNECT, DISCONNECT, MNG, DELETE |
//! | `ide` | IDE.STREAM.CREATE, KM, BLOCK, DELETE |
//! | `relay` | the DOE relay of the requester's messages |
//! | `tdi` | **provisional**: the TDI bind calls (create, LOCK, START, STOP, free) |
//! | `knobs` | the model's status knobs ([`Knobs`]) |
//!
//! Refusals. A call the module refuses changes nothing. The sheets give no status for
//! a bad input or a call in the wrong state; the model answers TDX_OPERAND_INVALID
//! for both and TDX_OPERAND_BUSY for an object (or the extension queue) in use
//! (Unconfirmed: a real module has finer codes and operand detail in bits 31:0). A
//! device exchange that fails ends the operation with [`DEVICE_FAILURE`], a code of the
//! model's own.
//!
//! The extension queue (§4 "Concurrency"). SPDM.CONNECT, DISCONNECT and MNG are
//! extension SEAMCALLs served one at a time: while one is in progress (it answered
//! TDX_SPDM_REQUEST and waits for its re-issue), another extension call gets
//! TDX_OPERAND_BUSY. The re-issue of the call in progress (the same inputs) continues
//! it. Unconfirmed: whether IDE.STREAM.KM is in the queue (§4); the model keeps it out,
//! as V2 does not lock around it, but any second operation on the same SPDM object is
//! OPERAND_BUSY.

use std::collections::{BTreeMap, HashMap};

use log::{debug, info};
use tsm_proto::report::FirstPageUnit;
use tsm_proto::tdx::fields::metadata;
use tsm_proto::tdx::{FunctionId, Input, Leaf, LeafValue, Output, Regs, Returned, Status};

use super::{Device, FwConfig};

mod ide;
pub mod knobs;
mod pages;
mod platform;
mod relay;
mod spdm;
pub mod tdi;

pub use super::rmm::{FwMemory, MemFault, PageMemory};
pub use knobs::{Knob, KnobError, KnobKind, Knobs};
pub use pages::Owner;
pub use relay::{DOE_SECURED_SPDM, DOE_SPDM};

use pages::Pages;
use spdm::SpdmRec;

/// RAX of an operation whose device exchange failed (the model's own code).
///
/// Unconfirmed: the sheets give no status for a failed SPDM, IDE-KM or TDISP exchange;
/// this value is in the error class (bit 63) and is no code of §2, so a host fails the
/// step on it.
pub const DEVICE_FAILURE: u64 = 0xC000_0F00_0000_0000;

/// The model's configuration: what the module reports and what the platform has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxConfig {
    /// The root certificate (DER) the device's chain must verify against.
    ///
    /// Unconfirmed: how the module authenticates the device is not in the sheets; the
    /// model verifies the chain as the software firmware does and hands it to the host
    /// as the device information.
    pub trust_anchor: Vec<u8>,
    /// TDX_FEATURES0 (bit 6 TDX Connect).
    pub features0: u64,
    /// MEMORY_POOL_REQUIRED_PAGES once TDX Connect is opted in (12800 on the dev module;
    /// small by default here).
    pub pool_pages: u64,
    /// EXT_REQUIRED once opted in.
    pub ext_required: bool,
    /// SPDM_MT_PAGE_COUNT.
    pub spdm_mt_pages: u16,
    /// IDE_MT_PAGE_COUNT.
    pub ide_mt_pages: u16,
    /// IOMMU_MT_PAGE_COUNT.
    pub iommu_mt_pages: u16,
    /// SPDM_MAX_DEV_INFO_PAGES.
    pub dev_info_pages: u16,
    /// The VT-d register bases of the TDX-capable IOMMUs (IOMMU.SETUP of any other is
    /// OPERAND_INVALID: "not TDX-capable", §2).
    pub iommus: Vec<u64>,
    /// Selective IDE streams of the host bridge (KEYP; §4 step 5).
    pub streams: u8,
    /// Status knobs.
    pub knobs: Knobs,
}

impl Default for TdxConfig {
    fn default() -> Self {
        Self {
            trust_anchor: Vec::new(),
            features0: metadata::FEATURES0_TDX_CONNECT,
            pool_pages: 8,
            ext_required: true,
            spdm_mt_pages: 2,
            ide_mt_pages: 2,
            iommu_mt_pages: 2,
            dev_info_pages: 2,
            iommus: vec![0xFED9_0000],
            streams: 4,
            knobs: Knobs::none(),
        }
    }
}

/// Why a call was refused (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// RAX.
    pub status: u64,
    /// For the log.
    pub why: &'static str,
}

/// OPERAND_INVALID for `why`.
pub(super) fn refuse(why: &'static str) -> Refusal {
    Refusal {
        status: Status::OperandInvalid.code(),
        why,
    }
}

/// OPERAND_BUSY for `why`.
pub(super) fn busy(why: &'static str) -> Refusal {
    Refusal {
        status: Status::OperandBusy.code(),
        why,
    }
}

/// What a handler returns.
type Reply = Result<Returned, Refusal>;

/// SUCCESS with `out`.
fn done(out: Output) -> Reply {
    let (rcx, rdx) = out.encode().map_err(|_| refuse("output does not encode"))?;
    Ok(Returned { rax: 0, rcx, rdx })
}

/// TDX_SPDM_REQUEST with the request length.
fn relay_out(len: u64) -> Returned {
    Returned {
        rax: Status::SpdmRequest.code(),
        rcx: len,
        rdx: 0,
    }
}

/// [`DEVICE_FAILURE`].
fn failed() -> Returned {
    Returned {
        rax: DEVICE_FAILURE,
        rcx: 0,
        rdx: 0,
    }
}

/// A comparable picture of the model's state, for tests that a refusal changed
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// SYS.CONFIG ran (and with TDX Connect).
    pub configured: Option<bool>,
    /// EXT.INIT ran.
    pub ext_ready: bool,
    /// Every page the module owns.
    pub pages: BTreeMap<u64, Owner>,
    /// IOMMUs by ID: (register base, IOMMU_MT root).
    pub iommus: BTreeMap<u64, (u64, u64)>,
    /// SPDM objects by ID: (connected, an operation in progress, refresh due).
    pub spdms: BTreeMap<u64, (bool, bool, bool)>,
    /// Streams by (SPDM_ID, stream ID): (keyed, blocked).
    pub streams: BTreeMap<(u64, u64), (bool, bool)>,
    /// Provisional TDIs by FUNCTION_ID: their TDISP state as the module tracks it.
    pub tdis: BTreeMap<u64, tsm_proto::state::TdiState>,
    /// The extension call in progress.
    pub ext: Option<(Leaf, u64)>,
}

/// The TDX module model.
pub struct TdxModule {
    cfg: TdxConfig,
    engine_cfg: FwConfig,
    /// `Some(connect)` once SYS.CONFIG ran: whether TDX Connect was opted in.
    configured: Option<bool>,
    ext_ready: bool,
    pages: Pages,
    pool: u64,
    iommus: BTreeMap<u64, platform::IommuRec>,
    spdms: BTreeMap<u64, SpdmRec>,
    /// The extension call in progress: its leaf and SPDM_ID.
    ext: Option<(Leaf, u64)>,
    next_id: u64,
    calls: HashMap<Leaf, u32>,
}

impl TdxModule {
    /// A module before TDH.SYS.CONFIG.
    pub fn new(cfg: TdxConfig) -> Self {
        let engine_cfg = FwConfig {
            trust_anchor: cfg.trust_anchor.clone(),
            first_page_unit: FirstPageUnit::PageNumber,
        };
        Self {
            cfg,
            engine_cfg,
            configured: None,
            ext_ready: false,
            pages: Pages::default(),
            pool: 0,
            iommus: BTreeMap::new(),
            spdms: BTreeMap::new(),
            ext: None,
            next_id: 0x1000,
            calls: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TdxConfig {
        &self.cfg
    }

    /// Serves one SEAMCALL. Never panics; every refusal is a status in RAX.
    pub fn call(&mut self, regs: &Regs, mem: &mut dyn FwMemory) -> Returned {
        let leaf = match LeafValue::decode(regs.rax) {
            Ok(v) => v.leaf,
            Err(_) => {
                // Unconfirmed: the status of an unknown leaf.
                debug!("tdx: unknown leaf {:#x}", regs.rax);
                return refused(refuse("unknown leaf"));
            }
        };
        let count = self.calls.entry(leaf).or_insert(0);
        *count = count.saturating_add(1);
        let count = *count;
        let knob = self.cfg.knobs.fire(leaf, count);
        if let Some(k) = knob {
            info!(
                "tdx: knob {k:?} fired at {} #{count}",
                knobs::leaf_name(leaf)
            );
        }
        let reply = match knob {
            Some(KnobKind::Busy) => Err(busy("knob: busy")),
            Some(KnobKind::Error(status)) => {
                self.error_knob(leaf, regs);
                Err(Refusal {
                    status,
                    why: "knob: error",
                })
            }
            Some(KnobKind::Resume) => Ok(Returned {
                rax: Status::InterruptedResumable.code(),
                // EXT.MEM.ADD continues from its output RCX: nothing was added.
                rcx: if leaf == Leaf::ExtMemAdd { regs.rcx } else { 0 },
                rdx: 0,
            }),
            Some(KnobKind::Refresh) => self.refresh_knob(regs),
            None => match Input::decode(regs) {
                Ok(input) => self.dispatch(input, mem),
                Err(e) => {
                    debug!("tdx: {leaf:?} inputs refused: {e:?}");
                    Err(refuse("inputs do not decode"))
                }
            },
        };
        match reply {
            Ok(r) => r,
            Err(e) => {
                debug!("tdx: {leaf:?} #{count}: {:#x} ({})", e.status, e.why);
                refused(e)
            }
        }
    }

    fn dispatch(&mut self, input: Input, mem: &mut dyn FwMemory) -> Reply {
        match input {
            Input::SysConfig(i) => self.sys_config(i),
            Input::ExtInit => self.ext_init(),
            Input::ExtMemAdd(i) => self.ext_mem_add(i, mem),
            Input::IommuSetup(i) => self.iommu_setup(i, mem),
            Input::IommuClear(i) => self.iommu_clear(i),
            Input::SpdmCreate(i) => self.spdm_create(i, mem),
            Input::SpdmDelete(i) => self.spdm_delete(i, mem),
            Input::SpdmConnect(_) | Input::SpdmDisconnect(_) | Input::SpdmMng(_) => {
                self.spdm_relaying(input, mem)
            }
            Input::IdeStreamCreate(i) => self.stream_create(i, mem),
            Input::IdeStreamKm(i) => self.stream_km(input, i, mem),
            Input::IdeStreamBlock(i) => self.stream_block(i),
            Input::IdeStreamDelete(i) => self.stream_delete(i, mem),
        }
    }

    /// The `refresh` knob: KEY_REQUIRE_REFRESH for a call on an SPDM object that holds
    /// a session or runs an operation, which then owes an SPDM.MNG KEY_UPDATE (during
    /// a CONNECT too: the knob tests the host, not the session). On anything else the knob
    /// answers OPERAND_INVALID, as the call would have been refused.
    fn refresh_knob(&mut self, regs: &Regs) -> Reply {
        let id = Input::decode(regs)
            .ok()
            .and_then(|i| i.spdm_id())
            .ok_or(refuse("knob: refresh on a call without an SPDM object"))?;
        let rec = self
            .spdms
            .get_mut(&id)
            .filter(|r| r.connected || r.op.is_some())
            .ok_or(refuse("knob: refresh on an SPDM object without a session"))?;
        rec.refresh_due = true;
        Ok(Returned {
            rax: Status::KeyRequireRefresh.code(),
            rcx: 0,
            rdx: 0,
        })
    }

    /// The `error` knob on the re-issue of a relaying call in progress: the module
    /// reports the operation's failure, so the operation is over (its SPDM object is
    /// free again). On any other call the knob changes nothing.
    fn error_knob(&mut self, leaf: Leaf, regs: &Regs) {
        let Some(id) = Input::decode(regs).ok().and_then(|i| i.spdm_id()) else {
            return;
        };
        let Some(rec) = self.spdms.get_mut(&id) else {
            return;
        };
        if rec
            .op
            .as_ref()
            .is_some_and(|o| matches!(o.key, spdm::OpKey::Leaf(i) if i.leaf() == leaf))
        {
            if let Some(op) = rec.op.take() {
                op.conv.abandon(&mut rec.dev);
            }
            if self.ext.is_some_and(|(_, e)| e == id) {
                self.ext = None;
            }
        }
    }

    /// The value of a global metadata field, as TDH.SYS.RD would read it (a stand-in:
    /// the sheets give the field IDs, §3, but not the read leaf). The Connect fields
    /// read as zero until SYS.CONFIG opted in (§3: their values change then).
    pub fn metadata(&self, field: u64) -> Option<u64> {
        let on = self.configured == Some(true);
        let v = |x: u64| Some(if on { x } else { 0 });
        match field {
            metadata::MEMORY_POOL_REQUIRED_PAGES => v(self.cfg.pool_pages),
            metadata::EXT_REQUIRED => v(u64::from(self.cfg.ext_required)),
            metadata::IDE_MT_PAGE_COUNT => v(u64::from(self.cfg.ide_mt_pages)),
            metadata::SPDM_MT_PAGE_COUNT => v(u64::from(self.cfg.spdm_mt_pages)),
            metadata::IOMMU_MT_PAGE_COUNT => v(u64::from(self.cfg.iommu_mt_pages)),
            metadata::SPDM_MAX_DEV_INFO_PAGES => v(u64::from(self.cfg.dev_info_pages)),
            _ => None,
        }
    }

    /// Whether the Connect leaves are served: SYS.CONFIG opted in and, if the module
    /// requires extensions, EXT.INIT ran.
    fn ready(&self) -> Result<(), Refusal> {
        if self.configured != Some(true) {
            return Err(refuse("TDX Connect not configured"));
        }
        if self.cfg.ext_required && !self.ext_ready {
            return Err(refuse("extensions not initialised"));
        }
        Ok(())
    }

    fn new_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// Everything the model keeps, comparably.
    pub fn snapshot(&self) -> Snapshot {
        let mut streams = BTreeMap::new();
        let mut tdis = BTreeMap::new();
        for (id, s) in &self.spdms {
            for (sid, st) in &s.streams {
                streams.insert((*id, *sid), (st.keyed, st.blocked));
            }
            for (f, t) in &s.dev.tdis {
                tdis.insert(u64::from(*f), t.state);
            }
        }
        Snapshot {
            configured: self.configured,
            ext_ready: self.ext_ready,
            pages: self.pages.all().clone(),
            iommus: self
                .iommus
                .iter()
                .map(|(id, r)| (*id, (r.reg_base, r.mt_root)))
                .collect(),
            spdms: self
                .spdms
                .iter()
                .map(|(id, s)| (*id, (s.connected, s.op.is_some(), s.refresh_due)))
                .collect(),
            streams,
            tdis,
            ext: self.ext,
        }
    }

    /// The pages the module owns.
    pub fn owned_pages(&self) -> &BTreeMap<u64, Owner> {
        self.pages.all()
    }

    /// Whether the module holds no device object (SPDM, stream, TDI) and no IOMMU; the
    /// extension pool is never returned (§1).
    pub fn is_clean(&self) -> bool {
        self.spdms.is_empty()
            && self.iommus.is_empty()
            && self.ext.is_none()
            && self.pages.all().values().all(|o| *o == Owner::Pool)
    }

    /// Whether the SPDM object `id` holds a session with its device.
    pub fn spdm_connected(&self, id: u64) -> Option<bool> {
        self.spdms.get(&id).map(|s| s.connected)
    }

    /// Whether the stream `stream_id` of SPDM object `id` has its keys programmed.
    pub fn stream_keyed(&self, id: u64, stream_id: u64) -> Option<bool> {
        self.spdms
            .get(&id)
            .and_then(|s| s.streams.get(&stream_id))
            .map(|s| s.keyed)
    }
}

fn refused(e: Refusal) -> Returned {
    Returned {
        rax: e.status,
        rcx: 0,
        rdx: 0,
    }
}

/// A fresh requester record of a device.
fn fresh_device() -> Device {
    Device {
        spdm: None,
        stream_id: 0,
        ide_active: false,
        tdis: BTreeMap::new(),
    }
}

/// Which device a FUNCTION_ID names, for the log.
fn bdf(f: FunctionId) -> String {
    format!(
        "{:04x}:{:02x}:{:02x}.{}",
        f.segment,
        f.rid >> 8,
        (f.rid >> 3) & 0x1F,
        f.rid & 7
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_leaves_and_stray_registers() {
        let mut m = TdxModule::new(TdxConfig::default());
        let mut mem = PageMemory::new();
        for rax in [0u64, 136, 1 << 24 | 130, u64::MAX] {
            let r = m.call(
                &Regs {
                    rax,
                    ..Regs::default()
                },
                &mut mem,
            );
            assert_eq!(r.rax, Status::OperandInvalid.code(), "{rax:#x}");
        }
        let mut r = Regs::with(Leaf::ExtInit, &[]);
        r.r9 = 1;
        assert_eq!(m.call(&r, &mut mem).rax, Status::OperandInvalid.code());
        // SYS.CONFIG at version 0 is refused.
        let r = Regs {
            rax: 45,
            r9: metadata::FEATURES0_TDX_CONNECT,
            ..Regs::default()
        };
        assert_eq!(m.call(&r, &mut mem).rax, Status::OperandInvalid.code());
        assert!(m.is_clean());
        assert_eq!(m.metadata(metadata::MEMORY_POOL_REQUIRED_PAGES), Some(0));
    }
}
