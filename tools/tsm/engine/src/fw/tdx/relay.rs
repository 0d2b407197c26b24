// SPDX-License-Identifier: GPL-2.0

//! The module as SPDM requester toward the device, one DOE object per SEAMCALL.
//!
//! A relaying leaf (SPDM.CONNECT, DISCONNECT, MNG, IDE.STREAM.KM, and the provisional
//! TDI calls) runs an engine op of the software firmware, unchanged: `ConnectOp` (the
//! session; IDE-KM key programming for KM SETUP and REFRESH), `DisconnectOp` (K_SET_STOP
//! for KM STOP, END_SESSION for SPDM.DISCONNECT) and `TdispOp` (LOCK, START, STOP). Each
//! SEAMCALL of the leaf feeds the device's answer from the response page (`in_msg`) to
//! the op, if one is due, and then either writes the op's next request into the request
//! page (`out_msg`) as one DOE object ([`RelayRequest`]: PCI-SIG vendor, type 1 for SPDM
//! and 2 for secured SPDM) and answers TDX_SPDM_REQUEST with RCX = the object's length
//! in bytes, or ends the leaf.
//!
//! Unconfirmed: the unit of RCX on TDX_SPDM_REQUEST (§1 "request length"); the model
//! gives bytes, and the host does not rely on it (it reads the DOE header).

use log::warn;
use tsm_proto::codec::Writer;
use tsm_proto::doe::{self, PCI_SIG_VENDOR_ID};
use tsm_proto::tdx::{RelayRequest, RelayResponse, PAGE_SIZE};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::super::session::{pad, response_abandoned};
use super::super::tdisp_op::TdispOp;
use super::super::{Device, FwConfig, FwError, Next};
use super::pages::{read_page, write_page};
use super::FwMemory;

/// DOE object type of SPDM.
pub const DOE_SPDM: u8 = 1;
/// DOE object type of secured SPDM.
pub const DOE_SECURED_SPDM: u8 = 2;

/// The engine op a relaying call runs.
pub(super) enum Engine {
    /// The session, or IDE-KM key programming.
    Connect(Box<ConnectOp>),
    /// K_SET_STOP or END_SESSION.
    Disconnect(DisconnectOp),
    /// A TDISP operation.
    Tdisp(Box<TdispOp>),
}

/// What one SEAMCALL of a relaying leaf achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// A request of this many bytes is in the request page.
    Request(u64),
    /// The op finished.
    Done,
    /// The op failed; the conversation is over.
    Failed,
}

/// A device operation in progress.
pub(super) struct Conversation {
    engine: Engine,
    /// The DOE type of the request out, if one is out.
    awaiting: Option<u8>,
    /// The op's final output (TDISP) once done.
    pub(super) result: Vec<u8>,
}

impl Conversation {
    pub(super) fn new(engine: Engine) -> Self {
        Self {
            engine,
            awaiting: None,
            result: Vec::new(),
        }
    }

    /// The certificate chain the connect op received (empty for other ops).
    pub(super) fn chain(&self) -> &[u8] {
        match &self.engine {
            Engine::Connect(op) => op.chain(),
            _ => &[],
        }
    }

    /// The op is abandoned unfinished: if a secured request is out, the device may
    /// have answered it, and the session must expect the next sequence number.
    pub(super) fn abandon(self, dev: &mut Device) {
        if self.awaiting == Some(DOE_SECURED_SPDM) {
            response_abandoned(dev);
        }
    }

    /// Reads the answer to the request out, if one is out: a DOE object of the request's
    /// type in the response page. A page that does not hold one is a refusal (nothing
    /// changed), so that the host can correct it.
    pub(super) fn read_answer(
        &self,
        mem: &mut dyn FwMemory,
        response: u64,
    ) -> Result<Option<Vec<u8>>, &'static str> {
        let Some(t) = self.awaiting else {
            return Ok(None);
        };
        let page = read_page(mem, response).map_err(|r| r.why)?;
        let r = RelayResponse::decode(&page).map_err(|_| "response page holds no DOE object")?;
        if r.vendor_id != PCI_SIG_VENDOR_ID || r.object_type != t {
            return Err("response of another DOE type than the request");
        }
        Ok(Some(r.reply.to_vec()))
    }

    /// One SEAMCALL: feeds `answer` (from [`Self::read_answer`]) and writes the next
    /// request, or ends.
    pub(super) fn step(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        answer: Option<Vec<u8>>,
        mem: &mut dyn FwMemory,
        request: u64,
    ) -> Step {
        let secured_out = self.awaiting == Some(DOE_SECURED_SPDM);
        match self.advance(dev, cfg, answer, mem, request) {
            Ok(s) => s,
            Err(e) => {
                warn!("tdx: device operation failed: {e}");
                // A secured request went out and its answer was not opened (or a
                // later request could not be written): the device may be a sequence
                // number ahead.
                if secured_out || self.awaiting.take() == Some(DOE_SECURED_SPDM) {
                    response_abandoned(dev);
                }
                Step::Failed
            }
        }
    }

    fn advance(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        answer: Option<Vec<u8>>,
        mem: &mut dyn FwMemory,
        request: u64,
    ) -> Result<Step, FwError> {
        if let Some(r) = answer {
            self.awaiting = None;
            match &mut self.engine {
                Engine::Connect(op) => op.response(dev, cfg, &r)?,
                Engine::Disconnect(op) => op.response(dev, &r)?,
                Engine::Tdisp(op) => op.response(dev, cfg, &r)?,
            }
        }
        let next = match &mut self.engine {
            Engine::Connect(op) => op.request(dev)?,
            Engine::Disconnect(op) => op.request(dev)?,
            Engine::Tdisp(op) => op.request(dev)?,
        };
        let (t, m) = match next {
            Next::Plain(m) => (DOE_SPDM, pad(m)),
            Next::Secured(m) => (DOE_SECURED_SPDM, pad(m)),
            Next::Done(out) => {
                self.result = out;
                return Ok(Step::Done);
            }
        };
        let mut page = vec![0u8; PAGE_SIZE];
        let n = RelayRequest {
            vendor_id: doe::PCI_SIG_VENDOR_ID,
            object_type: t,
            payload: &m,
        }
        .encode(&mut Writer::new(&mut page))
        .map_err(|_| FwError::Oversized(m.len()))?;
        write_page(mem, request, &page[..n])
            .map_err(|_| FwError::State("the request page cannot be written"))?;
        self.awaiting = Some(t);
        Ok(Step::Request(n as u64))
    }
}
