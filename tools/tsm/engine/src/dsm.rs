// SPDX-License-Identifier: GPL-2.0

//! The emulated device security manager (DSM): an SPDM 1.2 responder with real crypto,
//! an IDE-KM responder with emulated key slots per stream, and a TDISP responder with
//! one TDI state machine per function (`tsm_proto::state`).
//!
//! Sans-IO: [`Dsm::handle`] takes one DOE data object (exactly what the guest wrote into
//! the DOE mailbox, as QEMU forwards it) and returns the response object plus how long
//! to wait before answering (the slow-response knob). The misbehaviour knobs of
//! [`Faults`] are applied here, so every transport gets them.
//!
//! Transcripts (DSP0274 1.2): VCA is GET_VERSION..ALGORITHMS; CHALLENGE_AUTH signs
//! `VCA || B || C` (B: digests and certificate exchanges, C: CHALLENGE and
//! CHALLENGE_AUTH before the signature); MEASUREMENTS signs `VCA || every measurement
//! exchange since the last signed one`; the session handshake follows
//! `tsm_proto::spdm::transcript`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use log::{debug, info, warn};
use tsm_proto::codec;
use tsm_proto::doe::{self, DataObject, SpdmKind};
use tsm_proto::idekm::{
    self, AddressAssociation, Direction, IdeKmMessage, KeySet, KpAck, KpAckStatus, QueryResp,
    SelectiveStreamHeader, StreamKey, SubStream,
};
use tsm_proto::report::{BarInfo, FirstPageUnit, InterfaceInfo, InterfaceReport, MsixLayout};
use tsm_proto::spdm::algo::{self, AlgStruct, AlgStructs, AlgType};
use tsm_proto::spdm::auth::{meas_attr, meas_op, MeasurementBlock};
use tsm_proto::spdm::auth_transcript::{AuthTranscript, Message};
use tsm_proto::spdm::transcript::{Point, SessionTranscript};
use tsm_proto::spdm::{
    self, Algorithms, Capabilities, CapabilityFlags, CertificateResponse, ChallengeAuth, Digests,
    ErrorCode, ErrorResponse, ExtendedError, KeyExchangeRsp, Measurements, Negotiated,
    VersionNumber, VersionResponse,
};
use tsm_proto::state::{self, HostEvent, TdiState};
use tsm_proto::tdisp::{
    self, DsmCapabilities, FunctionId, InterfaceId, LockInterfaceParams, MmioAttributes, MmioRange,
    RequestBody, RequestCode, ResponseBody, TdispError, VersionList,
};

use super::certs::Identity;
use super::crypto::{self, Ephemeral, Hasher, SessionSecrets, HASH_LEN};
use super::faults::{Faults, MsgKind};
use super::wire;

/// DataTransferSize and MaxSPDMmsgSize the DSM declares (no chunking).
pub const DATA_TRANSFER_SIZE: u32 = 4096;
/// Largest certificate or report portion the DSM sends in one response.
pub const MAX_PORTION: usize = 1024;
/// Junk appended by the oversize knob.
pub const OVERSIZE_JUNK: usize = 8192;

/// Static configuration of the emulated device.
#[derive(Debug, Clone)]
pub struct DsmConfig {
    /// Certificate chain and signing key.
    pub identity: Identity,
    /// Segment, bus and devfn of the DSM's function 0 (reported in IDE-KM QUERY_RESP).
    pub segment: u8,
    /// Bus of function 0.
    pub bus: u8,
    /// Devfn of function 0.
    pub devfn: u8,
    /// Functions hosting TDIs; empty accepts any INTERFACE_ID.
    pub functions: Vec<FunctionId>,
    /// The memory BARs of every TDI's function, as the host assigned them.
    pub bars: Vec<BarInfo>,
    /// The function's MSI-X layout.
    pub msix: Option<MsixLayout>,
    /// FIRST_PAGE unit of the reports this DSM writes.
    pub first_page_unit: FirstPageUnit,
    /// Number of selective IDE streams.
    pub ide_streams: u8,
    /// Misbehaviour knobs.
    pub faults: Faults,
}

/// What to send back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response data object.
    pub object: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

/// One emulated TDI.
#[derive(Debug, Clone)]
struct Tdi {
    state: TdiState,
    nonce: Option<[u8; tdisp::NONCE_LEN]>,
    lock: Option<LockInterfaceParams>,
}

/// Emulated IDE key slot state of one sub-stream/direction.
#[derive(Debug, Clone, Default)]
struct SlotPair {
    programmed: [bool; 2],
    active: Option<KeySet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SlotKey {
    stream: u8,
    tx: bool,
    sub: u8,
}

fn slot_key(k: &StreamKey) -> SlotKey {
    SlotKey {
        stream: k.stream_id,
        tx: k.selector.direction == Direction::Tx,
        sub: match k.selector.sub_stream {
            SubStream::Posted => 0,
            SubStream::NonPosted => 1,
            SubStream::Completion => 2,
        },
    }
}

fn ks_index(k: KeySet) -> usize {
    match k {
        KeySet::K0 => 0,
        KeySet::K1 => 1,
    }
}

/// The responder's view of a secured session.
struct Session {
    id: u32,
    secrets: SessionSecrets,
    key_exchange: Vec<u8>,
    key_exchange_rsp: Vec<u8>,
    established: bool,
}

/// Connection (VCA) state.
#[derive(Default)]
struct Conn {
    neg: Option<Negotiated>,
    version: Option<spdm::Version>,
    transcript: AuthTranscript,
    req_flags: CapabilityFlags,
    have_caps: bool,
}

/// The emulated DSM.
pub struct Dsm {
    cfg: DsmConfig,
    conn: Conn,
    session: Option<Session>,
    tdis: BTreeMap<u32, Tdi>,
    slots: BTreeMap<SlotKey, SlotPair>,
    changed: bool,
    pending_th2: Option<crypto::Digest48>,
}

fn rsp_flags() -> CapabilityFlags {
    CapabilityFlags::CERT
        .union(CapabilityFlags::CHAL)
        .union(CapabilityFlags::MEAS_SIG)
        .union(CapabilityFlags::ENCRYPT)
        .union(CapabilityFlags::MAC)
        .union(CapabilityFlags::KEY_EX)
}

/// `SSSS:BB:DD.F` of a function id (segment 0 if not valid).
pub fn bdf(f: FunctionId) -> String {
    let rid = f.requester_id();
    format!(
        "{:04x}:{:02x}:{:02x}.{}",
        f.segment().unwrap_or(0),
        rid >> 8,
        (rid >> 3) & 0x1f,
        rid & 7
    )
}

type Handled = Result<Vec<u8>, ErrorCode>;

impl Dsm {
    /// A DSM in its reset state.
    pub fn new(cfg: DsmConfig) -> Self {
        let mut tdis = BTreeMap::new();
        for f in &cfg.functions {
            tdis.insert(f.to_u32(), Tdi::new());
        }
        Self {
            cfg,
            conn: Conn::default(),
            session: None,
            tdis,
            slots: BTreeMap::new(),
            changed: true,
            pending_th2: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DsmConfig {
        &self.cfg
    }

    /// Whether the observable state changed since the last call (clears the flag).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The TDI state of a function, if the DSM knows it.
    pub fn tdi_state(&self, f: FunctionId) -> Option<TdiState> {
        self.tdis.get(&f.to_u32()).map(|t| t.state)
    }

    /// Whether a secured session is established.
    pub fn session_established(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.established)
    }

    /// Whether every key of `stream` (both directions, three sub-streams) is active.
    pub fn ide_stream_active(&self, stream: u8) -> bool {
        (0..6).all(|i| {
            let k = SlotKey {
                stream,
                tx: i >= 3,
                sub: i % 3,
            };
            self.slots.get(&k).is_some_and(|s| s.active.is_some())
        })
    }

    /// The observable state as `key=value` lines: `spdm=none|handshake|established`,
    /// `ide.stream<N>=idle|keys|active` and `tdi.<SSSS:BB:DD.F>=<STATE>`.
    pub fn snapshot(&self) -> String {
        let mut s = String::new();
        let spdm = match &self.session {
            None => "none",
            Some(x) if x.established => "established",
            Some(_) => "handshake",
        };
        let _ = writeln!(s, "spdm={spdm}");
        for stream in 0..self.cfg.ide_streams {
            let any = self.slots.iter().any(|(k, v)| {
                k.stream == stream && (v.programmed.iter().any(|p| *p) || v.active.is_some())
            });
            let st = if self.ide_stream_active(stream) {
                "active"
            } else if any {
                "keys"
            } else {
                "idle"
            };
            let _ = writeln!(s, "ide.stream{stream}={st}");
        }
        for (id, t) in &self.tdis {
            if let Ok(f) = FunctionId::from_u32(*id) {
                let _ = writeln!(s, "tdi.{}={}", bdf(f), t.state.name());
            }
        }
        s
    }

    /// A host event observed by the device (reset, FLR, ...), applied to every TDI.
    pub fn host_event(&mut self, event: HostEvent) {
        for (id, t) in self.tdis.iter_mut() {
            let next = state::dsm_on_host_event(t.state, event);
            if next != t.state {
                info!("tdi {:#x}: {:?} -> {:?} on {:?}", id, t.state, next, event);
                t.state = next;
                t.nonce = None;
                self.changed = true;
            }
        }
    }

    fn set_state(&mut self, f: FunctionId, next: TdiState) {
        if let Some(t) = self.tdis.get_mut(&f.to_u32()) {
            if t.state != next {
                info!(
                    "tdi_state function={} state={} (was {})",
                    bdf(f),
                    next.name(),
                    t.state.name()
                );
                t.state = next;
                self.changed = true;
            }
        }
    }

    /// Handles one DOE data object and returns the response object.
    pub fn handle(&mut self, object: &[u8]) -> Reply {
        let obj = match DataObject::decode(object) {
            Ok(o) => o,
            Err(e) => {
                warn!("undecodable DOE object ({} bytes): {e}", object.len());
                return self.plain_error(ErrorCode::InvalidRequest, MsgKind::Other);
            }
        };
        if obj.vendor_id == doe::PCI_SIG_VENDOR_ID && obj.object_type == doe::TYPE_DISCOVERY {
            return self.discovery(obj.payload);
        }
        match doe::unwrap_spdm(object) {
            Ok((SpdmKind::Plain, msg)) => self.plain(msg),
            Ok((SpdmKind::Secured, rec)) => self.secured(rec),
            Err(e) => {
                warn!("not an SPDM data object: {e}");
                self.plain_error(ErrorCode::UnsupportedRequest, MsgKind::Other)
            }
        }
    }

    fn discovery(&mut self, payload: &[u8]) -> Reply {
        let index = doe::DiscoveryRequest::decode(payload).map_or(0, |r| r.index);
        let (object_type, next_index) = match index {
            0 => (doe::TYPE_DISCOVERY, 1),
            1 => (doe::TYPE_CMA_SPDM, 2),
            _ => (doe::TYPE_SECURED_CMA_SPDM, 0),
        };
        let rsp = doe::DiscoveryResponse {
            vendor_id: doe::PCI_SIG_VENDOR_ID,
            object_type,
            next_index,
        };
        let mut p = [0u8; 4];
        let mut w = codec::Writer::new(&mut p);
        let _ = rsp.encode(&mut w);
        let mut out = vec![0u8; 12];
        let mut w = codec::Writer::new(&mut out);
        let _ = DataObject {
            vendor_id: doe::PCI_SIG_VENDOR_ID,
            object_type: doe::TYPE_DISCOVERY,
            payload: &p,
        }
        .encode(&mut w);
        Reply {
            object: out,
            delay: Duration::ZERO,
        }
    }

    fn neg(&self) -> Negotiated {
        self.conn
            .neg
            .unwrap_or_else(|| Negotiated::initial(self.conn.version.unwrap_or(spdm::Version::V12)))
    }

    fn error_msg(&self, code: ErrorCode) -> Vec<u8> {
        let e = spdm::Response::Error(ErrorResponse {
            code,
            data: 0,
            extended: ExtendedError::None,
        });
        let mut neg = self.neg();
        if self.conn.version.is_none() {
            neg = Negotiated::initial(spdm::Version::V12);
        }
        wire::spdm_response(&e, &neg).unwrap_or_default()
    }

    fn plain_error(&self, code: ErrorCode, kind: MsgKind) -> Reply {
        self.finish(SpdmKind::Plain, self.error_msg(code), kind)
    }

    /// Applies truncate/oversize, wraps, and picks the delay.
    fn spoil(&self, mut msg: Vec<u8>, kind: MsgKind) -> Vec<u8> {
        let f = &self.cfg.faults;
        if f.truncate == Some(kind) {
            warn!("fault: truncating the {kind} response");
            msg.truncate(msg.len() / 2);
        }
        if f.oversize == Some(kind) {
            warn!("fault: oversizing the {kind} response");
            msg.extend(std::iter::repeat_n(0xa5, OVERSIZE_JUNK));
        }
        msg
    }

    fn finish(&self, kind_obj: SpdmKind, msg: Vec<u8>, kind: MsgKind) -> Reply {
        let object = wire::doe_object(kind_obj, &msg).unwrap_or_default();
        Reply {
            object,
            delay: self.cfg.faults.delay_for(kind),
        }
    }

    fn plain(&mut self, msg: &[u8]) -> Reply {
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
            spdm::Request::GetMeasurements(m) => self.measurements(&m, &exact),
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

    fn session_lost(&mut self) {
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

    fn negotiated(&self) -> Result<Negotiated, ErrorCode> {
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

    fn sign(&self, neg: &Negotiated, context: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
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

    fn measurement_record(&self) -> Vec<u8> {
        // Index 1: firmware digest; index 2: the BAR layout digest (the device config).
        let fw = crypto::sha384(b"tsm-dsm emulated firmware 1.0");
        let mut cfg = Vec::new();
        for b in &self.cfg.bars {
            cfg.extend_from_slice(&b.base.to_le_bytes());
            cfg.extend_from_slice(&b.size.to_le_bytes());
        }
        let cfgd = crypto::sha384(&cfg);
        let mut out = Vec::new();
        for (i, (t, v)) in [(1u8, fw), (3u8, cfgd)].iter().enumerate() {
            let mut val = vec![0u8; 3 + HASH_LEN];
            let mut w = codec::Writer::new(&mut val);
            let _ = MeasurementBlock::encode_dmtf_value(
                &mut w,
                &spdm::auth::DmtfValue {
                    value_type: *t,
                    raw_bit_stream: false,
                    value: v,
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

    fn measurements(&mut self, m: &spdm::GetMeasurements, exact: &[u8]) -> Handled {
        let neg = self.negotiated()?;
        let record = self.measurement_record();
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
        if !signed {
            self.conn.transcript.record(Message::L, exact, &unsigned);
            return Ok(unsigned);
        }
        let mut h = Hasher::new();
        self.conn
            .transcript
            .feed_measurements(exact, &unsigned, &mut h);
        let sig = self.sign(&neg, crypto::context::MEASUREMENTS, &h.digest());
        rsp.signature = Some(&sig);
        wire::spdm_response(&spdm::Response::Measurements(rsp), &neg)
            .map_err(|_| ErrorCode::Unspecified)
    }

    fn key_exchange(&mut self, k: &spdm::KeyExchange<'_>, exact: &[u8]) -> Handled {
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
        let mut t = SessionTranscript {
            vca: &vca,
            cert_chain_hash: &chain_hash,
            key_exchange: exact,
            key_exchange_rsp: &draft,
            ..SessionTranscript::default()
        };
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
        });
        self.changed = true;
        Ok(out)
    }

    fn secured(&mut self, rec: &[u8]) -> Reply {
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
}

impl Dsm {
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
            vca: &vca,
            cert_chain_hash: ct,
            key_exchange: &sess.key_exchange,
            key_exchange_rsp: &sess.key_exchange_rsp,
            finish: exact,
            ..SessionTranscript::default()
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

    fn vendor(&mut self, v: &spdm::VendorDefined<'_>, neg: &Negotiated) -> (MsgKind, Handled) {
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

    fn ide_km(&mut self, payload: &[u8]) -> (MsgKind, Handled) {
        let msg = match IdeKmMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                warn!("bad IDE-KM object: {e}");
                return (MsgKind::Other, Err(ErrorCode::InvalidRequest));
            }
        };
        let (kind, rsp) = match msg {
            IdeKmMessage::Query(q) => {
                let regs = self.ide_regs();
                let r = match idekm::IdeRegs::parse(&regs) {
                    Ok(r) => r,
                    Err(_) => return (MsgKind::IdeQuery, Err(ErrorCode::Unspecified)),
                };
                let out = wire::idekm(&IdeKmMessage::QueryResp(QueryResp {
                    port_index: q.port_index,
                    dev_func: self.cfg.devfn,
                    bus: self.cfg.bus,
                    segment: self.cfg.segment,
                    max_port_index: 0,
                    regs: r,
                }));
                (MsgKind::IdeQuery, out)
            }
            IdeKmMessage::KeyProg(k) => {
                let status = if k.target.port_index != 0 {
                    KpAckStatus::UnsupportedPortIndex
                } else if k.target.stream_id >= self.cfg.ide_streams {
                    KpAckStatus::UnsupportedValue
                } else {
                    let slot = self.slots.entry(slot_key(&k.target)).or_default();
                    slot.programmed[ks_index(k.target.selector.key_set)] = true;
                    self.changed = true;
                    KpAckStatus::Success
                };
                debug!("KEY_PROG {:?}: {:?}", k.target, status);
                let out = wire::idekm(&IdeKmMessage::KpAck(KpAck {
                    target: k.target,
                    status,
                }));
                (MsgKind::KeyProg, out)
            }
            IdeKmMessage::KSetGo(t) => {
                let slot = self.slots.entry(slot_key(&t)).or_default();
                if slot.programmed[ks_index(t.selector.key_set)] {
                    slot.active = Some(t.selector.key_set);
                    self.changed = true;
                } else {
                    warn!("K_SET_GO for a key set never programmed: {t:?}");
                }
                (MsgKind::KSetGo, wire::idekm(&IdeKmMessage::KGoStopAck(t)))
            }
            IdeKmMessage::KSetStop(t) => {
                let was_active = self.ide_stream_active(t.stream_id);
                let slot = self.slots.entry(slot_key(&t)).or_default();
                if slot.active == Some(t.selector.key_set) {
                    slot.active = None;
                }
                slot.programmed[ks_index(t.selector.key_set)] = false;
                self.changed = true;
                if was_active && self.tdis.values().any(|x| x.state.is_locked()) {
                    info!("IDE stream {} stopped under locked TDIs", t.stream_id);
                    self.host_event(HostEvent::IdeOrSessionLost);
                }
                (MsgKind::KSetStop, wire::idekm(&IdeKmMessage::KGoStopAck(t)))
            }
            _ => return (MsgKind::Other, Err(ErrorCode::UnsupportedRequest)),
        };
        (kind, rsp.map_err(|_| ErrorCode::Unspecified))
    }

    fn ide_regs(&self) -> Vec<u8> {
        let n = self.cfg.ide_streams.max(1);
        let cap = idekm::IDE_CAP_SELECTIVE | idekm::IDE_CAP_IDE_KM | (u32::from(n - 1) << 16);
        let headers: Vec<SelectiveStreamHeader> = (0..n)
            .map(|i| {
                let active = self.ide_stream_active(i);
                SelectiveStreamHeader {
                    capability: 0,
                    control: (u32::from(i) << 24) | u32::from(active),
                    status: if active { 2 } else { 0 },
                    rid_association_1: 0,
                    rid_association_2: 0,
                }
            })
            .collect();
        let sel: Vec<(SelectiveStreamHeader, &[AddressAssociation])> =
            headers.iter().map(|h| (*h, &[][..])).collect();
        let mut out = vec![0u8; 8 + 20 * usize::from(n)];
        let mut w = codec::Writer::new(&mut out);
        let _ = idekm::write_ide_regs(&mut w, cap, 0, &[], &sel);
        let len = w.finish();
        out.truncate(len);
        out
    }

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

    fn tdisp(&mut self, payload: &[u8]) -> (MsgKind, Handled) {
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
                if let Some(t) = self.tdis.get_mut(&f.to_u32()) {
                    t.nonce = None;
                }
                self.set_state(f, tr.next);
                encode(ResponseBody::StartInterface)?
            }
            RequestBody::StopInterface => {
                if let Some(t) = self.tdis.get_mut(&f.to_u32()) {
                    t.nonce = None;
                    t.lock = None;
                }
                self.set_state(f, tr.next);
                encode(ResponseBody::StopInterface)?
            }
            _ => return Err((tdisp::ErrorCode::UnsupportedRequest, u32::from(code as u8))),
        };
        Ok(out)
    }

    /// The device interface report of a TDI locked with `mmio_offset`.
    pub fn report(&self, mmio_offset: u64) -> codec::Result<Vec<u8>> {
        let ranges = build_ranges(
            &self.cfg.bars,
            self.cfg.msix.as_ref(),
            mmio_offset,
            self.cfg.first_page_unit,
        );
        let mut out = vec![0u8; 32 + ranges.len() * tdisp::MMIO_RANGE_LEN];
        let mut w = codec::Writer::new(&mut out);
        let msix_ctl = self
            .cfg
            .msix
            .map_or(0, |m| m.table_entries.saturating_sub(1) & 0x7ff);
        InterfaceReport::write_parts(
            &mut w,
            InterfaceInfo::from_bits(InterfaceInfo::DMA_WITHOUT_PASID),
            msix_ctl,
            0,
            0,
            &ranges,
            &[],
        )?;
        let n = w.finish();
        out.truncate(n);
        Ok(out)
    }
}

impl Tdi {
    fn new() -> Self {
        Self {
            state: TdiState::ConfigUnlocked,
            nonce: None,
            lock: None,
        }
    }
}

/// Splits every BAR into page-granular MMIO ranges, flagging the pages holding the
/// MSI-X table and PBA, in BAR and address order, RANGE_ID = BAR index.
pub fn build_ranges(
    bars: &[BarInfo],
    msix: Option<&MsixLayout>,
    mmio_offset: u64,
    unit: FirstPageUnit,
) -> Vec<MmioRange> {
    const PAGE: u64 = 4096;
    let mut sorted: Vec<&BarInfo> = bars.iter().collect();
    sorted.sort_by_key(|b| b.index);
    let mut out = Vec::new();
    for b in sorted {
        let size = b.size.div_ceil(PAGE) * PAGE;
        let mut cuts = vec![0, size];
        let mut regions = Vec::new();
        if let Some(m) = msix {
            let pba_len = u64::from(m.table_entries).div_ceil(64) * 8;
            for (bar, off, len, flag) in [
                (
                    m.table_bar,
                    u64::from(m.table_offset),
                    u64::from(m.table_entries) * 16,
                    MmioAttributes::MSIX_TABLE,
                ),
                (
                    m.pba_bar,
                    u64::from(m.pba_offset),
                    pba_len,
                    MmioAttributes::MSIX_PBA,
                ),
            ] {
                if bar == b.index {
                    let s = off / PAGE * PAGE;
                    let e = (off + len).div_ceil(PAGE) * PAGE;
                    cuts.push(s.min(size));
                    cuts.push(e.min(size));
                    regions.push((s, e, flag));
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let &[s, e] = w else { continue };
            if e <= s {
                continue;
            }
            let flags = regions
                .iter()
                .filter(|(rs, re, _)| *rs < e && s < *re)
                .fold(0u16, |a, (_, _, f)| a | f);
            let addr = b.base.wrapping_add(s).wrapping_add(mmio_offset);
            let first_page = match unit {
                FirstPageUnit::ByteAddress => addr,
                FirstPageUnit::PageNumber => addr / PAGE,
            };
            out.push(MmioRange {
                first_page,
                number_of_pages: ((e - s) / PAGE) as u32,
                attributes: MmioAttributes::from_bits(flags),
                range_id: u16::from(b.index),
            });
        }
    }
    out
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

fn kind_of(r: &spdm::Request<'_>) -> MsgKind {
    match r {
        spdm::Request::GetVersion => MsgKind::Version,
        spdm::Request::GetCapabilities(_) => MsgKind::Capabilities,
        spdm::Request::NegotiateAlgorithms(_) => MsgKind::Algorithms,
        spdm::Request::GetDigests => MsgKind::Digests,
        spdm::Request::GetCertificate(_) => MsgKind::Certificate,
        spdm::Request::Challenge(_) => MsgKind::Challenge,
        spdm::Request::GetMeasurements(_) => MsgKind::Measurements,
        spdm::Request::KeyExchange(_) => MsgKind::KeyExchange,
        spdm::Request::Finish(_) => MsgKind::Finish,
        spdm::Request::EndSession(_) => MsgKind::EndSession,
        _ => MsgKind::Other,
    }
}
