// SPDX-License-Identifier: GPL-2.0

//! CONNECT: the SPDM requester (VCA, digests, certificate chain, CHALLENGE, signed
//! MEASUREMENTS, KEY_EXCHANGE/FINISH) and the IDE-KM key programming of one stream.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CPhase {
    Version,
    Caps,
    Algs,
    Digests,
    Cert,
    Challenge,
    Measurements,
    KeyExchange,
    Finish,
    IdeQuery,
    KeyProg(usize),
    KSetGo(usize),
    Done,
}

pub(super) struct ConnectOp {
    phase: CPhase,
    neg: Negotiated,
    transcript: AuthTranscript,
    rsp_flags: CapabilityFlags,
    digest: Vec<u8>,
    chain: Vec<u8>,
    leaf: Option<VerifyingKey>,
    last_req: Vec<u8>,
    eph: Option<Ephemeral>,
    req_session_id: u16,
    last_req_kx: Vec<u8>,
    key_exchange_rsp: Vec<u8>,
    handshake: Option<(u32, SessionSecrets)>,
}

pub(super) fn ide_target(stream_id: u8, i: usize) -> StreamKey {
    StreamKey {
        stream_id,
        selector: KeySelector {
            key_set: KeySet::K0,
            direction: if i < 3 { Direction::Rx } else { Direction::Tx },
            sub_stream: match i % 3 {
                0 => SubStream::Posted,
                1 => SubStream::NonPosted,
                _ => SubStream::Completion,
            },
        },
        port_index: 0,
    }
}

impl ConnectOp {
    pub(super) fn new() -> Self {
        Self {
            phase: CPhase::Version,
            neg: Negotiated::initial(Version::V12),
            transcript: AuthTranscript::new(),
            rsp_flags: CapabilityFlags::default(),
            digest: Vec::new(),
            chain: Vec::new(),
            leaf: None,
            last_req: Vec::new(),
            eph: None,
            req_session_id: 0,
            last_req_kx: Vec::new(),
            key_exchange_rsp: Vec::new(),
            handshake: None,
        }
    }

    pub(super) fn plain(&mut self, m: &spdm::Request<'_>) -> Result<Next, FwError> {
        let b = wire::spdm_request(m, &self.neg)?;
        self.last_req.clone_from(&b);
        Ok(Next::Plain(b))
    }

    pub(super) fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
        match self.phase {
            CPhase::Version => self.plain(&spdm::Request::GetVersion),
            CPhase::Caps => self.plain(&spdm::Request::GetCapabilities(spdm::GetCapabilities {
                param1: 0,
                ct_exponent: 20,
                flags: req_flags(),
                data_transfer_size: DATA_TRANSFER_SIZE,
                max_spdm_msg_size: DATA_TRANSFER_SIZE,
            })),
            CPhase::Algs => {
                let mut structs = Vec::new();
                for (t, v) in [
                    (AlgType::Dhe, crypto::DHE_GROUP),
                    (AlgType::AeadCipherSuite, crypto::AEAD_SUITE),
                    (AlgType::KeySchedule, algo::KEY_SCHEDULE_SPDM),
                ] {
                    let s = AlgStruct {
                        alg_type: t,
                        supported: v,
                        external: &[],
                    };
                    let mut b = [0u8; 4];
                    s.encode(&mut codec::Writer::new(&mut b))?;
                    structs.extend_from_slice(&b);
                }
                self.plain(&spdm::Request::NegotiateAlgorithms(
                    spdm::NegotiateAlgorithms {
                        measurement_specification: algo::MEASUREMENT_SPEC_DMTF,
                        other_params_support: algo::OPAQUE_DATA_FMT1,
                        base_asym_algo: crypto::BASE_ASYM,
                        base_hash_algo: crypto::BASE_HASH,
                        mel_specification: 0,
                        ext_asym: &[],
                        ext_hash: &[],
                        alg_structs: AlgStructs {
                            count: 3,
                            bytes: &structs,
                        },
                    },
                ))
            }
            CPhase::Digests => self.plain(&spdm::Request::GetDigests),
            CPhase::Cert => {
                let offset = u16::try_from(self.chain.len())
                    .map_err(|_| FwError::Protocol("chain too long"))?;
                self.plain(&spdm::Request::GetCertificate(spdm::GetCertificate {
                    slot_id: 0,
                    attributes: 0,
                    offset,
                    length: PORTION,
                }))
            }
            CPhase::Challenge => self.plain(&spdm::Request::Challenge(spdm::Challenge {
                slot_id: 0,
                summary_hash_type: 0,
                nonce: crypto::random_array(),
                requester_context: None,
            })),
            CPhase::Measurements => {
                self.plain(&spdm::Request::GetMeasurements(spdm::GetMeasurements {
                    attributes: meas_attr::SIGNATURE_REQUESTED,
                    operation: meas_op::ALL,
                    signed: Some(SignedMeasurementRequest {
                        nonce: crypto::random_array(),
                        slot_id: 0,
                    }),
                    requester_context: None,
                }))
            }
            CPhase::KeyExchange => {
                let eph = Ephemeral::generate();
                let ex = eph.exchange_data();
                self.eph = Some(eph);
                self.req_session_id = u16::from_le_bytes(crypto::random_array()) | 0x8000;
                let opaque = wire::secured_version_opaque(false);
                self.plain(&spdm::Request::KeyExchange(spdm::KeyExchange {
                    summary_hash_type: 0,
                    slot_id: 0,
                    req_session_id: self.req_session_id,
                    session_policy: 0,
                    random: crypto::random_array(),
                    exchange_data: &ex,
                    opaque: &opaque,
                }))
            }
            CPhase::Finish => {
                let (id, secrets) = self
                    .handshake
                    .as_mut()
                    .ok_or(FwError::State("no handshake"))?;
                let placeholder = [0u8; HASH_LEN];
                let draft = wire::spdm_request(
                    &spdm::Request::Finish(spdm::Finish {
                        req_slot_id: 0,
                        signature: None,
                        verify_data: &placeholder,
                    }),
                    &self.neg,
                )?;
                let chain_hash = crypto::sha384(&self.chain);
                let vca = [self.transcript.vca()];
                let t = SessionTranscript {
                    vca: &vca,
                    cert_chain_hash: &chain_hash,
                    key_exchange: &self.last_req_kx,
                    key_exchange_rsp: &self.key_exchange_rsp,
                    finish: &draft,
                    ..SessionTranscript::default()
                };
                let mut h = Hasher::new();
                t.feed(Point::FinishHmac, &self.neg, &mut h)?;
                let vd = crypto::hmac(secrets.req_finished_key(), &h.digest());
                let fin = wire::spdm_request(
                    &spdm::Request::Finish(spdm::Finish {
                        req_slot_id: 0,
                        signature: None,
                        verify_data: &vd,
                    }),
                    &self.neg,
                )?;
                self.last_req.clone_from(&fin);
                let rec = secrets.req.seal(*id, &fin)?;
                Ok(Next::Secured(rec))
            }
            CPhase::IdeQuery => {
                let q = wire::idekm(&IdeKmMessage::Query(idekm::Query { port_index: 0 }))?;
                vendor_req(dev, &q)
            }
            CPhase::KeyProg(i) => {
                let key: [u8; idekm::KEY_LEN] = crypto::random_array();
                let ifv: [u8; idekm::IFV_LEN] = crypto::random_array();
                let m = wire::idekm(&IdeKmMessage::KeyProg(KeyProg {
                    target: ide_target(dev.stream_id, i),
                    material: KeyMaterial {
                        key: &key,
                        ifv: &ifv,
                    },
                }))?;
                // The platform would program the root port's matching key here; the
                // IDE registers are emulated, so the key only goes to the device.
                vendor_req(dev, &m)
            }
            CPhase::KSetGo(i) => {
                let m = wire::idekm(&IdeKmMessage::KSetGo(ide_target(dev.stream_id, i)))?;
                vendor_req(dev, &m)
            }
            CPhase::Done => {
                dev.ide_active = true;
                info!("connected: session and IDE stream {} up", dev.stream_id);
                Ok(Next::Done(Vec::new()))
            }
        }
    }

    pub(super) fn response(
        &mut self,
        dev: &mut Device,
        cfg: &FwConfig,
        payload: &[u8],
    ) -> Result<(), FwError> {
        debug!("connect: response in {:?}", self.phase);
        self.phase = match self.phase {
            CPhase::Version => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::Version(v) = r else {
                    return Err(FwError::Protocol("expected VERSION"));
                };
                if v.highest_common(&[Version::V12]) != Some(Version::V12) {
                    return Err(FwError::Negotiation("device does not speak SPDM 1.2"));
                }
                self.transcript.record(Message::Vca, &self.last_req, exact);
                CPhase::Caps
            }
            CPhase::Caps => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::Capabilities(c) = r else {
                    return Err(FwError::Protocol("expected CAPABILITIES"));
                };
                let need = CapabilityFlags::CERT
                    .union(CapabilityFlags::CHAL)
                    .union(CapabilityFlags::ENCRYPT)
                    .union(CapabilityFlags::MAC)
                    .union(CapabilityFlags::KEY_EX);
                if !c.flags.contains(need) {
                    return Err(FwError::Negotiation(
                        "device lacks CERT/CHAL/KEY_EX/ENCRYPT/MAC",
                    ));
                }
                self.rsp_flags = c.flags;
                self.transcript.record(Message::Vca, &self.last_req, exact);
                CPhase::Algs
            }
            CPhase::Algs => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::Algorithms(a) = r else {
                    return Err(FwError::Protocol("expected ALGORITHMS"));
                };
                if a.base_asym_sel != crypto::BASE_ASYM
                    || a.base_hash_sel != crypto::BASE_HASH
                    || a.dhe_sel() != crypto::DHE_GROUP
                    || a.aead_sel() != crypto::AEAD_SUITE
                {
                    return Err(FwError::Negotiation(
                        "device did not select the P-384 suite",
                    ));
                }
                self.neg =
                    Negotiated::from_algorithms(Version::V12, &a, req_flags(), self.rsp_flags)?;
                self.transcript.record(Message::Vca, &self.last_req, exact);
                CPhase::Digests
            }
            CPhase::Digests => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::Digests(d) = r else {
                    return Err(FwError::Protocol("expected DIGESTS"));
                };
                if d.slot_mask & 1 == 0 {
                    return Err(FwError::Protocol("no certificate in slot 0"));
                }
                self.digest = d
                    .iter(HASH_LEN)
                    .next()
                    .ok_or(FwError::Protocol("no digest"))?
                    .to_vec();
                self.transcript.record(Message::B, &self.last_req, exact);
                CPhase::Cert
            }
            CPhase::Cert => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::Certificate(c) = r else {
                    return Err(FwError::Protocol("expected CERTIFICATE"));
                };
                if c.slot_id != 0 || c.portion.len() > usize::from(PORTION) {
                    return Err(FwError::Protocol("bad CERTIFICATE portion"));
                }
                if c.portion.is_empty() && c.remainder_length != 0 {
                    return Err(FwError::Protocol("empty CERTIFICATE portion"));
                }
                self.chain.extend_from_slice(c.portion);
                if self.chain.len() + usize::from(c.remainder_length) > MAX_CHAIN {
                    return Err(FwError::Protocol("certificate chain too long"));
                }
                self.transcript.record(Message::B, &self.last_req, exact);
                if c.remainder_length != 0 {
                    CPhase::Cert
                } else {
                    if crypto::sha384(&self.chain).as_slice() != self.digest.as_slice() {
                        return Err(FwError::Protocol(
                            "certificate chain does not match DIGESTS",
                        ));
                    }
                    self.leaf = Some(certs::verify_chain(&self.chain, &cfg.trust_anchor)?);
                    info!("certificate chain verified ({} bytes)", self.chain.len());
                    CPhase::Challenge
                }
            }
            CPhase::Challenge => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::ChallengeAuth(c) = r else {
                    return Err(FwError::Protocol("expected CHALLENGE_AUTH"));
                };
                if c.cert_chain_hash != crypto::sha384(&self.chain).as_slice() {
                    return Err(FwError::Protocol("CHALLENGE_AUTH names another chain"));
                }
                let body = exact
                    .get(..c.signature_offset())
                    .ok_or(FwError::Protocol("CHALLENGE_AUTH too short"))?;
                let mut h = Hasher::new();
                self.transcript
                    .feed_challenge_auth(&self.last_req, body, &mut h);
                let m = crypto::signing_message(
                    self.neg.version,
                    crypto::context::CHALLENGE_AUTH,
                    &h.digest(),
                );
                let leaf = self.leaf.as_ref().ok_or(FwError::State("no leaf key"))?;
                crypto::verify(leaf, &m, c.signature)?;
                info!("CHALLENGE_AUTH verified");
                CPhase::Measurements
            }
            CPhase::Measurements => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::Measurements(m) = r else {
                    return Err(FwError::Protocol("expected MEASUREMENTS"));
                };
                m.record.validate()?;
                let sig = m
                    .signature
                    .ok_or(FwError::Protocol("MEASUREMENTS not signed"))?;
                let body = exact
                    .get(..exact.len().saturating_sub(sig.len()))
                    .ok_or(FwError::Protocol("MEASUREMENTS too short"))?;
                let mut h = Hasher::new();
                self.transcript
                    .feed_measurements(&self.last_req, body, &mut h);
                let msg = crypto::signing_message(
                    self.neg.version,
                    crypto::context::MEASUREMENTS,
                    &h.digest(),
                );
                let leaf = self.leaf.as_ref().ok_or(FwError::State("no leaf key"))?;
                crypto::verify(leaf, &msg, sig)?;
                info!("{} signed measurement blocks verified", m.record.count);
                CPhase::KeyExchange
            }
            CPhase::KeyExchange => {
                let (r, exact) = plain_response(payload, &self.neg)?;
                let spdm::Response::KeyExchangeRsp(k) = r else {
                    return Err(FwError::Protocol("expected KEY_EXCHANGE_RSP"));
                };
                if !wire::opaque_names_version_10(k.opaque) {
                    return Err(FwError::Negotiation("no secured message version selected"));
                }
                self.last_req_kx = self.last_req.clone();
                let chain_hash = crypto::sha384(&self.chain);
                let vca = [self.transcript.vca()];
                let t = SessionTranscript {
                    vca: &vca,
                    cert_chain_hash: &chain_hash,
                    key_exchange: &self.last_req_kx,
                    key_exchange_rsp: exact,
                    ..SessionTranscript::default()
                };
                let mut h = Hasher::new();
                t.feed(Point::KeyExchangeRspSignature, &self.neg, &mut h)?;
                let m = crypto::signing_message(
                    self.neg.version,
                    crypto::context::KEY_EXCHANGE_RSP,
                    &h.digest(),
                );
                let leaf = self.leaf.as_ref().ok_or(FwError::State("no leaf key"))?;
                crypto::verify(leaf, &m, k.signature)?;
                let mut h = Hasher::new();
                t.feed(Point::Th1, &self.neg, &mut h)?;
                let th1 = h.digest();
                let eph = self.eph.take().ok_or(FwError::State("no ephemeral key"))?;
                let dhe = eph.shared_secret(k.exchange_data)?;
                let secrets = SessionSecrets::handshake(self.neg.version, &dhe, &th1)?;
                crypto::hmac_verify(secrets.rsp_finished_key(), &th1, k.verify_data)?;
                self.key_exchange_rsp = exact.to_vec();
                let id = tsm_proto::secured::session_id(self.req_session_id, k.rsp_session_id);
                self.handshake = Some((id, secrets));
                CPhase::Finish
            }
            CPhase::Finish => {
                let (id, mut secrets) = self
                    .handshake
                    .take()
                    .ok_or(FwError::State("no handshake"))?;
                let (sid, app) = secrets.rsp.open(payload).map_err(|e| match e {
                    codec::Error::InvalidField {
                        field: "secured.mac",
                        ..
                    } => FwError::Crypto(CryptoError::BadTag),
                    other => FwError::Codec(other),
                })?;
                if sid != id {
                    return Err(FwError::Protocol("FINISH_RSP for another session"));
                }
                let (r, exact) = wire::decode_response(&app, &self.neg)?;
                match r {
                    spdm::Response::FinishRsp(_) => {}
                    spdm::Response::Error(e) => return Err(FwError::SpdmError(e.code)),
                    _ => return Err(FwError::Protocol("expected FINISH_RSP")),
                }
                let chain_hash = crypto::sha384(&self.chain);
                let vca = [self.transcript.vca()];
                let t = SessionTranscript {
                    vca: &vca,
                    cert_chain_hash: &chain_hash,
                    key_exchange: &self.last_req_kx,
                    key_exchange_rsp: &self.key_exchange_rsp,
                    finish: &self.last_req,
                    finish_rsp: exact,
                    ..SessionTranscript::default()
                };
                let mut h = Hasher::new();
                t.feed(Point::Th2, &self.neg, &mut h)?;
                secrets.to_data_phase(&h.digest())?;
                info!("secured session {id:#010x} established");
                dev.spdm = Some(Spdm {
                    neg: self.neg,
                    session: Some(ReqSession { id, secrets }),
                });
                CPhase::IdeQuery
            }
            CPhase::IdeQuery => {
                let p = vendor_rsp(dev, payload, idekm::PROTOCOL_ID)?;
                match IdeKmMessage::decode(&p)? {
                    IdeKmMessage::QueryResp(q) => {
                        let regs = q.regs;
                        if regs.capability() & idekm::IDE_CAP_IDE_KM == 0 {
                            return Err(FwError::IdeKm("device does not support IDE-KM"));
                        }
                        if regs.selective_stream_count() <= usize::from(dev.stream_id) {
                            return Err(FwError::IdeKm("no such selective IDE stream"));
                        }
                    }
                    _ => return Err(FwError::IdeKm("expected QUERY_RESP")),
                }
                CPhase::KeyProg(0)
            }
            CPhase::KeyProg(i) => {
                let p = vendor_rsp(dev, payload, idekm::PROTOCOL_ID)?;
                match IdeKmMessage::decode(&p)? {
                    IdeKmMessage::KpAck(a) if a.target == ide_target(dev.stream_id, i) => {
                        if a.status != KpAckStatus::Success {
                            return Err(FwError::IdeKm("KEY_PROG refused"));
                        }
                    }
                    _ => return Err(FwError::IdeKm("expected KP_ACK for the key sent")),
                }
                if i + 1 < 6 {
                    CPhase::KeyProg(i + 1)
                } else {
                    CPhase::KSetGo(0)
                }
            }
            CPhase::KSetGo(i) => {
                let p = vendor_rsp(dev, payload, idekm::PROTOCOL_ID)?;
                match IdeKmMessage::decode(&p)? {
                    IdeKmMessage::KGoStopAck(t) if t == ide_target(dev.stream_id, i) => {}
                    _ => return Err(FwError::IdeKm("expected K_GOSTOP_ACK for the key set")),
                }
                if i + 1 < 6 {
                    CPhase::KSetGo(i + 1)
                } else {
                    CPhase::Done
                }
            }
            CPhase::Done => return Err(FwError::State("response after completion")),
        };
        Ok(())
    }
}
