// SPDX-License-Identifier: GPL-2.0

//! DISCONNECT: K_SET_STOP of the stream's keys, then END_SESSION.

use tsm_proto::idekm::IdeKmMessage;
use tsm_proto::{idekm, spdm};

use super::ide_km::ide_target;
use super::session::{neg_of, seal, secured_spdm, vendor_req, vendor_rsp};
use super::{Device, FwError, Next};
use crate::wire;

pub(super) struct DisconnectOp {
    /// 0..6: K_SET_STOP of key i; 6: END_SESSION; 7: done.
    pub(super) i: usize,
    pub(super) ide: bool,
    pub(super) session: bool,
}

impl DisconnectOp {
    pub(super) fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
        if !self.ide && self.i < 6 {
            self.i = 6;
        }
        if !self.session && self.i == 6 {
            self.i = 7;
        }
        match self.i {
            i @ 0..=5 => {
                let m = wire::idekm(&IdeKmMessage::KSetStop(ide_target(dev.stream_id, i)))?;
                vendor_req(dev, &m)
            }
            6 => {
                let neg = neg_of(dev)?;
                let m = wire::spdm_request(
                    &spdm::Request::EndSession(spdm::EndSession { attributes: 0 }),
                    &neg,
                )?;
                Ok(Next::Secured(seal(dev, &m)?))
            }
            _ => Ok(Next::Done(Vec::new())),
        }
    }

    pub(super) fn response(&mut self, dev: &mut Device, payload: &[u8]) -> Result<(), FwError> {
        match self.i {
            i @ 0..=5 => {
                let p = vendor_rsp(dev, payload, idekm::PROTOCOL_ID)?;
                match IdeKmMessage::decode(&p)? {
                    IdeKmMessage::KGoStopAck(t) if t == ide_target(dev.stream_id, i) => {}
                    _ => return Err(FwError::IdeKm("expected K_GOSTOP_ACK")),
                }
                if i == 5 {
                    dev.ide_active = false;
                }
            }
            6 => {
                let neg = neg_of(dev)?;
                let app = secured_spdm(dev, payload)?;
                match wire::decode_response(&app, &neg)?.0 {
                    spdm::Response::EndSessionAck => {}
                    spdm::Response::Error(e) => return Err(FwError::SpdmError(e.code)),
                    _ => return Err(FwError::Protocol("expected END_SESSION_ACK")),
                }
                if let Some(s) = dev.spdm.as_mut() {
                    s.session = None;
                }
            }
            _ => return Err(FwError::State("response after completion")),
        }
        self.i += 1;
        Ok(())
    }
}
