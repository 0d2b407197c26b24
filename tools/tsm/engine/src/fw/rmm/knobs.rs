// SPDX-License-Identifier: GPL-2.0

//! The model's own fault knobs: what a real RMM may do to a correct host, so that the
//! host's handling of each can be tested. (The device's misbehaviour is the DSM's,
//! [`crate::faults`].)
//!
//! Syntax, for a future `--fault` option: knobs separated by commas, each
//! `KIND@CALL[:N][=VALUE]`, where CALL is an RMI call in snake case without the `rmi_`
//! prefix (`pdev_communicate`, `vdev_lock`, `granule_delegate`, ...) and N the 1-based
//! count of calls of that function ID at which the knob fires (default 1):
//!
//! | knob | effect |
//! |---|---|
//! | `busy@CALL:N` | the N-th call returns RMI_BUSY and changes nothing |
//! | `error@CALL:N=STATUS` | the N-th call returns STATUS (a name such as `device` or `error_input`, or a number; default `input`) and changes nothing |
//! | `hang@CALL:N` | CALL is `pdev_communicate` or `vdev_communicate`: from the N-th call on, the operation in progress never finishes (each exit asks only for another call, flag MULTI) until the host aborts it |
//! | `donate@pdev_create:N=COUNT` | the N-th endpoint PDEV_CREATE asks for COUNT auxiliary granules (default 3) and each RMI_OP_MEM_DONATE takes only the first granule offered, so the host must donate again |
//!
//! Example: `busy@pdev_communicate:2,error@vdev_start=device,hang@vdev_communicate:3`.

use std::fmt;
use std::str::FromStr;

use tsm_proto::rmi::{Abi, Call, Status};

use crate::fw::knob_syntax::{
    find_named, norm, parse_list, snake_name, split_or, write_list, Spec,
};

/// What a knob does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnobKind {
    /// Return RMI_BUSY, nothing changed.
    Busy,
    /// Return this status, nothing changed.
    Error(Status),
    /// The communication in progress never finishes.
    Hang,
    /// Ask for this many auxiliary granules, taking one per donation.
    Donate(u16),
}

/// One knob: `kind` at the `nth` call of `call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// What it does.
    pub kind: KnobKind,
    /// The call it watches.
    pub call: Call,
    /// The 1-based count of calls of that function ID at which it fires.
    pub nth: u32,
}

/// The knobs switched on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// The knobs, in the order given.
    pub knobs: Vec<Knob>,
}

/// Default COUNT of a `donate` knob.
pub const DEFAULT_DONATE: u16 = 3;

impl Knobs {
    /// No knob.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether any knob is on.
    pub fn any(&self) -> bool {
        !self.knobs.is_empty()
    }

    /// The knob that fires at the `count`-th call of `call`, if any (the first given).
    pub fn fire(&self, call: Call, count: u32) -> Option<KnobKind> {
        self.knobs
            .iter()
            .find(|k| k.call == call && k.nth == count)
            .map(|k| k.kind)
    }
}

/// Why a knob string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnobError {
    /// Not `KIND@CALL[:N][=VALUE]`.
    #[error("knob {0:?}: expected KIND@CALL[:N][=VALUE]")]
    Syntax(String),
    /// An unknown kind.
    #[error("knob {0:?}: unknown kind (busy, error, hang, donate)")]
    Kind(String),
    /// An unknown call, or one ABI 2.0 lacks.
    #[error("knob {0:?}: unknown RMI call")]
    Call(String),
    /// A bad count, status or value.
    #[error("knob {0:?}: bad value")]
    Value(String),
    /// The kind does not apply to the call.
    #[error("knob {0:?}: that kind does not apply to that call")]
    Mismatch(String),
}

/// The knob name of `call`: its RMI name in snake case (`PdevCommunicate` →
/// `pdev_communicate`).
pub fn call_name(call: Call) -> String {
    snake_name(call)
}

/// The ABI 2.0 call named `s` (snake case or the variant name).
pub fn call_from_name(s: &str) -> Option<Call> {
    find_named(
        Call::ALL.into_iter().filter(|c| c.fid(Abi::V2_0).is_some()),
        s,
    )
}

/// A status by name (`device`, `error_device`, `busy`) or number.
fn status_from_name(s: &str) -> Option<Status> {
    if let Ok(v) = s.parse::<u8>() {
        return Status::from_u8(v).ok();
    }
    let n = norm(s);
    Status::ALL.into_iter().find(|st| {
        let d = norm(&format!("{st:?}"));
        d == n || d == format!("error{n}")
    })
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
        let call = call_from_name(target).ok_or_else(|| bad(KnobError::Call))?;
        let no_value = |k: KnobKind| match value {
            None => Ok(k),
            Some(_) => Err(bad(KnobError::Value)),
        };
        let kind = match kind {
            "busy" => no_value(KnobKind::Busy)?,
            "error" => KnobKind::Error(match value {
                None => Status::ErrorInput,
                Some(v) => status_from_name(v)
                    .filter(|st| !matches!(st, Status::Success | Status::Incomplete))
                    .ok_or_else(|| bad(KnobError::Value))?,
            }),
            "hang" => {
                if !matches!(call, Call::PdevCommunicate | Call::VdevCommunicate) {
                    return Err(bad(KnobError::Mismatch));
                }
                no_value(KnobKind::Hang)?
            }
            "donate" => {
                if call != Call::PdevCreate {
                    return Err(bad(KnobError::Mismatch));
                }
                KnobKind::Donate(match value {
                    None => DEFAULT_DONATE,
                    Some(v) => v
                        .parse::<u16>()
                        .ok()
                        .filter(|n| (1..=tsm_proto::rmi::DonateReq::MAX_COUNT).contains(n))
                        .ok_or_else(|| bad(KnobError::Value))?,
                })
            }
            _ => return Err(bad(KnobError::Kind)),
        };
        Ok(Knob { kind, call, nth })
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = call_name(self.call);
        let n = self.nth;
        match self.kind {
            KnobKind::Busy => write!(f, "busy@{name}:{n}"),
            KnobKind::Error(st) => write!(f, "error@{name}:{n}={}", st.to_u8()),
            KnobKind::Hang => write!(f, "hang@{name}:{n}"),
            KnobKind::Donate(c) => write!(f, "donate@{name}:{n}={c}"),
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
        let k: Knobs = "busy@pdev_communicate:2, error@vdev_start=device,hang@vdev_communicate:3,donate@pdev_create=5"
            .parse()
            .unwrap();
        assert_eq!(
            k.knobs,
            vec![
                Knob {
                    kind: KnobKind::Busy,
                    call: Call::PdevCommunicate,
                    nth: 2
                },
                Knob {
                    kind: KnobKind::Error(Status::ErrorDevice),
                    call: Call::VdevStart,
                    nth: 1
                },
                Knob {
                    kind: KnobKind::Hang,
                    call: Call::VdevCommunicate,
                    nth: 3
                },
                Knob {
                    kind: KnobKind::Donate(5),
                    call: Call::PdevCreate,
                    nth: 1
                },
            ]
        );
        assert_eq!(k.to_string().parse::<Knobs>(), Ok(k.clone()));
        assert_eq!(k.fire(Call::PdevCommunicate, 2), Some(KnobKind::Busy));
        assert_eq!(k.fire(Call::PdevCommunicate, 1), None);
        assert_eq!("".parse::<Knobs>(), Ok(Knobs::none()));
        assert_eq!(
            "error@granule_delegate:1=16"
                .parse::<Knob>()
                .map(|k| k.kind),
            Ok(KnobKind::Error(Status::ErrorGranule))
        );
    }

    #[test]
    fn every_2_0_call_has_a_name() {
        for c in Call::ALL {
            if c.fid(Abi::V2_0).is_some() {
                assert_eq!(call_from_name(&call_name(c)), Some(c), "{c:?}");
            }
        }
        assert_eq!(call_from_name("pdev_aux_count"), None, "alp12 only");
        assert_eq!(call_from_name("realm_create"), Some(Call::RealmCreate));
        assert_eq!(
            "error@realm_destroy=realm".parse::<Knob>(),
            Ok(Knob {
                kind: KnobKind::Error(Status::ErrorRealm),
                call: Call::RealmDestroy,
                nth: 1
            })
        );
    }

    #[test]
    fn measurements_knobs() {
        let k: Knobs = "error@vdev_get_measurements:2=device,busy@vdev_get_measurements"
            .parse()
            .unwrap();
        assert_eq!(
            k.knobs,
            vec![
                Knob {
                    kind: KnobKind::Error(Status::ErrorDevice),
                    call: Call::VdevGetMeasurements,
                    nth: 2
                },
                Knob {
                    kind: KnobKind::Busy,
                    call: Call::VdevGetMeasurements,
                    nth: 1
                },
            ]
        );
        assert_eq!(
            k.to_string(),
            "error@vdev_get_measurements:2=6,busy@vdev_get_measurements:1"
        );
        assert_eq!(k.to_string().parse::<Knobs>(), Ok(k.clone()));
        assert_eq!(
            k.fire(Call::VdevGetMeasurements, 2),
            Some(KnobKind::Error(Status::ErrorDevice))
        );
        assert_eq!(
            "hang@vdev_get_measurements".parse::<Knob>(),
            Err(KnobError::Mismatch("hang@vdev_get_measurements".into()))
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "busy",
            "busy@nothing",
            "slow@pdev_create",
            "busy@pdev_create:0",
            "busy@pdev_create=1",
            "error@pdev_create=success",
            "error@pdev_create=99",
            "hang@pdev_create",
            "donate@vdev_create",
            "donate@pdev_create=0",
        ] {
            assert!(bad.parse::<Knob>().is_err(), "{bad}");
        }
    }
}
