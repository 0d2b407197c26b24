// SPDX-License-Identifier: GPL-2.0

//! What the firmware writes (`TSM_FW_MSG_*`): HELLO, DOE_REQUEST and COMPLETE. These are
//! the bytes the kernel parses from a root-owned process, so their decoder is fuzzed
//! (`fuzz/fuzz_targets/fwmsg.rs`).

use super::super::codec::{Error, Reader, Result, Writer};
use super::{payload_len, read_payload, require, size, Dev, Message, MsgType, DOE_VENDOR_PCI_SIG};

/// `struct tsm_fw_hello`, the HELLO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Lowest protocol version the firmware speaks.
    pub min_version: u16,
    /// Highest protocol version the firmware speaks.
    pub max_version: u16,
    /// Largest message the firmware reads.
    pub max_msg_size: u32,
    /// `TSM_FW_CAP_*`.
    pub caps: u32,
}

impl Hello {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let h = Self {
            min_version: r.u16()?,
            max_version: r.u16()?,
            max_msg_size: r.u32()?,
            caps: r.u32()?,
        };
        r.skip(4)?;
        Ok(h)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.min_version)?;
        w.u16(self.max_version)?;
        w.u32(self.max_msg_size)?;
        w.u32(self.caps)?;
        w.zeros(4)
    }
}

/// `struct tsm_fw_doe_request` and its payload: do one DOE exchange. The vendor is
/// always `TSM_FW_DOE_VENDOR_PCI_SIG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoeRequest<'a> {
    /// The device whose DOE mailbox to use.
    pub dev: Dev,
    /// `TSM_FW_DOE_TYPE_CMA` or `TSM_FW_DOE_TYPE_SECURED_CMA`.
    pub object_type: u8,
    /// Exchange number within the command, from 0.
    pub seq: u32,
    /// How long the firmware is prepared to wait; the kernel may use less.
    pub timeout_ms: u32,
    /// The DOE object's payload (without the DOE header), a whole number of dwords.
    pub payload: &'a [u8],
}

impl<'a> DoeRequest<'a> {
    /// The payload is a whole number of dwords.
    fn check(len: usize) -> Result<()> {
        require(len % 4 == 0, "tsm_fw.doe.length", len as u64)
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let dev = Dev::decode(r)?;
        let vendor_id = r.u16()?;
        require(
            vendor_id == DOE_VENDOR_PCI_SIG,
            "tsm_fw.doe.vendor_id",
            vendor_id.into(),
        )?;
        let object_type = r.u8()?;
        r.skip(1)?;
        let seq = r.u32()?;
        let timeout_ms = r.u32()?;
        let length = r.u32()?;
        r.skip(4)?;
        Self::check(length as usize)?;
        Ok(Self {
            dev,
            object_type,
            seq,
            timeout_ms,
            payload: read_payload(r, length)?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Self::check(self.payload.len())?;
        let length = payload_len(self.payload)?;
        self.dev.encode(w)?;
        w.u16(DOE_VENDOR_PCI_SIG)?;
        w.u8(self.object_type)?;
        w.u8(0)?;
        w.u32(self.seq)?;
        w.u32(self.timeout_ms)?;
        w.u32(length)?;
        w.u32(0)?;
        w.bytes(self.payload)
    }
}

/// `struct tsm_fw_complete` and its payload: a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete<'a> {
    /// 0 or a negative errno (-4095 to -1).
    pub status: i32,
    /// `TSM_FW_ERR_*` (carried as is: the kernel only reports it).
    pub fw_error: u32,
    /// For TDI commands the TDI state the device last reported, else `TSM_FW_TDI_NONE`.
    pub tdi_state: u32,
    /// The report for GET_REPORT, the state byte for GET_STATE, a human-readable
    /// reason on failure, else empty.
    pub payload: &'a [u8],
}

impl<'a> Complete<'a> {
    /// The status is 0 or a negative errno.
    fn check(status: i32) -> Result<()> {
        let errno = (-4095..=0).contains(&status);
        require(errno, "tsm_fw.complete.status", status as u64)
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let status = r.u32()? as i32;
        let fw_error = r.u32()?;
        let tdi_state = r.u32()?;
        let length = r.u32()?;
        Self::check(status)?;
        Ok(Self {
            status,
            fw_error,
            tdi_state,
            payload: read_payload(r, length)?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Self::check(self.status)?;
        let length = payload_len(self.payload)?;
        w.u32(self.status as u32)?;
        w.u32(self.fw_error)?;
        w.u32(self.tdi_state)?;
        w.u32(length)?;
        w.bytes(self.payload)
    }
}

/// A message the firmware writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg<'a> {
    /// `TSM_FW_MSG_HELLO`, the first message after open (`req_id` 0).
    Hello(Hello),
    /// `TSM_FW_MSG_DOE_REQUEST`, with the `req_id` of the command it serves.
    DoeRequest(DoeRequest<'a>),
    /// `TSM_FW_MSG_COMPLETE`, with the `req_id` of the command it ends.
    Complete(Complete<'a>),
}

impl<'a> Message<'a> for Msg<'a> {
    fn msg_type(&self) -> MsgType {
        match self {
            Msg::Hello(_) => MsgType::Hello,
            Msg::DoeRequest(_) => MsgType::DoeRequest,
            Msg::Complete(_) => MsgType::Complete,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Msg::Hello(_) => size::HELLO,
            Msg::DoeRequest(d) => size::DOE_REQUEST.saturating_add(d.payload.len()),
            Msg::Complete(c) => size::COMPLETE.saturating_add(c.payload.len()),
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Msg::Hello(h) => h.encode(w),
            Msg::DoeRequest(d) => d.encode(w),
            Msg::Complete(c) => c.encode(w),
        }
    }

    fn decode_body(ty: MsgType, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match ty {
            MsgType::Hello => Msg::Hello(Hello::decode(r)?),
            MsgType::DoeRequest => Msg::DoeRequest(DoeRequest::decode(r)?),
            MsgType::Complete => Msg::Complete(Complete::decode(r)?),
            _ => {
                return Err(Error::UnexpectedMessage {
                    what: "tsm_fw: a kernel command from the firmware",
                })
            }
        })
    }
}
