// SPDX-License-Identifier: GPL-2.0

//! CONNECT: the SPDM requester (VCA, digests, certificate chain, CHALLENGE, signed
//! MEASUREMENTS, KEY_EXCHANGE/FINISH), then the IDE-KM key programming of one stream
//! (`ide_km`).

use log::{debug, info};
use p384::ecdsa::VerifyingKey;
use tsm_proto::spdm::algo::{self, AlgStruct, AlgStructs, AlgType};
use tsm_proto::spdm::auth::{meas_attr, meas_op, SignedMeasurementRequest};
use tsm_proto::spdm::auth_transcript::{AuthTranscript, Message};
use tsm_proto::spdm::transcript::{Point, SessionTranscript};
use tsm_proto::spdm::{CapabilityFlags, Negotiated, Version};
use tsm_proto::{codec, spdm};

use super::ide_km::IdeStep;
use super::meas_op::verify_measurements;
use super::session::{plain_response, req_flags};
use super::{
    Device, FwConfig, FwError, Next, ReqSession, Spdm, DATA_TRANSFER_SIZE, MAX_CHAIN, PORTION,
};
use crate::crypto::{CryptoError, Digest48, Ephemeral, Hasher, SessionSecrets, HASH_LEN};
use crate::{certs, crypto, wire};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CPhase {
    Version,
    Caps,
    Algs,
    Digests,
    Cert,
    Challenge,
    Measurements,
    KeyExchange,
    Finish,
    Ide(IdeStep),
    /// The certificate chain is in and its digest checked; the op waits for the leaf
    /// key from outside ([`ConnectOp::resume_with_key`]) before CHALLENGE.
    KeyWait,
    Done,
}

/// Which parts of CONNECT an op runs.
///
/// The software firmware runs everything in one go and trusts a device whose chain
/// verifies against its trust anchor. A firmware that, like the CCA RMM, has the host
/// verify the chain and hand back the leaf key pauses after the chain
/// ([`ConnectOp::certificates`] then [`ConnectOp::resume_with_key`]) and keys the IDE
/// stream in a separate step ([`ConnectOp::ide_only`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// After the chain: stop at [`CPhase::KeyWait`] instead of verifying it against the
    /// trust anchor.
    pause_for_key: bool,
    /// After the session: key the IDE stream.
    ide: bool,
}

pub(super) struct ConnectOp {
    plan: Plan,
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

impl ConnectOp {
    /// The whole CONNECT: SPDM with the chain verified against the trust anchor, the
    /// session, then IDE-KM.
    pub(super) fn new() -> Self {
        Self::with_plan(
            Plan {
                pause_for_key: false,
                ide: true,
            },
            CPhase::Version,
        )
    }

    /// VCA, digests and the certificate chain (its digest checked, not its trust), then
    /// done until [`Self::resume_with_key`] continues with CHALLENGE, MEASUREMENTS and
    /// the session; no IDE-KM.
    pub(super) fn certificates() -> Self {
        Self::with_plan(
            Plan {
                pause_for_key: true,
                ide: false,
            },
            CPhase::Version,
        )
    }

    /// VCA, the certificate chain verified against the trust anchor, CHALLENGE,
    /// MEASUREMENTS and the session, without IDE-KM (a firmware that keys its streams
    /// in a separate call, as the TDX module's IDE.STREAM.KM).
    pub(super) fn session_only() -> Self {
        Self::with_plan(
            Plan {
                pause_for_key: false,
                ide: false,
            },
            CPhase::Version,
        )
    }

    /// Only the IDE-KM key programming, over the session already in the device record.
    pub(super) fn ide_only() -> Self {
        Self::with_plan(
            Plan {
                pause_for_key: false,
                ide: true,
            },
            CPhase::Ide(IdeStep::Query),
        )
    }

    /// Continues an op paused after the certificate chain, with the leaf `key` the
    /// device's signatures must verify by. Anywhere else it is a state error.
    pub(super) fn resume_with_key(&mut self, key: VerifyingKey) -> Result<(), FwError> {
        if self.phase != CPhase::KeyWait {
            return Err(FwError::State("not waiting for the device key"));
        }
        self.leaf = Some(key);
        self.phase = CPhase::Challenge;
        Ok(())
    }

    /// Whether the op is paused for the leaf key.
    pub(super) fn waits_for_key(&self) -> bool {
        self.phase == CPhase::KeyWait
    }

    /// The certificate chain received so far (SPDM chain format).
    pub(super) fn chain(&self) -> &[u8] {
        &self.chain
    }

    /// The VCA transcript so far (GET_VERSION .. ALGORITHMS, requests and responses).
    pub(super) fn vca(&self) -> &[u8] {
        self.transcript.vca()
    }

    fn with_plan(plan: Plan, phase: CPhase) -> Self {
        Self {
            plan,
            phase,
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

    /// Verifies the responder's `signature` by the leaf key of its chain over the
    /// signing message of `context`, whose transcript hash `feed` builds from the
    /// authentication transcript and the last request.
    fn verify_signed(
        &mut self,
        context: &[u8],
        signature: &[u8],
        feed: impl FnOnce(&mut AuthTranscript, &[u8], &mut Hasher),
    ) -> Result<(), FwError> {
        let mut h = Hasher::new();
        feed(&mut self.transcript, &self.last_req, &mut h);
        let m = crypto::signing_message(self.neg.version, context, &h.digest());
        let leaf = self.leaf.as_ref().ok_or(FwError::State("no leaf key"))?;
        crypto::verify(leaf, &m, signature)?;
        Ok(())
    }

    /// The hash of the session transcript at `point`: VCA, the chain, KEY_EXCHANGE,
    /// `key_exchange_rsp`, then `finish` and `finish_rsp` (empty until exchanged).
    fn session_digest(
        &self,
        point: Point,
        key_exchange_rsp: &[u8],
        finish: &[u8],
        finish_rsp: &[u8],
    ) -> Result<Digest48, FwError> {
        let chain_hash = crypto::sha384(&self.chain);
        let vca = [self.transcript.vca()];
        let t = SessionTranscript {
            finish,
            finish_rsp,
            ..SessionTranscript::handshake(&vca, &chain_hash, &self.last_req_kx, key_exchange_rsp)
        };
        let mut h = Hasher::new();
        t.feed(point, &self.neg, &mut h)?;
        Ok(h.digest())
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
                if self.handshake.is_none() {
                    return Err(FwError::State("no handshake"));
                }
                let neg = self.neg;
                let finish = |verify_data: &[u8]| {
                    wire::spdm_request(
                        &spdm::Request::Finish(spdm::Finish {
                            req_slot_id: 0,
                            signature: None,
                            verify_data,
                        }),
                        &neg,
                    )
                };
                let draft = finish(&[0u8; HASH_LEN])?;
                let th =
                    self.session_digest(Point::FinishHmac, &self.key_exchange_rsp, &draft, &[])?;
                let (id, secrets) = self
                    .handshake
                    .as_mut()
                    .ok_or(FwError::State("no handshake"))?;
                let fin = finish(&crypto::hmac(secrets.req_finished_key(), &th))?;
                self.last_req.clone_from(&fin);
                let rec = secrets.req.seal(*id, &fin)?;
                Ok(Next::Secured(rec))
            }
            CPhase::Ide(step) => step.request(dev),
            CPhase::KeyWait => Ok(Next::Done(Vec::new())),
            CPhase::Done => {
                if self.plan.ide {
                    dev.ide_active = true;
                    info!("connected: IDE stream {} up", dev.stream_id);
                }
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
                    if self.plan.pause_for_key {
                        info!("certificate chain received ({} bytes)", self.chain.len());
                        CPhase::KeyWait
                    } else {
                        self.leaf = Some(certs::verify_chain(&self.chain, &cfg.trust_anchor)?);
                        info!("certificate chain verified ({} bytes)", self.chain.len());
                        CPhase::Challenge
                    }
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
                self.verify_signed(crypto::context::CHALLENGE_AUTH, c.signature, |t, req, h| {
                    t.feed_challenge_auth(req, body, h)
                })?;
                info!("CHALLENGE_AUTH verified");
                CPhase::Measurements
            }
            CPhase::Measurements => {
                let leaf = self.leaf.as_ref().ok_or(FwError::State("no leaf key"))?;
                let (n, _) = verify_measurements(
                    &self.neg,
                    leaf,
                    &mut self.transcript,
                    &self.last_req,
                    payload,
                )?;
                info!("{n} signed measurement blocks verified");
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
                let signed =
                    self.session_digest(Point::KeyExchangeRspSignature, exact, &[], &[])?;
                let m = crypto::signing_message(
                    self.neg.version,
                    crypto::context::KEY_EXCHANGE_RSP,
                    &signed,
                );
                let leaf = self.leaf.as_ref().ok_or(FwError::State("no leaf key"))?;
                crypto::verify(leaf, &m, k.signature)?;
                let th1 = self.session_digest(Point::Th1, exact, &[], &[])?;
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
                let th2 =
                    self.session_digest(Point::Th2, &self.key_exchange_rsp, &self.last_req, exact)?;
                secrets.to_data_phase(&th2)?;
                info!("secured session {id:#010x} established");
                let leaf = self.leaf.ok_or(FwError::State("no leaf key"))?;
                dev.spdm = Some(Spdm {
                    neg: self.neg,
                    session: Some(ReqSession {
                        id,
                        secrets,
                        response_maybe_lost: false,
                        leaf,
                        meas: self.transcript.for_session(),
                    }),
                });
                if self.plan.ide {
                    CPhase::Ide(IdeStep::Query)
                } else {
                    CPhase::Done
                }
            }
            CPhase::Ide(step) => match step.response(dev, payload)? {
                Some(next) => CPhase::Ide(next),
                None => CPhase::Done,
            },
            CPhase::KeyWait | CPhase::Done => {
                return Err(FwError::State("response after completion"))
            }
        };
        Ok(())
    }
}
