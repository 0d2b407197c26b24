// SPDX-License-Identifier: GPL-2.0

//! QEMU's trace log, as tsm-dsm reads it: the host actions on a device that do not go
//! through its DOE mailbox.
//!
//! QEMU started with `-trace pci_cfg_write -D FILE` writes one line per guest config
//! write to FILE and flushes it *before* it hands the write to the device model
//! (`hw/pci/trace-events`):
//!
//! ```text
//! pci_cfg_write nvme 01:00.0 @0x4 <- 0x6
//! 12345@1712345678.123456:pci_cfg_write nvme 01:00.0 @0x4 <- 0x6
//! ```
//!
//! i.e. the device's name, `bus:slot.func` in hexadecimal, the config offset and the
//! value written. The second form, with a `PID@SECONDS.MICROS:` prefix, is what QEMU
//! writes with `-msg timestamp=on`; the prefix is accepted and ignored. The file holds
//! other lines too (other trace events, guest error messages, QEMU warnings): anything
//! that does not parse as an event is skipped.
//!
//! What the trace does not carry: the access *size* (a 1-, 2- or 4-byte write of a small
//! value looks the same), and the PCI segment. The consumer infers the size
//! (`dsm::host_view`), and matches functions by bus/device/function only. The bus
//! number is the one the bus had when the write was made: a device whose bus is
//! renumbered after a write (by firmware, then by the OS) is seen under its old number
//! for that write.
//!
//! [`TraceFollower`] follows the file as QEMU appends to it, like `tail -F`: complete
//! lines only, from byte 0, surviving the file not existing yet and a new QEMU
//! truncating it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One event from QEMU's trace log.
///
/// Only config writes today; MMIO events would be further variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// `pci_cfg_write`: the guest wrote `value` at config `offset` of a function.
    CfgWrite {
        /// Bus number at the time of the write.
        bus: u8,
        /// Device (slot) number, 0-31.
        slot: u8,
        /// Function number, 0-7.
        func: u8,
        /// Config-space offset of the write.
        offset: u16,
        /// The value written (as wide as the access, which the trace does not say).
        value: u32,
    },
}

impl TraceEvent {
    /// The requester ID (`bus << 8 | slot << 3 | func`) of the function the event is
    /// about.
    pub const fn requester_id(&self) -> u16 {
        match *self {
            Self::CfgWrite {
                bus, slot, func, ..
            } => ((bus as u16) << 8) | ((slot as u16) << 3) | func as u16,
        }
    }
}

/// The event name of config writes.
const CFG_WRITE: &str = "pci_cfg_write";

/// Strips QEMU's optional `PID@SECONDS.MICROS:` prefix.
fn strip_timestamp(line: &str) -> &str {
    let Some((head, rest)) = line.split_once(':') else {
        return line;
    };
    let Some((pid, time)) = head.split_once('@') else {
        return line;
    };
    let Some((secs, micros)) = time.split_once('.') else {
        return line;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(pid) && digits(secs) && digits(micros) {
        rest
    } else {
        line
    }
}

/// `0x`-prefixed hexadecimal.
fn hex_u32(s: &str) -> Option<u32> {
    u32::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// `BB:SS.F`, hexadecimal.
fn parse_bdf(s: &str) -> Option<(u8, u8, u8)> {
    let (bus, df) = s.split_once(':')?;
    let (slot, func) = df.split_once('.')?;
    let bus = u8::from_str_radix(bus, 16).ok()?;
    let slot = u8::from_str_radix(slot, 16).ok().filter(|s| *s <= 0x1f)?;
    let func = u8::from_str_radix(func, 16).ok().filter(|f| *f <= 7)?;
    Some((bus, slot, func))
}

/// Parses one line of QEMU's trace log (with or without its line end); `None` for
/// anything that is not a well-formed event this module knows.
pub fn parse_line(line: &str) -> Option<TraceEvent> {
    let line = strip_timestamp(line.trim_start());
    let words: Vec<&str> = line.split_whitespace().collect();
    // pci_cfg_write NAME... BB:SS.F @0xOFF <- 0xVAL: the name is QEMU's and could in
    // principle hold spaces, so the fixed fields are taken from the end.
    let [event, .., bdf, at, arrow, value] = words.as_slice() else {
        return None;
    };
    if *event != CFG_WRITE || *arrow != "<-" || words.len() < 6 {
        return None;
    }
    let (bus, slot, func) = parse_bdf(bdf)?;
    let offset = u16::try_from(hex_u32(at.strip_prefix('@')?)?).ok()?;
    let value = hex_u32(value)?;
    Some(TraceEvent::CfgWrite {
        bus,
        slot,
        func,
        offset,
        value,
    })
}

/// The longest line parsed; a longer one (never an event) is skipped, and at most this
/// much of it is kept in memory while waiting for its end.
pub const MAX_LINE: usize = 4096;

/// Follows a trace file by path, from byte 0, returning the events of the complete lines
/// appended since the previous poll.
///
/// A line is consumed only with its `\n`: a partial last line waits for the next poll.
/// A missing file reads as empty (and what appears at the path later is read from byte
/// 0). A file that shrank below what was read, or that was replaced by another file (a
/// new QEMU truncating or recreating its `-D` log), is read again from byte 0.
///
/// A truncation (or a replacement by a file that got the same inode number) followed by
/// regrowth past the old position, all between two polls, cannot be told from an
/// append; at the ~5 ms a DSM polls, a new QEMU does not write that much that fast.
#[derive(Debug)]
pub struct TraceFollower {
    path: PathBuf,
    /// Bytes of complete lines consumed.
    offset: u64,
    /// The start of the partial line after `offset` (at most [`MAX_LINE`] bytes).
    partial: Vec<u8>,
    /// Length of the partial line, including what was not kept.
    partial_len: u64,
    /// Identity (device, inode) of the file being followed.
    file_id: Option<(u64, u64)>,
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

impl TraceFollower {
    /// A follower of `path` that has read nothing yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
            partial_len: 0,
            file_id: None,
        }
    }

    /// The file followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of complete lines consumed (events or not).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.partial.clear();
        self.partial_len = 0;
    }

    /// Reads what was appended since the last poll and returns the events of the
    /// complete lines in it, in file order.
    pub fn poll(&mut self) -> io::Result<Vec<TraceEvent>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Whatever appears at the path later is another file.
                if self.offset + self.partial_len != 0 {
                    self.restart();
                }
                self.file_id = None;
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let id = file_id(&meta);
        let read_pos = self.offset + self.partial_len;
        if meta.len() < read_pos || (self.file_id.is_some() && id != self.file_id) {
            log::info!(
                "trace {}: truncated or replaced, reading it again from the start",
                self.path.display()
            );
            self.restart();
        }
        self.file_id = id;
        let read_pos = self.offset + self.partial_len;
        if meta.len() == read_pos {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(read_pos))?;
        let mut new = Vec::new();
        file.read_to_end(&mut new)?;
        Ok(self.consume(&new))
    }

    /// Feeds bytes read after the partial line; returns the events of the lines they
    /// complete.
    fn consume(&mut self, mut bytes: &[u8]) -> Vec<TraceEvent> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (chunk, complete) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (bytes.get(..=i).unwrap_or(bytes), true),
                None => (bytes, false),
            };
            bytes = bytes.get(chunk.len()..).unwrap_or(&[]);
            let room = MAX_LINE.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(&[]));
            self.partial_len += chunk.len() as u64;
            if !complete {
                break;
            }
            let whole = self.partial_len <= MAX_LINE as u64;
            if let Some(ev) = std::str::from_utf8(&self.partial)
                .ok()
                .filter(|_| whole)
                .and_then(parse_line)
            {
                out.push(ev);
            }
            self.offset += self.partial_len;
            self.partial.clear();
            self.partial_len = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::scratch::{self, ScratchDir};

    fn cfg(bus: u8, slot: u8, func: u8, offset: u16, value: u32) -> TraceEvent {
        TraceEvent::CfgWrite {
            bus,
            slot,
            func,
            offset,
            value,
        }
    }

    #[test]
    fn parses_config_writes_with_and_without_the_timestamp() {
        assert_eq!(
            parse_line("pci_cfg_write nvme 01:00.0 @0x4 <- 0x6"),
            Some(cfg(1, 0, 0, 4, 6))
        );
        assert_eq!(
            parse_line("4242@1712345678.000123:pci_cfg_write nvme 1f:1e.7 @0x10c <- 0x80000001\n"),
            Some(cfg(0x1f, 0x1e, 7, 0x10c, 0x8000_0001))
        );
        assert_eq!(
            parse_line("pci_cfg_write pcie-root-port 00:10.0 @0x1a <- 0xff\r\n"),
            Some(cfg(0, 0x10, 0, 0x1a, 0xff))
        );
        let e = parse_line("pci_cfg_write nvme 02:03.1 @0xfff <- 0x0").unwrap();
        assert_eq!(e.requester_id(), 0x0219);
    }

    #[test]
    fn junk_is_not_an_event() {
        for line in [
            "",
            "\n",
            "pci_cfg_write",
            "pci_cfg_read nvme 01:00.0 @0x4 -> 0x6",
            "pci_cfg_write nvme 01:00.0 @0x4 -> 0x6",
            "pci_cfg_write 01:00.0 @0x4 <- 0x6",
            "pci_cfg_write nvme 01:00 @0x4 <- 0x6",
            "pci_cfg_write nvme 01:20.0 @0x4 <- 0x6",
            "pci_cfg_write nvme 01:00.8 @0x4 <- 0x6",
            "pci_cfg_write nvme 100:00.0 @0x4 <- 0x6",
            "pci_cfg_write nvme 01:00.0 0x4 <- 0x6",
            "pci_cfg_write nvme 01:00.0 @0x10000 <- 0x6",
            "pci_cfg_write nvme 01:00.0 @0x4 <- 6",
            "pci_cfg_write nvme 01:00.0 @0x4 <- 0x100000000",
            "pci_cfg_write nvme 01:00.0 @0x4 <-",
            "x@1.2:pci_cfg_write nvme 01:00.0 @0x4 <- 0x6",
            "qemu-system-x86_64: warning: something pci_cfg_write nvme 01:00.0 @0x4 <- 0x6",
            "guest_errors: bad access @0x4 <- 0x6",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    /// A fresh file path in a directory removed when the test ends.
    fn scratch_log(tag: &str) -> (ScratchDir, PathBuf) {
        let d = ScratchDir::new(tag).unwrap();
        let p = d.join("qemu.log");
        (d, p)
    }

    fn append(p: &Path, s: &str) {
        scratch::append(p, s).unwrap();
    }

    #[test]
    fn follows_appends_partial_lines_and_a_missing_file() {
        let (_dir, p) = scratch_log("trace-follow");
        let mut t = TraceFollower::new(&p);
        assert_eq!(t.poll().unwrap(), vec![]);
        assert_eq!(t.offset(), 0);
        let l1 = "pci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n";
        append(&p, l1);
        append(&p, "some other line\n");
        append(&p, "pci_cfg_write nvme 01:00.0 @0x4 ");
        assert_eq!(t.poll().unwrap(), vec![cfg(1, 0, 0, 4, 6)]);
        let done = (l1.len() + "some other line\n".len()) as u64;
        assert_eq!(t.offset(), done);
        assert_eq!(t.poll().unwrap(), vec![]);
        append(&p, "<- 0x2");
        assert_eq!(t.poll().unwrap(), vec![]);
        assert_eq!(t.offset(), done);
        append(&p, "\npci_cfg_write nvme 01:00.0 @0x10 <- 0xfebf0000\n");
        assert_eq!(
            t.poll().unwrap(),
            vec![cfg(1, 0, 0, 4, 2), cfg(1, 0, 0, 0x10, 0xfebf_0000)]
        );
        assert_eq!(t.offset(), std::fs::metadata(&p).unwrap().len());
    }

    #[test]
    fn a_truncated_or_replaced_file_is_read_from_the_start() {
        let (_dir, p) = scratch_log("trace-trunc");
        let mut t = TraceFollower::new(&p);
        append(&p, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n");
        append(&p, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x7\n");
        assert_eq!(t.poll().unwrap().len(), 2);
        // A new QEMU opens its log with "w".
        std::fs::write(&p, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x2\n").unwrap();
        assert_eq!(t.poll().unwrap(), vec![cfg(1, 0, 0, 4, 2)]);
        assert_eq!(t.offset(), std::fs::metadata(&p).unwrap().len());
        // Deleted: nothing to read, nothing consumed; recreated, even longer than
        // before: read from the start.
        std::fs::remove_file(&p).unwrap();
        assert_eq!(t.poll().unwrap(), vec![]);
        assert_eq!(t.offset(), 0);
        let long = "pci_cfg_write nvme 01:00.0 @0x4 <- 0x0\n".repeat(3);
        std::fs::write(&p, &long).unwrap();
        assert_eq!(t.poll().unwrap().len(), 3);
        assert_eq!(t.offset(), long.len() as u64);
    }

    #[test]
    fn an_overlong_line_is_skipped_whole() {
        let (_dir, p) = scratch_log("trace-long");
        let mut t = TraceFollower::new(&p);
        // An event followed by more than MAX_LINE of zeroes: the value is not 0x6.
        let junk = format!(
            "pci_cfg_write nvme 01:00.0 @0x4 <- 0x6{}",
            "0".repeat(3 * MAX_LINE)
        );
        append(&p, &junk);
        assert_eq!(t.poll().unwrap(), vec![]);
        assert!(t.partial.len() <= MAX_LINE);
        append(&p, "\npci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n");
        assert_eq!(t.poll().unwrap(), vec![cfg(1, 0, 0, 4, 6)]);
        assert_eq!(t.offset(), std::fs::metadata(&p).unwrap().len());
    }
}
