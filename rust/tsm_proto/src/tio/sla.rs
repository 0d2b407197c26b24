// SPDX-License-Identifier: GPL-2.0

//! Scatter-list addresses (SLAs): how a TIO command names host memory.
//!
//! An SLA is a `u64` (fact sheet §2, L72): bit 0 the type (0 data, 1 scatter), bit 1 the
//! page size (0 4K, 1 2M; the host always uses 4K), bits 11:2 reserved, bits 51:12 the
//! PFN of the physical address with the C-bit set, bits 63:52 reserved. NULL is 0; the
//! end-of-list marker (EOL) is the all-ones PFN, `0x000F_FFFF_FFFF_F000`. A buffer of
//! more than one page is a scatter SLA pointing at one 4 KiB page of 4K data SLAs
//! terminated by EOL, so a scatter page holds at most [`SCATTER_MAX_PAGES`] data pages
//! (512 entries including EOL). L72's size guard allows 513 pages, one more than fits
//! (fact sheet §2, obs); [`encode_scatter`] refuses that.

use super::super::codec::{Error, Result};
use super::PAGE_SIZE;

/// The end-of-list SLA (all-ones PFN; fact sheet §2).
pub const SLA_EOL: u64 = 0x000F_FFFF_FFFF_F000;

/// Bits 51:12: the PFN field.
pub const SLA_PFN_MASK: u64 = 0x000F_FFFF_FFFF_F000;

/// Bit 0: scatter (1) or data (0).
pub const SLA_SCATTER: u64 = 1 << 0;

/// Bit 1: 2M (1) or 4K (0) page.
pub const SLA_PAGE_2M: u64 = 1 << 1;

/// Entries in one scatter page (4096 / 8), EOL included.
pub const SCATTER_ENTRIES: usize = PAGE_SIZE / 8;

/// Most data pages one scatter page can name: 511, the 512th entry being EOL.
pub const SCATTER_MAX_PAGES: usize = SCATTER_ENTRIES - 1;

/// The page size bit of an SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageSize {
    /// 4 KiB (bit 1 clear); the only size the host uses.
    Size4K,
    /// 2 MiB (bit 1 set).
    Size2M,
}

/// A decoded SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sla {
    /// NULL (0): no buffer.
    Null,
    /// End of a scatter list.
    Eol,
    /// A data page at physical address `pa` (C-bit included, 4 KiB aligned).
    Data {
        /// Physical address of the page (bits 51:12 only).
        pa: u64,
        /// Its size.
        size: PageSize,
    },
    /// A scatter page at `pa`, holding data SLAs up to EOL.
    Scatter {
        /// Physical address of the scatter page (bits 51:12 only).
        pa: u64,
        /// Size bit as written (the scatter page itself is 4 KiB).
        size: PageSize,
    },
}

impl Sla {
    /// A 4K data SLA for `pa`; a `pa` with bits outside 51:12 is an
    /// [`Error::InvalidField`], as are the zero PFN (that is NULL) and the all-ones PFN
    /// (that is EOL).
    pub fn data_4k(pa: u64) -> Result<Self> {
        Self::check_pa(pa)?;
        Ok(Self::Data {
            pa,
            size: PageSize::Size4K,
        })
    }

    /// A scatter SLA for the scatter page at `pa`, checked like [`Sla::data_4k`].
    pub fn scatter(pa: u64) -> Result<Self> {
        Self::check_pa(pa)?;
        Ok(Self::Scatter {
            pa,
            size: PageSize::Size4K,
        })
    }

    fn check_pa(pa: u64) -> Result<()> {
        if pa & !SLA_PFN_MASK != 0 || pa == SLA_EOL || pa == 0 {
            return Err(Error::InvalidField {
                field: "tio.sla.pa",
                value: pa,
            });
        }
        Ok(())
    }

    /// Decodes an SLA. 0 is NULL and [`SLA_EOL`] is EOL; reserved bits (11:2, 63:52) set,
    /// a non-zero value with a zero PFN, or the all-ones PFN with type or size bits set
    /// are an [`Error::InvalidField`].
    pub const fn decode(v: u64) -> Result<Self> {
        if v == 0 {
            return Ok(Self::Null);
        }
        if v == SLA_EOL {
            return Ok(Self::Eol);
        }
        let pa = v & SLA_PFN_MASK;
        if v & !(SLA_PFN_MASK | SLA_SCATTER | SLA_PAGE_2M) != 0 || pa == 0 || pa == SLA_EOL {
            return Err(Error::InvalidField {
                field: "tio.sla",
                value: v,
            });
        }
        let size = if v & SLA_PAGE_2M != 0 {
            PageSize::Size2M
        } else {
            PageSize::Size4K
        };
        Ok(if v & SLA_SCATTER != 0 {
            Self::Scatter { pa, size }
        } else {
            Self::Data { pa, size }
        })
    }

    /// The wire value. An address with bits outside 51:12 (only reachable by building
    /// the variant by hand) is masked to the PFN field.
    pub const fn encode(self) -> u64 {
        let (pa, size, ty) = match self {
            Self::Null => return 0,
            Self::Eol => return SLA_EOL,
            Self::Data { pa, size } => (pa, size, 0),
            Self::Scatter { pa, size } => (pa, size, SLA_SCATTER),
        };
        let sz = match size {
            PageSize::Size4K => 0,
            PageSize::Size2M => SLA_PAGE_2M,
        };
        (pa & SLA_PFN_MASK) | sz | ty
    }

    /// Whether this is NULL.
    pub const fn is_null(self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Pages of 4 KiB that `bytes` need (rounded up); `None` on overflow.
pub const fn pages_for(bytes: u64) -> Option<u64> {
    match bytes.checked_add(PAGE_SIZE as u64 - 1) {
        Some(v) => Some(v / PAGE_SIZE as u64),
        None => None,
    }
}

/// Writes the scatter page for the 4K data pages `pas`: one data SLA each, then EOL,
/// then zeros to the end of the 4 KiB `page`. More than [`SCATTER_MAX_PAGES`] pages, an
/// empty list, an invalid address or a `page` shorter than 4 KiB is an error.
pub fn encode_scatter(pas: &[u64], page: &mut [u8]) -> Result<()> {
    if pas.is_empty() || pas.len() > SCATTER_MAX_PAGES {
        return Err(Error::InvalidField {
            field: "tio.scatter.pages",
            value: pas.len() as u64,
        });
    }
    let page = page
        .get_mut(..PAGE_SIZE)
        .ok_or(Error::BufferTooSmall { needed: PAGE_SIZE })?;
    page.fill(0);
    let mut slots = page.chunks_exact_mut(8);
    for pa in pas {
        let v = Sla::data_4k(*pa)?.encode();
        slots
            .next()
            .ok_or(Error::BufferTooSmall { needed: PAGE_SIZE })?
            .copy_from_slice(&v.to_le_bytes());
    }
    slots
        .next()
        .ok_or(Error::BufferTooSmall { needed: PAGE_SIZE })?
        .copy_from_slice(&SLA_EOL.to_le_bytes());
    Ok(())
}

/// A validated scatter page: its data entries, up to (not including) EOL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScatterList<'a> {
    page: &'a [u8],
    count: usize,
}

impl<'a> ScatterList<'a> {
    /// Reads a 4 KiB scatter page. Every entry before EOL must be a data SLA (NULL,
    /// scatter or an invalid SLA there is an [`Error::InvalidField`]); a page without
    /// EOL, or whose EOL is the first entry, is an [`Error::InvalidField`] too. Entries
    /// after EOL are ignored.
    pub fn decode(page: &'a [u8]) -> Result<Self> {
        super::exact(page, PAGE_SIZE)?;
        let mut count = 0usize;
        for chunk in page.chunks_exact(8) {
            let v = super::get_u64(chunk, 0)?;
            match Sla::decode(v)? {
                Sla::Eol if count > 0 => return Ok(Self { page, count }),
                Sla::Data { .. } => count = count.saturating_add(1),
                _ => {
                    return Err(Error::InvalidField {
                        field: "tio.scatter.entry",
                        value: v,
                    })
                }
            }
        }
        Err(Error::InvalidField {
            field: "tio.scatter.eol",
            value: count as u64,
        })
    }

    /// Number of data pages.
    pub const fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none (never, for a decoded list).
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The data SLAs, in order.
    pub fn iter(&self) -> impl Iterator<Item = Sla> + 'a {
        self.page
            .chunks_exact(8)
            .take(self.count)
            .filter_map(|c| super::get_u64(c, 0).ok())
            .filter_map(|v| Sla::decode(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_eol_and_reserved_bits() {
        assert_eq!(Sla::decode(0), Ok(Sla::Null));
        assert_eq!(Sla::decode(SLA_EOL), Ok(Sla::Eol));
        assert!(Sla::decode(SLA_EOL | 1).is_err());
        assert!(Sla::decode(0x1000 | 0x4).is_err());
        assert!(Sla::decode(1 << 52 | 0x1000).is_err());
        assert!(Sla::decode(1).is_err());
        assert_eq!(
            Sla::decode(0x1234_5001),
            Ok(Sla::Scatter {
                pa: 0x1234_5000,
                size: PageSize::Size4K
            })
        );
        assert!(Sla::data_4k(0x1001).is_err());
        assert!(Sla::data_4k(SLA_EOL).is_err());
    }

    #[test]
    fn scatter_capacity() {
        let mut page = [0u8; PAGE_SIZE];
        let pas = [0x1000u64; SCATTER_MAX_PAGES + 1];
        assert!(encode_scatter(&pas[..SCATTER_MAX_PAGES], &mut page).is_ok());
        assert_eq!(
            ScatterList::decode(&page).map(|s| s.len()),
            Ok(SCATTER_MAX_PAGES)
        );
        assert!(encode_scatter(&pas, &mut page).is_err());
        assert!(encode_scatter(&[], &mut page).is_err());
        assert_eq!(pages_for(4097), Some(2));
        assert_eq!(pages_for(u64::MAX), None);
    }
}
