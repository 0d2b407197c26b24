// SPDX-License-Identifier: GPL-2.0

//! Platform enable from the module's side (§1, §4 "Platform enable"): TDH.SYS.CONFIG
//! v1 opting in to TDX Connect, the extension memory pool (EXT.MEM.ADD) and its
//! initialisation (EXT.INIT), and the IOMMUs (IOMMU.SETUP/CLEAR).
//!
//! The TDMRs, KeyIDs and the wall clock of SYS.CONFIG are not modelled: the model
//! takes them as given and records only the opt-in (R9 bit 6).

use log::info;
use tsm_proto::tdx::fields::metadata;
use tsm_proto::tdx::hpa::decode_iommu_mt;
use tsm_proto::tdx::{ExtMemAdd, IommuClear, IommuSetup, Output, SysConfig, MAX_ENTRIES};

use super::pages::{read_page, Owner};
use super::{done, refuse, FwMemory, Reply, TdxModule};

/// An IOMMU under the module.
pub(super) struct IommuRec {
    /// The VT-d register base.
    pub(super) reg_base: u64,
    /// The IOMMU_MT root page SETUP named (CLEAR must name it again).
    pub(super) mt_root: u64,
}

impl TdxModule {
    /// TDH.SYS.CONFIG v1: once only. R9 bit 6 opts in to TDX Connect, which the module
    /// must report in TDX_FEATURES0; bit 39 (EXT) has no effect (§1).
    ///
    /// Unconfirmed: the status of a second SYS.CONFIG and of an opt-in the module does
    /// not support (OPERAND_INVALID here); bits of R9 other than 6 and 39 are ignored.
    pub(super) fn sys_config(&mut self, i: SysConfig) -> Reply {
        if self.configured.is_some() {
            return Err(refuse("SYS.CONFIG already ran"));
        }
        let connect = i.features & metadata::FEATURES0_TDX_CONNECT != 0;
        if connect && self.cfg.features0 & metadata::FEATURES0_TDX_CONNECT == 0 {
            return Err(refuse("TDX Connect is not a feature of this module"));
        }
        self.configured = Some(connect);
        info!("tdx: SYS.CONFIG (TDX Connect {connect})");
        done(Output::None)
    }

    /// TDH.EXT.MEM.ADD: the pages of the list from its cursor on join the pool (at most
    /// 512, §1). Refused before the opt-in and after EXT.INIT.
    ///
    /// Unconfirmed: whether pages beyond MEMORY_POOL_REQUIRED_PAGES or after EXT.INIT
    /// are accepted; the model accepts the former and refuses the latter.
    pub(super) fn ext_mem_add(&mut self, i: ExtMemAdd, mem: &mut dyn FwMemory) -> Reply {
        if self.configured != Some(true) {
            return Err(refuse("TDX Connect not configured"));
        }
        if self.ext_ready {
            return Err(refuse("extensions already initialised"));
        }
        if usize::from(i.list.count) > MAX_ENTRIES {
            return Err(refuse("more than 512 pages"));
        }
        let pages = self.pages.read_list(mem, i.list)?;
        self.pages.check_new(&pages)?;
        self.pages.claim(&pages, Owner::Pool);
        self.pool += pages.len() as u64;
        info!(
            "tdx: EXT.MEM.ADD {} pages (pool {})",
            pages.len(),
            self.pool
        );
        done(Output::None)
    }

    /// TDH.EXT.INIT: once, after the pool holds MEMORY_POOL_REQUIRED_PAGES (§4 step 3).
    pub(super) fn ext_init(&mut self) -> Reply {
        if self.configured != Some(true) {
            return Err(refuse("TDX Connect not configured"));
        }
        if self.ext_ready {
            return Err(refuse("extensions already initialised"));
        }
        if self.pool < self.cfg.pool_pages {
            return Err(refuse("extension pool smaller than required"));
        }
        self.ext_ready = true;
        info!("tdx: EXT.INIT");
        done(Output::None)
    }

    /// TDH.IOMMU.SETUP: `reg_base` a TDX-capable IOMMU not yet set up (another base is
    /// OPERAND_INVALID, "not TDX-capable", §2); the IOMMU_MT root page holds two
    /// invalidation-queue buffers and IOMMU_MT_PAGE_COUNT pages (§3). The root page, the
    /// buffers' pages and the MT pages become the module's.
    ///
    /// Unconfirmed: whether the module keeps the root page (CLEAR names it again, so the
    /// model does) and whether the page count must be exactly IOMMU_MT_PAGE_COUNT (it
    /// must here).
    pub(super) fn iommu_setup(&mut self, i: IommuSetup, mem: &mut dyn FwMemory) -> Reply {
        self.ready()?;
        if !self.cfg.iommus.contains(&i.reg_base) {
            return Err(refuse("IOMMU not TDX-capable"));
        }
        if self.iommus.values().any(|r| r.reg_base == i.reg_base) {
            return Err(refuse("IOMMU already set up"));
        }
        let root = read_page(mem, self.pages.host_page(i.iommu_mt)?)?;
        let n = usize::from(self.cfg.iommu_mt_pages);
        let mut mt = vec![0u64; n];
        let iq = decode_iommu_mt(&root, n, &mut mt).map_err(|_| refuse("IOMMU_MT invalid"))?;
        let mut pages = vec![i.iommu_mt];
        for b in iq {
            for k in 0..u64::from(b.pages) {
                pages.push(b.pa + k * tsm_proto::tdx::PAGE_SIZE as u64);
            }
        }
        pages.extend_from_slice(&mt);
        if mt.contains(&0) {
            return Err(refuse("IOMMU_MT page entry zero"));
        }
        self.pages.check_new(&pages)?;
        let id = self.new_id();
        self.pages.claim(&pages, Owner::IommuMt(id));
        self.iommus.insert(
            id,
            IommuRec {
                reg_base: i.reg_base,
                mt_root: i.iommu_mt,
            },
        );
        info!("tdx: IOMMU {:#x} set up as {id:#x}", i.reg_base);
        done(Output::IommuId(id))
    }

    /// TDH.IOMMU.CLEAR: the IOMMU_ID SETUP returned, with the same IOMMU_MT root; its
    /// pages return to the host.
    pub(super) fn iommu_clear(&mut self, i: IommuClear) -> Reply {
        let rec = self
            .iommus
            .get(&i.iommu_id)
            .ok_or(refuse("no such IOMMU_ID"))?;
        if rec.mt_root != i.iommu_mt {
            return Err(refuse("not the IOMMU_MT of SETUP"));
        }
        self.iommus.remove(&i.iommu_id);
        self.pages.release(Owner::IommuMt(i.iommu_id));
        info!("tdx: IOMMU {:#x} cleared", i.iommu_id);
        done(Output::None)
    }
}
