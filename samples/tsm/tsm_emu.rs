// SPDX-License-Identifier: GPL-2.0

//! Emulated platform TSM: a PCI/TSM link TSM whose "platform firmware" is the software
//! TSM firmware `tsm-fw` in userspace, reached over `/dev/tsm_fw`.
//!
//! It follows the pattern of the real backends (TDX Connect, SEV-TIO, CCA): the firmware
//! decides, the kernel forwards every DOE exchange it asks for to the device's CMA DOE
//! mailbox through the shared relay loop (`kernel::pci::tsm::relay`), and keeps its own
//! state honest (a failed or abandoned command leaves the DSM disconnected).
//!
//! Emulated here, and only here: the host side of IDE stream setup. QEMU devices have no
//! IDE registers (and no root-port IDE), so connect allocates stream 0 for the DSM and asks
//! the firmware to key it over IDE-KM, but programs no stream registers. The TEE-IO
//! capability bit itself comes from the `pci_tsm_emulate_tee=` boot parameter
//! (`CONFIG_PCI_TSM_EMULATE_TEE`). See `Documentation/driver-api/pci/tsm-fw.rst`.

use kernel::{
    faux,
    fs::{
        File,
        Kiocb, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    pci::{
        self,
        tsm::{
            self,
            Dsm,
            GuestReply,
            Kvm,
            LinkTsm,
            Tdi,
            TvmArch, //
        },
        Address, //
    },
    prelude::*,
    sync::Arc,
};

mod fw;
mod msg;
mod test_hook;

#[cfg(CONFIG_SAMPLE_TSM_EMU_KUNIT_TEST)]
mod relay_tests;

module! {
    type: TsmEmu,
    name: "tsm_emu",
    authors: ["tsm-vfio developers"],
    description: "Emulated platform TSM: PCI/TSM link TSM backed by the tsm-fw software firmware",
    license: "GPL",
}

/// The module: the firmware channel, its character device, the TSM and the test device.
///
/// # Invariants
///
/// The module has one `TsmEmu`, pinned in place while the module is loaded, and every
/// `MiscDeviceRegistration<FwFile>` is its `misc` field; `hub` is initialized before
/// `misc` registers the device and dropped after `misc` deregistered it.
#[pin_data]
struct TsmEmu {
    // Dropped in this order: the test caller device, the TSM (the core disconnects every device, which
    // needs the channel), then the parent device, the character device, the channel.
    #[pin]
    _test: MiscDeviceRegistration<test_hook::HookFile>,
    _tsm: tsm::Registration<EmuTsm>,
    _parent: faux::Registration,
    #[pin]
    misc: MiscDeviceRegistration<FwFile>,
    hub: Arc<fw::Hub>,
}

impl kernel::InPlaceModule for TsmEmu {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            hub: fw::Hub::new()?,
            misc <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"tsm_fw" }),
            _parent: faux::Registration::new(c"tsm_emu", None)?,
            _tsm: {
                let t = tsm::Registration::<EmuTsm>::new(_parent.as_ref(), hub.clone())?;
                pr_info!("registered tsm{} (emulated platform, firmware at /dev/tsm_fw)\n", t.id());
                t
            },
            _test <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"tsm_emu_test",
            }),
        })
    }
}

/// An open `/dev/tsm_fw`: one firmware session.
struct FwFile {
    hub: Arc<fw::Hub>,
    session: u64,
}

#[vtable]
impl MiscDevice for FwFile {
    type Ptr = KBox<Self>;

    // The module stays loaded while the firmware holds the file open.
    const OWNER: Option<&'static ThisModule> = Some(&THIS_MODULE);

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let reg: *const MiscDeviceRegistration<Self> = misc;
        // SAFETY: By the type invariant of `TsmEmu`, `misc` is the `misc` field of the
        // module's `TsmEmu`, alive while the device is registered (`open` runs then).
        let module = unsafe { &*kernel::container_of!(reg.cast_mut(), TsmEmu, misc) };
        let hub = &module.hub;
        let session = hub.open()?;
        match KBox::new(
            Self {
                hub: hub.clone(),
                session,
            },
            GFP_KERNEL,
        ) {
            Ok(me) => Ok(me),
            Err(e) => {
                hub.release(session);
                Err(e.into())
            }
        }
    }

    fn release(me: KBox<Self>, _file: &File) {
        me.hub.release(me.session);
        pr_info!("firmware detached\n");
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let me = kiocb.file();
        let m = match me.hub.read(me.session, iov.len()) {
            Ok(m) => m,
            Err(e) if e == EPIPE => return Ok(0),
            Err(e) => return Err(e),
        };
        Ok(iov.copy_to_iter(&m))
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let me = kiocb.file();
        let len = iov.len();
        if !(msg::size::HDR..=msg::MAX_MSG_SIZE).contains(&len) {
            return Err(EINVAL);
        }
        let mut buf = KVVec::new();
        iov.copy_from_iter_vec(&mut buf, GFP_KERNEL)?;
        if buf.len() != len {
            return Err(EFAULT);
        }
        me.hub.write(me.session, buf)?;
        Ok(len)
    }
}

/// The emulated platform TSM.
struct EmuTsm;

/// Per-DSM state the kernel keeps honest.
struct DsmState {
    /// The firmware reported the SPDM session and IDE keys up.
    connected: bool,
    /// The (emulated) selective IDE stream of the DSM, while connected.
    ide_stream: Option<u8>,
}

/// A bound TDI.
struct TdiState {
    /// TDISP FUNCTION_ID of the TDI.
    function_id: u32,
}

fn fw_dev(a: Address) -> msg::Dev {
    msg::Dev {
        segment: a.segment,
        bus: a.bus,
        devfn: a.devfn,
    }
}

/// Runs one firmware command for `dsm`: `Err` only if it could not run; the outcome may
/// be a failure.
fn command_outcome(dsm: &Dsm<'_, EmuTsm>, cmd: msg::Cmd<'_>, what: &str) -> Result<fw::Outcome> {
    let hub = dsm.registration_data();
    hub.run(dsm, fw_dev(dsm.address()), cmd).inspect_err(|e| {
        dev_warn!(
            dsm.pdev(),
            "{}: firmware command failed: {}\n",
            what,
            e.to_errno()
        )
    })
}

/// The outcome as a result, logging a failure.
fn checked(dsm: &Dsm<'_, EmuTsm>, out: fw::Outcome, what: &str) -> Result<fw::Outcome> {
    if let Err(e) = out.result() {
        dev_warn!(
            dsm.pdev(),
            "{}: firmware error {} ({}): {}\n",
            what,
            out.fw_error,
            e.to_errno(),
            out.reason()
        );
        return Err(e);
    }
    Ok(out)
}

/// Runs one firmware command for `dsm`; `Err` if it could not run or did not succeed.
fn command(dsm: &Dsm<'_, EmuTsm>, cmd: msg::Cmd<'_>, what: &str) -> Result<fw::Outcome> {
    let out = command_outcome(dsm, cmd, what)?;
    checked(dsm, out, what)
}

#[vtable]
impl LinkTsm for EmuTsm {
    /// The firmware channel.
    type RegistrationData = Arc<fw::Hub>;
    type DsmData = DsmState;
    type TdiData = TdiState;

    fn probe(_hub: &Arc<fw::Hub>, _pdev: &pci::Device) -> impl PinInit<DsmState, Error> {
        try_init!(DsmState {
            connected: false,
            ide_stream: None,
        })
    }

    fn connect(dsm: &mut Dsm<'_, Self>) -> Result {
        // Host side of IDE stream setup, emulated: QEMU has no IDE registers to program.
        let stream_id = 0u8;
        command(
            dsm,
            msg::Cmd::Connect(msg::Connect {
                dev: fw_dev(dsm.address()),
                stream_id,
            }),
            "connect",
        )?;
        let st = dsm.data().get_mut();
        st.connected = true;
        st.ide_stream = Some(stream_id);
        dev_info!(
            dsm.pdev(),
            "connected: SPDM session up, IDE stream {} keyed (stream registers emulated)\n",
            stream_id
        );
        Ok(())
    }

    fn disconnect(dsm: &mut Dsm<'_, Self>) {
        if !dsm.data().connected {
            return;
        }
        let r = command(
            dsm,
            msg::Cmd::Disconnect(msg::Disconnect {
                dev: fw_dev(dsm.address()),
            }),
            "disconnect",
        );
        // The kernel's state is torn down whatever the firmware says.
        let st = dsm.data().get_mut();
        st.connected = false;
        let stream = st.ide_stream.take().unwrap_or(0);
        match r {
            Ok(_) => dev_info!(dsm.pdev(), "disconnected, IDE stream {} released\n", stream),
            Err(_) => dev_warn!(dsm.pdev(), "disconnected (firmware teardown failed)\n"),
        }
    }

    fn bind(
        dsm: &mut Dsm<'_, Self>,
        pdev: &pci::Device,
        _kvm: &Kvm,
        tdi_id: u32,
    ) -> Result<tsm::Bound<TdiState>> {
        if !dsm.data().connected {
            return Err(ENXIO);
        }
        let function_id = Address::of(pdev).function_id();
        let mut args = msg::Bind {
            dev: fw_dev(dsm.address()),
            tdi_id: function_id,
            guest_rid: tdi_id,
            lock_flags: 0,
            mmio_reporting_offset: 0,
            ..Default::default()
        };
        let mut n = 0usize;
        for bar in pdev.mem_bars().iter().flatten() {
            if let Some(slot) = args.bars.get_mut(n) {
                *slot = msg::Bar {
                    base: bar.start,
                    size: bar.len,
                    index: bar.index,
                    flags: u8::from(bar.is_64bit) | u8::from(bar.prefetchable) << 1,
                };
                n += 1;
            }
        }
        args.nr_bars = n as u8;
        if let Some(m) = pdev.msix_layout() {
            args.msix = msg::Msix {
                table_entries: m.table_entries,
                table_bar: m.table_bar,
                pba_bar: m.pba_bar,
                table_offset: m.table_offset,
                pba_offset: m.pba_offset,
            };
            args.lock_flags |= msg::LOCK_MSIX;
        }
        let out = command_outcome(dsm, msg::Cmd::Bind(args), "bind")?;
        let stale = out.result().is_err() && (1..=3).contains(&out.tdi_state);
        if stale {
            // The core holds no TDI for this function, so a TDI the device still reports
            // locked, running or in error is left over from a firmware that died: stop it
            // (what UNBIND does) and try once more. Any other failure stands.
            dev_info!(
                pdev,
                "bind: stopping a stale TDI left by an earlier firmware\n"
            );
            let stop = msg::Cmd::Unbind(msg::Unbind {
                dev: fw_dev(dsm.address()),
                tdi_id: function_id,
            });
            command(dsm, stop, "stale unbind")?;
            command(dsm, msg::Cmd::Bind(args), "bind")?;
        } else {
            checked(dsm, out, "bind")?;
        }
        dev_info!(
            pdev,
            "bound as TDI {:#x} (CONFIG_LOCKED): {} BAR(s), {} MSI-X entries\n",
            tdi_id,
            args.nr_bars,
            args.msix.table_entries
        );
        Ok(tsm::Bound {
            data: TdiState { function_id },
            msix_locked: args.lock_flags & msg::LOCK_MSIX != 0,
        })
    }

    fn unbind(dsm: &mut Dsm<'_, Self>, tdi: &mut Tdi<'_, Self>) {
        let function_id = tdi.data().function_id;
        let r = command(
            dsm,
            msg::Cmd::Unbind(msg::Unbind {
                dev: fw_dev(dsm.address()),
                tdi_id: function_id,
            }),
            "unbind",
        );
        if r.is_err() {
            dev_warn!(tdi.pdev(), "unbind: STOP failed, TDI forgotten anyway\n");
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
        // The emulated platform is its own architecture; `op` is a tsm_fw guest op.
        if arch != TvmArch::Emulated {
            return Err(EOPNOTSUPP);
        }
        let offset = guest_payload(op, input)?;
        let out = command(
            dsm,
            msg::Cmd::GuestReq(msg::GuestReq {
                dev: fw_dev(dsm.address()),
                tdi_id: tdi.data().function_id,
                op,
            }),
            "guest request",
        )?;
        *tsm_code = u64::from(out.tdi_state);
        let resp = out.payload.get(offset..).ok_or(EINVAL)?;
        Ok(GuestReply::copy(resp, output))
    }
}

/// Decodes the payload of guest op `op` (`TSM_FW_GUEST_*`): `GET_REPORT` takes none, or a
/// little-endian u32 offset into the report (a report larger than the guest's buffer is
/// read in parts); `START` and `GET_STATE` take none. Returns the offset (0 without one).
fn guest_payload(op: u32, input: &[u8]) -> Result<usize> {
    use tsm_proto::fwmsg::GuestOp;

    let op = GuestOp::from_u32(op).map_err(|_| EOPNOTSUPP)?;
    match (op, input.len()) {
        (_, 0) => Ok(0),
        (GuestOp::GetReport, 4) => {
            let off = tsm_proto::codec::Reader::new(input)
                .u32()
                .map_err(|_| EINVAL)?;
            usize::try_from(off).map_err(|_| EINVAL)
        }
        _ => Err(EINVAL),
    }
}
