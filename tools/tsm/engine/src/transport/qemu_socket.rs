// SPDX-License-Identifier: GPL-2.0

//! QEMU's SPDM socket protocol (`backends/spdm-socket.c`, the `spdm_port=N` property of
//! `nvme` and other DOE devices).
//!
//! QEMU connects to 127.0.0.1:N when the device is realized and, for every object the
//! guest writes to the DOE mailbox, sends one frame and reads one back. A frame is three
//! big-endian `u32`s -- command, transport type, payload length -- and the payload. For
//! the PCI DOE transport the payload is the whole DOE data object, header included.
//! Commands: `0x0001` NORMAL (a message), `0xDEAD` TEST, `0xFFFE` SHUTDOWN (QEMU sends it
//! when the device goes away; the server answers in kind and the connection ends),
//! `0xFFFD` CONTINUE, `0xFFFF` UNKNOWN. QEMU refuses responses longer than its buffer
//! ([`QEMU_MAX_MESSAGE`]).

use std::io::{self, Read, Write};

/// A message.
pub const CMD_NORMAL: u32 = 0x0001;
/// Out-of-band encapsulated KEY_UPDATE (not used by QEMU's DOE devices).
pub const CMD_OOB_ENCAP_KEY_UPDATE: u32 = 0x8001;
/// Continue.
pub const CMD_CONTINUE: u32 = 0xfffd;
/// The peer is going away.
pub const CMD_SHUTDOWN: u32 = 0xfffe;
/// Unknown command (reply to a command the server does not know).
pub const CMD_UNKNOWN: u32 = 0xffff;
/// Connection test.
pub const CMD_TEST: u32 = 0xdead;
/// Transport type: MCTP.
pub const TRANSPORT_MCTP: u32 = 0x01;
/// Transport type: PCI DOE.
pub const TRANSPORT_PCI_DOE: u32 = 0x02;
/// QEMU's receive buffer (`SPDM_SOCKET_MAX_MESSAGE_BUFFER_SIZE`).
pub const QEMU_MAX_MESSAGE: usize = 0x1200;
/// Largest payload this side accepts in a frame.
pub const MAX_FRAME_PAYLOAD: usize = 0x10_0000;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Command.
    pub command: u32,
    /// Transport type.
    pub transport: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Reads one frame; `Ok(None)` on a clean end of stream before the first byte.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 12];
    if !super::read_head(r, &mut head)? {
        return Ok(None);
    }
    let word = |i: usize| {
        head.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_be_bytes)
    };
    let (command, transport, len) = (word(0), word(4), word(8) as usize);
    if len > MAX_FRAME_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame payload of {len} bytes"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some(Frame {
        command,
        transport,
        payload,
    }))
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, f: &Frame) -> io::Result<()> {
    let len = u32::try_from(f.payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "payload too long"))?;
    let mut b = Vec::with_capacity(12 + f.payload.len());
    b.extend_from_slice(&f.command.to_be_bytes());
    b.extend_from_slice(&f.transport.to_be_bytes());
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&f.payload);
    w.write_all(&b)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_eof() {
        let f = Frame {
            command: CMD_NORMAL,
            transport: TRANSPORT_PCI_DOE,
            payload: vec![1, 2, 3, 4],
        };
        let mut b = Vec::new();
        write_frame(&mut b, &f).unwrap();
        assert_eq!(&b[..12], &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4]);
        let mut r = b.as_slice();
        assert_eq!(read_frame(&mut r).unwrap(), Some(f));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut short = &b[..5];
        assert!(read_frame(&mut short).is_err());
        let mut huge = &[0u8, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff][..];
        assert!(read_frame(&mut huge).is_err());
    }
}
