// SPDX-License-Identifier: GPL-2.0

//! Property tests of the RMI codecs: every page and register built from arbitrary
//! field values round-trips through encode and decode (in each ABI it exists in), and
//! every decoder is total on arbitrary bytes and values, with re-encoding of what it
//! accepts stable; the guest-request decoder of `tvm_arch` CCA is total.

use proptest::collection::vec;
use proptest::prelude::*;
use tsm_proto::codec::Writer;
use tsm_proto::rmi::comm::HALF_LEN;
use tsm_proto::rmi::pdev::PdevFlagsAlp12;
use tsm_proto::rmi::vdev::VdevFlags;
use tsm_proto::rmi::*;

fn enc(n: usize, f: impl FnOnce(&mut Writer<'_>) -> tsm_proto::codec::Result<()>) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let mut w = Writer::new(&mut buf);
    f(&mut w).unwrap();
    assert_eq!(w.finish(), n);
    buf
}

fn page(f: impl FnOnce(&mut Writer<'_>) -> tsm_proto::codec::Result<()>) -> Vec<u8> {
    enc(GRANULE_SIZE, f)
}

fn pick<T: Copy + core::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

fn range() -> impl Strategy<Value = AddrRange> {
    (any::<u64>(), any::<u64>()).prop_map(|(base, top)| AddrRange { base, top })
}

fn list<T: Copy + Default + core::fmt::Debug, const N: usize>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = List<T, N>> {
    vec(item, 0..=N).prop_map(|v| List::from_slice("t", &v).unwrap())
}

fn abi() -> impl Strategy<Value = Abi> {
    pick(&Abi::ALL)
}

prop_compose! {
    fn pdev_params()(
        flags in any::<u64>(), hb_base in any::<u64>(), pdev_id in any::<u64>(),
        routing_id in any::<u64>(), id_index in any::<u64>(), rid_base in any::<u32>(),
        rid_top in any::<u32>(), hash_algo in pick(&HashAlgo::ALL),
    ) -> PdevParams {
        PdevParams {
            flags: PdevFlags::from_bits(flags), hb_base, pdev_id, routing_id, id_index,
            rid_base, rid_top, hash_algo,
        }
    }
}

prop_compose! {
    fn pdev_params_alp12()(
        ids in any::<[u64; 6]>(), segment_id in any::<u8>(), root_id in any::<u16>(),
        rid_base in any::<u16>(), hash_algo in pick(&HashAlgo::ALL),
        aux in list::<u64, 32>(any::<u64>()), ncoh in list::<AddrRange, 16>(range()),
        coh in list::<AddrRange, 4>(range()),
    ) -> PdevParamsAlp12 {
        PdevParamsAlp12 {
            flags: PdevFlagsAlp12::from_bits(ids[0]), pdev_id: ids[1], segment_id,
            ecam_addr: ids[2], root_id, cert_id: ids[3], rid_base, rid_top: ids[4],
            hash_algo, ide_sid: ids[5], aux, ncoh_ranges: ncoh, coh_ranges: coh,
        }
    }
}

prop_compose! {
    fn vdev_params()(v in any::<[u64; 5]>(), ranges in list::<AddrRange, 8>(range())) -> VdevParams {
        VdevParams {
            flags: VdevFlags::from_bits(v[0]), vdev_id: v[1], tdi_id: v[2],
            vsmmu_addr: v[3], vsid: v[4], ranges,
        }
    }
}

prop_compose! {
    fn stream_params()(
        v in any::<[u64; 4]>(), stream_type in pick(&StreamType::ALL),
        ranges in list::<AddrRange, 16>(range()),
    ) -> StreamParams {
        StreamParams {
            flags: v[0], stream_type, pdev_1: v[1], pdev_2: v[2], ide_sid: v[3], ranges,
        }
    }
}

prop_compose! {
    fn comm_exit()(
        flags in any::<u64>(), v in any::<[u64; 7]>(), obj in any::<u8>(), proto in any::<u8>(),
    ) -> CommExit {
        CommExit {
            flags: ExitFlags::from_bits(flags), cache_req_offset: v[0], cache_req_len: v[1],
            cache_rsp_offset: v[2], cache_rsp_len: v[3], cache_obj_id: obj, protocol: proto,
            req_delay_us: v[4], req_len: v[5], timeout_ms: v[6],
        }
    }
}

/// An exit that is valid in `abi`: alp12 has no delay and only its five flags.
fn exit_in(abi: Abi, mut x: CommExit) -> CommExit {
    if abi == Abi::Alp12 {
        x.req_delay_us = 0;
        let alp12 = ExitFlags::REQ_CACHE
            | ExitFlags::RSP_CACHE
            | ExitFlags::REQ_SEND
            | ExitFlags::RSP_WAIT
            | ExitFlags::MULTI;
        x.flags = ExitFlags::from_bits(x.flags.bits() & alp12);
    }
    x
}

proptest! {
    #[test]
    fn host_pages_round_trip(
        p in pdev_params(), pa in pdev_params_alp12(), v in vdev_params(),
        s in stream_params(), flags in any::<u64>(), nonce in any::<[u8; 32]>(),
        va in (any::<[u64; 3]>(), list::<u64, 32>(any::<u64>())), da in any::<bool>(),
    ) {
        prop_assert_eq!(PdevParams::decode(&page(|w| p.encode(w))), Ok(p));
        prop_assert_eq!(PdevParamsAlp12::decode(&page(|w| pa.encode(w))), Ok(pa));
        prop_assert_eq!(VdevParams::decode(&page(|w| v.encode(w))), Ok(v));
        prop_assert_eq!(StreamParams::decode(&page(|w| s.encode(w))), Ok(s));
        let m = MeasureParams { flags, nonce };
        prop_assert_eq!(MeasureParams::decode(&page(|w| m.encode(w))), Ok(m));
        let va = VdevParamsAlp12 { flags: va.0[0], vdev_id: va.0[1], tdi_id: va.0[2], aux: va.1 };
        prop_assert_eq!(VdevParamsAlp12::decode(&page(|w| va.encode(w))), Ok(va));
        let r = RealmParams { da };
        prop_assert_eq!(RealmParams::decode(&page(|w| r.encode(w))), Ok(r));
    }

    #[test]
    fn pubkey_round_trip(
        key in vec(any::<u8>(), 0..=1024), meta in vec(any::<u8>(), 0..=1024),
        algo in pick(&SignatureAlgo::ALL),
    ) {
        let p = PubkeyParams { key: &key, metadata: &meta, algo };
        let bytes = page(|w| p.encode(w));
        prop_assert_eq!(PubkeyParams::decode(&bytes), Ok(p));
        prop_assert_eq!(p.check().is_ok(), key.len() == algo.key_len());
    }

    #[test]
    fn comm_halves_round_trip(
        abi in abi(), x in comm_exit(), status in pick(&CommStatus::ALL), a in any::<[u64; 3]>(),
    ) {
        let x = exit_in(abi, x);
        let half = enc(HALF_LEN, |w| x.encode(abi, w));
        prop_assert_eq!(CommExit::decode(abi, &half), Ok(x));
        let e = CommEnter { status, req_addr: a[0], resp_addr: a[1], resp_len: a[2] };
        prop_assert_eq!(CommEnter::decode(&enc(HALF_LEN, |w| e.encode(w))), Ok(e));
    }

    /// The firmware-written exit half: any bytes decode or fail with a typed error; a
    /// decoded exit re-encodes to bytes that decode to the same exit, and its decision
    /// is consistent with its flags.
    #[test]
    fn comm_exit_total(abi in abi(), bytes in vec(any::<u8>(), 0..=HALF_LEN + 8)) {
        if let Ok(x) = CommExit::decode(abi, &bytes) {
            let again = enc(HALF_LEN, |w| x.encode(abi, w));
            prop_assert_eq!(CommExit::decode(abi, &again), Ok(x));
            if let Ok(plan) = x.decide() {
                prop_assert_eq!(plan.send.is_some(), x.flags.contains(ExitFlags::REQ_SEND));
                prop_assert_eq!(plan.cache_req.is_some(), x.flags.contains(ExitFlags::REQ_CACHE));
                for c in [plan.cache_req, plan.cache_rsp].into_iter().flatten() {
                    prop_assert!(c.range().end <= GRANULE_SIZE && c.range().len() as u64 == c.len);
                }
                if plan.next == Next::Done {
                    prop_assert_eq!(x.flags.bits() & ExitFlags::LOOP, 0);
                }
            }
        }
        let _ = CommExit::decode_page(abi, &bytes);
    }

    /// The model-side decoders of host-written pages are total too.
    #[test]
    fn host_page_decoders_total(bytes in vec(any::<u8>(), 0..=GRANULE_SIZE + 8)) {
        let _ = PdevParams::decode(&bytes);
        let _ = PdevParamsAlp12::decode(&bytes);
        let _ = VdevParams::decode(&bytes);
        let _ = VdevParamsAlp12::decode(&bytes);
        let _ = MeasureParams::decode(&bytes);
        let _ = PubkeyParams::decode(&bytes);
        let _ = StreamParams::decode(&bytes);
        let _ = CommEnter::decode(&bytes);
        if let Ok(r) = RealmParams::decode(&bytes) {
            prop_assert_eq!(RealmParams::decode(&page(|w| r.encode(w))), Ok(r));
        }
    }

    /// The firmware-written registers: total decoders, stable re-encoding.
    #[test]
    fn registers_total(x in any::<u64>(), x1 in any::<u64>(), x2 in any::<u64>(), f in any::<u32>()) {
        if let Ok(o) = Outcome::decode(x) {
            prop_assert_eq!(Outcome::decode(o.encode().unwrap()), Ok(o));
        }
        if let Ok(d) = DonateReq::decode(x) {
            prop_assert_eq!(DonateReq::decode(d.encode().unwrap()), Ok(d));
        }
        if let Ok(d) = AddrRangeDesc::decode(x) {
            prop_assert_eq!(AddrRangeDesc::decode(d.encode().unwrap()), Ok(d));
        }
        let feat = DaFeatures::decode(x);
        prop_assert_eq!(DaFeatures::decode(feat.encode()), feat);
        prop_assert_eq!(feat.encode(), x & 0x7FFF);
        let _ = PdevState::from_reg(x);
        let _ = VdevState::from_reg(x);
        let _ = VersionOutput::decode(x, x1, x2);
        let _ = tsm_proto::rmi::stream::unpack_handle(x);
        for abi in Abi::ALL {
            if let Ok(c) = Call::from_fid(abi, f) {
                prop_assert_eq!(c.fid(abi), Some(f));
            }
            let _ = ExitFlags::from_wire(abi, x).map(|fl| fl.to_wire(abi));
        }
    }

    /// Outcomes and SRO words built from fields round-trip exactly.
    #[test]
    fn register_words_round_trip(
        status in pick(&Status::ALL), index in any::<u8>(), mem_req in pick(&MemReq::ALL),
        can_cancel in any::<bool>(), block in pick(&BlockSize::ALL), count in 0u16..=1023,
        pa in (0u64..1 << 40).prop_map(|p| p << 12), undelegated in any::<bool>(),
        contiguous in any::<bool>(), state in pick(&MemState::ALL),
    ) {
        let o = match status {
            Status::Success => Outcome::Success,
            Status::Incomplete => Outcome::Incomplete(Incomplete { mem_req, can_cancel }),
            status => Outcome::Failed { status, index },
        };
        prop_assert_eq!(Outcome::decode(o.encode().unwrap()), Ok(o));
        let d = AddrRangeDesc {
            block, count, pa,
            state: if undelegated { MemState::Undelegated } else { MemState::Delegated },
        };
        prop_assert_eq!(AddrRangeDesc::decode(d.encode().unwrap()), Ok(d));
        let r = DonateReq { block, count, contiguous, state };
        prop_assert_eq!(DonateReq::decode(r.encode().unwrap()), Ok(r));
    }

    /// The guest-request decoder (`tvm_arch` CCA, bytes from a guest) is total, and a
    /// measurement request it accepts re-encodes to the same bytes.
    #[test]
    fn guest_requests_total(op in 0u32..8, bytes in vec(any::<u8>(), 0..=64)) {
        match guest::GuestOp::decode(op, &bytes) {
            Ok(guest::GuestOp::GetMeasurements(q)) if !bytes.is_empty() => {
                let mut b = [0u8; guest::MEAS_REQ_LEN];
                q.encode(&mut Writer::new(&mut b)).unwrap();
                prop_assert_eq!(&b[..], &bytes[..]);
            }
            Ok(_) => prop_assert!(op <= guest::OP_GET_MEASUREMENTS),
            Err(guest::GuestReqError::Unsupported) => {
                prop_assert!(op == 0 || op > guest::OP_GET_MEASUREMENTS)
            }
            Err(guest::GuestReqError::Invalid) => prop_assert!(!bytes.is_empty()),
        }
    }
}
