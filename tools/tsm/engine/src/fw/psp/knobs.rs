// SPDX-License-Identifier: GPL-2.0

//! The PSP model's own fault knobs: statuses a real PSP may give a correct host, so
//! that the host's handling of each can be tested (the device's misbehaviour is the
//! DSM's, [`crate::faults`]). The syntax is the RMM model's (`fw::rmm::knobs`): knobs
//! separated by commas, each `KIND@COMMAND[:N][=VALUE]`, COMMAND a TIO command in snake
//! case (`dev_connect`, `tdi_bind`, `asid_fence_status`, ...), N the 1-based count of
//! commands with that ID at which the knob fires (default 1). Every issue counts, the
//! re-issues of an SPDM relay included, so `error@dev_connect:2` fails the first
//! re-issue of the first DEV_CONNECT: the command the host gave up on stays the
//! device's until a forced DEV_DISCONNECT, DEV_RECLAIM, or (a LOCK) TDI_RECLAIM:
//!
//! | knob | effect |
//! |---|---|
//! | `error@CMD:N=STATUS` | the N-th command returns STATUS (a `tio::Status` name such as `invalid_dev_state`, or a number, `0x3b` or `59`; default `invalid_param`) and changes nothing |
//! | `busy@CMD:N` | the TIO ABI has no busy status (`tsm_proto::tio::result`), so this is `error@CMD:N=in_use`: a plain error to the host |
//! | `expand@CMD:N=BYTES` | CMD carries `spdm_ctrl`: the N-th command finds the output buffer smaller than BYTES (default 0x3000), writes BYTES as its capacity and returns EXPAND_BUFFER_LENGTH_REQUEST, changing nothing else |
//! | `fence@CMD:N=WHICH` | at the N-th command, before it runs, the ASID of every guest with a TDI bound on the command's device is fenced: WHICH is `dma` (error-fenced, the default), `mmio` or `both` |
//!
//! Example: `error@dev_connect:1=spdm_error,expand@tdi_bind,fence@tdi_status:2=both`.

use std::fmt;
use std::str::FromStr;

use tsm_proto::tio::status::{DmaFence, MmioFence};
use tsm_proto::tio::{Command, Status};

use crate::fw::knob_syntax::{find_named, parse_list, snake_name, split_or, write_list, Spec};

/// What a knob does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnobKind {
    /// Return this status, nothing changed.
    Error(Status),
    /// Ask for an output buffer of this many bytes (EXPAND), nothing else changed.
    Expand(u32),
    /// Fence the ASIDs bound on the command's device, then run the command.
    Fence(DmaFence, MmioFence),
}

/// One knob: `kind` at the `nth` command `cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// What it does.
    pub kind: KnobKind,
    /// The command it watches.
    pub cmd: Command,
    /// The 1-based count of commands with that ID at which it fires.
    pub nth: u32,
}

/// The knobs switched on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// The knobs, in the order given.
    pub knobs: Vec<Knob>,
}

/// Default BYTES of an `expand` knob: three pages.
pub const DEFAULT_EXPAND: u32 = 0x3000;

impl Knobs {
    /// No knob.
    pub fn none() -> Self {
        Self::default()
    }

    /// The knob that fires at the `count`-th command `cmd`, if any (the first given).
    pub fn fire(&self, cmd: Command, count: u32) -> Option<KnobKind> {
        self.knobs
            .iter()
            .find(|k| k.cmd == cmd && k.nth == count)
            .map(|k| k.kind)
    }
}

/// Why a knob string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnobError {
    /// Not `KIND@CMD[:N][=VALUE]`.
    #[error("knob {0:?}: expected KIND@COMMAND[:N][=VALUE]")]
    Syntax(String),
    /// An unknown kind.
    #[error("knob {0:?}: unknown kind (error, busy, expand, fence)")]
    Kind(String),
    /// An unknown command.
    #[error("knob {0:?}: unknown TIO command")]
    Command(String),
    /// A bad count, status or value.
    #[error("knob {0:?}: bad value")]
    Value(String),
    /// The kind does not apply to the command.
    #[error("knob {0:?}: that kind does not apply to that command")]
    Mismatch(String),
}

/// The knob name of `cmd`: its name in snake case (`DevConnect` → `dev_connect`).
pub fn command_name(cmd: Command) -> String {
    snake_name(cmd)
}

/// The command named `s` (snake case or the variant name).
pub fn command_from_name(s: &str) -> Option<Command> {
    find_named(Command::ALL, s)
}

fn status_from_name(s: &str) -> Option<Status> {
    let num = match s.strip_prefix("0x") {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => s.parse::<u16>().ok(),
    };
    if let Some(v) = num {
        return Status::from_u16(v).ok();
    }
    find_named(Status::ALL, s)
}

impl FromStr for Knob {
    type Err = KnobError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |f: fn(String) -> KnobError| f(s.to_owned());
        let Spec {
            kind,
            target,
            nth,
            value,
        } = split_or(s, KnobError::Syntax, KnobError::Value)?;
        let cmd = command_from_name(target).ok_or_else(|| bad(KnobError::Command))?;
        let kind = match kind {
            "error" => KnobKind::Error(match value {
                None => Status::InvalidParam,
                // SUCCESS is no error; SPDM_REQUEST and EXPAND are steps of a command
                // that the model makes for real (a relay) or with the expand knob.
                Some(v) => status_from_name(v)
                    .filter(|st| {
                        !matches!(
                            st,
                            Status::Success
                                | Status::SpdmRequest
                                | Status::ExpandBufferLengthRequest
                        )
                    })
                    .ok_or_else(|| bad(KnobError::Value))?,
            }),
            "busy" => match value {
                None => KnobKind::Error(Status::InUse),
                Some(_) => return Err(bad(KnobError::Value)),
            },
            "expand" => {
                if !cmd.uses_spdm() {
                    return Err(bad(KnobError::Mismatch));
                }
                KnobKind::Expand(match value {
                    None => DEFAULT_EXPAND,
                    Some(v) => {
                        let n = match v.strip_prefix("0x") {
                            Some(h) => u32::from_str_radix(h, 16).ok(),
                            None => v.parse::<u32>().ok(),
                        };
                        n.filter(|n| *n > 0).ok_or_else(|| bad(KnobError::Value))?
                    }
                })
            }
            "fence" => match value {
                None | Some("dma") => KnobKind::Fence(DmaFence::ErrorFenced, MmioFence::None),
                Some("mmio") => KnobKind::Fence(DmaFence::None, MmioFence::Fenced),
                Some("both") => KnobKind::Fence(DmaFence::ErrorFenced, MmioFence::Fenced),
                Some(_) => return Err(bad(KnobError::Value)),
            },
            _ => return Err(bad(KnobError::Kind)),
        };
        Ok(Knob { kind, cmd, nth })
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = command_name(self.cmd);
        let n = self.nth;
        match self.kind {
            KnobKind::Error(st) => write!(f, "error@{name}:{n}={:#x}", st.to_u16()),
            KnobKind::Expand(b) => write!(f, "expand@{name}:{n}={b:#x}"),
            KnobKind::Fence(d, m) => {
                let which = match (d, m) {
                    (DmaFence::None, _) => "mmio",
                    (_, MmioFence::Fenced) => "both",
                    _ => "dma",
                };
                write!(f, "fence@{name}:{n}={which}")
            }
        }
    }
}

impl FromStr for Knobs {
    type Err = KnobError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self {
            knobs: parse_list(s)?,
        })
    }
}

impl fmt::Display for Knobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, &self.knobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_round_trip() {
        let k: Knobs = "error@dev_connect:1=spdm_error, busy@tdi_create:2,expand@tdi_bind,fence@tdi_status:2=both,error@dev_reclaim=0x3b"
            .parse()
            .unwrap();
        assert_eq!(
            k.knobs,
            vec![
                Knob {
                    kind: KnobKind::Error(Status::SpdmError),
                    cmd: Command::DevConnect,
                    nth: 1
                },
                Knob {
                    kind: KnobKind::Error(Status::InUse),
                    cmd: Command::TdiCreate,
                    nth: 2
                },
                Knob {
                    kind: KnobKind::Expand(DEFAULT_EXPAND),
                    cmd: Command::TdiBind,
                    nth: 1
                },
                Knob {
                    kind: KnobKind::Fence(DmaFence::ErrorFenced, MmioFence::Fenced),
                    cmd: Command::TdiStatus,
                    nth: 2
                },
                Knob {
                    kind: KnobKind::Error(Status::InvalidDevState),
                    cmd: Command::DevReclaim,
                    nth: 1
                },
            ]
        );
        assert_eq!(k.to_string().parse::<Knobs>(), Ok(k.clone()));
        assert_eq!(
            k.fire(Command::TdiCreate, 2),
            Some(KnobKind::Error(Status::InUse))
        );
        assert_eq!(k.fire(Command::TdiCreate, 1), None);
        for c in Command::ALL {
            assert_eq!(command_from_name(&command_name(c)), Some(c), "{c:?}");
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "error",
            "error@nothing",
            "slow@dev_create",
            "error@dev_create:0",
            "error@dev_create=success",
            "error@dev_create=spdm_request",
            "error@dev_create=0x34",
            "busy@dev_create=1",
            "expand@dev_create",
            "expand@dev_connect=0",
            "fence@tdi_bind=cpu",
        ] {
            assert!(bad.parse::<Knob>().is_err(), "{bad}");
        }
    }
}
