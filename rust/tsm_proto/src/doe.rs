// SPDX-License-Identifier: GPL-2.0

//! PCIe DOE (Data Object Exchange) data objects, PCIe 6.x §6.30.
//!
//! A data object is a two-dword header followed by a payload, all carried as whole
//! dwords through the DOE mailbox (PCIe 6.x §6.30.1, "Data Object Format"):
//!
//! | dword | bits | field |
//! |---|---|---|
//! | 0 | 15:0 | Vendor ID |
//! | 0 | 23:16 | Data Object Type |
//! | 0 | 31:24 | reserved |
//! | 1 | 17:0 | Length in dwords, header included; `0` means 2^18 |
//! | 1 | 31:18 | reserved |
//!
//! PCI-SIG (Vendor ID 0001h) defines type 0 DOE Discovery (§6.30.1.1), type 1 CMA/SPDM
//! and type 2 Secured CMA/SPDM (§6.31.3, §6.31.4). SPDM messages have no DOE-level length,
//! so [`wrap_spdm`] pads them with zero bytes to a dword multiple and [`unwrap_spdm`]
//! hands back the padded payload; `spdm::Request::decode_padded` and
//! `spdm::Response::decode_padded` accept that padding.

use super::codec::{Error, Reader, Result, Writer};

/// PCI-SIG's Vendor ID, used for every PCI-SIG defined data object type.
pub const PCI_SIG_VENDOR_ID: u16 = 0x0001;
/// Data object type 0: DOE Discovery (PCIe 6.x §6.30.1.1).
pub const TYPE_DISCOVERY: u8 = 0;
/// Data object type 1: CMA/SPDM, a plain SPDM message (PCIe 6.x §6.31.3).
pub const TYPE_CMA_SPDM: u8 = 1;
/// Data object type 2: Secured CMA/SPDM, a DSP0277 secured message (PCIe 6.x §6.31.4).
pub const TYPE_SECURED_CMA_SPDM: u8 = 2;

/// Size of the data object header in bytes (two dwords).
pub const HEADER_LEN: usize = 8;
/// Largest length a data object can declare, in dwords (the `0` encoding, 2^18).
pub const MAX_LENGTH_DW: usize = 1 << 18;
/// Largest data object in bytes, header included.
pub const MAX_OBJECT_LEN: usize = MAX_LENGTH_DW * 4;
/// Largest payload in bytes.
pub const MAX_PAYLOAD_LEN: usize = MAX_OBJECT_LEN - HEADER_LEN;

const LENGTH_MASK: u32 = 0x0003_ffff;

/// The two-dword data object header (PCIe 6.x §6.30.1, Figure "DOE Data Object Format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Vendor ID of the body defining the object type.
    pub vendor_id: u16,
    /// Data object type within that vendor's space.
    pub object_type: u8,
    /// Length of the whole object, header included, in dwords (2..=2^18).
    pub length_dw: usize,
}

impl Header {
    /// Decodes a header; reserved bits are ignored, a length below 2 dwords is refused.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let vendor_id = r.u16()?;
        let object_type = r.u8()?;
        r.skip(1)?;
        let raw = r.u32()? & LENGTH_MASK;
        let length_dw = if raw == 0 {
            MAX_LENGTH_DW
        } else {
            raw as usize
        };
        if length_dw < HEADER_LEN / 4 {
            return Err(Error::InvalidField {
                field: "doe.length",
                value: u64::from(raw),
            });
        }
        Ok(Self {
            vendor_id,
            object_type,
            length_dw,
        })
    }

    /// Encodes the header; `length_dw` must be in 2..=2^18 (2^18 is written as 0).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.length_dw < HEADER_LEN / 4 || self.length_dw > MAX_LENGTH_DW {
            return Err(Error::InvalidField {
                field: "doe.length",
                value: self.length_dw as u64,
            });
        }
        let raw = if self.length_dw == MAX_LENGTH_DW {
            0
        } else {
            self.length_dw as u32
        };
        w.u16(self.vendor_id)?;
        w.u8(self.object_type)?;
        w.u8(0)?;
        w.u32(raw)
    }
}

/// One DOE data object: its type and a payload borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataObject<'a> {
    /// Vendor ID of the object type.
    pub vendor_id: u16,
    /// Data object type.
    pub object_type: u8,
    /// Payload after the header; always a whole number of dwords when decoded.
    pub payload: &'a [u8],
}

impl<'a> DataObject<'a> {
    /// Decodes exactly one data object filling `buf` (PCIe 6.x §6.30.1).
    ///
    /// The buffer must be a whole number of dwords and exactly as long as the declared
    /// length: a mailbox read yields one object at a time.
    pub fn decode(buf: &'a [u8]) -> Result<Self> {
        if buf.len() % 4 != 0 {
            return Err(Error::InvalidField {
                field: "doe.alignment",
                value: buf.len() as u64,
            });
        }
        let mut r = Reader::new(buf);
        let h = Header::decode(&mut r)?;
        let total = h.length_dw.saturating_mul(4);
        if total != buf.len() {
            return Err(Error::LengthMismatch {
                field: "doe.length",
                declared: total,
                actual: buf.len(),
            });
        }
        let payload = r.rest();
        Ok(Self {
            vendor_id: h.vendor_id,
            object_type: h.object_type,
            payload,
        })
    }

    /// Length in bytes of the encoded object: header plus payload padded to a dword.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN.saturating_add(padded_len(self.payload.len()))
    }

    /// Encodes the object, padding the payload with zero bytes to a dword multiple.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(Error::InvalidField {
                field: "doe.payload_len",
                value: self.payload.len() as u64,
            });
        }
        let padded = padded_len(self.payload.len());
        Header {
            vendor_id: self.vendor_id,
            object_type: self.object_type,
            length_dw: (HEADER_LEN + padded) / 4,
        }
        .encode(w)?;
        w.bytes(self.payload)?;
        w.zeros(padded.saturating_sub(self.payload.len()))
    }
}

/// `len` rounded up to a multiple of four (saturating).
pub const fn padded_len(len: usize) -> usize {
    match len.checked_add(3) {
        Some(v) => v & !3,
        None => usize::MAX & !3,
    }
}

/// DOE Discovery request payload (PCIe 6.x §6.30.1.1): one dword.
///
/// Bits 7:0 are the index to query; bits 15:8 are the discovery version (PCIe 6.1, 0 for
/// the original format, 2 when the mailbox capability version is 2); the rest is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryRequest {
    /// Index of the protocol entry to return.
    pub index: u8,
    /// Discovery version the requester understands.
    pub version: u8,
}

impl DiscoveryRequest {
    /// Payload size in bytes.
    pub const LEN: usize = 4;

    /// Decodes the one-dword payload (not the DOE header).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let index = r.u8()?;
        let version = r.u8()?;
        r.skip(2)?;
        r.finish()?;
        Ok(Self { index, version })
    }

    /// Encodes the one-dword payload.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.index)?;
        w.u8(self.version)?;
        w.zeros(2)
    }
}

/// DOE Discovery response payload (PCIe 6.x §6.30.1.1): one dword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryResponse {
    /// Vendor ID of the protocol at the requested index.
    pub vendor_id: u16,
    /// Data object type (protocol) at the requested index.
    pub object_type: u8,
    /// Index of the next entry, or 0 when this was the last.
    pub next_index: u8,
}

impl DiscoveryResponse {
    /// Payload size in bytes.
    pub const LEN: usize = 4;

    /// Decodes the one-dword payload.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let vendor_id = r.u16()?;
        let object_type = r.u8()?;
        let next_index = r.u8()?;
        r.finish()?;
        Ok(Self {
            vendor_id,
            object_type,
            next_index,
        })
    }

    /// Encodes the one-dword payload.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.vendor_id)?;
        w.u8(self.object_type)?;
        w.u8(self.next_index)
    }
}

/// What an SPDM-carrying data object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpdmKind {
    /// Type 1: a plain SPDM message.
    Plain,
    /// Type 2: a DSP0277 secured message (see the `secured` module).
    Secured,
}

impl SpdmKind {
    /// The PCI-SIG data object type for this kind.
    pub const fn object_type(self) -> u8 {
        match self {
            SpdmKind::Plain => TYPE_CMA_SPDM,
            SpdmKind::Secured => TYPE_SECURED_CMA_SPDM,
        }
    }
}

/// Wraps an SPDM (or secured SPDM) message into a PCI-SIG data object in `out`, padding
/// it with zeros to a dword multiple; returns the object length in bytes.
pub fn wrap_spdm(kind: SpdmKind, message: &[u8], out: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(out);
    DataObject {
        vendor_id: PCI_SIG_VENDOR_ID,
        object_type: kind.object_type(),
        payload: message,
    }
    .encode(&mut w)?;
    Ok(w.finish())
}

/// Unwraps a PCI-SIG CMA/SPDM or Secured CMA/SPDM data object.
///
/// Returns the kind and the payload, which still carries up to three bytes of padding.
/// Any other vendor or type is [`Error::UnknownCode`].
pub fn unwrap_spdm(buf: &[u8]) -> Result<(SpdmKind, &[u8])> {
    let obj = DataObject::decode(buf)?;
    if obj.vendor_id != PCI_SIG_VENDOR_ID {
        return Err(Error::UnknownCode {
            space: "doe.vendor_id",
            value: u64::from(obj.vendor_id),
        });
    }
    let kind = match obj.object_type {
        TYPE_CMA_SPDM => SpdmKind::Plain,
        TYPE_SECURED_CMA_SPDM => SpdmKind::Secured,
        other => {
            return Err(Error::UnknownCode {
                space: "doe.object_type",
                value: u64::from(other),
            })
        }
    };
    Ok((kind, obj.payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_request_object_golden() {
        // PCIe 6.x §6.30.1.1: header (VID 0001h, type 0, length 3 DW) + index 2, version 2.
        let bytes = [
            0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x02, 0, 0,
        ];
        let obj = DataObject::decode(&bytes).unwrap();
        assert_eq!(obj.vendor_id, PCI_SIG_VENDOR_ID);
        assert_eq!(obj.object_type, TYPE_DISCOVERY);
        let req = DiscoveryRequest::decode(obj.payload).unwrap();
        assert_eq!(
            req,
            DiscoveryRequest {
                index: 2,
                version: 2
            }
        );
        let mut out = [0u8; 12];
        let mut w = Writer::new(&mut out);
        obj.encode(&mut w).unwrap();
        assert_eq!(w.finish(), 12);
        assert_eq!(out, bytes);
    }

    #[test]
    fn length_zero_means_two_pow_18() {
        let mut r = Reader::new(&[0x01, 0x00, 0x01, 0x00, 0, 0, 0, 0]);
        let h = Header::decode(&mut r).unwrap();
        assert_eq!(h.length_dw, MAX_LENGTH_DW);
        let mut out = [0u8; 8];
        h.encode(&mut Writer::new(&mut out)).unwrap();
        assert_eq!(out[4..], [0, 0, 0, 0]);
    }

    #[test]
    fn reserved_bits_are_ignored_and_short_lengths_refused() {
        let mut r = Reader::new(&[0x01, 0x00, 0x01, 0xff, 0x02, 0x00, 0xfc, 0xff]);
        assert_eq!(Header::decode(&mut r).unwrap().length_dw, 2);
        let mut r = Reader::new(&[0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00]);
        assert!(matches!(
            Header::decode(&mut r),
            Err(Error::InvalidField { .. })
        ));
    }

    #[test]
    fn wrap_pads_and_unwrap_returns_padded_payload() {
        let mut out = [0xaau8; 16];
        let n = wrap_spdm(SpdmKind::Plain, &[0x12, 0x84, 0, 0, 0x55], &mut out).unwrap();
        assert_eq!(n, 16);
        assert_eq!(out[4..8], [4, 0, 0, 0]);
        let (kind, p) = unwrap_spdm(&out).unwrap();
        assert_eq!(kind, SpdmKind::Plain);
        assert_eq!(p, &[0x12, 0x84, 0, 0, 0x55, 0, 0, 0]);
    }

    #[test]
    fn length_mismatch_and_alignment_are_errors() {
        let bytes = [0x01, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00];
        assert!(matches!(
            DataObject::decode(&bytes),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            DataObject::decode(&bytes[..7]),
            Err(Error::InvalidField { .. })
        ));
        let other = [0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00];
        assert!(matches!(
            unwrap_spdm(&other),
            Err(Error::UnknownCode { .. })
        ));
    }
}
