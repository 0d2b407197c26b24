// SPDX-License-Identifier: GPL-2.0

//! Addressing of a TDISP message: FUNCTION_ID, INTERFACE_ID and the 16-byte header
//! that carries them (PCIe Base 6.x §11.2, Table 11-5 "TDISP Message Format").

use core::fmt;

use super::super::codec::{Error, Reader, Result, Writer};
use super::PROTOCOL_ID;

/// FUNCTION_ID of an INTERFACE_ID (§11.2 "TDISP Rules", INTERFACE_ID definition):
/// bits 15:0 requester ID, bits 23:16 requester segment, bit 24 segment valid,
/// bits 31:25 reserved (rejected on decode so that two different ids never alias).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunctionId(u32);

impl fmt::Debug for FunctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rid = self.requester_id();
        write!(f, "FunctionId(")?;
        if let Some(seg) = self.segment() {
            write!(f, "{seg:02x}:")?;
        }
        write!(
            f,
            "{:02x}:{:02x}.{})",
            rid >> 8,
            (rid >> 3) & 0x1f,
            rid & 0x7
        )
    }
}

impl FunctionId {
    const RESERVED: u32 = 0xfe00_0000;

    /// Builds a function id from a requester ID (bus << 8 | devfn) and an optional
    /// segment.
    pub const fn new(requester_id: u16, segment: Option<u8>) -> Self {
        let seg = match segment {
            Some(s) => (1u32 << 24) | ((s as u32) << 16),
            None => 0,
        };
        Self(requester_id as u32 | seg)
    }

    /// Decodes the wire value; reserved bits 31:25 set is an [`Error::InvalidField`].
    pub fn from_u32(v: u32) -> Result<Self> {
        if v & Self::RESERVED != 0 {
            return Err(Error::InvalidField {
                field: "tdisp.function_id",
                value: u64::from(v),
            });
        }
        Ok(Self(v))
    }

    /// The wire value.
    pub const fn to_u32(self) -> u32 {
        self.0
    }

    /// Requester ID (bus in bits 15:8, device/function in bits 7:0).
    pub const fn requester_id(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The requester segment, if the segment-valid bit is set.
    pub const fn segment(self) -> Option<u8> {
        if self.0 & (1 << 24) != 0 {
            Some(((self.0 >> 16) & 0xff) as u8)
        } else {
            None
        }
    }
}

/// INTERFACE_ID: FUNCTION_ID (4 bytes) followed by 8 reserved bytes (§11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterfaceId {
    /// The function hosting the TDI.
    pub function_id: FunctionId,
}

/// The TDISP message header (Table 11-5 "TDISP Message Format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// TDISPVersion (major in bits 7:4, minor in bits 3:0).
    pub version: u8,
    /// MessageType (request or response code).
    pub message_type: u8,
    /// The TDI the message is about.
    pub interface_id: InterfaceId,
}

impl Header {
    /// Reads the protocol id byte and the 16-byte header. Any major version other
    /// than 1 is an [`Error::UnsupportedVersion`].
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let proto = r.u8()?;
        if proto != PROTOCOL_ID {
            return Err(Error::UnknownCode {
                space: "pci.protocol_id",
                value: u64::from(proto),
            });
        }
        let version = r.u8()?;
        if version >> 4 != 1 {
            return Err(Error::UnsupportedVersion { version });
        }
        let message_type = r.u8()?;
        r.skip(2)?;
        let function_id = FunctionId::from_u32(r.u32()?)?;
        r.skip(8)?;
        Ok(Self {
            version,
            message_type,
            interface_id: InterfaceId { function_id },
        })
    }

    /// Writes the protocol id byte and the header.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(PROTOCOL_ID)?;
        w.u8(self.version)?;
        w.u8(self.message_type)?;
        w.zeros(2)?;
        w.u32(self.interface_id.function_id.to_u32())?;
        w.zeros(8)
    }
}
