// SPDX-License-Identifier: GPL-2.0

//! The pages the host handed to the module, by HPA, and the module's reads of the
//! host's pages. Every access goes through [`FwMemory`] (the conduit's memory interface
//! in a real setup, [`super::PageMemory`] in tests); the model keeps no pointer.
//!
//! A page handed over as metadata (an extension pool page, IOMMU_MT, SPDM_MT, IDE_MT) is
//! the module's until the leaf that releases it: handing it over again, or naming it
//! as a message, config or root page meanwhile, is refused. Root pages of
//! `HPA_ARRAY_T`/`HPA_LIST_INFO` and the message, config and dev-info pages are read
//! or written during the call and stay the host's.
//!
//! Unconfirmed: whether the module keeps the root page of an `HPA_ARRAY_T` (the sheet
//! says only that it never keeps an `HPA_LIST_INFO` root, §3); the model does not, so
//! the host may reuse it as the release buffer of the DELETE.

use std::collections::{BTreeMap, BTreeSet};

use tsm_proto::tdx::hpa::read_root_page;
use tsm_proto::tdx::{page_pa_ok, HpaArray, HpaListInfo, MAX_ENTRIES, PAGE_SIZE};

use super::FwMemory;
use super::{refuse, Refusal};

/// Who holds a page the module owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// The extension memory pool (never returned, §1).
    Pool,
    /// The IOMMU_MT of the IOMMU with this ID.
    IommuMt(u64),
    /// The SPDM_MT of this SPDM object.
    SpdmMt(u64),
    /// The IDE_MT of this stream (SPDM_ID, stream ID).
    IdeMt(u64, u64),
    /// Provisional: the metadata page of a device interface (its FUNCTION_ID).
    Devif(u64),
}

/// The pages the module owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pages {
    owned: BTreeMap<u64, Owner>,
}

impl Pages {
    /// Every owned page.
    pub fn all(&self) -> &BTreeMap<u64, Owner> {
        &self.owned
    }

    /// Whether `pa` is owned.
    pub fn owns(&self, pa: u64) -> bool {
        self.owned.contains_key(&pa)
    }

    /// Checks that `pages` can be handed over: aligned, distinct, none owned already.
    pub fn check_new(&self, pages: &[u64]) -> Result<(), Refusal> {
        let mut seen = BTreeSet::new();
        for pa in pages {
            if !page_pa_ok(*pa) {
                return Err(refuse("metadata page not page-aligned"));
            }
            if self.owns(*pa) || !seen.insert(*pa) {
                return Err(refuse("metadata page already the module's"));
            }
        }
        Ok(())
    }

    /// Takes `pages` for `owner` (after [`Self::check_new`]).
    pub fn claim(&mut self, pages: &[u64], owner: Owner) {
        for pa in pages {
            self.owned.insert(*pa, owner);
        }
    }

    /// Releases every page of `owner`; returns them in address order.
    pub fn release(&mut self, owner: Owner) -> Vec<u64> {
        let pages: Vec<u64> = self
            .owned
            .iter()
            .filter(|(_, o)| **o == owner)
            .map(|(pa, _)| *pa)
            .collect();
        for pa in &pages {
            self.owned.remove(pa);
        }
        pages
    }

    /// A host page the module may read or write (a message, config, root or output
    /// page): aligned and not the module's.
    pub fn host_page(&self, pa: u64) -> Result<u64, Refusal> {
        if !page_pa_ok(pa) {
            return Err(refuse("host page not page-aligned"));
        }
        if self.owns(pa) {
            return Err(refuse("host page is the module's"));
        }
        Ok(pa)
    }

    /// The pages of `array`: the singleton page, or the entries of its root page.
    pub fn read_array(&self, mem: &mut dyn FwMemory, array: HpaArray) -> Result<Vec<u64>, Refusal> {
        if !array.has_root() {
            return Ok(vec![array.pa]);
        }
        let root = read_page(mem, self.host_page(array.pa)?)?;
        let mut out = vec![0u64; MAX_ENTRIES];
        let n = read_root_page(&root, usize::from(array.count), &mut out)
            .map_err(|_| refuse("root page entry invalid"))?;
        out.truncate(n);
        Ok(out)
    }

    /// The pages of `list` from its cursor on.
    pub fn read_list(
        &self,
        mem: &mut dyn FwMemory,
        list: HpaListInfo,
    ) -> Result<Vec<u64>, Refusal> {
        if list.first >= list.count {
            return Err(refuse("HPA_LIST_INFO cursor past the list"));
        }
        let root = read_page(mem, self.host_page(list.root)?)?;
        let mut out = vec![0u64; MAX_ENTRIES];
        let n = read_root_page(&root, usize::from(list.count), &mut out)
            .map_err(|_| refuse("root page entry invalid"))?;
        out.truncate(n);
        Ok(out.split_off(usize::from(list.first)))
    }
}

/// The page at `pa`, whole, through the memory interface.
pub fn read_page(mem: &mut dyn FwMemory, pa: u64) -> Result<Vec<u8>, Refusal> {
    let mut page = vec![0u8; PAGE_SIZE];
    mem.read(pa, &mut page)
        .map_err(|_| refuse("page not reachable"))?;
    Ok(page)
}

/// Writes `data` at `pa` (within one page), through the memory interface.
pub fn write_page(mem: &mut dyn FwMemory, pa: u64, data: &[u8]) -> Result<(), Refusal> {
    if data.len() > PAGE_SIZE {
        return Err(refuse("output larger than a page"));
    }
    mem.write(pa, data)
        .map_err(|_| refuse("page not reachable"))
}
