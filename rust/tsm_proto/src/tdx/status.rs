// SPDX-License-Identifier: GPL-2.0

//! TDX status codes in RAX after a SEAMCALL, and what the host does for each (§2).
//!
//! The status class sits in bits 63:32; bits 31:0 carry operand detail. V2 compares
//! TDX_SPDM_REQUEST, TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH and TDX_INTERRUPTED_RESUMABLE
//! against the full 64 bits and masks only TDX_OPERAND_INVALID, so [`Status::decode`]
//! does the same: a module model must return those three with the low half zero, and one
//! that does not is answered as a failure.
//!
//! [`classify`] turns `(leaf, RAX)` into the host's [`Action`]; the per-call loop that
//! acts on it is [`super::LeafCall`].

use super::super::codec::{Error, Result};
use super::leaf::Leaf;

/// The mask of the status class: bits 63:32 (§2).
pub const CLASS_MASK: u64 = 0xFFFF_FFFF_0000_0000;

wire_enum! {
    /// The TDX status codes the host acts on (§2 table; values with the low 32 bits zero).
    pub enum Status(u64, "tdx.status") decode from_code encode code {
        /// TDX_SUCCESS: done.
        Success = 0,
        /// TDX_INTERRUPTED_RESUMABLE: re-issue the same leaf (§2).
        InterruptedResumable = 0x8000_0003_0000_0000,
        /// TDX_SPDM_REQUEST: relay one DOE object, then re-issue the same leaf (§2, §3).
        SpdmRequest = 0xC000_0F57_0000_0000,
        /// TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH: run SPDM.MNG KEY_UPDATE, then re-issue (§2).
        KeyRequireRefresh = 0xC000_0F45_0000_0000,
        /// TDX_OPERAND_BUSY: a second concurrent extension call (§2).
        OperandBusy = 0x8000_0200_0000_0000,
        /// TDX_OPERAND_INVALID: from IOMMU.SETUP, the IOMMU is not TDX-capable (§2).
        OperandInvalid = 0xC000_0100_0000_0000,
    }
}

impl Status {
    /// Whether V2 compares this code against all 64 bits (§2).
    pub const fn exact(self) -> bool {
        matches!(
            self,
            Self::Success
                | Self::InterruptedResumable
                | Self::SpdmRequest
                | Self::KeyRequireRefresh
        )
    }

    /// The status RAX carries, compared as V2 does: SUCCESS, INTERRUPTED_RESUMABLE,
    /// SPDM_REQUEST and KEY_REQUIRE_REFRESH only as exact 64-bit values, OPERAND_INVALID
    /// and OPERAND_BUSY by their class (bits 63:32). Anything else is an
    /// [`Error::UnknownCode`] in `tdx.status`.
    ///
    /// Unconfirmed: the sheet does not say how V2 compares OPERAND_BUSY (it is never
    /// retried); it is masked here like OPERAND_INVALID. SUCCESS with operand bits set is
    /// not SUCCESS here.
    pub fn decode(rax: u64) -> Result<Self> {
        if let Ok(s) = Self::from_code(rax) {
            return Ok(s);
        }
        match Self::from_code(rax & CLASS_MASK) {
            Ok(s) if !s.exact() => Ok(s),
            _ => Err(Error::UnknownCode {
                space: "tdx.status",
                value: rax,
            }),
        }
    }
}

/// What the host does after a SEAMCALL returned (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// TDX_SUCCESS: the leaf is done; decode its outputs.
    Done,
    /// TDX_INTERRUPTED_RESUMABLE on a leaf that may be resumed: re-issue it with the
    /// original inputs (EXT.MEM.ADD: with the output RCX; EXT.INIT has no inputs).
    Resume,
    /// TDX_SPDM_REQUEST on a relaying leaf: relay the DOE object in the request page.
    Relay,
    /// TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH on a relaying leaf: run SPDM.MNG KEY_UPDATE
    /// with its own relay loop, then re-issue the original leaf.
    KeyRefresh,
    /// TDX_OPERAND_INVALID from IOMMU.SETUP: this IOMMU is not TDX-capable; skip it.
    Skip,
    /// TDX_OPERAND_BUSY: another extension call is running. Not retried: the host
    /// serializes ([`super::ExtSlot`]), so this is a host bug.
    Busy,
    /// Anything else, including a code the leaf cannot return: fail.
    Fail {
        /// RAX as returned.
        status: u64,
        /// Whether the leaf's metadata pages must be leaked, not freed: a failed DELETE,
        /// CLEAR or BLOCK (§2 "any other").
        leak: bool,
    },
}

/// The host's action for `rax` returned by `leaf` (§2 table).
///
/// Codes a leaf is not listed as returning are failures: RESUMABLE outside
/// [`Leaf::resumable`], SPDM_REQUEST and KEY_REQUIRE_REFRESH outside [`Leaf::relays`],
/// OPERAND_INVALID outside IOMMU.SETUP.
///
/// Unconfirmed: which leaves can return KEY_REQUIRE_REFRESH is open (§2); every relaying
/// leaf is accepted here (ITDX handles it only on DISCONNECT).
pub fn classify(leaf: Leaf, rax: u64) -> Action {
    let fail = Action::Fail {
        status: rax,
        leak: matches!(
            leaf,
            Leaf::SpdmDelete | Leaf::IdeStreamDelete | Leaf::IommuClear | Leaf::IdeStreamBlock
        ),
    };
    match Status::decode(rax) {
        Ok(Status::Success) => Action::Done,
        Ok(Status::InterruptedResumable) if leaf.resumable() => Action::Resume,
        Ok(Status::SpdmRequest) if leaf.relays() => Action::Relay,
        Ok(Status::KeyRequireRefresh) if leaf.relays() => Action::KeyRefresh,
        Ok(Status::OperandInvalid) if leaf == Leaf::IommuSetup => Action::Skip,
        Ok(Status::OperandBusy) => Action::Busy,
        _ => fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        assert_eq!(Status::decode(0), Ok(Status::Success));
        assert!(Status::decode(0x8000_0003_0000_0001).is_err());
        assert_eq!(
            Status::decode(0xC000_0100_0000_0002),
            Ok(Status::OperandInvalid)
        );
        assert!(Status::decode(1).is_err());
    }

    #[test]
    fn classify_examples() {
        assert_eq!(
            classify(Leaf::IommuSetup, 0xC000_0100_0000_0005),
            Action::Skip
        );
        assert!(matches!(
            classify(Leaf::SpdmCreate, 0xC000_0100_0000_0005),
            Action::Fail { leak: false, .. }
        ));
        assert!(matches!(
            classify(Leaf::SpdmDelete, 1),
            Action::Fail { leak: true, .. }
        ));
        assert_eq!(
            classify(Leaf::SpdmConnect, Status::SpdmRequest.code()),
            Action::Relay
        );
        assert!(matches!(
            classify(Leaf::SpdmCreate, Status::SpdmRequest.code()),
            Action::Fail { .. }
        ));
    }
}
