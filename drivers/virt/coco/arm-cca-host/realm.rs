// SPDX-License-Identifier: GPL-2.0

//! The Realm a VDEV is created in.
//!
//! A VDEV belongs to a Realm (`rd`, its Realm descriptor granule), which on a real CCA
//! host is the confidential VM that KVM created with RMI_REALM_CREATE. Linux 7.2's KVM
//! has no Realms, so there is no descriptor to take from the VM a TDI is bound to.
//! Against the RMM model (and only there) the backend therefore stands in for KVM: the
//! first bind of a device to a VM creates a Realm for that VM with RMI_REALM_CREATE,
//! whose parameters carry only the device-assignment flag (the model models nothing
//! else of a Realm), and the last unbind destroys it with RMI_REALM_DESTROY (tried twice;
//! a descriptor the RMM keeps is leaked). On the SMC
//! conduit bind refuses with `EOPNOTSUPP`: the descriptor would have to come from KVM.

use super::rmi::Rmi;
use kernel::{new_mutex, pci::tsm::Kvm, prelude::*, sync::Mutex};
use tsm_proto::rmi::{
    Call,
    RealmParams, //
};

/// One stand-in Realm.
struct Realm {
    /// The VM's identity (its `struct kvm` address; the VM is alive while any of its
    /// TDIs is bound, and the Realm goes with its last one).
    kvm: usize,
    /// The Realm descriptor granule.
    rd: u64,
    /// VDEVs created in it.
    vdevs: u32,
}

/// The stand-in Realms of the VMs with bound TDIs.
#[pin_data]
pub(crate) struct Realms {
    /// Whether Realms may be made (only against the model).
    stand_in: bool,
    #[pin]
    list: Mutex<KVec<Realm>>,
}

impl Realms {
    pub(crate) fn new(stand_in: bool) -> impl PinInit<Self> {
        pin_init!(Self {
            stand_in,
            list <- new_mutex!(KVec::new()),
        })
    }

    /// The Realm descriptor of `kvm`'s Realm, counting one more VDEV in it; the first
    /// VDEV of a VM creates its Realm.
    pub(crate) fn get(&self, rmi: &Rmi<'_>, kvm: &Kvm) -> Result<u64> {
        if !self.stand_in {
            pr_warn!("bind: KVM has no Realms in this kernel; no Realm descriptor for the VDEV\n");
            return Err(EOPNOTSUPP);
        }
        let id = kvm.as_ptr() as usize;
        let mut list = self.list.lock();
        if let Some(r) = list.iter_mut().find(|r| r.kvm == id) {
            r.vdevs += 1;
            return Ok(r.rd);
        }
        list.reserve(1, GFP_KERNEL)?;
        let rd = rmi.delegated()?;
        let r = rmi
            .params(|w| RealmParams { da: true }.encode(w))
            .and_then(|p| rmi.call(Call::RealmCreate, &[rd, p.pa]));
        if let Err(e) = r {
            let _ = rmi.undelegate(rd);
            return Err(e);
        }
        list.push(
            Realm {
                kvm: id,
                rd,
                vdevs: 1,
            },
            GFP_KERNEL,
        )?;
        Ok(rd)
    }

    /// One VDEV fewer in the Realm `rd`; the last one destroys the Realm.
    pub(crate) fn put(&self, rmi: &Rmi<'_>, rd: u64) {
        let mut list = self.list.lock();
        let Some(i) = list.iter().position(|r| r.rd == rd) else {
            return;
        };
        let Some(r) = list.get_mut(i) else { return };
        r.vdevs = r.vdevs.saturating_sub(1);
        if r.vdevs > 0 {
            return;
        }
        let _ = list.remove(i);
        drop(list);
        match rmi.call_twice(Call::RealmDestroy, &[rd]) {
            Ok(_) => {
                let _ = rmi.undelegate(rd);
            }
            Err(e) => {
                pr_err!("REALM_DESTROY {:#x}: {:?}; descriptor leaked\n", rd, e);
                let _ = rmi.mem().leak(rd);
            }
        }
    }
}
