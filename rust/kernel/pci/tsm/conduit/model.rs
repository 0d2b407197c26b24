// SPDX-License-Identifier: GPL-2.0

//! The conduit to a firmware model in userspace (`<linux/tsm_conduit.h>`).
//!
//! A machine without the vendor firmware (no RMM, TDX module or PSP with SEV-TIO, as in
//! QEMU) runs a model of it in userspace (`tools/tsm/`). [`ModelConduit`] registers a
//! character device for it; the model opens the device (one model at a time) and serves
//! one call at a time:
//!
//! - `read()` blocks until the backend makes a call and returns it: one
//!   [`wire::Msg`] of the conduit's [`Kind`] with a fresh `call_id` and the registers;
//! - while that call is in progress the model may read and write the conduit's
//!   [`FwMemory`] with the ioctls [`wire::MEM_READ`] and [`wire::MEM_WRITE`] (`EPERM`
//!   with no call in progress, `EFAULT` outside the pages, `EINVAL` for a malformed
//!   argument): the pages the backend handed to firmware, and nothing else;
//! - `write()` of a [`Kind::Return`] message naming the call ends it with the result
//!   registers. A return for a call that has ended already (the kernel stopped waiting)
//!   is stale and dropped.
//!
//! [`Conduit::call`] fails with `ENODEV` when no model holds the device, `EPIPE` when the
//! model closes it during the call, and `ETIMEDOUT` when it does not answer within
//! [`CALL_TIMEOUT_MS`]. Like a real firmware call it is not interrupted by signals.

use super::{
    wire,
    Conduit,
    FwMemory,
    Kind,
    Regs, //
};
use crate::{
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
    prelude::*,
    sync::{
        Arc,
        CondVar,
        Mutex, //
    },
    time::msecs_to_jiffies,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
    ThisModule,
};
use core::marker::PhantomData;

/// How long a call waits for the model's return.
pub const CALL_TIMEOUT_MS: u32 = 30_000;

/// The module that registers a [`ModelConduit`]: it stays loaded while a model holds the
/// device open.
pub trait Owner: Send + Sync + 'static {
    /// The module (`&THIS_MODULE`).
    const MODULE: &'static ThisModule;
}

/// Channel state, under [`Shared::inner`].
struct Inner {
    /// Id of the open model file, 0 if none.
    session: u64,
    last_session: u64,
    /// The call in progress that the model has not read yet.
    pending: Option<wire::Msg>,
    /// `call_id` of the call in progress, 0 if none.
    active: u64,
    last_call: u64,
    /// The model's result registers for `active`.
    ret: Option<Regs>,
}

/// What the device's files and the backend share.
#[pin_data]
struct Shared {
    kind: Kind,
    #[pin]
    inner: Mutex<Inner>,
    /// Wakes the model's `read()` and the call waiting for its return.
    #[pin]
    cv: CondVar,
    /// One call at a time.
    #[pin]
    serial: Mutex<()>,
    #[pin]
    mem: FwMemory,
}

impl Shared {
    fn open(&self) -> Result<u64> {
        let mut g = self.inner.lock();
        if g.session != 0 {
            return Err(EBUSY);
        }
        g.last_session += 1;
        g.session = g.last_session;
        g.pending = None;
        Ok(g.session)
    }

    fn release(&self, session: u64) {
        let mut g = self.inner.lock();
        if g.session == session {
            g.session = 0;
            g.pending = None;
            g.ret = None;
        }
        drop(g);
        self.cv.notify_all();
    }

    /// The next call for the model of `session` (blocks, interruptible).
    fn next_call(&self, session: u64) -> Result<wire::Msg> {
        let mut g = self.inner.lock();
        loop {
            if g.session != session {
                return Err(EPIPE);
            }
            if let Some(m) = g.pending.take() {
                return Ok(m);
            }
            if self.cv.wait_interruptible(&mut g) {
                return Err(ERESTARTSYS);
            }
        }
    }

    /// The model's message `b`: the return of a call.
    fn model_wrote(&self, session: u64, b: &[u8]) -> Result {
        let m = wire::Msg::decode(b).map_err(|_| EINVAL)?;
        if m.kind != Kind::Return {
            return Err(EINVAL);
        }
        let mut g = self.inner.lock();
        if g.session != session {
            return Err(EPIPE);
        }
        if m.call_id == 0 || m.call_id != g.active || g.pending.is_some() || g.ret.is_some() {
            // Stale (the call ended), not read yet, or answered already: dropped.
            return Ok(());
        }
        g.ret = Some(m.regs);
        drop(g);
        self.cv.notify_all();
        Ok(())
    }

    /// A memory access of the model of `session`, during a call.
    fn model_access(&self, session: u64, cmd: u32, arg: usize) -> Result {
        let mut raw = [0u8; wire::MEM_ACCESS_LEN];
        UserSlice::new(UserPtr::from_addr(arg), raw.len())
            .reader()
            .read_slice(&mut raw)?;
        let a = wire::MemAccess::decode(&raw).map_err(|_| EINVAL)?;
        let len = a.len as usize;
        let user = || UserSlice::new(UserPtr::from_addr(a.uptr as usize), len);
        let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
        let write = cmd == wire::MEM_WRITE;
        if write {
            user().reader().read_slice(&mut buf)?;
        }
        {
            let g = self.inner.lock();
            if g.session != session {
                return Err(EPIPE);
            }
            if g.active == 0 {
                return Err(EPERM);
            }
            if write {
                self.mem.write(a.addr, &buf)?;
            } else {
                self.mem.read(a.addr, &mut buf)?;
            }
        }
        if !write {
            user().writer().write_slice(&buf)?;
        }
        Ok(())
    }

    fn call(&self, regs: &mut Regs) -> Result {
        let _serial = self.serial.lock();
        let mut g = self.inner.lock();
        if g.session == 0 {
            return Err(ENODEV);
        }
        g.last_call += 1;
        let call_id = g.last_call;
        let session = g.session;
        g.pending = Some(wire::Msg {
            kind: self.kind,
            call_id,
            regs: *regs,
        });
        g.active = call_id;
        g.ret = None;
        self.cv.notify_all();
        let mut left = msecs_to_jiffies(CALL_TIMEOUT_MS);
        let r = loop {
            if g.session != session {
                break Err(EPIPE);
            }
            if let Some(out) = g.ret.take() {
                *regs = out;
                break Ok(());
            }
            left = self.cv.wait_timeout(&mut g, left);
            if left == 0 {
                break Err(ETIMEDOUT);
            }
        };
        // The call is over: a late return is stale, and the model may not touch memory.
        g.active = 0;
        g.pending = None;
        g.ret = None;
        r
    }
}

/// A conduit whose firmware is a model process behind a character device.
///
/// # Invariants
///
/// `reg` is the `reg` field of a `ModelConduit<O>` for every
/// `MiscDeviceRegistration<ModelFile<O>>` there is (only [`ModelConduit::new`] creates
/// one), and `shared` is initialized before `reg` registers the device and dropped after
/// `reg` deregistered it.
#[pin_data]
pub struct ModelConduit<O: Owner> {
    // Declared first, so dropped first: `misc_deregister()` waits for an `open()` in
    // progress (both run under `misc_mtx`), after which no open reads `shared`.
    #[pin]
    reg: MiscDeviceRegistration<ModelFile<O>>,
    shared: Arc<Shared>,
}

// The names of the channel's lock classes: statics, because `ModelConduit::new` is
// instantiated in each backend module, which would otherwise get its own copy of a name
// literal, and lockdep warns about one class key with two names.
static INNER_LOCK: &CStr = c"ModelConduit::inner";
static CV_NAME: &CStr = c"ModelConduit::cv";
static SERIAL_LOCK: &CStr = c"ModelConduit::serial";

impl<O: Owner> ModelConduit<O> {
    /// A conduit of `kind` calls served by the model that opens `/dev/<name>`.
    pub fn new(name: &'static CStr, kind: Kind) -> Result<Pin<KBox<Self>>> {
        let shared = Arc::pin_init(
            pin_init!(Shared {
                kind,
                inner <- Mutex::new(Inner {
                    session: 0,
                    last_session: 0,
                    pending: None,
                    active: 0,
                    last_call: 0,
                    ret: None,
                }, INNER_LOCK, crate::static_lock_class!()),
                cv <- CondVar::new(CV_NAME, crate::static_lock_class!()),
                serial <- Mutex::new((), SERIAL_LOCK, crate::static_lock_class!()),
                mem <- FwMemory::new(),
            }),
            GFP_KERNEL,
        )?;
        KBox::try_pin_init(
            try_pin_init!(Self {
                shared,
                reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name }),
            }),
            GFP_KERNEL,
        )
    }

    /// A model holds the device.
    pub fn attached(&self) -> bool {
        self.shared.inner.lock().session != 0
    }
}

impl<O: Owner> Conduit for ModelConduit<O> {
    fn kind(&self) -> Kind {
        self.shared.kind
    }

    fn call(&self, regs: &mut Regs) -> Result {
        self.shared.call(regs)
    }

    fn memory(&self) -> &FwMemory {
        &self.shared.mem
    }
}

/// An open file of the model's device.
struct ModelFile<O: Owner> {
    shared: Arc<Shared>,
    session: u64,
    _owner: PhantomData<O>,
}

#[vtable]
impl<O: Owner> MiscDevice for ModelFile<O> {
    type Ptr = KBox<Self>;

    const OWNER: Option<&'static ThisModule> = Some(O::MODULE);

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let reg: *const MiscDeviceRegistration<Self> = misc;
        // SAFETY: by the type invariant of `ModelConduit`, `misc` is the `reg` field of a
        // `ModelConduit<O>`, which is alive: `open` runs with the device registered.
        let conduit = unsafe { &*crate::container_of!(reg.cast_mut(), ModelConduit<O>, reg) };
        let shared = conduit.shared.clone();
        let session = shared.open()?;
        KBox::new(
            Self {
                shared: shared.clone(),
                session,
                _owner: PhantomData,
            },
            GFP_KERNEL,
        )
        .inspect_err(|_| shared.release(session))
        .map_err(Into::into)
    }

    fn release(me: KBox<Self>, _file: &File) {
        me.shared.release(me.session);
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let me = kiocb.file();
        if iov.len() < wire::MSG_LEN {
            return Err(EINVAL);
        }
        let m = match me.shared.next_call(me.session) {
            Ok(m) => m,
            Err(e) if e == EPIPE => return Ok(0),
            Err(e) => return Err(e),
        };
        Ok(iov.copy_to_iter(&m.encode()))
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let me = kiocb.file();
        if iov.len() != wire::MSG_LEN {
            return Err(EINVAL);
        }
        let mut b = [0u8; wire::MSG_LEN];
        if iov.copy_from_iter(&mut b) != wire::MSG_LEN {
            return Err(EFAULT);
        }
        me.shared.model_wrote(me.session, &b)?;
        Ok(wire::MSG_LEN)
    }

    fn ioctl(me: &ModelFile<O>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            wire::MEM_READ | wire::MEM_WRITE => me.shared.model_access(me.session, cmd, arg)?,
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}
