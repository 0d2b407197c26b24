// SPDX-License-Identifier: GPL-2.0

//! The model's own fault knobs: statuses a real TDX module may give a correct host, so
//! that the host's handling of each can be tested. (The device's misbehaviour is the
//! DSM's, [`crate::faults`].)
//!
//! The syntax is the RMM model's ([`crate::fw::rmm::knobs`]): knobs separated by commas,
//! each `KIND@LEAF[:N][=VALUE]`, where LEAF is a published leaf in snake case without
//! the `tdh_` prefix (`spdm_connect`, `ide_stream_km`, `ext_mem_add`, ...) and N the
//! 1-based count of SEAMCALLs of that leaf (re-issues included) at which the knob fires
//! (default 1). A knob that fires answers the call before the model looks at it, so
//! it changes nothing, with two exceptions that follow from what the status means:
//! `error` on the re-issue of a relaying call in progress ends that operation (the
//! module reported its failure), and `refresh` leaves a KEY_UPDATE due.
//!
//! A `busy` knob on the re-issue of a relaying call in progress leaves the operation
//! pending in the model: the host does not retry OPERAND_BUSY (§2), and the ABI has no
//! abort, so the SPDM object stays busy and its DELETE is refused (the host leaks
//! SPDM_MT). Unconfirmed: what a real module does with an operation the host
//! abandoned.
//!
//! | knob | effect |
//! |---|---|
//! | `resume@LEAF:N` | TDX_INTERRUPTED_RESUMABLE (LEAF one the host resumes, [`Leaf::resumable`]); EXT.MEM.ADD returns its input list as the output RCX |
//! | `busy@LEAF:N` | TDX_OPERAND_BUSY |
//! | `refresh@LEAF:N` | TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH (LEAF a relaying leaf other than SPDM.MNG); the SPDM object then refuses every relaying call but SPDM.MNG KEY_UPDATE with the same status until that call ran |
//! | `error@LEAF:N=STATUS` | STATUS: a name of [`Status`] (`operand_invalid`, ...) or a number (decimal or `0x` hex; default `operand_invalid`) |
//!
//! Example: `resume@spdm_connect:3,busy@ide_stream_km,error@spdm_delete=0xc0000f0000000000`.

use std::fmt;
use std::str::FromStr;

use tsm_proto::tdx::{Leaf, Status};

use crate::fw::knob_syntax::{
    find_named, norm, parse_list, snake_name, split_or, write_list, Spec,
};

/// What a knob does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnobKind {
    /// TDX_INTERRUPTED_RESUMABLE.
    Resume,
    /// TDX_OPERAND_BUSY.
    Busy,
    /// TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH.
    Refresh,
    /// This RAX.
    Error(u64),
}

/// One knob: `kind` at the `nth` SEAMCALL of `leaf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// What it does.
    pub kind: KnobKind,
    /// The leaf it watches.
    pub leaf: Leaf,
    /// The 1-based count of SEAMCALLs of that leaf at which it fires.
    pub nth: u32,
}

/// The knobs switched on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// The knobs, in the order given.
    pub knobs: Vec<Knob>,
}

impl Knobs {
    /// No knob.
    pub fn none() -> Self {
        Self::default()
    }

    /// The knob that fires at the `count`-th SEAMCALL of `leaf`, if any (the first given).
    pub fn fire(&self, leaf: Leaf, count: u32) -> Option<KnobKind> {
        self.knobs
            .iter()
            .find(|k| k.leaf == leaf && k.nth == count)
            .map(|k| k.kind)
    }
}

/// Why a knob string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnobError {
    /// Not `KIND@LEAF[:N][=VALUE]`.
    #[error("knob {0:?}: expected KIND@LEAF[:N][=VALUE]")]
    Syntax(String),
    /// An unknown kind.
    #[error("knob {0:?}: unknown kind (resume, busy, refresh, error)")]
    Kind(String),
    /// An unknown leaf.
    #[error("knob {0:?}: unknown TDX Connect leaf")]
    Leaf(String),
    /// A bad count or status.
    #[error("knob {0:?}: bad value")]
    Value(String),
    /// The kind does not apply to the leaf.
    #[error("knob {0:?}: that kind does not apply to that leaf")]
    Mismatch(String),
}

/// The knob name of `leaf`: its variant in snake case (`SpdmConnect` → `spdm_connect`).
pub fn leaf_name(leaf: Leaf) -> String {
    snake_name(leaf)
}

/// The leaf named `s` (snake case or the variant name, an optional `tdh_` prefix).
pub fn leaf_from_name(s: &str) -> Option<Leaf> {
    let n = norm(s);
    find_named(Leaf::ALL, n.strip_prefix("tdh").unwrap_or(&n))
}

/// A status by name (`operand_invalid`, `OperandBusy`) or number.
fn status_from_str(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(&hex.replace('_', ""), 16).ok();
    }
    if let Ok(v) = s.parse::<u64>() {
        return Some(v);
    }
    find_named(Status::ALL, s).map(Status::code)
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
        let leaf = leaf_from_name(target).ok_or_else(|| bad(KnobError::Leaf))?;
        if value.is_some() && kind != "error" {
            return Err(bad(KnobError::Value));
        }
        let kind = match kind {
            "resume" if leaf.resumable() => KnobKind::Resume,
            "refresh" if leaf.relays() && leaf != Leaf::SpdmMng => KnobKind::Refresh,
            "resume" | "refresh" => return Err(bad(KnobError::Mismatch)),
            "busy" => KnobKind::Busy,
            "error" => KnobKind::Error(match value {
                None => Status::OperandInvalid.code(),
                Some(v) => status_from_str(v)
                    .filter(|c| *c != Status::Success.code())
                    .ok_or_else(|| bad(KnobError::Value))?,
            }),
            _ => return Err(bad(KnobError::Kind)),
        };
        Ok(Knob { kind, leaf, nth })
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = leaf_name(self.leaf);
        let n = self.nth;
        match self.kind {
            KnobKind::Resume => write!(f, "resume@{name}:{n}"),
            KnobKind::Busy => write!(f, "busy@{name}:{n}"),
            KnobKind::Refresh => write!(f, "refresh@{name}:{n}"),
            KnobKind::Error(st) => write!(f, "error@{name}:{n}={st:#x}"),
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
    fn parse_examples_and_round_trip() {
        let k: Knobs =
            "resume@spdm_connect:3, busy@ide_stream_km,refresh@spdm_disconnect:2,error@tdh_spdm_delete=0xC000_0F00_0000_0000,error@ext_init"
                .parse()
                .unwrap();
        assert_eq!(
            k.knobs,
            vec![
                Knob {
                    kind: KnobKind::Resume,
                    leaf: Leaf::SpdmConnect,
                    nth: 3
                },
                Knob {
                    kind: KnobKind::Busy,
                    leaf: Leaf::IdeStreamKm,
                    nth: 1
                },
                Knob {
                    kind: KnobKind::Refresh,
                    leaf: Leaf::SpdmDisconnect,
                    nth: 2
                },
                Knob {
                    kind: KnobKind::Error(0xC000_0F00_0000_0000),
                    leaf: Leaf::SpdmDelete,
                    nth: 1
                },
                Knob {
                    kind: KnobKind::Error(Status::OperandInvalid.code()),
                    leaf: Leaf::ExtInit,
                    nth: 1
                },
            ]
        );
        assert_eq!(k.to_string().parse::<Knobs>(), Ok(k.clone()));
        assert_eq!(k.fire(Leaf::SpdmConnect, 3), Some(KnobKind::Resume));
        assert_eq!(k.fire(Leaf::SpdmConnect, 2), None);
        assert_eq!("".parse::<Knobs>(), Ok(Knobs::none()));
        assert_eq!(
            "error@spdm_create=operand_busy"
                .parse::<Knob>()
                .map(|k| k.kind),
            Ok(KnobKind::Error(Status::OperandBusy.code()))
        );
    }

    #[test]
    fn every_leaf_has_a_name() {
        for l in Leaf::ALL {
            assert_eq!(leaf_from_name(&leaf_name(l)), Some(l), "{l:?}");
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "busy",
            "busy@nothing",
            "slow@spdm_create",
            "busy@spdm_create:0",
            "busy@spdm_create=1",
            "error@spdm_create=success",
            "error@spdm_create=0",
            "error@spdm_create=nonsense",
            "resume@spdm_create",
            "refresh@ide_stream_create",
            "refresh@spdm_mng",
        ] {
            assert!(bad.parse::<Knob>().is_err(), "{bad}");
        }
    }
}
