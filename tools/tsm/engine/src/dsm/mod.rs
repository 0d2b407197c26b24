// SPDX-License-Identifier: GPL-2.0

//! The emulated device security manager (DSM): an SPDM 1.2 responder with real crypto,
//! an IDE-KM responder with emulated key slots per stream, and a TDISP responder with
//! one TDI state machine per function (`tsm_proto::state`).
//!
//! The engine is sans-IO: [`Dsm::handle`] takes one DOE data object (exactly what the
//! guest wrote into the DOE mailbox, as QEMU forwards it) and returns the response
//! object plus how long to wait before answering (the slow-response knob). The
//! misbehaviour knobs of [`Faults`] are applied here, so every transport gets them.
//! [`Dsm::config_write`] takes the host's config writes to the device (from QEMU's
//! trace, `qemu_trace`) and applies the device-side TDISP rules to them (`host_view`).
//! [`server`] puts the engine behind QEMU's socket and trace in tsm-dsm.
//!
//! Transcripts (DSP0274 1.2): VCA is GET_VERSION..ALGORITHMS; CHALLENGE_AUTH signs
//! `VCA || B || C` (B: digests and certificate exchanges, C: CHALLENGE and
//! CHALLENGE_AUTH before the signature); MEASUREMENTS signs `VCA || every measurement
//! exchange since the last signed one`, those of the connection in the clear and those
//! of the session inside it (GET_MEASUREMENTS is answered both ways); the session
//! handshake follows `tsm_proto::spdm::transcript`.
//!
//! | file | what |
//! |---|---|
//! | this file | configuration, state, the DOE dispatcher, the fault knobs on replies |
//! | `spdm_rsp` | plain SPDM: VCA, digests, certificate, CHALLENGE, MEASUREMENTS |
//! | `session` | KEY_EXCHANGE, FINISH, secured records, GET_MEASUREMENTS and vendor-defined dispatch |
//! | `idekm_rsp` | IDE-KM: QUERY, KEY_PROG, K_SET_GO/STOP on emulated key slots |
//! | `tdisp_rsp` | TDISP: the TDI state machines and their messages |
//! | `report` | the device interface report and its MMIO ranges |
//! | `host_view` | the host's config writes and MMIO (QEMU's trace): shadow, TDISP rules, counters |
//! | `mailbox` | the DOE mailbox's exchanges as the device sees them: which writes belong to none |
//! | [`server`] | the I/O around the engine in tsm-dsm: QEMU's socket, the trace, the state file |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use log::{info, warn};
use tsm_proto::codec;
use tsm_proto::doe::{self, DataObject, SpdmKind};
use tsm_proto::idekm::{Direction, KeySet, StreamKey, SubStream};
use tsm_proto::report::{BarInfo, FirstPageUnit, MsixLayout};
use tsm_proto::spdm::auth_transcript::AuthTranscript;
use tsm_proto::spdm::{self, CapabilityFlags, ErrorCode, ErrorResponse, ExtendedError, Negotiated};
use tsm_proto::state::{self, HostEvent, TdiState};
use tsm_proto::tdisp::{self, FunctionId, LockInterfaceParams};

mod host_view;
mod idekm_rsp;
mod mailbox;
mod report;
pub mod server;
mod session;
mod spdm_rsp;
mod tdisp_rsp;

pub use host_view::{write_width, HostCounters, MmioPolicy, CONFIG_SPACE};
pub use report::build_ranges;

use super::certs::Identity;
use super::crypto::{self, SessionSecrets};
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
    /// Config offset of the function's PCI Express capability (Device Control, FLR);
    /// `None`: FLR is not recognised.
    pub pcie_cap: Option<u16>,
    /// Config offset of the function's Power Management capability (PMCSR); `None`:
    /// power state changes are not recognised.
    pub pm_cap: Option<u16>,
    /// Config offset of function 0's DOE extended capability (DOE Control and the
    /// mailboxes: the DSM's own, which QEMU's socket serves); `None`: DOE Abort and the
    /// mailbox's exchanges are not followed.
    pub doe_cap: Option<u16>,
    /// What a host MMIO access to a locked TDI's MMIO does (besides being a violation).
    pub mmio_policy: MmioPolicy,
}

impl DsmConfig {
    /// The requester ID (`bus << 8 | devfn`) of function 0.
    pub fn function0_rid(&self) -> u16 {
        (u16::from(self.bus) << 8) | u16::from(self.devfn)
    }
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
    /// The session's measurement transcript: the connection's VCA, then the session's
    /// own L (`AuthTranscript::for_session`).
    meas: AuthTranscript,
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
    host: host_view::HostView,
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

/// Whether `state` is one the TDISP lock holds (CONFIG_LOCKED or RUN): a host event
/// moves it to ERROR, and the host may not touch its MMIO.
fn locked(state: TdiState) -> bool {
    matches!(state, TdiState::ConfigLocked | TdiState::Run)
}

impl Dsm {
    /// A DSM in its reset state.
    pub fn new(cfg: DsmConfig) -> Self {
        let mut tdis = BTreeMap::new();
        for f in &cfg.functions {
            tdis.insert(f.to_u32(), Tdi::new());
        }
        Self {
            host: host_view::HostView::new(&cfg),
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

    /// The observable state as `key=value` lines, in this order:
    /// `spdm=none|handshake|established`, `ide.stream<N>=idle|keys|active`, what the
    /// device saw of the host (`host.cfg_writes=N`, `host.mmio=N`, `host.events=N`,
    /// `host.violations=N`, `host.last_violation=<event>@<offset>|none`, see
    /// [`HostCounters`]) and `tdi.<SSSS:BB:DD.F>=<STATE>`.
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
        let h = &self.host.counters;
        let _ = writeln!(s, "host.cfg_writes={}", h.cfg_writes);
        let _ = writeln!(s, "host.mmio={}", h.mmio);
        let _ = writeln!(s, "host.events={}", h.events);
        let _ = writeln!(s, "host.violations={}", h.violations);
        let _ = writeln!(s, "host.last_violation={}", h.last_violation_token());
        for (id, t) in &self.tdis {
            if let Ok(f) = FunctionId::from_u32(*id) {
                let _ = writeln!(s, "tdi.{}={}", bdf(f), t.state.name());
            }
        }
        s
    }

    /// A host event observed by the device (reset, FLR, ...), applied to every TDI.
    pub fn host_event(&mut self, event: HostEvent) {
        self.host_event_where(event, |_| true);
    }

    /// Applies `event` to the TDIs of the functions `which` selects
    /// (`state::dsm_on_host_event`); whether it moved a CONFIG_LOCKED or RUN TDI to
    /// ERROR.
    fn host_event_where(&mut self, event: HostEvent, which: impl Fn(FunctionId) -> bool) -> bool {
        let hit: Vec<(FunctionId, TdiState)> = self
            .tdis
            .iter()
            .filter_map(|(id, t)| {
                let f = FunctionId::from_u32(*id).ok().filter(|f| which(*f))?;
                Some((f, t.state))
            })
            .collect();
        let mut broke = false;
        for (f, now) in hit {
            let next = state::dsm_on_host_event(now, event);
            if next != now {
                info!("tdi {}: {} on {}", bdf(f), next.name(), event.name());
                broke |= locked(now) && next == TdiState::Error;
                self.set_state(f, next);
            }
        }
        broke
    }

    /// Moves the TDI of `f` to `next`, whatever moved it (a TDISP request, a host event,
    /// a fault knob). The START nonce is valid only in CONFIG_LOCKED: any other state
    /// drops it.
    fn set_state(&mut self, f: FunctionId, next: TdiState) {
        if let Some(t) = self.tdis.get_mut(&f.to_u32()) {
            if next != TdiState::ConfigLocked {
                t.nonce = None;
            }
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
