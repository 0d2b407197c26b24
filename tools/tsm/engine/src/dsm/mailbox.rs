// SPDX-License-Identifier: GPL-2.0

//! The DOE mailbox as the device sees the host drive it (PCIe 6.x §6.30): which
//! mailbox writes are part of an exchange and which are not.
//!
//! An exchange is: the request object written dword by dword into the Write Data
//! Mailbox (DW1 of the object gives its length in dwords, 0 meaning 2^18), DOE Control
//! with GO, then the response read out of the Read Data Mailbox, each dword
//! acknowledged by a write to it. The device knows the length of both objects (the
//! request's from its DW1, the response's because it wrote it), so it can tell a write
//! that belongs to no exchange:
//!
//! - a Write Data Mailbox write beyond the length the request's DW1 announced (or past
//!   a DW1 shorter than the two header dwords);
//! - a Write Data Mailbox write while the response to the last request is not yet
//!   read out (the host must read it all before it writes the next request);
//! - GO with a request shorter than its DW1 says, or without a header;
//! - a Read Data Mailbox write (an acknowledgement) with no response dword to read.
//!
//! After such a write the mailbox is out of step with the host until a DOE Abort, and
//! nothing more is checked until then (a real device sets DOE Error; it is what Linux
//! aborts on). What the misuse does to the device's security state is the caller's
//! (`host_view`): the SPDM session the mailbox carried is lost.
//!
//! The response length comes from the device: [`Mailbox::responded`] with the object
//! the DSM answered, and for DOE Discovery (which QEMU's DOE may answer itself, without
//! the DSM) the three dwords of a discovery response, set at GO.

use tsm_proto::doe;

/// Largest DOE object, in dwords (a DW1 length of 0 means this).
const MAX_OBJECT_DWORDS: u32 = 1 << 18;
/// A DOE Discovery response: the two header dwords and one.
const DISCOVERY_RESPONSE_DWORDS: u32 = 3;

/// A mailbox write that is not part of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misuse {
    /// A Write Data Mailbox write past the end of the request object.
    BeyondRequest,
    /// A Write Data Mailbox write while the last response is not read out.
    ResponseUnread,
    /// GO on an incomplete request.
    IncompleteRequest,
    /// A Read Data Mailbox write with nothing to read.
    NothingToRead,
}

impl Misuse {
    /// A stable kebab-case name for logs and the state file's `host.last_violation`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BeyondRequest => "doe-write-beyond-request",
            Self::ResponseUnread => "doe-write-response-unread",
            Self::IncompleteRequest => "doe-go-incomplete-request",
            Self::NothingToRead => "doe-read-nothing-to-read",
        }
    }
}

/// One DOE mailbox's exchange, as far as the device has seen it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// DW0 of the request being written, once written.
    header: Option<u32>,
    /// Its length in dwords, from its DW1, once written.
    length: Option<u32>,
    /// Dwords of the request written so far.
    written: u32,
    /// Response dwords not yet acknowledged.
    unread: u32,
    /// Out of step after a misuse, until an abort.
    out_of_step: bool,
}

impl Mailbox {
    /// A Write Data Mailbox write of `value`.
    pub fn write(&mut self, value: u32) -> Option<Misuse> {
        if self.out_of_step {
            return None;
        }
        let misuse = if self.unread != 0 {
            Some(Misuse::ResponseUnread)
        } else if self.length.is_some_and(|l| self.written >= l.max(2)) {
            Some(Misuse::BeyondRequest)
        } else {
            None
        };
        if misuse.is_some() {
            return self.misuse(misuse);
        }
        match self.written {
            0 => self.header = Some(value),
            1 => {
                let l = value & (MAX_OBJECT_DWORDS - 1);
                self.length = Some(if l == 0 { MAX_OBJECT_DWORDS } else { l });
            }
            _ => {}
        }
        self.written += 1;
        None
    }

    /// DOE Control with GO.
    pub fn go(&mut self) -> Option<Misuse> {
        if self.out_of_step {
            return None;
        }
        let complete = self.length.is_some_and(|l| l >= 2 && self.written == l);
        if !complete {
            return self.misuse(Some(Misuse::IncompleteRequest));
        }
        let discovery = self.header.is_some_and(|h| {
            h & 0xffff == u32::from(doe::PCI_SIG_VENDOR_ID)
                && (h >> 16) & 0xff == u32::from(doe::TYPE_DISCOVERY)
        });
        *self = Self {
            unread: if discovery {
                DISCOVERY_RESPONSE_DWORDS
            } else {
                0
            },
            ..Self::default()
        };
        None
    }

    /// The device answered the request with an object of `bytes` bytes.
    pub fn responded(&mut self, bytes: usize) {
        if !self.out_of_step {
            self.unread = u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX);
        }
    }

    /// A Read Data Mailbox write (the acknowledgement of one response dword).
    pub fn ack(&mut self) -> Option<Misuse> {
        if self.out_of_step {
            return None;
        }
        if self.unread == 0 {
            return self.misuse(Some(Misuse::NothingToRead));
        }
        self.unread -= 1;
        None
    }

    /// DOE Abort: back to idle, in step again.
    pub fn abort(&mut self) {
        *self = Self::default();
    }

    fn misuse(&mut self, m: Option<Misuse>) -> Option<Misuse> {
        *self = Self {
            out_of_step: true,
            ..Self::default()
        };
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request of `n` dwords (DW1 says `n`), written and sent.
    fn send(m: &mut Mailbox, n: u32) -> Option<Misuse> {
        let mut r = m.write(0x0001_0001);
        for i in 1..n {
            r = r.or(m.write(if i == 1 { n } else { 0xdead_beef }));
        }
        r.or(m.go())
    }

    #[test]
    fn an_exchange_is_no_misuse() {
        let mut m = Mailbox::default();
        for _ in 0..3 {
            assert_eq!(send(&mut m, 4), None);
            m.responded(10);
            for _ in 0..3 {
                assert_eq!(m.ack(), None);
            }
        }
        assert_eq!(m, Mailbox::default());
    }

    #[test]
    fn discovery_is_answered_with_three_dwords_even_without_the_dsm() {
        let mut m = Mailbox::default();
        assert_eq!(m.write(0x0000_0001), None);
        assert_eq!(m.write(3), None);
        assert_eq!(m.write(0), None);
        assert_eq!(m.go(), None);
        for _ in 0..3 {
            assert_eq!(m.ack(), None);
        }
        assert_eq!(m.ack(), Some(Misuse::NothingToRead));
    }

    #[test]
    fn an_acknowledgement_with_nothing_to_read_is_a_misuse_until_the_abort() {
        let mut m = Mailbox::default();
        assert_eq!(m.ack(), Some(Misuse::NothingToRead));
        // Out of step: nothing more is reported
        assert_eq!(m.ack(), None);
        assert_eq!(m.write(0x1234), None);
        assert_eq!(m.go(), None);
        m.abort();
        assert_eq!(send(&mut m, 2), None);
        assert_eq!(m.ack(), Some(Misuse::NothingToRead));
    }

    #[test]
    fn a_write_past_the_request_or_over_an_unread_response_is_a_misuse() {
        let mut m = Mailbox::default();
        assert_eq!(m.write(0x0001_0001), None);
        assert_eq!(m.write(2), None);
        assert_eq!(m.write(0), Some(Misuse::BeyondRequest));
        m.abort();
        // A DW1 shorter than the header: the third dword is past it
        assert_eq!(m.write(0x0001_0001), None);
        assert_eq!(m.write(1), None);
        assert_eq!(m.write(0), Some(Misuse::BeyondRequest));
        m.abort();
        assert_eq!(send(&mut m, 3), None);
        m.responded(8);
        assert_eq!(m.ack(), None);
        assert_eq!(m.write(0x0001_0001), Some(Misuse::ResponseUnread));
    }

    #[test]
    fn go_on_an_incomplete_request_is_a_misuse() {
        let mut m = Mailbox::default();
        assert_eq!(m.go(), Some(Misuse::IncompleteRequest));
        m.abort();
        assert_eq!(m.write(0x0001_0001), None);
        assert_eq!(m.write(4), None);
        assert_eq!(m.write(0), None);
        assert_eq!(m.go(), Some(Misuse::IncompleteRequest));
        m.abort();
        // DW1 length 0 is the largest object: two dwords are far from it
        assert_eq!(m.write(0x0001_0001), None);
        assert_eq!(m.write(0), None);
        assert_eq!(m.go(), Some(Misuse::IncompleteRequest));
    }
}
