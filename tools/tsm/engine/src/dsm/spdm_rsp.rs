// SPDX-License-Identifier: GPL-2.0

//! The DSM's SPDM responder for plain (unsecured) requests: VCA, digests, certificate,
//! CHALLENGE and MEASUREMENTS, with the authentication transcripts they sign.

use log::{debug, info, warn};
use tsm_proto::doe::SpdmKind;
use tsm_proto::spdm::algo::{self, AlgStruct, AlgStructs, AlgType};
use tsm_proto::spdm::auth::{meas_attr, meas_op, MeasurementBlock};
use tsm_proto::spdm::auth_transcript::Message;
use tsm_proto::spdm::{
    Algorithms, Capabilities, CertificateResponse, ChallengeAuth, Digests, ErrorCode, Measurements,
    Negotiated, VersionNumber, VersionResponse,
};
use tsm_proto::state::HostEvent;
use tsm_proto::{codec, spdm};

use super::{kind_of, rsp_flags, Conn, Dsm, Handled, Reply, DATA_TRANSFER_SIZE, MAX_PORTION};
use crate::crypto::Hasher;
use crate::faults::MsgKind;
use crate::{crypto, wire};

impl Dsm {
    pub(super) fn plain(&mut self, msg: &[u8]) -> Reply {
        let neg = self.neg();
        let (req, exact) = match wire::decode_request(msg, &neg) {
            Ok(r) => r,
            Err(e) => {
                // A GET_VERSION is always 1.0, whatever was negotiated.
                debug!("bad request: {e}");
                let code = if matches!(e, codec::Error::UnsupportedVersion { .. }) {
                    ErrorCode::VersionMismatch
                } else {
                    ErrorCode::InvalidRequest
                };
                return self.plain_error(code, MsgKind::Other);
            }
        };
        let exact = exact.to_vec();
        let kind = kind_of(&req);
        debug!("SPDM request {kind}");
        let out = match req {
            spdm::Request::GetVersion => Ok(self.get_version(&exact)),
            spdm::Request::GetCapabilities(c) => self.get_capabilities(&c, &exact),
            spdm::Request::NegotiateAlgorithms(a) => self.negotiate(&a, &exact),
            spdm::Request::GetDigests => self.get_digests(&exact),
            spdm::Request::GetCertificate(c) => self.get_certificate(&c, &exact),
            spdm::Request::Challenge(c) => self.challenge(&c, &exact),
            spdm::Request::GetMeasurements(m) => self.measurements(&m, &exact, false),
            spdm::Request::KeyExchange(k) => self.key_exchange(&k, &exact),
            spdm::Request::VendorDefined(_) | spdm::Request::Finish(_) => {
                Err(ErrorCode::SessionRequired)
            }
            _ => Err(ErrorCode::UnsupportedRequest),
        };
        let msg = match out {
            Ok(m) => self.spoil(m, kind),
            Err(code) => {
                debug!("SPDM {kind} -> ERROR {code:?}");
                self.error_msg(code)
            }
        };
        self.finish(SpdmKind::Plain, msg, kind)
    }

    fn get_version(&mut self, exact: &[u8]) -> Vec<u8> {
        // GET_VERSION resets the connection (DSP0274 §10.3) and so the session.
        if self.session.take().is_some() {
            info!("GET_VERSION: dropping the secured session");
            self.session_lost();
        }
        self.conn = Conn::default();
        let mut entries = Vec::new();
        entries.extend_from_slice(&VersionNumber::new(1, 2).to_bytes());
        let rsp = spdm::Response::Version(VersionResponse { entries: &entries });
        let out =
            wire::spdm_response(&rsp, &Negotiated::initial(spdm::Version::V12)).unwrap_or_default();
        self.conn.transcript.record(Message::Vca, exact, &out);
        self.conn.version = Some(spdm::Version::V12);
        self.changed = true;
        out
    }

    pub(super) fn session_lost(&mut self) {
        self.changed = true;
        self.host_event(HostEvent::IdeOrSessionLost);
    }

    fn get_capabilities(&mut self, c: &spdm::GetCapabilities, exact: &[u8]) -> Handled {
        if self.conn.version.is_none() || self.conn.have_caps {
            return Err(ErrorCode::UnexpectedRequest);
        }
        let rsp = spdm::Response::Capabilities(Capabilities {
            ct_exponent: 20,
            flags: rsp_flags(),
            data_transfer_size: DATA_TRANSFER_SIZE,
            max_spdm_msg_size: DATA_TRANSFER_SIZE,
            supported_algorithms: &[],
        });
        let out = wire::spdm_response(&rsp, &self.neg()).map_err(|_| ErrorCode::Unspecified)?;
        self.conn.req_flags = c.flags;
        self.conn.have_caps = true;
        self.conn.transcript.record(Message::Vca, exact, &out);
        Ok(out)
    }

    fn negotiate(&mut self, a: &spdm::NegotiateAlgorithms<'_>, exact: &[u8]) -> Handled {
        if !self.conn.have_caps || self.conn.neg.is_some() {
            return Err(ErrorCode::UnexpectedRequest);
        }
        if a.base_asym_algo & crypto::BASE_ASYM == 0 || a.base_hash_algo & crypto::BASE_HASH == 0 {
            warn!("NEGOTIATE_ALGORITHMS offers neither ECDSA P-384 nor SHA-384");
            return Err(ErrorCode::InvalidRequest);
        }
        // A requester that only authenticates (e.g. the kernel's CMA) offers no session
        // algorithms: select none of those, as DSP0274 allows.
        let offered =
            |t: AlgType, want: u16| a.alg_structs.find(t).map_or(0, |s| s.supported & want);
        let mut structs = Vec::new();
        for (t, v) in [
            (AlgType::Dhe, offered(AlgType::Dhe, crypto::DHE_GROUP)),
            (
                AlgType::AeadCipherSuite,
                offered(AlgType::AeadCipherSuite, crypto::AEAD_SUITE),
            ),
            (AlgType::ReqBaseAsymAlg, 0),
            (
                AlgType::KeySchedule,
                offered(AlgType::KeySchedule, algo::KEY_SCHEDULE_SPDM),
            ),
        ] {
            let s = AlgStruct {
                alg_type: t,
                supported: v,
                external: &[],
            };
            let mut b = [0u8; 4];
            let _ = s.encode(&mut codec::Writer::new(&mut b));
            structs.extend_from_slice(&b);
        }
        let alg = Algorithms {
            measurement_specification_sel: algo::MEASUREMENT_SPEC_DMTF,
            other_params_selection: a.other_params_support & algo::OPAQUE_DATA_FMT1,
            measurement_hash_algo: crypto::MEAS_HASH,
            base_asym_sel: crypto::BASE_ASYM,
            base_hash_sel: crypto::BASE_HASH,
            mel_specification_sel: 0,
            ext_asym_sel: &[],
            ext_hash_sel: &[],
            alg_structs: AlgStructs {
                count: 4,
                bytes: &structs,
            },
        };
        let version = self.conn.version.unwrap_or(spdm::Version::V12);
        let neg = Negotiated::from_algorithms(version, &alg, self.conn.req_flags, rsp_flags())
            .map_err(|_| ErrorCode::Unspecified)?;
        let out = wire::spdm_response(&spdm::Response::Algorithms(alg), &neg)
            .map_err(|_| ErrorCode::Unspecified)?;
        self.conn.neg = Some(neg);
        self.conn.transcript.record(Message::Vca, exact, &out);
        Ok(out)
    }

    pub(super) fn negotiated(&self) -> Result<Negotiated, ErrorCode> {
        self.conn.neg.ok_or(ErrorCode::UnexpectedRequest)
    }

    fn get_digests(&mut self, exact: &[u8]) -> Handled {
        let neg = self.negotiated()?;
        let d = crypto::sha384(&self.cfg.identity.spdm_chain);
        let rsp = spdm::Response::Digests(Digests {
            supported_slot_mask: 1,
            slot_mask: 1,
            digests: &d,
            key_pair_ids: &[],
            cert_infos: &[],
            key_usage_masks: &[],
        });
        let out = wire::spdm_response(&rsp, &neg).map_err(|_| ErrorCode::Unspecified)?;
        self.conn.transcript.record(Message::B, exact, &out);
        Ok(out)
    }

    fn get_certificate(&mut self, c: &spdm::GetCertificate, exact: &[u8]) -> Handled {
        let neg = self.negotiated()?;
        if c.slot_id != 0 {
            return Err(ErrorCode::InvalidRequest);
        }
        let chain = &self.cfg.identity.spdm_chain;
        let off = usize::from(c.offset);
        if off >= chain.len() {
            return Err(ErrorCode::InvalidRequest);
        }
        let n = usize::from(c.length)
            .min(MAX_PORTION)
            .min(chain.len() - off);
        let portion = chain.get(off..off + n).ok_or(ErrorCode::InvalidRequest)?;
        let remainder = u16::try_from(chain.len() - off - n).map_err(|_| ErrorCode::Unspecified)?;
        let rsp = spdm::Response::Certificate(CertificateResponse {
            slot_id: 0,
            attributes: 0,
            remainder_length: remainder,
            portion,
        });
        let out = wire::spdm_response(&rsp, &neg).map_err(|_| ErrorCode::Unspecified)?;
        self.conn.transcript.record(Message::B, exact, &out);
        Ok(out)
    }

    pub(super) fn sign(&self, neg: &Negotiated, context: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
        let m = crypto::signing_message(neg.version, context, transcript_hash);
        let mut sig = self.cfg.identity.leaf_key.sign(&m).to_vec();
        if self.cfg.faults.bad_signature {
            warn!("fault: corrupting the signature");
            if let Some(b) = sig.get_mut(10) {
                *b ^= 0x5a;
            }
        }
        sig
    }

    fn challenge(&mut self, c: &spdm::Challenge, exact: &[u8]) -> Handled {
        let mut neg = self.negotiated()?;
        if c.slot_id != 0 {
            return Err(ErrorCode::InvalidRequest);
        }
        neg.measurement_summary_hash = c.summary_hash_type != 0;
        let summary = vec![0u8; neg.summary_hash_len()];
        let chain_hash = crypto::sha384(&self.cfg.identity.spdm_chain);
        let nonce: [u8; spdm::NONCE_LEN] = crypto::random_array();
        let placeholder = vec![0u8; crypto::SIG_LEN];
        let mut m = ChallengeAuth {
            attributes: 0,
            slot_mask: 1,
            cert_chain_hash: &chain_hash,
            nonce,
            measurement_summary_hash: &summary,
            opaque: &[],
            requester_context: None,
            signature: &placeholder,
        };
        let unsigned = wire::spdm_response(&spdm::Response::ChallengeAuth(m), &neg)
            .map_err(|_| ErrorCode::Unspecified)?;
        let body = unsigned
            .get(..m.signature_offset())
            .ok_or(ErrorCode::Unspecified)?;
        let mut h = Hasher::new();
        self.conn
            .transcript
            .feed_challenge_auth(exact, body, &mut h);
        let sig = self.sign(&neg, crypto::context::CHALLENGE_AUTH, &h.digest());
        m.signature = &sig;
        wire::spdm_response(&spdm::Response::ChallengeAuth(m), &neg)
            .map_err(|_| ErrorCode::Unspecified)
    }

    /// The measurement blocks: index 1 the firmware (type 1, mutable firmware), index 2
    /// the BAR layout (type 3, firmware configuration); digests, or with `raw` the raw
    /// bit streams they digest (RawBitStreamRequested).
    fn measurement_record(&self, raw: bool) -> Vec<u8> {
        let fw = b"tsm-dsm emulated firmware 1.0".to_vec();
        let mut cfg = Vec::new();
        for b in &self.cfg.bars {
            cfg.extend_from_slice(&b.base.to_le_bytes());
            cfg.extend_from_slice(&b.size.to_le_bytes());
        }
        let mut out = Vec::new();
        for (i, (t, v)) in [(1u8, fw), (3u8, cfg)].iter().enumerate() {
            let v = match raw {
                true => v.clone(),
                false => crypto::sha384(v).to_vec(),
            };
            let mut val = vec![0u8; 3 + v.len()];
            let mut w = codec::Writer::new(&mut val);
            let _ = MeasurementBlock::encode_dmtf_value(
                &mut w,
                &spdm::auth::DmtfValue {
                    value_type: *t,
                    raw_bit_stream: raw,
                    value: &v,
                },
            );
            let block = MeasurementBlock {
                index: i as u8 + 1,
                spec: algo::MEASUREMENT_SPEC_DMTF,
                measurement: &val,
                dmtf: None,
            };
            let mut b = vec![0u8; 4 + val.len()];
            let _ = block.encode(&mut codec::Writer::new(&mut b));
            out.extend_from_slice(&b);
        }
        out
    }

    /// GET_MEASUREMENTS, in the clear or (`secured`) in the session, whose own
    /// transcript the signature then covers.
    pub(super) fn measurements(
        &mut self,
        m: &spdm::GetMeasurements,
        exact: &[u8],
        secured: bool,
    ) -> Handled {
        let neg = self.negotiated()?;
        let record =
            self.measurement_record(m.attributes & meas_attr::RAW_BIT_STREAM_REQUESTED != 0);
        let (count, record): (u8, &[u8]) = match m.operation {
            meas_op::TOTAL_NUMBER => (0, &[]),
            meas_op::ALL => (2, &record),
            _ => return Err(ErrorCode::InvalidRequest),
        };
        let signed = m.attributes & meas_attr::SIGNATURE_REQUESTED != 0;
        let nonce: [u8; spdm::NONCE_LEN] = crypto::random_array();
        let mut rsp = Measurements {
            param1: if m.operation == meas_op::TOTAL_NUMBER {
                2
            } else {
                0
            },
            param2: 0,
            record: spdm::MeasurementRecord {
                count,
                bytes: record,
            },
            nonce,
            opaque: &[],
            requester_context: None,
            signature: None,
        };
        let unsigned = wire::spdm_response(&spdm::Response::Measurements(rsp), &neg)
            .map_err(|_| ErrorCode::Unspecified)?;
        let transcript = match (secured, self.session.as_mut()) {
            (false, _) => &mut self.conn.transcript,
            (true, Some(s)) => &mut s.meas,
            (true, None) => return Err(ErrorCode::UnexpectedRequest),
        };
        if !signed {
            transcript.record(Message::L, exact, &unsigned);
            return Ok(unsigned);
        }
        let mut h = Hasher::new();
        transcript.feed_measurements(exact, &unsigned, &mut h);
        let sig = self.sign(&neg, crypto::context::MEASUREMENTS, &h.digest());
        rsp.signature = Some(&sig);
        wire::spdm_response(&spdm::Response::Measurements(rsp), &neg)
            .map_err(|_| ErrorCode::Unspecified)
    }
}
