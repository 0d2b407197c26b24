// SPDX-License-Identifier: GPL-2.0

//! The DSM's TDISP responder: one TDI state machine per function
//! (`tsm_proto::state`), the nonce of LOCK/START, and the requests' fault knobs.

use log::{debug, warn};
use tsm_proto::spdm::ErrorCode;
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::{
    DsmCapabilities, FunctionId, InterfaceId, RequestBody, RequestCode, ResponseBody, TdispError,
    VersionList,
};
use tsm_proto::{codec, state, tdisp};

use super::{bdf, Dsm, Handled, Tdi, MAX_PORTION};
use crate::faults::MsgKind;
use crate::{crypto, wire};

impl Dsm {
    fn tdisp_error(
        iface: InterfaceId,
        code: tdisp::ErrorCode,
        data: u32,
    ) -> Result<Vec<u8>, ErrorCode> {
        wire::tdisp_response(&tdisp::Response {
            version: tdisp::VERSION_1_0,
            interface_id: iface,
            body: ResponseBody::Error(TdispError {
                code,
                error_data: data,
                extended: None,
            }),
        })
        .map_err(|_| ErrorCode::Unspecified)
    }

    pub(super) fn tdisp(&mut self, payload: &[u8]) -> (MsgKind, Handled) {
        let req = match tdisp::Request::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                warn!("bad TDISP request: {e}");
                let iface = InterfaceId {
                    function_id: FunctionId::new(0, None),
                };
                let data = payload.get(2).copied().map_or(0, u32::from);
                let code = if matches!(e, codec::Error::UnknownCode { .. }) {
                    tdisp::ErrorCode::UnsupportedRequest
                } else {
                    tdisp::ErrorCode::InvalidRequest
                };
                return (MsgKind::Other, Self::tdisp_error(iface, code, data));
            }
        };
        let code = req.body.code();
        let kind = tdisp_kind(code);
        let iface = req.interface_id;
        let f = iface.function_id;
        if req.version != tdisp::VERSION_1_0 {
            return (
                kind,
                Self::tdisp_error(iface, tdisp::ErrorCode::VersionMismatch, 0),
            );
        }
        if !self.tdis.contains_key(&f.to_u32()) {
            if self.cfg.functions.is_empty() {
                self.tdis.insert(f.to_u32(), Tdi::new());
                self.changed = true;
            } else {
                return (
                    kind,
                    Self::tdisp_error(iface, tdisp::ErrorCode::InvalidInterface, 0),
                );
            }
        }
        if self.cfg.faults.tdisp_error == Some(kind) {
            warn!("fault: TDISP_ERROR for {kind}");
            return (
                kind,
                Self::tdisp_error(iface, tdisp::ErrorCode::Unspecified, 0),
            );
        }
        let state_now = self
            .tdis
            .get(&f.to_u32())
            .map_or(TdiState::Error, |t| t.state);
        let out = match self.tdisp_body(f, state_now, &req) {
            Ok(bytes) => Ok(bytes),
            Err((c, d)) => Self::tdisp_error(iface, c, d),
        };
        if self.cfg.faults.error_after == Some(kind) {
            warn!(
                "fault: TDI {} spontaneously enters ERROR after {kind}",
                bdf(f)
            );
            self.set_state(f, TdiState::Error);
        }
        (kind, out)
    }

    fn tdisp_body(
        &mut self,
        f: FunctionId,
        state_now: TdiState,
        req: &tdisp::Request<'_>,
    ) -> Result<Vec<u8>, (tdisp::ErrorCode, u32)> {
        let unspec = (tdisp::ErrorCode::Unspecified, 0);
        let encode = |body: ResponseBody<'_>| {
            wire::tdisp_response(&tdisp::Response {
                version: tdisp::VERSION_1_0,
                interface_id: req.interface_id,
                body,
            })
            .map_err(|_| unspec)
        };
        let code = req.body.code();
        let nonce_ok = match (&req.body, self.tdis.get(&f.to_u32())) {
            (RequestBody::StartInterface { nonce }, Some(t)) => t.nonce.as_ref() == Some(*nonce),
            _ => false,
        };
        let tr = state::dsm_on_request(state_now, code, nonce_ok);
        if let Err(e) = tr.response {
            debug!("TDISP {:?} in {:?}: {:?}", code, state_now, e);
            return Err((e, 0));
        }
        let out = match &req.body {
            RequestBody::GetVersion => encode(ResponseBody::Version(
                VersionList::new(&[tdisp::VERSION_1_0]).map_err(|_| unspec)?,
            ))?,
            RequestBody::GetCapabilities { .. } => {
                let mut caps = DsmCapabilities {
                    dsm_caps: 0,
                    req_msgs_supported: [0; 16],
                    lock_interface_flags_supported: tdisp::LockFlags::NO_FW_UPDATE
                        .union(tdisp::LockFlags::LOCK_MSIX)
                        .union(tdisp::LockFlags::SYSTEM_CACHE_LINE_SIZE_128)
                        .bits(),
                    dev_addr_width: 52,
                    num_req_this: 1,
                    num_req_all: 1,
                };
                for c in [
                    RequestCode::GetVersion,
                    RequestCode::GetCapabilities,
                    RequestCode::LockInterface,
                    RequestCode::GetDeviceInterfaceReport,
                    RequestCode::GetDeviceInterfaceState,
                    RequestCode::StartInterface,
                    RequestCode::StopInterface,
                ] {
                    caps.set_supported(c);
                }
                encode(ResponseBody::Capabilities(caps))?
            }
            RequestBody::LockInterface(p) => {
                let supported = tdisp::LockFlags::NO_FW_UPDATE
                    .union(tdisp::LockFlags::LOCK_MSIX)
                    .union(tdisp::LockFlags::SYSTEM_CACHE_LINE_SIZE_128);
                if !supported.contains(p.flags) {
                    return Err((tdisp::ErrorCode::InvalidRequest, 0));
                }
                if !self.ide_stream_active(p.default_stream_id) {
                    warn!(
                        "LOCK_INTERFACE: default stream {} has no active IDE keys",
                        p.default_stream_id
                    );
                    return Err((tdisp::ErrorCode::InvalidDeviceConfiguration, 0));
                }
                let nonce: [u8; tdisp::NONCE_LEN] = crypto::random_array();
                if let Some(t) = self.tdis.get_mut(&f.to_u32()) {
                    t.nonce = Some(nonce);
                    t.lock = Some(*p);
                }
                self.set_state(f, tr.next);
                encode(ResponseBody::LockInterface { nonce: &nonce })?
            }
            RequestBody::GetDeviceInterfaceReport { offset, length } => {
                let lock = self.tdis.get(&f.to_u32()).and_then(|t| t.lock);
                let report = self
                    .report(lock.map_or(0, |l| l.mmio_reporting_offset))
                    .map_err(|_| unspec)?;
                let off = usize::from(*offset);
                if off > report.len() || (off == report.len() && off != 0) {
                    return Err((tdisp::ErrorCode::InvalidRequest, 0));
                }
                let n = usize::from(*length)
                    .min(MAX_PORTION)
                    .min(report.len() - off);
                let remainder = u16::try_from(report.len() - off - n).map_err(|_| unspec)?;
                encode(ResponseBody::DeviceInterfaceReport {
                    portion: report.get(off..off + n).unwrap_or(&[]),
                    remainder_length: remainder,
                })?
            }
            RequestBody::GetDeviceInterfaceState => {
                encode(ResponseBody::DeviceInterfaceState(state_now))?
            }
            RequestBody::StartInterface { .. } => {
                self.set_state(f, tr.next);
                encode(ResponseBody::StartInterface)?
            }
            RequestBody::StopInterface => {
                if let Some(t) = self.tdis.get_mut(&f.to_u32()) {
                    t.lock = None;
                }
                self.set_state(f, tr.next);
                encode(ResponseBody::StopInterface)?
            }
            _ => return Err((tdisp::ErrorCode::UnsupportedRequest, u32::from(code as u8))),
        };
        Ok(out)
    }
}

fn tdisp_kind(c: RequestCode) -> MsgKind {
    match c {
        RequestCode::GetVersion => MsgKind::TdispVersion,
        RequestCode::GetCapabilities => MsgKind::TdispCapabilities,
        RequestCode::LockInterface => MsgKind::Lock,
        RequestCode::GetDeviceInterfaceReport => MsgKind::Report,
        RequestCode::GetDeviceInterfaceState => MsgKind::State,
        RequestCode::StartInterface => MsgKind::Start,
        RequestCode::StopInterface => MsgKind::Stop,
        _ => MsgKind::Other,
    }
}
