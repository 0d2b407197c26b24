// SPDX-License-Identifier: GPL-2.0

//! The DSM's secured session (DSP0277 over the DOE binding): KEY_EXCHANGE, FINISH,
//! decryption and encryption of records, and the requests inside them: END_SESSION,
//! HEARTBEAT, GET_MEASUREMENTS (signed over the session's own transcript) and the
//! vendor-defined ones (IDE-KM, TDISP).

use log::{info, warn};
use tsm_proto::doe::SpdmKind;
use tsm_proto::spdm::transcript::{Point, SessionTranscript};
use tsm_proto::spdm::{ErrorCode, KeyExchangeRsp, Negotiated};
use tsm_proto::{idekm, spdm, tdisp};

use super::{Dsm, Handled, Reply, Session};
use crate::crypto::{Ephemeral, Hasher, SessionSecrets, HASH_LEN};
use crate::faults::MsgKind;
use crate::{crypto, wire};

impl Dsm {
    pub(super) fn key_exchange(&mut self, k: &spdm::KeyExchange<'_>, exact: &[u8]) -> Handled {
        let neg = self.negotiated()?;
        if neg.dhe_size == 0 {
            return Err(ErrorCode::UnexpectedRequest);
        }
        if k.slot_id != 0 || k.summary_hash_type != 0 {
            return Err(ErrorCode::InvalidRequest);
        }
        if !wire::opaque_names_version_10(k.opaque) {
            warn!("KEY_EXCHANGE without a secured message version 1.0 element");
        }
        if self.session.take().is_some() {
            self.session_lost();
        }
        let eph = Ephemeral::generate();
        let dhe = eph
            .shared_secret(k.exchange_data)
            .map_err(|_| ErrorCode::InvalidRequest)?;
        let rsp_session_id = u16::from_le_bytes(crypto::random_array()) | 1;
        let opaque = wire::secured_version_opaque(true);
        let ex = eph.exchange_data();
        let sig_ph = vec![0u8; crypto::SIG_LEN];
        let vd_ph = vec![0u8; HASH_LEN];
        let mut m = KeyExchangeRsp {
            heartbeat_period: 0,
            rsp_session_id,
            mut_auth_requested: 0,
            req_slot_id_param: 0,
            random: crypto::random_array(),
            exchange_data: &ex,
            measurement_summary_hash: &[],
            opaque: &opaque,
            signature: &sig_ph,
            verify_data: &vd_ph,
        };
        let draft = wire::spdm_response(&spdm::Response::KeyExchangeRsp(m), &neg)
            .map_err(|_| ErrorCode::Unspecified)?;
        let chain_hash = crypto::sha384(&self.cfg.identity.spdm_chain);
        let vca = [self.conn.transcript.vca()];
        let mut t = SessionTranscript::handshake(&vca, &chain_hash, exact, &draft);
        let mut h = Hasher::new();
        t.feed(Point::KeyExchangeRspSignature, &neg, &mut h)
            .map_err(|_| ErrorCode::Unspecified)?;
        let sig = self.sign(&neg, crypto::context::KEY_EXCHANGE_RSP, &h.digest());
        m.signature = &sig;
        let draft2 = wire::spdm_response(&spdm::Response::KeyExchangeRsp(m), &neg)
            .map_err(|_| ErrorCode::Unspecified)?;
        t.key_exchange_rsp = &draft2;
        let wrong = [0u8; HASH_LEN];
        if self.cfg.faults.wrong_transcript {
            warn!("fault: session transcript without the certificate chain hash");
            t.cert_chain_hash = &wrong;
        }
        let mut h = Hasher::new();
        t.feed(Point::Th1, &neg, &mut h)
            .map_err(|_| ErrorCode::Unspecified)?;
        let th1 = h.digest();
        let secrets = SessionSecrets::handshake(neg.version, &dhe, &th1)
            .map_err(|_| ErrorCode::Unspecified)?;
        let vd = crypto::hmac(secrets.rsp_finished_key(), &th1);
        m.verify_data = &vd;
        let out = wire::spdm_response(&spdm::Response::KeyExchangeRsp(m), &neg)
            .map_err(|_| ErrorCode::Unspecified)?;
        let id = tsm_proto::secured::session_id(k.req_session_id, rsp_session_id);
        info!("KEY_EXCHANGE: session {id:#010x} in handshake");
        self.session = Some(Session {
            id,
            secrets,
            key_exchange: exact.to_vec(),
            key_exchange_rsp: out.clone(),
            established: false,
            meas: self.conn.transcript.for_session(),
        });
        self.changed = true;
        Ok(out)
    }

    pub(super) fn secured(&mut self, rec: &[u8]) -> Reply {
        let Some(sess) = self.session.as_mut() else {
            return self.plain_error(ErrorCode::SessionRequired, MsgKind::Other);
        };
        let (sid, app) = match sess.secrets.req.open(rec) {
            Ok(x) => x,
            Err(e) => {
                warn!("secured record does not open: {e}");
                // DecryptError terminates the session (DSP0277).
                self.session = None;
                self.session_lost();
                return self.plain_error(ErrorCode::DecryptError, MsgKind::Other);
            }
        };
        if sid != sess.id {
            return self.plain_error(ErrorCode::InvalidRequest, MsgKind::Other);
        }
        let neg = self.neg();
        let mut vendor = false;
        let (kind, result, end) = match wire::decode_request(&app, &neg) {
            Err(_) => (MsgKind::Other, Err(ErrorCode::InvalidRequest), false),
            Ok((req, exact)) => {
                let exact = exact.to_vec();
                match req {
                    spdm::Request::Finish(f) => {
                        (MsgKind::Finish, self.finish_req(&f, &exact, &neg), false)
                    }
                    spdm::Request::EndSession(_) => (
                        MsgKind::EndSession,
                        wire::spdm_response(&spdm::Response::EndSessionAck, &neg)
                            .map_err(|_| ErrorCode::Unspecified),
                        true,
                    ),
                    spdm::Request::Heartbeat => (
                        MsgKind::Other,
                        wire::spdm_response(&spdm::Response::HeartbeatAck, &neg)
                            .map_err(|_| ErrorCode::Unspecified),
                        false,
                    ),
                    spdm::Request::GetMeasurements(m) if self.session_established() => (
                        MsgKind::Measurements,
                        self.measurements(&m, &exact, true),
                        false,
                    ),
                    spdm::Request::VendorDefined(v) if self.session_established() => {
                        let (k, r) = self.vendor(&v, &neg);
                        vendor = true;
                        (k, r, false)
                    }
                    spdm::Request::VendorDefined(_) => {
                        (MsgKind::Other, Err(ErrorCode::UnexpectedRequest), false)
                    }
                    _ => (MsgKind::Other, Err(ErrorCode::UnsupportedRequest), false),
                }
            }
        };
        let msg = match result {
            // Vendor payloads (IDE-KM, TDISP) were spoiled inside their envelope.
            Ok(m) if vendor => m,
            Ok(m) => self.spoil(m, kind),
            Err(code) => self.error_msg(code),
        };
        let Some(sess) = self.session.as_mut() else {
            return self.plain_error(ErrorCode::Unspecified, kind);
        };
        let sealed = sess.secrets.rsp.seal(sess.id, &msg);
        if kind == MsgKind::Finish && !sess.established {
            // FINISH_RSP goes out under the handshake keys; the data keys follow.
            if let Some(th2) = self.pending_th2.take() {
                if let Some(s) = self.session.as_mut() {
                    if s.secrets.to_data_phase(&th2).is_ok() {
                        s.established = true;
                        info!("session {:#010x} established", s.id);
                        self.changed = true;
                    }
                }
            }
        }
        if end {
            info!("END_SESSION");
            self.session = None;
            self.session_lost();
        }
        match sealed {
            Ok(r) => self.finish(SpdmKind::Secured, r, kind),
            Err(_) => self.plain_error(ErrorCode::Unspecified, kind),
        }
    }

    fn finish_req(&mut self, f: &spdm::Finish<'_>, exact: &[u8], neg: &Negotiated) -> Handled {
        let chain_hash = crypto::sha384(&self.cfg.identity.spdm_chain);
        let wrong = [0u8; HASH_LEN];
        let ct: &[u8] = if self.cfg.faults.wrong_transcript {
            &wrong
        } else {
            &chain_hash
        };
        let sess = self.session.as_ref().ok_or(ErrorCode::UnexpectedRequest)?;
        if sess.established || f.signature.is_some() {
            return Err(ErrorCode::UnexpectedRequest);
        }
        let vca = [self.conn.transcript.vca()];
        let mut t = SessionTranscript {
            finish: exact,
            ..SessionTranscript::handshake(&vca, ct, &sess.key_exchange, &sess.key_exchange_rsp)
        };
        let mut h = Hasher::new();
        t.feed(Point::FinishHmac, neg, &mut h)
            .map_err(|_| ErrorCode::Unspecified)?;
        if crypto::hmac_verify(sess.secrets.req_finished_key(), &h.digest(), f.verify_data).is_err()
        {
            warn!("FINISH: RequesterVerifyData does not verify");
            return Err(ErrorCode::DecryptError);
        }
        let out = wire::spdm_response(
            &spdm::Response::FinishRsp(spdm::FinishRsp { verify_data: &[] }),
            neg,
        )
        .map_err(|_| ErrorCode::Unspecified)?;
        t.finish_rsp = &out;
        let mut h = Hasher::new();
        t.feed(Point::Th2, neg, &mut h)
            .map_err(|_| ErrorCode::Unspecified)?;
        self.pending_th2 = Some(h.digest());
        Ok(out)
    }

    pub(super) fn vendor(
        &mut self,
        v: &spdm::VendorDefined<'_>,
        neg: &Negotiated,
    ) -> (MsgKind, Handled) {
        let (kind, payload) = match v.pci_sig_protocol() {
            Some(idekm::PROTOCOL_ID) => self.ide_km(v.payload),
            Some(tdisp::PROTOCOL_ID) => self.tdisp(v.payload),
            _ => return (MsgKind::Other, Err(ErrorCode::UnsupportedRequest)),
        };
        let out = payload.and_then(|p| {
            let p = self.spoil(p, kind);
            wire::vendor_response(&p, neg).map_err(|_| ErrorCode::Unspecified)
        });
        (kind, out)
    }
}
