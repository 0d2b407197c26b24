// SPDX-License-Identifier: GPL-2.0

//! The sequencer of one TIO command: issue, relay SPDM and re-issue, grow the buffers
//! once on EXPAND, finish.
//!
//! The algorithm is the fact sheet's §3 (L72 = OOT): a command that returns SPDM_REQUEST
//! (0x32) has left an SPDM request in its req buffer; the host relays it over DOE, writes
//! the reply to the resp buffer and re-issues the **identical** buffer, saved as copied
//! back at the first bounce (its length field must match), until the status is not
//! 0x32. EXPAND_BUFFER_LENGTH_REQUEST (0x31) asks the host to grow the output and/or
//! scratch buffer to the capacity the firmware wrote in its header and retry once.
//!
//! The machine is a typestate: [`Sequencer::start`] gives an [`Issue`], each step
//! consumes the state it was in and gives the next [`Next`], and all state lives in the
//! value the host holds. That makes the defects the fact sheet lists in the Linux code
//! unrepresentable:
//!
//! - *the EXPAND branch never runs* (it tests `rc == 0`, which a non-zero status never
//!   satisfies): here the status alone decides, and 0x31 yields [`Next::Expand`];
//! - *the retry reuses the stale SLAs of the freed buffers*: [`Expand::grown`] takes the
//!   new `spdm_ctrl`, refuses one whose grown buffers' SLAs did not change, and rewrites
//!   `spdm_ctrl` in the retried buffer;
//! - *a failed DOE exchange leaves the saved command behind*, for a later 0x32 to
//!   re-issue: the saved buffer lives in the sequencer, and [`Relay::failed`] consumes
//!   it, so nothing survives to be re-issued by another command;
//! - a second EXPAND is [`Failure::ExpandTwice`], never another retry.
//!
//! The machine does not bound the number of relays (the fact sheet gives no bound);
//! [`Done::relays`] counts them for a caller that wants one.

use super::super::codec::Error;
use super::cmd::{check_len_field, Command, Layout};
use super::request::{CmdBuf, Request, SpdmCtrl};
use super::result::{classify, Class};
use super::sla::Sla;

/// Why a command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The firmware returned a status that ends the command (raw: it may be a code this
    /// crate does not know).
    Firmware {
        /// The status.
        status: u16,
    },
    /// SPDM_REQUEST from a command without `spdm_ctrl`.
    RelayWithoutSpdm,
    /// EXPAND_BUFFER_LENGTH_REQUEST from a command without `spdm_ctrl`.
    ExpandWithoutSpdm,
    /// A second EXPAND_BUFFER_LENGTH_REQUEST (the first retry is the only one).
    ExpandTwice,
    /// [`Expand::grown`] was given SLAs that do not name new buffers: the output and
    /// scratch SLAs unchanged, a grown one NULL, or req/resp changed.
    StaleSla,
    /// The DOE exchange of a relay failed. The saved command is dropped.
    Exchange,
    /// The buffer the firmware copied back is not the command's length, or its length
    /// field does not match.
    CopyBack(Error),
    /// The request does not encode in its layout.
    Encode(Error),
}

/// A finished command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The buffer as the firmware copied it back on success.
    pub buffer: CmdBuf,
    /// SPDM exchanges relayed.
    pub relays: u32,
    /// Whether the buffers were grown (one EXPAND).
    pub expanded: bool,
}

/// What the host does next.
///
/// No state is `Clone`: each step is used once, so an old [`Issue`] cannot be kept and
/// re-issued after the command moved on or ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Issue [`Issue::buffer`] and report the status with [`Issue::returned`].
    Issue(Issue),
    /// Relay the REQ in the req buffer and write RESP (see `buffer`), then
    /// [`Relay::exchanged`] or [`Relay::failed`].
    Relay(Relay),
    /// Grow the buffers whose header capacity changed (`buffer::expand_request`), then
    /// [`Expand::grown`].
    Expand(Expand),
    /// The command is over.
    Done(Result<Done, Failure>),
}

/// The state every step carries.
#[derive(Debug, PartialEq, Eq)]
pub struct Sequencer {
    layout: Layout,
    request: Request,
    /// What the next issue sends: the encoding, then the saved copy-back.
    next: CmdBuf,
    saved: bool,
    expanded: bool,
    relays: u32,
}

impl Sequencer {
    /// Starts `request` in `layout`: the first step issues its encoding.
    pub fn start(layout: Layout, request: Request) -> core::result::Result<Issue, Failure> {
        let next = request.encode(layout).map_err(Failure::Encode)?;
        Ok(Issue(Self {
            layout,
            request,
            next,
            saved: false,
            expanded: false,
            relays: 0,
        }))
    }

    fn command(&self) -> Command {
        self.request.command()
    }

    fn copy_back(&self, copied: &[u8]) -> core::result::Result<CmdBuf, Failure> {
        let len = self.command().buffer_len(self.layout);
        super::exact(copied, len).map_err(Failure::CopyBack)?;
        check_len_field(copied, len).map_err(Failure::CopyBack)?;
        CmdBuf::from_bytes(copied).map_err(Failure::CopyBack)
    }
}

/// A command buffer to issue.
#[derive(Debug, PartialEq, Eq)]
pub struct Issue(Sequencer);

impl Issue {
    /// The buffer to issue.
    pub fn buffer(&self) -> &CmdBuf {
        &self.0.next
    }

    /// The command to issue it as.
    pub fn command(&self) -> Command {
        self.0.command()
    }

    /// The request being run (with the current `spdm_ctrl`).
    pub fn request(&self) -> &Request {
        &self.0.request
    }

    /// The firmware returned `status` with the buffer `copied` back.
    pub fn returned(self, status: u16, copied: &[u8]) -> Next {
        let mut s = self.0;
        match classify(status) {
            Class::Success => Next::Done(s.copy_back(copied).map(|buffer| Done {
                buffer,
                relays: s.relays,
                expanded: s.expanded,
            })),
            Class::Relay => {
                if !s.command().uses_spdm() {
                    return Next::Done(Err(Failure::RelayWithoutSpdm));
                }
                if !s.saved {
                    match s.copy_back(copied) {
                        Ok(b) => s.next = b,
                        Err(e) => return Next::Done(Err(e)),
                    }
                    s.saved = true;
                }
                s.relays = s.relays.saturating_add(1);
                Next::Relay(Relay(s))
            }
            Class::Expand => {
                if !s.command().uses_spdm() {
                    Next::Done(Err(Failure::ExpandWithoutSpdm))
                } else if s.expanded {
                    Next::Done(Err(Failure::ExpandTwice))
                } else {
                    s.expanded = true;
                    Next::Expand(Expand(s))
                }
            }
            Class::Fatal => Next::Done(Err(Failure::Firmware { status })),
        }
    }
}

/// An SPDM exchange to relay.
#[derive(Debug, PartialEq, Eq)]
pub struct Relay(Sequencer);

impl Relay {
    /// The command being run.
    pub fn command(&self) -> Command {
        self.0.command()
    }

    /// The `spdm_ctrl` whose req buffer holds the request and whose resp buffer takes
    /// the reply.
    pub fn ctrl(&self) -> Option<SpdmCtrl> {
        self.0.request.ctrl()
    }

    /// The exchange succeeded and RESP is written: re-issue the identical saved buffer.
    pub fn exchanged(self) -> Next {
        Next::Issue(Issue(self.0))
    }

    /// The exchange failed: the command ends, and its saved buffer with it.
    pub fn failed(self) -> Next {
        Next::Done(Err(Failure::Exchange))
    }
}

/// Buffers to grow before the one retry.
#[derive(Debug, PartialEq, Eq)]
pub struct Expand(Sequencer);

impl Expand {
    /// The current `spdm_ctrl` (whose output and scratch headers say what is needed).
    pub fn ctrl(&self) -> Option<SpdmCtrl> {
        self.0.request.ctrl()
    }

    /// The buffers are grown and `new` names them: retry with `spdm_ctrl` rewritten.
    /// `new` must keep req and resp, change the output or the scratch SLA (or both),
    /// and a changed SLA must not be NULL; otherwise [`Failure::StaleSla`].
    pub fn grown(self, new: SpdmCtrl) -> Next {
        let mut s = self.0;
        let Some(old) = s.request.ctrl() else {
            return Next::Done(Err(Failure::ExpandWithoutSpdm));
        };
        let changed = |a: Sla, b: Sla| a != b;
        let out = changed(old.output, new.output);
        let scr = changed(old.scratch, new.scratch);
        if new.req != old.req
            || new.resp != old.resp
            || !(out || scr)
            || (out && new.output.is_null())
            || (scr && new.scratch.is_null())
        {
            return Next::Done(Err(Failure::StaleSla));
        }
        let request = match s.request.with_ctrl(new) {
            Ok(r) => r,
            Err(e) => return Next::Done(Err(Failure::Encode(e))),
        };
        if let Err(e) = s.next.set_ctrl(&new) {
            return Next::Done(Err(Failure::Encode(e)));
        }
        s.request = request;
        Next::Issue(Issue(s))
    }

    /// The host could not grow the buffers: the command ends with the EXPAND status.
    pub fn abandon(self) -> Next {
        Next::Done(Err(Failure::Firmware {
            status: super::result::Status::ExpandBufferLengthRequest.to_u16(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_spdm_command_cannot_relay() {
        let Ok(i) = Sequencer::start(Layout::Current, Request::TioInit) else {
            panic!()
        };
        let b = *i.buffer();
        assert_eq!(
            i.returned(0x32, b.as_bytes()),
            Next::Done(Err(Failure::RelayWithoutSpdm))
        );
    }
}
