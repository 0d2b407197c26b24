// SPDX-License-Identifier: GPL-2.0

//! The `/dev/tsm_fw` message channel: how whole `tsm_proto::fwmsg` messages travel
//! between the kernel and tsm-fw. On the character device one `read()`/`write()` is one
//! message ([`Framing::Datagram`]); on any byte stream (a pipe pair, a Unix socket) the
//! header's length field frames them ([`Framing::Stream`]). A reader thread feeds a
//! channel so that either side can wait with a timeout on any transport.

use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver};

use tsm_proto::fwmsg::{self, declared_len, size, Message};

/// How messages are read from the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One `read()` returns exactly one message (the character device).
    Datagram,
    /// A byte stream; the header's length field delimits messages.
    Stream,
}

/// Reads one message.
pub fn read_message(r: &mut dyn Read, framing: Framing) -> io::Result<Option<Vec<u8>>> {
    match framing {
        Framing::Datagram => {
            let mut buf = vec![0u8; fwmsg::MAX_MSG_SIZE];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => return Ok(None),
                    Ok(n) => {
                        buf.truncate(n);
                        return Ok(Some(buf));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Framing::Stream => {
            let mut head = vec![0u8; size::HDR];
            if !super::read_head(r, &mut head)? {
                return Ok(None);
            }
            let len = declared_len(&head).unwrap_or(0);
            if !(size::HDR..=fwmsg::MAX_MSG_SIZE).contains(&len) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("message length {len} out of bounds"),
                ));
            }
            head.resize(len, 0);
            r.read_exact(&mut head[size::HDR..])?;
            Ok(Some(head))
        }
    }
}

/// Writes one message, with `req_id`, in a single `write()` call where possible.
pub fn write_message<'a>(w: &mut dyn Write, req_id: u64, msg: &impl Message<'a>) -> io::Result<()> {
    let b = msg
        .to_vec(req_id)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    w.write_all(&b)?;
    w.flush()
}

/// Spawns a reader thread; the channel yields raw messages, then one `Err` or `None` at
/// the end of the stream.
pub fn reader_thread(
    mut r: Box<dyn Read + Send>,
    framing: Framing,
) -> Receiver<io::Result<Option<Vec<u8>>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let m = read_message(&mut *r, framing);
        let end = !matches!(m, Ok(Some(_)));
        if tx.send(m).is_err() || end {
            return;
        }
    });
    rx
}
