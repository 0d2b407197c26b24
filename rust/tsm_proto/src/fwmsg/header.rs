// SPDX-License-Identifier: GPL-2.0

//! `struct tsm_fw_hdr`, the 24 bytes in front of every message, and the framing rules
//! it carries: the magic, `length` equal to the whole message and at most
//! `TSM_FW_MAX_MSG_SIZE`, `TSM_FW_VERSION_1` in every message but HELLO, a known type.

use super::super::codec::{Error, Reader, Result, Writer};
use super::{require, size, MsgType, MAGIC, MAX_MSG_SIZE, VERSION_1};

/// `struct tsm_fw_hdr` (its magic is a constant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version: `TSM_FW_VERSION_1`; in HELLO, the highest the firmware speaks.
    pub version: u16,
    /// Message type.
    pub msg_type: MsgType,
    /// Bytes of the whole message, this header included.
    pub length: u32,
    /// Reserved, 0 (ignored on receipt).
    pub flags: u32,
    /// The kernel's id of the command the message belongs to; 0 for HELLO and
    /// HELLO_ACK.
    pub req_id: u64,
}

impl Header {
    /// Reads the header of the whole message `buf` and checks that it frames `buf`, in
    /// the order the kernel always has: magic, `length`, version, type. Returns the
    /// header and a reader at the body.
    pub fn open(buf: &[u8]) -> Result<(Self, Reader<'_>)> {
        let mut r = Reader::new(buf);
        let magic = r.u32()?;
        require(magic == MAGIC, "tsm_fw.magic", magic.into())?;
        let version = r.u16()?;
        let ty = r.u16()?;
        let length = r.u32()?;
        if length as usize != buf.len() || buf.len() > MAX_MSG_SIZE {
            return Err(Error::LengthMismatch {
                field: "tsm_fw.hdr.length",
                declared: length as usize,
                actual: buf.len(),
            });
        }
        let flags = r.u32()?;
        let req_id = r.u64()?;
        if ty != MsgType::Hello.to_u16() && version != VERSION_1 {
            return Err(Error::UnsupportedVersion {
                version: u8::try_from(version).unwrap_or(u8::MAX),
            });
        }
        let msg_type = MsgType::from_u16(ty)?;
        let header = Self {
            version,
            msg_type,
            length,
            flags,
            req_id,
        };
        Ok((header, r))
    }

    /// Writes the header.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(MAGIC)?;
        w.u16(self.version)?;
        w.u16(self.msg_type.to_u16())?;
        w.u32(self.length)?;
        w.u32(self.flags)?;
        w.u64(self.req_id)
    }
}

/// The `length` the header at the start of `head` declares, before any check (how a
/// byte stream delimits messages); `None` until those bytes are there.
pub fn declared_len(head: &[u8]) -> Option<usize> {
    let b = head.get(8..12)?;
    Reader::new(b).u32().ok().map(|n| n as usize)
}

/// The `req_id` the header at the start of `head` declares, before any check (the id
/// to answer a message that does not decode with); `None` until those bytes are there.
pub fn declared_req_id(head: &[u8]) -> Option<u64> {
    let b = head.get(16..size::HDR)?;
    Reader::new(b).u64().ok()
}
