// SPDX-License-Identifier: GPL-2.0

//! `/dev/tsm_emu_test`: the caller side of a bound TDI, for the selftests.
//!
//! In the full stack `pci_tsm_bind()`, `pci_tsm_unbind()` and `pci_tsm_guest_req()` are
//! called by the VFIO TSM variant driver and iommufd, with the VM and TDI id of an iommufd
//! vdevice. This test-only device calls them directly through the caller-side API of
//! `kernel::pci::tsm`, so the backend's bind, unbind and guest requests can be exercised
//! on their own. The VM is a real KVM VM (a `KVM_CREATE_VM` file descriptor the caller
//! passes), held until unbind; closing the device unbinds what it bound.
//!
//! A `write()` is one 24-byte command (all little-endian):
//! `op` u32 (1 bind, 2 unbind, 3 guest request), `segment` u16, `bus` u8, `devfn` u8,
//! `tdi_id` u32, `vm_fd` i32, `req_op` u32 (the tsm_fw guest op), `tvm_arch` u32
//! (`enum iommu_vdevice_tsm_guest_tvm_arch`). It returns 24 or the operation's errno. A `read()` then
//! returns the result of the last guest request: `status` i32, reserved u32, `tsm_code`
//! u64 (the TDI state), `length` u32, reserved u32, and `length` bytes of output.
//! A function a driver is bound to is refused with `EBUSY` (vfio-pci-tsm, for one, keeps
//! its own view of what is bound); so is binding one while the command runs.

use kernel::{
    fs::{
        File,
        Kiocb,
        LocalFile, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    new_mutex,
    pci::{
        tsm::{
            self,
            GuestReply,
            Kvm,
            TvmArch, //
        },
        Address, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        Mutex, //
    },
};

use tsm_proto::codec::{
    Reader,
    Writer, //
};

/// Bytes of a command.
const CMD_LEN: usize = 24;
/// Largest guest request output kept.
const MAX_OUT: usize = 0x4000;

/// A TDI bound through this file, with the VM it is bound to.
struct Bound {
    /// Unbinds the TDI when dropped, if it is still this one; holds the VM until then.
    binding: Pin<KBox<tsm::Binding>>,
    /// The VM it was bound to (for "bound again with the same VM").
    kvm: ARef<Kvm>,
}

impl Bound {
    /// Whether this is the binding of the function at `addr`.
    fn is_at(&self, addr: Address) -> bool {
        Address::of(self.binding.pdev()) == addr
    }
}

struct State {
    bound: KVec<Bound>,
    /// Encoded result of the last guest request.
    last: KVVec<u8>,
}

/// An open `/dev/tsm_emu_test`. Closing it unbinds what it bound (dropping each
/// [`Bound`]), and only that: a TDI the core unbound and someone else bound again stays.
#[pin_data]
pub(crate) struct HookFile {
    #[pin]
    state: Mutex<State>,
}

struct Command {
    op: u32,
    addr: Address,
    tdi_id: u32,
    vm_fd: i32,
    req_op: u32,
    tvm_arch: u32,
}

fn parse(buf: &[u8]) -> Result<Command> {
    let mut r = Reader::new(buf);
    let mut f = || -> core::result::Result<Command, tsm_proto::codec::Error> {
        let op = r.u32()?;
        let segment = r.u16()?;
        let bus = r.u8()?;
        let devfn = r.u8()?;
        let tdi_id = r.u32()?;
        let vm_fd = r.u32()? as i32;
        let req_op = r.u32()?;
        let tvm_arch = r.u32()?;
        r.finish()?;
        Ok(Command {
            op,
            addr: Address {
                segment,
                bus,
                devfn,
            },
            tdi_id,
            vm_fd,
            req_op,
            tvm_arch,
        })
    };
    f().map_err(|_| EINVAL)
}

impl HookFile {
    fn run(&self, c: Command) -> Result {
        let pdev = c.addr.device().ok_or(ENODEV)?;
        // A function a driver holds (vfio-pci-tsm) keeps its own locked state: not ours.
        let _unclaimed = tsm::Unclaimed::lock(&pdev)?;
        match c.op {
            1 => {
                let fd = u32::try_from(c.vm_fd).map_err(|_| EBADF)?;
                let local = LocalFile::fget(fd)?;
                // SAFETY: This thread holds no `fdget_pos` on the VM file (it is in a write
                // to another file).
                let vm = unsafe { LocalFile::assume_no_fdget_pos(local) };
                let kvm = Kvm::from_file(&vm)?;
                let mut st = self.state.lock();
                // Still bound by us: again with its VM is a no-op, with another busy.
                if let Some(b) = st.bound.iter().find(|b| b.is_at(c.addr)) {
                    if b.binding.is_bound() {
                        let same = *b.kvm == *kvm;
                        return if same { Ok(()) } else { Err(EBUSY) };
                    }
                }
                // A binding the core ended (disconnect) is forgotten, with its VM.
                st.bound.retain(|b| !b.is_at(c.addr));
                st.bound.reserve(1, GFP_KERNEL)?;
                let binding = KBox::pin_init(tsm::Binding::new(pdev.clone()), GFP_KERNEL)?;
                binding.as_ref().bind(kvm.clone(), c.tdi_id)?;
                st.bound
                    .push_within_capacity(Bound { binding, kvm })
                    .map_err(|_| ENOMEM)
            }
            2 => {
                // Dropping our binding unbinds the TDI if it is still ours.
                self.state.lock().bound.retain(|b| !b.is_at(c.addr));
                Ok(())
            }
            3 => {
                let arch = TvmArch::from_raw(c.tvm_arch).ok_or(EOPNOTSUPP)?;
                let mut out = KVVec::from_elem(0u8, MAX_OUT, GFP_KERNEL)?;
                let (res, code) = tsm::guest_req(&pdev, arch, c.req_op, &[], &mut out);
                let res = match res {
                    Ok(GuestReply::Written(n)) => Ok(n),
                    Ok(GuestReply::TooSmall(_)) => Err(ENOSPC),
                    Err(e) => Err(e),
                };
                let (status, n) = match res {
                    Ok(n) => (0, n),
                    Err(e) => (e.to_errno(), 0),
                };
                let mut enc = KVVec::from_elem(0u8, 24 + n, GFP_KERNEL)?;
                let mut w = Writer::new(&mut enc);
                let encoded = w
                    .u32(status as u32)
                    .and_then(|()| w.u32(0))
                    .and_then(|()| w.u64(code))
                    .and_then(|()| w.u32(n as u32))
                    .and_then(|()| w.u32(0))
                    .and_then(|()| w.bytes(out.get(..n).unwrap_or(&[])));
                encoded.map_err(|_| EINVAL)?;
                self.state.lock().last = enc;
                res.map(|_| ())
            }
            _ => Err(EINVAL),
        }
    }
}

#[vtable]
impl MiscDevice for HookFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Self {
                state <- new_mutex!(State {
                    bound: KVec::new(),
                    last: KVVec::new(),
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let me = kiocb.file();
        let st = me.state.lock();
        Ok(iov.copy_to_iter(&st.last))
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let me = kiocb.file();
        let mut buf = [0u8; CMD_LEN];
        if iov.len() != CMD_LEN || iov.copy_from_iter(&mut buf) != CMD_LEN {
            return Err(EINVAL);
        }
        me.run(parse(&buf)?)?;
        Ok(CMD_LEN)
    }
}
