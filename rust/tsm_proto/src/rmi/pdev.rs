// SPDX-License-Identifier: GPL-2.0

//! PDEVs: the creation parameters page, the states, and the PDEV state machine.
//!
//! A PDEV is the RMM's object for one physical device: an endpoint it talks SPDM to, or
//! a root port (no device traffic, but an IDE stream end). The host creates it in a
//! delegated granule with RMI_PDEV_CREATE; an EP PDEV's create (and destroy) is a
//! stateful operation that donates (reclaims) auxiliary granules. Then the host drives
//! it with COMMUNICATE until it is READY: an EP goes NEW → NEEDS_KEY (VCA and
//! certificate chain cached) → SET_PUBKEY → HAS_KEY → READY; a root port goes NEW →
//! READY with one communicate. Teardown is STOP → communicate → STOPPED → DESTROY.

use super::super::codec::{Error, Result, Writer};
use super::comm::{CommOutcome, CommState};
use super::result::{OrderError, Status};
use super::stream::StreamOp;
use super::{reg_u8, AddrRange, Fields, Layout, List, GRANULE_SIZE};

wire_bits! {
    /// RmiPdevFlags (2.0): bit 0 SPDM, bits 2:1 [`Category`], bit 3 P2P.
    pub struct PdevFlags(u64) {
        /// Bit 0: the RMM talks SPDM to the device (required for an EP).
        SPDM = 1 << 0;
        /// Bits 2:1: the [`Category`].
        CATEGORY = 0b11 << 1;
        /// Bit 3: peer-to-peer (Linux 2.0-bet3 only).
        ///
        /// Unconfirmed: TF-RMM rejects every bit above 2 with ERROR_INPUT.
        P2P = 1 << 3;
    }
}

impl PdevFlags {
    /// Flags for a PDEV of `category`, with or without SPDM.
    pub const fn new(category: Category, spdm: bool) -> Self {
        Self((category as u64) << 1 | spdm as u64)
    }

    /// The category field.
    pub const fn category(self) -> Result<Category> {
        Category::from_u8(((self.0 & Self::CATEGORY) >> 1) as u8)
    }
}

wire_enum! {
    /// RmiPdevCategory (PDEV flags bits 2:1).
    pub enum Category(u8, "rmi.pdev_category") decode from_u8 encode to_u8 {
        /// A root port: an IDE stream's upstream end, no device traffic.
        RootPort = 0,
        /// An off-chip endpoint (the only EP TF-RMM creates).
        OffChipEndpoint = 1,
        /// An on-chip endpoint (TF-RMM: NOT_SUPPORTED).
        OnChipEndpoint = 2,
        /// Coherent memory device (Linux 2.0-bet3 only; unconfirmed).
        Cmem = 3,
    }
}

impl Category {
    /// Whether this is an endpoint (a device with TDIs).
    pub const fn is_endpoint(self) -> bool {
        matches!(self, Self::OffChipEndpoint | Self::OnChipEndpoint)
    }

    /// Whether PDEV_CREATE and PDEV_DESTROY are stateful operations for this category
    /// (an EP donates and reclaims auxiliary granules; a root port completes at once).
    pub const fn uses_sro(self) -> bool {
        self.is_endpoint()
    }
}

wire_enum! {
    /// RmiHashAlgorithm: the digest the RMM uses for the device's objects.
    pub enum HashAlgo(u8, "rmi.hash_algo") decode from_u8 encode to_u8 {
        /// SHA-256.
        Sha256 = 0,
        /// SHA-512.
        Sha512 = 1,
        /// SHA-384.
        Sha384 = 2,
    }
}

/// RmiPdevParams in ABI 2.0 (2.0-bet2 and later; TF-RMM HEAD and Linux 2.0-bet3 agree).
///
/// Offsets: 0x00 flags, 0x08 hb_base, 0x10 pdev_id, 0x18 routing_id, 0x20 id_index,
/// 0x28 rid_base, 0x30 rid_top, 0x38 hash_algo (u8). 2.0-bet1 had no hb_base (pdev_id
/// at 0x08, …, hash_algo at 0x30, max_vdevs_order at 0x38); that draft is not encoded.
/// Unconfirmed: TF-RMM reads rid_base/rid_top as 32-bit, Linux writes them as 16-bit;
/// both are the low bytes of their 8-byte slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PdevParams {
    /// Flags.
    pub flags: PdevFlags,
    /// Host bridge (ECAM) base address.
    pub hb_base: u64,
    /// Device identifier: the BDF of an EP, the root port's ID for a root port
    /// (validated by the RMM through EL3).
    pub pdev_id: u64,
    /// Routing identifier (at most 0xFFFF).
    pub routing_id: u64,
    /// Certificate slot of the device identity.
    pub id_index: u64,
    /// First requester ID of the device (inclusive).
    pub rid_base: u32,
    /// End of the requester ID range (exclusive).
    pub rid_top: u32,
    /// Digest algorithm.
    pub hash_algo: HashAlgo,
}

/// Bytes of [`PdevParams`] fields.
const PDEV_PARAMS_EXTENT: usize = 0x40;

impl PdevParams {
    /// Decodes the page (at least its 0x40 bytes of fields, at most 4096).
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, PDEV_PARAMS_EXTENT, GRANULE_SIZE)?;
        Ok(Self {
            flags: PdevFlags::from_bits(f.u64(0x00)?),
            hb_base: f.u64(0x08)?,
            pdev_id: f.u64(0x10)?,
            routing_id: f.u64(0x18)?,
            id_index: f.u64(0x20)?,
            rid_base: f.u32(0x28)?,
            rid_top: f.u32(0x30)?,
            hash_algo: HashAlgo::from_u8(f.u8(0x38)?)?,
        })
    }

    /// Encodes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(0x00, self.flags.bits())?;
        l.u64(0x08, self.hb_base)?;
        l.u64(0x10, self.pdev_id)?;
        l.u64(0x18, self.routing_id)?;
        l.u64(0x20, self.id_index)?;
        l.u32(0x28, self.rid_base)?;
        l.u32(0x30, self.rid_top)?;
        l.u8(0x38, self.hash_algo.to_u8())?;
        l.finish(GRANULE_SIZE)
    }

    /// TF-RMM's checks at PDEV_CREATE: only flag bits 2:0 (else ERROR_INPUT); a root
    /// port or an off-chip EP with SPDM (else NOT_SUPPORTED); routing_id at most 0xFFFF,
    /// and for an EP `rid_base < rid_top` with a span below `2^max_vdevs_order`
    /// ([`super::DaFeatures::max_vdevs_order`]) (else ERROR_INPUT).
    ///
    /// Unconfirmed: the statuses of the RID and routing checks, and which order bounds
    /// the span (the fact sheet says "span ≤ 2^order − 1").
    pub fn check(&self, max_vdevs_order: u8) -> core::result::Result<Category, OrderError> {
        let input = |why| Err(OrderError::new(Status::ErrorInput, why));
        if self.flags.bits() & !(PdevFlags::SPDM | PdevFlags::CATEGORY) != 0 {
            return input("reserved PDEV flag");
        }
        let unsupported = OrderError::new(Status::NotSupported, "PDEV category not supported");
        let category = self.flags.category().map_err(|_| unsupported)?;
        match category {
            Category::RootPort => {}
            Category::OffChipEndpoint if self.flags.contains(PdevFlags::SPDM) => {}
            _ => return Err(unsupported),
        }
        if self.routing_id > 0xFFFF {
            return input("routing_id above 0xFFFF");
        }
        if category.is_endpoint() {
            let span = self.rid_top.saturating_sub(self.rid_base);
            let max = 1u64
                .checked_shl(u32::from(max_vdevs_order))
                .unwrap_or(u64::MAX);
            if span == 0 || u64::from(span) >= max {
                return input("bad requester ID range");
            }
        }
        Ok(category)
    }
}

wire_bits! {
    /// RmiPdevFlags in 1.1-alp12: bit 0 SPDM, 1 IDE, 2 coherent, 3 P2P.
    pub struct PdevFlagsAlp12(u64) {
        /// Bit 0: SPDM.
        SPDM = 1 << 0;
        /// Bit 1: the link is protected by IDE.
        IDE = 1 << 1;
        /// Bit 2: coherent device.
        COH = 1 << 2;
        /// Bit 3: peer-to-peer.
        P2P = 1 << 3;
    }
}

/// RmiPdevParams in 1.1-alp12 (TF-RMM `tf-rmm-v0.8.0`).
///
/// Offsets: 0x00 flags, 0x08 pdev_id, 0x10 segment_id (u8), 0x18 ecam_addr, 0x20
/// root_id (u16), 0x28 cert_id, 0x30 rid_base (u16), 0x38 rid_top, 0x40 hash_algo (u8),
/// 0x48 num_aux, 0x50 ide_sid, 0x58 ncoh_num_addr_range, 0x60 coh_num_addr_range,
/// 0x100 `aux[32]`, 0x200 `ncoh_addr_range[16]`, 0x300 `coh_addr_range[4]`.
/// Unconfirmed: other copies of the alp headers declare segment_id as 16-bit and the
/// RIDs as 64-bit; all are the low bytes of their slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PdevParamsAlp12 {
    /// Flags.
    pub flags: PdevFlagsAlp12,
    /// Device identifier (BDF).
    pub pdev_id: u64,
    /// PCI segment.
    pub segment_id: u8,
    /// ECAM base address.
    pub ecam_addr: u64,
    /// Root port ID.
    pub root_id: u16,
    /// Certificate slot.
    pub cert_id: u64,
    /// First requester ID (inclusive).
    pub rid_base: u16,
    /// End of the requester ID range (exclusive).
    pub rid_top: u64,
    /// Digest algorithm.
    pub hash_algo: HashAlgo,
    /// IDE stream ID (alp12 sets up IDE inside PDEV_CREATE).
    pub ide_sid: u64,
    /// Auxiliary granules (count from RMI_PDEV_AUX_COUNT), at most 32.
    pub aux: List<u64, 32>,
    /// Non-coherent address ranges, at most 16.
    pub ncoh_ranges: List<AddrRange, 16>,
    /// Coherent address ranges, at most 4.
    pub coh_ranges: List<AddrRange, 4>,
}

impl PdevParamsAlp12 {
    /// Decodes the page (at least 0x340 bytes, at most 4096); a count above its array
    /// is an [`Error::InvalidField`].
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, 0x340, GRANULE_SIZE)?;
        Ok(Self {
            flags: PdevFlagsAlp12::from_bits(f.u64(0x00)?),
            pdev_id: f.u64(0x08)?,
            segment_id: f.u8(0x10)?,
            ecam_addr: f.u64(0x18)?,
            root_id: f.u16(0x20)?,
            cert_id: f.u64(0x28)?,
            rid_base: f.u16(0x30)?,
            rid_top: f.u64(0x38)?,
            hash_algo: HashAlgo::from_u8(f.u8(0x40)?)?,
            aux: f.list("rmi.pdev_params.num_aux", 0x48, 0x100, |r| r.u64())?,
            ide_sid: f.u64(0x50)?,
            ncoh_ranges: f.list("rmi.pdev_params.ncoh_num", 0x58, 0x200, AddrRange::read)?,
            coh_ranges: f.list("rmi.pdev_params.coh_num", 0x60, 0x300, AddrRange::read)?,
        })
    }

    /// Encodes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(0x00, self.flags.bits())?;
        l.u64(0x08, self.pdev_id)?;
        l.u8(0x10, self.segment_id)?;
        l.u64(0x18, self.ecam_addr)?;
        l.u16(0x20, self.root_id)?;
        l.u64(0x28, self.cert_id)?;
        l.u16(0x30, self.rid_base)?;
        l.u64(0x38, self.rid_top)?;
        l.u8(0x40, self.hash_algo.to_u8())?;
        l.u64(0x48, self.aux.len() as u64)?;
        l.u64(0x50, self.ide_sid)?;
        l.u64(0x58, self.ncoh_ranges.len() as u64)?;
        l.u64(0x60, self.coh_ranges.len() as u64)?;
        l.items(0x100, self.aux.as_slice(), |v, w| w.u64(*v))?;
        l.items(0x200, self.ncoh_ranges.as_slice(), AddrRange::write)?;
        l.items(0x300, self.coh_ranges.as_slice(), AddrRange::write)?;
        l.finish(GRANULE_SIZE)
    }
}

wire_enum! {
    /// RmiPdevState in ABI 2.0 (PDEV_GET_STATE's X1).
    pub enum PdevState(u8, "rmi.pdev_state") decode from_u8 encode to_u8 {
        /// Created; the first device operation (VCA, certificates) is pending.
        New = 0,
        /// The RMM needs the device's public key (SET_PUBKEY).
        NeedsKey = 1,
        /// The key is set; its verification is pending.
        HasKey = 2,
        /// Usable: streams and VDEVs may be created.
        Ready = 3,
        /// Stopped; may be destroyed.
        Stopped = 4,
        /// A device operation failed.
        Error = 5,
    }
}

impl PdevState {
    /// Decodes GET_STATE's X1 (a value above 255 is an [`Error::UnknownCode`]).
    pub fn from_reg(v: u64) -> Result<Self> {
        Self::from_u8(reg_u8("rmi.pdev_state", v)?)
    }
}

wire_enum! {
    /// RmiPdevState in 1.1-alp12 (decoding only; the machine models 2.0).
    pub enum PdevStateAlp12(u8, "rmi.pdev_state_alp12") decode from_u8 encode to_u8 {
        /// Created.
        New = 0,
        /// Needs the public key.
        NeedsKey = 1,
        /// Has the key.
        HasKey = 2,
        /// Usable.
        Ready = 3,
        /// PDEV_IDE_RESET in progress.
        IdeResetting = 4,
        /// PDEV_NOTIFY in progress.
        Communicating = 5,
        /// PDEV_STOP in progress.
        Stopping = 6,
        /// Stopped.
        Stopped = 7,
        /// Failed.
        Error = 8,
    }
}

/// The device operation a PDEV's communication is carrying (TF-RMM's `op.curr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PdevOp {
    /// After CREATE: VCA and certificate chain (EP), nothing (root port).
    Init,
    /// After SET_PUBKEY: key verification and session setup.
    Key,
    /// After STOP: end the SPDM session.
    Stop,
    /// The PDEV's part of a stream operation (IDE-KM on the EP).
    Stream(StreamOp),
    /// The stream operation reached idle on this PDEV; STREAM_COMPLETE is due.
    StreamComplete(StreamOp),
}

/// A PDEV call other than CREATE and DESTROY ([`Pdev::create`], [`Pdev::destroy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PdevCall {
    /// RMI_PDEV_COMMUNICATE, with what it achieved.
    Communicate(CommOutcome),
    /// RMI_PDEV_SET_PUBKEY.
    SetPubkey,
    /// RMI_PDEV_STOP.
    Stop,
    /// RMI_PDEV_ABORT.
    Abort,
    /// This PDEV's part of STREAM_CONNECT, STREAM_DISCONNECT or STREAM_KEY_REFRESH
    /// (applied by [`super::Stream`]).
    StreamBegin(StreamOp),
    /// This PDEV's part of STREAM_COMPLETE (applied by [`super::Stream`]).
    StreamComplete,
    /// A VDEV was created on this PDEV.
    VdevCreated,
    /// A VDEV of this PDEV was destroyed.
    VdevDestroyed,
}

/// The RMM's view of one PDEV (ABI 2.0; TF-RMM `pdev.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pdev {
    /// Root port or endpoint.
    pub category: Category,
    /// The RMI state GET_STATE reports.
    pub state: PdevState,
    /// The communication state.
    pub comm: CommState,
    /// The last device operation started and not finished. As in TF-RMM it survives
    /// ABORT and failures, so a PDEV whose stream operation was aborted takes no new
    /// stream operation.
    pub op: Option<PdevOp>,
    /// Streams associated with the PDEV (from STREAM_CONNECT until the disconnect
    /// completes).
    pub streams: u32,
    /// VDEVs created on the PDEV.
    pub vdevs: u32,
}

impl Pdev {
    /// The PDEV after a successful PDEV_CREATE (for an EP, after its stateful operation
    /// completed): NEW, with its first operation pending.
    pub const fn create(category: Category) -> Self {
        Self {
            category,
            state: PdevState::New,
            comm: CommState::Pending,
            op: Some(PdevOp::Init),
            streams: 0,
            vdevs: 0,
        }
    }

    /// Whether PDEV_DESTROY is allowed: only in STOPPED (else ERROR_DEVICE). For an EP
    /// it starts a stateful operation that reclaims the auxiliary granules.
    pub fn destroy(&self) -> core::result::Result<(), OrderError> {
        match self.state {
            PdevState::Stopped => Ok(()),
            _ => Err(OrderError::device("PDEV_DESTROY before STOPPED")),
        }
    }

    /// Whether VDEVs may be created on the PDEV (READY endpoint; TF-RMM `vdev.c`).
    pub const fn hosts_vdevs(&self) -> bool {
        self.category.is_endpoint() && matches!(self.state, PdevState::Ready)
    }

    /// Whether the PDEV's communication is idle (GET_MEASUREMENTS needs it).
    pub const fn comm_idle(&self) -> bool {
        matches!(self.comm, CommState::Idle)
    }

    /// The PDEV after `call`, or why the RMM refuses it (no state changed).
    ///
    /// - COMMUNICATE: only with an operation (else ERROR_DEVICE). When it reaches idle
    ///   the operation's transition applies: Init takes NEW to NEEDS_KEY (EP) or READY
    ///   (root port), Key takes HAS_KEY to READY, Stop gives STOPPED, a stream
    ///   operation becomes [`PdevOp::StreamComplete`]. A failure gives ERROR. STREAM_WAIT
    ///   outside a stream operation is refused (a model bug).
    /// - SET_PUBKEY: NEEDS_KEY only (ERROR_DEVICE); gives HAS_KEY and starts Key.
    /// - STOP: comm idle, no streams, no VDEVs (ERROR_DEVICE; the state is not
    ///   checked); starts Stop.
    /// - ABORT: comm not idle (ERROR_DEVICE); back to idle, state and operation kept.
    ///   This is how a PDEV leaves a failed operation so that STOP can be used.
    /// - stream begin: CONNECT and KEY_REFRESH need READY, comm idle and no operation;
    ///   DISCONNECT needs READY or ERROR and comm idle (ERROR_INPUT, as TF-RMM answers).
    ///   CONNECT associates the stream.
    /// - stream complete: READY and comm idle (ERROR_INPUT), the operation at
    ///   [`PdevOp::StreamComplete`] (ERROR_DEVICE); a completed DISCONNECT dissociates.
    pub fn on(&self, call: PdevCall) -> core::result::Result<Self, OrderError> {
        let mut p = *self;
        let input = |why| Err(OrderError::new(Status::ErrorInput, why));
        match call {
            PdevCall::Communicate(outcome) => {
                if outcome == CommOutcome::StreamWait && !matches!(p.op, Some(PdevOp::Stream(_))) {
                    return Err(OrderError::device("STREAM_WAIT outside a stream operation"));
                }
                p.comm = p.comm.communicate(outcome)?;
                match p.comm {
                    CommState::Idle => p.finish_op(),
                    CommState::Error => p.state = PdevState::Error,
                    _ => {}
                }
            }
            PdevCall::SetPubkey => {
                if p.state != PdevState::NeedsKey {
                    return Err(OrderError::device("SET_PUBKEY outside NEEDS_KEY"));
                }
                p.start(PdevOp::Key);
                p.state = PdevState::HasKey;
            }
            PdevCall::Stop => {
                p.comm.require_idle("PDEV_STOP during a device operation")?;
                if p.streams != 0 || p.vdevs != 0 {
                    return Err(OrderError::device("PDEV_STOP with streams or VDEVs"));
                }
                p.start(PdevOp::Stop);
            }
            PdevCall::Abort => p.comm = p.comm.abort()?,
            PdevCall::StreamBegin(op) => {
                let ok = match op {
                    StreamOp::Disconnect => {
                        matches!(p.state, PdevState::Ready | PdevState::Error) && p.comm_idle()
                    }
                    _ => p.state == PdevState::Ready && p.comm_idle() && p.op.is_none(),
                };
                if !ok {
                    return input("stream operation on a PDEV that is not ready and idle");
                }
                p.start(PdevOp::Stream(op));
                if op == StreamOp::Connect {
                    p.streams = p.streams.saturating_add(1);
                }
            }
            PdevCall::StreamComplete => {
                if p.state != PdevState::Ready || !p.comm_idle() {
                    return input("STREAM_COMPLETE on a PDEV that is not ready and idle");
                }
                let Some(PdevOp::StreamComplete(op)) = p.op else {
                    return Err(OrderError::device(
                        "STREAM_COMPLETE before the PDEV's part ended",
                    ));
                };
                p.op = None;
                if op == StreamOp::Disconnect {
                    p.streams = p.streams.saturating_sub(1);
                }
            }
            PdevCall::VdevCreated => {
                if !p.hosts_vdevs() {
                    return Err(OrderError::device(
                        "VDEV_CREATE on a PDEV that is not READY",
                    ));
                }
                p.vdevs = p.vdevs.saturating_add(1);
            }
            PdevCall::VdevDestroyed => {
                p.vdevs = p
                    .vdevs
                    .checked_sub(1)
                    .ok_or(OrderError::new(Status::ErrorInput, "no VDEV to destroy"))?;
            }
        }
        Ok(p)
    }

    fn start(&mut self, op: PdevOp) {
        self.op = Some(op);
        self.comm = CommState::Pending;
    }

    /// The transition of a device operation that reached idle (TF-RMM applies NEW and
    /// HAS_KEY's successors whatever the operation; only Init and Key reach them).
    fn finish_op(&mut self) {
        self.op = match self.op {
            Some(PdevOp::Stop) => {
                self.state = PdevState::Stopped;
                None
            }
            Some(PdevOp::Stream(op)) => Some(PdevOp::StreamComplete(op)),
            op @ Some(PdevOp::StreamComplete(_)) => op,
            _ => None,
        };
        match self.state {
            PdevState::New if self.category.is_endpoint() => self.state = PdevState::NeedsKey,
            PdevState::New | PdevState::HasKey => self.state = PdevState::Ready,
            _ => {}
        }
    }
}
