// SPDX-License-Identifier: GPL-2.0

//! The host orders of §4 as pure state machines with rollback: platform enable, and a
//! device's connect and disconnect. (The bind and unbind orders are provisional and live
//! in [`super::provisional`].)
//!
//! An order is a [`Plan`]: a list of forward steps, a list of teardown steps, and for each
//! teardown step the forward steps it undoes. A [`Sequencer`] walks it: it names the one
//! step due ([`Sequencer::next`]) and accepts only that step's result
//! ([`Sequencer::complete`]), so a backend cannot reorder, repeat or skip steps. When a
//! forward step fails, the sequencer rolls back: it walks the teardown list and runs each
//! teardown step whose forward steps completed, so what was done is undone in reverse. A
//! full disconnect is the same teardown walk from the connected state. Teardown steps are
//! never rolled back: one that fails is recorded as leaked and the walk goes on, and a
//! step that [`Plan::needs`] a failed one is skipped and leaked too (a failed DELETE,
//! CLEAR or BLOCK leaks the metadata pages, §2).
//!
//! # Lock ordering
//!
//! No step holds the extension slot ([`super::ExtSlot`]) across another step: each leaf
//! step is one [`super::LeafCall`] that takes the ticket when it starts and returns it
//! when it ends, and the key refresh a leaf may need runs inside that call under the same
//! ticket (see [`super::driver`]). So the V2 deadlock, the refresh path re-taking
//! `tdx_ext_lock` while CONNECT/DISCONNECT/MNG hold it (§2), has no counterpart here: the
//! sequencer never asks for a refresh as a step of its own, and the backend never has a
//! reason to take the slot while it holds it. Host-only steps (allocation, EP
//! programming, PCI core registration) never hold the ticket.

use super::leaf::Leaf;

/// Why a sequencer refused a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderError {
    /// What was out of order.
    pub why: &'static str,
}

/// An order: forward steps, teardown steps, and what undoes what. At most 32 steps each.
pub trait Plan: Copy + Eq + core::fmt::Debug + 'static {
    /// The forward steps, in order.
    const FORWARD: &'static [Self];
    /// The teardown steps, in order (the rollback walks the same list).
    const TEARDOWN: &'static [Self];

    /// For a teardown step, the forward steps it undoes: it is due when any of them
    /// completed.
    fn undoes(self) -> &'static [Self];

    /// For a teardown step, the teardown steps that must have succeeded (when due) for
    /// it to run; otherwise it is skipped and leaked.
    fn needs(self) -> &'static [Self] {
        &[]
    }

    /// For a teardown step, forward steps whose completion makes it not due after all
    /// (the pages then belong to the module).
    fn kept_by(self) -> &'static [Self] {
        &[]
    }

    /// The leaf the step issues, if it is a SEAMCALL step.
    fn leaf(self) -> Option<Leaf>;
}

/// Where a [`Sequencer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Walking the forward steps.
    Forward,
    /// Every forward step completed.
    Up,
    /// A forward step failed; undoing what completed.
    RollingBack,
    /// The rollback ended.
    RolledBack,
    /// Tearing down from [`Phase::Up`].
    TearingDown,
    /// The teardown ended.
    Down,
}

/// The result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepResult {
    /// The step succeeded.
    Ok,
    /// The step failed.
    Failed,
}

/// A walk of one [`Plan`] (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sequencer<P: Plan> {
    phase: Phase,
    pos: usize,
    done: u32,
    skipped: u32,
    torn: u32,
    leaked: u32,
    failed: Option<P>,
}

fn index<P: Plan>(list: &[P], step: P) -> Option<usize> {
    list.iter().position(|s| *s == step)
}

fn bit(i: usize) -> u32 {
    1u32.checked_shl(i as u32).unwrap_or(0)
}

impl<P: Plan> Default for Sequencer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Plan> Sequencer<P> {
    /// A walk at the first forward step.
    pub fn new() -> Self {
        let mut s = Self {
            phase: Phase::Forward,
            pos: 0,
            done: 0,
            skipped: 0,
            torn: 0,
            leaked: 0,
            failed: None,
        };
        s.settle();
        s
    }

    /// The phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// The forward step that failed, if any.
    pub const fn failed(&self) -> Option<P> {
        self.failed
    }

    /// The step due now, or `None` when the walk rests ([`Phase::Up`],
    /// [`Phase::RolledBack`], [`Phase::Down`]).
    pub fn next(&self) -> Option<P> {
        match self.phase {
            Phase::Forward => P::FORWARD.get(self.pos).copied(),
            Phase::RollingBack | Phase::TearingDown => P::TEARDOWN.get(self.pos).copied(),
            _ => None,
        }
    }

    /// Whether forward step `step` completed (the record stays through the teardown).
    pub fn completed(&self, step: P) -> bool {
        index(P::FORWARD, step).is_some_and(|i| self.done & bit(i) != 0)
    }

    /// Whether teardown step `step` failed or was skipped for a failed need: its pages
    /// are leaked.
    pub fn leaked(&self, step: P) -> bool {
        index(P::TEARDOWN, step).is_some_and(|i| self.leaked & bit(i) != 0)
    }

    /// Whether teardown step `step` ran and succeeded.
    pub fn torn_down(&self, step: P) -> bool {
        index(P::TEARDOWN, step).is_some_and(|i| self.torn & bit(i) != 0)
    }

    /// Marks a forward step not yet reached as not needed (e.g. EXT.MEM.ADD when the
    /// pool needs no pages). A step already passed, or not a forward step, is refused.
    pub fn skip(&self, step: P) -> Result<Self, OrderError> {
        let i = index(P::FORWARD, step).ok_or(OrderError {
            why: "not a forward step",
        })?;
        if self.phase != Phase::Forward || i < self.pos {
            return Err(OrderError {
                why: "step already passed",
            });
        }
        let mut s = *self;
        s.skipped |= bit(i);
        s.settle();
        Ok(s)
    }

    /// The walk after `step` ended with `result`. Only [`Self::next`] is accepted.
    pub fn complete(&self, step: P, result: StepResult) -> Result<Self, OrderError> {
        if self.next() != Some(step) {
            return Err(OrderError {
                why: "step out of order",
            });
        }
        let mut s = *self;
        let b = bit(s.pos);
        match (s.phase, result) {
            (Phase::Forward, StepResult::Ok) => s.done |= b,
            (Phase::Forward, StepResult::Failed) => {
                s.failed = Some(step);
                s.phase = Phase::RollingBack;
                s.pos = 0;
                s.settle();
                return Ok(s);
            }
            (_, StepResult::Ok) => s.torn |= b,
            (_, StepResult::Failed) => s.leaked |= b,
        }
        s.pos = s.pos.saturating_add(1);
        s.settle();
        Ok(s)
    }

    /// Starts the teardown from [`Phase::Up`].
    pub fn teardown(&self) -> Result<Self, OrderError> {
        if self.phase != Phase::Up {
            return Err(OrderError {
                why: "teardown before the order completed",
            });
        }
        let mut s = *self;
        s.phase = Phase::TearingDown;
        s.pos = 0;
        s.settle();
        Ok(s)
    }

    /// Whether teardown step `t` is due: one of the forward steps it undoes completed
    /// and none of those that keep its pages did.
    fn due(&self, t: P) -> bool {
        t.undoes().iter().any(|f| self.completed(*f))
            && !t.kept_by().iter().any(|f| self.completed(*f))
    }

    /// Moves `pos` to the next step that runs, recording skipped-and-leaked steps, and
    /// rests the phase at the end of its list.
    fn settle(&mut self) {
        match self.phase {
            Phase::Forward => {
                while self.pos < P::FORWARD.len() && self.skipped & bit(self.pos) != 0 {
                    self.pos += 1;
                }
                if self.pos >= P::FORWARD.len() {
                    self.phase = Phase::Up;
                }
            }
            Phase::RollingBack | Phase::TearingDown => {
                while let Some(t) = P::TEARDOWN.get(self.pos).copied() {
                    if !self.due(t) {
                        self.pos += 1;
                        continue;
                    }
                    let unmet = t
                        .needs()
                        .iter()
                        .any(|n| self.due(*n) && !self.torn_down(*n));
                    if unmet {
                        self.leaked |= bit(self.pos);
                        self.pos += 1;
                        continue;
                    }
                    break;
                }
                if self.pos >= P::TEARDOWN.len() {
                    self.phase = if self.phase == Phase::RollingBack {
                        Phase::RolledBack
                    } else {
                        Phase::Down
                    };
                }
            }
            _ => {}
        }
    }
}

/// The steps of a device's connect and disconnect (§4 "Connect (per PF0, V2)" and
/// "Disconnect").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkStep {
    /// Connect 1: allocate the request, response and config pages (host).
    AllocPages,
    /// Connect 2: TDH.SPDM.CREATE.
    SpdmCreate,
    /// Connect 3: TDH.SPDM.CONNECT with its relay loop.
    SpdmConnect,
    /// Connect 4: TDH.IDE.STREAM.CREATE (the module programs the root port).
    IdeStreamCreate,
    /// Connect 5: register the stream ID with the PCI core (host).
    PciStreamRegister,
    /// Connect 6: the host programs the endpoint's IDE registers (`pci_ide_stream_setup`,
    /// default_stream = 1 on the EP). Only the module writes root-port IDE and key
    /// registers.
    EpIdeSetup,
    /// Connect 7: TDH.IDE.STREAM.KM SETUP with its relay loop: keys into RP and EP, the RP
    /// stream enabled.
    KmSetup,
    /// Connect 8a: `tsm_ide_stream_register` (host).
    TsmStreamRegister,
    /// Connect 8b: enable the EP stream (host).
    EpStreamEnable,
    /// Disconnect 1: TDH.IDE.STREAM.KM STOP.
    KmStop,
    /// Disconnect 2: TDH.IDE.STREAM.BLOCK.
    StreamBlock,
    /// Disconnect 3: TDH.IDE.STREAM.DELETE.
    StreamDelete,
    /// Disconnect 4: release IDE_MT (TDH.PHYMEM.PAGE.WBINVD each page with the global
    /// KeyID, then free; §2 page hygiene).
    ReleaseIdeMt,
    /// Disconnect 5: `pci_ide_stream_release` (disables and tears down the EP side).
    PciIdeStreamRelease,
    /// Disconnect 6: TDH.SPDM.DISCONNECT with its relay loop.
    SpdmDisconnect,
    /// Disconnect 7: TDH.SPDM.DELETE.
    SpdmDelete,
    /// Disconnect 8: release SPDM_MT (WBINVD, then free).
    ReleaseSpdmMt,
    /// Free the message and config pages (host; not numbered in §4).
    FreePages,
}

impl Plan for LinkStep {
    const FORWARD: &'static [Self] = &[
        Self::AllocPages,
        Self::SpdmCreate,
        Self::SpdmConnect,
        Self::IdeStreamCreate,
        Self::PciStreamRegister,
        Self::EpIdeSetup,
        Self::KmSetup,
        Self::TsmStreamRegister,
        Self::EpStreamEnable,
    ];

    /// §4's disconnect order, then the host pages.
    ///
    /// Unconfirmed: §4's disconnect is not the exact reverse of its connect: V2 calls
    /// `pci_ide_stream_release` (the EP side) after STREAM.DELETE, although the EP was
    /// programmed after STREAM.CREATE. The sheet's order is kept for disconnect and
    /// rollback alike; everything else unwinds in reverse.
    const TEARDOWN: &'static [Self] = &[
        Self::KmStop,
        Self::StreamBlock,
        Self::StreamDelete,
        Self::ReleaseIdeMt,
        Self::PciIdeStreamRelease,
        Self::SpdmDisconnect,
        Self::SpdmDelete,
        Self::ReleaseSpdmMt,
        Self::FreePages,
    ];

    /// Unconfirmed: the sheet names no undo of `tsm_ide_stream_register`;
    /// `pci_ide_stream_release` is taken to undo all four host-side EP steps.
    fn undoes(self) -> &'static [Self] {
        match self {
            Self::KmStop => &[Self::KmSetup],
            Self::StreamBlock | Self::StreamDelete | Self::ReleaseIdeMt => &[Self::IdeStreamCreate],
            Self::PciIdeStreamRelease => &[
                Self::PciStreamRegister,
                Self::EpIdeSetup,
                Self::TsmStreamRegister,
                Self::EpStreamEnable,
            ],
            Self::SpdmDisconnect => &[Self::SpdmConnect],
            Self::SpdmDelete | Self::ReleaseSpdmMt => &[Self::SpdmCreate],
            Self::FreePages => &[Self::AllocPages],
            _ => &[],
        }
    }

    /// A stream is deleted only once blocked; metadata pages are freed only after their
    /// DELETE succeeded (else leaked, §2). Unconfirmed: the sheet says to leak on a failed
    /// BLOCK but not whether DELETE is still tried; it is not.
    fn needs(self) -> &'static [Self] {
        match self {
            Self::StreamDelete => &[Self::StreamBlock],
            Self::ReleaseIdeMt => &[Self::StreamDelete],
            Self::ReleaseSpdmMt => &[Self::SpdmDelete],
            _ => &[],
        }
    }

    fn leaf(self) -> Option<Leaf> {
        Some(match self {
            Self::SpdmCreate => Leaf::SpdmCreate,
            Self::SpdmConnect => Leaf::SpdmConnect,
            Self::IdeStreamCreate => Leaf::IdeStreamCreate,
            Self::KmSetup | Self::KmStop => Leaf::IdeStreamKm,
            Self::StreamBlock => Leaf::IdeStreamBlock,
            Self::StreamDelete => Leaf::IdeStreamDelete,
            Self::SpdmDisconnect => Leaf::SpdmDisconnect,
            Self::SpdmDelete => Leaf::SpdmDelete,
            _ => return None,
        })
    }
}

/// The steps of platform enable (§4 "Platform enable").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlatformStep {
    /// 1: TDH.SYS.CONFIG v1 with R9 bit 6 (and R11, for now). Start the plan only when
    /// TDX_FEATURES0 bit 6 is set ([`platform_supported`]).
    SysConfig,
    /// 2: re-read the metadata ([`super::fields::metadata::READ_AFTER_CONFIG`]).
    ReadMetadata,
    /// 3a: TDH.EXT.MEM.ADD in chunks of at most 512 pages from one contiguous allocation,
    /// after TDH.SYS.KEY.CONFIG ran on every package; skip when
    /// MEMORY_POOL_REQUIRED_PAGES is 0 or on X86_BUG_TDX_PW_MCE platforms.
    ExtMemAdd,
    /// 3b: TDH.EXT.INIT; skip when EXT_REQUIRED is 0 or on X86_BUG_TDX_PW_MCE platforms.
    ExtInit,
    /// 4: TDH.IOMMU.SETUP on every DRHD (those answering OPERAND_INVALID are skipped).
    IommuSetup,
    /// 6: `tsm_register` (host). (Step 5, the stream count from the KEYP KCUs, is a host
    /// read with no module call.)
    TsmRegister,
    /// Undo of 6: `tsm_unregister`.
    TsmUnregister,
    /// Undo of 4: TDH.IOMMU.CLEAR on every IOMMU set up (WBINVD and free the IOMMU_MT
    /// pages only after a successful CLEAR).
    IommuClear,
    /// Undo of 3a after a failed EXT.INIT: WBINVD all CPUs, then free the pool (§2). After
    /// a successful EXT.INIT the pages are never returned.
    ///
    /// Unconfirmed: after a failed EXT.MEM.ADD the pages already added are not known to be
    /// reusable; that step counts as not done, so the pool is leaked.
    FlushAndFreePool,
}

impl Plan for PlatformStep {
    const FORWARD: &'static [Self] = &[
        Self::SysConfig,
        Self::ReadMetadata,
        Self::ExtMemAdd,
        Self::ExtInit,
        Self::IommuSetup,
        Self::TsmRegister,
    ];
    const TEARDOWN: &'static [Self] = &[
        Self::TsmUnregister,
        Self::IommuClear,
        Self::FlushAndFreePool,
    ];

    fn undoes(self) -> &'static [Self] {
        match self {
            Self::TsmUnregister => &[Self::TsmRegister],
            Self::IommuClear => &[Self::IommuSetup],
            Self::FlushAndFreePool => &[Self::ExtMemAdd],
            _ => &[],
        }
    }

    fn kept_by(self) -> &'static [Self] {
        match self {
            Self::FlushAndFreePool => &[Self::ExtInit],
            _ => &[],
        }
    }

    fn leaf(self) -> Option<Leaf> {
        Some(match self {
            Self::SysConfig => Leaf::SysConfig,
            Self::ExtMemAdd => Leaf::ExtMemAdd,
            Self::ExtInit => Leaf::ExtInit,
            Self::IommuSetup => Leaf::IommuSetup,
            Self::IommuClear => Leaf::IommuClear,
            _ => return None,
        })
    }
}

/// Whether TDX_FEATURES0 allows the platform plan at all: bit 6 (TDX Connect) set, since
/// old modules reject TDH.SYS.CONFIG v1 (§1, V1 review).
pub const fn platform_supported(features0: u64) -> bool {
    features0 & super::fields::metadata::FEATURES0_TDX_CONNECT != 0
}

/// The platform walk after ReadMetadata, with the extension steps skipped as §4 step 3
/// says: EXT.MEM.ADD when the pool needs no pages, EXT.INIT when EXT_REQUIRED is 0, both
/// on X86_BUG_TDX_PW_MCE platforms.
pub fn platform_after_metadata(
    s: &Sequencer<PlatformStep>,
    pool_pages: u64,
    ext_required: u64,
    pw_mce_bug: bool,
) -> Result<Sequencer<PlatformStep>, OrderError> {
    let mut s = *s;
    if pool_pages == 0 || pw_mce_bug {
        s = s.skip(PlatformStep::ExtMemAdd)?;
    }
    if ext_required == 0 || pw_mce_bug {
        s = s.skip(PlatformStep::ExtInit)?;
    }
    Ok(s)
}

/// The EXT.MEM.ADD chunks of a pool of `pages` pages: `(first page index, count)` with
/// at most 512 pages each (§4 step 3).
pub fn mem_add_chunks(pages: u64) -> impl Iterator<Item = (u64, u16)> {
    let per = super::MAX_ENTRIES as u64;
    (0..pages.div_ceil(per)).map(move |i| {
        let first = i.saturating_mul(per);
        let count = pages.saturating_sub(first).min(per) as u16;
        (first, count)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_happy_path() {
        let mut s = Sequencer::<LinkStep>::new();
        for st in LinkStep::FORWARD {
            s = s.complete(*st, StepResult::Ok).unwrap();
        }
        assert_eq!(s.phase(), Phase::Up);
        s = s.teardown().unwrap();
        for st in LinkStep::TEARDOWN {
            s = s.complete(*st, StepResult::Ok).unwrap();
        }
        assert_eq!(s.phase(), Phase::Down);
    }

    #[test]
    fn chunks() {
        let v: [(u64, u16); 3] = [(0, 512), (512, 512), (1024, 1)];
        assert!(mem_add_chunks(1025).eq(v));
        assert_eq!(mem_add_chunks(0).count(), 0);
    }
}
