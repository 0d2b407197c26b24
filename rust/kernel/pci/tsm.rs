// SPDX-License-Identifier: GPL-2.0

//! PCI/TSM: platform TEE Security Manager drivers for PCIe TEE-IO (TDISP).
//!
//! A platform TSM driver (TDX Connect, SEV-TIO, CCA RMM, or an emulated platform) lets the
//! PCI/TSM core (`drivers/pci/tsm.c`) connect a device's Device Security Manager (DSM): set
//! up SPDM and IDE through the platform firmware, then bind device interfaces (TDIs) to
//! confidential VMs. It implements [`LinkTsm`] and registers with [`Registration`]; the
//! core calls it under its locks (`pci_tsm_rwsem`, then the DSM's `pci_tsm_pf0::lock`), so
//! every operation on one DSM is serialized and gets exclusive access to the backend's
//! per-DSM data ([`Dsm::data`]). What the backend registered with (its firmware channel
//! or conduit) reaches every callback ([`LinkTsm::RegistrationData`],
//! [`Dsm::registration_data`]), so a backend needs no global state.
//!
//! Firmwares ask the kernel for every DOE exchange with the device; [`relay`] holds the one
//! loop that carries those exchanges for all backends; [`conduit`] is a vendor backend's
//! lowest firmware call, real or to a firmware model in userspace.
//!
//! Only function 0 DSMs (`is_pci_tsm_pf0()`) are supported so far: probe of other
//! functions fails, so they cannot be bound.
//!
//! C headers: [`include/linux/pci-tsm.h`](srctree/include/linux/pci-tsm.h),
//! [`include/linux/tsm.h`](srctree/include/linux/tsm.h)

use crate::{
    bindings, device,
    error::{
        from_err_ptr,
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
    },
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ptr::{
        addr_of_mut,
        null_mut,
        NonNull, //
    },
};

pub mod conduit;
pub mod relay;
pub mod report;

/// Architecture of the confidential VM a guest request comes from
/// (`enum iommu_vdevice_tsm_guest_tvm_arch`); it says how the request's operation and
/// payload are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TvmArch {
    /// Arm CCA realm.
    Cca,
    /// AMD SEV-SNP guest.
    Sev,
    /// Intel TDX guest.
    Tdx,
    /// The emulated platform of this project (not an upstream value).
    Emulated,
}

impl TvmArch {
    /// The architecture of a uAPI value; `None` for 0 and values this kernel does not know.
    pub fn from_raw(v: u32) -> Option<Self> {
        match v {
            bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_CCA => {
                Some(Self::Cca)
            }
            bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_SEV => {
                Some(Self::Sev)
            }
            bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_TDX => {
                Some(Self::Tdx)
            }
            bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_EMU => {
                Some(Self::Emulated)
            }
            _ => None,
        }
    }

    fn as_raw(self) -> u32 {
        match self {
            Self::Cca => bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_CCA,
            Self::Sev => bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_SEV,
            Self::Tdx => bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_TDX,
            Self::Emulated => {
                bindings::iommu_vdevice_tsm_guest_tvm_arch_IOMMU_VDEVICE_TSM_TVM_ARCH_EMU
            }
        }
    }
}

/// What a guest request produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestReply {
    /// The response is the first `n` bytes of the output buffer (`n` at most its length).
    Written(usize),
    /// The response needs this many bytes, more than the output buffer has; nothing was
    /// written. The caller sees `-ENOSPC` with the size.
    TooSmall(usize),
}

impl From<tsm_proto::guest_req::GuestReqError> for Error {
    /// The errno of a guest request refused before it reached firmware.
    fn from(e: tsm_proto::guest_req::GuestReqError) -> Self {
        match e {
            tsm_proto::guest_req::GuestReqError::Unsupported => EOPNOTSUPP,
            tsm_proto::guest_req::GuestReqError::Invalid => EINVAL,
        }
    }
}

impl GuestReply {
    /// The reply `data`: copied to the start of `output` if it fits, else its size.
    pub fn copy(data: &[u8], output: &mut [u8]) -> Self {
        match output.get_mut(..data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                Self::Written(data.len())
            }
            None => Self::TooSmall(data.len()),
        }
    }
}

/// The confidential VM (`struct kvm`) a TDI is bound to; opaque to the backend except as
/// a key for the platform firmware.
///
/// A callback gets a `&Kvm`, valid for the call; a caller of the core's bind holds an
/// `ARef<Kvm>` (a reference of the VM, `kvm_get_kvm()`) for as long as the TDI is bound.
///
/// # Invariants
///
/// A `&Kvm` is a live `struct kvm` for its lifetime.
#[repr(transparent)]
pub struct Kvm(Opaque<bindings::kvm>);

impl Kvm {
    /// The raw `struct kvm` pointer.
    pub fn as_ptr(&self) -> *mut bindings::kvm {
        self.0.get()
    }

    /// # Safety
    ///
    /// `ptr` is a live `struct kvm` for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::kvm) -> &'a Self {
        // SAFETY: `Kvm` is transparent over `struct kvm`, live for `'a` per the safety
        // requirements.
        unsafe { &*ptr.cast::<Self>() }
    }
}

impl PartialEq for Kvm {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self, other)
    }
}

impl Eq for Kvm {}

// SAFETY: The abstraction never reads or writes the VM through a `Kvm`: it is an identity
// (and a reference count, which is thread-safe).
unsafe impl Send for Kvm {}
// SAFETY: A `&Kvm` gives no access to the VM either, only its address and reference count.
unsafe impl Sync for Kvm {}

// SAFETY: `kvm_get_kvm()` and `kvm_put_kvm()` are the VM's reference count; the VM stays
// alive while a reference is held.
#[cfg(CONFIG_KVM = "y")]
unsafe impl crate::sync::aref::AlwaysRefCounted for Kvm {
    fn inc_ref(&self) {
        // SAFETY: `self` is a live VM (type invariant).
        unsafe { bindings::pci_tsm_kvm_get(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::pci_tsm_kvm_put(obj.cast::<bindings::kvm>().as_ptr()) };
    }
}

/// The per-DSM (function 0) link context: `struct pci_tsm_pf0` followed by the backend's
/// data, pin-initialized in one allocation.
///
/// # Invariants
///
/// `pf0` was initialized by `pci_tsm_pf0_constructor()`; the context is pinned (only ever
/// reached through the pointer `probe` handed to the core) and `data` is initialized.
#[repr(C)]
#[pin_data]
struct Pf0Ctx<T: LinkTsm> {
    // First: `base_tsm`, the first field of `pci_tsm_pf0`, is the context's address.
    #[pin]
    pf0: Opaque<bindings::pci_tsm_pf0>,
    #[pin]
    data: T::DsmData,
}

/// A TDI context: `struct pci_tdi` followed by the backend's data.
///
/// # Invariants
///
/// Once handed to the core, `tdi` was initialized by `pci_tsm_tdi_constructor()`.
#[repr(C)]
struct TdiCtx<T: LinkTsm> {
    tdi: Opaque<bindings::pci_tdi>,
    data: T::TdiData,
}

/// A DSM (function 0 of a TEE-IO device) while the core holds its lock.
///
/// Only the callbacks of [`LinkTsm`] receive one, so holding a `Dsm` means the operation
/// on this DSM is serialized against every other one: that is the per-DSM serialization
/// the relay loop relies on.
///
/// # Invariants
///
/// For `'a`: `pdev` is a DSM whose `tsm` is the `base_tsm` of a live `Pf0Ctx<T>` made by
/// `Adapter::<T>::probe` (so it has a link context and a CMA mailbox found by
/// `pci_tsm_pf0_constructor()`), the caller holds that DSM's lock (or owns the context
/// exclusively), `data` is that context's backend data, and `reg` is the registration
/// data of the `Registration<T>` that probed it.
pub struct Dsm<'a, T: LinkTsm> {
    pdev: &'a pci::Device,
    /// The data of the TSM's [`Registration`].
    reg: &'a T::RegistrationData,
    /// Only the backend's part of the context: the core reads the `pci_tsm_pf0` part
    /// (e.g. `dsm_dev` for sysfs) without the DSM lock.
    data: Pin<&'a mut T::DsmData>,
}

impl<'a, T: LinkTsm> Dsm<'a, T> {
    /// # Safety
    ///
    /// `pdev` is the DSM (function 0) of a device whose `tsm` was created by
    /// `Adapter::<T>::probe`, and the caller holds the DSM lock for `'a` (or otherwise
    /// owns the context exclusively, as in `remove`).
    unsafe fn from_raw(pdev: *mut bindings::pci_dev) -> Self {
        // SAFETY: Per the safety requirements `pdev->tsm` is the `base_tsm` of a `Pf0Ctx<T>`,
        // the first field of `pci_tsm_pf0`, the first field of the `repr(C)` `Pf0Ctx<T>`.
        let ctx = unsafe { (*pdev).tsm.cast::<Pf0Ctx<T>>() };
        Self {
            // SAFETY: `pci::Device` is a transparent wrapper of `struct pci_dev`.
            pdev: unsafe { &*pdev.cast::<pci::Device>() },
            // SAFETY: `pci_tsm_pf0_constructor()` set `base_tsm.tsm_dev` to the TSM that
            // probed the DSM, a `Registration<T>`, which outlives the context.
            reg: unsafe { RegOps::<T>::data_of((*(*ctx).pf0.get()).base_tsm.tsm_dev) },
            // SAFETY: `ctx` is valid and pinned; only the backend touches `data`, and only
            // under the DSM lock the caller holds, so this reference is exclusive.
            data: unsafe { Pin::new_unchecked(&mut *addr_of_mut!((*ctx).data)) },
        }
    }

    /// # Safety
    ///
    /// `pdev` is any function whose `tsm` was created by `Adapter::<T>::probe` (through its
    /// DSM), and the caller holds the DSM lock for `'a`.
    unsafe fn of_function(pdev: *mut bindings::pci_dev) -> Self {
        // SAFETY: `pdev->tsm` is valid per the safety requirements; its `dsm_dev` is the DSM.
        let dsm = unsafe { (*(*pdev).tsm).dsm_dev };
        // SAFETY: Per the safety requirements of this function.
        unsafe { Self::from_raw(dsm) }
    }

    /// The DSM's PCI function.
    pub fn pdev(&self) -> &pci::Device {
        self.pdev
    }

    /// The DSM's PCI address.
    pub fn address(&self) -> pci::Address {
        pci::Address::of(self.pdev)
    }

    /// The backend's data for this DSM (pinned: it may hold locks; a `DsmData` that is
    /// `Unpin` is reached through it as through `&mut`).
    pub fn data(&mut self) -> Pin<&mut T::DsmData> {
        self.data.as_mut()
    }

    /// The data the backend registered the TSM with ([`Registration::new`]).
    pub fn registration_data(&self) -> &'a T::RegistrationData {
        self.reg
    }

    /// One DOE exchange on the DSM's CMA mailbox (`pci_tsm_doe_transfer()`): `request` is
    /// the payload of a PCI-SIG object of `object_type` (1 CMA/SPDM, 2 secured CMA/SPDM),
    /// `response` receives the payload of the answer. Returns the response length.
    pub fn doe_transfer(
        &self,
        object_type: u8,
        request: &[u8],
        response: &mut [u8],
    ) -> Result<usize> {
        // SAFETY: `self.pdev` is a DSM with a link context and a mailbox (type invariant); the buffers
        // are valid for their lengths for the duration of the call.
        let rc = unsafe {
            bindings::pci_tsm_doe_transfer(
                self.pdev.as_raw(),
                object_type,
                request.as_ptr().cast(),
                request.len(),
                response.as_mut_ptr().cast(),
                response.len(),
            )
        };
        if rc < 0 {
            return Err(Error::from_errno(rc));
        }
        Ok(rc as usize)
    }
}

impl<T: LinkTsm> relay::Transport for Dsm<'_, T> {
    fn transfer(&self, object_type: u8, request: &[u8], response: &mut [u8]) -> Result<usize> {
        self.doe_transfer(object_type, request, response)
    }
}

/// A bound TDI, as the backend's callbacks see it.
///
/// # Invariants
///
/// For `'a`: `tdi` is the `tdi` field of a live `TdiCtx<T>` made by `Adapter::<T>::bind`
/// (its `pdev`, `kvm` and `tdi_id` set by `pci_tsm_tdi_constructor()`), the caller holds
/// the lock of its DSM, and `data` is that context's backend data.
pub struct Tdi<'a, T: LinkTsm> {
    tdi: *mut bindings::pci_tdi,
    data: &'a mut T::TdiData,
}

impl<T: LinkTsm> Tdi<'_, T> {
    /// # Safety
    ///
    /// `tdi` is the start of a live `TdiCtx<T>` made by `Adapter::<T>::bind`, and the
    /// caller holds the DSM lock for the returned lifetime.
    unsafe fn from_raw<'b>(tdi: *mut bindings::pci_tdi) -> Tdi<'b, T> {
        let ctx = tdi.cast::<TdiCtx<T>>();
        Tdi {
            tdi,
            // SAFETY: Per the safety requirements; only the backend touches `data`, under
            // the DSM lock.
            data: unsafe { &mut *addr_of_mut!((*ctx).data) },
        }
    }

    /// The function of the TDI.
    pub fn pdev(&self) -> &pci::Device {
        // SAFETY: `tdi.pdev` was set by `pci_tsm_tdi_constructor()` to the function being
        // bound, which outlives its binding; `pci::Device` is transparent over `pci_dev`.
        unsafe { &*(*self.tdi).pdev.cast::<pci::Device>() }
    }

    /// The TDI id the caller of `pci_tsm_bind()` gave (the guest's virtual BDF).
    pub fn tdi_id(&self) -> u32 {
        // SAFETY: `tdi` is live for `self`'s lifetime (type invariant).
        unsafe { (*self.tdi).tdi_id }
    }

    /// The VM the TDI is bound to.
    pub fn kvm(&self) -> Option<&Kvm> {
        // SAFETY: `tdi` is live while `self` exists.
        let kvm = unsafe { (*self.tdi).kvm };
        if kvm.is_null() {
            return None;
        }
        // SAFETY: The binder holds a reference of the VM while the TDI is bound (the
        // contract of `pci_tsm_bind()`; a [`Binding`] holds an `ARef<Kvm>`).
        Some(unsafe { Kvm::from_raw(kvm) })
    }

    /// The backend's data for this TDI.
    pub fn data(&mut self) -> &mut T::TdiData {
        self.data
    }
}

/// What a [`LinkTsm::bind`] made: the backend's data for the TDI and what its lock covers
/// beyond the TDISP minimum, which the binder (VFIO) must keep the host off.
pub struct Bound<D> {
    /// The backend's data for the TDI.
    pub data: D,
    /// The MSI-X table and PBA are locked (TDISP LOCK_INTERFACE with LOCK_MSIX): the host
    /// must not program MSI-X (`VFIO_DEVICE_SET_IRQS`) while the TDI is bound.
    pub msix_locked: bool,
}

/// A platform TSM that manages links (`struct pci_tsm_link_ops`): connect, disconnect,
/// bind, unbind and guest requests. Implement only what the platform supports; the core
/// refuses the missing operations.
#[vtable]
pub trait LinkTsm: Sized + 'static {
    /// The backend's data of its registration (its firmware channel, say), given to
    /// [`Registration::new`] and reaching every callback: backends keep no global state.
    type RegistrationData: Send + Sync;
    /// Per-DSM data, created at probe and dropped at remove.
    type DsmData: Send;
    /// Per-TDI data, created at bind and dropped after unbind.
    type TdiData: Send;

    /// Sets up the context of a DSM (function 0) before its first connect: the initializer
    /// of its data, which is pinned in the context (so it may hold locks).
    fn probe(
        reg: &Self::RegistrationData,
        pdev: &pci::Device,
    ) -> impl PinInit<Self::DsmData, Error>;

    /// Establishes SPDM and IDE with the DSM through the platform firmware.
    fn connect(dsm: &mut Dsm<'_, Self>) -> Result;

    /// Tears down what connect established. Cannot fail: the state is torn down anyway.
    fn disconnect(dsm: &mut Dsm<'_, Self>);

    /// Binds (TDISP LOCK) function `pdev` of the DSM as TDI `tdi_id` of VM `kvm`.
    fn bind(
        _dsm: &mut Dsm<'_, Self>,
        _pdev: &pci::Device,
        _kvm: &Kvm,
        _tdi_id: u32,
    ) -> Result<Bound<Self::TdiData>> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Unbinds (TDISP STOP) the TDI. Cannot fail: the TDI is gone afterwards.
    fn unbind(_dsm: &mut Dsm<'_, Self>, _tdi: &mut Tdi<'_, Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Serves a guest request on a bound TDI: operation `op` of architecture `arch`, the
    /// payload `input`. A backend refuses an architecture it does not serve, and an `op` it
    /// does not know, with `EOPNOTSUPP`; it decides what an operation may do (the host
    /// does not interpret it). `tsm_code` is the result code for the guest, on success
    /// and on failure.
    fn guest_req(
        _dsm: &mut Dsm<'_, Self>,
        _tdi: &mut Tdi<'_, Self>,
        _arch: TvmArch,
        _op: u32,
        _input: &[u8],
        _output: &mut [u8],
        _tsm_code: &mut u64,
    ) -> Result<GuestReply> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C entry points of a [`LinkTsm`].
struct Adapter<T: LinkTsm>(PhantomData<T>);

impl<T: LinkTsm> Adapter<T> {
    /// # Safety
    ///
    /// Called by the PCI/TSM core with valid `tsm_dev` and `pdev`, under `pci_tsm_rwsem`.
    unsafe extern "C" fn probe(
        tsm_dev: *mut bindings::tsm_dev,
        pdev: *mut bindings::pci_dev,
    ) -> *mut bindings::pci_tsm {
        // SAFETY: `pdev` is valid per the safety requirements.
        if !unsafe { bindings::is_pci_tsm_pf0(pdev) } {
            return null_mut();
        }
        // SAFETY: `pci::Device` is a transparent wrapper of a valid `struct pci_dev`.
        let dev = unsafe { &*pdev.cast::<pci::Device>() };
        // SAFETY: The core calls `probe` of a TSM it registered with these ops, a
        // `Registration<T>`, which is alive until `tsm_unregister()` has returned.
        let reg = unsafe { RegOps::<T>::data_of(tsm_dev) };
        // The backend's data first: a failure of the constructor then drops it.
        let init = try_pin_init!(Pf0Ctx::<T> {
            data <- T::probe(reg, dev),
            pf0 <- Opaque::try_ffi_init(|pf0: *mut bindings::pci_tsm_pf0| {
                // SAFETY: `pf0` is valid for writes. The constructor sets only some fields
                // (not `base_tsm.tdi`, which the core reads as "nothing bound"): all-zero
                // is the state it starts from.
                unsafe { pf0.write_bytes(0, 1) };
                // SAFETY: `pf0` is valid for writes and pinned; `pdev` and `tsm_dev` are valid
                // per the safety requirements.
                let rc = unsafe { bindings::pci_tsm_pf0_constructor(pdev, pf0, tsm_dev) };
                if rc != 0 {
                    // SAFETY: The constructor initialized the mutex before failing.
                    unsafe { bindings::pci_tsm_pf0_destructor(pf0) };
                }
                to_result(rc)
            }),
        }? Error);
        let Ok(ctx) = KBox::try_pin_init(init, GFP_KERNEL) else {
            return null_mut();
        };
        // INVARIANT: The context stays pinned: the core only holds its address, and
        // `remove` rebuilds the `Pin<KBox>`.
        // SAFETY: The allocation is not moved out of.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(ctx) });
        // SAFETY: `raw` is valid; `base_tsm` is the first field of `pf0`.
        unsafe { addr_of_mut!((*(*raw).pf0.get()).base_tsm) }
    }

    /// # Safety
    ///
    /// `tsm` was returned by [`Self::probe`] and is not used again.
    unsafe extern "C" fn remove(tsm: *mut bindings::pci_tsm) {
        let raw = tsm.cast::<Pf0Ctx<T>>();
        // SAFETY: Per the safety requirements `tsm` is the start of a pinned `Pf0Ctx<T>`
        // allocated by `probe` with `KBox`, and nobody uses it any more.
        unsafe {
            bindings::pci_tsm_pf0_destructor((*raw).pf0.get());
            drop(Pin::new_unchecked(KBox::from_raw(raw)));
        }
    }

    /// # Safety
    ///
    /// Called by the core for a DSM probed by [`Self::probe`], under the DSM lock.
    unsafe extern "C" fn connect(pdev: *mut bindings::pci_dev) -> c_int {
        // SAFETY: Per the safety requirements.
        let mut dsm = unsafe { Dsm::<T>::from_raw(pdev) };
        from_result(|| T::connect(&mut dsm).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the core for a connected DSM, under the DSM lock.
    unsafe extern "C" fn disconnect(pdev: *mut bindings::pci_dev) {
        // SAFETY: Per the safety requirements.
        let mut dsm = unsafe { Dsm::<T>::from_raw(pdev) };
        T::disconnect(&mut dsm);
    }

    /// # Safety
    ///
    /// Called by the core for a function with a link context of this TSM, under the DSM
    /// lock, with a non-NULL `kvm`.
    unsafe extern "C" fn bind(
        pdev: *mut bindings::pci_dev,
        kvm: *mut bindings::kvm,
        tdi_id: u32,
    ) -> *mut bindings::pci_tdi {
        if kvm.is_null() {
            return EINVAL.to_ptr();
        }
        // SAFETY: The caller of `pci_tsm_bind()` holds a reference of the VM for the call
        // (and for as long as the TDI is bound).
        let kvm = unsafe { Kvm::from_raw(kvm) };
        // SAFETY: Per the safety requirements.
        let mut dsm = unsafe { Dsm::<T>::of_function(pdev) };
        // SAFETY: `pci::Device` is a transparent wrapper of a valid `struct pci_dev`.
        let dev = unsafe { &*pdev.cast::<pci::Device>() };
        // Allocate first: once the firmware has locked the TDI, nothing may fail.
        let slot = match KBox::<TdiCtx<T>>::new_uninit(GFP_KERNEL) {
            Ok(s) => s,
            Err(e) => return Error::from(e).to_ptr(),
        };
        let Bound { data, msix_locked } = match T::bind(&mut dsm, dev, kvm, tdi_id) {
            Ok(b) => b,
            Err(e) => return e.to_ptr(),
        };
        let raw = KBox::into_raw(KBox::write(
            slot,
            TdiCtx::<T> {
                // Constructed in place below, before the core sees it.
                tdi: Opaque::zeroed(),
                data,
            },
        ));
        // SAFETY: `raw` is a valid allocation; the other arguments come from the core.
        unsafe { bindings::pci_tsm_tdi_constructor(pdev, (*raw).tdi.get(), kvm.as_ptr(), tdi_id) };
        let locked = if msix_locked {
            bindings::PCI_TDI_LOCKED_MSIX
        } else {
            0
        };
        // SAFETY: `raw` is valid and not yet shared with the core, which reads `locked`
        // once this returns.
        unsafe { (*(*raw).tdi.get()).locked = locked };
        // INVARIANT: `tdi` was constructed above.
        // SAFETY: `raw` is valid.
        unsafe { (*raw).tdi.get() }
    }

    /// # Safety
    ///
    /// `tdi` was returned by [`Self::bind`]; called under the DSM lock; not used again.
    unsafe extern "C" fn unbind(tdi: *mut bindings::pci_tdi) {
        let raw = tdi.cast::<TdiCtx<T>>();
        // SAFETY: `tdi` is the start of a live `TdiCtx<T>` (see `bind`); its `pdev` has a
        // link context of this TSM and the DSM lock is held.
        let mut dsm = unsafe { Dsm::<T>::of_function((*tdi).pdev) };
        {
            // SAFETY: `tdi` is the start of a live `TdiCtx<T>` made by `bind`, and the DSM
            // lock is held for the scope.
            let mut t = unsafe { Tdi::<T>::from_raw(tdi) };
            T::unbind(&mut dsm, &mut t);
        }
        // SAFETY: `raw` came from `KBox::into_raw` in `bind`; the core drops its pointer.
        drop(unsafe { KBox::from_raw(raw) });
    }

    /// # Safety
    ///
    /// `tdi` is a live TDI of this TSM; called under the DSM lock; `req` is valid, and its
    /// buffers are kernel memory valid for their lengths (or NULL with length 0), not
    /// otherwise accessed during the call (`struct pci_tsm_guest_req`).
    unsafe extern "C" fn guest_req(
        tdi: *mut bindings::pci_tdi,
        req: *mut bindings::pci_tsm_guest_req,
    ) -> c_int {
        // SAFETY: `req` is valid and exclusively ours for the call.
        let req = unsafe { &mut *req };
        let Some(arch) = TvmArch::from_raw(req.tvm_arch) else {
            return EOPNOTSUPP.to_errno();
        };
        // SAFETY: The request buffer is kernel memory of `req_len` bytes, or NULL with 0.
        let input = unsafe { slice_or_empty(req.req.cast::<u8>(), req.req_len) };
        // SAFETY: The response buffer is kernel memory of `resp_len` bytes, or NULL with 0,
        // and nothing else accesses it during the call.
        let output = unsafe { slice_or_empty_mut(req.resp.cast::<u8>(), req.resp_len) };
        let out_len = output.len();
        // SAFETY: `tdi` is the start of a live `TdiCtx<T>`; the DSM lock is held.
        let mut dsm = unsafe { Dsm::<T>::of_function((*tdi).pdev) };
        // SAFETY: `tdi` is the start of a live `TdiCtx<T>` made by `bind`, and the DSM lock
        // is held for the call.
        let mut t = unsafe { Tdi::<T>::from_raw(tdi) };
        let mut code = 0u64;
        let res = T::guest_req(&mut dsm, &mut t, arch, req.op, input, output, &mut code);
        req.tsm_code = code;
        match res {
            Ok(GuestReply::Written(n)) if n <= out_len => {
                req.resp_len = n;
                0
            }
            // A backend that says it wrote more than the buffer holds is broken.
            Ok(GuestReply::Written(_)) => EIO.to_errno(),
            Ok(GuestReply::TooSmall(needed)) => {
                req.resp_len = needed;
                ENOSPC.to_errno()
            }
            Err(e) => e.to_errno(),
        }
    }

    const OPS: bindings::pci_tsm_ops = {
        // SAFETY: All-zero is a valid `pci_tsm_ops`: every operation NULL.
        let mut ops: bindings::pci_tsm_ops = unsafe { core::mem::zeroed() };
        ops.__bindgen_anon_1.link_ops = bindings::pci_tsm_ops__bindgen_ty_1_pci_tsm_link_ops {
            probe: Some(Self::probe),
            remove: Some(Self::remove),
            connect: Some(Self::connect),
            disconnect: Some(Self::disconnect),
            bind: if T::HAS_BIND { Some(Self::bind) } else { None },
            unbind: if T::HAS_UNBIND {
                Some(Self::unbind)
            } else {
                None
            },
            guest_req: if T::HAS_GUEST_REQ {
                Some(Self::guest_req)
            } else {
                None
            },
        };
        ops
    };
}

/// The operations a TSM is registered with, and the backend's registration data: the
/// core hands callbacks the `tsm_dev` whose `pci_ops` points here, so each finds `data`.
///
/// # Invariants
///
/// Lives, at a fixed address, from before `tsm_register()` until after
/// `tsm_unregister()` returned, with `ops` (the first field) as the `pci_ops` of that
/// `tsm_dev`.
#[repr(C)]
struct RegOps<T: LinkTsm> {
    ops: bindings::pci_tsm_ops,
    data: T::RegistrationData,
}

impl<T: LinkTsm> RegOps<T> {
    /// The registration data of `tsm_dev`.
    ///
    /// # Safety
    ///
    /// `tsm_dev` is a `struct tsm_dev` registered by a live `Registration<T>`; the
    /// reference is used only while it is registered.
    unsafe fn data_of<'a>(tsm_dev: *mut bindings::tsm_dev) -> &'a T::RegistrationData {
        // SAFETY: Per the safety requirements `pci_ops` is the `ops` field, the first of a
        // live `repr(C)` `RegOps<T>`, which nothing mutates while registered.
        unsafe { &(*(*tsm_dev).pci_ops.cast::<RegOps<T>>()).data }
    }
}

/// A registered link TSM (`tsm_register()`): `/sys/class/tsm/tsmN`, the target of
/// `/sys/bus/pci/devices/.../tsm/connect`. Unregistering disconnects (and unbinds) every
/// device connected through it.
///
/// # Invariants
///
/// `tsm_dev` is a registered `struct tsm_dev` until `Drop`, with the `ops` of `reg` as
/// its operations; `reg` is not moved out of its allocation or dropped before that.
pub struct Registration<T: LinkTsm> {
    tsm_dev: NonNull<bindings::tsm_dev>,
    reg: KBox<RegOps<T>>,
}

impl<T: LinkTsm> Registration<T> {
    /// Registers the TSM as a child of `parent`; `data` reaches every callback
    /// ([`Dsm::registration_data`], and `probe`'s argument).
    pub fn new(parent: &device::Device, data: T::RegistrationData) -> Result<Self> {
        const { assert!(T::HAS_UNBIND == T::HAS_BIND, "a TSM that binds must unbind") };
        let reg = KBox::new(
            RegOps::<T> {
                ops: Adapter::<T>::OPS,
                data,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `parent` is a valid device; `reg.ops` stays at its address until after
        // `tsm_unregister()` (`Drop`), and the core only reads it.
        let raw = unsafe { bindings::tsm_register(parent.as_raw(), &reg.ops) };
        let raw = from_err_ptr(raw)?;
        // INVARIANT: `tsm_register()` returned a registered device with `reg.ops`.
        Ok(Self {
            tsm_dev: NonNull::new(raw).ok_or(ENOMEM)?,
            reg,
        })
    }

    /// The data the TSM was registered with.
    pub fn data(&self) -> &T::RegistrationData {
        &self.reg.data
    }

    /// The TSM's id: it is `/sys/class/tsm/tsm<id>`.
    pub fn id(&self) -> i32 {
        // SAFETY: `tsm_dev` is valid per the type invariants.
        unsafe { (*self.tsm_dev.as_ptr()).id }
    }
}

impl<T: LinkTsm> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `tsm_dev` is registered per the type invariants, and is not used after;
        // `reg` is dropped only after this returned (fields drop after `drop()`).
        unsafe { bindings::tsm_unregister(self.tsm_dev.as_ptr()) };
    }
}

// SAFETY: `tsm_unregister()` may be called from any thread; `id` is immutable; the
// registration data is `Send + Sync`.
unsafe impl<T: LinkTsm> Send for Registration<T> {}
// SAFETY: `&Registration` only reads the immutable `id` and the `Sync` registration data.
unsafe impl<T: LinkTsm> Sync for Registration<T> {}

// Caller side: what a VFIO or iommufd user of a connected device calls.

/// A PCI function no driver is bound to, kept so while this guard lives.
///
/// For callers that bind TDIs outside any driver (a test facility): a function a driver
/// holds (vfio-pci-tsm, whose locked state must be its own) is not theirs to bind.
///
/// # Invariants
///
/// The device lock of `pdev` is held, and its `driver` was NULL when it was taken, so no
/// driver binds until the guard drops.
pub struct Unclaimed<'a> {
    pdev: &'a pci::Device,
}

impl<'a> Unclaimed<'a> {
    /// Takes the device lock of `pdev` (sleeping); `EBUSY` if a driver is bound to it.
    pub fn lock(pdev: &'a pci::Device) -> Result<Self> {
        let dev = AsRef::<device::Device>::as_ref(pdev).as_raw();
        // SAFETY: `dev` is the valid `struct device` of `pdev`.
        unsafe { bindings::pci_tsm_device_lock(dev) };
        // SAFETY: `dev` is valid and its `driver` is stable under the device lock we hold.
        if unsafe { (*dev).driver }.is_null() {
            // INVARIANT: The lock is held and no driver is bound.
            Ok(Self { pdev })
        } else {
            // SAFETY: We took the lock above.
            unsafe { bindings::pci_tsm_device_unlock(dev) };
            Err(EBUSY)
        }
    }
}

impl Drop for Unclaimed<'_> {
    fn drop(&mut self) {
        let dev = AsRef::<device::Device>::as_ref(self.pdev).as_raw();
        // SAFETY: By the type invariant the device lock is held by us.
        unsafe { bindings::pci_tsm_device_unlock(dev) };
    }
}

impl Kvm {
    /// The VM of a KVM VM file (`KVM_CREATE_VM`), with a reference of its own.
    #[cfg(CONFIG_KVM = "y")]
    pub fn from_file(file: &crate::fs::File) -> Result<ARef<Self>> {
        // SAFETY: `file` is a valid file for the duration of the call.
        let kvm = unsafe { bindings::pci_tsm_kvm_from_file(file.as_ptr()) };
        if kvm.is_null() {
            return Err(EBADF);
        }
        // SAFETY: A VM file holds a reference of its VM, and `file` is held for the call.
        Ok(ARef::from(unsafe { Kvm::from_raw(kvm) }))
    }
}

/// The name of [`Binding`]'s lock class: a static, because a name literal in an
/// initializer that a module inlines is copied into it, and lockdep warns about one class
/// key with two names.
static BINDING_KVM_LOCK: &CStr = c"Binding::kvm";

/// A TDI bound by a caller outside the VFIO driver (a test facility), told by the PCI/TSM
/// core when it is unbound, by whatever path (`pci_tsm_bind_notify()`).
///
/// Dropping it unbinds the TDI if it is still the one this binding made: never a TDI that
/// someone else bound after the core unbound this one underneath (disconnect).
///
/// # Invariants
///
/// `nb.unbound` is [`Binding::unbound_callback`]; while the core may hold `nb` (from a
/// successful [`Binding::bind`] until the core calls it or the drop unbinds), `self` is
/// pinned and alive; while the core may hold the VM of that bind, `kvm` holds it.
#[cfg(CONFIG_KVM = "y")]
#[pin_data(PinnedDrop)]
pub struct Binding {
    #[pin]
    nb: Opaque<bindings::pci_tsm_unbind_notifier>,
    /// The VM of the last bind; dropped after the unbind (fields drop after `drop()`).
    #[pin]
    kvm: crate::sync::Mutex<Option<ARef<Kvm>>>,
    /// Set when the bind succeeded, cleared by the core's notification.
    bound: Atomic<bool>,
    pdev: ARef<pci::Device>,
}

#[cfg(CONFIG_KVM = "y")]
impl Binding {
    /// A binding of `pdev`, not bound yet.
    pub fn new(pdev: ARef<pci::Device>) -> impl PinInit<Self> {
        pin_init!(Self {
            nb <- Opaque::ffi_init(|nb: *mut bindings::pci_tsm_unbind_notifier| {
                // SAFETY: `nb` is valid for writes during initialization.
                unsafe {
                    nb.write(bindings::pci_tsm_unbind_notifier {
                        unbound: Some(Self::unbound_callback),
                        locked: 0,
                    })
                };
            }),
            kvm <- crate::sync::Mutex::new(None, BINDING_KVM_LOCK, crate::static_lock_class!()),
            bound: Atomic::new(false),
            pdev,
        })
    }

    /// The function this binding is for.
    pub fn pdev(&self) -> &pci::Device {
        &self.pdev
    }

    /// `pci_tsm_bind_notify()`: binds the function, connected through a link TSM, as TDI
    /// `tdi_id` of `kvm`. `EBUSY` if a TDI of the function is bound already (this one
    /// included). The binding holds `kvm` until it is dropped or bound again.
    pub fn bind(self: Pin<&Self>, kvm: ARef<Kvm>, tdi_id: u32) -> Result {
        let mut held = self.kvm.lock();
        if self.bound.load(Relaxed) {
            return Err(EBUSY);
        }
        // Not bound (never, or the core unbound it): the core holds no earlier VM.
        let vm = kvm.as_ptr();
        *held = Some(kvm);
        // Before the call: the core may tell us it unbound before the call returns.
        self.bound.store(true, Relaxed);
        // SAFETY: `pdev` is valid; `nb` is pinned and, by the type invariant, alive while
        // the core holds it; `vm` is a live VM, held by `self.kvm` while the core may
        // hold it.
        let rc =
            unsafe { bindings::pci_tsm_bind_notify(self.pdev.as_raw(), vm, tdi_id, self.nb.get()) };
        if rc != 0 {
            self.bound.store(false, Relaxed);
            *held = None;
        }
        to_result(rc)
    }

    /// Whether the TDI this binding made is still bound.
    pub fn is_bound(&self) -> bool {
        self.bound.load(Relaxed)
    }

    /// Called by the core, under its locks, after it unbound the TDI bound with `nb`.
    ///
    /// # Safety
    ///
    /// `nb` is the `nb` field of a live [`Binding`].
    unsafe extern "C" fn unbound_callback(
        nb: *mut bindings::pci_tsm_unbind_notifier,
        _pdev: *mut bindings::pci_dev,
    ) {
        // `Opaque<T>` is transparent over `T`.
        let nb = nb.cast::<Opaque<bindings::pci_tsm_unbind_notifier>>();
        // SAFETY: Per the safety contract `nb` is the field of a live `Binding`, which
        // is only shared (just `bound`, an atomic, is written through it).
        let this = unsafe { &*crate::container_of!(nb, Self, nb) };
        this.bound.store(false, Relaxed);
    }
}

#[cfg(CONFIG_KVM = "y")]
#[pinned_drop]
impl PinnedDrop for Binding {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `pdev` is valid and `nb` alive; the core unbinds only a TDI bound with
        // `nb`, after which it no longer holds `nb`.
        unsafe { bindings::pci_tsm_unbind_notify(self.pdev.as_raw(), self.nb.get()) };
    }
}

/// `pci_tsm_guest_req()`: operation `op` of architecture `arch` on the bound TDI of
/// `pdev`. Returns what the TSM produced (a response in `output`, or the size it needs)
/// and its result code, which the TSM may set on failure too.
pub fn guest_req(
    pdev: &pci::Device,
    arch: TvmArch,
    op: u32,
    input: &[u8],
    output: &mut [u8],
) -> (Result<GuestReply>, u64) {
    let mut req = bindings::pci_tsm_guest_req {
        tvm_arch: arch.as_raw(),
        op,
        req: input.as_ptr().cast(),
        req_len: input.len(),
        resp: output.as_mut_ptr().cast(),
        resp_len: output.len(),
        tsm_code: 0,
    };
    // SAFETY: `pdev` is valid; the buffers are kernel memory valid for their lengths and
    // borrowed (so not otherwise accessed) for the call.
    let rc = unsafe { bindings::pci_tsm_guest_req(pdev.as_raw(), &mut req) };
    let res = match rc {
        0 => Ok(GuestReply::Written(req.resp_len)),
        e if e == ENOSPC.to_errno() => Ok(GuestReply::TooSmall(req.resp_len)),
        e => Err(Error::from_errno(e)),
    };
    (res, req.tsm_code)
}

/// `len` bytes at `ptr` as a slice; empty if `len` is 0 (`ptr` may then be NULL).
///
/// # Safety
///
/// With `len > 0`, `ptr` is valid for reads of `len` bytes for `'a`, and not written
/// during `'a`.
unsafe fn slice_or_empty<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: Per the requirements.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// As [`slice_or_empty`], mutable.
///
/// # Safety
///
/// With `len > 0`, `ptr` is valid for reads and writes of `len` bytes for `'a`, and not
/// otherwise accessed during `'a`.
unsafe fn slice_or_empty_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
    if len == 0 || ptr.is_null() {
        return &mut [];
    }
    // SAFETY: Per the requirements.
    unsafe { core::slice::from_raw_parts_mut(ptr, len) }
}
