// SPDX-License-Identifier: GPL-2.0

//! The device interface report the DSM writes for GET_DEVICE_INTERFACE_REPORT: MMIO
//! ranges from the BARs and the MSI-X layout.

use tsm_proto::report::{BarInfo, FirstPageUnit, InterfaceInfo, InterfaceReport, MsixLayout};
use tsm_proto::tdisp::{MmioAttributes, MmioRange};
use tsm_proto::{codec, tdisp};

use super::Dsm;

impl Dsm {
    /// The device interface report of a TDI locked with `mmio_offset`.
    pub fn report(&self, mmio_offset: u64) -> codec::Result<Vec<u8>> {
        let ranges = build_ranges(
            &self.cfg.bars,
            self.cfg.msix.as_ref(),
            mmio_offset,
            self.cfg.first_page_unit,
        );
        let mut out = vec![0u8; 32 + ranges.len() * tdisp::MMIO_RANGE_LEN];
        let mut w = codec::Writer::new(&mut out);
        let msix_ctl = self
            .cfg
            .msix
            .map_or(0, |m| m.table_entries.saturating_sub(1) & 0x7ff);
        InterfaceReport::write_parts(
            &mut w,
            InterfaceInfo::from_bits(InterfaceInfo::DMA_WITHOUT_PASID),
            msix_ctl,
            0,
            0,
            &ranges,
            &[],
        )?;
        let n = w.finish();
        out.truncate(n);
        Ok(out)
    }
}

/// Splits every BAR into page-granular MMIO ranges, flagging the pages holding the
/// MSI-X table and PBA, in BAR and address order, RANGE_ID = BAR index.
pub fn build_ranges(
    bars: &[BarInfo],
    msix: Option<&MsixLayout>,
    mmio_offset: u64,
    unit: FirstPageUnit,
) -> Vec<MmioRange> {
    const PAGE: u64 = 4096;
    let mut sorted: Vec<&BarInfo> = bars.iter().collect();
    sorted.sort_by_key(|b| b.index);
    let mut out = Vec::new();
    for b in sorted {
        let size = b.size.div_ceil(PAGE) * PAGE;
        let mut cuts = vec![0, size];
        let mut regions = Vec::new();
        if let Some(m) = msix {
            let flags = [MmioAttributes::MSIX_TABLE, MmioAttributes::MSIX_PBA];
            for ((bar, s, e), flag) in m.pages().into_iter().zip(flags) {
                if bar == b.index {
                    cuts.push(s.min(size));
                    cuts.push(e.min(size));
                    regions.push((s, e, flag));
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let &[s, e] = w else { continue };
            if e <= s {
                continue;
            }
            let flags = regions
                .iter()
                .filter(|(rs, re, _)| *rs < e && s < *re)
                .fold(0u16, |a, (_, _, f)| a | f);
            let addr = b.base.wrapping_add(s).wrapping_add(mmio_offset);
            let first_page = match unit {
                FirstPageUnit::ByteAddress => addr,
                FirstPageUnit::PageNumber => addr / PAGE,
            };
            out.push(MmioRange {
                first_page,
                number_of_pages: ((e - s) / PAGE) as u32,
                attributes: MmioAttributes::from_bits(flags),
                range_id: u16::from(b.index),
            });
        }
    }
    out
}
