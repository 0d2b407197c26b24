// SPDX-License-Identifier: GPL-2.0

//! AMD SEV-TIO host: PCIe TEE-IO device assignment through the PSP's TIO commands.
//!
//! A PCI/TSM link TSM ([`LinkTsm`]) whose platform firmware is the AMD PSP. The PSP is
//! the SPDM requester toward the device and owns its IDE keys and TDISP state; the host
//! creates its contexts (a device context per DSM), hands it memory (firmware-owned
//! context and buffer pages, the hypervisor's resp buffer) and carries every DOE
//! exchange it asks for (status SPDM_REQUEST) through the shared relay loop. See
//! `Documentation/driver-api/pci/tsm-sev-tio.rst`.
//!
//! The PSP is reached through the firmware conduit (`kernel::pci::tsm::conduit`):
//!
//! - `psp_model=1`: the PSP model `tsm-psp` (`tools/tsm/`), which serves the TIO
//!   commands on `/dev/tsm_psp` ([`ModelConduit`]); for machines without a SEV-TIO PSP
//!   (QEMU). The host's RMP updates and the guest facts a real PSP learns elsewhere go
//!   to the model as stand-in calls (`tsm_proto::tio::standin`).
//! - `psp_model=0` (the default): the real PSP. Its conduit (the CCP driver's
//!   `sev_do_cmd()` and the kernel's RMP calls) is not written yet, so the module does
//!   not load without the model.
//!
//! Linux 7.2's own SEV-TIO backend (`drivers/crypto/ccp/sev-dev-tsm.c`, C, connect
//! only) registers from the CCP driver on a real PSP; this one does not replace it
//! there and never registers beside it on the same machine (it needs the model).
//!
//! | file | what |
//! |---|---|
//! | this file | the module, the conduit, platform init, the [`LinkTsm`] callbacks |
//! | `psp` | one PSP command, stand-ins, buffers, an SPDM command as a relay port |
//! | `link` | connect and disconnect: the device context and the teardown order |
//! | `tdi` | bind (LOCK), guest requests and unbind: the TDI context, the report, the teardown order |
//! | `guest` | the SNP guest of a VM (context page, ASID): KVM's facts, stood in for |
//!
//! Guest requests of `tvm_arch` SEV (`<linux/tsm_sev.h>`): the report, RUN, the TDI's
//! state, STOP. Not served: the guest's encrypted GUEST_REQUEST messages.

use kernel::{
    faux, new_mutex,
    pci::{
        self,
        tsm::{
            self,
            conduit::{
                model::{
                    ModelConduit,
                    Owner, //
                },
                Conduit,
            },
            Dsm,
            GuestReply,
            Kvm,
            LinkTsm,
            Tdi,
            TvmArch, //
        },
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        Mutex, //
    },
};

mod guest;
mod link;
mod psp;
mod tdi;

use guest::Guests;
use link::Conn;
use psp::Psp;
use tsm_proto::tio::{
    order::{
        Completion,
        Op,
        PlatformInit, //
    },
    Request,
    TioStatus, //
};

module! {
    type: SevTioHost,
    name: "sev_tio_host",
    authors: ["tsm-vfio developers"],
    description: "AMD SEV-TIO host: PCIe TEE-IO device assignment through the PSP",
    license: "GPL",
    params: {
        psp_model: u8 {
            default: 0,
            description: "1: use the PSP model on /dev/tsm_psp (required: no real PSP conduit yet)",
        },
    },
}

struct ThisOwner;

impl Owner for ThisOwner {
    const MODULE: &'static ThisModule = &THIS_MODULE;
}

/// What every callback reaches: the conduit, the lock that keeps platform init to one
/// caller at a time, and the guests of the VMs TDIs are bound to.
#[pin_data]
struct Sev {
    fw: Pin<KBox<ModelConduit<ThisOwner>>>,
    #[pin]
    init: Mutex<()>,
    #[pin]
    guests: Guests,
}

impl Sev {
    fn psp(&self) -> Psp<'_> {
        Psp::new(&*self.fw as &dyn Conduit)
    }

    /// Platform init (TIO_STATUS, TIO_INIT unless `init_done`, TIO_STATUS): the PSP's
    /// status page. Run at every connect: a real PSP answers the first TIO_STATUS with
    /// `init_done` after the first time, and a model started anew is initialised again.
    fn platform(&self, psp: &Psp<'_>) -> Result<TioStatus> {
        let _g = self.init.lock();
        let mem = psp.mem();
        let cmd = mem.alloc()?;
        let status = match psp.fw_page() {
            Ok(p) => p,
            Err(e) => {
                let _ = mem.free(cmd);
                return Err(e);
            }
        };
        let r = Self::init_steps(psp, cmd, status);
        psp.give_back(status);
        let _ = mem.free(cmd);
        r
    }

    /// The platform init machine's steps: `EIO` if a command failed, `ENODEV` if the PSP
    /// has no TIO (`tio_en` clear) or init did not take.
    fn init_steps(psp: &Psp<'_>, cmd: u64, status: u64) -> Result<TioStatus> {
        let mut m = PlatformInit::new();
        let mut failed = false;
        while let Some(op) = m.next() {
            let c = match op {
                Op::TioStatus => {
                    let ok = psp
                        .run_plain(
                            cmd,
                            Request::TioStatus {
                                status_paddr: status,
                            },
                        )?
                        .is_ok();
                    let mut page = [0u8; 64];
                    psp.mem().read(status, &mut page)?;
                    match (ok, TioStatus::decode(&page)) {
                        (true, Ok(s)) => Completion::Status(s),
                        _ => {
                            pr_err!("TIO_STATUS failed\n");
                            failed = true;
                            Completion::Failed
                        }
                    }
                }
                _ => match psp.run_plain(cmd, Request::TioInit)? {
                    Ok(_) => Completion::Ok,
                    Err(f) => {
                        pr_err!("TIO_INIT failed: {:?}\n", f);
                        failed = true;
                        Completion::Failed
                    }
                },
            };
            m = m.complete(op, c).map_err(|_| EPROTO)?;
        }
        match m {
            PlatformInit::Ready(s) => Ok(s),
            _ if failed => Err(EIO),
            _ => {
                pr_err!("the PSP has no SEV-TIO, or its init did not take\n");
                Err(ENODEV)
            }
        }
    }
}

/// The module: the TSM and its parent device.
struct SevTioHost {
    // Dropped first: the core disconnects every device, which needs the conduit.
    _tsm: tsm::Registration<SevTsm>,
    _parent: faux::Registration,
}

impl kernel::Module for SevTioHost {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if *module_parameters::psp_model.value() == 0 {
            pr_err!("no real PSP conduit yet: load with psp_model=1 (the PSP model tsm-psp)\n");
            return Err(ENODEV);
        }
        let fw = ModelConduit::new(c"tsm_psp", tsm::conduit::Kind::PspCommand)?;
        let sev = Arc::pin_init(
            pin_init!(Sev {
                fw,
                init <- new_mutex!(()),
                guests <- Guests::new(),
            }),
            GFP_KERNEL,
        )?;
        let parent = faux::Registration::new(c"sev_tio_host", None)?;
        let t = tsm::Registration::<SevTsm>::new(parent.as_ref(), sev)?;
        pr_info!(
            "registered tsm{} (AMD SEV-TIO, PSP model at /dev/tsm_psp)\n",
            t.id()
        );
        Ok(Self {
            _tsm: t,
            _parent: parent,
        })
    }
}

/// The SEV-TIO link TSM.
struct SevTsm;

/// Per-DSM state: the connection, while connected.
struct Link {
    conn: Option<Conn>,
}

#[vtable]
impl LinkTsm for SevTsm {
    type RegistrationData = Arc<Sev>;
    type DsmData = Link;
    type TdiData = tdi::BoundTdi;

    fn probe(_sev: &Arc<Sev>, _pdev: &pci::Device) -> impl PinInit<Link, Error> {
        try_init!(Link { conn: None })
    }

    fn connect(dsm: &mut Dsm<'_, Self>) -> Result {
        let sev = dsm.registration_data();
        let psp = sev.psp();
        let tio = match sev.platform(&psp) {
            Ok(t) => t,
            Err(e) => {
                if !sev.fw.attached() {
                    dev_info!(dsm.pdev(), "connect: no PSP model holds /dev/tsm_psp\n");
                } else {
                    dev_warn!(dsm.pdev(), "connect: platform init failed: {:?}\n", e);
                }
                return Err(e);
            }
        };
        let mut conn = Conn::new(&psp, tio)?;
        if let Err(e) = conn.connect(&psp, &*dsm, dsm.pdev()) {
            dev_warn!(dsm.pdev(), "connect failed: {:?}\n", e);
            if conn.teardown(&psp, &*dsm, dsm.pdev()).is_err() {
                dev_err!(dsm.pdev(), "connect: undoing it failed; PSP pages leaked\n");
            }
            return Err(e);
        }
        dev_info!(
            dsm.pdev(),
            "connected: SPDM session and IDE stream {} up through the PSP (certificate chain {} bytes; stream registers emulated)\n",
            link::IDE_STREAM_ID,
            conn.cert_len
        );
        dsm.data().get_mut().conn = Some(conn);
        Ok(())
    }

    fn disconnect(dsm: &mut Dsm<'_, Self>) {
        let Some(mut conn) = dsm.data().get_mut().conn.take() else {
            return;
        };
        let sev = dsm.registration_data();
        let psp = sev.psp();
        match conn.teardown(&psp, &*dsm, dsm.pdev()) {
            Ok(()) => dev_info!(dsm.pdev(), "disconnected: device context reclaimed\n"),
            Err(e) => dev_err!(
                dsm.pdev(),
                "disconnected, but the PSP teardown failed ({:?}); PSP pages leaked\n",
                e
            ),
        }
    }

    fn bind(
        dsm: &mut Dsm<'_, Self>,
        pdev: &pci::Device,
        kvm: &Kvm,
        tdi_id: u32,
    ) -> Result<tsm::Bound<tdi::BoundTdi>> {
        let sev = dsm.registration_data();
        let psp = sev.psp();
        // The connection is out of the DSM's data while the DSM carries the exchanges.
        let mut conn = dsm.data().get_mut().conn.take().ok_or(ENXIO)?;
        let r = tdi::BoundTdi::bind(&psp, &sev.guests, &mut conn, &*dsm, pdev, kvm, tdi_id);
        dsm.data().get_mut().conn = Some(conn);
        let b = r?;
        dev_info!(pdev, "bound with guest device ID {:#x} (LOCKED)\n", tdi_id);
        Ok(tsm::Bound {
            data: b,
            // TDI_BIND's lock flags are 0: no LOCK_MSIX, the MSI-X table stays the host's.
            msix_locked: false,
        })
    }

    fn unbind(dsm: &mut Dsm<'_, Self>, tdi: &mut Tdi<'_, Self>) {
        let sev = dsm.registration_data();
        let psp = sev.psp();
        let Some(mut conn) = dsm.data().get_mut().conn.take() else {
            return;
        };
        let pdev: ARef<pci::Device> = tdi.pdev().into();
        let r = tdi
            .data()
            .unbind(&psp, &sev.guests, &mut conn, &*dsm, &pdev);
        dsm.data().get_mut().conn = Some(conn);
        match r {
            Ok(()) => dev_info!(pdev, "unbound: TDI context reclaimed\n"),
            Err(e) => dev_err!(
                pdev,
                "unbind: the PSP teardown failed ({:?}); the TDI may stay locked, its context pages are leaked\n",
                e
            ),
        }
    }

    fn guest_req(
        dsm: &mut Dsm<'_, Self>,
        tdi: &mut Tdi<'_, Self>,
        arch: TvmArch,
        op: u32,
        input: &[u8],
        output: &mut [u8],
        tsm_code: &mut u64,
    ) -> Result<GuestReply> {
        if arch != TvmArch::Sev {
            return Err(EOPNOTSUPP);
        }
        let sev = dsm.registration_data();
        let psp = sev.psp();
        let mut conn = dsm.data().get_mut().conn.take().ok_or(ENXIO)?;
        let pdev: ARef<pci::Device> = tdi.pdev().into();
        let r = tdi
            .data()
            .guest_req(&psp, &mut conn, &*dsm, &pdev, op, input, output, tsm_code);
        dsm.data().get_mut().conn = Some(conn);
        r
    }
}
