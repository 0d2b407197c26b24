// SPDX-License-Identifier: GPL-2.0

//! What the PSP may touch: the RMP stand-in (which pages the host made
//! firmware-owned, and which of those a context holds) and the buffers an SLA names,
//! read and written through the conduit's memory ([`FwMemory`]) by the addresses the
//! PSP sees.
//!
//! On SNP the host makes a page firmware-owned with `rmp_make_private(pfn, 0, 4K,
//! asid 0, immutable)` and takes it back with SNP_PAGE_RECLAIM and `rmp_make_shared`
//! (fact sheet §4). Those are a CPU instruction and an SNP command, not TIO commands, so
//! the model has no ABI for them: [`Rmp::make_firmware`] and [`Rmp::make_shared`] are
//! stand-ins the host calls over the conduit (`tsm_proto::tio::standin`, served by
//! `conduit::serve_psp_one`). The ABI's assignment (§4), which the model
//! enforces: dev_ctx, tdi_ctx, the req, scratch and output buffers and every status
//! page are firmware-owned; the resp buffer and the scatter page of a scatter SLA are
//! hypervisor-owned.
//!
//! Which status a refusal gets is unconfirmed: the model answers a page in the wrong
//! RMP state with INVALID_PAGE_STATE, and an address the conduit does not reach (the
//! host did not hand the page over) with INVALID_PARAM.

use std::collections::{BTreeMap, BTreeSet};

use tsm_proto::tio::sla::ScatterList;
use tsm_proto::tio::{Sla, Status, PAGE_SIZE};

use crate::fw::rmm::FwMemory;

/// The page size as a `u64`.
pub const PAGE: u64 = PAGE_SIZE as u64;

/// A refusal: the status and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The status returned.
    pub status: Status,
    /// Why (for the log).
    pub why: &'static str,
}

impl Refusal {
    /// `status` for `why`.
    pub const fn new(status: Status, why: &'static str) -> Self {
        Self { status, why }
    }
}

fn unreachable_page() -> Refusal {
    Refusal::new(Status::InvalidParam, "page not handed over")
}

/// Who may use a page, as the model's RMP keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The page is hypervisor-owned (the default).
    Hypervisor,
    /// Firmware-owned and free.
    Firmware,
    /// Firmware-owned and held by the context at this address.
    Held(u64),
}

/// The RMP stand-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rmp {
    firmware: BTreeSet<u64>,
    held: BTreeMap<u64, u64>,
}

impl Rmp {
    /// The owner of the page holding `pa`.
    pub fn owner(&self, pa: u64) -> Owner {
        let p = pa & !(PAGE - 1);
        match (self.held.get(&p), self.firmware.contains(&p)) {
            (Some(c), _) => Owner::Held(*c),
            (None, true) => Owner::Firmware,
            (None, false) => Owner::Hypervisor,
        }
    }

    /// The host's `rmp_make_private(pfn, 0, 4K, asid 0, immutable)`: the page at `pa`
    /// becomes firmware-owned. A page already firmware-owned is refused.
    pub fn make_firmware(&mut self, pa: u64) -> Result<(), Refusal> {
        if pa % PAGE != 0 || !self.firmware.insert(pa) {
            return Err(Refusal::new(
                Status::InvalidPageState,
                "already firmware-owned",
            ));
        }
        Ok(())
    }

    /// The host's SNP_PAGE_RECLAIM and `rmp_make_shared`: the firmware-owned page at
    /// `pa` goes back to the hypervisor, unless a context holds it (IN_USE,
    /// unconfirmed).
    pub fn make_shared(&mut self, pa: u64) -> Result<(), Refusal> {
        if self.held.contains_key(&pa) {
            return Err(Refusal::new(Status::InUse, "a context holds the page"));
        }
        if !self.firmware.remove(&pa) {
            return Err(Refusal::new(Status::InvalidPageState, "not firmware-owned"));
        }
        Ok(())
    }

    /// Pages firmware-owned, held or not.
    pub fn firmware_pages(&self) -> usize {
        self.firmware.len()
    }

    /// Pages held by contexts.
    pub fn held(&self) -> &BTreeMap<u64, u64> {
        &self.held
    }

    /// Requires every page of `pages` to be firmware-owned and free.
    pub fn require_free(&self, pages: &[u64]) -> Result<(), Refusal> {
        match pages.iter().all(|p| self.owner(*p) == Owner::Firmware) {
            true => Ok(()),
            false => Err(Refusal::new(
                Status::InvalidPageState,
                "a page is not firmware-owned, or held",
            )),
        }
    }

    /// Requires every page of `pages` to be firmware-owned (held by `ctx` or free).
    pub fn require_firmware(&self, pages: &[u64], ctx: u64) -> Result<(), Refusal> {
        let ok = |p: &u64| {
            matches!(self.owner(*p), Owner::Firmware) || self.owner(*p) == Owner::Held(ctx)
        };
        match pages.iter().all(ok) {
            true => Ok(()),
            false => Err(Refusal::new(
                Status::InvalidPageState,
                "a page is not firmware-owned",
            )),
        }
    }

    /// Requires every page of `pages` to be hypervisor-owned.
    pub fn require_hypervisor(&self, pages: &[u64]) -> Result<(), Refusal> {
        match pages.iter().all(|p| self.owner(*p) == Owner::Hypervisor) {
            true => Ok(()),
            false => Err(Refusal::new(
                Status::InvalidPageState,
                "a page is not hypervisor-owned",
            )),
        }
    }

    /// The context at `ctx` holds `pages` (checked free before).
    pub fn hold(&mut self, pages: &[u64], ctx: u64) {
        for p in pages {
            self.held.insert(*p, ctx);
        }
    }

    /// Everything `ctx` holds is free again.
    pub fn release(&mut self, ctx: u64) {
        self.held.retain(|_, c| *c != ctx);
    }
}

/// A buffer an SLA names: its 4 KiB data pages, and the scatter page if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaBuf {
    /// The data pages, in order.
    pub pages: Vec<u64>,
    /// The scatter page (hypervisor-owned, fact sheet §4).
    pub scatter: Option<u64>,
}

impl SlaBuf {
    /// Resolves `sla`: a 4K data SLA is one page; a scatter SLA's page is read and its
    /// 4K data SLAs taken up to EOL. NULL, EOL and 2M pages (the host uses 4K only) are
    /// INVALID_PARAM.
    pub fn resolve(mem: &mut dyn FwMemory, sla: Sla) -> Result<Self, Refusal> {
        let bad = Refusal::new(Status::InvalidParam, "bad SLA");
        match sla {
            Sla::Data {
                pa,
                size: tsm_proto::tio::PageSize::Size4K,
            } => Ok(Self {
                pages: vec![pa],
                scatter: None,
            }),
            Sla::Scatter { pa, .. } => {
                let mut page = vec![0u8; PAGE_SIZE];
                mem.read(pa, &mut page).map_err(|_| unreachable_page())?;
                let list = ScatterList::decode(&page).map_err(|_| bad)?;
                let mut pages = Vec::new();
                for s in list.iter() {
                    match s {
                        Sla::Data {
                            pa,
                            size: tsm_proto::tio::PageSize::Size4K,
                        } => pages.push(pa),
                        _ => return Err(bad),
                    }
                }
                if pages.is_empty() {
                    return Err(bad);
                }
                Ok(Self {
                    pages,
                    scatter: Some(pa),
                })
            }
            _ => Err(bad),
        }
    }

    /// The buffer's size in bytes.
    pub fn len(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// Whether it has no page (never, once resolved).
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Checks that the conduit reaches every page (one byte of each read).
    pub fn reachable(&self, mem: &mut dyn FwMemory) -> Result<(), Refusal> {
        for p in &self.pages {
            mem.read(*p, &mut [0u8; 1])
                .map_err(|_| unreachable_page())?;
        }
        Ok(())
    }

    /// Reads the whole buffer.
    pub fn read(&self, mem: &mut dyn FwMemory) -> Result<Vec<u8>, Refusal> {
        let mut out = vec![0u8; self.len()];
        for (p, chunk) in self.pages.iter().zip(out.chunks_mut(PAGE_SIZE)) {
            mem.read(*p, chunk).map_err(|_| unreachable_page())?;
        }
        Ok(out)
    }

    /// Writes `data` from the start of the buffer (at most its length).
    pub fn write(&self, mem: &mut dyn FwMemory, data: &[u8]) -> Result<(), Refusal> {
        if data.len() > self.len() {
            return Err(Refusal::new(
                Status::ResponseTooLarge,
                "does not fit the buffer",
            ));
        }
        for (p, chunk) in self.pages.iter().zip(data.chunks(PAGE_SIZE)) {
            mem.write(*p, chunk).map_err(|_| unreachable_page())?;
        }
        Ok(())
    }
}

/// Reads one page-contained structure of `len` bytes at `pa`.
pub fn read_at(mem: &mut dyn FwMemory, pa: u64, len: usize) -> Result<Vec<u8>, Refusal> {
    let mut b = vec![0u8; len];
    mem.read(pa, &mut b).map_err(|_| unreachable_page())?;
    Ok(b)
}

/// Writes `data` at `pa`.
pub fn write_at(mem: &mut dyn FwMemory, pa: u64, data: &[u8]) -> Result<(), Refusal> {
    mem.write(pa, data).map_err(|_| unreachable_page())
}
