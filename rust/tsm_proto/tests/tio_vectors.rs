// SPDX-License-Identifier: GPL-2.0

//! Golden vectors of the SEV-TIO host/PSP ABI.
//!
//! Every expected byte string is written out by offset from the project's fact sheet
//! (`shared/backends/sev-tio-abi.md` §0-§3), not produced by the encoder, so a layout
//! error in the crate fails here. Little-endian throughout; offsets in hex as the
//! fact sheet's tables give them.

use tsm_proto::codec::Error;
use tsm_proto::tio::buffer::{
    expand_request, init_resp, resp_capacity, resp_length, write_resp, OutputObject, SpdmRequest,
};
use tsm_proto::tio::cmd::{cmdresp, cmdresp_status};
use tsm_proto::tio::result::classify;
use tsm_proto::tio::sla::{encode_scatter, ScatterList, SCATTER_MAX_PAGES, SLA_EOL};
use tsm_proto::tio::status::{
    Aead, Asym, Dhe, DmaFence, Hash, KeySchedule, MmioFence, TdiInfoState, TdispState,
};
use tsm_proto::tio::*;

/// Writes `v` little-endian at `off` (`n` bytes wide).
fn put(p: &mut [u8], off: usize, v: u64, n: usize) {
    p[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
}

/// A zeroed buffer of `len` bytes with its length at +0 (a command buffer).
fn cmd(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    put(&mut b, 0, len as u64, 4);
    b
}

const D: u64 = 0x0000_0001_2345_6000; // a data SLA (4K)
const T: u64 = 0x0000_0002_0000_1001; // a scatter SLA (4K)
const G: u64 = 0xFFFF_8880_1234_5678; // a gctx SPA (no SLA rules)

fn dev() -> Sla {
    Sla::decode(D).unwrap()
}

fn tdi() -> Sla {
    Sla::decode(T).unwrap()
}

/// spdm_ctrl: req, resp, scratch, output.
const C: [u64; 4] = [
    0x0000_0000_0010_0001,
    0x0000_0000_0020_0000,
    0x0000_0000_0030_0001,
    0x0000_0000_0040_0001,
];

fn ctrl() -> SpdmCtrl {
    SpdmCtrl {
        req: Sla::decode(C[0]).unwrap(),
        resp: Sla::decode(C[1]).unwrap(),
        scratch: Sla::decode(C[2]).unwrap(),
        output: Sla::decode(C[3]).unwrap(),
    }
}

fn put_ctrl(b: &mut [u8]) {
    for (i, s) in C.iter().enumerate() {
        put(b, 0x08 + 8 * i, *s, 8);
    }
}

/// Asserts `r` encodes to `want` in `layout` and `want` decodes to `r`.
fn golden(layout: Layout, r: Request, want: &[u8]) {
    let got = r.encode(layout).unwrap();
    assert_eq!(got.as_bytes(), want, "{r:?}");
    assert_eq!(want.len(), r.command().buffer_len(layout));
    assert_eq!(Request::decode(layout, r.command(), want), Ok(r));
}

#[test]
fn command_ids_and_cmdresp() {
    // §1: ids; D9 undefined.
    let ids = [
        (Command::TioStatus, 0xD0),
        (Command::TioInit, 0xD1),
        (Command::DevCreate, 0xD2),
        (Command::DevReclaim, 0xD3),
        (Command::DevConnect, 0xD4),
        (Command::DevDisconnect, 0xD5),
        (Command::DevStatus, 0xD6),
        (Command::DevMeasurements, 0xD7),
        (Command::DevCertificates, 0xD8),
        (Command::TdiCreate, 0xDA),
        (Command::TdiReclaim, 0xDB),
        (Command::TdiBind, 0xDC),
        (Command::TdiUnbind, 0xDD),
        (Command::TdiReport, 0xDE),
        (Command::TdiStatus, 0xDF),
        (Command::GuestRequest, 0xE0),
        (Command::AsidFenceClear, 0xE1),
        (Command::AsidFenceStatus, 0xE2),
        (Command::TdiInfo, 0xE3),
        (Command::RollKey, 0xE4),
    ];
    assert_eq!(ids.len(), Command::ALL.len());
    for (c, id) in ids {
        assert_eq!(c.to_u16(), id);
        assert_eq!(Command::from_u16(id), Ok(c));
        assert_eq!(c.known_to_l72(), id <= 0xD5);
    }
    assert!(matches!(
        Command::from_u16(0xD9),
        Err(Error::UnknownCode { .. })
    ));
    // §0: id in bits 26:16, IOC bit 0, status in 15:0.
    assert_eq!(cmdresp(Command::RollKey, false), 0x00E4_0000);
    assert_eq!(cmdresp(Command::TioStatus, true), 0x00D0_0001);
    assert_eq!(cmdresp_status(0x8000_0031), 0x31);
    // §1 lengths, current then AIK.
    let lens = [
        (Command::TioStatus, 16, 16),
        (Command::TioInit, 16, 16),
        (Command::DevCreate, 32, 32),
        (Command::DevReclaim, 16, 16),
        (Command::DevConnect, 80, 80),
        (Command::DevDisconnect, 48, 48),
        (Command::DevStatus, 32, 28),
        (Command::DevMeasurements, 80, 48),
        (Command::DevCertificates, 48, 48),
        (Command::TdiCreate, 48, 48),
        (Command::TdiReclaim, 32, 32),
        (Command::TdiBind, 80, 72),
        (Command::TdiUnbind, 64, 64),
        (Command::TdiReport, 64, 64),
        (Command::TdiStatus, 64, 64),
        (Command::GuestRequest, 80, 80),
        (Command::AsidFenceClear, 32, 32),
        (Command::AsidFenceStatus, 32, 32),
        (Command::TdiInfo, 48, 48),
        (Command::RollKey, 48, 48),
    ];
    for (c, cur, aik) in lens {
        assert_eq!(c.buffer_len(Layout::Current), cur, "{c:?}");
        assert_eq!(c.buffer_len(Layout::Aik), aik, "{c:?}");
    }
    // §1 SPDM column.
    let spdm: Vec<_> = Command::ALL.iter().filter(|c| c.uses_spdm()).collect();
    assert_eq!(spdm.len(), 10);
}

#[test]
fn platform_and_device_commands() {
    let l = Layout::Current;
    let mut b = cmd(16);
    put(&mut b, 0x08, 0x1_0000_0000, 8);
    golden(
        l,
        Request::TioStatus {
            status_paddr: 0x1_0000_0000,
        },
        &b,
    );
    golden(l, Request::TioInit, &cmd(16));

    let mut b = cmd(32);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, 0x0310, 2);
    put(&mut b, 0x12, 0x0004, 2);
    put(&mut b, 0x14, 0x01, 1);
    golden(
        l,
        Request::DevCreate {
            dev_ctx: dev(),
            rid: 0x0310,
            root_port_id: 4,
            segment: 1,
        },
        &b,
    );

    let mut b = cmd(16);
    put(&mut b, 0x08, D, 8);
    golden(l, Request::DevReclaim { dev_ctx: dev() }, &b);

    let mut b = cmd(80);
    put_ctrl(&mut b);
    put(&mut b, 0x30, D, 8);
    put(&mut b, 0x38, 0x01, 1);
    put(&mut b, 0x39, 0x02, 1);
    b[0x40..0x48].copy_from_slice(&[3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    golden(
        l,
        Request::DevConnect {
            ctrl: ctrl(),
            dev_ctx: dev(),
            tc_mask: 1,
            cert_slot: 2,
            ide_stream_id: [3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        },
        &b,
    );

    // The host's DEV_CONNECT: TC0 only, the other TCs' streams 0xFF.
    let c = Request::dev_connect_tc0(ctrl(), dev(), 2, 3);
    assert_eq!(c.encode(l).unwrap().as_bytes(), &b[..]);

    let mut b = cmd(48);
    put(&mut b, 0x04, 1, 4);
    put_ctrl(&mut b);
    put(&mut b, 0x28, D, 8);
    golden(
        l,
        Request::DevDisconnect {
            force: true,
            ctrl: ctrl(),
            dev_ctx: dev(),
        },
        &b,
    );

    // DEV_STATUS: 32 B current, 28 B AIK/V1 with the length at 0x10.
    let mut b = cmd(32);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, 0x5000, 8);
    golden(
        l,
        Request::DevStatus {
            dev_ctx: dev(),
            status_paddr: 0x5000,
            status_length: 0,
        },
        &b,
    );
    let mut b = cmd(28);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, 0xA0, 4);
    put(&mut b, 0x14, 0x5000, 8);
    golden(
        Layout::Aik,
        Request::DevStatus {
            dev_ctx: dev(),
            status_paddr: 0x5000,
            status_length: 0xA0,
        },
        &b,
    );

    let nonce: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
    let mut b = cmd(80);
    put(&mut b, 0x04, 1, 4);
    put_ctrl(&mut b);
    put(&mut b, 0x28, D, 8);
    b[0x30..0x50].copy_from_slice(&nonce);
    golden(
        l,
        Request::DevMeasurements {
            raw: true,
            ctrl: ctrl(),
            dev_ctx: dev(),
            nonce,
        },
        &b,
    );

    let mut b = cmd(48);
    put_ctrl(&mut b);
    put(&mut b, 0x28, D, 8);
    golden(
        l,
        Request::DevCertificates {
            ctrl: ctrl(),
            dev_ctx: dev(),
        },
        &b,
    );
    golden(
        l,
        Request::RollKey {
            ctrl: ctrl(),
            dev_ctx: dev(),
        },
        &b,
    );
}

#[test]
fn tdi_commands() {
    let l = Layout::Current;
    // TDI_CREATE: interface_id = RID 0x0310, segment 2 valid (bit 24).
    let mut b = cmd(48);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, T, 8);
    put(&mut b, 0x18, 0x0102_0310, 4);
    golden(
        l,
        Request::TdiCreate {
            dev_ctx: dev(),
            tdi_ctx: tdi(),
            interface_id: InterfaceId::for_function(0x0310, 2),
        },
        &b,
    );

    let mut b = cmd(32);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, T, 8);
    golden(
        l,
        Request::TdiReclaim {
            dev_ctx: dev(),
            tdi_ctx: tdi(),
        },
        &b,
    );

    let bind = Request::TdiBind {
        ctrl: ctrl(),
        dev_ctx: dev(),
        tdi_ctx: tdi(),
        gctx: G,
        guest_device_id: 0x0042,
        lock_flags: LockFlags::from_bits(LockFlags::LOCK_MSIX),
        run_flags: 1,
    };
    let mut b = cmd(80);
    put_ctrl(&mut b);
    put(&mut b, 0x28, D, 8);
    put(&mut b, 0x30, T, 8);
    put(&mut b, 0x38, G, 8);
    put(&mut b, 0x40, 0x0042, 2);
    put(&mut b, 0x42, 0x0004, 2);
    put(&mut b, 0x44, 0x0001, 2);
    golden(l, bind, &b);
    // AIK: 72 B, same offsets (unconfirmed).
    let mut a = b[..72].to_vec();
    put(&mut a, 0, 72, 4);
    golden(Layout::Aik, bind, &a);

    let mut b = cmd(64);
    put(&mut b, 0x04, 1, 4);
    put_ctrl(&mut b);
    put(&mut b, 0x28, D, 8);
    put(&mut b, 0x30, T, 8);
    put(&mut b, 0x38, G, 8);
    golden(
        l,
        Request::TdiUnbind {
            force: true,
            ctrl: ctrl(),
            dev_ctx: dev(),
            tdi_ctx: tdi(),
            gctx: G,
        },
        &b,
    );
    put(&mut b, 0x04, 0, 4);
    golden(
        l,
        Request::TdiReport {
            ctrl: ctrl(),
            dev_ctx: dev(),
            tdi_ctx: tdi(),
            gctx: G,
        },
        &b,
    );
    golden(
        l,
        Request::TdiStatus {
            ctrl: ctrl(),
            dev_ctx: dev(),
            tdi_ctx: tdi(),
            status_paddr: G,
        },
        &b,
    );

    let mut b = cmd(80);
    put_ctrl(&mut b);
    put(&mut b, 0x28, D, 8);
    put(&mut b, 0x30, T, 8);
    put(&mut b, 0x38, G, 8);
    put(&mut b, 0x40, 0x7000, 8);
    put(&mut b, 0x48, 0x8000, 8);
    golden(
        l,
        Request::GuestRequest {
            ctrl: ctrl(),
            dev_ctx: dev(),
            tdi_ctx: tdi(),
            gctx: G,
            req_paddr: 0x7000,
            res_paddr: 0x8000,
        },
        &b,
    );

    let mut b = cmd(48);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, T, 8);
    put(&mut b, 0x18, 0x9000, 8);
    golden(
        l,
        Request::TdiInfo {
            dev_ctx: dev(),
            tdi_ctx: tdi(),
            status_paddr: 0x9000,
        },
        &b,
    );
}

#[test]
fn fence_commands_both_layouts() {
    // E1 current: 08 D; 10 G. AIK/V1: 08 G; 10 u16 devid; 12 u8 segment.
    let mut b = cmd(32);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, G, 8);
    golden(
        Layout::Current,
        Request::AsidFenceClear {
            dev_ctx: dev(),
            gctx: G,
            devid: 0,
            segment: 0,
        },
        &b,
    );
    let mut b = cmd(32);
    put(&mut b, 0x08, G, 8);
    put(&mut b, 0x10, 0x0310, 2);
    put(&mut b, 0x12, 3, 1);
    golden(
        Layout::Aik,
        Request::AsidFenceClear {
            dev_ctx: Sla::Null,
            gctx: G,
            devid: 0x0310,
            segment: 3,
        },
        &b,
    );
    // E2 current: 08 D; 10 u32 asid; 14 status_pa (unaligned); 1C rsvd4.
    let mut b = cmd(32);
    put(&mut b, 0x08, D, 8);
    put(&mut b, 0x10, 0x1F, 4);
    put(&mut b, 0x14, 0x0000_1234_5678_9000, 8);
    golden(
        Layout::Current,
        Request::AsidFenceStatus {
            dev_ctx: dev(),
            asid: 0x1F,
            status_paddr: 0x0000_1234_5678_9000,
            devid: 0,
            segment: 0,
        },
        &b,
    );
    // AIK/V1: 04 asid; 08 status_pa; 10 devid; 12 segment.
    let mut b = cmd(32);
    put(&mut b, 0x04, 0x1F, 4);
    put(&mut b, 0x08, 0x9000, 8);
    put(&mut b, 0x10, 0x0310, 2);
    put(&mut b, 0x12, 3, 1);
    golden(
        Layout::Aik,
        Request::AsidFenceStatus {
            dev_ctx: Sla::Null,
            asid: 0x1F,
            status_paddr: 0x9000,
            devid: 0x0310,
            segment: 3,
        },
        &b,
    );
}

#[test]
fn command_decoders_check_lengths() {
    let mut b = cmd(16);
    assert!(Request::decode(Layout::Current, Command::TioInit, &b).is_ok());
    put(&mut b, 0, 17, 4);
    assert!(matches!(
        Request::decode(Layout::Current, Command::TioInit, &b),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(Request::decode(Layout::Current, Command::TioInit, &b[..15]).is_err());
    assert!(Request::decode(Layout::Current, Command::DevReclaim, &[0u8; 17]).is_err());
    // A reserved SLA bit in D is refused.
    let mut b = cmd(16);
    put(&mut b, 0x08, D | 0x4, 8);
    assert!(Request::decode(Layout::Current, Command::DevReclaim, &b).is_err());
}

#[test]
fn sla_encoding() {
    // §2: bit 0 scatter, bit 1 2M, 51:12 PFN; NULL 0; EOL 0x000F_FFFF_FFFF_F000.
    assert_eq!(SLA_EOL, 0x000F_FFFF_FFFF_F000);
    assert_eq!(Sla::Eol.encode(), 0x000F_FFFF_FFFF_F000);
    assert_eq!(Sla::Null.encode(), 0);
    assert_eq!(Sla::data_4k(0x8_0000_1000).unwrap().encode(), 0x8_0000_1000);
    assert_eq!(Sla::scatter(0x8_0000_1000).unwrap().encode(), 0x8_0000_1001);
    assert_eq!(
        Sla::decode(0x8_0000_1003),
        Ok(Sla::Scatter {
            pa: 0x8_0000_1000,
            size: PageSize::Size2M
        })
    );
    for bad in [
        0x1000 | 1 << 2,
        0x1000 | 1 << 11,
        0x1000 | 1 << 52,
        1 << 63,
        2,
    ] {
        assert!(Sla::decode(bad).is_err(), "{bad:#x}");
    }
    // A scatter page: data SLAs, then EOL.
    let mut page = vec![0xAAu8; 4096];
    encode_scatter(&[0x1000, 0x3000], &mut page).unwrap();
    let mut want = vec![0u8; 4096];
    put(&mut want, 0, 0x1000, 8);
    put(&mut want, 8, 0x3000, 8);
    put(&mut want, 16, 0x000F_FFFF_FFFF_F000, 8);
    assert_eq!(page, want);
    let l = ScatterList::decode(&want).unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(
        l.iter().collect::<Vec<_>>(),
        vec![Sla::data_4k(0x1000).unwrap(), Sla::data_4k(0x3000).unwrap()]
    );
    // No EOL; EOL first; a scatter entry inside.
    let mut noeol = vec![0u8; 4096];
    for i in 0..512 {
        put(&mut noeol, 8 * i, 0x1000, 8);
    }
    assert!(ScatterList::decode(&noeol).is_err());
    let mut first = vec![0u8; 4096];
    put(&mut first, 0, SLA_EOL, 8);
    assert!(ScatterList::decode(&first).is_err());
    let mut nested = want.clone();
    put(&mut nested, 0, 0x1001, 8);
    assert!(ScatterList::decode(&nested).is_err());
    // 512 entries including EOL: 511 pages fit, 512 (or the 513 L72 allows) do not.
    assert_eq!(SCATTER_MAX_PAGES, 511);
    assert!(encode_scatter(&vec![0x1000; 512], &mut page).is_err());
    assert!(encode_scatter(&vec![0x1000; 513], &mut page).is_err());
}

#[test]
fn buffer_and_object_headers() {
    // §2 buffer header: 00 capacity, 04 payload_sz, 08 flags (b0), 10 iv, 20 authtag.
    let mut b = vec![0u8; 0x60];
    put(&mut b, 0x00, 0x2000, 4);
    put(&mut b, 0x04, 0x20, 4);
    put(&mut b, 0x08, 1, 8);
    b[0x10..0x20].copy_from_slice(&[0x11; 16]);
    b[0x20..0x30].copy_from_slice(&[0x22; 16]);
    // REQ object at +0x40: id 1, length 0x10 + 5, version 1.0, data_type 2 at +0x0A.
    put(&mut b, 0x40, 1, 4);
    put(&mut b, 0x44, 0x15, 4);
    put(&mut b, 0x48, 0, 1);
    put(&mut b, 0x49, 1, 1);
    put(&mut b, 0x4A, 2, 1);
    b[0x50..0x55].copy_from_slice(&[0x12, 0x84, 0, 0, 0]);
    let h = BufferHeader::decode(&b).unwrap();
    assert_eq!(
        (h.capacity, h.payload_sz, h.encrypted()),
        (0x2000, 0x20, true)
    );
    assert_eq!((h.iv, h.authtag), ([0x11; 16], [0x22; 16]));
    let mut enc = vec![0u8; 0x40];
    h.encode(&mut enc).unwrap();
    assert_eq!(enc, b[..0x40]);
    let r = SpdmRequest::decode(&b).unwrap();
    assert_eq!(r.data_type, DataType::SecuredSpdm);
    assert_eq!(r.data_type.doe_type(), 2);
    assert_eq!(r.payload, &[0x12, 0x84, 0, 0, 0]);
    assert_eq!((r.header.major, r.header.minor), (1, 0));
    // REQ length past the buffer.
    put(&mut b, 0x44, 0x21, 4);
    assert!(matches!(
        SpdmRequest::decode(&b),
        Err(Error::LengthMismatch { .. })
    ));

    // Initial RESP (§2): id 2, version 1.0, length 0, payload_sz 0x10.
    let mut resp = vec![0xEEu8; 0x80];
    init_resp(&mut resp, 0x1000).unwrap();
    let mut want = vec![0u8; 0x50];
    put(&mut want, 0x00, 0x1000, 4);
    put(&mut want, 0x04, 0x10, 4);
    put(&mut want, 0x40, 2, 4);
    put(&mut want, 0x49, 1, 1);
    assert_eq!(resp[..0x50], want[..]);
    // After a 0x31-byte reply: length = payload_sz = ALIGN(0x10 + 0x31, 32) = 0x60.
    assert_eq!(resp_length(0x31), Some(0x60));
    assert_eq!(resp_length(0x10), Some(0x20));
    assert_eq!(
        write_resp(&mut resp, DataType::Spdm, &[0x5A; 0x30]),
        Ok(0x40)
    );
    assert_eq!(&resp[0x04..0x08], &[0x40, 0, 0, 0]);
    assert_eq!(&resp[0x44..0x48], &[0x40, 0, 0, 0]);
    assert_eq!(resp[0x4A], 1);
    assert_eq!(&resp[0x50..0x80], &[0x5A; 0x30]);
    // resp capacity = req_max - 0x50.
    assert_eq!(resp_capacity(0x1000), Some(0xFB0));

    // EXPAND: the firmware-written capacity differs from the host's length.
    let mut o = vec![0u8; 0x40];
    put(&mut o, 0, 0x3000, 4);
    assert_eq!(expand_request(&o, 0x2000), Ok(Some(0x3000)));
    assert_eq!(expand_request(&o, 0x3000), Ok(None));

    // Output object (OOT): id 5 MEASUREMENT, header 0x20, devid, segment, type.
    let mut out = vec![0u8; 0x68];
    put(&mut out, 0x40, 5, 4);
    put(&mut out, 0x44, 0x28, 4);
    put(&mut out, 0x49, 1, 1);
    put(&mut out, 0x50, 0x0310, 2);
    put(&mut out, 0x52, 1, 1);
    put(&mut out, 0x53, 2, 1);
    out[0x60..0x68].copy_from_slice(b"abcdefgh");
    let ob = OutputObject::decode(&out).unwrap();
    assert_eq!(ob.header.id, ObjectId::Measurement);
    assert_eq!((ob.devid, ob.segment, ob.kind), (0x0310, 1, 2));
    assert_eq!(ob.payload, b"abcdefgh");
    put(&mut out, 0x40, 3, 4);
    assert!(matches!(
        OutputObject::decode(&out),
        Err(Error::UnknownCode { .. })
    ));
    put(&mut out, 0x40, 1, 4);
    assert!(OutputObject::decode(&out).is_err());
}

#[test]
fn tio_status_page() {
    let mut p = vec![0u8; 64];
    let words: [u32; 13] = [
        0x34, 0x3, 0x40, 0x1000, 0x80, 0x2000, 0x100, 0x4000, 0x40, 0x1000, 0x3000, 0x1000, 7,
    ];
    for (i, w) in words.iter().enumerate() {
        put(&mut p, 4 * i, u64::from(*w), 4);
    }
    let s = TioStatus::decode(&p).unwrap();
    assert!(s.tio_en && s.init_done);
    assert_eq!((s.req.min, s.req.max), (0x40, 0x1000));
    assert_eq!((s.scratch.min, s.scratch.max), (0x80, 0x2000));
    assert_eq!((s.output.min, s.output.max), (0x100, 0x4000));
    assert_eq!((s.rsp.min, s.rsp.max), (0x40, 0x1000));
    assert_eq!((s.devctx_size, s.tdictx_size), (0x3000, 0x1000));
    assert_eq!(s.tio_crypto_alg, Some(7));
    // Host allocation (§2): req and resp req_max, scratch scratch_max, output out_max.
    assert_eq!(s.buffer_sizes(), [0x1000, 0x1000, 0x2000, 0x4000]);
    let mut enc = vec![0u8; 64];
    s.encode(&mut enc).unwrap();
    assert_eq!(enc, p);
    // AIK: no crypto alg (length 0x30); below 0x30 refused; unknown flag bits refused.
    put(&mut p, 0, 0x30, 4);
    assert_eq!(TioStatus::decode(&p).unwrap().tio_crypto_alg, None);
    put(&mut p, 0, 0x2C, 4);
    assert!(TioStatus::decode(&p).is_err());
    put(&mut p, 0, 0x30, 4);
    put(&mut p, 4, 0x7, 4);
    assert!(matches!(
        TioStatus::decode(&p),
        Err(Error::InvalidField { .. })
    ));
}

fn algos_bytes(p: &mut [u8], off: usize) {
    p[off..off + 5].copy_from_slice(&[1, 1, 2, 1, 0]);
}

fn algos() -> SpdmAlgos {
    SpdmAlgos {
        dhe: Dhe::P384,
        aead: Aead::Aes256Gcm,
        asym: Asym::EcdsaP384,
        hash: Hash::Sha384,
        key_schedule: KeySchedule::Spdm,
    }
}

#[test]
fn dev_status_output() {
    let mut p = vec![0u8; 160];
    put(&mut p, 0x04, 2, 2);
    put(&mut p, 0x06, 0b01, 1);
    put(&mut p, 0x07, 3, 1);
    put(&mut p, 0x08, 0x0310, 2);
    put(&mut p, 0x0A, 1, 1);
    put(&mut p, 0x0B, 1, 1);
    put(&mut p, 0x0C, 0xDC, 2);
    put(&mut p, 0x10, 0x0310, 4);
    put(&mut p, 0x1C, 0b11, 4);
    p[0x20..0x28].copy_from_slice(&[5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    p[0x30..0x60].copy_from_slice(&[0xC0; 48]);
    p[0x60..0x90].copy_from_slice(&[0x3E; 48]);
    put(&mut p, 0x90, 4, 4);
    put(&mut p, 0x94, 1, 4);
    algos_bytes(&mut p, 0x98);
    let s = DevStatus::decode(Layout::Current, &p).unwrap();
    assert_eq!((s.ctx_state, s.pending_flags, s.certs_slot), (2, 1, 3));
    assert_eq!((s.devid, s.segment, s.tc_mask), (0x0310, 1, 1));
    assert_eq!(s.pending_command, 0xDC);
    assert_eq!(s.pending_interface_id, InterfaceId::for_function(0x0310, 0));
    assert_eq!(s.flags, 3);
    assert_eq!(
        s.ide_stream_id,
        [5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!((s.certs_digest, s.meas_digest), ([0xC0; 48], [0x3E; 48]));
    assert_eq!((s.tdi_count, s.bound_tdi_count), (4, 1));
    assert_eq!(s.algos, algos());
    let mut enc = vec![0u8; 160];
    s.encode(Layout::Current, &mut enc).unwrap();
    assert_eq!(enc, p);
    // V1: ide_stream_id as u16[8] in 0x20..0x30.
    let mut v1 = p.clone();
    v1[0x20..0x30].fill(0);
    put(&mut v1, 0x20, 0x0105, 2);
    put(&mut v1, 0x2E, 0x00FF, 2);
    let s1 = DevStatus::decode(Layout::Aik, &v1).unwrap();
    assert_eq!(s1.ide_stream_id, [0x0105, 0, 0, 0, 0, 0, 0, 0xFF]);
    assert!(s1.encode(Layout::Current, &mut enc).is_err());
    // An unknown algorithm is refused; 159 bytes are truncated.
    p[0x9A] = 3;
    assert!(matches!(
        DevStatus::decode(Layout::Current, &p),
        Err(Error::UnknownCode { .. })
    ));
    assert!(DevStatus::decode(Layout::Current, &p[..159]).is_err());
}

#[test]
fn tdi_info_status_and_fence_outputs() {
    let mut p = vec![0u8; 192];
    put(&mut p, 0x04, 0x0103_0310, 4);
    put(&mut p, 0x10, 0b1011, 4); // meas_valid, meas_fresh, state 2 (RUN)
    put(&mut p, 0x14, 0b10110, 4);
    algos_bytes(&mut p, 0x18);
    p[0x20..0x50].copy_from_slice(&[1; 48]);
    p[0x50..0x80].copy_from_slice(&[2; 48]);
    p[0x80..0xB0].copy_from_slice(&[3; 48]);
    put(&mut p, 0xB0, 0x1122_3344_5566_7788, 8);
    put(&mut p, 0xB8, 0x21, 4);
    let t = TdiInfo::decode(&p).unwrap();
    assert_eq!(t.interface_id.rid, 0x0310);
    assert_eq!(t.interface_id.segment, Some(3));
    assert!(t.meas_valid && t.meas_fresh);
    assert_eq!(t.state, TdiInfoState::Run);
    assert!(t
        .lock_flags
        .contains(status::TdiInfoLockFlags::CACHE_LINE_128));
    assert!(t.lock_flags.contains(status::TdiInfoLockFlags::LOCK_MSIX));
    assert!(t
        .lock_flags
        .contains(status::TdiInfoLockFlags::ALL_REQUEST_REDIRECT));
    assert_eq!(t.algos, algos());
    assert_eq!(t.report_counter, 0x1122_3344_5566_7788);
    assert_eq!(t.asid, 0x21);
    let mut enc = vec![0u8; 192];
    t.encode(&mut enc).unwrap();
    assert_eq!(enc, p);
    put(&mut p, 0x10, 0b1100, 4); // state 3: unknown
    assert!(TdiInfo::decode(&p).is_err());

    // TDI_STATUS: +04 u8 state; 16 B (AIK 8 B).
    let states = [
        (0, TdispState::Unlocked),
        (1, TdispState::Locked),
        (2, TdispState::Run),
        (3, TdispState::Error),
    ];
    for (v, s) in states {
        let mut b = vec![0u8; 16];
        b[4] = v;
        assert_eq!(
            TdiStatus::decode(Layout::Current, &b),
            Ok(TdiStatus { state: s })
        );
        assert_eq!(
            TdiStatus::decode(Layout::Aik, &b[..8]),
            Ok(TdiStatus { state: s })
        );
    }
    let mut b = vec![0u8; 16];
    b[4] = 4;
    assert!(TdiStatus::decode(Layout::Current, &b).is_err());
    assert!(TdiStatus::decode(Layout::Current, &b[..8]).is_err());

    // FENCE_STATUS: bits 1:0 DMA (0, 1, 3), 3:2 MMIO (0, 3).
    let f = |v| FenceStatus::decode(Layout::Current, v);
    assert_eq!(
        f(0b0001),
        Ok(FenceStatus::Split {
            dma: DmaFence::ErrorFenced,
            mmio: MmioFence::None
        })
    );
    assert_eq!(
        f(0b1111),
        Ok(FenceStatus::Split {
            dma: DmaFence::DefaultFenced,
            mmio: MmioFence::Fenced
        })
    );
    assert!(!f(0).unwrap().fenced());
    assert!(f(0b0011).unwrap().fenced());
    assert!(f(0b1100).unwrap().fenced());
    for bad in [0b0010, 0b0100, 0b1000] {
        assert!(f(bad).is_err(), "{bad:#b}");
    }
    assert_eq!(
        FenceStatus::decode(Layout::Aik, 1),
        Ok(FenceStatus::Whole(true))
    );
    assert!(FenceStatus::decode(Layout::Aik, 3).is_err());
    assert_eq!(
        FenceStatus::decode_bytes(Layout::Current, &[3, 0, 0, 0, 0, 0, 0, 0])
            .map(FenceStatus::fenced),
        Ok(true)
    );
}

#[test]
fn status_codes_and_classes() {
    let codes = [
        (0x00, Status::Success),
        (0x16, Status::InvalidParam),
        (0x1A, Status::InvalidPageState),
        (0x1C, Status::InvalidPageOwner),
        (0x30, Status::IncorrectBufferLength),
        (0x31, Status::ExpandBufferLengthRequest),
        (0x32, Status::SpdmRequest),
        (0x33, Status::SpdmError),
        (0x35, Status::ErrInDevConn),
        (0x36, Status::InvalidDevCtx),
        (0x37, Status::InvalidTdiCtx),
        (0x38, Status::InvalidTdi),
        (0x39, Status::ReclaimRequired),
        (0x3A, Status::InUse),
        (0x3B, Status::InvalidDevState),
        (0x3C, Status::InvalidTdiState),
        (0x3D, Status::DevCertChanged),
        (0x3E, Status::ResyncReq),
        (0x3F, Status::ResponseTooLarge),
        (0xA000, Status::TioDatabufferExpand),
    ];
    assert_eq!(codes.len(), Status::ALL.len());
    for (v, s) in codes {
        assert_eq!(Status::from_u16(v), Ok(s));
        assert_eq!(s.to_u16(), v);
        let want = match v {
            0 => Class::Success,
            0x32 => Class::Relay,
            0x31 => Class::Expand,
            _ => Class::Fatal,
        };
        assert_eq!(s.class(), want, "{s:?}");
    }
    assert!(Status::from_u16(0x34).is_err());
    assert_eq!(classify(0x34), Class::Fatal);
    assert_eq!(classify(0xFFFF), Class::Fatal);
}
