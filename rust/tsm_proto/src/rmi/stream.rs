// SPDX-License-Identifier: GPL-2.0

//! IDE streams between an endpoint PDEV and its root port PDEV (ABI 2.0 only; in
//! 1.1-alp12 IDE was set up inside PDEV_CREATE).
//!
//! RMI_PDEV_STREAM_CONNECT starts the stream operation on both PDEVs and returns the
//! stream handle. The PDEVs then exchange keys through communicates; a PDEV that waits
//! for its peer exits with STREAM_WAIT. The order TF-RMM's host test and Linux use is
//! [`HOST_ORDER`]: root port to STREAM_WAIT, endpoint (IDE-KM via the DA app) to
//! STREAM_WAIT, then root port and endpoint each to idle. RMI_PDEV_STREAM_COMPLETE
//! then finishes the operation on both. DISCONNECT and KEY_REFRESH use the same dance.
//! Linux programs the IDE registers of both ends and enables only the EP's stream; the
//! RMM enables the root port's.

use super::super::codec::{Error, Result, Writer};
use super::comm::CommOutcome;
use super::pdev::{Category, Pdev, PdevCall};
use super::result::{OrderError, Status};
use super::{AddrRange, Fields, Layout, List, GRANULE_SIZE};

wire_enum! {
    /// RmiPdevStreamType.
    pub enum StreamType(u8, "rmi.pdev_stream_type") decode from_u8 encode to_u8 {
        /// A non-TEE stream.
        NonTee = 0,
        /// A non-coherent TEE stream (the only type TF-RMM connects).
        Ncoh = 1,
        /// A coherent TEE stream.
        Coh = 2,
        /// A non-coherent system stream.
        NcohSys = 3,
        /// A coherent system stream.
        CohSys = 4,
        /// A non-coherent peer-to-peer stream (Linux 2.0-bet3 only; unconfirmed).
        NcohP2p = 5,
        /// A coherent CMEM stream (Linux 2.0-bet3 only; unconfirmed).
        CohCmem = 6,
    }
}

/// Largest number of address ranges in [`StreamParams`].
pub const STREAM_MAX_RANGES: usize = 16;

/// RmiPdevStreamParams (X1 of STREAM_CONNECT): 0x00 flags, 0x08 type (u8), 0x10 pdev_1
/// (the EP), 0x18 pdev_2 (the root port), 0x20 ide_sid, 0x28 num_addr_range, 0x100
/// `addr_range[16]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamParams {
    /// Flags (none defined).
    pub flags: u64,
    /// Stream type.
    pub stream_type: StreamType,
    /// PA of the endpoint PDEV.
    pub pdev_1: u64,
    /// PA of the root port PDEV.
    pub pdev_2: u64,
    /// IDE stream ID.
    pub ide_sid: u64,
    /// Address ranges routed through the stream (the bridge windows).
    pub ranges: List<AddrRange, STREAM_MAX_RANGES>,
}

impl StreamParams {
    /// Parameters of a `stream_type` stream between `ep_pdev` and `rp_pdev` with IDE
    /// stream ID `ide_sid`, no flags and no address ranges (as TF-RMM's host test
    /// connects).
    pub fn new(stream_type: StreamType, ep_pdev: u64, rp_pdev: u64, ide_sid: u64) -> Self {
        Self {
            flags: 0,
            stream_type,
            pdev_1: ep_pdev,
            pdev_2: rp_pdev,
            ide_sid,
            ranges: List::default(),
        }
    }

    /// Decodes the page (at least 0x200 bytes, at most 4096); more than 16 ranges is an
    /// [`Error::InvalidField`].
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, 0x200, GRANULE_SIZE)?;
        Ok(Self {
            flags: f.u64(0x00)?,
            stream_type: StreamType::from_u8(f.u8(0x08)?)?,
            pdev_1: f.u64(0x10)?,
            pdev_2: f.u64(0x18)?,
            ide_sid: f.u64(0x20)?,
            ranges: f.list(
                "rmi.stream_params.num_addr_range",
                0x28,
                0x100,
                AddrRange::read,
            )?,
        })
    }

    /// Encodes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(0x00, self.flags)?;
        l.u8(0x08, self.stream_type.to_u8())?;
        l.u64(0x10, self.pdev_1)?;
        l.u64(0x18, self.pdev_2)?;
        l.u64(0x20, self.ide_sid)?;
        l.list(0x28, 0x100, self.ranges.as_slice(), AddrRange::write)?;
        l.finish(GRANULE_SIZE)
    }
}

/// The stream handle STREAM_CONNECT returns: the EP PDEV's PA plus the stream type.
pub const fn handle(ep_pdev: u64, stream_type: StreamType) -> u64 {
    ep_pdev.wrapping_add(stream_type as u64)
}

/// Splits a stream handle into the EP PDEV's PA and the type; a low part that is no
/// stream type is an [`Error::UnknownCode`].
pub fn unpack_handle(handle: u64) -> Result<(u64, StreamType)> {
    let low = handle % GRANULE_SIZE as u64;
    let ty = u8::try_from(low)
        .map_err(|_| Error::UnknownCode {
            space: "rmi.pdev_stream_type",
            value: low,
        })
        .and_then(StreamType::from_u8)?;
    Ok((handle - low, ty))
}

/// The end of a stream a call or communicate is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The endpoint PDEV (`pdev_1`).
    Ep,
    /// The root port PDEV (`pdev_2`).
    Rp,
}

/// The communicates TF-RMM's host test and Linux make between a stream call and
/// STREAM_COMPLETE, in order.
pub const HOST_ORDER: [(End, CommOutcome); 4] = [
    (End::Rp, CommOutcome::StreamWait),
    (End::Ep, CommOutcome::StreamWait),
    (End::Rp, CommOutcome::Idle),
    (End::Ep, CommOutcome::Idle),
];

/// A stream operation, as carried by both PDEVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamOp {
    /// STREAM_CONNECT.
    Connect,
    /// STREAM_DISCONNECT.
    Disconnect,
    /// STREAM_KEY_REFRESH.
    KeyRefresh,
}

/// The state of a stream (TF-RMM's `pdev_stream` states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamState {
    /// CONNECT started; COMPLETE gives CONNECTED.
    Connecting,
    /// Usable: VDEVs may be created on the EP.
    Connected,
    /// KEY_REFRESH started; COMPLETE gives CONNECTED.
    KeyRefreshing,
    /// DISCONNECT started; COMPLETE frees the stream.
    Disconnecting,
    /// Freed (the handle names nothing any more).
    Disconnected,
}

/// A stream call after STREAM_CONNECT ([`Stream::connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamCall {
    /// RMI_PDEV_STREAM_DISCONNECT.
    Disconnect,
    /// RMI_PDEV_STREAM_KEY_REFRESH.
    KeyRefresh,
    /// RMI_PDEV_STREAM_KEY_PURGE (TF-RMM: NOT_SUPPORTED).
    KeyPurge,
    /// RMI_PDEV_STREAM_COMPLETE.
    Complete,
}

/// One stream and the rules of the calls on it (ABI 2.0; TF-RMM `pdev.c`). The
/// communicates in between are [`PdevCall::Communicate`] on each PDEV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream {
    /// Its type.
    pub stream_type: StreamType,
    /// Its state.
    pub state: StreamState,
}

/// A stream with its two PDEVs, as a stream call leaves them.
pub type StreamEnds = (Stream, Pdev, Pdev);

impl Stream {
    /// STREAM_CONNECT of `params` between `ep` and `rp`: only an NCOH stream
    /// (NOT_SUPPORTED), an off-chip EP and a root port, both READY, idle and without an
    /// operation (ERROR_INPUT). Both PDEVs start the operation. Whether the EP already
    /// has a stream of this type (ERROR_INPUT) is the caller's to check.
    pub fn connect(
        params: &StreamParams,
        ep: &Pdev,
        rp: &Pdev,
    ) -> core::result::Result<StreamEnds, OrderError> {
        if params.stream_type != StreamType::Ncoh {
            return Err(OrderError::new(
                Status::NotSupported,
                "only NCOH streams are connected",
            ));
        }
        if ep.category != Category::OffChipEndpoint || rp.category != Category::RootPort {
            return Err(OrderError::new(
                Status::ErrorInput,
                "stream ends are not an off-chip EP and a root port",
            ));
        }
        let stream = Self {
            stream_type: params.stream_type,
            state: StreamState::Connecting,
        };
        Ok((
            stream,
            Self::begin(ep, StreamOp::Connect)?,
            Self::begin(rp, StreamOp::Connect)?,
        ))
    }

    fn begin(p: &Pdev, op: StreamOp) -> core::result::Result<Pdev, OrderError> {
        p.on(PdevCall::StreamBegin(op))
    }

    /// Whether VDEVs may be created behind this stream (a connected NCOH stream).
    pub fn serves_vdevs(&self) -> bool {
        self.stream_type == StreamType::Ncoh && self.state == StreamState::Connected
    }

    /// The stream and its PDEVs after `call`, or why the RMM refuses it:
    ///
    /// - DISCONNECT: CONNECTED (ERROR_DEVICE), both PDEVs READY or ERROR and idle
    ///   (ERROR_INPUT), no VDEVs on the EP (ERROR_DEVICE).
    /// - KEY_REFRESH: both PDEVs READY, idle, without an operation (ERROR_INPUT), the
    ///   stream CONNECTED and not a system stream (ERROR_DEVICE).
    /// - KEY_PURGE: NOT_SUPPORTED (TF-RMM).
    /// - COMPLETE: both PDEVs READY and idle (ERROR_INPUT) with their part ended
    ///   (ERROR_DEVICE); CONNECTING and KEY_REFRESHING give CONNECTED, DISCONNECTING
    ///   frees the stream.
    pub fn on(
        &self,
        call: StreamCall,
        ep: &Pdev,
        rp: &Pdev,
    ) -> core::result::Result<StreamEnds, OrderError> {
        let mut s = *self;
        let (ep, rp) = match call {
            StreamCall::Disconnect => {
                if s.state != StreamState::Connected {
                    return Err(OrderError::device("DISCONNECT of a stream not connected"));
                }
                let ends = (
                    Self::begin(ep, StreamOp::Disconnect)?,
                    Self::begin(rp, StreamOp::Disconnect)?,
                );
                if ep.vdevs != 0 {
                    return Err(OrderError::device("DISCONNECT with VDEVs on the EP"));
                }
                s.state = StreamState::Disconnecting;
                ends
            }
            StreamCall::KeyRefresh => {
                let ends = (
                    Self::begin(ep, StreamOp::KeyRefresh)?,
                    Self::begin(rp, StreamOp::KeyRefresh)?,
                );
                let system = matches!(s.stream_type, StreamType::NcohSys | StreamType::CohSys);
                if system || s.state != StreamState::Connected {
                    return Err(OrderError::device("KEY_REFRESH of a stream not connected"));
                }
                s.state = StreamState::KeyRefreshing;
                ends
            }
            StreamCall::KeyPurge => {
                return Err(OrderError::new(
                    Status::NotSupported,
                    "STREAM_KEY_PURGE is not supported",
                ))
            }
            StreamCall::Complete => {
                let ends = (
                    ep.on(PdevCall::StreamComplete)?,
                    rp.on(PdevCall::StreamComplete)?,
                );
                s.state = match s.state {
                    StreamState::Connecting | StreamState::KeyRefreshing => StreamState::Connected,
                    StreamState::Disconnecting => StreamState::Disconnected,
                    _ => return Err(OrderError::device("COMPLETE with no stream operation")),
                };
                ends
            }
        };
        Ok((s, ep, rp))
    }
}
