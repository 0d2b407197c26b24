// SPDX-License-Identifier: GPL-2.0

//! QEMU's trace log, as tsm-dsm reads it: the host actions on a device that do not go
//! through its DOE mailbox.
//!
//! QEMU started with `-trace EVENT` for each of the events below and `-D FILE` writes one
//! line per event to FILE and flushes it *before* the access it reports reaches the
//! device model (`hw/pci/trace-events`, `system/trace-events` of QEMU 10.0.2):
//!
//! ```text
//! pci_cfg_write nvme 01:00.0 @0x4 <- 0x6
//! pci_update_mappings_add nvme 01:00.0 0,0x10000000+0x4000
//! pci_update_mappings_del nvme 01:00.0 0,0x10000000+0x4000
//! memory_region_ops_read cpu 1 mr 0x562ced508b00 addr 0x10000000 value 0xf0107ff size 4 name 'nvme'
//! memory_region_ops_write cpu 0 mr 0x562cedea8d70 addr 0x10002000 value 0x0 size 4 name 'msix-table'
//! 12345@1712345678.123456:pci_cfg_write nvme 01:00.0 @0x4 <- 0x6
//! ```
//!
//! - `pci_cfg_write`: a config write (the device's name, `bus:slot.func` in hexadecimal,
//!   the config offset, the value written).
//! - `pci_update_mappings_add`/`_del`: a BAR (index 0-5, 6 the expansion ROM) of a
//!   function mapped at, or unmapped from, `address+size` of its bus's memory (or I/O)
//!   space, as the function's Command register and BARs make QEMU change its memory map.
//! - `memory_region_ops_read`/`_write`: an access that reached a device's MMIO or
//!   port-I/O region: every such access of every device (the UART, the timers, ...),
//!   at an *absolute* address (QEMU adds the offsets of the region's containers up to
//!   its root, for a BAR the PCI bus's address space, which is where
//!   `pci_update_mappings_add` says the BAR is). The line names no device; the consumer
//!   attributes it by address, to the BAR mapped there (`dsm::host_view`). The `mr`
//!   pointer and the region's name are ignored.
//!
//! The `PID@SECONDS.MICROS:` prefix is what QEMU writes with `-msg timestamp=on`; it is
//! accepted and ignored. The file holds other lines too (guest error messages, QEMU
//! warnings): anything that does not parse as an event is skipped.
//!
//! What the trace does not carry: the *size* of a config write (a 1-, 2- or 4-byte write
//! of a small value looks the same; MMIO lines do carry it), the PCI segment, and
//! whether an access was the host's or a TEE guest's (a real device tells them apart by
//! the TLP's T bit). The consumer infers the config write size (`dsm::host_view`), and
//! matches functions by bus/device/function only. The bus number is the one the bus had
//! when the event was traced: a device whose bus is renumbered after it (by firmware,
//! then by the OS) is seen under its old number for that event.
//!
//! [`TraceFollower`] follows the file as QEMU appends to it, like `tail -F`: complete
//! lines only, from byte 0, surviving the file not existing yet and a new QEMU
//! truncating it. MMIO lines are most of the file (a console character is one or two),
//! so a line is looked at only as far as needed to tell what it is.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One event from QEMU's trace log.
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
    /// `pci_update_mappings_add` (`mapped`) or `pci_update_mappings_del`: BAR `bar` of a
    /// function now decodes, or no longer decodes, `addr..addr + size`.
    BarMapping {
        /// Bus number at the time of the change.
        bus: u8,
        /// Device (slot) number, 0-31.
        slot: u8,
        /// Function number, 0-7.
        func: u8,
        /// BAR index, 0-5; 6 is the expansion ROM.
        bar: u8,
        /// Where the BAR is (or was) mapped, in its bus's address space.
        addr: u64,
        /// Its size in bytes.
        size: u64,
        /// Mapped (`_add`) or unmapped (`_del`).
        mapped: bool,
    },
    /// `memory_region_ops_read` or `_write` (`write`): an access of `size` bytes at the
    /// absolute address `addr`, returning or writing `value`.
    Mmio {
        /// A write, else a read.
        write: bool,
        /// The absolute address.
        addr: u64,
        /// The value read or written.
        value: u64,
        /// Access size in bytes.
        size: u8,
    },
}

/// The requester ID `bus << 8 | slot << 3 | func` (`slot` 0-31, `func` 0-7, as the
/// parser gives them).
pub const fn requester_id(bus: u8, slot: u8, func: u8) -> u16 {
    ((bus as u16) << 8) | ((slot as u16 & 0x1f) << 3) | (func as u16 & 0x7)
}

impl TraceEvent {
    /// The requester ID of the function the event is about; `None` for MMIO, which
    /// the trace attributes to no function.
    pub const fn requester_id(&self) -> Option<u16> {
        match *self {
            Self::CfgWrite {
                bus, slot, func, ..
            }
            | Self::BarMapping {
                bus, slot, func, ..
            } => Some(requester_id(bus, slot, func)),
            Self::Mmio { .. } => None,
        }
    }
}

/// The event name of config writes.
const CFG_WRITE: &str = "pci_cfg_write";
/// The event names of BAR mappings and unmappings.
const MAP_ADD: &str = "pci_update_mappings_add";
const MAP_DEL: &str = "pci_update_mappings_del";
/// The event names of MMIO (and port I/O) reads and writes.
const MMIO_READ: &str = "memory_region_ops_read";
const MMIO_WRITE: &str = "memory_region_ops_write";

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

/// `0x`-prefixed hexadecimal, 64 bits.
fn hex_u64(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
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
    let (event, rest) = line.split_once(' ')?;
    match event {
        CFG_WRITE => parse_cfg_write(rest),
        MAP_ADD => parse_mapping(rest, true),
        MAP_DEL => parse_mapping(rest, false),
        MMIO_READ => parse_mmio(rest, false),
        MMIO_WRITE => parse_mmio(rest, true),
        _ => None,
    }
}

/// `NAME... BB:SS.F @0xOFF <- 0xVAL`: the name is QEMU's and could in principle hold
/// spaces, so the fixed fields are taken from the end.
fn parse_cfg_write(rest: &str) -> Option<TraceEvent> {
    let mut w = rest.split_whitespace().rev();
    let (value, arrow, at, bdf) = (w.next()?, w.next()?, w.next()?, w.next()?);
    w.next()?;
    if arrow != "<-" {
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

/// `NAME... BB:SS.F BAR,0xADDR+0xSIZE`, the fixed fields taken from the end.
fn parse_mapping(rest: &str, mapped: bool) -> Option<TraceEvent> {
    let mut w = rest.split_whitespace().rev();
    let (spec, bdf) = (w.next()?, w.next()?);
    w.next()?;
    let (bus, slot, func) = parse_bdf(bdf)?;
    let (bar, range) = spec.split_once(',')?;
    let bar = bar.parse::<u8>().ok().filter(|b| *b <= 6)?;
    let (addr, size) = range.split_once('+')?;
    Some(TraceEvent::BarMapping {
        bus,
        slot,
        func,
        bar,
        addr: hex_u64(addr)?,
        size: hex_u64(size)?,
        mapped,
    })
}

/// `cpu N mr 0xPTR addr 0xADDR value 0xVAL size N name 'NAME'`; the name, last, may hold
/// spaces and is not read.
fn parse_mmio(rest: &str, write: bool) -> Option<TraceEvent> {
    let mut w = rest.split(' ');
    let mut field = |key: &str| {
        if w.next()? != key {
            return None;
        }
        w.next()
    };
    field("cpu")?;
    field("mr")?;
    let addr = hex_u64(field("addr")?)?;
    let value = hex_u64(field("value")?)?;
    let size = field("size")?
        .parse::<u8>()
        .ok()
        .filter(|s| (1..=8).contains(s))?;
    field("name")?;
    Some(TraceEvent::Mmio {
        write,
        addr,
        value,
        size,
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
            if complete && self.partial_len == 0 {
                // The common case, a whole line in this read: parsed where it is.
                if let Some(ev) = std::str::from_utf8(chunk)
                    .ok()
                    .filter(|_| chunk.len() <= MAX_LINE)
                    .and_then(parse_line)
                {
                    out.push(ev);
                }
                self.offset += chunk.len() as u64;
                continue;
            }
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
        assert_eq!(e.requester_id(), Some(0x0219));
    }

    #[test]
    fn parses_bar_mappings() {
        let map = |bar, addr, size, mapped| TraceEvent::BarMapping {
            bus: 1,
            slot: 0,
            func: 0,
            bar,
            addr,
            size,
            mapped,
        };
        assert_eq!(
            parse_line("pci_update_mappings_add nvme 01:00.0 0,0x10000000+0x4000\n"),
            Some(map(0, 0x1000_0000, 0x4000, true))
        );
        assert_eq!(
            parse_line("1@2.3:pci_update_mappings_del nvme 01:00.0 6,0x8000004000000000+0x40000"),
            Some(map(6, 0x8000_0040_0000_0000, 0x4_0000, false))
        );
        let e = parse_line("pci_update_mappings_add ich9 ahci 00:1f.2 4,0xc040+0x20").unwrap();
        assert_eq!(e.requester_id(), Some(0xfa));
    }

    #[test]
    fn parses_mmio_accesses() {
        assert_eq!(
            parse_line(
                "memory_region_ops_read cpu 1 mr 0x562ced508b00 addr 0x10000000 value 0xf0107ff size 4 name 'nvme'\n"
            ),
            Some(TraceEvent::Mmio {
                write: false,
                addr: 0x1000_0000,
                value: 0xf01_07ff,
                size: 4,
            })
        );
        let e = parse_line(
            "9@1.5:memory_region_ops_write cpu -1 mr 0x1 addr 0xfe801000 value 0xffffffffffffffff size 8 name 'a b'",
        )
        .unwrap();
        assert_eq!(
            e,
            TraceEvent::Mmio {
                write: true,
                addr: 0xfe80_1000,
                value: u64::MAX,
                size: 8,
            }
        );
        assert_eq!(e.requester_id(), None);
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
            "pci_update_mappings_add 01:00.0 0,0x1000+0x1000",
            "pci_update_mappings_add nvme 01:00.0 7,0x1000+0x1000",
            "pci_update_mappings_add nvme 01:00.0 0,0x1000",
            "pci_update_mappings_add nvme 01:00.0 0,1000+0x1000",
            "pci_update_mappings_del nvme 01:00.0 0;0x1000+0x1000",
            "memory_region_ops_read cpu 0 mr 0x1 addr 0x1000 value 0x0 size 4",
            "memory_region_ops_read cpu 0 mr 0x1 addr 0x1000 value 0x0 size 0 name 'x'",
            "memory_region_ops_read cpu 0 mr 0x1 addr 0x1000 value 0x0 size 16 name 'x'",
            "memory_region_ops_read cpu 0 mr 0x1 addr 1000 value 0x0 size 4 name 'x'",
            "memory_region_ops_read cpu 0 mr 0x1 value 0x0 addr 0x1000 size 4 name 'x'",
            "memory_region_ops_write cpu 0 mr 0x1 addr 0x10000000000000000 value 0x0 size 4 name 'x'",
            "memory_region_ops_ready cpu 0 mr 0x1 addr 0x1000 value 0x0 size 4 name 'x'",
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
