// SPDX-License-Identifier: GPL-2.0

//! The communicate loop: RMI_PDEV_COMMUNICATE / RMI_VDEV_COMMUNICATE as a relay port.
//!
//! The RMM is the SPDM requester toward the device but cannot reach it: each
//! COMMUNICATE returns with the exit half of the communication page saying what the
//! host must do (cache a slice of the request or response buffer, send the request,
//! call again, or nothing: the operation ended). [`Communicate`] is that loop as a
//! [`relay::Port`]: a REQ_SEND is one DOE exchange, which the shared relay loop carries
//! over the DSM's mailbox, with its bounds, and the answer goes back in the enter half
//! (RESPONSE with the length, or ERROR when the exchange failed; the RMM decides). The
//! decision table is the protocol crate's (`CommExit::decide`).
//!
//! The host keeps the device objects the RMM asks it to cache; the port collects the
//! one object its caller wants (the certificate chain at connect, the interface report
//! or the measurements when a guest asks for them) and drops the others (the VCA
//! transcript; the measurements the RMM caches at connect).
//!
//! Like both known hosts, the loop treats RSP_WAIT (an asynchronous response) as a
//! failure; a request delay (which TF-RMM never asks for) is waited for, at most
//! [`MAX_DELAY_US`]. Every failure, and every end the relay loop forces (a signal, the
//! deadline, the exchange bound), is followed by PDEV_ABORT or VDEV_ABORT, so the RMM's
//! object is idle again.

use super::rmi::{
    Rmi,
    G, //
};
use kernel::{
    pci::tsm::{
        conduit::FwMemory,
        relay, //
    },
    prelude::*,
    time::{
        delay::fsleep,
        Delta, //
    },
};
use tsm_proto::rmi::{
    CacheObject,
    Call,
    CommEnter,
    CommExit,
    Next,
    GRANULE_SIZE, //
};

/// Most COMMUNICATE calls of one operation (the relay loop bounds the exchanges; this
/// bounds exits that send nothing, such as an RMM that never finishes).
const MAX_CALLS: u32 = 1024;

/// Longest request delay the loop waits for.
const MAX_DELAY_US: u64 = 10_000;

/// Largest cached object the host keeps (an SPDM certificate chain is at most 64 KiB).
const MAX_CACHED: usize = 0x1_0000;

/// The object a COMMUNICATE names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A PDEV, by its granule.
    Pdev(u64),
    /// A VDEV of PDEV `pdev` in Realm `rd`.
    Vdev {
        /// Realm descriptor.
        rd: u64,
        /// The endpoint PDEV.
        pdev: u64,
        /// The VDEV.
        vdev: u64,
    },
}

impl core::fmt::Debug for Target {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Target::Pdev(p) => write!(f, "PDEV {:#x}", p),
            Target::Vdev { vdev, .. } => write!(f, "VDEV {:#x}", vdev),
        }
    }
}

impl Target {
    /// PDEV_ABORT or VDEV_ABORT of the object (a refusal means nothing was in progress).
    pub(crate) fn abort(self, rmi: &Rmi<'_>) {
        let r = match self {
            Target::Pdev(p) => rmi.smc(Call::PdevAbort, &[p]),
            Target::Vdev { rd, pdev, vdev } => rmi.smc(Call::VdevAbort, &[rd, pdev, vdev]),
        };
        if let Err(e) = r {
            pr_warn!("{:?}: abort failed: {:?}\n", self, e);
        }
    }
}

/// How an operation's communication ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The operation is over: read the object's state.
    Done,
    /// The PDEV waits for its stream peer.
    StreamWait,
}

/// The communication page and the request and response buffers of one DSM: NS pages,
/// allocated at connect and freed at disconnect.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CommPages {
    pub(crate) comm: u64,
    req: u64,
    resp: u64,
}

impl CommPages {
    pub(crate) fn new(mem: &FwMemory) -> Result<Self> {
        let comm = mem.alloc()?;
        let req = match mem.alloc() {
            Ok(p) => p,
            Err(e) => {
                let _ = mem.free(comm);
                return Err(e);
            }
        };
        let resp = match mem.alloc() {
            Ok(p) => p,
            Err(e) => {
                let _ = mem.free(comm);
                let _ = mem.free(req);
                return Err(e);
            }
        };
        Ok(Self { comm, req, resp })
    }

    pub(crate) fn free(&self, mem: &FwMemory) {
        for pa in [self.comm, self.req, self.resp] {
            let _ = mem.free(pa);
        }
    }
}

/// One operation's communication, driven by [`relay::run`].
pub(crate) struct Communicate<'a> {
    rmi: &'a Rmi<'a>,
    pages: CommPages,
    target: Target,
    /// The cached object the caller wants, and what the RMM had the host cache of it.
    keep: Option<CacheObject>,
    pub(crate) cached: KVec<u8>,
    /// The request the RMM asked to send.
    req: KVVec<u8>,
    /// Scratch: the communication page.
    page: KVVec<u8>,
    /// What follows the exchange in progress.
    after: Next,
    calls: u32,
}

impl<'a> Communicate<'a> {
    pub(crate) fn new(
        rmi: &'a Rmi<'a>,
        pages: CommPages,
        target: Target,
        keep: Option<CacheObject>,
    ) -> Result<Self> {
        Ok(Self {
            rmi,
            pages,
            target,
            keep,
            cached: KVec::new(),
            req: KVVec::from_elem(0u8, GRANULE_SIZE, GFP_KERNEL)?,
            page: KVVec::from_elem(0u8, GRANULE_SIZE, GFP_KERNEL)?,
            after: Next::Done,
            calls: 0,
        })
    }

    fn write_enter(&mut self, enter: CommEnter) -> Result {
        let mem = self.rmi.mem();
        mem.read(self.pages.comm, &mut self.page)?;
        enter.write_to_page(&mut self.page).map_err(|_| EINVAL)?;
        mem.write(self.pages.comm, &self.page)
    }

    /// Appends the slice `range` of buffer `pa` to the kept object.
    fn cache(&mut self, pa: u64, object: CacheObject, range: core::ops::Range<usize>) -> Result {
        if Some(object) != self.keep || range.is_empty() {
            return Ok(());
        }
        let len = range.end - range.start;
        if self.cached.len() + len > MAX_CACHED {
            pr_warn!(
                "{:?}: cached {:?} exceeds {} bytes\n",
                self.target,
                object,
                MAX_CACHED
            );
            return Err(EPROTO);
        }
        let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        self.rmi.mem().read(pa + range.start as u64, &mut buf)?;
        self.cached.extend_from_slice(&buf, GFP_KERNEL)?;
        Ok(())
    }

    /// One COMMUNICATE and what its exit asks for, until an exchange or the end.
    fn step(&mut self) -> Result<relay::Step<Ended>> {
        loop {
            self.calls += 1;
            if self.calls > MAX_CALLS {
                pr_warn!("{:?}: no end after {} calls\n", self.target, MAX_CALLS);
                return Err(ETIMEDOUT);
            }
            let comm = self.pages.comm;
            match self.target {
                Target::Pdev(p) => self.rmi.call(Call::PdevCommunicate, &[p, comm])?,
                Target::Vdev { rd, pdev, vdev } => self
                    .rmi
                    .call(Call::VdevCommunicate, &[rd, pdev, vdev, comm])?,
            };
            self.rmi.mem().read(comm, &mut self.page)?;
            let plan = CommExit::decode_page(super::rmi::ABI, &self.page)
                .and_then(|e| e.decide())
                .map_err(|e| {
                    pr_warn!("{:?}: exit not understood: {:?}\n", self.target, e);
                    EPROTO
                })?;
            if let Some(s) = plan.cache_req {
                self.cache(self.pages.req, s.object, s.range())?;
            }
            if let Some(s) = plan.cache_rsp {
                self.cache(self.pages.resp, s.object, s.range())?;
            }
            if plan.wait_response_ms.is_some() {
                pr_warn!(
                    "{:?}: RSP_WAIT (asynchronous response) not supported\n",
                    self.target
                );
                return Err(EPROTO);
            }
            if let Some(s) = plan.send {
                if s.delay_us > 0 {
                    fsleep(Delta::from_micros(s.delay_us.min(MAX_DELAY_US) as i64));
                }
                let n = usize::try_from(s.req_len).map_err(|_| EPROTO)?;
                let buf = self.req.get_mut(..n).ok_or(EPROTO)?;
                self.rmi.mem().read(self.pages.req, buf)?;
                self.req.truncate(n);
                self.after = plan.next;
                return Ok(relay::Step::Doe {
                    object_type: s.protocol.doe_kind().object_type(),
                });
            }
            self.write_enter(CommEnter::none(self.pages.req, self.pages.resp))?;
            match plan.next {
                Next::Continue => {}
                Next::Done => return Ok(relay::Step::Done(Ended::Done)),
                Next::StreamWait => return Ok(relay::Step::Done(Ended::StreamWait)),
            }
        }
    }

    /// The step, aborting the operation if it failed.
    fn step_or_abort(&mut self) -> Result<relay::Step<Ended>> {
        self.step().inspect_err(|_| self.target.abort(self.rmi))
    }
}

impl relay::Port for Communicate<'_> {
    type Output = Ended;

    fn issue(&mut self) -> Result<relay::Step<Ended>> {
        self.write_enter(CommEnter::none(self.pages.req, self.pages.resp))?;
        self.step_or_abort()
    }

    fn request(&self) -> &[u8] {
        &self.req
    }

    fn resume(&mut self, response: Result<&[u8]>) -> Result<relay::Step<Ended>> {
        // The request buffer is the RMM's again, full size, for the next exit.
        self.req.resize(GRANULE_SIZE, 0, GFP_KERNEL)?;
        let (req, resp) = (self.pages.req, self.pages.resp);
        let enter = match response {
            Ok(p) if !p.is_empty() && p.len() <= GRANULE_SIZE => {
                match self.rmi.mem().write(resp, p) {
                    Ok(()) => CommEnter::response(req, resp, p.len() as u64),
                    Err(_) => CommEnter::error(req, resp),
                }
            }
            Ok(p) => {
                pr_warn!("{:?}: DOE response of {} bytes\n", self.target, p.len());
                CommEnter::error(req, resp)
            }
            Err(e) => {
                pr_warn!("{:?}: DOE exchange failed: {:?}\n", self.target, e);
                CommEnter::error(req, resp)
            }
        };
        if let Err(e) = self.write_enter(enter) {
            self.target.abort(self.rmi);
            return Err(e);
        }
        match self.after {
            Next::Continue => self.step_or_abort(),
            Next::Done => Ok(relay::Step::Done(Ended::Done)),
            Next::StreamWait => Ok(relay::Step::Done(Ended::StreamWait)),
        }
    }

    fn abort(&mut self, reason: Error) {
        pr_warn!("{:?}: communication abandoned: {:?}\n", self.target, reason);
        self.target.abort(self.rmi);
    }
}

// The buffers are single granules.
const _: () = assert!(G as usize == GRANULE_SIZE);
