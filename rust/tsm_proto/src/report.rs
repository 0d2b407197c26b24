// SPDX-License-Identifier: GPL-2.0

//! TDISP device interface report parsing, assembly and validation.
//!
//! The report (PCIe Base 6.x §11.3.11, Table 11-15 "TDI Report Structure") describes a
//! locked TDI: INTERFACE_INFO, MSI-X message control, LNR control, TPH control, the MMIO
//! ranges (with the LOCK_INTERFACE MMIO_REPORTING_OFFSET added) and device-specific
//! data. It arrives in portions over DEVICE_INTERFACE_REPORT responses
//! ([`ReportAssembler`]), is parsed without allocation ([`InterfaceReport`], ranges
//! iterated lazily from the borrowed bytes) and is checked against the function's BARs
//! ([`validate`]).
//!
//! Errors: parsing returns the crate-wide [`Error`]; assembly and validation return the
//! distinct [`ReportError`], which wraps a codec error in [`ReportError::Codec`] and
//! converts from it with `From`, so `?` works in both directions of use.
//!
//! FIRST_PAGE unit: Table 11-15 says "first 4K page with offset added" and "base and
//! size in units of 4K pages"; implementations disagree on whether FIRST_PAGE is a byte
//! address of a 4K-aligned page or a 4K page number. [`FirstPageUnit`] makes the
//! caller choose; both are validated the same way after conversion to a byte address.

use core::fmt;

use super::codec::{len_field, Error, Reader, Records, Result, Writer};
use super::tdisp::{MmioAttributes, MmioRange, MMIO_RANGE_LEN};

/// Size of a 4K page, the granule of every MMIO range.
pub const PAGE_SIZE: u64 = 4096;

/// Bytes before the MMIO range table (Table 11-15 offsets 0-15).
pub const REPORT_HEADER_LEN: usize = 16;

wire_bits! {
    /// INTERFACE_INFO bits (Table 11-15, offset 0).
    pub struct InterfaceInfo(u16) {
        /// Bit 0: firmware updates not permitted while CONFIG_LOCKED or RUN.
        NO_FW_UPDATE = 1 << 0;
        /// Bit 1: the TDI issues DMA requests without PASID.
        DMA_WITHOUT_PASID = 1 << 1;
        /// Bit 2: the TDI issues DMA requests with PASID.
        DMA_WITH_PASID = 1 << 2;
        /// Bit 3: ATS supported and enabled.
        ATS_SUPPORTED = 1 << 3;
        /// Bit 4: PRS supported and enabled.
        PRS_SUPPORTED = 1 << 4;
    }
}

/// A parsed device interface report borrowing the assembled bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InterfaceReport<'a> {
    /// INTERFACE_INFO.
    pub interface_info: InterfaceInfo,
    /// MSI_X_MESSAGE_CONTROL: MSI-X capability Message Control (zero when MSI-X is
    /// absent or its table not locked).
    pub msix_message_control: u16,
    /// LNR_CONTROL: LN Requester control register (zero when unsupported).
    pub lnr_control: u16,
    /// TPH_CONTROL: TPH Requester control register.
    pub tph_control: u32,
    ranges: &'a [u8],
    /// DEVICE_SPECIFIC_INFO bytes.
    pub device_specific: &'a [u8],
}

impl fmt::Debug for InterfaceReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterfaceReport")
            .field("interface_info", &self.interface_info)
            .field("msix_message_control", &self.msix_message_control)
            .field("lnr_control", &self.lnr_control)
            .field("tph_control", &self.tph_control)
            .field("mmio_ranges", &self.range_count())
            .field("device_specific_len", &self.device_specific.len())
            .finish()
    }
}

impl<'a> InterfaceReport<'a> {
    /// Parses a complete report; the declared range count and device-specific length
    /// must match the bytes exactly.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let interface_info = InterfaceInfo::from_bits(r.u16()?);
        r.skip(2)?;
        let msix_message_control = r.u16()?;
        let lnr_control = r.u16()?;
        let tph_control = r.u32()?;
        let count = r.u32()?;
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(MMIO_RANGE_LEN))
            .ok_or(Error::LengthMismatch {
                field: "report.mmio_range_count",
                declared: usize::MAX,
                actual: r.remaining(),
            })?;
        let ranges = r.bytes(len)?;
        let dsi_len = r.u32()?;
        let dsi_len = usize::try_from(dsi_len).map_err(|_| Error::LengthMismatch {
            field: "report.device_specific_info_len",
            declared: usize::MAX,
            actual: r.remaining(),
        })?;
        let device_specific = r.bytes(dsi_len)?;
        r.finish()?;
        Ok(Self {
            interface_info,
            msix_message_control,
            lnr_control,
            tph_control,
            ranges,
            device_specific,
        })
    }

    /// MMIO_RANGE_COUNT.
    pub fn range_count(&self) -> usize {
        self.ranges.len() / MMIO_RANGE_LEN
    }

    /// Iterates over the MMIO ranges in report order, decoding them lazily.
    pub fn ranges(&self) -> MmioRanges<'a> {
        Records::new(
            Reader::new(self.ranges),
            self.range_count(),
            MmioRange::read,
        )
    }

    /// Encodes the report.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        write_header(
            w,
            self.interface_info,
            self.msix_message_control,
            self.lnr_control,
            self.tph_control,
            self.range_count(),
        )?;
        w.bytes(self.ranges)?;
        write_dsi(w, self.device_specific)
    }

    /// Encodes a report from its parts (for a DSM emulator).
    pub fn write_parts(
        w: &mut Writer<'_>,
        interface_info: InterfaceInfo,
        msix_message_control: u16,
        lnr_control: u16,
        tph_control: u32,
        ranges: &[MmioRange],
        device_specific: &[u8],
    ) -> Result<()> {
        write_header(
            w,
            interface_info,
            msix_message_control,
            lnr_control,
            tph_control,
            ranges.len(),
        )?;
        for m in ranges {
            m.write(w)?;
        }
        write_dsi(w, device_specific)
    }
}

fn write_header(
    w: &mut Writer<'_>,
    info: InterfaceInfo,
    msix: u16,
    lnr: u16,
    tph: u32,
    count: usize,
) -> Result<()> {
    let count = len_field("report.mmio_range_count", count)?;
    w.u16(info.bits())?;
    w.zeros(2)?;
    w.u16(msix)?;
    w.u16(lnr)?;
    w.u32(tph)?;
    w.u32(count)
}

fn write_dsi(w: &mut Writer<'_>, dsi: &[u8]) -> Result<()> {
    w.u32(len_field("report.device_specific_info_len", dsi.len())?)?;
    w.bytes(dsi)
}

/// Lazy iterator over the MMIO ranges of a report.
pub type MmioRanges<'a> = Records<'a, MmioRange>;

/// Why a report could not be assembled or was rejected by [`validate`].
///
/// `range` fields are the zero-based index of the offending MMIO range in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportError {
    /// The report bytes or a response did not parse.
    Codec(Error),
    /// A DEVICE_INTERFACE_REPORT portion was longer than the LENGTH requested.
    PortionTooLong {
        /// LENGTH of the request.
        requested: u16,
        /// PORTION_LENGTH received.
        got: usize,
    },
    /// An empty portion with a non-zero remainder (no progress possible).
    EmptyPortion,
    /// A portion was fed for a different offset than the assembler's.
    OffsetMismatch {
        /// Bytes assembled so far.
        expected: usize,
        /// Offset of the fed portion.
        got: u16,
    },
    /// REMAINDER_LENGTH disagrees with the total implied by earlier responses.
    InconsistentRemainder {
        /// Total implied by the first response.
        expected_total: usize,
        /// Total implied by this response.
        got_total: usize,
    },
    /// The report does not fit the caller's buffer, or needs an offset past `FFFFh`.
    ReportTooLarge {
        /// Bytes the report needs.
        needed: usize,
    },
    /// A portion was fed after the report was complete.
    AlreadyComplete,
    /// A caller-provided BAR is invalid (index > 5, zero or non power-of-two size,
    /// misaligned or wrapping base, duplicate index).
    InvalidBar {
        /// The BAR index.
        bar: u8,
    },
    /// Two caller-provided BARs overlap.
    OverlappingBars {
        /// One BAR.
        a: u8,
        /// The other BAR.
        b: u8,
    },
    /// The range's address (after removing MMIO_REPORTING_OFFSET) is not 4K aligned.
    Misaligned {
        /// Range index.
        range: usize,
    },
    /// The range has zero pages.
    ZeroLength {
        /// Range index.
        range: usize,
    },
    /// The range's address computation overflows.
    AddressOverflow {
        /// Range index.
        range: usize,
    },
    /// The range is not inside any BAR.
    OutsideBars {
        /// Range index.
        range: usize,
    },
    /// The range overlaps the previous range.
    Overlap {
        /// Range index.
        range: usize,
    },
    /// The range is not in ascending BAR / address order (§11.3.11).
    OutOfOrder {
        /// Range index.
        range: usize,
    },
    /// RANGE_ID (the BAR equivalent indicator for BAR ranges, §11.3.11) is not the
    /// index of the BAR containing the range.
    RangeIdMismatch {
        /// Range index.
        range: usize,
        /// RANGE_ID reported.
        range_id: u16,
        /// BAR containing the range.
        bar: u8,
    },
    /// MSI-X state reported for a function without MSI-X.
    MsixWithoutCapability {
        /// Range index, or `None` for a non-zero MSI_X_MESSAGE_CONTROL.
        range: Option<usize>,
    },
    /// A range flagged MSI-X table does not map the MSI-X table.
    MsixTableMismatch {
        /// Range index.
        range: usize,
    },
    /// A range flagged MSI-X PBA does not map the PBA.
    MsixPbaMismatch {
        /// Range index.
        range: usize,
    },
    /// A range maps the MSI-X table or PBA without the corresponding flag.
    MsixNotFlagged {
        /// Range index.
        range: usize,
    },
    /// LOCK_MSIX was requested but the flagged ranges do not cover the MSI-X table.
    MsixTableNotCovered,
    /// LOCK_MSIX was requested but the flagged ranges do not cover the PBA.
    MsixPbaNotCovered,
}

impl From<Error> for ReportError {
    fn from(e: Error) -> Self {
        Self::Codec(e)
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Codec(e) => write!(f, "report: {e}"),
            other => write!(f, "report rejected: {other:?}"),
        }
    }
}

/// Progress of a [`ReportAssembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More portions are needed; send GET_DEVICE_INTERFACE_REPORT with these values.
    More {
        /// OFFSET for the next request.
        offset: u16,
        /// Bytes still missing (cap LENGTH at the smaller of this and the buffer the
        /// requester can receive).
        remaining: u16,
    },
    /// The report is complete; it is `len` bytes long.
    Complete {
        /// Report length.
        len: usize,
    },
}

/// Reassembles a report from DEVICE_INTERFACE_REPORT portions (§11.3.10, §11.3.11)
/// into a caller-provided buffer.
#[derive(Debug)]
pub struct ReportAssembler<'b> {
    buf: &'b mut [u8],
    received: usize,
    total: Option<usize>,
}

impl<'b> ReportAssembler<'b> {
    /// Starts an empty assembly into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            received: 0,
            total: None,
        }
    }

    /// Bytes assembled so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// OFFSET and LENGTH for the next GET_DEVICE_INTERFACE_REPORT, with LENGTH capped
    /// at `max_length`; `None` once complete.
    pub fn next_request(&self, max_length: u16) -> Option<(u16, u16)> {
        if self.is_complete() {
            return None;
        }
        let offset = u16::try_from(self.received).ok()?;
        let length = match self.total {
            None => max_length,
            Some(t) => {
                let left = t.saturating_sub(self.received);
                u16::try_from(left).unwrap_or(u16::MAX).min(max_length)
            }
        };
        Some((offset, length))
    }

    /// Feeds the response to a request for (`offset`, `requested_length`).
    pub fn feed(
        &mut self,
        offset: u16,
        requested_length: u16,
        portion: &[u8],
        remainder_length: u16,
    ) -> core::result::Result<Progress, ReportError> {
        if self.is_complete() {
            return Err(ReportError::AlreadyComplete);
        }
        if usize::from(offset) != self.received {
            return Err(ReportError::OffsetMismatch {
                expected: self.received,
                got: offset,
            });
        }
        if portion.len() > usize::from(requested_length) {
            return Err(ReportError::PortionTooLong {
                requested: requested_length,
                got: portion.len(),
            });
        }
        if portion.is_empty() && remainder_length != 0 {
            return Err(ReportError::EmptyPortion);
        }
        // All three terms are at most 0xffff + buffer length: no overflow on 64-bit,
        // but stay checked for 32-bit targets.
        let end = self
            .received
            .checked_add(portion.len())
            .ok_or(ReportError::ReportTooLarge { needed: usize::MAX })?;
        let total = end
            .checked_add(usize::from(remainder_length))
            .ok_or(ReportError::ReportTooLarge { needed: usize::MAX })?;
        match self.total {
            Some(t) if t != total => {
                return Err(ReportError::InconsistentRemainder {
                    expected_total: t,
                    got_total: total,
                })
            }
            _ => {}
        }
        if total > self.buf.len() || (remainder_length != 0 && end > usize::from(u16::MAX)) {
            return Err(ReportError::ReportTooLarge { needed: total });
        }
        self.buf
            .get_mut(self.received..end)
            .ok_or(ReportError::ReportTooLarge { needed: total })?
            .copy_from_slice(portion);
        self.received = end;
        self.total = Some(total);
        if remainder_length == 0 {
            Ok(Progress::Complete { len: end })
        } else {
            Ok(Progress::More {
                offset: u16::try_from(end)
                    .map_err(|_| ReportError::ReportTooLarge { needed: total })?,
                remaining: remainder_length,
            })
        }
    }

    /// Whether the last portion (REMAINDER_LENGTH 0) has been fed.
    pub fn is_complete(&self) -> bool {
        self.total == Some(self.received)
    }

    /// The assembled report once complete.
    pub fn report(&self) -> Option<&[u8]> {
        if self.is_complete() {
            self.buf.get(..self.received)
        } else {
            None
        }
    }
}

/// One memory BAR of the function hosting the TDI, as the host assigned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarInfo {
    /// BAR index (BEI) 0-5 (for a VF: the VF BAR index).
    pub index: u8,
    /// Host physical base address.
    pub base: u64,
    /// Size in bytes (a power of two).
    pub size: u64,
    /// Whether the BAR is a 64-bit BAR.
    pub is_64bit: bool,
    /// Whether the BAR is prefetchable.
    pub prefetchable: bool,
}

impl BarInfo {
    /// `[base, end)` with `end` rounded up to 4K: a BAR smaller than a page still
    /// owns the whole page it starts in for the purpose of range containment.
    fn extent(&self) -> Option<(u64, u64)> {
        let end = self.base.checked_add(self.size)?;
        let end = end.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1);
        Some((self.base & !(PAGE_SIZE - 1), end))
    }
}

/// MSI-X table and PBA location from the function's MSI-X capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsixLayout {
    /// Table BIR.
    pub table_bar: u8,
    /// Table offset within its BAR.
    pub table_offset: u32,
    /// Number of table entries (Message Control Table Size + 1), 1-2048.
    pub table_entries: u16,
    /// PBA BIR.
    pub pba_bar: u8,
    /// PBA offset within its BAR.
    pub pba_offset: u32,
}

impl MsixLayout {
    fn table(&self) -> (u8, u64, u64) {
        let start = u64::from(self.table_offset);
        (
            self.table_bar,
            start,
            start + u64::from(self.table_entries) * 16,
        )
    }

    fn pba(&self) -> (u8, u64, u64) {
        let start = u64::from(self.pba_offset);
        let qwords = u64::from(self.table_entries).div_ceil(64);
        (self.pba_bar, start, start + qwords * 8)
    }

    /// The pages of the MSI-X table and of the PBA, `[table, pba]`, each as its BAR
    /// and the byte range `start..end` in that BAR rounded out to whole
    /// [`PAGE_SIZE`] pages: the granularity at which a report flags them and at
    /// which the LOCK_MSIX flag decides who may access them.
    pub fn pages(&self) -> [(u8, u64, u64); 2] {
        [self.table(), self.pba()].map(|(bar, start, end)| {
            (
                bar,
                start / PAGE_SIZE * PAGE_SIZE,
                end.div_ceil(PAGE_SIZE) * PAGE_SIZE,
            )
        })
    }
}

/// Unit of FIRST_PAGE (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPageUnit {
    /// FIRST_PAGE is a byte address that must be 4K aligned.
    ByteAddress,
    /// FIRST_PAGE is a 4K page number.
    PageNumber,
}

/// What [`validate`] checks a report against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationParams<'b> {
    /// The function's memory BARs.
    pub bars: &'b [BarInfo],
    /// MMIO_REPORTING_OFFSET sent in LOCK_INTERFACE_REQUEST (two's complement).
    pub mmio_reporting_offset: u64,
    /// FIRST_PAGE unit.
    pub unit: FirstPageUnit,
    /// The MSI-X layout, `None` if the function has no MSI-X capability.
    pub msix: Option<MsixLayout>,
    /// Whether LOCK_MSIX was set in LOCK_INTERFACE_REQUEST (the table and PBA must
    /// then be reported).
    pub msix_locked: bool,
}

/// A validated MMIO range mapped to its BAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedRange {
    /// Index of the range in the report.
    pub index: usize,
    /// BAR containing the range.
    pub bar: u8,
    /// Byte offset of the range in the BAR (relative to the BAR base).
    pub offset: u64,
    /// Host physical address of the range.
    pub phys: u64,
    /// Size in bytes (a multiple of 4K).
    pub size: u64,
    /// Range attributes.
    pub attributes: MmioAttributes,
    /// RANGE_ID.
    pub range_id: u16,
}

fn map_range(
    index: usize,
    m: &MmioRange,
    p: &ValidationParams<'_>,
) -> core::result::Result<MappedRange, ReportError> {
    if m.number_of_pages == 0 {
        return Err(ReportError::ZeroLength { range: index });
    }
    let size = u64::from(m.number_of_pages) * PAGE_SIZE;
    let reported = match p.unit {
        FirstPageUnit::ByteAddress => m.first_page,
        FirstPageUnit::PageNumber => m
            .first_page
            .checked_mul(PAGE_SIZE)
            .ok_or(ReportError::AddressOverflow { range: index })?,
    };
    // The offset was added modulo 2^64 (two's complement), so remove it the same way.
    let phys = reported.wrapping_sub(p.mmio_reporting_offset);
    if phys % PAGE_SIZE != 0 {
        return Err(ReportError::Misaligned { range: index });
    }
    let end = phys
        .checked_add(size)
        .ok_or(ReportError::AddressOverflow { range: index })?;
    let bar = p
        .bars
        .iter()
        .find(|b| {
            b.extent()
                .is_some_and(|(s, e)| s <= phys && end <= e && b.size != 0)
        })
        .ok_or(ReportError::OutsideBars { range: index })?;
    if m.range_id != u16::from(bar.index) {
        return Err(ReportError::RangeIdMismatch {
            range: index,
            range_id: m.range_id,
            bar: bar.index,
        });
    }
    Ok(MappedRange {
        index,
        bar: bar.index,
        offset: phys.wrapping_sub(bar.base),
        phys,
        size,
        attributes: m.attributes,
        range_id: m.range_id,
    })
}

fn check_bars(bars: &[BarInfo]) -> core::result::Result<(), ReportError> {
    for (i, b) in bars.iter().enumerate() {
        let bad = b.index > 5
            || !b.size.is_power_of_two()
            || b.base % b.size != 0
            || b.base.checked_add(b.size).is_none()
            || b.extent().is_none();
        if bad {
            return Err(ReportError::InvalidBar { bar: b.index });
        }
        for o in bars.iter().skip(i + 1) {
            if o.index == b.index {
                return Err(ReportError::InvalidBar { bar: b.index });
            }
            if let (Some((s1, e1)), Some((s2, e2))) = (b.extent(), o.extent()) {
                if s1 < e2 && s2 < e1 {
                    return Err(ReportError::OverlappingBars {
                        a: b.index,
                        b: o.index,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Tracks how far flagged ranges cover an MSI-X structure `[start, end)` in `bar`.
struct Coverage {
    bar: u8,
    start: u64,
    end: u64,
    cursor: u64,
}

impl Coverage {
    fn new((bar, start, end): (u8, u64, u64)) -> Self {
        Self {
            bar,
            start,
            end,
            cursor: start & !(PAGE_SIZE - 1),
        }
    }

    fn intersects(&self, r: &MappedRange) -> bool {
        r.bar == self.bar && r.offset < self.end && self.start < r.offset.saturating_add(r.size)
    }

    fn add(&mut self, r: &MappedRange) {
        let r_end = r.offset.saturating_add(r.size);
        if r.bar == self.bar && r.offset <= self.cursor && r_end > self.cursor {
            self.cursor = r_end;
        }
    }

    fn covered(&self) -> bool {
        self.cursor >= self.end
    }
}

/// Validates `report` against the function described by `params` and returns the
/// ranges mapped to their BARs.
///
/// Rejects (see [`ReportError`]): invalid or overlapping BARs; ranges with zero pages,
/// not 4K aligned after removing MMIO_REPORTING_OFFSET, overflowing, outside every BAR
/// (BAR ends rounded up to 4K), with a RANGE_ID other than the containing BAR's index
/// (§11.3.11: RANGE_ID 0-7 is the BEI), not in ascending BAR then address order, or
/// overlapping the previous range; MSI-X flags on a function without MSI-X, flags on
/// ranges that do not map the table/PBA, table/PBA mapped without the flag, and (with
/// `msix_locked`) table or PBA not fully covered by flagged ranges.
///
/// The check is one pass over the report, O(ranges × BARs), without allocation; the
/// returned iterator re-reads the borrowed bytes.
pub fn validate<'a, 'b>(
    report: &InterfaceReport<'a>,
    params: &ValidationParams<'b>,
) -> core::result::Result<ValidatedRanges<'a, 'b>, ReportError> {
    check_bars(params.bars)?;
    if params.msix.is_none() && report.msix_message_control != 0 {
        return Err(ReportError::MsixWithoutCapability { range: None });
    }
    let mut table = params.msix.map(|m| Coverage::new(m.table()));
    let mut pba = params.msix.map(|m| Coverage::new(m.pba()));
    let mut prev: Option<MappedRange> = None;
    for (i, m) in report.ranges().enumerate() {
        let r = map_range(i, &m, params)?;
        if let Some(p) = prev {
            if r.bar < p.bar {
                return Err(ReportError::OutOfOrder { range: i });
            }
            if r.bar == p.bar && r.offset < p.offset.saturating_add(p.size) {
                let overlaps = p.offset < r.offset.saturating_add(r.size);
                return Err(if overlaps {
                    ReportError::Overlap { range: i }
                } else {
                    ReportError::OutOfOrder { range: i }
                });
            }
        }
        let a = r.attributes;
        for (flag, cov, mismatch) in [
            (
                a.msix_table(),
                &mut table,
                ReportError::MsixTableMismatch { range: i },
            ),
            (
                a.msix_pba(),
                &mut pba,
                ReportError::MsixPbaMismatch { range: i },
            ),
        ] {
            match cov {
                None if flag => return Err(ReportError::MsixWithoutCapability { range: Some(i) }),
                None => {}
                Some(c) => {
                    let hit = c.intersects(&r);
                    if flag && !hit {
                        return Err(mismatch);
                    }
                    if !flag && hit {
                        return Err(ReportError::MsixNotFlagged { range: i });
                    }
                    if flag {
                        c.add(&r);
                    }
                }
            }
        }
        prev = Some(r);
    }
    if params.msix_locked {
        if table.as_ref().is_some_and(|c| !c.covered()) {
            return Err(ReportError::MsixTableNotCovered);
        }
        if pba.as_ref().is_some_and(|c| !c.covered()) {
            return Err(ReportError::MsixPbaNotCovered);
        }
    }
    Ok(ValidatedRanges {
        ranges: report.ranges(),
        params: *params,
        index: 0,
    })
}

/// Iterator over the [`MappedRange`]s of a report accepted by [`validate`].
#[derive(Debug, Clone)]
pub struct ValidatedRanges<'a, 'b> {
    ranges: MmioRanges<'a>,
    params: ValidationParams<'b>,
    index: usize,
}

impl Iterator for ValidatedRanges<'_, '_> {
    type Item = MappedRange;

    fn next(&mut self) -> Option<MappedRange> {
        let m = self.ranges.next()?;
        let i = self.index;
        self.index = self.index.checked_add(1)?;
        map_range(i, &m, &self.params).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_report_parses() {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        InterfaceReport::write_parts(&mut w, InterfaceInfo::from_bits(2), 0, 0, 0, &[], &[9])
            .unwrap();
        let n = w.finish();
        assert_eq!(n, 21);
        let r = InterfaceReport::parse(&buf[..n]).unwrap();
        assert_eq!(r.range_count(), 0);
        assert_eq!(r.device_specific, &[9]);
        assert!(InterfaceReport::parse(&buf[..n - 1]).is_err());
    }

    #[test]
    fn huge_range_count_is_an_error() {
        let mut b = [0u8; 20];
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(InterfaceReport::parse(&b).is_err());
    }

    #[test]
    fn assembler_two_portions() {
        let mut buf = [0u8; 8];
        let mut a = ReportAssembler::new(&mut buf);
        assert_eq!(a.next_request(4), Some((0, 4)));
        assert_eq!(
            a.feed(0, 4, &[1, 2, 3], 2),
            Ok(Progress::More {
                offset: 3,
                remaining: 2
            })
        );
        assert_eq!(a.next_request(4), Some((3, 2)));
        assert_eq!(
            a.feed(3, 2, &[4], 2),
            Err(ReportError::InconsistentRemainder {
                expected_total: 5,
                got_total: 6
            })
        );
        assert_eq!(a.feed(3, 2, &[4, 5], 0), Ok(Progress::Complete { len: 5 }));
        assert_eq!(a.report(), Some(&[1, 2, 3, 4, 5][..]));
        assert_eq!(a.feed(5, 1, &[], 0), Err(ReportError::AlreadyComplete));
    }
}
