// SPDX-License-Identifier: GPL-2.0

//! Bind, unbind and guest requests: the VDEV of a TDI.
//!
//! Bind, as the Linux CCA host series does it (`cca_vdev_create`, then the lock):
//! VDEV_CREATE in the VM's Realm ([`super::realm`]) with the vDEVICE's virtual ID as
//! the guest-visible `vdev_id`, the function's RID as `tdi_id` and the function's memory
//! BARs as the ranges; communicate to UNLOCKED; VDEV_LOCK and communicate to LOCKED (the
//! RMM's TDISP LOCK_INTERFACE); then the interface report, fetched with
//! VDEV_GET_INTERFACE_REPORT into the host's cache and validated against the BARs and
//! the MSI-X layout by the protocol crate (`tsm_proto::report`).
//!
//! Unbind, in the ABI's order (`cca_vdev_unlock_and_destroy`): the Realm's device
//! mappings first (none exist: RTT_DEV_MAP belongs to a Realm's memory, which KVM does
//! not have here), VDEV_UNLOCK if the VDEV is LOCKED, STARTED or in ERROR, communicate to
//! UNLOCKED (TDISP STOP_INTERFACE; once more after VDEV_ABORT if that failed),
//! VDEV_DESTROY (tried twice), the granule undelegated; the Realm goes with its last
//! VDEV. A VDEV the RMM keeps through all of that is not given up at once: the kernel
//! forgets the TDI (its binding has ended), the backend keeps the VDEV and tries its
//! unbind again before the next bind and at disconnect, and only a VDEV that is still
//! there at disconnect is leaked (its granule, and the Realm that holds it).
//!
//! A bind that fails after VDEV_LOCK was made may have locked the TDI: the backend
//! unlocks and destroys the VDEV as unbind does, and if that fails too it says the TDI
//! may be left locked (`EIO`), not that nothing happened; the VDEV it could not undo is
//! kept and unbound again later, as after a failed unbind.
//!
//! A signal cancels bind and guest requests (unbind runs to its end), but the relay loop
//! honours it only before a device message the RMM can take back, and every device
//! message of a VDEV operation is secured SPDM in the PDEV's session, sealed by the RMM
//! with the session's next sequence number before the host sees it (DSP0277;
//! `relay::Port::can_withdraw`). So once a VDEV operation has asked for its first
//! message it runs to its end (bounded by the loop's deadline and exchange count): a
//! request withdrawn after the RMM counted it would leave the RMM's and the device's
//! sequence numbers apart and lose the session, and with it the link (found by the
//! selftest `signals_during_connect_bind`: a bind cancelled by a signal left a device that
//! answered every later message with an error, and an unbind and disconnect that could
//! only leak).
//!
//! Guest requests of `tvm_arch` CCA (`<linux/tsm_cca.h>`, decoded by
//! `tsm_proto::rmi::guest`): the interface report from an offset, START (LOCKED →
//! STARTED, TDISP RUN), the VDEV's state, and the measurements (VDEV_GET_MEASUREMENTS
//! into the host's cache, object 2) from an offset: a read at offset 0 fetches them
//! with the guest's nonce and flags and keeps the copy in the TDI's [`BoundTdi`], a read
//! at any other offset answers from that copy, so that one signed response can be read
//! in pieces. `tsm_code` is the VDEV state after the request (`RmiVdevState`), or
//! `TSM_CCA_CODE_UNKNOWN` when it could not be read.

use super::{
    comm::{
        CommPages,
        Ended,
        Target, //
    },
    link::communicate,
    realm::Realms,
    rmi::Rmi,
};
use kernel::{
    pci::{
        self,
        tsm::{
            self,
            relay,
            GuestReply, //
        },
    },
    prelude::*,
};
use tsm_proto::{
    report::FirstPageUnit,
    rmi::{
        guest::{
            self,
            GuestOp, //
        },
        AddrRange,
        CacheObject,
        Call,
        List,
        MeasureParams,
        VdevParams,
        VdevState, //
    },
};

/// A bound TDI: its VDEV, and the measurements its guest fetched last.
pub(crate) struct BoundTdi {
    pub(crate) vdev: Vdev,
    meas: Option<KVec<u8>>,
}

impl BoundTdi {
    pub(crate) fn new(vdev: Vdev) -> Self {
        Self { vdev, meas: None }
    }

    /// A guest request (see the module documentation).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn guest_req(
        &mut self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
        op: u32,
        input: &[u8],
        output: &mut [u8],
        tsm_code: &mut u64,
    ) -> Result<GuestReply> {
        let r = match GuestOp::decode(op, input) {
            Ok(op) => self.guest_op(rmi, t, pages, pdev, op, output),
            Err(e) => Err(e.into()),
        };
        *tsm_code = guest::tsm_code(self.vdev.state(rmi).ok());
        r
    }

    fn guest_op(
        &mut self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
        op: GuestOp,
        output: &mut [u8],
    ) -> Result<GuestReply> {
        let reply = |data: &[u8], output: &mut [u8]| Ok(GuestReply::copy(data, output));
        let v = &self.vdev;
        match op {
            GuestOp::GetReport { offset } => {
                let bytes = v.report(rmi, t, pages, pdev)?;
                reply(bytes.get(offset as usize..).ok_or(EINVAL)?, output)
            }
            GuestOp::Start => {
                rmi.call(Call::VdevStart, &v.args())?;
                v.drive(rmi, t, pages, VdevState::Started, None, true)?;
                reply(&[], output)
            }
            GuestOp::GetState => reply(&[v.state(rmi)?.to_u8()], output),
            GuestOp::GetMeasurements(q) => {
                if q.offset == 0 {
                    // A failed fetch leaves no copy of an older one behind.
                    self.meas = None;
                    self.meas = Some(v.measurements(rmi, t, pages, q.params())?);
                }
                let m = self.meas.as_deref().ok_or(ENODATA)?;
                reply(m.get(q.offset as usize..).ok_or(EINVAL)?, output)
            }
        }
    }
}

/// A bind that failed: its errno, and the VDEV it could not undo, if the RMM keeps one.
pub(crate) struct BindFailure {
    pub(crate) err: Error,
    pub(crate) left: Option<Vdev>,
}

/// The VDEV of a bound TDI.
#[derive(Clone, Copy)]
pub(crate) struct Vdev {
    pub(crate) rd: u64,
    pub(crate) pdev: u64,
    pub(crate) vdev: u64,
}

impl Vdev {
    fn target(&self) -> Target {
        Target::Vdev {
            rd: self.rd,
            pdev: self.pdev,
            vdev: self.vdev,
        }
    }

    fn args(&self) -> [u64; 3] {
        [self.rd, self.pdev, self.vdev]
    }

    /// VDEV_GET_STATE.
    pub(crate) fn state(&self, rmi: &Rmi<'_>) -> Result<VdevState> {
        let a = rmi.call(Call::VdevGetState, &[self.vdev])?;
        VdevState::from_reg(a.regs[1]).map_err(|_| EPROTO)
    }

    /// Communicates the VDEV until its operation ends in state `target`; the cached
    /// `keep` object. `cancellable`: the command may be ended by a signal, which the relay
    /// loop honours only before a message the RMM can take back: none of a VDEV
    /// operation's (see the module documentation).
    fn drive(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        target: VdevState,
        keep: Option<CacheObject>,
        cancellable: bool,
    ) -> Result<KVec<u8>> {
        let (ended, cached) = communicate(rmi, t, pages, self.target(), keep, cancellable)?;
        if ended != Ended::Done {
            pr_warn!("VDEV {:#x}: stream wait in a VDEV operation\n", self.vdev);
            self.target().abort(rmi);
            return Err(EPROTO);
        }
        match self.state(rmi)? {
            s if s == target => Ok(cached),
            s => {
                pr_warn!(
                    "VDEV {:#x}: {:?} after its operation, not {:?}\n",
                    self.vdev,
                    s,
                    target
                );
                Err(EIO)
            }
        }
    }

    /// The interface report, fetched into the host's cache and validated.
    pub(crate) fn report(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
    ) -> Result<KVec<u8>> {
        let before = self.state(rmi)?;
        rmi.call(Call::VdevGetInterfaceReport, &self.args())?;
        let bytes = self.drive(
            rmi,
            t,
            pages,
            before,
            Some(CacheObject::InterfaceReport),
            true,
        )?;
        // Unconfirmed: which lock flags the RMM asks for (the model sets LOCK_MSIX); a
        // report that describes the MSI-X table is accepted either way.
        tsm::report::validate(pdev, &bytes, FirstPageUnit::PageNumber, false)?;
        Ok(bytes)
    }

    /// The measurements (VDEV_GET_MEASUREMENTS with `params`), fetched into the host's
    /// cache; the VDEV's state is unchanged.
    fn measurements(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        params: MeasureParams,
    ) -> Result<KVec<u8>> {
        let before = self.state(rmi)?;
        let mp = rmi.params(|w| params.encode(w))?;
        rmi.call(
            Call::VdevGetMeasurements,
            &[self.rd, self.pdev, self.vdev, mp.pa],
        )?;
        drop(mp);
        self.drive(rmi, t, pages, before, Some(CacheObject::Measurements), true)
    }

    /// Bind (see the module documentation). On failure nothing is left, or the VDEV the
    /// RMM keeps is handed back in [`BindFailure::left`] (with its Realm) to be unbound
    /// later, and `EIO` says the TDI may be left locked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bind(
        rmi: &Rmi<'_>,
        realms: &Realms,
        t: &dyn relay::Transport,
        pages: CommPages,
        ep: u64,
        pdev: &pci::Device,
        kvm: &tsm::Kvm,
        guest_rid: u32,
    ) -> core::result::Result<Self, BindFailure> {
        let fail = |err| BindFailure { err, left: None };
        let rd = realms.get(rmi, kvm).map_err(fail)?;
        let vdev = match rmi.delegated() {
            Ok(v) => v,
            Err(e) => {
                realms.put(rmi, rd);
                return Err(fail(e));
            }
        };
        let me = Self { rd, pdev: ep, vdev };
        let mut created = false;
        let mut locked = false;
        let r = me.bind_steps(rmi, t, pages, pdev, guest_rid, &mut created, &mut locked);
        let Err(e) = r else { return Ok(me) };
        if !created {
            // A granule the RMM does not give back is leaked by `undelegate`.
            let _ = rmi.undelegate(vdev);
            realms.put(rmi, rd);
            return Err(fail(e));
        }
        match me.unbind_steps(rmi, t, pages) {
            Ok(()) => {
                realms.put(rmi, rd);
                Err(fail(e))
            }
            Err(c) => {
                dev_err!(
                    pdev,
                    "bind failed ({:?}) and its undoing too ({:?}): the RMM keeps VDEV {:#x}{}\n",
                    e,
                    c,
                    vdev,
                    if locked {
                        "; the TDI may be left locked"
                    } else {
                        ""
                    }
                );
                Err(BindFailure {
                    err: if locked { EIO } else { e },
                    left: Some(me),
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn bind_steps(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
        guest_rid: u32,
        created: &mut bool,
        locked: &mut bool,
    ) -> Result {
        let mut ranges = KVec::new();
        for b in pdev.mem_bars().iter().flatten() {
            ranges.push(
                AddrRange {
                    base: b.start,
                    top: b.start.checked_add(b.len).ok_or(EINVAL)?,
                },
                GFP_KERNEL,
            )?;
        }
        ranges.sort_unstable_by_key(|r| r.base);
        let params = VdevParams {
            flags: Default::default(),
            vdev_id: u64::from(guest_rid),
            tdi_id: u64::from(pci::Address::of(pdev).rid()),
            vsmmu_addr: 0,
            vsid: 0,
            ranges: List::from_slice("vdev.ranges", &ranges).map_err(|_| E2BIG)?,
        };
        let vp = rmi.params(|w| params.encode(w))?;
        rmi.call(Call::VdevCreate, &[self.rd, self.pdev, self.vdev, vp.pa])?;
        drop(vp);
        *created = true;
        self.drive(rmi, t, pages, VdevState::Unlocked, None, true)?;
        *locked = true;
        rmi.call(Call::VdevLock, &self.args())?;
        self.drive(rmi, t, pages, VdevState::Locked, None, true)?;
        self.report(rmi, t, pages, pdev).map(|_| ())
    }

    /// UNLOCK (if needed) and communicate to UNLOCKED, once more after VDEV_ABORT if
    /// that failed; DESTROY, once more if that failed; undelegate. `Err` only if the RMM
    /// keeps the VDEV: once it is destroyed, a granule the RMM does not give back is
    /// leaked by `undelegate`, and the VDEV is gone all the same. Not interrupted by
    /// signals.
    fn unbind_steps(&self, rmi: &Rmi<'_>, t: &dyn relay::Transport, pages: CommPages) -> Result {
        let mut tries = 0;
        loop {
            let s = self.state(rmi)?;
            if !matches!(s, VdevState::Locked | VdevState::Started | VdevState::Error) {
                break;
            }
            tries += 1;
            let r = rmi
                .call(Call::VdevUnlock, &self.args())
                .and_then(|_| self.drive(rmi, t, pages, VdevState::Unlocked, None, false));
            match r {
                Ok(_) => break,
                Err(e) if tries > 1 => return Err(e),
                Err(_) => self.target().abort(rmi),
            }
        }
        rmi.call_twice(Call::VdevDestroy, &self.args())?;
        let _ = rmi.undelegate(self.vdev);
        Ok(())
    }

    /// Unbind (see the module documentation); the Realm is released with the VDEV. `Err`
    /// if the RMM keeps the VDEV: nothing is released, the caller tries again later
    /// ([`Self::unbind`] once more) or gives it up ([`Self::leak`]).
    pub(crate) fn unbind(
        &self,
        rmi: &Rmi<'_>,
        realms: &Realms,
        t: &dyn relay::Transport,
        pages: CommPages,
    ) -> Result {
        // A device operation stuck half-way is aborted first (refused if none is).
        self.target().abort(rmi);
        self.unbind_steps(rmi, t, pages)?;
        realms.put(rmi, self.rd);
        Ok(())
    }

    /// Gives up a VDEV the RMM keeps: its granule stays delegated and is never the
    /// kernel's again, and its Realm, which still holds it, is not destroyed.
    pub(crate) fn leak(&self, rmi: &Rmi<'_>) {
        pr_err!(
            "VDEV {:#x} not destroyed; its granule is leaked\n",
            self.vdev
        );
        let _ = rmi.mem().leak(self.vdev);
    }
}
