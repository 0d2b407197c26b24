// SPDX-License-Identifier: GPL-2.0

//! The firmware conduit: the lowest firmware call of a vendor TSM backend.
//!
//! A vendor backend drives its firmware with one kind of call: an SMC to the Arm CCA RMM,
//! a SEAMCALL to the TDX module, a command to the AMD PSP. [`Conduit`] is that call and
//! the memory the backend hands to firmware ([`FwMemory`]); everything a backend does
//! above it is the code a real host runs. Two kinds of implementation exist:
//!
//! - the real call: [`SmcConduit`] (arm64; SMCCC 1.2, `X0`..`X17`). The SEAMCALL and PSP
//!   ones belong to the TDX Connect and SEV-TIO backends (not written yet);
//! - a firmware model in userspace, [`model::ModelConduit`]: the call's registers go
//!   through a character device to a model process (`tools/tsm/`), which may read and
//!   write, while the call runs, the pages of the conduit's [`FwMemory`], by the address
//!   the firmware uses, and nothing else (`<linux/tsm_conduit.h>`).
//!
//! Registers are [`Regs`], the platform's in its order (see [`wire`]); a conduit does not
//! interpret them. The channel's codec is [`wire`], the protocol crate's
//! `tsm_proto::conduit` (one codec for the kernel and the models).

use crate::{
    alloc::flags::{
        __GFP_ZERO,
        GFP_KERNEL, //
    },
    bindings,
    page::{
        Page,
        PAGE_MASK,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::Mutex,
};

pub mod model;

/// The model channel's codec: the protocol crate's `conduit` module.
pub use tsm_proto::conduit as wire;

pub use wire::{
    Kind,
    NR_REGS, //
};

/// The registers of one call, in and out.
pub type Regs = [u64; NR_REGS];

/// A backend's lowest firmware call.
pub trait Conduit: Send + Sync {
    /// The kind of call this conduit makes (the platform's).
    fn kind(&self) -> Kind;

    /// Makes one call: `regs` holds the arguments, and the results on return. An error
    /// means the call did not complete (no firmware, the model went away or did not
    /// answer); the firmware's own statuses are in the result registers.
    fn call(&self, regs: &mut Regs) -> Result;

    /// The memory this conduit hands to firmware.
    fn memory(&self) -> &FwMemory;
}

/// One page handed to firmware.
struct FwPage {
    /// The address the firmware uses: the page's physical address.
    addr: u64,
    page: Page,
}

/// The name of [`FwMemory`]'s lock class: a static, because a name literal in an
/// initializer that a module inlines or instantiates (`ModelConduit<O>`) is copied into
/// that module, and lockdep warns about one class key with two names.
static PAGES_LOCK: &CStr = c"FwMemory::pages";

/// The pages a backend hands to firmware (parameter and communication pages, delegated
/// granules, command buffers), each named by the address the firmware uses.
///
/// Pages are zeroed when allocated and freed when [`FwMemory::free`]d or when the
/// `FwMemory` is dropped; a backend returns a page from firmware (undelegates, reclaims)
/// before it frees it.
///
/// # Invariants
///
/// The kernel reads and writes the pages of `pages` only through [`FwMemory::read`] and
/// [`FwMemory::write`], under the `pages` lock; the firmware touches them only during a
/// call of the conduit that owns this memory, which the caller of that call does not
/// overlap with its own accesses.
#[pin_data]
pub struct FwMemory {
    #[pin]
    pages: Mutex<KVec<FwPage>>,
}

impl FwMemory {
    /// No pages.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            pages <- Mutex::new(KVec::new(), PAGES_LOCK, crate::static_lock_class!()),
        })
    }

    /// A zeroed page for firmware; returns its firmware address (page aligned).
    pub fn alloc(&self) -> Result<u64> {
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
        // SAFETY: `page` owns a valid, allocated `struct page`.
        let addr = unsafe { bindings::pci_tsm_page_to_phys(page.as_ptr()) };
        self.pages.lock().push(FwPage { addr, page }, GFP_KERNEL)?;
        Ok(addr)
    }

    /// Frees the page at firmware address `addr`; `EINVAL` if it is none of these.
    pub fn free(&self, addr: u64) -> Result {
        let mut g = self.pages.lock();
        let i = g.iter().position(|p| p.addr == addr).ok_or(EINVAL)?;
        let page = g.remove(i).map_err(|_| EINVAL)?;
        drop(g);
        drop(page);
        Ok(())
    }

    /// Gives up the page at firmware address `addr` without freeing it: a page the
    /// firmware did not give back (a granule that stayed delegated) must never return
    /// to the kernel's allocator. `EINVAL` if it is none of these pages.
    pub fn leak(&self, addr: u64) -> Result {
        let mut g = self.pages.lock();
        let i = g.iter().position(|p| p.addr == addr).ok_or(EINVAL)?;
        let page = g.remove(i).map_err(|_| EINVAL)?;
        drop(g);
        core::mem::forget(page);
        Ok(())
    }

    /// `addr` is within a page of this memory.
    pub fn holds(&self, addr: u64) -> bool {
        let base = addr & PAGE_MASK as u64;
        self.pages.lock().iter().any(|p| p.addr == base)
    }

    /// The page holding `len` bytes at `addr` and the offset into it; `EFAULT` if the
    /// range is empty, crosses a page or is in no page of this memory.
    fn locate(pages: &[FwPage], addr: u64, len: usize) -> Result<(&FwPage, usize)> {
        let base = addr & PAGE_MASK as u64;
        let off = (addr - base) as usize;
        if len == 0 || off.checked_add(len).is_none_or(|end| end > PAGE_SIZE) {
            return Err(EFAULT);
        }
        let p = pages.iter().find(|p| p.addr == base).ok_or(EFAULT)?;
        Ok((p, off))
    }

    /// Reads `buf.len()` bytes at firmware address `addr` (within one page).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result {
        let g = self.pages.lock();
        let (p, off) = Self::locate(&g, addr, buf.len())?;
        // SAFETY: `buf` is valid for writing `buf.len()` bytes; by the type invariant no
        // other access to the page overlaps this one (the lock is held).
        unsafe { p.page.read_raw(buf.as_mut_ptr(), off, buf.len()) }
    }

    /// Writes `data` at firmware address `addr` (within one page).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result {
        let g = self.pages.lock();
        let (p, off) = Self::locate(&g, addr, data.len())?;
        // SAFETY: `data` is valid for reading `data.len()` bytes; by the type invariant
        // no other access to the page overlaps this one (the lock is held).
        unsafe { p.page.write_raw(data.as_ptr(), off, data.len()) }
    }
}

/// The real SMC (SMCCC 1.2: `X0`..`X17` in and out), for the Arm CCA RMM.
///
/// # Invariants
///
/// Every call made through it passes, as addresses of memory the firmware may access,
/// only addresses of pages of `mem` (the guarantee of [`SmcConduit::new`]'s caller).
#[cfg(CONFIG_ARM64)]
#[pin_data]
pub struct SmcConduit {
    #[pin]
    mem: FwMemory,
}

#[cfg(CONFIG_ARM64)]
impl SmcConduit {
    /// The SMC conduit.
    ///
    /// # Safety
    ///
    /// The caller makes through it only calls of a firmware that accesses no memory but
    /// the pages of [`Conduit::memory`] whose addresses the calls pass (as the RMM's
    /// device-assignment calls do), so that no call lets the firmware write memory the
    /// kernel owns otherwise.
    pub unsafe fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            mem <- FwMemory::new(),
        })
    }
}

#[cfg(CONFIG_ARM64)]
impl Conduit for SmcConduit {
    fn kind(&self) -> Kind {
        Kind::Smc
    }

    fn call(&self, regs: &mut Regs) -> Result {
        // `unsigned long` (`usize`) is 64 bits wide on arm64: the casts are lossless.
        let r = regs;
        let args = bindings::arm_smccc_1_2_regs {
            a0: r[0] as usize,
            a1: r[1] as usize,
            a2: r[2] as usize,
            a3: r[3] as usize,
            a4: r[4] as usize,
            a5: r[5] as usize,
            a6: r[6] as usize,
            a7: r[7] as usize,
            a8: r[8] as usize,
            a9: r[9] as usize,
            a10: r[10] as usize,
            a11: r[11] as usize,
            a12: r[12] as usize,
            a13: r[13] as usize,
            a14: r[14] as usize,
            a15: r[15] as usize,
            a16: r[16] as usize,
            a17: r[17] as usize,
        };
        let mut res = args;
        // SAFETY: `args` and `res` are valid for the call's reads and writes; by the type
        // invariant the firmware accesses only pages of `self.mem`.
        unsafe { bindings::arm_smccc_1_2_smc(&args, &mut res) };
        *r = [
            res.a0 as u64,
            res.a1 as u64,
            res.a2 as u64,
            res.a3 as u64,
            res.a4 as u64,
            res.a5 as u64,
            res.a6 as u64,
            res.a7 as u64,
            res.a8 as u64,
            res.a9 as u64,
            res.a10 as u64,
            res.a11 as u64,
            res.a12 as u64,
            res.a13 as u64,
            res.a14 as u64,
            res.a15 as u64,
            res.a16 as u64,
            res.a17 as u64,
        ];
        Ok(())
    }

    fn memory(&self) -> &FwMemory {
        &self.mem
    }
}
