// SPDX-License-Identifier: GPL-2.0

//! Property tests of the TDX Connect codecs: every register value and page built from
//! arbitrary field values round-trips through encode and decode, every leaf's inputs
//! decode back from its registers, and every decoder of module-written values (status,
//! outputs, released arrays, EXT.MEM.ADD lists, request pages) is total on arbitrary
//! input, with re-encoding of what it accepts stable. The per-call driver, fed arbitrary
//! returns, never panics and always ends.

use proptest::collection::vec;
use proptest::prelude::*;
use tsm_proto::codec::Writer;
use tsm_proto::tdx::hpa::{decode_iommu_mt, read_root_page};
use tsm_proto::tdx::status::classify;
use tsm_proto::tdx::*;

fn pick<T: Copy + core::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

fn page_pa() -> impl Strategy<Value = u64> {
    (0u64..1 << 40).prop_map(|pfn| pfn << 12)
}

fn hpa_array() -> impl Strategy<Value = HpaArray> {
    (page_pa(), 1u16..=512).prop_map(|(pa, count)| HpaArray { pa, count })
}

fn release() -> impl Strategy<Value = ReleaseBuffer> {
    prop_oneof![
        Just(ReleaseBuffer::Singleton),
        (1u64..1 << 40).prop_map(|p| ReleaseBuffer::Root(p << 12)),
    ]
}

fn function_id() -> impl Strategy<Value = FunctionId> {
    (any::<u16>(), any::<u8>(), any::<bool>()).prop_map(|(rid, segment, segment_valid)| {
        FunctionId {
            rid,
            segment,
            segment_valid,
        }
    })
}

fn input() -> impl Strategy<Value = Input> {
    let ids = any::<[u64; 6]>();
    let pages = [page_pa(), page_pa(), page_pa()];
    (
        0usize..14,
        ids,
        pages,
        hpa_array(),
        release(),
        function_id(),
        (any::<u8>(), any::<bool>(), any::<u32>(), any::<[u32; 5]>()),
        (
            pick(&KmOp::ALL),
            pick(&MngOp::ALL),
            any::<bool>(),
            any::<bool>(),
        ),
        (page_pa(), 0u16..512, 1u16..=512),
    )
        .prop_map(
            |(
                k,
                id,
                [p0, p1, p2],
                arr,
                rel,
                func,
                (devfn, sel, ctl, assoc),
                (km, mng, hp, ho),
                (root, first, count),
            )| {
                match k {
                    0 => Input::SysConfig(SysConfig {
                        tdmr_array_pa: id[0],
                        tdmr_count: id[1],
                        global_keyid: id[2],
                        features: id[3],
                        wall_clock: id[4],
                    }),
                    1 => Input::ExtInit,
                    2 => Input::ExtMemAdd(ExtMemAdd {
                        list: HpaListInfo { root, first, count },
                    }),
                    3 => Input::IommuSetup(IommuSetup {
                        reg_base: id[0],
                        iommu_mt: p0,
                    }),
                    4 => Input::IommuClear(IommuClear {
                        iommu_id: id[0],
                        iommu_mt: p0,
                    }),
                    5 => Input::SpdmCreate(SpdmCreate {
                        function: func,
                        spdm_mt: arr,
                    }),
                    6 => Input::SpdmDelete(SpdmDelete {
                        spdm_id: id[0],
                        release: rel,
                    }),
                    7 => Input::IdeStreamCreate(IdeStreamCreate {
                        stream_info: StreamInfo {
                            rp_devfn: devfn,
                            kind: if sel {
                                StreamType::Selective
                            } else {
                                StreamType::Link
                            },
                        },
                        spdm_id: id[0],
                        ide_mt: arr,
                        control: StreamControl(ctl),
                        rid_assoc: [assoc[0], assoc[1]],
                        addr_assoc: [assoc[2], assoc[3], assoc[4]],
                    }),
                    8 => Input::IdeStreamBlock(IdeStreamBlock {
                        spdm_id: id[0],
                        stream_id: id[1],
                    }),
                    9 => Input::IdeStreamDelete(IdeStreamDelete {
                        spdm_id: id[0],
                        stream_id: id[1],
                        release: rel,
                    }),
                    10 => Input::IdeStreamKm(IdeStreamKm {
                        spdm_id: id[0],
                        stream_id: id[1],
                        op: km,
                        response: p0,
                        request: p1,
                    }),
                    11 => Input::SpdmConnect(SpdmConnect {
                        spdm_id: id[0],
                        config: p2,
                        response: p0,
                        request: p1,
                        dev_info: arr,
                    }),
                    12 => Input::SpdmDisconnect(SpdmDisconnect {
                        spdm_id: id[0],
                        response: p0,
                        request: p1,
                    }),
                    _ => Input::SpdmMng(SpdmMng {
                        spdm_id: id[0],
                        op: mng,
                        param: hp.then_some(p2),
                        response: p0,
                        request: p1,
                        output: ho.then_some(arr),
                    }),
                }
            },
        )
}

fn regs() -> impl Strategy<Value = Regs> {
    (any::<[u64; 10]>(), 0usize..14, any::<u8>()).prop_map(|(v, k, ver)| Regs {
        // Half the time a real leaf value, so the per-leaf decoders are reached.
        rax: if ver & 1 == 0 {
            Leaf::ALL[k].rax()
        } else {
            v[0]
        },
        rcx: v[1],
        rdx: v[2],
        r8: v[3] & if ver & 2 == 0 { 0xF } else { u64::MAX },
        r9: v[4],
        r10: v[5],
        r11: v[6],
        r12: v[7],
        r13: v[8],
        r14: v[9],
    })
}

proptest! {
    #[test]
    fn hpa_array_round_trip(a in hpa_array()) {
        let v = a.encode().unwrap();
        prop_assert_eq!(HpaArray::decode(v), Ok(a));
    }

    #[test]
    fn hpa_list_round_trip(root in page_pa(), first in 0u16..512, count in 1u16..=512) {
        let l = HpaListInfo { root, first, count };
        prop_assert_eq!(HpaListInfo::decode(l.encode().unwrap()), Ok(l));
    }

    #[test]
    fn register_decoders_total(v in any::<u64>()) {
        if let Ok(a) = HpaArray::decode(v) {
            prop_assert_eq!(a.encode(), Ok(v));
        }
        if let Ok(l) = HpaListInfo::decode(v) {
            prop_assert_eq!(l.encode(), Ok(v));
        }
        if let Ok(f) = FunctionId::decode(v) {
            prop_assert_eq!(f.encode(), v);
        }
        if let Ok(s) = StreamInfo::decode(v) {
            prop_assert_eq!(s.encode(), v);
        }
        if let Ok(r) = ReleaseBuffer::decode(v) {
            prop_assert_eq!(r.encode(), Ok(v));
        }
        if let Ok(q) = IqBuffer::decode(v) {
            prop_assert_eq!(q.encode(), Ok(v));
        }
        if let Ok(l) = LeafValue::decode(v) {
            prop_assert_eq!(l.encode(), v);
        }
        if let Ok(s) = Status::decode(v) {
            // Exact codes decode only from themselves; masked ones from their class.
            if s.exact() {
                prop_assert_eq!(s.code(), v);
            } else {
                prop_assert_eq!(s.code(), v & 0xFFFF_FFFF_0000_0000);
            }
        }
        for leaf in Leaf::ALL {
            let a = classify(leaf, v);
            if v == 0 {
                prop_assert_eq!(a, Action::Done);
            }
            if matches!(a, Action::Relay | Action::KeyRefresh) {
                prop_assert!(leaf.relays());
            }
            if a == Action::Skip {
                prop_assert_eq!(leaf, Leaf::IommuSetup);
            }
        }
    }

    #[test]
    fn function_id_round_trip(f in function_id()) {
        prop_assert_eq!(FunctionId::decode(f.encode()), Ok(f));
    }

    #[test]
    fn inputs_round_trip(i in input()) {
        let r = i.regs().unwrap();
        prop_assert_eq!(r.rax, i.leaf().rax());
        prop_assert_eq!(Input::decode(&r), Ok(i));
    }

    #[test]
    fn input_decoder_total(r in regs()) {
        if let Ok(i) = Input::decode(&r) {
            prop_assert_eq!(i.regs(), Ok(r));
        }
    }

    #[test]
    fn output_decoder_total(i in input(), rcx in any::<u64>(), rdx in any::<u64>()) {
        if let Ok(o) = Output::decode(&i, rcx, rdx) {
            let (c, d) = o.encode().unwrap();
            prop_assert_eq!(Output::decode(&i, c, d), Ok(o));
        }
    }

    #[test]
    fn config_page_round_trip(caps in any::<u32>(), b in any::<[u8; 3]>()) {
        let c = ConnectConfig { caps, session_policy: b[0], cert_slot_mask: b[1], raw_bitstream: b[2] };
        let mut page = vec![0xAAu8; 4096];
        c.encode(&mut Writer::new(&mut page)).unwrap();
        prop_assert_eq!(ConnectConfig::decode(&page), Ok(c));
        prop_assert!(page[7..].iter().all(|b| *b == 0));
    }

    #[test]
    fn page_decoders_total(bytes in vec(any::<u8>(), 0..4200), n in 0usize..600) {
        let _ = ConnectConfig::decode(&bytes);
        let mut out = vec![0u64; 600];
        let _ = read_root_page(&bytes, n, &mut out);
        let _ = decode_iommu_mt(&bytes, n, &mut out);
        if let Ok(r) = RelayRequest::decode(&bytes) {
            prop_assert!(r.payload.len() <= 4088);
            let mut page = vec![0u8; 4096];
            let len = r.encode(&mut Writer::new(&mut page)).unwrap();
            prop_assert_eq!(&page[8..len], r.payload);
            prop_assert_eq!(RelayRequest::decode(&page), Ok(r));
        }
        let _ = RelayResponse::decode(&bytes);
    }

    #[test]
    fn relay_response_round_trip(vendor in any::<u16>(), ty in any::<u8>(), dw in 0usize..=1022) {
        let reply = vec![0x5Au8; dw * 4];
        let req = RelayRequest { vendor_id: vendor, object_type: ty, payload: &[] };
        let mut page = vec![0u8; 4096];
        let n = RelayResponse::to(&req, &reply).encode(&mut Writer::new(&mut page)).unwrap();
        prop_assert_eq!(n, reply.len() + 8);
        let back = RelayResponse::decode(&page).unwrap();
        prop_assert_eq!((back.vendor_id, back.object_type, back.reply), (vendor, ty, &reply[..]));
    }

    #[test]
    fn driver_always_ends(i in input(), rets in vec((any::<u8>(), any::<u64>(), any::<u64>()), 0..64)) {
        const CODES: [u64; 7] = [
            0,
            0x8000_0003_0000_0000,
            0xC000_0F57_0000_0000,
            0xC000_0F45_0000_0000,
            0x8000_0200_0000_0000,
            0xC000_0100_0000_0000,
            0xC000_0000_0000_0001,
        ];
        let mut slot = ExtSlot::new();
        let Ok((mut c, _)) = LeafCall::start(i, slot.take()) else {
            return Ok(());
        };
        for (k, rcx, rdx) in rets {
            if c.ended() {
                break;
            }
            let rax = CODES.get(usize::from(k % 8)).copied().unwrap_or(rcx);
            let next = match c.on_return(Returned { rax, rcx, rdx }) {
                Next::Relay { .. } => c.relayed(),
                n => n,
            };
            // While the call runs, the slot stays taken.
            prop_assert!(!slot.is_free());
            if let Next::Issue(r) = next {
                // Whatever is issued is a well-formed call of this leaf or of the refresh.
                let again = Input::decode(&r).unwrap();
                prop_assert!(again.leaf() == i.leaf() || (c.refreshing() && again.leaf() == Leaf::SpdmMng));
            }
        }
        slot.give_back(c.finish().unwrap());
        prop_assert!(slot.is_free());
    }
}

proptest! {
    #[test]
    fn tdcm_decoders_total(bytes in vec(any::<u8>(), 0..200), r in any::<[u64; 6]>()) {
        use tsm_proto::tdx::guest::{TdcmBuffer, TdcmVmcall};
        if let Ok(b) = TdcmBuffer::decode(&bytes) {
            let mut out = vec![0u8; 200];
            let n = b.encode(&mut Writer::new(&mut out)).unwrap();
            prop_assert_eq!(TdcmBuffer::decode(&out[..n]), Ok(b));
        }
        if let Ok(v) = TdcmVmcall::decode(r) {
            prop_assert_eq!(v.regs(), r);
        }
    }
}
