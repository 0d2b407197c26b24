// SPDX-License-Identifier: GPL-2.0

//! The multi-command orders of the host: platform init, device teardown with its forced
//! DISCONNECT retry, and TDI teardown (unbind → status → reclaim → fence).
//!
//! Each machine names the next command ([`Op`]) and is told how it ended
//! ([`Completion`]); an SPDM command inside is itself run by `seq`. Completing a
//! command other than the one asked for is an [`Error::UnexpectedMessage`]. Sources:
//! the fact sheet §3 (forced retries), §4 (implemented order) and §5 (OOT host flows):
//!
//! - platform: TIO_STATUS → TIO_INIT (unless init_done) → TIO_STATUS;
//! - device: DEV_DISCONNECT, forced directly when the system is halting or restarting,
//!   otherwise non-forced, once more non-forced after an error, then forced (OOT forces
//!   after the first error; a forced disconnect, as the PSP model reads FORCE, ends the
//!   PSP's context without SPDM END_SESSION and leaves the device holding a session, and
//!   a refused command changes nothing in the PSP); DEV_RECLAIM always follows, and the
//!   host reclaims the context pages even if it failed. After a failed connect the host
//!   goes straight to DEV_RECLAIM;
//! - TDI: TDI_UNBIND when the TDI needs it: non-forced, once more non-forced after an
//!   error, then forced. OOT forces after the first error; this order tries the plain
//!   call twice first because a forced unbind (as the PSP model reads FORCE,
//!   unconfirmed) ends the binding without TDISP STOP_INTERFACE, which leaves the device's
//!   TDI locked with no session able to stop it, and a refused command changes nothing in
//!   the PSP, so the second try is the same call on the same state;
//!   TDI_STATUS (logged only); TDI_RECLAIM (host reclaim regardless); ASID_FENCE_STATUS;
//!   ASID_FENCE_CLEAR when fenced and the TDI reached RUN; then the BAR pages are made
//!   shared. A fence verdict is the union of the DMA and MMIO fences
//!   ([`FenceStatus::fenced`]): OOT's check lets MMIO overwrite DMA (fact sheet §2, obs).
//!
//! What the host does when a forced UNBIND fails too, or when ASID_FENCE_STATUS fails,
//! the fact sheet does not say: these machines go on with the next step, and on a failed
//! ASID_FENCE_STATUS do not clear (recorded in [`TdiReport::fence`] as `None`).

use super::super::codec::{Error, Result};
use super::status::{FenceStatus, TioStatus};

/// A command one of the order machines asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// TIO_STATUS (before or after TIO_INIT).
    TioStatus,
    /// TIO_INIT.
    TioInit,
    /// DEV_DISCONNECT with FORCE as given.
    DevDisconnect {
        /// Flags bit 0.
        force: bool,
    },
    /// DEV_RECLAIM.
    DevReclaim,
    /// TDI_UNBIND with FORCE as given.
    TdiUnbind {
        /// Flags bit 0.
        force: bool,
    },
    /// TDI_STATUS.
    TdiStatus,
    /// TDI_RECLAIM.
    TdiReclaim,
    /// ASID_FENCE_STATUS.
    AsidFenceStatus,
    /// ASID_FENCE_CLEAR.
    AsidFenceClear,
}

/// How a command asked for ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// It succeeded (with no output these machines look at).
    Ok,
    /// It failed (any failure of the command's sequencer).
    Failed,
    /// TIO_STATUS succeeded with this page.
    Status(TioStatus),
    /// ASID_FENCE_STATUS succeeded with this value.
    Fence(FenceStatus),
}

fn out_of_order(what: &'static str) -> Error {
    Error::UnexpectedMessage { what }
}

/// Platform initialisation (fact sheet §4 step 1, L72).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformInit {
    /// The first TIO_STATUS.
    Probe,
    /// TIO_INIT.
    Init,
    /// The TIO_STATUS after TIO_INIT.
    Confirm,
    /// Initialised, with the last status page.
    Ready(TioStatus),
    /// Failed (a command failed, TIO is not enabled, or init did not complete).
    Failed,
}

impl PlatformInit {
    /// The start.
    pub const fn new() -> Self {
        Self::Probe
    }

    /// The next command, if any.
    pub const fn next(&self) -> Option<Op> {
        match self {
            Self::Probe | Self::Confirm => Some(Op::TioStatus),
            Self::Init => Some(Op::TioInit),
            Self::Ready(_) | Self::Failed => None,
        }
    }

    /// Advances past `op` ending as `c`.
    pub fn complete(self, op: Op, c: Completion) -> Result<Self> {
        if self.next() != Some(op) {
            return Err(out_of_order("tio: not the command platform init asked for"));
        }
        Ok(match (self, c) {
            (_, Completion::Failed) => Self::Failed,
            (Self::Probe | Self::Confirm, Completion::Status(s)) if !s.tio_en => Self::Failed,
            (Self::Probe, Completion::Status(s)) if s.init_done => Self::Ready(s),
            (Self::Probe, Completion::Status(_)) => Self::Init,
            (Self::Init, Completion::Ok) => Self::Confirm,
            (Self::Confirm, Completion::Status(s)) if s.init_done => Self::Ready(s),
            (Self::Confirm, Completion::Status(_)) => Self::Failed,
            _ => return Err(out_of_order("tio: wrong completion for platform init")),
        })
    }
}

impl Default for PlatformInit {
    fn default() -> Self {
        Self::new()
    }
}

/// What device teardown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DevReport {
    /// Whether DEV_DISCONNECT was issued forced at least once.
    pub forced: bool,
    /// Whether a DEV_DISCONNECT succeeded (`false` also when none was issued).
    pub disconnected: bool,
    /// Whether DEV_RECLAIM succeeded. The host reclaims the context pages either way.
    pub reclaimed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DevStep {
    Disconnect {
        force: bool,
    },
    /// The second non-forced DEV_DISCONNECT.
    DisconnectAgain,
    Reclaim,
    Done,
}

/// Device teardown: DEV_DISCONNECT (non-forced twice, then forced) → DEV_RECLAIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevTeardown {
    step: DevStep,
    report: DevReport,
}

impl DevTeardown {
    /// Teardown of a connected device; `halting` (system_state HALT..RESTART) forces the
    /// first DEV_DISCONNECT.
    pub const fn new(halting: bool) -> Self {
        Self {
            step: DevStep::Disconnect { force: halting },
            report: DevReport {
                forced: halting,
                disconnected: false,
                reclaimed: false,
            },
        }
    }

    /// Teardown after a failed DEV_CONNECT: straight to DEV_RECLAIM.
    pub const fn after_failed_connect() -> Self {
        Self {
            step: DevStep::Reclaim,
            report: DevReport {
                forced: false,
                disconnected: false,
                reclaimed: false,
            },
        }
    }

    /// The next command; `None` when done.
    pub const fn next(&self) -> Option<Op> {
        match self.step {
            DevStep::Disconnect { force } => Some(Op::DevDisconnect { force }),
            DevStep::DisconnectAgain => Some(Op::DevDisconnect { force: false }),
            DevStep::Reclaim => Some(Op::DevReclaim),
            DevStep::Done => None,
        }
    }

    /// What has been done so far.
    pub const fn report(&self) -> DevReport {
        self.report
    }

    /// Advances past `op` ending as `c` (only [`Completion::Ok`] or
    /// [`Completion::Failed`]).
    pub fn complete(mut self, op: Op, c: Completion) -> Result<Self> {
        if self.next() != Some(op) {
            return Err(out_of_order(
                "tio: not the command device teardown asked for",
            ));
        }
        let ok = match c {
            Completion::Ok => true,
            Completion::Failed => false,
            _ => return Err(out_of_order("tio: wrong completion for device teardown")),
        };
        self.step = match self.step {
            DevStep::Disconnect { force: false } if !ok => DevStep::DisconnectAgain,
            DevStep::DisconnectAgain if !ok => {
                self.report.forced = true;
                DevStep::Disconnect { force: true }
            }
            DevStep::Disconnect { .. } | DevStep::DisconnectAgain => {
                self.report.disconnected = ok;
                DevStep::Reclaim
            }
            DevStep::Reclaim => {
                self.report.reclaimed = ok;
                DevStep::Done
            }
            DevStep::Done => DevStep::Done,
        };
        Ok(self)
    }
}

/// What TDI teardown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TdiReport {
    /// Whether TDI_UNBIND was retried forced.
    pub unbind_forced: bool,
    /// Whether a TDI_UNBIND succeeded (`false` also when none was needed).
    pub unbound: bool,
    /// Whether TDI_STATUS succeeded (logged only).
    pub status_ok: bool,
    /// Whether TDI_RECLAIM succeeded. The host reclaims the context pages either way.
    pub reclaimed: bool,
    /// The fence status, if ASID_FENCE_STATUS succeeded.
    pub fence: Option<FenceStatus>,
    /// Whether ASID_FENCE_CLEAR was issued, and if so whether it succeeded.
    pub fence_cleared: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TdiStep {
    Unbind {
        force: bool,
    },
    /// The second non-forced TDI_UNBIND.
    UnbindAgain,
    Status,
    Reclaim,
    FenceStatus,
    FenceClear,
    Done,
}

/// TDI teardown: TDI_UNBIND (non-forced twice, then forced) → TDI_STATUS → TDI_RECLAIM →
/// ASID_FENCE_STATUS → ASID_FENCE_CLEAR if fenced and the TDI reached RUN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdiTeardown {
    step: TdiStep,
    reached_run: bool,
    report: TdiReport,
}

impl TdiTeardown {
    /// Teardown of a TDI; `needs_unbind` as the host tracks it (set after bind, cleared
    /// by a successful guest-requested unbind), `reached_run` whether it was moved to RUN.
    pub const fn new(needs_unbind: bool, reached_run: bool) -> Self {
        Self {
            step: if needs_unbind {
                TdiStep::Unbind { force: false }
            } else {
                TdiStep::Status
            },
            reached_run,
            report: TdiReport {
                unbind_forced: false,
                unbound: false,
                status_ok: false,
                reclaimed: false,
                fence: None,
                fence_cleared: None,
            },
        }
    }

    /// The next command; `None` when done (the host then makes the BAR pages shared).
    pub const fn next(&self) -> Option<Op> {
        match self.step {
            TdiStep::Unbind { force } => Some(Op::TdiUnbind { force }),
            TdiStep::UnbindAgain => Some(Op::TdiUnbind { force: false }),
            TdiStep::Status => Some(Op::TdiStatus),
            TdiStep::Reclaim => Some(Op::TdiReclaim),
            TdiStep::FenceStatus => Some(Op::AsidFenceStatus),
            TdiStep::FenceClear => Some(Op::AsidFenceClear),
            TdiStep::Done => None,
        }
    }

    /// What has been done so far.
    pub const fn report(&self) -> TdiReport {
        self.report
    }

    /// Advances past `op` ending as `c`: ASID_FENCE_STATUS takes
    /// [`Completion::Fence`] or [`Completion::Failed`], the others [`Completion::Ok`] or
    /// [`Completion::Failed`].
    pub fn complete(mut self, op: Op, c: Completion) -> Result<Self> {
        if self.next() != Some(op) {
            return Err(out_of_order("tio: not the command TDI teardown asked for"));
        }
        let wrong = || out_of_order("tio: wrong completion for TDI teardown");
        let ok = match (self.step, c) {
            (TdiStep::FenceStatus, Completion::Fence(f)) => {
                self.report.fence = Some(f);
                true
            }
            (TdiStep::FenceStatus, Completion::Ok) => return Err(wrong()),
            (_, Completion::Ok) => true,
            (_, Completion::Failed) => false,
            _ => return Err(wrong()),
        };
        self.step = match self.step {
            TdiStep::Unbind { force: false } if !ok => TdiStep::UnbindAgain,
            TdiStep::UnbindAgain if !ok => {
                self.report.unbind_forced = true;
                TdiStep::Unbind { force: true }
            }
            TdiStep::Unbind { .. } | TdiStep::UnbindAgain => {
                self.report.unbound = ok;
                TdiStep::Status
            }
            TdiStep::Status => {
                self.report.status_ok = ok;
                TdiStep::Reclaim
            }
            TdiStep::Reclaim => {
                self.report.reclaimed = ok;
                TdiStep::FenceStatus
            }
            TdiStep::FenceStatus => match self.report.fence {
                Some(f) if f.fenced() && self.reached_run => TdiStep::FenceClear,
                _ => TdiStep::Done,
            },
            TdiStep::FenceClear => {
                self.report.fence_cleared = Some(ok);
                TdiStep::Done
            }
            TdiStep::Done => TdiStep::Done,
        };
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_forced_retry_then_reclaim() {
        let t = DevTeardown::new(false);
        let t = t
            .complete(Op::DevDisconnect { force: false }, Completion::Failed)
            .unwrap();
        assert_eq!(t.next(), Some(Op::DevDisconnect { force: false }));
        let t = t
            .complete(Op::DevDisconnect { force: false }, Completion::Failed)
            .unwrap();
        assert_eq!(t.next(), Some(Op::DevDisconnect { force: true }));
        let t = t
            .complete(Op::DevDisconnect { force: true }, Completion::Failed)
            .unwrap();
        assert_eq!(t.next(), Some(Op::DevReclaim));
        assert!(t.complete(Op::TdiReclaim, Completion::Ok).is_err());
    }
}
