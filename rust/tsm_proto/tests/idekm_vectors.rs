// SPDX-License-Identifier: GPL-2.0

//! IDE-KM golden vectors, truncation, round-trip and robustness tests.
//!
//! The byte strings below were written by hand from the IDE-KM message tables of PCIe
//! Base 6.x §6.33.3 ("QUERY", "QUERY_RESP", "KEY_PROG", "KP_ACK", "K_SET_GO",
//! "K_SET_STOP", "K_GOSTOP_ACK"), prefixed with the PCI-SIG protocol id `00h`, and the
//! IDE register layout of §7.9.26 (IDE Capability/Control, Link IDE and Selective IDE
//! stream register blocks).

mod common;

use proptest::prelude::*;
use tsm_proto::codec::{Error, Writer};
use tsm_proto::idekm::*;

fn encode(m: &IdeKmMessage<'_>) -> Vec<u8> {
    common::encoded(1024, |w| m.encode(w))
}

/// QUERY: protocol 00h, object 00h, reserved, port index 2.
const QUERY: &[u8] = &[0x00, 0x00, 0x00, 0x02];

/// QUERY_RESP: port 0, dev/func 08h, bus 01h, segment 0, max port 0; IDE capability
/// 0x0000_0042 (selective streams supported, IDE_KM supported, 1 selective stream),
/// control 0, one selective block: capability 1 (one address association block),
/// control 0x0000_8001, status 0x0000_0002, RID association 1 0x0001_0100, RID
/// association 2 0x0000_0101, address association 0x0010_0001 / 0 / 0.
const QUERY_RESP: &[u8] = &[
    0x00, 0x01, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, // header
    0x42, 0x00, 0x00, 0x00, // IDE capability
    0x00, 0x00, 0x00, 0x00, // IDE control
    0x01, 0x00, 0x00, 0x00, // selective stream capability
    0x01, 0x80, 0x00, 0x00, // selective stream control
    0x02, 0x00, 0x00, 0x00, // selective stream status
    0x00, 0x01, 0x01, 0x00, // RID association 1
    0x01, 0x01, 0x00, 0x00, // RID association 2
    0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // assoc
];

/// KEY_PROG: stream 5, key set K1 / TX / NPR (0x13), port 0, key 00h..1Fh, IFV
/// 0xA0..0xA7.
fn key_prog() -> Vec<u8> {
    let mut v = vec![0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x13, 0x00];
    v.extend(0u8..32);
    v.extend(0xa0u8..0xa8);
    v
}

/// KP_ACK: stream 5, status 03h (unsupported value), K0 / RX / CPL (0x20), port 1.
const KP_ACK: &[u8] = &[0x00, 0x03, 0x00, 0x00, 0x05, 0x03, 0x20, 0x01];
/// K_SET_GO: stream 7, K1 / RX / PR (0x01), port 0.
const K_SET_GO: &[u8] = &[0x00, 0x04, 0x00, 0x00, 0x07, 0x00, 0x01, 0x00];
/// K_SET_STOP: stream 7, K0 / TX / PR (0x02), port 0.
const K_SET_STOP: &[u8] = &[0x00, 0x05, 0x00, 0x00, 0x07, 0x00, 0x02, 0x00];
/// K_GOSTOP_ACK: stream 7, K1 / TX / CPL (0x23), port 0.
const K_GOSTOP_ACK: &[u8] = &[0x00, 0x06, 0x00, 0x00, 0x07, 0x00, 0x23, 0x00];

fn vectors() -> Vec<Vec<u8>> {
    vec![
        QUERY.to_vec(),
        QUERY_RESP.to_vec(),
        key_prog(),
        KP_ACK.to_vec(),
        K_SET_GO.to_vec(),
        K_SET_STOP.to_vec(),
        K_GOSTOP_ACK.to_vec(),
    ]
}

#[test]
fn query_vector() {
    assert_eq!(
        IdeKmMessage::decode(QUERY),
        Ok(IdeKmMessage::Query(Query { port_index: 2 }))
    );
}

#[test]
fn query_resp_vector() {
    let IdeKmMessage::QueryResp(q) = IdeKmMessage::decode(QUERY_RESP).unwrap() else {
        panic!("not QUERY_RESP")
    };
    assert_eq!(
        (q.port_index, q.dev_func, q.bus, q.segment, q.max_port_index),
        (0, 8, 1, 0, 0)
    );
    assert_eq!(q.regs.capability(), 0x42);
    assert_eq!(q.regs.link_stream_count(), 0);
    let s: Vec<_> = q.regs.selective_streams().collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].control, 0x8001);
    assert_eq!(s[0].rid_association_1, 0x0001_0100);
    assert_eq!(
        s[0].address_associations().collect::<Vec<_>>(),
        vec![AddressAssociation {
            reg1: 0x0010_0001,
            reg2: 0,
            reg3: 0
        }]
    );
}

#[test]
fn key_prog_vector() {
    let v = key_prog();
    let IdeKmMessage::KeyProg(k) = IdeKmMessage::decode(&v).unwrap() else {
        panic!("not KEY_PROG")
    };
    assert_eq!(k.target.stream_id, 5);
    assert_eq!(
        k.target.selector,
        KeySelector {
            key_set: KeySet::K1,
            direction: Direction::Tx,
            sub_stream: SubStream::NonPosted
        }
    );
    assert_eq!(k.material.key[31], 31);
    assert_eq!(k.material.ifv[0], 0xa0);
    assert!(!format!("{k:?}").contains("160"));
}

#[test]
fn ack_vectors() {
    assert_eq!(
        IdeKmMessage::decode(KP_ACK),
        Ok(IdeKmMessage::KpAck(KpAck {
            target: StreamKey {
                stream_id: 5,
                selector: KeySelector {
                    key_set: KeySet::K0,
                    direction: Direction::Rx,
                    sub_stream: SubStream::Completion
                },
                port_index: 1,
            },
            status: KpAckStatus::UnsupportedValue,
        }))
    );
    let go = StreamKey {
        stream_id: 7,
        selector: KeySelector {
            key_set: KeySet::K1,
            direction: Direction::Rx,
            sub_stream: SubStream::Posted,
        },
        port_index: 0,
    };
    assert_eq!(IdeKmMessage::decode(K_SET_GO), Ok(IdeKmMessage::KSetGo(go)));
    assert!(matches!(
        IdeKmMessage::decode(K_SET_STOP),
        Ok(IdeKmMessage::KSetStop(_))
    ));
    assert!(matches!(
        IdeKmMessage::decode(K_GOSTOP_ACK),
        Ok(IdeKmMessage::KGoStopAck(_))
    ));
}

#[test]
fn every_vector_reencodes_exactly() {
    for v in vectors() {
        let m = IdeKmMessage::decode(&v).unwrap();
        assert_eq!(encode(&m), v);
    }
}

#[test]
fn truncation_at_every_length_is_an_error() {
    for v in vectors() {
        common::assert_exact_length(&v, |b| IdeKmMessage::decode(b).err());
    }
}

#[test]
fn unknown_codes_are_typed_errors() {
    let with = |v: &[u8], at: usize, byte: u8| {
        let mut v = v.to_vec();
        v[at] = byte;
        v
    };
    for (bytes, space) in [
        (vec![0x01, 0x00, 0x00, 0x00], "pci.protocol_id"),
        (vec![0x00, 0x07, 0x00, 0x00], "idekm.object_id"),
        (with(KP_ACK, 5, 0x05), "idekm.kp_ack_status"),
    ] {
        let got = IdeKmMessage::decode(&bytes);
        assert!(
            matches!(got, Err(Error::UnknownCode { space: s, .. }) if s == space),
            "{bytes:02x?}: {got:?}, not an unknown {space}"
        );
    }
    assert!(matches!(
        IdeKmMessage::decode(&with(K_SET_GO, 6, 0x30)),
        Err(Error::InvalidField { .. })
    ));
}

#[test]
fn write_ide_regs_checks_counts() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    assert!(write_ide_regs(&mut w, IDE_CAP_LINK, 0, &[], &[]).is_err());
    assert!(write_ide_regs(&mut w, 0, 0, &[], &[]).is_ok());
}

fn selector() -> impl Strategy<Value = KeySelector> {
    (any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(k, d, s)| KeySelector {
        key_set: if k { KeySet::K1 } else { KeySet::K0 },
        direction: if d { Direction::Tx } else { Direction::Rx },
        sub_stream: [
            SubStream::Posted,
            SubStream::NonPosted,
            SubStream::Completion,
        ][s as usize],
    })
}

fn stream_key() -> impl Strategy<Value = StreamKey> {
    (any::<u8>(), selector(), any::<u8>()).prop_map(|(stream_id, selector, port_index)| StreamKey {
        stream_id,
        selector,
        port_index,
    })
}

proptest! {
    #[test]
    fn simple_messages_round_trip(k in stream_key(), which in 0u8..5, st in 0u8..5, port in any::<u8>()) {
        let m = match which {
            0 => IdeKmMessage::Query(Query { port_index: port }),
            1 => IdeKmMessage::KpAck(KpAck { target: k, status: KpAckStatus::from_u8(st).unwrap() }),
            2 => IdeKmMessage::KSetGo(k),
            3 => IdeKmMessage::KSetStop(k),
            _ => IdeKmMessage::KGoStopAck(k),
        };
        let bytes = encode(&m);
        prop_assert_eq!(IdeKmMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn key_prog_round_trips(k in stream_key(), key in any::<[u8; 32]>(), ifv in any::<[u8; 8]>()) {
        let m = IdeKmMessage::KeyProg(KeyProg { target: k, material: KeyMaterial { key: &key, ifv: &ifv } });
        let bytes = encode(&m);
        prop_assert_eq!(bytes.len(), 48);
        prop_assert_eq!(IdeKmMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn query_resp_round_trips(
        hdr in any::<[u8; 5]>(),
        link in proptest::option::of(0u32..8),
        sel in proptest::collection::vec((any::<[u32; 5]>(), 0usize..4), 0..4),
        ctl in any::<u32>(),
    ) {
        let mut cap = IDE_CAP_IDE_KM;
        let links: Vec<LinkStreamRegs> = match link {
            Some(n) => {
                cap |= IDE_CAP_LINK | (n << 13);
                (0..=n).map(|i| LinkStreamRegs { control: i, status: !i }).collect()
            }
            None => vec![],
        };
        if !sel.is_empty() {
            cap |= IDE_CAP_SELECTIVE | ((sel.len() as u32 - 1) << 16);
        }
        let assoc: Vec<Vec<AddressAssociation>> = sel.iter().map(|(r, n)| {
            (0..*n).map(|i| AddressAssociation { reg1: r[0] ^ i as u32, reg2: r[1], reg3: r[2] }).collect()
        }).collect();
        let blocks: Vec<(SelectiveStreamHeader, &[AddressAssociation])> = sel.iter().zip(&assoc).map(|((r, n), a)| {
            (SelectiveStreamHeader {
                capability: (r[0] & !0xf) | *n as u32,
                control: r[1], status: r[2], rid_association_1: r[3], rid_association_2: r[4],
            }, a.as_slice())
        }).collect();
        let mut regs = vec![0u8; 4096];
        let mut w = Writer::new(&mut regs);
        write_ide_regs(&mut w, cap, ctl, &links, &blocks).unwrap();
        let n = w.finish();
        let regs = IdeRegs::parse(&regs[..n]).unwrap();
        prop_assert_eq!(regs.link_streams().collect::<Vec<_>>(), links);
        prop_assert_eq!(regs.selective_streams().count(), sel.len());
        for (s, a) in regs.selective_streams().zip(&assoc) {
            prop_assert_eq!(&s.address_associations().collect::<Vec<_>>(), a);
        }
        let m = IdeKmMessage::QueryResp(QueryResp {
            port_index: hdr[0], dev_func: hdr[1], bus: hdr[2], segment: hdr[3], max_port_index: hdr[4], regs,
        });
        let bytes = encode(&m);
        prop_assert_eq!(IdeKmMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(m) = IdeKmMessage::decode(&data) {
            prop_assert_eq!(encode(&m).len(), data.len());
        }
    }

    #[test]
    fn any_bytes_with_valid_prefix_never_panic(obj in 0u8..8, data in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut v = vec![0u8, obj];
        v.extend(data);
        let _ = IdeKmMessage::decode(&v);
    }
}
