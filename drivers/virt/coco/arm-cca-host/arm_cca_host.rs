// SPDX-License-Identifier: GPL-2.0

//! Arm CCA host: PCIe TEE-IO device assignment through the RMM's device-assignment
//! interface (RMI 2.0 PDEV and VDEV calls).
//!
//! A PCI/TSM link TSM ([`LinkTsm`]) whose platform firmware is the Realm Management
//! Monitor. The RMM is the SPDM requester toward the device and owns its IDE keys and
//! TDISP state; the host creates its objects (PDEVs for the endpoint and its root port,
//! an IDE stream, a VDEV per bound TDI), hands it memory (delegated granules, NS
//! parameter and communication pages) and carries every DOE exchange it asks for
//! through the shared relay loop. See `Documentation/driver-api/pci/tsm-cca.rst`.
//!
//! The RMM is reached through the firmware conduit (`kernel::pci::tsm::conduit`):
//!
//! - `rmm_model=0` (the default): SMCs to the real RMM ([`SmcConduit`]). The module
//!   loads only if the SMCCC conduit is SMC and RMI_VERSION accepts 2.0 with device
//!   assignment in RMI_FEATURES.
//! - `rmm_model=1`: the CCA RMM model `tsm-rmm` (`tools/tsm/`), which serves the same
//!   calls on `/dev/tsm_rmm` ([`ModelConduit`]); for machines without an RMM (QEMU).
//!
//! | file | what |
//! |---|---|
//! | this file | the module, the conduit, the [`LinkTsm`] callbacks |
//! | `rmi` | one RMI call: BUSY retried, statuses to errnos; granules and NS pages |
//! | `comm` | the communicate loop as a relay port |
//! | `link` | connect and disconnect: PDEVs, public key, IDE stream |
//! | `tdi` | bind, unbind and guest requests: the VDEV |
//! | `realm` | the stand-in Realms (Linux 7.2's KVM has none) |

use kernel::{
    faux,
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
        Arc, //
    },
};

#[cfg(CONFIG_ARM64)]
use kernel::pci::tsm::conduit::SmcConduit;

mod comm;
mod link;
mod realm;
mod rmi;
mod tdi;

use link::Conn;
use realm::Realms;
use rmi::Rmi;
use tsm_proto::rmi::{
    Call,
    DaFeatures,
    Revision,
    VersionOutput, //
};

module! {
    type: ArmCcaHost,
    name: "arm_cca_host",
    authors: ["tsm-vfio developers"],
    description: "Arm CCA host: PCIe TEE-IO device assignment through the RMM",
    license: "GPL",
    params: {
        rmm_model: u8 {
            default: 0,
            description: "1: use the RMM model on /dev/tsm_rmm instead of SMCs to an RMM",
        },
    },
}

struct ThisOwner;

impl Owner for ThisOwner {
    const MODULE: &'static ThisModule = &THIS_MODULE;
}

/// How the backend reaches the RMM.
enum Fw {
    /// The RMM model in userspace.
    Model(Pin<KBox<ModelConduit<ThisOwner>>>),
    /// The real RMM.
    #[cfg(CONFIG_ARM64)]
    Smc(Pin<KBox<SmcConduit>>),
}

/// What every callback reaches: the conduit and the stand-in Realms.
#[pin_data]
struct Cca {
    fw: Fw,
    #[pin]
    realms: Realms,
}

impl Cca {
    fn conduit(&self) -> &dyn Conduit {
        match &self.fw {
            Fw::Model(m) => &**m,
            #[cfg(CONFIG_ARM64)]
            Fw::Smc(s) => &**s,
        }
    }

    fn rmi(&self) -> Rmi<'_> {
        Rmi::new(self.conduit())
    }
}

/// RMI_VERSION accepts 2.0 and RMI_FEATURES has device assignment.
fn probe_rmm(rmi: &Rmi<'_>) -> Result {
    let a = rmi.smc(Call::Version, &[Revision::V2_0.to_reg()])?;
    let regs = match a {
        Ok(a) => a.regs,
        Err(s) => {
            pr_err!("RMI_VERSION: 2.0 refused ({:?})\n", s);
            return Err(ENODEV);
        }
    };
    let v = VersionOutput::decode(regs[0], regs[1], regs[2]).map_err(|_| ENODEV)?;
    if !v.supported {
        pr_err!(
            "RMI 2.0 not supported (RMM {:?}..{:?})\n",
            v.lower,
            v.higher
        );
        return Err(ENODEV);
    }
    let f = rmi.call(
        Call::Features,
        &[tsm_proto::rmi::features::FEATURES_DA_INDEX],
    )?;
    if !DaFeatures::decode(f.regs[1]).da {
        pr_err!("the RMM has no device assignment\n");
        return Err(ENODEV);
    }
    Ok(())
}

/// The real RMM's conduit, if this machine has one.
#[cfg(CONFIG_ARM64)]
fn smc_fw() -> Result<Fw> {
    // SAFETY: `arm_smccc_1_1_get_conduit()` only reads the SMCCC probe result.
    let smc = unsafe { kernel::bindings::arm_smccc_1_1_get_conduit() }
        == kernel::bindings::arm_smccc_conduit_SMCCC_CONDUIT_SMC;
    if !smc {
        pr_err!("no SMC conduit: no RMM (rmm_model=1 uses the RMM model)\n");
        return Err(ENODEV);
    }
    // SAFETY: The backend passes the RMM, as memory it may access, only addresses of
    // pages of the conduit's memory: every page it names in a call (parameter and
    // communication pages, granules, address lists) comes from `Conduit::memory()`.
    let c = KBox::pin_init(unsafe { SmcConduit::new() }, GFP_KERNEL)?;
    probe_rmm(&Rmi::new(&*c))?;
    Ok(Fw::Smc(c))
}

#[cfg(not(CONFIG_ARM64))]
fn smc_fw() -> Result<Fw> {
    Err(ENODEV)
}

/// The module: the TSM and its parent device.
struct ArmCcaHost {
    // Dropped first: the core disconnects every device, which needs the conduit.
    _tsm: tsm::Registration<CcaTsm>,
    _parent: faux::Registration,
}

impl kernel::Module for ArmCcaHost {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let model = *module_parameters::rmm_model.value() != 0;
        let fw = if model {
            Fw::Model(ModelConduit::new(c"tsm_rmm", tsm::conduit::Kind::Smc)?)
        } else {
            smc_fw()?
        };
        let cca = Arc::pin_init(
            pin_init!(Cca {
                fw,
                realms <- Realms::new(model),
            }),
            GFP_KERNEL,
        )?;
        let parent = faux::Registration::new(c"arm_cca_host", None)?;
        let t = tsm::Registration::<CcaTsm>::new(parent.as_ref(), cca)?;
        pr_info!(
            "registered tsm{} (Arm CCA, RMI 2.0, {})\n",
            t.id(),
            if model {
                "RMM model at /dev/tsm_rmm"
            } else {
                "RMM"
            }
        );
        Ok(Self {
            _tsm: t,
            _parent: parent,
        })
    }
}

/// The CCA link TSM.
struct CcaTsm;

/// Per-DSM state: the connection, while connected, and the VDEVs whose unbind the RMM
/// refused (tried again before the next bind and at disconnect; see [`tdi`]).
struct Link {
    conn: Option<Conn>,
    orphans: KVec<tdi::Vdev>,
}

impl Link {
    /// Keeps `v`, a VDEV the RMM would not let go, to unbind it again later; leaks it if
    /// there is no memory to keep it.
    fn keep(&mut self, v: tdi::Vdev, rmi: &Rmi<'_>) {
        if self.orphans.push(v, GFP_KERNEL).is_err() {
            v.leak(rmi);
        }
    }
}

/// Unbinds again the VDEVs an unbind left. Those the RMM still keeps stay for the next
/// try, or with `last` (the connection ends) are leaked.
fn retry_orphans(dsm: &mut Dsm<'_, CcaTsm>, last: bool) {
    let Some(pages) = dsm.data().conn.as_ref().map(|c| c.pages) else {
        return;
    };
    if dsm.data().orphans.is_empty() {
        return;
    }
    let cca = dsm.registration_data().clone();
    let rmi = cca.rmi();
    let orphans = core::mem::take(&mut dsm.data().get_mut().orphans);
    for v in orphans {
        if v.unbind(&rmi, &cca.realms, &*dsm, pages).is_ok() {
            dev_info!(dsm.pdev(), "VDEV {:#x} unbound on a later try\n", v.vdev);
        } else if last {
            v.leak(&rmi);
        } else {
            dsm.data().get_mut().keep(v, &rmi);
        }
    }
}

#[vtable]
impl LinkTsm for CcaTsm {
    type RegistrationData = Arc<Cca>;
    type DsmData = Link;
    type TdiData = tdi::BoundTdi;

    fn probe(_cca: &Arc<Cca>, _pdev: &pci::Device) -> impl PinInit<Link, Error> {
        try_init!(Link {
            conn: None,
            orphans: KVec::new(),
        })
    }

    fn connect(dsm: &mut Dsm<'_, Self>) -> Result {
        let cca = dsm.registration_data();
        let rmi = cca.rmi();
        let mut conn = Conn::new(&rmi)?;
        if let Err(e) = conn.connect(&rmi, &*dsm, dsm.pdev()) {
            if e == ENODEV {
                dev_info!(dsm.pdev(), "connect: no RMM model holds /dev/tsm_rmm\n");
            } else {
                dev_warn!(dsm.pdev(), "connect failed: {:?}\n", e);
            }
            if conn.teardown(&rmi, &*dsm).is_err() {
                dev_err!(
                    dsm.pdev(),
                    "connect: undoing it failed; RMM objects leaked\n"
                );
            }
            return Err(e);
        }
        dev_info!(
            dsm.pdev(),
            "connected: PDEVs READY, SPDM session and IDE stream {} up (stream registers emulated)\n",
            link::IDE_STREAM_ID
        );
        dsm.data().get_mut().conn = Some(conn);
        Ok(())
    }

    fn disconnect(dsm: &mut Dsm<'_, Self>) {
        retry_orphans(dsm, true);
        let Some(mut conn) = dsm.data().get_mut().conn.take() else {
            return;
        };
        let cca = dsm.registration_data();
        let rmi = cca.rmi();
        match conn.teardown(&rmi, &*dsm) {
            Ok(()) => dev_info!(dsm.pdev(), "disconnected: stream and PDEVs destroyed\n"),
            Err(e) => dev_err!(
                dsm.pdev(),
                "disconnected, but the RMM teardown failed ({:?}); RMM objects leaked\n",
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
        // A VDEV left by an unbind may still hold the TDI in the RMM.
        retry_orphans(dsm, false);
        let (pages, ep) = match &dsm.data().conn {
            Some(c) => (c.pages, c.ep()?),
            None => return Err(ENXIO),
        };
        let cca = dsm.registration_data().clone();
        let rmi = cca.rmi();
        let v = match tdi::Vdev::bind(&rmi, &cca.realms, &*dsm, pages, ep, pdev, kvm, tdi_id) {
            Ok(v) => v,
            Err(f) => {
                if let Some(v) = f.left {
                    dsm.data().get_mut().keep(v, &rmi);
                }
                return Err(f.err);
            }
        };
        dev_info!(
            pdev,
            "bound as VDEV {:#x} with guest ID {:#x} (LOCKED)\n",
            v.vdev,
            tdi_id
        );
        Ok(tsm::Bound {
            data: tdi::BoundTdi::new(v),
            // Unconfirmed which lock flags the RMM asks for: the host keeps off the
            // MSI-X table, as if LOCK_MSIX was set.
            msix_locked: true,
        })
    }

    fn unbind(dsm: &mut Dsm<'_, Self>, tdi: &mut Tdi<'_, Self>) {
        let Some(pages) = dsm.data().conn.as_ref().map(|c| c.pages) else {
            return;
        };
        let cca = dsm.registration_data().clone();
        let rmi = cca.rmi();
        let v = tdi.data().vdev;
        match v.unbind(&rmi, &cca.realms, &*dsm, pages) {
            Ok(()) => dev_info!(tdi.pdev(), "unbound VDEV {:#x}\n", v.vdev),
            Err(e) => {
                dev_err!(
                    tdi.pdev(),
                    "unbind: the RMM kept VDEV {:#x} ({:?}); the TDI may stay locked; unbinding it again before the next bind and at disconnect\n",
                    v.vdev,
                    e
                );
                dsm.data().get_mut().keep(v, &rmi);
            }
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
        if arch != TvmArch::Cca {
            return Err(EOPNOTSUPP);
        }
        let pages = dsm.data().conn.as_ref().map(|c| c.pages).ok_or(ENXIO)?;
        let cca = dsm.registration_data();
        let rmi = cca.rmi();
        let pdev: ARef<pci::Device> = tdi.pdev().into();
        tdi.data()
            .guest_req(&rmi, &*dsm, pages, &pdev, op, input, output, tsm_code)
    }
}
