// SPDX-License-Identifier: GPL-2.0

//! Device interface report tests: a golden report, truncation, assembly from portions,
//! every validator rejection, and proptests.
//!
//! The golden report was written by hand from PCIe Base 6.x §11.3.11 Table 11-15 "TDI
//! Report Structure": INTERFACE_INFO (2), reserved (2), MSI_X_MESSAGE_CONTROL (2),
//! LNR_CONTROL (2), TPH_CONTROL (4), MMIO_RANGE_COUNT (4), MMIO_RANGE[N] (16 each:
//! FIRST_PAGE 8, number of pages 4, attributes 15:0 + range ID 31:16),
//! DEVICE_SPECIFIC_INFO_LEN (4), DEVICE_SPECIFIC_INFO.

mod common;

use proptest::prelude::*;
use tsm_proto::codec::Writer;
use tsm_proto::report::*;
use tsm_proto::tdisp::{MmioAttributes, MmioRange};

/// MMIO_REPORTING_OFFSET used by the golden report.
const OFFSET: u64 = 0x1_0000_0000;

/// Interface info DMA without PASID (0002h); MSI-X control 8003h (enabled, 4 entries);
/// two ranges: BAR0 at 0xFE00_0000 (+ offset) 2 pages TEE memory (range id 0), and
/// BAR2 page 0xFE10_0000 (+ offset) flagged MSI-X table + PBA (0003h, range id 2);
/// device-specific info 2 bytes.
const GOLDEN: &[u8] = &[
    0x02, 0x00, 0x00, 0x00, 0x03, 0x80, 0x00, 0x00, // info, rsvd, msix ctl, lnr
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // tph, count = 2
    0x00, 0x00, 0x00, 0xfe, 0x01, 0x00, 0x00, 0x00, // first page 0x1_FE00_0000
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 2 pages, attrs 0, id 0
    0x00, 0x00, 0x10, 0xfe, 0x01, 0x00, 0x00, 0x00, // first page 0x1_FE10_0000
    0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, // 1 page, table|pba, id 2
    0x02, 0x00, 0x00, 0x00, 0x5a, 0xa5, // dsi len 2, bytes
];

fn bars() -> [BarInfo; 2] {
    [
        BarInfo {
            index: 0,
            base: 0xfe00_0000,
            size: 0x10_0000,
            is_64bit: true,
            prefetchable: false,
        },
        BarInfo {
            index: 2,
            base: 0xfe10_0000,
            size: 0x4000,
            is_64bit: false,
            prefetchable: false,
        },
    ]
}

fn msix() -> MsixLayout {
    MsixLayout {
        table_bar: 2,
        table_offset: 0,
        table_entries: 4,
        pba_bar: 2,
        pba_offset: 0x800,
    }
}

fn params(bars: &[BarInfo]) -> ValidationParams<'_> {
    ValidationParams {
        bars,
        mmio_reporting_offset: OFFSET,
        unit: FirstPageUnit::ByteAddress,
        msix: Some(msix()),
        msix_locked: true,
    }
}

fn range(page: u64, pages: u32, attrs: u16, id: u16) -> MmioRange {
    MmioRange {
        first_page: page + OFFSET,
        number_of_pages: pages,
        attributes: MmioAttributes::from_bits(attrs),
        range_id: id,
    }
}

fn build(ranges: &[MmioRange], msix_ctl: u16) -> Vec<u8> {
    common::encoded(64 + ranges.len() * 16, |w| {
        InterfaceReport::write_parts(w, InterfaceInfo::from_bits(2), msix_ctl, 0, 0, ranges, &[])
    })
}

fn check(ranges: &[MmioRange]) -> Result<Vec<MappedRange>, ReportError> {
    let bytes = build(ranges, 0x8003);
    let r = InterfaceReport::parse(&bytes).unwrap();
    let b = bars();
    validate(&r, &params(&b)).map(|it| it.collect())
}

fn good() -> Vec<MmioRange> {
    vec![range(0xfe00_0000, 2, 0, 0), range(0xfe10_0000, 1, 3, 2)]
}

#[test]
fn golden_report_parses_and_validates() {
    let r = InterfaceReport::parse(GOLDEN).unwrap();
    assert!(r.interface_info.contains(InterfaceInfo::DMA_WITHOUT_PASID));
    assert_eq!(r.msix_message_control, 0x8003);
    assert_eq!(r.range_count(), 2);
    assert_eq!(r.device_specific, &[0x5a, 0xa5]);
    assert_eq!(
        build(&good(), 0x8003)[..GOLDEN.len() - 6],
        GOLDEN[..GOLDEN.len() - 6]
    );
    assert_eq!(common::encoded(GOLDEN.len(), |w| r.encode(w)), GOLDEN);
    let b = bars();
    let v: Vec<_> = validate(&r, &params(&b)).unwrap().collect();
    assert_eq!(
        v,
        vec![
            MappedRange {
                index: 0,
                bar: 0,
                offset: 0,
                phys: 0xfe00_0000,
                size: 0x2000,
                attributes: MmioAttributes::from_bits(0),
                range_id: 0
            },
            MappedRange {
                index: 1,
                bar: 2,
                offset: 0,
                phys: 0xfe10_0000,
                size: 0x1000,
                attributes: MmioAttributes::from_bits(3),
                range_id: 2
            },
        ]
    );
}

#[test]
fn golden_truncation_at_every_length() {
    common::assert_prefixes_refused(GOLDEN, |b| InterfaceReport::parse(b).err());
    let mut longer = GOLDEN.to_vec();
    longer.push(0);
    assert!(InterfaceReport::parse(&longer).is_err());
}

#[test]
fn page_number_unit() {
    let mut rs = good();
    for r in &mut rs {
        r.first_page = (r.first_page - OFFSET + OFFSET) / PAGE_SIZE;
    }
    let bytes = build(&rs, 0x8003);
    let r = InterfaceReport::parse(&bytes).unwrap();
    let b = bars();
    let p = ValidationParams {
        unit: FirstPageUnit::PageNumber,
        ..params(&b)
    };
    assert_eq!(validate(&r, &p).unwrap().count(), 2);
    // A page number too large to be an address.
    let bytes = build(
        &[MmioRange {
            first_page: u64::MAX,
            ..rs[0]
        }],
        0,
    );
    let r = InterfaceReport::parse(&bytes).unwrap();
    let p = ValidationParams { msix: None, ..p };
    assert!(matches!(
        validate(&r, &p),
        Err(ReportError::AddressOverflow { range: 0 })
    ));
}

#[test]
fn negative_offset_is_twos_complement() {
    let off = 0u64.wrapping_sub(0x1000_0000); // -256 MiB
    let rs = [MmioRange {
        first_page: 0xfe00_0000u64.wrapping_add(off),
        number_of_pages: 1,
        attributes: MmioAttributes::default(),
        range_id: 0,
    }];
    let bytes = build(&rs, 0);
    let r = InterfaceReport::parse(&bytes).unwrap();
    let b = bars();
    let p = ValidationParams {
        mmio_reporting_offset: off,
        msix: None,
        msix_locked: false,
        ..params(&b)
    };
    assert_eq!(validate(&r, &p).unwrap().next().unwrap().phys, 0xfe00_0000);
}

#[test]
fn rejects_misaligned() {
    let mut rs = good();
    rs[0].first_page += 0x800;
    assert_eq!(check(&rs), Err(ReportError::Misaligned { range: 0 }));
}

#[test]
fn rejects_zero_length() {
    let mut rs = good();
    rs[1].number_of_pages = 0;
    assert_eq!(check(&rs), Err(ReportError::ZeroLength { range: 1 }));
}

#[test]
fn rejects_outside_bars() {
    let mut rs = good();
    rs[0].number_of_pages = 0x101; // one page past the 1 MiB BAR0
    assert_eq!(check(&rs), Err(ReportError::OutsideBars { range: 0 }));
    let rs = [range(0x1000, 1, 0, 0)];
    assert_eq!(check(&rs), Err(ReportError::OutsideBars { range: 0 }));
}

#[test]
fn rejects_address_overflow() {
    let rs = [MmioRange {
        first_page: OFFSET.wrapping_sub(0x1000),
        number_of_pages: 2,
        attributes: MmioAttributes::default(),
        range_id: 0,
    }];
    assert_eq!(check(&rs), Err(ReportError::AddressOverflow { range: 0 }));
}

#[test]
fn rejects_overlap_and_disorder() {
    let rs = [
        range(0xfe00_0000, 2, 0, 0),
        range(0xfe00_1000, 1, 0, 0),
        range(0xfe10_0000, 1, 3, 2),
    ];
    assert_eq!(check(&rs), Err(ReportError::Overlap { range: 1 }));
    let rs = [
        range(0xfe00_2000, 1, 0, 0),
        range(0xfe00_0000, 1, 0, 0),
        range(0xfe10_0000, 1, 3, 2),
    ];
    assert_eq!(check(&rs), Err(ReportError::OutOfOrder { range: 1 }));
    let rs = [range(0xfe10_0000, 1, 3, 2), range(0xfe00_0000, 1, 0, 0)];
    assert_eq!(check(&rs), Err(ReportError::OutOfOrder { range: 1 }));
    // Identical ranges overlap.
    let rs = [range(0xfe00_0000, 1, 0, 0), range(0xfe00_0000, 1, 0, 0)];
    assert_eq!(check(&rs), Err(ReportError::Overlap { range: 1 }));
}

#[test]
fn rejects_range_id_not_bar() {
    let mut rs = good();
    rs[0].range_id = 1;
    assert_eq!(
        check(&rs),
        Err(ReportError::RangeIdMismatch {
            range: 0,
            range_id: 1,
            bar: 0
        })
    );
}

#[test]
fn rejects_msix_inconsistencies() {
    // Table flag on a range that does not map the table.
    let rs = [range(0xfe00_0000, 1, 1, 0), range(0xfe10_0000, 1, 3, 2)];
    assert_eq!(check(&rs), Err(ReportError::MsixTableMismatch { range: 0 }));
    // PBA flag on a range that does not map the PBA.
    let rs = [range(0xfe00_0000, 1, 2, 0), range(0xfe10_0000, 1, 3, 2)];
    assert_eq!(check(&rs), Err(ReportError::MsixPbaMismatch { range: 0 }));
    // The table page reported without the flags.
    let rs = [range(0xfe00_0000, 1, 0, 0), range(0xfe10_0000, 1, 0, 2)];
    assert_eq!(check(&rs), Err(ReportError::MsixNotFlagged { range: 1 }));
    // LOCK_MSIX but the table/PBA not reported.
    let rs = [range(0xfe00_0000, 1, 0, 0)];
    assert_eq!(check(&rs), Err(ReportError::MsixTableNotCovered));
    // Table reported, PBA (on its own page here) not.
    let bytes = build(&[range(0xfe10_0000, 1, 1, 2)], 0x8003);
    let r = InterfaceReport::parse(&bytes).unwrap();
    let b = bars();
    let p = ValidationParams {
        msix: Some(MsixLayout {
            pba_offset: 0x2000,
            ..msix()
        }),
        ..params(&b)
    };
    assert_eq!(validate(&r, &p).err(), Some(ReportError::MsixPbaNotCovered));
    // Without LOCK_MSIX, not reporting them is fine.
    let p = ValidationParams {
        msix_locked: false,
        ..params(&b)
    };
    let bytes = build(&[range(0xfe00_0000, 1, 0, 0)], 0);
    let r = InterfaceReport::parse(&bytes).unwrap();
    assert!(validate(&r, &p).is_ok());
    // A function without MSI-X: flags and message control are both rejected.
    let p = ValidationParams {
        msix: None,
        msix_locked: false,
        ..params(&b)
    };
    let bytes = build(&good(), 0);
    let r = InterfaceReport::parse(&bytes).unwrap();
    assert_eq!(
        validate(&r, &p).err(),
        Some(ReportError::MsixWithoutCapability { range: Some(1) })
    );
    let bytes = build(&[range(0xfe00_0000, 1, 0, 0)], 0x8003);
    let r = InterfaceReport::parse(&bytes).unwrap();
    assert_eq!(
        validate(&r, &p).err(),
        Some(ReportError::MsixWithoutCapability { range: None })
    );
}

#[test]
fn rejects_bad_bars() {
    let bytes = build(&good(), 0x8003);
    let r = InterfaceReport::parse(&bytes).unwrap();
    // `bars()` with its second BAR changed by `change`.
    let refused = |change: fn(&mut BarInfo)| {
        let mut b = bars();
        change(&mut b[1]);
        validate(&r, &params(&b)).err()
    };
    let invalid = |bar| Some(ReportError::InvalidBar { bar });
    assert_eq!(refused(|b| b.index = 6), invalid(6));
    assert_eq!(refused(|b| b.size = 0x3000), invalid(2));
    assert_eq!(refused(|b| b.index = 0), invalid(0));
    assert_eq!(
        refused(|b| b.base = 0xfe08_0000),
        Some(ReportError::OverlappingBars { a: 0, b: 2 })
    );
    let b = [BarInfo {
        index: 0,
        base: 0,
        size: 0,
        is_64bit: false,
        prefetchable: false,
    }];
    assert_eq!(validate(&r, &params(&b)).err(), invalid(0));
}

#[test]
fn small_bar_owns_its_page() {
    let b = [BarInfo {
        index: 1,
        base: 0xfe20_0000,
        size: 0x100,
        is_64bit: false,
        prefetchable: false,
    }];
    let bytes = build(&[range(0xfe20_0000, 1, 0, 1)], 0);
    let r = InterfaceReport::parse(&bytes).unwrap();
    let p = ValidationParams {
        msix: None,
        msix_locked: false,
        ..params(&b)
    };
    assert_eq!(validate(&r, &p).unwrap().count(), 1);
}

#[test]
fn assembler_rejections() {
    let mut buf = [0u8; 16];
    let mut a = ReportAssembler::new(&mut buf);
    assert_eq!(
        a.feed(1, 4, &[1], 0),
        Err(ReportError::OffsetMismatch {
            expected: 0,
            got: 1
        })
    );
    assert_eq!(
        a.feed(0, 1, &[1, 2], 0),
        Err(ReportError::PortionTooLong {
            requested: 1,
            got: 2
        })
    );
    assert_eq!(a.feed(0, 4, &[], 3), Err(ReportError::EmptyPortion));
    assert_eq!(
        a.feed(0, 4, &[1, 2], 20),
        Err(ReportError::ReportTooLarge { needed: 22 })
    );
    assert_eq!(a.received(), 0);
    assert!(a.report().is_none());
    assert_eq!(a.feed(0, 4, &[], 0), Ok(Progress::Complete { len: 0 }));
    assert_eq!(a.report(), Some(&[][..]));
    assert_eq!(a.next_request(4), None);
}

#[test]
fn assembler_offset_limit() {
    let mut buf = vec![0u8; 0x2_0000];
    let mut a = ReportAssembler::new(&mut buf);
    let chunk = vec![0u8; 0xffff];
    assert!(a.feed(0, 0xffff, &chunk, 0xffff).is_ok());
    // The next offset would be 0xFFFF: still representable.
    assert_eq!(a.next_request(0xffff), Some((0xffff, 0xffff)));
    assert_eq!(
        a.feed(0xffff, 0xffff, &chunk, 0),
        Ok(Progress::Complete { len: 0x1_fffe })
    );
    let mut buf = vec![0u8; 0x3_0000];
    let mut a = ReportAssembler::new(&mut buf);
    let big = vec![0u8; 0xffff];
    a.feed(0, 0xffff, &big, 0xffff).unwrap();
    // The next offset would be 0x10000, beyond what a request can name: rejected when
    // the portion arrives rather than leaving the assembly stuck.
    assert_eq!(
        a.feed(0xffff, 0xffff, &big[..1], 0xfffe),
        Err(ReportError::ReportTooLarge { needed: 0x1_fffe })
    );
}

proptest! {
    #[test]
    fn assembler_reassembles_any_split(report in proptest::collection::vec(any::<u8>(), 0..600), chunk in 1u16..100) {
        let mut buf = vec![0u8; report.len()];
        let mut a = ReportAssembler::new(&mut buf);
        let mut pos = 0usize;
        while let Some((off, len)) = a.next_request(chunk) {
            prop_assert_eq!(usize::from(off), pos);
            let end = (pos + usize::from(len)).min(report.len());
            let rem = (report.len() - end) as u16;
            a.feed(off, len, &report[pos..end], rem).unwrap();
            pos = end;
        }
        prop_assert_eq!(a.report(), Some(&report[..]));
    }

    #[test]
    fn parse_round_trips(
        info in any::<u16>(), msix_ctl in any::<u16>(), lnr in any::<u16>(), tph in any::<u32>(),
        ranges in proptest::collection::vec((any::<u64>(), any::<u32>(), any::<u16>(), any::<u16>()), 0..20),
        dsi in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let rs: Vec<MmioRange> = ranges.iter().map(|&(p, n, a, id)| MmioRange {
            first_page: p, number_of_pages: n, attributes: MmioAttributes::from_bits(a), range_id: id,
        }).collect();
        let mut buf = vec![0u8; 20 + rs.len() * 16 + dsi.len()];
        let mut w = Writer::new(&mut buf);
        InterfaceReport::write_parts(&mut w, InterfaceInfo::from_bits(info), msix_ctl, lnr, tph, &rs, &dsi).unwrap();
        prop_assert_eq!(w.finish(), buf.len());
        let r = InterfaceReport::parse(&buf).unwrap();
        prop_assert_eq!(r.ranges().collect::<Vec<_>>(), rs);
        prop_assert_eq!(r.device_specific, &dsi[..]);
        prop_assert_eq!((r.msix_message_control, r.lnr_control, r.tph_control), (msix_ctl, lnr, tph));
    }

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), off in any::<u64>()) {
        if let Ok(r) = InterfaceReport::parse(&data) {
            let b = bars();
            let p = ValidationParams { mmio_reporting_offset: off, ..params(&b) };
            if let Ok(it) = validate(&r, &p) {
                prop_assert_eq!(it.count(), r.range_count());
            }
        }
    }

    #[test]
    fn valid_layouts_are_accepted(pages in proptest::collection::vec((1u32..4, 0u64..4), 1..8)) {
        // Build ascending, non-overlapping ranges in BAR0 separated by gaps.
        let mut rs = Vec::new();
        let mut at = 0xfe00_0000u64;
        for (n, gap) in pages {
            at += gap * PAGE_SIZE;
            rs.push(range(at, n, 0, 0));
            at += u64::from(n) * PAGE_SIZE;
        }
        rs.push(range(0xfe10_0000, 1, 3, 2));
        let v = check(&rs).unwrap();
        prop_assert_eq!(v.len(), rs.len());
    }
}
