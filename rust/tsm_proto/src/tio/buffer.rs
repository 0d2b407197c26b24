// SPDX-License-Identifier: GPL-2.0

//! The SPDM buffers of `spdm_ctrl`: the buffer header, the data object inside it, and
//! the REQ/RESP relay helpers.
//!
//! Every SPDM buffer (req, resp, scratch, output) starts with a 0x40-byte header (fact
//! sheet §2): capacity at 0x00 (the host writes npages × 4096), payload size at 0x04
//! (a multiple of 32), flags at 0x08 (bit 0 encrypted), IV at 0x10 and auth tag at 0x20.
//! A data object follows at +0x40: `u32` id, `u32` length (header included), `u8` minor
//! and `u8` major version. REQ (1) and RESP (2) have a 0x10-byte object header with the
//! data type at +0x0A and the SPDM payload at buffer +0x50; the output objects
//! CERTIFICATE (4), MEASUREMENT (5) and REPORT (6) (OOT) have a 0x20-byte header with
//! devid, segment and type.
//!
//! The relay: the PSP writes REQ into the req buffer; the host sends its payload (REQ
//! length − 0x10 bytes) over DOE as plain (type 1) or secured (type 2) SPDM, writes the
//! reply as RESP, with length = payload_sz = ALIGN(0x10 + received, 32), and re-issues
//! the command (§3). How the firmware learns the exact reply length is unconfirmed.

use super::super::codec::{Error, Result};
use super::{get, get_u16, get_u32, get_u64, get_u8, put};

/// Size of the buffer header (fact sheet §2).
pub const BUFFER_HEADER_LEN: usize = 0x40;

/// Size of the REQ/RESP object header; the payload starts at buffer +0x50.
pub const SPDM_OBJECT_HEADER_LEN: usize = 0x10;

/// Size of a CERTIFICATE/MEASUREMENT/REPORT object header (OOT).
pub const OUTPUT_OBJECT_HEADER_LEN: usize = 0x20;

/// Offset of the REQ/RESP payload from the start of the buffer.
pub const SPDM_PAYLOAD_OFFSET: usize = BUFFER_HEADER_LEN + SPDM_OBJECT_HEADER_LEN;

/// Alignment of `payload_sz` (fact sheet §2: a multiple of 32).
pub const PAYLOAD_ALIGN: u32 = 32;

/// Buffer header flags bit 0: the payload is encrypted.
pub const BUFFER_FLAG_ENCRYPTED: u64 = 1;

/// The 0x40-byte header of an SPDM buffer (fact sheet §2, L72).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BufferHeader {
    /// 0x00: capacity in bytes (the host writes npages × 4096; on EXPAND the firmware
    /// writes the size it needs).
    pub capacity: u32,
    /// 0x04: payload size (a multiple of 32).
    pub payload_sz: u32,
    /// 0x08: flags, bit 0 encrypted. The fact sheet gives no width; taken here as the
    /// eight bytes 0x08..0x10 (unconfirmed).
    pub flags: u64,
    /// 0x10: IV.
    pub iv: [u8; 16],
    /// 0x20: authentication tag.
    pub authtag: [u8; 16],
}

impl BufferHeader {
    /// Reads the header from the start of `buf` (bytes 0x30..0x40 are reserved and
    /// ignored).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        get::<BUFFER_HEADER_LEN>(buf, 0)?;
        Ok(Self {
            capacity: get_u32(buf, 0x00)?,
            payload_sz: get_u32(buf, 0x04)?,
            flags: get_u64(buf, 0x08)?,
            iv: get(buf, 0x10)?,
            authtag: get(buf, 0x20)?,
        })
    }

    /// Writes the header at the start of `buf` (reserved bytes zero).
    pub fn encode(&self, buf: &mut [u8]) -> Result<()> {
        put(buf, 0, &[0u8; BUFFER_HEADER_LEN])?;
        put(buf, 0x00, &self.capacity.to_le_bytes())?;
        put(buf, 0x04, &self.payload_sz.to_le_bytes())?;
        put(buf, 0x08, &self.flags.to_le_bytes())?;
        put(buf, 0x10, &self.iv)?;
        put(buf, 0x20, &self.authtag)
    }

    /// Whether flags bit 0 (encrypted) is set.
    pub const fn encrypted(&self) -> bool {
        self.flags & BUFFER_FLAG_ENCRYPTED != 0
    }
}

/// What EXPAND_BUFFER_LENGTH_REQUEST asks of one buffer (fact sheet §3: "if the header's
/// capacity_sz ≠ the host length"): the new length when the firmware-written capacity
/// differs from `host_len`, `None` when it does not.
pub fn expand_request(buf: &[u8], host_len: u32) -> Result<Option<u32>> {
    let cap = get_u32(buf, 0)?;
    Ok((cap != host_len).then_some(cap))
}

wire_enum! {
    /// Data object IDs (fact sheet §2; 4–6 from OOT).
    pub enum ObjectId(u32, "tio.object_id") decode from_u32 encode to_u32 {
        /// REQ: an SPDM request the PSP wants relayed.
        Req = 1,
        /// RESP: the device's reply, written by the host.
        Resp = 2,
        /// CERTIFICATE (OOT): the device certificate chain.
        Certificate = 4,
        /// MEASUREMENT (OOT): measurements (type 1) or log/transcript (type 2).
        Measurement = 5,
        /// REPORT (OOT): the TDISP interface report (type 1).
        Report = 6,
    }
}

wire_enum! {
    /// REQ/RESP data type at object +0x0A (fact sheet §2, §3).
    pub enum DataType(u8, "tio.data_type") decode from_u8 encode to_u8 {
        /// Plain SPDM: relayed as DOE CMA (DOE type 1).
        Spdm = 1,
        /// Secured SPDM: relayed as DOE secured SPDM (SSESSION, DOE type 2).
        SecuredSpdm = 2,
    }
}

impl DataType {
    /// The PCI-SIG DOE data object type the relay uses (fact sheet §3 step 2).
    pub const fn doe_type(self) -> u8 {
        match self {
            Self::Spdm => 1,
            Self::SecuredSpdm => 2,
        }
    }
}

/// The common data-object header at buffer +0x40 (fact sheet §2, L72).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectHeader {
    /// +0x00: object id.
    pub id: ObjectId,
    /// +0x04: length, header included.
    pub length: u32,
    /// +0x08: minor version.
    pub minor: u8,
    /// +0x09: major version.
    pub major: u8,
}

impl ObjectHeader {
    /// Reads the object header of the buffer `buf` (at +0x40).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let o = BUFFER_HEADER_LEN;
        Ok(Self {
            id: ObjectId::from_u32(get_u32(buf, o)?)?,
            length: get_u32(buf, o + 4)?,
            minor: get_u8(buf, o + 8)?,
            major: get_u8(buf, o + 9)?,
        })
    }

    fn encode(&self, buf: &mut [u8]) -> Result<()> {
        let o = BUFFER_HEADER_LEN;
        put(buf, o, &self.id.to_u32().to_le_bytes())?;
        put(buf, o + 4, &self.length.to_le_bytes())?;
        put(buf, o + 8, &[self.minor, self.major])
    }
}

/// A REQ object read from the req buffer: what the host must relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpdmRequest<'a> {
    /// The object header (id REQ).
    pub header: ObjectHeader,
    /// How to relay it.
    pub data_type: DataType,
    /// The SPDM message: REQ.length − 0x10 bytes from buffer +0x50.
    pub payload: &'a [u8],
}

impl<'a> SpdmRequest<'a> {
    /// Reads the REQ object of the req buffer `buf`. Another known object id is an
    /// [`Error::UnexpectedMessage`], an unknown one an [`Error::UnknownCode`]; a length below 0x10 or
    /// reaching past `buf` is an [`Error::LengthMismatch`].
    pub fn decode(buf: &'a [u8]) -> Result<Self> {
        let header = ObjectHeader::decode(buf)?;
        if header.id != ObjectId::Req {
            return Err(Error::UnexpectedMessage {
                what: "tio: req buffer holds no REQ object",
            });
        }
        let data_type = DataType::from_u8(get_u8(buf, BUFFER_HEADER_LEN + 0x0A)?)?;
        let payload = object_payload(buf, header.length, SPDM_OBJECT_HEADER_LEN)?;
        Ok(Self {
            header,
            data_type,
            payload,
        })
    }
}

/// The bytes of an object of declared `length` (header of `header_len` included),
/// checked against `buf`.
fn object_payload(buf: &[u8], length: u32, header_len: usize) -> Result<&[u8]> {
    let len = usize::try_from(length).unwrap_or(usize::MAX);
    let start = BUFFER_HEADER_LEN + header_len;
    let n = len.checked_sub(header_len).ok_or(Error::LengthMismatch {
        field: "tio.object.length",
        declared: len,
        actual: header_len,
    })?;
    let avail = buf.len().saturating_sub(start);
    start
        .checked_add(n)
        .and_then(|end| buf.get(start..end))
        .ok_or(Error::LengthMismatch {
            field: "tio.object.length",
            declared: len,
            actual: avail.saturating_add(header_len),
        })
}

/// The capacity for a DOE reply in the resp buffer: `req_max` − 0x50 (fact sheet §3
/// step 2; the resp buffer is allocated with req_max); `None` if `req_max` is smaller.
pub const fn resp_capacity(req_max: u32) -> Option<u32> {
    (req_max).checked_sub(SPDM_PAYLOAD_OFFSET as u32)
}

/// RESP.length and payload_sz for a reply of `received` bytes:
/// ALIGN(0x10 + received, 32) (fact sheet §3 step 4); `None` on overflow.
pub const fn resp_length(received: u32) -> Option<u32> {
    match received.checked_add(SPDM_OBJECT_HEADER_LEN as u32 + PAYLOAD_ALIGN - 1) {
        Some(v) => Some(v & !(PAYLOAD_ALIGN - 1)),
        None => None,
    }
}

/// Writes the initial RESP the host puts in the resp buffer (fact sheet §2: id 2,
/// version 1.0, length 0, payload_sz 0x10) with capacity `capacity`.
pub fn init_resp(buf: &mut [u8], capacity: u32) -> Result<()> {
    get::<SPDM_PAYLOAD_OFFSET>(buf, 0).map_err(|_| Error::BufferTooSmall {
        needed: SPDM_PAYLOAD_OFFSET,
    })?;
    BufferHeader {
        capacity,
        payload_sz: SPDM_OBJECT_HEADER_LEN as u32,
        ..BufferHeader::default()
    }
    .encode(buf)?;
    put(buf, BUFFER_HEADER_LEN, &[0u8; SPDM_OBJECT_HEADER_LEN])?;
    ObjectHeader {
        id: ObjectId::Resp,
        length: 0,
        minor: 0,
        major: 1,
    }
    .encode(buf)
}

/// Fills the resp buffer after the DOE exchange: copies `data_type` from REQ, sets
/// RESP.length and payload_sz to [`resp_length`] of `reply`'s length, and copies
/// `reply` to +0x50 (the host writes the reply there; the capacity in the buffer header
/// is kept). A reply that does not fit `buf` is an [`Error::BufferTooSmall`].
pub fn write_resp(buf: &mut [u8], data_type: DataType, reply: &[u8]) -> Result<u32> {
    let received =
        u32::try_from(reply.len()).map_err(|_| Error::BufferTooSmall { needed: usize::MAX })?;
    let len = resp_length(received).ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    let end = SPDM_PAYLOAD_OFFSET
        .checked_add(reply.len())
        .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    if end > buf.len() {
        return Err(Error::BufferTooSmall { needed: end });
    }
    put(buf, 0x04, &len.to_le_bytes())?;
    put(buf, BUFFER_HEADER_LEN, &[0u8; SPDM_OBJECT_HEADER_LEN])?;
    ObjectHeader {
        id: ObjectId::Resp,
        length: len,
        minor: 0,
        major: 1,
    }
    .encode(buf)?;
    put(buf, BUFFER_HEADER_LEN + 0x0A, &[data_type.to_u8()])?;
    put(buf, SPDM_PAYLOAD_OFFSET, reply)?;
    Ok(len)
}

/// Writes a REQ object (for a firmware model and tests): the buffer header with
/// `capacity` and payload_sz ALIGN(0x10 + len, 32), REQ version 1.0 of length
/// 0x10 + len, and the payload at +0x50.
pub fn write_req(buf: &mut [u8], capacity: u32, data_type: DataType, msg: &[u8]) -> Result<()> {
    let n = u32::try_from(msg.len()).map_err(|_| Error::BufferTooSmall { needed: usize::MAX })?;
    let length = n
        .checked_add(SPDM_OBJECT_HEADER_LEN as u32)
        .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    let payload_sz = resp_length(n).ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    let end = SPDM_PAYLOAD_OFFSET
        .checked_add(msg.len())
        .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    if end > buf.len() {
        return Err(Error::BufferTooSmall { needed: end });
    }
    BufferHeader {
        capacity,
        payload_sz,
        ..BufferHeader::default()
    }
    .encode(buf)?;
    put(buf, BUFFER_HEADER_LEN, &[0u8; SPDM_OBJECT_HEADER_LEN])?;
    ObjectHeader {
        id: ObjectId::Req,
        length,
        minor: 0,
        major: 1,
    }
    .encode(buf)?;
    put(buf, BUFFER_HEADER_LEN + 0x0A, &[data_type.to_u8()])?;
    put(buf, SPDM_PAYLOAD_OFFSET, msg)
}

/// Reads the RESP object the host wrote to the resp buffer (for a firmware model and
/// tests): its data type and its payload, RESP.length − 0x10 bytes from +0x50. That
/// length is ALIGN(0x10 + received, 32) (fact sheet §3 step 4), so the payload may end
/// in up to 31 bytes of padding; how the firmware learns the exact reply length is
/// unconfirmed. Another object id is an [`Error::UnexpectedMessage`], a length past
/// `buf` an [`Error::LengthMismatch`].
pub fn read_resp(buf: &[u8]) -> Result<(DataType, &[u8])> {
    let header = ObjectHeader::decode(buf)?;
    if header.id != ObjectId::Resp {
        return Err(Error::UnexpectedMessage {
            what: "tio: resp buffer holds no RESP object",
        });
    }
    let data_type = DataType::from_u8(get_u8(buf, BUFFER_HEADER_LEN + 0x0A)?)?;
    Ok((
        data_type,
        object_payload(buf, header.length, SPDM_OBJECT_HEADER_LEN)?,
    ))
}

/// Writes an output object (CERTIFICATE, MEASUREMENT or REPORT; OOT) into the output
/// buffer `buf`, for a firmware model and tests: the buffer header with `capacity` and
/// payload_sz ALIGN(0x20 + len, 32), the object header (version 1.0, length 0x20 + len,
/// `devid`, `segment`, `kind`) and `body` after it. REQ and RESP are
/// [`Error::InvalidField`]; a body that does not fit `buf` is an
/// [`Error::BufferTooSmall`]. Returns the object length.
pub fn write_output(
    buf: &mut [u8],
    capacity: u32,
    id: ObjectId,
    devid: u16,
    segment: u8,
    kind: u8,
    body: &[u8],
) -> Result<u32> {
    if matches!(id, ObjectId::Req | ObjectId::Resp) {
        return Err(Error::InvalidField {
            field: "tio.output.id",
            value: id.to_u32().into(),
        });
    }
    let too_big = Error::BufferTooSmall { needed: usize::MAX };
    let start = BUFFER_HEADER_LEN + OUTPUT_OBJECT_HEADER_LEN;
    let end = start.checked_add(body.len()).ok_or(too_big)?;
    if end > buf.len() {
        return Err(Error::BufferTooSmall { needed: end });
    }
    let length = u32::try_from(OUTPUT_OBJECT_HEADER_LEN + body.len()).map_err(|_| too_big)?;
    let payload_sz = length
        .checked_add(PAYLOAD_ALIGN - 1)
        .map(|v| v & !(PAYLOAD_ALIGN - 1))
        .ok_or(too_big)?;
    BufferHeader {
        capacity,
        payload_sz,
        ..BufferHeader::default()
    }
    .encode(buf)?;
    put(buf, BUFFER_HEADER_LEN, &[0u8; OUTPUT_OBJECT_HEADER_LEN])?;
    ObjectHeader {
        id,
        length,
        minor: 0,
        major: 1,
    }
    .encode(buf)?;
    put(buf, BUFFER_HEADER_LEN + 0x10, &devid.to_le_bytes())?;
    put(buf, BUFFER_HEADER_LEN + 0x12, &[segment, kind])?;
    put(buf, start, body)?;
    Ok(length)
}

/// An output object (CERTIFICATE, MEASUREMENT or REPORT; OOT) read from the output
/// buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputObject<'a> {
    /// The object header.
    pub header: ObjectHeader,
    /// +0x10: device id.
    pub devid: u16,
    /// +0x12: segment.
    pub segment: u8,
    /// +0x13: type (CERTIFICATE 1; MEASUREMENT 1 measurements, 2 log/transcript;
    /// REPORT 1 TDISP interface report). Kept raw.
    pub kind: u8,
    /// The object body: length − 0x20 bytes after the 0x20-byte header. OOT's
    /// `tio_save_output` copies `length` bytes after the header, which may over-read
    /// (unconfirmed); this decoder takes `length` as including the header, as §2 says.
    pub payload: &'a [u8],
}

impl<'a> OutputObject<'a> {
    /// Reads the output object of `buf`; a REQ or RESP object there is an
    /// [`Error::UnexpectedMessage`], a length below 0x20 or past `buf` an
    /// [`Error::LengthMismatch`].
    pub fn decode(buf: &'a [u8]) -> Result<Self> {
        let header = ObjectHeader::decode(buf)?;
        if matches!(header.id, ObjectId::Req | ObjectId::Resp) {
            return Err(Error::UnexpectedMessage {
                what: "tio: output buffer holds a REQ/RESP object",
            });
        }
        let o = BUFFER_HEADER_LEN;
        Ok(Self {
            header,
            devid: get_u16(buf, o + 0x10)?,
            segment: get_u8(buf, o + 0x12)?,
            kind: get_u8(buf, o + 0x13)?,
            payload: object_payload(buf, header.length, OUTPUT_OBJECT_HEADER_LEN)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_round_trip() {
        let mut buf = [0u8; 0x100];
        init_resp(&mut buf, 0x1000).unwrap();
        assert_eq!(get_u32(&buf, 4), Ok(0x10));
        assert_eq!(
            ObjectHeader::decode(&buf).map(|h| (h.id, h.length, h.major)),
            Ok((ObjectId::Resp, 0, 1))
        );
        assert_eq!(
            write_resp(&mut buf, DataType::SecuredSpdm, &[7; 17]),
            Ok(0x40)
        );
        assert_eq!(get_u32(&buf, 0), Ok(0x1000));
        assert!(write_resp(&mut buf, DataType::Spdm, &[0; 0xb1]).is_err());
        assert_eq!(resp_length(0), Some(0x20));
        assert_eq!(resp_length(u32::MAX), None);
        assert_eq!(resp_capacity(0x40), None);
    }

    #[test]
    fn resp_read_back_and_output_round_trip() {
        let mut buf = [0u8; 0x100];
        init_resp(&mut buf, 0x100).unwrap();
        assert!(
            read_resp(&buf).is_err(),
            "data type 0 until the host writes RESP"
        );
        write_resp(&mut buf, DataType::SecuredSpdm, &[7; 5]).unwrap();
        let (t, p) = read_resp(&buf).unwrap();
        assert_eq!(t, DataType::SecuredSpdm);
        assert_eq!(p.len(), 0x10, "aligned: 5 bytes and padding");
        assert_eq!(&p[..5], &[7; 5]);
        write_req(&mut buf, 0x100, DataType::Spdm, &[1]).unwrap();
        assert!(read_resp(&buf).is_err(), "a REQ is no RESP");

        let mut out = [0u8; 0x80];
        let n = write_output(&mut out, 0x80, ObjectId::Report, 0x0100, 2, 1, &[9; 3]).unwrap();
        assert_eq!(n, 0x23);
        let o = OutputObject::decode(&out).unwrap();
        assert_eq!(
            (o.header.id, o.devid, o.segment, o.kind, o.payload),
            (ObjectId::Report, 0x0100, 2, 1, &[9u8; 3][..])
        );
        assert_eq!(get_u32(&out, 4), Ok(0x40));
        assert!(write_output(&mut out, 0x80, ObjectId::Resp, 0, 0, 0, &[]).is_err());
        assert!(write_output(&mut out, 0x80, ObjectId::Certificate, 0, 0, 1, &[0; 0x21]).is_err());
    }

    #[test]
    fn req_lengths_checked() {
        let mut buf = [0u8; 0x60];
        write_req(&mut buf, 0x60, DataType::Spdm, &[1, 2, 3]).unwrap();
        let r = SpdmRequest::decode(&buf).unwrap();
        assert_eq!((r.payload, r.data_type), (&[1u8, 2, 3][..], DataType::Spdm));
        put(&mut buf, 0x44, &0x0fu32.to_le_bytes()).unwrap();
        assert!(SpdmRequest::decode(&buf).is_err());
        put(&mut buf, 0x44, &0x21u32.to_le_bytes()).unwrap();
        assert!(SpdmRequest::decode(&buf).is_err());
    }
}
