// SPDX-License-Identifier: GPL-2.0

//! The communicate loop from the RMM's side: one PDEV_COMMUNICATE or VDEV_COMMUNICATE
//! takes the enter half the host wrote (RESPONSE with the device's answer in the
//! response buffer, ERROR, or NONE), feeds the answer to the engine op the object's
//! operation runs, and writes the exit half: REQ_SEND with the next request in the
//! request buffer (plain SPDM or secured SPDM), RSP_CACHE with a slice of a device
//! object to cache, or no flag once the operation finished.
//!
//! The engine ops are the software firmware's requester, unchanged: `ConnectOp` (VCA,
//! certificate chain; after SET_PUBKEY CHALLENGE, MEASUREMENTS and the session; IDE-KM
//! for a stream), `DisconnectOp` (K_SET_STOP for a stream disconnect, END_SESSION for
//! PDEV_STOP), `TdispOp` (LOCK, START, the report, STOP) and `MeasOp` (signed
//! GET_MEASUREMENTS in the session).
//!
//! Caching. The engine ops keep what the host must cache (the VCA transcript, the
//! certificate chain, the interface report portions, the MEASUREMENTS response); after
//! each response the model takes what they added and hands it to the host one slice at
//! a time: it writes the slice at the start of the response buffer (whose content it
//! has consumed) and sets RSP_CACHE with offset 0, as TF-RMM writes the plaintext of a
//! secured response into the NS buffers before asking the host to cache it. The host
//! caches before it sends, so a slice and the next request share an exit. REQ_CACHE is
//! never set: each VCA slice holds a request and its response, in transcript order.
//!
//! | object | id | what the model caches |
//! |---|---|---|
//! | VCA | 0 | GET_VERSION .. ALGORITHMS, each request then its response |
//! | CERTIFICATE | 1 | the certificate chain (SPDM chain format), portion by portion |
//! | MEASUREMENTS | 2 | the whole SPDM MEASUREMENTS response (plaintext), once verified |
//! | INTERFACE_REPORT | 3 | the TDISP report portions, in order |
//!
//! Unconfirmed: what TF-RMM caches as object 2 (the whole MEASUREMENTS message or only
//! its measurement record); the model caches the whole message, header to signature,
//! so that whoever reads the cache can check the signature.
//!
//! Ending. As TF-RMM, every operation ends with one exit whose flags are all zero (or
//! STREAM_WAIT, for a stream operation's end that waits for its peer); that is the
//! call on which the object's transition applies.

use std::collections::VecDeque;

use log::warn;
use tsm_proto::codec::Writer;
use tsm_proto::rmi::comm::{EXIT_OFFSET, HALF_LEN};
use tsm_proto::rmi::{Abi, CacheObject, CommEnter, CommExit, CommStatus, ExitFlags, Protocol};
use tsm_proto::rmi::{OrderError, Status, GRANULE_SIZE};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::super::meas_op::MeasOp;
use super::super::session::{pad, response_abandoned};
use super::super::tdisp_op::TdispOp;
use super::super::{Device, FwConfig, FwError, Next};
use super::memory::FwMemory;

/// The engine op an operation runs.
pub(super) enum Engine {
    /// No device traffic (a root port's operations, VDEV create, an unlock with
    /// nothing to stop).
    Quiet,
    /// SPDM connection steps or IDE-KM key programming.
    Connect(Box<ConnectOp>),
    /// K_SET_STOP or END_SESSION.
    Disconnect(DisconnectOp),
    /// A TDISP operation.
    Tdisp(Box<TdispOp>),
    /// Signed GET_MEASUREMENTS in the session.
    Measurements(MeasOp),
}

/// What one COMMUNICATE achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// The exit asks for more calls.
    More,
    /// The operation's last exit was written.
    Finished,
    /// The operation failed (the exit has no flags).
    Failed,
}

/// The buffers of one COMMUNICATE.
pub(super) struct Buffers {
    /// The communication page.
    pub(super) comm: u64,
    /// The enter half the host wrote.
    pub(super) enter: CommEnter,
    /// The response bytes (with status RESPONSE).
    pub(super) response: Option<Vec<u8>>,
}

/// A device operation in progress: the engine op and where the exchange stands.
pub(super) struct Conversation {
    engine: Engine,
    /// The last exit sent a request; the next enter must carry its answer.
    awaiting: bool,
    /// That request was a secured SPDM record.
    secured: bool,
    /// The engine op is done; what is left is caching and the final exit.
    done: bool,
    /// The hang knob fired: no further request, no end (exits ask only MULTI).
    hung: bool,
    cache: VecDeque<(CacheObject, Vec<u8>)>,
    seen_vca: usize,
    seen_chain: usize,
    seen_portions: usize,
    seen_measurements: usize,
}

impl Conversation {
    /// A conversation running `engine`; what the engine already holds is not cached
    /// again.
    pub(super) fn new(engine: Engine) -> Self {
        let mut c = Self {
            engine,
            awaiting: false,
            secured: false,
            done: false,
            hung: false,
            cache: VecDeque::new(),
            seen_vca: 0,
            seen_chain: 0,
            seen_portions: 0,
            seen_measurements: 0,
        };
        c.collect_cache();
        c.cache.clear();
        c
    }

    /// A conversation with no device traffic.
    pub(super) fn quiet() -> Self {
        Self::new(Engine::Quiet)
    }

    /// Whether a request is out and its answer due.
    pub(super) fn awaiting(&self) -> bool {
        self.awaiting
    }

    /// Ends the conversation unfinished (ABORT): if a secured request is out, its
    /// response will never be opened, and the session must expect that the device may
    /// have sent it.
    ///
    /// Unconfirmed: how TF-RMM (libspdm) keeps a session usable after the host
    /// abandoned an exchange; the model accepts the next response at either sequence
    /// number, so a later operation (UNLOCK's STOP, PDEV_STOP's END_SESSION) can still
    /// reach the device.
    pub(super) fn abandon(self, dev: &mut Device) {
        if self.awaiting && self.secured {
            response_abandoned(dev);
        }
    }

    /// From now on the operation never finishes (the hang knob).
    pub(super) fn hang(&mut self) {
        self.hung = true;
    }

    /// The connect op, if it is paused for the device key (taken out).
    pub(super) fn take_paused_connect(&mut self) -> Option<Box<ConnectOp>> {
        match std::mem::replace(&mut self.engine, Engine::Quiet) {
            Engine::Connect(op) if op.waits_for_key() => Some(op),
            other => {
                self.engine = other;
                None
            }
        }
    }

    /// The rule for the enter status, checked before anything changes: the answer to
    /// the request sent (RESPONSE or ERROR), or NONE when nothing was sent.
    ///
    /// Unconfirmed: the statuses. TF-RMM answers a status other than NONE before the
    /// first request with ERROR_DEVICE (`CommEnter::check`); the model uses the same
    /// for any status other than NONE when no request is out, and ERROR_INPUT for NONE
    /// when one is.
    pub(super) fn check_enter(&self, enter: &CommEnter) -> Result<(), OrderError> {
        match (self.awaiting, enter.status) {
            (true, CommStatus::None) => Err(OrderError::new(
                Status::ErrorInput,
                "no answer to the request sent",
            )),
            (false, CommStatus::Response | CommStatus::Error) => {
                Err(OrderError::device("an answer with no request out"))
            }
            _ => Ok(()),
        }
    }

    /// One COMMUNICATE: feeds the answer in `buf`, writes the next exit (`finish` is
    /// the flags of the operation's last exit), and says how far it got.
    pub(super) fn step(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        buf: &Buffers,
        timeout_ms: u64,
        finish: u64,
        mem: &mut dyn FwMemory,
    ) -> Progress {
        let secured_out = self.awaiting && self.secured;
        match self.advance(dev, cfg, buf, timeout_ms, finish, mem) {
            Ok(p) => p,
            Err(e) => {
                warn!("rmm: device operation failed: {e}");
                if secured_out && buf.enter.status != CommStatus::Response {
                    // The host's DOE failed: the device may have answered anyway.
                    response_abandoned(dev);
                }
                // The exit must still tell the host to stop.
                let _ = write_exit(mem, buf.comm, &exit(0));
                Progress::Failed
            }
        }
    }

    fn advance(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        buf: &Buffers,
        timeout_ms: u64,
        finish: u64,
        mem: &mut dyn FwMemory,
    ) -> Result<Progress, FwError> {
        if self.awaiting {
            self.awaiting = false;
            match (buf.enter.status, &buf.response) {
                (CommStatus::Response, Some(r)) => self.feed(dev, cfg, r)?,
                (CommStatus::Error, _) => return Err(FwError::State("the host's DOE failed")),
                _ => return Err(FwError::State("no answer to the request")),
            }
            self.collect_cache();
        }
        let mem_err = |_| FwError::State("the host's buffer cannot be written");
        if self.hung {
            write_exit(mem, buf.comm, &exit(ExitFlags::MULTI)).map_err(mem_err)?;
            return Ok(Progress::More);
        }
        let mut e = exit(0);
        if let Some((object, slice)) = self.cache.pop_front() {
            mem.write(buf.enter.resp_addr, &slice).map_err(mem_err)?;
            e.flags = ExitFlags::from_bits(e.flags.bits() | ExitFlags::RSP_CACHE);
            e.cache_rsp_len = slice.len() as u64;
            e.cache_obj_id = object.to_u8();
        }
        if self.cache.is_empty() && !self.done {
            let (protocol, m) = match self.request(dev)? {
                Next::Plain(m) => (Protocol::Spdm, pad(m)),
                Next::Secured(m) => (Protocol::SecureSpdm, pad(m)),
                Next::Done(_) => {
                    self.done = true;
                    (Protocol::Spdm, Vec::new())
                }
            };
            if !self.done {
                if m.len() > GRANULE_SIZE {
                    return Err(FwError::Oversized(m.len()));
                }
                mem.write(buf.enter.req_addr, &m).map_err(mem_err)?;
                e.flags = ExitFlags::from_bits(e.flags.bits() | ExitFlags::REQ_SEND);
                e.protocol = protocol.to_u8();
                e.req_len = m.len() as u64;
                e.timeout_ms = timeout_ms;
                self.awaiting = true;
                self.secured = protocol == Protocol::SecureSpdm;
            }
        }
        let progress = if e.flags.bits() == 0 && self.done {
            e.flags = ExitFlags::from_bits(finish);
            Progress::Finished
        } else {
            Progress::More
        };
        write_exit(mem, buf.comm, &e).map_err(mem_err)?;
        Ok(progress)
    }

    fn feed(&mut self, dev: &mut Device, cfg: &FwConfig, r: &[u8]) -> Result<(), FwError> {
        match &mut self.engine {
            Engine::Quiet => Err(FwError::State("a response with no request")),
            Engine::Connect(op) => op.response(dev, cfg, r),
            Engine::Disconnect(op) => op.response(dev, r),
            Engine::Tdisp(op) => op.response(dev, cfg, r),
            Engine::Measurements(op) => op.response(dev, r),
        }
    }

    fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
        match &mut self.engine {
            Engine::Quiet => Ok(Next::Done(Vec::new())),
            Engine::Connect(op) => op.request(dev),
            Engine::Disconnect(op) => op.request(dev),
            Engine::Tdisp(op) => op.request(dev),
            Engine::Measurements(op) => op.request(dev),
        }
    }

    /// Queues what the engine op added to a cached object since the last look, in
    /// slices of at most a granule.
    fn collect_cache(&mut self) {
        let mut add = |object, bytes: &[u8]| {
            for slice in bytes.chunks(GRANULE_SIZE) {
                self.cache.push_back((object, slice.to_vec()));
            }
        };
        match &self.engine {
            Engine::Connect(op) => {
                if let Some(new) = op.vca().get(self.seen_vca..) {
                    add(CacheObject::Vca, new);
                }
                if let Some(new) = op.chain().get(self.seen_chain..) {
                    add(CacheObject::Certificate, new);
                }
                self.seen_vca = op.vca().len();
                self.seen_chain = op.chain().len();
            }
            Engine::Tdisp(op) => {
                for p in op.report_portions().skip(self.seen_portions) {
                    add(CacheObject::InterfaceReport, p);
                    self.seen_portions += 1;
                }
            }
            Engine::Measurements(op) => {
                if let Some(new) = op.measurements().get(self.seen_measurements..) {
                    add(CacheObject::Measurements, new);
                }
                self.seen_measurements = op.measurements().len();
            }
            Engine::Quiet | Engine::Disconnect(_) => {}
        }
    }
}

/// An exit with `flags` and nothing else.
pub(super) fn exit(flags: u64) -> CommExit {
    CommExit {
        flags: ExitFlags::from_bits(flags),
        cache_req_offset: 0,
        cache_req_len: 0,
        cache_rsp_offset: 0,
        cache_rsp_len: 0,
        cache_obj_id: 0,
        protocol: 0,
        req_delay_us: 0,
        req_len: 0,
        timeout_ms: 0,
    }
}

/// Writes the exit half of the communication page at `comm`.
pub(super) fn write_exit(
    mem: &mut dyn FwMemory,
    comm: u64,
    e: &CommExit,
) -> Result<(), super::memory::MemFault> {
    let mut half = [0u8; HALF_LEN];
    // The exit of ABI 2.0 always encodes (every flag is a 2.0 flag).
    if e.encode(Abi::V2_0, &mut Writer::new(&mut half)).is_err() {
        return Err(super::memory::MemFault { pa: comm });
    }
    mem.write(comm + EXIT_OFFSET as u64, &half)
}

/// Reads the buffers of a COMMUNICATE on an object whose comm state is `state`: the
/// communication page and both buffers must be aligned NS pages the conduit reaches,
/// and the enter half must pass the RMM's checks ([`CommEnter::check`]).
pub(super) fn read_buffers(
    granules: &super::granule::Granules,
    mem: &mut dyn FwMemory,
    comm: u64,
    state: tsm_proto::rmi::CommState,
) -> Result<Buffers, OrderError> {
    let fault = |_| OrderError::new(Status::ErrorInput, "buffer not reachable");
    granules.require_ns(comm)?;
    let mut half = [0u8; HALF_LEN];
    mem.read(comm, &mut half).map_err(fault)?;
    let enter = CommEnter::decode(&half)?;
    enter.check(state)?;
    granules.require_ns(enter.req_addr)?;
    granules.require_ns(enter.resp_addr)?;
    mem.read(enter.req_addr, &mut [0u8; 1]).map_err(fault)?;
    let response = match enter.status {
        CommStatus::Response => {
            // `check` bounds resp_len by the granule.
            let mut r = vec![0u8; enter.resp_len as usize];
            mem.read(enter.resp_addr, &mut r).map_err(fault)?;
            Some(r)
        }
        _ => {
            mem.read(enter.resp_addr, &mut [0u8; 1]).map_err(fault)?;
            None
        }
    };
    Ok(Buffers {
        comm,
        enter,
        response,
    })
}
