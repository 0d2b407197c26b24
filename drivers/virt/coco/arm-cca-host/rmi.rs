// SPDX-License-Identifier: GPL-2.0

//! RMI calls as the backend makes them: one SMC through the conduit, `X0` decoded, BUSY
//! retried, a refusal logged and turned into an errno; granule delegation; the NS pages
//! the backend hands to the RMM.
//!
//! The ABI is RMI 2.0 ([`Abi::V2_0`]); the codecs are the protocol crate's
//! (`tsm_proto::rmi`), which the RMM model shares.

use kernel::{
    page::PAGE_SIZE,
    pci::tsm::conduit::{
        Conduit,
        FwMemory,
        Regs,
        NR_REGS, //
    },
    prelude::*,
    time::{
        delay::fsleep,
        Delta, //
    },
};
use tsm_proto::{
    codec::Writer,
    rmi::{
        Abi,
        Call,
        Outcome,
        Status,
        GRANULE_SIZE, //
    },
};

/// The one ABI the backend speaks.
pub(crate) const ABI: Abi = Abi::V2_0;

/// How often a BUSY call is made again before the backend gives up with `EBUSY`.
const BUSY_RETRIES: u32 = 16;

/// A granule's size as an address increment.
pub(crate) const G: u64 = GRANULE_SIZE as u64;

// The conduit's pages are the RMM's granules.
const _: () = assert!(PAGE_SIZE == GRANULE_SIZE);

/// The errno of an RMI status the backend does not handle itself.
pub(crate) fn errno(status: Status) -> Error {
    match status {
        Status::ErrorInput => EINVAL,
        Status::NotSupported => EOPNOTSUPP,
        Status::Busy | Status::Blocked => EBUSY,
        Status::ErrorDevice => EIO,
        // ERROR_REALM, _REC, _RTT, _GRANULE, _GPT, ...: the RMM refused the call for a
        // reason of its own state; the caller cannot fix it by retrying.
        _ => EPROTO,
    }
}

/// What one RMI call answered, when it did not fail.
#[derive(Clone, Copy)]
pub(crate) struct Answer {
    /// The decoded `X0`: SUCCESS or INCOMPLETE.
    pub(crate) outcome: Outcome,
    /// The result registers (`X1..` hold the outputs).
    pub(crate) regs: Regs,
}

/// The RMM, reached through a conduit.
pub(crate) struct Rmi<'a> {
    conduit: &'a dyn Conduit,
}

impl<'a> Rmi<'a> {
    pub(crate) fn new(conduit: &'a dyn Conduit) -> Self {
        Self { conduit }
    }

    /// The memory handed to the RMM.
    pub(crate) fn mem(&self) -> &'a FwMemory {
        self.conduit.memory()
    }

    /// One SMC: `Ok(Ok(answer))` for SUCCESS or INCOMPLETE, `Ok(Err(status))` for a
    /// refusal, `Err` if the call did not complete (the conduit's error) or `X0` is no
    /// RMI result (`EOPNOTSUPP` for SMCCC NOT_SUPPORTED: no RMM or no device
    /// assignment; `EPROTO` otherwise).
    pub(crate) fn smc(
        &self,
        call: Call,
        args: &[u64],
    ) -> Result<core::result::Result<Answer, Status>> {
        let mut regs: Regs = [0; NR_REGS];
        regs[0] = u64::from(call.fid(ABI).ok_or(EINVAL)?);
        for (r, a) in regs.iter_mut().skip(1).zip(args) {
            *r = *a;
        }
        self.conduit.call(&mut regs)?;
        match Outcome::decode(regs[0]) {
            Ok(Outcome::Failed { status, .. }) => Ok(Err(status)),
            Ok(Outcome::SmcNotSupported) => {
                pr_warn!(
                    "{:?}: SMCCC NOT_SUPPORTED (no RMM device assignment)\n",
                    call
                );
                Err(EOPNOTSUPP)
            }
            Ok(outcome) => Ok(Ok(Answer { outcome, regs })),
            Err(_) => {
                pr_warn!("{:?}: X0 {:#x} is no RMI result\n", call, regs[0]);
                Err(EPROTO)
            }
        }
    }

    /// [`Self::smc`], made again while the RMM answers BUSY (at most
    /// [`BUSY_RETRIES`] times); a refusal is the status.
    pub(crate) fn try_call(
        &self,
        call: Call,
        args: &[u64],
    ) -> Result<core::result::Result<Answer, Status>> {
        let mut tries = 0;
        loop {
            match self.smc(call, args)? {
                Err(Status::Busy) if tries < BUSY_RETRIES => {
                    tries += 1;
                    fsleep(Delta::from_micros(100));
                }
                r => return Ok(r),
            }
        }
    }

    /// [`Self::try_call`], a refusal logged and turned into its errno.
    pub(crate) fn call(&self, call: Call, args: &[u64]) -> Result<Answer> {
        self.try_call(call, args)?.map_err(|status| {
            pr_warn!("{:?}: refused, {:?}\n", call, status);
            errno(status)
        })
    }

    /// An undoing call (a destroy, cancel or unlock of teardown), tried twice: a failed
    /// RMI call changes nothing in the RMM, so the second try is the same call on the
    /// same state.
    pub(crate) fn call_twice(&self, call: Call, args: &[u64]) -> Result<Answer> {
        self.call(call, args).or_else(|_| self.call(call, args))
    }

    /// A new NS page holding what `encode` writes: the parameters of one call.
    pub(crate) fn params(
        &self,
        encode: impl FnOnce(&mut Writer<'_>) -> tsm_proto::codec::Result<()>,
    ) -> Result<NsPage<'a>> {
        let mut buf = KVVec::from_elem(0u8, GRANULE_SIZE, GFP_KERNEL)?;
        encode(&mut Writer::new(&mut buf)).map_err(|_| EINVAL)?;
        let page = NsPage::new(self.mem())?;
        self.mem().write(page.pa, &buf)?;
        Ok(page)
    }

    /// Delegates a new granule to the RMM; its address.
    pub(crate) fn delegated(&self) -> Result<u64> {
        let mem = self.mem();
        let pa = mem.alloc()?;
        let r = self.call(Call::GranuleDelegate, &[pa, pa + G]);
        match r {
            Ok(a) if a.regs[1] == pa + G => Ok(pa),
            Ok(a) => {
                // Whatever the RMM did with it, the granule is not known to be
                // delegated, nor known not to be: keep it out of the kernel.
                pr_err!(
                    "GRANULE_DELEGATE {:#x}: next address {:#x}; granule leaked\n",
                    pa,
                    a.regs[1]
                );
                let _ = mem.leak(pa);
                Err(EPROTO)
            }
            Err(e) => {
                // Refused: the granule is still the kernel's.
                let _ = mem.free(pa);
                Err(e)
            }
        }
    }

    /// Undelegates the granule at `pa` and frees it. A granule the RMM keeps is leaked
    /// (never given back to the kernel): it is not the kernel's memory any more.
    pub(crate) fn undelegate(&self, pa: u64) -> Result {
        match self.call(Call::GranuleUndelegate, &[pa, pa + G]) {
            Ok(_) => self.mem().free(pa),
            Err(e) => {
                pr_err!("GRANULE_UNDELEGATE {:#x}: {:?}; granule leaked\n", pa, e);
                let _ = self.mem().leak(pa);
                Err(e)
            }
        }
    }
}

/// A page handed to the RMM as NS memory (a parameter or communication buffer), freed
/// when dropped.
pub(crate) struct NsPage<'a> {
    mem: &'a FwMemory,
    /// Its address.
    pub(crate) pa: u64,
}

impl<'a> NsPage<'a> {
    pub(crate) fn new(mem: &'a FwMemory) -> Result<Self> {
        Ok(Self {
            mem,
            pa: mem.alloc()?,
        })
    }
}

impl Drop for NsPage<'_> {
    fn drop(&mut self) {
        let _ = self.mem.free(self.pa);
    }
}
