// SPDX-License-Identifier: GPL-2.0

//! Golden vectors of the RMI device-assignment ABI.
//!
//! Every expected byte string is written out by offset from the project's fact sheet
//! (`shared/backends/cca-rmm-abi.md` §1-§3, restating TF-RMM `smc-rmi.h` and Linux
//! `arm-smccc-rmi.h`), not produced by the encoder, so a layout error in the crate
//! fails here. Little-endian throughout; every page is 4096 bytes.

use tsm_proto::codec::{Error, Writer};
use tsm_proto::rmi::comm::{EXIT_OFFSET, HALF_LEN};
use tsm_proto::rmi::features::FEATURES_DA_INDEX;
use tsm_proto::rmi::fid::fid;
use tsm_proto::rmi::pdev::PdevFlagsAlp12;
use tsm_proto::rmi::sro::list_fits;
use tsm_proto::rmi::stream::{handle, unpack_handle};
use tsm_proto::rmi::vdev::VdevFlags;
use tsm_proto::rmi::*;

/// A zeroed 4 KiB page.
fn page() -> Vec<u8> {
    vec![0u8; GRANULE_SIZE]
}

/// Writes `v` little-endian at `off` (`n` bytes wide).
fn put(p: &mut [u8], off: usize, v: u64, n: usize) {
    p[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
}

/// Whether `r` failed with an error of the kind `kind` names.
fn fails<T>(r: tsm_proto::codec::Result<T>, kind: &str) -> bool {
    match r {
        Err(Error::InvalidField { .. }) => kind == "invalid",
        Err(Error::UnknownCode { .. }) => kind == "unknown",
        Err(Error::Truncated { .. }) => kind == "truncated",
        _ => false,
    }
}

fn encode(n: usize, f: impl FnOnce(&mut Writer<'_>) -> tsm_proto::codec::Result<()>) -> Vec<u8> {
    let mut buf = vec![0xAAu8; n];
    let mut w = Writer::new(&mut buf);
    f(&mut w).unwrap();
    assert_eq!(w.finish(), n);
    buf
}

#[test]
fn function_ids() {
    // §1: fast SMC64, 0xC4000000 | n. 2.0 column, then the alp12 column.
    let v2 = [
        (Call::Version, 0xC400_0150),
        (Call::Features, 0xC400_0165),
        (Call::GranuleDelegate, 0xC400_01F1),
        (Call::GranuleUndelegate, 0xC400_01F2),
        // RMM 1.0 numbers (not in the fact sheet for 2.0).
        (Call::RealmCreate, 0xC400_0158),
        (Call::RealmDestroy, 0xC400_0159),
        (Call::PdevAbort, 0xC400_0174),
        (Call::PdevCommunicate, 0xC400_0175),
        (Call::PdevCreate, 0xC400_0176),
        (Call::PdevDestroy, 0xC400_0177),
        (Call::PdevGetState, 0xC400_0178),
        (Call::PdevStreamKeyRefresh, 0xC400_017A),
        (Call::PdevSetPubkey, 0xC400_017B),
        (Call::PdevStop, 0xC400_017C),
        (Call::VdevAbort, 0xC400_0185),
        (Call::VdevCommunicate, 0xC400_0186),
        (Call::VdevCreate, 0xC400_0187),
        (Call::VdevDestroy, 0xC400_0188),
        (Call::VdevGetState, 0xC400_0189),
        (Call::VdevUnlock, 0xC400_018A),
        (Call::VdevComplete, 0xC400_018E),
        (Call::VdevGetInterfaceReport, 0xC400_01D0),
        (Call::VdevGetMeasurements, 0xC400_01D1),
        (Call::VdevLock, 0xC400_01D2),
        (Call::VdevStart, 0xC400_01D3),
        (Call::RttDevValidate, 0xC400_0163),
        (Call::RttDevMap, 0xC400_01F7),
        (Call::RttDevUnmap, 0xC400_01F8),
        (Call::OpContinue, 0xC400_0203),
        (Call::PdevStreamConnect, 0xC400_0204),
        (Call::PdevStreamDisconnect, 0xC400_0205),
        (Call::PdevStreamComplete, 0xC400_0206),
        (Call::PdevStreamKeyPurge, 0xC400_0207),
        (Call::OpMemDonate, 0xC400_0208),
        (Call::OpMemReclaim, 0xC400_0209),
        (Call::OpCancel, 0xC400_020A),
    ];
    let alp12 = [
        (Call::GranuleDelegate, 0xC400_0151),
        (Call::GranuleUndelegate, 0xC400_0152),
        (Call::RealmCreate, 0xC400_0158),
        (Call::RealmDestroy, 0xC400_0159),
        (Call::PdevAuxCount, 0xC400_0156),
        (Call::PdevIdeReset, 0xC400_0179),
        (Call::PdevNotify, 0xC400_017A),
        (Call::VdevUnlock, 0xC400_018A),
        (Call::VdevAuxCount, 0xC400_0160),
        (Call::RttDevMap, 0xC400_0172),
        (Call::RttDevUnmap, 0xC400_0173),
    ];
    for (c, f) in v2 {
        assert_eq!(c.fid(Abi::V2_0), Some(f), "{c:?}");
    }
    for (c, f) in alp12 {
        assert_eq!(c.fid(Abi::Alp12), Some(f), "{c:?}");
    }
    for c in [
        Call::PdevAuxCount,
        Call::PdevIdeReset,
        Call::PdevNotify,
        Call::VdevAuxCount,
    ] {
        assert_eq!(c.fid(Abi::V2_0), None, "{c:?} is alp12 only");
    }
    for c in [
        Call::OpContinue,
        Call::PdevStreamConnect,
        Call::VdevLock,
        Call::VdevStart,
        Call::VdevGetInterfaceReport,
        Call::PdevStreamKeyRefresh,
    ] {
        assert_eq!(c.fid(Abi::Alp12), None, "{c:?} is 2.0 only");
    }
    assert_eq!(fid(0x150), 0xC400_0150);
    // Revision 2.0 = major << 16 | minor.
    assert_eq!(Abi::V2_0.revision().to_reg(), 0x0002_0000);
    assert_eq!(FEATURES_DA_INDEX, 2);
}

#[test]
fn result_words() {
    // §2: X0 bits 7:0 status, 15:8 index; INCOMPLETE: 9:8 memory request, 10 can_cancel.
    let cases = [
        (0x0000, Outcome::Success),
        (
            0x0001,
            Outcome::Failed {
                status: Status::ErrorInput,
                index: 0,
            },
        ),
        (
            0x0304, // ERROR_RTT at level 3
            Outcome::Failed {
                status: Status::ErrorRtt,
                index: 3,
            },
        ),
        (
            0x000A,
            Outcome::Failed {
                status: Status::Busy,
                index: 0,
            },
        ),
        (
            0x0010,
            Outcome::Failed {
                status: Status::ErrorGranule,
                index: 0,
            },
        ),
        (
            0x000D, // INCOMPLETE, NONE: OP_CONTINUE
            Outcome::Incomplete(Incomplete {
                mem_req: MemReq::None,
                can_cancel: false,
            }),
        ),
        (
            0x010D, // INCOMPLETE, DONATE (EP PDEV_CREATE)
            Outcome::Incomplete(Incomplete {
                mem_req: MemReq::Donate,
                can_cancel: false,
            }),
        ),
        (
            0x060D, // INCOMPLETE, RECLAIM, can_cancel
            Outcome::Incomplete(Incomplete {
                mem_req: MemReq::Reclaim,
                can_cancel: true,
            }),
        ),
        (u64::MAX, Outcome::SmcNotSupported), // SMCCC NOT_SUPPORTED (-1)
    ];
    for (x0, o) in cases {
        assert_eq!(Outcome::decode(x0), Ok(o), "{x0:#x}");
        assert_eq!(o.encode(), Ok(x0));
    }
    // Status codes 0..=16 in order.
    for (i, s) in Status::ALL.iter().enumerate() {
        assert_eq!(s.to_u8() as usize, i);
    }
    assert!(fails(Outcome::decode(0x11), "unknown"));
    assert!(fails(Outcome::decode(0x030D), "unknown"));
    assert!(fails(Outcome::decode(0x1_0000), "invalid"));
    assert_eq!(MemReq::Donate.follow_up(), Call::OpMemDonate);
}

#[test]
fn sro_words() {
    // RmiOpMemDonateReq: 1:0 size, 15:2 count, 16 contiguous, 17 state.
    let r = DonateReq {
        block: BlockSize::L3Page,
        count: 72,
        contiguous: false,
        state: MemState::Delegated,
    };
    assert_eq!(r.encode(), Ok(72 << 2));
    let r2 = DonateReq {
        block: BlockSize::L2Block,
        count: 3,
        contiguous: true,
        state: MemState::Undelegated,
    };
    let w2 = 1 | 3 << 2 | 1 << 16 | 1 << 17;
    assert_eq!(DonateReq::decode(w2), Ok(r2));
    assert_eq!(r2.encode(), Ok(w2));
    assert_eq!(r2.granules(), 3 * 512);
    // RmiAddrRangeDesc4KB: 1:0 size, 11:2 count, 51:12 PA in place, 63 state.
    let d = AddrRangeDesc {
        block: BlockSize::L3Page,
        count: 4,
        pa: 0x8_8000_0000,
        state: MemState::Undelegated,
    };
    let wd = 4 << 2 | 0x8_8000_0000 | 1 << 63;
    assert_eq!(d.encode(), Ok(wd));
    assert_eq!(AddrRangeDesc::decode(wd), Ok(d));
    // Bit 62 (Linux's 2-bit state) is refused rather than misread.
    assert!(AddrRangeDesc::decode(1 << 62).is_err());
    assert!(AddrRangeDesc { pa: 0x1001, ..d }.encode().is_err());
    assert!(AddrRangeDesc { count: 1024, ..d }.encode().is_err());
    // The list must not cross its granule: 512 entries fill one exactly.
    assert!(list_fits(0x1000, 512));
    assert!(!list_fits(0x1ff8, 2));
    assert!(!list_fits(0x1004, 1)); // not 8-byte aligned
    assert!(!list_fits(0x1008, u64::MAX)); // no overflow on a huge count
}

#[test]
fn pdev_params_2_0() {
    // §3 PDEV params, 2.0-bet2+ column.
    let mut want = page();
    put(&mut want, 0x00, 0b011, 8); // flags: SPDM, category 1 (off-chip EP)
    put(&mut want, 0x08, 0x4000_0000, 8); // hb_base
    put(&mut want, 0x10, 0x0100, 8); // pdev_id = BDF 01:00.0
    put(&mut want, 0x18, 0x0000, 8); // routing_id
    put(&mut want, 0x20, 0, 8); // id_index (cert slot)
    put(&mut want, 0x28, 0x0100, 4); // rid_base
    put(&mut want, 0x30, 0x0101, 4); // rid_top (exclusive)
    put(&mut want, 0x38, 1, 1); // hash_algo = SHA-512
    let p = PdevParams {
        flags: PdevFlags::new(Category::OffChipEndpoint, true),
        hb_base: 0x4000_0000,
        pdev_id: 0x0100,
        routing_id: 0,
        id_index: 0,
        rid_base: 0x0100,
        rid_top: 0x0101,
        hash_algo: HashAlgo::Sha512,
    };
    assert_eq!(encode(GRANULE_SIZE, |w| p.encode(w)), want);
    assert_eq!(PdevParams::decode(&want), Ok(p));
    assert_eq!(p.check(10), Ok(Category::OffChipEndpoint));
    // The fields alone decode; one byte short of them does not.
    assert_eq!(PdevParams::decode(&want[..0x40]), Ok(p));
    assert!(fails(PdevParams::decode(&want[..0x3f]), "truncated"));
    let mut long = want.clone();
    long.push(0);
    assert_eq!(
        PdevParams::decode(&long),
        Err(Error::TrailingBytes { count: 1 })
    );
    // hash_algo 3 is no algorithm.
    want[0x38] = 3;
    assert!(fails(PdevParams::decode(&want), "unknown"));
}

#[test]
fn pdev_params_checks() {
    let rp = PdevParams {
        flags: PdevFlags::new(Category::RootPort, false),
        hb_base: 0x4000_0000,
        pdev_id: 0,
        routing_id: 0,
        id_index: 0,
        rid_base: 0x100,
        rid_top: 0x101,
        hash_algo: HashAlgo::Sha256,
    };
    assert_eq!(rp.check(10), Ok(Category::RootPort));
    let status = |p: PdevParams| p.check(10).map_err(|e| e.status);
    let ep = PdevParams {
        flags: PdevFlags::new(Category::OffChipEndpoint, true),
        ..rp
    };
    assert_eq!(
        status(PdevParams {
            flags: PdevFlags::new(Category::OffChipEndpoint, false),
            ..rp
        }),
        Err(Status::NotSupported)
    );
    assert_eq!(
        status(PdevParams {
            flags: PdevFlags::new(Category::OnChipEndpoint, true),
            ..rp
        }),
        Err(Status::NotSupported)
    );
    assert_eq!(
        status(PdevParams {
            flags: PdevFlags::from_bits(PdevFlags::P2P),
            ..rp
        }),
        Err(Status::ErrorInput)
    );
    assert_eq!(
        status(PdevParams {
            routing_id: 0x1_0000,
            ..rp
        }),
        Err(Status::ErrorInput)
    );
    assert_eq!(
        status(PdevParams {
            rid_top: 0x100,
            ..ep
        }),
        Err(Status::ErrorInput)
    );
    // Span 2^10 - 1 is the most order 10 allows.
    assert!(status(PdevParams {
        rid_top: 0x100 + 1023,
        ..ep
    })
    .is_ok());
    assert_eq!(
        status(PdevParams {
            rid_top: 0x100 + 1024,
            ..ep
        }),
        Err(Status::ErrorInput)
    );
}

#[test]
fn pdev_params_alp12() {
    // §3 PDEV params, alp12 column.
    let mut want = page();
    put(&mut want, 0x00, 0b0011, 8); // flags: SPDM, IDE
    put(&mut want, 0x08, 0x0100, 8); // pdev_id
    put(&mut want, 0x10, 0, 1); // segment_id (u8)
    put(&mut want, 0x18, 0x4000_0000, 8); // ecam_addr
    put(&mut want, 0x20, 0x0008, 2); // root_id (u16)
    put(&mut want, 0x28, 0, 8); // cert_id
    put(&mut want, 0x30, 0x0100, 2); // rid_base (u16)
    put(&mut want, 0x38, 0x0101, 8); // rid_top
    put(&mut want, 0x40, 0, 1); // hash_algo SHA-256
    put(&mut want, 0x48, 2, 8); // num_aux
    put(&mut want, 0x50, 5, 8); // ide_sid
    put(&mut want, 0x58, 1, 8); // ncoh_num_addr_range
    put(&mut want, 0x60, 0, 8); // coh_num_addr_range
    put(&mut want, 0x100, 0x9000_0000, 8); // aux[0]
    put(&mut want, 0x108, 0x9000_1000, 8); // aux[1]
    put(&mut want, 0x200, 0x5000_0000, 8); // ncoh_addr_range[0].base
    put(&mut want, 0x208, 0x5010_0000, 8); // ncoh_addr_range[0].top
    let p = PdevParamsAlp12 {
        flags: PdevFlagsAlp12::from_bits(PdevFlagsAlp12::SPDM | PdevFlagsAlp12::IDE),
        pdev_id: 0x100,
        segment_id: 0,
        ecam_addr: 0x4000_0000,
        root_id: 8,
        cert_id: 0,
        rid_base: 0x100,
        rid_top: 0x101,
        hash_algo: HashAlgo::Sha256,
        ide_sid: 5,
        aux: List::from_slice("aux", &[0x9000_0000, 0x9000_1000]).unwrap(),
        ncoh_ranges: List::from_slice(
            "ncoh",
            &[AddrRange {
                base: 0x5000_0000,
                top: 0x5010_0000,
            }],
        )
        .unwrap(),
        coh_ranges: List::default(),
    };
    assert_eq!(encode(GRANULE_SIZE, |w| p.encode(w)), want);
    assert_eq!(PdevParamsAlp12::decode(&want), Ok(p));
    // 33 aux granules do not fit the 32-entry array.
    put(&mut want, 0x48, 33, 8);
    assert!(fails(PdevParamsAlp12::decode(&want), "invalid"));
}

#[test]
fn vdev_params() {
    // §3 VDEV params, 2.0 column.
    let mut want = page();
    put(&mut want, 0x00, 0, 8); // flags (TF-RMM requires 0)
    put(&mut want, 0x08, 0x0008, 8); // vdev_id = guest RID 00:01.0
    put(&mut want, 0x10, 0x0100, 8); // tdi_id = host RID 01:00.0
    put(&mut want, 0x20, 0, 8); // vsmmu_addr
    put(&mut want, 0x28, 0, 8); // vsid
    put(&mut want, 0x30, 2, 8); // num_addr_range
    put(&mut want, 0x200, 0x5000_0000, 8); // addr_range[0].base
    put(&mut want, 0x208, 0x5000_4000, 8); // addr_range[0].top
    put(&mut want, 0x210, 0x6000_0000, 8); // addr_range[1].base
    put(&mut want, 0x218, 0x6010_0000, 8); // addr_range[1].top
    let ranges = [
        AddrRange {
            base: 0x5000_0000,
            top: 0x5000_4000,
        },
        AddrRange {
            base: 0x6000_0000,
            top: 0x6010_0000,
        },
    ];
    let v = VdevParams {
        flags: VdevFlags::default(),
        vdev_id: 8,
        tdi_id: 0x100,
        vsmmu_addr: 0,
        vsid: 0,
        ranges: List::from_slice("r", &ranges).unwrap(),
    };
    assert_eq!(encode(GRANULE_SIZE, |w| v.encode(w)), want);
    assert_eq!(VdevParams::decode(&want), Ok(v));
    assert!(v.check(0x100, 0x101).is_ok());
    let status = |v: VdevParams| v.check(0x100, 0x101).map_err(|e| e.status);
    assert_eq!(
        status(VdevParams { tdi_id: 0x101, ..v }),
        Err(Status::ErrorInput)
    );
    assert_eq!(
        status(VdevParams {
            flags: VdevFlags::from_bits(VdevFlags::VSMMU),
            ..v
        }),
        Err(Status::ErrorInput)
    );
    let unsorted = [ranges[1], ranges[0]];
    assert_eq!(
        status(VdevParams {
            ranges: List::from_slice("r", &unsorted).unwrap(),
            ..v
        }),
        Err(Status::ErrorInput)
    );
    // At most 8 ranges.
    put(&mut want, 0x30, 9, 8);
    assert!(fails(VdevParams::decode(&want), "invalid"));
}

#[test]
fn vdev_params_alp12_and_measure_params() {
    // §3 VDEV params, alp12 column.
    let mut want = page();
    put(&mut want, 0x08, 8, 8); // vdev_id
    put(&mut want, 0x10, 0x100, 8); // tdi_id
    put(&mut want, 0x18, 1, 8); // num_aux
    put(&mut want, 0x100, 0x9000_0000, 8); // aux[0]
    let v = VdevParamsAlp12 {
        flags: 0,
        vdev_id: 8,
        tdi_id: 0x100,
        aux: List::from_slice("aux", &[0x9000_0000]).unwrap(),
    };
    assert_eq!(encode(GRANULE_SIZE, |w| v.encode(w)), want);
    assert_eq!(VdevParamsAlp12::decode(&want), Ok(v));

    // §3 measure params: 0x000 flags (b0 raw), 0x100 nonce[32].
    let mut want = page();
    put(&mut want, 0x000, 1, 8);
    for i in 0..32 {
        want[0x100 + i] = i as u8 + 1;
    }
    let mut nonce = [0u8; 32];
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    let m = MeasureParams {
        flags: MeasureParams::RAW,
        nonce,
    };
    assert_eq!(encode(GRANULE_SIZE, |w| m.encode(w)), want);
    assert_eq!(MeasureParams::decode(&want), Ok(m));
}

#[test]
fn pubkey_params() {
    // §3 public key: 0x000 key, 0x400 metadata, 0x800 key_len, 0x808 metadata_len,
    // 0x810 algo (u8).
    let point: Vec<u8> = (0..65u8).map(|i| i ^ 0x5a).collect();
    let mut want = page();
    want[..65].copy_from_slice(&point);
    put(&mut want, 0x800, 65, 8);
    put(&mut want, 0x808, 0, 8);
    put(&mut want, 0x810, 1, 1); // ECDSA-P256
    let p = PubkeyParams::ecdsa(SignatureAlgo::EcdsaP256, &point);
    assert_eq!(encode(GRANULE_SIZE, |w| p.encode(w)), want);
    assert_eq!(PubkeyParams::decode(&want), Ok(p));
    assert!(p.check().is_ok());
    assert_eq!(
        PubkeyParams::ecdsa(SignatureAlgo::EcdsaP384, &point)
            .check()
            .map_err(|e| e.status),
        Err(Status::ErrorInput)
    );

    // RSA: modulus and exponent with leading zeros stripped.
    let mut modulus = vec![0u8, 0];
    modulus.extend(std::iter::repeat_n(0xC3, 384));
    let rsa = PubkeyParams::rsa(&modulus, &[0, 1, 0, 1]);
    let mut want = page();
    want[..384].fill(0xC3);
    want[0x400..0x403].copy_from_slice(&[1, 0, 1]);
    put(&mut want, 0x800, 384, 8);
    put(&mut want, 0x808, 3, 8);
    put(&mut want, 0x810, 0, 1); // RSASSA-3072
    assert_eq!(encode(GRANULE_SIZE, |w| rsa.encode(w)), want);
    assert!(rsa.check().is_ok());
    // key_len 1025 is refused.
    put(&mut want, 0x800, 1025, 8);
    assert!(fails(PubkeyParams::decode(&want), "invalid"));
}

#[test]
fn realm_params() {
    // §1 "Detecting DA" (`flags0` bit 3 DA): the stand-in page is flags0 at 0x0, nothing
    // else.
    let mut want = page();
    want[0] = 0x08;
    let da = RealmParams { da: true };
    assert_eq!(encode(GRANULE_SIZE, |w| da.encode(w)), want);
    assert_eq!(RealmParams::decode(&want), Ok(da));
    let none = RealmParams { da: false };
    assert_eq!(encode(GRANULE_SIZE, |w| none.encode(w)), page());
    assert_eq!(RealmParams::decode(&page()), Ok(none));

    // Every other bit of flags0 and every other byte is ignored.
    let mut other = vec![0xFFu8; GRANULE_SIZE];
    put(&mut other, 0x0, !RealmParams::FLAGS0_DA, 8);
    assert_eq!(RealmParams::decode(&other), Ok(none));
    put(&mut other, 0x0, u64::MAX, 8);
    assert_eq!(RealmParams::decode(&other), Ok(da));

    // flags0 must be there; the page is no longer than a granule.
    assert!(fails(RealmParams::decode(&want[..7]), "truncated"));
    assert_eq!(RealmParams::decode(&want[..8]), Ok(da));
    let mut long = want.clone();
    long.push(0);
    assert_eq!(
        RealmParams::decode(&long),
        Err(Error::TrailingBytes { count: 1 })
    );
}

#[test]
fn stream_params_and_handle() {
    // §3 stream: 0x00 flags, 0x08 type (u8), 0x10 pdev_1 (EP), 0x18 pdev_2 (RP),
    // 0x20 ide_sid, 0x28 num_addr_range, 0x100 addr_range[16].
    let mut want = page();
    put(&mut want, 0x08, 1, 1); // NCOH
    put(&mut want, 0x10, 0x8_0000_1000, 8);
    put(&mut want, 0x18, 0x8_0000_2000, 8);
    put(&mut want, 0x20, 0, 8);
    put(&mut want, 0x28, 1, 8);
    put(&mut want, 0x100, 0x5000_0000, 8);
    put(&mut want, 0x108, 0x6000_0000, 8);
    let s = StreamParams {
        flags: 0,
        stream_type: StreamType::Ncoh,
        pdev_1: 0x8_0000_1000,
        pdev_2: 0x8_0000_2000,
        ide_sid: 0,
        ranges: List::from_slice(
            "r",
            &[AddrRange {
                base: 0x5000_0000,
                top: 0x6000_0000,
            }],
        )
        .unwrap(),
    };
    assert_eq!(encode(GRANULE_SIZE, |w| s.encode(w)), want);
    assert_eq!(StreamParams::decode(&want), Ok(s));
    put(&mut want, 0x28, 17, 8);
    assert!(StreamParams::decode(&want).is_err());
    // Handle = EP PDEV PA + type.
    assert_eq!(handle(0x8_0000_1000, StreamType::Ncoh), 0x8_0000_1001);
    assert_eq!(
        unpack_handle(0x8_0000_1001),
        Ok((0x8_0000_1000, StreamType::Ncoh))
    );
    assert!(unpack_handle(0x8_0000_1007).is_err());
}

#[test]
fn comm_enter() {
    // §3 RmiDevCommData enter half: 0x00 status (u8 in an 8-byte slot), 0x08 req_addr,
    // 0x10 resp_addr, 0x18 resp_len; the half is 0x800 bytes.
    let mut want = vec![0u8; HALF_LEN];
    put(&mut want, 0x00, 1, 1); // RESPONSE
    put(&mut want, 0x08, 0x8_1000_0000, 8);
    put(&mut want, 0x10, 0x8_1000_1000, 8);
    put(&mut want, 0x18, 0x24, 8);
    let e = CommEnter::response(0x8_1000_0000, 0x8_1000_1000, 0x24);
    assert_eq!(encode(HALF_LEN, |w| e.encode(w)), want);
    assert_eq!(CommEnter::decode(&want), Ok(e));
    // Written into a page, it leaves the exit half alone.
    let mut pg = vec![0xEEu8; GRANULE_SIZE];
    e.write_to_page(&mut pg).unwrap();
    assert_eq!(pg[..HALF_LEN], want[..]);
    assert!(pg[EXIT_OFFSET..].iter().all(|b| *b == 0xEE));
    // The RMM's checks.
    assert!(e.check(CommState::Active).is_ok());
    let status = |e: CommEnter, c| e.check(c).map_err(|x| x.status);
    assert_eq!(status(e, CommState::Pending), Err(Status::ErrorDevice));
    assert_eq!(
        status(
            CommEnter::response(0x8_1000_0000, 0x8_1000_1000, 0),
            CommState::Active
        ),
        Err(Status::ErrorInput)
    );
    assert_eq!(
        status(
            CommEnter::response(0x8_1000_0000, 0x8_1000_1000, 4097),
            CommState::Active
        ),
        Err(Status::ErrorInput)
    );
    assert_eq!(
        status(CommEnter::none(0x8_1000_0008, 0), CommState::Pending),
        Err(Status::ErrorInput)
    );
    assert!(CommEnter::none(0, 0).check(CommState::Pending).is_ok());
    // Status 3 is no status.
    want[0] = 3;
    assert!(CommEnter::decode(&want).is_err());
}

/// An exit half with `flags` and the other fields at the 2.0 offsets.
fn exit_2_0(flags: u64) -> Vec<u8> {
    let mut h = vec![0u8; HALF_LEN];
    put(&mut h, 0x00, flags, 8);
    put(&mut h, 0x08, 0x10, 8); // cache_req_offset
    put(&mut h, 0x10, 0x20, 8); // cache_req_len
    put(&mut h, 0x18, 0x00, 8); // cache_rsp_offset
    put(&mut h, 0x20, 0x40, 8); // cache_rsp_len
    put(&mut h, 0x28, 1, 1); // cache_obj_id CERTIFICATE
    put(&mut h, 0x30, 1, 1); // protocol SECURE_SPDM
    put(&mut h, 0x38, 100, 8); // req_delay (µs)
    put(&mut h, 0x40, 0x30, 8); // req_len
    put(&mut h, 0x48, 2000, 8); // timeout (ms)
    h
}

#[test]
fn comm_exit_2_0_and_decision() {
    // Flags: REQ_CACHE (b0) | RSP_CACHE (b1) | REQ_SEND (b2).
    let h = exit_2_0(0b111);
    let x = CommExit::decode(Abi::V2_0, &h).unwrap();
    assert_eq!(
        x,
        CommExit {
            flags: ExitFlags::from_bits(0b111),
            cache_req_offset: 0x10,
            cache_req_len: 0x20,
            cache_rsp_offset: 0,
            cache_rsp_len: 0x40,
            cache_obj_id: 1,
            protocol: 1,
            req_delay_us: 100,
            req_len: 0x30,
            timeout_ms: 2000,
        }
    );
    assert_eq!(encode(HALF_LEN, |w| x.encode(Abi::V2_0, w)), h);
    let plan = x.decide().unwrap();
    assert_eq!(
        plan.cache_req,
        Some(CacheSlice {
            object: CacheObject::Certificate,
            offset: 0x10,
            len: 0x20
        })
    );
    assert_eq!(plan.cache_req.unwrap().range(), 0x10..0x30);
    assert_eq!(plan.cache_rsp.map(|c| c.range()), Some(0..0x40));
    let send = plan.send.unwrap();
    assert_eq!(send.protocol, Protocol::SecureSpdm);
    assert_eq!(send.protocol.doe_kind().object_type(), 2);
    assert_eq!(
        (send.req_len, send.delay_us, send.timeout_ms),
        (0x30, 100, 2000)
    );
    assert_eq!(plan.next, Next::Continue);
    assert_eq!(plan.wait_response_ms, None);

    // A whole page: the exit half is read from 0x800.
    let mut pg = page();
    pg[EXIT_OFFSET..].copy_from_slice(&h);
    assert_eq!(CommExit::decode_page(Abi::V2_0, &pg), Ok(x));
}

#[test]
fn comm_exit_decision_table() {
    let decide = |flags: u64| {
        CommExit::decode(Abi::V2_0, &exit_2_0(flags))
            .unwrap()
            .decide()
            .unwrap()
    };
    // All zero: the operation ended (TF-RMM's final exit).
    let done = decide(0);
    assert_eq!(done.next, Next::Done);
    assert!(done.cache_req.is_none() && done.cache_rsp.is_none() && done.send.is_none());
    // RSP_WAIT (b3) carries the timeout and keeps the loop going.
    let wait = decide(1 << 3);
    assert_eq!(
        (wait.wait_response_ms, wait.next),
        (Some(2000), Next::Continue)
    );
    // RSP_RESET (b4) alone is reported and does not loop.
    let reset = decide(1 << 4);
    assert!(reset.reset_response);
    assert_eq!(reset.next, Next::Done);
    // MULTI (b5) alone loops.
    assert_eq!(decide(1 << 5).next, Next::Continue);
    // STREAM_WAIT (b6) wins over the loop flags.
    assert_eq!(decide(1 << 6 | 1 << 5).next, Next::StreamWait);
    // Plain SPDM is DOE type 1.
    let mut h = exit_2_0(1 << 2);
    h[0x30] = 0;
    let x = CommExit::decode(Abi::V2_0, &h).unwrap();
    assert_eq!(
        x.decide()
            .unwrap()
            .send
            .unwrap()
            .protocol
            .doe_kind()
            .object_type(),
        1
    );
    // Reserved flag bits are ignored.
    assert_eq!(decide(1 << 40).next, Next::Done);

    // Refusals: a slice leaving the 4 KiB buffer, req_len 0 or above 4096, an unknown
    // object or protocol the flags need.
    let refuse = |h: Vec<u8>| CommExit::decode(Abi::V2_0, &h).unwrap().decide();
    let mut h = exit_2_0(1);
    put(&mut h, 0x08, 4090, 8);
    assert!(fails(refuse(h), "invalid"));
    let mut h = exit_2_0(1);
    put(&mut h, 0x08, u64::MAX, 8);
    assert!(fails(refuse(h), "invalid"));
    let mut h = exit_2_0(1 << 2);
    put(&mut h, 0x40, 0, 8);
    assert!(fails(refuse(h), "invalid"));
    let mut h = exit_2_0(1 << 2);
    put(&mut h, 0x40, 4097, 8);
    assert!(fails(refuse(h), "invalid"));
    let mut h = exit_2_0(1 << 2);
    h[0x30] = 2;
    assert!(fails(refuse(h), "unknown"));
    let mut h = exit_2_0(1 << 1);
    h[0x28] = 4;
    assert!(fails(refuse(h), "unknown"));
    // ...but an unknown object is fine when nothing is cached.
    let mut h = exit_2_0(1 << 2);
    h[0x28] = 0xff;
    assert!(refuse(h).is_ok());
}

#[test]
fn comm_exit_alp12() {
    // alp12 exit: req_len at 0x38, timeout at 0x40, no req_delay; flags b2 SEND, b4 MULTI.
    let mut h = vec![0u8; HALF_LEN];
    put(&mut h, 0x00, 1 << 2 | 1 << 4, 8);
    put(&mut h, 0x30, 0, 1); // SPDM
    put(&mut h, 0x38, 0x20, 8); // req_len
    put(&mut h, 0x40, 500, 8); // timeout
    let x = CommExit::decode(Abi::Alp12, &h).unwrap();
    assert_eq!(
        x.flags,
        ExitFlags::from_bits(ExitFlags::REQ_SEND | ExitFlags::MULTI)
    );
    assert_eq!((x.req_delay_us, x.req_len, x.timeout_ms), (0, 0x20, 500));
    assert_eq!(encode(HALF_LEN, |w| x.encode(Abi::Alp12, w)), h);
    // The same bytes read as 2.0 put the request length in the delay slot.
    let y = CommExit::decode(Abi::V2_0, &h).unwrap();
    assert_eq!((y.req_delay_us, y.req_len), (0x20, 500));
    assert!(y.flags.contains(ExitFlags::RSP_RESET));
    // alp12 has no STREAM_WAIT or request delay.
    assert!(encode_err(|w| CommExit {
        req_delay_us: 1,
        ..x
    }
    .encode(Abi::Alp12, w)));
    assert!(encode_err(|w| CommExit {
        flags: ExitFlags::from_bits(ExitFlags::STREAM_WAIT),
        ..x
    }
    .encode(Abi::Alp12, w)));
    assert_eq!(CommExit::extent(Abi::Alp12), 0x48);
    assert!(CommExit::decode(Abi::Alp12, &h[..0x48]).is_ok());
    assert!(CommExit::decode(Abi::V2_0, &h[..0x48]).is_err());
}

fn encode_err(f: impl FnOnce(&mut Writer<'_>) -> tsm_proto::codec::Result<()>) -> bool {
    let mut buf = vec![0u8; HALF_LEN];
    f(&mut Writer::new(&mut buf)).is_err()
}

#[test]
fn states_and_features() {
    // §4 state values.
    let pdev = [0, 1, 2, 3, 4, 5].map(|v| PdevState::from_reg(v).unwrap());
    assert_eq!(
        pdev,
        [
            PdevState::New,
            PdevState::NeedsKey,
            PdevState::HasKey,
            PdevState::Ready,
            PdevState::Stopped,
            PdevState::Error
        ]
    );
    assert!(PdevState::from_reg(6).is_err());
    assert!(PdevState::from_reg(0x103).is_err());
    assert_eq!(PdevStateAlp12::from_u8(7), Ok(PdevStateAlp12::Stopped));
    assert_eq!(PdevStateAlp12::from_u8(8), Ok(PdevStateAlp12::Error));
    let vdev = [0, 1, 2, 3, 4, 5, 6].map(|v| VdevState::from_reg(v).unwrap());
    assert_eq!(
        vdev,
        [
            VdevState::New,
            VdevState::Unlocked,
            VdevState::Locked,
            VdevState::Started,
            VdevState::Error,
            VdevState::KeyRefresh,
            VdevState::KeyPurge
        ]
    );
    assert!(VdevState::from_reg(7).is_err());
    assert_eq!(VdevStateAlp12::from_u8(3), Ok(VdevStateAlp12::Stopped));

    // Feature register 2: b0 DA, b1 DA_COH, b2 VSMMU, b3 ATS, 7:4 max VDEVs order, b8
    // VDEV_KROU, b9 NON_TEE_STREAM, 14:10 Realm max VDEVs order.
    let f = DaFeatures::decode(0b1 | 10 << 4 | 1 << 8 | 3 << 10);
    assert_eq!(
        f,
        DaFeatures {
            da: true,
            max_vdevs_order: 10,
            vdev_krou: true,
            realm_max_vdevs_order: 3,
            ..DaFeatures::default()
        }
    );
    assert_eq!(f.encode(), 0b1 | 10 << 4 | 1 << 8 | 3 << 10);
    assert!(!DaFeatures::decode(0b1110).da);

    // VERSION: X1 lower, X2 higher; unsupported is ERROR_INPUT with X1 the highest.
    let v = VersionOutput::decode(0, 0x2_0000, 0x2_0000).unwrap();
    assert!(v.supported && v.lower == Revision::V2_0);
    let v = VersionOutput::decode(1, 0x1_0000, 0x1_0000).unwrap();
    assert!(!v.supported);
    assert!(VersionOutput::decode(u64::MAX, 0, 0).is_err());
    assert_eq!(tsm_proto::rmi::features::REALM_FLAGS0_DA, 8);
}
