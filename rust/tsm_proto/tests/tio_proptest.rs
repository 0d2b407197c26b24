// SPDX-License-Identifier: GPL-2.0

//! Property tests of the SEV-TIO codecs: every command buffer built from arbitrary field
//! values round-trips through encode and decode in each layout; SLAs, scatter pages,
//! buffer headers and every firmware-written structure round-trip; every decoder is
//! total on arbitrary bytes, and re-encoding what it accepts is stable.

use proptest::collection::vec;
use proptest::prelude::*;
use tsm_proto::tio::buffer::{write_req, write_resp, OutputObject, SpdmRequest};
use tsm_proto::tio::sla::{encode_scatter, ScatterList, SCATTER_MAX_PAGES};
use tsm_proto::tio::status::{
    Aead, Asym, Dhe, DmaFence, Hash, KeySchedule, MmioFence, SizeRange, TdiInfoLockFlags,
    TdiInfoState, TdispState,
};
use tsm_proto::tio::*;

fn pick<T: Copy + core::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

/// A page address: a PFN other than 0 and all ones.
fn pa() -> impl Strategy<Value = u64> {
    (1u64..0xF_FFFF_FFFF).prop_map(|pfn| pfn << 12)
}

fn size() -> impl Strategy<Value = PageSize> {
    prop_oneof![Just(PageSize::Size4K), Just(PageSize::Size2M)]
}

fn sla() -> impl Strategy<Value = Sla> {
    prop_oneof![
        Just(Sla::Null),
        Just(Sla::Eol),
        (pa(), size()).prop_map(|(pa, size)| Sla::Data { pa, size }),
        (pa(), size()).prop_map(|(pa, size)| Sla::Scatter { pa, size }),
    ]
}

fn ctrl() -> impl Strategy<Value = SpdmCtrl> {
    (sla(), sla(), sla(), sla()).prop_map(|(req, resp, scratch, output)| SpdmCtrl {
        req,
        resp,
        scratch,
        output,
    })
}

fn interface_id() -> impl Strategy<Value = InterfaceId> {
    (any::<u16>(), any::<Option<u8>>()).prop_map(|(rid, segment)| InterfaceId { rid, segment })
}

fn layout() -> impl Strategy<Value = Layout> {
    pick(&Layout::ALL)
}

/// Field values for any command; [`build`] takes what the command has.
#[derive(Debug, Clone)]
struct Pool {
    ctrl: SpdmCtrl,
    d: Sla,
    t: Sla,
    a: [u64; 3],
    h: [u16; 4],
    b: [u8; 3],
    w: u32,
    flag: bool,
    ide: [u8; 8],
    nonce: [u8; 32],
    iid: InterfaceId,
}

prop_compose! {
    fn pool()(
        ctrl in ctrl(), d in sla(), t in sla(), a in any::<[u64; 3]>(), h in any::<[u16; 4]>(),
        b in any::<[u8; 3]>(), w in any::<u32>(), flag in any::<bool>(),
        ide in any::<[u8; 8]>(), nonce in any::<[u8; 32]>(), iid in interface_id(),
    ) -> Pool {
        Pool { ctrl, d, t, a, h, b, w, flag, ide, nonce, iid }
    }
}

/// The request of `cmd` from `p`, with the fields `layout` lacks zero.
fn build(cmd: Command, layout: Layout, p: &Pool) -> Request {
    let aik = layout == Layout::Aik;
    let (ctrl, dev_ctx, tdi_ctx) = (p.ctrl, p.d, p.t);
    match cmd {
        Command::TioStatus => Request::TioStatus {
            status_paddr: p.a[0],
        },
        Command::TioInit => Request::TioInit,
        Command::DevCreate => Request::DevCreate {
            dev_ctx,
            rid: p.h[0],
            root_port_id: p.h[1],
            segment: p.b[0],
        },
        Command::DevReclaim => Request::DevReclaim { dev_ctx },
        Command::DevConnect => Request::DevConnect {
            ctrl,
            dev_ctx,
            tc_mask: p.b[0],
            cert_slot: p.b[1],
            ide_stream_id: p.ide,
        },
        Command::DevDisconnect => Request::DevDisconnect {
            force: p.flag,
            ctrl,
            dev_ctx,
        },
        Command::DevStatus => Request::DevStatus {
            dev_ctx,
            status_paddr: p.a[0],
            status_length: if aik { p.w } else { 0 },
        },
        Command::DevMeasurements => Request::DevMeasurements {
            raw: p.flag,
            ctrl,
            dev_ctx,
            nonce: if aik { [0; 32] } else { p.nonce },
        },
        Command::DevCertificates => Request::DevCertificates { ctrl, dev_ctx },
        Command::TdiCreate => Request::TdiCreate {
            dev_ctx,
            tdi_ctx,
            interface_id: p.iid,
        },
        Command::TdiReclaim => Request::TdiReclaim { dev_ctx, tdi_ctx },
        Command::TdiBind => Request::TdiBind {
            ctrl,
            dev_ctx,
            tdi_ctx,
            gctx: p.a[0],
            guest_device_id: p.h[0],
            lock_flags: LockFlags::from_bits(p.h[1]),
            run_flags: p.h[2],
        },
        Command::TdiUnbind => Request::TdiUnbind {
            force: p.flag && !aik,
            ctrl,
            dev_ctx,
            tdi_ctx,
            gctx: p.a[0],
        },
        Command::TdiReport => Request::TdiReport {
            ctrl,
            dev_ctx,
            tdi_ctx,
            gctx: p.a[0],
        },
        Command::TdiStatus => Request::TdiStatus {
            ctrl,
            dev_ctx,
            tdi_ctx,
            status_paddr: p.a[0],
        },
        Command::GuestRequest => Request::GuestRequest {
            ctrl,
            dev_ctx,
            tdi_ctx,
            gctx: p.a[0],
            req_paddr: p.a[1],
            res_paddr: p.a[2],
        },
        Command::AsidFenceClear => Request::AsidFenceClear {
            dev_ctx: if aik { Sla::Null } else { dev_ctx },
            gctx: p.a[0],
            devid: if aik { p.h[0] } else { 0 },
            segment: if aik { p.b[0] } else { 0 },
        },
        Command::AsidFenceStatus => Request::AsidFenceStatus {
            dev_ctx: if aik { Sla::Null } else { dev_ctx },
            asid: p.w,
            status_paddr: p.a[0],
            devid: if aik { p.h[0] } else { 0 },
            segment: if aik { p.b[0] } else { 0 },
        },
        Command::TdiInfo => Request::TdiInfo {
            dev_ctx,
            tdi_ctx,
            status_paddr: p.a[0],
        },
        Command::RollKey => Request::RollKey { ctrl, dev_ctx },
    }
}

fn algos() -> impl Strategy<Value = SpdmAlgos> {
    (
        pick(&Dhe::ALL),
        pick(&Aead::ALL),
        pick(&Asym::ALL),
        pick(&Hash::ALL),
        pick(&KeySchedule::ALL),
    )
        .prop_map(|(dhe, aead, asym, hash, key_schedule)| SpdmAlgos {
            dhe,
            aead,
            asym,
            hash,
            key_schedule,
        })
}

fn range() -> impl Strategy<Value = SizeRange> {
    (any::<u32>(), any::<u32>()).prop_map(|(min, max)| SizeRange { min, max })
}

prop_compose! {
    fn tio_status()(
        length in 0x30u32..0x40, tio_en in any::<bool>(), init_done in any::<bool>(),
        req in range(), scratch in range(), output in range(), rsp in range(),
        devctx_size in any::<u32>(), tdictx_size in any::<u32>(), alg in any::<u32>(),
    ) -> TioStatus {
        TioStatus {
            length, tio_en, init_done, req, scratch, output, rsp, devctx_size, tdictx_size,
            tio_crypto_alg: (length >= 0x34).then_some(alg),
        }
    }
}

prop_compose! {
    fn dev_status(wide: bool)(
        header in any::<u32>(), ctx_state in any::<u16>(), pending_flags in any::<u8>(),
        certs_slot in any::<u8>(), devid in any::<u16>(), segment in any::<u8>(),
        tc_mask in any::<u8>(), pending_command in any::<u16>(), iid in interface_id(),
        flags in any::<u32>(), ide in any::<[u16; 8]>(), cd in any::<[u8; 48]>(),
        md in any::<[u8; 48]>(), tdi_count in any::<u32>(), bound in any::<u32>(),
        algos in algos(),
    ) -> DevStatus {
        DevStatus {
            header, ctx_state, pending_flags, certs_slot, devid, segment, tc_mask,
            pending_command, pending_interface_id: iid, flags,
            ide_stream_id: ide.map(|s| if wide { s } else { s & 0xff }),
            certs_digest: cd, meas_digest: md, tdi_count, bound_tdi_count: bound, algos,
        }
    }
}

prop_compose! {
    fn tdi_info()(
        iid in interface_id(), meas_valid in any::<bool>(), meas_fresh in any::<bool>(),
        state in pick(&TdiInfoState::ALL), lock in any::<u32>(), algos in algos(),
        cd in any::<[u8; 48]>(), md in any::<[u8; 48]>(), rd in any::<[u8; 48]>(),
        report_counter in any::<u64>(), asid in any::<u32>(),
    ) -> TdiInfo {
        TdiInfo {
            interface_id: iid, meas_valid, meas_fresh, state,
            lock_flags: TdiInfoLockFlags::from_bits(lock), algos, certs_digest: cd,
            meas_digest: md, report_digest: rd, report_counter, asid,
        }
    }
}

proptest! {
    #[test]
    fn every_command_round_trips(p in pool(), cmd in pick(&Command::ALL), layout in layout()) {
        let r = build(cmd, layout, &p);
        let b = r.encode(layout).unwrap();
        prop_assert_eq!(b.len(), cmd.buffer_len(layout));
        prop_assert_eq!(&b.as_bytes()[..4], &(b.len() as u32).to_le_bytes()[..]);
        prop_assert_eq!(Request::decode(layout, cmd, b.as_bytes()), Ok(r));
        prop_assert_eq!(r.ctrl().is_some(), cmd.uses_spdm());
    }

    #[test]
    fn command_decoders_are_total(
        data in vec(any::<u8>(), 0..=128), cmd in pick(&Command::ALL), layout in layout(),
        fix_len in any::<bool>(),
    ) {
        let mut data = data;
        let n = cmd.buffer_len(layout);
        if fix_len {
            data.resize(n, 0);
            data[..4].copy_from_slice(&(n as u32).to_le_bytes());
        }
        if let Ok(r) = Request::decode(layout, cmd, &data) {
            let b = r.encode(layout).unwrap();
            prop_assert_eq!(Request::decode(layout, cmd, b.as_bytes()), Ok(r));
        }
    }

    #[test]
    fn sla_round_trips_and_decoder_is_total(s in sla(), v in any::<u64>()) {
        prop_assert_eq!(Sla::decode(s.encode()), Ok(s));
        if let Ok(d) = Sla::decode(v) {
            prop_assert_eq!(d.encode(), v);
        }
    }

    #[test]
    fn scatter_pages_round_trip(pas in vec(pa(), 1..=SCATTER_MAX_PAGES)) {
        let mut page = vec![0u8; 4096];
        encode_scatter(&pas, &mut page).unwrap();
        let l = ScatterList::decode(&page).unwrap();
        let got: Vec<u64> = l.iter().map(|s| s.encode()).collect();
        prop_assert_eq!(got, pas);
    }

    #[test]
    fn scatter_decoder_is_total(
        words in vec(prop_oneof![3 => pa(), 1 => sla().prop_map(|s| s.encode()), 1 => any::<u64>()], 0..=512),
        eol_at in any::<usize>(),
    ) {
        let mut words = words;
        if words.len() > 8 {
            words.resize(512, 0);
        }
        let mut page: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        if !words.is_empty() {
            let i = eol_at % words.len();
            page[8 * i..8 * i + 8].copy_from_slice(&sla::SLA_EOL.to_le_bytes());
        }
        if let Ok(l) = ScatterList::decode(&page) {
            prop_assert!(!l.is_empty() && l.len() <= SCATTER_MAX_PAGES);
            prop_assert_eq!(l.iter().count(), l.len());
            let all_data = l.iter().all(|s| matches!(s, Sla::Data { .. }));
            prop_assert!(all_data);
        }
    }

    #[test]
    fn buffer_header_round_trips(
        capacity in any::<u32>(), payload_sz in any::<u32>(), flags in any::<u64>(),
        iv in any::<[u8; 16]>(), authtag in any::<[u8; 16]>(),
    ) {
        let h = BufferHeader { capacity, payload_sz, flags, iv, authtag };
        let mut b = vec![0u8; 0x40];
        h.encode(&mut b).unwrap();
        prop_assert_eq!(BufferHeader::decode(&b), Ok(h));
    }

    #[test]
    fn req_and_resp_round_trip(
        msg in vec(any::<u8>(), 0..512), dt in pick(&DataType::ALL), extra in 0usize..64,
    ) {
        let mut b = vec![0u8; 0x50 + msg.len() + extra];
        let cap = b.len() as u32;
        write_req(&mut b, cap, dt, &msg).unwrap();
        let r = SpdmRequest::decode(&b).unwrap();
        prop_assert_eq!(r.payload, &msg[..]);
        prop_assert_eq!(r.data_type, dt);
        let len = write_resp(&mut b, dt, &msg).unwrap();
        prop_assert_eq!(len % 32, 0);
        prop_assert!(len as usize >= 0x10 + msg.len() && (len as usize) < 0x10 + msg.len() + 32);
    }

    #[test]
    fn spdm_buffer_decoders_are_total(data in vec(any::<u8>(), 0..256), id in 0u32..8, len in any::<u32>()) {
        let mut data = data;
        if data.len() >= 0x48 {
            data[0x40..0x44].copy_from_slice(&id.to_le_bytes());
            data[0x44..0x48].copy_from_slice(&(len % 0x200).to_le_bytes());
        }
        let _ = BufferHeader::decode(&data);
        let _ = ObjectHeader::decode(&data);
        if let Ok(r) = SpdmRequest::decode(&data) {
            prop_assert_eq!(r.payload.len() + 0x10, r.header.length as usize);
        }
        if let Ok(o) = OutputObject::decode(&data) {
            prop_assert_eq!(o.payload.len() + 0x20, o.header.length as usize);
        }
    }

    #[test]
    fn tio_status_round_trips(s in tio_status()) {
        let mut b = vec![0u8; 64];
        s.encode(&mut b).unwrap();
        prop_assert_eq!(TioStatus::decode(&b), Ok(s));
    }

    #[test]
    fn dev_status_round_trips(s in dev_status(false), w in dev_status(true)) {
        let mut b = vec![0u8; 160];
        s.encode(Layout::Current, &mut b).unwrap();
        prop_assert_eq!(DevStatus::decode(Layout::Current, &b), Ok(s));
        w.encode(Layout::Aik, &mut b).unwrap();
        prop_assert_eq!(DevStatus::decode(Layout::Aik, &b), Ok(w));
    }

    #[test]
    fn tdi_info_and_status_round_trip(t in tdi_info(), st in pick(&TdispState::ALL), layout in layout()) {
        let mut b = vec![0u8; 192];
        t.encode(&mut b).unwrap();
        prop_assert_eq!(TdiInfo::decode(&b), Ok(t));
        let s = TdiStatus { state: st };
        let mut b = vec![0xffu8; TdiStatus::len(layout)];
        s.encode(layout, &mut b).unwrap();
        prop_assert_eq!(TdiStatus::decode(layout, &b), Ok(s));
    }

    #[test]
    fn fence_round_trips(dma in pick(&DmaFence::ALL), mmio in pick(&MmioFence::ALL), w in any::<bool>()) {
        let f = FenceStatus::Split { dma, mmio };
        prop_assert_eq!(FenceStatus::decode(Layout::Current, f.encode()), Ok(f));
        prop_assert_eq!(f.fenced(), dma != DmaFence::None || mmio != MmioFence::None);
        let a = FenceStatus::Whole(w);
        prop_assert_eq!(FenceStatus::decode(Layout::Aik, a.encode()), Ok(a));
    }

    #[test]
    fn status_decoders_are_total(data in vec(any::<u8>(), 0..256), v in any::<u64>(), layout in layout()) {
        if let Ok(s) = TioStatus::decode(&data) {
            let mut b = vec![0u8; 64];
            s.encode(&mut b).unwrap();
            prop_assert_eq!(TioStatus::decode(&b), Ok(s));
        }
        if let Ok(s) = DevStatus::decode(layout, &data) {
            let mut b = vec![0u8; 160];
            s.encode(layout, &mut b).unwrap();
            prop_assert_eq!(DevStatus::decode(layout, &b), Ok(s));
        }
        if let Ok(t) = TdiInfo::decode(&data) {
            let mut b = vec![0u8; 192];
            t.encode(&mut b).unwrap();
            prop_assert_eq!(TdiInfo::decode(&b), Ok(t));
        }
        let _ = TdiStatus::decode(layout, &data);
        if let Ok(f) = FenceStatus::decode(layout, v) {
            prop_assert_eq!(FenceStatus::decode(layout, f.encode()), Ok(f));
        }
        let _ = FenceStatus::decode_bytes(layout, &data);
    }
}
