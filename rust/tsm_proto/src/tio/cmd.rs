// SPDX-License-Identifier: GPL-2.0

//! TIO command IDs, their buffer lengths per [`Layout`], and the mailbox CMDRESP word.
//!
//! The host writes the physical address of the command buffer to the mailbox and the
//! command ID to CMDRESP bits 26:16, with IOC in bit 0; the PSP returns its status in bits
//! 15:0 (fact sheet §0, L72 `sev-dev.c`). Every TIO command buffer is packed
//! little-endian, starts with its own length as a `u32`, and is at most
//! [`MAX_CMD_LEN`] bytes. The fact sheet's command table (§1) gives each ID, its length
//! and its layout; D9 is defined nowhere (unconfirmed), so it is no [`Command`].

use super::super::codec::{Error, Result};

/// Largest TIO command buffer: 128 bytes (fact sheet §0).
pub const MAX_CMD_LEN: usize = 128;

/// CMDRESP: shift of the command ID (bits 26:16, fact sheet §0).
pub const CMDRESP_CMD_SHIFT: u32 = 16;

/// CMDRESP: mask of the command ID once shifted down (11 bits, 26:16).
pub const CMDRESP_CMD_MASK: u32 = 0x7ff;

/// CMDRESP: the interrupt-on-completion bit (bit 0, fact sheet §0).
pub const CMDRESP_IOC: u32 = 1;

/// CMDRESP: mask of the status the PSP returns (bits 15:0, fact sheet §0).
pub const CMDRESP_STATUS_MASK: u32 = 0xffff;

/// The CMDRESP word that issues `cmd`, with IOC set when `ioc`.
pub const fn cmdresp(cmd: Command, ioc: bool) -> u32 {
    (cmd.to_u16() as u32) << CMDRESP_CMD_SHIFT | if ioc { CMDRESP_IOC } else { 0 }
}

/// The status (bits 15:0) of a CMDRESP word the PSP wrote back.
pub const fn cmdresp_status(word: u32) -> u16 {
    (word & CMDRESP_STATUS_MASK) as u16
}

/// The command ID (bits 26:16) of a CMDRESP word, decoded.
pub const fn cmdresp_command(word: u32) -> Result<Command> {
    Command::from_u16(((word >> CMDRESP_CMD_SHIFT) & CMDRESP_CMD_MASK) as u16)
}

wire_enum! {
    /// TIO command IDs (fact sheet §1: D0–D5 from L72 `include/linux/psp-sev.h`, D6–E4
    /// from OOT and V1; D9 is not defined anywhere).
    pub enum Command(u16, "tio.command") decode from_u16 encode to_u16 {
        /// TIO_STATUS: the firmware writes the TIO status page (L72).
        TioStatus = 0xD0,
        /// TIO_INIT: initialises TIO (L72).
        TioInit = 0xD1,
        /// DEV_CREATE: creates a device context (L72).
        DevCreate = 0xD2,
        /// DEV_RECLAIM: frees a device context (L72).
        DevReclaim = 0xD3,
        /// DEV_CONNECT: SPDM session and IDE key setup with the device (L72).
        DevConnect = 0xD4,
        /// DEV_DISCONNECT: ends the device's SPDM session (L72).
        DevDisconnect = 0xD5,
        /// DEV_STATUS: the firmware writes the device status (OOT, V1).
        DevStatus = 0xD6,
        /// DEV_MEASUREMENTS: fetches device measurements (OOT, V1).
        DevMeasurements = 0xD7,
        /// DEV_CERTIFICATES: fetches the device certificate chain (OOT, V1).
        DevCertificates = 0xD8,
        /// TDI_CREATE: creates a TDI context (OOT, V1).
        TdiCreate = 0xDA,
        /// TDI_RECLAIM: frees a TDI context (OOT, V1).
        TdiReclaim = 0xDB,
        /// TDI_BIND: binds (LOCK) a TDI to a guest, or moves it to RUN (OOT, V1).
        TdiBind = 0xDC,
        /// TDI_UNBIND: unbinds a TDI (OOT, V1).
        TdiUnbind = 0xDD,
        /// TDI_REPORT: fetches the interface report (OOT, V1; never called by OOT).
        TdiReport = 0xDE,
        /// TDI_STATUS: the firmware writes the TDI's TDISP state (OOT, V1).
        TdiStatus = 0xDF,
        /// GUEST_REQUEST: forwards an encrypted guest message (OOT, V1).
        GuestRequest = 0xE0,
        /// ASID_FENCE_CLEAR: clears a guest's ASID fence (OOT, V1).
        AsidFenceClear = 0xE1,
        /// ASID_FENCE_STATUS: the firmware writes the fence status (OOT, V1).
        AsidFenceStatus = 0xE2,
        /// TDI_INFO: the firmware writes the TDI information page (OOT, V1).
        TdiInfo = 0xE3,
        /// ROLL_KEY: refreshes the IDE keys of a connected device (OOT, V1).
        RollKey = 0xE4,
    }
}

/// The command-buffer layout generation a buffer is read or written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// L72, OOT and P1 (the fact sheet's primary layouts).
    Current,
    /// aik's older tree and RFC v1, where the fact sheet gives their layout as different
    /// ("AIK/V1" or "AIK" in §1/§2); everywhere else the same as [`Layout::Current`].
    /// Treating AIK and V1 as one generation is this module's reading of the fact sheet,
    /// which pairs them.
    Aik,
}

impl Layout {
    /// Both layouts.
    pub const ALL: [Layout; 2] = [Layout::Current, Layout::Aik];
}

impl Command {
    /// Length of the command buffer in `layout` (fact sheet §1 column `B`).
    ///
    /// AIK differs for DEV_STATUS (28 B) and TDI_BIND (72 B, field layout not given:
    /// unconfirmed); V1's DEV_MEASUREMENTS had no nonce, taken here as 48 B
    /// (unconfirmed: the fact sheet gives no V1 length).
    pub const fn buffer_len(self, layout: Layout) -> usize {
        match (self, layout) {
            (Self::DevStatus, Layout::Aik) => 28,
            (Self::TdiBind, Layout::Aik) => 72,
            (Self::DevMeasurements, Layout::Aik) => 48,
            (Self::TioStatus | Self::TioInit | Self::DevReclaim, _) => 16,
            (
                Self::DevCreate
                | Self::DevStatus
                | Self::TdiReclaim
                | Self::AsidFenceClear
                | Self::AsidFenceStatus,
                _,
            ) => 32,
            (
                Self::DevDisconnect
                | Self::DevCertificates
                | Self::TdiCreate
                | Self::TdiInfo
                | Self::RollKey,
                _,
            ) => 48,
            (Self::TdiUnbind | Self::TdiReport | Self::TdiStatus, _) => 64,
            (Self::DevConnect | Self::DevMeasurements | Self::TdiBind | Self::GuestRequest, _) => {
                80
            }
        }
    }

    /// Whether the command carries an `spdm_ctrl` and may answer SPDM_REQUEST (the
    /// fact sheet's `SPDM` column).
    pub const fn uses_spdm(self) -> bool {
        matches!(
            self,
            Self::DevConnect
                | Self::DevDisconnect
                | Self::DevMeasurements
                | Self::DevCertificates
                | Self::TdiBind
                | Self::TdiUnbind
                | Self::TdiReport
                | Self::TdiStatus
                | Self::GuestRequest
                | Self::RollKey
        )
    }

    /// Whether L72's `sev_tio_cmd_buffer_len()` knows the command (D0–D5). L72 WARNs
    /// and fails any other ID with -EINVAL, so the ccp driver must be patched before a
    /// backend can issue them (fact sheet §0).
    pub const fn known_to_l72(self) -> bool {
        (self as u16) <= 0xD5
    }
}

/// Checks that the length field (`u32` at +0) of a command buffer equals `len`.
pub fn check_len_field(buf: &[u8], len: usize) -> Result<()> {
    let declared = super::get_u32(buf, 0)?;
    if usize::try_from(declared).ok() != Some(len) {
        return Err(Error::LengthMismatch {
            field: "tio.cmd.length",
            declared: usize::try_from(declared).unwrap_or(usize::MAX),
            actual: len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_fits_the_mailbox() {
        for c in Command::ALL {
            for l in Layout::ALL {
                let n = c.buffer_len(l);
                assert!((16..=MAX_CMD_LEN).contains(&n), "{c:?}");
            }
        }
        assert!(Command::from_u16(0xD9).is_err());
    }

    #[test]
    fn cmdresp_fields() {
        assert_eq!(cmdresp(Command::DevConnect, true), 0x00D4_0001);
        assert_eq!(cmdresp_status(0x00D4_0032), 0x32);
        assert_eq!(cmdresp_command(0x00D4_0032), Ok(Command::DevConnect));
    }
}
