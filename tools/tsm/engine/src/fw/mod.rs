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
//!
//! | file | what |
//! |---|---|
//! | this file | the kernel-facing API types and the command dispatcher ([`Firmware`]) |
//! | `session` | SPDM framing, secured-record seal/open, vendor-defined requests |
//! | `connect` | CONNECT: SPDM (VCA, certificate, CHALLENGE, MEASUREMENTS, session), then `ide_km` |
//! | `ide_km` | CONNECT's IDE-KM key programming: QUERY, KEY_PROG, K_SET_GO |
//! | `disconnect` | DISCONNECT: K_SET_STOP, END_SESSION |
//! | `tdisp_op` | BIND, GUEST_REQ, UNBIND: the TDISP requester |
//! | `meas_op` | signed MEASUREMENTS: CONNECT's check, and `MeasOp` (in the session, for a firmware model) |
//! | `report_check` | validation of the interface report against the function's BARs |
//! | [`agent`] | tsm-fw's loop: [`Firmware`] served to the kernel over `/dev/tsm_fw` |
//! | [`rmm`] | a vendor model: the Arm CCA RMM's device-assignment RMI, over the same ops |
//! | [`tdx`] | a vendor model: the Intel TDX module's TDX Connect SEAMCALLs, over the same ops |
//! | [`psp`] | a vendor model: the AMD PSP's SEV-TIO commands, over the same ops |
//! | [`knob_syntax`] | the `KIND@TARGET[:N][=VALUE]` knob syntax the vendor models share |
//!
//! Where a firmware model plugs in. `session`, `connect`, `ide_km`, `disconnect`,
//! `tdisp_op`, `meas_op` and `report_check` are the TSM-side requester: each command is
//! an op (`ConnectOp`, `DisconnectOp`, `TdispOp`, `MeasOp`) that alternates `request`,
//! the next message to send, and `response`, the check of the device's answer, over the
//! record the firmware keeps per device (`Device`: negotiated SPDM state, session keys,
//! IDE stream, TDIs). That is what every platform firmware does with a TDISP device,
//! whatever its vendor, and a vendor firmware model (TDX Connect's TDX module, SEV-TIO's
//! PSP, the CCA RMM) reuses it unchanged. What a model replaces is the kernel-facing
//! layer above it: this file's [`Command`] / [`Input`] / [`Output`] API with
//! [`Firmware`]'s dispatcher, and [`agent`], which carries them over `/dev/tsm_fw`
//! ([`crate::fwproto`]). A model is a file beside `agent` (`fw/<vendor>.rs`) that takes
//! its ABI's calls and drives the same ops, which are `pub(super)` for that: visible to
//! every file of `fw`, to nothing outside it.

use std::collections::BTreeMap;

use log::{info, warn};
use tsm_proto::codec;
use tsm_proto::doe;
use tsm_proto::report::{BarInfo, FirstPageUnit, MsixLayout, ReportError};
use tsm_proto::spdm::{ErrorCode, Negotiated};
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::{self, FunctionId, LockFlags, LockInterfaceParams};

/// A device (its DSM, function 0) as the kernel names it: `struct tsm_fw_dev`.
pub use tsm_proto::fwmsg::Dev as DevId;
/// A guest request about a bound TDI: `enum tsm_fw_guest_op`.
pub use tsm_proto::fwmsg::GuestOp;

pub mod agent;
mod connect;
mod disconnect;
mod ide_km;
pub mod knob_syntax;
mod meas_op;
pub mod psp;
mod report_check;
pub mod rmm;
mod session;
mod tdisp_op;
pub mod tdx;

use connect::ConnectOp;
use disconnect::DisconnectOp;
use session::pad;
use tdisp_op::{TdispKind, TdispOp};

use super::certs::CertError;
use super::crypto::{CryptoError, SessionSecrets};

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
    /// The kernel had abandoned the command (a signal ended it) and sent nothing to the
    /// device (`-ECANCELED`): the request never reached it.
    #[error("DOE exchange not sent (command abandoned)")]
    NotSent,
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
    /// A secured request went out whose response was never opened (a firmware model's
    /// host abandoned the exchange): the device may or may not have answered it, so
    /// the next response may carry the sequence number after the expected one.
    response_maybe_lost: bool,
    /// The device's leaf key, by which the session was authenticated (and by which its
    /// signed measurements verify).
    leaf: p384::ecdsa::VerifyingKey,
    /// The session's measurement transcript: the connection's VCA and the session's
    /// own L (`meas_op`).
    meas: tsm_proto::spdm::auth_transcript::AuthTranscript,
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
    /// The request in flight is a secured record: sealing it advanced the session's
    /// request sequence number.
    sealed: bool,
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
                        self.active = Some(Active {
                            dev,
                            op,
                            sealed: false,
                        });
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
                    Err(DoeError::NotSent) => {
                        self.unsend();
                        self.fail(FwError::Transport(DoeError::NotSent))
                    }
                    Err(e) => self.fail(FwError::Transport(e)),
                }
            }
        }
    }

    /// Checks that `tdi` of the connected device `dev` is bound.
    fn bound(&self, dev: DevId, tdi: FunctionId) -> Result<(), FwError> {
        let d = self
            .devices
            .get(&dev)
            .ok_or(FwError::State("not connected"))?;
        if !d.tdis.contains_key(&tdi.to_u32()) {
            return Err(FwError::State("TDI not bound"));
        }
        Ok(())
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
                self.bound(dev, tdi)?;
                info!("unbind {dev} tdi {tdi:?}");
                Ok(Op::Tdisp(Box::new(TdispOp::new(tdi, TdispKind::Unbind))))
            }
            Command::GuestReq { dev, tdi, op } => {
                self.bound(dev, tdi)?;
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

    /// The request in flight never reached the device: a secured one gives its sequence
    /// number back, so the session stays in step with the device's (which would otherwise
    /// fail to open every later record and drop the session).
    fn unsend(&mut self) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if std::mem::take(&mut a.sealed) {
            if let Some(d) = self.devices.get_mut(&a.dev) {
                session::unseal(d);
            }
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
        if let Some(a) = self.active.as_mut() {
            a.sealed = matches!(r, Ok(Next::Secured(_)));
        }
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
