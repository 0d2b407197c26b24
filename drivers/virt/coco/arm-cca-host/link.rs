// SPDX-License-Identifier: GPL-2.0

//! Connect and disconnect: the root port's and the endpoint's PDEVs, the endpoint's
//! public key, the IDE stream between them.
//!
//! Connect, as the Linux CCA host series does it (`cca_tsm_connect`):
//!
//! 1. the root port's PDEV: PDEV_CREATE on a delegated granule, communicate to READY;
//! 2. the endpoint's PDEV: PDEV_CREATE, with the auxiliary granules the RMM asks for
//!    (INCOMPLETE + DONATE, RMI_OP_MEM_DONATE until it asks for none, then
//!    RMI_OP_CONTINUE to SUCCESS; a creation that fails is cancelled with RMI_OP_CANCEL,
//!    tried twice, which gives the granules back), communicate to NEEDS_KEY
//!    (the RMM runs GET_VERSION .. GET_CERTIFICATE and has the host cache the
//!    certificate chain);
//! 3. the leaf certificate's public key (`tsm_proto::x509`) set with PDEV_SET_PUBKEY,
//!    communicate to READY (the RMM's SPDM session with the device);
//! 4. the IDE stream: PDEV_STREAM_CONNECT, then the dance TF-RMM and Linux agree on
//!    (communicate root port → STREAM_WAIT, endpoint → STREAM_WAIT, root port, endpoint
//!    to the end; IDE-KM runs in the endpoint's part), PDEV_STREAM_COMPLETE.
//!
//! Emulated here, as in the emulated backend: the host side of IDE stream setup. QEMU
//! devices have no IDE registers, so the host programs none (a real host sets the
//! endpoint's registers up and the RMM the root port's); the stream is IDE stream 0.
//!
//! Teardown ([`Conn::teardown`]) runs from whatever a connect left or a disconnect
//! finds: the stream disconnected (the same dance, then COMPLETE; once more after
//! PDEV_ABORTs if that failed), each PDEV stopped (PDEV_STOP, communicate to STOPPED;
//! once more after PDEV_ABORT if that failed) and destroyed (tried twice; the endpoint's
//! auxiliary granules reclaimed with RMI_OP_MEM_RECLAIM, also tried twice), every granule
//! undelegated.
//! A granule the RMM does not give back is leaked, never reused by the kernel. (A step
//! that fails once is tried again because an RMI error changes nothing in the RMM: the
//! second try is the same call on the same state.)

use super::{
    comm::{
        CommPages,
        Communicate,
        Ended,
        Target, //
    },
    rmi::{
        Answer,
        Rmi, //
    },
};
use kernel::{
    pci::{self, tsm::relay},
    prelude::*,
};
use tsm_proto::rmi::{
    sro::ADDR_RANGE_DESC_LEN,
    AddrRangeDesc,
    BlockSize,
    CacheObject,
    Call,
    Category,
    DonateReq,
    HashAlgo,
    MemReq,
    MemState,
    Outcome,
    PdevFlags,
    PdevParams,
    PdevState,
    StreamParams,
    StreamType, //
};

/// The digest algorithm of the PDEVs: SHA-384, which the emulated device and the RMM
/// model both use.
///
/// Unconfirmed: how a host should choose it (the device's supported algorithms are
/// known only after the RMM negotiated them).
const HASH: HashAlgo = HashAlgo::Sha384;

/// Length of that digest (the root hash in an SPDM certificate chain's header).
const HASH_LEN: usize = 48;

/// Most auxiliary granules the host donates to one PDEV.
const MAX_DONATED: usize = 128;

/// The IDE stream ID the (emulated) host side allocates.
pub(crate) const IDE_STREAM_ID: u64 = 0;

/// How an operation's communication is bounded: teardown runs to its end whatever the
/// caller's signals (`relay::Limits::cancellable`).
pub(crate) fn limits(cancellable: bool) -> relay::Limits {
    relay::Limits {
        cancellable,
        ..relay::Limits::default()
    }
}

/// Communicates `target` until its operation ends; `keep` names the cached object the
/// caller wants back. A stream wait where none is expected is `EPROTO`.
pub(crate) fn communicate(
    rmi: &Rmi<'_>,
    transport: &dyn relay::Transport,
    pages: CommPages,
    target: Target,
    keep: Option<CacheObject>,
    cancellable: bool,
) -> Result<(Ended, KVec<u8>)> {
    let mut port = Communicate::new(rmi, pages, target, keep)?;
    let ended = relay::run(transport, &mut port, &limits(cancellable))?;
    Ok((ended, core::mem::take(&mut port.cached)))
}

/// PDEV_GET_STATE.
pub(crate) fn pdev_state(rmi: &Rmi<'_>, pdev: u64) -> Result<PdevState> {
    let a = rmi.call(Call::PdevGetState, &[pdev])?;
    PdevState::from_reg(a.regs[1]).map_err(|_| EPROTO)
}

/// What connect established, and what teardown must undo.
pub(crate) struct Conn {
    pub(crate) pages: CommPages,
    pub(crate) rp: Option<u64>,
    pub(crate) ep: Option<u64>,
    /// Auxiliary granules donated to the endpoint's PDEV.
    donated: KVec<u64>,
    /// A PDEV_CREATE whose donation is in progress (its operation handle).
    creating: Option<u64>,
    pub(crate) stream: Option<u64>,
    /// A stream operation ended but its STREAM_COMPLETE is due (true: a disconnect).
    complete_due: Option<bool>,
}

impl Conn {
    pub(crate) fn new(rmi: &Rmi<'_>) -> Result<Self> {
        Ok(Self {
            pages: CommPages::new(rmi.mem())?,
            rp: None,
            ep: None,
            donated: KVec::new(),
            creating: None,
            stream: None,
            complete_due: None,
        })
    }

    /// The endpoint's PDEV, once connected.
    pub(crate) fn ep(&self) -> Result<u64> {
        self.ep.ok_or(ENXIO)
    }

    /// Communicates a PDEV until its operation ends in `want` (`Ended::Done` and state
    /// `target`).
    fn drive(
        &self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pdev: u64,
        target: PdevState,
        keep: Option<CacheObject>,
        cancellable: bool,
    ) -> Result<KVec<u8>> {
        let (ended, cached) =
            communicate(rmi, t, self.pages, Target::Pdev(pdev), keep, cancellable)?;
        if ended != Ended::Done {
            pr_warn!("PDEV {:#x}: stream wait outside a stream operation\n", pdev);
            Target::Pdev(pdev).abort(rmi);
            return Err(EPROTO);
        }
        match pdev_state(rmi, pdev)? {
            s if s == target => Ok(cached),
            s => {
                pr_warn!(
                    "PDEV {:#x}: {:?} after its operation, not {:?}\n",
                    pdev,
                    s,
                    target
                );
                Err(EIO)
            }
        }
    }

    /// PDEV_CREATE with the donation loop of an endpoint; the PDEV's granule.
    fn create_pdev(&mut self, rmi: &Rmi<'_>, params: PdevParams) -> Result<u64> {
        let pdev = rmi.delegated()?;
        let r = self.create_on(rmi, pdev, params);
        if r.is_err() {
            if let Some(handle) = self.creating.take() {
                // Cancelled, the operation gives the donated granules back as they were.
                if rmi.call_twice(Call::OpCancel, &[handle]).is_err() {
                    pr_err!(
                        "PDEV {:#x}: PDEV_CREATE not cancelled; granules leaked\n",
                        pdev
                    );
                    self.leak(rmi, pdev, true);
                    return r.map(|()| pdev);
                }
            }
            let _ = rmi.undelegate(pdev);
            self.undelegate_donated(rmi);
        }
        r.map(|()| pdev)
    }

    fn create_on(&mut self, rmi: &Rmi<'_>, pdev: u64, params: PdevParams) -> Result {
        let pp = rmi.params(|w| params.encode(w))?;
        let mut a = rmi.call(Call::PdevCreate, &[pdev, pp.pa])?;
        drop(pp);
        let handle = a.regs[1];
        while let Outcome::Incomplete(i) = a.outcome {
            self.creating = Some(handle);
            a = match i.mem_req {
                MemReq::Donate => self.donate(rmi, handle, a.regs[2])?,
                MemReq::None => rmi.call(Call::OpContinue, &[handle, 0])?,
                MemReq::Reclaim => {
                    pr_warn!("PDEV_CREATE asked to reclaim memory\n");
                    return Err(EPROTO);
                }
            };
        }
        self.creating = None;
        Ok(())
    }

    /// One RMI_OP_MEM_DONATE of what `req` asks for (single granules, delegated).
    fn donate(&mut self, rmi: &Rmi<'_>, handle: u64, req: u64) -> Result<Answer> {
        let req = DonateReq::decode(req).map_err(|_| EPROTO)?;
        if req.block != BlockSize::L3Page || req.state != MemState::Delegated || req.contiguous {
            pr_warn!("donation request {:?} not supported\n", req);
            return Err(EOPNOTSUPP);
        }
        let count = usize::from(req.count);
        if count == 0 || self.donated.len() + count > MAX_DONATED {
            pr_warn!("donation of {} granules refused\n", count);
            return Err(ENOMEM);
        }
        let mut pool = KVec::with_capacity(count, GFP_KERNEL)?;
        let mut list = KVec::with_capacity(count * ADDR_RANGE_DESC_LEN, GFP_KERNEL)?;
        let r = (|| {
            for _ in 0..count {
                let pa = rmi.delegated()?;
                pool.push(pa, GFP_KERNEL)?;
                let d = AddrRangeDesc {
                    block: BlockSize::L3Page,
                    count: 1,
                    pa,
                    state: MemState::Delegated,
                };
                let e = d.encode().map_err(|_| EINVAL)?;
                list.extend_from_slice(&e.to_le_bytes(), GFP_KERNEL)?;
            }
            let lp = super::rmi::NsPage::new(rmi.mem())?;
            rmi.mem().write(lp.pa, &list)?;
            rmi.call(Call::OpMemDonate, &[handle, lp.pa, count as u64])
        })();
        // The RMM took the first X1 entries; the rest are still the host's.
        let taken = match &r {
            Ok(a) => (a.regs[1] as usize).min(pool.len()),
            Err(_) => 0,
        };
        for (i, pa) in pool.into_iter().enumerate() {
            if i < taken {
                self.donated.push(pa, GFP_KERNEL)?;
            } else {
                let _ = rmi.undelegate(pa);
            }
        }
        r
    }

    /// Gives up the granule `pdev` and those donated: the RMM keeps them.
    fn leak(&mut self, rmi: &Rmi<'_>, pdev: u64, ep: bool) {
        let _ = rmi.mem().leak(pdev);
        if !ep {
            return;
        }
        for pa in self.donated.drain_all() {
            let _ = rmi.mem().leak(pa);
        }
    }

    /// Undelegates the granules given back by a cancelled create or a reclaim.
    fn undelegate_donated(&mut self, rmi: &Rmi<'_>) {
        for pa in core::mem::take(&mut self.donated) {
            let _ = rmi.undelegate(pa);
        }
    }

    /// RMI_OP_MEM_RECLAIM until the destruction of `pdev` ends, undelegating every
    /// granule given back.
    fn reclaim(&mut self, rmi: &Rmi<'_>, handle: u64) -> Result {
        let list = super::rmi::NsPage::new(rmi.mem())?;
        let cap = (super::rmi::G as usize / ADDR_RANGE_DESC_LEN) as u64;
        for _ in 0..=MAX_DONATED {
            let a = rmi.call(Call::OpMemReclaim, &[handle, list.pa, cap])?;
            let n = (a.regs[1] as usize).min(cap as usize);
            let mut raw = KVec::from_elem(0u8, n * ADDR_RANGE_DESC_LEN, GFP_KERNEL)?;
            if n > 0 {
                rmi.mem().read(list.pa, &mut raw)?;
            }
            for e in raw.chunks_exact(ADDR_RANGE_DESC_LEN) {
                let mut b = [0u8; ADDR_RANGE_DESC_LEN];
                b.copy_from_slice(e);
                let d = AddrRangeDesc::decode(u64::from_le_bytes(b)).map_err(|_| EPROTO)?;
                if d.block != BlockSize::L3Page || d.count != 1 || d.state != MemState::Delegated {
                    pr_warn!("reclaimed {:?} not understood\n", d);
                    return Err(EPROTO);
                }
                if let Some(i) = self.donated.iter().position(|p| *p == d.pa) {
                    self.donated.remove(i).map_err(|_| EINVAL)?;
                    let _ = rmi.undelegate(d.pa);
                } else {
                    pr_warn!("reclaimed granule {:#x} was never donated\n", d.pa);
                }
            }
            match a.outcome {
                Outcome::Success => return Ok(()),
                Outcome::Incomplete(i) if i.mem_req == MemReq::Reclaim => {}
                _ => return Err(EPROTO),
            }
        }
        Err(ELOOP)
    }

    /// PDEV_DESTROY (tried twice; for an endpoint with its reclaim), then the PDEV's
    /// granule.
    fn destroy_pdev(&mut self, rmi: &Rmi<'_>, pdev: u64, ep: bool) -> Result {
        let a = rmi.call_twice(Call::PdevDestroy, &[pdev])?;
        if let Outcome::Incomplete(i) = a.outcome {
            if i.mem_req != MemReq::Reclaim {
                return Err(EPROTO);
            }
            // Tried twice too: a failed reclaim changes nothing, granules it gave
            // back before it failed are undelegated already.
            let handle = a.regs[1];
            if self.reclaim(rmi, handle).is_err() {
                self.reclaim(rmi, handle)?;
            }
        }
        if ep && !self.donated.is_empty() {
            pr_warn!(
                "PDEV {:#x}: {} donated granules not given back; leaked\n",
                pdev,
                self.donated.len()
            );
            for pa in self.donated.drain_all() {
                let _ = rmi.mem().leak(pa);
            }
        }
        rmi.undelegate(pdev)
    }

    /// STOP and communicate to STOPPED (once more after PDEV_ABORT), then DESTROY.
    fn stop_and_destroy(
        &mut self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        pdev: u64,
        ep: bool,
    ) -> Result {
        let mut tries = 0;
        while pdev_state(rmi, pdev)? != PdevState::Stopped {
            tries += 1;
            let r = rmi
                .call(Call::PdevStop, &[pdev])
                .and_then(|_| self.drive(rmi, t, pdev, PdevState::Stopped, None, false));
            if let Err(e) = r {
                if tries > 1 {
                    return Err(e);
                }
                Target::Pdev(pdev).abort(rmi);
            }
        }
        self.destroy_pdev(rmi, pdev, ep)
    }

    /// The stream dance of one stream operation, then PDEV_STREAM_COMPLETE.
    fn stream_dance(
        &mut self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        disconnect: bool,
        cancellable: bool,
    ) -> Result {
        let (ep, rp, handle) = match (self.ep, self.rp, self.stream) {
            (Some(e), Some(r), Some(h)) => (e, r, h),
            _ => return Err(EINVAL),
        };
        for (pdev, want) in [
            (rp, Ended::StreamWait),
            (ep, Ended::StreamWait),
            (rp, Ended::Done),
            (ep, Ended::Done),
        ] {
            let (got, _) = communicate(rmi, t, self.pages, Target::Pdev(pdev), None, cancellable)?;
            if got != want {
                pr_warn!(
                    "stream: PDEV {:#x} ended {:?}, wanted {:?}\n",
                    pdev,
                    got,
                    want
                );
                Target::Pdev(pdev).abort(rmi);
                return Err(EPROTO);
            }
        }
        self.complete_due = Some(disconnect);
        self.stream_complete(rmi, ep, rp, handle)
    }

    fn stream_complete(&mut self, rmi: &Rmi<'_>, ep: u64, rp: u64, handle: u64) -> Result {
        rmi.call(Call::PdevStreamComplete, &[ep, rp, handle])?;
        if self.complete_due.take() == Some(true) {
            self.stream = None;
        }
        Ok(())
    }

    /// Connect (see the module documentation); on failure the caller tears down.
    pub(crate) fn connect(
        &mut self,
        rmi: &Rmi<'_>,
        t: &dyn relay::Transport,
        ep_dev: &pci::Device,
    ) -> Result {
        let a = pci::Address::of(ep_dev);
        if a.segment != 0 {
            // PDEV_CREATE's pdev_id is a BDF; nothing says how a segment is named.
            return Err(EOPNOTSUPP);
        }
        let bdf = u32::from(a.bus) << 8 | u32::from(a.devfn);
        let ep_params = PdevParams {
            flags: PdevFlags::new(Category::OffChipEndpoint, true),
            // Unconfirmed: the host bridge's ECAM base, which TF-RMM checks through EL3;
            // the kernel does not know it in this form, and the model does not check it.
            hb_base: 0,
            pdev_id: u64::from(bdf),
            routing_id: 0,
            id_index: 0,
            rid_base: bdf,
            // The function's own RID only: VDEVs of this PDEV are its functions, and
            // only function 0 DSMs are supported.
            rid_top: bdf + 1,
            hash_algo: HASH,
        };
        let rp_params = PdevParams {
            flags: PdevFlags::new(Category::RootPort, false),
            pdev_id: root_port_id(ep_dev),
            ..ep_params
        };
        let rp = self.create_pdev(rmi, rp_params)?;
        self.rp = Some(rp);
        self.drive(rmi, t, rp, PdevState::Ready, None, true)?;

        let ep = self.create_pdev(rmi, ep_params)?;
        self.ep = Some(ep);
        let chain = self.drive(
            rmi,
            t,
            ep,
            PdevState::NeedsKey,
            Some(CacheObject::Certificate),
            true,
        )?;
        let key = tsm_proto::x509::leaf_public_key(&chain, HASH_LEN).map_err(|e| {
            pr_warn!("the device's certificate chain: {:?}\n", e);
            EPROTO
        })?;
        let kp = rmi.params(|w| key.pubkey_params().encode(w))?;
        rmi.call(Call::PdevSetPubkey, &[ep, kp.pa])?;
        drop(kp);
        self.drive(rmi, t, ep, PdevState::Ready, None, true)?;

        let sp =
            rmi.params(|w| StreamParams::new(StreamType::Ncoh, ep, rp, IDE_STREAM_ID).encode(w))?;
        let a = rmi.call(Call::PdevStreamConnect, &[sp.pa])?;
        drop(sp);
        self.stream = Some(a.regs[1]);
        // IDE-KM runs in the established session, so the relay loop honours no signal
        // once it asked for its first message (a sealed message cannot be withdrawn;
        // see `tdi`).
        self.stream_dance(rmi, t, false, true)
    }

    /// Tears down whatever exists, from any state a connect left; not interrupted by
    /// signals. The connection is gone afterwards, whatever the RMM said. `Err` if something could not be undone (the
    /// first error; the rest was still tried).
    pub(crate) fn teardown(&mut self, rmi: &Rmi<'_>, t: &dyn relay::Transport) -> Result {
        let mut first: Result = Ok(());
        let mut note = |r: Result| {
            if let Err(e) = r {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        };
        if let (Some(ep), Some(rp), Some(h)) = (self.ep, self.rp, self.stream) {
            if self.complete_due.is_some() {
                note(self.stream_complete(rmi, ep, rp, h));
            }
        }
        if let (Some(ep), Some(rp), Some(h)) = (self.ep, self.rp, self.stream) {
            // A connect stopped half-way, or a connected stream: disconnect it (twice,
            // if the first try fails).
            let mut r = Ok(());
            for _ in 0..2 {
                for p in [ep, rp] {
                    Target::Pdev(p).abort(rmi);
                }
                r = rmi
                    .call(Call::PdevStreamDisconnect, &[ep, rp, h])
                    .and_then(|_| self.stream_dance(rmi, t, true, false));
                if r.is_ok() {
                    break;
                }
            }
            note(r);
        }
        for (pdev, ep) in [(self.rp.take(), false), (self.ep.take(), true)] {
            let Some(p) = pdev else { continue };
            Target::Pdev(p).abort(rmi);
            let r = self.stop_and_destroy(rmi, t, p, ep);
            if r.is_err() {
                // The RMM keeps the PDEV: its granule, and those donated to it, stay
                // delegated and are never the kernel's again.
                pr_err!("PDEV {:#x} not destroyed; its granules are leaked\n", p);
                self.leak(rmi, p, ep);
            }
            note(r);
        }
        self.pages.free(rmi.mem());
        first
    }
}

/// The ID of `pdev`'s root port for its PDEV: the root port's RID (0 if there is none).
///
/// Unconfirmed: what TF-RMM validates it against (through EL3); the model does not.
fn root_port_id(pdev: &pci::Device) -> u64 {
    pci::Address::root_port_of(pdev).map_or(0, |a| u64::from(a.rid()))
}
