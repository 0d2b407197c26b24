// SPDX-License-Identifier: GPL-2.0

//! The guest requests of `tvm_arch` SEV: the `op` and payload of `IOMMU_VDEVICE_TSM_REQ`
//! and `VFIO_DEVICE_TSM_GUEST_REQ` as the SEV-TIO host backend serves them
//! (`include/uapi/linux/tsm_sev.h`; the engine's `uapi_header` test compares the two).
//!
//! A SEV-SNP guest asks for these with the `SEV_TIO_OP` and `SEV_TIO_GUEST_REQUEST`
//! VMGEXITs (fact sheet §6); KVM hands both to the VMM (`KVM_EXIT_VMGEXIT`), which
//! passes the TIO_OP operations and the host's share of the guest's TDI_INFO on here.
//! The ops and their numbers are this project's, not an upstream ABI; each maps onto the
//! TIO commands the out-of-tree host makes for it (fact sheet §5):
//!
//! | op | payload | TIO commands | response |
//! |---|---|---|---|
//! | [`OP_GET_REPORT`] | none, or a `u32` offset | none: the REPORT the host kept from TDI_BIND | the report from the offset |
//! | [`OP_RUN`] | none | TDI_STATUS, TDI_BIND with RUN (TIO_OP RUN) | empty |
//! | [`OP_GET_STATE`] | none | TDI_STATUS | one byte, the TDISP state ([`super::status::TdispState`]) |
//! | [`OP_STOP`] | none | TDI_UNBIND, not forced (TIO_OP STOP) | empty |
//!
//! The `tsm_code` of every request is the PSP's status of its last TIO command (0 for
//! success), the firmware error a VMM returns to the guest (`SW_EXITINFO2` low bits), or
//! [`CODE_NONE`] when the request made no command.
//!
//! Not served: GUEST_REQUEST (the guest's encrypted messages; a PSP model that has no
//! guest keys cannot answer them) and the MMIO_VALIDATE / SDTE_WRITE scopes, which
//! change KVM's RMP and IOMMU state.

pub use super::super::guest_req::GuestReqError;
use super::super::guest_req::{no_payload, offset_payload};

/// `TSM_SEV_GUEST_GET_REPORT`.
pub const OP_GET_REPORT: u32 = 1;
/// `TSM_SEV_GUEST_RUN`.
pub const OP_RUN: u32 = 2;
/// `TSM_SEV_GUEST_GET_STATE`.
pub const OP_GET_STATE: u32 = 3;
/// `TSM_SEV_GUEST_STOP`.
pub const OP_STOP: u32 = 4;

/// `TSM_SEV_CODE_NONE`: `tsm_code` of a request that made no TIO command.
pub const CODE_NONE: u64 = u64::MAX;

/// A decoded guest request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestOp {
    /// The interface report from `offset`.
    GetReport {
        /// Where the response starts in the report.
        offset: u32,
    },
    /// LOCKED → RUN.
    Run,
    /// The TDI's TDISP state.
    GetState,
    /// STOP_INTERFACE: the TDI unlocked, the host's binding kept.
    Stop,
}

impl GuestOp {
    /// Decodes `op` and its payload.
    pub fn decode(op: u32, payload: &[u8]) -> Result<Self, GuestReqError> {
        match op {
            OP_GET_REPORT => Ok(Self::GetReport {
                offset: offset_payload(payload)?,
            }),
            OP_RUN => no_payload(payload, Self::Run),
            OP_GET_STATE => no_payload(payload, Self::GetState),
            OP_STOP => no_payload(payload, Self::Stop),
            _ => Err(GuestReqError::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_and_payloads() {
        assert_eq!(
            GuestOp::decode(1, &[]),
            Ok(GuestOp::GetReport { offset: 0 })
        );
        assert_eq!(
            GuestOp::decode(1, &0x1234u32.to_le_bytes()),
            Ok(GuestOp::GetReport { offset: 0x1234 })
        );
        assert_eq!(GuestOp::decode(2, &[]), Ok(GuestOp::Run));
        assert_eq!(GuestOp::decode(3, &[]), Ok(GuestOp::GetState));
        assert_eq!(GuestOp::decode(4, &[]), Ok(GuestOp::Stop));
        for (op, len) in [(1, 2), (1, 5), (2, 1), (3, 4), (4, 8)] {
            assert_eq!(
                GuestOp::decode(op, &[0u8; 8][..len]),
                Err(GuestReqError::Invalid),
                "{op} {len}"
            );
        }
        for op in [0, 5, 99, u32::MAX] {
            assert_eq!(GuestOp::decode(op, &[]), Err(GuestReqError::Unsupported));
        }
    }
}
