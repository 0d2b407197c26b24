// SPDX-License-Identifier: GPL-2.0

//! The device communication page (RmiDevCommData) and what the host does on each exit.
//!
//! RMI_PDEV_COMMUNICATE and RMI_VDEV_COMMUNICATE take the PA of one 4 KiB NS page: the
//! host writes the *enter* half (offset 0x000) before each call, the RMM writes the
//! *exit* half (offset 0x800) before returning. The exit's flags tell the host what to
//! do before the next call: cache a slice of the request or response buffer as part of
//! a device object (VCA, certificate chain, measurements, interface report), send a
//! request to the device over DOE (plain or secured SPDM) and hand back the response,
//! or stop. [`CommExit::decide`] is that decision table; [`CommEnter`] the reply.
//!
//! The host loop (Linux `_do_dev_communicate`, TF-RMM's host test): write enter NONE,
//! call; on each exit cache first (for secured SPDM the RMM has put decrypted plaintext
//! in the buffers), then send; repeat while [`Next::Continue`]; on [`Next::Done`] read
//! the object state with GET_STATE; on [`Next::StreamWait`] let the peer PDEV advance.
//! BUSY means retry later; after a host-side failure the host calls PDEV_ABORT or
//! VDEV_ABORT.

use super::super::codec::{Error, Result, Writer};
use super::super::doe::SpdmKind;
use super::fid::Abi;
use super::result::{OrderError, Status};
use super::{Fields, Layout, GRANULE_SIZE};

/// Offset of the exit half in the communication page.
pub const EXIT_OFFSET: usize = 0x800;
/// Width of each half.
pub const HALF_LEN: usize = 0x800;
/// Largest response the host may hand back, and size of each request/response buffer.
pub const MAX_RESP_LEN: u64 = GRANULE_SIZE as u64;

wire_enum! {
    /// RmiDevCommStatus: what the host reports on entry.
    pub enum CommStatus(u8, "rmi.dev_comm_status") decode from_u8 encode to_u8 {
        /// No response (first call, or the previous exit sent nothing).
        None = 0,
        /// The response to the last request is in the response buffer.
        Response = 1,
        /// Sending the last request failed.
        Error = 2,
    }
}

/// The enter half (RmiDevCommEnter), written by the host: 0x00 status (u8 in an
/// 8-byte slot), 0x08 request buffer PA, 0x10 response buffer PA, 0x18 response
/// length. The same in 1.1-alp12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommEnter {
    /// Status of the previous device transaction.
    pub status: CommStatus,
    /// PA of the request buffer (a granule-aligned NS page).
    pub req_addr: u64,
    /// PA of the response buffer (a granule-aligned NS page).
    pub resp_addr: u64,
    /// Bytes of valid data in the response buffer.
    pub resp_len: u64,
}

const ENTER_EXTENT: usize = 0x20;

impl CommEnter {
    /// Nothing to report (first call, or the exit asked for no send).
    pub const fn none(req_addr: u64, resp_addr: u64) -> Self {
        Self {
            status: CommStatus::None,
            req_addr,
            resp_addr,
            resp_len: 0,
        }
    }

    /// The device answered with `resp_len` bytes, now in the response buffer.
    pub const fn response(req_addr: u64, resp_addr: u64, resp_len: u64) -> Self {
        Self {
            status: CommStatus::Response,
            req_addr,
            resp_addr,
            resp_len,
        }
    }

    /// The DOE transfer failed.
    pub const fn error(req_addr: u64, resp_addr: u64) -> Self {
        Self {
            status: CommStatus::Error,
            req_addr,
            resp_addr,
            resp_len: 0,
        }
    }

    /// Decodes the enter half (at least its 0x20 bytes of fields, at most 0x800).
    pub fn decode(half: &[u8]) -> Result<Self> {
        let f = Fields::new(half, ENTER_EXTENT, HALF_LEN)?;
        Ok(Self {
            status: CommStatus::from_u8(f.u8(0x00)?)?,
            req_addr: f.u64(0x08)?,
            resp_addr: f.u64(0x10)?,
            resp_len: f.u64(0x18)?,
        })
    }

    /// Encodes the whole 0x800-byte enter half.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u8(0x00, self.status.to_u8())?;
        l.u64(0x08, self.req_addr)?;
        l.u64(0x10, self.resp_addr)?;
        l.u64(0x18, self.resp_len)?;
        l.finish(HALF_LEN)
    }

    /// Writes the enter half into the first 0x800 bytes of a communication `page`,
    /// leaving the exit half alone.
    pub fn write_to_page(&self, page: &mut [u8]) -> Result<()> {
        let half = page.get_mut(..HALF_LEN).ok_or(Error::BufferTooSmall {
            needed: GRANULE_SIZE,
        })?;
        self.encode(&mut Writer::new(half))
    }

    /// The RMM's checks of the enter half (TF-RMM `pdev.c`): both buffers granule
    /// aligned, `resp_len` at most 4096, RESPONSE not empty (each ERROR_INPUT), and no
    /// status other than NONE while the object's operation has not started talking
    /// (`comm` [`CommState::Pending`]; ERROR_DEVICE).
    pub fn check(&self, comm: CommState) -> core::result::Result<(), OrderError> {
        let aligned = |pa: u64| pa % GRANULE_SIZE as u64 == 0;
        if !aligned(self.req_addr) || !aligned(self.resp_addr) {
            return Err(OrderError::new(
                Status::ErrorInput,
                "communication buffer not granule aligned",
            ));
        }
        if self.resp_len > MAX_RESP_LEN {
            return Err(OrderError::new(Status::ErrorInput, "resp_len above 4096"));
        }
        if self.status == CommStatus::Response && self.resp_len == 0 {
            return Err(OrderError::new(
                Status::ErrorInput,
                "RESPONSE with resp_len 0",
            ));
        }
        if comm == CommState::Pending && self.status != CommStatus::None {
            return Err(OrderError::device("a response before any request was sent"));
        }
        Ok(())
    }
}

wire_bits! {
    /// RmiDevCommExitFlags in the 2.0 bit layout (the alp12 layout is converted by
    /// [`ExitFlags::from_wire`]/[`ExitFlags::to_wire`]).
    pub struct ExitFlags(u64) {
        /// Bit 0: cache a slice of the request buffer.
        REQ_CACHE = 1 << 0;
        /// Bit 1: cache a slice of the response buffer.
        RSP_CACHE = 1 << 1;
        /// Bit 2: send the request in the request buffer to the device.
        REQ_SEND = 1 << 2;
        /// Bit 3: wait for an asynchronous device response (up to the timeout).
        RSP_WAIT = 1 << 3;
        /// Bit 4 (2.0 only): reset the response.
        ///
        /// Unconfirmed: what the host must do; neither TF-RMM nor Linux sets or
        /// handles it.
        RSP_RESET = 1 << 4;
        /// Bit 5 (alp12: bit 4): more exits follow for this operation.
        MULTI = 1 << 5;
        /// Bit 6 (2.0 only): this PDEV waits for its stream peer; communicate the other
        /// PDEV.
        STREAM_WAIT = 1 << 6;
    }
}

impl ExitFlags {
    /// The flags that keep the host loop calling COMMUNICATE.
    pub const LOOP: u64 =
        Self::REQ_CACHE | Self::RSP_CACHE | Self::REQ_SEND | Self::RSP_WAIT | Self::MULTI;

    /// alp12 bits 3:0 are the 2.0 bits 3:0; alp12 bit 4 is MULTI.
    const ALP12_LOW: u64 = 0xF;
    const ALP12_MULTI: u64 = 1 << 4;

    /// Decodes the wire flags of `abi`. In alp12, bits 63:5 set are an
    /// [`Error::InvalidField`] (they would otherwise be misplaced); in 2.0 every bit is
    /// kept.
    pub fn from_wire(abi: Abi, v: u64) -> Result<Self> {
        match abi {
            Abi::V2_0 => Ok(Self(v)),
            Abi::Alp12 => {
                if v & !(Self::ALP12_LOW | Self::ALP12_MULTI) != 0 {
                    return Err(Error::InvalidField {
                        field: "rmi.dev_comm_exit.flags",
                        value: v,
                    });
                }
                let multi = if v & Self::ALP12_MULTI != 0 {
                    Self::MULTI
                } else {
                    0
                };
                Ok(Self(v & Self::ALP12_LOW | multi))
            }
        }
    }

    /// Encodes the flags for `abi`. In alp12, RSP_RESET, STREAM_WAIT or a reserved bit
    /// is an [`Error::InvalidField`].
    pub fn to_wire(self, abi: Abi) -> Result<u64> {
        match abi {
            Abi::V2_0 => Ok(self.0),
            Abi::Alp12 => {
                if self.0 & !(Self::ALP12_LOW | Self::MULTI) != 0 {
                    return Err(Error::InvalidField {
                        field: "rmi.dev_comm_exit.flags",
                        value: self.0,
                    });
                }
                let multi = if self.contains(Self::MULTI) {
                    Self::ALP12_MULTI
                } else {
                    0
                };
                Ok(self.0 & Self::ALP12_LOW | multi)
            }
        }
    }
}

wire_enum! {
    /// RmiDevCommObject: the device object a cached slice belongs to.
    pub enum CacheObject(u8, "rmi.dev_comm_object") decode from_u8 encode to_u8 {
        /// The SPDM VCA transcript (GET_VERSION..ALGORITHMS), per PDEV.
        Vca = 0,
        /// The certificate chain, per PDEV.
        Certificate = 1,
        /// The device measurements, per TDI.
        Measurements = 2,
        /// The TDISP device interface report, per TDI.
        InterfaceReport = 3,
    }
}

impl CacheObject {
    /// Whether the host keeps this object per TDI (VDEV) rather than per PDEV.
    pub const fn per_tdi(self) -> bool {
        matches!(self, Self::Measurements | Self::InterfaceReport)
    }
}

wire_enum! {
    /// RmiDevCommProtocol: how a request is sent.
    pub enum Protocol(u8, "rmi.dev_comm_protocol") decode from_u8 encode to_u8 {
        /// A plain SPDM message (DOE type 1, CMA/SPDM).
        Spdm = 0,
        /// A DSP0277 secured SPDM message (DOE type 2, secured CMA/SPDM).
        SecureSpdm = 1,
    }
}

impl Protocol {
    /// The DOE data object kind that carries the request.
    pub const fn doe_kind(self) -> SpdmKind {
        match self {
            Self::Spdm => SpdmKind::Plain,
            Self::SecureSpdm => SpdmKind::Secured,
        }
    }
}

/// The exit half (RmiDevCommExit), written by the RMM.
///
/// 2.0 offsets (from the half's start): 0x00 flags, 0x08/0x10 cache request
/// offset/length, 0x18/0x20 cache response offset/length, 0x28 cache object (u8),
/// 0x30 protocol (u8), 0x38 request delay (µs), 0x40 request length, 0x48 timeout (ms).
/// 1.1-alp12 has no request delay: request length at 0x38, timeout at 0x40.
///
/// The object and protocol bytes are kept raw: the RMM fills them only when the flags
/// ask for caching or sending, so they are decoded by [`Self::decide`] when needed.
/// Unconfirmed: TF-RMM declares `req_delay` a `u8` in its 8-byte slot while Linux reads
/// a `u64`; the slot is read as a `u64` (the same value when the rest is zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommExit {
    /// What the host must do.
    pub flags: ExitFlags,
    /// Offset of the slice of the request buffer to cache.
    pub cache_req_offset: u64,
    /// Length of that slice.
    pub cache_req_len: u64,
    /// Offset of the slice of the response buffer to cache.
    pub cache_rsp_offset: u64,
    /// Length of that slice.
    pub cache_rsp_len: u64,
    /// Raw RmiDevCommObject of the cached slices.
    pub cache_obj_id: u8,
    /// Raw RmiDevCommProtocol of the request to send.
    pub protocol: u8,
    /// Microseconds to wait before sending (always 0 in alp12).
    pub req_delay_us: u64,
    /// Bytes of the request to send.
    pub req_len: u64,
    /// Milliseconds to wait for the response.
    pub timeout_ms: u64,
}

impl CommExit {
    /// Bytes of fields in `abi` (the decoder needs at least these).
    pub const fn extent(abi: Abi) -> usize {
        match abi {
            Abi::V2_0 => 0x50,
            Abi::Alp12 => 0x48,
        }
    }

    const fn len_offsets(abi: Abi) -> (Option<usize>, usize, usize) {
        match abi {
            Abi::V2_0 => (Some(0x38), 0x40, 0x48),
            Abi::Alp12 => (None, 0x38, 0x40),
        }
    }

    /// Decodes the exit half in `abi` (at least [`Self::extent`] bytes, at most 0x800).
    pub fn decode(abi: Abi, half: &[u8]) -> Result<Self> {
        let f = Fields::new(half, Self::extent(abi), HALF_LEN)?;
        let (delay, req_len, timeout) = Self::len_offsets(abi);
        Ok(Self {
            flags: ExitFlags::from_wire(abi, f.u64(0x00)?)?,
            cache_req_offset: f.u64(0x08)?,
            cache_req_len: f.u64(0x10)?,
            cache_rsp_offset: f.u64(0x18)?,
            cache_rsp_len: f.u64(0x20)?,
            cache_obj_id: f.u8(0x28)?,
            protocol: f.u8(0x30)?,
            req_delay_us: match delay {
                Some(off) => f.u64(off)?,
                None => 0,
            },
            req_len: f.u64(req_len)?,
            timeout_ms: f.u64(timeout)?,
        })
    }

    /// Decodes the exit half of a whole communication `page`.
    pub fn decode_page(abi: Abi, page: &[u8]) -> Result<Self> {
        let half = page.get(EXIT_OFFSET..).ok_or_else(|| Error::Truncated {
            offset: page.len(),
            needed: (EXIT_OFFSET + Self::extent(abi)).saturating_sub(page.len()),
        })?;
        Self::decode(abi, half)
    }

    /// Encodes the whole 0x800-byte exit half in `abi` (what an RMM model writes). In
    /// alp12 a non-zero request delay is an [`Error::InvalidField`], as are flags alp12
    /// lacks.
    pub fn encode(&self, abi: Abi, w: &mut Writer<'_>) -> Result<()> {
        let (delay, req_len, timeout) = Self::len_offsets(abi);
        let mut l = Layout::new(w);
        l.u64(0x00, self.flags.to_wire(abi)?)?;
        l.u64(0x08, self.cache_req_offset)?;
        l.u64(0x10, self.cache_req_len)?;
        l.u64(0x18, self.cache_rsp_offset)?;
        l.u64(0x20, self.cache_rsp_len)?;
        l.u8(0x28, self.cache_obj_id)?;
        l.u8(0x30, self.protocol)?;
        match delay {
            Some(off) => l.u64(off, self.req_delay_us)?,
            None if self.req_delay_us != 0 => {
                return Err(Error::InvalidField {
                    field: "rmi.dev_comm_exit.req_delay",
                    value: self.req_delay_us,
                })
            }
            None => {}
        }
        l.u64(req_len, self.req_len)?;
        l.u64(timeout, self.timeout_ms)?;
        l.finish(HALF_LEN)
    }

    /// The exit flags' decision table: what the host does before the next call.
    ///
    /// | flag | host action |
    /// |---|---|
    /// | REQ_CACHE | append request buffer `[cache_req_offset, +cache_req_len)` to object `cache_obj_id` |
    /// | RSP_CACHE | append response buffer `[cache_rsp_offset, +cache_rsp_len)` to the same object |
    /// | REQ_SEND | after `req_delay` µs send `req_len` bytes as `protocol` over DOE; reply with RESPONSE + length, or ERROR |
    /// | RSP_WAIT | wait up to `timeout` ms for an asynchronous response |
    /// | RSP_RESET | reported only (unconfirmed meaning) |
    /// | STREAM_WAIT | stop; communicate the stream peer, then come back |
    /// | none of REQ_CACHE, RSP_CACHE, REQ_SEND, RSP_WAIT, MULTI | the operation ended: GET_STATE |
    ///
    /// Fails with [`Error::InvalidField`] for a slice that leaves the 4 KiB buffer or a
    /// request length of 0 or above 4096, and [`Error::UnknownCode`] for an object or
    /// protocol the flags need but that is unknown. Reserved flag bits are ignored.
    pub fn decide(&self) -> Result<ExitPlan> {
        let f = self.flags;
        let slice = |flag, offset, len| match f.contains(flag) {
            true => CacheObject::from_u8(self.cache_obj_id)
                .and_then(|object| CacheSlice::new(object, offset, len))
                .map(Some),
            false => Ok(None),
        };
        let cache_req = slice(
            ExitFlags::REQ_CACHE,
            self.cache_req_offset,
            self.cache_req_len,
        )?;
        let cache_rsp = slice(
            ExitFlags::RSP_CACHE,
            self.cache_rsp_offset,
            self.cache_rsp_len,
        )?;
        let send = match f.contains(ExitFlags::REQ_SEND) {
            true => {
                if self.req_len == 0 || self.req_len > MAX_RESP_LEN {
                    return Err(Error::InvalidField {
                        field: "rmi.dev_comm_exit.req_len",
                        value: self.req_len,
                    });
                }
                Some(SendRequest {
                    protocol: Protocol::from_u8(self.protocol)?,
                    req_len: self.req_len,
                    delay_us: self.req_delay_us,
                    timeout_ms: self.timeout_ms,
                })
            }
            false => None,
        };
        let next = if f.contains(ExitFlags::STREAM_WAIT) {
            Next::StreamWait
        } else if f.bits() & ExitFlags::LOOP != 0 {
            Next::Continue
        } else {
            Next::Done
        };
        Ok(ExitPlan {
            cache_req,
            cache_rsp,
            send,
            wait_response_ms: f.contains(ExitFlags::RSP_WAIT).then_some(self.timeout_ms),
            reset_response: f.contains(ExitFlags::RSP_RESET),
            next,
        })
    }
}

/// A slice of the request or response buffer to append to a cached device object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheSlice {
    /// The object it belongs to.
    pub object: CacheObject,
    /// Offset in the buffer.
    pub offset: u64,
    /// Length (the slice lies within the 4 KiB buffer).
    pub len: u64,
}

impl CacheSlice {
    fn new(object: CacheObject, offset: u64, len: u64) -> Result<Self> {
        match offset.checked_add(len) {
            Some(end) if end <= MAX_RESP_LEN => Ok(Self {
                object,
                offset,
                len,
            }),
            _ => Err(Error::InvalidField {
                field: "rmi.dev_comm_exit.cache_slice",
                value: offset,
            }),
        }
    }

    /// The slice as a byte range of the 4 KiB buffer (clamped to it, for a slice built
    /// by hand rather than by [`CommExit::decide`]).
    pub fn range(&self) -> core::ops::Range<usize> {
        let clamp = |v: u64| v.min(MAX_RESP_LEN) as usize;
        clamp(self.offset)..clamp(self.offset.saturating_add(self.len))
    }
}

/// A request the host must send to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendRequest {
    /// Plain or secured SPDM, so DOE type 1 or 2 ([`Protocol::doe_kind`]).
    pub protocol: Protocol,
    /// Bytes of the request at the start of the request buffer (1..=4096).
    pub req_len: u64,
    /// Microseconds to wait before sending (TF-RMM never sets it).
    pub delay_us: u64,
    /// Milliseconds the RMM allows for the response.
    pub timeout_ms: u64,
}

/// What the host loop does after acting on an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Next {
    /// Call COMMUNICATE again with the reply in the enter half.
    Continue,
    /// The operation ended (TF-RMM ends each with one exit whose flags are all zero):
    /// read the state with GET_STATE.
    Done,
    /// This PDEV waits for its stream peer: communicate the other PDEV first.
    StreamWait,
}

/// The decision for one exit, in the order the host acts: cache the request slice,
/// cache the response slice, then send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitPlan {
    /// Request-buffer slice to cache (REQ_CACHE).
    pub cache_req: Option<CacheSlice>,
    /// Response-buffer slice to cache (RSP_CACHE).
    pub cache_rsp: Option<CacheSlice>,
    /// Request to send (REQ_SEND).
    pub send: Option<SendRequest>,
    /// RSP_WAIT with its timeout in ms. Both known hosts use synchronous DOE and treat
    /// it as a failure (then abort).
    pub wait_response_ms: Option<u64>,
    /// RSP_RESET was set (unconfirmed meaning; no implementation sets it).
    pub reset_response: bool,
    /// What the loop does next.
    pub next: Next,
}

/// The RMM-internal communication state of a PDEV or VDEV (not on the wire; GET_STATE
/// reports only the object state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommState {
    /// No device operation in progress.
    Idle,
    /// A command started a device operation; no COMMUNICATE yet.
    Pending,
    /// COMMUNICATE calls are carrying the operation.
    Active,
    /// The operation failed; ABORT returns to idle.
    Error,
}

/// What one COMMUNICATE call achieved, as the RMM sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommOutcome {
    /// The operation goes on (the exit asks for more work).
    InProgress,
    /// The operation waits for the stream peer (exit flag STREAM_WAIT).
    StreamWait,
    /// The operation finished: the object's transition is applied.
    Idle,
    /// The operation failed: the object goes to its ERROR state.
    Failed,
}

impl CommState {
    /// The comm state after one COMMUNICATE with `outcome`. On [`CommState::Idle`] or
    /// [`CommState::Error`] there is nothing to carry: ERROR_DEVICE.
    pub fn communicate(self, outcome: CommOutcome) -> core::result::Result<Self, OrderError> {
        match self {
            Self::Idle | Self::Error => {
                Err(OrderError::device("COMMUNICATE with no device operation"))
            }
            Self::Pending | Self::Active => Ok(match outcome {
                CommOutcome::InProgress | CommOutcome::StreamWait => Self::Active,
                CommOutcome::Idle => Self::Idle,
                CommOutcome::Failed => Self::Error,
            }),
        }
    }

    /// The comm state after ABORT (idle); on [`CommState::Idle`] ERROR_DEVICE.
    pub fn abort(self) -> core::result::Result<Self, OrderError> {
        match self {
            Self::Idle => Err(OrderError::device("ABORT with no device operation")),
            _ => Ok(Self::Idle),
        }
    }

    /// [`OrderError`] ERROR_DEVICE unless idle: the check of every command that starts
    /// a device operation.
    pub fn require_idle(self, why: &'static str) -> core::result::Result<(), OrderError> {
        match self {
            Self::Idle => Ok(()),
            _ => Err(OrderError::device(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alp12_flags_move_multi() {
        let f = ExitFlags::from_wire(Abi::Alp12, 0x14).unwrap();
        assert!(f.contains(ExitFlags::MULTI | ExitFlags::REQ_SEND));
        assert!(!f.contains(ExitFlags::RSP_RESET));
        assert_eq!(f.to_wire(Abi::Alp12), Ok(0x14));
        assert!(ExitFlags::from_wire(Abi::Alp12, 0x20).is_err());
        assert!(ExitFlags::from_bits(ExitFlags::STREAM_WAIT)
            .to_wire(Abi::Alp12)
            .is_err());
    }

    #[test]
    fn comm_state_steps() {
        let s = CommState::Pending;
        assert_eq!(
            s.communicate(CommOutcome::InProgress),
            Ok(CommState::Active)
        );
        assert_eq!(s.communicate(CommOutcome::Failed), Ok(CommState::Error));
        assert!(CommState::Idle.communicate(CommOutcome::Idle).is_err());
        assert!(CommState::Error.communicate(CommOutcome::Idle).is_err());
        assert_eq!(CommState::Error.abort(), Ok(CommState::Idle));
        assert!(CommState::Idle.abort().is_err());
    }
}
