// SPDX-License-Identifier: GPL-2.0

//! The Arm CCA Realm Management Interface (RMI) for device assignment, as pure data.
//!
//! The RMM (Realm Management Monitor, Arm DEN0137) owns the trusted side of PCIe TEE-IO
//! on Arm CCA: the host creates a PDEV per physical device (and per root port), asks the
//! RMM to talk SPDM/IDE-KM/TDISP to it through the host's DOE mailbox, and binds TDIs to
//! Realms as VDEVs. This module is the host/RMM boundary of that flow and nothing else:
//! function IDs per ABI version, the `X0` result encoding, the fixed-layout 4 KiB
//! parameter and communication pages, the communicate-exit decision table, and the
//! PDEV, VDEV and IDE stream state machines with their ordering rules. It issues no SMC
//! and touches no memory; a kernel backend makes the calls, an RMM model answers them,
//! and both share these codecs.
//!
//! Sources, as named in the project's fact sheet (`shared/backends/cca-rmm-abi.md`): TF-RMM
//! (the reference RMM, ABI 2.0) and its 1.1-alp12 tag, and the Linux CCA host series
//! (`arm-smccc-rmi.h`, 2.0-bet3). No DEN0137 text was available; where the two
//! implementations disagree or only one states a fact, the item says so in an
//! `Unconfirmed:` note.
//!
//! Conventions: every call is a fast SMC64 (`0xC400_0000 | n`), `X1..` carry the
//! arguments and `X0` the result. Every page is a 4 KiB granule, little-endian; fields
//! sit in 8-byte slots even when narrower (a `u8` state, a `u16` RID), so narrow fields
//! are read at their declared width and the rest of the slot is reserved. Decoders of
//! pages are total, reject unknown codes, and ignore reserved bytes; encoders write
//! reserved bytes as zero. ABI 2.0 is the primary ABI; the 1.1-alp12 differences the fact
//! sheet gives are behind [`Abi`].
//!
//! | file | what |
//! |---|---|
//! | `fid` | [`Abi`], revisions, [`Call`] and its function ID per ABI |
//! | `result` | [`Status`], the decoded `X0` ([`Outcome`], [`Incomplete`]), [`OrderError`] |
//! | `sro` | stateful-operation words: donate requests, address-list entries, follow-up rule |
//! | `comm` | the communication page (enter/exit halves) and the exit decision table |
//! | `pdev` | PDEV parameters, states and state machine |
//! | `vdev` | VDEV and measurement parameters, states and state machine |
//! | `stream` | IDE stream parameters, handle and the stream state machine |
//! | `pubkey` | public key parameters |
//! | `realm` | Realm parameters, reduced to `flags0.DA` (a stand-in: Realms are not modelled) |
//! | `features` | feature register 2 and the VERSION outputs |
//! | `guest` | the guest requests of `tvm_arch` CCA (`<linux/tsm_cca.h>`) served through VDEV calls |
//! | this file | address ranges, bounded lists and the page layout helpers |

use super::codec::{Error, Reader, Result, Writer};

pub mod comm;
pub mod features;
pub mod fid;
pub mod guest;
pub mod pdev;
pub mod pubkey;
pub mod realm;
pub mod result;
pub mod sro;
pub mod stream;
pub mod vdev;

pub use comm::{
    CacheObject, CacheSlice, CommEnter, CommExit, CommOutcome, CommState, CommStatus, ExitFlags,
    ExitPlan, Next, Protocol, SendRequest,
};
pub use features::{DaFeatures, VersionOutput};
pub use fid::{Abi, Call, Revision};
pub use pdev::{
    Category, HashAlgo, Pdev, PdevCall, PdevFlags, PdevOp, PdevParams, PdevParamsAlp12, PdevState,
    PdevStateAlp12,
};
pub use pubkey::{PubkeyParams, SignatureAlgo};
pub use realm::RealmParams;
pub use result::{Incomplete, MemReq, OrderError, Outcome, Status};
pub use sro::{AddrRangeDesc, BlockSize, DonateReq, MemState};
pub use stream::{End, Stream, StreamCall, StreamOp, StreamParams, StreamState, StreamType};
pub use vdev::{
    MeasureParams, Vdev, VdevCall, VdevOp, VdevParams, VdevParamsAlp12, VdevState, VdevStateAlp12,
};

/// Size of a granule, and so of every parameter and communication page.
pub const GRANULE_SIZE: usize = 4096;

/// One address range `[base, top)` (RmiAddressRange: base at 0x0, top at 0x8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AddrRange {
    /// First address (inclusive).
    pub base: u64,
    /// End address (exclusive).
    pub top: u64,
}

/// Size of an encoded [`AddrRange`].
pub const ADDR_RANGE_LEN: usize = 16;

impl AddrRange {
    /// Reads one 16-byte range.
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            base: r.u64()?,
            top: r.u64()?,
        })
    }

    /// Writes one 16-byte range.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.base)?;
        w.u64(self.top)
    }

    /// Whether two ranges share an address.
    pub const fn overlaps(&self, other: &AddrRange) -> bool {
        self.base < other.top && other.base < self.top
    }
}

/// Whether `ranges` is what the RMM accepts as a range list (TF-RMM `vdev.c`): each
/// range non-empty (`base < top`) and each starting at or after the previous one's top,
/// so the list is sorted and free of overlaps.
pub fn ranges_sorted(ranges: &[AddrRange]) -> bool {
    let mut last_top = 0;
    ranges.iter().all(|r| {
        let ok = r.base < r.top && r.base >= last_top;
        last_top = r.top;
        ok
    })
}

/// Whether any range of `a` overlaps any range of `b`.
pub fn ranges_overlap(a: &[AddrRange], b: &[AddrRange]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.overlaps(y)))
}

/// A list of at most `N` items stored inline (no allocation), as the pages carry them: a
/// count field plus a fixed array. Items past the count are kept as `T::default()`, so
/// two lists with the same items compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct List<T, const N: usize> {
    len: usize,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> Default for List<T, N> {
    fn default() -> Self {
        Self {
            len: 0,
            items: [T::default(); N],
        }
    }
}

impl<T: Copy + Default, const N: usize> List<T, N> {
    /// Capacity of the list.
    pub const CAPACITY: usize = N;

    /// A list of `items`; more than `N` is an [`Error::InvalidField`] named `field`.
    pub fn from_slice(field: &'static str, items: &[T]) -> Result<Self> {
        let mut out = Self::default();
        out.items
            .get_mut(..items.len())
            .ok_or(Error::InvalidField {
                field,
                value: items.len() as u64,
            })?
            .copy_from_slice(items);
        out.len = items.len();
        Ok(out)
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    /// Number of items.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads a count (already read by the caller as `count`) of items with `read` from
    /// `r`; a count above `N` is an [`Error::InvalidField`] named `field`.
    fn read_with(
        field: &'static str,
        count: u64,
        r: &mut Reader<'_>,
        read: impl Fn(&mut Reader<'_>) -> Result<T>,
    ) -> Result<Self> {
        let mut out = Self::default();
        let n = usize::try_from(count)
            .ok()
            .filter(|n| *n <= N)
            .ok_or(Error::InvalidField {
                field,
                value: count,
            })?;
        for slot in out.items.iter_mut().take(n) {
            *slot = read(r)?;
        }
        out.len = n;
        Ok(out)
    }
}

/// Reads the fields of one fixed-layout structure by their offsets from its start.
///
/// The input must cover every defined field (`extent` bytes, else [`Error::Truncated`])
/// and be no longer than the structure (`width` bytes, else [`Error::TrailingBytes`]);
/// anything in between is reserved and ignored.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], extent: usize, width: usize) -> Result<Self> {
        if buf.len() < extent {
            return Err(Error::Truncated {
                offset: buf.len(),
                needed: extent - buf.len(),
            });
        }
        if buf.len() > width {
            return Err(Error::TrailingBytes {
                count: buf.len() - width,
            });
        }
        Ok(Self { buf })
    }

    /// A reader positioned at `offset` (offsets in its errors are from the start).
    fn at(&self, offset: usize) -> Result<Reader<'a>> {
        let mut r = Reader::new(self.buf);
        r.skip(offset)?;
        Ok(r)
    }

    fn u8(&self, offset: usize) -> Result<u8> {
        self.at(offset)?.u8()
    }

    fn u16(&self, offset: usize) -> Result<u16> {
        self.at(offset)?.u16()
    }

    fn u32(&self, offset: usize) -> Result<u32> {
        self.at(offset)?.u32()
    }

    fn u64(&self, offset: usize) -> Result<u64> {
        self.at(offset)?.u64()
    }

    /// Reads the list whose count is the `u64` at `count_at` and whose items start at
    /// `items_at`.
    fn list<T: Copy + Default, const N: usize>(
        &self,
        field: &'static str,
        count_at: usize,
        items_at: usize,
        read: impl Fn(&mut Reader<'_>) -> Result<T>,
    ) -> Result<List<T, N>> {
        let count = self.u64(count_at)?;
        List::read_with(field, count, &mut self.at(items_at)?, read)
    }
}

/// Writes one fixed-layout structure field by field at offsets from where the writer
/// stood when it began; gaps, and the tail up to the structure's width, are zeros.
struct Layout<'w, 'b> {
    w: &'w mut Writer<'b>,
    start: usize,
}

impl<'w, 'b> Layout<'w, 'b> {
    fn new(w: &'w mut Writer<'b>) -> Self {
        let start = w.position();
        Self { w, start }
    }

    /// The writer, after zero-filling up to `offset`. Offsets must be visited in
    /// increasing order; going back is an [`Error::InvalidField`] (a layout bug).
    fn at(&mut self, offset: usize) -> Result<&mut Writer<'b>> {
        let here = self.w.position().saturating_sub(self.start);
        let gap = offset.checked_sub(here).ok_or(Error::InvalidField {
            field: "rmi.layout_offset",
            value: offset as u64,
        })?;
        self.w.zeros(gap)?;
        Ok(self.w)
    }

    fn u8(&mut self, offset: usize, v: u8) -> Result<()> {
        self.at(offset)?.u8(v)
    }

    fn u16(&mut self, offset: usize, v: u16) -> Result<()> {
        self.at(offset)?.u16(v)
    }

    fn u32(&mut self, offset: usize, v: u32) -> Result<()> {
        self.at(offset)?.u32(v)
    }

    fn u64(&mut self, offset: usize, v: u64) -> Result<()> {
        self.at(offset)?.u64(v)
    }

    /// Writes `items` one after the other from `offset`.
    fn items<T>(
        &mut self,
        offset: usize,
        items: &[T],
        write: impl Fn(&T, &mut Writer<'_>) -> Result<()>,
    ) -> Result<()> {
        let w = self.at(offset)?;
        items.iter().try_for_each(|item| write(item, w))
    }

    /// Writes the count of `items` at `count_at` and the items from `items_at`.
    fn list<T>(
        &mut self,
        count_at: usize,
        items_at: usize,
        items: &[T],
        write: impl Fn(&T, &mut Writer<'_>) -> Result<()>,
    ) -> Result<()> {
        self.u64(count_at, items.len() as u64)?;
        self.items(items_at, items, write)
    }

    /// Zero-fills up to `width` bytes from the start.
    fn finish(mut self, width: usize) -> Result<()> {
        self.at(width).map(|_| ())
    }
}

/// Narrows a register value to the `u8` of a code space, so that a value above 255 is
/// an [`Error::UnknownCode`] in `space` rather than a silent truncation.
fn reg_u8(space: &'static str, v: u64) -> Result<u8> {
    u8::try_from(v).map_err(|_| Error::UnknownCode { space, value: v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_writes_zero_gaps_and_refuses_going_back() {
        let mut buf = [0xffu8; 32];
        let mut w = Writer::new(&mut buf);
        let mut l = Layout::new(&mut w);
        l.u8(0x08, 7).unwrap();
        l.u16(0x10, 0x1234).unwrap();
        assert!(l.u8(0x04, 1).is_err());
        l.finish(0x20).unwrap();
        assert_eq!(w.finish(), 32);
        assert_eq!(buf[..8], [0; 8]);
        assert_eq!(buf[8], 7);
        assert_eq!(buf[0x10..0x12], [0x34, 0x12]);
        assert!(buf[0x12..].iter().all(|b| *b == 0));
    }

    #[test]
    fn fields_length_rules() {
        let buf = [0u8; 16];
        assert!(Fields::new(&buf, 8, 16).is_ok());
        assert_eq!(
            Fields::new(&buf[..4], 8, 16).err(),
            Some(Error::Truncated {
                offset: 4,
                needed: 4
            })
        );
        assert_eq!(
            Fields::new(&buf, 8, 12).err(),
            Some(Error::TrailingBytes { count: 4 })
        );
    }

    #[test]
    fn list_capacity_and_equality() {
        let a = List::<u64, 2>::from_slice("t", &[1, 2]).unwrap();
        assert_eq!(a.as_slice(), &[1, 2]);
        assert!(List::<u64, 2>::from_slice("t", &[1, 2, 3]).is_err());
        assert_eq!(
            List::<u64, 2>::from_slice("t", &[]).unwrap(),
            List::default()
        );
    }

    #[test]
    fn range_rules() {
        let r = |base, top| AddrRange { base, top };
        assert!(ranges_sorted(&[r(0, 1), r(1, 2), r(8, 9)]));
        assert!(!ranges_sorted(&[r(0, 2), r(1, 3)]));
        assert!(!ranges_sorted(&[r(2, 2)]));
        assert!(ranges_overlap(&[r(0, 4)], &[r(3, 5)]));
        assert!(!ranges_overlap(&[r(0, 4)], &[r(4, 5)]));
    }
}
