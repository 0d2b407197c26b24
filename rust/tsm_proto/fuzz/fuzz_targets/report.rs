// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the device interface report: assembly from portions, parsing, re-encoding and
//! validation against a fuzzer-derived BAR list; accepted ranges must satisfy the
//! validator's promises.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::encoded;
use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Reader;
use tsm_proto::report::{
    validate, BarInfo, FirstPageUnit, InterfaceReport, MsixLayout, ReportAssembler,
    ValidationParams, PAGE_SIZE,
};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let Ok(flags) = r.u8() else { return };
    let mut bars = Vec::new();
    for _ in 0..(flags & 0x7).min(6) {
        let (Ok(index), Ok(base_pages), Ok(log2)) = (r.u8(), r.u32(), r.u8()) else {
            return;
        };
        let size = 1u64 << (log2 % 40);
        bars.push(BarInfo {
            index: index % 8,
            base: (u64::from(base_pages) << 12) & !(size - 1),
            size,
            is_64bit: log2 & 0x80 != 0,
            prefetchable: log2 & 0x40 != 0,
        });
    }
    let Ok(offset) = r.u64() else { return };
    let msix = if flags & 0x8 != 0 {
        let (Ok(tb), Ok(to), Ok(n), Ok(pb), Ok(po)) = (r.u8(), r.u32(), r.u16(), r.u8(), r.u32())
        else {
            return;
        };
        Some(MsixLayout {
            table_bar: tb % 8,
            table_offset: to,
            table_entries: n % 2049,
            pba_bar: pb % 8,
            pba_offset: po,
        })
    } else {
        None
    };
    let Ok(chunk) = r.u8() else { return };
    let report = r.rest();

    // Assemble the report in portions of `chunk` bytes.
    let mut buf = vec![0u8; report.len()];
    let mut asm = ReportAssembler::new(&mut buf);
    let step = usize::from(chunk).max(1);
    let mut pos = 0;
    while let Some((off, len)) = asm.next_request(u16::from(chunk).max(1)) {
        assert_eq!(usize::from(off), pos);
        let end = (pos + step).min(report.len()).min(pos + usize::from(len));
        let rem = report.len() - end;
        let Ok(rem) = u16::try_from(rem) else { break };
        if asm.feed(off, len, &report[pos..end], rem).is_err() {
            break;
        }
        pos = end;
    }
    if let Some(assembled) = asm.report() {
        assert_eq!(assembled, report);
    }

    let Ok(parsed) = InterfaceReport::parse(report) else {
        return;
    };
    let out = encoded(report.len(), |w| parsed.encode(w));
    assert_eq!(out.len(), report.len());
    assert_eq!(InterfaceReport::parse(&out), Ok(parsed));
    assert_eq!(parsed.ranges().count(), parsed.range_count());

    let params = ValidationParams {
        bars: &bars,
        mmio_reporting_offset: offset,
        unit: if flags & 0x10 != 0 {
            FirstPageUnit::PageNumber
        } else {
            FirstPageUnit::ByteAddress
        },
        msix,
        msix_locked: flags & 0x20 != 0,
    };
    if let Ok(ranges) = validate(&parsed, &params) {
        let mut n = 0;
        let mut prev_end: Option<(u8, u64)> = None;
        for m in ranges {
            n += 1;
            assert!(m.size > 0 && m.size % PAGE_SIZE == 0 && m.phys % PAGE_SIZE == 0);
            let bar = bars
                .iter()
                .find(|b| b.index == m.bar)
                .expect("range in a BAR");
            assert_eq!(m.phys, bar.base + m.offset);
            assert_eq!(u16::from(m.bar), m.range_id);
            if let Some((b, e)) = prev_end {
                assert!(m.bar > b || (m.bar == b && m.offset >= e));
            }
            prev_end = Some((m.bar, m.offset + m.size));
        }
        assert_eq!(n, parsed.range_count());
    }
});
