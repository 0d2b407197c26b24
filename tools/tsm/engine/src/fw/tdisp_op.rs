// SPDX-License-Identifier: GPL-2.0

//! BIND, GUEST_REQ and UNBIND: the TDISP requester with its TDI state tracking.

use log::{info, warn};
use tsm_proto::report::{Progress, ReportAssembler};
use tsm_proto::tdisp::{FunctionId, InterfaceId, RequestBody, RequestCode, ResponseBody};
use tsm_proto::{state, tdisp};

use super::report_check::validate_report;
use super::session::{vendor_req, vendor_rsp};
use super::{Device, FwConfig, FwError, Next, Tdi, MAX_REPORT, PORTION};
use crate::wire;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TdispKind {
    Bind,
    /// Version, capabilities and LOCK_INTERFACE only (a firmware that fetches the
    /// report in a separate call).
    Lock,
    Unbind,
    Report,
    Start,
    State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TPhase {
    Version,
    Caps,
    Lock,
    Report,
    Start,
    Stop,
    State,
    /// Resynchronising after a TDISP_ERROR.
    Resync,
    Done,
}

pub(super) struct TdispOp {
    pub(super) tdi: FunctionId,
    pub(super) kind: TdispKind,
    phase: TPhase,
    last: Option<RequestCode>,
    /// (OFFSET, LENGTH, portion, REMAINDER_LENGTH) of every report response so far,
    /// replayed into a `ReportAssembler` (which borrows its buffer) on each step.
    portions: Vec<(u16, u16, Vec<u8>, u16)>,
    pending: (u16, u16),
    error: Option<tdisp::ErrorCode>,
    result: Vec<u8>,
    /// Whether the assembled report is validated against the TDI's BARs (the software
    /// firmware does; a firmware whose host validates the report does not).
    check_report: bool,
}

impl TdispOp {
    pub(super) fn new(tdi: FunctionId, kind: TdispKind) -> Self {
        let phase = match kind {
            TdispKind::Bind | TdispKind::Lock => TPhase::Version,
            TdispKind::Unbind => TPhase::Stop,
            TdispKind::Report => TPhase::Report,
            TdispKind::Start => TPhase::Start,
            TdispKind::State => TPhase::State,
        };
        Self {
            tdi,
            kind,
            phase,
            last: None,
            portions: Vec::new(),
            pending: (0, PORTION),
            error: None,
            result: Vec::new(),
            check_report: true,
        }
    }

    /// The same op, leaving the report's validation to whoever reads it.
    pub(super) fn without_report_check(mut self) -> Self {
        self.check_report = false;
        self
    }

    /// The report portions received so far, in order.
    pub(super) fn report_portions(&self) -> impl Iterator<Item = &[u8]> {
        self.portions.iter().map(|(_, _, p, _)| p.as_slice())
    }

    /// The firmware's record of this op's TDI.
    fn bound<'d>(&self, dev: &'d Device) -> Result<&'d Tdi, FwError> {
        dev.tdis
            .get(&self.tdi.to_u32())
            .ok_or(FwError::State("TDI not bound"))
    }

    pub(super) fn send(
        &mut self,
        dev: &mut Device,
        body: RequestBody<'_>,
    ) -> Result<Next, FwError> {
        let t = self.bound(dev)?;
        let code = body.code();
        if self.phase != TPhase::Resync {
            state::requester_may_send(t.state, code)?;
        }
        self.last = Some(code);
        let m = wire::tdisp_request(&tdisp::Request {
            version: tdisp::VERSION_1_0,
            interface_id: InterfaceId {
                function_id: self.tdi,
            },
            body,
        })?;
        vendor_req(dev, &m)
    }

    pub(super) fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
        match self.phase {
            TPhase::Version => self.send(dev, RequestBody::GetVersion),
            TPhase::Caps => self.send(dev, RequestBody::GetCapabilities { tsm_caps: 0 }),
            TPhase::Lock => {
                let lock = self.bound(dev)?.lock;
                self.send(dev, RequestBody::LockInterface(lock))
            }
            TPhase::Report => {
                let (offset, length) = self.pending;
                self.send(
                    dev,
                    RequestBody::GetDeviceInterfaceReport { offset, length },
                )
            }
            TPhase::Start => {
                let nonce = self
                    .bound(dev)
                    .ok()
                    .and_then(|t| t.nonce)
                    .ok_or(FwError::State("no START_INTERFACE nonce (not locked)"))?;
                self.send(dev, RequestBody::StartInterface { nonce: &nonce })
            }
            TPhase::Stop => self.send(dev, RequestBody::StopInterface),
            TPhase::State | TPhase::Resync => self.send(dev, RequestBody::GetDeviceInterfaceState),
            TPhase::Done => {
                if let Some(e) = self.error {
                    return Err(FwError::TdispError(e));
                }
                Ok(Next::Done(std::mem::take(&mut self.result)))
            }
        }
    }

    pub(super) fn response(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        payload: &[u8],
    ) -> Result<(), FwError> {
        let p = vendor_rsp(dev, payload, tdisp::PROTOCOL_ID)?;
        let rsp = tdisp::Response::decode(&p)?;
        if rsp.interface_id.function_id != self.tdi {
            return Err(FwError::Protocol("TDISP response for another interface"));
        }
        let code = self
            .last
            .ok_or(FwError::State("no TDISP request outstanding"))?;
        let t = dev
            .tdis
            .get_mut(&self.tdi.to_u32())
            .ok_or(FwError::State("TDI not bound"))?;
        if self.phase == TPhase::Resync {
            if let ResponseBody::DeviceInterfaceState(s) = rsp.body {
                t.state = s;
                warn!(
                    "TDI {:?}: device reports {:?} after TDISP_ERROR",
                    self.tdi, s
                );
            }
            self.phase = TPhase::Done;
            return Ok(());
        }
        let next_state = state::requester_check(t.state, code, &rsp.body)?;
        if let ResponseBody::Error(e) = rsp.body {
            warn!("TDISP {:?} -> TDISP_ERROR {:?}", code, e.code);
            self.error = Some(e.code);
            self.phase = TPhase::Resync;
            return Ok(());
        }
        if rsp.version != tdisp::VERSION_1_0 {
            return Err(FwError::Protocol("TDISP version changed"));
        }
        t.state = next_state;
        self.phase = match (self.phase, rsp.body) {
            (TPhase::Version, ResponseBody::Version(v)) => {
                if !v.contains(tdisp::VERSION_1_0) {
                    return Err(FwError::Negotiation("device does not speak TDISP 1.0"));
                }
                TPhase::Caps
            }
            (TPhase::Caps, ResponseBody::Capabilities(c)) => {
                if !c.lock_flags_supported().contains(t.lock.flags) {
                    return Err(FwError::Negotiation(
                        "device does not support the lock flags",
                    ));
                }
                TPhase::Lock
            }
            (TPhase::Lock, ResponseBody::LockInterface { nonce }) => {
                t.nonce = Some(*nonce);
                info!("TDI {:?} CONFIG_LOCKED", self.tdi);
                if self.kind == TdispKind::Lock {
                    TPhase::Done
                } else {
                    TPhase::Report
                }
            }
            (
                TPhase::Report,
                ResponseBody::DeviceInterfaceReport {
                    portion,
                    remainder_length,
                },
            ) => {
                let (offset, length) = self.pending;
                self.portions
                    .push((offset, length, portion.to_vec(), remainder_length));
                let mut buf = vec![0u8; MAX_REPORT];
                let mut asm = ReportAssembler::new(&mut buf);
                let mut progress = Progress::More {
                    offset: 0,
                    remaining: 0,
                };
                for (o, l, p, r) in &self.portions {
                    progress = asm.feed(*o, *l, p, *r)?;
                }
                match progress {
                    Progress::More { .. } => {
                        self.pending = asm
                            .next_request(PORTION)
                            .ok_or(FwError::Protocol("report assembly stalled"))?;
                        TPhase::Report
                    }
                    Progress::Complete { len } => {
                        let bytes = asm
                            .report()
                            .and_then(|r| r.get(..len))
                            .ok_or(FwError::Protocol("report incomplete"))?
                            .to_vec();
                        if self.check_report {
                            validate_report(&bytes, t, cfg)?;
                            info!(
                                "TDI {:?}: interface report validated ({} bytes)",
                                self.tdi,
                                bytes.len()
                            );
                        }
                        if self.kind == TdispKind::Report {
                            self.result = bytes;
                        }
                        TPhase::Done
                    }
                }
            }
            (TPhase::Start, ResponseBody::StartInterface) => {
                t.nonce = None;
                info!("TDI {:?} RUN", self.tdi);
                TPhase::Done
            }
            (TPhase::Stop, ResponseBody::StopInterface) => {
                t.nonce = None;
                info!("TDI {:?} CONFIG_UNLOCKED", self.tdi);
                TPhase::Done
            }
            (TPhase::State, ResponseBody::DeviceInterfaceState(s)) => {
                self.result = vec![s as u8];
                TPhase::Done
            }
            _ => return Err(FwError::Protocol("unexpected TDISP response")),
        };
        Ok(())
    }
}
