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
//!
//! | file | what |
//! |---|---|
//! | `key` | key selectors, stream keys, key material, KP_ACK |
//! | `query` | QUERY and QUERY_RESP |
//! | `regs` | the IDE register blocks of a QUERY_RESP |
//! | this file | object ids and the message codec |

use super::codec::{Error, Reader, Result, Writer};

pub mod key;
pub mod query;
pub mod regs;

pub use key::{
    Direction, KeyMaterial, KeyProg, KeySelector, KeySet, KpAck, KpAckStatus, StreamKey, SubStream,
};
pub use query::{Query, QueryResp};
pub use regs::{
    write_ide_regs, AddressAssociation, AddressAssociations, IdeRegs, LinkStreamRegs, LinkStreams,
    SelectiveStreamHeader, SelectiveStreamRegs, SelectiveStreams, IDE_CAP_IDE_KM, IDE_CAP_LINK,
    IDE_CAP_SELECTIVE,
};

/// PCI-SIG vendor-defined protocol id of IDE-KM (PCIe Base 6.x §6.31.3 "Protocol ID").
pub const PROTOCOL_ID: u8 = 0x00;

/// Size in bytes of an IDE sub-stream key (AES-GCM-256, §6.33.3 KEY_PROG).
pub const KEY_LEN: usize = 32;

/// Size in bytes of the initial invocation field of the IV (IFV) in KEY_PROG.
pub const IFV_LEN: usize = 8;

wire_enum! {
    /// IDE-KM object ids (PCIe Base 6.x §6.33.3, "IDE_KM Object ID" table).
    pub enum ObjectId(u8, "idekm.object_id") decode from_u8 {
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
}

impl ObjectId {
    /// Whether the object is sent by the device (a response).
    pub fn is_response(self) -> bool {
        matches!(self, Self::QueryResp | Self::KpAck | Self::KGoStopAck)
    }
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
