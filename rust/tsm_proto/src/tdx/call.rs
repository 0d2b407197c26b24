// SPDX-License-Identifier: GPL-2.0

//! One input type per published leaf, with its register marshalling (`regs()`) and a
//! decoder for a module model (`decode`), and the outputs the host decodes (§1 table).
//!
//! Every `regs()` sets RAX to the leaf value and the inputs in the registers §1 gives;
//! registers a leaf does not use are zero, and every decoder refuses a nonzero one, so
//! `decode(regs())` is the identity and a model notices a marshalling slip. "All-ones"
//! (SPDM.MNG's absent parameter and output) is `u64::MAX`.

use super::super::codec::{Error, Result};
use super::fields::{FunctionId, StreamControl, StreamInfo};
use super::hpa::{HpaArray, HpaListInfo, ReleaseBuffer};
use super::leaf::{Leaf, LeafValue, Regs};
use super::{page_pa_ok, PAGE_SIZE};

/// The register value SPDM.MNG takes for "no parameter page" / "no output" (§1).
pub const ALL_ONES: u64 = u64::MAX;

fn page(field: &'static str, pa: u64) -> Result<u64> {
    if page_pa_ok(pa) {
        Ok(pa)
    } else {
        Err(Error::InvalidField { field, value: pa })
    }
}

fn unused(r: &Regs, n: usize) -> Result<()> {
    if r.unused_zero(n) {
        Ok(())
    } else {
        Err(Error::InvalidField {
            field: "tdx.unused_register",
            value: n as u64,
        })
    }
}

wire_enum! {
    /// The op of TDH.IDE.STREAM.KM (R8; §1).
    pub enum KmOp(u8, "tdx.km_op") decode from_u8 encode to_u8 {
        /// Program keys into RP and EP and enable the RP stream.
        Setup = 0,
        /// Refresh the keys.
        Refresh = 1,
        /// Stop the stream's keys.
        Stop = 2,
    }
}

wire_enum! {
    /// The op of TDH.SPDM.MNG (RDX; §1). The values come from the tdx-host driver's enum;
    /// Yilun keeps op codes in the driver.
    pub enum MngOp(u8, "tdx.mng_op") decode from_u8 encode to_u8 {
        /// SPDM HEARTBEAT.
        Heartbeat = 0,
        /// SPDM KEY_UPDATE (also the answer to KEY_REQUIRE_REFRESH; §2).
        KeyUpdate = 1,
        /// Recollect the device information.
        DevInfoRecollection = 2,
    }
}

fn code_u8(space: &'static str, v: u64) -> Result<u8> {
    u8::try_from(v).map_err(|_| Error::UnknownCode { space, value: v })
}

/// TDH.SYS.CONFIG v1 (45, RAX 0x1002D; §1): RCX the PA of the TDMR PA array, RDX the
/// number of TDMRs, R8 the global KeyID, R9 the feature opt-in bitmap (TDX_FEATURES0
/// layout: bit 6 TDX Connect), R11 wall-clock seconds. Issue v1 only when TDX_FEATURES0
/// bit 6 is set: old modules reject it (V1 review).
///
/// Unconfirmed: R11 is required by the current public spec but Intel is removing it
/// (cdrdv2 871617) and Dan asks for 0 (§1). R10 is unused (zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SysConfig {
    /// PA of the TDMR PA array.
    pub tdmr_array_pa: u64,
    /// Number of TDMRs.
    pub tdmr_count: u64,
    /// The global KeyID.
    pub global_keyid: u64,
    /// R9 feature opt-in bitmap.
    pub features: u64,
    /// R11 wall-clock seconds.
    pub wall_clock: u64,
}

impl SysConfig {
    /// The registers.
    pub fn regs(&self) -> Regs {
        Regs::with(
            Leaf::SysConfig,
            &[
                self.tdmr_array_pa,
                self.tdmr_count,
                self.global_keyid,
                self.features,
                0,
                self.wall_clock,
            ],
        )
    }

    /// Decodes the input registers (RAX already matched).
    pub fn decode(r: &Regs) -> Result<Self> {
        if r.r10 != 0 {
            return Err(Error::InvalidField {
                field: "tdx.sys_config.r10",
                value: r.r10,
            });
        }
        unused(r, 6)?;
        Ok(Self {
            tdmr_array_pa: r.rcx,
            tdmr_count: r.rdx,
            global_keyid: r.r8,
            features: r.r9,
            wall_clock: r.r11,
        })
    }
}

/// TDH.EXT.MEM.ADD (61; §1): RCX the `HPA_LIST_INFO` of at most 512 pages. On
/// INTERRUPTED_RESUMABLE the leaf is re-issued with the *output* RCX. The pages are never
/// returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtMemAdd {
    /// The pages to add.
    pub list: HpaListInfo,
}

impl ExtMemAdd {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(Leaf::ExtMemAdd, &[self.list.encode()?]))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 1)?;
        Ok(Self {
            list: HpaListInfo::decode(r.rcx)?,
        })
    }
}

/// TDH.IOMMU.SETUP (128; §1): RCX the VT-d register base (the DRHD's `reg_base_addr`),
/// RDX the raw PA of the IOMMU_MT root page (no count field). Outputs RCX = IOMMU_ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IommuSetup {
    /// The VT-d register base.
    pub reg_base: u64,
    /// The IOMMU_MT root page ([`super::IommuMt`]).
    pub iommu_mt: u64,
}

impl IommuSetup {
    /// The registers; an IOMMU_MT that is not a page address is an [`Error::InvalidField`].
    pub fn regs(&self) -> Result<Regs> {
        let mt = page("tdx.iommu_mt", self.iommu_mt)?;
        Ok(Regs::with(Leaf::IommuSetup, &[self.reg_base, mt]))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 2)?;
        Ok(Self {
            reg_base: r.rcx,
            iommu_mt: page("tdx.iommu_mt", r.rdx)?,
        })
    }
}

/// TDH.IOMMU.CLEAR (129; §1): RCX the IOMMU_ID, RDX the same IOMMU_MT root PA as SETUP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IommuClear {
    /// The IOMMU_ID SETUP returned.
    pub iommu_id: u64,
    /// The IOMMU_MT root page given to SETUP.
    pub iommu_mt: u64,
}

impl IommuClear {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        let mt = page("tdx.iommu_mt", self.iommu_mt)?;
        Ok(Regs::with(Leaf::IommuClear, &[self.iommu_id, mt]))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 2)?;
        Ok(Self {
            iommu_id: r.rcx,
            iommu_mt: page("tdx.iommu_mt", r.rdx)?,
        })
    }
}

/// TDH.SPDM.CREATE (130; §1): RCX the FUNCTION_ID, RDX the `HPA_ARRAY_T` of SPDM_MT
/// (SPDM_MT_PAGE_COUNT pages). Outputs RCX = SPDM_ID. A plain call, not an extension one.
///
/// Unconfirmed: the ITDX variant passes SPDM_MT as an `HPA_LIST_INFO` (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmCreate {
    /// The device's PF0.
    pub function: FunctionId,
    /// SPDM_MT.
    pub spdm_mt: HpaArray,
}

impl SpdmCreate {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(
            Leaf::SpdmCreate,
            &[self.function.encode(), self.spdm_mt.encode()?],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 2)?;
        Ok(Self {
            function: FunctionId::decode(r.rcx)?,
            spdm_mt: HpaArray::decode(r.rdx)?,
        })
    }
}

/// TDH.SPDM.DELETE (131; §1): RCX the SPDM_ID, RDX the release buffer. Outputs RCX = the
/// `HPA_ARRAY_T` of the released pages. V2-rework ignores the output; Dan asks that
/// success mean every page is freed.
///
/// Unconfirmed: the ITDX variant takes the SPDM_ID only (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmDelete {
    /// The SPDM object.
    pub spdm_id: u64,
    /// Where the module writes the released list.
    pub release: ReleaseBuffer,
}

impl SpdmDelete {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(
            Leaf::SpdmDelete,
            &[self.spdm_id, self.release.encode()?],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 2)?;
        Ok(Self {
            spdm_id: r.rcx,
            release: ReleaseBuffer::decode(r.rdx)?,
        })
    }
}

/// TDH.IDE.STREAM.CREATE (132; §1): RCX stream_info, RDX SPDM_ID, R8 the `HPA_ARRAY_T` of
/// IDE_MT, R9 the Selective IDE Stream Control value, R10/R11 RID association 1/2,
/// R12/R13/R14 address association 1/2/3. Outputs RCX = stream ID, RDX = RP IDE id. The
/// module configures the root port's IDE registers (`seamcall_saved_ret`).
///
/// The association values are the root port's register values from
/// `pci_ide_stream_to_regs()`, with the memory association the full range {0, ~0};
/// exactly one address-association block (§3).
///
/// Unconfirmed: the ITDX variant has a one-page IDE_MT and returns only a stream ID (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdeStreamCreate {
    /// Root port and stream type.
    pub stream_info: StreamInfo,
    /// The SPDM object.
    pub spdm_id: u64,
    /// IDE_MT.
    pub ide_mt: HpaArray,
    /// Stream control.
    pub control: StreamControl,
    /// RID association registers 1 and 2.
    pub rid_assoc: [u32; 2],
    /// Address association registers 1, 2 and 3.
    pub addr_assoc: [u32; 3],
}

fn reg_u32(field: &'static str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::InvalidField { field, value: v })
}

impl IdeStreamCreate {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        let [r1, r2] = self.rid_assoc;
        let [a1, a2, a3] = self.addr_assoc;
        Ok(Regs::with(
            Leaf::IdeStreamCreate,
            &[
                self.stream_info.encode(),
                self.spdm_id,
                self.ide_mt.encode()?,
                u64::from(self.control.0),
                u64::from(r1),
                u64::from(r2),
                u64::from(a1),
                u64::from(a2),
                u64::from(a3),
            ],
        ))
    }

    /// Decodes the input registers; an association value above 32 bits is an
    /// [`Error::InvalidField`].
    pub fn decode(r: &Regs) -> Result<Self> {
        let assoc = |v| reg_u32("tdx.ide_stream.assoc", v);
        Ok(Self {
            stream_info: StreamInfo::decode(r.rcx)?,
            spdm_id: r.rdx,
            ide_mt: HpaArray::decode(r.r8)?,
            control: StreamControl::decode(r.r9)?,
            rid_assoc: [assoc(r.r10)?, assoc(r.r11)?],
            addr_assoc: [assoc(r.r12)?, assoc(r.r13)?, assoc(r.r14)?],
        })
    }
}

/// TDH.IDE.STREAM.BLOCK (133; §1): RCX SPDM_ID, RDX stream ID. Clears the root port's IDE
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdeStreamBlock {
    /// The SPDM object.
    pub spdm_id: u64,
    /// The stream CREATE returned.
    pub stream_id: u64,
}

impl IdeStreamBlock {
    /// The registers.
    pub fn regs(&self) -> Regs {
        Regs::with(Leaf::IdeStreamBlock, &[self.spdm_id, self.stream_id])
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 2)?;
        Ok(Self {
            spdm_id: r.rcx,
            stream_id: r.rdx,
        })
    }
}

/// TDH.IDE.STREAM.DELETE (134; §1): RCX SPDM_ID, RDX stream ID, R8 the release buffer (as
/// for SPDM.DELETE). Outputs RCX = the released `HPA_ARRAY_T`.
///
/// Unconfirmed: the ITDX variant takes no release buffer (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdeStreamDelete {
    /// The SPDM object.
    pub spdm_id: u64,
    /// The stream.
    pub stream_id: u64,
    /// Where the module writes the released list.
    pub release: ReleaseBuffer,
}

impl IdeStreamDelete {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(
            Leaf::IdeStreamDelete,
            &[self.spdm_id, self.stream_id, self.release.encode()?],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 3)?;
        Ok(Self {
            spdm_id: r.rcx,
            stream_id: r.rdx,
            release: ReleaseBuffer::decode(r.r8)?,
        })
    }
}

/// TDH.IDE.STREAM.KM (135; §1): RCX SPDM_ID, RDX stream ID, R8 the [`KmOp`], R9 the
/// response page, R10 the request page. Outputs RCX = request length (on SPDM_REQUEST).
/// Runs the DOE relay loop.
///
/// Unconfirmed: the ITDX variant has no IDE.STREAM.KM step at all (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdeStreamKm {
    /// The SPDM object.
    pub spdm_id: u64,
    /// The stream.
    pub stream_id: u64,
    /// SETUP, REFRESH or STOP.
    pub op: KmOp,
    /// The response page (`in_msg`).
    pub response: u64,
    /// The request page (`out_msg`).
    pub request: u64,
}

impl IdeStreamKm {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(
            Leaf::IdeStreamKm,
            &[
                self.spdm_id,
                self.stream_id,
                u64::from(self.op.to_u8()),
                page("tdx.response_page", self.response)?,
                page("tdx.request_page", self.request)?,
            ],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 5)?;
        Ok(Self {
            spdm_id: r.rcx,
            stream_id: r.rdx,
            op: KmOp::from_u8(code_u8("tdx.km_op", r.r8)?)?,
            response: page("tdx.response_page", r.r9)?,
            request: page("tdx.request_page", r.r10)?,
        })
    }
}

/// TDH.SPDM.CONNECT (142, extension SEAMCALL; §1): RCX SPDM_ID, RDX the config page
/// ([`super::ConnectConfig`]), R8 the response page, R9 the request page, R10 the
/// `HPA_ARRAY_T` of the dev-info output (SPDM_MAX_DEV_INFO_PAGES pages). Outputs RCX =
/// the request length on SPDM_REQUEST, the dev-info size on SUCCESS.
///
/// Unconfirmed: the ITDX variant passes dev-info as an `HPA_LIST_INFO` (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmConnect {
    /// The SPDM object.
    pub spdm_id: u64,
    /// The config page.
    pub config: u64,
    /// The response page (`in_msg`).
    pub response: u64,
    /// The request page (`out_msg`).
    pub request: u64,
    /// The dev-info output pages.
    pub dev_info: HpaArray,
}

impl SpdmConnect {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(
            Leaf::SpdmConnect,
            &[
                self.spdm_id,
                page("tdx.config_page", self.config)?,
                page("tdx.response_page", self.response)?,
                page("tdx.request_page", self.request)?,
                self.dev_info.encode()?,
            ],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 5)?;
        Ok(Self {
            spdm_id: r.rcx,
            config: page("tdx.config_page", r.rdx)?,
            response: page("tdx.response_page", r.r8)?,
            request: page("tdx.request_page", r.r9)?,
            dev_info: HpaArray::decode(r.r10)?,
        })
    }
}

/// TDH.SPDM.DISCONNECT (143, extension SEAMCALL; §1): RCX SPDM_ID, RDX the response page,
/// R8 the request page. Outputs RCX = request length (on SPDM_REQUEST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmDisconnect {
    /// The SPDM object.
    pub spdm_id: u64,
    /// The response page.
    pub response: u64,
    /// The request page.
    pub request: u64,
}

impl SpdmDisconnect {
    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        Ok(Regs::with(
            Leaf::SpdmDisconnect,
            &[
                self.spdm_id,
                page("tdx.response_page", self.response)?,
                page("tdx.request_page", self.request)?,
            ],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 3)?;
        Ok(Self {
            spdm_id: r.rcx,
            response: page("tdx.response_page", r.rdx)?,
            request: page("tdx.request_page", r.r8)?,
        })
    }
}

/// TDH.SPDM.MNG (144, extension SEAMCALL; §1): RCX SPDM_ID, RDX the [`MngOp`], R8 the
/// parameter page or all-ones, R9 the response page, R10 the request page, R11 the
/// `HPA_ARRAY_T` output or all-ones. Outputs RCX = request length (SPDM_REQUEST) or
/// output length (SUCCESS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmMng {
    /// The SPDM object.
    pub spdm_id: u64,
    /// HEARTBEAT, KEY_UPDATE or DEV_INFO_RECOLLECTION.
    pub op: MngOp,
    /// The parameter page, if any.
    pub param: Option<u64>,
    /// The response page.
    pub response: u64,
    /// The request page.
    pub request: u64,
    /// The output pages, if any.
    pub output: Option<HpaArray>,
}

impl SpdmMng {
    /// The KEY_UPDATE call that answers KEY_REQUIRE_REFRESH for the session `spdm_id`,
    /// with the message pages of the call being refreshed (§2).
    ///
    /// Unconfirmed: the sheet does not say which pages the refresh uses; reusing the
    /// interrupted call's pages is safe because that call is suspended meanwhile.
    pub const fn key_update(spdm_id: u64, response: u64, request: u64) -> Self {
        Self {
            spdm_id,
            op: MngOp::KeyUpdate,
            param: None,
            response,
            request,
            output: None,
        }
    }

    /// The registers.
    pub fn regs(&self) -> Result<Regs> {
        let param = match self.param {
            Some(pa) => page("tdx.mng.param", pa)?,
            None => ALL_ONES,
        };
        let output = match self.output {
            Some(a) => a.encode()?,
            None => ALL_ONES,
        };
        Ok(Regs::with(
            Leaf::SpdmMng,
            &[
                self.spdm_id,
                u64::from(self.op.to_u8()),
                param,
                page("tdx.response_page", self.response)?,
                page("tdx.request_page", self.request)?,
                output,
            ],
        ))
    }

    /// Decodes the input registers.
    pub fn decode(r: &Regs) -> Result<Self> {
        unused(r, 6)?;
        Ok(Self {
            spdm_id: r.rcx,
            op: MngOp::from_u8(code_u8("tdx.mng_op", r.rdx)?)?,
            param: match r.r8 {
                ALL_ONES => None,
                pa => Some(page("tdx.mng.param", pa)?),
            },
            response: page("tdx.response_page", r.r9)?,
            request: page("tdx.request_page", r.r10)?,
            output: match r.r11 {
                ALL_ONES => None,
                v => Some(HpaArray::decode(v)?),
            },
        })
    }
}

/// The input of any published leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// TDH.SYS.CONFIG v1.
    SysConfig(SysConfig),
    /// TDH.EXT.INIT: no inputs (§1).
    ExtInit,
    /// TDH.EXT.MEM.ADD.
    ExtMemAdd(ExtMemAdd),
    /// TDH.IOMMU.SETUP.
    IommuSetup(IommuSetup),
    /// TDH.IOMMU.CLEAR.
    IommuClear(IommuClear),
    /// TDH.SPDM.CREATE.
    SpdmCreate(SpdmCreate),
    /// TDH.SPDM.DELETE.
    SpdmDelete(SpdmDelete),
    /// TDH.IDE.STREAM.CREATE.
    IdeStreamCreate(IdeStreamCreate),
    /// TDH.IDE.STREAM.BLOCK.
    IdeStreamBlock(IdeStreamBlock),
    /// TDH.IDE.STREAM.DELETE.
    IdeStreamDelete(IdeStreamDelete),
    /// TDH.IDE.STREAM.KM.
    IdeStreamKm(IdeStreamKm),
    /// TDH.SPDM.CONNECT.
    SpdmConnect(SpdmConnect),
    /// TDH.SPDM.DISCONNECT.
    SpdmDisconnect(SpdmDisconnect),
    /// TDH.SPDM.MNG.
    SpdmMng(SpdmMng),
}

impl Input {
    /// The leaf.
    pub const fn leaf(&self) -> Leaf {
        match self {
            Self::SysConfig(_) => Leaf::SysConfig,
            Self::ExtInit => Leaf::ExtInit,
            Self::ExtMemAdd(_) => Leaf::ExtMemAdd,
            Self::IommuSetup(_) => Leaf::IommuSetup,
            Self::IommuClear(_) => Leaf::IommuClear,
            Self::SpdmCreate(_) => Leaf::SpdmCreate,
            Self::SpdmDelete(_) => Leaf::SpdmDelete,
            Self::IdeStreamCreate(_) => Leaf::IdeStreamCreate,
            Self::IdeStreamBlock(_) => Leaf::IdeStreamBlock,
            Self::IdeStreamDelete(_) => Leaf::IdeStreamDelete,
            Self::IdeStreamKm(_) => Leaf::IdeStreamKm,
            Self::SpdmConnect(_) => Leaf::SpdmConnect,
            Self::SpdmDisconnect(_) => Leaf::SpdmDisconnect,
            Self::SpdmMng(_) => Leaf::SpdmMng,
        }
    }

    /// The registers of the call.
    pub fn regs(&self) -> Result<Regs> {
        match self {
            Self::SysConfig(i) => Ok(i.regs()),
            Self::ExtInit => Ok(Regs::with(Leaf::ExtInit, &[])),
            Self::ExtMemAdd(i) => i.regs(),
            Self::IommuSetup(i) => i.regs(),
            Self::IommuClear(i) => i.regs(),
            Self::SpdmCreate(i) => i.regs(),
            Self::SpdmDelete(i) => i.regs(),
            Self::IdeStreamCreate(i) => i.regs(),
            Self::IdeStreamBlock(i) => Ok(i.regs()),
            Self::IdeStreamDelete(i) => i.regs(),
            Self::IdeStreamKm(i) => i.regs(),
            Self::SpdmConnect(i) => i.regs(),
            Self::SpdmDisconnect(i) => i.regs(),
            Self::SpdmMng(i) => i.regs(),
        }
    }

    /// Decodes a call as a module model receives it: RAX must be a known leaf at the
    /// version this module issues it ([`Leaf::version`]; another version is an
    /// [`Error::UnsupportedVersion`]), then the leaf's inputs.
    pub fn decode(r: &Regs) -> Result<Self> {
        let v = LeafValue::decode(r.rax)?;
        if v.version != v.leaf.version() {
            return Err(Error::UnsupportedVersion { version: v.version });
        }
        Ok(match v.leaf {
            Leaf::SysConfig => Self::SysConfig(SysConfig::decode(r)?),
            Leaf::ExtInit => {
                unused(r, 0)?;
                Self::ExtInit
            }
            Leaf::ExtMemAdd => Self::ExtMemAdd(ExtMemAdd::decode(r)?),
            Leaf::IommuSetup => Self::IommuSetup(IommuSetup::decode(r)?),
            Leaf::IommuClear => Self::IommuClear(IommuClear::decode(r)?),
            Leaf::SpdmCreate => Self::SpdmCreate(SpdmCreate::decode(r)?),
            Leaf::SpdmDelete => Self::SpdmDelete(SpdmDelete::decode(r)?),
            Leaf::IdeStreamCreate => Self::IdeStreamCreate(IdeStreamCreate::decode(r)?),
            Leaf::IdeStreamBlock => Self::IdeStreamBlock(IdeStreamBlock::decode(r)?),
            Leaf::IdeStreamDelete => Self::IdeStreamDelete(IdeStreamDelete::decode(r)?),
            Leaf::IdeStreamKm => Self::IdeStreamKm(IdeStreamKm::decode(r)?),
            Leaf::SpdmConnect => Self::SpdmConnect(SpdmConnect::decode(r)?),
            Leaf::SpdmDisconnect => Self::SpdmDisconnect(SpdmDisconnect::decode(r)?),
            Leaf::SpdmMng => Self::SpdmMng(SpdmMng::decode(r)?),
        })
    }

    /// The message pages `(response, request)` of a relaying leaf.
    pub const fn message_pages(&self) -> Option<(u64, u64)> {
        match self {
            Self::IdeStreamKm(i) => Some((i.response, i.request)),
            Self::SpdmConnect(i) => Some((i.response, i.request)),
            Self::SpdmDisconnect(i) => Some((i.response, i.request)),
            Self::SpdmMng(i) => Some((i.response, i.request)),
            _ => None,
        }
    }

    /// The SPDM_ID the call works on, if any.
    pub const fn spdm_id(&self) -> Option<u64> {
        match self {
            Self::SpdmDelete(i) => Some(i.spdm_id),
            Self::IdeStreamCreate(i) => Some(i.spdm_id),
            Self::IdeStreamBlock(i) => Some(i.spdm_id),
            Self::IdeStreamDelete(i) => Some(i.spdm_id),
            Self::IdeStreamKm(i) => Some(i.spdm_id),
            Self::SpdmConnect(i) => Some(i.spdm_id),
            Self::SpdmDisconnect(i) => Some(i.spdm_id),
            Self::SpdmMng(i) => Some(i.spdm_id),
            _ => None,
        }
    }
}

/// What a leaf returns on TDX_SUCCESS, decoded from RCX/RDX (§1 outputs column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// No output (SYS.CONFIG, EXT.INIT, EXT.MEM.ADD, IOMMU.CLEAR, STREAM.BLOCK,
    /// STREAM.KM, SPDM.DISCONNECT, and SPDM.MNG without an output array).
    None,
    /// IOMMU.SETUP: RCX = IOMMU_ID.
    IommuId(u64),
    /// SPDM.CREATE: RCX = SPDM_ID.
    SpdmId(u64),
    /// SPDM.DELETE, IDE.STREAM.DELETE: RCX = the released `HPA_ARRAY_T`.
    Released(HpaArray),
    /// IDE.STREAM.CREATE: RCX = stream ID, RDX = RP IDE id.
    Stream {
        /// The stream ID.
        stream_id: u64,
        /// The root port's IDE id.
        rp_ide_id: u64,
    },
    /// SPDM.CONNECT: RCX = the dev-info size in bytes; the host copies that many bytes
    /// out of the dev-info pages (§2).
    DevInfo(usize),
    /// SPDM.MNG with an output array: RCX = the output length in bytes.
    MngOutput(usize),
}

/// A byte count the module reports for `pages` pages of output; more than fits is an
/// [`Error::LengthMismatch`].
fn output_len(field: &'static str, v: u64, pages: u16) -> Result<usize> {
    let cap = usize::from(pages).saturating_mul(PAGE_SIZE);
    match usize::try_from(v) {
        Ok(n) if n <= cap => Ok(n),
        _ => Err(Error::LengthMismatch {
            field,
            declared: usize::try_from(v).unwrap_or(usize::MAX),
            actual: cap,
        }),
    }
}

impl Output {
    /// Decodes the outputs of a successful `input`.
    ///
    /// Unconfirmed: the sheet gives no EXT.MEM.ADD output on SUCCESS (only on
    /// RESUMABLE), so RCX is ignored then; likewise for SPDM.MNG without an output array.
    pub fn decode(input: &Input, rcx: u64, rdx: u64) -> Result<Self> {
        Ok(match input {
            Input::IommuSetup(_) => Self::IommuId(rcx),
            Input::SpdmCreate(_) => Self::SpdmId(rcx),
            Input::SpdmDelete(_) | Input::IdeStreamDelete(_) => {
                Self::Released(HpaArray::decode(rcx)?)
            }
            Input::IdeStreamCreate(_) => Self::Stream {
                stream_id: rcx,
                rp_ide_id: rdx,
            },
            Input::SpdmConnect(c) => {
                Self::DevInfo(output_len("tdx.dev_info_size", rcx, c.dev_info.count)?)
            }
            Input::SpdmMng(SpdmMng {
                output: Some(a), ..
            }) => Self::MngOutput(output_len("tdx.mng_output", rcx, a.count)?),
            _ => Self::None,
        })
    }

    /// The registers `(RCX, RDX)` a module model returns for this output.
    pub fn encode(self) -> Result<(u64, u64)> {
        Ok(match self {
            Self::None => (0, 0),
            Self::IommuId(v) | Self::SpdmId(v) => (v, 0),
            Self::Released(a) => (a.encode()?, 0),
            Self::Stream {
                stream_id,
                rp_ide_id,
            } => (stream_id, rp_ide_id),
            Self::DevInfo(n) | Self::MngOutput(n) => (n as u64, 0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mng_all_ones() {
        let m = SpdmMng {
            spdm_id: 3,
            op: MngOp::Heartbeat,
            param: None,
            response: 0x2000,
            request: 0x3000,
            output: None,
        };
        let r = m.regs().unwrap();
        assert_eq!((r.r8, r.r11), (u64::MAX, u64::MAX));
        assert_eq!(Input::decode(&r), Ok(Input::SpdmMng(m)));
    }

    #[test]
    fn stray_register_refused() {
        let mut r = IdeStreamBlock {
            spdm_id: 1,
            stream_id: 2,
        }
        .regs();
        r.r8 = 1;
        assert!(Input::decode(&r).is_err());
    }
}
