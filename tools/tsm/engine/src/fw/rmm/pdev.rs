// SPDX-License-Identifier: GPL-2.0

//! PDEV calls: CREATE, GET_STATE, COMMUNICATE, SET_PUBKEY, STOP, ABORT, DESTROY.
//!
//! Each PDEV keeps the `tsm_proto` state machine ([`Pdev`]), its parameters, the
//! software firmware's per-device record (`Device`: negotiated SPDM state, the session,
//! the IDE stream, the TDIs of its VDEVs) and the conversation of the operation in
//! progress. The operations and their engine ops:
//!
//! | operation | endpoint | root port |
//! |---|---|---|
//! | Init (after CREATE) | VCA, digests, certificate chain (cached), then the op pauses for the key | nothing |
//! | Key (after SET_PUBKEY) | CHALLENGE, MEASUREMENTS, KEY_EXCHANGE, FINISH: the session | – |
//! | Stop (after STOP) | END_SESSION, if there is a session | nothing |
//!
//! The model's engine speaks SPDM with P-384 only, so SET_PUBKEY takes only an
//! ECDSA-P384 key (97-byte uncompressed point); another valid algorithm is
//! RMI_NOT_SUPPORTED (a limit of the model, not of the ABI).

use std::collections::BTreeMap;

use log::info;
use p384::ecdsa::VerifyingKey;
use tsm_proto::rmi::{
    CommOutcome, DonateReq, Incomplete, MemReq, OrderError, Outcome, Pdev, PdevCall, PdevOp,
    PdevParams, PdevState, PubkeyParams, SignatureAlgo, Status,
};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::super::Device;
use super::comm::{self, exit, Conversation, Engine, Progress};
use super::granule::GranuleState;
use super::sro::{Sro, SroKind};
use super::{input, Reply, Ret, Rmm};
use crate::fw::rmm::memory::FwMemory;

/// The model's record of one PDEV.
pub(super) struct PdevRec {
    /// The RMI state machine.
    pub(super) core: Pdev,
    /// The creation parameters.
    pub(super) params: PdevParams,
    /// The requester's record of the device.
    pub(super) dev: Device,
    /// The device operation in progress.
    pub(super) conv: Option<Conversation>,
    /// The connection paused after the certificate chain, until SET_PUBKEY.
    pub(super) paused: Option<Box<ConnectOp>>,
    /// Auxiliary granules donated at creation.
    pub(super) aux: Vec<u64>,
    /// The NCOH stream of which this PDEV is the endpoint.
    pub(super) stream: Option<u64>,
    /// The stream whose operation this PDEV is carrying (either end).
    pub(super) stream_op: Option<u64>,
    /// The hang knob fired: the operation in progress never finishes.
    pub(super) hung: bool,
}

impl PdevRec {
    /// A PDEV just created: NEW with its Init operation pending.
    pub(super) fn new(params: PdevParams, category: tsm_proto::rmi::Category) -> Self {
        let engine = if category.is_endpoint() {
            Engine::Connect(Box::new(ConnectOp::certificates()))
        } else {
            Engine::Quiet
        };
        Self {
            core: Pdev::create(category),
            params,
            dev: Device {
                spdm: None,
                stream_id: 0,
                ide_active: false,
                tdis: BTreeMap::new(),
            },
            conv: Some(Conversation::new(engine)),
            paused: None,
            aux: Vec::new(),
            stream: None,
            stream_op: None,
            hung: false,
        }
    }
}

impl Rmm {
    fn pdev(&self, pa: u64) -> Result<&PdevRec, OrderError> {
        self.pdevs.get(&pa).ok_or(input("not a PDEV"))
    }

    /// PDEV_CREATE: `pdev` a DELEGATED granule, `params` an NS page of
    /// [`PdevParams`] that passes [`PdevParams::check`]. A root port is created at
    /// once; an endpoint's creation is a stateful operation that first asks for its
    /// auxiliary granules (INCOMPLETE + DONATE, X1 the handle, X2 the request).
    pub(super) fn pdev_create(
        &mut self,
        pdev: u64,
        params: u64,
        mem: &mut dyn FwMemory,
        donate: Option<u16>,
    ) -> Reply {
        self.granules.require_delegated(pdev)?;
        let page = self.ns_page(mem, params)?;
        let params = PdevParams::decode(&page)?;
        let category = params.check(self.cfg.max_vdevs_order)?;
        let wanted = match category.uses_sro() {
            true => donate.unwrap_or(self.cfg.aux_granules),
            false => 0,
        };
        let req = DonateReq {
            block: tsm_proto::rmi::BlockSize::L3Page,
            count: wanted,
            contiguous: false,
            state: tsm_proto::rmi::MemState::Delegated,
        }
        .encode()?;
        self.granules.claim(pdev, GranuleState::Pdev)?;
        let rec = PdevRec::new(params, category);
        info!("rmm: PDEV {pdev:#x} {category:?} id {:#x}", params.pdev_id);
        if wanted == 0 {
            self.pdevs.insert(pdev, rec);
            return Ok(Ret::ok());
        }
        let handle = self.new_handle();
        self.sros.insert(
            handle,
            Sro {
                kind: SroKind::Create {
                    pdev,
                    rec: Box::new(rec),
                    wanted,
                    one_at_a_time: donate.is_some(),
                },
                next: MemReq::Donate,
                can_cancel: true,
            },
        );
        Ok(Ret::with(
            Outcome::Incomplete(Incomplete {
                mem_req: MemReq::Donate,
                can_cancel: true,
            }),
            [handle, req, 0],
        ))
    }

    /// PDEV_GET_STATE: X1 = the state.
    pub(super) fn pdev_get_state(&self, pdev: u64) -> Reply {
        Ok(Ret::ok1(u64::from(self.pdev(pdev)?.core.state.to_u8())))
    }

    /// PDEV_COMMUNICATE: one step of the PDEV's operation (see `comm`); a stream
    /// operation goes through the dance of `stream`.
    pub(super) fn pdev_communicate(
        &mut self,
        pdev: u64,
        comm_pa: u64,
        mem: &mut dyn FwMemory,
        hang: bool,
    ) -> Reply {
        let rec = self.pdev(pdev)?;
        // The state machine's refusal (no operation) comes before any buffer is read.
        rec.core.comm.communicate(CommOutcome::InProgress)?;
        if self.vdev_active(pdev) {
            return Err(super::busy("a VDEV of the PDEV is communicating"));
        }
        let buf = comm::read_buffers(&self.granules, mem, comm_pa, rec.core.comm)?;
        if let Some(PdevOp::Stream(_)) = rec.core.op {
            return self.stream_communicate(pdev, &buf, mem, hang);
        }
        let timeout = self.cfg.timeout_ms;
        let rec = self.pdevs.get_mut(&pdev).ok_or(input("not a PDEV"))?;
        let conv = rec.conv.get_or_insert_with(Conversation::quiet);
        conv.check_enter(&buf.enter)?;
        if hang {
            rec.hung = true;
            conv.hang();
        }
        let progress = conv.step(&mut rec.dev, &self.engine_cfg, &buf, timeout, 0, mem);
        let outcome = match progress {
            Progress::More => CommOutcome::InProgress,
            Progress::Finished => {
                rec.paused = conv.take_paused_connect();
                rec.conv = None;
                CommOutcome::Idle
            }
            Progress::Failed => {
                rec.conv = None;
                rec.paused = None;
                // A failed Stop forgets the session: the model asked the device to end
                // it, and a device that did answers any further secured message with an
                // error, so a second STOP (after ABORT) must not try END_SESSION again.
                // Unconfirmed: what TF-RMM keeps of a session whose END_SESSION failed.
                if rec.core.op == Some(PdevOp::Stop) {
                    if let Some(s) = rec.dev.spdm.as_mut() {
                        s.session = None;
                    }
                }
                CommOutcome::Failed
            }
        };
        rec.core = rec
            .core
            .on(tsm_proto::rmi::PdevCall::Communicate(outcome))?;
        if rec.core.state == PdevState::Stopped {
            rec.dev.spdm = None;
            rec.dev.ide_active = false;
        }
        Ok(Ret::ok())
    }

    /// PDEV_SET_PUBKEY: the leaf key of the chain the host cached, in an NS page of
    /// [`PubkeyParams`]; the PDEV must be NEEDS_KEY with its connection paused.
    pub(super) fn pdev_set_pubkey(
        &mut self,
        pdev: u64,
        params: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        self.pdev(pdev)?;
        let page = self.ns_page(mem, params)?;
        let key = PubkeyParams::decode(&page)?;
        key.check()?;
        if key.algo != SignatureAlgo::EcdsaP384 {
            return Err(OrderError::new(
                Status::NotSupported,
                "the model verifies ECDSA-P384 only",
            ));
        }
        let vk = VerifyingKey::from_sec1_bytes(key.key)
            .map_err(|_| input("the key is not a P-384 point"))?;
        let rec = self.pdevs.get_mut(&pdev).ok_or(input("not a PDEV"))?;
        let next = rec.core.on(PdevCall::SetPubkey)?;
        let mut op = rec
            .paused
            .take()
            .ok_or(OrderError::device("no connection waits for a key"))?;
        if let Err(e) = op.resume_with_key(vk) {
            rec.paused = Some(op);
            log::warn!("rmm: {e}");
            return Err(OrderError::device("no connection waits for a key"));
        }
        rec.core = next;
        rec.conv = Some(Conversation::new(Engine::Connect(op)));
        Ok(Ret::ok())
    }

    /// PDEV_STOP: starts Stop (END_SESSION on an endpoint with a session).
    pub(super) fn pdev_stop(&mut self, pdev: u64) -> Reply {
        self.pdev(pdev)?;
        if self.vdev_active(pdev) {
            return Err(super::busy("a VDEV of the PDEV is communicating"));
        }
        let rec = self.pdevs.get_mut(&pdev).ok_or(input("not a PDEV"))?;
        let next = rec.core.on(PdevCall::Stop)?;
        let session = rec.dev.spdm.as_ref().is_some_and(|s| s.session.is_some());
        let engine = match session {
            true => Engine::Disconnect(DisconnectOp {
                i: 6,
                ide: false,
                session: true,
            }),
            false => Engine::Quiet,
        };
        rec.core = next;
        rec.paused = None;
        rec.conv = Some(Conversation::new(engine));
        Ok(Ret::ok())
    }

    /// PDEV_ABORT: ends the operation in progress (comm back to idle, the RMI state
    /// kept, the engine op dropped).
    pub(super) fn pdev_abort(&mut self, pdev: u64) -> Reply {
        let rec = self.pdevs.get_mut(&pdev).ok_or(input("not a PDEV"))?;
        rec.core = rec.core.on(PdevCall::Abort)?;
        if let Some(c) = rec.conv.take() {
            c.abandon(&mut rec.dev);
        }
        rec.hung = false;
        Ok(Ret::ok())
    }

    /// PDEV_DESTROY: a STOPPED PDEV goes. A root port's granule is DELEGATED at once;
    /// an endpoint's destruction is a stateful operation that returns its auxiliary
    /// granules (INCOMPLETE + RECLAIM, X1 the handle), its granule DELEGATED at the
    /// end.
    pub(super) fn pdev_destroy(&mut self, pdev: u64) -> Reply {
        self.pdev(pdev)?.core.destroy()?;
        let Some(rec) = self.pdevs.remove(&pdev) else {
            return Err(input("not a PDEV"));
        };
        info!("rmm: PDEV {pdev:#x} destroyed");
        if rec.aux.is_empty() {
            self.granules.release(pdev);
            return Ok(Ret::ok());
        }
        let handle = self.new_handle();
        self.sros.insert(
            handle,
            Sro {
                kind: SroKind::Destroy { pdev, aux: rec.aux },
                next: MemReq::Reclaim,
                can_cancel: false,
            },
        );
        Ok(Ret::with(
            Outcome::Incomplete(Incomplete {
                mem_req: MemReq::Reclaim,
                can_cancel: false,
            }),
            [handle, 0, 0],
        ))
    }

    /// Writes an exit with only `flags` for a step with no engine op, after checking
    /// that the host sent no answer (nothing was asked).
    pub(super) fn quiet_exit(
        buf: &comm::Buffers,
        flags: u64,
        mem: &mut dyn FwMemory,
    ) -> Result<(), OrderError> {
        Conversation::quiet().check_enter(&buf.enter)?;
        comm::write_exit(mem, buf.comm, &exit(flags))
            .map_err(|_| input("communication page not writable"))
    }
}
