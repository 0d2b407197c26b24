// SPDX-License-Identifier: GPL-2.0

//! `/dev/tsm_fw` message golden vectors, framing checks and property tests.
//!
//! The byte strings were written by hand, offset by offset, from
//! `include/uapi/linux/tsm_fw.h`: `struct tsm_fw_hdr` (magic "TSFW", version, type,
//! length, flags, req_id) and the body structure of each type.

use proptest::collection::vec;
use proptest::prelude::*;
use tsm_proto::codec::Error;
use tsm_proto::fwmsg::*;

/// `struct tsm_fw_hdr`: magic, version 1, `ty`, `length`, flags 0, `req_id`.
fn hdr(ty: u16, length: u32, req_id: u64) -> Vec<u8> {
    let mut v = vec![0x54, 0x53, 0x46, 0x57, 0x01, 0x00]; // 0: magic, 4: version
    v.extend(ty.to_le_bytes()); // 6: type
    v.extend(length.to_le_bytes()); // 8: length
    v.extend([0u8; 4]); // 12: flags
    v.extend(req_id.to_le_bytes()); // 16: req_id
    v
}

fn encode<'a>(m: &impl Message<'a>, req_id: u64) -> Vec<u8> {
    let mut buf = vec![0u8; m.encoded_len()];
    let n = m.encode(req_id, &mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

const DEV: Dev = Dev {
    segment: 0,
    bus: 1,
    devfn: 0,
};

/// HELLO, req_id 0: versions 1-1, max_msg_size 0x10100, caps IDE | TDISP.
fn hello_vector() -> Vec<u8> {
    let mut v = hdr(0x0001, 40, 0);
    v.extend([0x01, 0x00, 0x01, 0x00]); // 0: min_version, 2: max_version
    v.extend([0x00, 0x01, 0x01, 0x00]); // 4: max_msg_size
    v.extend([0x03, 0x00, 0x00, 0x00]); // 8: caps
    v.extend([0x00; 4]); // 12: reserved
    v
}

/// DOE_REQUEST, req_id 7: dev 0000:01:00.0, PCI-SIG, Secured CMA, seq 3, timeout
/// 5000 ms, 8 payload bytes.
fn doe_request_vector() -> Vec<u8> {
    let mut v = hdr(0x0002, 56, 7);
    v.extend([0x00, 0x00, 0x01, 0x00]); // 0: dev (segment, bus, devfn)
    v.extend([0x01, 0x00, 0x02, 0x00]); // 4: vendor_id, 6: object_type, 7: reserved0
    v.extend([0x03, 0x00, 0x00, 0x00]); // 8: seq
    v.extend([0x88, 0x13, 0x00, 0x00]); // 12: timeout_ms
    v.extend([0x08, 0x00, 0x00, 0x00]); // 16: length
    v.extend([0x00; 4]); // 20: reserved1
    v.extend([0x10, 0x84, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd]); // 24: payload
    v
}

/// COMPLETE, req_id 9: status -EIO, TSM_FW_ERR_TDISP_ERROR, CONFIG_LOCKED, "no".
fn complete_vector() -> Vec<u8> {
    let mut v = hdr(0x0003, 42, 9);
    v.extend([0xfb, 0xff, 0xff, 0xff]); // 0: status
    v.extend([0x0b, 0x00, 0x00, 0x00]); // 4: fw_error
    v.extend([0x01, 0x00, 0x00, 0x00]); // 8: tdi_state
    v.extend([0x02, 0x00, 0x00, 0x00]); // 12: length
    v.extend(*b"no"); // 16: payload
    v
}

/// BIND, req_id 0x0102030405060708: TDI 01:00.0 (no segment), guest RID 8, lock flags
/// NO_FW_UPDATE | MSIX, one 64-bit BAR 0 of 16 KiB at 0x1000_0000, MSI-X 32 entries at
/// BAR 0 + 0x2000, PBA at BAR 0 + 0x3000.
fn bind_vector() -> Vec<u8> {
    let mut v = hdr(0x0104, 208, 0x0102_0304_0506_0708);
    v.extend([0x00, 0x00, 0x01, 0x00]); // 0: dev
    v.extend([0x00, 0x01, 0x00, 0x00]); // 4: tdi_id
    v.extend([0x08, 0x00, 0x00, 0x00]); // 8: guest_rid
    v.extend([0x05, 0x00, 0x01, 0x00]); // 12: lock_flags, 14: nr_bars, 15: reserved
    v.extend([0x00; 8]); // 16: mmio_reporting_offset
    v.extend([0x20, 0x00, 0x00, 0x00]); // 24: msix.table_entries, table_bar, pba_bar
    v.extend([0x00, 0x20, 0x00, 0x00]); // 28: msix.table_offset
    v.extend([0x00, 0x30, 0x00, 0x00]); // 32: msix.pba_offset
    v.extend([0x00; 4]); // 36: msix.reserved
    v.extend([0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00]); // 40: bars[0].base
    v.extend([0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]); // 48: bars[0].size
    v.extend([0x00, 0x01, 0, 0, 0, 0, 0, 0]); // 56: index, flags (64-bit), reserved
    v.extend([0x00; 5 * 24]); // 64: bars[1..6]
    v
}

/// DOE_RESPONSE, req_id 7: status -ETIMEDOUT, PCI-SIG, CMA, seq 3, no payload.
fn doe_response_vector() -> Vec<u8> {
    let mut v = hdr(0x0107, 40, 7);
    v.extend([0x92, 0xff, 0xff, 0xff]); // 0: status
    v.extend([0x01, 0x00, 0x01, 0x00]); // 4: vendor_id, 6: object_type, 7: reserved
    v.extend([0x03, 0x00, 0x00, 0x00]); // 8: seq
    v.extend([0x00; 4]); // 12: length
    v
}

fn bind() -> Bind {
    let mut bars = [Bar::default(); MAX_BARS];
    bars[0] = Bar {
        base: 0x1000_0000,
        size: 0x4000,
        index: 0,
        flags: BAR_64BIT,
    };
    Bind {
        dev: DEV,
        tdi_id: 0x0100,
        guest_rid: 8,
        lock_flags: LOCK_NO_FW_UPDATE | LOCK_MSIX,
        nr_bars: 1,
        mmio_reporting_offset: 0,
        msix: Msix {
            table_entries: 32,
            table_bar: 0,
            pba_bar: 0,
            table_offset: 0x2000,
            pba_offset: 0x3000,
        },
        bars,
    }
}

const DOE_PAYLOAD: [u8; 8] = [0x10, 0x84, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd];

fn msg_vectors() -> Vec<(Vec<u8>, u64, Msg<'static>)> {
    vec![
        (
            hello_vector(),
            0,
            Msg::Hello(Hello {
                min_version: 1,
                max_version: 1,
                max_msg_size: MAX_MSG_SIZE as u32,
                caps: CAP_IDE | CAP_TDISP,
            }),
        ),
        (
            doe_request_vector(),
            7,
            Msg::DoeRequest(DoeRequest {
                dev: DEV,
                object_type: DOE_TYPE_SECURED_CMA,
                seq: 3,
                timeout_ms: 5000,
                payload: &DOE_PAYLOAD,
            }),
        ),
        (
            complete_vector(),
            9,
            Msg::Complete(Complete {
                status: -5,
                fw_error: err::TDISP_ERROR,
                tdi_state: 1,
                payload: b"no",
            }),
        ),
    ]
}

fn cmd_vectors() -> Vec<(Vec<u8>, u64, Cmd<'static>)> {
    vec![
        (bind_vector(), 0x0102_0304_0506_0708, Cmd::Bind(bind())),
        (
            doe_response_vector(),
            7,
            Cmd::DoeResponse(DoeResponse {
                status: -110,
                vendor_id: DOE_VENDOR_PCI_SIG,
                object_type: DOE_TYPE_CMA,
                seq: 3,
                payload: &[],
            }),
        ),
    ]
}

#[test]
fn golden_vectors_decode_and_encode() {
    for (bytes, req_id, m) in msg_vectors() {
        assert_eq!(Msg::decode(&bytes), Ok((req_id, m)), "{m:?}");
        assert_eq!(encode(&m, req_id), bytes, "{m:?}");
    }
    for (bytes, req_id, c) in cmd_vectors() {
        assert_eq!(Cmd::decode(&bytes), Ok((req_id, c)), "{c:?}");
        assert_eq!(encode(&c, req_id), bytes, "{c:?}");
    }
}

#[test]
fn reserved_fields_are_ignored_on_receipt() {
    // hdr.flags, hello.reserved.
    let mut b = hello_vector();
    b[12] = 0xff;
    b[24 + 12] = 0xff;
    assert!(Msg::decode(&b).is_ok());
    // doe_request.reserved0 and reserved1.
    let mut b = doe_request_vector();
    b[24 + 7] = 0xff;
    b[24 + 20] = 0xff;
    assert_eq!(Msg::decode(&b), Msg::decode(&doe_request_vector()));
    // bind.reserved, msix.reserved, a bar's reserved bytes.
    let mut b = bind_vector();
    b[24 + 15] = 0xff;
    b[24 + 36] = 0xff;
    b[24 + 40 + 18] = 0xff;
    assert_eq!(Cmd::decode(&b), Cmd::decode(&bind_vector()));
}

#[test]
fn every_truncation_and_extension_is_refused() {
    for (bytes, _, _) in msg_vectors() {
        for n in 0..bytes.len() {
            assert!(Msg::decode(&bytes[..n]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Msg::decode(&longer).is_err());
    }
}

#[test]
fn framing_checks_in_the_kernel_order() {
    let good = complete_vector();
    let mut b = good.clone();
    b[0] ^= 1;
    assert_eq!(
        Msg::decode(&b),
        Err(Error::InvalidField {
            field: "tsm_fw.magic",
            value: 0x5746_5355
        })
    );
    let mut b = good.clone();
    b[8] = 41;
    assert!(matches!(
        Msg::decode(&b),
        Err(Error::LengthMismatch {
            declared: 41,
            actual: 42,
            ..
        })
    ));
    // A wrong version is refused in every message but HELLO.
    let mut b = good.clone();
    b[4] = 2;
    assert_eq!(
        Msg::decode(&b),
        Err(Error::UnsupportedVersion { version: 2 })
    );
    let mut b = hello_vector();
    b[4] = 2;
    assert!(Msg::decode(&b).is_ok());
    let mut b = good.clone();
    b[6] = 0x77;
    assert_eq!(
        Msg::decode(&b),
        Err(Error::UnknownCode {
            space: "tsm_fw.hdr.type",
            value: 0x77
        })
    );
    // A payload length past the message end.
    let mut b = good;
    b[24 + 12] = 3;
    assert!(matches!(Msg::decode(&b), Err(Error::Truncated { .. })));
    b[24 + 12] = 1;
    assert_eq!(Msg::decode(&b), Err(Error::TrailingBytes { count: 1 }));
    // Nothing over TSM_FW_MAX_MSG_SIZE, whatever the header says.
    let mut big = hdr(0x0003, (MAX_MSG_SIZE + 4) as u32, 1);
    big.resize(MAX_MSG_SIZE + 4, 0);
    assert!(matches!(
        Msg::decode(&big),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn each_direction_refuses_the_other() {
    for (bytes, _, _) in msg_vectors() {
        assert!(matches!(
            Cmd::decode(&bytes),
            Err(Error::UnexpectedMessage { .. })
        ));
    }
    for (bytes, _, _) in cmd_vectors() {
        assert!(matches!(
            Msg::decode(&bytes),
            Err(Error::UnexpectedMessage { .. })
        ));
    }
}

#[test]
fn doe_request_vendor_and_dword_length_are_checked() {
    let mut b = doe_request_vector();
    b[24 + 4] = 2;
    assert_eq!(
        Msg::decode(&b),
        Err(Error::InvalidField {
            field: "tsm_fw.doe.vendor_id",
            value: 2
        })
    );
    let mut b = doe_request_vector();
    b[24 + 16] = 7;
    b.pop();
    b[8] = 55;
    assert_eq!(
        Msg::decode(&b),
        Err(Error::InvalidField {
            field: "tsm_fw.doe.length",
            value: 7
        })
    );
}

#[test]
fn complete_status_must_be_an_errno() {
    for (status, ok) in [
        (0, true),
        (-1, true),
        (-4095, true),
        (1, false),
        (-4096, false),
    ] {
        let mut b = complete_vector();
        b[24..28].copy_from_slice(&i32::to_le_bytes(status));
        assert_eq!(Msg::decode(&b).is_ok(), ok, "{status}");
        let c = Msg::Complete(Complete {
            status,
            fw_error: 0,
            tdi_state: TDI_NONE,
            payload: &[],
        });
        let mut out = [0u8; 40];
        assert_eq!(c.encode(1, &mut out).is_ok(), ok, "{status}");
    }
}

#[test]
fn payloads_are_bounded_both_ways() {
    let big = vec![0u8; MAX_PAYLOAD + 4];
    let mut out = vec![0u8; MAX_MSG_SIZE + 64];
    let d = Cmd::DoeResponse(DoeResponse {
        status: 0,
        vendor_id: DOE_VENDOR_PCI_SIG,
        object_type: DOE_TYPE_CMA,
        seq: 0,
        payload: &big,
    });
    assert!(d.encode(1, &mut out).is_err());
    let d = Cmd::DoeResponse(DoeResponse {
        payload: &big[..MAX_PAYLOAD],
        ..match d {
            Cmd::DoeResponse(d) => d,
            _ => unreachable!(),
        }
    });
    let n = d.encode(1, &mut out).unwrap();
    assert_eq!(Cmd::decode(&out[..n]), Ok((1, d)));
    // A declared payload length over the limit is refused before it is read.
    let mut b = doe_response_vector();
    b[24 + 12..24 + 16].copy_from_slice(&((MAX_PAYLOAD + 1) as u32).to_le_bytes());
    assert_eq!(
        Cmd::decode(&b),
        Err(Error::InvalidField {
            field: "tsm_fw.length",
            value: MAX_PAYLOAD as u64 + 1
        })
    );
}

#[test]
fn a_small_buffer_is_an_error() {
    let m = Msg::Hello(Hello {
        min_version: 1,
        max_version: 1,
        max_msg_size: 0,
        caps: 0,
    });
    let mut small = [0u8; size::HDR];
    assert!(m.encode(0, &mut small).is_err());
}

#[test]
fn sizes_are_the_header_structures() {
    let len = |c: Cmd<'_>| c.encoded_len() - size::HDR;
    assert_eq!(len(Cmd::Bind(Bind::default())), size::BIND);
    assert_eq!(
        len(Cmd::Connect(Connect {
            dev: DEV,
            stream_id: 0
        })),
        size::CONNECT
    );
    assert_eq!(size::BIND, 40 + MAX_BARS * size::BAR);
    assert_eq!(size::MSIX + 24, 40);
    assert_eq!(
        tdi_state_code(Some(tsm_proto::state::TdiState::Run)),
        2,
        "TSM_FW_TDI_RUN"
    );
    assert_eq!(tdi_state_code(None), TDI_NONE);
    assert!(MsgType::ALL
        .iter()
        .all(|t| t.is_command() == (t.to_u16() & 0x0100 != 0)));
}

#[test]
fn dev_prints_as_a_pci_address() {
    let d = Dev {
        segment: 1,
        bus: 0x2a,
        devfn: 0x0b,
    };
    assert_eq!(format!("{d}"), "0001:2a:01.3");
}

fn dev() -> impl Strategy<Value = Dev> {
    any::<(u16, u8, u8)>().prop_map(|(segment, bus, devfn)| Dev {
        segment,
        bus,
        devfn,
    })
}

/// A FUNCTION_ID with its reserved bits clear.
fn tdi_id() -> impl Strategy<Value = u32> {
    0u32..(1 << 25)
}

fn bind_strategy(
    tdi_id: impl Strategy<Value = u32>,
    lock_flags: impl Strategy<Value = u16>,
    nr_bars: impl Strategy<Value = u8>,
) -> impl Strategy<Value = Bind> {
    let bar = any::<(u64, u64, u8, u8)>().prop_map(|(base, size, index, flags)| Bar {
        base,
        size,
        index,
        flags,
    });
    let msix = any::<(u16, u8, u8, u32, u32)>().prop_map(|(e, tb, pb, to, po)| Msix {
        table_entries: e,
        table_bar: tb,
        pba_bar: pb,
        table_offset: to,
        pba_offset: po,
    });
    (
        (
            dev(),
            tdi_id,
            any::<u32>(),
            lock_flags,
            nr_bars,
            any::<u64>(),
        ),
        msix,
        proptest::array::uniform6(bar),
    )
        .prop_map(
            |((dev, tdi_id, guest_rid, lock_flags, nr_bars, mmio), msix, bars)| Bind {
                dev,
                tdi_id,
                guest_rid,
                lock_flags,
                nr_bars,
                mmio_reporting_offset: mmio,
                msix,
                bars,
            },
        )
}

/// Every valid kernel -> firmware message (DOE_RESPONSE without its payload).
fn cmd_strategy() -> impl Strategy<Value = Cmd<'static>> {
    prop_oneof![
        any::<(u16, u32)>().prop_map(|(version, max_msg_size)| Cmd::HelloAck(HelloAck {
            version,
            max_msg_size
        })),
        (dev(), any::<u8>()).prop_map(|(dev, stream_id)| Cmd::Connect(Connect { dev, stream_id })),
        dev().prop_map(|dev| Cmd::Disconnect(Disconnect { dev })),
        bind_strategy(tdi_id(), 0u16..0x20, 0u8..=6).prop_map(Cmd::Bind),
        (dev(), tdi_id()).prop_map(|(dev, tdi_id)| Cmd::Unbind(Unbind { dev, tdi_id })),
        (dev(), tdi_id(), any::<u32>()).prop_map(|(dev, tdi_id, op)| Cmd::GuestReq(GuestReq {
            dev,
            tdi_id,
            op
        })),
        any::<(i32, u16, u8, u32)>().prop_map(|(status, vendor_id, object_type, seq)| {
            Cmd::DoeResponse(DoeResponse {
                status,
                vendor_id,
                object_type,
                seq,
                payload: &[],
            })
        }),
    ]
}

/// `c` with `payload`, if it has one.
fn with_cmd_payload<'a>(c: Cmd<'static>, payload: &'a [u8]) -> Cmd<'a> {
    match c {
        Cmd::DoeResponse(d) => Cmd::DoeResponse(DoeResponse { payload, ..d }),
        c => c,
    }
}

/// Every valid firmware -> kernel message (DOE_REQUEST and COMPLETE without their
/// payloads).
fn msg_strategy() -> impl Strategy<Value = Msg<'static>> {
    prop_oneof![
        any::<(u16, u16, u32, u32)>().prop_map(|(min_version, max_version, max_msg_size, caps)| {
            Msg::Hello(Hello {
                min_version,
                max_version,
                max_msg_size,
                caps,
            })
        }),
        (dev(), any::<(u8, u32, u32)>()).prop_map(|(dev, (object_type, seq, timeout_ms))| {
            Msg::DoeRequest(DoeRequest {
                dev,
                object_type,
                seq,
                timeout_ms,
                payload: &[],
            })
        }),
        (-4095i32..=0, any::<(u32, u32)>()).prop_map(|(status, (fw_error, tdi_state))| {
            Msg::Complete(Complete {
                status,
                fw_error,
                tdi_state,
                payload: &[],
            })
        }),
    ]
}

/// `m` with `payload` (cut to whole dwords for DOE_REQUEST), if it has one.
fn with_msg_payload<'a>(m: Msg<'static>, payload: &'a [u8]) -> Msg<'a> {
    match m {
        Msg::DoeRequest(d) => Msg::DoeRequest(DoeRequest {
            payload: &payload[..payload.len() / 4 * 4],
            ..d
        }),
        Msg::Complete(c) => Msg::Complete(Complete { payload, ..c }),
        m => m,
    }
}

/// `m` encoded with `req_id` decodes back to itself and that id, the stream peeks see
/// its length and id, and no prefix of it decodes.
fn assert_round_trip<'a, M>(m: M, req_id: u64, bytes: &'a [u8])
where
    M: Message<'a> + Copy + PartialEq + core::fmt::Debug,
{
    assert_eq!(bytes.len(), m.encoded_len());
    assert_eq!(M::decode(bytes), Ok((req_id, m)));
    assert_eq!(declared_len(bytes), Some(bytes.len()));
    assert_eq!(declared_req_id(bytes), Some(req_id));
    for n in 0..bytes.len() {
        assert!(M::decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
    }
}

/// If `m` encodes, it decodes back to itself.
fn assert_encodes_only_what_decodes<'a, M>(m: M, out: &'a mut [u8]) -> bool
where
    M: Message<'a> + Copy + PartialEq + core::fmt::Debug,
{
    match m.encode(5, out) {
        Ok(n) => {
            assert_eq!(M::decode(&out[..n]), Ok((5, m)));
            true
        }
        Err(_) => false,
    }
}

proptest! {
    #[test]
    fn every_message_round_trips(
        c in cmd_strategy(),
        m in msg_strategy(),
        payload in vec(any::<u8>(), 0..96),
        req_id in any::<u64>(),
    ) {
        let c = with_cmd_payload(c, &payload);
        assert_round_trip(c, req_id, &encode(&c, req_id));
        let m = with_msg_payload(m, &payload);
        assert_round_trip(m, req_id, &encode(&m, req_id));
    }

    /// BIND's checks: encode refuses exactly what decode refuses.
    #[test]
    fn bind_encodes_iff_valid(b in bind_strategy(any::<u32>(), any::<u16>(), any::<u8>())) {
        let valid = b.tdi_id < 1 << 25 && b.lock_flags < 0x20 && usize::from(b.nr_bars) <= MAX_BARS;
        let mut out = [0u8; size::HDR + size::BIND];
        prop_assert_eq!(assert_encodes_only_what_decodes(Cmd::Bind(b), &mut out), valid);
        // A count that does not fit uses no BAR.
        let n = usize::from(b.nr_bars);
        prop_assert_eq!(b.used_bars().len(), if n <= MAX_BARS { n } else { 0 });
    }

    /// COMPLETE's status and DOE_REQUEST's dword length: encode refuses exactly what
    /// decode refuses.
    #[test]
    fn fw_checks_are_symmetric(
        status in any::<i32>(),
        tdi_id in any::<u32>(),
        payload in vec(any::<u8>(), 0..16),
    ) {
        let mut out = [0u8; 64];
        let c = Msg::Complete(Complete { status, fw_error: 0, tdi_state: 0, payload: &[] });
        prop_assert_eq!(
            assert_encodes_only_what_decodes(c, &mut out),
            (-4095..=0).contains(&status)
        );
        let d = Msg::DoeRequest(DoeRequest {
            dev: DEV,
            object_type: 1,
            seq: 0,
            timeout_ms: 0,
            payload: &payload,
        });
        prop_assert_eq!(assert_encodes_only_what_decodes(d, &mut out), payload.len() % 4 == 0);
        let u = Cmd::Unbind(Unbind { dev: DEV, tdi_id });
        prop_assert_eq!(assert_encodes_only_what_decodes(u, &mut out), tdi_id < 1 << 25);
    }

    /// Any bytes: a message or a typed error, never a panic; a decoded message
    /// re-encodes to as many bytes, which decode to the same message.
    #[test]
    fn any_bytes_decode_totally(data in vec(any::<u8>(), 0..256)) {
        assert_decodes_totally(&data);
    }

    /// Valid messages of both directions with a few bytes changed: the same.
    #[test]
    fn mutated_messages_decode_totally(
        c in cmd_strategy(),
        m in msg_strategy(),
        payload in vec(any::<u8>(), 0..16),
        flips in vec((any::<prop::sample::Index>(), 1u8..), 1..4),
    ) {
        let c = encode(&with_cmd_payload(c, &payload), 1);
        let m = encode(&with_msg_payload(m, &payload), 2);
        for mut data in [c, m] {
            for (i, x) in &flips {
                let i = i.index(data.len());
                data[i] ^= x;
            }
            assert_decodes_totally(&data);
        }
    }
}

/// `data` decodes, in either direction, to a message that re-encodes to as many bytes
/// and decodes to itself again, or to an error.
fn assert_decodes_totally(data: &[u8]) {
    let mut out = vec![0u8; data.len()];
    if let Ok((id, m)) = Msg::decode(data) {
        assert_eq!(m.encode(id, &mut out), Ok(data.len()));
        assert_eq!(Msg::decode(&out), Ok((id, m)));
    }
    if let Ok((id, c)) = Cmd::decode(data) {
        assert_eq!(c.encode(id, &mut out), Ok(data.len()));
        assert_eq!(Cmd::decode(&out), Ok((id, c)));
    }
}
