// SPDX-License-Identifier: GPL-2.0

//! Page lists handed to the module: `HPA_ARRAY_T`, `HPA_LIST_INFO`, the IOMMU_MT root
//! page, and the release buffer of the DELETE leaves (§3 "Encodings", §1).
//!
//! Both register encodings put a page frame in bits 51:12 and the last index (count − 1)
//! in bits 63:55. An `HPA_ARRAY_T` of one page names that page itself (the *singleton*
//! form); of more pages it names a root page holding up to 512 `u64` HPAs. An
//! `HPA_LIST_INFO` always names a root page and adds a cursor in bits 11:3, the first
//! entry still to be processed, which the module advances when it is interrupted.

use super::super::codec::{Error, Reader, Result, Writer};
use super::{page_pa_ok, MAX_ENTRIES, PAGE_SIZE, PFN_MASK};

/// Bit position of the last-index field (63:55) of both encodings.
const LAST_SHIFT: u32 = 55;

/// The bits the sheet gives no meaning to in either encoding: 2:0 and 54:52.
///
/// Unconfirmed: §3 names 11:3, 51:12 and 63:55 only; the rest is taken as reserved zero.
const UNNAMED: u64 = 0x7 | 0x7 << 52;

/// The count field (last index + 1) of `v`.
const fn count_of(v: u64) -> u16 {
    (v >> LAST_SHIFT) as u16 + 1
}

/// `count` as the last-index field, if it is 1..=512.
fn last_field(field: &'static str, count: usize) -> Result<u64> {
    match count {
        1..=MAX_ENTRIES => Ok(((count - 1) as u64) << LAST_SHIFT),
        _ => Err(Error::InvalidField {
            field,
            value: count as u64,
        }),
    }
}

fn check_pa(field: &'static str, pa: u64) -> Result<()> {
    if page_pa_ok(pa) {
        Ok(())
    } else {
        Err(Error::InvalidField { field, value: pa })
    }
}

/// `HPA_ARRAY_T` (§3): bits 11:3 reserved 0, 51:12 the PFN of the root page (or of the
/// page itself when there is exactly one), 63:55 the last index (count − 1). Used for
/// SPDM_MT and the dev-info output (SPDM.CREATE, SPDM.CONNECT, SPDM.MNG), IDE_MT
/// (IDE.STREAM.CREATE), and the released pages of the DELETE leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HpaArray {
    /// The page itself (count 1) or the root page (count above 1); 4 KiB aligned, below 2^52.
    pub pa: u64,
    /// Number of pages, 1..=512.
    pub count: u16,
}

impl HpaArray {
    /// The singleton form: one page, named directly.
    pub const fn singleton(page: u64) -> Self {
        Self { pa: page, count: 1 }
    }

    /// `count` pages listed in the root page at `root`. A count of 1 is still the
    /// singleton form on the wire, so the module would read `root` as the page.
    pub const fn root(root: u64, count: u16) -> Self {
        Self { pa: root, count }
    }

    /// Whether the value names a root page rather than the page itself.
    pub const fn has_root(self) -> bool {
        self.count > 1
    }

    /// The register value; a misaligned or too-high PA, or a count outside 1..=512, is an
    /// [`Error::InvalidField`].
    pub fn encode(self) -> Result<u64> {
        check_pa("tdx.hpa_array.pa", self.pa)?;
        Ok(self.pa | last_field("tdx.hpa_array.count", usize::from(self.count))?)
    }

    /// Decodes a register value (the module writes one for released pages); bits 11:0
    /// and 54:52 set are an [`Error::InvalidField`].
    pub fn decode(v: u64) -> Result<Self> {
        if v & (0xFFF | UNNAMED) != 0 {
            return Err(Error::InvalidField {
                field: "tdx.hpa_array.reserved",
                value: v,
            });
        }
        Ok(Self {
            pa: v & PFN_MASK,
            count: count_of(v),
        })
    }
}

/// `HPA_LIST_INFO` (§3): bits 11:3 the first entry to process (the host passes 0; the
/// module advances it when interrupted), 51:12 the root page's PFN, 63:55 the last index
/// (count − 1). There is no singleton form, and the module never keeps the root page.
/// Used by TDH.EXT.MEM.ADD, at most 512 pages per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HpaListInfo {
    /// The root page listing the HPAs; 4 KiB aligned, below 2^52.
    pub root: u64,
    /// First entry still to process, 0..=511.
    pub first: u16,
    /// Number of entries in the root page, 1..=512.
    pub count: u16,
}

impl HpaListInfo {
    /// A fresh list of `count` pages in `root` (cursor 0, as the host passes it).
    pub const fn new(root: u64, count: u16) -> Self {
        Self {
            root,
            first: 0,
            count,
        }
    }

    /// Entries not yet processed (zero if the cursor is past the end).
    pub const fn remaining(self) -> u16 {
        self.count.saturating_sub(self.first)
    }

    /// The register value; a bad root, a count outside 1..=512 or a cursor above 511 is
    /// an [`Error::InvalidField`].
    pub fn encode(self) -> Result<u64> {
        check_pa("tdx.hpa_list_info.root", self.root)?;
        if usize::from(self.first) >= MAX_ENTRIES {
            return Err(Error::InvalidField {
                field: "tdx.hpa_list_info.first",
                value: u64::from(self.first),
            });
        }
        let last = last_field("tdx.hpa_list_info.count", usize::from(self.count))?;
        Ok(self.root | u64::from(self.first) << 3 | last)
    }

    /// Decodes a register value (EXT.MEM.ADD's output RCX); bits 2:0 and 54:52 set are an
    /// [`Error::InvalidField`]. The cursor is not checked against the count here (a
    /// driver checks progress: [`super::LeafCall`]).
    pub fn decode(v: u64) -> Result<Self> {
        if v & UNNAMED != 0 {
            return Err(Error::InvalidField {
                field: "tdx.hpa_list_info.reserved",
                value: v,
            });
        }
        Ok(Self {
            root: v & PFN_MASK,
            first: ((v >> 3) & 0x1FF) as u16,
            count: count_of(v),
        })
    }
}

/// Writes a root page: `hpas` as `u64`s from offset 0, the rest of the 4096 bytes zero.
/// More than 512 entries, or an entry that is not a page address below 2^52, is an
/// [`Error::InvalidField`].
pub fn write_root_page(hpas: &[u64], w: &mut Writer<'_>) -> Result<()> {
    if hpas.len() > MAX_ENTRIES {
        return Err(Error::InvalidField {
            field: "tdx.root_page.entries",
            value: hpas.len() as u64,
        });
    }
    for pa in hpas {
        check_pa("tdx.root_page.entry", *pa)?;
        w.u64(*pa)?;
    }
    w.zeros(PAGE_SIZE - hpas.len() * 8)
}

/// The first `count` entries of a root page (the module writes the released list into
/// one), each checked to be a page address. A count above 512 or a page shorter than its
/// entries is an error; the page may be longer than `count` entries.
pub fn read_root_page(page: &[u8], count: usize, out: &mut [u64]) -> Result<usize> {
    if count > MAX_ENTRIES || count > out.len() {
        return Err(Error::InvalidField {
            field: "tdx.root_page.entries",
            value: count as u64,
        });
    }
    let mut r = Reader::new(page);
    for slot in out.iter_mut().take(count) {
        let pa = r.u64()?;
        check_pa("tdx.root_page.entry", pa)?;
        *slot = pa;
    }
    Ok(count)
}

/// The release buffer of TDH.SPDM.DELETE (RDX) and TDH.IDE.STREAM.DELETE (R8): 0 when the
/// array being released is one page, otherwise the root page's PA, into which the module
/// writes the released list (§1). Its output RCX is the released `HPA_ARRAY_T`.
///
/// Unconfirmed: the ITDX variant passes no release buffer at all (§1 "Divergent variant").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseBuffer {
    /// The array is a singleton: the register is 0.
    Singleton,
    /// The root page the module writes the released list into.
    Root(u64),
}

impl ReleaseBuffer {
    /// The release buffer for `array` (as it was given to the CREATE leaf).
    pub const fn for_array(array: HpaArray) -> Self {
        if array.has_root() {
            Self::Root(array.pa)
        } else {
            Self::Singleton
        }
    }

    /// The register value; a root that is 0 or not a page address is an
    /// [`Error::InvalidField`] (0 would read as the singleton form).
    pub fn encode(self) -> Result<u64> {
        match self {
            Self::Singleton => Ok(0),
            Self::Root(0) => Err(Error::InvalidField {
                field: "tdx.release_buffer",
                value: 0,
            }),
            Self::Root(pa) => check_pa("tdx.release_buffer", pa).map(|()| pa),
        }
    }

    /// Decodes the register (for a module model).
    pub fn decode(v: u64) -> Result<Self> {
        match v {
            0 => Ok(Self::Singleton),
            pa => check_pa("tdx.release_buffer", pa).map(|()| Self::Root(pa)),
        }
    }
}

/// One invalidation-queue buffer of IOMMU_MT: a 4 KiB-aligned HPA with its page count
/// ORed into bits 11:0 (spec Table 3.35 as restated in §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IqBuffer {
    /// The buffer's first page.
    pub pa: u64,
    /// Its number of 4 KiB pages, 1..=4095 (Linux: 8 KiB buffers, so 2).
    pub pages: u16,
}

impl IqBuffer {
    /// The entry value; a bad PA or a page count outside 1..=4095 is an
    /// [`Error::InvalidField`].
    pub fn encode(self) -> Result<u64> {
        check_pa("tdx.iommu_mt.iq.pa", self.pa)?;
        if self.pages == 0 || self.pages > 0xFFF {
            return Err(Error::InvalidField {
                field: "tdx.iommu_mt.iq.pages",
                value: u64::from(self.pages),
            });
        }
        Ok(self.pa | u64::from(self.pages))
    }

    /// Decodes an entry (a zero page count is an [`Error::InvalidField`]).
    ///
    /// Unconfirmed: bits 63:52 of an entry are not described; they are refused.
    pub fn decode(v: u64) -> Result<Self> {
        let pages = (v & 0xFFF) as u16;
        let pa = v & !0xFFF;
        if pages == 0 || !page_pa_ok(pa) {
            return Err(Error::InvalidField {
                field: "tdx.iommu_mt.iq",
                value: v,
            });
        }
        Ok(Self { pa, pages })
    }
}

/// The IOMMU_MT root page (spec Table 3.35 via §3): entries 0 and 1 are the two
/// invalidation-queue buffers, entries 2 and up the IOMMU_MT_PAGE_COUNT metadata pages
/// (low bits 0); at most 512 entries. TDH.IOMMU.SETUP and CLEAR take the *plain PA* of
/// this root page, with no count field (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IommuMt<'a> {
    /// The two invalidation-queue buffers.
    pub iq: [IqBuffer; 2],
    /// The metadata pages (at most 510).
    pub pages: &'a [u64],
}

impl IommuMt<'_> {
    /// Most metadata pages a root page has room for.
    pub const MAX_PAGES: usize = MAX_ENTRIES - 2;

    /// Writes the whole 4096-byte root page.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.pages.len() > Self::MAX_PAGES {
            return Err(Error::InvalidField {
                field: "tdx.iommu_mt.pages",
                value: self.pages.len() as u64,
            });
        }
        w.u64(self.iq[0].encode()?)?;
        w.u64(self.iq[1].encode()?)?;
        for pa in self.pages {
            check_pa("tdx.iommu_mt.page", *pa)?;
            w.u64(*pa)?;
        }
        w.zeros(PAGE_SIZE - (2 + self.pages.len()) * 8)
    }
}

/// Decodes an IOMMU_MT root page with `page_count` metadata pages into `pages` (for a
/// module model): the two IQ buffers and the pages, each checked.
pub fn decode_iommu_mt(page: &[u8], page_count: usize, pages: &mut [u64]) -> Result<[IqBuffer; 2]> {
    if page_count > IommuMt::MAX_PAGES {
        return Err(Error::InvalidField {
            field: "tdx.iommu_mt.pages",
            value: page_count as u64,
        });
    }
    let mut r = Reader::new(page);
    let iq = [IqBuffer::decode(r.u64()?)?, IqBuffer::decode(r.u64()?)?];
    read_root_page(r.rest(), page_count, pages)?;
    Ok(iq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_forms() {
        assert_eq!(HpaArray::singleton(0x1234_5000).encode(), Ok(0x1234_5000));
        assert_eq!(HpaArray::root(0x8000, 512).encode(), Ok(0x8000 | 511 << 55));
        assert!(HpaArray::root(0x8000, 513).encode().is_err());
        assert!(HpaArray::root(0x8000, 0).encode().is_err());
        assert!(HpaArray::decode(0x8008).is_err());
        assert!(HpaArray::decode(1 << 52).is_err());
    }

    #[test]
    fn list_cursor() {
        let l = HpaListInfo {
            root: 0x7000,
            first: 5,
            count: 512,
        };
        assert_eq!(l.encode(), Ok(0x7000 | 5 << 3 | 511 << 55));
        assert_eq!(HpaListInfo::decode(l.encode().unwrap()), Ok(l));
        assert_eq!(l.remaining(), 507);
    }

    #[test]
    fn release_buffer() {
        assert_eq!(
            ReleaseBuffer::for_array(HpaArray::singleton(0x5000)).encode(),
            Ok(0)
        );
        assert_eq!(
            ReleaseBuffer::for_array(HpaArray::root(0x6000, 3)).encode(),
            Ok(0x6000)
        );
        assert!(ReleaseBuffer::Root(0).encode().is_err());
    }
}
