// SPDX-License-Identifier: GPL-2.0

//! The messages between the kernel's emulated platform TSM (`samples/tsm`) and the
//! software TSM firmware (`tsm-fw`, `tools/tsm`) over `/dev/tsm_fw`, mirroring
//! `include/uapi/linux/tsm_fw.h` structure by structure
//! (`Documentation/driver-api/pci/tsm-fw.rst`). One codec for both ends: the kernel
//! decodes [`Msg`] and encodes [`Cmd`], the firmware the reverse.
//!
//! Every message is one `read()` or `write()`: a [`Header`], the fixed body of its type
//! and, for DOE_REQUEST, DOE_RESPONSE and COMPLETE, a payload of the length the body
//! gives. Little-endian, no holes; reserved fields are written as 0 and ignored on
//! receipt. Decoding ([`Message::decode`]) takes exactly one whole message, borrows the
//! payload from it and checks what the receiver relies on (the header's framing, a
//! payload length at most `TSM_FW_MAX_PAYLOAD`, a BIND's BAR count, FUNCTION_ID and lock
//! flags, a DOE_REQUEST's PCI-SIG vendor and dword length, a COMPLETE's errno).
//! Encoding ([`Message::encode`]) writes into the caller's buffer and refuses what
//! decoding refuses, so whatever encodes decodes back to itself.
//!
//! | file | what |
//! |---|---|
//! | `consts` | limits, message types, flags, guest ops, error codes, structure sizes |
//! | `header` | `struct tsm_fw_hdr` and the framing checks |
//! | `msg` | firmware -> kernel: HELLO, DOE_REQUEST, COMPLETE ([`Msg`]) |
//! | `cmd` | kernel -> firmware: HELLO_ACK, the commands, DOE_RESPONSE ([`Cmd`]) |
//! | this file | `struct tsm_fw_dev`, payloads, the [`Message`] trait |

use core::fmt;

use super::codec::{Error, Reader, Result, Writer};

mod cmd;
mod consts;
mod header;
mod msg;

pub use cmd::{Bar, Bind, Cmd, Connect, Disconnect, DoeResponse, GuestReq, HelloAck, Msix, Unbind};
pub use consts::{
    err, size, tdi_state_code, GuestOp, MsgType, BAR_64BIT, BAR_PREFETCH, CAP_IDE, CAP_TDISP,
    DOE_TYPE_CMA, DOE_TYPE_SECURED_CMA, DOE_VENDOR_PCI_SIG, LOCK_ALL_REQUEST_REDIRECT,
    LOCK_BIND_P2P, LOCK_CACHE_LINE_128, LOCK_MSIX, LOCK_NO_FW_UPDATE, MAGIC, MAX_BARS,
    MAX_MSG_SIZE, MAX_PAYLOAD, TDI_NONE, VERSION_1,
};
pub use header::{declared_len, declared_req_id, Header};
pub use msg::{Complete, DoeRequest, Hello, Msg};

/// `struct tsm_fw_dev`: a device, by the PCI address of its DSM (function 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dev {
    /// PCI segment (domain).
    pub segment: u16,
    /// Bus number.
    pub bus: u8,
    /// Device << 3 | function.
    pub devfn: u8,
}

impl Dev {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            segment: r.u16()?,
            bus: r.u8()?,
            devfn: r.u8()?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.segment)?;
        w.u8(self.bus)?;
        w.u8(self.devfn)
    }
}

/// `ssss:bb:dd.f`, as `lspci -D` names the device.
impl fmt::Display for Dev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// `Ok` if `ok`, else an [`Error::InvalidField`]: `field` holds `value`.
fn require(ok: bool, field: &'static str, value: u64) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidField { field, value })
    }
}

/// The `length` field of a payload: at most `TSM_FW_MAX_PAYLOAD`.
fn payload_len(payload: &[u8]) -> Result<u32> {
    let n = payload.len();
    require(n <= MAX_PAYLOAD, "tsm_fw.length", n as u64)?;
    Ok(n as u32)
}

/// Reads the payload of `length` bytes that ends a message.
fn read_payload<'a>(r: &mut Reader<'a>, length: u32) -> Result<&'a [u8]> {
    let n = length as usize;
    require(n <= MAX_PAYLOAD, "tsm_fw.length", length.into())?;
    r.bytes(n)
}

/// A whole `/dev/tsm_fw` message of one direction: [`Msg`] (firmware -> kernel) or
/// [`Cmd`] (kernel -> firmware). The provided methods frame the body with a
/// [`Header`]; an implementation only maps its variants to types and bodies.
pub trait Message<'a>: Sized {
    /// The header's `type`.
    fn msg_type(&self) -> MsgType;

    /// Bytes of the body: the fixed structure and the payload (saturating: a payload too
    /// large to encode is refused by [`Message::encode_body`]).
    fn body_len(&self) -> usize;

    /// Writes the body.
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()>;

    /// Reads the body of a message of type `ty`; a type of the other direction is an
    /// [`Error::UnexpectedMessage`]. Trailing bytes are left to the caller.
    fn decode_body(ty: MsgType, r: &mut Reader<'a>) -> Result<Self>;

    /// Bytes of the whole encoded message.
    fn encoded_len(&self) -> usize {
        size::HDR.saturating_add(self.body_len())
    }

    /// Encodes the message with `req_id` into `out`; returns the bytes written
    /// ([`Message::encoded_len`]).
    fn encode(&self, req_id: u64, out: &mut [u8]) -> Result<usize> {
        let len = self.encoded_len();
        require(len <= MAX_MSG_SIZE, "tsm_fw.hdr.length", len as u64)?;
        let mut w = Writer::new(out);
        let header = Header {
            version: VERSION_1,
            msg_type: self.msg_type(),
            length: len as u32,
            flags: 0,
            req_id,
        };
        header.encode(&mut w)?;
        self.encode_body(&mut w)?;
        match w.finish() {
            n if n == len => Ok(n),
            n => Err(Error::LengthMismatch {
                field: "tsm_fw.hdr.length",
                declared: len,
                actual: n,
            }),
        }
    }

    /// Decodes exactly one whole message `buf`; returns the header's `req_id` and the
    /// message.
    fn decode(buf: &'a [u8]) -> Result<(u64, Self)> {
        let (header, mut r) = Header::open(buf)?;
        let m = Self::decode_body(header.msg_type, &mut r)?;
        r.finish()?;
        Ok((header.req_id, m))
    }

    /// The encoded message in a new vector.
    #[cfg(feature = "alloc")]
    fn to_vec(&self, req_id: u64) -> Result<alloc::vec::Vec<u8>> {
        let mut v = alloc::vec![0u8; self.encoded_len().min(MAX_MSG_SIZE)];
        let n = self.encode(req_id, &mut v)?;
        v.truncate(n);
        Ok(v)
    }
}
