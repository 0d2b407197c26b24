// SPDX-License-Identifier: GPL-2.0

//! How bytes reach the two engines; no protocol role lives here.
//!
//! - [`qemu_socket`]: QEMU's SPDM socket framing (`spdm_port`), DOE objects between
//!   QEMU's device model and tsm-dsm;
//! - [`fw_channel`]: the `/dev/tsm_fw` message channel between the kernel and tsm-fw,
//!   one message per `read()`/`write()` on the character device or length-framed on a
//!   byte stream;
//! - [`relay`]: a userspace stand-in for the kernel's relay loop, carrying the
//!   firmware's DOE requests to an in-process DSM or to one behind QEMU's socket, for
//!   the tests and the benchmark.

use std::io::{self, Read};

pub mod fw_channel;
pub mod qemu_socket;
pub mod relay;

/// Fills `buf` from the byte stream `r`, as the head of the next frame or message:
/// `Ok(false)` if the stream ends before its first byte (the peer closed between two
/// messages), an `UnexpectedEof` error if it ends after. Reads interrupted by a signal
/// are retried.
pub fn read_head(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `Interrupted` once, then reads from the slice.
    struct Interrupted<'a>(bool, &'a [u8]);

    impl Read for Interrupted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.0) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.1.read(buf)
        }
    }

    #[test]
    fn a_head_is_whole_absent_or_an_error() {
        let mut b = [0u8; 4];
        assert!(read_head(&mut &[1u8, 2, 3, 4, 5][..], &mut b).unwrap());
        assert_eq!(b, [1, 2, 3, 4]);
        assert!(!read_head(&mut &[][..], &mut b).unwrap());
        let e = read_head(&mut &[1u8, 2][..], &mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(read_head(&mut Interrupted(true, &[9, 8, 7, 6]), &mut b).unwrap());
        assert_eq!(b, [9, 8, 7, 6]);
    }
}
