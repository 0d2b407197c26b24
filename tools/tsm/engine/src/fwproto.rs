// SPDX-License-Identifier: GPL-2.0

//! The kernel <-> tsm-fw message protocol over `/dev/tsm_fw`, mirroring
//! `include/uapi/linux/tsm_fw.h` field by field (a test parses the header and checks
//! every constant and structure size against this module).
//!
//! Every message: [`Header`] (24 bytes), the fixed body of its type, and for DOE_REQUEST,
//! DOE_RESPONSE and COMPLETE a payload whose length the body gives. Little-endian, no
//! holes. Decoding is total: any byte string yields a message or a [`ProtoError`].

use tsm_proto::codec::{self, Reader, Writer};
use tsm_proto::report::{BarInfo, MsixLayout};
use tsm_proto::state::TdiState;
use tsm_proto::tdisp::{FunctionId, LockFlags};

use super::fw::{BindParams, DevId, DoeError, FwError, GuestOp};

/// `TSM_FW_MAGIC`.
pub const MAGIC: u32 = 0x5746_5354;
/// `TSM_FW_VERSION_1`.
pub const VERSION_1: u16 = 1;
/// `TSM_FW_MAX_PAYLOAD`.
pub const MAX_PAYLOAD: usize = 0x1_0000;
/// `TSM_FW_MAX_MSG_SIZE`.
pub const MAX_MSG_SIZE: usize = 0x1_0100;
/// `TSM_FW_MAX_BARS`.
pub const MAX_BARS: usize = 6;
/// `TSM_FW_DOE_VENDOR_PCI_SIG`.
pub const DOE_VENDOR_PCI_SIG: u16 = 0x0001;
/// `TSM_FW_DOE_TYPE_CMA`.
pub const DOE_TYPE_CMA: u8 = 1;
/// `TSM_FW_DOE_TYPE_SECURED_CMA`.
pub const DOE_TYPE_SECURED_CMA: u8 = 2;

/// `enum tsm_fw_msg_type`.
pub mod msg_type {
    /// `TSM_FW_MSG_HELLO`.
    pub const HELLO: u16 = 0x0001;
    /// `TSM_FW_MSG_DOE_REQUEST`.
    pub const DOE_REQUEST: u16 = 0x0002;
    /// `TSM_FW_MSG_COMPLETE`.
    pub const COMPLETE: u16 = 0x0003;
    /// `TSM_FW_CMD_HELLO_ACK`.
    pub const HELLO_ACK: u16 = 0x0101;
    /// `TSM_FW_CMD_CONNECT`.
    pub const CONNECT: u16 = 0x0102;
    /// `TSM_FW_CMD_DISCONNECT`.
    pub const DISCONNECT: u16 = 0x0103;
    /// `TSM_FW_CMD_BIND`.
    pub const BIND: u16 = 0x0104;
    /// `TSM_FW_CMD_UNBIND`.
    pub const UNBIND: u16 = 0x0105;
    /// `TSM_FW_CMD_GUEST_REQ`.
    pub const GUEST_REQ: u16 = 0x0106;
    /// `TSM_FW_CMD_DOE_RESPONSE`.
    pub const DOE_RESPONSE: u16 = 0x0107;
}

/// `TSM_FW_CAP_IDE`.
pub const CAP_IDE: u32 = 1 << 0;
/// `TSM_FW_CAP_TDISP`.
pub const CAP_TDISP: u32 = 1 << 1;
/// `TSM_FW_BAR_64BIT`.
pub const BAR_64BIT: u8 = 1 << 0;
/// `TSM_FW_BAR_PREFETCH`.
pub const BAR_PREFETCH: u8 = 1 << 1;
/// `TSM_FW_GUEST_GET_REPORT`.
pub const GUEST_GET_REPORT: u32 = 1;
/// `TSM_FW_GUEST_START`.
pub const GUEST_START: u32 = 2;
/// `TSM_FW_GUEST_GET_STATE`.
pub const GUEST_GET_STATE: u32 = 3;
/// `TSM_FW_TDI_NONE`.
pub const TDI_NONE: u32 = 0xff;

/// `enum tsm_fw_error`.
pub mod err {
    /// `TSM_FW_ERR_NONE`.
    pub const NONE: u32 = 0;
    /// `TSM_FW_ERR_TRANSPORT`.
    pub const TRANSPORT: u32 = 1;
    /// `TSM_FW_ERR_TIMEOUT`.
    pub const TIMEOUT: u32 = 2;
    /// `TSM_FW_ERR_MALFORMED`.
    pub const MALFORMED: u32 = 3;
    /// `TSM_FW_ERR_OVERSIZED`.
    pub const OVERSIZED: u32 = 4;
    /// `TSM_FW_ERR_SPDM_ERROR`.
    pub const SPDM_ERROR: u32 = 5;
    /// `TSM_FW_ERR_PROTOCOL`.
    pub const PROTOCOL: u32 = 6;
    /// `TSM_FW_ERR_NEGOTIATION`.
    pub const NEGOTIATION: u32 = 7;
    /// `TSM_FW_ERR_CERT`.
    pub const CERT: u32 = 8;
    /// `TSM_FW_ERR_CRYPTO`.
    pub const CRYPTO: u32 = 9;
    /// `TSM_FW_ERR_IDE_KM`.
    pub const IDE_KM: u32 = 10;
    /// `TSM_FW_ERR_TDISP_ERROR`.
    pub const TDISP_ERROR: u32 = 11;
    /// `TSM_FW_ERR_REPORT`.
    pub const REPORT: u32 = 12;
    /// `TSM_FW_ERR_STATE`.
    pub const STATE: u32 = 13;
    /// `TSM_FW_ERR_BUSY`.
    pub const BUSY: u32 = 14;
    /// `TSM_FW_ERR_BAD_COMMAND`.
    pub const BAD_COMMAND: u32 = 15;
}

/// Structure sizes, as in the uAPI header (checked by a test that parses it).
pub mod size {
    /// `struct tsm_fw_hdr`.
    pub const HDR: usize = 24;
    /// `struct tsm_fw_dev`.
    pub const DEV: usize = 4;
    /// `struct tsm_fw_hello`.
    pub const HELLO: usize = 16;
    /// `struct tsm_fw_hello_ack`.
    pub const HELLO_ACK: usize = 8;
    /// `struct tsm_fw_connect`.
    pub const CONNECT: usize = 8;
    /// `struct tsm_fw_disconnect`.
    pub const DISCONNECT: usize = 8;
    /// `struct tsm_fw_bar`.
    pub const BAR: usize = 24;
    /// `struct tsm_fw_msix`.
    pub const MSIX: usize = 16;
    /// `struct tsm_fw_bind`.
    pub const BIND: usize = 184;
    /// `struct tsm_fw_unbind`.
    pub const UNBIND: usize = 8;
    /// `struct tsm_fw_guest_req`.
    pub const GUEST_REQ: usize = 16;
    /// `struct tsm_fw_doe_request`.
    pub const DOE_REQUEST: usize = 24;
    /// `struct tsm_fw_doe_response`.
    pub const DOE_RESPONSE: usize = 16;
    /// `struct tsm_fw_complete`.
    pub const COMPLETE: usize = 16;
}

/// Linux errno values used in `status` fields.
pub mod errno {
    /// `EIO`.
    pub const EIO: i32 = 5;
    /// `EACCES`.
    pub const EACCES: i32 = 13;
    /// `EBUSY`.
    pub const EBUSY: i32 = 16;
    /// `EINVAL`.
    pub const EINVAL: i32 = 22;
    /// `EPROTO`.
    pub const EPROTO: i32 = 71;
    /// `EMSGSIZE`.
    pub const EMSGSIZE: i32 = 90;
    /// `EOPNOTSUPP`.
    pub const EOPNOTSUPP: i32 = 95;
    /// `ETIMEDOUT`.
    pub const ETIMEDOUT: i32 = 110;
    /// `ECANCELED`.
    pub const ECANCELED: i32 = 125;
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Bytes did not parse.
    #[error("malformed message: {0}")]
    Codec(codec::Error),
    /// Wrong magic.
    #[error("bad magic {0:#x}")]
    Magic(u32),
    /// Header length disagrees with the bytes.
    #[error("header length {declared} but {actual} bytes")]
    Length {
        /// Declared.
        declared: usize,
        /// Actual.
        actual: usize,
    },
    /// Message or payload over the limits.
    #[error("message of {0} bytes is too large")]
    TooLarge(usize),
    /// Unknown type.
    #[error("unknown message type {0:#x}")]
    UnknownType(u16),
    /// A field holds a value the protocol does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl From<codec::Error> for ProtoError {
    fn from(e: codec::Error) -> Self {
        ProtoError::Codec(e)
    }
}

/// `struct tsm_fw_hdr` without magic and length (computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: u16,
    /// Message type.
    pub msg_type: u16,
    /// Request id.
    pub req_id: u64,
}

/// `struct tsm_fw_hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Lowest version.
    pub min_version: u16,
    /// Highest version.
    pub max_version: u16,
    /// Largest message read.
    pub max_msg_size: u32,
    /// `TSM_FW_CAP_*`.
    pub caps: u32,
}

/// A DOE request from the firmware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoeRequest {
    /// Device.
    pub dev: DevId,
    /// DOE vendor.
    pub vendor_id: u16,
    /// DOE type.
    pub object_type: u8,
    /// Exchange number.
    pub seq: u32,
    /// Suggested timeout.
    pub timeout_ms: u32,
    /// Object payload.
    pub payload: Vec<u8>,
}

/// The kernel's answer to a DOE request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoeResponse {
    /// 0 or -errno.
    pub status: i32,
    /// DOE vendor of the response.
    pub vendor_id: u16,
    /// DOE type of the response.
    pub object_type: u8,
    /// Echoed exchange number.
    pub seq: u32,
    /// Response payload.
    pub payload: Vec<u8>,
}

/// A command's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    /// 0 or -errno.
    pub status: i32,
    /// `TSM_FW_ERR_*`.
    pub fw_error: u32,
    /// `TSM_FW_TDI_*`.
    pub tdi_state: u32,
    /// Result bytes.
    pub payload: Vec<u8>,
}

/// Every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// HELLO (fw -> kernel).
    Hello(Hello),
    /// DOE_REQUEST (fw -> kernel).
    DoeRequest(DoeRequest),
    /// COMPLETE (fw -> kernel).
    Complete(Complete),
    /// HELLO_ACK (kernel -> fw): chosen version (0 refuses), kernel's max message size.
    HelloAck {
        /// Chosen version.
        version: u16,
        /// Kernel's largest message.
        max_msg_size: u32,
    },
    /// CONNECT.
    Connect {
        /// Device.
        dev: DevId,
        /// IDE stream.
        stream_id: u8,
    },
    /// DISCONNECT.
    Disconnect {
        /// Device.
        dev: DevId,
    },
    /// BIND.
    Bind(BindParams),
    /// UNBIND.
    Unbind {
        /// Device.
        dev: DevId,
        /// TDI.
        tdi: FunctionId,
    },
    /// GUEST_REQ.
    GuestReq {
        /// Device.
        dev: DevId,
        /// TDI.
        tdi: FunctionId,
        /// `TSM_FW_GUEST_*` (unknown values are kept for the firmware to refuse).
        op: u32,
    },
    /// DOE_RESPONSE.
    DoeResponse(DoeResponse),
}

impl Body {
    /// The message type.
    pub fn msg_type(&self) -> u16 {
        match self {
            Body::Hello(_) => msg_type::HELLO,
            Body::DoeRequest(_) => msg_type::DOE_REQUEST,
            Body::Complete(_) => msg_type::COMPLETE,
            Body::HelloAck { .. } => msg_type::HELLO_ACK,
            Body::Connect { .. } => msg_type::CONNECT,
            Body::Disconnect { .. } => msg_type::DISCONNECT,
            Body::Bind(_) => msg_type::BIND,
            Body::Unbind { .. } => msg_type::UNBIND,
            Body::GuestReq { .. } => msg_type::GUEST_REQ,
            Body::DoeResponse(_) => msg_type::DOE_RESPONSE,
        }
    }
}

/// One whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request id.
    pub req_id: u64,
    /// Body.
    pub body: Body,
}

fn put_dev(w: &mut Writer<'_>, d: DevId) -> codec::Result<()> {
    w.u16(d.segment)?;
    w.u8(d.bus)?;
    w.u8(d.devfn)
}

fn get_dev(r: &mut Reader<'_>) -> codec::Result<DevId> {
    Ok(DevId {
        segment: r.u16()?,
        bus: r.u8()?,
        devfn: r.u8()?,
    })
}

fn payload_len(len: usize) -> Result<u32, ProtoError> {
    if len > MAX_PAYLOAD {
        return Err(ProtoError::TooLarge(len));
    }
    u32::try_from(len).map_err(|_| ProtoError::TooLarge(len))
}

impl Message {
    /// Encodes the message with protocol version 1.
    pub fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        let mut buf = vec![0u8; MAX_MSG_SIZE];
        let mut w = Writer::new(&mut buf);
        w.u32(MAGIC)?;
        w.u16(VERSION_1)?;
        w.u16(self.body.msg_type())?;
        w.u32(0)?; // length, patched below
        w.u32(0)?;
        w.u64(self.req_id)?;
        match &self.body {
            Body::Hello(h) => {
                w.u16(h.min_version)?;
                w.u16(h.max_version)?;
                w.u32(h.max_msg_size)?;
                w.u32(h.caps)?;
                w.u32(0)?;
            }
            Body::HelloAck {
                version,
                max_msg_size,
            } => {
                w.u16(*version)?;
                w.u16(0)?;
                w.u32(*max_msg_size)?;
            }
            Body::Connect { dev, stream_id } => {
                put_dev(&mut w, *dev)?;
                w.u8(*stream_id)?;
                w.zeros(3)?;
            }
            Body::Disconnect { dev } => {
                put_dev(&mut w, *dev)?;
                w.u32(0)?;
            }
            Body::Bind(b) => {
                if b.bars.len() > MAX_BARS {
                    return Err(ProtoError::Invalid("nr_bars"));
                }
                put_dev(&mut w, b.dev)?;
                w.u32(b.tdi.to_u32())?;
                w.u32(b.guest_rid)?;
                w.u16(b.lock_flags.bits())?;
                w.u8(b.bars.len() as u8)?;
                w.u8(0)?;
                w.u64(b.mmio_reporting_offset)?;
                match &b.msix {
                    Some(m) => {
                        w.u16(m.table_entries)?;
                        w.u8(m.table_bar)?;
                        w.u8(m.pba_bar)?;
                        w.u32(m.table_offset)?;
                        w.u32(m.pba_offset)?;
                    }
                    None => w.zeros(12)?,
                }
                w.u32(0)?;
                for i in 0..MAX_BARS {
                    match b.bars.get(i) {
                        Some(bar) => {
                            w.u64(bar.base)?;
                            w.u64(bar.size)?;
                            w.u8(bar.index)?;
                            let mut f = 0;
                            if bar.is_64bit {
                                f |= BAR_64BIT;
                            }
                            if bar.prefetchable {
                                f |= BAR_PREFETCH;
                            }
                            w.u8(f)?;
                            w.zeros(6)?;
                        }
                        None => w.zeros(size::BAR)?,
                    }
                }
            }
            Body::Unbind { dev, tdi } => {
                put_dev(&mut w, *dev)?;
                w.u32(tdi.to_u32())?;
            }
            Body::GuestReq { dev, tdi, op } => {
                put_dev(&mut w, *dev)?;
                w.u32(tdi.to_u32())?;
                w.u32(*op)?;
                w.u32(0)?;
            }
            Body::DoeRequest(d) => {
                put_dev(&mut w, d.dev)?;
                w.u16(d.vendor_id)?;
                w.u8(d.object_type)?;
                w.u8(0)?;
                w.u32(d.seq)?;
                w.u32(d.timeout_ms)?;
                w.u32(payload_len(d.payload.len())?)?;
                w.u32(0)?;
                w.bytes(&d.payload)?;
            }
            Body::DoeResponse(d) => {
                w.u32(d.status as u32)?;
                w.u16(d.vendor_id)?;
                w.u8(d.object_type)?;
                w.u8(0)?;
                w.u32(d.seq)?;
                w.u32(payload_len(d.payload.len())?)?;
                w.bytes(&d.payload)?;
            }
            Body::Complete(c) => {
                w.u32(c.status as u32)?;
                w.u32(c.fw_error)?;
                w.u32(c.tdi_state)?;
                w.u32(payload_len(c.payload.len())?)?;
                w.bytes(&c.payload)?;
            }
        }
        let n = w.position();
        w.patch_u32(8, n as u32)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The total length a message declares in its first bytes (for stream transports);
    /// `None` until the header is complete.
    pub fn declared_len(head: &[u8]) -> Option<usize> {
        let b: [u8; 4] = head.get(8..12)?.try_into().ok()?;
        Some(u32::from_le_bytes(b) as usize)
    }

    /// Decodes exactly one message filling `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, ProtoError> {
        if buf.len() > MAX_MSG_SIZE {
            return Err(ProtoError::TooLarge(buf.len()));
        }
        let mut r = Reader::new(buf);
        let magic = r.u32()?;
        if magic != MAGIC {
            return Err(ProtoError::Magic(magic));
        }
        let version = r.u16()?;
        let ty = r.u16()?;
        let length = r.u32()? as usize;
        if length != buf.len() {
            return Err(ProtoError::Length {
                declared: length,
                actual: buf.len(),
            });
        }
        let _flags = r.u32()?;
        let req_id = r.u64()?;
        if version != VERSION_1 && ty != msg_type::HELLO {
            return Err(ProtoError::Invalid("version"));
        }
        let body = match ty {
            msg_type::HELLO => {
                let h = Hello {
                    min_version: r.u16()?,
                    max_version: r.u16()?,
                    max_msg_size: r.u32()?,
                    caps: r.u32()?,
                };
                r.skip(4)?;
                Body::Hello(h)
            }
            msg_type::HELLO_ACK => {
                let version = r.u16()?;
                r.skip(2)?;
                Body::HelloAck {
                    version,
                    max_msg_size: r.u32()?,
                }
            }
            msg_type::CONNECT => {
                let dev = get_dev(&mut r)?;
                let stream_id = r.u8()?;
                r.skip(3)?;
                Body::Connect { dev, stream_id }
            }
            msg_type::DISCONNECT => {
                let dev = get_dev(&mut r)?;
                r.skip(4)?;
                Body::Disconnect { dev }
            }
            msg_type::BIND => Body::Bind(decode_bind(&mut r)?),
            msg_type::UNBIND => Body::Unbind {
                dev: get_dev(&mut r)?,
                tdi: FunctionId::from_u32(r.u32()?)?,
            },
            msg_type::GUEST_REQ => {
                let dev = get_dev(&mut r)?;
                let tdi = FunctionId::from_u32(r.u32()?)?;
                let op = r.u32()?;
                r.skip(4)?;
                Body::GuestReq { dev, tdi, op }
            }
            msg_type::DOE_REQUEST => {
                let dev = get_dev(&mut r)?;
                let vendor_id = r.u16()?;
                let object_type = r.u8()?;
                r.skip(1)?;
                let seq = r.u32()?;
                let timeout_ms = r.u32()?;
                let n = r.u32()? as usize;
                r.skip(4)?;
                if n > MAX_PAYLOAD {
                    return Err(ProtoError::TooLarge(n));
                }
                Body::DoeRequest(DoeRequest {
                    dev,
                    vendor_id,
                    object_type,
                    seq,
                    timeout_ms,
                    payload: r.bytes(n)?.to_vec(),
                })
            }
            msg_type::DOE_RESPONSE => {
                let status = r.u32()? as i32;
                let vendor_id = r.u16()?;
                let object_type = r.u8()?;
                r.skip(1)?;
                let seq = r.u32()?;
                let n = r.u32()? as usize;
                if n > MAX_PAYLOAD {
                    return Err(ProtoError::TooLarge(n));
                }
                Body::DoeResponse(DoeResponse {
                    status,
                    vendor_id,
                    object_type,
                    seq,
                    payload: r.bytes(n)?.to_vec(),
                })
            }
            msg_type::COMPLETE => {
                let status = r.u32()? as i32;
                let fw_error = r.u32()?;
                let tdi_state = r.u32()?;
                let n = r.u32()? as usize;
                if n > MAX_PAYLOAD {
                    return Err(ProtoError::TooLarge(n));
                }
                Body::Complete(Complete {
                    status,
                    fw_error,
                    tdi_state,
                    payload: r.bytes(n)?.to_vec(),
                })
            }
            other => return Err(ProtoError::UnknownType(other)),
        };
        r.finish()?;
        Ok(Self { req_id, body })
    }
}

fn decode_bind(r: &mut Reader<'_>) -> Result<BindParams, ProtoError> {
    let dev = get_dev(r)?;
    let tdi = FunctionId::from_u32(r.u32()?)?;
    let guest_rid = r.u32()?;
    let lock_flags = LockFlags::from_bits(r.u16()?)?;
    let nr_bars = usize::from(r.u8()?);
    r.skip(1)?;
    if nr_bars > MAX_BARS {
        return Err(ProtoError::Invalid("nr_bars"));
    }
    let mmio_reporting_offset = r.u64()?;
    let table_entries = r.u16()?;
    let table_bar = r.u8()?;
    let pba_bar = r.u8()?;
    let table_offset = r.u32()?;
    let pba_offset = r.u32()?;
    r.skip(4)?;
    let msix = (table_entries != 0).then_some(MsixLayout {
        table_bar,
        table_offset,
        table_entries,
        pba_bar,
        pba_offset,
    });
    let mut bars = Vec::new();
    for i in 0..MAX_BARS {
        let base = r.u64()?;
        let size = r.u64()?;
        let index = r.u8()?;
        let flags = r.u8()?;
        r.skip(6)?;
        if i < nr_bars {
            bars.push(BarInfo {
                index,
                base,
                size,
                is_64bit: flags & BAR_64BIT != 0,
                prefetchable: flags & BAR_PREFETCH != 0,
            });
        }
    }
    Ok(BindParams {
        dev,
        tdi,
        guest_rid,
        lock_flags,
        mmio_reporting_offset,
        bars,
        msix,
    })
}

/// The command a kernel message asks for, if it is one.
pub fn command_of(body: &Body) -> Option<Result<super::fw::Command, ProtoError>> {
    use super::fw::Command;
    Some(Ok(match body {
        Body::Connect { dev, stream_id } => Command::Connect {
            dev: *dev,
            stream_id: *stream_id,
        },
        Body::Disconnect { dev } => Command::Disconnect { dev: *dev },
        Body::Bind(b) => Command::Bind(b.clone()),
        Body::Unbind { dev, tdi } => Command::Unbind {
            dev: *dev,
            tdi: *tdi,
        },
        Body::GuestReq { dev, tdi, op } => Command::GuestReq {
            dev: *dev,
            tdi: *tdi,
            op: match *op {
                GUEST_GET_REPORT => GuestOp::GetReport,
                GUEST_START => GuestOp::Start,
                GUEST_GET_STATE => GuestOp::GetState,
                _ => return Some(Err(ProtoError::Invalid("guest op"))),
            },
        },
        _ => return None,
    }))
}

/// `TSM_FW_TDI_*` of a state.
pub fn tdi_state_code(s: Option<TdiState>) -> u32 {
    s.map_or(TDI_NONE, |s| s as u32)
}

/// `(status, fw_error)` of a firmware error.
pub fn error_codes(e: &FwError) -> (i32, u32) {
    use errno::*;
    match e {
        FwError::Transport(DoeError::Timeout) => (-ETIMEDOUT, err::TIMEOUT),
        FwError::Transport(DoeError::Io(n)) => (if *n < 0 { *n } else { -EIO }, err::TRANSPORT),
        FwError::Codec(_) => (-EPROTO, err::MALFORMED),
        FwError::Oversized(_) => (-EMSGSIZE, err::OVERSIZED),
        FwError::SpdmError(_) => (-EIO, err::SPDM_ERROR),
        FwError::Protocol(_) => (-EPROTO, err::PROTOCOL),
        FwError::Negotiation(_) => (-EOPNOTSUPP, err::NEGOTIATION),
        FwError::Cert(_) => (-EACCES, err::CERT),
        FwError::Crypto(_) => (-EACCES, err::CRYPTO),
        FwError::IdeKm(_) => (-EIO, err::IDE_KM),
        FwError::TdispError(_) => (-EIO, err::TDISP_ERROR),
        FwError::Report(_) => (-EPROTO, err::REPORT),
        FwError::State(_) => (-EINVAL, err::STATE),
        FwError::Busy => (-EBUSY, err::BUSY),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testbed as tb;
    use super::*;

    fn round_trip(body: Body) {
        let m = Message { req_id: 7, body };
        let b = m.encode().unwrap();
        assert_eq!(Message::declared_len(&b), Some(b.len()));
        assert_eq!(Message::decode(&b).unwrap(), m);
        // Every truncation is an error, never a panic.
        for n in 0..b.len() {
            assert!(Message::decode(&b[..n]).is_err());
        }
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(Body::Hello(Hello {
            min_version: 1,
            max_version: 1,
            max_msg_size: MAX_MSG_SIZE as u32,
            caps: CAP_IDE | CAP_TDISP,
        }));
        round_trip(Body::HelloAck {
            version: 1,
            max_msg_size: 4096,
        });
        round_trip(Body::Connect {
            dev: tb::DEV,
            stream_id: 3,
        });
        round_trip(Body::Disconnect { dev: tb::DEV });
        round_trip(Body::Bind(tb::bind_params()));
        round_trip(Body::Unbind {
            dev: tb::DEV,
            tdi: tb::TDI,
        });
        round_trip(Body::GuestReq {
            dev: tb::DEV,
            tdi: tb::TDI,
            op: GUEST_START,
        });
        round_trip(Body::DoeRequest(DoeRequest {
            dev: tb::DEV,
            vendor_id: 1,
            object_type: 2,
            seq: 9,
            timeout_ms: 1000,
            payload: vec![1, 2, 3, 4],
        }));
        round_trip(Body::DoeResponse(DoeResponse {
            status: -110,
            vendor_id: 1,
            object_type: 1,
            seq: 9,
            payload: vec![],
        }));
        round_trip(Body::Complete(Complete {
            status: 0,
            fw_error: 0,
            tdi_state: 2,
            payload: vec![5; 100],
        }));
    }

    #[test]
    fn fixed_sizes_match_the_encodings() {
        let len = |body| Message { req_id: 0, body }.encode().unwrap().len() - size::HDR;
        assert_eq!(
            len(Body::Connect {
                dev: tb::DEV,
                stream_id: 0
            }),
            size::CONNECT
        );
        assert_eq!(len(Body::Bind(tb::bind_params())), size::BIND);
        assert_eq!(
            len(Body::GuestReq {
                dev: tb::DEV,
                tdi: tb::TDI,
                op: 1
            }),
            size::GUEST_REQ
        );
    }

    #[test]
    fn bad_messages_are_refused() {
        let m = Message {
            req_id: 1,
            body: Body::Disconnect { dev: tb::DEV },
        };
        let good = m.encode().unwrap();
        let mut b = good.clone();
        b[0] ^= 1;
        assert!(matches!(Message::decode(&b), Err(ProtoError::Magic(_))));
        let mut b = good.clone();
        b[6] = 0x77;
        assert!(matches!(
            Message::decode(&b),
            Err(ProtoError::UnknownType(_))
        ));
        let mut b = good.clone();
        b.push(0);
        assert!(matches!(
            Message::decode(&b),
            Err(ProtoError::Length { .. })
        ));
        let mut b = good;
        b[4] = 2;
        assert!(Message::decode(&b).is_err());
        assert!(Message::decode(&vec![0u8; MAX_MSG_SIZE + 1]).is_err());
    }
}
