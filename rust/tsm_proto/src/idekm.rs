// SPDX-License-Identifier: GPL-2.0

//! PCIe IDE key management (IDE-KM) messages.
//!
//! IDE-KM (PCIe Base 6.x §6.33.3 "IDE Key Management (IDE_KM)") lets the TSM query a
//! device's IDE register blocks and program, start and stop the keys of its IDE streams.
//! Every IDE-KM object travels as the payload of an SPDM `VENDOR_DEFINED_REQUEST` /
//! `VENDOR_DEFINED_RESPONSE` (StandardID PCI-SIG, vendor id `0x0001`) inside a secured
//! session; the SPDM envelope is handled by the `spdm` module. This module encodes and
//! decodes the vendor-defined *payload*, which starts with the PCI-SIG protocol id byte
//! ([`PROTOCOL_ID`] = `0x00`) followed by the IDE-KM object id (Table 6-42 "Object ID
//! values" / the IDE_KM message tables).
//!
//! Decoded messages borrow from the input; key material is never copied and never
//! printed by `Debug`.

use core::fmt;

use super::codec::{Error, Reader, Result, Writer};

/// PCI-SIG vendor-defined protocol id of IDE-KM (PCIe Base 6.x §6.31.3 "Protocol ID").
pub const PROTOCOL_ID: u8 = 0x00;

/// Size in bytes of an IDE sub-stream key (AES-GCM-256, §6.33.3 KEY_PROG).
pub const KEY_LEN: usize = 32;

/// Size in bytes of the initial invocation field of the IV (IFV) in KEY_PROG.
pub const IFV_LEN: usize = 8;

/// IDE-KM object ids (PCIe Base 6.x §6.33.3, "IDE_KM Object ID" table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectId {
    /// QUERY, host to device.
    Query = 0x00,
    /// QUERY_RESP, device to host.
    QueryResp = 0x01,
    /// KEY_PROG, host to device.
    KeyProg = 0x02,
    /// KP_ACK, device to host.
    KpAck = 0x03,
    /// K_SET_GO, host to device.
    KSetGo = 0x04,
    /// K_SET_STOP, host to device.
    KSetStop = 0x05,
    /// K_GOSTOP_ACK, device to host.
    KGoStopAck = 0x06,
}

impl ObjectId {
    /// Maps a wire byte to an object id; unknown ids are an [`Error::UnknownCode`].
    pub fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0x00 => Self::Query,
            0x01 => Self::QueryResp,
            0x02 => Self::KeyProg,
            0x03 => Self::KpAck,
            0x04 => Self::KSetGo,
            0x05 => Self::KSetStop,
            0x06 => Self::KGoStopAck,
            _ => {
                return Err(Error::UnknownCode {
                    space: "idekm.object_id",
                    value: u64::from(v),
                })
            }
        })
    }

    /// Whether the object is sent by the device (a response).
    pub fn is_response(self) -> bool {
        matches!(self, Self::QueryResp | Self::KpAck | Self::KGoStopAck)
    }
}

/// Key set selector, bit 0 of the KEY_PROG "Key Set / RxTx / Sub-stream" byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySet {
    /// Key set 0.
    K0,
    /// Key set 1.
    K1,
}

/// Direction of the key, bit 1 of the KEY_PROG "Key Set / RxTx / Sub-stream" byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Receive keys.
    Rx,
    /// Transmit keys.
    Tx,
}

/// IDE sub-stream, bits 7:4 of the KEY_PROG "Key Set / RxTx / Sub-stream" byte
/// (§6.33.4 "IDE TLP Sub-streams").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStream {
    /// Posted requests (`0000b`).
    Posted,
    /// Non-posted requests (`0001b`).
    NonPosted,
    /// Completions (`0010b`).
    Completion,
}

/// The key selector byte carried by KEY_PROG, KP_ACK, K_SET_GO, K_SET_STOP and
/// K_GOSTOP_ACK: key set (bit 0), direction (bit 1), bits 3:2 reserved, sub-stream
/// (bits 7:4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySelector {
    /// K0 or K1.
    pub key_set: KeySet,
    /// RX or TX.
    pub direction: Direction,
    /// PR, NPR or CPL.
    pub sub_stream: SubStream,
}

impl KeySelector {
    /// Decodes the selector byte; reserved bits 3:2 are ignored, an undefined
    /// sub-stream value is an [`Error::InvalidField`].
    pub fn from_u8(v: u8) -> Result<Self> {
        let key_set = if v & 0x01 != 0 {
            KeySet::K1
        } else {
            KeySet::K0
        };
        let direction = if v & 0x02 != 0 {
            Direction::Tx
        } else {
            Direction::Rx
        };
        let sub_stream = match v >> 4 {
            0 => SubStream::Posted,
            1 => SubStream::NonPosted,
            2 => SubStream::Completion,
            other => {
                return Err(Error::InvalidField {
                    field: "idekm.sub_stream",
                    value: u64::from(other),
                })
            }
        };
        Ok(Self {
            key_set,
            direction,
            sub_stream,
        })
    }

    /// Encodes the selector byte (reserved bits written as zero).
    pub fn to_u8(self) -> u8 {
        let ks = match self.key_set {
            KeySet::K0 => 0,
            KeySet::K1 => 0x01,
        };
        let dir = match self.direction {
            Direction::Rx => 0,
            Direction::Tx => 0x02,
        };
        let ss = match self.sub_stream {
            SubStream::Posted => 0x00,
            SubStream::NonPosted => 0x10,
            SubStream::Completion => 0x20,
        };
        ks | dir | ss
    }
}

/// Addressing common to KEY_PROG, K_SET_GO, K_SET_STOP and K_GOSTOP_ACK: which stream,
/// which key and which port of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamKey {
    /// Stream ID the key belongs to.
    pub stream_id: u8,
    /// Key set, direction and sub-stream.
    pub selector: KeySelector,
    /// Port index (0 = the function's own port, §6.33.3).
    pub port_index: u8,
}

/// QUERY (§6.33.3, "QUERY" table): asks for the IDE register blocks of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// Port index being queried.
    pub port_index: u8,
}

/// One Link IDE register block (PCIe Base 6.x §7.9.26.4): stream control and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStreamRegs {
    /// Link IDE Stream Control Register.
    pub control: u32,
    /// Link IDE Stream Status Register.
    pub status: u32,
}

/// One Selective IDE address association register block (§7.9.26.5.4): three registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressAssociation {
    /// IDE Address Association Register 1 (valid bit, base/limit low bits).
    pub reg1: u32,
    /// IDE Address Association Register 2 (memory limit upper).
    pub reg2: u32,
    /// IDE Address Association Register 3 (memory base upper).
    pub reg3: u32,
}

/// One Selective IDE stream register block (§7.9.26.5), borrowed from a QUERY_RESP.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SelectiveStreamRegs<'a> {
    /// Selective IDE Stream Capability Register (bits 3:0: number of address
    /// association register blocks).
    pub capability: u32,
    /// Selective IDE Stream Control Register.
    pub control: u32,
    /// Selective IDE Stream Status Register.
    pub status: u32,
    /// IDE RID Association Register 1.
    pub rid_association_1: u32,
    /// IDE RID Association Register 2.
    pub rid_association_2: u32,
    assoc: &'a [u8],
}

impl fmt::Debug for SelectiveStreamRegs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectiveStreamRegs")
            .field("capability", &self.capability)
            .field("control", &self.control)
            .field("status", &self.status)
            .field("rid_association_1", &self.rid_association_1)
            .field("rid_association_2", &self.rid_association_2)
            .field("address_associations", &self.address_association_count())
            .finish()
    }
}

impl<'a> SelectiveStreamRegs<'a> {
    /// Number of address association blocks (bits 3:0 of the capability register).
    pub fn address_association_count(&self) -> usize {
        (self.capability & 0xf) as usize
    }

    /// Iterates over the stream's address association register blocks.
    pub fn address_associations(&self) -> AddressAssociations<'a> {
        AddressAssociations {
            r: Reader::new(self.assoc),
        }
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self> {
        let capability = r.u32()?;
        let control = r.u32()?;
        let status = r.u32()?;
        let rid_association_1 = r.u32()?;
        let rid_association_2 = r.u32()?;
        let n = (capability & 0xf) as usize;
        // n <= 15, so the product cannot overflow.
        let assoc = r.bytes(n * 12)?;
        Ok(Self {
            capability,
            control,
            status,
            rid_association_1,
            rid_association_2,
            assoc,
        })
    }
}

/// Iterator over [`AddressAssociation`] blocks.
#[derive(Debug, Clone)]
pub struct AddressAssociations<'a> {
    r: Reader<'a>,
}

impl Iterator for AddressAssociations<'_> {
    type Item = AddressAssociation;

    fn next(&mut self) -> Option<AddressAssociation> {
        Some(AddressAssociation {
            reg1: self.r.u32().ok()?,
            reg2: self.r.u32().ok()?,
            reg3: self.r.u32().ok()?,
        })
    }
}

/// IDE capability register bit: Link IDE Stream Supported (§7.9.26.2).
pub const IDE_CAP_LINK: u32 = 1 << 0;
/// IDE capability register bit: Selective IDE Streams Supported (§7.9.26.2).
pub const IDE_CAP_SELECTIVE: u32 = 1 << 1;
/// IDE capability register bit: IDE_KM protocol supported (§7.9.26.2).
pub const IDE_CAP_IDE_KM: u32 = 1 << 6;

/// The IDE extended capability register blocks a QUERY_RESP carries, from the IDE
/// Capability Register to the last selective stream block (§6.33.3 "QUERY_RESP",
/// §7.9.26 "IDE Extended Capability").
///
/// The number of blocks is implied by the capability registers: Link IDE blocks
/// (`Number of TCs Supported for Link IDE` + 1, bits 15:13) when bit 0 is set,
/// selective stream blocks (`Number of Selective IDE Streams Supported` + 1,
/// bits 23:16) when bit 1 is set, each with the number of address association blocks
/// its own capability register announces. Construction checks that the bytes hold
/// exactly that.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdeRegs<'a> {
    raw: &'a [u8],
}

impl fmt::Debug for IdeRegs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdeRegs")
            .field("capability", &self.capability())
            .field("control", &self.control())
            .field("link_streams", &self.link_stream_count())
            .field("selective_streams", &self.selective_stream_count())
            .finish()
    }
}

impl<'a> IdeRegs<'a> {
    /// Validates `raw` as a complete IDE register dump.
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(raw);
        let cap = r.u32()?;
        r.u32()?;
        r.skip(link_count(cap) * 8)?;
        for _ in 0..selective_count(cap) {
            SelectiveStreamRegs::parse(&mut r)?;
        }
        r.finish()?;
        Ok(Self { raw })
    }

    /// The raw register bytes, little-endian dwords.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// IDE Capability Register.
    pub fn capability(&self) -> u32 {
        Reader::new(self.raw).u32().unwrap_or(0)
    }

    /// IDE Control Register.
    pub fn control(&self) -> u32 {
        let mut r = Reader::new(self.raw);
        r.skip(4).and_then(|()| r.u32()).unwrap_or(0)
    }

    /// Number of Link IDE register blocks present.
    pub fn link_stream_count(&self) -> usize {
        link_count(self.capability())
    }

    /// Number of Selective IDE stream register blocks present.
    pub fn selective_stream_count(&self) -> usize {
        selective_count(self.capability())
    }

    /// Iterates over the Link IDE register blocks.
    pub fn link_streams(&self) -> LinkStreams<'a> {
        let mut r = Reader::new(self.raw);
        let n = self.link_stream_count();
        let ok = r.skip(8).is_ok();
        LinkStreams {
            r,
            left: if ok { n } else { 0 },
        }
    }

    /// Iterates over the Selective IDE stream register blocks.
    pub fn selective_streams(&self) -> SelectiveStreams<'a> {
        let mut r = Reader::new(self.raw);
        let n = self.selective_stream_count();
        let ok = r.skip(8 + self.link_stream_count() * 8).is_ok();
        SelectiveStreams {
            r,
            left: if ok { n } else { 0 },
        }
    }
}

fn link_count(cap: u32) -> usize {
    if cap & IDE_CAP_LINK != 0 {
        ((cap >> 13) & 0x7) as usize + 1
    } else {
        0
    }
}

fn selective_count(cap: u32) -> usize {
    if cap & IDE_CAP_SELECTIVE != 0 {
        ((cap >> 16) & 0xff) as usize + 1
    } else {
        0
    }
}

/// Iterator over [`LinkStreamRegs`].
#[derive(Debug, Clone)]
pub struct LinkStreams<'a> {
    r: Reader<'a>,
    left: usize,
}

impl Iterator for LinkStreams<'_> {
    type Item = LinkStreamRegs;

    fn next(&mut self) -> Option<LinkStreamRegs> {
        self.left = self.left.checked_sub(1)?;
        Some(LinkStreamRegs {
            control: self.r.u32().ok()?,
            status: self.r.u32().ok()?,
        })
    }
}

/// Iterator over [`SelectiveStreamRegs`].
#[derive(Debug, Clone)]
pub struct SelectiveStreams<'a> {
    r: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for SelectiveStreams<'a> {
    type Item = SelectiveStreamRegs<'a>;

    fn next(&mut self) -> Option<SelectiveStreamRegs<'a>> {
        self.left = self.left.checked_sub(1)?;
        SelectiveStreamRegs::parse(&mut self.r).ok()
    }
}

/// Writes an IDE register dump (for a device emulator building a QUERY_RESP).
///
/// `capability` must announce exactly `link.len()` link blocks and
/// `selective.len()` selective blocks, and each selective block's capability must
/// announce exactly as many address association blocks as given; otherwise
/// [`Error::LengthMismatch`].
pub fn write_ide_regs(
    w: &mut Writer<'_>,
    capability: u32,
    control: u32,
    link: &[LinkStreamRegs],
    selective: &[(SelectiveStreamHeader, &[AddressAssociation])],
) -> Result<()> {
    if link.len() != link_count(capability) {
        return Err(Error::LengthMismatch {
            field: "idekm.link_streams",
            declared: link_count(capability),
            actual: link.len(),
        });
    }
    if selective.len() != selective_count(capability) {
        return Err(Error::LengthMismatch {
            field: "idekm.selective_streams",
            declared: selective_count(capability),
            actual: selective.len(),
        });
    }
    w.u32(capability)?;
    w.u32(control)?;
    for l in link {
        w.u32(l.control)?;
        w.u32(l.status)?;
    }
    for (h, assoc) in selective {
        let n = (h.capability & 0xf) as usize;
        if assoc.len() != n {
            return Err(Error::LengthMismatch {
                field: "idekm.address_associations",
                declared: n,
                actual: assoc.len(),
            });
        }
        w.u32(h.capability)?;
        w.u32(h.control)?;
        w.u32(h.status)?;
        w.u32(h.rid_association_1)?;
        w.u32(h.rid_association_2)?;
        for a in *assoc {
            w.u32(a.reg1)?;
            w.u32(a.reg2)?;
            w.u32(a.reg3)?;
        }
    }
    Ok(())
}

/// The fixed registers of a selective stream block, for [`write_ide_regs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SelectiveStreamHeader {
    /// Selective IDE Stream Capability Register.
    pub capability: u32,
    /// Selective IDE Stream Control Register.
    pub control: u32,
    /// Selective IDE Stream Status Register.
    pub status: u32,
    /// IDE RID Association Register 1.
    pub rid_association_1: u32,
    /// IDE RID Association Register 2.
    pub rid_association_2: u32,
}

/// QUERY_RESP (§6.33.3, "QUERY_RESP" table): the port's identity and IDE registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryResp<'a> {
    /// Port index the response describes.
    pub port_index: u8,
    /// Device/function number of the port's function.
    pub dev_func: u8,
    /// Bus number of the port's function.
    pub bus: u8,
    /// Segment of the port's function.
    pub segment: u8,
    /// Highest port index the device supports.
    pub max_port_index: u8,
    /// The IDE extended capability registers.
    pub regs: IdeRegs<'a>,
}

/// The 32-byte key and 8-byte IFV carried by KEY_PROG, borrowed from the message.
///
/// `Debug` never prints the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyMaterial<'a> {
    /// Key dwords exactly as on the wire (§6.33.3 KEY_PROG "KEY" field).
    pub key: &'a [u8; KEY_LEN],
    /// Initial invocation field of the IV as on the wire ("IFV" field).
    pub ifv: &'a [u8; IFV_LEN],
}

impl fmt::Debug for KeyMaterial<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial { <redacted> }")
    }
}

/// KEY_PROG (§6.33.3, "KEY_PROG" table): programs one sub-stream key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProg<'a> {
    /// Target stream, key slot and port.
    pub target: StreamKey,
    /// The key and IFV.
    pub material: KeyMaterial<'a>,
}

/// KP_ACK status codes (§6.33.3, "KP_ACK" table, Status field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KpAckStatus {
    /// Key programmed.
    Success = 0x00,
    /// The KEY_PROG had an incorrect length.
    IncorrectLength = 0x01,
    /// The port index is not supported.
    UnsupportedPortIndex = 0x02,
    /// A field held an unsupported value.
    UnsupportedValue = 0x03,
    /// Unspecified failure.
    UnspecifiedFailure = 0x04,
}

impl KpAckStatus {
    /// Maps the status byte; unknown values are an [`Error::UnknownCode`].
    pub fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0x00 => Self::Success,
            0x01 => Self::IncorrectLength,
            0x02 => Self::UnsupportedPortIndex,
            0x03 => Self::UnsupportedValue,
            0x04 => Self::UnspecifiedFailure,
            _ => {
                return Err(Error::UnknownCode {
                    space: "idekm.kp_ack_status",
                    value: u64::from(v),
                })
            }
        })
    }
}

/// KP_ACK (§6.33.3, "KP_ACK" table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpAck {
    /// Stream, key slot and port the acknowledgement is for.
    pub target: StreamKey,
    /// Outcome of the KEY_PROG.
    pub status: KpAckStatus,
}

/// One decoded IDE-KM object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdeKmMessage<'a> {
    /// QUERY.
    Query(Query),
    /// QUERY_RESP.
    QueryResp(QueryResp<'a>),
    /// KEY_PROG.
    KeyProg(KeyProg<'a>),
    /// KP_ACK.
    KpAck(KpAck),
    /// K_SET_GO: switch the stream to the selected key set.
    KSetGo(StreamKey),
    /// K_SET_STOP: stop using the selected key set.
    KSetStop(StreamKey),
    /// K_GOSTOP_ACK: acknowledges K_SET_GO or K_SET_STOP.
    KGoStopAck(StreamKey),
}

impl<'a> IdeKmMessage<'a> {
    /// The object id of this message.
    pub fn object_id(&self) -> ObjectId {
        match self {
            Self::Query(_) => ObjectId::Query,
            Self::QueryResp(_) => ObjectId::QueryResp,
            Self::KeyProg(_) => ObjectId::KeyProg,
            Self::KpAck(_) => ObjectId::KpAck,
            Self::KSetGo(_) => ObjectId::KSetGo,
            Self::KSetStop(_) => ObjectId::KSetStop,
            Self::KGoStopAck(_) => ObjectId::KGoStopAck,
        }
    }

    /// Decodes a vendor-defined payload (protocol id byte first). Reserved fields are
    /// ignored; trailing bytes are an error.
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let proto = r.u8()?;
        if proto != PROTOCOL_ID {
            return Err(Error::UnknownCode {
                space: "pci.protocol_id",
                value: u64::from(proto),
            });
        }
        let object = ObjectId::from_u8(r.u8()?)?;
        let msg = match object {
            ObjectId::Query => {
                r.skip(1)?;
                Self::Query(Query {
                    port_index: r.u8()?,
                })
            }
            ObjectId::QueryResp => {
                r.skip(1)?;
                let port_index = r.u8()?;
                let dev_func = r.u8()?;
                let bus = r.u8()?;
                let segment = r.u8()?;
                let max_port_index = r.u8()?;
                let regs = IdeRegs::parse(r.rest())?;
                Self::QueryResp(QueryResp {
                    port_index,
                    dev_func,
                    bus,
                    segment,
                    max_port_index,
                    regs,
                })
            }
            ObjectId::KeyProg => {
                let (target, _) = read_stream_key(&mut r)?;
                let key = as_array::<KEY_LEN>(r.bytes(KEY_LEN)?)?;
                let ifv = as_array::<IFV_LEN>(r.bytes(IFV_LEN)?)?;
                Self::KeyProg(KeyProg {
                    target,
                    material: KeyMaterial { key, ifv },
                })
            }
            ObjectId::KpAck => {
                let (target, status) = read_stream_key(&mut r)?;
                Self::KpAck(KpAck {
                    target,
                    status: KpAckStatus::from_u8(status)?,
                })
            }
            ObjectId::KSetGo => Self::KSetGo(read_stream_key(&mut r)?.0),
            ObjectId::KSetStop => Self::KSetStop(read_stream_key(&mut r)?.0),
            ObjectId::KGoStopAck => Self::KGoStopAck(read_stream_key(&mut r)?.0),
        };
        r.finish()?;
        Ok(msg)
    }

    /// Encodes the vendor-defined payload (protocol id byte first) into `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(PROTOCOL_ID)?;
        w.u8(self.object_id() as u8)?;
        match self {
            Self::Query(q) => {
                w.u8(0)?;
                w.u8(q.port_index)
            }
            Self::QueryResp(q) => {
                w.u8(0)?;
                w.u8(q.port_index)?;
                w.u8(q.dev_func)?;
                w.u8(q.bus)?;
                w.u8(q.segment)?;
                w.u8(q.max_port_index)?;
                w.bytes(q.regs.as_bytes())
            }
            Self::KeyProg(k) => {
                write_stream_key(w, &k.target, 0)?;
                w.bytes(k.material.key)?;
                w.bytes(k.material.ifv)
            }
            Self::KpAck(a) => write_stream_key(w, &a.target, a.status as u8),
            Self::KSetGo(t) | Self::KSetStop(t) | Self::KGoStopAck(t) => write_stream_key(w, t, 0),
        }
    }
}

/// Reads `reserved[2], stream_id, status-or-reserved, selector, port_index`.
fn read_stream_key(r: &mut Reader<'_>) -> Result<(StreamKey, u8)> {
    r.skip(2)?;
    let stream_id = r.u8()?;
    let fourth = r.u8()?;
    let selector = KeySelector::from_u8(r.u8()?)?;
    let port_index = r.u8()?;
    Ok((
        StreamKey {
            stream_id,
            selector,
            port_index,
        },
        fourth,
    ))
}

fn write_stream_key(w: &mut Writer<'_>, t: &StreamKey, fourth: u8) -> Result<()> {
    w.zeros(2)?;
    w.u8(t.stream_id)?;
    w.u8(fourth)?;
    w.u8(t.selector.to_u8())?;
    w.u8(t.port_index)
}

fn as_array<const N: usize>(b: &[u8]) -> Result<&[u8; N]> {
    <&[u8; N]>::try_from(b).map_err(|_| Error::LengthMismatch {
        field: "idekm.key",
        declared: N,
        actual: b.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> IdeKmMessage<'_> {
        let m = IdeKmMessage::decode(bytes).unwrap();
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        m.encode(&mut w).unwrap();
        let n = w.finish();
        assert_eq!(&buf[..n], bytes);
        m
    }

    #[test]
    fn query_round_trips() {
        let m = round_trip(&[0, 0, 0, 3]);
        assert_eq!(m, IdeKmMessage::Query(Query { port_index: 3 }));
    }

    #[test]
    fn selector_rejects_unknown_sub_stream_and_ignores_reserved() {
        assert!(KeySelector::from_u8(0x30).is_err());
        let s = KeySelector::from_u8(0x2f).unwrap();
        assert_eq!(s.key_set, KeySet::K1);
        assert_eq!(s.direction, Direction::Tx);
        assert_eq!(s.sub_stream, SubStream::Completion);
        assert_eq!(s.to_u8(), 0x23);
    }

    #[test]
    fn key_material_debug_is_redacted() {
        let key = [0xaa; 32];
        let ifv = [0xbb; 8];
        let k = KeyMaterial {
            key: &key,
            ifv: &ifv,
        };
        extern crate std;
        let s = std::format!("{k:?}");
        assert!(!s.contains("aa") && !s.contains("170") && !s.contains("187"));
    }

    #[test]
    fn query_resp_with_link_and_selective_blocks() {
        // cap: link (bit0), selective (bit1), 2 link TCs (bits 15:13 = 1),
        // 2 selective streams (bits 23:16 = 1)
        let cap: u32 = 0x3 | (1 << 13) | (1 << 16);
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        let link = [
            LinkStreamRegs {
                control: 1,
                status: 2,
            },
            LinkStreamRegs {
                control: 3,
                status: 4,
            },
        ];
        let a = [AddressAssociation {
            reg1: 7,
            reg2: 8,
            reg3: 9,
        }];
        let h0 = SelectiveStreamHeader {
            capability: 1,
            control: 5,
            ..Default::default()
        };
        let h1 = SelectiveStreamHeader::default();
        write_ide_regs(&mut w, cap, 0, &link, &[(h0, &a), (h1, &[])]).unwrap();
        let n = w.finish();
        let regs = IdeRegs::parse(&buf[..n]).unwrap();
        assert_eq!(regs.link_streams().count(), 2);
        let sel: [_; 2] = {
            let mut it = regs.selective_streams();
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(sel[0].control, 5);
        assert_eq!(sel[0].address_associations().next(), Some(a[0]));
        assert_eq!(sel[1].address_associations().count(), 0);
        assert!(IdeRegs::parse(&buf[..n - 4]).is_err());
    }
}
