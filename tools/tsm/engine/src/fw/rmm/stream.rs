// SPDX-License-Identifier: GPL-2.0

//! IDE streams: PDEV_STREAM_CONNECT, _DISCONNECT, _KEY_REFRESH, _KEY_PURGE and
//! _COMPLETE, with the communicate dance between the two PDEVs.
//!
//! The rules are `tsm_proto`'s [`Stream`] machine. Between the stream call and
//! STREAM_COMPLETE the host communicates the two ends in the order of
//! [`HOST_ORDER`]: root port to STREAM_WAIT, endpoint to STREAM_WAIT, root port to
//! idle, endpoint to idle. The model keeps the stream's place in that order; an end
//! communicated out of turn answers STREAM_WAIT and does nothing, so a host that
//! alternates until both are idle also works. The endpoint's turn carries the device
//! traffic: IDE-KM KEY_PROG and K_SET_GO of the stream's keys for CONNECT and
//! KEY_REFRESH (the software firmware's `ide_km` steps), K_SET_STOP for DISCONNECT.
//! The root port's turns program and enable its own end, which the IDE emulation
//! does not have, so they only answer.
//!
//! Unconfirmed: that a stream operation that failed or was aborted leaves the stream
//! as it is. `tsm_proto`'s machine (after TF-RMM) then refuses DISCONNECT (not
//! CONNECTED) and STOP (a stream still associated), so such a PDEV pair is stuck; the
//! fact sheet names no way out.

use log::info;
use tsm_proto::rmi::stream::{handle as stream_handle, HOST_ORDER};
use tsm_proto::rmi::{
    ranges_sorted, CommOutcome, End, ExitFlags, OrderError, PdevCall, Stream, StreamCall,
    StreamParams, StreamState,
};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::comm::{Buffers, Conversation, Engine, Progress};
use super::{busy, input, Reply, Ret, Rmm};
use crate::fw::rmm::memory::FwMemory;

/// The model's record of one stream.
pub(super) struct StreamRec {
    /// The RMI state machine.
    pub(super) core: Stream,
    /// The endpoint PDEV.
    pub(super) ep: u64,
    /// The root port PDEV.
    pub(super) rp: u64,
    /// The next step of the dance ([`HOST_ORDER`] index).
    pub(super) turn: usize,
}

impl Rmm {
    /// PDEV_STREAM_CONNECT(params): X1 = the stream handle.
    pub(super) fn stream_connect(&mut self, params: u64, mem: &mut dyn FwMemory) -> Reply {
        let page = self.ns_page(mem, params)?;
        let p = StreamParams::decode(&page)?;
        let ep = self
            .pdevs
            .get(&p.pdev_1)
            .ok_or(input("pdev_1 is not a PDEV"))?;
        let rp = self
            .pdevs
            .get(&p.pdev_2)
            .ok_or(input("pdev_2 is not a PDEV"))?;
        // Unconfirmed: the statuses of the stream ID width and range order checks.
        let sid = u8::try_from(p.ide_sid).map_err(|_| input("IDE stream ID above 255"))?;
        if !ranges_sorted(p.ranges.as_slice()) {
            return Err(input("stream ranges not sorted and disjoint"));
        }
        if ep.stream.is_some() {
            return Err(input("the endpoint already has a stream"));
        }
        let ends = Stream::connect(&p, &ep.core, &rp.core)?;
        if self.vdev_active(p.pdev_1) {
            return Err(busy("a VDEV of the endpoint is communicating"));
        }
        let handle = stream_handle(p.pdev_1, p.stream_type);
        self.streams.insert(
            handle,
            StreamRec {
                core: ends.0,
                ep: p.pdev_1,
                rp: p.pdev_2,
                turn: 0,
            },
        );
        self.store_stream(handle, ends, p.pdev_1, p.pdev_2);
        if let Some(e) = self.pdevs.get_mut(&p.pdev_1) {
            e.stream = Some(handle);
            e.stream_op = Some(handle);
            e.dev.stream_id = sid;
            e.conv = Some(Conversation::new(Engine::Connect(Box::new(
                ConnectOp::ide_only(),
            ))));
        }
        if let Some(r) = self.pdevs.get_mut(&p.pdev_2) {
            r.stream_op = Some(handle);
            r.conv = None;
        }
        info!("rmm: stream {handle:#x} (IDE stream {sid}) connecting");
        Ok(Ret::ok1(handle))
    }

    /// PDEV_STREAM_DISCONNECT / _KEY_REFRESH / _KEY_PURGE / _COMPLETE(ep, rp, handle).
    pub(super) fn stream_call(&mut self, call: StreamCall, ep: u64, rp: u64, handle: u64) -> Reply {
        let s = self.streams.get(&handle).ok_or(input("no such stream"))?;
        if s.ep != ep || s.rp != rp {
            return Err(input("the stream does not join these PDEVs"));
        }
        let e = self.pdevs.get(&ep).ok_or(input("pdev_1 is not a PDEV"))?;
        let r = self.pdevs.get(&rp).ok_or(input("pdev_2 is not a PDEV"))?;
        let ends = s.core.on(call, &e.core, &r.core)?;
        if call != StreamCall::Complete && self.vdev_active(ep) {
            return Err(busy("a VDEV of the endpoint is communicating"));
        }
        let engine = match call {
            StreamCall::Disconnect => Some(Engine::Disconnect(DisconnectOp {
                i: 0,
                ide: e.dev.ide_active,
                session: false,
            })),
            StreamCall::KeyRefresh => Some(Engine::Connect(Box::new(ConnectOp::ide_only()))),
            StreamCall::KeyPurge | StreamCall::Complete => None,
        };
        let freed = ends.0.state == StreamState::Disconnected;
        self.store_stream(handle, ends, ep, rp);
        if let Some(s) = self.streams.get_mut(&handle) {
            s.turn = 0;
        }
        let op = (call != StreamCall::Complete).then_some(handle);
        if let Some(e) = self.pdevs.get_mut(&ep) {
            e.stream_op = op;
            e.conv = engine.map(Conversation::new);
            if freed {
                e.stream = None;
            }
        }
        if let Some(r) = self.pdevs.get_mut(&rp) {
            r.stream_op = op;
            r.conv = None;
        }
        if freed {
            self.streams.remove(&handle);
            info!("rmm: stream {handle:#x} disconnected");
        }
        Ok(Ret::ok())
    }

    /// A PDEV_COMMUNICATE of `pdev` during a stream operation.
    pub(super) fn stream_communicate(
        &mut self,
        pdev: u64,
        buf: &Buffers,
        mem: &mut dyn FwMemory,
        hang: bool,
    ) -> Reply {
        let rec = self.pdevs.get(&pdev).ok_or(input("not a PDEV"))?;
        let handle = rec
            .stream_op
            .ok_or(OrderError::device("no stream operation"))?;
        let s = self.streams.get(&handle).ok_or(input("no such stream"))?;
        let end = if s.ep == pdev { End::Ep } else { End::Rp };
        let turn = s.turn;
        let timeout = self.cfg.timeout_ms;
        let rec = self.pdevs.get_mut(&pdev).ok_or(input("not a PDEV"))?;
        if hang {
            rec.hung = true;
            if let Some(c) = rec.conv.as_mut() {
                c.hang();
            }
        }
        let mine = HOST_ORDER.get(turn).filter(|(e, _)| *e == end);
        let (outcome, advance) = match (mine, rec.conv.as_mut()) {
            // The endpoint's traffic.
            (Some((End::Ep, CommOutcome::StreamWait)), Some(conv)) => {
                conv.check_enter(&buf.enter)?;
                match conv.step(
                    &mut rec.dev,
                    &self.engine_cfg,
                    buf,
                    timeout,
                    ExitFlags::STREAM_WAIT,
                    mem,
                ) {
                    Progress::More => (CommOutcome::InProgress, false),
                    Progress::Finished => {
                        rec.conv = None;
                        (CommOutcome::StreamWait, true)
                    }
                    Progress::Failed => {
                        rec.conv = None;
                        (CommOutcome::Failed, false)
                    }
                }
            }
            _ if rec.hung => {
                Self::quiet_exit(buf, ExitFlags::MULTI, mem)?;
                (CommOutcome::InProgress, false)
            }
            // A step with no traffic, in turn.
            (Some((_, want)), _) => {
                let flags = match want {
                    CommOutcome::StreamWait => ExitFlags::STREAM_WAIT,
                    _ => 0,
                };
                Self::quiet_exit(buf, flags, mem)?;
                (*want, true)
            }
            // Out of turn: wait for the peer.
            (None, _) => {
                Self::quiet_exit(buf, ExitFlags::STREAM_WAIT, mem)?;
                (CommOutcome::StreamWait, false)
            }
        };
        rec.core = rec.core.on(PdevCall::Communicate(outcome))?;
        if advance {
            if let Some(s) = self.streams.get_mut(&handle) {
                s.turn += 1;
            }
        }
        Ok(Ret::ok())
    }
}
