// SPDX-License-Identifier: GPL-2.0

//! The SNP guest a TDI is bound to: its guest context page and ASID.
//!
//! TDI_BIND names the guest by its context page (`gctx`, a firmware page KVM made at SNP
//! launch: `kvm_sev_info.snp_context`), and the PSP knows the guest's ASID from
//! SNP_ACTIVATE; the host's unbind asks ASID_FENCE_STATUS by that ASID (fact sheet §5).
//! Both facts belong to KVM SEV, and this is the one interface of the backend through
//! which they come: a real host fills [`Guests::get`] from the VM's `kvm_sev_info`
//! (which needs KVM SEV-SNP support, absent from the VMs this kernel's tests create).
//! Against the PSP model the backend stands in for KVM: the first bind of a device to a
//! VM makes a firmware-owned context page, picks the lowest free ASID and tells the model
//! with the GuestActivate stand-in; the last unbind decommissions the guest and gives
//! the page back (a page the model keeps is leaked).

use super::psp::Psp;
use kernel::{
    new_mutex,
    pci::tsm::Kvm,
    prelude::*,
    sync::Mutex, //
};
use tsm_proto::tio::StandIn;

/// One stand-in guest.
struct Guest {
    /// The VM's identity (its `struct kvm` address; the VM is alive while any of its
    /// TDIs is bound, and the guest goes with its last one).
    kvm: usize,
    /// The guest context page.
    gctx: u64,
    /// The guest's ASID.
    asid: u32,
    /// TDIs bound to it.
    tdis: u32,
}

/// The stand-in guests of the VMs with bound TDIs.
#[pin_data]
pub(crate) struct Guests {
    #[pin]
    list: Mutex<KVec<Guest>>,
}

impl Guests {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            list <- new_mutex!(KVec::new()),
        })
    }

    /// The context page and ASID of `kvm`'s guest, counting one more TDI bound to it;
    /// the first TDI of a VM makes its guest.
    pub(crate) fn get(&self, psp: &Psp<'_>, kvm: &Kvm) -> Result<(u64, u32)> {
        let id = kvm.as_ptr() as usize;
        let mut list = self.list.lock();
        if let Some(g) = list.iter_mut().find(|g| g.kvm == id) {
            g.tdis += 1;
            return Ok((g.gctx, g.asid));
        }
        list.reserve(1, GFP_KERNEL)?;
        // ASIDs start at 1 (0 is the host's).
        let asid = (1u32..)
            .find(|a| list.iter().all(|g| g.asid != *a))
            .ok_or(ENOSPC)?;
        let gctx = psp.fw_page()?;
        if let Err(e) = psp.stand_in(StandIn::GuestActivate, gctx, u64::from(asid)) {
            psp.give_back(gctx);
            return Err(e);
        }
        list.push(
            Guest {
                kvm: id,
                gctx,
                asid,
                tdis: 1,
            },
            GFP_KERNEL,
        )?;
        Ok((gctx, asid))
    }

    /// One TDI fewer bound to the guest of context `gctx`; the last one ends the guest.
    pub(crate) fn put(&self, psp: &Psp<'_>, gctx: u64) {
        let mut list = self.list.lock();
        let Some(i) = list.iter().position(|g| g.gctx == gctx) else {
            return;
        };
        let Some(g) = list.get_mut(i) else { return };
        g.tdis = g.tdis.saturating_sub(1);
        if g.tdis > 0 {
            return;
        }
        let _ = list.remove(i);
        drop(list);
        if psp.stand_in(StandIn::GuestDecommission, gctx, 0).is_err() {
            pr_err!("guest context {:#x} not decommissioned: leaked\n", gctx);
            let _ = psp.mem().leak(gctx);
            return;
        }
        psp.give_back(gctx);
    }
}
