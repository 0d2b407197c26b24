// SPDX-License-Identifier: GPL-2.0

//! The PSP status codes a TIO command returns (CMDRESP bits 15:0), and what the host does
//! with each.
//!
//! Any non-zero status fails the command (L72 returns -EIO with `psp_ret` set), but two
//! are steps of the command rather than failures (fact sheet §3): SPDM_REQUEST (0x32)
//! asks the host to relay one SPDM exchange and re-issue the identical command, and
//! EXPAND_BUFFER_LENGTH_REQUEST (0x31) asks it to grow the output or scratch buffer and
//! retry once. What the firmware expects after ERR_IN_DEV_CONN or 0x39–0x3F is
//! unconfirmed; the host treats them, and every other code, as plain errors.
//!
//! The fact sheet gives no "busy, try later" code for TIO commands, so [`Class`] has no
//! such class: inventing one would let a backend spin on a code the firmware never
//! defined.

use super::super::codec::{Error, Result};

wire_enum! {
    /// PSP status codes seen on TIO commands (fact sheet §3: 0x30–0x3F from L72's uapi
    /// `psp-sev.h`; 0x16, 0x1A, 0x1C are SNP codes also seen).
    pub enum Status(u16, "tio.status") decode from_u16 encode to_u16 {
        /// Success.
        Success = 0x00,
        /// INVALID_PARAM (SNP code).
        InvalidParam = 0x16,
        /// INVALID_PAGE_STATE (SNP code).
        InvalidPageState = 0x1A,
        /// INVALID_PAGE_OWNER (SNP code).
        InvalidPageOwner = 0x1C,
        /// INCORRECT_BUFFER_LENGTH.
        IncorrectBufferLength = 0x30,
        /// EXPAND_BUFFER_LENGTH_REQUEST: grow the buffers whose header capacity changed
        /// and retry once.
        ExpandBufferLengthRequest = 0x31,
        /// SPDM_REQUEST: relay the REQ object and re-issue the identical command.
        SpdmRequest = 0x32,
        /// SPDM_ERROR.
        SpdmError = 0x33,
        /// ERR_IN_DEV_CONN (what the firmware expects next is unconfirmed).
        ErrInDevConn = 0x35,
        /// INVALID_DEV_CTX.
        InvalidDevCtx = 0x36,
        /// INVALID_TDI_CTX.
        InvalidTdiCtx = 0x37,
        /// INVALID_TDI.
        InvalidTdi = 0x38,
        /// RECLAIM_REQUIRED (what the firmware expects next is unconfirmed).
        ReclaimRequired = 0x39,
        /// IN_USE.
        InUse = 0x3A,
        /// INVALID_DEV_STATE.
        InvalidDevState = 0x3B,
        /// INVALID_TDI_STATE.
        InvalidTdiState = 0x3C,
        /// DEV_CERT_CHANGED.
        DevCertChanged = 0x3D,
        /// RESYNC_REQ.
        ResyncReq = 0x3E,
        /// RESPONSE_TOO_LARGE.
        ResponseTooLarge = 0x3F,
        /// TIO_DATABUFFER_EXPAND, listed only by an old OOT uapi (unconfirmed); treated
        /// as a plain error, not as EXPAND.
        TioDatabufferExpand = 0xA000,
    }
}

/// What the host does with a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The command completed.
    Success,
    /// SPDM_REQUEST: relay one SPDM exchange, then re-issue the identical command.
    Relay,
    /// EXPAND_BUFFER_LENGTH_REQUEST: grow the buffers and retry once.
    Expand,
    /// Any other status (known or not): the command failed.
    Fatal,
}

impl Status {
    /// The class of this status.
    pub const fn class(self) -> Class {
        match self {
            Self::Success => Class::Success,
            Self::SpdmRequest => Class::Relay,
            Self::ExpandBufferLengthRequest => Class::Expand,
            _ => Class::Fatal,
        }
    }
}

/// The class of a raw status; a code this module does not know is [`Class::Fatal`].
pub const fn classify(raw: u16) -> Class {
    match Status::from_u16(raw) {
        Ok(s) => s.class(),
        Err(_) => Class::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify(0), Class::Success);
        assert_eq!(classify(0x32), Class::Relay);
        assert_eq!(classify(0x31), Class::Expand);
        assert_eq!(classify(0x34), Class::Fatal);
        assert_eq!(classify(0xA000), Class::Fatal);
        assert!(Status::from_u16(0x34).is_err());
    }
}
