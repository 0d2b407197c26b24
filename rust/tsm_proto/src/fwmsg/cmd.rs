// SPDX-License-Identifier: GPL-2.0

//! What the kernel writes (`TSM_FW_CMD_*`): HELLO_ACK, the five commands (CONNECT,
//! DISCONNECT, BIND, UNBIND, GUEST_REQ) and DOE_RESPONSE.

use super::super::codec::{Error, Reader, Result, Writer};
use super::super::tdisp::{FunctionId, LockFlags};
use super::{payload_len, read_payload, require, size, Dev, Message, MsgType, MAX_BARS};

/// Checks a TDISP FUNCTION_ID (`tdi_id`): reserved bits 31:25 clear.
fn check_tdi_id(tdi_id: u32) -> Result<()> {
    FunctionId::from_u32(tdi_id).map(|_| ())
}

/// `struct tsm_fw_hello_ack`, the HELLO_ACK body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloAck {
    /// The version both speak, or 0 to refuse (the firmware then exits).
    pub version: u16,
    /// Largest message the kernel reads.
    pub max_msg_size: u32,
}

impl HelloAck {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let version = r.u16()?;
        r.skip(2)?;
        Ok(Self {
            version,
            max_msg_size: r.u32()?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.version)?;
        w.u16(0)?;
        w.u32(self.max_msg_size)
    }
}

/// `struct tsm_fw_connect`, the CONNECT body: authenticate the DSM, open the SPDM
/// secured session and key the selective IDE stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect {
    /// The device.
    pub dev: Dev,
    /// IDE stream ID to key.
    pub stream_id: u8,
}

impl Connect {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let dev = Dev::decode(r)?;
        let stream_id = r.u8()?;
        r.skip(3)?;
        Ok(Self { dev, stream_id })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.dev.encode(w)?;
        w.u8(self.stream_id)?;
        w.zeros(3)
    }
}

/// `struct tsm_fw_disconnect`, the DISCONNECT body: stop the IDE keys, end the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnect {
    /// The device.
    pub dev: Dev,
}

impl Disconnect {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let dev = Dev::decode(r)?;
        r.skip(4)?;
        Ok(Self { dev })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.dev.encode(w)?;
        w.u32(0)
    }
}

/// `struct tsm_fw_bar`: a memory BAR of the TDI's function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bar {
    /// Host physical base address.
    pub base: u64,
    /// Size in bytes, a power of two.
    pub size: u64,
    /// BAR index 0-5.
    pub index: u8,
    /// `TSM_FW_BAR_*`.
    pub flags: u8,
}

impl Bar {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let bar = Self {
            base: r.u64()?,
            size: r.u64()?,
            index: r.u8()?,
            flags: r.u8()?,
        };
        r.skip(6)?;
        Ok(bar)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.base)?;
        w.u64(self.size)?;
        w.u8(self.index)?;
        w.u8(self.flags)?;
        w.zeros(6)
    }
}

/// `struct tsm_fw_msix`: MSI-X layout of the TDI's function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Msix {
    /// Table Size + 1; 0 if the function has no MSI-X.
    pub table_entries: u16,
    /// Table BIR.
    pub table_bar: u8,
    /// PBA BIR.
    pub pba_bar: u8,
    /// Table offset in its BAR.
    pub table_offset: u32,
    /// PBA offset in its BAR.
    pub pba_offset: u32,
}

impl Msix {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let m = Self {
            table_entries: r.u16()?,
            table_bar: r.u8()?,
            pba_bar: r.u8()?,
            table_offset: r.u32()?,
            pba_offset: r.u32()?,
        };
        r.skip(4)?;
        Ok(m)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.table_entries)?;
        w.u8(self.table_bar)?;
        w.u8(self.pba_bar)?;
        w.u32(self.table_offset)?;
        w.u32(self.pba_offset)?;
        w.u32(0)
    }
}

/// `struct tsm_fw_bind`, the BIND body: LOCK_INTERFACE the TDI, fetch and validate its
/// interface report. Every BAR slot is carried, used or not, so re-encoding is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bind {
    /// The device (its DSM).
    pub dev: Dev,
    /// TDISP FUNCTION_ID of the TDI (bits 31:25 reserved, refused).
    pub tdi_id: u32,
    /// The guest's requester ID for the TDI (the vdevice virtual ID).
    pub guest_rid: u32,
    /// `TSM_FW_LOCK_*` (other bits refused).
    pub lock_flags: u16,
    /// Entries used in `bars`, at most `TSM_FW_MAX_BARS`.
    pub nr_bars: u8,
    /// MMIO_REPORTING_OFFSET of LOCK_INTERFACE_REQUEST.
    pub mmio_reporting_offset: u64,
    /// MSI-X layout, checked against the report.
    pub msix: Msix,
    /// The function's memory BARs, checked against the report.
    pub bars: [Bar; MAX_BARS],
}

impl Bind {
    /// The BARs in use.
    pub fn used_bars(&self) -> &[Bar] {
        self.bars.get(..usize::from(self.nr_bars)).unwrap_or(&[])
    }

    /// What a receiver relies on: a BAR count that fits, a valid FUNCTION_ID, defined
    /// lock flags.
    fn check(&self) -> Result<()> {
        let fits = usize::from(self.nr_bars) <= MAX_BARS;
        require(fits, "tsm_fw.bind.nr_bars", self.nr_bars.into())?;
        check_tdi_id(self.tdi_id)?;
        LockFlags::from_bits(self.lock_flags).map(|_| ())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let dev = Dev::decode(r)?;
        let tdi_id = r.u32()?;
        let guest_rid = r.u32()?;
        let lock_flags = r.u16()?;
        let nr_bars = r.u8()?;
        r.skip(1)?;
        let mmio_reporting_offset = r.u64()?;
        let msix = Msix::decode(r)?;
        let mut bars = [Bar::default(); MAX_BARS];
        for bar in &mut bars {
            *bar = Bar::decode(r)?;
        }
        let b = Self {
            dev,
            tdi_id,
            guest_rid,
            lock_flags,
            nr_bars,
            mmio_reporting_offset,
            msix,
            bars,
        };
        b.check()?;
        Ok(b)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.check()?;
        self.dev.encode(w)?;
        w.u32(self.tdi_id)?;
        w.u32(self.guest_rid)?;
        w.u16(self.lock_flags)?;
        w.u8(self.nr_bars)?;
        w.u8(0)?;
        w.u64(self.mmio_reporting_offset)?;
        self.msix.encode(w)?;
        self.bars.iter().try_for_each(|bar| bar.encode(w))
    }
}

/// `struct tsm_fw_unbind`, the UNBIND body: STOP_INTERFACE the TDI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unbind {
    /// The device.
    pub dev: Dev,
    /// TDISP FUNCTION_ID of the TDI, as in BIND.
    pub tdi_id: u32,
}

impl Unbind {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let dev = Dev::decode(r)?;
        let tdi_id = r.u32()?;
        check_tdi_id(tdi_id)?;
        Ok(Self { dev, tdi_id })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        check_tdi_id(self.tdi_id)?;
        self.dev.encode(w)?;
        w.u32(self.tdi_id)
    }
}

/// `struct tsm_fw_guest_req`, the GUEST_REQ body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestReq {
    /// The device.
    pub dev: Dev,
    /// TDISP FUNCTION_ID of the TDI, as in BIND.
    pub tdi_id: u32,
    /// `TSM_FW_GUEST_*` ([`super::GuestOp`]); any value travels, the firmware refuses
    /// one it does not know.
    pub op: u32,
}

impl GuestReq {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let dev = Dev::decode(r)?;
        let tdi_id = r.u32()?;
        check_tdi_id(tdi_id)?;
        let op = r.u32()?;
        r.skip(4)?;
        Ok(Self { dev, tdi_id, op })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        check_tdi_id(self.tdi_id)?;
        self.dev.encode(w)?;
        w.u32(self.tdi_id)?;
        w.u32(self.op)?;
        w.u32(0)
    }
}

/// `struct tsm_fw_doe_response` and its payload: the answer to a DOE_REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoeResponse<'a> {
    /// 0, or a negative errno (-ETIMEDOUT, -EIO, -ECANCELED, ...) with no payload.
    pub status: i32,
    /// DOE vendor ID of the response object.
    pub vendor_id: u16,
    /// DOE object type of the response object.
    pub object_type: u8,
    /// The `seq` of the DOE_REQUEST answered.
    pub seq: u32,
    /// The response object's payload (without the DOE header).
    pub payload: &'a [u8],
}

impl<'a> DoeResponse<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let status = r.u32()? as i32;
        let vendor_id = r.u16()?;
        let object_type = r.u8()?;
        r.skip(1)?;
        let seq = r.u32()?;
        let length = r.u32()?;
        Ok(Self {
            status,
            vendor_id,
            object_type,
            seq,
            payload: read_payload(r, length)?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let length = payload_len(self.payload)?;
        w.u32(self.status as u32)?;
        w.u16(self.vendor_id)?;
        w.u8(self.object_type)?;
        w.u8(0)?;
        w.u32(self.seq)?;
        w.u32(length)?;
        w.bytes(self.payload)
    }
}

/// A message the kernel writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd<'a> {
    /// `TSM_FW_CMD_HELLO_ACK`, the answer to HELLO (`req_id` 0).
    HelloAck(HelloAck),
    /// `TSM_FW_CMD_CONNECT`.
    Connect(Connect),
    /// `TSM_FW_CMD_DISCONNECT`.
    Disconnect(Disconnect),
    /// `TSM_FW_CMD_BIND`.
    Bind(Bind),
    /// `TSM_FW_CMD_UNBIND`.
    Unbind(Unbind),
    /// `TSM_FW_CMD_GUEST_REQ`.
    GuestReq(GuestReq),
    /// `TSM_FW_CMD_DOE_RESPONSE`, with the `req_id` of the DOE_REQUEST it answers.
    DoeResponse(DoeResponse<'a>),
}

impl<'a> Message<'a> for Cmd<'a> {
    fn msg_type(&self) -> MsgType {
        match self {
            Cmd::HelloAck(_) => MsgType::HelloAck,
            Cmd::Connect(_) => MsgType::Connect,
            Cmd::Disconnect(_) => MsgType::Disconnect,
            Cmd::Bind(_) => MsgType::Bind,
            Cmd::Unbind(_) => MsgType::Unbind,
            Cmd::GuestReq(_) => MsgType::GuestReq,
            Cmd::DoeResponse(_) => MsgType::DoeResponse,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Cmd::HelloAck(_) => size::HELLO_ACK,
            Cmd::Connect(_) => size::CONNECT,
            Cmd::Disconnect(_) => size::DISCONNECT,
            Cmd::Bind(_) => size::BIND,
            Cmd::Unbind(_) => size::UNBIND,
            Cmd::GuestReq(_) => size::GUEST_REQ,
            Cmd::DoeResponse(d) => size::DOE_RESPONSE.saturating_add(d.payload.len()),
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Cmd::HelloAck(b) => b.encode(w),
            Cmd::Connect(b) => b.encode(w),
            Cmd::Disconnect(b) => b.encode(w),
            Cmd::Bind(b) => b.encode(w),
            Cmd::Unbind(b) => b.encode(w),
            Cmd::GuestReq(b) => b.encode(w),
            Cmd::DoeResponse(b) => b.encode(w),
        }
    }

    fn decode_body(ty: MsgType, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match ty {
            MsgType::HelloAck => Cmd::HelloAck(HelloAck::decode(r)?),
            MsgType::Connect => Cmd::Connect(Connect::decode(r)?),
            MsgType::Disconnect => Cmd::Disconnect(Disconnect::decode(r)?),
            MsgType::Bind => Cmd::Bind(Bind::decode(r)?),
            MsgType::Unbind => Cmd::Unbind(Unbind::decode(r)?),
            MsgType::GuestReq => Cmd::GuestReq(GuestReq::decode(r)?),
            MsgType::DoeResponse => Cmd::DoeResponse(DoeResponse::decode(r)?),
            MsgType::Hello | MsgType::DoeRequest | MsgType::Complete => {
                return Err(Error::UnexpectedMessage {
                    what: "tsm_fw: a firmware message from the kernel",
                })
            }
        })
    }
}
