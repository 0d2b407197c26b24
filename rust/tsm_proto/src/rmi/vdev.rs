// SPDX-License-Identifier: GPL-2.0

//! VDEVs: the creation and measurement parameter pages, the states, and the VDEV state
//! machine.
//!
//! A VDEV binds one TDI of a READY endpoint PDEV to a Realm. VDEV_CREATE needs the
//! PDEV's non-coherent IDE stream connected; one communicate then makes it UNLOCKED.
//! VDEV_LOCK and VDEV_START (each followed by communicates) run TDISP LOCK_INTERFACE
//! and START_INTERFACE; VDEV_UNLOCK (TDISP STOP_INTERFACE) needs every device granule
//! of the VDEV unmapped first. GET_INTERFACE_REPORT and GET_MEASUREMENTS refresh the
//! host's cached objects without changing the state.

use super::super::codec::{Error, Result, Writer};
use super::comm::{CommOutcome, CommState};
use super::pdev::Pdev;
use super::result::{OrderError, Status};
use super::{ranges_sorted, reg_u8, AddrRange, Fields, Layout, List, GRANULE_SIZE};

wire_bits! {
    /// RmiVdevFlags: bit 0 vSMMU. TF-RMM requires the flags to be zero.
    pub struct VdevFlags(u64) {
        /// Bit 0: the device is translated by a virtual SMMU.
        VSMMU = 1 << 0;
    }
}

/// Largest number of address ranges in [`VdevParams`].
pub const VDEV_MAX_RANGES: usize = 8;

/// RmiVdevParams in ABI 2.0 (TF-RMM; the Linux TDISP series matches).
///
/// Offsets: 0x00 flags, 0x08 vdev_id, 0x10 tdi_id (its slot ends at 0x20), 0x20
/// vsmmu_addr, 0x28 vsid, 0x30 num_addr_range, 0x200 `addr_range[8]` of {base, top}.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VdevParams {
    /// Flags.
    pub flags: VdevFlags,
    /// The guest-visible device ID (the guest RID).
    pub vdev_id: u64,
    /// The TDI: the host RID, in the PDEV's `[rid_base, rid_top)`.
    pub tdi_id: u64,
    /// PA of the vSMMU (with [`VdevFlags::VSMMU`]).
    pub vsmmu_addr: u64,
    /// Virtual stream ID (with [`VdevFlags::VSMMU`]).
    pub vsid: u64,
    /// The device's memory ranges (its BARs), sorted and disjoint.
    pub ranges: List<AddrRange, VDEV_MAX_RANGES>,
}

impl VdevParams {
    /// Decodes the page (at least 0x280 bytes, at most 4096); more than 8 ranges is an
    /// [`Error::InvalidField`].
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, 0x280, GRANULE_SIZE)?;
        Ok(Self {
            flags: VdevFlags::from_bits(f.u64(0x00)?),
            vdev_id: f.u64(0x08)?,
            tdi_id: f.u64(0x10)?,
            vsmmu_addr: f.u64(0x20)?,
            vsid: f.u64(0x28)?,
            ranges: f.list(
                "rmi.vdev_params.num_addr_range",
                0x30,
                0x200,
                AddrRange::read,
            )?,
        })
    }

    /// Encodes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(0x00, self.flags.bits())?;
        l.u64(0x08, self.vdev_id)?;
        l.u64(0x10, self.tdi_id)?;
        l.u64(0x20, self.vsmmu_addr)?;
        l.u64(0x28, self.vsid)?;
        l.list(0x30, 0x200, self.ranges.as_slice(), AddrRange::write)?;
        l.finish(GRANULE_SIZE)
    }

    /// TF-RMM's checks of the page at VDEV_CREATE: flags zero, ranges sorted and
    /// disjoint (ERROR_INPUT); `tdi_id` within the PDEV's `[rid_base, rid_top)`.
    /// Overlap with the ranges of the PDEV's other VDEVs (also ERROR_INPUT) is
    /// [`super::ranges_overlap`].
    ///
    /// Unconfirmed: the status of the `tdi_id` check (TF-RMM leaves it as a TODO).
    pub fn check(&self, rid_base: u64, rid_top: u64) -> core::result::Result<(), OrderError> {
        let input = |why| Err(OrderError::new(Status::ErrorInput, why));
        if self.flags.bits() != 0 {
            return input("VDEV flags not zero");
        }
        if !ranges_sorted(self.ranges.as_slice()) {
            return input("VDEV ranges not sorted and disjoint");
        }
        if self.tdi_id < rid_base || self.tdi_id >= rid_top {
            return input("tdi_id outside the PDEV's requester IDs");
        }
        Ok(())
    }
}

/// RmiVdevParams in 1.1-alp12: 0x00 flags, 0x08 vdev_id, 0x10 tdi_id, 0x18 num_aux,
/// 0x100 `aux[32]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VdevParamsAlp12 {
    /// Flags (reserved in alp12).
    pub flags: u64,
    /// Guest-visible device ID.
    pub vdev_id: u64,
    /// Host TDI ID.
    pub tdi_id: u64,
    /// Auxiliary granules (count from RMI_VDEV_AUX_COUNT), at most 32.
    pub aux: List<u64, 32>,
}

impl VdevParamsAlp12 {
    /// Decodes the page (at least 0x200 bytes, at most 4096).
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, 0x200, GRANULE_SIZE)?;
        Ok(Self {
            flags: f.u64(0x00)?,
            vdev_id: f.u64(0x08)?,
            tdi_id: f.u64(0x10)?,
            aux: f.list("rmi.vdev_params.num_aux", 0x18, 0x100, |r| r.u64())?,
        })
    }

    /// Encodes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(0x00, self.flags)?;
        l.u64(0x08, self.vdev_id)?;
        l.u64(0x10, self.tdi_id)?;
        l.list(0x18, 0x100, self.aux.as_slice(), |v, w| w.u64(*v))?;
        l.finish(GRANULE_SIZE)
    }
}

/// Size of the nonce in [`MeasureParams`].
pub const MEASURE_NONCE_LEN: usize = 32;

/// RmiVdevMeasureParams (X4 of VDEV_GET_MEASUREMENTS): 0x000 flags (bit 0: raw
/// bitstream measurements), 0x100 `nonce[32]`. TF-RMM uses only the raw flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeasureParams {
    /// Flags (bit 0 [`MeasureParams::RAW`]).
    pub flags: u64,
    /// Nonce for the SPDM GET_MEASUREMENTS request.
    pub nonce: [u8; MEASURE_NONCE_LEN],
}

impl MeasureParams {
    /// Flag bit 0: request raw bitstream measurements.
    pub const RAW: u64 = 1 << 0;

    /// Decodes the page (at least 0x120 bytes, at most 4096).
    pub fn decode(page: &[u8]) -> Result<Self> {
        let f = Fields::new(page, 0x120, GRANULE_SIZE)?;
        Ok(Self {
            flags: f.u64(0x000)?,
            nonce: f.at(0x100)?.array()?,
        })
    }

    /// Encodes the whole 4096-byte page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut l = Layout::new(w);
        l.u64(0x000, self.flags)?;
        l.at(0x100)?.bytes(&self.nonce)?;
        l.finish(GRANULE_SIZE)
    }
}

wire_enum! {
    /// RmiVdevState in ABI 2.0 (VDEV_GET_STATE's X1).
    pub enum VdevState(u8, "rmi.vdev_state") decode from_u8 encode to_u8 {
        /// Created; its first operation (no device traffic) is pending.
        New = 0,
        /// TDI in CONFIG_UNLOCKED.
        Unlocked = 1,
        /// TDI in CONFIG_LOCKED.
        Locked = 2,
        /// TDI in RUN.
        Started = 3,
        /// A device operation failed or was aborted.
        Error = 4,
        /// Unlocking with a stream key refresh (VDEV_KROU).
        KeyRefresh = 5,
        /// Unlocking with a stream key purge (VDEV_KROU).
        KeyPurge = 6,
    }
}

impl VdevState {
    /// Decodes GET_STATE's X1 (a value above 255 is an
    /// [`Error::UnknownCode`]).
    pub fn from_reg(v: u64) -> Result<Self> {
        Self::from_u8(reg_u8("rmi.vdev_state", v)?)
    }
}

wire_enum! {
    /// RmiVdevState in 1.1-alp12 (decoding only). The Realm drove lock, start and
    /// report through REC exits; when a VDEV enters COMMUNICATING is unconfirmed.
    pub enum VdevStateAlp12(u8, "rmi.vdev_state_alp12") decode from_u8 encode to_u8 {
        /// Usable.
        Ready = 0,
        /// A Realm request is being carried.
        Communicating = 1,
        /// VDEV_STOP in progress.
        Stopping = 2,
        /// Stopped.
        Stopped = 3,
        /// Failed.
        Error = 4,
    }
}

/// The device operation a VDEV's communication is carrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VdevOp {
    /// To UNLOCKED: after CREATE (no device traffic) and after UNLOCK (TDISP STOP).
    Unlock,
    /// TDISP LOCK_INTERFACE, to LOCKED (a new lock nonce).
    Lock,
    /// TDISP START_INTERFACE, to STARTED.
    Start,
    /// Fetch the interface report (cache object 3); state unchanged.
    GetReport,
    /// Fetch the measurements (cache object 2); state unchanged.
    GetMeas,
    /// Stream key refresh, to KEY_PURGE.
    ///
    /// Unconfirmed: in TF-RMM's operation map, but no call starts it; Linux reaches
    /// KEY_REFRESH after VDEV_UNLOCK when VDEV_KROU is reported.
    KeyRefresh,
    /// Stream key purge, to UNLOCKED (same caveat as [`VdevOp::KeyRefresh`]).
    KeyPurge,
}

impl VdevOp {
    /// The state the operation leaves when it reaches idle from `state`.
    pub const fn target(self, state: VdevState) -> VdevState {
        match self {
            Self::Unlock | Self::KeyPurge => VdevState::Unlocked,
            Self::Lock => VdevState::Locked,
            Self::Start => VdevState::Started,
            Self::GetReport | Self::GetMeas => state,
            Self::KeyRefresh => VdevState::KeyPurge,
        }
    }
}

/// A VDEV call other than CREATE and DESTROY ([`Vdev::create`], [`Vdev::destroy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VdevCall {
    /// RMI_VDEV_COMMUNICATE, with what it achieved.
    Communicate(CommOutcome),
    /// RMI_VDEV_LOCK.
    Lock,
    /// RMI_VDEV_START.
    Start,
    /// RMI_VDEV_GET_INTERFACE_REPORT.
    GetInterfaceReport,
    /// RMI_VDEV_GET_MEASUREMENTS: the PDEV's communication must be idle; the VDEV's
    /// RMI state is not checked.
    ///
    /// Unconfirmed: that the VDEV's own communication must be idle too. TF-RMM checks
    /// only the PDEV's and sets the VDEV's operation over whatever was pending; the
    /// machine refuses (ERROR_DEVICE, as LOCK's comm check), since a VDEV carries one
    /// operation at a time.
    GetMeasurements {
        /// Whether the PDEV's communication is idle.
        pdev_comm_idle: bool,
    },
    /// RMI_VDEV_UNLOCK.
    Unlock {
        /// A device granule of the VDEV's ranges that is still mapped, if any.
        mapped: Option<u64>,
    },
    /// RMI_VDEV_ABORT.
    Abort,
}

/// The RMM's view of one VDEV (ABI 2.0; TF-RMM `vdev.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vdev {
    /// The RMI state GET_STATE reports.
    pub state: VdevState,
    /// The communication state.
    pub comm: CommState,
    /// The device operation in progress, if any.
    pub op: Option<VdevOp>,
}

impl Vdev {
    /// VDEV_CREATE on `pdev` (whose VDEV count is below `max_vdevs`), given whether its
    /// non-coherent stream is connected: the PDEV must be a READY endpoint with a free
    /// slot and a connected stream (each else ERROR_DEVICE). The new VDEV is NEW with
    /// [`VdevOp::Unlock`] pending; the caller applies [`super::PdevCall::VdevCreated`].
    pub fn create(
        pdev: &Pdev,
        max_vdevs: u32,
        ncoh_stream_connected: bool,
    ) -> core::result::Result<Self, OrderError> {
        if !pdev.hosts_vdevs() {
            return Err(OrderError::device("PDEV is not a READY endpoint"));
        }
        if pdev.vdevs >= max_vdevs {
            return Err(OrderError::device("no free VDEV slot"));
        }
        if !ncoh_stream_connected {
            return Err(OrderError::device("PDEV's stream is not connected"));
        }
        Ok(Self {
            state: VdevState::New,
            comm: CommState::Pending,
            op: Some(VdevOp::Unlock),
        })
    }

    /// Whether VDEV_DESTROY is allowed: NEW or UNLOCKED (else ERROR_DEVICE). From
    /// ERROR the way out is ABORT (if the comm is stuck), UNLOCK, communicate, DESTROY.
    pub fn destroy(&self) -> core::result::Result<(), OrderError> {
        match self.state {
            VdevState::New | VdevState::Unlocked => Ok(()),
            _ => Err(OrderError::device("VDEV_DESTROY outside NEW/UNLOCKED")),
        }
    }

    /// The VDEV after `call`, or why the RMM refuses it (no state changed).
    ///
    /// | call | requires | starts |
    /// |---|---|---|
    /// | LOCK | UNLOCKED, comm idle | Lock |
    /// | START | LOCKED, comm idle | Start |
    /// | GET_INTERFACE_REPORT | LOCKED or STARTED, comm idle | GetReport |
    /// | GET_MEASUREMENTS | PDEV comm idle, comm idle (VDEV state not checked) | GetMeas |
    /// | UNLOCK | LOCKED, STARTED or ERROR, comm idle, nothing mapped (else ERROR_GRANULE + address) | Unlock |
    /// | ABORT | comm not idle | – (state ERROR, comm idle) |
    ///
    /// Other refusals are ERROR_DEVICE. COMMUNICATE reaching idle applies
    /// [`VdevOp::target`]; a failure gives ERROR; STREAM_WAIT is refused.
    pub fn on(&self, call: VdevCall) -> core::result::Result<Self, OrderError> {
        use VdevState as S;
        let mut v = *self;
        let idle_in = |ok: bool, why| match ok {
            true => self.comm.require_idle(why),
            false => Err(OrderError::device(why)),
        };
        match call {
            VdevCall::Communicate(outcome) => {
                if outcome == CommOutcome::StreamWait {
                    return Err(OrderError::device("STREAM_WAIT on a VDEV"));
                }
                v.comm = v.comm.communicate(outcome)?;
                match (v.comm, v.op) {
                    (CommState::Idle, Some(op)) => {
                        v.state = op.target(v.state);
                        v.op = None;
                    }
                    (CommState::Error, _) => {
                        v.state = S::Error;
                        v.op = None;
                    }
                    _ => {}
                }
            }
            VdevCall::Lock => {
                idle_in(v.state == S::Unlocked, "VDEV_LOCK outside UNLOCKED")?;
                v.start(VdevOp::Lock);
            }
            VdevCall::Start => {
                idle_in(v.state == S::Locked, "VDEV_START outside LOCKED")?;
                v.start(VdevOp::Start);
            }
            VdevCall::GetInterfaceReport => {
                idle_in(
                    matches!(v.state, S::Locked | S::Started),
                    "interface report outside LOCKED/STARTED",
                )?;
                v.start(VdevOp::GetReport);
            }
            VdevCall::GetMeasurements { pdev_comm_idle } => {
                if !pdev_comm_idle {
                    return Err(OrderError::device(
                        "GET_MEASUREMENTS while the PDEV is busy",
                    ));
                }
                v.comm
                    .require_idle("GET_MEASUREMENTS during the VDEV's operation")?;
                v.start(VdevOp::GetMeas);
            }
            VdevCall::Unlock { mapped } => {
                idle_in(
                    matches!(v.state, S::Locked | S::Started | S::Error),
                    "VDEV_UNLOCK outside LOCKED/STARTED/ERROR",
                )?;
                if let Some(addr) = mapped {
                    return Err(OrderError {
                        status: Status::ErrorGranule,
                        why: "a device granule of the VDEV is still mapped",
                        value: addr,
                    });
                }
                v.start(VdevOp::Unlock);
            }
            VdevCall::Abort => {
                v.comm = v.comm.abort()?;
                v.state = S::Error;
                v.op = None;
            }
        }
        Ok(v)
    }

    fn start(&mut self, op: VdevOp) {
        self.op = Some(op);
        self.comm = CommState::Pending;
    }
}
