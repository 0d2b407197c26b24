// SPDX-License-Identifier: GPL-2.0

//! One leaf call driven to its end, and the extension queue slot it holds meanwhile.
//!
//! A leaf is not one SEAMCALL: it is re-issued while the module answers
//! INTERRUPTED_RESUMABLE, interleaved with DOE relays while it answers SPDM_REQUEST, and
//! suspended for an SPDM.MNG KEY_UPDATE (with its own relays) when it answers
//! KEY_REQUIRE_REFRESH (§2). [`LeafCall`] is that loop as a pure state machine: the
//! backend issues the [`Regs`] it is given, reports what came back ([`Returned`]), and
//! relays when told ([`Next::Relay`]); the driver decides everything else.
//!
//! # The extension slot, and why the V2 deadlock cannot be written with it
//!
//! Extension calls behave like a request queue of depth 1: a concurrent one gets
//! OPERAND_BUSY (§4 "Concurrency"). The host must therefore serialize them, and V2 does
//! so with a mutex, `tdx_ext_lock`, held around SPDM CONNECT/DISCONNECT/MNG. Its
//! KEY_REQUIRE_REFRESH path then calls the MNG wrapper, which takes `tdx_ext_lock` again
//! while CONNECT/DISCONNECT/MNG still hold it: a self-deadlock (§2, "Bug").
//!
//! Here the queue is an [`ExtSlot`] and the right to use it an [`ExtTicket`], a value
//! that is neither `Clone` nor `Copy`. A [`LeafCall`] of a leaf that needs the slot
//! ([`Leaf::needs_slot`]) can only be started by *moving* a ticket into it, and gives it
//! back only in [`LeafCall::finish`]. The key refresh is not a second call that the
//! backend starts (and would have to serialize again): it is a phase of the same
//! `LeafCall`, issued under the ticket the call already owns. So:
//!
//! - there is no code path on which the backend acquires the slot while a call holds
//!   it: the refresh never reaches the backend as "start SPDM.MNG", only as more
//!   [`Next::Issue`] registers of the current call;
//! - a backend that tries anyway (starting a separate KEY_UPDATE `LeafCall`) needs a
//!   second ticket, and [`ExtSlot::take`] refuses while the first is out, returning
//!   `None` at once (the module's OPERAND_BUSY, not a wait), so the mistake fails loudly
//!   instead of hanging;
//! - the kernel mutex, if any, protects only `take`/`give_back` and is never held across
//!   a SEAMCALL that can ask for a refresh.
//!
//! ```compile_fail
//! use tsm_proto::tdx::{ExtSlot, Input, LeafCall, SpdmDisconnect};
//! let mut slot = ExtSlot::new();
//! let t = slot.take().unwrap();
//! let d = Input::SpdmDisconnect(SpdmDisconnect { spdm_id: 1, response: 0x1000, request: 0x2000 });
//! let a = LeafCall::start(d, Some(t));
//! let b = LeafCall::start(d, Some(t)); // error: the ticket was moved into `a`
//! ```

use super::super::codec::Result;
use super::call::{Input, Output, SpdmMng};
use super::hpa::HpaListInfo;
use super::leaf::{Leaf, Regs};
use super::status::{classify, Action};

/// The extension request queue of depth 1 (§4 "Concurrency") as a pure value: at most one
/// [`ExtTicket`] is out at a time.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct ExtSlot {
    taken: bool,
}

/// The right to issue extension leaves (and IDE.STREAM.KM): owned by at most one
/// [`LeafCall`] at a time. Deliberately neither `Clone` nor `Copy`.
#[derive(Debug, PartialEq, Eq)]
pub struct ExtTicket {
    _private: (),
}

impl ExtSlot {
    /// A free slot.
    pub const fn new() -> Self {
        Self { taken: false }
    }

    /// The ticket, or `None` while it is out: the caller must not wait for it while
    /// holding anything a holder needs (it is what the module would answer OPERAND_BUSY).
    pub fn take(&mut self) -> Option<ExtTicket> {
        if self.taken {
            None
        } else {
            self.taken = true;
            Some(ExtTicket { _private: () })
        }
    }

    /// Returns the ticket.
    pub fn give_back(&mut self, ticket: ExtTicket) {
        let ExtTicket { _private: () } = ticket;
        self.taken = false;
    }

    /// Whether no ticket is out.
    pub const fn is_free(&self) -> bool {
        !self.taken
    }
}

/// RAX, RCX and RDX as a SEAMCALL returned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Returned {
    /// The status.
    pub rax: u64,
    /// First output.
    pub rcx: u64,
    /// Second output.
    pub rdx: u64,
}

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The module returned a failure status (`leak`: keep the metadata pages, §2).
    Status {
        /// RAX as returned.
        status: u64,
        /// Whether the leaf's metadata pages must be leaked.
        leak: bool,
    },
    /// TDX_OPERAND_BUSY: the host did not serialize (a host bug; not retried, §2).
    Busy,
    /// The module's answer did not fit the protocol (an output that does not decode, an
    /// EXT.MEM.ADD cursor that went backwards, a refresh requested during the refresh).
    Protocol(&'static str),
    /// The call did not end within [`LeafCall::MAX_ROUNDS`] SEAMCALLs.
    TooManyRounds,
}

/// What the backend does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Next {
    /// Issue a SEAMCALL with these registers, then [`LeafCall::on_return`].
    Issue(Regs),
    /// Relay the DOE object in the request page to the device, write the response page
    /// ([`super::RelayRequest`], [`super::RelayResponse`]), then [`LeafCall::relayed`].
    Relay {
        /// The request page (`out_msg`).
        request: u64,
        /// The response page (`in_msg`).
        response: u64,
        /// RCX as returned: the request length (its unit is not given by the sheet).
        request_len: u64,
    },
    /// The leaf succeeded.
    Done(Output),
    /// IOMMU.SETUP answered OPERAND_INVALID: the IOMMU is not TDX-capable; skip it.
    Skip,
    /// The call failed.
    Failed(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Phase {
    Issued,
    Relaying,
    Ended,
}

/// One leaf call from its first SEAMCALL to its end (see the module doc).
#[derive(Debug, PartialEq, Eq)]
pub struct LeafCall {
    original: Input,
    current: Input,
    refreshing: bool,
    phase: Phase,
    rounds: u32,
    ticket: Option<ExtTicket>,
}

/// Why [`LeafCall::start`] refused: the ticket (if one was given) comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// The ticket given, returned.
    pub ticket: Option<ExtTicket>,
    /// What was wrong.
    pub why: &'static str,
}

impl LeafCall {
    /// Most SEAMCALLs one call may take, resumes, relays and the refresh included.
    /// This module's bound, not the sheet's: a module that never finishes is a failure.
    pub const MAX_ROUNDS: u32 = 1 << 16;

    /// Starts a call; returns it and the registers of the first SEAMCALL. A leaf that
    /// needs the slot ([`Leaf::needs_slot`]) without a ticket, or inputs that do not
    /// encode, are refused. A ticket given for another leaf is kept and returned by
    /// [`Self::finish`].
    pub fn start(
        input: Input,
        ticket: Option<ExtTicket>,
    ) -> core::result::Result<(Self, Regs), Refused> {
        if input.leaf().needs_slot() && ticket.is_none() {
            return Err(Refused {
                ticket,
                why: "leaf needs the extension slot",
            });
        }
        let regs = match input.regs() {
            Ok(r) => r,
            Err(_) => {
                return Err(Refused {
                    ticket,
                    why: "inputs do not encode",
                })
            }
        };
        Ok((
            Self {
                original: input,
                current: input,
                refreshing: false,
                phase: Phase::Issued,
                rounds: 1,
                ticket,
            },
            regs,
        ))
    }

    /// The input the call was started with.
    pub const fn input(&self) -> &Input {
        &self.original
    }

    /// The leaf of the SEAMCALL in flight (SPDM.MNG during a key refresh).
    pub const fn leaf_in_flight(&self) -> Leaf {
        self.current.leaf()
    }

    /// Whether a key refresh is running inside the call.
    pub const fn refreshing(&self) -> bool {
        self.refreshing
    }

    /// Whether the call has ended (done, skipped or failed).
    pub const fn ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// SEAMCALLs issued so far.
    pub const fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Ends the call and returns its ticket, if it had one.
    pub fn finish(self) -> Option<ExtTicket> {
        self.ticket
    }

    fn end(&mut self, next: Next) -> Next {
        self.phase = Phase::Ended;
        next
    }

    fn fail(&mut self, f: Failure) -> Next {
        self.end(Next::Failed(f))
    }

    fn issue(&mut self) -> Next {
        if self.rounds >= Self::MAX_ROUNDS {
            return self.fail(Failure::TooManyRounds);
        }
        match self.current.regs() {
            Ok(r) => {
                self.rounds = self.rounds.saturating_add(1);
                self.phase = Phase::Issued;
                Next::Issue(r)
            }
            Err(_) => self.fail(Failure::Protocol("re-issued inputs do not encode")),
        }
    }

    /// What to do after the SEAMCALL in flight returned `ret`. Calling it while a relay
    /// is pending or after the end is a [`Failure::Protocol`] (and ends the call).
    pub fn on_return(&mut self, ret: Returned) -> Next {
        if self.phase != Phase::Issued {
            return self.fail(Failure::Protocol("no SEAMCALL in flight"));
        }
        match classify(self.current.leaf(), ret.rax) {
            Action::Done if self.refreshing => {
                // KEY_UPDATE done: re-issue the original leaf with its inputs.
                self.refreshing = false;
                self.current = self.original;
                self.issue()
            }
            Action::Done => match Output::decode(&self.original, ret.rcx, ret.rdx) {
                Ok(out) => self.end(Next::Done(out)),
                Err(_) => self.fail(Failure::Protocol("outputs do not decode")),
            },
            Action::Resume => {
                if let Input::ExtMemAdd(mut m) = self.current {
                    match advance(m.list, ret.rcx) {
                        Ok(list) => m.list = list,
                        Err(why) => return self.fail(Failure::Protocol(why)),
                    }
                    self.current = Input::ExtMemAdd(m);
                }
                self.issue()
            }
            Action::Relay => match self.current.message_pages() {
                Some((response, request)) => {
                    self.phase = Phase::Relaying;
                    Next::Relay {
                        request,
                        response,
                        request_len: ret.rcx,
                    }
                }
                None => self.fail(Failure::Protocol("relay from a leaf without pages")),
            },
            Action::KeyRefresh => {
                if self.refreshing {
                    return self.fail(Failure::Protocol("key refresh during the key update"));
                }
                let (Some(spdm_id), Some((response, request))) =
                    (self.current.spdm_id(), self.current.message_pages())
                else {
                    return self.fail(Failure::Protocol(
                        "key refresh from a leaf without a session",
                    ));
                };
                self.refreshing = true;
                self.current = Input::SpdmMng(SpdmMng::key_update(spdm_id, response, request));
                self.issue()
            }
            Action::Skip => self.end(Next::Skip),
            Action::Busy => self.fail(Failure::Busy),
            Action::Fail { status, leak } => self.fail(Failure::Status { status, leak }),
        }
    }

    /// The relay is done (the response page written): the registers to re-issue.
    /// Outside a pending relay this is a [`Failure::Protocol`].
    pub fn relayed(&mut self) -> Next {
        if self.phase != Phase::Relaying {
            return self.fail(Failure::Protocol("no relay pending"));
        }
        self.issue()
    }

    /// The relay failed on the host side: the call ends.
    ///
    /// Unconfirmed: the sheet does not say how V2 tells the module a DOE transfer
    /// failed; the call is simply abandoned (the caller rolls back).
    pub fn relay_failed(&mut self) -> Next {
        self.fail(Failure::Protocol("DOE transfer failed"))
    }
}

/// The EXT.MEM.ADD list after an interruption: the module's output RCX must name the
/// same root and count, with the cursor not moved backwards and still inside the list.
fn advance(prev: HpaListInfo, rcx: u64) -> core::result::Result<HpaListInfo, &'static str> {
    let out: Result<HpaListInfo> = HpaListInfo::decode(rcx);
    match out {
        Ok(l) if l.root == prev.root && l.count == prev.count && l.first >= prev.first => {
            if l.first < l.count {
                Ok(l)
            } else {
                Err("EXT.MEM.ADD interrupted with nothing left")
            }
        }
        Ok(_) => Err("EXT.MEM.ADD output list does not continue the input"),
        Err(_) => Err("EXT.MEM.ADD output list does not decode"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::SpdmDisconnect;
    use super::super::status::Status;
    use super::*;

    #[test]
    fn slot_is_exclusive() {
        let mut s = ExtSlot::new();
        let t = s.take().unwrap();
        assert!(s.take().is_none());
        s.give_back(t);
        assert!(s.is_free());
    }

    #[test]
    fn refresh_is_a_phase_of_the_call() {
        let mut slot = ExtSlot::new();
        let d = Input::SpdmDisconnect(SpdmDisconnect {
            spdm_id: 9,
            response: 0x1000,
            request: 0x2000,
        });
        assert!(LeafCall::start(d, None).is_err());
        let (mut c, _) = LeafCall::start(d, slot.take()).unwrap();
        let ret = |rax| Returned {
            rax,
            ..Returned::default()
        };
        let Next::Issue(r) = c.on_return(ret(Status::KeyRequireRefresh.code())) else {
            panic!()
        };
        assert_eq!((r.rax, r.rdx), (144, 1));
        assert!(slot.take().is_none());
        let Next::Issue(r) = c.on_return(ret(0)) else {
            panic!()
        };
        assert_eq!(r.rax, 143);
        assert_eq!(c.on_return(ret(0)), Next::Done(Output::None));
        slot.give_back(c.finish().unwrap());
        assert!(slot.is_free());
    }
}
