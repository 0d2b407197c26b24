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
//! VDEV_DESTROY, the granule undelegated; the Realm goes with its last VDEV.
//!
//! A bind that fails after VDEV_LOCK was made may have locked the TDI: the backend
//! unlocks and destroys the VDEV as unbind does, and if that fails too it says the TDI
//! may be left locked (`EIO`), not that nothing happened.
//!
//! Guest requests of `tvm_arch` CCA (`<linux/tsm_cca.h>`): the interface report from
//! an offset, START (LOCKED → STARTED, TDISP RUN) and the VDEV's state. `tsm_code` is
//! the VDEV state after the request (`RmiVdevState`), or [`TSM_CODE_UNKNOWN`] when it
//! could not be read.

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
    codec::Reader,
    report::{
        self,
        BarInfo,
        FirstPageUnit,
        InterfaceReport,
        ValidationParams, //
    },
    rmi::{
        AddrRange,
        CacheObject,
        Call,
        List,
        VdevParams,
        VdevState, //
    },
};

/// `TSM_CCA_GUEST_GET_REPORT`: the interface report, from the little-endian u32 offset
/// in the payload (none: 0).
pub(crate) const GUEST_GET_REPORT: u32 = 1;
/// `TSM_CCA_GUEST_START`: VDEV_START, LOCKED → STARTED (TDISP RUN); no payload.
pub(crate) const GUEST_START: u32 = 2;
/// `TSM_CCA_GUEST_GET_STATE`: the VDEV's state, one byte (`RmiVdevState`); no payload.
pub(crate) const GUEST_GET_STATE: u32 = 3;

/// `tsm_code` when the VDEV's state could not be read.
pub(crate) const TSM_CODE_UNKNOWN: u64 = u64::MAX;

/// A bound TDI: its VDEV.
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
    /// `keep` object.
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
        validate(pdev, &bytes)?;
        Ok(bytes)
    }

    /// Bind (see the module documentation). On failure nothing is left, or `EIO` says
    /// the TDI may be left locked.
    pub(crate) fn bind(
        rmi: &Rmi<'_>,
        realms: &Realms,
        t: &dyn relay::Transport,
        pages: CommPages,
        ep: u64,
        pdev: &pci::Device,
        kvm: &tsm::Kvm,
        guest_rid: u32,
    ) -> Result<Self> {
        let rd = realms.get(rmi, kvm)?;
        let vdev = match rmi.delegated() {
            Ok(v) => v,
            Err(e) => {
                realms.put(rmi, rd);
                return Err(e);
            }
        };
        let me = Self { rd, pdev: ep, vdev };
        let mut created = false;
        let mut locked = false;
        let r = me.bind_steps(rmi, t, pages, pdev, guest_rid, &mut created, &mut locked);
        let Err(e) = r else { return Ok(me) };
        let cleanup = if created {
            me.unbind_steps(rmi, t, pages)
        } else {
            rmi.undelegate(vdev)
        };
        realms.put(rmi, rd);
        match cleanup {
            Ok(()) => Err(e),
            Err(c) if locked => {
                dev_err!(
                    pdev,
                    "bind failed after VDEV_LOCK ({:?}) and its undoing too ({:?}): the TDI may be left locked\n",
                    e,
                    c
                );
                Err(EIO)
            }
            Err(c) => {
                dev_err!(pdev, "bind failed ({:?}); undoing it failed ({:?})\n", e, c);
                Err(e)
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
        for b in tsm::mem_bars(pdev).iter().flatten() {
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
            tdi_id: u64::from(tsm::Address::of(pdev).rid()),
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
    /// that failed; DESTROY; undelegate. Not interrupted by signals.
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
        rmi.call(Call::VdevDestroy, &self.args())?;
        rmi.undelegate(self.vdev)
    }

    /// Unbind (see the module documentation). A VDEV the RMM keeps is reported and its
    /// granule leaked; the kernel forgets the TDI either way.
    pub(crate) fn unbind(
        &self,
        rmi: &Rmi<'_>,
        realms: &Realms,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
    ) {
        // A device operation stuck half-way is aborted first (refused if none is).
        self.target().abort(rmi);
        match self.unbind_steps(rmi, t, pages) {
            Ok(()) => realms.put(rmi, self.rd),
            Err(e) => {
                dev_err!(
                    pdev,
                    "unbind: the VDEV was not destroyed ({:?}); the TDI may stay locked\n",
                    e
                );
                let _ = rmi.mem().leak(self.vdev);
                // The Realm still holds the VDEV: it is not destroyed.
            }
        }
    }

    /// A guest request (see the module documentation).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn guest_req(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
        op: u32,
        input: &[u8],
        output: &mut [u8],
        tsm_code: &mut u64,
    ) -> Result<GuestReply> {
        let r = self.guest_op(rmi, t, pages, pdev, op, input, output);
        *tsm_code = self
            .state(rmi)
            .map_or(TSM_CODE_UNKNOWN, |s| u64::from(s.to_u8()));
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn guest_op(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pages: CommPages,
        pdev: &pci::Device,
        op: u32,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<GuestReply> {
        let reply = |data: &[u8], output: &mut [u8]| match output.get_mut(..data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                Ok(GuestReply::Written(data.len()))
            }
            None => Ok(GuestReply::TooSmall(data.len())),
        };
        match op {
            GUEST_GET_REPORT => {
                let offset = match input.len() {
                    0 => 0,
                    4 => Reader::new(input).u32().map_err(|_| EINVAL)? as usize,
                    _ => return Err(EINVAL),
                };
                let bytes = self.report(rmi, t, pages, pdev)?;
                reply(bytes.get(offset..).ok_or(EINVAL)?, output)
            }
            GUEST_START => {
                if !input.is_empty() {
                    return Err(EINVAL);
                }
                rmi.call(Call::VdevStart, &self.args())?;
                self.drive(rmi, t, pages, VdevState::Started, None, true)?;
                reply(&[], output)
            }
            GUEST_GET_STATE => {
                if !input.is_empty() {
                    return Err(EINVAL);
                }
                let s = self.state(rmi)?;
                reply(&[s.to_u8()], output)
            }
            _ => Err(EOPNOTSUPP),
        }
    }
}

/// Validates an interface report against the function's BARs and MSI-X layout.
fn validate(pdev: &pci::Device, bytes: &[u8]) -> Result {
    let r = InterfaceReport::parse(bytes).map_err(|e| {
        dev_warn!(pdev, "interface report: {:?}\n", e);
        EPROTO
    })?;
    let mut bars = KVec::new();
    for b in tsm::mem_bars(pdev).iter().flatten() {
        bars.push(
            BarInfo {
                index: b.index,
                base: b.start,
                size: b.len,
                is_64bit: b.is_64bit,
                prefetchable: b.prefetchable,
            },
            GFP_KERNEL,
        )?;
    }
    let msix = tsm::msix_layout(pdev).map(|m| report::MsixLayout {
        table_bar: m.table_bar,
        table_offset: m.table_offset,
        table_entries: m.table_entries,
        pba_bar: m.pba_bar,
        pba_offset: m.pba_offset,
    });
    let ranges = report::validate(
        &r,
        &ValidationParams {
            bars: &bars,
            mmio_reporting_offset: 0,
            unit: FirstPageUnit::PageNumber,
            msix,
            // Unconfirmed: which lock flags the RMM asks for (the model sets LOCK_MSIX);
            // a report that describes the MSI-X table is accepted either way.
            msix_locked: false,
        },
    )
    .map_err(|e| {
        dev_warn!(pdev, "interface report refused: {:?}\n", e);
        EPROTO
    })?;
    if ranges.count() == 0 {
        dev_warn!(pdev, "interface report has no MMIO range\n");
        return Err(EPROTO);
    }
    Ok(())
}
