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
//! Guest requests of `tvm_arch` SEV (`<linux/tsm_sev.h>`, decoded by
//! `tsm_proto::tio::guest`): the report the PSP left at the last TDI_BIND, from an
//! offset; RUN (TDI_STATUS, then TDI_BIND with RUN from CONFIG_LOCKED, whose report
//! replaces the kept one); the TDI's state (TDI_STATUS); STOP (a plain TDI_UNBIND, after
//! which the host's unbind has no binding to end in the PSP). `tsm_code` is the PSP's
//! status of the request's last command.

use super::{
    guest::Guests,
    link::Conn,
    psp::{
        completion,
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
            GuestReply,
            Kvm, //
        },
    },
    prelude::*,
};
use tsm_proto::{
    report::FirstPageUnit,
    tio::{
        buffer::OutputObject,
        guest::{
            GuestOp,
            CODE_NONE, //
        },
        order::{
            Completion,
            Op,
            TdiTeardown, //
        },
        request::RUN_FLAG_RUN,
        status::{
            TdiStatus,
            TdispState, //
        },
        Done,
        Failure,
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
    guest_device_id: u16,
    /// TDI_BIND was issued and no STOP since (the TDI may be locked).
    bind_issued: bool,
    reached_run: bool,
    /// The interface report of the last TDI_BIND, validated.
    report: KVec<u8>,
    /// The PSP's status of the last TIO command (`tsm_code`).
    code: u64,
}

impl BoundTdi {
    /// TDI_STATUS: the TDI's TDISP state as the PSP reads it from the device.
    fn status(
        &mut self,
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
        self.spdm(psp, conn, t, req, false)?.map_err(errno)?;
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
            guest_device_id,
            bind_issued: false,
            reached_run: false,
            report: KVec::new(),
            code: CODE_NONE,
        };
        match b.lock(psp, conn, t, pdev) {
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

    /// Runs the SPDM-sending `req` with the connection's buffers; keeps its status.
    fn spdm(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        req: Request,
        cancellable: bool,
    ) -> Result<core::result::Result<Done, Failure>> {
        let r = conn.run_spdm(psp, t, req, cancellable);
        self.code = code(&r);
        r
    }

    /// TDI_BIND with RUN as `run`, and the report it leaves checked and kept.
    fn tdi_bind(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
        run: bool,
    ) -> Result {
        let req = Request::TdiBind {
            ctrl: conn.ctrl()?,
            dev_ctx: conn.dev_ctx()?,
            tdi_ctx: self.tdi_ctx.sla,
            gctx: self.gctx,
            guest_device_id: self.guest_device_id,
            lock_flags: LockFlags::from_bits(0),
            run_flags: if run { RUN_FLAG_RUN } else { 0 },
        };
        self.bind_issued = true;
        if let Err(f) = self.spdm(psp, conn, t, req, true)? {
            dev_warn!(
                pdev,
                "TDI_BIND{} failed: {:?}\n",
                if run { " (RUN)" } else { "" },
                f
            );
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
        self.report.clear();
        self.report.extend_from_slice(o.payload, GFP_KERNEL)?;
        Ok(())
    }

    /// TDI_BIND (LOCK), the report checked, TDI_STATUS LOCKED.
    fn lock(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
    ) -> Result {
        self.tdi_bind(psp, conn, t, pdev, false)?;
        match self.status(psp, conn, t)? {
            TdispState::Locked => Ok(()),
            s => {
                dev_warn!(pdev, "TDI_BIND done, but the TDI is {:?}\n", s);
                Err(EPROTO)
            }
        }
    }

    /// A guest request of `tvm_arch` SEV (`tsm_proto::tio::guest`); `tsm_code` is the
    /// PSP's status of its last TIO command, or `TSM_SEV_CODE_NONE`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn guest_req(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
        op: u32,
        input: &[u8],
        output: &mut [u8],
        tsm_code: &mut u64,
    ) -> Result<GuestReply> {
        self.code = CODE_NONE;
        let r = match GuestOp::decode(op, input) {
            Ok(op) => self.guest_op(psp, conn, t, pdev, op, output),
            Err(e) => Err(e.into()),
        };
        *tsm_code = self.code;
        r
    }

    fn guest_op(
        &mut self,
        psp: &Psp<'_>,
        conn: &mut Conn,
        t: &dyn relay::Transport,
        pdev: &pci::Device,
        op: GuestOp,
        output: &mut [u8],
    ) -> Result<GuestReply> {
        let reply = |data: &[u8], output: &mut [u8]| Ok(GuestReply::copy(data, output));
        match op {
            GuestOp::GetReport { offset } => {
                reply(self.report.get(offset as usize..).ok_or(EINVAL)?, output)
            }
            GuestOp::GetState => {
                let s = self.status(psp, conn, t)?;
                reply(&[s.to_u8()], output)
            }
            // As the out-of-tree host does it: RUN only from CONFIG_LOCKED (a TDI in RUN
            // already is done), then TDI_BIND with RUN, whose report replaces the kept
            // one.
            GuestOp::Run => match self.status(psp, conn, t)? {
                TdispState::Run => reply(&[], output),
                TdispState::Locked => {
                    self.tdi_bind(psp, conn, t, pdev, true)?;
                    self.reached_run = true;
                    reply(&[], output)
                }
                s => {
                    dev_warn!(pdev, "RUN: the TDI is {:?}, not CONFIG_LOCKED\n", s);
                    Err(EPROTO)
                }
            },
            // TIO_OP STOP: a plain TDI_UNBIND (never forced: the guest's device must be
            // stopped, not forgotten); unbind then finds no binding to end in the PSP.
            GuestOp::Stop => {
                let req = Request::TdiUnbind {
                    force: false,
                    ctrl: conn.ctrl()?,
                    dev_ctx: conn.dev_ctx()?,
                    tdi_ctx: self.tdi_ctx.sla,
                    gctx: self.gctx,
                };
                // Not cancellable: a stop cut short would leave the TDI half-stopped.
                self.spdm(psp, conn, t, req, false)?.map_err(errno)?;
                self.bind_issued = false;
                reply(&[], output)
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
                    let r = self.spdm(psp, conn, t, req, false);
                    completion(pdev, op, r)
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
                Op::TdiReclaim => completion(
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
                    match completion(pdev, op, conn.run_plain(psp, req)) {
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
                    completion(pdev, op, conn.run_plain(psp, req))
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
}

/// The `tsm_code` of a command's end: its status, 0 for success, `TSM_SEV_CODE_NONE`
/// if the PSP gave no status (the call did not complete, or the host ended it).
fn code(r: &Result<core::result::Result<Done, Failure>>) -> u64 {
    match r {
        Ok(Ok(_)) => 0,
        Ok(Err(Failure::Firmware { status })) => u64::from(*status),
        _ => CODE_NONE,
    }
}
