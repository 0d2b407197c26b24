// SPDX-License-Identifier: GPL-2.0

//! The software TSM firmware: the requester side of SPDM, IDE-KM and TDISP, as a sans-IO
//! state machine.
//!
//! The firmware never touches a device. Every step of every command either asks the
//! kernel for one DOE exchange ([`Output::SendDoe`]) or ends the command
//! ([`Output::Done`] / [`Output::Failed`]); the kernel answers with the response payload
//! or a transport error ([`Input::DoeResponse`]). This is the relay loop shared with the
//! real platform firmwares (TDX module, AMD PSP, CCA RMM).
//!
//! Commands:
//! - CONNECT: SPDM VCA, digests, certificate chain (verified against the trust anchor),
//!   CHALLENGE, signed MEASUREMENTS, KEY_EXCHANGE/FINISH, then IDE-KM QUERY, KEY_PROG of
//!   the six keys of the selective stream (RX/TX x PR/NPR/CPL, key set 0) and K_SET_GO;
//! - DISCONNECT: K_SET_STOP of the six keys, END_SESSION;
//! - BIND: TDISP version, capabilities, LOCK_INTERFACE, the interface report (assembled
//!   and validated against the function's BARs);
//! - GUEST_REQ: report fetch (re-validated), START_INTERFACE, interface state;
//! - UNBIND: STOP_INTERFACE.
//!
//! A TDISP_ERROR answer is followed by GET_DEVICE_INTERFACE_STATE, so the failure
//! reports the state the device is really in.

use std::collections::BTreeMap;

use log::{debug, info, warn};
use p384::ecdsa::VerifyingKey;
use tsm_proto::codec;
use tsm_proto::doe;
use tsm_proto::idekm::{
    self, Direction, IdeKmMessage, KeyMaterial, KeyProg, KeySelector, KeySet, KpAckStatus,
    StreamKey, SubStream,
};
use tsm_proto::report::{
    self, BarInfo, FirstPageUnit, InterfaceReport, MsixLayout, Progress, ReportAssembler,
    ReportError, ValidationParams,
};
use tsm_proto::spdm::algo::{self, AlgStruct, AlgStructs, AlgType};
use tsm_proto::spdm::auth::{meas_attr, meas_op, SignedMeasurementRequest};
use tsm_proto::spdm::auth_transcript::{AuthTranscript, Message};
use tsm_proto::spdm::transcript::{Point, SessionTranscript};
use tsm_proto::spdm::{self, CapabilityFlags, ErrorCode, Negotiated, Version};
use tsm_proto::state::{self, TdiState};
use tsm_proto::tdisp::{
    self, FunctionId, InterfaceId, LockFlags, LockInterfaceParams, RequestBody, RequestCode,
    ResponseBody,
};

use super::certs::{self, CertError};
use super::crypto::{self, CryptoError, Ephemeral, Hasher, SessionSecrets, HASH_LEN};
use super::wire;

/// DataTransferSize the firmware declares and enforces on responses.
pub const DATA_TRANSFER_SIZE: u32 = 4096;
/// Largest DOE response payload accepted: DataTransferSize plus the secured record
/// overhead and DOE padding.
pub const MAX_RESPONSE: usize = DATA_TRANSFER_SIZE as usize + 32;
/// Largest certificate chain accepted.
pub const MAX_CHAIN: usize = 0xffff;
/// Largest interface report accepted.
pub const MAX_REPORT: usize = 0xffff;
/// Portion size asked for in GET_CERTIFICATE and GET_DEVICE_INTERFACE_REPORT.
pub const PORTION: u16 = 1024;

/// A device (its DSM, function 0) as the kernel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevId {
    /// PCI segment.
    pub segment: u16,
    /// Bus.
    pub bus: u8,
    /// Device and function.
    pub devfn: u8,
}

impl std::fmt::Display for DevId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{}",
            self.segment,
            self.bus,
            self.devfn >> 3,
            self.devfn & 7
        )
    }
}

/// What BIND needs to lock a TDI and to check its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindParams {
    /// The DSM (function 0) of the device.
    pub dev: DevId,
    /// The TDI: the TDISP FUNCTION_ID of the function hosting it.
    pub tdi: FunctionId,
    /// The guest requester ID (the vdevice's virtual id), kept for the report to the
    /// guest.
    pub guest_rid: u32,
    /// LOCK_INTERFACE flags.
    pub lock_flags: LockFlags,
    /// MMIO_REPORTING_OFFSET.
    pub mmio_reporting_offset: u64,
    /// The function's memory BARs.
    pub bars: Vec<BarInfo>,
    /// The function's MSI-X layout.
    pub msix: Option<MsixLayout>,
}

/// A guest request about a bound TDI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestOp {
    /// Fetch (and validate) the device interface report; the payload is the report.
    GetReport,
    /// START_INTERFACE: CONFIG_LOCKED -> RUN.
    Start,
    /// GET_DEVICE_INTERFACE_STATE; the payload is one byte, the TDI state.
    GetState,
}

/// A command from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Authenticate the device, establish the session and its IDE stream.
    Connect {
        /// The device.
        dev: DevId,
        /// Selective IDE stream to key.
        stream_id: u8,
    },
    /// Tear down IDE and the session.
    Disconnect {
        /// The device.
        dev: DevId,
    },
    /// Lock a TDI and fetch its report.
    Bind(BindParams),
    /// Stop a TDI.
    Unbind {
        /// The device.
        dev: DevId,
        /// The TDI.
        tdi: FunctionId,
    },
    /// A guest request.
    GuestReq {
        /// The device.
        dev: DevId,
        /// The TDI.
        tdi: FunctionId,
        /// What the guest asks.
        op: GuestOp,
    },
}

impl Command {
    /// The device the command is about.
    pub fn dev(&self) -> DevId {
        match self {
            Command::Connect { dev, .. }
            | Command::Disconnect { dev }
            | Command::Unbind { dev, .. }
            | Command::GuestReq { dev, .. } => *dev,
            Command::Bind(b) => b.dev,
        }
    }
}

/// A DOE transport failure the kernel reports instead of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DoeError {
    /// No response in time.
    #[error("DOE exchange timed out")]
    Timeout,
    /// The mailbox or the link failed (errno from the kernel).
    #[error("DOE exchange failed (errno {0})")]
    Io(i32),
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FwError {
    /// The DOE exchange failed.
    #[error("transport: {0}")]
    Transport(#[from] DoeError),
    /// A message did not decode.
    #[error("malformed message: {0}")]
    Codec(codec::Error),
    /// A response was larger than the firmware accepts.
    #[error("response of {0} bytes exceeds the limit")]
    Oversized(usize),
    /// The device answered with an SPDM ERROR.
    #[error("device returned SPDM ERROR {0:?}")]
    SpdmError(ErrorCode),
    /// The device answered something the protocol does not allow here.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// Negotiation found nothing in common.
    #[error("negotiation failed: {0}")]
    Negotiation(&'static str),
    /// The certificate chain was rejected.
    #[error("certificate: {0}")]
    Cert(#[from] CertError),
    /// A signature or MAC did not verify.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// IDE-KM failed.
    #[error("IDE-KM: {0}")]
    IdeKm(&'static str),
    /// The device answered a TDISP request with TDISP_ERROR.
    #[error("device returned TDISP_ERROR {0:?}")]
    TdispError(tdisp::ErrorCode),
    /// The interface report was rejected.
    #[error("interface report: {0}")]
    Report(ReportError),
    /// The command is not valid in the firmware's state for this device/TDI.
    #[error("invalid state: {0}")]
    State(&'static str),
    /// Another command is in progress.
    #[error("busy")]
    Busy,
}

impl From<codec::Error> for FwError {
    fn from(e: codec::Error) -> Self {
        FwError::Codec(e)
    }
}

impl From<ReportError> for FwError {
    fn from(e: ReportError) -> Self {
        FwError::Report(e)
    }
}

/// Input to [`Firmware::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A new command.
    Command(Command),
    /// The kernel's answer to the last [`Output::SendDoe`]: the response payload (the
    /// DOE object without its header, possibly padded) or an error.
    DoeResponse(Result<Vec<u8>, DoeError>),
}

/// Output of [`Firmware::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this payload as a DOE object of `object_type` (PCI-SIG vendor) and feed the
    /// answer back.
    SendDoe {
        /// 1: CMA/SPDM, 2: Secured CMA/SPDM.
        object_type: u8,
        /// The object payload (dword padded).
        payload: Vec<u8>,
    },
    /// The command succeeded.
    Done {
        /// Command-specific result bytes (the report, the state byte, or empty).
        payload: Vec<u8>,
        /// The TDI state the firmware now believes, for TDI commands.
        tdi_state: Option<TdiState>,
    },
    /// The command failed; the firmware's state for the device is consistent.
    Failed {
        /// Why.
        error: FwError,
        /// The TDI state as last reported by the device, for TDI commands.
        tdi_state: Option<TdiState>,
    },
}

/// Firmware configuration.
#[derive(Debug, Clone)]
pub struct FwConfig {
    /// DER of the root certificate devices must chain to.
    pub trust_anchor: Vec<u8>,
    /// FIRST_PAGE unit of device reports.
    pub first_page_unit: FirstPageUnit,
}

struct ReqSession {
    id: u32,
    secrets: SessionSecrets,
}

struct Spdm {
    neg: Negotiated,
    session: Option<ReqSession>,
}

struct Tdi {
    state: TdiState,
    params: BindParams,
    lock: LockInterfaceParams,
    nonce: Option<[u8; tdisp::NONCE_LEN]>,
}

struct Device {
    spdm: Option<Spdm>,
    stream_id: u8,
    ide_active: bool,
    tdis: BTreeMap<u32, Tdi>,
}

/// What an operation wants next.
enum Next {
    Plain(Vec<u8>),
    Secured(Vec<u8>),
    Done(Vec<u8>),
}

/// The firmware.
pub struct Firmware {
    cfg: FwConfig,
    devices: BTreeMap<DevId, Device>,
    active: Option<Active>,
}

struct Active {
    dev: DevId,
    op: Op,
}

enum Op {
    Connect(Box<ConnectOp>),
    Disconnect(DisconnectOp),
    Tdisp(Box<TdispOp>),
}

impl Firmware {
    /// A firmware with no device connected.
    pub fn new(cfg: FwConfig) -> Self {
        Self {
            cfg,
            devices: BTreeMap::new(),
            active: None,
        }
    }

    /// Whether a command is in progress.
    pub fn busy(&self) -> bool {
        self.active.is_some()
    }

    /// Whether `dev` is connected (session and IDE up).
    pub fn connected(&self, dev: DevId) -> bool {
        self.devices
            .get(&dev)
            .is_some_and(|d| d.ide_active && d.spdm.as_ref().is_some_and(|s| s.session.is_some()))
    }

    /// The TDI state the firmware tracks.
    pub fn tdi_state(&self, dev: DevId, tdi: FunctionId) -> Option<TdiState> {
        self.devices
            .get(&dev)
            .and_then(|d| d.tdis.get(&tdi.to_u32()))
            .map(|t| t.state)
    }

    /// Advances the state machine.
    pub fn step(&mut self, input: Input) -> Output {
        match input {
            Input::Command(cmd) => {
                if self.active.is_some() {
                    return Output::Failed {
                        error: FwError::Busy,
                        tdi_state: None,
                    };
                }
                let dev = cmd.dev();
                match self.begin(cmd) {
                    Ok(op) => {
                        self.active = Some(Active { dev, op });
                        self.advance(None)
                    }
                    Err(error) => Output::Failed {
                        error,
                        tdi_state: None,
                    },
                }
            }
            Input::DoeResponse(r) => {
                if self.active.is_none() {
                    return Output::Failed {
                        error: FwError::State("DOE response without a request"),
                        tdi_state: None,
                    };
                }
                match r {
                    Ok(p) => self.advance(Some(p)),
                    Err(e) => self.fail(FwError::Transport(e)),
                }
            }
        }
    }

    fn begin(&mut self, cmd: Command) -> Result<Op, FwError> {
        match cmd {
            Command::Connect { dev, stream_id } => {
                if self.connected(dev) {
                    return Err(FwError::State("already connected"));
                }
                info!("connect {dev}: stream {stream_id}");
                self.devices.insert(
                    dev,
                    Device {
                        spdm: None,
                        stream_id,
                        ide_active: false,
                        tdis: BTreeMap::new(),
                    },
                );
                Ok(Op::Connect(Box::new(ConnectOp::new())))
            }
            Command::Disconnect { dev } => {
                let d = self
                    .devices
                    .get(&dev)
                    .ok_or(FwError::State("not connected"))?;
                if d.tdis.values().any(|t| t.state != TdiState::ConfigUnlocked) {
                    warn!("disconnect {dev} with TDIs still bound");
                }
                info!("disconnect {dev}");
                Ok(Op::Disconnect(DisconnectOp {
                    i: 0,
                    ide: d.ide_active,
                    session: d.spdm.as_ref().is_some_and(|s| s.session.is_some()),
                }))
            }
            Command::Bind(p) => {
                let dev = p.dev;
                if !self.connected(dev) {
                    return Err(FwError::State("device not connected"));
                }
                let d = self
                    .devices
                    .get_mut(&dev)
                    .ok_or(FwError::State("device not connected"))?;
                if d.tdis
                    .get(&p.tdi.to_u32())
                    .is_some_and(|t| t.state != TdiState::ConfigUnlocked)
                {
                    return Err(FwError::State("TDI already bound"));
                }
                info!("bind {dev} tdi {:?} guest rid {:#x}", p.tdi, p.guest_rid);
                let lock = LockInterfaceParams {
                    flags: p.lock_flags,
                    default_stream_id: d.stream_id,
                    mmio_reporting_offset: p.mmio_reporting_offset,
                    bind_p2p_address_mask: 0,
                };
                let tdi = p.tdi;
                d.tdis.insert(
                    tdi.to_u32(),
                    Tdi {
                        state: TdiState::ConfigUnlocked,
                        params: p,
                        lock,
                        nonce: None,
                    },
                );
                Ok(Op::Tdisp(Box::new(TdispOp::new(tdi, TdispKind::Bind))))
            }
            Command::Unbind { dev, tdi } => {
                let d = self
                    .devices
                    .get(&dev)
                    .ok_or(FwError::State("not connected"))?;
                if !d.tdis.contains_key(&tdi.to_u32()) {
                    return Err(FwError::State("TDI not bound"));
                }
                info!("unbind {dev} tdi {tdi:?}");
                Ok(Op::Tdisp(Box::new(TdispOp::new(tdi, TdispKind::Unbind))))
            }
            Command::GuestReq { dev, tdi, op } => {
                let d = self
                    .devices
                    .get(&dev)
                    .ok_or(FwError::State("not connected"))?;
                if !d.tdis.contains_key(&tdi.to_u32()) {
                    return Err(FwError::State("TDI not bound"));
                }
                let kind = match op {
                    GuestOp::GetReport => TdispKind::Report,
                    GuestOp::Start => TdispKind::Start,
                    GuestOp::GetState => TdispKind::State,
                };
                Ok(Op::Tdisp(Box::new(TdispOp::new(tdi, kind))))
            }
        }
    }

    fn tdi_of_active(&self) -> Option<TdiState> {
        let a = self.active.as_ref()?;
        match &a.op {
            Op::Tdisp(t) => self.tdi_state(a.dev, t.tdi),
            _ => None,
        }
    }

    fn fail(&mut self, error: FwError) -> Output {
        warn!("command failed: {error}");
        let tdi_state = self.tdi_of_active();
        if let Some(a) = self.active.take() {
            match a.op {
                Op::Connect(_) => {
                    // A half-made connection is dropped whole.
                    self.devices.remove(&a.dev);
                }
                Op::Disconnect(_) => {
                    self.devices.remove(&a.dev);
                }
                Op::Tdisp(t) => {
                    if matches!(t.kind, TdispKind::Unbind) {
                        if let Some(d) = self.devices.get_mut(&a.dev) {
                            d.tdis.remove(&t.tdi.to_u32());
                        }
                    }
                }
            }
        }
        Output::Failed { error, tdi_state }
    }

    fn advance(&mut self, response: Option<Vec<u8>>) -> Output {
        let r = self.advance_inner(response);
        match r {
            Ok(Next::Plain(m)) => Output::SendDoe {
                object_type: doe::TYPE_CMA_SPDM,
                payload: pad(m),
            },
            Ok(Next::Secured(m)) => Output::SendDoe {
                object_type: doe::TYPE_SECURED_CMA_SPDM,
                payload: pad(m),
            },
            Ok(Next::Done(payload)) => {
                let tdi_state = self.tdi_of_active();
                if let Some(a) = self.active.take() {
                    match a.op {
                        Op::Disconnect(_) => {
                            self.devices.remove(&a.dev);
                        }
                        Op::Tdisp(t) if matches!(t.kind, TdispKind::Unbind) => {
                            if let Some(d) = self.devices.get_mut(&a.dev) {
                                d.tdis.remove(&t.tdi.to_u32());
                            }
                        }
                        _ => {}
                    }
                }
                Output::Done { payload, tdi_state }
            }
            Err(e) => self.fail(e),
        }
    }

    fn advance_inner(&mut self, response: Option<Vec<u8>>) -> Result<Next, FwError> {
        let a = self.active.as_mut().ok_or(FwError::State("idle"))?;
        let dev = self
            .devices
            .get_mut(&a.dev)
            .ok_or(FwError::State("device gone"))?;
        if let Some(r) = &response {
            if r.len() > MAX_RESPONSE {
                return Err(FwError::Oversized(r.len()));
            }
        }
        match &mut a.op {
            Op::Connect(c) => {
                if let Some(r) = response {
                    c.response(dev, &self.cfg, &r)?;
                }
                c.request(dev)
            }
            Op::Disconnect(d) => {
                if let Some(r) = response {
                    d.response(dev, &r)?;
                }
                d.request(dev)
            }
            Op::Tdisp(t) => {
                if let Some(r) = response {
                    t.response(dev, &self.cfg, &r)?;
                }
                t.request(dev)
            }
        }
    }
}

fn pad(mut m: Vec<u8>) -> Vec<u8> {
    m.resize(doe::padded_len(m.len()), 0);
    m
}

fn req_flags() -> CapabilityFlags {
    CapabilityFlags::ENCRYPT
        .union(CapabilityFlags::MAC)
        .union(CapabilityFlags::KEY_EX)
}

/// Decodes a plain response, mapping SPDM ERROR to [`FwError::SpdmError`].
fn plain_response<'a>(
    payload: &'a [u8],
    neg: &Negotiated,
) -> Result<(spdm::Response<'a>, &'a [u8]), FwError> {
    let (r, exact) = wire::decode_response(payload, neg)?;
    if let spdm::Response::Error(e) = r {
        return Err(FwError::SpdmError(e.code));
    }
    Ok((r, exact))
}

fn seal(dev: &mut Device, msg: &[u8]) -> Result<Vec<u8>, FwError> {
    let s = dev
        .spdm
        .as_mut()
        .and_then(|s| s.session.as_mut())
        .ok_or(FwError::State("no session"))?;
    Ok(s.secrets.req.seal(s.id, msg)?)
}

fn open(dev: &mut Device, payload: &[u8]) -> Result<Vec<u8>, FwError> {
    let s = dev
        .spdm
        .as_mut()
        .and_then(|s| s.session.as_mut())
        .ok_or(FwError::State("no session"))?;
    let (sid, app) = s.secrets.rsp.open(payload).map_err(|e| match e {
        codec::Error::InvalidField {
            field: "secured.mac",
            ..
        } => FwError::Crypto(CryptoError::BadTag),
        other => FwError::Codec(other),
    })?;
    if sid != s.id {
        return Err(FwError::Protocol("secured record for another session"));
    }
    Ok(app)
}

/// Opens a secured response (the kernel guarantees it came back as a Secured CMA
/// object) and returns the SPDM message inside.
fn secured_spdm(dev: &mut Device, payload: &[u8]) -> Result<Vec<u8>, FwError> {
    open(dev, payload)
}

fn neg_of(dev: &Device) -> Result<Negotiated, FwError> {
    dev.spdm
        .as_ref()
        .map(|s| s.neg)
        .ok_or(FwError::State("not negotiated"))
}

/// Sends a PCI-SIG vendor payload in the session; returns the response payload.
fn vendor_req(dev: &mut Device, payload: &[u8]) -> Result<Next, FwError> {
    let neg = neg_of(dev)?;
    let m = wire::vendor_request(payload, &neg)?;
    Ok(Next::Secured(seal(dev, &m)?))
}

fn vendor_rsp(dev: &mut Device, payload: &[u8], protocol: u8) -> Result<Vec<u8>, FwError> {
    let neg = neg_of(dev)?;
    let app = secured_spdm(dev, payload)?;
    let (r, _) = wire::decode_response(&app, &neg)?;
    match r {
        spdm::Response::VendorDefined(v) if v.pci_sig_protocol() == Some(protocol) => {
            Ok(v.payload.to_vec())
        }
        spdm::Response::Error(e) => Err(FwError::SpdmError(e.code)),
        _ => Err(FwError::Protocol("unexpected response to a vendor request")),
    }
}

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
    IdeQuery,
    KeyProg(usize),
    KSetGo(usize),
    Done,
}

struct ConnectOp {
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

fn ide_target(stream_id: u8, i: usize) -> StreamKey {
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
    fn new() -> Self {
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

    fn plain(&mut self, m: &spdm::Request<'_>) -> Result<Next, FwError> {
        let b = wire::spdm_request(m, &self.neg)?;
        self.last_req.clone_from(&b);
        Ok(Next::Plain(b))
    }

    fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
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

    fn response(
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

struct DisconnectOp {
    /// 0..6: K_SET_STOP of key i; 6: END_SESSION; 7: done.
    i: usize,
    ide: bool,
    session: bool,
}

impl DisconnectOp {
    fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
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

    fn response(&mut self, dev: &mut Device, payload: &[u8]) -> Result<(), FwError> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TdispKind {
    Bind,
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

struct TdispOp {
    tdi: FunctionId,
    kind: TdispKind,
    phase: TPhase,
    last: Option<RequestCode>,
    /// (OFFSET, LENGTH, portion, REMAINDER_LENGTH) of every report response so far,
    /// replayed into a `ReportAssembler` (which borrows its buffer) on each step.
    portions: Vec<(u16, u16, Vec<u8>, u16)>,
    pending: (u16, u16),
    error: Option<tdisp::ErrorCode>,
    result: Vec<u8>,
}

impl TdispOp {
    fn new(tdi: FunctionId, kind: TdispKind) -> Self {
        let phase = match kind {
            TdispKind::Bind => TPhase::Version,
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
        }
    }

    fn send(&mut self, dev: &mut Device, body: RequestBody<'_>) -> Result<Next, FwError> {
        let t = dev
            .tdis
            .get(&self.tdi.to_u32())
            .ok_or(FwError::State("TDI not bound"))?;
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

    fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
        match self.phase {
            TPhase::Version => self.send(dev, RequestBody::GetVersion),
            TPhase::Caps => self.send(dev, RequestBody::GetCapabilities { tsm_caps: 0 }),
            TPhase::Lock => {
                let lock = dev
                    .tdis
                    .get(&self.tdi.to_u32())
                    .map(|t| t.lock)
                    .ok_or(FwError::State("TDI not bound"))?;
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
                let nonce = dev
                    .tdis
                    .get(&self.tdi.to_u32())
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

    fn response(
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
                TPhase::Report
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
                        validate_report(&bytes, t, cfg)?;
                        info!(
                            "TDI {:?}: interface report validated ({} bytes)",
                            self.tdi,
                            bytes.len()
                        );
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

fn validate_report(bytes: &[u8], t: &Tdi, cfg: &FwConfig) -> Result<(), FwError> {
    let r = InterfaceReport::parse(bytes)?;
    let params = ValidationParams {
        bars: &t.params.bars,
        mmio_reporting_offset: t.lock.mmio_reporting_offset,
        unit: cfg.first_page_unit,
        msix: t.params.msix,
        msix_locked: t.lock.flags.contains(LockFlags::LOCK_MSIX),
    };
    let n = report::validate(&r, &params)?.count();
    if n != r.range_count() {
        return Err(FwError::Protocol("report ranges do not all map"));
    }
    Ok(())
}
