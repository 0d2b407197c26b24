// SPDX-License-Identifier: GPL-2.0

//! The SPDM requester role: a command that talks to the device is a job of engine ops
//! (the software firmware's `ConnectOp`, `DisconnectOp`, `TdispOp`, `MeasOp`), run one
//! DOE exchange per issue of the command.
//!
//! The relay is the fact sheet's §3 from the PSP's side: when the op has a request,
//! the model writes it as a REQ object into the req buffer (data type 1 for plain SPDM,
//! 2 for a secured record) and returns SPDM_REQUEST; the host relays the payload over
//! DOE, writes RESP into the resp buffer and re-issues the identical command buffer;
//! the model reads RESP, feeds it to the op and either asks again or ends the command.
//! The job is the device's until it ends: a different command on the device meanwhile
//! is IN_USE (unconfirmed), and a forced DEV_DISCONNECT or DEV_RECLAIM drops it.
//!
//! RESP.length is ALIGN(0x10 + received, 32), so the payload the model reads may carry
//! up to 31 bytes after the DOE payload (whatever the host's buffer held); how firmware
//! learns the exact length is unconfirmed. The model takes it from the message: a
//! secured record from its header's length; a plain SPDM message by feeding it whole
//! and, when the engine's decoder reports trailing bytes (it decodes before it changes
//! anything), once more cut to the length the decoder found.

use std::collections::VecDeque;

use tsm_proto::tio::buffer::write_req;
use tsm_proto::tio::Command;
use tsm_proto::tio::{read_resp, DataType, SpdmCtrl};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::super::meas_op::MeasOp;
use super::super::session::{pad, response_abandoned};
use super::super::tdisp_op::TdispOp;
use super::super::{Device, FwConfig, FwError, Next};
use super::memory::SlaBuf;
use crate::fw::rmm::FwMemory;

/// One engine op of a job.
pub(super) enum Engine {
    Connect(Box<ConnectOp>),
    Disconnect(DisconnectOp),
    Tdisp(Box<TdispOp>),
    Measurements(MeasOp),
}

/// What a job does when it ends well (the transition, and the output it writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finish {
    Connect,
    Disconnect,
    Measurements,
    Certificates,
    RollKey,
    Lock {
        tdi: u64,
        gctx: u64,
        asid: u32,
        guest_device_id: u16,
    },
    Run {
        tdi: u64,
    },
    Unbind {
        tdi: u64,
    },
    Report {
        tdi: u64,
    },
}

/// A command in progress on a device.
pub(super) struct Job {
    pub(super) cmd: Command,
    /// The command buffer as first issued: a re-issue must be identical.
    pub(super) saved: Vec<u8>,
    pub(super) ctrl: SpdmCtrl,
    pub(super) finish: Finish,
    steps: VecDeque<Engine>,
    awaiting: bool,
    secured: bool,
    /// The payload of the last op that ended with one (the report).
    pub(super) result: Vec<u8>,
    /// The certificate chain a connect op received.
    pub(super) chain: Vec<u8>,
    /// The MEASUREMENTS response a measurement op received.
    pub(super) measurements: Vec<u8>,
}

/// Where a job stands after a step.
pub(super) enum Step {
    /// A REQ is in the req buffer.
    Relay,
    /// Every op ended.
    Done,
}

impl Job {
    pub(super) fn new(
        cmd: Command,
        saved: Vec<u8>,
        ctrl: SpdmCtrl,
        finish: Finish,
        steps: Vec<Engine>,
    ) -> Self {
        Self {
            cmd,
            saved,
            ctrl,
            finish,
            steps: steps.into(),
            awaiting: false,
            secured: false,
            result: Vec::new(),
            chain: Vec::new(),
            measurements: Vec::new(),
        }
    }

    /// Whether a request is out and its answer due.
    pub(super) fn awaiting(&self) -> bool {
        self.awaiting
    }

    /// Drops the job unfinished: a secured request out may have been answered.
    pub(super) fn abandon(self, dev: &mut Device) {
        if self.awaiting && self.secured {
            response_abandoned(dev);
        }
    }

    /// Feeds the RESP in `resp` (if a request is out), then runs the ops until one has a
    /// request (written as REQ into `req`) or all have ended.
    pub(super) fn step(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        mem: &mut dyn FwMemory,
        req: &SlaBuf,
        resp: &SlaBuf,
    ) -> Result<Step, FwError> {
        let mem_err = |_| FwError::State("an SPDM buffer cannot be reached");
        if std::mem::take(&mut self.awaiting) {
            let bytes = resp.read(mem).map_err(mem_err)?;
            let (data_type, payload) = read_resp(&bytes)?;
            let payload = exact(data_type, payload);
            match self.feed(dev, cfg, payload) {
                Err(FwError::Codec(tsm_proto::codec::Error::TrailingBytes { count })) => {
                    // The padding after the reply: the message's own length is known now.
                    let n = payload.len().saturating_sub(count);
                    self.feed(dev, cfg, payload.get(..n).unwrap_or(payload))?;
                }
                r => r?,
            }
        }
        loop {
            let next = match self.steps.front_mut() {
                None => return Ok(Step::Done),
                Some(Engine::Connect(op)) => {
                    let n = op.request(dev)?;
                    self.chain = op.chain().to_vec();
                    n
                }
                Some(Engine::Disconnect(op)) => op.request(dev)?,
                Some(Engine::Tdisp(op)) => op.request(dev)?,
                Some(Engine::Measurements(op)) => {
                    let n = op.request(dev)?;
                    self.measurements = op.measurements().to_vec();
                    n
                }
            };
            let (data_type, m) = match next {
                Next::Plain(m) => (DataType::Spdm, pad(m)),
                Next::Secured(m) => (DataType::SecuredSpdm, pad(m)),
                Next::Done(r) => {
                    if !r.is_empty() {
                        self.result = r;
                    }
                    self.steps.pop_front();
                    continue;
                }
            };
            let cap = u32::try_from(req.len()).unwrap_or(u32::MAX);
            let mut b = vec![0u8; req.len()];
            write_req(&mut b, cap, data_type, &m).map_err(|_| FwError::Oversized(m.len()))?;
            req.write(mem, &b).map_err(mem_err)?;
            self.awaiting = true;
            self.secured = data_type == DataType::SecuredSpdm;
            return Ok(Step::Relay);
        }
    }
}

impl Job {
    fn feed(&mut self, dev: &mut Device, cfg: &FwConfig, payload: &[u8]) -> Result<(), FwError> {
        match self.steps.front_mut() {
            Some(Engine::Connect(op)) => op.response(dev, cfg, payload),
            Some(Engine::Disconnect(op)) => op.response(dev, payload),
            Some(Engine::Tdisp(op)) => op.response(dev, cfg, payload),
            Some(Engine::Measurements(op)) => op.response(dev, payload),
            None => Err(FwError::State("a response with no request")),
        }
    }
}

/// The DOE payload inside a RESP payload, as far as its framing tells: a secured
/// record ends where its header's length says; a plain SPDM message is taken whole
/// (see the module comment).
fn exact(data_type: DataType, p: &[u8]) -> &[u8] {
    use tsm_proto::secured::HEADER_LEN;
    if data_type != DataType::SecuredSpdm {
        return p;
    }
    let Some(len) = p.get(HEADER_LEN - 2..HEADER_LEN) else {
        return p;
    };
    let n = HEADER_LEN + usize::from(u16::from_le_bytes([len[0], len[1]]));
    p.get(..n).unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secured_records_end_at_their_length() {
        let mut p = vec![1, 0, 0, 0, 3, 0, 9, 9, 9, 7, 7];
        assert_eq!(
            exact(DataType::SecuredSpdm, &p),
            &[1, 0, 0, 0, 3, 0, 9, 9, 9]
        );
        assert_eq!(exact(DataType::Spdm, &p), &p[..]);
        p.truncate(5);
        assert_eq!(exact(DataType::SecuredSpdm, &p), &p[..], "too short: whole");
    }
}
