// SPDX-License-Identifier: GPL-2.0

//! The RMI result in `X0`, and the error a state machine gives for a call out of order.
//!
//! `X0` bits 7:0 are the status and bits 15:8 its index (the RTT level for
//! ERROR_RTT). For RMI_INCOMPLETE, the index is the stateful operation's next step:
//! bits 9:8 the memory request (what the host must call next) and bit 10 whether
//! RMI_OP_CANCEL is allowed. Bits 63:16 are zero. A DA call while DA is disabled is
//! answered with the SMCCC `NOT_SUPPORTED` (−1) instead of an RMI status.

use super::super::codec::{Error, Result};
use super::fid::Call;

wire_enum! {
    /// RMI command status (X0 bits 7:0; TF-RMM `smc-rmi.h`, Linux `arm-smccc-rmi.h`).
    pub enum Status(u8, "rmi.status") decode from_u8 encode to_u8 {
        /// The command completed.
        Success = 0,
        /// An input value was invalid.
        ErrorInput = 1,
        /// A Realm attribute did not match.
        ErrorRealm = 2,
        /// A REC attribute did not match.
        ErrorRec = 3,
        /// An RTT walk stopped early; the index is the level reached.
        ErrorRtt = 4,
        /// The command is not supported.
        NotSupported = 5,
        /// A device (PDEV/VDEV) attribute did not match.
        ErrorDevice = 6,
        /// An auxiliary RTT entry did not match.
        ErrorRttAux = 7,
        /// A pSMMU stream-table walk stopped early.
        ErrorPsmmuSt = 8,
        /// A device page-table walk stopped early.
        ErrorDpt = 9,
        /// No progress for a transient reason; retry later (no state changed).
        Busy = 10,
        /// RMM global state did not match.
        ErrorGlobal = 11,
        /// A tracking region's state did not match.
        ErrorTracking = 12,
        /// A stateful operation started and must be continued (see [`Incomplete`]).
        Incomplete = 13,
        /// Another object's incomplete operation blocks this one (no state changed).
        Blocked = 14,
        /// A GPT walk reached an unexpected level.
        ErrorGpt = 15,
        /// A granule attribute did not match (VDEV_UNLOCK: X1 is a still-mapped granule).
        ErrorGranule = 16,
    }
}

/// The SMCCC `NOT_SUPPORTED` value (−1) an RMM returns for DA calls when DA is disabled.
pub const SMC_NOT_SUPPORTED: u64 = u64::MAX;

wire_enum! {
    /// RmiOpMemReq: what an RMI_INCOMPLETE result asks the host to call next.
    pub enum MemReq(u8, "rmi.op_mem_req") decode from_u8 encode to_u8 {
        /// No memory: call RMI_OP_CONTINUE.
        None = 0,
        /// The RMM needs granules: call RMI_OP_MEM_DONATE (X2 is the request).
        Donate = 1,
        /// The RMM returns granules: call RMI_OP_MEM_RECLAIM.
        Reclaim = 2,
    }
}

impl MemReq {
    /// The call that continues the operation.
    pub const fn follow_up(self) -> Call {
        match self {
            Self::None => Call::OpContinue,
            Self::Donate => Call::OpMemDonate,
            Self::Reclaim => Call::OpMemReclaim,
        }
    }
}

/// The index of an RMI_INCOMPLETE result (RmiResultDataIncomplete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Incomplete {
    /// The follow-up call required (index bits 1:0, X0 bits 9:8).
    pub mem_req: MemReq,
    /// Whether RMI_OP_CANCEL may end the operation instead (index bit 2, X0 bit 10).
    pub can_cancel: bool,
}

impl Incomplete {
    /// Whether `call` may follow this result: the memory request's follow-up, or
    /// RMI_OP_CANCEL when cancelling is allowed. The RMM answers any other follow-up
    /// on the operation with ERROR_INPUT.
    pub fn check_follow_up(self, call: Call) -> core::result::Result<(), OrderError> {
        if call == self.mem_req.follow_up() || (self.can_cancel && call == Call::OpCancel) {
            Ok(())
        } else {
            Err(OrderError::new(
                Status::ErrorInput,
                "call does not continue the incomplete operation",
            ))
        }
    }
}

/// A decoded `X0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// RMI_SUCCESS (its index, zero by definition, is ignored).
    Success,
    /// Any status other than SUCCESS and INCOMPLETE, with its index.
    Failed {
        /// The status.
        status: Status,
        /// The index (RTT level for ERROR_RTT, otherwise usually zero).
        index: u8,
    },
    /// RMI_INCOMPLETE with its next step.
    Incomplete(Incomplete),
    /// SMCCC `NOT_SUPPORTED`: no RMM, or DA disabled.
    SmcNotSupported,
}

impl Outcome {
    /// Decodes `X0`. Bits 63:16 set (other than [`SMC_NOT_SUPPORTED`]) are an
    /// [`Error::InvalidField`]; an unknown status or memory request an
    /// [`Error::UnknownCode`]. Reserved bits 7:3 of an INCOMPLETE index are ignored.
    pub fn decode(x0: u64) -> Result<Self> {
        if x0 == SMC_NOT_SUPPORTED {
            return Ok(Self::SmcNotSupported);
        }
        if x0 >> 16 != 0 {
            return Err(Error::InvalidField {
                field: "rmi.result",
                value: x0,
            });
        }
        let index = (x0 >> 8) as u8;
        Ok(match Status::from_u8(x0 as u8)? {
            Status::Success => Self::Success,
            Status::Incomplete => Self::Incomplete(Incomplete {
                mem_req: MemReq::from_u8(index & 0x3)?,
                can_cancel: index & 0x4 != 0,
            }),
            status => Self::Failed { status, index },
        })
    }

    /// Encodes `X0`. A `Failed` carrying SUCCESS or INCOMPLETE is an
    /// [`Error::InvalidField`] (those have their own variants).
    pub fn encode(self) -> Result<u64> {
        let (status, index) = match self {
            Self::SmcNotSupported => return Ok(SMC_NOT_SUPPORTED),
            Self::Success => (Status::Success, 0),
            Self::Incomplete(i) => (
                Status::Incomplete,
                i.mem_req.to_u8() | if i.can_cancel { 0x4 } else { 0 },
            ),
            Self::Failed {
                status: s @ (Status::Success | Status::Incomplete),
                ..
            } => {
                return Err(Error::InvalidField {
                    field: "rmi.result.status",
                    value: u64::from(s.to_u8()),
                })
            }
            Self::Failed { status, index } => (status, index),
        };
        Ok(u64::from(status.to_u8()) | u64::from(index) << 8)
    }

    /// The status, if this is an RMI result.
    pub const fn status(self) -> Option<Status> {
        match self {
            Self::Success => Some(Status::Success),
            Self::Failed { status, .. } => Some(status),
            Self::Incomplete(_) => Some(Status::Incomplete),
            Self::SmcNotSupported => None,
        }
    }
}

/// Why a state machine refuses a call: the RMI status the RMM answers with, and a
/// static reason for logs.
///
/// Where the fact sheet gives no status for a refusal, the machines use ERROR_DEVICE,
/// which TF-RMM returns for every device-state mismatch it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderError {
    /// The status the RMM returns; no object state changed.
    pub status: Status,
    /// What was out of order.
    pub why: &'static str,
    /// A value the RMM reports with the status (VDEV_UNLOCK's still-mapped granule in
    /// X1); zero otherwise.
    pub value: u64,
}

impl OrderError {
    /// A refusal with `status` and no value.
    pub const fn new(status: Status, why: &'static str) -> Self {
        Self {
            status,
            why,
            value: 0,
        }
    }

    /// ERROR_DEVICE for `why`.
    pub const fn device(why: &'static str) -> Self {
        Self::new(Status::ErrorDevice, why)
    }
}

impl From<Error> for OrderError {
    /// A page or register that does not decode is answered with ERROR_INPUT.
    fn from(_: Error) -> Self {
        OrderError::new(Status::ErrorInput, "input does not decode")
    }
}

impl From<OrderError> for Error {
    fn from(e: OrderError) -> Self {
        Error::UnexpectedMessage { what: e.why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_examples() {
        assert_eq!(Outcome::decode(0), Ok(Outcome::Success));
        assert_eq!(
            Outcome::decode(0x0204),
            Ok(Outcome::Failed {
                status: Status::ErrorRtt,
                index: 2
            })
        );
        assert_eq!(
            Outcome::decode(0x050d),
            Ok(Outcome::Incomplete(Incomplete {
                mem_req: MemReq::Donate,
                can_cancel: true
            }))
        );
        assert!(Outcome::decode(0x030d).is_err());
        assert!(Outcome::decode(17).is_err());
        assert!(Outcome::decode(1 << 16).is_err());
        assert_eq!(Outcome::decode(u64::MAX), Ok(Outcome::SmcNotSupported));
    }

    #[test]
    fn follow_up_rule() {
        let i = Incomplete {
            mem_req: MemReq::Reclaim,
            can_cancel: false,
        };
        assert!(i.check_follow_up(Call::OpMemReclaim).is_ok());
        assert_eq!(
            i.check_follow_up(Call::OpCancel).map_err(|e| e.status),
            Err(Status::ErrorInput)
        );
    }
}
