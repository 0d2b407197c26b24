// SPDX-License-Identifier: GPL-2.0

//! PSP commands as the backend issues them: one mailbox command through the conduit,
//! the host's page-ownership and guest actions, the buffers the host hands to firmware,
//! and one TIO command run to its end by the protocol crate's sequencer, with each SPDM
//! exchange it asks for carried by the shared relay loop.
//!
//! The ABI is `tsm_proto::tio` (the PSP model shares it): command IDs and buffers,
//! SLAs, the SPDM buffer headers, statuses. A command buffer lives in one hypervisor
//! page ([`Psp::cmd_page`]); the PSP copies it back on return (fact sheet §0), which the
//! conduit's model does by writing the page.

use kernel::{
    page::PAGE_SIZE,
    pci::{
        self,
        tsm::{
            conduit::{
                Conduit,
                FwMemory,
                Regs,
                NR_REGS, //
            },
            relay::{
                self,
                Step, //
            },
        },
    },
    prelude::*,
};
use tsm_proto::tio::{
    buffer::{
        expand_request,
        init_resp,
        write_resp,
        DataType,
        SpdmRequest, //
    },
    order::{
        Completion,
        Op, //
    },
    sla::encode_scatter,
    Done,
    Failure,
    Layout,
    Next,
    Request,
    Sequencer,
    Sla,
    SpdmCtrl,
    StandIn,
    Status,
    MAX_CMD_LEN,
    PAGE_SIZE as PSP_PAGE, //
};

// The conduit's pages are the PSP's 4K pages.
const _: () = assert!(PAGE_SIZE == PSP_PAGE);

/// The command-buffer layout the backend speaks (L72, OOT, P1).
pub(crate) const LAYOUT: Layout = Layout::Current;

/// Largest SPDM buffer the backend allocates (the PSP's TIO_STATUS asks for sizes; a
/// scatter page holds 511 data pages, but no buffer needs more than this).
const MAX_BUF: u32 = 0x1_0000;

/// The errno of a failed TIO command. Unconfirmed which statuses a real PSP returns
/// where: these follow the names of the codes (fact sheet §3).
pub(crate) fn errno(f: Failure) -> Error {
    match f {
        Failure::Firmware { status } => match Status::from_u16(status) {
            Ok(Status::InvalidParam | Status::IncorrectBufferLength) => EINVAL,
            Ok(Status::InUse) => EBUSY,
            Ok(Status::SpdmError | Status::ErrInDevConn | Status::DevCertChanged) => EIO,
            Ok(Status::InvalidPageState | Status::InvalidPageOwner) => EFAULT,
            // INVALID_DEV_CTX, _TDI_CTX, _DEV_STATE, ...: the PSP refused the command for
            // a reason of its own state; retrying it changes nothing.
            _ => EPROTO,
        },
        Failure::Exchange => EIO,
        Failure::ExpandTwice | Failure::StaleSla => ENOSPC,
        Failure::RelayWithoutSpdm
        | Failure::ExpandWithoutSpdm
        | Failure::CopyBack(_)
        | Failure::Encode(_) => EPROTO,
    }
}

/// How a command an order machine (`tsm_proto::tio::order`) asked for ended, logged
/// if it failed.
pub(crate) fn completion(
    pdev: &pci::Device,
    op: Op,
    r: Result<Result<Done, Failure>>,
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

/// The PSP, reached through a conduit.
pub(crate) struct Psp<'a> {
    conduit: &'a dyn Conduit,
}

impl<'a> Psp<'a> {
    pub(crate) fn new(conduit: &'a dyn Conduit) -> Self {
        Self { conduit }
    }

    /// The memory handed to the PSP.
    pub(crate) fn mem(&self) -> &'a FwMemory {
        self.conduit.memory()
    }

    /// One mailbox call: `id` in the command register, `addr` and `arg` beside it; the
    /// status. `Err` if the call did not complete (no model, the model went away).
    fn mailbox(&self, id: u64, addr: u64, arg: u64) -> Result<u16> {
        let mut regs: Regs = [0; NR_REGS];
        regs[0] = id;
        regs[1] = addr;
        regs[3] = arg;
        self.conduit.call(&mut regs)?;
        // The status is CMDRESP bits 15:0.
        Ok(regs[2] as u16)
    }

    /// A stand-in action (`tsm_proto::tio::standin`): what a real host does with the
    /// RMP or KVM, made on the model's conduit. A refusal is `EFAULT` (the page is not
    /// in the state the action needs).
    pub(crate) fn stand_in(&self, what: StandIn, addr: u64, arg: u64) -> Result {
        match self.mailbox(what.to_u64(), addr, arg)? {
            0 => Ok(()),
            st => {
                pr_warn!("{:?} {:#x}: refused with status {:#x}\n", what, addr, st);
                Err(EFAULT)
            }
        }
    }

    /// A zeroed page the PSP owns (`rmp_make_private`).
    pub(crate) fn fw_page(&self) -> Result<u64> {
        let pa = self.mem().alloc()?;
        if let Err(e) = self.stand_in(StandIn::MakeFirmware, pa, 0) {
            let _ = self.mem().free(pa);
            return Err(e);
        }
        Ok(pa)
    }

    /// Gives back a page the PSP owned (SNP_PAGE_RECLAIM, `rmp_make_shared`) and frees
    /// it; a page the PSP keeps is leaked, never returned to the allocator. `false`: it
    /// was leaked.
    pub(crate) fn give_back(&self, pa: u64) -> bool {
        if self.stand_in(StandIn::MakeShared, pa, 0).is_ok() {
            let _ = self.mem().free(pa);
            true
        } else {
            pr_err!("page {:#x} stays firmware-owned: leaked\n", pa);
            let _ = self.mem().leak(pa);
            false
        }
    }

    /// Issues the command buffer `buf` as `id` from `cmd_page`; the status and the
    /// buffer as copied back.
    fn issue(&self, cmd_page: u64, id: u16, buf: &[u8]) -> Result<(u16, [u8; MAX_CMD_LEN])> {
        let mem = self.mem();
        mem.write(cmd_page, buf)?;
        let st = self.mailbox(u64::from(id), cmd_page, 0)?;
        let mut copied = [0u8; MAX_CMD_LEN];
        let n = buf.len().min(MAX_CMD_LEN);
        mem.read(cmd_page, &mut copied[..n])?;
        Ok((st, copied))
    }

    /// Runs `req`, a command that sends no SPDM (TIO_STATUS, DEV_CREATE, DEV_RECLAIM,
    /// ...), to its end from `cmd_page`.
    pub(crate) fn run_plain(&self, cmd_page: u64, req: Request) -> Result<Result<Done, Failure>> {
        let mut next = match Sequencer::start(LAYOUT, req) {
            Ok(i) => Next::Issue(i),
            Err(f) => return Ok(Err(f)),
        };
        loop {
            next = match next {
                Next::Issue(i) => {
                    let buf = i.buffer();
                    let (st, copied) =
                        self.issue(cmd_page, i.command().to_u16(), buf.as_bytes())?;
                    let n = buf.len();
                    i.returned(st, &copied[..n])
                }
                // Only SPDM commands relay or expand; the sequencer refuses either for
                // the others, so these arms end the command.
                Next::Relay(r) => r.failed(),
                Next::Expand(e) => e.abandon(),
                Next::Done(r) => return Ok(r),
            };
        }
    }
}

/// One buffer the host hands to the PSP: 4K data pages, named by one SLA (a scatter
/// page, hypervisor-owned, for more than one page).
pub(crate) struct Buf {
    pub(crate) sla: Sla,
    pages: KVec<u64>,
    scatter: Option<u64>,
    firmware: bool,
}

impl Buf {
    /// A buffer of `bytes`, firmware-owned (`firmware`) or not.
    pub(crate) fn new(psp: &Psp<'_>, bytes: u32, firmware: bool) -> Result<Self> {
        if bytes > MAX_BUF {
            return Err(EINVAL);
        }
        let n = (bytes as usize).div_ceil(PAGE_SIZE).max(1);
        let mut b = Self {
            sla: Sla::Null,
            pages: KVec::with_capacity(n, GFP_KERNEL)?,
            scatter: None,
            firmware,
        };
        for _ in 0..n {
            let pa = match if firmware {
                psp.fw_page()
            } else {
                psp.mem().alloc()
            } {
                Ok(pa) => pa,
                Err(e) => {
                    b.free(psp);
                    return Err(e);
                }
            };
            // Cannot fail: the capacity is reserved.
            let _ = b.pages.push(pa, GFP_KERNEL);
        }
        if let Err(e) = b.name(psp) {
            b.free(psp);
            return Err(e);
        }
        Ok(b)
    }

    /// Sets the SLA: the page itself, or a scatter page listing them.
    fn name(&mut self, psp: &Psp<'_>) -> Result {
        if let [one] = self.pages[..] {
            self.sla = Sla::data_4k(one).map_err(|_| EINVAL)?;
            return Ok(());
        }
        let s = psp.mem().alloc()?;
        self.scatter = Some(s);
        let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        encode_scatter(&self.pages, &mut page).map_err(|_| EINVAL)?;
        psp.mem().write(s, &page)?;
        self.sla = Sla::scatter(s).map_err(|_| EINVAL)?;
        Ok(())
    }

    /// Bytes of the buffer.
    pub(crate) fn len(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// The whole buffer.
    pub(crate) fn read(&self, mem: &FwMemory) -> Result<KVec<u8>> {
        let mut out = KVec::from_elem(0u8, self.len(), GFP_KERNEL)?;
        for (pa, chunk) in self.pages.iter().zip(out.chunks_mut(PAGE_SIZE)) {
            mem.read(*pa, chunk)?;
        }
        Ok(out)
    }

    /// Writes `data` from the buffer's start.
    pub(crate) fn write(&self, mem: &FwMemory, data: &[u8]) -> Result {
        if data.len() > self.len() {
            return Err(EINVAL);
        }
        for (pa, chunk) in self.pages.iter().zip(data.chunks(PAGE_SIZE)) {
            mem.write(*pa, chunk)?;
        }
        Ok(())
    }

    /// Gives every page back; `false` if the PSP kept one (leaked).
    pub(crate) fn free(&mut self, psp: &Psp<'_>) -> bool {
        let mut clean = true;
        for pa in core::mem::take(&mut self.pages) {
            if self.firmware {
                clean &= psp.give_back(pa);
            } else {
                let _ = psp.mem().free(pa);
            }
        }
        if let Some(s) = self.scatter.take() {
            let _ = psp.mem().free(s);
        }
        self.sla = Sla::Null;
        clean
    }
}

/// The four SPDM buffers of one device context (`spdm_ctrl`), and output buffers an
/// EXPAND replaced, which the PSP may still hold until DEV_RECLAIM.
pub(crate) struct SpdmBufs {
    req: Buf,
    resp: Buf,
    scratch: Buf,
    output: Buf,
    replaced: KVec<Buf>,
}

impl SpdmBufs {
    /// Allocates them in the sizes of `sizes` (TIO_STATUS's `buffer_sizes()`); RESP is
    /// initialised as the host does (id 2, version 1.0, empty).
    pub(crate) fn new(psp: &Psp<'_>, sizes: [u32; 4]) -> Result<Self> {
        let [req, resp, scratch, output] = sizes;
        let mut req = Buf::new(psp, req, true)?;
        let mut resp = match Buf::new(psp, resp, false) {
            Ok(b) => b,
            Err(e) => {
                req.free(psp);
                return Err(e);
            }
        };
        let mut scratch = match Buf::new(psp, scratch, true) {
            Ok(b) => b,
            Err(e) => {
                req.free(psp);
                resp.free(psp);
                return Err(e);
            }
        };
        let output = match Buf::new(psp, output, true) {
            Ok(b) => b,
            Err(e) => {
                req.free(psp);
                resp.free(psp);
                scratch.free(psp);
                return Err(e);
            }
        };
        let b = Self {
            req,
            resp,
            scratch,
            output,
            replaced: KVec::new(),
        };
        let init = b.resp.read(psp.mem()).and_then(|mut r| {
            init_resp(&mut r, b.resp.len() as u32).map_err(|_| EINVAL)?;
            b.resp.write(psp.mem(), &r)
        });
        if let Err(e) = init {
            let mut b = b;
            b.free(psp);
            return Err(e);
        }
        Ok(b)
    }

    /// The `spdm_ctrl` naming them.
    pub(crate) fn ctrl(&self) -> SpdmCtrl {
        SpdmCtrl {
            req: self.req.sla,
            resp: self.resp.sla,
            scratch: self.scratch.sla,
            output: self.output.sla,
        }
    }

    /// The output buffer's contents.
    pub(crate) fn output(&self, mem: &FwMemory) -> Result<KVec<u8>> {
        self.output.read(mem)
    }

    /// Gives every buffer back; `false` if the PSP kept a page.
    pub(crate) fn free(&mut self, psp: &Psp<'_>) -> bool {
        let mut clean = true;
        for b in [
            &mut self.req,
            &mut self.resp,
            &mut self.scratch,
            &mut self.output,
        ] {
            clean &= b.free(psp);
        }
        for mut b in core::mem::take(&mut self.replaced) {
            clean &= b.free(psp);
        }
        clean
    }
}

/// One SPDM-sending TIO command (DEV_CONNECT, DEV_DISCONNECT, ...) as a relay port: the
/// sequencer issues it, each SPDM_REQUEST becomes one DOE exchange, the reply goes to
/// RESP and the identical buffer is re-issued; an EXPAND grows the output or scratch
/// buffer once.
///
/// The PSP has no command that takes back a request the host never relayed (fact sheet
/// §3): [`relay::Port::abort`] only drops the command, and the caller's next step
/// (DEV_RECLAIM after a failed connect, the forced retry of a teardown) is what brings
/// the context back. Unconfirmed how a real PSP treats the abandoned request.
pub(crate) struct SpdmCommand<'p, 'b> {
    psp: &'p Psp<'p>,
    cmd_page: u64,
    bufs: &'b mut SpdmBufs,
    req: Option<Request>,
    relay: Option<tsm_proto::tio::Relay>,
    data_type: DataType,
    request: KVec<u8>,
}

impl<'p, 'b> SpdmCommand<'p, 'b> {
    pub(crate) fn new(
        psp: &'p Psp<'p>,
        cmd_page: u64,
        bufs: &'b mut SpdmBufs,
        req: Request,
    ) -> Self {
        Self {
            psp,
            cmd_page,
            bufs,
            req: Some(req),
            relay: None,
            data_type: DataType::Spdm,
            request: KVec::new(),
        }
    }

    /// Steps the sequencer until it wants an exchange or is done.
    fn advance(&mut self, mut next: Next) -> Result<Step<Result<Done, Failure>>> {
        let mem = self.psp.mem();
        loop {
            next = match next {
                Next::Issue(i) => {
                    let buf = i.buffer();
                    let (st, copied) =
                        self.psp
                            .issue(self.cmd_page, i.command().to_u16(), buf.as_bytes())?;
                    let n = buf.len();
                    i.returned(st, &copied[..n])
                }
                Next::Relay(r) => {
                    let bytes = self.bufs.req.read(mem)?;
                    let Ok(q) = SpdmRequest::decode(&bytes) else {
                        pr_warn!("{:?}: the PSP's REQ does not decode\n", r.command());
                        next = r.failed();
                        continue;
                    };
                    self.request.clear();
                    self.request.extend_from_slice(q.payload, GFP_KERNEL)?;
                    self.data_type = q.data_type;
                    self.relay = Some(r);
                    return Ok(Step::Doe {
                        object_type: q.data_type.doe_type(),
                    });
                }
                Next::Expand(e) => match self.grow(&e) {
                    Ok(Some(ctrl)) => e.grown(ctrl),
                    Ok(None) => e.abandon(),
                    Err(err) => {
                        let _ = e.abandon();
                        return Err(err);
                    }
                },
                Next::Done(r) => return Ok(Step::Done(r)),
            };
        }
    }

    /// EXPAND: a new firmware-owned output (or scratch) buffer of the capacity the PSP
    /// wrote in the old one's header; the old one is kept until DEV_RECLAIM (the PSP may
    /// hold it). `None`: no buffer asks to grow.
    fn grow(&mut self, e: &tsm_proto::tio::Expand) -> Result<Option<SpdmCtrl>> {
        let Some(ctrl) = e.ctrl() else {
            return Ok(None);
        };
        let mem = self.psp.mem();
        let mut new = ctrl;
        for output in [true, false] {
            let old = if output {
                &self.bufs.output
            } else {
                &self.bufs.scratch
            };
            let bytes = old.read(mem)?;
            let Ok(Some(cap)) = expand_request(&bytes, old.len() as u32) else {
                continue;
            };
            let b = Buf::new(self.psp, cap, true)?;
            let sla = b.sla;
            let slot = if output {
                &mut self.bufs.output
            } else {
                &mut self.bufs.scratch
            };
            let old = core::mem::replace(slot, b);
            self.bufs.replaced.push(old, GFP_KERNEL)?;
            if output {
                new.output = sla;
            } else {
                new.scratch = sla;
            }
        }
        Ok((new != ctrl).then_some(new))
    }
}

impl relay::Port for SpdmCommand<'_, '_> {
    type Output = Result<Done, Failure>;

    fn issue(&mut self) -> Result<Step<Self::Output>> {
        let req = self.req.take().ok_or(EINVAL)?;
        match Sequencer::start(LAYOUT, req) {
            Ok(i) => self.advance(Next::Issue(i)),
            Err(f) => Ok(Step::Done(Err(f))),
        }
    }

    fn request(&self) -> &[u8] {
        &self.request
    }

    fn resume(&mut self, response: Result<&[u8]>) -> Result<Step<Self::Output>> {
        let r = self.relay.take().ok_or(EPROTO)?;
        let next = match response {
            Ok(reply) => {
                let mem = self.psp.mem();
                let mut rb = self.bufs.resp.read(mem)?;
                match write_resp(&mut rb, self.data_type, reply) {
                    Ok(_) => {
                        self.bufs.resp.write(mem, &rb)?;
                        r.exchanged()
                    }
                    Err(_) => {
                        pr_warn!("a DOE reply of {} bytes does not fit RESP\n", reply.len());
                        r.failed()
                    }
                }
            }
            Err(e) => {
                pr_warn!("{:?}: DOE exchange failed: {:?}\n", r.command(), e);
                r.failed()
            }
        };
        self.advance(next)
    }

    fn abort(&mut self, reason: Error) {
        if let Some(r) = self.relay.take() {
            pr_warn!("{:?}: abandoned ({:?})\n", r.command(), reason);
        }
    }
}
