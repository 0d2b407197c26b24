// SPDX-License-Identifier: GPL-2.0

//! Bind and unbind: the TDI context of a bound function.
//!
//! Bind, as the SEV-TIO host does it (fact sheet §5, "Bind/LOCK"): TDI_CREATE on a
//! firmware-owned context of TIO_STATUS's `tdictx_size`, naming the function by its
//! interface ID; TDI_BIND with RUN clear for the VM's guest ([`super::guest`]) with the
//! vDEVICE's virtual ID as `guest_device_id` and lock flags 0 (every known host sends 0;
//! unconfirmed whether a PSP accepts others): the PSP runs TDISP LOCK_INTERFACE with the
//! device and leaves the interface report in the output buffer (a REPORT object), which
//! the host validates against the function's BARs and MSI-X layout; then TDI_STATUS
//! must say LOCKED.
//!
//! Unbind follows `tsm_proto::tio::order::TdiTeardown`: TDI_UNBIND (made once more after
//! a failure, then forced: a forced unbind skips STOP_INTERFACE and leaves the device
//! locked),
//! TDI_STATUS (logged only), TDI_RECLAIM, ASID_FENCE_STATUS, and ASID_FENCE_CLEAR when
//! the guest's ASID is fenced after a TDI that reached RUN. Then the host takes back the
//! context pages, even after a failed command (a page the PSP keeps is leaked), and the
//! guest loses a TDI. A bind that fails after TDI_CREATE runs the same teardown. Unbind
//! is not cut short by a signal.
//!
//! Not yet: RUN and the guest requests (report, state) of `tvm_arch` SEV.

use super::{
    guest::Guests,
    link::Conn,
    psp::{
        errno,
        Buf,
        Psp,
        LAYOUT, //
    },
};
use kernel::{
    pci::{
        self,
        tsm::{
            self,
            relay,
            Kvm, //
        },
    },
    prelude::*,
};
use tsm_proto::{
    report::FirstPageUnit,
    tio::{
        buffer::OutputObject,
        order::{
            Completion,
            Op,
            TdiTeardown, //
        },
        status::{
            TdiStatus,
            TdispState, //
        },
        FenceStatus,
        InterfaceId,
        LockFlags,
        ObjectId,
        Request, //
    },
};

/// A bound TDI: its context, its guest.
pub(crate) struct BoundTdi {
    tdi_ctx: Buf,
    gctx: u64,
    asid: u32,
    /// TDI_BIND was issued (the TDI may be locked).
    bind_issued: bool,
    reached_run: bool,
}

impl BoundTdi {
    /// TDI_STATUS: the TDI's TDISP state as the PSP reads it from the device.
    fn status(
        &self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
    ) -> Result<TdispState> {
        let status_paddr = conn.status_page();
        let req = Request::TdiStatus {
            ctrl: conn.ctrl()?,
            dev_ctx: conn.dev_ctx()?,
            tdi_ctx: self.tdi_ctx.sla,
            status_paddr,
        };
        conn.run_spdm(psp, t, req, false)?.map_err(errno)?;
        let mut page = [0u8; 16];
        psp.mem().read(status_paddr, &mut page)?;
        let s = TdiStatus::decode(LAYOUT, &page).map_err(|_| EPROTO)?;
        Ok(s.state)
    }

    /// Binds `pdev`'s TDI to `kvm`'s guest as guest device `tdi_id`.
    pub(crate) fn bind(
        psp: &Psp<'_>,
        guests: &Guests,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
        kvm: &Kvm,
        tdi_id: u32,
    ) -> Result<Self> {
        let guest_device_id = u16::try_from(tdi_id).map_err(|_| EINVAL)?;
        let dev_ctx = conn.dev_ctx()?;
        let (gctx, asid) = guests.get(psp, kvm)?;
        let mut tdi_ctx = match Buf::new(psp, conn.tio.tdictx_size, true) {
            Ok(b) => b,
            Err(e) => {
                guests.put(psp, gctx);
                return Err(e);
            }
        };
        let addr = pci::Address::of(pdev);
        let create = Request::TdiCreate {
            dev_ctx,
            tdi_ctx: tdi_ctx.sla,
            interface_id: InterfaceId::for_function(addr.rid(), u32::from(addr.segment)),
        };
        let created = match conn.run_plain(psp, create) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(f)) => {
                dev_warn!(pdev, "TDI_CREATE failed: {:?}\n", f);
                Err(errno(f))
            }
            Err(e) => Err(e),
        };
        if let Err(e) = created {
            tdi_ctx.free(psp);
            guests.put(psp, gctx);
            return Err(e);
        }
        let mut b = Self {
            tdi_ctx,
            gctx,
            asid,
            bind_issued: false,
            reached_run: false,
        };
        match b.lock(psp, conn, t, pdev, gctx, guest_device_id) {
            Ok(()) => Ok(b),
            Err(e) => {
                if b.unbind(psp, guests, conn, t, pdev).is_err() {
                    dev_err!(pdev, "bind: undoing it failed; the TDI may stay locked\n");
                    return Err(EIO);
                }
                Err(e)
            }
        }
    }

    /// TDI_BIND (LOCK), the report checked, TDI_STATUS LOCKED.
    fn lock(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
        gctx: u64,
        guest_device_id: u16,
    ) -> Result {
        let req = Request::TdiBind {
            ctrl: conn.ctrl()?,
            dev_ctx: conn.dev_ctx()?,
            tdi_ctx: self.tdi_ctx.sla,
            gctx,
            guest_device_id,
            lock_flags: LockFlags::from_bits(0),
            run_flags: 0,
        };
        self.bind_issued = true;
        if let Err(f) = conn.run_spdm(psp, t, req, true)? {
            dev_warn!(pdev, "TDI_BIND failed: {:?}\n", f);
            return Err(errno(f));
        }
        let out = conn.output(psp)?;
        let o = OutputObject::decode(&out).map_err(|_| EPROTO)?;
        if o.header.id != ObjectId::Report || o.devid != pci::Address::of(pdev).rid() {
            dev_warn!(pdev, "TDI_BIND left no interface report of this function\n");
            return Err(EPROTO);
        }
        // The PSP locks without LOCK_MSIX (lock flags 0): the table is the host's.
        tsm::report::validate(pdev, o.payload, FirstPageUnit::PageNumber, false)?;
        match self.status(psp, conn, t)? {
            TdispState::Locked => Ok(()),
            s => {
                dev_warn!(pdev, "TDI_BIND done, but the TDI is {:?}\n", s);
                Err(EPROTO)
            }
        }
    }

    /// The TDI teardown order; `Err` if TDI_RECLAIM failed or the PSP kept a page
    /// (leaked). The guest loses the TDI either way.
    pub(crate) fn unbind(
        &mut self,
        psp: &Psp<'_>,
        guests: &Guests,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
    ) -> Result {
        let r = self.teardown(psp, conn, t, pdev);
        let clean = self.tdi_ctx.free(psp);
        guests.put(psp, self.gctx);
        match r {
            Ok(true) if clean => Ok(()),
            Ok(_) => Err(EBUSY),
            Err(e) => Err(e),
        }
    }

    /// The commands of the TDI teardown; `Ok(reclaimed)`.
    fn teardown(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
    ) -> Result<bool> {
        let dev_ctx = conn.dev_ctx()?;
        let tdi_ctx = self.tdi_ctx.sla;
        let mut m = TdiTeardown::new(self.bind_issued, self.reached_run);
        while let Some(op) = m.next() {
            let c = match op {
                Op::TdiUnbind { force } => {
                    let req = Request::TdiUnbind {
                        force,
                        ctrl: conn.ctrl()?,
                        dev_ctx,
                        tdi_ctx,
                        gctx: self.gctx,
                    };
                    Self::completion(pdev, op, conn.run_spdm(psp, t, req, false))
                }
                Op::TdiStatus => match self.status(psp, conn, t) {
                    Ok(s) => {
                        dev_dbg!(pdev, "unbind: the TDI is {:?}\n", s);
                        Completion::Ok
                    }
                    Err(e) => {
                        dev_warn!(pdev, "unbind: TDI_STATUS: {:?}\n", e);
                        Completion::Failed
                    }
                },
                Op::TdiReclaim => Self::completion(
                    pdev,
                    op,
                    conn.run_plain(psp, Request::TdiReclaim { dev_ctx, tdi_ctx }),
                ),
                Op::AsidFenceStatus => {
                    let status_paddr = conn.status_page();
                    let req = Request::AsidFenceStatus {
                        dev_ctx,
                        asid: self.asid,
                        status_paddr,
                        devid: 0,
                        segment: 0,
                    };
                    match Self::completion(pdev, op, conn.run_plain(psp, req)) {
                        Completion::Ok => {
                            let mut page = [0u8; 8];
                            psp.mem().read(status_paddr, &mut page)?;
                            match FenceStatus::decode_bytes(LAYOUT, &page) {
                                Ok(f) => Completion::Fence(f),
                                Err(_) => Completion::Failed,
                            }
                        }
                        c => c,
                    }
                }
                _ => {
                    let req = Request::AsidFenceClear {
                        dev_ctx,
                        gctx: self.gctx,
                        devid: 0,
                        segment: 0,
                    };
                    Self::completion(pdev, op, conn.run_plain(psp, req))
                }
            };
            m = m.complete(op, c).map_err(|_| EPROTO)?;
        }
        let report = m.report();
        if self.bind_issued && !report.unbound {
            dev_err!(pdev, "TDI_UNBIND failed, forced too\n");
        }
        self.bind_issued = false;
        self.reached_run = false;
        Ok(report.reclaimed)
    }

    fn completion(
        pdev: &pci::Device,
        op: Op,
        r: Result<core::result::Result<tsm_proto::tio::Done, tsm_proto::tio::Failure>>,
    ) -> Completion {
        match r {
            Ok(Ok(_)) => Completion::Ok,
            Ok(Err(f)) => {
                dev_warn!(pdev, "{:?} failed: {:?}\n", op, f);
                Completion::Failed
            }
            Err(e) => {
                dev_warn!(pdev, "{:?} did not complete: {:?}\n", op, e);
                Completion::Failed
            }
        }
    }
}
