// SPDX-License-Identifier: GPL-2.0

//! Self-test of the firmware conduit's model channel (`kernel::pci::tsm::conduit::model`).
//!
//! The module registers a [`ModelConduit`] of [`Kind::Test`] calls as
//! `/dev/tsm_conduit_test`, which a trivial firmware model opens (the kselftest
//! `tsm_conduit`), and `/dev/tsm_conduit_test_ctl`. Each `write()` to the latter makes one
//! exchange, as a backend would, and returns the bytes written or the errno:
//!
//! 1. hands firmware one page and fills it with the pattern `i ^ 0x3c` (byte `i`);
//! 2. calls with `X0` = [`TEST_FN`], `X1` = the page's firmware address, `X2` = the page
//!    size, `X3` = a nonce, `X4`..`X17` = `0x100 + i`;
//! 3. expects the model to have inverted every byte of the page and to answer `X0` = 0,
//!    `X1` = the sum of the bytes it read, `X2` = the nonce + 1, `X4`..`X17` unchanged;
//! 4. frees the page, after which the memory no longer holds its address.
//!
//! Anything else the model did is `EIO` (with the reason in the kernel log); a conduit
//! error (`ENODEV`, `EPIPE`, `ETIMEDOUT`) is returned as it is.
//!
//! A write that starts with `r` instead makes RMI calls through a second conduit, of SMCs,
//! `/dev/tsm_conduit_rmm`, which the CCA RMM model `tsm-rmm` serves: `RMI_VERSION`
//! (2.0 must be supported), then a handed page with a pattern delegated
//! (`RMI_GRANULE_DELEGATE`, `X1` the next address) and undelegated (the RMM scrubs it:
//! the page must read back zero through the model's memory writes), and a second
//! undelegate, which the RMM must refuse.

use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};
use kernel::{
    fs::{
        File,
        Kiocb, //
    },
    iov::IovIterSource,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    page::PAGE_SIZE,
    pci::tsm::conduit::{
        model::{
            ModelConduit,
            Owner, //
        },
        Conduit,
        Kind,
        Regs,
        NR_REGS, //
    },
    prelude::*,
};
use tsm_proto::rmi::{
    Abi,
    Call,
    Outcome,
    Revision,
    VersionOutput, //
};

#[cfg(CONFIG_SAMPLE_TSM_CONDUIT_KUNIT_TEST)]
mod conduit_tests;

module! {
    type: ConduitTest,
    name: "tsm_conduit_test",
    authors: ["tsm-vfio developers"],
    description: "Self-test of the TSM firmware conduit's model channel",
    license: "GPL",
}

/// `X0` of the test call (no platform's function).
pub const TEST_FN: u64 = 0x7f00_0001;

struct ThisOwner;

impl Owner for ThisOwner {
    const MODULE: &'static ThisModule = &THIS_MODULE;
}

/// The conduit and the control device that drives it.
///
/// # Invariants
///
/// Every `MiscDeviceRegistration<CtlFile>` is the `reg` field of a `Ctl` (only
/// [`ConduitTest::init`] creates one), and `conduit` is initialized before `reg`
/// registers the device and dropped after `reg` deregistered it.
#[pin_data]
struct Ctl {
    // Declared first, so dropped first (as in `ModelConduit`).
    #[pin]
    reg: MiscDeviceRegistration<CtlFile>,
    conduit: Pin<KBox<ModelConduit<ThisOwner>>>,
    /// SMCs, for the RMM model.
    rmm: Pin<KBox<ModelConduit<ThisOwner>>>,
    nonce: AtomicU64,
}

struct ConduitTest {
    _ctl: Pin<KBox<Ctl>>,
}

impl kernel::Module for ConduitTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let conduit = ModelConduit::new(c"tsm_conduit_test", Kind::Test)?;
        let rmm = ModelConduit::new(c"tsm_conduit_rmm", Kind::Smc)?;
        let ctl = KBox::try_pin_init(
            try_pin_init!(Ctl {
                conduit,
                rmm,
                nonce: AtomicU64::new(0),
                reg <- MiscDeviceRegistration::register(MiscDeviceOptions {
                    name: c"tsm_conduit_test_ctl",
                }),
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { _ctl: ctl })
    }
}

/// What the model must have done, or why not.
fn check(conduit: &ModelConduit<ThisOwner>, nonce: u64) -> Result {
    let mem = conduit.memory();
    let addr = mem.alloc()?;
    let r = exchange(conduit, addr, nonce);
    let freed = mem.free(addr);
    if r.is_ok() && (freed.is_err() || mem.holds(addr)) {
        pr_err!("the freed page is still firmware memory\n");
        return Err(EIO);
    }
    r
}

fn exchange(conduit: &ModelConduit<ThisOwner>, addr: u64, nonce: u64) -> Result {
    let mem = conduit.memory();
    let mut page = KVVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    for (i, b) in page.iter_mut().enumerate() {
        *b = (i as u8) ^ 0x3c;
    }
    mem.write(addr, &page)?;
    let sum: u64 = page.iter().map(|&b| u64::from(b)).sum();

    let mut regs: Regs = [0; NR_REGS];
    regs[0] = TEST_FN;
    regs[1] = addr;
    regs[2] = PAGE_SIZE as u64;
    regs[3] = nonce;
    for (i, r) in regs.iter_mut().enumerate().skip(4) {
        *r = 0x100 + i as u64;
    }
    let sent = regs;
    conduit.call(&mut regs)?;

    if regs[0] != 0 || regs[1] != sum || regs[2] != nonce.wrapping_add(1) {
        pr_err!(
            "model answered X0 {:#x} X1 {:#x} (sum {:#x}) X2 {:#x} (nonce {:#x})\n",
            regs[0],
            regs[1],
            sum,
            regs[2],
            nonce
        );
        return Err(EIO);
    }
    if regs[4..] != sent[4..] {
        pr_err!("model changed X4..X17\n");
        return Err(EIO);
    }
    let mut now = KVVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    mem.read(addr, &mut now)?;
    if let Some((i, (n, p))) = now
        .iter()
        .zip(page.iter())
        .enumerate()
        .find(|(_, (n, p))| **n != !**p)
    {
        pr_err!("page byte {} is {:#x}, not the inverse of {:#x}\n", i, n, p);
        return Err(EIO);
    }
    Ok(())
}

/// One RMI 2.0 call through `conduit`: the result registers.
fn rmi(conduit: &ModelConduit<ThisOwner>, call: Call, args: &[u64]) -> Result<Regs> {
    let mut regs: Regs = [0; NR_REGS];
    regs[0] = u64::from(call.fid(Abi::V2_0).ok_or(EINVAL)?);
    for (r, a) in regs.iter_mut().skip(1).zip(args) {
        *r = *a;
    }
    conduit.call(&mut regs)?;
    Ok(regs)
}

/// What the RMM model must have answered, or why not.
fn check_rmm(conduit: &ModelConduit<ThisOwner>) -> Result {
    let r = rmi(conduit, Call::Version, &[Revision::V2_0.to_reg()])?;
    let v = VersionOutput::decode(r[0], r[1], r[2]).map_err(|_| EIO)?;
    if !v.supported || v.lower > Revision::V2_0 || v.higher < Revision::V2_0 {
        pr_err!(
            "RMI_VERSION: 2.0 not supported ({:#x} {:#x} {:#x})\n",
            r[0],
            r[1],
            r[2]
        );
        return Err(EIO);
    }
    let mem = conduit.memory();
    let pa = mem.alloc()?;
    let res = granule(conduit, pa);
    mem.free(pa)?;
    res
}

fn granule(conduit: &ModelConduit<ThisOwner>, pa: u64) -> Result {
    let mem = conduit.memory();
    let top = pa.checked_add(PAGE_SIZE as u64).ok_or(EINVAL)?;
    mem.write(pa, &[0xaa; 64])?;
    let r = rmi(conduit, Call::GranuleDelegate, &[pa, top])?;
    if Outcome::decode(r[0]) != Ok(Outcome::Success) || r[1] != top {
        pr_err!("RMI_GRANULE_DELEGATE: X0 {:#x} X1 {:#x}\n", r[0], r[1]);
        return Err(EIO);
    }
    let r = rmi(conduit, Call::GranuleUndelegate, &[pa, top])?;
    if Outcome::decode(r[0]) != Ok(Outcome::Success) {
        pr_err!("RMI_GRANULE_UNDELEGATE: X0 {:#x}\n", r[0]);
        return Err(EIO);
    }
    let mut b = [0xffu8; 64];
    mem.read(pa, &mut b)?;
    if b != [0; 64] {
        pr_err!("an undelegated granule is not scrubbed\n");
        return Err(EIO);
    }
    let r = rmi(conduit, Call::GranuleUndelegate, &[pa, top])?;
    if !matches!(Outcome::decode(r[0]), Ok(Outcome::Failed { .. })) {
        pr_err!("a second RMI_GRANULE_UNDELEGATE: X0 {:#x}\n", r[0]);
        return Err(EIO);
    }
    Ok(())
}

/// An open file of the control device.
struct CtlFile {
    ctl: *const Ctl,
}

// SAFETY: `ctl` points to a `Ctl`, which is `Sync`, alive while the file is open (see
// `open`); the file only reads through it.
unsafe impl Send for CtlFile {}
// SAFETY: as for `Send`.
unsafe impl Sync for CtlFile {}

#[vtable]
impl MiscDevice for CtlFile {
    type Ptr = KBox<Self>;

    // The module, and so its `Ctl`, stays while a file of the device is open.
    const OWNER: Option<&'static ThisModule> = Some(&THIS_MODULE);

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let reg: *const MiscDeviceRegistration<Self> = misc;
        // SAFETY: by the type invariant of `Ctl`, `misc` is the `reg` field of a `Ctl`;
        // it stays alive while the file is open, since the module does (`OWNER`) and only
        // the module's exit drops it.
        let ctl = unsafe { kernel::container_of!(reg.cast_mut(), Ctl, reg) };
        Ok(KBox::new(Self { ctl }, GFP_KERNEL)?)
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let me = kiocb.file();
        // SAFETY: see `CtlFile`'s `Send`.
        let ctl = unsafe { &*me.ctl };
        let len = iov.len();
        let mut first = [0u8; 1];
        if iov.copy_from_iter(&mut first) == 1 && first[0] == b'r' {
            check_rmm(&ctl.rmm)?;
        } else {
            let nonce = ctl.nonce.fetch_add(1, Ordering::Relaxed);
            check(&ctl.conduit, nonce.wrapping_mul(0x9e37_79b9_7f4a_7c15))?;
        }
        Ok(len)
    }
}
