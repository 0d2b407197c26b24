// SPDX-License-Identifier: GPL-2.0

//! The model's only window on memory: [`FwMemory`], reads and writes by physical
//! address of the pages the host handed to firmware, and [`PageMemory`], a map of
//! 4 KiB pages that stands in for it in tests.
//!
//! A real RMM reaches any PA the GPT lets it; the model reaches what the conduit lets
//! it: the delegated granules and the NS pages whose addresses the host passed in a
//! register or a parameter page. Anything else is a [`MemFault`], which the model
//! answers like an RMM whose access to a bad NS address failed (RMI_ERROR_INPUT).

use std::collections::BTreeMap;

use tsm_proto::rmi::GRANULE_SIZE;

/// Size of a granule as a `u64`, for address arithmetic.
pub const GRANULE: u64 = GRANULE_SIZE as u64;

/// An access to an address the host did not hand to firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no access to PA {pa:#x}")]
pub struct MemFault {
    /// The first address that could not be reached.
    pub pa: u64,
}

/// Memory as firmware sees it: physical addresses, any length (an access may cross a
/// granule boundary; the model's accesses never do).
pub trait FwMemory {
    /// Reads `buf.len()` bytes at `pa`.
    fn read(&mut self, pa: u64, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Writes `data` at `pa`.
    fn write(&mut self, pa: u64, data: &[u8]) -> Result<(), MemFault>;
}

/// Whether `pa` is granule aligned.
pub const fn aligned(pa: u64) -> bool {
    pa % GRANULE == 0
}

/// Reads the whole granule at `pa`.
pub fn read_page(mem: &mut dyn FwMemory, pa: u64) -> Result<Vec<u8>, MemFault> {
    let mut page = vec![0u8; GRANULE_SIZE];
    mem.read(pa, &mut page)?;
    Ok(page)
}

/// Pages by PA: the host's memory in tests (and the host driver's view of it). A PA
/// with no page is not memory; accesses to it fault.
#[derive(Debug, Default, Clone)]
pub struct PageMemory {
    pages: BTreeMap<u64, Box<[u8; GRANULE_SIZE]>>,
}

impl PageMemory {
    /// No memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a zeroed page at the granule-aligned `pa` (an existing page is kept).
    pub fn add_page(&mut self, pa: u64) {
        self.pages
            .entry(pa & !(GRANULE - 1))
            .or_insert_with(|| Box::new([0u8; GRANULE_SIZE]));
    }

    /// Removes the page at `pa` (the host stops handing it to firmware).
    pub fn remove_page(&mut self, pa: u64) {
        self.pages.remove(&(pa & !(GRANULE - 1)));
    }

    /// The page at `pa`, if there is one.
    pub fn page(&self, pa: u64) -> Option<&[u8; GRANULE_SIZE]> {
        self.pages.get(&(pa & !(GRANULE - 1))).map(|p| &**p)
    }

    /// Calls `f` on each (page, offset in it, length, offset in the buffer) piece of
    /// `[pa, pa + len)`.
    fn pieces(
        &mut self,
        pa: u64,
        len: usize,
        mut f: impl FnMut(&mut [u8; GRANULE_SIZE], usize, usize, usize),
    ) -> Result<(), MemFault> {
        granule_pieces(pa, len, |at, r| {
            let base = at & !(GRANULE - 1);
            let page = self.pages.get_mut(&base).ok_or(MemFault { pa: at })?;
            f(page, (at - base) as usize, r.len(), r.start);
            Ok(())
        })
    }
}

/// Calls `f` on each piece of `[pa, pa + len)` that stays within one granule: its address
/// and its range in a buffer of `len` bytes. Stops at the first error.
pub fn granule_pieces(
    pa: u64,
    len: usize,
    mut f: impl FnMut(u64, core::ops::Range<usize>) -> Result<(), MemFault>,
) -> Result<(), MemFault> {
    let mut done = 0usize;
    while done < len {
        let at = pa
            .checked_add(done as u64)
            .ok_or(MemFault { pa: u64::MAX })?;
        let n = (GRANULE_SIZE - (at % GRANULE) as usize).min(len - done);
        f(at, done..done + n)?;
        done += n;
    }
    Ok(())
}

impl FwMemory for PageMemory {
    fn read(&mut self, pa: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        let len = buf.len();
        // Check first, so a fault leaves `buf` untouched.
        self.pieces(pa, len, |_, _, _, _| {})?;
        self.pieces(pa, len, |page, off, n, done| {
            if let (Some(dst), Some(src)) = (buf.get_mut(done..done + n), page.get(off..off + n)) {
                dst.copy_from_slice(src);
            }
        })
    }

    fn write(&mut self, pa: u64, data: &[u8]) -> Result<(), MemFault> {
        self.pieces(pa, data.len(), |_, _, _, _| {})?;
        self.pieces(pa, data.len(), |page, off, n, done| {
            if let (Some(dst), Some(src)) = (page.get_mut(off..off + n), data.get(done..done + n)) {
                dst.copy_from_slice(src);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fault_outside_and_cross_boundaries_inside() {
        let mut m = PageMemory::new();
        m.add_page(0x1000);
        m.add_page(0x2000);
        m.write(0x1ffe, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 4];
        m.read(0x1ffe, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        assert_eq!(m.read(0x2ffe, &mut b), Err(MemFault { pa: 0x3000 }));
        assert_eq!(b, [1, 2, 3, 4], "a faulting read leaves the buffer alone");
        assert!(m.write(0x2fff, &[9, 9]).is_err());
        assert_eq!(m.page(0x2000).map(|p| p[0xfff]), Some(0), "nothing written");
        assert!(m.read(u64::MAX, &mut b).is_err());
    }
}
