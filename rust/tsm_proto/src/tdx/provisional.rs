// SPDX-License-Identifier: GPL-2.0

//! **Provisional:** the TDI bind leaves, which no public source numbers, and the bind
//! and unbind orders built on them.
//!
//! No TDI leaf of the new TDX Connect ABI has a public number or register layout (§5
//! "Host side"). What exists is names in comments (STG, OVMM), an all-stub skeleton from
//! the old ABI (RFC30 26/30 and 30/30), and one review remark on the arguments of a
//! device-interface create (Yilun, `Z8lE+5OpqZc746mT@yilunxu-OptiPlex-7050`, 2025-03,
//! "no public TDX Connect spec yet"). Everything in this file is provisional and is
//! named the way those sources name it; nothing here is a wire fact. When the ABI is
//! published, this file is replaced whole: nothing outside it names a TDI leaf.
//!
//! The superseded 2023 prototype ABI (TDXIO23: DEVIF 137-140, MMIO.MT 154-157, MMIO
//! 158-160, DEVIF.MT 164-166, ...) is deliberately not used: the new ABI reuses 128, 129
//! and 135 for other leaves (§5), so its numbers cannot be trusted for the rest either.

use super::super::codec::{Error, Result};
use super::fields::FunctionId;
use super::leaf::Leaf;
use super::order::Plan;

/// The TDI bind leaves the sources name. Provisional: none has a public number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TdiLeaf {
    /// Provisional: "TDH.DEVIF.CREATE", after Yilun's `tdh_devif_create(stream_id,
    /// devif_id = host BDF, tdr_pa, devifcs_pa)` (2025-03, "like"); RFC30 creates DEVIFMT,
    /// then DEVIF, then MMIOMT.
    DevifCreate,
    /// Provisional: TDH.MMIO.MT.SET (name only, OVMM comments).
    MmioMtSet,
    /// Provisional: TDH.MMIO.MAP (name only, OVMM comments).
    MmioMap,
    /// Provisional: TDH.MEM.SEPT.ADD for an L2 alias (name only, OVMM comments).
    MemSeptAdd,
    /// Provisional: TDH.TDI.START (name only; STG comment; OVMM: "the host's later
    /// TDH.TDI.START performs the transition to RUN"), authorized first by the guest's
    /// TDG.TDI.START (68).
    TdiStart,
}

impl TdiLeaf {
    /// Every provisional leaf.
    pub const ALL: [Self; 5] = [
        Self::DevifCreate,
        Self::MmioMtSet,
        Self::MmioMap,
        Self::MemSeptAdd,
        Self::TdiStart,
    ];

    /// The leaf number: provisional, and `None` for every leaf, because no source gives
    /// one (§5). A backend must refuse to issue a leaf without a number.
    pub const fn number(self) -> Option<u16> {
        None
    }

    /// The name as the sources write it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::DevifCreate => "TDH.DEVIF.CREATE",
            Self::MmioMtSet => "TDH.MMIO.MT.SET",
            Self::MmioMap => "TDH.MMIO.MAP",
            Self::MemSeptAdd => "TDH.MEM.SEPT.ADD",
            Self::TdiStart => "TDH.TDI.START",
        }
    }
}

/// Provisional: the arguments of a device-interface create, in the order Yilun lists
/// them ("like" `tdh_devif_create(stream_id, devif_id = host BDF, tdr_pa, devifcs_pa)`,
/// 2025-03). Which register carries which is not known; [`Self::args`] gives them in that
/// order for a backend that will map them once the ABI is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevifCreate {
    /// The IDE stream the interface uses.
    pub stream_id: u64,
    /// The interface, as the host BDF (taken as a FUNCTION_ID here; provisional).
    pub devif_id: FunctionId,
    /// The TD's TDR page.
    pub tdr_pa: u64,
    /// The DEVIFCS page.
    pub devifcs_pa: u64,
}

impl DevifCreate {
    /// The arguments in the order the source names them (provisional).
    pub const fn args(&self) -> [u64; 4] {
        [
            self.stream_id,
            self.devif_id.encode(),
            self.tdr_pa,
            self.devifcs_pa,
        ]
    }

    /// Reads arguments in that order (for a model).
    pub fn from_args(args: [u64; 4]) -> Result<Self> {
        let [stream_id, devif, tdr_pa, devifcs_pa] = args;
        Ok(Self {
            stream_id,
            devif_id: FunctionId::decode(devif)?,
            tdr_pa,
            devifcs_pa,
        })
    }
}

wire_enum! {
    /// Provisional: the driver-internal request codes of the RFC30 26/30 skeleton (not a
    /// module ABI). BIND is the TDISP LOCK_INTERFACE.
    pub enum TdiRequest(u8, "tdx.provisional.tdi_request") decode from_u8 encode to_u8 {
        /// BIND (= LOCK).
        Bind = 1,
        /// START.
        Start = 2,
        /// GET_STATE.
        GetState = 3,
        /// STOP.
        Stop = 4,
    }
}

impl TdiRequest {
    /// Provisional and unconfirmed: whether the VMM may send this TDISP request. Carried
    /// over from `tdx-connect.md`, not re-confirmed (§5): the VMM sends only LOCK, STOP and
    /// GET_STATE; START is the TD's (through TDG.TDI.START and TDCM START_TDI).
    pub const fn host_may_send(self) -> bool {
        !matches!(self, Self::Start)
    }
}

/// Provisional: a request code the host is about to send, refused if it is the TD's.
pub fn host_request(code: u8) -> Result<TdiRequest> {
    let r = TdiRequest::from_u8(code)?;
    if r.host_may_send() {
        Ok(r)
    } else {
        Err(Error::InvalidField {
            field: "tdx.provisional.tdi_request",
            value: u64::from(code),
        })
    }
}

/// Provisional: the steps of binding a TDI to a TD and of unbinding it (RFC30 26/30 for
/// bind, RFC30 30/30 for unbind, both on the old ABI; §5 and §4 "Unbind").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindStep {
    /// Bind 1: create DEVIFMT (RFC30).
    CreateDevifMt,
    /// Bind 2: create DEVIF ([`TdiLeaf::DevifCreate`]).
    CreateDevif,
    /// Bind 3: create MMIOMT (RFC30).
    CreateMmioMt,
    /// Bind 4: send BIND (TDISP LOCK_INTERFACE).
    Lock,
    /// Bind 5: [`TdiLeaf::MmioMtSet`] and [`TdiLeaf::MmioMap`] for the report's ranges.
    /// Unconfirmed: its place before START is inferred from the guest sequence (STG: the
    /// TD accepts MMIO before TDG.TDI.START).
    MapMmio,
    /// Bind 6: [`TdiLeaf::TdiStart`], after the TD's TDG.TDI.START.
    Start,
    /// Unbind 1: TDISP STOP.
    Stop,
    /// Unbind 2: KVM unmaps private MMIO from the S-EPT (only after TLB invalidation in
    /// CONFIG_UNLOCKED, `tdx-connect.md`).
    UnmapPrivateMmio,
    /// Unbind 3: the IOMMU driver clears the trusted DMA context.
    ClearTrustedDma,
    /// Unbind 4a: free MMIOMT.
    FreeMmioMt,
    /// Unbind 4b: free DEVIF.
    FreeDevif,
    /// Unbind 4c: free DEVIFMT.
    FreeDevifMt,
    /// Unbind 5: restore MMIO (host).
    RestoreMmio,
}

impl Plan for BindStep {
    const FORWARD: &'static [Self] = &[
        Self::CreateDevifMt,
        Self::CreateDevif,
        Self::CreateMmioMt,
        Self::Lock,
        Self::MapMmio,
        Self::Start,
    ];

    /// RFC30 30/30's order: STOP, then unmap and IOMMU clear, then free MMIOMT, DEVIF,
    /// DEVIFMT (the reverse of their creation), then restore MMIO.
    const TEARDOWN: &'static [Self] = &[
        Self::Stop,
        Self::UnmapPrivateMmio,
        Self::ClearTrustedDma,
        Self::FreeMmioMt,
        Self::FreeDevif,
        Self::FreeDevifMt,
        Self::RestoreMmio,
    ];

    /// Unconfirmed: when the trusted DMA context is set is not known (OVMM accepts DMA
    /// from a DMA-unblock hook, §5); clearing it is taken as due once the TDI is locked.
    fn undoes(self) -> &'static [Self] {
        match self {
            Self::Stop | Self::ClearTrustedDma => &[Self::Lock, Self::Start],
            Self::UnmapPrivateMmio | Self::RestoreMmio => &[Self::MapMmio],
            Self::FreeMmioMt => &[Self::CreateMmioMt],
            Self::FreeDevif => &[Self::CreateDevif],
            Self::FreeDevifMt => &[Self::CreateDevifMt],
            _ => &[],
        }
    }

    /// The metadata is freed only after the TDI stopped (when it was locked) and its DMA
    /// and MMIO were taken back; a failure leaks it. MMIO is given back to the host only
    /// once the private mapping is gone.
    fn needs(self) -> &'static [Self] {
        match self {
            Self::UnmapPrivateMmio | Self::ClearTrustedDma => &[Self::Stop],
            Self::FreeMmioMt => &[Self::Stop, Self::UnmapPrivateMmio, Self::ClearTrustedDma],
            Self::FreeDevif => &[Self::Stop, Self::ClearTrustedDma, Self::FreeMmioMt],
            Self::FreeDevifMt => &[Self::FreeDevif],
            Self::RestoreMmio => &[Self::UnmapPrivateMmio],
            _ => &[],
        }
    }

    /// None: no provisional step has a published leaf.
    fn leaf(self) -> Option<Leaf> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::order::{Phase, Sequencer, StepResult};
    use super::*;

    #[test]
    fn no_numbers() {
        assert!(TdiLeaf::ALL.iter().all(|l| l.number().is_none()));
    }

    #[test]
    fn lock_failure_frees_in_reverse() {
        let mut s = Sequencer::<BindStep>::new();
        for st in [
            BindStep::CreateDevifMt,
            BindStep::CreateDevif,
            BindStep::CreateMmioMt,
        ] {
            s = s.complete(st, StepResult::Ok).unwrap();
        }
        s = s.complete(BindStep::Lock, StepResult::Failed).unwrap();
        let mut seen = [None; 3];
        for slot in &mut seen {
            let st = s.next().unwrap();
            *slot = Some(st);
            s = s.complete(st, StepResult::Ok).unwrap();
        }
        assert_eq!(
            seen,
            [
                Some(BindStep::FreeMmioMt),
                Some(BindStep::FreeDevif),
                Some(BindStep::FreeDevifMt)
            ]
        );
        assert_eq!(s.phase(), Phase::RolledBack);
    }
}
