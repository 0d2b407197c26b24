// SPDX-License-Identifier: GPL-2.0

//! The host's actions a SEV-TIO backend needs besides TIO commands, as calls of the PSP
//! conduit's model channel: the stand-ins.
//!
//! A real SEV-SNP host makes a page firmware-owned with `rmp_make_private()` (the CPU's
//! RMPUPDATE, no PSP command), gives it back with SNP_PAGE_RECLAIM and
//! `rmp_make_shared()`, and tells the PSP of a guest (its context page and ASID) when KVM
//! launches it. The PSP learns all of it from the RMP and its own guest table, which a
//! firmware model in userspace cannot read. So on the model's conduit the backend makes
//! these actions as calls of their own: [`StandIn`] IDs in the command-ID register, at
//! values no PSP command can have (CMDRESP carries an 11-bit command ID, so every
//! [`StandIn`] is above [`FIRST`]). On a real host the same backend code reaches the
//! kernel's RMP and KVM instead; the stand-ins are not a PSP ABI and never reach a PSP.
//!
//! Registers (`tsm_proto::conduit`'s PSP order: command ID, buffer address, status):
//!
//! | ID | stand-in | `regs[1]` | `regs[3]` | real host |
//! |---|---|---|---|---|
//! | 0x1_0001 | [`StandIn::MakeFirmware`] | page address | – | `rmp_make_private(pfn, 0, 4K, 0, true)` |
//! | 0x1_0002 | [`StandIn::MakeShared`] | page address | – | SNP_PAGE_RECLAIM, `rmp_make_shared()` |
//! | 0x1_0003 | [`StandIn::GuestActivate`] | guest context address | ASID | KVM's SNP launch (SNP_ACTIVATE) |
//! | 0x1_0004 | [`StandIn::GuestDecommission`] | guest context address | – | KVM's SNP_DECOMMISSION |
//!
//! The status register carries 0 on success or the SNP status a real PSP or RMPUPDATE
//! would give for the refusal (which one is unconfirmed: the model's choice, see its
//! `Rmp`).

use super::super::codec::{Error, Result};
use super::cmd::CMDRESP_CMD_MASK;

/// Every stand-in ID is above this: the largest command ID CMDRESP can carry.
pub const FIRST: u64 = CMDRESP_CMD_MASK as u64;

wire_enum! {
    /// The stand-in calls (module doc).
    pub enum StandIn(u64, "tio.standin") decode from_u64 encode to_u64 {
        /// The page at `regs[1]` becomes firmware-owned (RMPUPDATE).
        MakeFirmware = 0x1_0001,
        /// The firmware-owned page at `regs[1]` is given back to the hypervisor.
        MakeShared = 0x1_0002,
        /// The guest with context page `regs[1]` runs with ASID `regs[3]`.
        GuestActivate = 0x1_0003,
        /// The guest with context page `regs[1]` is gone.
        GuestDecommission = 0x1_0004,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    #[test]
    fn no_stand_in_is_a_command_id() {
        for s in StandIn::ALL {
            assert!(s.to_u64() > FIRST, "{s:?}");
            assert!(u16::try_from(s.to_u64())
                .ok()
                .and_then(|v| Command::from_u16(v).ok())
                .is_none());
            assert_eq!(StandIn::from_u64(s.to_u64()), Ok(s));
        }
        for c in Command::ALL {
            assert!(StandIn::from_u64(u64::from(c.to_u16())).is_err());
        }
    }

    #[test]
    fn golden_ids() {
        assert_eq!(StandIn::MakeFirmware.to_u64(), 0x1_0001);
        assert_eq!(StandIn::MakeShared.to_u64(), 0x1_0002);
        assert_eq!(StandIn::GuestActivate.to_u64(), 0x1_0003);
        assert_eq!(StandIn::GuestDecommission.to_u64(), 0x1_0004);
    }
}
