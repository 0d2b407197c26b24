// SPDX-License-Identifier: GPL-2.0

//! Connect and disconnect: the device context, its SPDM buffers, DEV_CONNECT and the
//! device teardown order.
//!
//! Connect, as the SEV-TIO host does it (fact sheet §4 and §5):
//!
//! 1. DEV_CREATE on a firmware-owned context of TIO_STATUS's `devctx_size`, with the
//!    DSM's RID, its root port's Port Number (LNKCAP bits 31:24) and the segment;
//! 2. the four SPDM buffers (req, scratch and output firmware-owned, resp the host's,
//!    initialised empty) in TIO_STATUS's sizes;
//! 3. DEV_CONNECT with traffic class 0 on IDE stream [`IDE_STREAM_ID`] and certificate
//!    slot 0: the PSP runs SPDM with the device (each exchange relayed over DOE), the
//!    session and the IDE key programming, and leaves the certificate chain in the
//!    output buffer (a CERTIFICATE object).
//!
//! Emulated here, as in the other backends: the host side of IDE stream setup (stream
//! allocation, the endpoint's and root port's selective IDE registers). QEMU devices
//! have no IDE registers, so the host programs none; the stream is IDE stream 0.
//!
//! Teardown ([`Conn::teardown`]) follows `tsm_proto::tio::order::DevTeardown`:
//! DEV_DISCONNECT (made once more after a failure, then forced), DEV_RECLAIM; after a failed
//! DEV_CONNECT straight to DEV_RECLAIM. Then the host takes back every page it made
//! firmware-owned, even if a command failed; a page the PSP keeps is leaked, never
//! reused by the kernel. Teardown is not cancellable by a signal.

use super::psp::{
    completion,
    errno,
    Buf,
    Psp,
    SpdmBufs,
    SpdmCommand, //
};
use kernel::{
    pci::{
        self,
        tsm::relay, //
    },
    prelude::*,
};
use tsm_proto::tio::{
    buffer::OutputObject,
    order::{
        DevTeardown,
        Op, //
    },
    Done,
    Failure,
    ObjectId,
    Request,
    Sla,
    SpdmCtrl,
    TioStatus, //
};

/// The IDE stream ID the (emulated) host side allocates for traffic class 0.
pub(crate) const IDE_STREAM_ID: u8 = 0;

/// The certificate slot the backend asks for.
const CERT_SLOT: u8 = 0;

/// How a command's communication is bounded: teardown runs to its end whatever the
/// caller's signals.
fn limits(cancellable: bool) -> relay::Limits {
    relay::Limits {
        cancellable,
        ..relay::Limits::default()
    }
}

/// Runs the SPDM-sending `req` over `transport` to its end.
pub(crate) fn run_spdm(
    psp: &Psp<'_>,
    transport: &dyn relay::Transport,
    cmd_page: u64,
    bufs: &mut SpdmBufs,
    req: Request,
    cancellable: bool,
) -> Result<Result<Done, Failure>> {
    let mut port = SpdmCommand::new(psp, cmd_page, bufs, req);
    relay::run(transport, &mut port, &limits(cancellable))
}

/// What connect established, and what teardown must undo.
pub(crate) struct Conn {
    /// The page command buffers are issued from (hypervisor-owned).
    cmd_page: u64,
    /// The firmware-owned page the PSP writes status outputs to (TDI_STATUS, fences).
    status_page: u64,
    /// TIO_STATUS as platform init read it: the context sizes.
    pub(crate) tio: TioStatus,
    /// The device context, once DEV_CREATE took it.
    dev_ctx: Option<Buf>,
    /// The SPDM buffers, once allocated.
    bufs: Option<SpdmBufs>,
    /// DEV_CONNECT succeeded.
    connected: bool,
    /// Length of the certificate chain the PSP reported.
    pub(crate) cert_len: usize,
}

impl Conn {
    pub(crate) fn new(psp: &Psp<'_>, tio: TioStatus) -> Result<Self> {
        let cmd_page = psp.mem().alloc()?;
        let status_page = match psp.fw_page() {
            Ok(p) => p,
            Err(e) => {
                let _ = psp.mem().free(cmd_page);
                return Err(e);
            }
        };
        Ok(Self {
            cmd_page,
            status_page,
            tio,
            dev_ctx: None,
            bufs: None,
            connected: false,
            cert_len: 0,
        })
    }

    /// The device context, once created.
    pub(crate) fn dev_ctx(&self) -> Result<Sla> {
        self.dev_ctx.as_ref().map(|d| d.sla).ok_or(ENXIO)
    }

    /// The page status outputs go to.
    pub(crate) fn status_page(&self) -> u64 {
        self.status_page
    }

    /// Runs `req`, a command that sends no SPDM, from the connection's command page.
    pub(crate) fn run_plain(&self, psp: &Psp<'_>, req: Request) -> Result<Result<Done, Failure>> {
        psp.run_plain(self.cmd_page, req)
    }

    /// The `spdm_ctrl` of the connection's buffers.
    pub(crate) fn ctrl(&self) -> Result<SpdmCtrl> {
        self.bufs.as_ref().map(|b| b.ctrl()).ok_or(ENXIO)
    }

    /// Runs `req`, an SPDM-sending command, over `transport` with the connection's
    /// buffers. `req` names them as [`Conn::ctrl`] did; an EXPAND grows them.
    pub(crate) fn run_spdm(
        &mut self,
        psp: &Psp<'_>,
        transport: &dyn relay::Transport,
        req: Request,
        cancellable: bool,
    ) -> Result<Result<Done, Failure>> {
        let bufs = self.bufs.as_mut().ok_or(ENXIO)?;
        run_spdm(psp, transport, self.cmd_page, bufs, req, cancellable)
    }

    /// The output buffer's contents.
    pub(crate) fn output(&self, psp: &Psp<'_>) -> Result<KVec<u8>> {
        self.bufs.as_ref().ok_or(ENXIO)?.output(psp.mem())
    }

    /// Steps 1 to 3 of connect; on error the caller runs [`Conn::teardown`].
    pub(crate) fn connect(
        &mut self,
        psp: &Psp<'_>,
        transport: &dyn relay::Transport,
        pdev: &pci::Device,
    ) -> Result {
        let tio = self.tio;
        let addr = pci::Address::of(pdev);
        let mut dev_ctx = Buf::new(psp, tio.devctx_size, true)?;
        let create = Request::DevCreate {
            dev_ctx: dev_ctx.sla,
            rid: addr.rid(),
            // The root port's LNKCAP Port Number, not a RID (fact sheet §1); 0 if none.
            root_port_id: pci::Address::root_port_number_of(pdev).map_or(0, u16::from),
            // The segment is the PCI domain truncated to 8 bits (fact sheet §1).
            segment: addr.segment as u8,
        };
        match psp.run_plain(self.cmd_page, create)? {
            Ok(_) => self.dev_ctx = Some(dev_ctx),
            Err(f) => {
                dev_warn!(pdev, "DEV_CREATE failed: {:?}\n", f);
                dev_ctx.free(psp);
                return Err(errno(f));
            }
        }
        let Some(dev_ctx) = self.dev_ctx.as_ref().map(|d| d.sla) else {
            return Err(EINVAL);
        };
        let bufs = self.bufs.insert(SpdmBufs::new(psp, tio.buffer_sizes())?);
        let req = Request::dev_connect_tc0(bufs.ctrl(), dev_ctx, CERT_SLOT, IDE_STREAM_ID);
        match run_spdm(psp, transport, self.cmd_page, bufs, req, true)? {
            Ok(done) => {
                self.connected = true;
                dev_dbg!(pdev, "DEV_CONNECT: {} SPDM exchanges\n", done.relays);
            }
            Err(f) => {
                dev_warn!(pdev, "DEV_CONNECT failed: {:?}\n", f);
                return Err(errno(f));
            }
        }
        let out = bufs.output(psp.mem())?;
        match OutputObject::decode(&out) {
            Ok(o) if o.header.id == ObjectId::Certificate && o.devid == addr.rid() => {
                self.cert_len = o.payload.len();
                Ok(())
            }
            _ => {
                dev_warn!(
                    pdev,
                    "DEV_CONNECT left no certificate chain of this device\n"
                );
                Err(EPROTO)
            }
        }
    }

    /// Undoes whatever connect left or a disconnect finds; `Err` if the PSP kept a page
    /// or refused DEV_RECLAIM (its pages are then leaked).
    pub(crate) fn teardown(
        &mut self,
        psp: &Psp<'_>,
        transport: &dyn relay::Transport,
        pdev: &pci::Device,
    ) -> Result {
        let mut clean = true;
        if let Some(dev_ctx) = self.dev_ctx.as_ref().map(|d| d.sla) {
            let mut t = if self.connected {
                DevTeardown::new(false)
            } else {
                DevTeardown::after_failed_connect()
            };
            while let Some(op) = t.next() {
                let r = match (op, self.bufs.as_mut()) {
                    (Op::DevDisconnect { force }, Some(bufs)) => {
                        let req = Request::DevDisconnect {
                            force,
                            ctrl: bufs.ctrl(),
                            dev_ctx,
                        };
                        run_spdm(psp, transport, self.cmd_page, bufs, req, false)
                    }
                    // Connected means the buffers exist; without them there is nothing
                    // DEV_DISCONNECT could name.
                    (Op::DevDisconnect { .. }, None) => Err(EINVAL),
                    _ => psp.run_plain(self.cmd_page, Request::DevReclaim { dev_ctx }),
                };
                t = t
                    .complete(op, completion(pdev, op, r))
                    .map_err(|_| EPROTO)?;
            }
            let report = t.report();
            if self.connected && !report.disconnected {
                dev_err!(pdev, "DEV_DISCONNECT failed, forced too\n");
            }
            clean &= report.reclaimed;
            self.connected = false;
        }
        if let Some(mut bufs) = self.bufs.take() {
            clean &= bufs.free(psp);
        }
        if let Some(mut d) = self.dev_ctx.take() {
            clean &= d.free(psp);
        }
        clean &= psp.give_back(self.status_page);
        let _ = psp.mem().free(self.cmd_page);
        if clean {
            Ok(())
        } else {
            Err(EBUSY)
        }
    }
}
