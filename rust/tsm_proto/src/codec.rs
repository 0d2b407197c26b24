// SPDX-License-Identifier: GPL-2.0

//! Bounds-checked little-endian reader and writer over borrowed byte slices.
//!
//! Every message codec in this crate is written on top of [`Reader`] and [`Writer`]: they
//! never index out of bounds, never allocate and report shortfalls as [`Error`] values,
//! which is what makes the parsers total. All PCIe, SPDM, IDE-KM and TDISP multi-byte
//! fields are little-endian. [`Records`] iterates over a run of fixed-layout records and
//! [`len_field`] checks that a length fits its field.

use core::fmt;

/// Why a message could not be decoded or encoded.
///
/// One error type for the whole crate keeps the kernel side's error mapping in one place.
/// Variants carry only `Copy` data so that errors are cheap in `no_std` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The input ended before the field being read: `needed` more bytes at `offset`.
    Truncated {
        /// Offset of the field that did not fit.
        offset: usize,
        /// Bytes the field needed from `offset`.
        needed: usize,
    },
    /// Bytes were left over after a message that has a fixed or declared length.
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// The output buffer is too small for the message being encoded.
    BufferTooSmall {
        /// Bytes the whole encoding needs.
        needed: usize,
    },
    /// A field holds a value the protocol does not allow here.
    InvalidField {
        /// Static name of the field, e.g. `"doe.length"`.
        field: &'static str,
        /// The offending value, widened.
        value: u64,
    },
    /// A code (request/response code, object type, ...) that this crate does not know.
    UnknownCode {
        /// Static name of the code space, e.g. `"spdm.request_response_code"`.
        space: &'static str,
        /// The offending code.
        value: u64,
    },
    /// A protocol version this crate does not speak.
    UnsupportedVersion {
        /// The version byte as received.
        version: u8,
    },
    /// A length field is inconsistent with the data around it.
    LengthMismatch {
        /// Static name of the length field.
        field: &'static str,
        /// Length the field declared.
        declared: usize,
        /// Length actually available or implied.
        actual: usize,
    },
    /// The message is well formed but not allowed in the current protocol state.
    UnexpectedMessage {
        /// Static description of what was received.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { offset, needed } => {
                write!(f, "truncated: {needed} bytes needed at offset {offset}")
            }
            Error::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            Error::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} needed"),
            Error::InvalidField { field, value } => write!(f, "invalid {field}: {value:#x}"),
            Error::UnknownCode { space, value } => write!(f, "unknown {space}: {value:#x}"),
            Error::UnsupportedVersion { version } => {
                write!(f, "unsupported version {version:#x}")
            }
            Error::LengthMismatch {
                field,
                declared,
                actual,
            } => write!(f, "{field} declares {declared}, found {actual}"),
            Error::UnexpectedMessage { what } => write!(f, "unexpected message: {what}"),
        }
    }
}

/// Result type of every codec in this crate.
pub type Result<T> = core::result::Result<T, Error>;

/// `len` as the value of a length or count field of type `T` (`u8`, `u16`, `u32`): a
/// value the field cannot hold is an [`Error::InvalidField`] named `field`, carrying `len`.
pub fn len_field<T: TryFrom<usize>>(field: &'static str, len: usize) -> Result<T> {
    T::try_from(len).map_err(|_| Error::InvalidField {
        field,
        value: len as u64,
    })
}

/// A cursor that reads little-endian fields from a byte slice without ever panicking.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Offset of the next byte to be read.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Number of bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Reads the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated {
            offset: self.pos,
            needed: n,
        })?;
        let out = self.buf.get(self.pos..end).ok_or(Error::Truncated {
            offset: self.pos,
            needed: n,
        })?;
        self.pos = end;
        Ok(out)
    }

    /// Reads exactly `N` bytes into an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Reads every byte that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }

    /// Skips `n` bytes (reserved fields).
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian 24-bit value (SPDM uses these for lengths).
    pub fn u24(&mut self) -> Result<u32> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Fails with [`Error::TrailingBytes`] unless every byte has been read.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(Error::TrailingBytes { count }),
        }
    }
}

/// Iterator over a counted run of fixed-layout records (register blocks, table entries)
/// read back to back from a [`Reader`] by a read function. It ends after the count, or
/// at the first record that does not read (its makers hand it bytes they validated).
#[derive(Clone)]
pub struct Records<'a, T> {
    r: Reader<'a>,
    left: usize,
    read: fn(&mut Reader<'a>) -> Result<T>,
}

impl<'a, T> Records<'a, T> {
    /// Reads at most `count` records from `r` with `read`.
    pub const fn new(r: Reader<'a>, count: usize, read: fn(&mut Reader<'a>) -> Result<T>) -> Self {
        Self {
            r,
            left: count,
            read,
        }
    }
}

impl<T> fmt::Debug for Records<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("r", &self.r)
            .field("left", &self.left)
            .finish()
    }
}

impl<T> Iterator for Records<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.left = self.left.checked_sub(1)?;
        (self.read)(&mut self.r).ok()
    }
}

/// A cursor that writes little-endian fields into a caller-provided buffer.
///
/// Writing past the end fails with [`Error::BufferTooSmall`] and leaves the cursor where it
/// was, so encoders need no allocation and cannot overflow.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Number of bytes written so far.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }

    /// Consumes the writer and returns the length written.
    pub const fn finish(self) -> usize {
        self.pos
    }

    /// Reserves the next `n` bytes and returns them for the caller to fill.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
        let start = self.pos;
        let out = self
            .buf
            .get_mut(start..end)
            .ok_or(Error::BufferTooSmall { needed: end })?;
        self.pos = end;
        Ok(out)
    }

    /// Writes `data` verbatim.
    pub fn bytes(&mut self, data: &[u8]) -> Result<()> {
        self.reserve(data.len())?.copy_from_slice(data);
        Ok(())
    }

    /// Writes `n` zero bytes (reserved fields).
    pub fn zeros(&mut self, n: usize) -> Result<()> {
        self.reserve(n)?.fill(0);
        Ok(())
    }

    /// Writes one byte.
    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }

    /// Writes a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// Writes the low 24 bits of `v`, little-endian; fails if `v` does not fit.
    pub fn u24(&mut self, v: u32) -> Result<()> {
        if v > 0x00ff_ffff {
            return Err(Error::InvalidField {
                field: "u24",
                value: u64::from(v),
            });
        }
        let [a, b, c, _] = v.to_le_bytes();
        self.bytes(&[a, b, c])
    }

    /// Writes a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// Overwrites an already written little-endian `u16` at `offset` (length back-patching).
    pub fn patch_u16(&mut self, offset: usize, v: u16) -> Result<()> {
        self.patch(offset, &v.to_le_bytes())
    }

    /// Overwrites an already written little-endian `u32` at `offset` (length back-patching).
    pub fn patch_u32(&mut self, offset: usize, v: u32) -> Result<()> {
        self.patch(offset, &v.to_le_bytes())
    }

    fn patch(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        let end = offset
            .checked_add(data.len())
            .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
        if end > self.pos {
            return Err(Error::InvalidField {
                field: "patch offset",
                value: offset as u64,
            });
        }
        self.buf
            .get_mut(offset..end)
            .ok_or(Error::BufferTooSmall { needed: end })?
            .copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_le_fields_and_reports_truncation() {
        let data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut r = Reader::new(&data);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x0302));
        assert_eq!(r.u24(), Ok(0x060504));
        assert_eq!(r.u32(), Ok(0x0a090807));
        assert_eq!(
            r.u8(),
            Err(Error::Truncated {
                offset: 10,
                needed: 1
            })
        );
        assert!(r.finish().is_ok());
    }

    #[test]
    fn reader_bytes_huge_length_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0; 4]);
        r.u8().ok();
        assert!(r.bytes(usize::MAX).is_err());
        assert_eq!(r.position(), 1);
        assert_eq!(r.finish(), Err(Error::TrailingBytes { count: 3 }));
    }

    #[test]
    fn writer_round_trips_and_refuses_overflow() {
        let mut buf = [0u8; 9];
        let mut w = Writer::new(&mut buf);
        w.u8(0xaa).unwrap();
        w.u24(0x123456).unwrap();
        w.u32(0xdeadbeef).unwrap();
        assert_eq!(w.u16(1), Err(Error::BufferTooSmall { needed: 10 }));
        assert_eq!(w.position(), 8);
        w.patch_u16(1, 0xbeef).unwrap();
        assert!(w.patch_u32(6, 0).is_err());
        assert_eq!(w.finish(), 8);
        let mut r = Reader::new(&buf[..8]);
        assert_eq!(r.u8(), Ok(0xaa));
        assert_eq!(r.u16(), Ok(0xbeef));
        assert_eq!(r.u8(), Ok(0x12));
        assert_eq!(r.u32(), Ok(0xdeadbeef));
    }

    #[test]
    fn writer_u24_rejects_wide_values() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert!(w.u24(0x0100_0000).is_err());
        assert_eq!(w.position(), 0);
    }
}
